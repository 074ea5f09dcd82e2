#!/usr/bin/env python3
"""Writes strategies/tests/fixtures/gp_botorch.json: data sets and BoTorch's fitted GP on each,
which strategies/tests/gp_botorch.rs compares evoforge's `Gp::fit` against (issue 4: "fitted
hyperparameters reach a marginal likelihood at least as high as BoTorch's fit on the same data").

BoTorch's model: `SingleTaskGP(X, Y, input_transform=Normalize(d, bounds))` with its defaults
since 0.12 (RBF ARD kernel with the dimension-scaled LogNormal length-scale prior, no output
scale, constant mean, LogNormal(-4, 1) noise prior, Standardize outcome transform), fitted by
`fit_gpytorch_mll(ExactMarginalLogLikelihood)`, float64.

Mapping of the units: BoTorch standardises with the unbiased std (ddof = 1), evoforge with
ddof = 0. With c = s_botorch / s_evoforge the standardised outputs relate by z_ev = c z_bt, so in
evoforge's units BoTorch's fit has mean c m, noise c^2 sigma2, output scale c^2, and
log p(z_ev) = log p(z_bt) - n log c. The fixture stores BoTorch's parameters converted to
evoforge's units and its log marginal likelihood (no prior terms) converted the same way; the
test re-evaluates that likelihood with evoforge's GP at those parameters (to 1e-8) and checks
that evoforge's own fit reaches at least as much.

Usage: ../peers-bo/bin/python tools/gp_botorch_fixture.py   (BoTorch; see benches/peers/README)
"""
import json
import math
import os

import botorch
import gpytorch
import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize
from gpytorch.mlls import ExactMarginalLogLikelihood

torch.set_default_dtype(torch.float64)


def branin(x):
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


def hartmann6(x):
    alpha = [1.0, 1.2, 3.0, 3.2]
    A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
         [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
    P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
    return -sum(alpha[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6)))
                for i in range(4))


def ackley(x):
    d = len(x)
    return (-20 * math.exp(-0.2 * math.sqrt(sum(v * v for v in x) / d))
            - math.exp(sum(math.cos(2 * math.pi * v) for v in x) / d) + 20 + math.e)


def case(name, f, lo, hi, n, seed):
    rng = np.random.default_rng(seed)
    d = len(lo)
    X = rng.uniform(lo, hi, size=(n, d))
    y = np.array([f(list(r)) for r in X])
    bounds = torch.tensor([lo, hi])
    model = SingleTaskGP(torch.tensor(X), torch.tensor(y)[:, None],
                         input_transform=Normalize(d, bounds=bounds))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    model.eval()
    ls = model.covar_module.lengthscale.detach().reshape(-1).tolist()
    noise = float(model.likelihood.noise.detach().reshape(-1)[0])
    mean = float(model.mean_module.constant.detach().reshape(-1)[0])
    # Pure log marginal likelihood of the standardised outputs (no priors), from the model's
    # own stored training inputs (already normalised) and targets (already standardised).
    u = model.train_inputs[0]
    z = model.train_targets
    z_check = (torch.tensor(y) - torch.tensor(y).mean()) / torch.tensor(y).std()  # ddof = 1
    assert torch.allclose(z, z_check, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        k = model.covar_module(u).to_dense() + noise * torch.eye(len(y))
        mvn = torch.distributions.MultivariateNormal(model.mean_module(u), covariance_matrix=k)
        lml_bt = float(mvn.log_prob(z))
    s_bt = float(np.std(y, ddof=1))
    s_ev = float(np.std(y, ddof=0))
    c = s_bt / s_ev
    return {
        "name": name,
        "lo": lo,
        "hi": hi,
        "x": X.tolist(),
        "y": y.tolist(),
        "botorch": {
            "mean": c * mean,
            "outputscale": c * c,
            "lengthscales": ls,
            "noise": c * c * noise,
            "log_marginal_likelihood": lml_bt - len(y) * math.log(c),
        },
    }


def main():
    torch.manual_seed(0)
    cases = [
        case("branin_20", branin, [-5.0, 0.0], [10.0, 15.0], 20, 1),
        case("hartmann6_40", hartmann6, [0.0] * 6, [1.0] * 6, 40, 2),
        case("hartmann6_80", hartmann6, [0.0] * 6, [1.0] * 6, 80, 3),
        case("ackley5_50", ackley, [-32.768] * 5, [32.768] * 5, 50, 4),
    ]
    out = {
        "generator": "tools/gp_botorch_fixture.py",
        "versions": {"botorch": botorch.__version__, "gpytorch": gpytorch.__version__,
                     "torch": torch.__version__},
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(__file__), "..", "strategies", "tests", "fixtures",
                        "gp_botorch.json")
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
    for c in cases:
        print(c["name"], "BoTorch LML (evoforge units)", c["botorch"]["log_marginal_likelihood"])


if __name__ == "__main__":
    main()
