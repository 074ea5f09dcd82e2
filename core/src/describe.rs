//! Self-description of configuration types, for `evoforge list`.

/// One parameter of a strategy or problem configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDoc {
    /// Field name as written in the study file.
    pub name: &'static str,
    /// Type as a user reads it (`float`, `int`, `[float]`, `none | ipop | bipop`, ...).
    pub ty: &'static str,
    /// Default value as YAML text; `None` for a required field.
    pub default: Option<String>,
    /// One-line meaning.
    pub doc: &'static str,
}

impl ParamDoc {
    /// A parameter with a default.
    pub fn opt(
        name: &'static str,
        ty: &'static str,
        default: impl ToString,
        doc: &'static str,
    ) -> Self {
        Self { name, ty, default: Some(default.to_string()), doc }
    }
    /// A required parameter.
    pub fn req(name: &'static str, ty: &'static str, doc: &'static str) -> Self {
        Self { name, ty, default: None, doc }
    }
}

/// Implemented by every strategy and problem configuration listed by `evoforge list`.
pub trait Describe {
    /// The YAML `kind` of this entry.
    const KIND: &'static str;
    /// One-line summary.
    const SUMMARY: &'static str;
    /// Every parameter with its default.
    fn params() -> Vec<ParamDoc>;
}
