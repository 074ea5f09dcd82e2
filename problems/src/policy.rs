//! Neuroevolution of control policies: an MLP whose weights are the search point, scored by
//! rollouts in a gymnasium classic-control environment ([`crate::gym`]).
//!
//! The setup is the one of the two papers that made neuroevolution a baseline for deep RL:
//! T. Salimans, J. Ho, X. Chen, S. Sidor, I. Sutskever (2017), "Evolution Strategies as a
//! Scalable Alternative to Reinforcement Learning", arXiv:1703.03864 (a fixed-architecture
//! network, the flattened weights as the genome, fitness = episode return, optional observation
//! normalisation with statistics fixed during a generation), and F. P. Such, V. Madhavan,
//! E. Conti, J. Lehman, K. O. Stanley, J. Clune (2017), "Deep Neuroevolution: Genetic
//! Algorithms Are a Competitive Alternative for Training Deep Neural Networks for
//! Reinforcement Learning", arXiv:1712.06567 (the same genome, evolved by a GA).
//!
//! # Objective and direction
//!
//! [`GymPolicy::evaluate`] returns the **mean return** over `episodes` episodes, a quantity to
//! *maximise*: studies must say `direction: maximize` (the engine minimises internally and the
//! study layer flips the sign at its edge; problems never do). [`Evaluation::cost`] is the total
//! number of environment steps, the unit in which the neuroevolution papers report budgets.
//!
//! # Determinism
//!
//! Episode `k` (0-based) is reset with `stream(derive(ctx.seed, &[k]), &[])` from
//! [`evoforge_core::rng`], so the same point and [`EvalCtx::seed`] give the same return bit for
//! bit on any thread or rank, and common random numbers across candidates are obtained by
//! handing them the same seed.
//!
//! # Observation normalisation
//!
//! With `obs_norm: true`, each observation becomes `clip((obs − mean) / max(std, 0.1), ±5)`
//! before the network sees it, as in openai/evolution-strategies-starter (`policies.py`: the
//! clip at 5; `es.py`: `RunningStat(eps=1e-2)` and `std = sqrt(max(sumsq/count − mean², 1e-2))`,
//! whose floor 0.1 stops a near-constant component from being blown up).
//!
//! * **Running statistics** (the default, OpenAI-ES's): the statistics are the problem's
//!   per-generation state ([`Problem::state_init`]): `[count, Σobs, Σobs²]`, starting at
//!   `[1e-2, 0, 1e-2]` (mean 0, std 1). They are fixed while a generation is evaluated; each
//!   evaluation returns the sums of the raw observations its policy saw
//!   ([`Evaluation::stats`]) with probability `obs_stat_prob` (OpenAI-ES's `calc_obstat_prob`;
//!   the draw comes from the evaluation's seed), and the study adds them in ask order after the
//!   generation. So every worker of a generation uses the same statistics and the run is
//!   reproducible at any thread, process or rank count, and across resume (the state is
//!   checkpointed, the sums journaled). The final `obs_mean` / `obs_std` are in
//!   `summary.json` (`problem_state`): deploy `recommended_x` with them.
//! * **Fixed statistics**: `obs_mean` and `obs_std` given in the configuration.

use evoforge_core::rng::{derive, stream};
use evoforge_core::{
    ConfigError, Describe, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

use crate::gym::{self, Action, ActionSpace, ClassicControl, ENV_IDS, Env};

/// The lower bound on the standard deviation used by observation normalisation (OpenAI-ES's
/// `sqrt(1e-2)`; see the module documentation).
pub const OBS_STD_MIN: f64 = 0.1;

/// Activation of a hidden layer. The output layer is always linear: the action mapping
/// ([`GymPolicy::act`]) does the squashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `tanh(x)`, as in Salimans et al.
    #[default]
    Tanh,
    /// `max(x, 0)`, as in Such et al.
    Relu,
}

