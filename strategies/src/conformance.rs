//! The conformance suite: the invariants of DESIGN.md that every strategy keeps, as functions
//! a test can call for any [`Strategy`].
//!
//! * [`check_ids`]: `ask` returns candidates with unique, increasing ids and decodable genomes;
//!   `tell` with an unknown or repeated id returns `Err` (never panics) and changes nothing.
//! * [`check_failures`]: failed and NaN evaluations rank worst, never panic, never become best.
//! * [`check_serde_round_trip`]: a state read back from its serde_json form continues exactly
//!   like the original (bit-equal asks, metrics and states), also between `ask` and `tell`.
//! * [`check_tell_order`]: results told in any order, or split over several `tell` calls, give
//!   the same state.
//! * [`check_progress`]: the best value on a sphere improves (by orders of magnitude where the
//!   caller asks for it) within an evaluation budget.
//!
//! * [`check_describe`]: a configuration's [`Describe`] lists exactly its serde fields, with
//!   defaults that read back as the `Default` values.
//!
//! [`check_all`] runs all but the last. Randomness comes from [`evoforge_core::stream`] keyed by
//! (seed, purpose, generation), as in a study. Every check returns `Err(message)` instead of
//! panicking, and turns a panic inside the strategy into an `Err` too.
use std::panic::{AssertUnwindSafe, catch_unwind};

use evoforge_core::{
    Candidate, Describe, Evaluated, Evaluation, Metrics, Outcome, Purpose, Space, Strategy, stream,
};

/// Result of one check: `Err` describes the broken invariant.
pub type Check = Result<(), String>;

/// What [`step`] returns: the asked candidates and the metrics of the `tell`.
pub type Step<G> = Result<(Vec<Candidate<G>>, Metrics), String>;

/// The sphere `Σ x_i²`, minimum 0 at the origin.
pub fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// How much [`check_progress`] demands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// The best value must be strictly below the best of the first generation.
    Improve,
    /// The best value must drop by at least this many orders of magnitude from the best of
    /// the first generation.
    Orders(f64),
}

/// Options of [`check_all`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Seed of the random streams.
    pub seed: u64,
    /// Evaluation budget of the progress check on the sphere.
    pub budget: u64,
    /// What the progress check demands.
    pub progress: Progress,
    /// Generations run before the serde round trip.
    pub warmup: u64,
    /// Generations compared after the serde round trip.
    pub compare: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { seed: 7, budget: 3000, progress: Progress::Orders(6.0), warmup: 5, compare: 5 }
    }
}

/// Runs every check of the suite on `strategy` over `space` (the progress check on the sphere).
pub fn check_all<S: Strategy>(strategy: &S, space: &Space, opts: &Options) -> Check {
    check_ids(strategy, space, opts.seed)?;
    check_failures(strategy, space, opts.seed)?;
    check_serde_round_trip(strategy, space, opts.seed, opts.warmup, opts.compare)?;
    check_tell_order(strategy, space, opts.seed)?;
    check_progress(strategy, space, opts.seed, opts.budget, opts.progress, &sphere).map(|_| ())
}

fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{what} panicked: {msg}")
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string(v).map_err(|e| format!("state does not serialize: {e}"))
}

/// Decodes a genome into a point of `space`'s dimension.
pub fn decode<S: Strategy>(
    strategy: &S,
    state: &S::State,
    space: &Space,
    g: &S::Genome,
) -> Vec<f64> {
    let mut x = vec![0.0; space.dim()];
    strategy.decode(&strategy.context(state), g, &mut x);
    x
}

/// Evaluates `f` on each candidate as a study would: decode, then repair into the space.
pub fn evaluate<S: Strategy>(
    strategy: &S,
    state: &S::State,
    space: &Space,
    cands: &[Candidate<S::Genome>],
    f: &dyn Fn(&[f64]) -> f64,
) -> Vec<Evaluated<S::Genome>> {
    cands
        .iter()
        .map(|c| {
            let mut x = decode(strategy, state, space, &c.genome);
            space.repair(&mut x);
            Evaluated {
                id: c.id,
                genome: c.genome.clone(),
                outcome: Outcome::Ok(Evaluation::value(f(&x))),
            }
        })
        .collect()
}

