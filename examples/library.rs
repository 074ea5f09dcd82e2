//! evoforge as a library: a study from Rust with a problem in a closure, then the same
//! strategy driven by hand through ask and tell.
//!
//! `cargo run --release --example library`
use evoforge::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A user-defined problem: a shifted, scaled sphere in 8 dimensions.
    let problem = FnProblem::new(Space::real_box(8, -10.0, 10.0), |x: &[f64]| {
        x.iter().enumerate().map(|(i, v)| (i as f64 + 1.0) * (v - 0.5).powi(2)).sum::<f64>()
    });
    let config = CmaEsConfig { sigma0: Some(3.0), ..Default::default() };
    let cmaes = CmaEs::new(config.clone(), problem.space())?;
    let summary = Study::new(cmaes, problem)
        .seed(2026)
        .evaluations(20_000)
        .target(1e-12)
        .threads(2)
        .output("runs/library-example")
        .run()?;
    println!(
        "study: best f {:e} after {} evaluations ({})",
        summary.best_f.unwrap(),
        summary.evaluations,
        summary.stop_reason
    );

    // The same strategy, driven by hand: ask, evaluate however you like, tell.
    let space = Space::real_box(8, -10.0, 10.0);
    let es = CmaEs::new(config, &space)?;
    let seed = 2026;
    let mut state = es.init(&mut stream(seed, &[Purpose::Init as u64]));
    let mut x = vec![0.0; space.dim()];
    for generation in 0..400 {
        let asked = es.ask(&mut state, &mut stream(seed, &[Purpose::Ask as u64, generation]));
        // CMA-ES's context is `()`; the line stays so the loop works for every strategy.
        #[allow(clippy::let_unit_value)]
        let ctx = es.context(&state);
        let mut told = Vec::with_capacity(asked.len());
        for c in asked {
            es.decode(&ctx, &c.genome, &mut x);
            let f: f64 =
                x.iter().enumerate().map(|(i, v)| (i as f64 + 1.0) * (v - 0.5).powi(2)).sum();
            told.push(Evaluated {
                id: c.id,
                genome: c.genome,
                outcome: Outcome::Ok(Evaluation::value(f)),
            });
        }
        es.tell(&mut state, &told, &mut stream(seed, &[Purpose::Tell as u64, generation]))?;
        if es.best(&state).is_some_and(|(_, f)| f < 1e-12) {
            break;
        }
    }
    println!("ask/tell: best f {:e}", es.best(&state).unwrap().1);
    Ok(())
}