impl Activation {
    #[inline]
    fn apply(self, y: &mut [f64]) {
        match self {
            Self::Tanh => y.iter_mut().for_each(|v| *v = v.tanh()),
            Self::Relu => y.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
    }
}

/// A fully connected network with layer sizes `[n_in, hidden..., n_out]`; no hidden layer makes
/// it a linear (affine) policy.
///
/// # Parameter layout
///
/// The parameter vector is the concatenation, layer by layer from the input, of the weight
/// matrix `W` (`n_out × n_in`, row-major: `W[o][i]` at offset `o · n_in + i`) and then the bias
/// `b` (`n_out`). Layer `l` computes `y[o] = (Σ_i W[o][i] · x[i], summed in order of i) + b[o]`,
/// followed by the layer's activation on hidden layers only. [`Mlp::n_params`] is
/// `Σ_l (n_in_l + 1) · n_out_l`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
    n_params: usize,
    /// Widest hidden layer: the ping-pong scratch holds two of these.
    max_hidden: usize,
}

impl Mlp {
    /// A network with layer sizes `sizes` (`[n_in, hidden..., n_out]`) and one activation per
    /// hidden layer (`activations.len() == sizes.len() - 2`).
    ///
    /// # Panics
    ///
    /// On fewer than two sizes, a zero size, or the wrong number of activations (programming
    /// errors; [`PolicyConfig::build`] validates user input before calling this).
    pub fn new(sizes: &[usize], activations: &[Activation]) -> Self {
        assert!(sizes.len() >= 2, "an MLP needs at least input and output sizes, got {sizes:?}");
        assert!(sizes.iter().all(|&s| s > 0), "layer sizes must be positive, got {sizes:?}");
        assert_eq!(
            activations.len(),
            sizes.len() - 2,
            "one activation per hidden layer: sizes {sizes:?}"
        );
        let n_params = sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum();
        let max_hidden = sizes[1..sizes.len() - 1].iter().copied().max().unwrap_or(0);
        Self { sizes: sizes.to_vec(), activations: activations.to_vec(), n_params, max_hidden }
    }

    /// A network whose hidden layers all use `activation`.
    pub fn uniform(sizes: &[usize], activation: Activation) -> Self {
        Self::new(sizes, &vec![activation; sizes.len().saturating_sub(2)])
    }

    /// Layer sizes `[n_in, hidden..., n_out]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Activations of the hidden layers.
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    /// Input size.
    pub fn n_in(&self) -> usize {
        self.sizes[0]
    }

    /// Output size.
    pub fn n_out(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// Length of the parameter vector.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// The Deep GA's initialisation scale per parameter (Such et al. 2017, GPU code
    /// `models/base.py`): weights `std/√fan_in` with `std = 1` on hidden layers and `0.1` on
    /// the output layer, biases 0.
    pub fn init_scale(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.n_params());
        let layers = self.sizes.len() - 1;
        for (l, w) in self.sizes.windows(2).enumerate() {
            let (n_in, n_out) = (w[0], w[1]);
            let std = if l + 1 == layers { 0.1 } else { 1.0 };
            out.extend(std::iter::repeat_n(std / (n_in as f64).sqrt(), n_in * n_out));
            out.extend(std::iter::repeat_n(0.0, n_out));
        }
        out
    }

    /// Length of the `scratch` buffer [`Mlp::forward`] needs: two hidden activations.
    pub fn scratch_len(&self) -> usize {
        2 * self.max_hidden
    }

