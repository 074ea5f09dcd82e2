//! Shared noise table: construction throughput and the cost of applying one perturbation.
//!
//! * `noise_table_build`: `NoiseTable::new` of 2^24 values (64 MiB, allocation and first touch
//!   included) on a rayon pool of 1 thread and of all threads, and `fill` into a buffer that is
//!   already allocated (the generator alone, 1 thread). Throughput is in values per second; a
//!   2^28-value table takes 2^4 times the 2^24 figure.
//! * `noise_axpy`: `θ += σ·ε[idx..idx + d]` at d = 10^6 for `f64` and `f32` θ, at a new random
//!   index each iteration (a table of 2^26 values, so the slice is not cached between
//!   iterations, as in an ES update over many perturbations).
//!
//! Run: `cargo bench --bench noise_table`.
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use evoforge_core::noise::{self, NoiseTable};
use evoforge_core::{Purpose, stream};

const BUILD_LEN: usize = 1 << 24;
const AXPY_DIM: usize = 1_000_000;

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("noise_table_build");
    group.throughput(Throughput::Elements(BUILD_LEN as u64));
    group.sample_size(10);
    let all = rayon::current_num_threads();
    let mut threads = vec![1];
    if all > 1 {
        threads.push(all);
    }
    for t in threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().expect("rayon pool");
        group.bench_with_input(BenchmarkId::new("new", format!("{t}-threads")), &t, |b, _| {
            b.iter(|| pool.install(|| NoiseTable::new(black_box(123), BUILD_LEN)))
        });
    }
    let mut buf = vec![0.0f32; BUILD_LEN];
    group.bench_function("fill/1-thread", |b| {
        b.iter(|| noise::fill(black_box(123), black_box(1 << 40), &mut buf))
    });
    group.finish();
}

fn axpy(c: &mut Criterion) {
    let table = NoiseTable::new(123, 1 << 26);
    let mut rng = stream(0, &[Purpose::Other as u64]);
    let mut group = c.benchmark_group("noise_axpy");
    group.throughput(Throughput::Elements(AXPY_DIM as u64));
    let mut theta64 = vec![0.0f64; AXPY_DIM];
    group.bench_function("f64/d=1e6", |b| {
        b.iter(|| {
            let idx = table.sample_index(&mut rng, AXPY_DIM);
            table.axpy(&mut theta64, black_box(0.02), idx);
        })
    });
    let mut theta32 = vec![0.0f32; AXPY_DIM];
    group.bench_function("f32/d=1e6", |b| {
        b.iter(|| {
            let idx = table.sample_index(&mut rng, AXPY_DIM);
            table.axpy(&mut theta32, black_box(0.02), idx);
        })
    });
    group.finish();
    black_box((&theta64, &theta32));
}

criterion_group! {
    name = benches;
    // Criterion's plots need fontconfig here (see DESIGN.md); numbers only.
    config = Criterion::default().without_plots();
    targets = build, axpy
}
criterion_main!(benches);
