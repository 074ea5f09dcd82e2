//! NS-ES and NSR-ES: evolution strategies driven by novelty, after Conti, Madhavan, Such,
//! Lehman, Stanley & Clune (2018), "Improving Exploration in Evolution Strategies for Deep
//! Reinforcement Learning via a Population of Novelty-Seeking Agents", NeurIPS, arXiv
//! 1712.06560, as the reference code has them (`uber-research/deep-neuroevolution`,
//! `es_distributed/nses.py`).
//!
//! # Algorithm
//!
//! A meta-population of `M` OpenAI-ES agents (centres `θ_m`, each with its own optimizer
//! moments) shares one archive `A` of behaviour characterisations (BCs, the problem's
//! `Evaluation::extras`). One generation:
//!
//! 1. Choose an agent: each of the first `M` generations takes the next agent (so every
//!    agent has a BC); afterwards agent `m` is drawn with probability `N(b_m) / Σ N(b_j)`
//!    (`selection: novelty`, the reference's `novelty_prob`) or in turn (`round_robin`), where
//!    `N(b) = ` mean distance from `b` to its `k` nearest neighbours in `A` and `b_m` is the BC
//!    of `θ_m`.
//! 2. Ask `popsize` mirrored perturbations `θ_m ± σ ε_i` (genomes as OpenAI-ES: noise index and
//!    sign) plus the centre `θ_m` itself (sign 0), whose evaluation gives `b_m`.
//! 3. Tell: `b_m` enters the archive (the reference adds the BC of every new centre), then
//!    each member's novelty `N(b_i)` against `A` is computed and
//!
//!    ```text
//!    u_i = (1 − w)·r(−N(b_i)) + w·r(f_i)        r = centered ranks (worst = +0.5)
//!    g   = 1/(n σ) Σ_i u_i s_i ε_i + weight_decay·θ_m,   θ_m ← θ_m − step(g)
//!    ```
//!
//!    with `w = reward_weight`: 0 is NS-ES, 0.5 is NSR-ES (`(r(return) + r(novelty))/2`).
//!
//! The optimizer, σ schedule, noise table and fitness of the centre are those of
//! [`crate::openai_es`] (the `es` mapping takes its whole configuration). Agents start from
//! `mean0` plus `init_spread · ε` of an agent-specific table slice (the reference draws each
//! agent's initial weights independently; with a spread of 0 all agents start alike).
//! Not implemented: NSRA-ES's adaptive `w`.
//!
//! `best()` is the member with the best objective seen; `recommend()` the centre with the
//! best objective at its last evaluation.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy, TellError,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::deep_ga::knn_novelty;
use crate::openai_es::{
    Moments, OpenAiEs, OpenAiEsConfig, OpenAiEsContext, Perturbation, assemble_gradient,
    centered_ranks,
};
use crate::util::{
    Batch, BestMember, accept_and_track, clip_into, nf, numbered, perturbations, record_behaviours,
    tell_metrics,
};

/// How the agent of a generation is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentSelection {
    /// Probability proportional to the novelty of the agent's BC (`novelty_prob`).
    #[default]
    Novelty,
    /// Each agent in turn.
    RoundRobin,
}

/// Configuration of [`NsEs`] (YAML `kind: ns_es`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NsEsConfig {
    /// The OpenAI-ES of every agent (popsize, sigma, optimizer, noise table...).
    pub es: OpenAiEsConfig,
    /// Agents `M`.
    pub meta_population: usize,
    /// Nearest neighbours of the novelty.
    pub k: usize,
    /// `w`: 0 = NS-ES, 0.5 = NSR-ES.
    pub reward_weight: f64,
    /// How an agent is chosen each generation.
    pub selection: AgentSelection,
    /// Spread of the agents' initial centres around `mean0`.
    pub init_spread: f64,
}

impl Default for NsEsConfig {
    fn default() -> Self {
        Self {
            es: OpenAiEsConfig::default(),
            meta_population: 3,
            k: 10,
            reward_weight: 0.0,
            selection: AgentSelection::Novelty,
            init_spread: 0.0,
        }
    }
}

