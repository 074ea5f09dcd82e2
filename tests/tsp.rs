//! The TSP module: instances and parsers, tour checks, heatmaps, the 2-opt and k-opt moves of
//! the MCTS on hand-checked instances, determinism under a work budget, `evoforge tsp solve`
//! and a tuning study end to end.
mod common;
use common::*;

use std::time::Instant;

use evoforge_problems::tsp::heatmap::{self, Heatmap};
use evoforge_problems::tsp::mcts::testing;
use evoforge_problems::tsp::{self, HeatmapKind, Instance, MctsParams, Metric};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tsp/tsp500_first4.txt");

fn inst(pts: &[(f64, f64)]) -> Instance {
    Instance {
        name: "t".into(),
        xs: pts.iter().map(|p| p.0).collect(),
        ys: pts.iter().map(|p| p.1).collect(),
        metric: Metric::Euclid,
        reference: None,
    }
}

#[test]
fn test_set_lines_parse_with_reference_tours() {
    let set = Instance::read_test_set(std::path::Path::new(FIXTURE)).unwrap();
    assert_eq!(set.len(), 4);
    for i in &set {
        assert_eq!(i.n(), 500);
        let t = i.reference.as_ref().unwrap();
        i.check_tour(t).unwrap();
        let l = i.reference_length().unwrap();
        // Stored tours of TSP-500 have mean length 16.58; each is within a few percent of it.
        assert!((15.5..17.5).contains(&l), "{l}");
    }
    // The first line written back reads back identically.
    let line = set[0].to_line(set[0].reference.as_ref().unwrap());
    let again = Instance::from_line(&line, "x").unwrap();
    assert_eq!(again.xs, set[0].xs);
    assert_eq!(again.reference, set[0].reference);
}

#[test]
fn parser_errors_name_the_place() {
    let e = Instance::parse_test_set("0 0 1 1 0 1\n0 0 1 x 2 2\n", "f.txt").unwrap_err();
    assert_eq!(e.place, "f.txt:2");
    assert!(e.message.contains("coordinate 4"), "{e}");
    let e = Instance::parse_test_set("0 0 1 1 0\n", "f.txt").unwrap_err();
    assert!(e.message.contains("odd number"), "{e}");
    let e = Instance::from_line("0 0 1 1 0 1 output 1 2 4 1", "l").unwrap_err();
    assert!(e.message.contains("outside 1..=3"), "{e}");
    let e = Instance::from_line("0 0 1 1 0 1 output 1 2 2 1", "l").unwrap_err();
    assert!(e.message.contains("twice"), "{e}");
    let e = Instance::from_line("0 0 1 1 0 1 output 1 2", "l").unwrap_err();
    assert!(e.message.contains("expected 3"), "{e}");
    // The identity "tour" of the TSP-10000 file is no reference.
    let i = Instance::from_line("0 0 1 1 0 1 output 1 2 3 1", "l").unwrap();
    assert!(i.reference.is_none());
    assert!(Instance::parse_test_set("\n\n", "e").is_err());
}

#[test]
fn tsplib_euc2d_parses_and_rounds_edges() {
    let text = "NAME: sq\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n\
                1 0 0\n2 3 0\n3 3 4.4\n4 0 4\nEOF\n";
    let i = Instance::parse_tsplib(text, "sq.tsp").unwrap();
    assert_eq!(i.name, "sq");
    assert_eq!(i.metric, Metric::Euc2d);
    // nint(3) + nint(4.4) + nint(sqrt(9 + 0.16)) + nint(4) = 3 + 4 + 3 + 4.
    assert_eq!(i.tour_length(&[0, 1, 2, 3]), 14.0);
    let bad = text.replace("EUC_2D", "GEO");
    assert!(Instance::parse_tsplib(&bad, "sq.tsp").unwrap_err().message.contains("GEO"));
    let bad = text.replace("4 0 4\n", "");
    assert!(Instance::parse_tsplib(&bad, "sq.tsp").unwrap_err().message.contains("node 4"));
}

