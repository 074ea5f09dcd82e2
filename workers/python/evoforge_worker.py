#!/usr/bin/env python3
"""evoforge reference worker: protocol v1 (docs/worker-protocol.md) in Python, numpy only.

A study uses it with

    evaluator:
      kind: processes
      workers: 4
      command: [python3, workers/python/evoforge_worker.py]     # relative to where evoforge runs
      gpus: [0, 1, 2, 3]                                        # optional: one worker per GPU

It evaluates the problems it knows and answers every other with a `fatal` message:

* `classic` with `function: sphere | rastrigin | rosenbrock`, and `sleep` (the sphere after a
  sleep of `milliseconds`): computed with the same float64 operations in the same order as the
  Rust problems (sums left to right, libm's cos), so the values are bit for bit those of
  `evoforge worker` and of the thread evaluator;
* tasks that carry a point `x` (every vector strategy: cmaes, random, ...), and `openai_es`
  genomes `{"index": i, "sign": s}`, which it decodes itself as `theta + (s * sigma) * eps` with
  `eps = table[i : i + d]` rebuilt from the shared noise table (tools/noise_table.py,
  docs/noise-table.md) -- only the index travels, never the perturbation.

`--backend torch` evaluates all the tasks of a message as one batch (a `(B, d)` tensor) on
`cuda` when PyTorch sees a GPU, on the CPU otherwise: the shape a GPU-evaluated fitness takes.
Its values are not bit-identical to numpy's (a tensor reduction sums in another order); use
it for throughput, and the default `numpy` backend where journals must match other workers.

`--misbehave MODE-after:N[@W][!]` fails on purpose after N results, for the fault tests:
`crash` (SIGKILL to itself, mid-batch), `hang` (heartbeats go on, results never come), `stall`
(nothing at all), `garbage` (a line that is not protocol). Only worker W (`EVOFORGE_WORKER`)
when given, and only a worker's first start (`EVOFORGE_WORKER_START=0`) unless it ends in `!`.
"""

import argparse
import collections
import json
import math
import os
import signal
import sys
import threading
import time

import numpy as np

PROTOCOL_VERSION = 1
HEARTBEAT_SECONDS = 1.0


def _noise_table():
    """tools/noise_table.py, the numpy reference of the table (next to this file, or in the
    repository's tools/)."""
    try:
        import noise_table  # noqa: F401  (installed or copied next to this file)
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, os.path.normpath(os.path.join(here, "..", "..", "tools")))
        import noise_table
    return noise_table


# --- floats: numbers, or "inf" / "-inf" / "NaN" ------------------------------------------------

_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "NaN": math.nan}


def read_float(v):
    if isinstance(v, str):
        return _NONFINITE[v]
    return float(v)


def write_float(v):
    v = float(v)
    if math.isfinite(v):
        return v  # json writes repr(v): the shortest decimal that reads back to the same bits
    if math.isnan(v):
        return "NaN"
    return "inf" if v > 0 else "-inf"


# --- problems ----------------------------------------------------------------------------------

def seq_sum(terms):
    """Left-to-right sum, as Rust's `Iterator::sum` (which starts from -0.0: the first term is
    then the first partial sum exactly). numpy's `sum` is pairwise: other bits."""
    if len(terms) == 0:
        return -0.0
    return float(np.cumsum(np.asarray(terms, dtype=np.float64))[-1])


class Problem:
    def __init__(self, spec):
        kind = spec.get("kind")
        self.sleep = 0.0
        if kind == "classic":
            self.function = spec.get("function")
            if self.function not in ("sphere", "rastrigin", "rosenbrock"):
                raise ValueError("this Python worker knows classic sphere, rastrigin and rosenbrock, "
                                 "not %r" % self.function)
        elif kind == "sleep":
            self.function = "sphere"
            self.sleep = read_float(spec.get("milliseconds", 10.0)) / 1000.0
        else:
            raise ValueError("this Python worker knows the problems classic and sleep, not %r" % kind)
        self.dimension = int(spec["dimension"])

    def value(self, x):
        """One point (float64 array), in the Rust problem's order of operations."""
        if self.sleep > 0:
            time.sleep(self.sleep)
        if self.function == "sphere":
            return seq_sum(x * x)
        if self.function == "rastrigin":
            # 10 n + sum(v^2 - 10 cos(2 pi v)), with libm's cos (numpy's SIMD cos may differ).
            terms = [v * v - 10.0 * math.cos(2.0 * math.pi * v) for v in x.tolist()]
            return 10.0 * float(self.dimension) + seq_sum(terms)
        # rosenbrock: sum(100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2)
        a = x[1:] - x[:-1] * x[:-1]
        b = 1.0 - x[:-1]
        return seq_sum(100.0 * (a * a) + b * b)

    def values_torch(self, X):
        """A batch (B, d) tensor at once: the GPU path (not bit-identical to `value`)."""
        import torch
        if self.sleep > 0:
            time.sleep(self.sleep)  # one simulated kernel for the whole batch
        if self.function == "sphere":
            return (X * X).sum(dim=1)
        if self.function == "rastrigin":
            return 10.0 * self.dimension + (X * X - 10.0 * torch.cos(2.0 * math.pi * X)).sum(dim=1)
        a = X[:, 1:] - X[:, :-1] ** 2
        return (100.0 * a * a + (1.0 - X[:, :-1]) ** 2).sum(dim=1)


