#!/usr/bin/env python3
"""Peers of evoforge's `bo` (strategies/benches/bo_efficiency.rs), same protocol:

  regret: Branin (30 evaluations), Hartmann-6 (60), Ackley-5 (60); 2d+1 quasi-random initial
          points (scrambled Sobol), then one BO point per iteration; median final simple regret
          over seeds 0..N-1.
          * botorch: SingleTaskGP (defaults: RBF ARD with the dimension-scaled LogNormal prior,
            Standardize outcome) on inputs normalised to the unit cube, fit_gpytorch_mll,
            LogExpectedImprovement, optimize_acqf(num_restarts=10, raw_samples=512).
          * optuna: GPSampler(seed, n_startup_trials=2d+1, independent_sampler=QMCSampler).
  time:   one BoTorch fit + optimize_acqf at n = 200 Hartmann-6 points (d = 6), one torch thread.

Usage (venv from ../shared/tools/peers-venv.sh DIR bo):
  DIR/bin/python benches/peers/bo_peers.py time
  DIR/bin/python benches/peers/bo_peers.py regret --peer botorch --seeds 10 [--only branin]
"""
import argparse
import math
import time

import numpy as np
import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

HART_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                   [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
HART_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                          [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
HART_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0]**2 + c * x[0] - r)**2 + s * (1 - t) * math.cos(x[0]) + s


def hartmann6(x):
    x = np.asarray(x)
    return -float(np.sum(HART_ALPHA * np.exp(-np.sum(HART_A * (x - HART_P)**2, axis=1))))


def ackley(x):
    x = np.asarray(x)
    d = len(x)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(x**2) / d)) - np.exp(np.sum(np.cos(2 * np.pi * x)) / d) + 20 + math.e)


PROBLEMS = {
    "branin": (branin, [-5.0, 0.0], [10.0, 15.0], 30, 0.397887357729739),
    "hartmann6": (hartmann6, [0.0] * 6, [1.0] * 6, 60, -3.32236801141551),
    "ackley5": (ackley, [-32.768] * 5, [32.768] * 5, 60, 0.0),
}


def botorch_next(X, Y, lo, hi):
    from botorch.acquisition import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood
    d = X.shape[1]
    bounds = torch.tensor([lo, hi])
    model = SingleTaskGP(X, -Y, input_transform=Normalize(d, bounds=bounds))  # maximise -f
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    acq = LogExpectedImprovement(model, best_f=(-Y).max())
    cand, _ = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=10, raw_samples=512)
    return cand[0]


def run_botorch(f, lo, hi, budget, seed):
    from torch.quasirandom import SobolEngine
    d = len(lo)
    n0 = 2 * d + 1
    u = SobolEngine(d, scramble=True, seed=seed).draw(n0).to(torch.float64)
    X = torch.tensor(lo) + (torch.tensor(hi) - torch.tensor(lo)) * u
    Y = torch.tensor([[f(x.tolist())] for x in X])
    torch.manual_seed(seed)
    while len(X) < budget:
        x = botorch_next(X, Y, lo, hi)
        X = torch.cat([X, x[None]])
        Y = torch.cat([Y, torch.tensor([[f(x.tolist())]])])
    return float(Y.min())


def run_optuna(f, lo, hi, budget, seed):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    d = len(lo)
    sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=2 * d + 1,
                                        independent_sampler=optuna.samplers.QMCSampler(seed=seed))
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: f([t.suggest_float(f"x{i}", lo[i], hi[i]) for i in range(d)]), n_trials=budget)
    return study.best_value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["time", "regret"])
    ap.add_argument("--peer", choices=["botorch", "optuna"], default="botorch")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--only")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    if a.mode == "time":
        from scipy.stats import qmc
        u = qmc.Halton(6, seed=1).random(200)
        X = torch.tensor(u)
        Y = torch.tensor([[hartmann6(x)] for x in u])
        ts = []
        for _ in range(a.reps):
            t = time.perf_counter()
            botorch_next(X, Y, [0.0] * 6, [1.0] * 6)
            ts.append(time.perf_counter() - t)
        print(f"botorch fit + optimize_acqf at n=200, d=6: median {sorted(ts)[len(ts) // 2]:.3f} s {ts}")
        return
    run = run_botorch if a.peer == "botorch" else run_optuna
    for name, (f, lo, hi, budget, fstar) in PROBLEMS.items():
        if a.only and a.only != name:
            continue
        t = time.perf_counter()
        regrets = [run(f, lo, hi, budget, s) - fstar for s in range(a.seeds)]
        print(f"{a.peer} {name}: median simple regret {float(np.median(regrets)):.4f} over {a.seeds} seeds "
              f"({(time.perf_counter() - t) / a.seeds:.1f} s per run) {np.round(regrets, 4).tolist()}")


if __name__ == "__main__":
    main()
