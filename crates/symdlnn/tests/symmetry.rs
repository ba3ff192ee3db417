//! Symmetry discovery (null space of `ξ·∇Ld`, and the linearised DEL
//! equations) on exact discrete Lagrangians, where the answer is known.

use symdlnn::data::{generate, Dataset, Trajectory};
use symdlnn::learn::symmetry::{
    agreement, agreement_of, conserved_quantity, discover, discover_variational, EvaluationPoints,
    Symmetries, SymmetryBasis,
};
use symdlnn::learn::{dlnn_trainer, LearnedLd, Recipe, TrainConfig};
use symdlnn::mechanics::{Convergence, Lagrangian, Midpoint, System};

fn data(system: &System, trajectories: usize) -> Dataset {
    data_on(system, trajectories, system.default_grid().fine)
}

/// Ground truth with `fine` integrator steps per kept step (`1`: the data
/// solve the midpoint rule's DEL equations at the kept step exactly, the
/// setting in which the linearised DEL condition is exact).
fn data_on(system: &System, trajectories: usize, fine: usize) -> Dataset {
    let mut grid = system.default_grid();
    grid.fine = fine;
    let ics = if trajectories == 1 {
        vec![system.default_initial_condition()]
    } else {
        generate::sample_initial_conditions(&system.initial_box(), trajectories, 1)
    };
    generate::dataset(system, &ics, grid, Convergence::default()).unwrap()
}

#[test]
fn basis_names_and_evaluation_points_read_back_what_they_write() {
    for name in SymmetryBasis::NAMES
        .iter()
        .chain(&["polynomial:1", "polynomial:6"])
    {
        let basis = SymmetryBasis::from_name(name).unwrap();
        assert_eq!(basis.to_string(), *name);
    }
    for bad in [
        "polynomial:0",
        "polynomial:7",
        "polynomial:",
        "polynomial",
        "Affine",
    ] {
        assert_eq!(SymmetryBasis::from_name(bad), None, "{bad}");
    }
    for text in ["train", "box:7", "train+box:200"] {
        let p = EvaluationPoints::parse(text).unwrap();
        assert_eq!(p.to_string(), text);
        assert_eq!(EvaluationPoints::parse(&p.to_string()), Some(p));
    }
    for bad in ["", "box:0", "train+", "box:x", "trains"] {
        assert_eq!(EvaluationPoints::parse(bad), None, "{bad}");
    }
}

#[test]
fn exact_midpoint_lagrangians_reveal_their_symmetry_to_nine_digits() {
    for name in ["cartpend", "kepler"] {
        let s = System::from_name(name).unwrap();
        let d = data(&s, 1);
        let ld = Midpoint::new(&s, d.dt);
        for points in ["train", "box:200", "train+box:200"] {
            let pairs = EvaluationPoints::parse(points).unwrap().pairs(&d, 0);
            let found = discover(&ld, SymmetryBasis::Affine, 1, &pairs).unwrap();
            let learned: Vec<_> = found.generators.iter().map(|g| g.affine()).collect();
            let a = agreement(&learned, &s.symmetries())[0];
            assert!(a > 1.0 - 1e-9, "{name} {points}: agreement {a}");
            // The symmetry's singular value is at rounding level, the next is not.
            assert!(found.spectrum[0] < 1e-10, "{name}: {:?}", found.spectrum);
            assert!(found.gap.unwrap() > 1e6, "{name}: gap {:?}", found.gap);
        }
    }
}

#[test]
fn free_particle_and_kepler3d_spans_are_found_with_several_trajectories() {
    for (name, k) in [("free-particle", 3), ("kepler3d", 3)] {
        let s = System::from_name(name).unwrap();
        let d = data(&s, 5);
        let ld = Midpoint::new(&s, d.dt);
        let pairs = EvaluationPoints::parse("train+box:200")
            .unwrap()
            .pairs(&d, 0);
        let found = discover(&ld, SymmetryBasis::Affine, k, &pairs).unwrap();
        let learned: Vec<_> = found.generators.iter().map(|g| g.affine()).collect();
        let angles = agreement(&learned, &s.symmetries());
        assert_eq!(angles.len(), k);
        assert!(
            angles.iter().all(|a| *a < 1e-4),
            "{name}: principal angles {angles:?} degrees"
        );
    }
}