    /// Computes the network's output for one observation into `out`, allocating nothing.
    ///
    /// # Panics
    ///
    /// When `params`, `obs` or `out` has the wrong length or `scratch` is shorter than
    /// [`Mlp::scratch_len`].
    pub fn forward(&self, params: &[f64], obs: &[f64], scratch: &mut [f64], out: &mut [f64]) {
        assert_eq!(params.len(), self.n_params, "params length");
        assert_eq!(obs.len(), self.n_in(), "observation length");
        assert_eq!(out.len(), self.n_out(), "output length");
        assert!(scratch.len() >= self.scratch_len(), "scratch shorter than scratch_len()");
        // Hidden activations alternate between the two halves of `scratch`, so no layer reads
        // the buffer it writes: layer l (not last) writes half l % 2 and the next one reads it.
        let (a, b) = scratch.split_at_mut(self.max_hidden);
        let layers = self.sizes.len() - 1;
        let mut off = 0;
        for l in 0..layers {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let w = &params[off..off + n_in * n_out];
            let bias = &params[off + n_in * n_out..off + (n_in + 1) * n_out];
            off += (n_in + 1) * n_out;
            let last = l + 1 == layers;
            let (x, y): (&[f64], &mut [f64]) = match (l == 0, last, l % 2 == 1) {
                (true, true, _) => (obs, &mut *out),
                (true, false, _) => (obs, &mut a[..n_out]),
                (false, true, true) => (&a[..n_in], &mut *out),
                (false, true, false) => (&b[..n_in], &mut *out),
                (false, false, true) => (&a[..n_in], &mut b[..n_out]),
                (false, false, false) => (&b[..n_in], &mut a[..n_out]),
            };
            affine(w, bias, x, y);
            if !last {
                self.activations[l].apply(y);
            }
        }
    }

    /// [`Mlp::forward`] over `n` observations stored row by row in `obs` (`n × n_in`), writing
    /// the outputs row by row to `out` (`n × n_out`). Row `r` of `out` is bit for bit what
    /// `forward` gives for row `r` of `obs`.
    ///
    /// # Panics
    ///
    /// When the lengths do not describe the same `n`, or as [`Mlp::forward`].
    pub fn forward_batch(&self, params: &[f64], obs: &[f64], scratch: &mut [f64], out: &mut [f64]) {
        let (n_in, n_out) = (self.n_in(), self.n_out());
        assert_eq!(obs.len() % n_in, 0, "observation matrix length is not a multiple of n_in");
        let n = obs.len() / n_in;
        assert_eq!(out.len(), n * n_out, "output matrix length");
        for (o, y) in obs.chunks_exact(n_in).zip(out.chunks_exact_mut(n_out)) {
            self.forward(params, o, scratch, y);
        }
    }
}

/// `y = W x + b` with `W` row-major (`y.len() × x.len()`), summing each row in order and adding
/// the bias last (numpy's `W @ x + b` order), so a Python reference gives the same values.
#[inline]
fn affine(w: &[f64], b: &[f64], x: &[f64], y: &mut [f64]) {
    for ((yo, row), bo) in y.iter_mut().zip(w.chunks_exact(x.len())).zip(b) {
        let mut acc = 0.0;
        for (wi, xi) in row.iter().zip(x) {
            acc += wi * xi;
        }
        *yo = acc + bo;
    }
}

