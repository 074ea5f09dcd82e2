//! The noise table against its golden vectors and against the numpy reference
//! (`tools/noise_table.py`, specification in `docs/noise-table.md`).
//!
//! The Python tests need `python3` with numpy. Without it they print a note and pass, unless
//! `EVOFORGE_REQUIRE_PYTHON=1` (set by CI, which installs numpy), where they fail: a CI that
//! silently skipped them would no longer prove that the two implementations agree.
use std::path::{Path, PathBuf};
use std::process::Command;

use evoforge_core::noise::{self, NoiseTable};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("core/ has a parent").to_path_buf()
}

fn golden() -> Value {
    let path = repo_root().join("core/tests/fixtures/noise_golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("golden file is JSON")
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

/// A golden decimal is the shortest repr of the f64 equal to the f32, so it must convert to the
/// f32 exactly, with no rounding at all.
fn check_decimal(decimal: &Value, bits: u32, what: &str) {
    let d = decimal.as_f64().expect("decimal value");
    assert_eq!(
        (d as f32).to_bits(),
        bits,
        "{what}: decimal {d} is not the value with bits {bits:#x}"
    );
    assert_eq!((d as f32) as f64, d, "{what}: decimal {d} is not exactly an f32");
}

#[test]
fn golden_file_is_for_this_generator() {
    assert_eq!(golden()["generator"], noise::GENERATOR);
}

#[test]
fn golden_slices() {
    let gold = golden();
    let slices = gold["slices"].as_array().expect("slices");
    assert!(slices.len() >= 5);
    for s in slices {
        let (seed, start) = (u64_of(&s["seed"]), u64_of(&s["start"]));
        let bits: Vec<u32> =
            s["bits"].as_array().unwrap().iter().map(|b| u64_of(b) as u32).collect();
        let mut out = vec![0.0f32; bits.len()];
        noise::fill(seed, start, &mut out);
        let got: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, bits, "seed {seed}, start {start}");
        for (j, (d, &b)) in s["values"].as_array().unwrap().iter().zip(&bits).enumerate() {
            check_decimal(d, b, &format!("seed {seed}, index {start} + {j}"));
            assert_eq!(noise::value(seed, start.wrapping_add(j as u64)).to_bits(), b);
        }
    }
    // The first slice is the start of a table, so a materialised table reproduces it too.
    let first = &slices[0];
    let bits = first["bits"].as_array().unwrap();
    assert_eq!(u64_of(&first["start"]), 0);
    let table = NoiseTable::new(u64_of(&first["seed"]), bits.len());
    for (v, b) in table.as_slice().iter().zip(bits) {
        assert_eq!(v.to_bits() as u64, u64_of(b));
    }
}

#[test]
fn golden_transform_of_hash_words() {
    for c in golden()["transform"].as_array().expect("transform") {
        let h = u64_of(&c["hash"]);
        let bits = u64_of(&c["bits"]) as u32;
        assert_eq!(noise::normal_from_bits(h).to_bits(), bits, "hash {h:#x}");
        check_decimal(&c["value"], bits, &format!("hash {h:#x}"));
    }
}

#[test]
fn golden_indices() {
    for c in golden()["indices"].as_array().expect("indices") {
        let (word, len, dim) = (u64_of(&c["word"]), u64_of(&c["len"]), u64_of(&c["dim"]));
        let got = noise::index_from_word(word, len as usize, dim as usize);
        assert_eq!(got as u64, u64_of(&c["index"]), "word {word:#x}, len {len}, dim {dim}");
    }
}

/// `true` if `python3` can import numpy. Otherwise prints why the caller is skipped, or panics
/// when `EVOFORGE_REQUIRE_PYTHON=1`.
fn python_with_numpy(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let required = std::env::var("EVOFORGE_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{test}: EVOFORGE_REQUIRE_PYTHON=1 but `python3 -c 'import numpy'` fails"
        );
        eprintln!("note: {test} skipped: python3 with numpy is not available");
    }
    ok
}

fn run_reference(args: &[String]) -> String {
    let script = repo_root().join("tools/noise_table.py");
    let out = Command::new("python3").arg(&script).args(args).output().expect("run python3");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    assert!(
        out.status.success(),
        "python3 tools/noise_table.py {}\n{stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Parses the reference's `bits decimal` lines, checking that the two columns agree.
fn parse_values(stdout: &str) -> Vec<u32> {
    stdout
        .lines()
        .map(|line| {
            let (hex, dec) = line.split_once(' ').expect("`bits decimal` line");
            let bits = u32::from_str_radix(hex, 16).expect("hex bits");
            let d: f64 = dec.parse().expect("decimal");
            assert_eq!((d as f32).to_bits(), bits, "line {line:?}");
            bits
        })
        .collect()
}

#[test]
fn python_reference_reproduces_the_golden_file() {
    if !python_with_numpy("python_reference_reproduces_the_golden_file") {
        return;
    }
    let fixture = repo_root().join("core/tests/fixtures/noise_golden.json");
    let out = run_reference(&["--check".into(), fixture.display().to_string()]);
    assert!(out.contains("matches"), "{out}");
}

/// Fresh randomness for each run, printed so that a failure can be reproduced with the numbers.
fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[test]
fn python_reference_matches_fresh_slices() {
    if !python_with_numpy("python_reference_matches_fresh_slices") {
        return;
    }
    let e = entropy();
    let mix = evoforge_core::rng::mix;
    // A slice in the range tables are built for, and one anywhere in the 64-bit index space.
    let cases = [
        (mix(e), mix(e ^ 1) % (1 << 28), 4096usize),
        (mix(e ^ 2), mix(e ^ 3), 4096),
        (123, mix(e ^ 4) % (1 << 40), 1000),
    ];
    for (seed, start, count) in cases {
        let out = run_reference(&[
            format!("--seed={seed}"),
            format!("--start={start}"),
            format!("--count={count}"),
        ]);
        let bits = parse_values(&out);
        let mut ours = vec![0.0f32; count];
        noise::fill(seed, start, &mut ours);
        assert_eq!(bits.len(), count);
        for (j, (v, b)) in ours.iter().zip(&bits).enumerate() {
            assert_eq!(v.to_bits(), *b, "seed {seed}, index {start} + {j} (entropy {e:#x})");
        }
    }
}

#[test]
fn python_reference_matches_fresh_hash_words() {
    if !python_with_numpy("python_reference_matches_fresh_hash_words") {
        return;
    }
    // Table slices reach the far tail (sqrt(-ln r) > 5) about once in 3.6e10 values, so the
    // transform is also compared on words whose magnitude bits are forced small: each third word
    // reaches the far tail, each third the near tail, the rest are uniform.
    let e = entropy();
    let words: Vec<u64> = (0..1500u64)
        .map(|k| {
            let w = evoforge_core::rng::mix(e.wrapping_add(k));
            match k % 3 {
                0 => w & 0x8000_0000_0fff_ffff, // m < 2^17: r < 2^-36
                1 => w & 0x8000_3fff_ffff_ffff, // m < 2^35: r < 2^-18
                _ => w,
            }
        })
        .collect();
    let mut args = vec!["--hash".to_string()];
    args.extend(words.iter().map(|w| format!("{w:#x}")));
    let bits = parse_values(&run_reference(&args));
    assert_eq!(bits.len(), words.len());
    for (w, b) in words.iter().zip(&bits) {
        assert_eq!(noise::normal_from_bits(*w).to_bits(), *b, "hash {w:#x} (entropy {e:#x})");
    }
}
