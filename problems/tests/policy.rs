//! The MLP policy problem: network arithmetic, action mapping, configuration errors,
//! determinism, and that a known-good CartPole controller scores 500 while random ones do not.

use evoforge_core::{Describe, EvalCtx, Problem, Purpose, stream};
use evoforge_problems::gym::{Action, ActionSpace};
use evoforge_problems::policy::{argmax, squash};
use evoforge_problems::{Activation, Mlp, PolicyConfig};
use rand::RngExt;

fn ctx(seed: u64) -> EvalCtx {
    EvalCtx { id: 0, generation: 0, seed }
}

#[test]
fn n_params_of_known_architectures() {
    // CartPole with hidden [16]: (4+1)·16 + (16+1)·2 = 80 + 34.
    assert_eq!(Mlp::uniform(&[4, 16, 2], Activation::Tanh).n_params(), 114);
    assert_eq!(Mlp::uniform(&[3, 8, 8, 1], Activation::Relu).n_params(), 32 + 72 + 9);
    assert_eq!(Mlp::uniform(&[4, 2], Activation::Tanh).n_params(), 10);
    let p = PolicyConfig::new("CartPole-v1").build().unwrap();
    assert_eq!(p.n_params(), 114);
    assert_eq!(p.space().dim(), 114);
    assert_eq!(p.space().lower()[0], -1.0);
    assert_eq!(p.optimum(), None);
}

#[test]
fn forward_matches_a_hand_computed_network() {
    // 2 → 2 (tanh) → 1. Layout: W1 (row-major 2×2), b1, W2 (1×2), b2.
    let params = [0.5, -1.0, 2.0, 0.25, 0.1, -0.2, 1.5, -3.0, 0.7];
    let obs = [0.3, -0.4];
    let h0 = (0.5 * 0.3 + -1.0 * -0.4 + 0.1_f64).tanh();
    let h1 = (2.0 * 0.3 + 0.25 * -0.4 + -0.2_f64).tanh();
    let want = 1.5 * h0 + -3.0 * h1 + 0.7;
    let mlp = Mlp::uniform(&[2, 2, 1], Activation::Tanh);
    assert_eq!(mlp.n_params(), params.len());
    let mut scratch = vec![0.0; mlp.scratch_len()];
    let mut out = [0.0];
    mlp.forward(&params, &obs, &mut scratch, &mut out);
    assert!((out[0] - want).abs() < 1e-15, "{} vs {want}", out[0]);

    // ReLU zeroes the negative hidden unit: h = [max(0.65, 0), max(0.3, 0)] with obs [0.3, 0.4].
    let relu = Mlp::uniform(&[2, 2, 1], Activation::Relu);
    let obs = [0.3, 0.4];
    let h0 = (0.5 * 0.3 - 0.4 + 0.1_f64).max(0.0); // W[0] = [0.5, -1]: -0.15 → 0
    let h1 = (2.0 * 0.3 + 0.25 * 0.4 + -0.2_f64).max(0.0);
    assert_eq!(h0, 0.0);
    relu.forward(&params, &obs, &mut scratch, &mut out);
    assert!((out[0] - (-3.0 * h1 + 0.7)).abs() < 1e-15);

    // Three hidden layers exercise both halves of the ping-pong scratch.
    let deep = Mlp::new(&[1, 1, 1, 1, 1], &[Activation::Relu, Activation::Tanh, Activation::Relu]);
    let p = [2.0, 0.0, 1.0, -1.0, 3.0, 0.5, -1.0, 0.0];
    let mut s = vec![0.0; deep.scratch_len()];
    deep.forward(&p, &[0.5], &mut s, &mut out);
    let h = ((2.0_f64 * 0.5).max(0.0) - 1.0).tanh(); // tanh(0)
    let h = (3.0 * h + 0.5_f64).max(0.0);
    assert_eq!(out[0], -h);
}

