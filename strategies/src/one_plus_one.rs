//! The (1+1)-ES with the one-fifth success rule (Gaussian hill climbing with step-size
//! control).
//!
//! One offspring per generation, `y = x + σ·N(0, I)` (clipped into the bounds); it replaces the
//! parent when it is at least as good (`f(y) ≤ f(x)`, a failed evaluation never is). The step
//! size follows the one-fifth success rule in the form of Kern, Müller, Hansen, Büche,
//! Ocenasek & Koumoutsakos (2004), "Learning probability distributions in continuous
//! evolutionary algorithms — a comparative review", Natural Computing 3:77–112, Sec. 3.1:
//!
//! * success: `σ ← σ · exp(1/3)`
//! * failure: `σ ← σ · exp(1/3)^(−1/4) = σ · exp(−1/12)`
//!
//! so σ is stationary exactly when a fifth of the offspring succeed (`p/3 = (1−p)/12` at
//! `p = 1/5`), the rule of Rechenberg (1973) as a continuous update.
//!
//! The first generation evaluates the initial point itself, so the parent always has a
//! measured fitness. `stop()` reports `tolx` once `σ` falls below `tolx`. On a plateau every
//! offspring "succeeds" and σ grows geometrically; it is capped at
//! `10 · max(σ0, max_i (hi_i − lo_i))`, where every offspring lands on the faces of the box
//! anyway, so it never overflows.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy, TellError,
};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::util::{Batch, check_mean0, clip_into, improve_best, nf, resolve_sigma0, uniform_in};

/// Step-size factor after a success, `exp(1/3)` (Kern et al. 2004).
const LOG_UP: f64 = 1.0 / 3.0;
/// Step-size factor after a failure, `exp(1/3)^(-1/4)` (Kern et al. 2004).
const LOG_DOWN: f64 = -1.0 / 12.0;

/// Configuration of [`OnePlusOne`] (YAML `kind: one_plus_one`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OnePlusOneConfig {
    /// Initial point; default: uniform in the bounds, drawn from the `init` random stream.
    pub mean0: Option<Vec<f64>>,
    /// Initial step size; default `0.3 × mean(hi − lo)` over the coordinates.
    pub sigma0: Option<f64>,
    /// Stop when `σ < tolx`; default `1e-11 × sigma0`.
    pub tolx: Option<f64>,
}

impl Describe for OnePlusOneConfig {
    const KIND: &'static str = OnePlusOne::NAME;
    const SUMMARY: &'static str = "(1+1)-ES with the one-fifth success rule (Kern et al. 2004)";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("mean0", "[float]", "null", "initial point; null: uniform in the bounds"),
            ParamDoc::opt("sigma0", "float", "null", "initial step size; null: 0.3 mean(hi - lo)"),
            ParamDoc::opt("tolx", "float", "null", "stop when sigma is below; null: 1e-11 sigma0"),
        ]
    }
}

/// (1+1)-ES with the one-fifth success rule.
#[derive(Debug, Clone)]
pub struct OnePlusOne {
    config: OnePlusOneConfig,
    space: Space,
    sigma0: f64,
    sigma_max: f64,
    tolx: f64,
}

/// State of [`OnePlusOne`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnePlusOneState {
    next_id: u64,
    generation: u64,
    /// Parent point.
    x: Vec<f64>,
    /// Parent fitness; `None` until the initial point is evaluated.
    #[serde(with = "nf::opt")]
    fx: Option<f64>,
    sigma: f64,
    /// The offspring waiting for its result.
    y: Vec<f64>,
    batch: Batch,
    successes: u64,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
}

