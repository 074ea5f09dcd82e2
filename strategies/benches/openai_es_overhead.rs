//! OpenAI-ES overhead: the time of one generation's `ask` + `tell`, excluding the objective.
//!
//! `OpenAiEs` with default parameters (Adam, centered ranks, weight decay 0.005, σ = 0.02,
//! noise table of 2^25 `f32` values = 128 MiB, built once outside the timed region), popsize 256,
//! on `Space::real_box(d, -10, 10)` with d = 10^5 and 10^6. One iteration is a full generation:
//!
//! * `ask`: 128 mirrored pairs, i.e. 128 table indices drawn from the ask stream;
//! * the results: a fitness per member computed from its slot and the generation number only,
//!   `f = (97 k + 31 g) mod 256`. The candidates are **not** decoded into dense vectors: a member
//!   is `(index, sign)`, and decoding is the evaluator's job (the objective is excluded). The
//!   fitness values are a permutation of 0..255 that changes every generation, so the ranks (and
//!   the gradient) differ between generations; the best-so-far is set in the first generation
//!   (f = 0 at slot 0) and never improved after, so the one dense `θ + σ ε` that `tell` builds
//!   for a new best is not part of the steady state;
//! * `tell`: centered ranks, the gradient `1/(n σ) Σ u_i s_i ε[i_i]` from 128 table slices (one
//!   per mirrored pair), weight decay, Adam, the clip of θ into the box and the metrics (norms).
//!
//! The state carries over between iterations (no reset is needed: θ moves by about
//! `learning_rate` per coordinate per generation). The peer is evosax's `Open_ES`,
//! `benches/peers/evosax_open_es.py`.
//!
//! Run: `cargo bench -p evoforge-strategies --bench openai_es_overhead`.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use evoforge_core::{Evaluated, Evaluation, Outcome, Purpose, Space, Strategy, stream};
use evoforge_strategies::{OpenAiEs, OpenAiEsConfig};

const POPSIZE: usize = 256;

fn generations(c: &mut Criterion) {
    let mut group = c.benchmark_group("openai_es_ask_tell");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for (d, secs) in [(100_000usize, 5), (1_000_000, 20)] {
        group.warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(secs));
        // Built on first use, so a filtered-out size costs nothing (and the peak RSS of a
        // filtered run, `--profile-time 5 'popsize256/1000000$'`, is that of one size).
        let mut setup = None;
        group.bench_function(BenchmarkId::new("popsize256", d), |b| {
            let (strategy, state, g) = setup.get_or_insert_with(|| {
                let space = Space::real_box(d, -10.0, 10.0);
                let cfg = OpenAiEsConfig { popsize: POPSIZE, ..Default::default() };
                let strategy = OpenAiEs::new(cfg, &space).expect("valid config");
                let state = strategy.init(&mut stream(1, &[Purpose::Init as u64]));
                (strategy, state, 0u64)
            });
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut ask_rng = stream(1, &[Purpose::Ask as u64, *g]);
                    let mut tell_rng = stream(1, &[Purpose::Tell as u64, *g]);
                    let t = Instant::now();
                    let cands = strategy.ask(state, &mut ask_rng);
                    let results: Vec<_> = cands
                        .into_iter()
                        .enumerate()
                        .map(|(k, c)| Evaluated {
                            id: c.id,
                            outcome: Outcome::Ok(Evaluation::value(
                                ((97 * k as u64 + 31 * *g) % POPSIZE as u64) as f64,
                            )),
                            genome: c.genome,
                        })
                        .collect();
                    black_box(strategy.tell(state, &results, &mut tell_rng).expect("tell"));
                    total += t.elapsed();
                    *g += 1;
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