/// Index of the largest output; the first one on ties, and NaN never wins (0 if all are NaN),
/// so a degenerate network still yields a valid action.
pub fn argmax(y: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in y.iter().enumerate().skip(1) {
        if v > y[best] || y[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

/// Maps a network output into `[low, high]`: `low + (tanh(y) + 1) / 2 · (high − low)`, so the
/// action is always inside the box whatever the weights.
pub fn squash(y: f64, low: f64, high: f64) -> f64 {
    low + 0.5 * (y.tanh() + 1.0) * (high - low)
}

/// The study-file form (`problem: {kind: gym_policy, env: CartPole-v1, hidden: [16]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Gymnasium id of the environment (one of [`gym::ENV_IDS`]).
    pub env: String,
    /// Hidden layer widths; `[]` makes a linear policy.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Activation of every hidden layer.
    #[serde(default)]
    pub activation: Activation,
    /// Episodes per evaluation (K); the value is the mean return.
    #[serde(default = "default_episodes")]
    pub episodes: usize,
    /// Time limit replacing the environment's registered one.
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Half-width of the search box: every parameter in `[-param_bound, param_bound]`.
    #[serde(default = "default_param_bound")]
    pub param_bound: f64,
    /// Normalise observations with `obs_mean` / `obs_std` (see the module documentation).
    #[serde(default)]
    pub obs_norm: bool,
    /// Observation mean for `obs_norm` (length = observation size).
    #[serde(default)]
    pub obs_mean: Option<Vec<f64>>,
    /// Observation standard deviation for `obs_norm` (length = observation size, ≥ 0).
    #[serde(default)]
    pub obs_std: Option<Vec<f64>>,
    /// With running statistics: the probability that an evaluation contributes its
    /// observations (OpenAI-ES's `calc_obstat_prob`).
    #[serde(default = "default_obs_stat_prob")]
    pub obs_stat_prob: f64,
    /// Normalised observations are clipped to `[-obs_clip, obs_clip]`.
    #[serde(default = "default_obs_clip")]
    pub obs_clip: f64,
}

/// 1: every evaluation contributes. OpenAI-ES used 0.01 with 10,000 episodes per generation
/// to save the cost of shipping observations; here the sums travel as `2·obs_dim + 1` floats.
fn default_obs_stat_prob() -> f64 {
    1.0
}
/// 5, as in OpenAI-ES's policies.
fn default_obs_clip() -> f64 {
    5.0
}

fn default_hidden() -> Vec<usize> {
    vec![16]
}
fn default_episodes() -> usize {
    1
}
/// 1.0: the box is a search region, not a constraint of the papers (they do not bound weights).
/// With Xavier-like scales (`1/√fan_in`) well inside it, tanh units stay unsaturated for
/// typical observations, and a discrete argmax policy is scale invariant, so nothing is lost.
fn default_param_bound() -> f64 {
    1.0
}

impl PolicyConfig {
    /// A configuration for `env` with every other field at its default.
    pub fn new(env: impl Into<String>) -> Self {
        Self {
            env: env.into(),
            hidden: default_hidden(),
            activation: Activation::default(),
            episodes: default_episodes(),
            max_steps: None,
            param_bound: default_param_bound(),
            obs_norm: false,
            obs_mean: None,
            obs_std: None,
            obs_stat_prob: default_obs_stat_prob(),
            obs_clip: default_obs_clip(),
        }
    }

    /// Validates the configuration and builds the problem. Errors name the YAML field.
    pub fn build(&self) -> Result<GymPolicy, ConfigError> {
        let env = gym::make(&self.env).map_err(|_| {
            let hint = nearest_id(&self.env)
                .map(|id| format!(" (did you mean `{id}`?)"))
                .unwrap_or_default();
            ConfigError::new(
                "env",
                format!("unknown environment {:?}{hint}; known: {}", self.env, ENV_IDS.join(", ")),
            )
        })?;
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return Err(ConfigError::new(
                format!("hidden[{i}]"),
                "a hidden layer needs width >= 1",
            ));
        }
        if self.episodes == 0 {
            return Err(ConfigError::new("episodes", "needs at least 1 episode"));
        }
        let env = match self.max_steps {
            Some(0) => return Err(ConfigError::new("max_steps", "must be >= 1")),
            Some(n) => env.with_max_episode_steps(n),
            None => env,
        };
        if !(self.param_bound.is_finite() && self.param_bound > 0.0) {
            return Err(ConfigError::new(
                "param_bound",
                format!("must be finite and > 0, got {}", self.param_bound),
            ));
        }
        let obs_dim = env.obs_dim();
        let norm = self.normaliser(obs_dim)?;
        let n_out = match env.action_space() {
            ActionSpace::Discrete(n) => n,
            ActionSpace::Box { dim, .. } => dim,
        };
        let mut sizes = vec![obs_dim];
        sizes.extend(&self.hidden);
        sizes.push(n_out);
        let mlp = Mlp::uniform(&sizes, self.activation);
        let space = Space::real_box(mlp.n_params(), -self.param_bound, self.param_bound)
            .with_init_scale(mlp.init_scale());
        Ok(GymPolicy {
            env,
            mlp,
            space,
            episodes: self.episodes,
            norm,
            obs_stat_prob: self.obs_stat_prob,
            obs_clip: self.obs_clip,
        })
    }

    /// The normalisation mode, validated.
    fn normaliser(&self, obs_dim: usize) -> Result<Option<Norm>, ConfigError> {
        if !self.obs_norm {
            // Statistics given but unused would silently do nothing: say so instead.
            for (field, v) in [("obs_mean", &self.obs_mean), ("obs_std", &self.obs_std)] {
                if v.is_some() {
                    return Err(ConfigError::new(field, "given but obs_norm is false"));
                }
            }
            return Ok(None);
        }
        if !(self.obs_stat_prob > 0.0 && self.obs_stat_prob <= 1.0) {
            return Err(ConfigError::new(
                "obs_stat_prob",
                format!("must be in (0, 1], got {}", self.obs_stat_prob),
            ));
        }
        if self.obs_clip.is_nan() || self.obs_clip <= 0.0 {
            return Err(ConfigError::new(
                "obs_clip",
                format!("must be > 0 (inf: no clipping), got {}", self.obs_clip),
            ));
        }
        let get = |field: &str, v: &Option<Vec<f64>>| -> Result<Vec<f64>, ConfigError> {
            let v = v.as_ref().expect("checked by the caller");
            if v.len() != obs_dim {
                return Err(ConfigError::new(
                    field,
                    format!("{} has {obs_dim} observation components, got {}", self.env, v.len()),
                ));
            }
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(ConfigError::new(format!("{field}[{i}]"), "must be finite"));
            }
            Ok(v.clone())
        };
        match (&self.obs_mean, &self.obs_std) {
            (None, None) => Ok(Some(Norm::Running(RwLock::new(Arc::new(ObsNorm::from_state(
                &running_init(obs_dim),
            )))))),
            (Some(_), Some(_)) => {
                let mean = get("obs_mean", &self.obs_mean)?;
                let std = get("obs_std", &self.obs_std)?;
                if let Some(i) = std.iter().position(|&s| s < 0.0) {
                    return Err(ConfigError::new(format!("obs_std[{i}]"), "must be >= 0"));
                }
                let inv_std = std.iter().map(|&s| 1.0 / s.max(OBS_STD_MIN)).collect();
                Ok(Some(Norm::Fixed(Arc::new(ObsNorm { mean, inv_std }))))
            }
            (Some(_), None) => Err(ConfigError::new(
                "obs_std",
                "give both obs_mean and obs_std (fixed statistics) or neither (running statistics)",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "obs_mean",
                "give both obs_mean and obs_std (fixed statistics) or neither (running statistics)",
            )),
        }
    }
}

