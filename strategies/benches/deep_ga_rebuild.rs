//! Rebuilding θ from a seed chain with the parent cache, against the machine's memcpy, at
//! d = 4,000,000 (the size of the Deep GA's Atari network).
//!
//! * `memcpy`: `copy_from_slice` of d f64 (reads and writes 8·d bytes each).
//! * `child_from_cached_parent`: `DeepGa::decode` of a child whose parent θ is cached: one fused
//!   pass `θ = θ_parent + σ·ε` (reads 8·d + 4·d bytes, writes 8·d).
//! * `chain_from_scratch_100`: a 100-generation chain with an empty cache (what the cache
//!   saves: 101 passes over d).
//!
//! Criterion reports bytes/s from `Throughput::Bytes` = bytes read + written per iteration, so
//! the two lines compare as memory bandwidths. Run:
//! `cargo bench -p evoforge-strategies --bench deep_ga_rebuild`.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoforge_core::{Space, Strategy, stream};
use evoforge_strategies::deep_ga::{DeepGa, DeepGaConfig, SeedChain};
use rand::RngExt;

const D: usize = 4_000_000;

fn bench(c: &mut Criterion) {
    let space = Space::real_box(D, -10.0, 10.0);
    let cfg = DeepGaConfig { truncation: 1, noise_len: 1 << 25, ..Default::default() };
    let ga = DeepGa::new(cfg, &space).unwrap();
    let mut rng = stream(1, &[]);
    let max = (ga.table().len() - D) as u64;
    let mut parent = SeedChain::new(rng.random_range(0..max));
    for _ in 0..100 {
        parent = parent.child(rng.random_range(0..max), 0.002);
    }
    let child = parent.child(rng.random_range(0..max), 0.002);
    let mut out = vec![0.0f64; D];
    // Warm the cache with the parent, as the generation's first child does.
    ga.decode(&(), &child, &mut out);

    let mut g = c.benchmark_group("deep_ga_rebuild_d4M");
    g.sample_size(10);
    let src = vec![1.0f64; D];
    g.throughput(Throughput::Bytes((2 * 8 * D) as u64));
    g.bench_function("memcpy", |b| b.iter(|| out.copy_from_slice(std::hint::black_box(&src))));
    g.throughput(Throughput::Bytes((8 * D + 4 * D + 8 * D) as u64));
    g.bench_function("child_from_cached_parent", |b| {
        b.iter(|| ga.decode(&(), std::hint::black_box(&child), &mut out))
    });
    g.throughput(Throughput::Bytes((101 * (8 * D + 4 * D + 8 * D)) as u64));
    g.bench_function("chain_from_scratch_100", |b| {
        b.iter(|| {
            ga.clear_cache();
            ga.decode(&(), std::hint::black_box(&child), &mut out)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
