//! The worker-process protocol, version 1: JSON lines on a worker's stdin and stdout.
//!
//! `docs/worker-protocol.md` is the specification; this module is its Rust implementation,
//! shared by the leader ([`crate::ProcessEvaluator`]) and evoforge's own worker
//! (`evoforge worker`), so the two cannot drift apart. In brief:
//!
//! ```text
//! leader → worker   {"type":"hello","version":1,"worker":0,"problem":{…},"strategy":{…},"dimension":d,"compact":true}
//! worker → leader   {"type":"ready","version":1,"pid":1234}
//! leader → worker   {"type":"context","generation":g,"context":<the strategy's context>}
//! leader → worker   {"type":"problem_state","state":[…]}   (problems with a per-generation state)
//! leader → worker   {"type":"tasks","tasks":[{"id":7,"generation":g,"seed":s,"genome":{…}}, {"id":8,…,"x":[…]}]}
//! worker → leader   {"type":"result","id":7,"values":[1.5],"wall":0.01}   or   {"type":"result","id":8,"error":"…"}
//! worker → leader   {"type":"heartbeat"}        (at least every second while it holds tasks)
//! worker → leader   {"type":"fatal","message":"…"}   (cannot go on; then it exits)
//! leader → worker   {"type":"shutdown"}          (or end of input: the worker exits)
//! ```
//!
//! Floats are JSON numbers written in shortest round-trip form (Rust's `ryu`, Python's `repr`),
//! so they travel bit for bit; the non-finite values are the strings `"inf"`, `"-inf"` and
//! `"NaN"` (as in checkpoints). Integers are exact unsigned 64-bit values.
use std::fmt::Write as _;

use evoforge_core::{Evaluation, Outcome};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Point, Task, TaskResult};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// `{"type":"heartbeat"}`.
pub const HEARTBEAT_LINE: &str = r#"{"type":"heartbeat"}"#;

/// `{"type":"shutdown"}`.
pub const SHUTDOWN_LINE: &str = r#"{"type":"shutdown"}"#;

/// The handshake the leader sends first: what to evaluate and how to decode genomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version ([`VERSION`]).
    pub version: u32,
    /// Index of the worker among the evaluator's workers (0-based).
    pub worker: usize,
    /// The study's problem mapping, `kind` included, with every default filled in.
    pub problem: serde_json::Value,
    /// The study's strategy mapping, `kind` included, with every default filled in.
    pub strategy: serde_json::Value,
    /// Length of a point.
    pub dimension: usize,
    /// Whether tasks carry genomes (decoded by the worker) instead of points.
    pub compact: bool,
}

/// What a worker sends.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerMsg {
    /// The handshake's answer.
    Ready {
        /// Protocol version of the worker.
        version: u32,
        /// Its process id, if it says.
        pid: Option<u64>,
    },
    /// The outcome of one task.
    Result(TaskResult),
    /// Still alive.
    Heartbeat,
    /// The worker cannot go on (and exits).
    Fatal(String),
}

/// What the leader sends, as a worker reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaderMsg {
    /// The handshake.
    Hello(Hello),
    /// A generation's context; `line` is the whole message, whose `context` field the worker
    /// reads with its strategy's context type ([`context_of`]).
    Context {
        /// Generation of the tasks that follow.
        generation: u64,
        /// The message as received.
        line: String,
    },
    /// The problem's per-generation state (`Problem::set_state`) for the tasks that follow.
    ProblemState(Vec<f64>),
    /// Tasks to evaluate, in the order they should preferably run.
    Tasks(Vec<Task>),
    /// Finish and exit.
    Shutdown,
}

/// A float that may be non-finite: a number, or `"inf"`, `"-inf"`, `"NaN"`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct F(f64);

impl<'de> Deserialize<'de> for F {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = f64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or one of \"inf\", \"-inf\", \"NaN\"")
            }
            fn visit_f64<E>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_u64<E>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_i64<E>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<f64, E> {
                match v {
                    "inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "NaN" => Ok(f64::NAN),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V).map(F)
    }
}

fn floats(v: Vec<F>) -> Vec<f64> {
    v.into_iter().map(|f| f.0).collect()
}

