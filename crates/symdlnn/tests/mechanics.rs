//! The exact variational mechanics against analytic solutions, conservation
//! laws, finite differences and an independent (JAX) implementation.

use symdlnn::data::{generate, io};
use symdlnn::mechanics::*;

fn sys(name: &str) -> System {
    System::from_name(name).unwrap()
}

fn rollout(s: &System, q0: &[f64], v0: &[f64], h: f64, steps: usize) -> PhasePath {
    let ld = Midpoint::new(s, h);
    let p0 = s.momentum(q0, v0);
    VariationalIntegrator::new(&ld, Convergence::default())
        .rollout_momentum(q0, &p0, steps, 1)
        .unwrap()
}

#[test]
fn cart_pendulum_conserves_translation_momentum_on_the_paper_protocol() {
    // 20 000 fine steps of h = 1e-4 from the paper's initial condition.
    let s = sys("cartpend");
    let path = rollout(&s, &[0.1, 0.1], &[0.0, 0.0], 1e-4, 20_000);
    let g = &s.symmetries()[0];
    let i0 = g.noether(&path.q[..2], &path.p[..2]);
    let drift = (0..=20_000)
        .map(|k| (g.noether(&path.q[2 * k..2 * k + 2], &path.p[2 * k..2 * k + 2]) - i0).abs())
        .fold(0.0, f64::max);
    // |p_φ| reaches ~0.3; measured drift 8.6e-13 over 20 000 steps.
    assert!(drift < 5e-12, "Noether drift {drift:e}");
    // The pendulum really moved (φ went through several radians).
    assert!(path.q[2 * 20_000 + 1] > 3.0);
}

#[test]
fn kepler_conserves_angular_momentum() {
    let s = sys("kepler");
    let steps = 5_000;
    let path = rollout(&s, &[1.0, 0.0], &[0.0, 0.6], 1e-3, steps);
    let g = &s.symmetries()[0];
    let i0 = g.noether(&path.q[..2], &path.p[..2]);
    let drift = (0..=steps)
        .map(|k| (g.noether(&path.q[2 * k..2 * k + 2], &path.p[2 * k..2 * k + 2]) - i0).abs())
        .fold(0.0, f64::max);
    assert!(
        drift < 1e-12 * i0.abs(),
        "relative drift {:e}",
        drift / i0.abs()
    );
}

#[test]
fn midpoint_rule_converges_at_second_order_on_the_harmonic_oscillator() {
    // x(t) = cos t for m = k = 1, x(0) = 1, v(0) = 0; error at t = 5.
    let s = sys("oscillator");
    let error = |h: f64| {
        let steps = (5.0 / h).round() as usize;
        let path = rollout(&s, &[1.0], &[0.0], h, steps);
        (path.q[steps] - 5.0f64.cos()).abs()
    };
    let (e1, e2, e3) = (error(0.1), error(0.05), error(0.025));
    for (a, b) in [(e1, e2), (e2, e3)] {
        let ratio = a / b;
        assert!(
            (3.8..4.2).contains(&ratio),
            "error ratio {ratio} ({a:e} → {b:e})"
        );
    }
}

#[test]
fn generated_trajectories_satisfy_the_discrete_euler_lagrange_equations() {
    for (name, dt) in [
        ("cartpend", 1e-3),
        ("kepler", 1e-2),
        ("double-pendulum", 1e-3),
        ("kepler3d", 1e-2),
    ] {
        let s = sys(name);
        let (q0, v0) = s.default_initial_condition();
        let grid = TimeGrid {
            dt,
            steps: 300,
            fine: 1,
        };
        let tr = generate::trajectory(&s, &q0, &v0, grid, Convergence::default()).unwrap();
        let ld = Midpoint::new(&s, dt);
        let n = s.dim();
        let (mut a, mut b) = (PairDerivatives::zeros(n), PairDerivatives::zeros(n));
        let mut worst = 0.0f64;
        for k in 1..tr.len() - 1 {
            ld.derivatives(tr.position(k - 1), tr.position(k), &mut a);
            ld.derivatives(tr.position(k), tr.position(k + 1), &mut b);
            let scale = b.d1.iter().map(|x| x.abs()).fold(0.0, f64::max);
            let r = (0..n)
                .map(|i| (a.d2[i] + b.d1[i]).abs())
                .fold(0.0, f64::max);
            worst = worst.max(r / scale);
        }
        assert!(worst < 1e-10, "{name}: relative DEL residual {worst:e}");
    }
}

