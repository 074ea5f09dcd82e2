//! The append-only journal: one JSON line per ask, evaluation and tell.
//!
//! Durability: lines go through a buffer to the OS at every generation boundary (so a killed
//! process loses at most the evaluations of the generation in flight, which are re-issued), and
//! are fsynced at most `fsync_seconds` apart against power loss, never per line. A line cut by a
//! kill is detected on resume (no trailing newline, or unparseable tail) and discarded.
//!
//! Evaluation lines are written in ask order as soon as every earlier candidate of the
//! generation has its result, which makes the journal the same at any thread count.
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use evoforge_core::{Evaluation, Metrics, Outcome};
use serde::{Deserialize, Serialize};

/// Version of the journal format; bumped whenever lines or random streams change meaning.
pub const JOURNAL_VERSION: u32 = 1;

/// One evaluation line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalLine {
    /// Candidate id.
    pub id: u64,
    /// Generation it was asked in.
    #[serde(rename = "gen")]
    pub generation: u64,
    /// The evaluated point; for strategies with compact genomes only when the dimension is
    /// small (see [`crate::driver::JOURNAL_X_MAX`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<Vec<f64>>,
    /// The genome, for strategies with compact genomes (`Strategy::COMPACT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genome: Option<serde_json::Value>,
    /// The first objective value as the problem returned it (user's sign); absent on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f: Option<f64>,
    /// All objective values, when there is more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
    /// Constraint violations, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<f64>>,
    /// Cost reported by the problem, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// Extras (behaviour descriptors), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Vec<f64>>,
    /// Statistics for the problem's per-generation state, when any (needed on resume to
    /// rebuild the state exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Vec<f64>>,
    /// Why the evaluation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall-clock seconds of the evaluation.
    pub wall: f64,
}

impl EvalLine {
    /// Builds the line for an outcome (values in the user's sign).
    pub fn new(
        id: u64,
        generation: u64,
        x: Option<Vec<f64>>,
        genome: Option<serde_json::Value>,
        outcome: &Outcome,
        wall: f64,
    ) -> Self {
        let mut l = EvalLine {
            id,
            generation,
            x,
            genome,
            f: None,
            values: None,
            constraints: None,
            cost: None,
            extras: None,
            stats: None,
            error: None,
            wall,
        };
        match outcome {
            Outcome::Ok(e) => {
                l.f = e.values.first().copied();
                if e.values.len() > 1 {
                    l.values = Some(e.values.clone());
                }
                if !e.constraints.is_empty() {
                    l.constraints = Some(e.constraints.clone());
                }
                if e.cost != 0.0 {
                    l.cost = Some(e.cost);
                }
                l.extras = e.extras.clone();
                l.stats = e.stats.clone();
            }
            Outcome::Failed(m) => l.error = Some(m.clone()),
        }
        l
    }

    /// The outcome recorded by this line.
    pub fn outcome(&self) -> Outcome {
        match (&self.error, self.f) {
            (None, Some(f)) => Outcome::Ok(Evaluation {
                values: self.values.clone().unwrap_or_else(|| vec![f]),
                constraints: self.constraints.clone().unwrap_or_default(),
                cost: self.cost.unwrap_or(0.0),
                extras: self.extras.clone(),
                stats: self.stats.clone(),
            }),
            (Some(m), _) => Outcome::Failed(m.clone()),
            (None, None) => Outcome::Failed("journal line without value".into()),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Header {
        version: u32,
        name: &'a str,
        seed: u64,
        strategy: &'a str,
        dimension: usize,
    },
    Resume {
        generation: u64,
        evaluations: u64,
    },
    Ask {
        #[serde(rename = "gen")]
        generation: u64,
        ids: &'a [u64],
    },
    Tell {
        #[serde(rename = "gen")]
        generation: u64,
        evaluations: u64,
        best_f: Option<f64>,
        metrics: &'a Metrics,
    },
}

/// Appends lines to `journal.jsonl`.
pub struct JournalWriter {
    out: BufWriter<File>,
    buf: Vec<u8>,
    fsync_every: Duration,
    last_sync: Instant,
    dirty: bool,
}

impl JournalWriter {
    /// Opens (creating or appending) the journal at `path`.
    pub fn open(path: &Path, fsync_seconds: f64) -> std::io::Result<Self> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, f),
            buf: Vec::with_capacity(1024),
            fsync_every: Duration::from_secs_f64(fsync_seconds),
            last_sync: Instant::now(),
            dirty: false,
        })
    }

    fn write<T: Serialize>(&mut self, line: &T) -> std::io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, line).map_err(std::io::Error::other)?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.dirty = true;
        Ok(())
    }

    /// The first line of a new journal.
    pub fn header(
        &mut self,
        name: &str,
        seed: u64,
        strategy: &str,
        dimension: usize,
    ) -> std::io::Result<()> {
        self.write(&Line::Header { version: JOURNAL_VERSION, name, seed, strategy, dimension })
    }

    /// Marks where a resumed run starts appending.
    pub fn resume(&mut self, generation: u64, evaluations: u64) -> std::io::Result<()> {
        self.write(&Line::Resume { generation, evaluations })
    }

    /// A generation's ask.
    pub fn ask(&mut self, generation: u64, ids: &[u64]) -> std::io::Result<()> {
        self.write(&Line::Ask { generation, ids })
    }

    /// One evaluation.
    pub fn eval(&mut self, line: &EvalLine) -> std::io::Result<()> {
        self.write(line)
    }

    /// A generation's tell.
    pub fn tell(
        &mut self,
        generation: u64,
        evaluations: u64,
        best_f: Option<f64>,
        metrics: &Metrics,
    ) -> std::io::Result<()> {
        self.write(&Line::Tell { generation, evaluations, best_f, metrics })
    }

    /// Hands buffered lines to the OS (survives a killed process), and fsyncs when the last
    /// fsync is older than the configured interval (survives power loss).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        if self.dirty && self.last_sync.elapsed() >= self.fsync_every {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes and fsyncs now.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Time until the next fsync is due (for bounding waits).
    pub fn sync_due_in(&self) -> Duration {
        self.fsync_every.saturating_sub(self.last_sync.elapsed())
    }
}