/// A search space of polynomial fields (degree ≤ 2 or 3) holds no more
/// symmetries of these exact `Ld`s than the affine one: the null space finds
/// Kepler's rotation and the free particle's three Killing fields, with no
/// nonlinear part, and the learned Noether quantity along Kepler's data is
/// conserved through the general field.
#[test]
fn polynomial_fields_find_the_same_symmetries_and_nothing_nonlinear() {
    for (name, k, trajectories, degree) in [
        ("kepler", 1, 1, 2),
        ("kepler", 1, 1, 3),
        ("free-particle", 3, 5, 2),
    ] {
        let s = System::from_name(name).unwrap();
        let d = data(&s, trajectories);
        let ld = Midpoint::new(&s, d.dt);
        let basis = SymmetryBasis::Polynomial(degree);
        let pairs = EvaluationPoints::parse("train+box:200")
            .unwrap()
            .pairs(&d, 0);
        let found = discover(&ld, basis, k, &pairs).unwrap();
        let a = agreement_of(&found.generators, &s.symmetries());
        if k == 1 {
            assert!(a[0] > 1.0 - 1e-9, "{name} {basis}: agreement {a:?}");
            assert_eq!(found.generators[0].description, "rotation");
            let i = conserved_quantity(&ld, &found.generators[0], &d.trajectories[0].q);
            let g = found.generators[0].affine();
            let affine = conserved_quantity(&ld, &g, &d.trajectories[0].q);
            let gap = i
                .iter()
                .zip(&affine)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(gap < 1e-9 * affine[0].abs(), "{name} {basis}: {gap:e}");
        } else {
            assert!(
                a.iter().all(|x| *x < 1e-4),
                "{name} {basis}: angles {a:?} degrees"
            );
        }
        assert!(
            found.spectrum[k - 1] < 1e-10,
            "{name} {basis}: {:?}",
            found.spectrum
        );
        assert!(
            found.gap.unwrap() > 1e5,
            "{name} {basis}: gap {:?}",
            found.gap
        );
    }
    // The variational solver in the same space: Kepler's rotation again.
    let s = System::from_name("kepler").unwrap();
    let d = data_on(&s, 1, 1);
    let ld = Midpoint::new(&s, d.dt);
    let found = discover_variational(&ld, SymmetryBasis::Polynomial(2), 1, &d).unwrap();
    let a = agreement_of(&found.generators, &s.symmetries())[0];
    assert!(a > 1.0 - 1e-9, "variational: agreement {a}");
}

#[test]
fn rotation_basis_and_conserved_quantity_of_kepler() {
    // Data from the same Ld (no fine steps): its discrete Noether momentum is exact.
    let s = System::from_name("kepler").unwrap();
    let (q0, v0) = s.default_initial_condition();
    let mut grid = s.default_grid();
    grid.fine = 1;
    let d = generate::dataset(&s, &[(q0, v0)], grid, Convergence::default()).unwrap();
    let ld = Midpoint::new(&s, d.dt);
    let pairs = EvaluationPoints::parse("train").unwrap().pairs(&d, 0);
    let found = discover(&ld, SymmetryBasis::Rotations, 1, &pairs).unwrap();
    let g = found.generators[0].affine();
    assert_eq!(found.generators[0].description, "rotation");
    // Along the data, the learned Noether quantity is constant to rounding.
    let i = conserved_quantity(&ld, &g, &d.trajectories[0].q);
    let drift = i.iter().map(|x| (x - i[0]).abs()).fold(0.0, f64::max);
    assert!(drift < 1e-12 * i[0].abs(), "drift {drift:e} of {}", i[0]);
    assert_eq!(s.dim(), 2);
}

