#!/usr/bin/env bash
# MPI figures for BENCHMARKS.md (issue 5):
#   1. bytes sent per generation by OpenAI-ES at d = 1,000,000, population 256, in replicated
#      mode (mpirun -n 4), counted in evoforge's MPI layer (cluster/src/mpi.rs: every byte this
#      process hands to MPI_Send, MPI_Bcast as root and MPI_Allgather(v));
#   2. per-generation coordination overhead with a (nearly) no-op objective (sphere, d = 10),
#      population 1024, at 4 ranks: seconds per generation spent in MPI calls (waiting for the
#      slowest rank included), and the study's wall seconds per generation next to a one-thread
#      local run of the same study (the peer measured in the same run).
#
#   tools/mpi_figures.sh [--ranks 4] [--generations 20] [--out DIR]
#
# The binary is $EVOFORGE, else $CARGO_TARGET_DIR/release/evoforge, else target/release/evoforge,
# built with `cargo build --release --features mpi`. Needs mpirun (Open MPI) and python3.
# Runs as root are allowed and ranks may outnumber cores (--oversubscribe): on a machine with
# fewer cores than ranks the overhead includes waiting for descheduled ranks, so read it as an
# upper bound.
set -euo pipefail
ranks=4
gens=20
out=$(mktemp -d)
while [ $# -gt 0 ]; do
    case "$1" in
        --ranks) ranks=$2; shift 2 ;;
        --generations) gens=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${EVOFORGE:-${CARGO_TARGET_DIR:-$here/target}/release/evoforge}
[ -x "$bin" ] || { echo "build first: cargo build --release --features mpi ($bin)" >&2; exit 2; }
mkdir -p "$out"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# More ranks than cores: waiting ranks must yield their core, or a spinning rank holds the core
# that the rank it waits for needs (measured here: 50 ms per generation instead of 2.8 ms at
# 4 ranks on 2 cores). An explicit OMPI_MCA_mpi_yield_when_idle wins.
if [ "$ranks" -gt "$(nproc)" ]; then
    export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
fi
echo "ranks $ranks on $(nproc) cores, mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-default}"
mpi() { mpirun --oversubscribe --allow-run-as-root -n "$1" "$bin" "${@:2}"; }

# Sums/averages the `mpi-stats {...}` lines of every rank.
stats() {
    python3 - "$1" <<'PY'
import json, re, sys
# Ranks share stderr: find the JSON objects wherever the lines interleave.
rows = [json.loads(m) for m in re.findall(r'\{"rank":[^{}]*\}', open(sys.argv[1]).read())]
rows.sort(key=lambda r: r["rank"])
bpg = [r["bytes_per_generation"] for r in rows]
mpg = [1e3 * r["mpi_seconds_per_generation"] for r in rows]
print("  ranks %d, generations %d" % (len(rows), rows[0]["generations"]))
for r, b, m in zip(rows, bpg, mpg):
    print("  rank %d: %.0f B/generation sent, %.3f ms/generation in MPI" % (r["rank"], b, m))
print("  all ranks: %.0f B/generation = %.2f KiB (a broadcast of theta: %.0f KiB per rank)"
      % (sum(bpg), sum(bpg) / 1024, 8e6 / 1024))
print("  MPI time per generation: max over ranks %.3f ms, mean %.3f ms" % (max(mpg), sum(mpg) / len(mpg)))
PY
}
wall_per_gen() {
    python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("%.3f" % (1e3 * s["wall_seconds"] / s["generations"]))' "$1"
}

echo "== 1. OpenAI-ES, d = 1,000,000, population 256, mpirun -n $ranks (replicated)"
cat > "$out/bytes.yaml" <<EOF
name: mpi_bytes
seed: 1
problem: {kind: classic, function: sphere, dimension: 1000000}
strategy: {kind: openai_es, popsize: 256, sigma: 0.02, learning_rate: 0.01, noise_len: 4000000}
budget: {generations: $gens}
evaluator: {kind: mpi}
output: {dir: $out/bytes, checkpoint_seconds: 1000000}
EOF
EVOFORGE_MPI_STATS=1 mpi "$ranks" run "$out/bytes.yaml" --overwrite >/dev/null 2>"$out/bytes.err"
stats "$out/bytes.err"

for kind in openai_es cmaes; do
    if [ $kind = openai_es ]; then
        strategy="{kind: openai_es, popsize: 1024, sigma: 0.1, noise_len: 1000000}"
    else
        strategy="{kind: cmaes, popsize: 1024}"
    fi
    echo "== 2. $kind, no-op objective (sphere d = 10), population 1024, $gens generations"
    for ev in "mpi" "threads, threads: 1"; do
        tag=$( [ "$ev" = mpi ] && echo mpi || echo local )
        cat > "$out/noop-$kind-$tag.yaml" <<EOF
name: mpi_noop
seed: 1
problem: {kind: classic, function: sphere, dimension: 10}
strategy: $strategy
budget: {generations: $gens}
evaluator: {kind: $ev}
output: {dir: $out/noop-$kind-$tag, checkpoint_seconds: 1000000}
EOF
    done
    EVOFORGE_MPI_STATS=1 mpi "$ranks" run "$out/noop-$kind-mpi.yaml" --overwrite >/dev/null 2>"$out/noop-$kind.err"
    "$bin" run "$out/noop-$kind-local.yaml" --overwrite >/dev/null 2>&1
    stats "$out/noop-$kind.err"
    w_mpi=$(wall_per_gen "$out/noop-$kind-mpi/summary.json")
    w_one=$(wall_per_gen "$out/noop-$kind-local/summary.json")
    echo "  study wall per generation: mpirun -n $ranks $w_mpi ms, one thread, no MPI $w_one ms" \
        "(coordination adds $(python3 -c "print('%.3f' % ($w_mpi - $w_one))") ms)"
done
echo "(outputs in $out)"