/// OpenAI-ES's `RunningStat(eps=1e-2)`: `[count, Σobs, Σobs²]` = `[1e-2, 0…, 1e-2…]`.
fn running_init(obs_dim: usize) -> Vec<f64> {
    let mut st = vec![0.0; 2 * obs_dim + 1];
    st[0] = RUNNING_EPS;
    st[1 + obs_dim..].fill(RUNNING_EPS);
    st
}

const RUNNING_EPS: f64 = 1e-2;

/// The known id closest to `id` (case-insensitive edit distance), if it is plausibly a typo.
fn nearest_id(id: &str) -> Option<&'static str> {
    let lower = id.to_lowercase();
    let (best, d) = ENV_IDS
        .iter()
        .map(|&k| (k, evoforge_core::names::levenshtein(&lower, &k.to_lowercase())))
        .min_by_key(|&(_, d)| d)?;
    // Beyond about a third of the name it is a different name, not a typo.
    (d <= 1 + best.len() / 3).then_some(best)
}

impl Describe for PolicyConfig {
    const KIND: &'static str = "gym_policy";
    const SUMMARY: &'static str = "MLP policy weights scored by mean episode return in a gymnasium classic-control env (maximize)";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::req(
                "env",
                "CartPole-v1 | Acrobot-v1 | MountainCar-v0 | MountainCarContinuous-v0 | Pendulum-v1",
                "gymnasium environment id",
            ),
            ParamDoc::opt("hidden", "[int]", "[16]", "hidden layer widths; [] = linear policy"),
            ParamDoc::opt("activation", "tanh | relu", "tanh", "activation of the hidden layers"),
            ParamDoc::opt("episodes", "int", 1, "episodes per evaluation; the value is the mean"),
            ParamDoc::opt("max_steps", "int", "null", "time limit (default: the env's own)"),
            ParamDoc::opt("param_bound", "float", 1.0, "search box [-b, b] for every weight"),
            ParamDoc::opt(
                "obs_norm",
                "bool",
                false,
                "normalise observations clip((obs - mean) / std); running statistics unless obs_mean/obs_std are given",
            ),
            ParamDoc::opt("obs_mean", "[float]", "null", "fixed observation mean, with obs_norm"),
            ParamDoc::opt("obs_std", "[float]", "null", "fixed observation std (floored at 0.1)"),
            ParamDoc::opt(
                "obs_stat_prob",
                "float",
                1.0,
                "running statistics: probability that an evaluation contributes",
            ),
            ParamDoc::opt(
                "obs_clip",
                "float",
                5.0,
                "normalised observations clipped to +-obs_clip",
            ),
        ]
    }
}