/// One generation: `ask` with the stream (seed, Ask, generation), evaluate, `tell` with (seed, Tell,
/// generation). Returns the candidates and the metrics.
pub fn step<S: Strategy>(
    strategy: &S,
    space: &Space,
    state: &mut S::State,
    seed: u64,
    g: u64,
    f: &dyn Fn(&[f64]) -> f64,
) -> Step<S::Genome> {
    let mut rng = stream(seed, &[Purpose::Ask as u64, g]);
    let cands = guard("ask", || strategy.ask(state, &mut rng))?;
    if cands.is_empty() {
        return Err(format!("ask returned no candidates in generation {g}"));
    }
    let results = evaluate(strategy, state, space, &cands, f);
    let mut rng = stream(seed, &[Purpose::Tell as u64, g]);
    let m = guard("tell", || strategy.tell(state, &results, &mut rng))?
        .map_err(|e| format!("tell of a complete generation failed: {e}"))?;
    Ok((cands, m))
}

/// A fresh state from the stream (seed, Init).
pub fn fresh<S: Strategy>(strategy: &S, seed: u64) -> Result<S::State, String> {
    let mut rng = stream(seed, &[Purpose::Init as u64]);
    guard("init", || strategy.init(&mut rng))
}

/// Ids are unique and increasing within and across generations; genomes decode to finite
/// points of the right dimension; an unknown or repeated id is an `Err` that changes nothing.
pub fn check_ids<S: Strategy>(strategy: &S, space: &Space, seed: u64) -> Check {
    let mut state = fresh(strategy, seed)?;
    let mut last: Option<u64> = None;
    for g in 0..4 {
        let mut rng = stream(seed, &[Purpose::Ask as u64, g]);
        let cands = guard("ask", || strategy.ask(&mut state, &mut rng))?;
        if cands.is_empty() {
            return Err(format!("ask returned no candidates in generation {g}"));
        }
        for c in &cands {
            if last.is_some_and(|l| c.id <= l) {
                return Err(format!(
                    "id {} follows id {} (ids must increase)",
                    c.id,
                    last.unwrap()
                ));
            }
            last = Some(c.id);
            let x = decode(strategy, &state, space, &c.genome);
            if x.iter().any(|v| !v.is_finite()) {
                return Err(format!("candidate {} decodes to a non-finite point {x:?}", c.id));
            }
        }
        let results = evaluate(strategy, &state, space, &cands, &sphere);
        let mut trng = stream(seed, &[Purpose::Tell as u64, g]);
        let before = json(&state)?;
        // An id never handed out.
        let mut bad = results[0].clone();
        bad.id = last.unwrap() + 1000;
        let r = guard("tell with an unknown id", || {
            strategy.tell(&mut state, &[bad], &mut trng.clone())
        })?;
        if r.is_ok() {
            return Err("tell accepted an unknown id".into());
        }
        // The same id twice in one call.
        let twice = vec![results[0].clone(), results[0].clone()];
        let r = guard("tell with a repeated id", || {
            strategy.tell(&mut state, &twice, &mut trng.clone())
        })?;
        if r.is_ok() {
            return Err("tell accepted the same id twice".into());
        }
        if json(&state)? != before {
            return Err("a rejected tell changed the state".into());
        }
        guard("tell", || strategy.tell(&mut state, &results, &mut trng))?
            .map_err(|e| format!("tell of the asked candidates failed: {e}"))?;
        // A result of an earlier generation is unknown now.
        let r = guard("tell with a stale id", || {
            strategy.tell(&mut state, &results[..1], &mut stream(seed, &[99]))
        })?;
        if r.is_ok() {
            return Err("tell accepted an id that was already told".into());
        }
    }
    Ok(())
}

/// Failed, NaN and `+inf` evaluations rank worst, never panic and never become the best.
pub fn check_failures<S: Strategy>(strategy: &S, space: &Space, seed: u64) -> Check {
    let mut state = fresh(strategy, seed)?;
    let mut best_finite = f64::INFINITY;
    for g in 0..30u64 {
        let mut rng = stream(seed, &[Purpose::Ask as u64, g]);
        let cands = guard("ask", || strategy.ask(&mut state, &mut rng))?;
        let mut results = evaluate(strategy, &state, space, &cands, &sphere);
        for (k, r) in results.iter_mut().enumerate() {
            // Generations 3 and 4 fail completely; otherwise a mix of outcomes.
            let mode = if g == 3 || g == 4 { 0 } else { (k as u64 + g) % 4 };
            match mode {
                0 => r.outcome = Outcome::Failed("worker crashed".into()),
                1 => r.outcome = Outcome::Ok(Evaluation::value(f64::NAN)),
                2 => r.outcome = Outcome::Ok(Evaluation::default()),
                _ => best_finite = best_finite.min(r.fitness()),
            }
        }
        let mut trng = stream(seed, &[Purpose::Tell as u64, g]);
        guard("tell with failures", || strategy.tell(&mut state, &results, &mut trng))?
            .map_err(|e| format!("tell rejected failed evaluations: {e}"))?;
        if let Some((_, b)) = strategy.best(&state) {
            if !b.is_finite() {
                return Err(format!("best() reports the non-finite value {b}"));
            }
            if b > best_finite {
                return Err(format!("best() reports {b}, but {best_finite} was told"));
            }
        }
        json(&state)?;
    }
    if best_finite.is_finite() && strategy.best(&state).is_none() {
        return Err("best() is None after finite evaluations".into());
    }
    Ok(())
}