#[test]
fn variational_discovery_finds_the_symmetries_of_exact_midpoint_dynamics() {
    for (name, k, trajectories) in [("cartpend", 1, 1), ("kepler", 1, 1), ("kepler3d", 3, 5)] {
        let s = System::from_name(name).unwrap();
        let d = data_on(&s, trajectories, 1);
        let ld = Midpoint::new(&s, d.dt);
        let found = discover_variational(&ld, SymmetryBasis::Affine, k, &d).unwrap();
        let learned: Vec<_> = found.generators.iter().map(|g| g.affine()).collect();
        let a = agreement(&learned, &s.symmetries());
        if k == 1 {
            assert!(a[0] > 1.0 - 1e-9, "{name}: agreement {a:?}");
        } else {
            assert!(a.iter().all(|x| *x < 1e-4), "{name}: angles {a:?} degrees");
        }
        assert!(found.spectrum[k - 1] < 1e-9, "{name}: {:?}", found.spectrum);
        assert!(found.gap.unwrap() > 1e5, "{name}: gap {:?}", found.gap);
    }
    // It finds symmetries of the equations of motion, which can be more than
    // the Lagrangian's: every affine map takes a free particle's uniform
    // motions to uniform motions (the null-space solver finds its three
    // Noether symmetries, see above).
    let s = System::from_name("free-particle").unwrap();
    let d = data_on(&s, 5, 1);
    let ld = Midpoint::new(&s, d.dt);
    let found = discover_variational(&ld, SymmetryBasis::Affine, 1, &d).unwrap();
    assert!(
        found.spectrum.iter().all(|x| *x < 1e-9),
        "{:?}",
        found.spectrum
    );
}

/// The linearised DEL condition does not see a gauge term `Φ(q1) − Φ(q0)`,
/// which hides the symmetry from the null space of `ξ·∇Ld`; symmetrising
/// `Ld` under time reversal (`--time-reversible`) removes the gauge term
/// (it is odd under the swap) and the null space finds the symmetry again.
#[test]
fn a_gauge_term_hides_the_symmetry_from_the_null_space_but_not_from_the_variational_solver_or_time_reversal(
) {
    use symdlnn::mechanics::{
        DiscreteLagrangian, GenericDiscreteLagrangian, PairDerivatives, Scalar,
    };
    /// The midpoint `Ld` plus a gauge term; with `reversed`, its
    /// time-reversal symmetrisation `½ (Ld(q0, q1) + Ld(q1, q0))`.
    struct Gauged<'a> {
        ld: Midpoint<&'a System>,
        reversed: bool,
    }
    fn phi<D: Scalar>(q: &[D]) -> D {
        // Not invariant under the cart's translation.
        q[0] * q[0] * 0.7 + (q[0] * 3.0).sin() * q[1]
    }
    impl Gauged<'_> {
        fn gauged<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D {
            let q1: Vec<D> = q0.iter().zip(delta).map(|(a, b)| *a + *b).collect();
            self.ld.value_at_increment(q0, delta) + phi(&q1) - phi(q0)
        }
    }
    impl DiscreteLagrangian for Gauged<'_> {
        fn dim(&self) -> usize {
            2
        }
        fn step_size(&self) -> f64 {
            self.ld.h
        }
        fn value(&self, q0: &[f64], q1: &[f64]) -> f64 {
            let delta: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| b - a).collect();
            self.value_at_increment(q0, &delta)
        }
        fn derivatives(&self, q0: &[f64], q1: &[f64], out: &mut PairDerivatives) {
            // Through the generic evaluation, by hyper-duals.
            let x: Vec<f64> = q0.iter().chain(q1).copied().collect();
            let f = |x: &[num_dual::HyperDual64]| {
                let delta: Vec<_> = (0..2).map(|i| x[2 + i] - x[i]).collect();
                self.value_at_increment(&x[..2], &delta)
            };
            let (mut g, mut h) = (vec![0.0; 4], vec![0.0; 4]);
            symdlnn::mechanics::second_derivative_block(f, &x, 0..2, 2..4, &mut g, &mut h);
            out.d1.copy_from_slice(&g[..2]);
            out.d2.copy_from_slice(&g[2..]);
            out.jac.copy_from_slice(&h);
        }
    }
    impl GenericDiscreteLagrangian for Gauged<'_> {
        fn value_at_increment<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D {
            let forward = self.gauged(q0, delta);
            if !self.reversed {
                return forward;
            }
            let q1: Vec<D> = q0.iter().zip(delta).map(|(a, b)| *a + *b).collect();
            let back: Vec<D> = delta.iter().map(|d| -*d).collect();
            (forward + self.gauged(&q1, &back)) * 0.5
        }
    }
    let s = System::from_name("cartpend").unwrap();
    let d = data_on(&s, 3, 1);
    let truth = s.symmetries();
    let pairs = EvaluationPoints::parse("train").unwrap().pairs(&d, 0);
    let null_space = |ld: &Gauged| {
        let found = discover(ld, SymmetryBasis::Affine, 1, &pairs).unwrap();
        agreement(&[found.generators[0].affine()], &truth)[0]
    };
    let gauged = Gauged {
        ld: Midpoint::new(&s, d.dt),
        reversed: false,
    };
    let v = discover_variational(&gauged, SymmetryBasis::Affine, 1, &d).unwrap();
    let av = agreement(&[v.generators[0].affine()], &truth)[0];
    assert!(av > 1.0 - 1e-9, "variational agreement {av}");
    let an = null_space(&gauged);
    assert!(
        an < 0.9,
        "null-space agreement {an} (the gauge term should hide the symmetry)"
    );
    let reversed = Gauged {
        reversed: true,
        ..gauged
    };
    let ar = null_space(&reversed);
    assert!(
        ar > 1.0 - 1e-9,
        "null-space agreement after time reversal {ar}"
    );
}

