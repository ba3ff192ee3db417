//! Symmetries built into a learned `Ld`: invariance to rounding under the
//! groups they generate, discrete Noether momenta conserved along the
//! model's own rollouts, and the exact discrete Lagrangians of Kepler and
//! the cart–pendulum inside the invariant model class.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symdlnn::data::{generate, Dataset, Trajectory};
use symdlnn::learn::invariant::{BuiltIn, SymmetrySpec};
use symdlnn::learn::symmetry::conserved_quantity;
use symdlnn::learn::{
    dlnn_trainer, BuiltInConfig, LearnedLd, Parametrisation, Recipe, TrainConfig,
};
use symdlnn::mechanics::{
    AffineGenerator, Convergence, DiscreteLagrangian, Lagrangian, Midpoint, System,
    VariationalIntegrator,
};
use symdlnn::nn::{Activation, Mlp};

fn built(n: usize, specs: &[&str]) -> BuiltIn {
    let specs: Vec<SymmetrySpec> = specs.iter().map(|s| s.parse().unwrap()).collect();
    BuiltIn::from_declared(n, &specs, &[]).unwrap()
}

/// `exp(t ξ)·q` for an affine generator `ξ = M q + w` whose `M` is zero or
/// a rotation generator (`M³ = −ω² M`), in closed form:
/// `exp(tM) = I + sin(ωt)/ω M + (1 − cos ωt)/ω² M²`, and the fixed point
/// `c` of the flow from `M c = −w` (least squares).
fn flow(g: &AffineGenerator, t: f64, q: &[f64]) -> Vec<f64> {
    let n = q.len();
    let m = nalgebra::DMatrix::from_row_slice(n, n, &g.m);
    let w = nalgebra::DVector::from_column_slice(&g.w);
    let x = nalgebra::DVector::from_column_slice(q);
    let omega = (m.norm_squared() / 2.0).sqrt();
    if omega == 0.0 {
        return (x + w * t).iter().copied().collect();
    }
    let c = m.clone().svd(true, true).solve(&(-&w), 1e-12).unwrap();
    let e = nalgebra::DMatrix::identity(n, n)
        + &m * ((omega * t).sin() / omega)
        + &m * &m * ((1.0 - (omega * t).cos()) / (omega * omega));
    (&c + e * (x - &c)).iter().copied().collect()
}

/// A random robust parametrisation with `b` built in, standardised on random pairs.
fn invariant_ld(n: usize, b: &BuiltIn, angles: Vec<usize>, tr: bool, seed: u64) -> LearnedLd {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pairs = vec![];
    for _ in 0..40 {
        let a: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
        let b: Vec<f64> = a.iter().map(|x| x + rng.random_range(-0.2..0.2)).collect();
        pairs.extend(a.into_iter().chain(b));
    }
    let q: Vec<f64> = pairs.clone();
    let p = Parametrisation::midpoint_velocity(n, 0.1, &q, &q, true, tr)
        .with_angles(angles, &q)
        .unwrap()
        .with_built_in(b.clone(), &pairs)
        .unwrap();
    let mlp = Mlp::new(p.input_dim(), &[16, 16], Activation::Softplus, seed).unwrap();
    LearnedLd::new(mlp, p)
}

/// `q` with coordinates 0, 1, 2 turned by the angle `theta` about the unit
/// `axis` (Rodrigues: `R = I + sin θ K + (1 − cos θ) K²`) about `centre`.
fn rodrigues(axis: [f64; 3], theta: f64, centre: [f64; 3], q: &[f64]) -> Vec<f64> {
    let (s, c) = theta.sin_cos();
    let x: Vec<f64> = (0..3).map(|i| q[i] - centre[i]).collect();
    let cross = [
        axis[1] * x[2] - axis[2] * x[1],
        axis[2] * x[0] - axis[0] * x[2],
        axis[0] * x[1] - axis[1] * x[0],
    ];
    let along: f64 = (0..3).map(|i| axis[i] * x[i]).sum();
    let mut out = q.to_vec();
    for i in 0..3 {
        // R x = x cos θ + (a × x) sin θ + a (a·x)(1 − cos θ).
        out[i] = centre[i] + x[i] * c + cross[i] * s + axis[i] * along * (1.0 - c);
    }
    out
}

/// A random rotation (axis uniform on the sphere by normalising a box draw, angle in (−π, π)).
fn random_axis_angle(rng: &mut impl Rng) -> ([f64; 3], f64) {
    loop {
        let a: [f64; 3] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
        let l = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        if (0.1..=1.0).contains(&l) {
            let t = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
            return (a.map(|x| x / l), t);
        }
    }
}

/// Dimension, `--symmetry` specs, the `so(3)` centre, angle coordinates.
type So3Case = (usize, &'static [&'static str], [f64; 3], Vec<usize>);

