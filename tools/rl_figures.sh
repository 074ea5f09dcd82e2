#!/usr/bin/env bash
# OpenAI-ES figures for the classic-control studies: each study is run with several seeds, the
# final search centre θ of every run is scored on 100 test episodes, and a table of the test
# return, env steps, evaluations and wall time is printed, with the median over the seeds and a
# pass/fail against the "solved" threshold.
#
#   tools/rl_figures.sh [--seeds "1 2 3 4 5"] [--envs "cartpole pendulum acrobot"] [--out DIR]
#                       [--obs-norm]
#
# --obs-norm adds `obs_norm: true` to each study's problem (OpenAI-ES's running observation
# statistics); the test then uses the final statistics of the run (summary.json's
# problem_state.obs_mean / obs_std, as fixed `obs_mean` / `obs_std`).
#
# The binary is $EVOFORGE, else $CARGO_TARGET_DIR/release/evoforge, else target/release/evoforge
# (build it first: cargo build --release). Needs bash and python3 (standard library only).
#
# Protocol
#   * Seeds: every seed gets its own copy of the study file with the top-level `seed:` line
#     rewritten (what `evoforge run --seed` does too); the output goes to DIR/<env>_s<seed>.
#   * Test point: the final centre θ of OpenAI-ES (checkpoint.json, state.theta; a checkpoint is
#     always written when the study stops). summary.json's best_x is the best *training*
#     evaluation: the first perturbed member whose few training episodes happened to score
#     highest, an optimistic pick that generalises worse (and for CartPole it is the first
#     member to reach 500 on its training episodes, since later ties do not replace it). Its test
#     return is printed too, as `test(best_x)`, for comparison.
#   * Test episodes: `evoforge evaluate` evaluates every point with EvalCtx seed 0, so episode k
#     is reset from stream(derive(0, [k])): the same 100 episodes for every run and seed. In
#     training, a candidate's episodes come from derive(derive(study seed, [Eval, id]), [k]), so
#     the test episodes are not training episodes.
#   * The test problem is the study's `problem:` block with `episodes:` replaced by 100.
#   * Env steps: the sum of the `cost` fields of the journal's evaluation lines (gym_policy's
#     cost is the number of environment steps).
#   * Wall seconds: summary.json's wall_seconds (the study loop); cpu seconds: user + system
#     time of the `evoforge run` process, which is the steadier figure on a shared machine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seeds="1 2 3 4 5"
envs="cartpole pendulum acrobot"
out=""
obs_norm=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seeds) seeds="$2"; shift 2 ;;
        --envs) envs="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --obs-norm) obs_norm=1; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
bin=${EVOFORGE:-${CARGO_TARGET_DIR:-$here/target}/release/evoforge}
[[ -x "$bin" ]] || { echo "no evoforge binary at $bin (set EVOFORGE or build it)" >&2; exit 2; }
[[ -n "$out" ]] || out=$(mktemp -d "${TMPDIR:-/tmp}/rl_figures.XXXXXX")
mkdir -p "$out"

exec python3 - "$bin" "$here/studies" "$out" "$seeds" "$envs" "$obs_norm" <<'PY'
import json, os, re, resource, statistics, subprocess, sys

bin_, studies, out, seeds, envs, obs_norm = sys.argv[1:7]
obs_norm = obs_norm == "1"
seeds = [int(s) for s in seeds.split()]
# study file, gymnasium id, "solved" threshold on the 100-episode test mean.
ENVS = {
    "cartpole": ("cartpole_openai_es.yaml", "CartPole-v1", 475.0),
    "pendulum": ("pendulum_openai_es.yaml", "Pendulum-v1", -200.0),
    "acrobot": ("acrobot_openai_es.yaml", "Acrobot-v1", -100.0),
}
TEST_EPISODES = 100


def with_obs_norm(text):
    """The study with `obs_norm: true` as the first line of its problem block."""
    return re.sub(r"^(problem:\s*(#.*)?)$", r"\1\n  obs_norm: true", text, count=1, flags=re.M)


