#!/usr/bin/env python3
"""Writes strategies/tests/fixtures/gp_sklearn.json: GP posteriors with fixed hyperparameters
computed by scikit-learn's GaussianProcessRegressor, which strategies/tests/gp_sklearn.rs
compares evoforge's `Gp` against (mean, variance and log marginal likelihood to 1e-8 relative).

Mapping of the parameterisations:
  evoforge `Gp` scales inputs to the unit cube of [lo, hi] and standardises outputs (ddof = 0)
  and has k = s * kappa(r) + noise * I with a constant mean c.
  scikit-learn gets the same unit-cube inputs u = (x - lo) / (hi - lo) (computed here exactly
  as the Rust code does), normalize_y=True (np.std, ddof = 0), and the kernel
  ConstantKernel(s) * RBF(l) | Matern(l, nu=2.5) + WhiteKernel(noise), alpha = 0, all fixed
  (optimizer=None). sklearn's mean is 0 in standardised units, so c = 0.
  sklearn's predictive variance includes the WhiteKernel's noise (its diag(X*) has it):
  the test compares it with evoforge's latent variance + noise_variance().
  log_marginal_likelihood_value_ is on the standardised outputs, as Gp::log_marginal_likelihood.

Usage: ../peers-bo/bin/python tools/gp_fixtures.py   (scikit-learn; see benches/peers/README)
"""
import json
import os

import numpy as np
import sklearn
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel


def case(name, kernel, d, n, m, s, ls, noise, seed):
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-5, 0, d)
    hi = lo + rng.uniform(0.5, 10, d)
    x = lo + (hi - lo) * rng.uniform(size=(n, d))
    y = np.sin(3 * x.sum(axis=1) / (hi - lo).sum()) * 10 + 0.5 * rng.normal(size=n) + 3.0
    xs = lo + (hi - lo) * rng.uniform(-0.1, 1.1, size=(m, d))
    xs = np.vstack([xs, x[:3]])  # training points too
    u = (x - lo) / (hi - lo)
    us = (xs - lo) / (hi - lo)
    base = RBF(ls, "fixed") if kernel == "rbf" else Matern(ls, "fixed", nu=2.5)
    k = ConstantKernel(s, "fixed") * base + WhiteKernel(noise, "fixed")
    gpr = GaussianProcessRegressor(k, alpha=0.0, normalize_y=True, optimizer=None).fit(u, y)
    mean, std = gpr.predict(us, return_std=True)
    return {
        "name": name,
        "kernel": kernel,
        "lo": lo.tolist(),
        "hi": hi.tolist(),
        "x": x.tolist(),
        "y": y.tolist(),
        "outputscale": s,
        "lengthscales": list(ls),
        "noise": noise,
        "xs": xs.tolist(),
        "mean": mean.tolist(),
        "var": (std**2).tolist(),
        "lml": float(gpr.log_marginal_likelihood_value_),
    }


def main():
    cases = [
        case("rbf-1d", "rbf", 1, 8, 6, 1.0, [0.3], 1e-2, 1),
        case("matern-1d", "matern52", 1, 8, 6, 1.5, [0.4], 1e-3, 2),
        case("rbf-3d", "rbf", 3, 25, 10, 0.8, [0.5, 1.2, 0.3], 5e-2, 3),
        case("matern-3d", "matern52", 3, 25, 10, 2.0, [0.7, 0.2, 1.5], 1e-2, 4),
        case("matern-6d", "matern52", 6, 40, 10, 1.0, [0.4, 0.6, 0.8, 1.0, 1.2, 2.0], 1e-3, 5),
        case("rbf-6d", "rbf", 6, 40, 10, 1.0, [0.9, 0.6, 0.8, 1.0, 1.2, 0.7], 1e-1, 6),
    ]
    out = {
        "generator": "tools/gp_fixtures.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(__file__), "..", "strategies", "tests", "fixtures", "gp_sklearn.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
