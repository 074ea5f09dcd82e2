#!/usr/bin/env python3
"""Peer baseline: CBXpy's CBO on Rastrigin d = 20, the configuration of CBXpy's notebook
``docs/examples/success_evaluation.ipynb`` (the reference result there: 100/100 runs succeed).

The Rust side of the comparison is ``strategies/benches/cbo_rastrigin.rs`` (evoforge's ``cbo``
through its ask/tell contract); run both on the same machine.

Protocol (the notebook's, unchanged)
------------------------------------
* ``f = cbx.objectives.Rastrigin()`` (``10 d + sum(x^2 - 10 cos(2 pi x))``, minimum 0 at 0),
  evaluated by CBXpy on the whole ``(M, N, d)`` array at once (``f_dim='3D'``).
* ``M = 100`` independent runs, ``N = 40`` particles, ``d = 20``,
  ``x0 ~ U(-3, 3)^(M x N x d)`` (numpy's global generator, seeded with ``--seed``).
* ``cbx.dynamics.CBO(f, x=x0, sigma=10.1, noise='anisotropic', alpha=30, dt=0.01,
  max_it=5000, f_dim='3D', verbosity=0)``; lambda = 1 (CBXpy's default);
  ``dyn.optimize()`` with its default scheduler (alpha <- min(1.05 alpha, 1e5) after every
  step); no batching (all 40 particles every step), no correction.
* Success: ``cbx.utils.success.dist_to_min(zeros(d), tol=0.25, p=inf)`` on
  ``dyn.best_particle`` (the best evaluated position of each run).
* Timed: the construction of the dynamic and ``optimize()`` (the objective is inside both,
  as in the Rust bench), with ``time.process_time`` (CPU of this process, all threads) and
  ``time.perf_counter`` (wall). numpy's elementwise work is single-threaded; set
  ``OMP_NUM_THREADS=1`` etc. to keep BLAS from spinning threads (the CBO step uses no BLAS).
* ``--repeats`` whole optimisations, each with seed ``seed + r``; each line is printed, then
  the median.

Run:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /work/peers-cbo/bin/python \
        benches/peers/cbxpy_rastrigin.py [--repeats 3] [--seed 0]
(``bash shared/tools/peers-venv.sh /work/peers-cbo cbo`` makes that venv.)
"""
import argparse
import importlib.metadata as md
import platform
import statistics
import sys
import time


def one(seed, runs, particles, dim, steps):
    import numpy as np
    import cbx
    import cbx.dynamics as dyns
    import cbx.utils.success as success

    np.random.seed(seed)
    f = cbx.objectives.Rastrigin()
    x = np.random.uniform(-3, 3, (runs, particles, dim))
    kwargs = {
        "x": x,
        "sigma": 10.1,
        "verbosity": 0,
        "max_it": steps,
        "noise": "anisotropic",
        "alpha": 30,
        "dt": 0.01,
        "f_dim": "3D",
        "seed": seed,
    }
    c0, w0 = time.process_time(), time.perf_counter()
    dyn = dyns.CBO(f, **kwargs)
    dyn.optimize()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    crit = success.dist_to_min(np.zeros(dim), tol=0.25, p=float("inf"))
    res = crit(dyn)
    return {
        "seed": seed,
        "success": int(res["num"]),
        "runs": runs,
        "cpu_s": cpu,
        "wall_s": wall,
        "it": int(dyn.it),
        "evals_per_run": int(dyn.num_f_eval[0]),
        "max_normdiff": float(np.max(res["normdiff"])),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--particles", type=int, default=40)
    ap.add_argument("--dim", type=int, default=20)
    ap.add_argument("--steps", type=int, default=5000)
    a = ap.parse_args()
    import numpy as np
    import scipy

    print(
        "cbx %s, numpy %s, scipy %s, python %s, %s"
        % (md.version("cbx"), np.__version__, scipy.__version__, sys.version.split()[0],
           platform.processor() or platform.machine())
    )
    print(
        "Rastrigin d=%d, N=%d particles, M=%d runs, %d steps, x0 ~ U(-3,3), sigma=10.1 "
        "anisotropic, alpha0=30 (x1.05/step, cap 1e5), dt=0.01, lambda=1"
        % (a.dim, a.particles, a.runs, a.steps)
    )
    rows = []
    for r in range(a.repeats):
        row = one(a.seed + r, a.runs, a.particles, a.dim, a.steps)
        rows.append(row)
        print(
            "seed %(seed)d: success %(success)d/%(runs)d, cpu %(cpu_s).2f s, wall %(wall_s).2f s, "
            "%(it)d steps, %(evals_per_run)d evaluations per run, "
            "max ||best - 0||_inf %(max_normdiff).3g" % row,
            flush=True,
        )
    print(
        "median over %d: cpu %.2f s, wall %.2f s; success %s"
        % (
            len(rows),
            statistics.median(r["cpu_s"] for r in rows),
            statistics.median(r["wall_s"] for r in rows),
            ", ".join("%d/%d" % (r["success"], r["runs"]) for r in rows),
        )
    )


if __name__ == "__main__":
    main()