impl Describe for NsEsConfig {
    const KIND: &'static str = NsEs::NAME;
    const SUMMARY: &'static str =
        "NS-ES / NSR-ES (Conti et al. 2018): novelty-seeking OpenAI-ES agents sharing an archive";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("es", "openai_es mapping", "{}", "OpenAI-ES settings of every agent"),
            ParamDoc::opt("meta_population", "int", "3", "agents M"),
            ParamDoc::opt("k", "int", "10", "nearest neighbours of the novelty"),
            ParamDoc::opt("reward_weight", "float", "0.0", "0: NS-ES, 0.5: NSR-ES"),
            ParamDoc::opt("selection", "novelty | round_robin", "novelty", "agent choice"),
            ParamDoc::opt("init_spread", "float", "0.0", "spread of the agents' initial centres"),
        ]
    }
}

/// One agent: an OpenAI-ES centre with its optimizer moments and last behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Agent {
    #[serde(with = "nf::vec")]
    theta: Vec<f64>,
    moments: Moments,
    bc: Option<Vec<f64>>,
    /// Objective of the centre at its last evaluation.
    #[serde(with = "nf")]
    fitness: f64,
}

/// State of [`NsEs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NsEsState {
    next_id: u64,
    generation: u64,
    sigma: f64,
    agents: Vec<Agent>,
    /// Agent of the pending generation.
    current: usize,
    batch: Batch,
    /// Genomes of the pending generation (members, then the centre with sign 0).
    pending: Vec<Perturbation>,
    behaviours: Vec<Option<Vec<f64>>>,
    archive: Vec<Vec<f64>>,
    best: Option<BestMember<Perturbation>>,
}

impl NsEsState {
    /// The archive of behaviours.
    pub fn archive(&self) -> &[Vec<f64>] {
        &self.archive
    }
    /// The centres of the agents.
    pub fn centres(&self) -> Vec<&[f64]> {
        self.agents.iter().map(|a| a.theta.as_slice()).collect()
    }
}

/// NS-ES / NSR-ES over the continuous encoding of the space.
#[derive(Debug, Clone)]
pub struct NsEs {
    config: NsEsConfig,
    es: OpenAiEs,
    space: Space,
}

impl NsEs {
    fn novelty(&self, archive: &[Vec<f64>], b: &[f64]) -> f64 {
        let others: Vec<&[f64]> =
            archive.iter().map(Vec::as_slice).filter(|o| o.len() == b.len()).collect();
        knn_novelty(b, &others, self.config.k)
    }

    fn choose(&self, s: &NsEsState, rng: &mut Rng) -> usize {
        let m = s.agents.len();
        if s.generation < m as u64 || self.config.selection == AgentSelection::RoundRobin {
            return (s.generation % m as u64) as usize;
        }
        let nov: Vec<f64> = s
            .agents
            .iter()
            .map(|a| a.bc.as_deref().map_or(0.0, |b| self.novelty(&s.archive, b)))
            .collect();
        let total: f64 = nov.iter().sum();
        let u = rng.random::<f64>();
        if !(total > 0.0 && total.is_finite()) {
            return (u * m as f64) as usize % m;
        }
        let mut acc = 0.0;
        for (i, v) in nov.iter().enumerate() {
            acc += v / total;
            if u < acc {
                return i;
            }
        }
        m - 1
    }

