//! The ask-tell contract.
use std::collections::BTreeMap;

use serde::{Serialize, de::DeserializeOwned};

use crate::{ConfigError, Evaluated, Rng, Space, TellError};

/// One point to evaluate, as returned by `ask`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Candidate<G> {
    /// Unique, increasing id, assigned by the strategy from its state.
    pub id: u64,
    /// The genome: a vector, a noise index, a seed chain.
    pub genome: G,
}

/// Numbers a strategy reports after `tell` (σ, condition number, restarts...). Written to the
/// journal's tell line. Ordered so the journal is deterministic.
pub type Metrics = BTreeMap<String, f64>;

/// An optimizer behind the ask-tell contract.
///
/// `&self` holds validated, immutable configuration; everything that changes lives in
/// [`Strategy::State`]. Randomness comes only from the `rng` arguments, which the study derives
/// from (seed, purpose, generation), so `ask`/`tell` are pure functions of their inputs.
///
/// Fitness is minimised. Failed evaluations reach `tell` with [`Evaluated::fitness`] `= +inf`
/// and must never make a strategy panic.
pub trait Strategy: Send + Sync + Sized + 'static {
    /// The YAML `kind`.
    const NAME: &'static str;
    /// `true` when a genome is far smaller than the point it decodes to (noise indices, seed
    /// chains). The study then journals genomes instead of points, and hands genomes to the
    /// evaluator, which decodes them where the evaluation runs (a worker thread, a worker
    /// process, an MPI rank), so a million-parameter point never travels or hits the disk.
    const COMPACT: bool = false;
    /// Configuration as read from the study file.
    type Config: Clone + Serialize + DeserializeOwned;
    /// Everything that changes; a checkpoint is `serde(State)`.
    type State: Clone + Serialize + DeserializeOwned + Send;
    /// Per-candidate genome.
    type Genome: Clone + Serialize + DeserializeOwned + Send + Sync;
    /// Per-generation context the decoder needs (`()` when the genome is the vector itself).
    type Context: Clone + Serialize + DeserializeOwned + Send + Sync;

    /// Validates `config` against `space`.
    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError>;
    /// The initial state.
    fn init(&self, rng: &mut Rng) -> Self::State;
    /// The next batch of candidates (one generation for population methods).
    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>>;
    /// [`Strategy::ask`] into a caller's buffer, whose contents the candidates replace: the
    /// same candidates, bit for bit, from the same state and stream. A generation loop that
    /// keeps `out` and hands genomes back into it after `tell` lets a strategy overwrite them
    /// in place instead of allocating one per candidate, which matters when a generation is
    /// thousands of cheap evaluations (CBO's runs). The default calls `ask`.
    fn ask_into(&self, s: &mut Self::State, rng: &mut Rng, out: &mut Vec<Candidate<Self::Genome>>) {
        *out = self.ask(s, rng);
    }
    /// Takes the results of asked candidates (in any order). Deterministic in (state, results, rng).
    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        rng: &mut Rng,
    ) -> Result<Metrics, TellError>;
    /// Context for [`Strategy::decode`].
    fn context(&self, s: &Self::State) -> Self::Context;
    /// Genome → point in the problem's continuous encoding. `out.len()` is the space dimension.
    fn decode(&self, ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]);
    /// Best genome and fitness seen so far (the strategy's own view).
    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)>;
    /// The point the strategy recommends now, when it has its own view of one: the validated
    /// elite (Deep GA), the centre θ (OpenAI-ES, SNES, PGPE). On noisy objectives this is the
    /// answer to use, not the luckiest single evaluation. `None` by default.
    fn recommend(&self, _s: &Self::State) -> Option<Vec<f64>> {
        None
    }
    /// Counters the strategy reports in the study's summary (EvoLLM: model queries, tokens,
    /// fallbacks). Empty by default.
    fn report(&self, _s: &Self::State) -> Metrics {
        Metrics::new()
    }
    /// `Some(reason)` when the strategy has nothing more to do (converged and no restarts left).
    fn stop(&self, _s: &Self::State) -> Option<String> {
        None
    }
    /// The key from which candidate `id`'s evaluation seed is derived (`derive(seed, [Eval,
    /// key])`): its own id by default. Candidates sharing a key are evaluated with the same
    /// seed, i.e. on the same episodes: common random numbers, which take the episode noise out
    /// of the difference of a mirrored pair `θ ± σε`.
    fn eval_key(&self, _s: &Self::State, id: u64) -> u64 {
        id
    }
}
