#!/usr/bin/env python3
"""Peer baseline: pycma's per-generation overhead (ask + tell), the same measurement as
``benches/cmaes_overhead.rs``.

Protocol (identical to the Rust bench)
--------------------------------------
* Objective: the first coordinate, ``f(x) = x[0]`` (trivial, so the strategy is measured).
* One generation = ``X = es.ask(); es.tell(X, [x[0] for x in X])``.
* Full CMA-ES at d = 10, 100, 1000; separable CMA-ES (``'CMA_diagonal': True``) at d = 10000.
  Default population size and parameters; ``x0`` uniform in [-5, 5]^d, ``sigma0 = 3``
  (0.3 times the box width, the Rust default), no bounds.
* On a linear function sigma grows without bound, so the strategy is re-created every
  ``RESET = 100`` generations, outside the timed region.
* Each generation is timed with ``time.perf_counter``; the table gives the mean and the
  median over all timed generations.
* BLAS/OpenMP threads are limited to 1 (set before numpy is imported), because the Rust
  side is single-threaded.
* ``--active`` also measures pycma's default active CMA (negative weights); without it,
  ``'CMA_active': False`` matches the positive-weight update of evoforge's CMA-ES.
* ``--updatecovwait K`` sets pycma's lazy eigendecomposition gap (default: pycma's
  ``1/(10 n (c1 + cmu))``), to compare with evoforge's ``eigen_interval``.

Run:
    /work/peers/bin/python benches/peers/pycma_overhead.py [--quick] [--active]
"""
import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import cma  # noqa: E402

RESET = 100


def measure(d, separable, generations, active, wait):
    rng = np.random.default_rng(1)
    opts = {"verbose": -9, "seed": 1, "CMA_active": active}
    if separable:
        opts["CMA_diagonal"] = True
    if wait is not None:
        opts["updatecovwait"] = wait
    times = []
    es = None
    popsize = None
    for g in range(generations):
        if g % RESET == 0:
            es = cma.CMAEvolutionStrategy(list(rng.uniform(-5, 5, d)), 3.0, opts)
            popsize = es.popsize
        t = time.perf_counter()
        X = es.ask()
        es.tell(X, [x[0] for x in X])
        times.append(time.perf_counter() - t)
    return popsize, float(np.mean(times)), float(np.median(times))


def main():
    # pycma warns about large steps on the linear objective; that is the point of it.
    warnings.simplefilter("ignore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer generations")
    ap.add_argument("--active", action="store_true", help="also pycma's default active CMA")
    ap.add_argument("--updatecovwait", type=float, default=None)
    ap.add_argument("--dims", type=int, nargs="*", help="only these dimensions")
    args = ap.parse_args()
    cases = [(10, False, 3000), (100, False, 1000), (1000, False, 100), (10000, True, 200)]
    print(f"pycma {cma.__version__}, numpy {np.__version__}, objective x[0], "
          f"reset every {RESET} generations, updatecovwait={args.updatecovwait}")
    print(f"{'variant':<8} {'d':>6} {'lambda':>6} {'CMA_active':>10} "
          f"{'mean ms/gen':>12} {'median ms/gen':>14}")
    for d, sep, gens in cases:
        if args.dims and d not in args.dims:
            continue
        if args.quick:
            gens = max(RESET // 2, gens // 10)
        for active in ([False, True] if args.active else [False]):
            lam, mean, med = measure(d, sep, gens, active, args.updatecovwait)
            name = "sep" if sep else "full"
            print(f"{name:<8} {d:>6} {lam:>6} {str(active):>10} {mean * 1e3:>12.4f} "
                  f"{med * 1e3:>14.4f}", flush=True)


if __name__ == "__main__":
    main()