/// A state read back from serde_json continues bit for bit like the original, both from a
/// generation boundary and from between `ask` and `tell`.
pub fn check_serde_round_trip<S: Strategy>(
    strategy: &S,
    space: &Space,
    seed: u64,
    warmup: u64,
    compare: u64,
) -> Check {
    let mut a = fresh(strategy, seed)?;
    for g in 0..warmup {
        step(strategy, space, &mut a, seed, g, &sphere)?;
    }
    let mut b: S::State =
        serde_json::from_str(&json(&a)?).map_err(|e| format!("state does not deserialize: {e}"))?;
    if json(&a)? != json(&b)? {
        return Err("the state changes when it is read back".into());
    }
    let bits = |s: &S::State, c: &[Candidate<S::Genome>]| -> Vec<(u64, Vec<u64>)> {
        c.iter()
            .map(|c| {
                (c.id, decode(strategy, s, space, &c.genome).iter().map(|v| v.to_bits()).collect())
            })
            .collect()
    };
    let metric_bits = |m: &Metrics| -> Vec<(String, u64)> {
        m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
    };
    for g in warmup..warmup + compare {
        let (ca, ma) = step(strategy, space, &mut a, seed, g, &sphere)?;
        let (cb, mb) = step(strategy, space, &mut b, seed, g, &sphere)?;
        if bits(&a, &ca) != bits(&b, &cb) {
            return Err(format!("generation {g}: asks differ after the round trip"));
        }
        if metric_bits(&ma) != metric_bits(&mb) {
            return Err(format!("generation {g}: metrics differ after the round trip"));
        }
    }
    if json(&a)? != json(&b)? {
        return Err("states differ after continuing from the round trip".into());
    }
    // Round trip between ask and tell.
    let g = warmup + compare;
    let mut rng = stream(seed, &[Purpose::Ask as u64, g]);
    let cands = guard("ask", || strategy.ask(&mut a, &mut rng))?;
    let mut b: S::State =
        serde_json::from_str(&json(&a)?).map_err(|e| format!("state does not deserialize: {e}"))?;
    let results = evaluate(strategy, &a, space, &cands, &sphere);
    let trng = stream(seed, &[Purpose::Tell as u64, g]);
    let ma = guard("tell", || strategy.tell(&mut a, &results, &mut trng.clone()))?
        .map_err(|e| e.to_string())?;
    let mb = guard("tell", || strategy.tell(&mut b, &results, &mut trng.clone()))?
        .map_err(|e| format!("tell after a round trip between ask and tell: {e}"))?;
    if metric_bits(&ma) != metric_bits(&mb) || json(&a)? != json(&b)? {
        return Err("a round trip between ask and tell changes the tell".into());
    }
    Ok(())
}

/// Telling a generation in order, in reverse, or split into two calls gives the same state.
pub fn check_tell_order<S: Strategy>(strategy: &S, space: &Space, seed: u64) -> Check {
    let mut base = fresh(strategy, seed)?;
    for g in 0..3 {
        step(strategy, space, &mut base, seed, g, &sphere)?;
    }
    let g = 3;
    let mut rng = stream(seed, &[Purpose::Ask as u64, g]);
    let cands = guard("ask", || strategy.ask(&mut base, &mut rng))?;
    let results = evaluate(strategy, &base, space, &cands, &sphere);
    let trng = stream(seed, &[Purpose::Tell as u64, g]);
    let mut forward = base.clone();
    guard("tell", || strategy.tell(&mut forward, &results, &mut trng.clone()))?
        .map_err(|e| e.to_string())?;
    let mut reversed = base.clone();
    let rev: Vec<_> = results.iter().rev().cloned().collect();
    guard("tell", || strategy.tell(&mut reversed, &rev, &mut trng.clone()))?
        .map_err(|e| e.to_string())?;
    if json(&forward)? != json(&reversed)? {
        return Err("telling results in reverse order gives a different state".into());
    }
    if results.len() > 1 {
        let mut split = base.clone();
        let (x, y) = results.split_at(results.len() / 2);
        guard("tell", || strategy.tell(&mut split, y, &mut trng.clone()))?
            .map_err(|e| e.to_string())?;
        guard("tell", || strategy.tell(&mut split, x, &mut trng.clone()))?
            .map_err(|e| e.to_string())?;
        if json(&forward)? != json(&split)? {
            return Err("telling a generation in two calls gives a different state".into());
        }
    }
    Ok(())
}

