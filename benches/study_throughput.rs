//! Evaluation throughput of the full study loop with the journal on: sphere, d = 10, through
//! ask, the thread pool, the ordered journal writer, tell and checkpoints.
//!
//! `cargo bench --bench study_throughput` — the figure to compare with the target of
//! 1 million evaluations per minute on 2 cores is printed as evaluations per second.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoforge::prelude::*;

fn sphere() -> impl Problem + 'static {
    FnProblem::new(Space::real_box(10, -5.0, 5.0), |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>())
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("study_loop_sphere10_journal");
    g.sample_size(10);
    const EVALS: u64 = 100_000;
    g.throughput(Throughput::Elements(EVALS));
    for (name, popsize) in [("random_pop100", 100usize), ("random_pop1000", 1000)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().unwrap();
                let space = Space::real_box(10, -5.0, 5.0);
                let rs = RandomSearch::new(RandomSearchConfig { popsize }, &space).unwrap();
                Study::new(rs, sphere())
                    .seed(1)
                    .evaluations(EVALS)
                    .threads(2)
                    .output(dir.path())
                    .run()
                    .unwrap()
            })
        });
    }
    g.bench_function("cmaes_default", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().unwrap();
            let space = Space::real_box(10, -5.0, 5.0);
            let cfg = CmaEsConfig {
                restarts: evoforge::strategies::Restarts::Ipop,
                ..Default::default()
            };
            let es = CmaEs::new(cfg, &space).unwrap();
            Study::new(es, sphere())
                .seed(1)
                .evaluations(EVALS)
                .threads(2)
                .output(dir.path())
                .run()
                .unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