#[test]
fn so3_built_in_leaves_ld_invariant_under_random_rotations() {
    // Ld(g q0, g q1) = Ld(q0, q1) for random g ∈ SO(3) about the centre,
    // with and without time reversal, alone, with a translation along q3,
    // and with q3 an angle.
    let cases: [So3Case; 4] = [
        (3, &["so3"], [0.0; 3], vec![]),
        (3, &["so3:0.3,-0.2,0.1"], [0.3, -0.2, 0.1], vec![]),
        (
            4,
            &["so3:-0.5,0.2,0.4", "translation:0,0,0,1"],
            [-0.5, 0.2, 0.4],
            vec![],
        ),
        (4, &["so3:0.1,0.1,-0.2"], [0.1, 0.1, -0.2], vec![3]),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut worst = 0.0f64;
    for (n, specs, centre, angles) in cases {
        let b = built(n, specs);
        assert!(b.so3.is_some(), "{specs:?}");
        assert_eq!(b.generators().len(), 3 + specs.len() - 1);
        for tr in [false, true] {
            let ld = invariant_ld(n, &b, angles.clone(), tr, 3);
            for _ in 0..40 {
                let q0: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
                let q1: Vec<f64> = q0.iter().map(|x| x + rng.random_range(-0.2..0.2)).collect();
                let before = ld.value(&q0, &q1);
                let (axis, theta) = random_axis_angle(&mut rng);
                let (g0, g1) = (
                    rodrigues(axis, theta, centre, &q0),
                    rodrigues(axis, theta, centre, &q1),
                );
                // The rotation moved the pair (the test is not vacuous).
                assert!((g0[0] - q0[0]).abs() + (g0[1] - q0[1]).abs() > 0.0);
                let after = ld.value(&g0, &g1);
                let rel = (after - before).abs() / before.abs().max(1e-300);
                worst = worst.max(rel);
                assert!(
                    rel <= 1e-12,
                    "{specs:?} tr={tr}: {before} → {after} ({rel:e})"
                );
            }
        }
    }
    // Without so(3) built in, the same network class is not invariant.
    let b = built(3, &["rotation"]);
    let ld = invariant_ld(3, &b, vec![], true, 3);
    let (q0, q1) = ([0.5, 1.0, 0.3], [0.52, 0.97, 0.35]);
    let (g0, g1) = (
        rodrigues([1.0, 0.0, 0.0], 1.0, [0.0; 3], &q0),
        rodrigues([1.0, 0.0, 0.0], 1.0, [0.0; 3], &q1),
    );
    let (a, c) = (ld.value(&q0, &q1), ld.value(&g0, &g1));
    assert!((a - c).abs() > 1e-6 * a.abs(), "{a} vs {c}");
    eprintln!("worst relative change under SO(3): {worst:e}");
}

#[test]
fn built_in_symmetries_leave_ld_invariant_to_rounding() {
    let cases: [(usize, &[&str], Vec<usize>); 5] = [
        (2, &["rotation"], vec![]),
        (2, &["rotation:0.4,-0.3"], vec![]),
        (2, &["translation:1,0"], vec![1]),
        (
            3,
            &["translation:0.3,-1,0.2", "translation:1,0.5,0"],
            vec![],
        ),
        // A rotation in (q0, q1) with a commuting translation along q2 … and an angle q2.
        (3, &["rotation:0.1,0.2", "translation:0,0,1"], vec![]),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for (n, specs, angles) in cases {
        let b = built(n, specs);
        for tr in [false, true] {
            let ld = invariant_ld(n, &b, angles.clone(), tr, 3);
            for _ in 0..20 {
                let q0: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
                let q1: Vec<f64> = q0.iter().map(|x| x + rng.random_range(-0.2..0.2)).collect();
                let before = ld.value(&q0, &q1);
                for g in b.generators() {
                    let t = rng.random_range(-3.0..3.0);
                    let after = ld.value(&flow(&g, t, &q0), &flow(&g, t, &q1));
                    let rel = (after - before).abs() / before.abs().max(1e-300);
                    assert!(
                        rel <= 1e-12,
                        "{specs:?} tr={tr}: {before} → {after} ({rel:e})"
                    );
                }
            }
        }
    }
    // With q2 an angle, a 2π shift of it leaves Ld unchanged too.
    let b = built(3, &["rotation"]);
    let ld = invariant_ld(3, &b, vec![2], true, 5);
    let tau = std::f64::consts::TAU;
    let (a, c) = (
        ld.value(&[0.5, 1.0, 0.3], &[0.52, 0.97, 0.35]),
        ld.value(&[0.5, 1.0, 0.3 + tau], &[0.52, 0.97, 0.35 + tau]),
    );
    assert!((a - c).abs() <= 1e-12 * a.abs(), "{a} vs {c}");
}

#[test]
fn the_invariant_class_holds_the_exact_discrete_lagrangians() {
    // The features are a complete invariant: the pair moved by the group so
    // that its midpoint is canonical has the same features, and the exact
    // midpoint Ld (invariant itself) the same value — so the exact Ld is a
    // function of the features and the constraint removes nothing it needs.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (system, spec, h) in [
        ("kepler", "rotation", 0.1),
        ("cartpend", "translation:1,0", 0.01),
        ("kepler3d", "so3", 0.1),
    ] {
        let s = System::from_name(system).unwrap();
        let n = s.dim();
        let exact = Midpoint::new(&s, h);
        let b = built(n, &[spec]);
        for k in 0..30 {
            // Each built-in generator in turn.
            let gens = b.generators();
            let g = &gens[k % gens.len()];
            let q0: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..1.5)).collect();
            let q1: Vec<f64> = q0
                .iter()
                .map(|x| x + rng.random_range(-0.05..0.05))
                .collect();
            let t = rng.random_range(-3.0..3.0);
            let (g0, g1) = (flow(g, t, &q0), flow(g, t, &q1));
            let (v0, v1) = (exact.value(&q0, &q1), exact.value(&g0, &g1));
            assert!(
                (v0 - v1).abs() <= 1e-11 * v0.abs().max(1.0),
                "{system}: exact Ld {v0} vs {v1}"
            );
            let features = |a: &[f64], c: &[f64]| {
                let qbar: Vec<f64> = a.iter().zip(c).map(|(x, y)| 0.5 * (x + y)).collect();
                let v: Vec<f64> = a.iter().zip(c).map(|(x, y)| (y - x) / h).collect();
                let (mut pos, mut vel) =
                    (vec![0.0; b.position_count()], vec![0.0; b.velocity_count()]);
                b.features(&qbar, &v, &mut pos, &mut vel);
                [pos, vel].concat()
            };
            let (f0, f1) = (features(&q0, &q1), features(&g0, &g1));
            for (x, y) in f0.iter().zip(&f1) {
                assert!(
                    (x - y).abs() <= 1e-9 * (1.0 + x.abs()),
                    "{system}: features {f0:?} vs {f1:?}"
                );
            }
        }
    }
}

