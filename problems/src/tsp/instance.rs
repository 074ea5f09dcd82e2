//! TSP instances: the uniform test-set line format of Fu et al., TSPLIB `EUC_2D` files and a
//! seeded uniform generator; tour validity checks and tour lengths.
use std::fmt;
use std::path::Path;

use rand::RngExt;

/// How lengths are measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// Exact Euclidean length (the uniform test sets: coordinates in `[0,1]²`).
    Euclid,
    /// TSPLIB `EUC_2D`: every edge rounded to the nearest integer, `nint(‖p_i − p_j‖)`.
    Euc2d,
}

/// One instance: coordinates, the metric and, when the source has one, a reference tour.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Name (file name and line or TSPLIB `NAME`).
    pub name: String,
    /// x coordinates.
    pub xs: Vec<f64>,
    /// y coordinates.
    pub ys: Vec<f64>,
    /// How edge lengths are measured.
    pub metric: Metric,
    /// A reference tour (0-based permutation), when the source stores a real one.
    pub reference: Option<Vec<u32>>,
}

/// A parse or validity error, with the place it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct TspError {
    /// File (or `<text>`) and line, e.g. `tsp500.txt:3`.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TspError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl std::error::Error for TspError {}

fn err(place: impl Into<String>, message: impl Into<String>) -> TspError {
    TspError { place: place.into(), message: message.into() }
}

impl Instance {
    /// Number of cities.
    pub fn n(&self) -> usize {
        self.xs.len()
    }

    /// The length of edge `(i, j)` in this instance's metric.
    #[inline]
    pub fn dist(&self, i: usize, j: usize) -> f64 {
        let dx = self.xs[i] - self.xs[j];
        let dy = self.ys[i] - self.ys[j];
        let d = (dx * dx + dy * dy).sqrt();
        match self.metric {
            Metric::Euclid => d,
            Metric::Euc2d => (d + 0.5).floor(),
        }
    }

    /// The length of a closed tour (no validity check; see [`Instance::check_tour`]).
    pub fn tour_length(&self, tour: &[u32]) -> f64 {
        let n = tour.len();
        (0..n).map(|k| self.dist(tour[k] as usize, tour[(k + 1) % n] as usize)).sum()
    }

    /// Checks that `tour` visits every city exactly once.
    pub fn check_tour(&self, tour: &[u32]) -> Result<(), String> {
        check_permutation(tour, self.n())
    }

    /// The reference tour's length, when there is one.
    pub fn reference_length(&self) -> Option<f64> {
        self.reference.as_ref().map(|t| self.tour_length(t))
    }

    /// `n` cities drawn uniformly from `[0,1]²` by the stream `(seed, index)` (training sets).
    pub fn uniform(n: usize, seed: u64, index: u64) -> Self {
        let mut rng = evoforge_core::stream(seed, &[evoforge_core::Purpose::Other as u64, index]);
        let mut xs = Vec::with_capacity(n);
        let mut ys = Vec::with_capacity(n);
        for _ in 0..n {
            xs.push(rng.random::<f64>());
            ys.push(rng.random::<f64>());
        }
        Self {
            name: format!("uniform-{n}-{seed}-{index}"),
            xs,
            ys,
            metric: Metric::Euclid,
            reference: None,
        }
    }

    /// One line of the test-set format: `x1 y1 … xN yN output t1 … tN t1`, 1-based tour.
    pub fn from_line(line: &str, place: &str) -> Result<Self, TspError> {
        let mut parts = line.split_whitespace();
        let mut coords = Vec::new();
        let mut saw_output = false;
        for (k, tok) in parts.by_ref().enumerate() {
            if tok == "output" {
                saw_output = true;
                break;
            }
            let v: f64 = tok.parse().map_err(|_| {
                err(place, format!("coordinate {} is not a number: `{tok}`", k + 1))
            })?;
            if !v.is_finite() {
                return Err(err(place, format!("coordinate {} is not finite: `{tok}`", k + 1)));
            }
            coords.push(v);
        }
        if coords.len() % 2 != 0 {
            return Err(err(place, format!("odd number of coordinates ({})", coords.len())));
        }
        let n = coords.len() / 2;
        if n < 3 {
            return Err(err(place, format!("needs at least 3 cities, got {n}")));
        }
        let xs: Vec<f64> = coords.iter().step_by(2).copied().collect();
        let ys: Vec<f64> = coords.iter().skip(1).step_by(2).copied().collect();
        let mut reference = None;
        if saw_output {
            let mut t = Vec::with_capacity(n + 1);
            for tok in parts {
                let v: usize = tok
                    .parse()
                    .map_err(|_| err(place, format!("tour entry is not a city number: `{tok}`")))?;
                if v == 0 || v > n {
                    return Err(err(place, format!("tour city {v} outside 1..={n}")));
                }
                t.push((v - 1) as u32);
            }
            // The tour is closed by repeating its first city.
            if t.len() == n + 1 && t[0] == t[n] {
                t.pop();
            }
            if t.len() != n {
                return Err(err(
                    place,
                    format!("tour has {} cities, expected {n} (+ the first again)", t.len()),
                ));
            }
            // The TSP-10000 file stores the identity, which is no tour of any solver: drop it.
            let identity = t.iter().enumerate().all(|(i, &c)| c as usize == i);
            if !identity {
                check_permutation(&t, n).map_err(|m| err(place, format!("reference tour: {m}")))?;
                reference = Some(t);
            }
        }
        Ok(Self { name: place.to_string(), xs, ys, metric: Metric::Euclid, reference })
    }