#[test]
fn forward_batch_equals_row_by_row() {
    let mlp = Mlp::uniform(&[3, 5, 4, 2], Activation::Tanh);
    let mut r = stream(1, &[Purpose::Other as u64]);
    let params: Vec<f64> = (0..mlp.n_params()).map(|_| r.random::<f64>() - 0.5).collect();
    let obs: Vec<f64> = (0..7 * 3).map(|_| r.random::<f64>() * 4.0 - 2.0).collect();
    let mut scratch = vec![0.0; mlp.scratch_len()];
    let mut batch = vec![0.0; 7 * 2];
    mlp.forward_batch(&params, &obs, &mut scratch, &mut batch);
    for (o, y) in obs.chunks(3).zip(batch.chunks(2)) {
        let mut one = [0.0; 2];
        mlp.forward(&params, o, &mut scratch, &mut one);
        assert_eq!(one, y);
    }
}

#[test]
fn discrete_argmax_and_continuous_squashing() {
    assert_eq!(argmax(&[0.1, 0.7, 0.7, -1.0]), 1, "first of equal maxima");
    assert_eq!(argmax(&[f64::NAN, -5.0, 2.0]), 2, "NaN never wins");
    assert_eq!(argmax(&[f64::NAN, f64::NAN]), 0);

    let cart = PolicyConfig::new("CartPole-v1").build().unwrap();
    let mut buf = [0.0; 2];
    assert_eq!(cart.act(&[-1.0, 3.0], &mut buf), Action::Discrete(1));
    let acro = PolicyConfig::new("Acrobot-v1").build().unwrap();
    assert_eq!(acro.mlp().n_out(), 3);
    assert_eq!(acro.act(&[0.0, -1.0, 0.5], &mut [0.0; 3]), Action::Discrete(2));

    // Pendulum: Box([-2, 2], 1). tanh(0) → midpoint; large outputs saturate inside the box.
    let pend = PolicyConfig::new("Pendulum-v1").build().unwrap();
    assert_eq!(pend.mlp().n_out(), 1);
    let mut a = [0.0];
    assert_eq!(pend.act(&[0.0], &mut a), Action::Continuous(&[0.0]));
    let Action::Continuous(&[hi]) = pend.act(&[50.0], &mut a) else { panic!() };
    assert!(hi <= 2.0 && hi > 1.999, "{hi}");
    let Action::Continuous(&[lo]) = pend.act(&[-50.0], &mut a) else { panic!() };
    assert!((-2.0..-1.999).contains(&lo), "{lo}");
    let Action::Continuous(&[v]) = pend.act(&[0.3], &mut a) else { panic!() };
    assert_eq!(v, -2.0 + 0.5 * (0.3_f64.tanh() + 1.0) * 4.0);
    assert_eq!(squash(0.0, -1.0, 1.0), 0.0);
    // And a rollout in a continuous env runs with actions inside the box.
    let x = vec![0.5; pend.n_params()];
    let e = pend.evaluate(&x, &ctx(3)).unwrap();
    assert_eq!(e.cost, 200.0);
    assert!(e.values[0] <= 0.0, "Pendulum rewards are <= 0");
    let mcc = PolicyConfig::new("MountainCarContinuous-v0").build().unwrap();
    assert!(matches!(mcc.act(&[9.0], &mut a), Action::Continuous(_)));
    let _ = ActionSpace::Discrete(2);
}

#[test]
fn deterministic_per_seed_and_different_across_seeds() {
    let mut cfg = PolicyConfig::new("CartPole-v1");
    cfg.episodes = 3;
    let p = cfg.build().unwrap();
    let mut r = stream(7, &[Purpose::Other as u64]);
    let x: Vec<f64> = (0..p.n_params()).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
    let a = p.evaluate(&x, &ctx(11)).unwrap();
    let b = p.evaluate(&x, &ctx(11)).unwrap();
    assert_eq!(a.values[0].to_bits(), b.values[0].to_bits());
    assert_eq!(a.cost, b.cost);
    assert!(a.cost >= 3.0);
    // Pendulum's return is a real number that depends on the initial state, so different
    // seeds must give different values (CartPole's integer returns could tie by chance).
    let pend = PolicyConfig::new("Pendulum-v1").build().unwrap();
    let x: Vec<f64> = (0..pend.n_params()).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
    let v: Vec<f64> = (0..4).map(|s| pend.evaluate(&x, &ctx(s)).unwrap().values[0]).collect();
    for i in 0..4 {
        assert_eq!(v[i].to_bits(), pend.evaluate(&x, &ctx(i as u64)).unwrap().values[0].to_bits());
        for j in 0..i {
            assert_ne!(v[i], v[j], "seeds {i} and {j}");
        }
    }
    // The mean over K episodes is the mean of the single episodes with seeds derive(seed, [k]).
    let mut cfg = PolicyConfig::new("Pendulum-v1");
    cfg.episodes = 2;
    let two = cfg.build().unwrap().evaluate(&x, &ctx(5)).unwrap();
    let r0 = pend.rollout(&x, evoforge_core::rng::derive(5, &[0])).ret;
    let r1 = pend.rollout(&x, evoforge_core::rng::derive(5, &[1])).ret;
    assert_eq!(two.values[0], (r0 + r1) / 2.0);
    assert_eq!(two.cost, 400.0);
}

