//! Error types shared by strategies, problems and the study layer.
use thiserror::Error;

/// A configuration value that cannot be used. `field` is the dotted path inside the
/// strategy or problem mapping (for example `sigma0` or `mean0[3]`), so the study layer can
/// point at the file, line and column.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending field, relative to the mapping that was validated.
    pub field: String,
    /// What is wrong, in words a user understands.
    pub message: String,
}

impl ConfigError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A failed evaluation. It reaches `tell` as a failure and ranks worst; it never panics.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{0}")]
pub struct EvalError(pub String);

/// `tell` received results it cannot use (unknown ids, wrong dimension, ...).
#[derive(Debug, Clone, Error, PartialEq)]
#[error("tell: {0}")]
pub struct TellError(pub String);
