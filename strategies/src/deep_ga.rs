//! The Deep GA of Such, Madhavan, Conti, Lehman, Stanley & Clune (2017), "Deep
//! Neuroevolution: Genetic Algorithms Are a Competitive Alternative for Training Deep Neural
//! Networks for Reinforcement Learning", arXiv 1712.06567, as its GPU implementation
//! (`uber-research/deep-neuroevolution`, `gpu_implementation/ga.py`) runs it, with seed-chain
//! genomes over the shared [`NoiseTable`]; and its novelty-search variant GA-NS (Lehman &
//! Stanley 2011, "Abandoning Objectives: Evolution through the Search for Novelty Alone").
//!
//! # Genomes are seed chains
//!
//! A member is a [`SeedChain`]: an init index `i₀` and one `(iₖ, σₖ)` per generation of ancestry.
//! Its parameters are, with `ε` the noise table and `c`, `s` the centre and init scale per
//! coordinate,
//!
//! ```text
//! θ₀ = c + s ⊙ ε[i₀ .. i₀ + d]
//! θₖ = θₖ₋₁ + σₖ · ε[iₖ .. iₖ + d]         (k = 1 .. G, in this order)
//! ```
//!
//! `c` is 0 where 0 is in the bounds (else the box centre); `s` is `init_scale` when given,
//! else the space's own init scale (`gym_policy`: the reference's fan-in scale, `std/√fan_in`,
//! 1.0 on hidden layers, 0.1 on the output, biases 0), else a quarter of the box width.
//!
//! Decoding keeps a cache of rebuilt θ keyed by chain (least recently used out, `cache_size`
//! entries, default `2·T + 2`: this generation's parents and the previous ones). A child
//! is one fused pass `θ = θ_parent + σ·ε` over its cached parent; a chain whose parent is not
//! cached is rebuilt from its longest cached prefix. Every path performs the same rounded
//! operations in the same order, so a rebuilt θ equals the incrementally mutated θ bit for bit
//! (tested), on any thread, in any process that holds the same table.
//!
//! # One generation (the GPU code's `main()`)
//!
//! 1. **Offspring**: `N = popsize` children; in the first generation (or with `truncation: 0`,
//!    the paper's random-search baseline) fresh random inits, else each child picks a parent
//!    uniformly among the `T = truncation` parents and appends `(i, σ_g)` with `i` a uniform
//!    table index; `σ_g = max(sigma · sigma_decay^g, sigma_min)`. Each child is evaluated once.
//! 2. **Elite selection** (`validation_size > 0`): the best `validation_size` children — with
//!    the previous elite in place of the last of them — are each evaluated `validation_evals`
//!    more times (fresh evaluation seeds, so fresh episodes); the one with the best mean is the
//!    elite (the previous elite wins ties). This is a second `ask`/`tell` round: a Deep GA
//!    generation with validation is two generations of the study.
//!    Without validation (deterministic problems), the elite is the better of the previous
//!    elite and the best child, by their recorded fitness.
//! 3. **Parents**: the best `T` children, or, when the elite is not among them, the elite and
//!    the best `T − 1`. The elite is not re-inserted as an extra child (as in the GPU code).
//!
//! `best()` is the elite with the best validation mean over all generations (the reference's
//! `curr_solution_val`); before the first validation, and without validation, the best fitness
//! seen.
//!
//! # GA-NS
//!
//! With `novelty`, children are ranked by the novelty of their behaviour characterisation
//! (the problem's `Evaluation::extras`, e.g. a robot's final position): the mean Euclidean
//! distance to the `k` nearest among the archive and the other children. Each child enters the
//! archive with probability `archive_probability` (the `tell` stream). `reward_weight = w > 0`
//! mixes in the objective: the score is `(1 − w)·r_novelty + w·r_fitness` of the centered ranks
//! (NSR-style). Parents are then the top `T` by that score; the elite (reported solution) is
//! still chosen by the objective, and validation is not used (GA-NS is for deterministic
//! problems). A child without behaviour (failed) has novelty 0.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, NoiseTable, ParamDoc, Rng, Space,
    Strategy, TellError,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::openai_es::centered_ranks;
use crate::util::{Batch, nf, numbered, positive, record_behaviours};