/// Appends `v` as JSON: the shortest decimal that reads back to the same bits, or a string for
/// a non-finite value.
pub fn write_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        // serde_json writes finite f64 with ryu: shortest round-trip.
        out.push_str(&serde_json::to_string(&v).expect("finite floats serialise"));
    } else if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v > 0.0 {
        out.push_str("\"inf\"");
    } else {
        out.push_str("\"-inf\"");
    }
}

fn write_f64s(out: &mut String, vs: &[f64]) {
    out.push('[');
    for (i, &v) in vs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_f64(out, v);
    }
    out.push(']');
}

fn write_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("strings serialise"));
}

/// The `hello` line.
pub fn hello_line(h: &Hello) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        #[serde(rename = "type")]
        ty: &'static str,
        #[serde(flatten)]
        hello: &'a Hello,
    }
    serde_json::to_string(&Line { ty: "hello", hello: h }).expect("hello serialises")
}

/// The `problem_state` line.
pub fn problem_state_line(state: &[f64]) -> String {
    let mut out = String::from(r#"{"type":"problem_state","state":"#);
    write_f64s(&mut out, state);
    out.push('}');
    out
}

/// The `context` line; `context_json` is `Decoder::context_json`.
pub fn context_line(generation: u64, context_json: &str) -> String {
    format!(r#"{{"type":"context","generation":{generation},"context":{context_json}}}"#)
}

/// The `tasks` line. Genomes are inserted as the JSON they are.
pub fn tasks_line<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> String {
    let mut out = String::from(r#"{"type":"tasks","tasks":["#);
    for (i, t) in tasks.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, r#"{{"id":{},"generation":{},"seed":{},"#, t.id, t.generation, t.seed);
        match &t.point {
            Point::X(x) => {
                out.push_str(r#""x":"#);
                write_f64s(&mut out, x);
            }
            Point::Genome(g) => {
                out.push_str(r#""genome":"#);
                out.push_str(g);
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// The `ready` line.
pub fn ready_line(pid: u32) -> String {
    format!(r#"{{"type":"ready","version":{VERSION},"pid":{pid}}}"#)
}

/// The `fatal` line.
pub fn fatal_line(message: &str) -> String {
    let mut out = String::from(r#"{"type":"fatal","message":"#);
    write_str(&mut out, message);
    out.push('}');
    out
}

/// The `result` line of one task.
pub fn result_line(r: &TaskResult) -> String {
    let mut out = String::with_capacity(96);
    let _ = write!(out, r#"{{"type":"result","id":{},"#, r.id);
    match &r.outcome {
        Outcome::Ok(e) => {
            out.push_str(r#""values":"#);
            write_f64s(&mut out, &e.values);
            if !e.constraints.is_empty() {
                out.push_str(r#","constraints":"#);
                write_f64s(&mut out, &e.constraints);
            }
            if e.cost != 0.0 {
                out.push_str(r#","cost":"#);
                write_f64(&mut out, e.cost);
            }
            if let Some(x) = &e.extras {
                out.push_str(r#","extras":"#);
                write_f64s(&mut out, x);
            }
            if let Some(x) = &e.stats {
                out.push_str(r#","stats":"#);
                write_f64s(&mut out, x);
            }
        }
        Outcome::Failed(m) => {
            out.push_str(r#""error":"#);
            write_str(&mut out, m);
        }
    }
    out.push_str(r#","wall":"#);
    write_f64(&mut out, r.wall);
    out.push('}');
    out
}

#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "type")]
    ty: String,
}

/// Reads a line a worker sent. An error is a protocol violation (the leader replaces the
/// worker).
pub fn parse_worker(line: &str) -> Result<WorkerMsg, String> {
    let peek: Peek = serde_json::from_str(line).map_err(|e| format!("not a message: {e}"))?;
    let bad = |e: serde_json::Error| format!("bad `{}` message: {e}", peek.ty);
    match peek.ty.as_str() {
        "ready" => {
            #[derive(Deserialize)]
            struct R {
                version: u32,
                #[serde(default)]
                pid: Option<u64>,
            }
            let r: R = serde_json::from_str(line).map_err(bad)?;
            Ok(WorkerMsg::Ready { version: r.version, pid: r.pid })
        }
        "result" => {
            #[derive(Deserialize)]
            struct R {
                id: u64,
                #[serde(default)]
                values: Option<Vec<F>>,
                #[serde(default)]
                constraints: Option<Vec<F>>,
                #[serde(default)]
                cost: Option<F>,
                #[serde(default)]
                extras: Option<Vec<F>>,
                #[serde(default)]
                stats: Option<Vec<F>>,
                #[serde(default)]
                error: Option<String>,
                #[serde(default)]
                wall: Option<F>,
            }
            let r: R = serde_json::from_str(line).map_err(bad)?;
            let outcome = match (r.values, r.error) {
                (Some(values), None) => Outcome::Ok(Evaluation {
                    values: floats(values),
                    constraints: r.constraints.map(floats).unwrap_or_default(),
                    cost: r.cost.map_or(0.0, |c| c.0),
                    extras: r.extras.map(floats),
                    stats: r.stats.map(floats),
                }),
                (None, Some(e)) => Outcome::Failed(e),
                _ => return Err("a result needs exactly one of `values` and `error`".into()),
            };
            let wall = r.wall.map_or(0.0, |w| w.0);
            let wall = if wall.is_finite() && wall >= 0.0 { wall } else { 0.0 };
            Ok(WorkerMsg::Result(TaskResult { id: r.id, outcome, wall }))
        }
        "heartbeat" => Ok(WorkerMsg::Heartbeat),
        "fatal" => {
            #[derive(Deserialize)]
            struct R {
                message: String,
            }
            let r: R = serde_json::from_str(line).map_err(bad)?;
            Ok(WorkerMsg::Fatal(r.message))
        }
        other => Err(format!("unknown message type `{other}`")),
    }
}

/// Reads a line the leader sent (the worker's side).
pub fn parse_leader(line: &str) -> Result<LeaderMsg, String> {
    let peek: Peek = serde_json::from_str(line).map_err(|e| format!("not a message: {e}"))?;
    let bad = |e: serde_json::Error| format!("bad `{}` message: {e}", peek.ty);
    match peek.ty.as_str() {
        "hello" => Ok(LeaderMsg::Hello(serde_json::from_str(line).map_err(bad)?)),
        "problem_state" => {
            #[derive(Deserialize)]
            struct P {
                state: Vec<F>,
            }
            let p: P = serde_json::from_str(line).map_err(bad)?;
            Ok(LeaderMsg::ProblemState(floats(p.state)))
        }
        "context" => {
            #[derive(Deserialize)]
            struct C {
                generation: u64,
            }
            let c: C = serde_json::from_str(line).map_err(bad)?;
            Ok(LeaderMsg::Context { generation: c.generation, line: line.to_string() })
        }
        "tasks" => {
            #[derive(Deserialize)]
            struct W {
                id: u64,
                generation: u64,
                seed: u64,
                #[serde(default)]
                x: Option<Vec<F>>,
                #[serde(default)]
                genome: Option<serde_json::Value>,
            }
            #[derive(Deserialize)]
            struct Ts {
                tasks: Vec<W>,
            }
            let ts: Ts = serde_json::from_str(line).map_err(bad)?;
            let tasks = ts
                .tasks
                .into_iter()
                .map(|w| {
                    let point = match (w.x, w.genome) {
                        (Some(x), None) => Point::X(floats(x)),
                        (None, Some(g)) => Point::Genome(g.to_string()),
                        _ => {
                            return Err(format!(
                                "task {}: give exactly one of `x` and `genome`",
                                w.id
                            ));
                        }
                    };
                    Ok(Task { id: w.id, generation: w.generation, seed: w.seed, point })
                })
                .collect::<Result<_, String>>()?;
            Ok(LeaderMsg::Tasks(tasks))
        }
        "shutdown" => Ok(LeaderMsg::Shutdown),
        other => Err(format!("unknown message type `{other}`")),
    }
}

/// The `context` field of a `context` line, read as `C` (the strategy's context type).
pub fn context_of<C: serde::de::DeserializeOwned>(line: &str) -> Result<C, String> {
    #[derive(Deserialize)]
    struct Ctx<C> {
        context: C,
    }
    serde_json::from_str::<Ctx<C>>(line).map(|c| c.context).map_err(|e| format!("bad context: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_round_trip_bit_for_bit() {
        let xs = vec![0.1, -0.0, 1e-310, f64::MAX, -3.0000000000000004, 123456789.0];
        let tasks = vec![
            Task { id: 3, generation: 1, seed: u64::MAX, point: Point::X(xs.clone()) },
            Task {
                id: 4,
                generation: 1,
                seed: 9,
                point: Point::Genome(r#"{"index":12,"sign":-1}"#.into()),
            },
            Task { id: 5, generation: 1, seed: 0, point: Point::X(vec![f64::INFINITY, f64::NAN]) },
        ];
        let line = tasks_line(&tasks);
        assert!(!line.contains('\n'));
        let LeaderMsg::Tasks(back) = parse_leader(&line).unwrap() else { panic!("{line}") };
        assert_eq!(back[0].seed, u64::MAX);
        let Point::X(x) = &back[0].point else { panic!() };
        for (a, b) in x.iter().zip(&xs) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        let Point::Genome(g) = &back[1].point else { panic!() };
        let g: serde_json::Value = serde_json::from_str(g).unwrap();
        assert_eq!(g, serde_json::json!({"index": 12, "sign": -1}));
        let Point::X(x) = &back[2].point else { panic!() };
        assert!(x[0] == f64::INFINITY && x[1].is_nan());
    }

    #[test]
    fn results_round_trip() {
        let ok = TaskResult {
            id: 7,
            outcome: Outcome::Ok(Evaluation {
                values: vec![0.30000000000000004, f64::NEG_INFINITY],
                constraints: vec![1.5],
                cost: 200.0,
                extras: Some(vec![0.25, -1e-300]),
                stats: Some(vec![3.0, 0.1]),
            }),
            wall: 0.5,
        };
        let failed =
            TaskResult { id: 8, outcome: Outcome::Failed("bad \"point\"\n".into()), wall: 0.0 };
        for r in [ok, failed] {
            let line = result_line(&r);
            assert!(!line.contains('\n'));
            assert_eq!(parse_worker(&line).unwrap(), WorkerMsg::Result(r));
        }
    }

    #[test]
    fn control_messages() {
        assert_eq!(
            parse_worker(&ready_line(42)).unwrap(),
            WorkerMsg::Ready { version: VERSION, pid: Some(42) }
        );
        assert_eq!(parse_worker(HEARTBEAT_LINE).unwrap(), WorkerMsg::Heartbeat);
        assert_eq!(parse_worker(&fatal_line("no GPU")).unwrap(), WorkerMsg::Fatal("no GPU".into()));
        assert_eq!(parse_leader(SHUTDOWN_LINE).unwrap(), LeaderMsg::Shutdown);
        let h = Hello {
            version: VERSION,
            worker: 2,
            problem: serde_json::json!({"kind": "classic", "function": "sphere", "dimension": 3}),
            strategy: serde_json::json!({"kind": "cmaes"}),
            dimension: 3,
            compact: false,
        };
        assert_eq!(parse_leader(&hello_line(&h)).unwrap(), LeaderMsg::Hello(h));
        let line = context_line(5, r#"{"theta":[1.0,"inf"],"sigma":0.5}"#);
        let LeaderMsg::Context { generation: 5, .. } = parse_leader(&line).unwrap() else {
            panic!()
        };
        let v: serde_json::Value = context_of(&line).unwrap();
        assert_eq!(v["sigma"], 0.5);
    }

    #[test]
    fn garbage_is_refused() {
        for line in [
            "",
            "hello",
            "{}",
            r#"{"type":"result"}"#,
            r#"{"type":"result","id":1}"#,
            r#"{"type":"result","id":1,"values":[1],"error":"x"}"#,
            r#"{"type":"result","id":-1,"values":[1]}"#,
            r#"{"type":"result","id":1,"values":["one"]}"#,
            r#"{"type":"bye"}"#,
        ] {
            assert!(parse_worker(line).is_err(), "{line}");
        }
    }
}
