#!/usr/bin/env bash
# The TSP figures of BENCHMARKS.md: heatmap + MCTS (SoftDist) on the uniform test sets, default
# against engine-tuned parameters, and LKH-3 (elkai) at equal CPU time per instance.
#
#   tools/tsp_figures.sh DATA_DIR [OUT_DIR]        # DATA_DIR holds tsp{500,1000,10000}_test_concorde.txt
#
# Environment: M500 / M1000 / M10000 instances of each set (default 128 / 128 / 16), THREADS (2),
# PEERS (the venv of ../shared/tools/peers-venv.sh DIR tsp; default /work/peers-tsp),
# BUDGET=work|time (default work). The time budget of the paper is T·N seconds per instance,
# T = 0.01: 5 s (TSP-500), 10 s (TSP-1000), 100 s (TSP-10000). With BUDGET=work the same budget
# is given as deterministic work units at 150M units per CPU second (this machine's measured rate,
# `evoforge tsp solve` prints the work and time of every instance), so a loaded machine measures the
# same search; with BUDGET=time the wall-clock budget T·N is used (on an idle machine only).
# The tuned point is the best_x of studies/figures/tsp500_tune_long.yaml; with TUNE=1 the script
# builds that study's LKH-3 training references (if missing) and runs the study first.
set -euo pipefail
data=${1:?usage: tools/tsp_figures.sh DATA_DIR [OUT_DIR]}
out=${2:-runs/tsp_figures}
mkdir -p "$out"
bin=${EVOFORGE:-target/release/evoforge}
threads=${THREADS:-2}
peers=${PEERS:-/work/peers-tsp}
m500=${M500:-128}; m1000=${M1000:-128}; m10000=${M10000:-16}
rate=150000000   # work units per CPU second (measured: 100M units in 0.67 s of one core, TSP-500; about 100M at TSP-10000)
budget() { # N -> the solve flags of T = 0.01
  if [ "${BUDGET:-work}" = time ]; then echo "--t 0.01"; else echo "--t 0 --work $(( $1 * rate / 100 ))"; fi
}
if [ "${TUNE:-0}" = 1 ]; then
  if [ ! -f runs/tsp500_train16_lkh.txt ]; then
    "$bin" tsp generate runs/tsp500_train16.txt --nodes 500 --count 16 --seed 1234
    nice "$peers/bin/python" tools/tsp_lkh.py runs/tsp500_train16.txt --time-limit 5 --tours runs/tsp500_train16_lkh.txt
    head -8 runs/tsp500_train16_lkh.txt > runs/tsp500_train8_lkh.txt
  fi
  nice "$bin" run studies/figures/tsp500_tune_long.yaml
fi
best=$(python3 -c "import json;print(json.dumps(json.load(open('runs/tsp500_tune_long/summary.json'))['best_x']))")
echo "tuned point: $best"

run() { local name=$1; shift; echo "== $name: $*"; nice "$@" 2>&1 | tee "$out/$name.txt" | tail -2; }

run tsp500_default "$bin" tsp solve "$data/tsp500_test_concorde.txt" --limit "$m500" --threads "$threads" $(budget 500) --csv "$out/tsp500_default.csv"
run tsp500_tuned "$bin" tsp solve "$data/tsp500_test_concorde.txt" --limit "$m500" --threads "$threads" $(budget 500) --point "$best" --csv "$out/tsp500_tuned.csv"
run tsp500_lkh "$peers/bin/python" tools/tsp_lkh.py "$data/tsp500_test_concorde.txt" --limit "$m500" --time-limit 5
run tsp1000_default "$bin" tsp solve "$data/tsp1000_test_concorde.txt" --limit "$m1000" --threads "$threads" $(budget 1000) --csv "$out/tsp1000_default.csv"
# TSP-10000: sparse SoftDist (50 neighbours per row); peak memory from /usr/bin/time.
run tsp10000_default /usr/bin/time -v "$bin" tsp solve "$data/tsp10000_test_concorde.txt" --limit "$m10000" --threads "$threads" $(budget 10000) --tours "$out/tsp10000_tours.txt"
grep -E "Maximum resident" "$out/tsp10000_default.txt"