# --- genomes -----------------------------------------------------------------------------------

class OpenAiEsDecoder:
    """`theta + (sign * sigma) * eps[index : index + d]`, eps from the shared noise table."""

    def __init__(self, strategy, dimension, cache_slices=64):
        self.nt = _noise_table()
        self.seed = int(strategy.get("noise_seed", 0))
        self.length = int(strategy.get("noise_len", 1 << 25))
        self.d = dimension
        self.cache = collections.OrderedDict()
        self.cache_slices = cache_slices
        self.theta = None
        self.sigma = None

    def set_context(self, ctx):
        self.theta = np.array([read_float(v) for v in ctx["theta"]], dtype=np.float64)
        self.sigma = read_float(ctx["sigma"])
        if self.theta.shape != (self.d,):
            raise ValueError("context theta has %d values, the dimension is %d" % (len(self.theta), self.d))

    def eps(self, index):
        e = self.cache.get(index)
        if e is None:
            if index < 0 or index + self.d > self.length:
                raise ValueError("slice %d..%d+%d is outside a noise table of %d"
                                 % (index, index, self.d, self.length))
            # float32 table values, widened exactly.
            e = self.nt.fill(self.seed, index, self.d).astype(np.float64)
            self.cache[index] = e
            if len(self.cache) > self.cache_slices:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(index)
        return e

    def decode(self, genome):
        if self.theta is None:
            raise ValueError("genome task without a decoder")
        index, sign = int(genome["index"]), int(genome["sign"])
        # One rounded multiply, one rounded add per coordinate (no FMA), as NoiseTable::axpy.
        return self.theta + (float(sign) * self.sigma) * self.eps(index)


# --- the worker --------------------------------------------------------------------------------

