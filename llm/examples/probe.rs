//! Loads a GGUF model and prints token ids of texts, or times a constrained query:
//!
//! ```text
//! cargo run --release -p evoforge-llm --example probe -- tokens MODEL TEXT...
//! cargo run --release -p evoforge-llm --example probe -- speed MODEL D [REPEATS] [--file | --q8]
//! ```
use evoforge_llm::embedded::{EmbeddedModel, EmbeddedOptions, Weights};
use evoforge_llm::prompt::{self, Line, PromptStyle};
use evoforge_llm::{LanguageModel, Request};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let weights = if args.iter().any(|a| a == "--file") {
        Weights::File
    } else if args.iter().any(|a| a == "--q8") {
        Weights::Q8_0
    } else {
        Weights::F32
    };
    let args: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (mode, path) = (args[0].as_str(), std::path::Path::new(args[1].as_str()));
    let m = EmbeddedModel::load(path, &EmbeddedOptions { weights, threads: 1 }).unwrap();
    eprintln!("loaded in {:.2} s", m.load_seconds);
    match mode {
        "tokens" => {
            for t in &args[2..] {
                let t = t.replace("\\n", "\n");
                println!("{:?} {:?}", t, m.encode(&t).unwrap());
            }
        }
        "speed" => {
            let d: usize = args[2].parse().unwrap();
            let repeats: u64 = args.get(3).map_or(5, |r| r.parse().unwrap());
            // A context of 8 members, as EvoLLM's default, with pseudo-random coordinates.
            let mut s = 1u64;
            let mut next = || {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 33) % 1001
            };
            let lines: Vec<Line> = (0..8)
                .map(|k| Line { x: (0..d).map(|_| next()).collect(), f: 100 - 12 * k })
                .collect();
            let p = prompt::build(PromptStyle::Completion, &lines, 1000, 100);
            let (mut pt, mut gt, mut sec) = (0, 0, 0.0);
            for seed in 0..repeats {
                let r = Request {
                    prompt: p.clone(),
                    max_tokens: 64,
                    temperature: 0.7,
                    seed,
                    constraint: Some(prompt::constraint(d, 1000)),
                };
                let c = m.complete(&r).unwrap();
                println!(
                    "{:?} prompt {} generated {} {:.3} s",
                    c.text, c.prompt_tokens, c.completion_tokens, c.seconds
                );
                pt += c.prompt_tokens;
                gt += c.completion_tokens;
                sec += c.seconds;
            }
            println!(
                "d={d}: {:.3} s per query, {} prompt + {} generated tokens per query, {:.1} tokens/s overall",
                sec / repeats as f64,
                pt / repeats,
                gt / repeats,
                (pt + gt) as f64 / sec
            );
        }
        _ => panic!("mode: tokens | speed"),
    }
}