/// A DLNN learned from 20 Kepler trajectories (no symmetry term, no
/// initial guess): variational discovery finds the rotation.
#[test]
fn variational_discovery_finds_keplers_rotation_in_a_learned_model() {
    let s = System::from_name("kepler").unwrap();
    let mut config = TrainConfig::new(Recipe::Robust, 2000);
    config.hidden = vec![32, 32];
    let (a, found) = learned_variational(&config, &s, 20);
    // Measured 0.9993 (seeds 0; 0.9994–0.9998 for 3 × 64 wide, 3 000 epochs).
    assert!(a > 0.995, "agreement {a}");
    assert!(found.gap.unwrap() > 3.0, "gap {:?}", found.gap);
}

/// Train a DLNN under `config` on the positions of `trajectories` of
/// `system` (drawn as `data` draws them) and return the variational
/// solver's generator's agreement with the system's symmetry.
fn learned_variational(
    config: &TrainConfig,
    system: &System,
    trajectories: usize,
) -> (f64, Symmetries) {
    let truth = data(system, trajectories);
    let n = truth.n;
    let positions = Dataset {
        n,
        dt: truth.dt,
        trajectories: truth
            .trajectories
            .iter()
            .map(|t| Trajectory::from_positions(n, 0.0, truth.dt, t.q.clone()))
            .collect(),
    };
    let mut trainer = dlnn_trainer(config, &positions).unwrap();
    for _ in 0..config.epochs {
        trainer.step().unwrap();
    }
    let ld = LearnedLd::new(
        trainer.mlp.clone(),
        trainer.objective.parametrisation().clone(),
    );
    let found = discover_variational(&ld, SymmetryBasis::Affine, 1, &positions).unwrap();
    let a = agreement(&[found.generators[0].affine()], &system.symmetries())[0];
    (a, found)
}

