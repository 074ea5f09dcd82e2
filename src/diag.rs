//! Diagnostics for study files: file, line, column and field for every error, with a
//! "did you mean" for unknown names.
use std::fmt;

/// An error in a study file, located as precisely as the parser allows.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyError {
    /// File the study came from (or `<inline>`).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// Dotted path of the field (`strategy.sigma0`), empty when the error is about the document.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// The offending source line, for display.
    pub snippet: Option<String>,
}

impl fmt::Display for StudyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column.max(1))?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": field `{}`: {}", self.field, self.message)?;
        }
        if let Some(s) = &self.snippet {
            write!(f, "\n  {:>4} | {}", self.line, s)?;
            if self.column > 0 {
                let pad =
                    s.chars().take(self.column - 1).map(|c| if c == '\t' { '\t' } else { ' ' });
                write!(f, "\n       | {}^", pad.collect::<String>())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for StudyError {}

impl StudyError {
    /// An error at `line`/`column` of `src` (1-based), with the field found from the indentation.
    pub fn at(file: &str, src: &str, line: usize, column: usize, message: String) -> Self {
        let mut field = if line > 0 { path_at(src, line) } else { String::new() };
        let snippet = src.lines().nth(line.wrapping_sub(1)).map(str::to_string);
        // Inside a flow mapping (`{a: 1, b: x}`) the column points at the key itself.
        if let Some(l) = &snippet
            && column > 0
            && let Some((at, _)) = l.char_indices().nth(column - 1)
            && let Some((_, key)) = key_of(&l[at..])
            && !field.ends_with(key)
        {
            field = if field.is_empty() { key.to_string() } else { format!("{field}.{key}") };
        } else if let Some(l) = &snippet
            && column > 0
            && let Some((at, _)) = l.char_indices().nth(column - 1)
            && let Some(key) = flow_key_before(&l[..at])
            && !field.ends_with(key)
        {
            // ... or at the value of a key of a flow mapping.
            field = if field.is_empty() { key.to_string() } else { format!("{field}.{key}") };
        }
        Self { file: file.to_string(), line, column, field, message, snippet }
    }

    /// An error about `field` (dotted path); the location is looked up in `src`.
    pub fn field(file: &str, src: &str, field: &str, message: String) -> Self {
        let (line, column) = locate(src, field).unwrap_or((0, 0));
        let snippet = if line > 0 { src.lines().nth(line - 1).map(str::to_string) } else { None };
        Self { file: file.to_string(), line, column, field: field.to_string(), message, snippet }
    }
}

/// Turns a serde-saphyr error into a [`StudyError`] naming the field and suggesting a name.
pub fn from_yaml_error(file: &str, src: &str, e: &serde_saphyr::Error) -> StudyError {
    let plain = e.without_snippet().to_string();
    let mut msg = plain.strip_prefix("error: ").unwrap_or(&plain).to_string();
    // serde-saphyr prefixes "line L column C: "; we print the location ourselves.
    if msg.starts_with("line ")
        && let Some(i) = msg.find(": ")
    {
        msg = msg[i + 2..].to_string();
    }
    let mut msg = msg.lines().next().unwrap_or("").to_string();
    // Some messages repeat the location at the end; it is already in front.
    if let Some(i) = msg.rfind(" at line ")
        && msg[i..].contains(", column ")
    {
        msg.truncate(i);
    }
    let msg = add_suggestion(&msg);
    let (line, column) =
        e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
    let mut err = StudyError::at(file, src, line, column, msg);
    // A missing field is reported at the end of its mapping: name the mapping's path instead
    // of whatever key happens to sit on that line.
    if let Some(name) = between(&err.message, "missing field `", "`") {
        err.field = name.to_string();
    }
    err
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(&s[i..j])
}

/// Appends "did you mean `x`?" to serde's unknown-field and unknown-variant messages.
pub fn add_suggestion(msg: &str) -> String {
    let Some(rest) =
        msg.strip_prefix("unknown field `").or_else(|| msg.strip_prefix("unknown variant `"))
    else {
        return msg.to_string();
    };
    let Some(end) = rest.find('`') else { return msg.to_string() };
    let name = &rest[..end];
    let Some(exp) = rest.find("expected ") else { return msg.to_string() };
    let list = rest[exp + "expected ".len()..].trim_start_matches("one of ");
    let options: Vec<&str> = list
        .split([',', ' '])
        .map(|s| s.trim().trim_matches('`'))
        .filter(|s| !s.is_empty() && *s != "or")
        .collect();
    match closest(name, &options) {
        Some(best) => format!("{msg} (did you mean `{best}`?)"),
        None => msg.to_string(),
    }
}

pub use evoforge_core::names::{closest, levenshtein};

/// Key of a block-mapping line (`  sigma0: 1` → `sigma0`, `- kind: x` → `kind`).
fn key_of(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.is_empty() {
        return None;
    }
    let indent = line.len() - trimmed.len();
    let (indent, trimmed) = match trimmed.strip_prefix("- ") {
        Some(t) => (indent + 2, t.trim_start()),
        None => (indent, trimmed),
    };
    let end = trimmed.find(':')?;
    let key = trimmed[..end].trim().trim_matches(['"', '\'']);
    if key.is_empty() || !key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return None;
    }
    Some((indent, key))
}

/// In `{a: 1, b: ` the key whose value starts at the end of `prefix` (`b`).
fn flow_key_before(prefix: &str) -> Option<&str> {
    let before_colon = prefix.trim_end().strip_suffix(':')?.trim_end();
    let start = before_colon
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .map_or(0, |i| i + 1);
    let key = &before_colon[start..];
    let opener = before_colon[..start].trim_end().chars().last();
    (!key.is_empty() && matches!(opener, Some('{') | Some(','))).then_some(key)
}

/// The dotted path of the key on `line` (1-based), found by indentation; flow mappings on the
/// line add the key under the column when there is one.
pub fn path_at(src: &str, line: usize) -> String {
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (i, l) in src.lines().enumerate() {
        if let Some((indent, key)) = key_of(l) {
            while stack.last().is_some_and(|(d, _)| *d >= indent) {
                stack.pop();
            }
            stack.push((indent, key.to_string()));
        }
        if i + 1 == line {
            break;
        }
    }
    stack.into_iter().map(|(_, k)| k).collect::<Vec<_>>().join(".")
}

/// Line and column (1-based) of the dotted `path` (`strategy.sigma0`, `strategy.mean0[2]`).
/// Block mappings are followed by indentation; a flow mapping `{a: 1, b: 2}` on the parent's
/// line is searched for the last key.
pub fn locate(src: &str, path: &str) -> Option<(usize, usize)> {
    let parts: Vec<&str> = path
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return None;
    }
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut best: Option<(usize, (usize, usize))> = None;
    for (i, l) in src.lines().enumerate() {
        let Some((indent, key)) = key_of(l) else { continue };
        while stack.last().is_some_and(|(d, _)| *d >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        let keys: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        if keys == parts {
            return Some((i + 1, indent + 1));
        }
        // Deepest matching prefix; the remaining keys may sit in a flow mapping on this line.
        if parts.starts_with(&keys) && best.is_none_or(|(n, _)| keys.len() > n) {
            let mut col = indent + 1;
            for k in &parts[keys.len()..] {
                if let Some(p) = find_key(&l[col - 1..], k) {
                    col += p;
                }
            }
            best = Some((keys.len(), (i + 1, col)));
        }
    }
    best.map(|(_, loc)| loc)
}

fn find_key(s: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find(key) {
        let at = from + p;
        let before_ok = at == 0 || !s.as_bytes()[at - 1].is_ascii_alphanumeric();
        let after = s[at + key.len()..].trim_start();
        if before_ok && after.starts_with(':') {
            return Some(at);
        }
        from = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            add_suggestion("unknown field `popsiz`, expected one of sigma0, popsize"),
            "unknown field `popsiz`, expected one of sigma0, popsize (did you mean `popsize`?)"
        );
        assert_eq!(
            add_suggestion("unknown variant `cmaez`, expected one of `cmaes`, `random`"),
            "unknown variant `cmaez`, expected one of `cmaes`, `random` (did you mean `cmaes`?)"
        );
        assert_eq!(closest("zzzzzz", &["cmaes", "random"]), None);
    }

    #[test]
    fn locate_block_and_flow() {
        let src =
            "name: a\nstrategy:\n  kind: cmaes\n  sigma0: -1\nproblem: {kind: classic, lower: 3}\n";
        assert_eq!(locate(src, "strategy.sigma0"), Some((4, 3)));
        assert_eq!(locate(src, "problem.lower"), Some((5, 26)));
        assert_eq!(path_at(src, 4), "strategy.sigma0");
        assert_eq!(locate(src, "strategy.mean0"), Some((2, 1)));
    }
}