    fn update(&self, s: &mut NsEsState) -> Metrics {
        let mut m = Metrics::new();
        let f = s.batch.values();
        let n = self.config.es.popsize;
        let a = s.current;
        // The centre (last slot): its BC joins the archive before novelty is measured.
        let centre_f = f[n];
        s.agents[a].fitness = centre_f;
        if let Some(b) = s.behaviours[n].clone() {
            s.archive.push(b.clone());
            s.agents[a].bc = Some(b);
        }
        let novelty: Vec<f64> = (0..n)
            .map(|i| s.behaviours[i].as_deref().map_or(0.0, |b| self.novelty(&s.archive, b)))
            .collect();
        let neg: Vec<f64> = novelty.iter().map(|v| -v).collect();
        let (rn, rf) = (centered_ranks(&neg), centered_ranks(&f[..n]));
        let w = self.config.reward_weight;
        let u: Vec<f64> = rn.iter().zip(&rf).map(|(a, b)| (1.0 - w) * a + w * b).collect();
        let d = self.space.dim();
        let mut g = assemble_gradient(self.es.table(), &s.pending[..n], &u, s.sigma, d);
        let wd = self.config.es.weight_decay;
        let agent = &mut s.agents[a];
        if wd != 0.0 {
            for (gi, &t) in g.iter_mut().zip(&agent.theta) {
                *gi += wd * t;
            }
        }
        self.es.step(&mut agent.moments, &mut agent.theta, &g);
        clip_into(&self.space, &mut agent.theta);
        m.insert("agent".into(), a as f64);
        m.insert("sigma".into(), s.sigma);
        m.insert("archive".into(), s.archive.len() as f64);
        m.insert("mean_novelty".into(), novelty.iter().sum::<f64>() / n as f64);
        if centre_f.is_finite() {
            m.insert("centre_fitness".into(), centre_f);
        }
        let es = &self.config.es;
        s.sigma = (s.sigma * es.sigma_decay).max(es.sigma_min);
        s.generation += 1;
        m
    }
}