/// The linear CartPole controller `push right iff θ + 0.5·θ̇ + 0.1·ẋ > 0`, as a hidden-[] MLP:
/// output 0 is constant 0, output 1 is the controller's score, and argmax takes 1 when it is
/// positive.
fn cartpole_controller() -> Vec<f64> {
    // W (2×4, row-major) then b (2).
    vec![0.0, 0.0, 0.0, 0.0, /* row 1 */ 0.0, 0.1, 1.0, 0.5, /* b */ 0.0, 0.0]
}

#[test]
fn hand_designed_linear_policy_balances_cartpole() {
    let mut cfg = PolicyConfig::new("CartPole-v1");
    cfg.hidden = vec![];
    cfg.episodes = 5;
    let p = cfg.build().unwrap();
    assert_eq!(p.n_params(), 10);
    for seed in 0..3 {
        let e = p.evaluate(&cartpole_controller(), &ctx(seed)).unwrap();
        assert_eq!(e.values[0], 500.0, "seed {seed}");
        assert_eq!(e.cost, 2500.0);
    }
    // Random networks in the default search box score far lower on average.
    let q = PolicyConfig::new("CartPole-v1").build().unwrap();
    let mut r = stream(3, &[Purpose::Other as u64]);
    let n = 30;
    let mean = (0..n)
        .map(|i| {
            let x: Vec<f64> = (0..q.n_params()).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
            q.evaluate(&x, &ctx(i)).unwrap().values[0]
        })
        .sum::<f64>()
        / n as f64;
    assert!(mean < 200.0, "random policies average {mean}");
}

#[test]
fn max_steps_overrides_the_time_limit() {
    let mut cfg = PolicyConfig::new("CartPole-v1");
    cfg.hidden = vec![];
    cfg.max_steps = Some(50);
    let e = cfg.build().unwrap().evaluate(&cartpole_controller(), &ctx(0)).unwrap();
    assert_eq!((e.values[0], e.cost), (50.0, 50.0));
}

#[test]
fn observation_normalisation_with_fixed_statistics() {
    // Normalising with mean 0 and std 1 is the identity.
    let mut cfg = PolicyConfig::new("CartPole-v1");
    cfg.hidden = vec![];
    let plain = cfg.build().unwrap();
    cfg.obs_norm = true;
    cfg.obs_mean = Some(vec![0.0; 4]);
    cfg.obs_std = Some(vec![1.0; 4]);
    let ident = cfg.build().unwrap();
    let mut r = stream(9, &[Purpose::Other as u64]);
    let x: Vec<f64> = (0..10).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
    assert_eq!(plain.evaluate(&x, &ctx(1)), ident.evaluate(&x, &ctx(1)));
    // Scaling every std by 2 halves both outputs of a bias-free linear network, so the argmax
    // policy is unchanged. Stds below the 0.1 floor are floored (0.05 and 0.1 give the same
    // policy).
    let mut x = x;
    x[8..].fill(0.0);
    cfg.obs_std = Some(vec![2.0; 4]);
    assert_eq!(plain.evaluate(&x, &ctx(1)), cfg.build().unwrap().evaluate(&x, &ctx(1)));
    cfg.obs_std = Some(vec![0.05; 4]);
    let a = cfg.build().unwrap().evaluate(&x, &ctx(2));
    cfg.obs_std = Some(vec![0.1; 4]);
    assert_eq!(a, cfg.build().unwrap().evaluate(&x, &ctx(2)));
    // A shifted mean changes the policy (the controller now pushes to keep θ near 0.2).
    cfg.obs_std = Some(vec![1.0; 4]);
    cfg.obs_mean = Some(vec![0.0, 0.0, 0.2, 0.0]);
    let shifted = cfg.build().unwrap().evaluate(&cartpole_controller(), &ctx(0)).unwrap();
    assert!(shifted.values[0] < 500.0);
}

