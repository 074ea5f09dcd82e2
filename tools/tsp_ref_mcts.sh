#!/usr/bin/env bash
# The reference C++ MCTS (Fu et al., as shipped in xyfffff/rethink_mcts_for_tsp `default_mcts/`)
# on the first M instances of a test set, with the SoftDist heatmap and the default parameters at
# T = 0.01, to compare with `evoforge tsp solve` at the same CPU time (its budget is T·N seconds of
# process CPU clock, `clock()`, heatmap reading included). Nothing of it is vendored: give a
# checkout of that repository; it is built in a scratch directory outside this repo.
#
#   tools/tsp_ref_mcts.sh REF_CHECKOUT DATA_FILE [WORK_DIR]
#
# Environment: N (cities, 500), M (instances, 16), TAU (SoftDist temperature, 0.0066),
# T (time factor, 0.01), PY (a python with numpy; default /work/peers-tsp/bin/python),
# COUNT=1 also prints the simulated actions and restarts per instance (a counter patched into the
# scratch copy; the search is unchanged). Prints the reference program's per-instance lines and
# its summary (Avg_Gap is a fraction, not percent).
set -euo pipefail
ref=${1:?usage: tools/tsp_ref_mcts.sh REF_CHECKOUT DATA_FILE [WORK_DIR]}
data=$(readlink -f "${2:?data file}")
work=${3:-/tmp/tsp_ref_mcts}
n=${N:-500}; m=${M:-16}; tau=${TAU:-0.0066}; t=${T:-0.01}; py=${PY:-/work/peers-tsp/bin/python}
rm -rf "$work"; mkdir -p "$work"
cp -r "$ref/default_mcts/code" "$ref/default_mcts/Makefile" "$ref/default_mcts/inc3.Makefile" "$work/"
rm -f "$work"/code/*.o
# The shipped default is T = 0.1; the max city number of the static arrays is 10000.
sed -i "s/^double Param_T = [0-9.]*;/double Param_T = $t;/" "$work/code/TSP_IO.h"
if [ "${COUNT:-0}" = 1 ]; then
  sed -i 's/^Distance_Type Simulation(int Max_Simulation_Times)$/long long Sim_Count = 0, Restart_Count = 0;\n&/;
          s/\t\tTotal_Simulation_Times++;$/\t\tTotal_Simulation_Times++; Sim_Count++;/' "$work/code/TSP_MCTS.h"
  sed -i 's/^        Jump_To_Random_State();$/        Jump_To_Random_State(); Restart_Count++;/;
          s/^    Restore_Best_Solution();$/    fprintf(stderr, "simulations %lld restarts %lld\\n", Sim_Count, Restart_Count); Sim_Count = 0; Restart_Count = 0;\n&/' \
      "$work/code/TSP_Markov_Decision.h"
fi
(cd "$work" && make >/dev/null 2>&1) || { echo "build failed in $work" >&2; exit 1; }
ln -s "$data" "$work/tsp${n}_test_concorde.txt"
mkdir -p "$work/heatmap/tsp$n"
# SoftDist as all_heatmap/softdist/batch_generate_heatmap.py (float32 row softmax of -d/tau, the
# diagonal excluded), in numpy instead of torch, in the text format the C++ reads.
"$py" - "$data" "$n" "$tau" "$m" "$work/heatmap/tsp$n" <<'PY'
import sys, numpy as np
path, n, tau, m, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
for i, line in enumerate(open(path)):
    if i >= m:
        break
    c = np.array(line.split(" output ")[0].split(), dtype=np.float32)[: 2 * n].reshape(n, 2)
    d = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    z = -d / np.float32(tau)
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    h = e / e.sum(1, keepdims=True)
    with open(f"{out}/heatmaptsp{n}_{i}.txt", "w") as f:
        f.write(f"{n}\n")
        for row in h:
            f.write(" ".join(map(str, row.tolist())) + "\n")
PY
# Batch 0 of size M = the first M instances; the program reads Total_Instance_Num = 128 lines.
(cd "$work" && ./test 0 result.txt "tsp${n}_test_concorde.txt" "$n" "$m" </dev/null >run.log 2>run.err) || true
cat "$work/run.err"
grep -E "Inst_Index|Avg_" "$work/result.txt"
