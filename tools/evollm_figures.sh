#!/usr/bin/env bash
# EvoLLM figures (BENCHMARKS.md): BBOB f1, f2, f8, f15, f21 at d = 2 and 5, the same evaluation
# budget for every method (50·d), instances 1–5 (each run has its own seed, derived from
# (seed, function, dimension, instance) by `evoforge bench bbob`): the median final f − f_opt of
# EvoLLM, random search, Gaussian hill climbing, the (1+1)-ES and CMA-ES in one table; then the
# time per generation and tokens per second of the embedded backend at d = 10, on one and two
# threads.
#
#   tools/evollm_figures.sh [--out DIR] [--budget-per-dim N] [--evollm 'YAML'] [--skip-bbob]
#
# The binary is $EVOFORGE, else $CARGO_TARGET_DIR/release/evoforge, else target/release/evoforge
# (cargo build --release first). The model is the default one (EVOFORGE_MODEL_DIR or
# ~/.cache/evoforge/models). Needs python3 (standard library only). Run it in the background
# with `nice`: the EvoLLM part takes ~30 min on a busy 2-core machine.
set -euo pipefail
out=runs/evollm_figures
bpd=50
evollm='{kind: evollm}'
skip_bbob=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --budget-per-dim) bpd=$2; shift 2 ;;
    --evollm) evollm=$2; shift 2 ;;
    --skip-bbob) skip_bbob=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${EVOFORGE:-${CARGO_TARGET_DIR:-target}/release/evoforge}
mkdir -p "$out"
common=(--functions 1,2,8,15,21 --dimensions 2,5 --instances 1-5 --budget-per-dim "$bpd" --seed 1)

if [ "$skip_bbob" = 0 ]; then
  # Peers first (seconds), then EvoLLM (one model, one thread: runs one after another).
  "$bin" bench bbob --strategy '{kind: random, popsize: 8}' "${common[@]}" --threads 1 --output "$out/random.csv"
  "$bin" bench bbob --strategy '{kind: one_plus_one}' "${common[@]}" --threads 1 --output "$out/one_plus_one.csv"
  # The paper's Gaussian hill climbing (evosax HillClimbing) with EvoLLM's popsize and σ schedule:
  # EvoLLM with the model replaced by "the best point so far".
  "$bin" bench bbob --strategy '{kind: hill_climbing}' "${common[@]}" --threads 1 --output "$out/hill_climbing.csv"
  "$bin" bench bbob --strategy '{kind: cmaes}' "${common[@]}" --threads 1 --output "$out/cmaes.csv"
  # One invocation per (dimension, function), so a stopped run keeps what it finished.
  for d in 2 5; do
    for f in 1 2 8 15 21; do
      [ -s "$out/evollm_d${d}_f$f.csv" ] && continue
      "$bin" bench bbob --strategy "$evollm" --functions $f --dimensions $d --instances 1-5 \
        --budget-per-dim "$bpd" --seed 1 --threads 1 --output "$out/evollm_d${d}_f$f.part"
      mv "$out/evollm_d${d}_f$f.part" "$out/evollm_d${d}_f$f.csv"
    done
  done
  cat "$out"/evollm_d*_f*.csv | awk 'NR == 1 || !/^function/' > "$out/evollm.csv"
fi

python3 - "$out" <<'EOF'
import csv, statistics, sys, os
out = sys.argv[1]
methods = ["evollm", "random", "hill_climbing", "one_plus_one", "cmaes"]
data = {}
for m in methods:
    p = os.path.join(out, m + ".csv")
    if not os.path.exists(p):
        continue
    for r in csv.DictReader(open(p)):
        data.setdefault((int(r["function"]), int(r["dimension"])), {}).setdefault(m, []).append(float(r["best_f_minus_fopt"]))
names = {1: "f1 sphere", 2: "f2 ellipsoid", 8: "f8 Rosenbrock", 15: "f15 Rastrigin", 21: "f21 Gallagher"}
# The paper's claim: EvoLLM beats random search and Gaussian hill climbing. The (1+1)-ES with
# the one-fifth rule is a stronger hill climber, counted apart.
print("| function | d | " + " | ".join(methods) + " | beats RS and GHC | beats RS and (1+1)-ES |")
print("|---|---|" + "---|" * (len(methods) + 2))
wins = {"hill_climbing": 0, "one_plus_one": 0}
cells = 0
for (f, d) in sorted(data, key=lambda k: (k[1], k[0])):
    row = data[(f, d)]
    med = {m: statistics.median(row[m]) for m in methods if m in row}
    have = all(k in med for k in ("evollm", "random", "hill_climbing", "one_plus_one"))
    cells += have
    cols = []
    for peer in ("hill_climbing", "one_plus_one"):
        beat = have and med["evollm"] < med["random"] and med["evollm"] < med[peer]
        wins[peer] += beat
        cols.append(('yes' if beat else 'no') if have else '-')
    print(f"| {names.get(f, f)} | {d} | " + " | ".join(f"{med[m]:.3g}" if m in med else "-" for m in methods) + " | " + " | ".join(cols) + " |")
print(f"\nEvoLLM's median beats both random search and Gaussian hill climbing in {wins['hill_climbing']} of {cells} cells, "
      f"random search and the (1+1)-ES in {wins['one_plus_one']} of {cells} (5 runs per cell).")
EOF

# Time per generation and tokens/s at d = 10 (BBOB f1, popsize 8, default blocks of 5 → 2
# queries per generation), 1 and 2 threads (CANDLE_NUM_THREADS and the model's own pool).
for t in 1 2; do
  cat > "$out/d10_t$t.yaml" <<EOF
name: d10_t$t
seed: 1
problem: {kind: bbob, function: 1, dimension: 10, instance: 1}
strategy: {kind: evollm, model: {kind: embedded, threads: $t}}
budget: {generations: 9}
evaluator: {kind: threads, threads: 1}
output: {dir: $out/d10_t$t}
EOF
  CANDLE_NUM_THREADS=$t "$bin" run "$out/d10_t$t.yaml" --overwrite > /dev/null
  python3 - "$out/d10_t$t/journal.jsonl" "$t" <<'EOF'
import json, sys
tells = [json.loads(l) for l in open(sys.argv[1]) if '"tell"' in l]
tells = [t for t in tells if t["metrics"].get("queries", 0) > 0]
s = sum(t["metrics"]["llm_seconds"] for t in tells)
p = sum(t["metrics"]["prompt_tokens"] for t in tells)
g = sum(t["metrics"]["generated_tokens"] for t in tells)
n = len(tells)
print(f"d=10, {sys.argv[2]} thread(s): {n} generations with queries, {s/n:.2f} s per generation, "
      f"{p/n:.0f} prompt + {g/n:.0f} generated tokens per generation, "
      f"{(p+g)/s:.0f} tokens/s overall, {g/s:.1f} generated tokens per model second")
EOF
done