#[test]
fn running_observation_statistics() {
    let mut cfg = PolicyConfig::new("CartPole-v1");
    cfg.hidden = vec![];
    let plain = cfg.build().unwrap();
    cfg.obs_norm = true;
    let p = cfg.build().unwrap();
    assert_eq!(plain.state_init(), None);
    // OpenAI-ES's RunningStat(eps=1e-2): mean 0, std 1 before any observation.
    let st0 = p.state_init().unwrap();
    assert_eq!(st0, [0.01, 0.0, 0.0, 0.0, 0.0, 0.01, 0.01, 0.01, 0.01]);
    let described = p.describe_state(&st0);
    assert_eq!(described[0], ("obs_mean".to_string(), vec![0.0; 4]));
    assert_eq!(described[1], ("obs_std".to_string(), vec![1.0; 4]));

    // With the initial statistics the network sees the raw observations (none reaches the
    // clip at 5 in CartPole before termination), so the return is the plain one.
    let mut r = stream(9, &[Purpose::Other as u64]);
    let x: Vec<f64> = (0..10).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
    let a = plain.evaluate(&x, &ctx(1)).unwrap();
    let b = p.evaluate(&x, &ctx(1)).unwrap();
    assert_eq!(a.values, b.values);
    assert_eq!(a.stats, None);
    // The statistics: one observation per step, and the raw sums (recomputed by hand from
    // the same episode).
    let stats = b.stats.clone().unwrap();
    assert_eq!(stats[0], b.cost);
    let mut env = evoforge_problems::gym::make("CartPole-v1").unwrap();
    use evoforge_problems::gym::Env;
    let seed = evoforge_core::rng::derive(1, &[0]);
    let mut obs = env.reset(&mut stream(seed, &[])).to_vec();
    let (mut sum, mut sq) = (vec![0.0; 4], vec![0.0; 4]);
    loop {
        for i in 0..4 {
            sum[i] += obs[i];
            sq[i] += obs[i] * obs[i];
        }
        let mut out = [0.0; 2];
        let mut scratch = vec![0.0; p.mlp().scratch_len()];
        p.mlp().forward(&x, &obs, &mut scratch, &mut out);
        let t = env.step_into(&evoforge_problems::gym::Action::Discrete(argmax(&out)), &mut obs);
        if t.terminated || t.truncated {
            break;
        }
    }
    assert_eq!(&stats[1..5], &sum[..]);
    assert_eq!(&stats[5..], &sq[..]);

    // The update adds the sums (RunningStat.increment); the new statistics change the policy.
    let mut st = st0.clone();
    p.state_update(&mut st, &[&stats, &stats]);
    assert_eq!(st[0], 0.01 + stats[0] + stats[0]);
    let d = p.describe_state(&st);
    let n = st[0];
    for i in 0..4 {
        let mean = st[1 + i] / n;
        assert_eq!(d[0].1[i], mean);
        let want = (st[5 + i] / n - mean * mean).max(0.01).sqrt();
        assert!((d[1].1[i] - want).abs() <= 1e-15 * want, "{} vs {want}", d[1].1[i]);
    }
    p.set_state(&st).unwrap();
    let c = p.evaluate(&cartpole_controller(), &ctx(3)).unwrap();
    p.set_state(&st0).unwrap();
    let c0 = p.evaluate(&cartpole_controller(), &ctx(3)).unwrap();
    assert_ne!(c.values, c0.values, "the statistics must reach the network");
    // A state of the wrong shape is refused; a fixed-statistics policy has none.
    assert!(p.set_state(&[1.0; 3]).is_err());
    assert!(plain.set_state(&st0).is_err());

    // obs_stat_prob: a deterministic share of the evaluations contributes.
    cfg.obs_stat_prob = 0.3;
    let q = cfg.build().unwrap();
    let with: Vec<bool> =
        (0..200).map(|s| q.evaluate(&x, &ctx(s)).unwrap().stats.is_some()).collect();
    let share = with.iter().filter(|&&w| w).count();
    assert!((40..=80).contains(&share), "{share} of 200 at p = 0.3");
    let again: Vec<bool> =
        (0..200).map(|s| q.evaluate(&x, &ctx(s)).unwrap().stats.is_some()).collect();
    assert_eq!(with, again);
}

