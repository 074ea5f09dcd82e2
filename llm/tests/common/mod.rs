//! The real model for tests: the default SmolLM2 file, or a visible skip when it is absent
//! (a failure when `EVOFORGE_REQUIRE_MODEL=1`, as CI sets after downloading it).
#![allow(dead_code)]
use std::path::PathBuf;

/// The model file, or `None` (after a message) when it is absent and not required.
pub fn model_path(test: &str) -> Option<PathBuf> {
    let p = evoforge_llm::evollm::default_model_path();
    if p.is_file() {
        return Some(p);
    }
    let required = std::env::var("EVOFORGE_REQUIRE_MODEL").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: EVOFORGE_REQUIRE_MODEL=1 but the model {} is missing; fetch it with: {}",
        p.display(),
        evoforge_llm::evollm::DOWNLOAD_HINT
    );
    eprintln!(
        "SKIPPED {test}: no model at {} (set EVOFORGE_MODEL_DIR, or: {})",
        p.display(),
        evoforge_llm::evollm::DOWNLOAD_HINT
    );
    None
}