    /// Every non-empty line of a test-set file.
    pub fn read_test_set(path: &Path) -> Result<Vec<Self>, TspError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| err(&file, format!("cannot read: {e}")))?;
        Self::parse_test_set(&text, &file)
    }

    /// Parses test-set text (one instance per non-empty line).
    pub fn parse_test_set(text: &str, file: &str) -> Result<Vec<Self>, TspError> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(Self::from_line(line, &format!("{file}:{}", i + 1))?);
        }
        if out.is_empty() {
            return Err(err(file, "no instance in the file"));
        }
        Ok(out)
    }

    /// A TSPLIB file with `EDGE_WEIGHT_TYPE: EUC_2D` and a `NODE_COORD_SECTION`.
    pub fn parse_tsplib(text: &str, file: &str) -> Result<Self, TspError> {
        let mut name = file.to_string();
        let mut dim: Option<usize> = None;
        let mut kind: Option<String> = None;
        let lines = text.lines().enumerate();
        let mut coords: Vec<Option<(f64, f64)>> = Vec::new();
        let mut in_coords = false;
        for (i, raw) in lines {
            let place = format!("{file}:{}", i + 1);
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if in_coords {
                if line == "EOF" || line.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
                    in_coords = false;
                    if line == "EOF" {
                        break;
                    }
                } else {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if f.len() != 3 {
                        return Err(err(place, "expected `index x y`"));
                    }
                    let idx: usize = f[0]
                        .parse()
                        .map_err(|_| err(&place, format!("bad node index `{}`", f[0])))?;
                    let x: f64 =
                        f[1].parse().map_err(|_| err(&place, format!("bad x `{}`", f[1])))?;
                    let y: f64 =
                        f[2].parse().map_err(|_| err(&place, format!("bad y `{}`", f[2])))?;
                    let n = coords.len();
                    if idx == 0 || idx > n {
                        return Err(err(place, format!("node index {idx} outside 1..={n}")));
                    }
                    if coords[idx - 1].replace((x, y)).is_some() {
                        return Err(err(place, format!("node {idx} given twice")));
                    }
                    continue;
                }
            }
            if line == "NODE_COORD_SECTION" {
                let n = dim.ok_or_else(|| err(&place, "NODE_COORD_SECTION before DIMENSION"))?;
                match kind.as_deref() {
                    Some("EUC_2D") => {}
                    Some(k) => {
                        return Err(err(
                            place,
                            format!("EDGE_WEIGHT_TYPE {k} not supported (only EUC_2D)"),
                        ));
                    }
                    None => {
                        return Err(err(
                            place,
                            "EDGE_WEIGHT_TYPE missing (only EUC_2D is supported)",
                        ));
                    }
                }
                coords = vec![None; n];
                in_coords = true;
                continue;
            }
            let (key, value) = match line.split_once(':') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (line, ""),
            };
            match key {
                "NAME" => name = value.to_string(),
                "DIMENSION" => {
                    let n: usize = value
                        .parse()
                        .map_err(|_| err(&place, format!("bad DIMENSION `{value}`")))?;
                    if n < 3 {
                        return Err(err(place, format!("DIMENSION must be at least 3, got {n}")));
                    }
                    dim = Some(n);
                }
                "EDGE_WEIGHT_TYPE" => kind = Some(value.to_string()),
                "TYPE" if value != "TSP" => {
                    return Err(err(place, format!("TYPE {value} not supported (only TSP)")));
                }
                "EOF" => break,
                _ => {}
            }
        }
        if coords.is_empty() {
            return Err(err(file, "no NODE_COORD_SECTION"));
        }
        if let Some(k) = coords.iter().position(|c| c.is_none()) {
            return Err(err(file, format!("node {} has no coordinates", k + 1)));
        }
        let (xs, ys) = coords.into_iter().map(|c| c.unwrap_or_default()).unzip();
        Ok(Self { name, xs, ys, metric: Metric::Euc2d, reference: None })
    }

    /// Reads instances from a path: a TSPLIB file (`.tsp`) or a test-set file.
    pub fn read_any(path: &Path) -> Result<Vec<Self>, TspError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| err(&file, format!("cannot read: {e}")))?;
        let tsplib = path.extension().is_some_and(|e| e == "tsp")
            || text.lines().any(|l| l.trim() == "NODE_COORD_SECTION");
        if tsplib {
            Ok(vec![Self::parse_tsplib(&text, &file)?])
        } else {
            Self::parse_test_set(&text, &file)
        }
    }

    /// The instance (coordinates and `tour`, 1-based, closed) as one test-set line.
    pub fn to_line(&self, tour: &[u32]) -> String {
        let mut s = String::with_capacity(self.n() * 44);
        for i in 0..self.n() {
            s.push_str(&format!("{} {} ", self.xs[i], self.ys[i]));
        }
        s.push_str("output");
        for &c in tour.iter().chain(tour.first()) {
            s.push_str(&format!(" {}", c + 1));
        }
        s
    }
}

/// Checks that `tour` is a permutation of `0..n`.
pub fn check_permutation(tour: &[u32], n: usize) -> Result<(), String> {
    if tour.len() != n {
        return Err(format!("tour has {} cities, the instance {n}", tour.len()));
    }
    let mut seen = vec![false; n];
    for &c in tour {
        let c = c as usize;
        if c >= n {
            return Err(format!("city {c} does not exist (n = {n})"));
        }
        if std::mem::replace(&mut seen[c], true) {
            return Err(format!("city {c} visited twice"));
        }
    }
    Ok(())
}
