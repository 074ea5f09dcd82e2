//! Name suggestions for error messages ("did you mean `cmaes`?"), shared by the study layer
//! and configurations that validate names themselves (gymnasium ids).

/// Edit distance (insertions, deletions, substitutions), counted in characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest name by edit distance, if it is close enough to be a plausible typo.
pub fn closest<'a>(name: &str, options: &[&'a str]) -> Option<&'a str> {
    let (best, d) = options.iter().map(|o| (*o, levenshtein(name, o))).min_by_key(|(_, d)| *d)?;
    let limit = (name.chars().count().max(best.chars().count()) / 3).max(2);
    (d <= limit).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(closest("popsiz", &["sigma0", "popsize"]), Some("popsize"));
        assert_eq!(closest("zzzzzz", &["cmaes", "random"]), None);
    }
}
