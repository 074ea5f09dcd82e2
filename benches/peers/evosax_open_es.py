#!/usr/bin/env python3
"""Peer baseline: evosax's ``Open_ES`` per-generation overhead (ask + tell, objective
excluded), the same measurement as ``strategies/benches/openai_es_overhead.rs``.

Protocol (as in the Rust bench)
-------------------------------
* ``Open_ES(population_size=256, solution=zeros(d), use_antithetic_sampling=True,
  optimizer=optax.adam(0.01), std_schedule=optax.constant_schedule(0.02))``, centered-rank
  fitness shaping (evosax's default), mean initialised to 0. Adam with optax's defaults
  (b1 = 0.9, b2 = 0.999, eps = 1e-8), the same rule and constants as evoforge's default
  ``optimizer: adam``; evosax has no weight decay and no box clip (evoforge does both, one pass
  over d each). ``--optimizer sgd`` uses evosax's own default, ``optax.sgd(1e-3)``.
* One generation = ``population, state = es.ask(k1, state, params)``, the fitness vector
  ``f_k = (97 k + 31 g) mod 256`` (a permutation of 0..255 that changes with the generation g),
  ``state, metrics = es.tell(k2, population, fitness, state, params)``, then
  ``jax.block_until_ready((state, metrics))``. ``ask`` and ``tell`` are evosax's own
  ``jax.jit``-compiled methods; the keys are split outside the timed region.
* The first ``--warmup`` generations (compilation included) are not timed; the median (and
  mean, min) over the next ``--generations`` is reported.
* JAX on CPU, its default dtype (float32; ``--x64`` enables float64, as evoforge's θ and
  moments) and its default threading (XLA's CPU thread pool over all cores).
* Each dimension runs in a fresh subprocess, so the peak RSS (``resource.getrusage``,
  ``ru_maxrss``) is that of one size alone (it includes the Python/JAX runtime, ~0.3 GB).

Run:
    /work/peers/bin/python benches/peers/evosax_open_es.py [--dims 1000000 100000]
"""
import argparse
import importlib.metadata as md
import json
import resource
import subprocess
import sys
import time

POPSIZE = 256


def measure(d, generations, warmup, optimizer, lr, x64):
    import jax

    if x64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np
    import optax
    from evosax.algorithms import Open_ES

    opt = optax.adam(lr) if optimizer == "adam" else optax.sgd(lr)
    es = Open_ES(
        population_size=POPSIZE,
        solution=jnp.zeros(d),
        use_antithetic_sampling=True,
        optimizer=opt,
        std_schedule=optax.constant_schedule(0.02),
    )
    params = es.default_params
    key = jax.random.key(1)
    key, k_init = jax.random.split(key)
    state = es.init(k_init, jnp.zeros(d), params)
    slots = np.arange(POPSIZE, dtype=np.int64)
    times = []
    for g in range(warmup + generations):
        key, k_ask, k_tell = jax.random.split(key, 3)
        t = time.perf_counter()
        population, state = es.ask(k_ask, state, params)
        fitness = jnp.asarray(((97 * slots + 31 * g) % POPSIZE).astype(np.float32))
        state, metrics = es.tell(k_tell, population, fitness, state, params)
        jax.block_until_ready((state, metrics))
        dt = time.perf_counter() - t
        if g >= warmup:
            times.append(dt)
        del population
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "d": d,
        "popsize": POPSIZE,
        "optimizer": f"optax.{optimizer}({lr})",
        "dtype": str(state.mean.dtype),
        "median_ms": float(np.median(times)) * 1e3,
        "mean_ms": float(np.mean(times)) * 1e3,
        "min_ms": float(np.min(times)) * 1e3,
        "peak_rss_mb": rss_mb,
        "generations": generations,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="*", default=[1_000_000, 100_000])
    ap.add_argument("--generations", type=int, default=5, help="timed generations")
    ap.add_argument("--warmup", type=int, default=2, help="untimed generations (jit included)")
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--lr", type=float, default=None, help="default 0.01 (adam), 1e-3 (sgd)")
    ap.add_argument("--x64", action="store_true", help="float64 (jax_enable_x64)")
    ap.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    lr = args.lr if args.lr is not None else (0.01 if args.optimizer == "adam" else 1e-3)
    if args.single:
        r = measure(args.dims[0], args.generations, args.warmup, args.optimizer, lr, args.x64)
        print(json.dumps(r))
        return
    import jax

    vers = ", ".join(f"{p} {md.version(p)}" for p in ("evosax", "jax", "jaxlib", "numpy", "optax"))
    print(f"{vers}, Python {sys.version.split()[0]}, devices {jax.devices()}")
    print(f"popsize {POPSIZE}, warm-up {args.warmup}, timed {args.generations} generations")
    print("peer,d,popsize,optimizer,dtype,median_ms,mean_ms,min_ms,peak_rss_mb")
    for d in args.dims:
        cmd = [sys.executable, __file__, "--single", "--dims", str(d),
               "--generations", str(args.generations), "--warmup", str(args.warmup),
               "--optimizer", args.optimizer, "--lr", str(lr)]
        if args.x64:
            cmd.append("--x64")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"evosax_open_es,{r['d']},{r['popsize']},{r['optimizer']},{r['dtype']},"
              f"{r['median_ms']:.1f},{r['mean_ms']:.1f},{r['min_ms']:.1f},"
              f"{r['peak_rss_mb']:.0f}", flush=True)


if __name__ == "__main__":
    main()