/// A seed-chain genome: an init index and one `(index, σ)` mutation per generation.
///
/// Serialised compactly as `{"init": i₀, "idx": [i₁, …], "sigma": [[n, σ], …]}`: the mutation
/// powers run-length encoded (a constant σ is one pair), so a 100-generation chain is about
/// 1 kB of JSON whatever the network's size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "ChainWire", try_from = "ChainWire")]
pub struct SeedChain {
    /// Table index of the initial parameters.
    pub init: u64,
    /// `(index, σ bits)` per mutation, oldest first. σ is stored as `f64::to_bits` so the chain
    /// can be hashed; use [`SeedChain::mutations`] to read it.
    steps: Vec<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainWire {
    init: u64,
    #[serde(default)]
    idx: Vec<u64>,
    #[serde(default)]
    sigma: Vec<(u64, f64)>,
}

impl From<SeedChain> for ChainWire {
    fn from(c: SeedChain) -> Self {
        let mut sigma: Vec<(u64, f64)> = Vec::new();
        for &(_, s) in &c.steps {
            let s = f64::from_bits(s);
            match sigma.last_mut() {
                Some((n, last)) if last.to_bits() == s.to_bits() => *n += 1,
                _ => sigma.push((1, s)),
            }
        }
        ChainWire { init: c.init, idx: c.steps.iter().map(|s| s.0).collect(), sigma }
    }
}

impl TryFrom<ChainWire> for SeedChain {
    type Error = String;
    fn try_from(w: ChainWire) -> Result<Self, String> {
        let mut powers = Vec::with_capacity(w.idx.len());
        for (n, s) in w.sigma {
            if !s.is_finite() {
                return Err(format!("non-finite mutation power {s}"));
            }
            powers.extend(std::iter::repeat_n(s.to_bits(), n as usize));
        }
        if powers.len() != w.idx.len() {
            return Err(format!(
                "{} mutation indices but {} mutation powers",
                w.idx.len(),
                powers.len()
            ));
        }
        Ok(SeedChain { init: w.init, steps: w.idx.into_iter().zip(powers).collect() })
    }
}

impl SeedChain {
    /// A chain of one random init.
    pub fn new(init: u64) -> Self {
        Self { init, steps: Vec::new() }
    }

    /// This chain with one more mutation `(index, sigma)`.
    pub fn child(&self, index: u64, sigma: f64) -> Self {
        let mut steps = Vec::with_capacity(self.steps.len() + 1);
        steps.extend_from_slice(&self.steps);
        steps.push((index, sigma.to_bits()));
        Self { init: self.init, steps }
    }

    /// The mutations `(index, σ)`, oldest first.
    pub fn mutations(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.steps.iter().map(|&(i, s)| (i, f64::from_bits(s)))
    }

    /// Number of mutations (generations of ancestry).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the chain is a bare init.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The first `n` mutations of this chain (an ancestor).
    pub fn prefix(&self, n: usize) -> Self {
        Self { init: self.init, steps: self.steps[..n].to_vec() }
    }
}

/// How the initial parameters are laid out: `θ₀ = centre + scale ⊙ ε[i₀ ..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct InitLayout {
    /// Per-coordinate centre.
    pub centre: Vec<f64>,
    /// Per-coordinate scale.
    pub scale: Vec<f64>,
}

impl InitLayout {
    /// Writes `θ₀` of init index `init` into `out`.
    pub fn init(&self, table: &NoiseTable, init: u64, out: &mut [f64]) {
        let eps = table.slice(init as usize, out.len());
        for (((o, &c), &s), &e) in out.iter_mut().zip(&self.centre).zip(&self.scale).zip(eps) {
            *o = c + s * f64::from(e);
        }
    }

    /// θ of `chain`, from scratch: the init, then every mutation in order.
    pub fn rebuild(&self, table: &NoiseTable, chain: &SeedChain, out: &mut [f64]) {
        self.init(table, chain.init, out);
        for (i, s) in chain.mutations() {
            table.axpy(out, s, i as usize);
        }
    }
}

/// `out = parent + σ·ε[idx ..]` in one pass: the same rounded multiply and add as
/// [`NoiseTable::axpy`] on a copy of `parent`, so the bits are those of the incremental update.
pub fn mutate_into(table: &NoiseTable, parent: &[f64], sigma: f64, idx: u64, out: &mut [f64]) {
    let eps = table.slice(idx as usize, out.len());
    for ((o, &p), &e) in out.iter_mut().zip(parent).zip(eps) {
        *o = p + sigma * f64::from(e);
    }
}

