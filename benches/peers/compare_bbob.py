#!/usr/bin/env python3
"""Compare two BBOB result CSVs (evoforge's `bench bbob` format).

Usage:
    python3 benches/peers/compare_bbob.py OURS.csv PEER.csv [--target 1e-8]

Both files have the columns
    function,dimension,instance,evals_to_1e1,...,evals_to_1e-8,
    best_f_minus_fopt,evaluations,wall_seconds
(empty cell = target never reached).  A run is "solved" when its
evals_to_<target> cell is non-empty (default target 1e-8).  Rows are matched
on (function, dimension, instance).

Prints
  (a) solved runs of each file (overall, per dimension and instance);
  (b) on the runs both solve: per function, the median evaluations to the
      target of each side and their ratio (ours / peer; < 1 means ours needs
      fewer evaluations), and the median over all commonly solved runs of the
      per-run ratio ours/peer;
  plus a per-function table of solved counts and medians.
Only the standard library is used.
"""

import argparse
import csv
import statistics
import sys


def load(path, col):
    rows = {}
    with open(path, newline="") as fh:
        rd = csv.DictReader(fh)
        if col not in (rd.fieldnames or []):
            sys.exit("%s: no column %r (columns: %s)" % (path, col, rd.fieldnames))
        for r in rd:
            key = (int(r["function"]), int(r["dimension"]), int(r["instance"]))
            if key in rows:
                sys.exit("%s: duplicate row for f%d d%d i%d" % ((path,) + key))
            cell = (r[col] or "").strip()
            rows[key] = {
                "evals": int(float(cell)) if cell else None,
                "best": float(r["best_f_minus_fopt"]) if r.get("best_f_minus_fopt") else float("nan"),
                "evaluations": int(float(r["evaluations"])) if r.get("evaluations") else None,
            }
    return rows


def fmt(x, spec="%.0f"):
    return "-" if x is None else spec % x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ours")
    ap.add_argument("peer")
    ap.add_argument("--target", default="1e-8",
                    help="target column suffix, e.g. 1e-8, 1e-5, 1e0")
    ap.add_argument("--names", default="ours,peer",
                    help="labels of the two files, comma separated")
    args = ap.parse_args(argv)
    col = "evals_to_" + args.target
    na, nb = (args.names.split(",") + ["peer"])[:2]

    a = load(args.ours, col)
    b = load(args.peer, col)
    common = sorted(set(a) & set(b))
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    print("%s: %s (%d runs)" % (na, args.ours, len(a)))
    print("%s: %s (%d runs)" % (nb, args.peer, len(b)))
    print("matched runs (function, dimension, instance): %d" % len(common))
    if only_a or only_b:
        print("  unmatched: %d only in %s, %d only in %s" % (len(only_a), na, len(only_b), nb))
    if not common:
        sys.exit("no common runs")

    def solved(rows, k):
        return rows[k]["evals"] is not None

    # (a) solved counts
    print("\n(a) solved (evals_to_%s non-empty) on the %d matched runs:" % (args.target, len(common)))
    sa = sum(solved(a, k) for k in common)
    sb = sum(solved(b, k) for k in common)
    both = [k for k in common if solved(a, k) and solved(b, k)]
    print("  %s %d, %s %d, both %d, only %s %d, only %s %d" % (
        na, sa, nb, sb, len(both), na, sum(solved(a, k) and not solved(b, k) for k in common),
        nb, sum(solved(b, k) and not solved(a, k) for k in common)))
    for d in sorted({k[1] for k in common}):
        insts = sorted({k[2] for k in common if k[1] == d})
        parts = []
        for i in insts:
            ks = [k for k in common if k[1] == d and k[2] == i]
            parts.append("i%d %d/%d" % (i, sum(solved(a, k) for k in ks), sum(solved(b, k) for k in ks)))
        print("  d=%d per instance (%s/%s): %s" % (d, na, nb, ", ".join(parts)))

    # (b) ratios on commonly solved runs + per-function table
    print("\n(b) per function (medians of evals_to_%s; ratio = %s/%s on runs both solve):" % (args.target, na, nb))
    hdr = "%-4s %-4s %7s %7s %5s %12s %12s %8s %14s %14s" % (
        "dim", "fun", "sol_" + na[:3], "sol_" + nb[:3], "both",
        "med_" + na[:6], "med_" + nb[:6], "ratio", "best_" + na[:6], "best_" + nb[:6])
    print(hdr)
    ratios_all = []
    fun_ratios = []
    for d in sorted({k[1] for k in common}):
        for f in sorted({k[0] for k in common if k[1] == d}):
            ks = [k for k in common if k[0] == f and k[1] == d]
            bk = [k for k in ks if solved(a, k) and solved(b, k)]
            ma = statistics.median([a[k]["evals"] for k in bk]) if bk else None
            mb = statistics.median([b[k]["evals"] for k in bk]) if bk else None
            ratio = ma / mb if bk else None
            if ratio is not None:
                fun_ratios.append(ratio)
            ratios_all += [a[k]["evals"] / b[k]["evals"] for k in bk]
            print("%-4d f%02d  %7s %7s %5d %12s %12s %8s %14s %14s" % (
                d, f,
                "%d/%d" % (sum(solved(a, k) for k in ks), len(ks)),
                "%d/%d" % (sum(solved(b, k) for k in ks), len(ks)),
                len(bk), fmt(ma), fmt(mb), fmt(ratio, "%.3f"),
                "%.3e" % statistics.median([a[k]["best"] for k in ks]),
                "%.3e" % statistics.median([b[k]["best"] for k in ks])))
    print()
    if ratios_all:
        print("overall median of per-run ratios %s/%s on %d commonly solved runs: %.3f"
              % (na, nb, len(ratios_all), statistics.median(ratios_all)))
        print("median of per-function median ratios over %d functions: %.3f"
              % (len(fun_ratios), statistics.median(fun_ratios)))
    else:
        print("no run is solved by both")


if __name__ == "__main__":
    main()