/// What one rollout produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rollout {
    /// Sum of rewards.
    pub ret: f64,
    /// Environment steps taken.
    pub steps: usize,
}

/// An MLP policy in a classic-control environment: [`PolicyConfig::build`] makes one.
#[derive(Debug)]
pub struct GymPolicy {
    /// Template environment (with its time limit), cloned for every episode.
    env: ClassicControl,
    mlp: Mlp,
    space: Space,
    episodes: usize,
    norm: Option<Norm>,
    obs_stat_prob: f64,
    obs_clip: f64,
}

/// How observations are normalised.
#[derive(Debug)]
enum Norm {
    /// Statistics from the configuration.
    Fixed(Arc<ObsNorm>),
    /// Statistics from the study's per-generation state: set between generations
    /// ([`Problem::set_state`]), read once per evaluation.
    Running(RwLock<Arc<ObsNorm>>),
}

impl Norm {
    fn current(&self) -> Arc<ObsNorm> {
        match self {
            Norm::Fixed(n) => n.clone(),
            // A poisoned lock only means a panic elsewhere while holding it; the value (an
            // Arc swap) is never left half-written.
            Norm::Running(l) => l.read().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

/// Observation statistics as the policy uses them.
#[derive(Debug, Clone, PartialEq)]
struct ObsNorm {
    mean: Vec<f64>,
    /// `1 / max(std, OBS_STD_MIN)`: multiplying by the reciprocal keeps the step loop free of
    /// divisions.
    inv_std: Vec<f64>,
}

impl ObsNorm {
    /// From a running state `[count, Σobs, Σobs²]`: `std = sqrt(max(Σobs²/count − mean², 1e-2))`.
    fn from_state(st: &[f64]) -> Self {
        let n = (st.len() - 1) / 2;
        let count = st[0];
        let mean: Vec<f64> = st[1..=n].iter().map(|s| s / count).collect();
        let inv_std = st[1 + n..]
            .iter()
            .zip(&mean)
            .map(|(sq, m)| 1.0 / (sq / count - m * m).max(OBS_STD_MIN * OBS_STD_MIN).sqrt())
            .collect();
        Self { mean, inv_std }
    }
}

/// Reusable buffers for one rollout, so a step allocates nothing.
struct Buffers {
    obs: Vec<f64>,
    input: Vec<f64>,
    scratch: Vec<f64>,
    out: Vec<f64>,
    action: Vec<f64>,
}

impl GymPolicy {
    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The environment's gymnasium id.
    pub fn env_id(&self) -> &'static str {
        self.env.id()
    }

    /// Number of parameters (the dimension of the search space).
    pub fn n_params(&self) -> usize {
        self.mlp.n_params()
    }

    /// Episodes per evaluation.
    pub fn episodes(&self) -> usize {
        self.episodes
    }

    /// Turns a network output into an action for this environment: the argmax for a discrete
    /// action space, each output squashed into `[low, high]` ([`squash`]) for a box, written to
    /// `buf` (which must have the box's dimension).
    pub fn act<'a>(&self, out: &[f64], buf: &'a mut [f64]) -> Action<'a> {
        match self.env.action_space() {
            ActionSpace::Discrete(_) => Action::Discrete(argmax(out)),
            ActionSpace::Box { low, high, .. } => {
                for (a, &y) in buf.iter_mut().zip(out) {
                    *a = squash(y, low, high);
                }
                Action::Continuous(buf)
            }
        }
    }