#[test]
fn tour_checks_reject_non_permutations() {
    let i = inst(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
    assert!(i.check_tour(&[0, 1, 2, 3]).is_ok());
    assert!(i.check_tour(&[0, 1, 2]).unwrap_err().contains("3 cities"));
    assert!(i.check_tour(&[0, 1, 2, 2]).unwrap_err().contains("twice"));
    assert!(i.check_tour(&[0, 1, 2, 7]).unwrap_err().contains("does not exist"));
    assert!((i.tour_length(&[0, 1, 2, 3]) - 4.0).abs() < 1e-12);
    assert!((i.tour_length(&[0, 2, 1, 3]) - (2.0 + 2.0 * 2f64.sqrt())).abs() < 1e-12);
}

#[test]
fn softdist_rows_are_softmaxes_and_sparse() {
    let i = Instance::uniform(40, 7, 0);
    // k = n − 1: the exact row softmax of −d/τ.
    let tau = 0.05;
    let h = Heatmap::softdist(&i, tau, 39);
    for r in 0..40 {
        let (c, v) = h.row(r);
        assert_eq!(c.len(), 39);
        assert!(!c.contains(&(r as u32)));
        assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let z: f64 = (0..40).filter(|&j| j != r).map(|j| (-i.dist(r, j) / tau).exp()).sum();
        for (&j, &x) in c.iter().zip(v) {
            assert!((x - (-i.dist(r, j as usize) / tau).exp() / z).abs() < 1e-12);
        }
        assert!(v.windows(2).all(|w| w[0] >= w[1]), "largest first");
    }
    // Sparse: k entries per row, still summing to 1, on the k nearest.
    let h = Heatmap::softdist(&i, 0.0066, 5);
    assert_eq!(h.nnz(), 40 * 5);
    let (st, cols, _) = heatmap::nearest(&i, 5);
    for r in 0..40 {
        let (c, v) = h.row(r);
        assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut a: Vec<u32> = c.to_vec();
        let mut b: Vec<u32> = cols[st[r]..st[r + 1]].to_vec();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
    // Symmetrised: H_ij = H_ji.
    let s = h.symmetrized();
    for r in 0..40 {
        let (c, v) = s.row(r);
        for (&j, &x) in c.iter().zip(v) {
            assert!((s.get(j as usize, r) - x).abs() < 1e-15);
            assert!((x - 0.5 * (h.get(r, j as usize) + h.get(j as usize, r))).abs() < 1e-15);
        }
    }
}

#[test]
fn knn_prior_puts_the_table_on_the_nearest_neighbours() {
    let i = Instance::uniform(100, 3, 1);
    let prior = heatmap::knn_prior_for(100);
    assert_eq!(prior.len(), 24);
    let total: f64 = prior.iter().sum();
    let h = Heatmap::knn_prior(&i, prior);
    for r in [0usize, 17, 99] {
        // The k-th nearest neighbour gets p_k / Σp.
        let mut by_d: Vec<usize> = (0..100).filter(|&j| j != r).collect();
        by_d.sort_by(|&a, &b| i.dist(r, a).total_cmp(&i.dist(r, b)));
        for k in 0..24 {
            assert!((h.get(r, by_d[k]) - prior[k] / total).abs() < 1e-15, "row {r} k {k}");
        }
        assert_eq!(h.get(r, by_d[30]), 0.0);
        assert!((h.row(r).1.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert_eq!(heatmap::knn_prior_for(1000).len(), 23);
    assert_eq!(heatmap::knn_prior_for(10000).len(), 30);
}

#[test]
fn heatmap_files_dense_and_sparse() {
    let dense = "3\n0 0.5 0.25\n0.5 0 0.1\n0.2 0.7 0\n";
    let h = Heatmap::parse(dense, "h", 3, 1).unwrap();
    assert_eq!(h.row(0), (&[1u32][..], &[0.5][..]));
    assert_eq!(h.row(2), (&[1u32][..], &[0.7][..]));
    let sparse = "sparse 3\n0 2 0.9\n2 1 0.3\n";
    let h = Heatmap::parse(sparse, "h", 3, 10).unwrap();
    assert_eq!(h.get(0, 2), 0.9);
    assert_eq!(h.get(2, 1), 0.3);
    assert_eq!(h.get(1, 0), 0.0);
    let e = Heatmap::parse("4\n", "h", 3, 1).unwrap_err();
    assert!(e.message.contains("for 4 cities"), "{e}");
    let e = Heatmap::parse("3\n0 1 2\n0 1\n", "h", 3, 1).unwrap_err();
    assert_eq!(e.place, "h:3");
    let e = Heatmap::parse("sparse 3\n0 5 1\n", "h", 3, 1).unwrap_err();
    assert!(e.message.contains("outside"), "{e}");
    assert!(HeatmapKind::parse("softdist:0.01", 20).is_ok());
    assert!(HeatmapKind::parse("softdist:-1", 20).is_err());
    assert!(HeatmapKind::parse("gnn", 20).is_err());
}

#[test]
fn two_opt_uncrosses_a_square() {
    // Tour 0-2-1-3 crosses its diagonals (length 2 + 2√2); 2-opt gives the perimeter (4).
    let i = inst(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
    let t = testing::two_opt_from(&i, &[0, 2, 1, 3], 3);
    assert_eq!(t, vec![0, 1, 2, 3]);
    // On a hexagon visited in a zig-zag every crossing goes.
    let hex: Vec<(f64, f64)> = (0..6)
        .map(|k| {
            let a = k as f64 * std::f64::consts::PI / 3.0;
            (a.cos(), a.sin())
        })
        .collect();
    let i = inst(&hex);
    let t = testing::two_opt_from(&i, &[0, 3, 1, 4, 2, 5], 5);
    assert_eq!(t, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn kopt_step_is_the_sequential_3_opt_move() {
    // Cut (0,1); connect b1=1 to a2=3 (b2 = pred 3 = 2); connect b2=2 to a3=5 (b3 = pred 5 = 4);
    // close (4, 0): removed 0-1, 2-3, 4-5, added 1-3, 2-5, 4-0 → tour 0 4 3 1 2 5.
    let pts = [(0.0, 0.0), (2.0, 0.0), (3.0, 1.0), (1.0, 1.0), (1.0, 3.0), (3.0, 3.0)];
    let i = inst(&pts);
    let (t, gain) = testing::kopt_from(&i, &[0, 1, 2, 3, 4, 5], 0, &[3, 5]);
    assert_eq!(t, vec![0, 4, 3, 1, 2, 5]);
    i.check_tour(&t).unwrap();
    let removed = i.dist(0, 1) + i.dist(2, 3) + i.dist(4, 5);
    let added = i.dist(1, 3) + i.dist(2, 5) + i.dist(4, 0);
    // The solver measures in integer units: the coordinate span (3) maps to 10^7.
    let scale = 1e7 / 3.0;
    assert!(((removed - added) * scale - gain as f64).abs() <= 6.0, "{gain}");
    // The first step alone is the 2-opt move 0 2 1 3 4 5.
    let (t, _) = testing::kopt_from(&i, &[0, 1, 2, 3, 4, 5], 0, &[3]);
    assert_eq!(t, vec![0, 2, 1, 3, 4, 5]);
}

#[test]
fn mcts_finds_the_optimum_of_a_circle() {
    // Cities on a circle, numbered in a scrambled order: the optimal tour is the circle.
    let n = 60;
    let perm: Vec<usize> = (0..n).map(|k| (k * 37) % n).collect();
    let pts: Vec<(f64, f64)> = perm
        .iter()
        .map(|&k| {
            let a = k as f64 * 2.0 * std::f64::consts::PI / n as f64;
            (0.5 + 0.4 * a.cos(), 0.5 + 0.4 * a.sin())
        })
        .collect();
    let i = inst(&pts);
    let opt = 2.0 * n as f64 * 0.4 * (std::f64::consts::PI / n as f64).sin();
    for heat in
        [HeatmapKind::Softdist { tau: Some(0.02), k: 10 }, HeatmapKind::Knn, HeatmapKind::Zero]
    {
        let p = MctsParams {
            t: None,
            work: Some(2_000_000),
            candidate_use_heatmap: heat != HeatmapKind::Zero,
            max_candidate_num: 10,
            ..MctsParams::default()
        };
        let h = heat.build(&i, 0).unwrap();
        let r = tsp::solve(&i, &h, &p, 1, Instant::now());
        i.check_tour(&r.tour).unwrap();
        assert!((r.length - opt).abs() < 1e-9, "{heat:?}: {} vs {opt}", r.length);
    }
}

#[test]
fn every_executed_kopt_action_keeps_a_valid_tour_and_its_length() {
    // The simulation works on pending reversals; executing the chosen prefix must give exactly
    // the claimed gain (checked after every action), for short and deep actions.
    for (n, depth) in [(50, 10), (200, 60), (7, 3)] {
        let i = Instance::uniform(n, 21, depth as u64);
        let p = MctsParams {
            t: None,
            work: Some(2_000_000),
            max_depth: depth,
            h: 2.0,
            ..MctsParams::default()
        };
        let h = HeatmapKind::Softdist { tau: None, k: 20 }.build(&i, 0).unwrap();
        let (_, _, sims) = testing::solve_checked(&i, &h, &p, 9);
        assert!(sims > 100, "{sims}");
    }
}

#[test]
fn a_seed_with_a_work_budget_gives_the_same_tours_at_any_thread_count() {
    let set: Vec<Instance> = (0..4).map(|k| Instance::uniform(120, 11, k)).collect();
    let p = MctsParams { t: None, work: Some(3_000_000), ..MctsParams::default() };
    let heat = HeatmapKind::Softdist { tau: None, k: 30 };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| tsp::solve_all(&set, &heat, &p, 5))
            .into_iter()
            .map(|r| {
                let r = r.unwrap().result;
                (r.tour, r.work, r.simulations)
            })
            .collect::<Vec<_>>()
    };
    let a = run(1);
    assert_eq!(a, run(2));
    assert_eq!(a, run(1));
    for (t, w, s) in &a {
        set[0].check_tour(t).unwrap();
        assert!(*w >= 3_000_000 && *s > 0);
    }
    // Another seed explores differently.
    let other = tsp::solve_all(&set, &heat, &p, 6);
    assert!(other.iter().zip(&a).any(|(o, a)| o.as_ref().unwrap().result.tour != a.0));
}

#[test]
fn solve_cli_reports_gaps_and_writes_tours() {
    let tmp = tempfile::tempdir().unwrap();
    let o = evoforge(
        &[
            "tsp",
            "solve",
            FIXTURE,
            "--limit",
            "2",
            "--t",
            "0",
            "--work",
            "20000000",
            "--threads",
            "2",
            "--tours",
            "tours.txt",
            "--csv",
            "t.csv",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("mean gap"), "{out}");
    let tours = Instance::read_test_set(&tmp.path().join("tours.txt")).unwrap();
    assert_eq!(tours.len(), 2);
    let csv = std::fs::read_to_string(tmp.path().join("t.csv")).unwrap();
    for line in csv.lines().skip(1) {
        let gap: f64 = line.split(',').nth(4).unwrap().parse().unwrap();
        // 2-opt + MCTS from a SoftDist construction: a few percent above the Concorde-set tours.
        assert!((-1.0..8.0).contains(&gap), "{gap}");
    }
    // A bad flag value is named.
    let o = evoforge(&["tsp", "solve", FIXTURE, "--t", "0"], tmp.path());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("work"), "{}", stderr(&o));
    let o = evoforge(&["tsp", "solve", FIXTURE, "--heatmap", "gnn"], tmp.path());
    assert!(stderr(&o).contains("unknown heatmap"), "{}", stderr(&o));
}

#[test]
fn tuning_study_runs_end_to_end_and_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let study = "name: tsp_tune_test\nseed: 3\nproblem: {kind: tsp_mcts, nodes: 60, instances: 3, work: 200000, \
                 reference_work: 3000000, reference_cache: ref.txt}\n\
                 strategy: {kind: cmaes, popsize: 4}\nbudget: {evaluations: 8}\n\
                 evaluator: {kind: threads, threads: 2}\n";
    write(tmp.path(), "s.yaml", study);
    let o = evoforge(&["run", "s.yaml", "--output", "a"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&tmp.path().join("a"));
    assert!(s["evaluations"].as_u64().unwrap() >= 8);
    assert!(tmp.path().join("ref.txt").exists());
    // Second run reads the cached references and reproduces every value.
    let o = evoforge(&["run", "s.yaml", "--output", "b"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        normalized_journal(&tmp.path().join("a")),
        normalized_journal(&tmp.path().join("b"))
    );
    // A cache of other instances is refused with the field named.
    write(tmp.path(), "t.yaml", &study.replace("instances: 3", "instances: 2"));
    let o = evoforge(&["validate", "t.yaml"], tmp.path());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("reference_cache"), "{}", stderr(&o));
}

#[test]
fn tuning_space_declares_integer_and_categorical_coordinates() {
    use evoforge_core::{DimKind, Problem};
    use evoforge_problems::tsp::problem::TuneObjective;
    let json = r#"{"nodes": 30, "instances": 1, "work": 20000, "reference_work": 200000}"#;
    let c: tsp::TspMctsConfig = serde_json::from_str(json).unwrap();
    assert_eq!(c.objective, TuneObjective::Gap);
    let p = c.build().unwrap();
    let kinds: Vec<DimKind> = p.space().dims().iter().map(|d| d.kind).collect();
    use DimKind::*;
    assert_eq!(kinds, [Real, Real, Real, Integer, Integer, Categorical { n: 2 }, Real]);
    // Integer and categorical coordinates need whole bounds; the field is named.
    let mut bad = c.clone();
    bad.lower = Some(vec![0.0, 1.0, 1.0, 4.5, 5.0, 0.0, 0.002]);
    let e = bad.build().unwrap_err().to_string();
    assert!(e.contains("lower[3]") && e.contains("max_candidate_num"), "{e}");
    let mut bad = c;
    bad.upper = Some(vec![3.0, 200.0, 20.0, 50.0, 200.0, 0.7, 0.03]);
    let e = bad.build().unwrap_err().to_string();
    assert!(e.contains("lower[5]") && e.contains("categorical"), "{e}");
}

#[test]
fn generated_instances_take_external_references_and_a_log_gap_objective() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The training set of `kind: tsp_mcts`, written by `tsp generate`, gets reference tours
    // from another solver (here a long MCTS run standing in for LKH-3).
    let o = evoforge(
        &["tsp", "generate", "g.txt", "--nodes", "80", "--count", "2", "--seed", "1234"],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let g = Instance::read_test_set(&dir.join("g.txt")).unwrap();
    assert_eq!(g.len(), 2);
    assert!(g.iter().all(|i| i.n() == 80 && i.reference.is_none()));
    assert_eq!(g[1].xs, Instance::uniform(80, 1234, 1).xs);
    let o = evoforge(
        &["tsp", "solve", "g.txt", "--t", "0", "--work", "20000000", "--tours", "ref.txt"],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let refs = Instance::read_test_set(&dir.join("ref.txt")).unwrap();
    let study = "name: tsp_log\nseed: 2\nproblem: {kind: tsp_mcts, nodes: 80, instances: 2, work: 30000, \
                 reference_cache: ref.txt, objective: OBJ}\n\
                 strategy: {kind: bo, n_init: 3}\nbudget: {evaluations: 4}\n\
                 evaluator: {kind: threads, threads: 1}\n";
    write(dir, "gap.yaml", &study.replace("OBJ", "gap"));
    write(dir, "log.yaml", &study.replace("OBJ", "log_gap"));
    for (f, out) in [("gap.yaml", "a"), ("log.yaml", "b")] {
        let o = evoforge(&["run", f, "--output", out], dir);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // The cache was read, not overwritten, and the log objective is ln of the gap objective.
    let again = Instance::read_test_set(&dir.join("ref.txt")).unwrap();
    assert_eq!(again[0].reference, refs[0].reference);
    let fs = |d: &str| -> Vec<(Vec<f64>, f64)> {
        std::fs::read_to_string(dir.join(d).join("journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v.get("f").is_some())
            .map(|v| (serde_json::from_value(v["x"].clone()).unwrap(), v["f"].as_f64().unwrap()))
            .collect()
    };
    let (a, b) = (fs("a"), fs("b"));
    assert_eq!(a.len(), 4);
    // The Halton design is the same for both; a tiny budget against long-run tours is above 0.
    for ((xa, fa), (xb, fb)) in a.iter().zip(&b).take(3) {
        assert_eq!(xa, xb);
        assert!(*fa > 0.0, "{fa}");
        assert!((fa.ln() - fb).abs() < 1e-12, "{fa} {fb}");
    }
    // Integer and categorical coordinates come back whole from BO.
    for (x, _) in &a {
        assert!(
            x[3].fract() == 0.0 && x[4].fract() == 0.0 && (x[5] == 0.0 || x[5] == 1.0),
            "{x:?}"
        );
    }
}