type Cell = Arc<OnceLock<Arc<Vec<f64>>>>;

/// Rebuilt θ by chain, least recently used evicted. Shared by every thread that decodes.
#[derive(Debug)]
struct ThetaCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    tick: u64,
    map: HashMap<SeedChain, (Cell, u64)>,
}

impl ThetaCache {
    fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::new(CacheInner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is
        // a single insert/remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached cell of `chain`, if any (marks it used).
    fn lookup(&self, chain: &SeedChain) -> Option<Arc<Vec<f64>>> {
        let mut g = self.lock();
        g.tick += 1;
        let t = g.tick;
        let (cell, used) = g.map.get_mut(chain)?;
        *used = t;
        cell.get().cloned()
    }

    /// The cell of `chain`, inserted (and the least recently used evicted) when absent.
    fn cell(&self, chain: &SeedChain) -> Cell {
        let mut g = self.lock();
        g.tick += 1;
        let t = g.tick;
        if let Some((cell, used)) = g.map.get_mut(chain) {
            *used = t;
            return cell.clone();
        }
        while g.map.len() >= self.capacity.max(1) {
            let oldest = g.map.iter().min_by_key(|(_, (_, u))| *u).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => g.map.remove(&k),
                None => break,
            };
        }
        let cell: Cell = Arc::default();
        g.map.insert(chain.clone(), (cell.clone(), t));
        cell
    }

    fn clear(&self) {
        self.lock().map.clear();
    }
}

/// Novelty search settings (GA-NS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoveltyConfig {
    /// Nearest neighbours averaged.
    pub k: usize,
    /// Probability that a child's behaviour enters the archive.
    pub archive_probability: f64,
    /// Weight of the objective's rank in the selection score (0: pure novelty).
    pub reward_weight: f64,
}

impl Default for NoveltyConfig {
    fn default() -> Self {
        Self { k: 10, archive_probability: 0.01, reward_weight: 0.0 }
    }
}

/// Configuration of [`DeepGa`] (YAML `kind: deep_ga`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeepGaConfig {
    /// Children per generation `N`.
    pub popsize: usize,
    /// Parents kept `T` (0: every child is a fresh random init — random search).
    pub truncation: usize,
    /// Mutation power σ.
    pub sigma: f64,
    /// Multiplicative σ decay per generation.
    pub sigma_decay: f64,
    /// Lower limit of σ under decay.
    pub sigma_min: f64,
    /// Children re-evaluated to choose the elite (0: no validation round).
    pub validation_size: usize,
    /// Extra evaluations of each of them.
    pub validation_evals: usize,
    /// Init scale for every coordinate; `None`: the space's own, else a quarter of the box.
    pub init_scale: Option<f64>,
    /// Entries of the θ cache; `None`: `2·truncation + 2`.
    pub cache_size: Option<usize>,
    /// GA-NS: rank children by novelty of their behaviour.
    pub novelty: Option<NoveltyConfig>,
    /// Seed of the noise table.
    pub noise_seed: u64,
    /// Values in the noise table (f32 each); must exceed the dimension.
    pub noise_len: usize,
}

impl Default for DeepGaConfig {
    fn default() -> Self {
        Self {
            popsize: 1000,
            truncation: 20,
            sigma: 0.002,
            sigma_decay: 1.0,
            sigma_min: 0.0,
            validation_size: 10,
            validation_evals: 30,
            init_scale: None,
            cache_size: None,
            novelty: None,
            noise_seed: 0,
            noise_len: 1 << 25,
        }
    }
}

impl Describe for DeepGaConfig {
    const KIND: &'static str = DeepGa::NAME;
    const SUMMARY: &'static str = "Deep GA (Such et al. 2017): truncation selection, seed-chain genomes, validated elite; GA-NS";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("popsize", "int", "1000", "children per generation N"),
            ParamDoc::opt("truncation", "int", "20", "parents T (0: random search)"),
            ParamDoc::opt("sigma", "float", "0.002", "mutation power"),
            ParamDoc::opt("sigma_decay", "float", "1.0", "sigma multiplier per generation"),
            ParamDoc::opt("sigma_min", "float", "0.0", "lower limit of sigma under decay"),
            ParamDoc::opt("validation_size", "int", "10", "children re-evaluated for the elite"),
            ParamDoc::opt("validation_evals", "int", "30", "extra evaluations of each"),
            ParamDoc::opt("init_scale", "float", "null", "init std; null: the problem's"),
            ParamDoc::opt("cache_size", "int", "null", "cached parent θ; null: 2T + 2"),
            ParamDoc::opt(
                "novelty",
                "{k, archive_probability, reward_weight}",
                "null",
                "GA-NS: select by novelty of the problem's behaviour (extras)",
            ),
            ParamDoc::opt("noise_seed", "int", "0", "seed of the shared noise table"),
            ParamDoc::opt("noise_len", "int", "33554432", "noise table length (f32 values)"),
        ]
    }
}

