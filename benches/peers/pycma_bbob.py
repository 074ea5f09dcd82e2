#!/usr/bin/env python3
"""Peer baseline: pycma IPOP-CMA-ES on the COCO BBOB suite.

Runs pycma (tested with 4.5.0) ``cma.fmin2`` with IPOP restarts
(``restarts=9, incpopsize=2``) on the 24 noiseless BBOB functions exactly as
COCO defines them (cocoex 2.8.2, ``cocoex.Suite("bbob", "", ...)``; f_opt
from ``cocoex.BareProblem(...).best_value()``), one run per
(function, instance), and writes one CSV row per run in the same format as
``evoforge bench bbob``:

    function,dimension,instance,evals_to_1e1,...,evals_to_1e-8,
    best_f_minus_fopt,evaluations,wall_seconds

Protocol
--------
* Objective: the raw COCO problem (no observer); every call goes through a
  wrapper that counts evaluations and records, for each target
  t in 1e1, 1e0, ..., 1e-8, the evaluation number at which f - f_opt first
  became < t (empty cell when never reached).
* ``cma.fmin2(f, x0, sigma0=2, options={'maxfevals': budget,
  'ftarget': f_opt + 1e-8, 'verbose': -9, 'seed': seed}, restarts=9,
  incpopsize=2)``.  In pycma ``maxfevals`` is a budget over all restarts
  (evaluation counts carry over between restarts), checked once per
  iteration, so the last iteration can overshoot the budget by less than one
  population; like evoforge's bench, those evaluations are counted and
  reported in ``evaluations`` (the summary says if any solve happened past
  the budget).
* Seeds: run seed = 1000 * function + instance + 100000 * k for repetition
  ``--seed-offset k`` (pycma adds 1 per restart).
* x0: uniform in [-4, 4]^d from ``numpy.random.default_rng(run seed)``, a
  common COCO practice (the BBOB optima lie in [-4, 4]^d, the search domain
  is [-5, 5]^d).  x0 is passed as a callable, so each IPOP restart starts
  from a fresh uniform point from that generator (as pycma's documentation
  recommends for restarts); ``--x0-once`` draws a single point used by all
  restarts instead.
* No bounds are given to CMA-ES (COCO's bbob is unconstrained).
* ``--bipop``: the same call with ``bipop=True`` (pycma's BIPOP: IPOP's large
  runs interleaved with small-population runs, each regime's budget kept even).
* Runs are executed in a multiprocessing pool with ``--workers`` processes
  (default 1); BLAS threads are limited to 1.

Example (the committed results file):

    nice -n 10 /work/peers/bin/python benches/peers/pycma_bbob.py \
        --dimension 10 --instances 1-5 --budget 1e5 \
        --out benches/results/pycma_ipop_bbob_d10.csv
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import csv
import multiprocessing as mp
import sys
import time
import warnings

import numpy as np

TARGETS = [10.0 ** e for e in range(1, -9, -1)]  # 1e1 .. 1e-8
TARGET_NAMES = ["1e1", "1e0"] + ["1e-%d" % k for k in range(1, 9)]
HEADER = (["function", "dimension", "instance"]
          + ["evals_to_" + t for t in TARGET_NAMES]
          + ["best_f_minus_fopt", "evaluations", "wall_seconds"])


def parse_list(text):
    """'1-5' or '1,3,7-9' -> sorted list of ints."""
    out = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return sorted(out)


class Recorder:
    """Counts evaluations and records first hits of the targets."""

    def __init__(self, problem, fopt):
        self.problem = problem
        self.fopt = fopt
        self.evals = 0
        self.best = float("inf")
        self.hits = [None] * len(TARGETS)
        self.next = 0  # index of the first target not reached yet

    def __call__(self, x):
        f = float(self.problem(x))
        self.evals += 1
        delta = f - self.fopt
        if delta < self.best:
            self.best = delta
            while self.next < len(TARGETS) and delta < TARGETS[self.next]:
                self.hits[self.next] = self.evals
                self.next += 1
        return f


def run_one(job):
    function, dimension, instance, budget, x0_once, seed_offset, bipop = job
    import cma
    import cocoex

    suite = cocoex.Suite("bbob", "", "dimensions:%d instance_indices:%d"
                         % (dimension, instance))
    problem = suite.get_problem_by_function_dimension_instance(
        function, dimension, instance)
    assert problem.id_instance == instance and problem.dimension == dimension
    fopt = cocoex.BareProblem("bbob", function, dimension, instance).best_value()

    seed = 1000 * function + instance + 100000 * seed_offset
    rng = np.random.default_rng(seed)
    if x0_once:
        x0 = rng.uniform(-4.0, 4.0, dimension)
    else:
        def x0():
            return rng.uniform(-4.0, 4.0, dimension)

    rec = Recorder(problem, fopt)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, es = cma.fmin2(rec, x0, 2,
                          options={"maxfevals": budget,
                                   "ftarget": fopt + 1e-8,
                                   "verbose": -9,
                                   "seed": seed},
                          restarts=9, incpopsize=2, bipop=bipop)
    wall = time.perf_counter() - t0
    irun = getattr(es, "_irun", None)
    problem.free()
    return {
        "function": function, "dimension": dimension, "instance": instance,
        "hits": rec.hits, "best": rec.best, "evaluations": rec.evals,
        "wall": wall, "runs": irun, "countevals": es.countevals,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dimension", type=int, default=10)
    ap.add_argument("--instances", default="1-5")
    ap.add_argument("--functions", default="1-24")
    ap.add_argument("--budget", type=float, default=1e5,
                    help="evaluations per run (total over restarts)")
    ap.add_argument("--out", default="benches/results/pycma_ipop_bbob_d10.csv")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed-offset", type=int, default=0,
                    help="repetition number k: run seeds become 1000 f + i + 100000 k")
    ap.add_argument("--bipop", action="store_true",
                    help="pycma's BIPOP restarts (fmin2(..., bipop=True)) instead of IPOP")
    ap.add_argument("--x0-once", action="store_true",
                    help="one uniform x0 for all restarts of a run")
    args = ap.parse_args(argv)

    import cma
    import cocoex
    print("pycma %s, cocoex %s, numpy %s, python %s" % (
        cma.__version__, cocoex.__version__, np.__version__,
        sys.version.split()[0]), flush=True)

    functions = parse_list(args.functions)
    instances = parse_list(args.instances)
    budget = int(args.budget)
    jobs = [(f, args.dimension, i, budget, args.x0_once, args.seed_offset, args.bipop)
            for f in functions for i in instances]

    t0 = time.perf_counter()
    rows = []
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes=max(1, args.workers)) as pool:
        for r in pool.imap_unordered(run_one, jobs):
            rows.append(r)
            print("f%02d i%02d d%d: best %.3e evals %d runs %s %.1fs"
                  % (r["function"], r["instance"], r["dimension"], r["best"],
                     r["evaluations"], r["runs"], r["wall"]), flush=True)
    total = time.perf_counter() - t0
    rows.sort(key=lambda r: (r["function"], r["dimension"], r["instance"]))

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for r in rows:
            w.writerow([r["function"], r["dimension"], r["instance"]]
                       + ["" if h is None else h for h in r["hits"]]
                       + [repr(float(r["best"])), r["evaluations"],
                          "%.6f" % r["wall"]])

    def solved(r):
        return r["hits"][-1] is not None

    print("\nper-function solved (f - f_opt < 1e-8) of %d instances:" % len(instances))
    print("function  solved  median_evals_to_1e-8  median_best_f_minus_fopt")
    for f in functions:
        rf = [r for r in rows if r["function"] == f]
        s = [r["hits"][-1] for r in rf if solved(r)]
        med = "%.0f" % np.median(s) if s else "-"
        print("f%02d       %d/%d     %20s  %.3e" % (
            f, len(s), len(rf), med, np.median([r["best"] for r in rf])))
    late = [r for r in rows if solved(r) and r["hits"][-1] > budget]
    if late:
        print("note: %d solve(s) after the budget of %d evaluations: %s" % (
            len(late), budget,
            ", ".join("f%d i%d (%d)" % (r["function"], r["instance"], r["hits"][-1])
                      for r in late)))
    print("total wall time %.1f s (%d workers), output %s"
          % (total, args.workers, args.out))
    per_inst = ", ".join("i%d=%d/%d" % (
        i, sum(solved(r) for r in rows if r["instance"] == i),
        sum(1 for r in rows if r["instance"] == i)) for i in instances)
    print("solved %d of %d; per instance: %s"
          % (sum(solved(r) for r in rows), len(rows), per_inst))


if __name__ == "__main__":
    main()