#[test]
fn configuration_errors_name_the_field() {
    let err = |f: &dyn Fn(&mut PolicyConfig)| {
        let mut c = PolicyConfig::new("CartPole-v1");
        f(&mut c);
        c.build().unwrap_err()
    };
    let e = err(&|c| c.env = "cartpole-v0".into());
    assert_eq!(e.field, "env");
    assert!(e.message.contains("did you mean `CartPole-v1`"), "{e}");
    assert!(e.message.contains("Pendulum-v1"), "lists the known ids: {e}");
    let e = err(&|c| c.env = "HalfCheetah-v5".into());
    assert!(!e.message.contains("did you mean"), "{e}");
    assert_eq!(err(&|c| c.hidden = vec![8, 0]).field, "hidden[1]");
    assert_eq!(err(&|c| c.episodes = 0).field, "episodes");
    assert_eq!(err(&|c| c.max_steps = Some(0)).field, "max_steps");
    assert_eq!(err(&|c| c.param_bound = -1.0).field, "param_bound");
    assert_eq!(err(&|c| c.param_bound = f64::NAN).field, "param_bound");
    assert_eq!(err(&|c| c.obs_mean = Some(vec![0.0; 4])).field, "obs_mean");
    assert_eq!(
        err(&|c| {
            c.obs_norm = true;
            c.obs_mean = Some(vec![0.0; 4]);
        })
        .field,
        "obs_std"
    );
    assert_eq!(
        err(&|c| {
            c.obs_norm = true;
            c.obs_stat_prob = 0.0;
        })
        .field,
        "obs_stat_prob"
    );
    assert_eq!(
        err(&|c| {
            c.obs_norm = true;
            c.obs_clip = f64::NAN;
        })
        .field,
        "obs_clip"
    );
    let e = err(&|c| {
        c.obs_norm = true;
        c.obs_mean = Some(vec![0.0; 3]);
        c.obs_std = Some(vec![1.0; 4]);
    });
    assert_eq!(e.field, "obs_mean");
    let e = err(&|c| {
        c.obs_norm = true;
        c.obs_mean = Some(vec![0.0; 4]);
        c.obs_std = Some(vec![1.0, -1.0, 1.0, 1.0]);
    });
    assert_eq!(e.field, "obs_std[1]");

    // Evaluation errors: wrong length, non-finite parameters.
    let p = PolicyConfig::new("CartPole-v1").build().unwrap();
    assert!(p.evaluate(&[0.0; 3], &ctx(0)).is_err());
    let mut x = vec![0.0; p.n_params()];
    x[5] = f64::NAN;
    assert!(p.evaluate(&x, &ctx(0)).is_err());
}

#[test]
fn serde_form_defaults_and_unknown_fields() {
    let c: PolicyConfig = serde_json::from_str(r#"{"env": "Acrobot-v1"}"#).unwrap();
    assert_eq!(c, PolicyConfig::new("Acrobot-v1"));
    assert_eq!(c.hidden, vec![16]);
    assert_eq!(c.activation, Activation::Tanh);
    assert_eq!((c.episodes, c.max_steps, c.param_bound), (1, None, 1.0));
    let c: PolicyConfig = serde_json::from_str(
        r#"{"env": "Pendulum-v1", "hidden": [], "activation": "relu", "episodes": 4}"#,
    )
    .unwrap();
    assert_eq!(c.build().unwrap().mlp().sizes(), &[3, 1]);
    let e = serde_json::from_str::<PolicyConfig>(r#"{"env": "Pendulum-v1", "hiden": [4]}"#);
    assert!(e.unwrap_err().to_string().contains("hiden"));
    assert_eq!(PolicyConfig::KIND, "gym_policy");
    let names: Vec<_> = PolicyConfig::params().iter().map(|p| p.name).collect();
    for field in ["env", "hidden", "activation", "episodes", "max_steps", "param_bound"] {
        assert!(names.contains(&field), "{field}");
    }
}
