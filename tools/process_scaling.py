#!/usr/bin/env python3
"""Scaling of the worker-process evaluator on a simulated expensive objective.

Runs one study per worker count: CMA-ES with a population of 64 on `kind: sleep` (the sphere
after a 10 ms sleep per evaluation), for a fixed number of generations, with
`evaluator: {kind: processes, workers: N}`, and prints wall time, evaluations per second and
parallel efficiency T(1) / (N * T(N)), from the study's own wall clock (summary.json). Two
figures: over the whole study (starting the workers included), and per generation in the steady
state, `(T(G) - T(1)) / (G - 1)` from a second run of one generation (which cancels the start-up:
a Python worker takes a few hundred milliseconds to import numpy).

    cargo build --release
    python3 tools/process_scaling.py                       # evoforge worker, 1 2 4 8 workers
    python3 tools/process_scaling.py --worker python       # the Python reference worker
    python3 tools/process_scaling.py --workers 1 8 --generations 10 --sleep-ms 10

A sleep costs no CPU, so the figure measures what the evaluator adds (dispatch, pipes, JSON,
restarts bookkeeping), not the machine's core count: 8 workers on a 2-core machine are fine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def run(binary, tmp, name, evaluator, args, generations):
    text = (
        "name: %s\nseed: 1\n"
        "problem: {kind: sleep, dimension: 10, milliseconds: %r}\n"
        "strategy: {kind: cmaes, popsize: %d, sigma0: 2.0}\n"
        "budget: {generations: %d}\n"
        "evaluator: %s\n"
        "output: {dir: %s}\n"
    ) % (name, args.sleep_ms, args.popsize, generations, evaluator, name)
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([binary, "run", path], cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(tmp, name, "summary.json")) as f:
        s = json.load(f)
    return s["wall_seconds"], s["evaluations"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "evoforge"))
    p.add_argument("--worker", choices=["evoforge", "python"], default="evoforge")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--generations", type=int, default=20, help="at least 2")
    p.add_argument("--popsize", type=int, default=64)
    p.add_argument("--sleep-ms", type=float, default=10.0)
    p.add_argument("--batch", type=int, help="evaluator.batch (default: automatic)")
    p.add_argument("--repeat", type=int, default=1, help="runs per worker count (best is kept)")
    args = p.parse_args()
    if args.worker == "python":
        command = ", command: [python3, %s]" % os.path.join(ROOT, "workers", "python",
                                                            "evoforge_worker.py")
    else:
        command = ""
    if args.batch:
        command += ", batch: %d" % args.batch
    ideal = args.popsize * args.sleep_ms / 1000.0
    print("CMA-ES, population %d, sleep problem %g ms per evaluation, %d generations, %s worker"
          % (args.popsize, args.sleep_ms, args.generations, args.worker))
    print("%8s %10s %12s %11s %12s %12s" % ("workers", "wall s", "evals/s", "efficiency",
                                             "steady s/gen", "efficiency"))
    base = base_gen = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.workers:
            evaluator = "{kind: processes, workers: %d%s}" % (n, command)
            walls, gens = [], []
            for r in range(args.repeat):
                wall, evals = run(args.binary, tmp, "w%d-%d" % (n, r), evaluator, args,
                                  args.generations)
                one, _ = run(args.binary, tmp, "w%d-%d-1" % (n, r), evaluator, args, 1)
                walls.append(wall)
                gens.append((wall - one) / (args.generations - 1))
            wall, gen = min(walls), min(gens)
            if base is None:
                base, base_gen = wall * n, gen * n
            print("%8d %10.3f %12.1f %10.1f%% %12.4f %11.1f%%" % (
                n, wall, evals / wall, 100 * base / (n * wall), gen, 100 * base_gen / (n * gen)))
    print("(ideal s/gen with 1 worker: %.3f)" % ideal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
