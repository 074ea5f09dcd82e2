//! CMA-ES overhead: the time of one generation's `ask` + `tell`, excluding the objective.
//!
//! The objective is the first coordinate (`f(x) = x_0`), so what is measured is the strategy:
//! sampling, the eigendecomposition amortised over its lazy interval, and the update. Full
//! CMA-ES at d = 10, 100, 1000 and sep-CMA-ES at d = 10,000, all with default parameters
//! (`bounds: none`, no restarts), plus full CMA-ES at d = 100 with `eigen_interval: 50`, to
//! show what the lazy eigendecomposition costs (by default it runs every second generation at
//! d = 100, as in pycma). On a linear function σ grows without bound, so every
//! `RESET` generations the state is re-initialised outside the timed region; the same protocol
//! is used for pycma in `benches/peers/pycma_overhead.py`.
//!
//! Run: `cargo bench --bench cmaes_overhead` (figures go to BENCHMARKS.md with the command).
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use evoforge_core::{Evaluated, Evaluation, Outcome, Purpose, Space, Strategy, stream};
use evoforge_strategies::{BoundHandling, CmaEs, CmaEsConfig};

/// Generations run on one state before it is re-initialised (untimed).
const RESET: u64 = 100;

fn generations(c: &mut Criterion) {
    let mut group = c.benchmark_group("cmaes_ask_tell");
    let cases = [
        ("full", 10, false, None),
        ("full", 100, false, None),
        ("full-eigen50", 100, false, Some(50.0)),
        ("full", 1000, false, None),
        ("sep", 10_000, true, None),
    ];
    for (name, d, separable, eigen_interval) in cases {
        let space = Space::real_box(d, -5.0, 5.0);
        let cfg = CmaEsConfig {
            separable,
            eigen_interval,
            bounds: BoundHandling::None,
            ..Default::default()
        };
        let strategy = CmaEs::new(cfg, &space).expect("valid config");
        if d >= 1000 {
            group.sample_size(10).measurement_time(Duration::from_secs(20));
        } else {
            group.sample_size(30).measurement_time(Duration::from_secs(5));
        }
        group.bench_function(BenchmarkId::new(name, d), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut state = None;
                for i in 0..iters {
                    if i % RESET == 0 {
                        state = Some(strategy.init(&mut stream(1, &[Purpose::Init as u64, i])));
                    }
                    let s = state.as_mut().expect("initialised above");
                    let mut ask_rng = stream(1, &[Purpose::Ask as u64, i]);
                    let mut tell_rng = stream(1, &[Purpose::Tell as u64, i]);
                    let t = Instant::now();
                    let cands = strategy.ask(s, &mut ask_rng);
                    let results: Vec<_> = cands
                        .into_iter()
                        .map(|c| Evaluated {
                            id: c.id,
                            outcome: Outcome::Ok(Evaluation::value(c.genome[0])),
                            genome: c.genome,
                        })
                        .collect();
                    black_box(strategy.tell(s, &results, &mut tell_rng).expect("tell"));
                    total += t.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Criterion's plots need fontconfig here (see DESIGN.md); numbers only.
    config = Criterion::default().without_plots();
    targets = generations
}
criterion_main!(benches);