/// What a journal holds, for resuming.
#[derive(Debug, Default)]
pub struct JournalContents {
    /// Recorded evaluations by id.
    pub evals: HashMap<u64, EvalLine>,
    /// Generations whose ask line is recorded.
    pub asks: HashSet<u64>,
    /// Generations whose tell line is recorded.
    pub tells: HashSet<u64>,
    /// Whether a header line is present.
    pub has_header: bool,
    /// Bytes of a torn or unparseable tail that were discarded.
    pub discarded_bytes: u64,
}

/// Reads a journal, truncating a torn tail in place (an incomplete last line, or trailing
/// garbage after the last good line, as a power loss can leave). A bad line followed by good
/// ones is corruption, not a torn write, and is an error.
pub fn read_and_repair(path: &Path) -> Result<JournalContents, String> {
    let mut c = JournalContents::default();
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(c),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut good_end = 0usize;
    let mut pos = 0usize;
    let mut bad_line: Option<usize> = None;
    let mut line_no = 0usize;
    while pos < bytes.len() {
        line_no += 1;
        let Some(nl) = bytes[pos..].iter().position(|&b| b == b'\n') else { break };
        let line = &bytes[pos..pos + nl];
        match parse_line(line, &mut c) {
            Ok(()) => {
                if let Some(b) = bad_line {
                    return Err(format!(
                        "{}: line {b} is corrupt but later lines are intact; refusing to guess",
                        path.display()
                    ));
                }
                good_end = pos + nl + 1;
            }
            Err(_) if bad_line.is_none() => bad_line = Some(line_no),
            Err(_) => {}
        }
        pos += nl + 1;
    }
    if good_end < bytes.len() {
        c.discarded_bytes = (bytes.len() - good_end) as u64;
        f.set_len(good_end as u64).map_err(|e| format!("{}: {e}", path.display()))?;
        f.seek(SeekFrom::End(0)).map_err(|e| format!("{}: {e}", path.display()))?;
        f.sync_data().map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(c)
}

fn parse_line(line: &[u8], c: &mut JournalContents) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let ty = v.get("type").and_then(|t| t.as_str());
    let gen_of = |v: &serde_json::Value| v.get("gen").and_then(|g| g.as_u64()).ok_or("no gen");
    match ty {
        None => {
            let e: EvalLine = serde_json::from_value(v).map_err(|e| e.to_string())?;
            c.evals.insert(e.id, e);
        }
        Some("header") => c.has_header = true,
        Some("resume") => {}
        Some("ask") => {
            c.asks.insert(gen_of(&v)?);
        }
        Some("tell") => {
            c.tells.insert(gen_of(&v)?);
        }
        Some(other) => return Err(format!("unknown line type {other}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_discarded_and_values_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        let x = vec![0.1 + 0.2, -1e-300, std::f64::consts::PI];
        {
            let mut w = JournalWriter::open(&p, 1.0).unwrap();
            w.header("t", 1, "cmaes", 3).unwrap();
            w.ask(0, &[0, 1]).unwrap();
            let o = Outcome::Ok(Evaluation::value(1.0 / 3.0));
            w.eval(&EvalLine::new(0, 0, Some(x.clone()), None, &o, 0.5)).unwrap();
            let genome = Some(serde_json::json!({"index": 7, "sign": -1}));
            w.eval(&EvalLine::new(1, 0, None, genome, &Outcome::Failed("nan".into()), 0.5))
                .unwrap();
            w.sync().unwrap();
        }
        let mut bytes = std::fs::read(&p).unwrap();
        let full = bytes.len();
        bytes.extend_from_slice(b"{\"id\":2,\"gen\":0,\"x\":[1.0,");
        std::fs::write(&p, &bytes).unwrap();
        let c = read_and_repair(&p).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len() as usize, full);
        assert!(c.has_header && c.asks.contains(&0));
        assert_eq!(c.evals.len(), 2);
        assert_eq!(c.evals[&0].x.as_ref(), Some(&x));
        assert_eq!(c.evals[&1].genome, Some(serde_json::json!({"index": 7, "sign": -1})));
        assert_eq!(c.evals[&0].outcome(), Outcome::Ok(Evaluation::value(1.0 / 3.0)));
        assert_eq!(c.evals[&1].outcome(), Outcome::Failed("nan".into()));
        // corruption in the middle is an error
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[0] = b'#';
        std::fs::write(&p, &bytes).unwrap();
        assert!(read_and_repair(&p).unwrap_err().contains("corrupt"));
    }
}
