#!/usr/bin/env python3
"""LKH-3 (through the `elkai` package) on a TSP test-set file, for the BENCHMARKS.md comparison
with `evoforge tsp solve`.

    tsp_lkh.py FILE --limit M --time-limit SECONDS [--runs 1] [--seed 1234] [--tours OUT]

`--tours OUT` writes every instance with LKH's tour (test-set format, the coordinates copied
verbatim), e.g. the reference tours of `kind: tsp_mcts` training instances written by
`evoforge tsp generate` (lines without a tour: no gap is reported).

Coordinates are scaled by 1e6 and written as EUC_2D (LKH rounds every edge to an integer, so the
unit square must be magnified, as Xia et al.'s lkh_solve.py does). LKH's TIME_LIMIT is measured
by LKH itself in CPU seconds (getrusage) and excludes its candidate-set preprocessing, so the
script reports the process CPU time and wall time it really used per instance. Tour lengths are
measured on the original coordinates; the gap is to the tour stored in the file.
"""
import argparse
import math
import time

import elkai  # noqa: F401  (loads the extension)
from elkai import _elkai


def length(xs, ys, tour):
    n = len(tour)
    return sum(math.hypot(xs[tour[k]] - xs[tour[(k + 1) % n]], ys[tour[k]] - ys[tour[(k + 1) % n]]) for k in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--time-limit", type=float, required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--tours", default=None)
    a = ap.parse_args()
    rows, out = [], []
    with open(a.file) as f:
        lines = [l for l in f if l.strip()]
    if a.limit:
        lines = lines[: a.limit]
    print(f"{'inst':>5} {'length':>12} {'reference':>12} {'gap%':>9} {'cpu_s':>8} {'wall_s':>8}")
    for i, line in enumerate(lines):
        head, _, tail = line.partition("output")
        c = [float(v) for v in head.split()]
        xs, ys = c[0::2], c[1::2]
        n = len(xs)
        ref = [int(v) - 1 for v in tail.split()][:n] if "output" in line else None
        problem = f"TYPE : TSP\nDIMENSION : {n}\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n" + "".join(
            f"{k + 1} {xs[k] * 1e6:.0f} {ys[k] * 1e6:.0f}\n" for k in range(n)
        )
        params = (
            f"RUNS = {a.runs}\nMAX_TRIALS = 1000000\nTIME_LIMIT = {a.time_limit}\nSEED = {a.seed}\n"
            "PROBLEM_FILE = :stdin:\n"
        )
        t0, c0 = time.perf_counter(), time.process_time()
        sol = _elkai.solve_problem(params, problem)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        tour = [v - 1 for v in sol]
        assert sorted(tour) == list(range(n)), "invalid tour"
        L = length(xs, ys, tour)
        R = length(xs, ys, ref) if ref else float("nan")
        rows.append((L, R, 100 * (L / R - 1), cpu, wall))
        print(f"{i + 1:>5} {L:>12.6f} {R:>12.6f} {rows[-1][2]:>9.4f} {cpu:>8.3f} {wall:>8.3f}", flush=True)
        if a.tours:
            out.append(head.strip() + " output " + " ".join(str(v + 1) for v in tour + tour[:1]) + "\n")
    m = len(rows)
    mean = lambda k: sum(r[k] for r in rows) / m
    print(
        f"summary: instances {m}, mean length {mean(0):.4f}, mean reference {mean(1):.4f}, mean gap {mean(2):.4f}%, "
        f"mean cpu {mean(3):.3f} s, mean wall {mean(4):.3f} s per instance"
    )
    if a.tours:
        with open(a.tours, "w") as f:
            f.writelines(out)


if __name__ == "__main__":
    main()