    fn buffers(&self) -> Buffers {
        let n = self.env.obs_dim();
        Buffers {
            obs: vec![0.0; n],
            input: vec![0.0; n],
            scratch: vec![0.0; self.mlp.scratch_len()],
            out: vec![0.0; self.mlp.n_out()],
            action: vec![0.0; self.mlp.n_out()],
        }
    }

    /// One episode with `params`, reset from the stream of `seed`, run until it terminates or
    /// reaches the time limit (observations normalised with the current statistics).
    pub fn rollout(&self, params: &[f64], seed: u64) -> Rollout {
        let norm = self.norm.as_ref().map(Norm::current);
        self.rollout_with(params, seed, norm.as_deref(), &mut self.buffers(), None)
    }

    /// `stats`, when given, accumulates `[count, Σobs, Σobs²]` of the raw observations the
    /// policy saw.
    fn rollout_with(
        &self,
        params: &[f64],
        seed: u64,
        norm: Option<&ObsNorm>,
        b: &mut Buffers,
        mut stats: Option<&mut [f64]>,
    ) -> Rollout {
        let mut env = self.env.clone();
        let first = env.reset(&mut stream(seed, &[]));
        b.obs.copy_from_slice(&first);
        let n = b.obs.len();
        let clip = self.obs_clip;
        let mut ret = 0.0;
        let mut steps = 0;
        loop {
            if let Some(st) = stats.as_deref_mut() {
                st[0] += 1.0;
                let (sum, sq) = st[1..].split_at_mut(n);
                for ((s, q), o) in sum.iter_mut().zip(sq.iter_mut()).zip(&b.obs) {
                    *s += o;
                    *q += o * o;
                }
            }
            match norm {
                Some(ObsNorm { mean, inv_std }) => {
                    for (((x, o), m), s) in b.input.iter_mut().zip(&b.obs).zip(mean).zip(inv_std) {
                        *x = ((o - m) * s).clamp(-clip, clip);
                    }
                }
                None => b.input.copy_from_slice(&b.obs),
            }
            self.mlp.forward(params, &b.input, &mut b.scratch, &mut b.out);
            let action = self.act(&b.out, &mut b.action);
            let t = env.step_into(&action, &mut b.obs);
            ret += t.reward;
            steps += 1;
            if t.terminated || t.truncated {
                return Rollout { ret, steps };
            }
        }
    }
}

impl Problem for GymPolicy {
    fn space(&self) -> &Space {
        &self.space
    }