/// Per-generation context: nothing (a seed chain decodes by itself).
pub type DeepGaContext = ();

/// The Deep GA over the continuous encoding of the space.
#[derive(Debug, Clone)]
pub struct DeepGa {
    config: DeepGaConfig,
    d: usize,
    table: NoiseTable,
    layout: InitLayout,
    cache: Arc<ThetaCache>,
}

/// A scored member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scored {
    chain: SeedChain,
    #[serde(with = "nf")]
    fitness: f64,
}

/// What the pending `ask` was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Phase {
    /// Children of the current generation.
    Offspring,
    /// Re-evaluation of `members`, each `validation_evals` times (member-major).
    Validation { members: Vec<SeedChain> },
}

/// State of [`DeepGa`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeepGaState {
    next_id: u64,
    /// Deep GA generations completed (offspring rounds).
    generation: u64,
    parents: Vec<SeedChain>,
    elite: Option<Scored>,
    best: Option<Scored>,
    /// Best single evaluation of a child, reported until a validated elite exists.
    best_child: Option<Scored>,
    phase: Phase,
    batch: Batch,
    /// Genomes of the pending batch, by slot.
    pending: Vec<SeedChain>,
    /// Children of the generation, sorted best first (kept between offspring and validation).
    ranked: Vec<Scored>,
    /// Behaviours of the pending batch (GA-NS).
    behaviours: Vec<Option<Vec<f64>>>,
    /// Novelty archive (GA-NS).
    archive: Vec<Vec<f64>>,
}

impl DeepGaState {
    /// Deep GA generations completed.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// The current parents.
    pub fn parents(&self) -> &[SeedChain] {
        &self.parents
    }
    /// The current elite and its score.
    pub fn elite(&self) -> Option<(&SeedChain, f64)> {
        self.elite.as_ref().map(|e| (&e.chain, e.fitness))
    }
    /// Behaviours in the novelty archive.
    pub fn archive(&self) -> &[Vec<f64>] {
        &self.archive
    }
}

/// Mean distance from `b` to its `k` nearest points among `others` (`k` capped at their
/// number; 0 when there are none).
pub fn knn_novelty(b: &[f64], others: &[&[f64]], k: usize) -> f64 {
    let mut d: Vec<f64> = others
        .iter()
        .map(|o| o.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum::<f64>().sqrt())
        .collect();
    let k = k.min(d.len());
    if k == 0 {
        return 0.0;
    }
    d.select_nth_unstable_by(k - 1, f64::total_cmp);
    d[..k].iter().sum::<f64>() / k as f64
}

impl DeepGa {
    /// The noise table the chains index.
    pub fn table(&self) -> &NoiseTable {
        &self.table
    }

    /// The init layout (centre and scale).
    pub fn layout(&self) -> &InitLayout {
        &self.layout
    }

    /// θ of `chain` from the cache, building and caching it when absent.
    pub fn theta(&self, chain: &SeedChain) -> Arc<Vec<f64>> {
        let cell = self.cache.cell(chain);
        cell.get_or_init(|| {
            let mut out = vec![0.0; self.d];
            self.build(chain, &mut out);
            Arc::new(out)
        })
        .clone()
    }

    /// Writes θ of `chain` into `out` from the longest cached ancestor (caching nothing).
    fn build(&self, chain: &SeedChain, out: &mut [f64]) {
        let n = chain.len();
        if n == 0 {
            self.layout.init(&self.table, chain.init, out);
            return;
        }
        // The parent is normally cached (it is one of this generation's parents).
        let parent = chain.prefix(n - 1);
        let (start, base) = match self.cache.lookup(&parent) {
            Some(p) => (n - 1, Some(p)),
            None => (0..n - 1)
                .rev()
                .find_map(|m| self.cache.lookup(&chain.prefix(m)).map(|p| (m, Some(p))))
                .unwrap_or((0, None)),
        };
        match base {
            Some(p) => out.copy_from_slice(&p),
            None => self.layout.init(&self.table, chain.init, out),
        }
        for (i, s) in chain.mutations().skip(start) {
            self.table.axpy(out, s, i as usize);
        }
    }