/// Free-particle trajectories do not identify the rotation: `L_S = ½ q̇ᵀS q̇`
/// moves along the same uniform straight lines for every positive-definite
/// `S`, and its Noether symmetries are the translations and the rotation of
/// the metric `S`, `ξ = S⁻¹J q`. A learned `Ld` may settle on any `S`; only
/// an isotropic prior (the kinetic prior `h|v|²/2` alone is one) or luck
/// picks the Euclidean rotation (measured in the note of issue 4).
#[test]
fn free_particle_data_do_not_tell_the_rotation_from_a_skewed_one() {
    use symdlnn::mechanics::{AffineGenerator, DiscreteLagrangian, PairDerivatives, Scalar};
    const S: [f64; 4] = [1.0, 0.3, 0.3, 0.5];
    struct Skewed;
    impl Lagrangian for Skewed {
        fn dim(&self) -> usize {
            2
        }
        fn lagrangian<D: Scalar>(&self, _q: &[D], v: &[D]) -> D {
            (v[0] * v[0] * S[0] + v[0] * v[1] * (2.0 * S[1]) + v[1] * v[1] * S[3]) * 0.5
        }
    }
    let s = System::from_name("free-particle").unwrap();
    let d = data(&s, 5);
    let ld = Midpoint::new(Skewed, d.dt);
    // The free particle's data solve the skewed Ld's DEL equations.
    let mut worst = 0.0f64;
    let (mut a, mut b) = (PairDerivatives::zeros(2), PairDerivatives::zeros(2));
    for t in &d.trajectories {
        for k in 1..t.len() - 1 {
            ld.derivatives(t.position(k - 1), t.position(k), &mut a);
            ld.derivatives(t.position(k), t.position(k + 1), &mut b);
            let r = (0..2)
                .map(|i| (a.d2[i] + b.d1[i]).abs())
                .fold(0.0, f64::max);
            let scale = a.d2.iter().map(|x| x.abs()).fold(0.0, f64::max);
            worst = worst.max(r / scale);
        }
    }
    assert!(worst < 1e-12, "relative DEL residual {worst:e}");
    // Its symmetries: both translations and S⁻¹J, not the Euclidean rotation.
    let det = S[0] * S[3] - S[1] * S[1];
    let skew_rotation = AffineGenerator::new(
        "rotation of the metric S",
        vec![S[1] / det, S[3] / det, -S[0] / det, -S[1] / det],
        vec![0.0, 0.0],
    );
    let translations: Vec<_> = s
        .symmetries()
        .into_iter()
        .filter(|g| g.m.iter().all(|x| *x == 0.0))
        .collect();
    assert_eq!(translations.len(), 2);
    let mut skewed_span = translations;
    skewed_span.push(skew_rotation);
    let pairs = EvaluationPoints::parse("train+box:200")
        .unwrap()
        .pairs(&d, 0);
    let found = discover(&ld, SymmetryBasis::Affine, 3, &pairs).unwrap();
    let learned: Vec<_> = found.generators.iter().map(|g| g.affine()).collect();
    let to_skewed = agreement(&learned, &skewed_span);
    assert!(to_skewed.iter().all(|x| *x < 1e-4), "{to_skewed:?} degrees");
    let to_truth = agreement(&learned, &s.symmetries());
    assert!(to_truth[2] > 10.0, "{to_truth:?} degrees");
}

/// 20 cart–pendulum trajectories that turn the pendulum over: with φ as an
/// angle (`--angles 1`) the fit and the variational solver find the cart's
/// translation on every seed (measured: 0.999999, 0.999981, 0.999998; with
/// φ as a plain coordinate 0.0060, 0.9959, 0.068).
#[test]
#[ignore = "3 seeds × 3 000 epochs on 20 trajectories: ~2 minutes in release; run with --ignored"]
fn twenty_turning_cart_pendulum_trajectories_with_an_angle_coordinate() {
    let s = System::from_name("cartpend").unwrap();
    let mut found = vec![];
    for seed in 0..3 {
        let mut config = TrainConfig::new(Recipe::Robust, 3000);
        config.hidden = vec![64, 64];
        config.dlnn_mut().unwrap().angles = vec![1];
        config.seed = seed;
        let (a, _) = learned_variational(&config, &s, 20);
        println!("seed {seed}: agreement {a}");
        found.push(a);
    }
    assert!(found.iter().all(|&a| a > 0.9999), "{found:?}");
}