def problem_block(text, state=None):
    """The study's `problem:` block (its indented lines), with episodes set to 100 and, for a
    run with running observation statistics, its final statistics as fixed ones."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if re.match(r"problem:\s*(#.*)?$", l))
    block = []
    for l in lines[start + 1:]:
        if l.strip() and not l.startswith((" ", "\t")):
            break
        block.append(l)
    block = "\n".join(block) + "\n"
    if not re.search(r"^\s*episodes:", block, re.M):
        raise SystemExit("the problem block has no `episodes:` line")
    block = re.sub(r"^(\s*)episodes:\s*\d+", rf"\g<1>episodes: {TEST_EPISODES}", block, flags=re.M)
    if state is not None:
        block += f"  obs_mean: {json.dumps(state['obs_mean'])}\n  obs_std: {json.dumps(state['obs_std'])}\n"
    return block


def evaluate(problem, points):
    inp = "".join(json.dumps(p) + "\n" for p in points)
    r = subprocess.run([bin_, "evaluate", problem], input=inp, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"evoforge evaluate failed: {r.stderr}")
    return [float(v) for v in r.stdout.split()]


def run_one(env, seed):
    file, gym_id, _ = ENVS[env]
    text = open(os.path.join(studies, file)).read()
    if obs_norm:
        text = with_obs_norm(text)
    if not re.search(r"^seed:", text, re.M):
        raise SystemExit(f"{file}: no top-level `seed:` line to override")
    seeded = re.sub(r"^seed:.*$", f"seed: {seed}", text, count=1, flags=re.M)
    yaml = os.path.join(out, f"{env}_s{seed}.yaml")
    with open(yaml, "w") as f:
        f.write(seeded)
    d = os.path.join(out, f"{env}_s{seed}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(d + ".log", "w") as log:
        r = subprocess.run([bin_, "run", yaml, "--output", d, "--overwrite"], stdout=log,
                           stderr=subprocess.STDOUT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"evoforge run {yaml} failed, see {d}.log")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.load(open(os.path.join(d, "summary.json")))
    theta = json.load(open(os.path.join(d, "checkpoint.json")))["state"]["theta"]
    steps = 0.0
    with open(os.path.join(d, "journal.jsonl")) as j:
        for line in j:
            rec = json.loads(line)
            if "cost" in rec and rec["cost"] is not None:
                steps += rec["cost"]
    state = summary.get("problem_state")
    test_theta, test_best = evaluate(problem_block(text, state), [theta, summary["best_x"]])
    return dict(env=gym_id, seed=seed, test=test_theta, test_best=test_best,
                train_best=summary["best_f"], steps=steps, evals=summary["evaluations"],
                gens=summary["generations"], wall=summary["wall_seconds"], cpu=cpu,
                stop=summary["stop_reason"])


hdr = (f"{'env':<12} {'seed':>4} {'test(θ)':>9} {'test(best_x)':>12} {'train best':>10} "
       f"{'env steps':>12} {'evals':>7} {'gens':>5} {'wall s':>7} {'cpu s':>7}  stop")
print(f"output: {out}\ntest: final centre θ on {TEST_EPISODES} episodes (evaluate, seed 0)")
print(hdr)
print("-" * len(hdr))
verdicts = []
for env in envs.split():
    if env not in ENVS:
        raise SystemExit(f"unknown env {env!r}; known: {', '.join(ENVS)}")
    _, gym_id, thr = ENVS[env]
    rows = []
    for seed in seeds:
        r = run_one(env, seed)
        rows.append(r)
        print(f"{r['env']:<12} {r['seed']:>4} {r['test']:>9.1f} {r['test_best']:>12.1f} "
              f"{r['train_best']:>10.1f} {r['steps']:>12.0f} {r['evals']:>7} {r['gens']:>5} "
              f"{r['wall']:>7.1f} {r['cpu']:>7.1f}  {r['stop']}", flush=True)
    med = {k: statistics.median(r[k] for r in rows)
           for k in ("test", "test_best", "train_best", "steps", "evals", "gens", "wall", "cpu")}
    npass = sum(r["test"] >= thr for r in rows)
    ok = med["test"] >= thr
    verdicts.append((gym_id, thr, med["test"], npass, len(rows), ok))
    print(f"{gym_id:<12} {'med':>4} {med['test']:>9.1f} {med['test_best']:>12.1f} "
          f"{med['train_best']:>10.1f} {med['steps']:>12.0f} {med['evals']:>7.0f} "
          f"{med['gens']:>5.0f} {med['wall']:>7.1f} {med['cpu']:>7.1f}  "
          f"{'PASS' if ok else 'FAIL'} (threshold {thr:g}; {npass}/{len(rows)} seeds pass)")
    print("-" * len(hdr), flush=True)
for gym_id, thr, m, npass, n, ok in verdicts:
    print(f"{gym_id}: median test return {m:.1f} vs {thr:g}: {'PASS' if ok else 'FAIL'} "
          f"({npass}/{n} seeds >= threshold)")
sys.exit(0 if all(v[-1] for v in verdicts) else 1)
PY