    /// Empties the θ cache (for measurements).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    fn sigma_at(&self, generation: u64) -> f64 {
        let c = &self.config;
        (c.sigma * c.sigma_decay.powf(generation as f64)).max(c.sigma_min)
    }

    fn validating(&self) -> bool {
        self.config.novelty.is_none()
            && self.config.validation_size > 0
            && self.config.validation_evals > 0
    }

    fn improve_best(s: &mut DeepGaState, cand: &Scored) {
        // A failed member (+inf) is never the best.
        if cand.fitness.is_finite() && s.best.as_ref().is_none_or(|b| cand.fitness < b.fitness) {
            s.best = Some(cand.clone());
        }
    }

    /// Ranks the children (best first) by fitness, or by the GA-NS score.
    fn rank_children(&self, s: &mut DeepGaState, f: &[f64], rng: &mut Rng) -> Vec<usize> {
        let n = f.len();
        let by_fitness = |a: &usize, b: &usize| f[*a].total_cmp(&f[*b]).then(a.cmp(b));
        let Some(nv) = &self.config.novelty else {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(by_fitness);
            return order;
        };
        let novelty: Vec<f64> = (0..n)
            .map(|i| {
                let Some(b) = s.behaviours[i].as_deref() else { return 0.0 };
                let others: Vec<&[f64]> = s
                    .archive
                    .iter()
                    .map(Vec::as_slice)
                    .chain(
                        (0..n)
                            .filter(|&j| j != i)
                            .filter_map(|j| s.behaviours[j].as_deref())
                            .filter(|o| o.len() == b.len()),
                    )
                    .filter(|o| o.len() == b.len())
                    .collect();
                knn_novelty(b, &others, nv.k)
            })
            .collect();
        // Lower score = better, as fitness: novelty enters negated.
        let neg: Vec<f64> = novelty.iter().map(|v| -v).collect();
        let score: Vec<f64> = if nv.reward_weight > 0.0 {
            let (rn, rf) = (centered_ranks(&neg), centered_ranks(f));
            rn.iter()
                .zip(&rf)
                .map(|(a, b)| (1.0 - nv.reward_weight) * a + nv.reward_weight * b)
                .collect()
        } else {
            neg
        };
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| score[*a].total_cmp(&score[*b]).then(a.cmp(b)));
        for b in s.behaviours.iter().flatten() {
            if rng.random::<f64>() < nv.archive_probability {
                s.archive.push(b.clone());
            }
        }
        order
    }

    fn set_parents(&self, s: &mut DeepGaState) {
        let t = self.config.truncation;
        let mut parents: Vec<SeedChain> =
            s.ranked.iter().take(t).map(|m| m.chain.clone()).collect();
        if self.config.novelty.is_none()
            && let Some(e) = &s.elite
            && t > 0
            && !parents.contains(&e.chain)
        {
            parents.pop();
            parents.insert(0, e.chain.clone());
        }
        s.parents = parents;
        s.generation += 1;
    }

    fn end_offspring(&self, s: &mut DeepGaState, rng: &mut Rng, m: &mut Metrics) {
        let f = s.batch.values();
        let order = self.rank_children(s, &f, rng);
        s.ranked =
            order.iter().map(|&i| Scored { chain: s.pending[i].clone(), fitness: f[i] }).collect();
        let finite: Vec<f64> = f.iter().copied().filter(|v| v.is_finite()).collect();
        if !finite.is_empty() {
            m.insert("mean_fitness".into(), finite.iter().sum::<f64>() / finite.len() as f64);
        }
        m.insert("sigma".into(), self.sigma_at(s.generation));
        let best_child = (0..f.len())
            .min_by(|a, b| f[*a].total_cmp(&f[*b]).then(a.cmp(b)))
            .map(|i| Scored { chain: s.pending[i].clone(), fitness: f[i] });
        if let Some(c) = &best_child {
            m.insert("best_child".into(), c.fitness);
            if c.fitness.is_finite() && s.best_child.as_ref().is_none_or(|b| c.fitness < b.fitness)
            {
                s.best_child = Some(c.clone());
            }
        }
        if self.config.novelty.is_some() {
            m.insert("archive".into(), s.archive.len() as f64);
        }
        if self.validating() {
            let mut members: Vec<SeedChain> = s
                .ranked
                .iter()
                .take(self.config.validation_size)
                .map(|m| m.chain.clone())
                .collect();
            if let Some(e) = &s.elite {
                if members.len() == self.config.validation_size {
                    members.pop();
                }
                members.insert(0, e.chain.clone());
            }
            s.phase = Phase::Validation { members };
            return;
        }
        // No validation: the better of the previous elite and the best child (by objective).
        if let Some(c) = best_child
            && s.elite.as_ref().is_none_or(|e| c.fitness < e.fitness)
        {
            s.elite = Some(c);
        }
        if let Some(e) = s.elite.clone() {
            Self::improve_best(s, &e);
        }
        self.set_parents(s);
    }

    fn end_validation(&self, s: &mut DeepGaState, members: &[SeedChain], m: &mut Metrics) {
        let f = s.batch.values();
        let k = self.config.validation_evals;
        let means: Vec<f64> = f.chunks(k).map(|c| c.iter().sum::<f64>() / k as f64).collect();
        // First minimum: the previous elite (slot 0) wins ties, as argmax in the reference.
        let mut best = 0;
        for (i, v) in means.iter().enumerate() {
            if v.total_cmp(&means[best]).is_lt() {
                best = i;
            }
        }
        let elite = Scored { chain: members[best].clone(), fitness: means[best] };
        m.insert("elite_validation".into(), elite.fitness);
        Self::improve_best(s, &elite);
        s.elite = Some(elite);
        s.phase = Phase::Offspring;
        self.set_parents(s);
    }
}

