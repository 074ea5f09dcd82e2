//! `Gp` with fixed hyperparameters against scikit-learn's GaussianProcessRegressor on the
//! fixtures of `tools/gp_fixtures.py` (which documents how the parameterisations map):
//! posterior mean, predictive variance and log marginal likelihood to 1e-8 relative.
use evoforge_strategies::{Gp, GpParams, Kernel};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn fixed_hyperparameters_match_scikit_learn() {
    let text = include_str!("fixtures/gp_sklearn.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    let mut worst: f64 = 0.0;
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let kernel = match c["kernel"].as_str().unwrap() {
            "rbf" => Kernel::Rbf,
            "matern52" => Kernel::Matern52,
            k => panic!("unknown kernel {k}"),
        };
        let params = GpParams {
            mean: 0.0,
            outputscale: c["outputscale"].as_f64().unwrap(),
            lengthscales: floats(&c["lengthscales"]),
            noise: c["noise"].as_f64().unwrap(),
        };
        let (lo, hi) = (floats(&c["lo"]), floats(&c["hi"]));
        let gp = Gp::new(kernel, &lo, &hi, &rows(&c["x"]), &floats(&c["y"]), params).unwrap();
        assert_eq!(gp.jitter(), 0.0, "{name}: no jitter with these fixtures");
        let e = rel(gp.log_marginal_likelihood(), c["lml"].as_f64().unwrap());
        assert!(e < 1e-8, "{name}: log marginal likelihood off by {e:e} relative");
        worst = worst.max(e);
        let (mean, var) = (floats(&c["mean"]), floats(&c["var"]));
        for (k, x) in rows(&c["xs"]).iter().enumerate() {
            let (m, v) = gp.predict(x);
            let v = v + gp.noise_variance();
            let (em, ev) = (rel(m, mean[k]), rel(v, var[k]));
            assert!(em < 1e-8, "{name} point {k}: mean {m} vs {} ({em:e})", mean[k]);
            assert!(ev < 1e-8, "{name} point {k}: variance {v} vs {} ({ev:e})", var[k]);
            worst = worst.max(em).max(ev);
        }
    }
    eprintln!("worst relative difference to scikit-learn: {worst:e}");
}
