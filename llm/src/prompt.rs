//! EvoLLM's prompt: discretisation of points and fitness to integers, the text the model sees
//! (members sorted from worst to best, then the query), and the parser of its answer.
//!
//! Lange, Tian & Tang (2024) prompt with the population "sorted least-to-most" as discretised
//! integers and ask for an improved mean; the exact text of their prompt is not public, so the
//! wording below is ours (`studies/` and BENCHMARKS.md record how it was chosen).
use crate::model::{IntListConstraint, Message, Prompt};

/// The separator between the integers of a point, in the prompt and in the answer.
pub const SEPARATOR: &str = ", ";

/// Maps each coordinate of a box linearly onto the integers `0..=resolution`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    lo: Vec<f64>,
    hi: Vec<f64>,
    resolution: u64,
}

impl Grid {
    /// The grid over `[lo, hi]` with `resolution` steps per coordinate.
    pub fn new(lo: Vec<f64>, hi: Vec<f64>, resolution: u64) -> Self {
        assert_eq!(lo.len(), hi.len());
        Self { lo, hi, resolution: resolution.max(1) }
    }

    /// Largest integer of a coordinate.
    pub fn resolution(&self) -> u64 {
        self.resolution
    }

    /// `round((x − lo)/(hi − lo) · R)`, clamped into `0..=R` (0 where `hi == lo`).
    pub fn to_int(&self, i: usize, x: f64) -> u64 {
        let w = self.hi[i] - self.lo[i];
        if w <= 0.0 || !x.is_finite() {
            return 0;
        }
        let r = self.resolution as f64;
        ((x - self.lo[i]) / w * r).round().clamp(0.0, r) as u64
    }

    /// `lo + v/R · (hi − lo)`, the centre of the integer's cell.
    pub fn to_real(&self, i: usize, v: u64) -> f64 {
        let v = v.min(self.resolution) as f64;
        self.lo[i] + v / self.resolution as f64 * (self.hi[i] - self.lo[i])
    }
}

/// Fitness values shown as integers: the worst of the context is `resolution`, the best 0,
/// linear in between (all 0 when they are equal). Only the order and the relative gaps are
/// shown; the scale of the objective never reaches the model.
pub fn discretise_fitness(f: &[f64], resolution: u64) -> Vec<u64> {
    let lo = f.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    f.iter()
        .map(|&v| {
            if hi > lo {
                ((v - lo) / (hi - lo) * resolution as f64).round().clamp(0.0, resolution as f64)
                    as u64
            } else {
                0
            }
        })
        .collect()
}

/// How the question is put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptStyle {
    /// Plain text the model continues: a one-line header, one line per member
    /// (`x: 12, 40 f: 873`), and `x: ` for the answer.
    #[default]
    Completion,
    /// A chat: the same lines in a user message that asks for a better point; the answer is
    /// the assistant's reply.
    Chat,
    /// Plain text, fitness first: one line per member (`f: 57 x: 12, 40`), the context's
    /// fitness shown from `fitness_resolution` (worst) down to a tenth of it (best), then a
    /// target line `f: T x: ` with T below the best, so that the model continues a list of
    /// improving points and writes x after the value it should reach. No header.
    FitnessFirst,
}

/// The smallest fitness shown to the model in [`PromptStyle::FitnessFirst`] (the context's
/// best), and the target one below it.
pub fn fitness_first_floor(fitness_resolution: u64) -> u64 {
    (fitness_resolution / 10).max(1)
}

/// One line of the context: the block's coordinates as integers and the shown fitness.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Discretised coordinates.
    pub x: Vec<u64>,
    /// Discretised fitness.
    pub f: u64,
}

/// The prompt for members `lines` (already sorted from worst to best).
pub fn build(
    style: PromptStyle,
    lines: &[Line],
    resolution: u64,
    fitness_resolution: u64,
) -> Prompt {
    let d = lines.first().map_or(0, |l| l.x.len());
    let mut body = String::new();
    for l in lines {
        body.push_str("x: ");
        body.push_str(&join(&l.x));
        body.push_str(&format!(" f: {}\n", l.f));
    }
    if style == PromptStyle::FitnessFirst {
        let floor = fitness_first_floor(fitness_resolution);
        let span = fitness_resolution.saturating_sub(floor) as f64;
        // No header: the list alone is the pattern to continue (the variant measured in
        // BENCHMARKS.md).
        let mut text = String::new();
        for l in lines {
            // 0..=R (best 0) → floor..=R (best floor).
            let f = floor + (l.f as f64 / fitness_resolution.max(1) as f64 * span).round() as u64;
            text.push_str(&format!("f: {f} x: {}\n", join(&l.x)));
        }
        text.push_str(&format!("f: {} x: ", floor - 1));
        return Prompt::Text(text);
    }
    match style {
        PromptStyle::FitnessFirst => unreachable!("handled above"),
        PromptStyle::Completion => Prompt::Text(format!(
            "Minimize f. Points x ({d} integers from 0 to {resolution}) and their values f (0 to {fitness_resolution}, lower is better), sorted from worst to best:\n{body}x: "
        )),
        PromptStyle::Chat => Prompt::Chat(vec![
            Message::new(
                "system",
                "You are an optimizer. You propose points with lower function values.",
            ),
            Message::new(
                "user",
                format!(
                    "Minimize f. Here are points x ({d} integers from 0 to {resolution}) and their values f (0 to {fitness_resolution}, lower is better), sorted from worst to best:\n{body}\
                     Propose a new point x with a lower f than all of them. Answer with {d} integers separated by commas."
                ),
            ),
        ]),
    }
}