impl Strategy for DeepGa {
    const NAME: &'static str = "deep_ga";
    const COMPACT: bool = true;
    type Config = DeepGaConfig;
    type State = DeepGaState;
    type Genome = SeedChain;
    type Context = DeepGaContext;

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let c = &config;
        if c.popsize == 0 {
            return Err(ConfigError::new("popsize", "must be at least 1"));
        }
        if c.truncation > c.popsize {
            return Err(ConfigError::new(
                "truncation",
                format!("must be at most popsize {}, got {}", c.popsize, c.truncation),
            ));
        }
        if c.validation_size > c.popsize {
            return Err(ConfigError::new(
                "validation_size",
                format!("must be at most popsize {}, got {}", c.popsize, c.validation_size),
            ));
        }
        positive("sigma", c.sigma)?;
        positive("sigma_decay", c.sigma_decay)?;
        if !(c.sigma_min.is_finite() && c.sigma_min >= 0.0) {
            return Err(ConfigError::new("sigma_min", "must be finite and non-negative"));
        }
        if let Some(v) = c.init_scale {
            positive("init_scale", v)?;
        }
        if c.cache_size == Some(0) {
            return Err(ConfigError::new("cache_size", "must be at least 1"));
        }
        if let Some(nv) = &c.novelty {
            if nv.k == 0 {
                return Err(ConfigError::new("novelty.k", "must be at least 1"));
            }
            if !(0.0..=1.0).contains(&nv.archive_probability) {
                return Err(ConfigError::new("novelty.archive_probability", "must be in [0, 1]"));
            }
            if !(0.0..1.0).contains(&nv.reward_weight) {
                return Err(ConfigError::new("novelty.reward_weight", "must be in [0, 1)"));
            }
        }
        let d = space.dim();
        if c.noise_len <= d {
            return Err(ConfigError::new(
                "noise_len",
                format!("must exceed the dimension {d}, got {}", c.noise_len),
            ));
        }
        let dims = space.dims();
        let centre = dims
            .iter()
            .map(|dm| if dm.lo <= 0.0 && 0.0 <= dm.hi { 0.0 } else { 0.5 * (dm.lo + dm.hi) })
            .collect();
        let scale = match (c.init_scale, space.init_scale()) {
            (Some(v), _) => vec![v; d],
            (None, Some(s)) => s.to_vec(),
            (None, None) => dims.iter().map(|dm| 0.25 * (dm.hi - dm.lo)).collect(),
        };
        let table = NoiseTable::new(c.noise_seed, c.noise_len);
        let cache = Arc::new(ThetaCache::new(c.cache_size.unwrap_or(2 * c.truncation + 2)));
        Ok(Self { config, d, table, layout: InitLayout { centre, scale }, cache })
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        DeepGaState {
            next_id: 0,
            generation: 0,
            parents: Vec::new(),
            elite: None,
            best: None,
            best_child: None,
            phase: Phase::Offspring,
            batch: Batch::default(),
            pending: Vec::new(),
            ranked: Vec::new(),
            behaviours: Vec::new(),
            archive: Vec::new(),
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        s.pending = match &s.phase {
            Phase::Offspring => {
                let sigma = self.sigma_at(s.generation);
                (0..self.config.popsize)
                    .map(|_| {
                        if s.parents.is_empty() {
                            SeedChain::new(self.table.sample_index(rng, self.d) as u64)
                        } else {
                            let p = rng.random_range(0..s.parents.len());
                            let idx = self.table.sample_index(rng, self.d) as u64;
                            s.parents[p].child(idx, sigma)
                        }
                    })
                    .collect()
            }
            Phase::Validation { members } => members
                .iter()
                .flat_map(|m| std::iter::repeat_n(m.clone(), self.config.validation_evals))
                .collect(),
        };
        let n = s.pending.len();
        s.batch = Batch::new(s.next_id, n);
        s.behaviours = vec![None; n];
        let out = numbered(s.next_id, &s.pending);
        s.next_id += n as u64;
        out
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        s.batch.accept(results)?;
        let failures = results.iter().filter(|r| r.failed()).count() as f64;
        record_behaviours(s.batch.first_id, &mut s.behaviours, results);
        let mut m = Metrics::new();
        if s.batch.complete() {
            match s.phase.clone() {
                Phase::Offspring => self.end_offspring(s, rng, &mut m),
                Phase::Validation { members } => self.end_validation(s, &members, &mut m),
            }
        }
        m.insert("failures".into(), failures);
        if let Some(b) = &s.best {
            m.insert("best_fitness".into(), b.fitness);
        }
        Ok(m)
    }