class Output:
    """stdout, shared by the main thread and the heartbeat thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.last = time.monotonic()
        self.busy = False

    def send(self, msg):
        line = json.dumps(msg, allow_nan=False, separators=(",", ":"))
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            self.last = time.monotonic()

    def raw(self, text):
        with self.lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def heartbeats(self):
        while True:
            time.sleep(HEARTBEAT_SECONDS / 4)
            if self.busy and time.monotonic() - self.last >= HEARTBEAT_SECONDS:
                self.send({"type": "heartbeat"})


class Misbehave:
    def __init__(self, spec):
        self.always = spec.endswith("!")
        spec = spec.rstrip("!")
        spec, _, worker = spec.partition("@")
        self.worker = int(worker) if worker else None
        mode, sep, n = spec.partition("-after:")
        if not sep or mode not in ("crash", "hang", "stall", "garbage"):
            raise ValueError("--misbehave: expected MODE-after:N[@W][!], MODE one of crash, hang, stall, garbage")
        self.mode, self.after = mode, int(n)

    def applies(self):
        w = int(os.environ.get("EVOFORGE_WORKER", "0"))
        start = int(os.environ.get("EVOFORGE_WORKER_START", "0"))
        return (self.worker is None or self.worker == w) and (self.always or start == 0)


class Worker:
    def __init__(self, args):
        self.out = Output()
        self.backend = args.backend
        self.misbehave = Misbehave(args.misbehave) if args.misbehave else None
        if self.misbehave and not self.misbehave.applies():
            self.misbehave = None
        self.answered = 0
        self.problem = None
        self.decoder = None
        self.torch = None

    def log(self, text):
        sys.stderr.write("evoforge_worker.py: %s\n" % text)
        sys.stderr.flush()

    def fatal(self, message):
        self.out.send({"type": "fatal", "message": message})
        self.log(message)
        sys.exit(1)

    def hello(self, msg):
        if msg.get("type") != "hello":
            self.fatal("the first message must be `hello`")
        if msg.get("version") != PROTOCOL_VERSION:
            self.fatal("the leader speaks protocol version %r, this worker speaks %d"
                       % (msg.get("version"), PROTOCOL_VERSION))
        try:
            self.problem = Problem(msg["problem"])
            if self.problem.dimension != msg["dimension"]:
                raise ValueError("problem dimension %d, the leader says %d"
                                 % (self.problem.dimension, msg["dimension"]))
            if msg.get("compact"):
                kind = msg["strategy"].get("kind")
                if kind != "openai_es":
                    raise ValueError("this Python worker decodes openai_es genomes, not %s ones" % kind)
                self.decoder = OpenAiEsDecoder(msg["strategy"], self.problem.dimension)
        except (KeyError, TypeError, ValueError) as e:
            self.fatal(str(e))
        if self.backend == "torch":
            import torch
            self.torch = torch
            self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.log("worker %s (start %s, pid %d): backend %s%s, CUDA_VISIBLE_DEVICES=%s" % (
            os.environ.get("EVOFORGE_WORKER", "?"), os.environ.get("EVOFORGE_WORKER_START", "?"),
            os.getpid(), self.backend, " on %s" % self.device if self.torch else "",
            os.environ.get("CUDA_VISIBLE_DEVICES", "")))
        self.out.send({"type": "ready", "version": PROTOCOL_VERSION, "pid": os.getpid()})

    def point(self, task):
        if "x" in task:
            return np.array([read_float(v) for v in task["x"]], dtype=np.float64)
        if self.decoder is None:
            raise ValueError("genome task without a decoder")
        return self.decoder.decode(task["genome"])

    def result(self, task_id, value=None, error=None, wall=0.0):
        msg = {"type": "result", "id": task_id}
        if error is None:
            msg["values"] = [write_float(value)]
        else:
            msg["error"] = error
        msg["wall"] = write_float(wall)
        self.out.send(msg)
        self.answered += 1

    def maybe_misbehave(self):
        m = self.misbehave
        if m is None or self.answered < m.after:
            return
        self.log("misbehaving on purpose: %s after %d results" % (m.mode, self.answered))
        if m.mode == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif m.mode == "hang":
            while True:  # the heartbeat thread goes on
                time.sleep(3600)
        elif m.mode == "stall":
            with self.out.lock:  # nothing gets out any more, heartbeats neither
                while True:
                    time.sleep(3600)
        else:
            self.out.raw("this is not a protocol message")
            self.misbehave = None

    def tasks(self, tasks):
        self.out.busy = True
        try:
            if self.torch is not None:
                self.tasks_torch(tasks)
                return
            for t in tasks:
                self.maybe_misbehave()
                start = time.perf_counter()
                try:
                    value = self.problem.value(self.point(t))
                    self.result(t["id"], value=value, wall=time.perf_counter() - start)
                except Exception as e:  # an objective's failure is a failed evaluation
                    self.result(t["id"], error="%s: %s" % (type(e).__name__, e),
                                wall=time.perf_counter() - start)
        finally:
            self.out.busy = False

    def tasks_torch(self, tasks):
        torch = self.torch
        start = time.perf_counter()
        good, xs = [], []
        for t in tasks:
            try:
                xs.append(self.point(t))
                good.append(t)
            except Exception as e:
                self.result(t["id"], error="%s: %s" % (type(e).__name__, e))
        if not good:
            return
        X = torch.as_tensor(np.stack(xs), dtype=torch.float64, device=self.device)
        values = self.problem.values_torch(X).cpu().numpy()
        wall = (time.perf_counter() - start) / len(good)
        for t, v in zip(good, values):
            self.maybe_misbehave()
            self.result(t["id"], value=float(v), wall=wall)

    def run(self):
        threading.Thread(target=self.out.heartbeats, daemon=True).start()
        first = True
        for line in sys.stdin:
            try:
                msg = json.loads(line)
                kind = msg["type"]
            except (ValueError, KeyError, TypeError) as e:
                self.fatal("the leader sent a line that is not protocol: %s" % e)
            if first:
                self.hello(msg)
                first = False
            elif kind == "tasks":
                self.tasks(msg["tasks"])
            elif kind == "context":
                if self.decoder is None:
                    self.fatal("a context for a strategy without genomes")
                try:
                    self.decoder.set_context(msg["context"])
                except (KeyError, TypeError, ValueError) as e:
                    self.fatal("bad context: %s" % e)
            elif kind == "shutdown":
                break
            else:
                self.fatal("unknown message type %r" % kind)
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=["numpy", "torch"], default="numpy",
                   help="numpy: one task at a time, bit-exact; torch: a message's tasks as one batch")
    p.add_argument("--misbehave", metavar="MODE-after:N[@W][!]",
                   help="fail on purpose (fault tests): crash, hang, stall or garbage")
    args = p.parse_args()
    if args.misbehave:
        Misbehave(args.misbehave)  # refuse a bad spec before the handshake
    try:
        return Worker(args).run()
    except BrokenPipeError:
        return 0  # the leader is gone


if __name__ == "__main__":
    sys.exit(main())