impl Strategy for NsEs {
    const NAME: &'static str = "ns_es";
    const COMPACT: bool = true;
    type Config = NsEsConfig;
    type State = NsEsState;
    type Genome = Perturbation;
    type Context = OpenAiEsContext;

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        let es = OpenAiEs::new(config.es.clone(), space)
            .map_err(|e| ConfigError::new(format!("es.{}", e.field), e.message))?;
        if config.meta_population == 0 {
            return Err(ConfigError::new("meta_population", "must be at least 1"));
        }
        if config.k == 0 {
            return Err(ConfigError::new("k", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&config.reward_weight) {
            return Err(ConfigError::new("reward_weight", "must be in [0, 1]"));
        }
        if !(config.init_spread.is_finite() && config.init_spread >= 0.0) {
            return Err(ConfigError::new("init_spread", "must be finite and non-negative"));
        }
        Ok(Self { config, es, space: space.clone() })
    }

    fn init(&self, rng: &mut Rng) -> Self::State {
        let d = self.space.dim();
        let agents = (0..self.config.meta_population)
            .map(|_| {
                let mut theta = self.es.mean0().to_vec();
                let idx = self.es.table().sample_index(rng, d);
                if self.config.init_spread > 0.0 {
                    self.es.table().axpy(&mut theta, self.config.init_spread, idx);
                    clip_into(&self.space, &mut theta);
                }
                Agent { theta, moments: self.es.fresh_moments(), bc: None, fitness: f64::INFINITY }
            })
            .collect();
        NsEsState {
            next_id: 0,
            generation: 0,
            sigma: self.config.es.sigma,
            agents,
            current: 0,
            batch: Batch::default(),
            pending: Vec::new(),
            behaviours: Vec::new(),
            archive: Vec::new(),
            best: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        s.current = self.choose(s, rng);
        let n = self.config.es.popsize;
        let d = self.space.dim();
        s.pending = perturbations(self.es.table(), rng, n, d, true);
        s.pending.push(Perturbation { index: 0, sign: 0 });
        s.batch = Batch::new(s.next_id, n + 1);
        s.behaviours = vec![None; n + 1];
        let out = numbered(s.next_id, &s.pending);
        s.next_id += n as u64 + 1;
        out
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        let theta = &s.agents[s.current].theta;
        let failures = accept_and_track(&mut s.batch, &s.pending, &mut s.best, results, |g| {
            let mut x = theta.clone();
            self.es.table().axpy(&mut x, f64::from(g.sign) * s.sigma, g.index as usize);
            self.space.repair(&mut x);
            x
        })?;
        record_behaviours(s.batch.first_id, &mut s.behaviours, results);
        let mut m = if s.batch.complete() { self.update(s) } else { Metrics::new() };
        tell_metrics(&mut m, failures, &s.best);
        Ok(m)
    }

    fn context(&self, s: &Self::State) -> Self::Context {
        OpenAiEsContext { theta: s.agents[s.current].theta.clone(), sigma: s.sigma }
    }

    fn decode(&self, ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(&ctx.theta);
        if g.sign != 0 {
            self.es.table().axpy(out, f64::from(g.sign) * ctx.sigma, g.index as usize);
        }
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.as_ref().map(|b| (b.genome, b.fitness))
    }

    fn eval_key(&self, s: &Self::State, id: u64) -> u64 {
        match s.batch.slot(id) {
            // Members 2k and 2k + 1 are a mirrored pair; the centre (last) stands alone.
            Some(k) if self.config.es.common_random_numbers && k < self.config.es.popsize => {
                s.batch.first_id + (k as u64 & !1)
            }
            _ => id,
        }
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        s.agents
            .iter()
            .filter(|a| a.fitness.is_finite())
            .min_by(|a, b| a.fitness.total_cmp(&b.fitness))
            .map(|a| a.theta.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, sphere};
    use evoforge_core::Outcome;

    fn small() -> NsEsConfig {
        NsEsConfig {
            es: OpenAiEsConfig {
                popsize: 10,
                sigma: 0.2,
                learning_rate: 0.1,
                weight_decay: 0.0,
                noise_len: 1 << 16,
                ..Default::default()
            },
            meta_population: 2,
            init_spread: 0.5,
            ..Default::default()
        }
    }

    #[test]
    fn each_generation_is_one_agent_plus_its_centre() {
        let space = Space::real_box(3, -5.0, 5.0);
        let s = NsEs::new(small(), &space).unwrap();
        let mut st = conformance::fresh(&s, 2).unwrap();
        for g in 0..4 {
            let (c, _) = conformance::step(&s, &space, &mut st, 2, g, &sphere).unwrap();
            assert_eq!(c.len(), 11);
            assert_eq!(c[10].genome.sign, 0);
        }
        // The first M generations visit every agent once.
        assert_ne!(st.centres()[0], st.centres()[1]);
    }

    #[test]
    fn novelty_ranks_drive_the_centre_away_from_the_archive() {
        // Behaviour = the point itself. With one agent alone, a mirrored pair is equally novel
        // around a lone archive point and the step cancels; two agents break the symmetry.
        // NS-ES must then spread the centres away from where they were, although the
        // objective (the sphere) pulls them to the origin.
        let space = Space::real_box(2, -10.0, 10.0);
        let cfg = NsEsConfig { init_spread: 0.5, ..small() };
        let s = NsEs::new(cfg, &space).unwrap();
        let mut st = conformance::fresh(&s, 4).unwrap();
        let start: Vec<Vec<f64>> = st.centres().iter().map(|c| c.to_vec()).collect();
        for g in 0..40 {
            let mut rng = evoforge_core::stream(4, &[1, g]);
            let cands = s.ask(&mut st, &mut rng);
            let ctx = s.context(&st);
            let results: Vec<_> = cands
                .iter()
                .map(|c| {
                    let mut x = vec![0.0; 2];
                    s.decode(&ctx, &c.genome, &mut x);
                    let e = evoforge_core::Evaluation {
                        values: vec![sphere(&x)],
                        extras: Some(x.clone()),
                        ..evoforge_core::Evaluation::value(0.0)
                    };
                    Evaluated { id: c.id, genome: c.genome, outcome: Outcome::Ok(e) }
                })
                .collect();
            s.tell(&mut st, &results, &mut evoforge_core::stream(4, &[2, g])).unwrap();
        }
        let moved: Vec<f64> = st
            .centres()
            .iter()
            .zip(&start)
            .map(|(c, s0)| c.iter().zip(s0).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt())
            .collect();
        assert!(moved.iter().all(|&r| r > 1.0), "centres moved only {moved:?}");
        assert_eq!(st.archive().len(), 40);
    }

    #[test]
    fn config_errors_name_the_nested_field() {
        let space = Space::real_box(2, -1.0, 1.0);
        let mut c = small();
        c.es.popsize = 3;
        assert_eq!(NsEs::new(c, &space).unwrap_err().field, "es.popsize");
        let c = NsEsConfig { meta_population: 0, ..small() };
        assert_eq!(NsEs::new(c, &space).unwrap_err().field, "meta_population");
    }
}