    fn context(&self, _s: &Self::State) -> Self::Context {}

    fn decode(&self, _ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        match g.len() {
            0 => self.layout.init(&self.table, g.init, out),
            n => {
                let parent = self.theta(&g.prefix(n - 1));
                let (i, s) = g.mutations().last().expect("n > 0");
                mutate_into(&self.table, &parent, s, i, out);
            }
        }
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        let (chain, _) = self.best(s)?;
        let mut x = vec![0.0; self.d];
        self.layout.rebuild(&self.table, &chain, &mut x);
        Some(x)
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.as_ref().or(s.best_child.as_ref()).map(|b| (b.chain.clone(), b.fitness))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, sphere};

    fn small(cfg: DeepGaConfig) -> DeepGaConfig {
        DeepGaConfig { noise_len: 1 << 16, ..cfg }
    }

    #[test]
    fn chains_serialise_compactly_and_round_trip() {
        let c = SeedChain::new(5).child(10, 0.002).child(11, 0.002).child(12, 0.001);
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(j, r#"{"init":5,"idx":[10,11,12],"sigma":[[2,0.002],[1,0.001]]}"#);
        assert_eq!(serde_json::from_str::<SeedChain>(&j).unwrap(), c);
        let bad = r#"{"init":5,"idx":[10,11],"sigma":[[1,0.002]]}"#;
        assert!(serde_json::from_str::<SeedChain>(bad).is_err());
    }

    #[test]
    fn a_4m_parameter_network_after_100_generations_is_10000_times_smaller() {
        // Such et al.'s claim: up to 10,000-fold compression. Dense size: 4M f32 parameters.
        let d = 4_000_000usize;
        let len = (1usize << 28) as u64; // a 1 GiB table, as the reference's 250M floats
        let mut rng = evoforge_core::stream(3, &[]);
        let mut c = SeedChain::new(rng.random_range(0..len - d as u64));
        for _ in 0..100 {
            c = c.child(rng.random_range(0..len - d as u64), 0.002);
        }
        let bytes = serde_json::to_vec(&c).unwrap().len();
        let dense = d * 4;
        assert!(bytes * 10_000 <= dense, "{bytes} bytes vs dense {dense}");
    }

    #[test]
    fn rebuilt_theta_equals_the_incremental_one_bit_for_bit() {
        let space = Space::real_box(257, -3.0, 3.0);
        let cfg = DeepGaConfig { truncation: 2, cache_size: Some(3), ..small(Default::default()) };
        let ga = DeepGa::new(cfg, &space).unwrap();
        let mut rng = evoforge_core::stream(9, &[]);
        // An incremental lineage, mutated in place, vs decode through the cache and from scratch.
        let mut chain = SeedChain::new(ga.table.sample_index(&mut rng, 257) as u64);
        let mut theta = vec![0.0; 257];
        ga.layout.init(&ga.table, chain.init, &mut theta);
        for g in 0..40 {
            let idx = ga.table.sample_index(&mut rng, 257) as u64;
            let sigma = 0.01 * (1.0 + g as f64 / 7.0);
            ga.table.axpy(&mut theta, sigma, idx as usize);
            chain = chain.child(idx, sigma);
            let mut via_cache = vec![0.0; 257];
            ga.decode(&(), &chain, &mut via_cache);
            let mut scratch = vec![0.0; 257];
            ga.layout.rebuild(&ga.table, &chain, &mut scratch);
            for j in 0..257 {
                assert_eq!(via_cache[j].to_bits(), theta[j].to_bits(), "gen {g} coord {j}");
                assert_eq!(scratch[j].to_bits(), theta[j].to_bits(), "gen {g} coord {j}");
            }
            // Every few generations, drop the cache: rebuilding from scratch must agree too.
            if g % 5 == 4 {
                ga.clear_cache();
            }
        }
    }

    #[test]
    fn offspring_descend_from_parents_and_the_elite_survives() {
        let space = Space::real_box(4, -5.0, 5.0);
        let cfg = DeepGaConfig {
            popsize: 12,
            truncation: 3,
            sigma: 0.3,
            validation_size: 4,
            validation_evals: 2,
            ..small(Default::default())
        };
        let ga = DeepGa::new(cfg, &space).unwrap();
        let mut st = conformance::fresh(&ga, 1).unwrap();
        for g in 0..6 {
            let parents = st.parents().to_vec();
            let elite_before = st.elite().map(|e| e.0.clone());
            let (cands, _) = conformance::step(&ga, &space, &mut st, 1, g, &sphere).unwrap();
            match g % 2 {
                // offspring round: 12 children; after the first, each is a parent + 1 mutation
                0 => {
                    assert_eq!(cands.len(), 12);
                    for c in &cands {
                        if g == 0 {
                            assert!(c.genome.is_empty());
                        } else {
                            let n = c.genome.len();
                            assert!(n >= 1 && parents.contains(&c.genome.prefix(n - 1)));
                            assert_eq!(c.genome.mutations().last().unwrap().1, 0.3);
                        }
                    }
                }
                // validation round: 4 members × 2 evaluations, previous elite first
                _ => {
                    assert_eq!(cands.len(), 8);
                    if let Some(e) = elite_before {
                        assert_eq!(cands[0].genome, e);
                        assert_eq!(cands[1].genome, e);
                    }
                }
            }
        }
        let (elite, _) = st.elite().unwrap();
        assert!(st.parents().contains(elite));
        assert_eq!(st.parents().len(), 3);
    }

    #[test]
    fn knn_novelty_is_the_mean_of_the_k_nearest() {
        let pts: Vec<Vec<f64>> = vec![vec![1.0, 0.0], vec![0.0, 3.0], vec![4.0, 0.0]];
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        assert_eq!(knn_novelty(&[0.0, 0.0], &refs, 2), 2.0);
        assert_eq!(knn_novelty(&[0.0, 0.0], &refs, 10), 8.0 / 3.0);
        assert_eq!(knn_novelty(&[0.0, 0.0], &[], 3), 0.0);
    }

    #[test]
    fn config_is_validated() {
        let space = Space::real_box(3, -1.0, 1.0);
        let err = |c: DeepGaConfig| DeepGa::new(small(c), &space).unwrap_err().field;
        let d = DeepGaConfig::default;
        assert_eq!(err(DeepGaConfig { popsize: 0, ..d() }), "popsize");
        assert_eq!(err(DeepGaConfig { popsize: 5, truncation: 6, ..d() }), "truncation");
        assert_eq!(err(DeepGaConfig { sigma: -1.0, ..d() }), "sigma");
        let nv = NoveltyConfig { k: 0, ..Default::default() };
        assert_eq!(err(DeepGaConfig { novelty: Some(nv), ..d() }), "novelty.k");
        let e = DeepGa::new(DeepGaConfig { noise_len: 3, ..d() }, &space).unwrap_err();
        assert_eq!(e.field, "noise_len");
    }
}