    /// The mean return over the episodes (maximise it); `cost` is the total number of steps;
    /// `extras` is the behaviour characterisation novelty search uses: the final observation,
    /// averaged over the episodes (as the NS-ES reference averages its final-state BC over
    /// rollouts).
    /// Points outside the search box are evaluated as they are: the box guides strategies, the
    /// network is defined everywhere.
    fn evaluate(&self, x: &[f64], ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        if x.len() != self.n_params() {
            return Err(EvalError(format!(
                "gym_policy {}: expects {} parameters, got {}",
                self.env_id(),
                self.n_params(),
                x.len()
            )));
        }
        // A NaN weight would make every action argmax 0 or NaN torques: a meaningless return
        // that would rank as a real one, so fail it instead.
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(EvalError(format!("gym_policy: parameter {i} is {}", x[i])));
        }
        let mut b = self.buffers();
        let (mut total, mut steps) = (0.0, 0usize);
        let mut bc = vec![0.0; b.obs.len()];
        let norm = self.norm.as_ref().map(Norm::current);
        // The draw is keyed off the evaluation's seed (not a thread's generator), so whether
        // an evaluation contributes does not depend on where it ran.
        let mut stats = match &self.norm {
            Some(Norm::Running(_))
                if self.obs_stat_prob >= 1.0
                    || (derive(ctx.seed, &[OBS_STAT_DRAW]) >> 11) as f64
                        * (1.0 / (1u64 << 53) as f64)
                        < self.obs_stat_prob =>
            {
                Some(vec![0.0; 2 * b.obs.len() + 1])
            }
            _ => None,
        };
        for k in 0..self.episodes {
            let r = self.rollout_with(
                x,
                derive(ctx.seed, &[k as u64]),
                norm.as_deref(),
                &mut b,
                stats.as_deref_mut(),
            );
            total += r.ret;
            steps += r.steps;
            // After the rollout the buffer holds the episode's final observation.
            bc.iter_mut().zip(&b.obs).for_each(|(s, o)| *s += o);
        }
        let n = self.episodes as f64;
        bc.iter_mut().for_each(|v| *v /= n);
        Ok(Evaluation {
            values: vec![total / n],
            cost: steps as f64,
            extras: Some(bc),
            stats,
            ..Default::default()
        })
    }

    fn state_init(&self) -> Option<Vec<f64>> {
        match &self.norm {
            Some(Norm::Running(_)) => Some(running_init(self.env.obs_dim())),
            _ => None,
        }
    }

    fn set_state(&self, state: &[f64]) -> Result<(), EvalError> {
        let n = self.env.obs_dim();
        match &self.norm {
            Some(Norm::Running(l)) if state.len() == 2 * n + 1 && state[0] > 0.0 => {
                let next = Arc::new(ObsNorm::from_state(state));
                *l.write().unwrap_or_else(|e| e.into_inner()) = next;
                Ok(())
            }
            Some(Norm::Running(_)) => Err(EvalError(format!(
                "gym_policy: a state of {} values (count > 0) expected, got {}",
                2 * n + 1,
                state.len()
            ))),
            _ => Err(EvalError("gym_policy: no running observation statistics".into())),
        }
    }

    /// OpenAI-ES's `RunningStat.increment`, once per contributing evaluation.
    fn state_update(&self, state: &mut [f64], stats: &[&[f64]]) {
        for s in stats {
            if s.len() == state.len() {
                state.iter_mut().zip(s.iter()).for_each(|(a, b)| *a += b);
            }
        }
    }

    fn describe_state(&self, state: &[f64]) -> Vec<(String, Vec<f64>)> {
        let norm = ObsNorm::from_state(state);
        vec![
            ("obs_mean".into(), norm.mean),
            ("obs_std".into(), norm.inv_std.iter().map(|s| 1.0 / s).collect()),
            ("obs_count".into(), vec![state[0]]),
        ]
    }
}

/// Index of the `obs_stat_prob` draw among an evaluation's derived seeds (episodes use
/// `0..episodes`, so this sits far above any episode count).
const OBS_STAT_DRAW: u64 = u64::MAX;
