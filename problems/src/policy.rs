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
//! With `obs_norm: true`, each observation becomes `(obs − mean) / max(std, 0.1)` before the
//! network sees it. The floor 0.1 is OpenAI-ES's (`std = sqrt(max(var, 1e-2))` in
//! openai/evolution-strategies-starter): it stops a near-constant observation component from
//! being blown up. In this first version the statistics are **fixed** and given in the
//! configuration (`obs_mean`, `obs_std`), which is what OpenAI-ES does within one generation.
//! TODO: running statistics updated between generations (OpenAI-ES accumulates obs sums from a
//! random 1 % of rollouts) need the study layer to carry them from one generation to the next;
//! until then, compute them offline and put them in the study file.

use evoforge_core::rng::{derive, stream};
use evoforge_core::{
    ConfigError, Describe, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};

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
        Ok(GymPolicy { env, mlp, space, episodes: self.episodes, norm })
    }

    /// `(mean, 1 / max(std, OBS_STD_MIN))` when normalisation is on.
    fn normaliser(&self, obs_dim: usize) -> Result<Option<ObsNorm>, ConfigError> {
        if !self.obs_norm {
            // Statistics given but unused would silently do nothing: say so instead.
            for (field, v) in [("obs_mean", &self.obs_mean), ("obs_std", &self.obs_std)] {
                if v.is_some() {
                    return Err(ConfigError::new(field, "given but obs_norm is false"));
                }
            }
            return Ok(None);
        }
        let get = |field: &str, v: &Option<Vec<f64>>| -> Result<Vec<f64>, ConfigError> {
            let v = v.as_ref().ok_or_else(|| {
                ConfigError::new(
                    field,
                    "required with obs_norm: true (running statistics are not implemented yet)",
                )
            })?;
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
        let mean = get("obs_mean", &self.obs_mean)?;
        let std = get("obs_std", &self.obs_std)?;
        if let Some(i) = std.iter().position(|&s| s < 0.0) {
            return Err(ConfigError::new(format!("obs_std[{i}]"), "must be >= 0"));
        }
        let inv_std = std.iter().map(|&s| 1.0 / s.max(OBS_STD_MIN)).collect();
        Ok(Some(ObsNorm { mean, inv_std }))
    }
}

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
            ParamDoc::opt("obs_norm", "bool", false, "normalise observations (obs - mean) / std"),
            ParamDoc::opt("obs_mean", "[float]", "null", "observation mean, with obs_norm"),
            ParamDoc::opt("obs_std", "[float]", "null", "observation std (floored at 0.1)"),
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
#[derive(Debug, Clone, PartialEq)]
pub struct GymPolicy {
    /// Template environment (with its time limit), cloned for every episode.
    env: ClassicControl,
    mlp: Mlp,
    space: Space,
    episodes: usize,
    norm: Option<ObsNorm>,
}

/// Fixed observation statistics.
#[derive(Debug, Clone, PartialEq)]
struct ObsNorm {
    mean: Vec<f64>,
    /// `1 / max(std, OBS_STD_MIN)`: multiplying by the reciprocal keeps the step loop free of
    /// divisions.
    inv_std: Vec<f64>,
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
    /// reaches the time limit.
    pub fn rollout(&self, params: &[f64], seed: u64) -> Rollout {
        self.rollout_with(params, seed, &mut self.buffers())
    }

    fn rollout_with(&self, params: &[f64], seed: u64, b: &mut Buffers) -> Rollout {
        let mut env = self.env.clone();
        let first = env.reset(&mut stream(seed, &[]));
        b.obs.copy_from_slice(&first);
        let mut ret = 0.0;
        let mut steps = 0;
        loop {
            match &self.norm {
                Some(ObsNorm { mean, inv_std }) => {
                    for (((x, o), m), s) in b.input.iter_mut().zip(&b.obs).zip(mean).zip(inv_std) {
                        *x = (o - m) * s;
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
        for k in 0..self.episodes {
            let r = self.rollout_with(x, derive(ctx.seed, &[k as u64]), &mut b);
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
            ..Default::default()
        })
    }
}