#[test]
fn kepler_energy_error_is_bounded_over_ten_thousand_steps() {
    let s = sys("kepler");
    let h = 0.05;
    let steps = 10_000; // ~ 40 orbits
    let path = rollout(&s, &[1.0, 0.0], &[0.0, 0.6], h, steps);
    let mut v = vec![0.0, 0.6];
    let mut err = Vec::with_capacity(steps + 1);
    let e0 = s.energy(&[1.0, 0.0], &[0.0, 0.6]);
    for k in 0..=steps {
        let q = &path.q[2 * k..2 * k + 2];
        v = s
            .velocity_from_momentum(q, &path.p[2 * k..2 * k + 2], &v)
            .unwrap();
        err.push((s.energy(q, &v) - e0).abs());
    }
    let max = |r: &[f64]| r.iter().copied().fold(0.0, f64::max);
    let (first, last) = (max(&err[..steps / 4]), max(&err[3 * steps / 4..]));
    // Bounded oscillation, no drift: the last quarter is no worse than the first.
    assert!(
        last < 1.2 * first,
        "first quarter {first:e}, last quarter {last:e}"
    );
    assert!(
        first < 1e-2 * e0.abs(),
        "energy error {first:e} vs |E| {:e}",
        e0.abs()
    );
}

#[test]
fn ground_truth_matches_the_independent_jax_implementation() {
    // truth_*.npy were produced by an independent JAX implementation of the
    // paper's protocol (Newton with 8 fixed iterations): train + prediction span.
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (name, dt, steps) in [("cartpend", 0.01, 300), ("kepler", 0.1, 200)] {
        let reference = io::read_npy(&here.join(format!("truth_{name}.npy")), dt).unwrap();
        let r = &reference.trajectories[0];
        assert_eq!(r.len(), steps + 1);
        let s = sys(name);
        let (q0, v0) = s.default_initial_condition();
        let grid = TimeGrid {
            dt,
            steps,
            fine: 100,
        };
        let ours = generate::trajectory(&s, &q0, &v0, grid, Convergence::default()).unwrap();
        let scale = r.q.iter().map(|x| x.abs()).fold(0.0, f64::max);
        let diff = ours
            .q
            .iter()
            .zip(&r.q)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-9 * scale, "{name}: max difference {diff:e}");
    }
}

#[test]
fn newton_failure_is_an_error_naming_the_step() {
    let s = sys("kepler");
    let ld = Midpoint::new(&s, 0.1);
    let c = Convergence {
        max_iterations: 1,
        ..Convergence::default()
    };
    let err = VariationalIntegrator::new(&ld, c)
        .rollout_positions(&[1.0, 0.0], &[0.99, 0.06], 10)
        .unwrap_err();
    match err {
        SolverError::NotConverged {
            step,
            iterations,
            residual,
        } => {
            assert_eq!((step, iterations), (1, 1));
            assert!(residual > 0.0);
        }
        other => panic!("unexpected error {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with("Newton did not converge at step 1: residual "),
        "{msg}"
    );
    assert!(msg.ends_with(" after 1 iterations"), "{msg}");
}

#[test]
fn known_generators_leave_every_discrete_lagrangian_invariant() {
    // ξ(q0)·D1 Ld + ξ(q1)·D2 Ld = 0 at arbitrary pairs, for every generator of
    // every system; and a non-symmetry (scaling) does not.
    for name in System::NAMES {
        let s = sys(name);
        let n = s.dim();
        let ld = Midpoint::new(&s, 0.07);
        let q0: Vec<f64> = (0..n).map(|i| 0.9 - 0.4 * i as f64).collect();
        let q1: Vec<f64> = (0..n).map(|i| 0.85 - 0.35 * i as f64).collect();
        let mut d = PairDerivatives::zeros(n);
        ld.derivatives(&q0, &q1, &mut d);
        let scale =
            d.d1.iter()
                .chain(&d.d2)
                .map(|x| x.abs())
                .fold(0.0, f64::max);
        let action = |g: &AffineGenerator| {
            let (a, b) = (g.apply(&q0), g.apply(&q1));
            (0..n).map(|i| a[i] * d.d1[i] + b[i] * d.d2[i]).sum::<f64>()
        };
        for g in s.symmetries() {
            let c = g.coefficients().iter().map(|x| x * x).sum::<f64>();
            assert!((c - 1.0).abs() < 1e-15, "{name}: generator not normalised");
            let r = action(&g);
            assert!(
                r.abs() < 1e-13 * scale,
                "{name}: {} residual {r:e}",
                g.label
            );
        }
        let mut eye = vec![0.0; n * n];
        (0..n).for_each(|i| eye[i * n + i] = 1.0);
        let scaling = AffineGenerator::new("scaling", eye, vec![0.0; n]);
        assert!(
            action(&scaling).abs() > 1e-6 * scale,
            "{name}: scaling is no symmetry"
        );
    }
}