/// The constraint of an answer of `count` integers up to `resolution`.
pub fn constraint(count: usize, resolution: u64) -> IntListConstraint {
    IntListConstraint { count, max: resolution, separator: SEPARATOR.into() }
}

fn join(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(SEPARATOR)
}

/// Reads `count` integers in `0..=max` from an answer. Strict answers (the constrained form)
/// are read as they are; from free text (an unconstrained server) the first `count` integers
/// are taken, values above `max` clamped. `None` when there are fewer than `count`.
pub fn parse(text: &str, count: usize, max: u64) -> Option<Vec<u64>> {
    let mut out = Vec::with_capacity(count);
    let mut cur: Option<u64> = None;
    for ch in text.chars().chain(std::iter::once(' ')) {
        match ch.to_digit(10) {
            Some(d) => cur = Some(cur.unwrap_or(0).saturating_mul(10).saturating_add(d as u64)),
            None => {
                if let Some(v) = cur.take() {
                    out.push(v.min(max));
                    if out.len() == count {
                        return Some(out);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_round_trips_every_integer_and_rounds_points() {
        let g = Grid::new(vec![-5.0, 0.0], vec![5.0, 1.0], 100);
        for v in 0..=100 {
            for i in 0..2 {
                assert_eq!(g.to_int(i, g.to_real(i, v)), v);
            }
        }
        assert_eq!(g.to_int(0, -5.0), 0);
        assert_eq!(g.to_int(0, 5.0), 100);
        assert_eq!(g.to_int(0, 0.0), 50);
        assert_eq!(g.to_int(0, 0.049), 50);
        assert_eq!(g.to_int(0, 0.051), 51);
        assert_eq!(g.to_int(0, 99.0), 100, "clamped");
        assert_eq!(g.to_int(1, -1.0), 0);
        assert_eq!(g.to_real(0, 25), -2.5);
        // |x − to_real(to_int(x))| ≤ half a step.
        for k in 0..1000 {
            let x = -5.0 + 10.0 * k as f64 / 999.0;
            assert!((g.to_real(0, g.to_int(0, x)) - x).abs() <= 0.05 + 1e-12);
        }
    }

    #[test]
    fn fitness_is_scaled_from_best_to_worst() {
        assert_eq!(discretise_fitness(&[10.0, 2.0, 6.0, 2.5], 100), vec![100, 0, 50, 6]);
        assert_eq!(discretise_fitness(&[3.0, 3.0], 100), vec![0, 0]);
    }

    #[test]
    fn completion_prompt_is_exactly_this_text() {
        let lines = vec![Line { x: vec![12, 40], f: 873 }, Line { x: vec![30, 7], f: 0 }];
        let p = build(PromptStyle::Completion, &lines, 100, 1000);
        assert_eq!(
            p,
            Prompt::Text(
                "Minimize f. Points x (2 integers from 0 to 100) and their values f (0 to 1000, lower is better), sorted from worst to best:\n\
                 x: 12, 40 f: 873\n\
                 x: 30, 7 f: 0\n\
                 x: "
                    .into()
            )
        );
        let Prompt::Chat(m) = build(PromptStyle::Chat, &lines, 100, 1000) else { panic!() };
        assert_eq!(m.len(), 2);
        assert!(m[1].content.contains("x: 12, 40 f: 873\nx: 30, 7 f: 0\nPropose"));
        assert!(m[1].content.ends_with("Answer with 2 integers separated by commas."));
    }

    #[test]
    fn fitness_first_prompt_ends_with_a_target_below_the_best() {
        let lines = vec![
            Line { x: vec![12, 40], f: 100 },
            Line { x: vec![20, 33], f: 50 },
            Line { x: vec![30, 7], f: 0 },
        ];
        // f 100, 50, 0 of 0..100 → 100, 55, 10 of 10..100; the target is 9.
        assert_eq!(
            build(PromptStyle::FitnessFirst, &lines, 99, 100),
            Prompt::Text(
                "f: 100 x: 12, 40\n\
                 f: 55 x: 20, 33\n\
                 f: 10 x: 30, 7\n\
                 f: 9 x: "
                    .into()
            )
        );
        assert_eq!(fitness_first_floor(5), 1);
    }

    #[test]
    fn answers_parse_strictly_and_from_free_text() {
        assert_eq!(parse("12, 40, 7", 3, 100), Some(vec![12, 40, 7]));
        assert_eq!(parse("x = (12, 400, 7) is better", 3, 100), Some(vec![12, 100, 7]));
        assert_eq!(parse("12, 40", 3, 100), None);
        assert_eq!(parse("1 2 3 4", 3, 100), Some(vec![1, 2, 3]));
        assert_eq!(parse("", 1, 100), None);
        let c = constraint(3, 100);
        assert!(c.matches("12, 40, 7"));
    }
}
