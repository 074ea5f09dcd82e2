//! Progress: a bar on a terminal, plain periodic lines otherwise, nothing for library use.
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::spec::Budget;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Nothing (library default).
    Quiet,
    /// A bar when stdout is a terminal, plain lines otherwise.
    Auto,
    /// Plain lines on stdout.
    Lines,
}

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    quiet: bool,
    every: Duration,
    last: Instant,
}

impl Progress {
    pub(crate) fn new(mode: ProgressMode, every_s: f64, budget: &Budget) -> Self {
        let tty = std::io::stdout().is_terminal();
        let (bar, lines) = match mode {
            ProgressMode::Quiet => (None, false),
            ProgressMode::Auto if tty => {
                let bar = match budget.evaluations {
                    Some(n) => ProgressBar::new(n),
                    None => ProgressBar::new_spinner(),
                };
                bar.set_style(
                    ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:30}] {pos}/{len} evals {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                (Some(bar), false)
            }
            _ => (None, true),
        };
        Self {
            bar,
            lines,
            quiet: mode == ProgressMode::Quiet,
            every: Duration::from_secs_f64(every_s),
            last: Instant::now(),
        }
    }

    pub(crate) fn update(
        &mut self,
        generation: u64,
        evals: u64,
        best: Option<f64>,
        session_evals: u64,
        session_s: f64,
    ) {
        let rate = if session_s > 0.0 { session_evals as f64 / session_s } else { 0.0 };
        let best = best.map_or("-".to_string(), |b| format!("{b:.6e}"));
        if let Some(bar) = &self.bar {
            if self.last.elapsed() >= Duration::from_millis(100) {
                bar.set_position(evals);
                bar.set_message(format!("gen {generation} best {best} {rate:.0} evals/s"));
                self.last = Instant::now();
            }
        } else if self.lines && self.last.elapsed() >= self.every {
            println!("gen {generation} evals {evals} best {best} evals/s {rate:.0}");
            self.last = Instant::now();
        }
    }

    pub(crate) fn finish(&mut self, generation: u64, evals: u64, best: Option<f64>, stop: &str) {
        let best = best.map_or("-".to_string(), |b| format!("{b:.17e}"));
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !self.quiet {
            println!("done: gen {generation} evals {evals} best {best} stop {stop}");
        }
    }
}