/// Best values of a progress run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressReport {
    /// Best value of the first generation.
    pub first: f64,
    /// Best value at the end.
    pub best: f64,
    /// Evaluations used.
    pub evaluations: u64,
}

/// Runs `strategy` on `f` until `budget` evaluations or `stop()`, and checks the progress.
pub fn check_progress<S: Strategy>(
    strategy: &S,
    space: &Space,
    seed: u64,
    budget: u64,
    progress: Progress,
    f: &dyn Fn(&[f64]) -> f64,
) -> Result<ProgressReport, String> {
    let r = run(strategy, space, seed, budget, f, None)?;
    let ok = match progress {
        Progress::Improve => r.best < r.first,
        Progress::Orders(k) => r.best <= r.first * 10f64.powf(-k),
    };
    if ok {
        Ok(r)
    } else {
        Err(format!(
            "no progress: best {:e} after {} evaluations, first generation {:e} ({progress:?})",
            r.best, r.evaluations, r.first
        ))
    }
}

/// Runs `strategy` on `f` until `budget` evaluations, `stop()`, or the best value reaches
/// `target`. The best value is the strategy's own [`Strategy::best`].
pub fn run<S: Strategy>(
    strategy: &S,
    space: &Space,
    seed: u64,
    budget: u64,
    f: &dyn Fn(&[f64]) -> f64,
    target: Option<f64>,
) -> Result<ProgressReport, String> {
    let mut state = fresh(strategy, seed)?;
    let mut evals = 0;
    let mut first = None;
    let mut generation = 0;
    while evals < budget && strategy.stop(&state).is_none() {
        let (c, _) = step(strategy, space, &mut state, seed, generation, f)?;
        evals += c.len() as u64;
        generation += 1;
        let best = strategy.best(&state).map_or(f64::INFINITY, |b| b.1);
        first.get_or_insert(best);
        if target.is_some_and(|t| best <= t) {
            break;
        }
    }
    let best = strategy.best(&state).map_or(f64::INFINITY, |b| b.1);
    Ok(ProgressReport { first: first.unwrap_or(f64::INFINITY), best, evaluations: evals })
}

/// A configuration's [`Describe::params`] names exactly the fields of its serde form, once
/// each, and every default (YAML text; a bare word is a string) equals the value `Default`
/// serializes to (numbers compared as `f64`; `{}` stands for a nested configuration's own
/// defaults).
pub fn check_describe<C: Describe + serde::Serialize + Default>() -> Check {
    let value = serde_json::to_value(C::default()).map_err(|e| e.to_string())?;
    let fields = value.as_object().ok_or("the config does not serialize to a mapping")?;
    let params = C::params();
    let mut names: Vec<_> = params.iter().map(|p| p.name).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() != params.len() {
        return Err(format!("{}: a parameter is listed twice", C::KIND));
    }
    let mut keys: Vec<_> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if names != keys {
        return Err(format!("{}: params() lists {names:?}, the config has {keys:?}", C::KIND));
    }
    for p in &params {
        let Some(text) = &p.default else { continue };
        let parsed = serde_json::from_str::<serde_json::Value>(text)
            .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
        let actual = &fields[p.name];
        // `{}` documents a nested configuration whose fields keep their own defaults (and
        // are documented by that configuration's own `Describe`).
        let nested = parsed.as_object().is_some_and(|o| o.is_empty()) && actual.is_object();
        let same = match (parsed.as_f64(), actual.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => nested || &parsed == actual,
        };
        if !same {
            return Err(format!(
                "{}.{}: documented default {text} but Default gives {actual}",
                C::KIND,
                p.name
            ));
        }
    }
    Ok(())
}