impl Strategy for OnePlusOne {
    const NAME: &'static str = "one_plus_one";
    type Config = OnePlusOneConfig;
    type State = OnePlusOneState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        check_mean0(&config.mean0, space)?;
        let sigma0 = resolve_sigma0(config.sigma0, space)?;
        let tolx = match config.tolx {
            None => 1e-11 * sigma0,
            Some(t) if t >= 0.0 && t.is_finite() => t,
            Some(t) => {
                return Err(ConfigError::new("tolx", format!("must be >= 0 and finite, got {t}")));
            }
        };
        let widest = space.dims().iter().map(|d| d.hi - d.lo).fold(0.0, f64::max);
        let sigma_max = 10.0 * sigma0.max(widest);
        Ok(Self { config, space: space.clone(), sigma0, sigma_max, tolx })
    }

    fn init(&self, rng: &mut Rng) -> Self::State {
        let x = self.config.mean0.clone().unwrap_or_else(|| uniform_in(&self.space, rng));
        OnePlusOneState {
            next_id: 0,
            generation: 0,
            y: x.clone(),
            x,
            fx: None,
            sigma: self.sigma0,
            batch: Batch::default(),
            successes: 0,
            best: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        if s.fx.is_none() {
            // The parent's own fitness comes first.
            s.y.copy_from_slice(&s.x);
        } else {
            for (y, x) in s.y.iter_mut().zip(&s.x) {
                *y = x + s.sigma * rng.sample::<f64, _>(StandardNormal);
            }
            clip_into(&self.space, &mut s.y);
        }
        s.batch = Batch::new(s.next_id, 1);
        let c = Candidate { id: s.next_id, genome: s.y.clone() };
        s.next_id += 1;
        vec![c]
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        s.batch.accept(results)?;
        let mut m = Metrics::new();
        if !s.batch.complete() {
            return Ok(m);
        }
        let f = s.batch.values()[0];
        let failed = f.is_nan() || f == f64::INFINITY;
        improve_best(&mut s.best, &s.y, f);
        match s.fx {
            None => s.fx = Some(f),
            Some(fx) => {
                if !failed && f <= fx {
                    std::mem::swap(&mut s.x, &mut s.y);
                    s.fx = Some(f);
                    s.sigma = (s.sigma * LOG_UP.exp()).min(self.sigma_max);
                    s.successes += 1;
                } else {
                    s.sigma *= LOG_DOWN.exp();
                }
            }
        }
        s.batch = Batch::default();
        s.generation += 1;
        m.insert("sigma".into(), s.sigma);
        m.insert("success_rate".into(), s.successes as f64 / s.generation as f64);
        m.insert("failures".into(), if failed { 1.0 } else { 0.0 });
        if let Some((_, b)) = &s.best {
            m.insert("best_fitness".into(), *b);
        }
        Ok(m)
    }

    fn context(&self, _s: &Self::State) -> Self::Context {}

    fn decode(&self, _ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(g);
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.clone()
    }

    fn stop(&self, s: &Self::State) -> Option<String> {
        (s.sigma < self.tolx).then(|| format!("tolx: sigma {:e} < {:e}", s.sigma, self.tolx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoforge_core::{Evaluation, Outcome, stream};

    #[test]
    fn success_rule_is_stationary_at_one_fifth() {
        // p·up + (1−p)·down = 0 at p = 1/5.
        assert!((0.2 * LOG_UP + 0.8 * LOG_DOWN).abs() < 1e-15);
    }

    #[test]
    fn sigma_stays_finite_on_a_plateau() {
        let space = Space::real_box(2, 0.0, 1.0);
        let s = OnePlusOne::new(OnePlusOneConfig::default(), &space).unwrap();
        let mut rng = stream(0, &[0]);
        let mut st = s.init(&mut rng);
        for _ in 0..5000 {
            let c = s.ask(&mut st, &mut rng);
            assert!(c[0].genome.iter().all(|v| (0.0..=1.0).contains(v)));
            let r: Vec<_> = c
                .into_iter()
                .map(|c| Evaluated {
                    id: c.id,
                    genome: c.genome,
                    outcome: Outcome::Ok(Evaluation::value(1.0)),
                })
                .collect();
            s.tell(&mut st, &r, &mut rng).unwrap();
        }
        assert_eq!(st.sigma, 10.0);
    }

    #[test]
    fn first_generation_evaluates_the_initial_point() {
        let space = Space::real_box(3, -1.0, 1.0);
        let cfg = OnePlusOneConfig { mean0: Some(vec![0.5, 0.0, -0.5]), ..Default::default() };
        let s = OnePlusOne::new(cfg, &space).unwrap();
        let mut rng = stream(0, &[0]);
        let mut st = s.init(&mut rng);
        let c = s.ask(&mut st, &mut rng);
        assert_eq!(c[0].genome, vec![0.5, 0.0, -0.5]);
        let r = vec![Evaluated {
            id: c[0].id,
            genome: c[0].genome.clone(),
            outcome: Outcome::Ok(Evaluation::value(1.0)),
        }];
        s.tell(&mut st, &r, &mut rng).unwrap();
        assert_eq!(st.fx, Some(1.0));
        assert_eq!(st.sigma, 0.6);
        let bad = OnePlusOneConfig { sigma0: Some(-1.0), ..Default::default() };
        assert_eq!(OnePlusOne::new(bad, &space).unwrap_err().field, "sigma0");
        let bad = OnePlusOneConfig { mean0: Some(vec![0.0, 2.0, 0.0]), ..Default::default() };
        assert_eq!(OnePlusOne::new(bad, &space).unwrap_err().field, "mean0[1]");
    }
}