/// Train briefly on `system`'s default trajectory with `spec` built in and
/// return the model.
fn trained(
    system: &str,
    spec: &str,
    steps: usize,
    (epochs, hidden): (usize, &[usize]),
) -> (LearnedLd, Vec<f64>, Vec<f64>) {
    let s = System::from_name(system).unwrap();
    let (q0, v0) = s.default_initial_condition();
    let mut grid = s.default_grid();
    grid.steps = steps;
    let tr = generate::trajectory(&s, &q0, &v0, grid, Convergence::default()).unwrap();
    let n = s.dim();
    let data = Dataset {
        n,
        dt: grid.dt,
        trajectories: vec![Trajectory::from_positions(n, 0.0, grid.dt, tr.q.clone())],
    };
    let mut cfg = TrainConfig::new(Recipe::Robust, epochs);
    cfg.hidden = hidden.to_vec();
    let d = cfg.dlnn_mut().unwrap();
    d.time_reversible = true;
    d.built_in = Some(BuiltInConfig {
        symmetry: built(n, &[spec]),
        source: "declared".into(),
    });
    let mut t = dlnn_trainer(&cfg, &data).unwrap();
    for _ in 0..epochs {
        t.step().unwrap();
    }
    let ld = LearnedLd::new(t.mlp.clone(), t.objective.parametrisation().clone());
    (ld, tr.position(0).to_vec(), tr.position(1).to_vec())
}

#[test]
fn a_built_in_generators_noether_momentum_is_conserved_along_rollouts() {
    // (kepler3d's 2 × 32 models do not recreate even their own data; its
    // 2 × 64 one rolls out for four times its training span.)
    for (system, spec, steps, training, rollout) in [
        ("kepler", "rotation", 50, (300, &[32, 32][..]), 1000),
        ("cartpend", "translation:1,0", 200, (300, &[32, 32]), 1000),
        ("kepler3d", "so3", 50, (300, &[64, 64]), 200),
    ] {
        let (ld, q0, q1) = trained(system, spec, steps, training);
        let path = VariationalIntegrator::new(&ld, Convergence::default())
            .rollout_positions(&q0, &q1, rollout)
            .unwrap();
        // so(3): all three momenta (the angular momentum's components),
        // measured against the largest (one of them may vanish).
        let momenta: Vec<(String, Vec<f64>)> = (ld.parametrisation().built_in().unwrap())
            .generators()
            .iter()
            .map(|g| (g.label.clone(), conserved_quantity(&ld, g, &path.q)))
            .collect();
        let scale = (momenta.iter().flat_map(|m| &m.1))
            .map(|x| x.abs())
            .fold(0.0, f64::max);
        // Exact for an invariant Ld (discrete Noether theorem), up to the
        // Newton tolerance (1e-14 relative, of the whole gradient, not of
        // this small component) accumulated over 1 000 steps: the
        // cart–pendulum's varies by 1.5e-10 of 8.6e-3 since the velocity
        // scales are floored at their common one.
        assert!(
            scale > 1e-6,
            "{system}: momentum {scale:e} is too small to test"
        );
        for (label, momentum) in &momenta {
            let spread = momentum
                .iter()
                .map(|x| (x - momentum[0]).abs())
                .fold(0.0, f64::max);
            assert!(
                spread <= 1e-9 * scale,
                "{system} {label}: momentum varies by {spread:e} of {scale:e}"
            );
        }
    }
}