/// Train on the system's one default trajectory under `config` for each
/// seed and return the null-space generator's agreement with the truth,
/// evaluated at `points` (what `train --method symdlnn --sym-solver
/// nullspace` does).
fn single_trajectory_null_space(system: &str, config: &TrainConfig, points: &str) -> Vec<f64> {
    let s = System::from_name(system).unwrap();
    let d = data(&s, 1);
    (0..5)
        .map(|seed| {
            let config = TrainConfig {
                seed,
                ..config.clone()
            };
            let mut trainer = dlnn_trainer(&config, &d).unwrap();
            for _ in 0..config.epochs {
                trainer.step().unwrap();
            }
            let ld = LearnedLd::new(
                trainer.mlp.clone(),
                trainer.objective.parametrisation().clone(),
            );
            let pairs = EvaluationPoints::parse(points).unwrap().pairs(&d, seed);
            let g = discover(&ld, SymmetryBasis::Affine, 1, &pairs).unwrap();
            let a = agreement(&[g.generators[0].affine()], &s.symmetries())[0];
            println!("{system} seed {seed}: agreement {a}");
            a
        })
        .collect()
}

/// One Kepler trajectory (the paper's 50 steps, 58 % of an orbit), no
/// initial guess: with `Ld` symmetrised under time reversal (no gauge
/// term) the null space of `ξ·∇Ld` at the training pairs and 200 box pairs
/// finds the rotation (`train --method symdlnn --sym-solver nullspace
/// --time-reversible --epochs 6000`; measured 0.99233, 0.99433, 0.99187,
/// 0.99146, 0.99447 for seeds 0–4, and 0.904, 0.732, 0.760 for seeds 0–2
/// without time reversal at 3 000 epochs). Not every seed: seed 6 gives
/// 0.973 (seeds 5 and 7: 0.99487, 0.99673).
#[test]
#[ignore = "5 seeds × 6 000 epochs of the 3 × 128 network: ~1 minute in release; run with --ignored"]
fn one_kepler_trajectory_gives_the_rotation_to_the_null_space_of_a_time_reversible_ld() {
    let mut config = TrainConfig::new(Recipe::Robust, 6000);
    config.dlnn_mut().unwrap().time_reversible = true;
    let found = single_trajectory_null_space("kepler", &config, "train+box:200");
    // The goal, 0.99; the measured minimum is 0.99146.
    assert!(found.iter().all(|&a| a >= 0.99), "{found:?}");
}

/// The paper's one cart–pendulum trajectory (it turns over once): with φ
/// an angle, `Ld` time-reversible and 1 000 box pairs the null space finds
/// the cart's translation (measured 0.99888, 0.99715, 0.99963, 0.99958,
/// 0.99797 for seeds 0–4, and 0.99914, 0.99988, 0.99783 for seeds 5–7;
/// 0.149 for seed 0 with neither switch and 200 box pairs).
#[test]
#[ignore = "5 seeds × 3 000 epochs of the 3 × 128 network: ~2 minutes in release; run with --ignored"]
fn one_cart_pendulum_trajectory_gives_the_translation_with_an_angle_and_time_reversal() {
    let mut config = TrainConfig::new(Recipe::Robust, 3000);
    config.dlnn_mut().unwrap().time_reversible = true;
    config.dlnn_mut().unwrap().angles = vec![1];
    let found = single_trajectory_null_space("cartpend", &config, "train+box:1000");
    // The goal, 0.997; the measured minimum is 0.99715.
    assert!(found.iter().all(|&a| a >= 0.997), "{found:?}");
}
