//! The zoo's systems: Euler–Lagrange accelerations against their analytic
//! forms, energy and Noether quantities along the exact midpoint
//! integrator, the documented grids, boxes and initial conditions, and
//! Hénon–Heiles's chaos.

use symdlnn::data::generate;
use symdlnn::mechanics::*;

const ZOO: [&str; 5] = [
    "spherical-pendulum",
    "morse-chain",
    "spring-pendulum",
    "henon-heiles",
    "magnetic-trap",
];

fn sys(name: &str) -> System {
    System::from_name(name).unwrap()
}

/// A fine midpoint rollout from `(q0, v0)`: positions and velocities at
/// every step.
fn rollout(s: &System, q0: &[f64], v0: &[f64], h: f64, steps: usize) -> (Vec<f64>, Vec<f64>) {
    let n = s.dim();
    let ld = Midpoint::new(s, h);
    let p0 = s.momentum(q0, v0);
    let path = VariationalIntegrator::new(&ld, Convergence::default())
        .rollout_momentum(q0, &p0, steps, 1)
        .unwrap();
    let mut v = Vec::with_capacity(path.q.len());
    let mut guess = v0.to_vec();
    for k in 0..=steps {
        let r = k * n..(k + 1) * n;
        let vk = s
            .velocity_from_momentum(&path.q[r.clone()], &path.p[r], &guess)
            .unwrap();
        v.extend_from_slice(&vk);
        guess = vk;
    }
    (path.q, v)
}

/// The analytic acceleration of each zoo system at its default parameters.
fn analytic(name: &str, q: &[f64], v: &[f64]) -> Vec<f64> {
    match name {
        "spherical-pendulum" => {
            let (th, thd, phd) = (q[0], v[0], v[1]);
            vec![
                th.sin() * th.cos() * phd * phd - 9.81 * th.sin(),
                -2.0 * th.cos() / th.sin() * thd * phd,
            ]
        }
        "morse-chain" => {
            let f = |d: f64| {
                let e = (-(d - 1.0)).exp();
                2.0 * e * (1.0 - e) // dV/dd, D = a = 1
            };
            let (f12, f23) = (f(q[1] - q[0]), f(q[2] - q[1]));
            vec![f12, f23 - f12, -f23]
        }
        "spring-pendulum" => {
            let (r, th, rd, thd) = (q[0], q[1], v[0], v[1]);
            vec![
                r * thd * thd - 50.0 * (r - 1.0) + 9.81 * th.cos(),
                (-2.0 * rd * thd - 9.81 * th.sin()) / r,
            ]
        }
        "henon-heiles" => {
            let (x, y) = (q[0], q[1]);
            vec![-x - 2.0 * x * y, -y - x * x + y * y]
        }
        "magnetic-trap" => vec![v[1] - q[0], -v[0] - q[1]],
        _ => unreachable!(),
    }
}

#[test]
fn zoo_systems_are_listed_and_named() {
    for name in ZOO {
        assert!(System::NAMES.contains(&name));
        let s = sys(name);
        assert_eq!(s.name(), name);
        assert_eq!(s.coordinate_names().len(), s.dim());
        assert!(!s.parameters().is_empty());
    }
    assert_eq!(System::NAMES.len(), 12);
    assert_eq!(sys("morse-chain").dim(), 3);
}

#[test]
fn euler_lagrange_accelerations_match_the_analytic_forms() {
    for name in ZOO {
        let s = sys(name);
        let n = s.dim();
        for k in 0..5 {
            let q: Vec<f64> = (0..n)
                .map(|i| 0.7 + 0.13 * k as f64 + 0.4 * i as f64)
                .collect();
            let v: Vec<f64> = (0..n)
                .map(|i| 0.3 - 0.2 * k as f64 + 0.25 * i as f64)
                .collect();
            let a = s.acceleration(&q, &v).unwrap();
            let b = analytic(name, &q, &v);
            for i in 0..n {
                assert!(
                    (a[i] - b[i]).abs() < 1e-11 * (1.0 + b[i].abs()),
                    "{name}: q̈[{i}] {} vs analytic {}",
                    a[i],
                    b[i]
                );
            }
        }
    }
}

#[test]
fn the_midpoint_integrator_conserves_each_zoo_systems_energy() {
    // 4 000 steps of Δt/20 from the training initial condition (many
    // characteristic periods for every system): the midpoint rule's energy
    // error stays bounded at O(h²) and small.
    for name in ZOO {
        let s = sys(name);
        let n = s.dim();
        let (q0, v0) = s.default_initial_condition();
        let h = s.default_grid().dt / 20.0;
        let steps = 4000;
        let (q, v) = rollout(&s, &q0, &v0, h, steps);
        let e: Vec<f64> = (0..=steps)
            .map(|k| s.energy(&q[k * n..(k + 1) * n], &v[k * n..(k + 1) * n]))
            .collect();
        let scale = (0..=steps)
            .map(|k| {
                let (qk, vk) = (&q[k * n..(k + 1) * n], &v[k * n..(k + 1) * n]);
                let p = s.momentum(qk, vk);
                p.iter().zip(vk).map(|(a, b)| a * b).sum::<f64>().abs()
            })
            .sum::<f64>()
            / (steps + 1) as f64;
        let drift = e.iter().map(|x| (x - e[0]).abs()).fold(0.0, f64::max);
        assert!(drift.is_finite());
        assert!(
            drift < 2e-4 * scale,
            "{name}: energy drift {drift:e} (scale {scale:e})"
        );
        // And it is a real motion, not a rest state.
        let moved = (0..n)
            .map(|i| (q[steps * n + i] - q0[i]).abs())
            .fold(0.0, f64::max);
        assert!(moved > 1e-2, "{name}: did not move");
    }
}

#[test]
fn declared_symmetries_noether_quantities_are_conserved() {
    let mut checked = 0;
    for name in ZOO {
        let s = sys(name);
        let n = s.dim();
        let (q0, v0) = s.default_initial_condition();
        let h = s.default_grid().dt / 20.0;
        let steps = 3000;
        let (q, v) = rollout(&s, &q0, &v0, h, steps);
        for g in s.symmetries() {
            let at = |k: usize| {
                let (qk, vk) = (&q[k * n..(k + 1) * n], &v[k * n..(k + 1) * n]);
                g.noether(qk, &s.momentum(qk, vk))
            };
            let i0 = at(0);
            let drift = (0..=steps).map(|k| (at(k) - i0).abs()).fold(0.0, f64::max);
            assert!(
                drift < 1e-10 * (1.0 + i0.abs()),
                "{name}: {} drift {drift:e} (I0 {i0})",
                g.label
            );
            checked += 1;
        }
    }
    // spherical pendulum, Morse chain, magnetic trap.
    assert_eq!(checked, 3);
}

#[test]
fn the_cyclic_angle_grows_and_time_reversal_fails_where_declared() {
    // The spherical pendulum's φ grows without bound over its default span.
    let s = sys("spherical-pendulum");
    let (q0, v0) = s.default_initial_condition();
    let t = generate::trajectory(&s, &q0, &v0, s.default_grid(), Convergence::default()).unwrap();
    let phi_end = t.q[t.q.len() - 1];
    assert!(phi_end > 10.0, "φ reached only {phi_end}");
    // The magnetic trap's L is not even in q̇; the others' are.
    for name in ZOO {
        let s = sys(name);
        let n = s.dim();
        let q: Vec<f64> = (0..n).map(|i| 0.6 + 0.2 * i as f64).collect();
        let v: Vec<f64> = (0..n).map(|i| 0.5 - 0.3 * i as f64).collect();
        let back: Vec<f64> = v.iter().map(|x| -x).collect();
        let odd = (s.value(&q, &v) - s.value(&q, &back)).abs();
        assert_eq!(
            odd > 1e-3,
            !s.time_reversible(),
            "{name}: L(q,v) − L(q,−v) = {odd}"
        );
    }
}

#[test]
fn grids_boxes_and_initial_conditions_are_consistent() {
    for name in System::NAMES {
        let s = sys(name);
        let n = s.dim();
        let bx = s.initial_box();
        let (q, v) = s.test_initial_condition();
        let inside =
            |x: &[f64], lo: &[f64], hi: &[f64]| (0..n).all(|i| lo[i] <= x[i] && x[i] <= hi[i]);
        assert!(
            inside(&q, &bx.q_lo, &bx.q_hi) && inside(&v, &bx.v_lo, &bx.v_hi),
            "{name}: test initial condition outside the box"
        );
    }
    for name in ZOO {
        let s = sys(name);
        let (q, v) = s.default_initial_condition();
        let bx = s.initial_box();
        let inside = |x: &[f64], lo: &[f64], hi: &[f64]| {
            x.iter()
                .zip(lo.iter().zip(hi))
                .all(|(a, (l, h))| l <= a && a <= h)
        };
        assert!(inside(&q, &bx.q_lo, &bx.q_hi) && inside(&v, &bx.v_lo, &bx.v_hi));
        // Eight trajectories from the box on the default grid are generated.
        let mut ics = vec![(q, v)];
        ics.extend(generate::sample_initial_conditions(&bx, 7, 0));
        let d = generate::dataset(&s, &ics, s.default_grid(), Convergence::default()).unwrap();
        assert_eq!(d.trajectories.len(), 8);
        assert!(d
            .trajectories
            .iter()
            .all(|t| t.q.iter().all(|x| x.is_finite())));
    }
}

#[test]
fn zoo_time_steps_give_thirty_to_sixty_samples_per_period() {
    // The characteristic period: twice the mean spacing of the zero
    // crossings of the (mean-removed) fastest-oscillating coordinate's
    // velocity, measured on the exact path.
    for name in ZOO {
        let s = sys(name);
        let n = s.dim();
        let g = s.default_grid();
        let (q0, v0) = s.default_initial_condition();
        let long = TimeGrid {
            steps: 2000,
            fine: 10,
            ..g
        };
        let t = generate::trajectory(&s, &q0, &v0, long, Convergence::default()).unwrap();
        let v = t.v.as_ref().unwrap();
        let samples = (0..n)
            .filter_map(|i| {
                let x: Vec<f64> = v.iter().skip(i).step_by(n).copied().collect();
                let mean = x.iter().sum::<f64>() / x.len() as f64;
                let crossings: Vec<usize> = (1..x.len())
                    .filter(|&k| (x[k - 1] - mean) * (x[k] - mean) < 0.0)
                    .collect();
                (crossings.len() >= 4).then(|| {
                    2.0 * (crossings[crossings.len() - 1] - crossings[0]) as f64
                        / (crossings.len() - 1) as f64
                })
            })
            .fold(f64::INFINITY, f64::min);
        eprintln!("{name}: {samples:.1} samples per period");
        assert!(
            (30.0..=60.0).contains(&samples),
            "{name}: {samples:.1} samples per period"
        );
    }
}

#[test]
fn henon_heiles_is_chaotic_at_its_training_energy_and_bound() {
    let s = sys("henon-heiles");
    let (q0, v0) = s.default_initial_condition();
    let e = s.energy(&q0, &v0);
    assert!(e > 0.12 && e < 1.0 / 6.0, "energy {e}");
    let h = 0.01;
    let steps = 30_000; // t = 300
    let (a, _) = rollout(&s, &q0, &v0, h, steps);
    let q1 = [q0[0] + 1e-9, q0[1]];
    let (b, _) = rollout(&s, &q1, &v0, h, steps);
    let sep =
        |k: usize| ((a[2 * k] - b[2 * k]).powi(2) + (a[2 * k + 1] - b[2 * k + 1]).powi(2)).sqrt();
    // A separation of 1e-9 grows past 1e-3 (×1e6) by t = 300 …
    let late = (steps - 1000..=steps).map(sep).fold(0.0, f64::max);
    assert!(late > 1e-3, "separation {late:e}");
    // … while a regular orbit at low energy stays close (linear growth).
    let (qr, vr) = (vec![0.0, 0.0], vec![0.1, 0.1]);
    let (c, _) = rollout(&s, &qr, &vr, h, steps);
    let (d, _) = rollout(&s, &[1e-9, 0.0], &vr, h, steps);
    let regular = (0..=steps)
        .map(|k| ((c[2 * k] - d[2 * k]).powi(2) + (c[2 * k + 1] - d[2 * k + 1]).powi(2)).sqrt())
        .fold(0.0, f64::max);
    assert!(regular < 1e-6, "regular separation {regular:e}");
    // Bound: the orbit stays in the well.
    assert!(a.iter().all(|x| x.abs() < 1.0));
}

#[test]
fn a_rollout_leaving_the_training_range_names_the_coordinate() {
    use symdlnn::data::Dataset;
    use symdlnn::eval::range::range_notes;
    use symdlnn::learn::{fit, FitOptions, Recipe, TrainConfig};
    // Train (a few epochs: only the stored range matters) on the first 40
    // steps of the spherical pendulum, whose φ keeps growing; the true path
    // over 200 steps leaves φ's range, θ's it does not.
    let s = sys("spherical-pendulum");
    let (q0, v0) = s.default_initial_condition();
    let g = s.default_grid();
    let long = generate::trajectory(&s, &q0, &v0, g, Convergence::default()).unwrap();
    let short = generate::trajectory(
        &s,
        &q0,
        &v0,
        TimeGrid { steps: 40, ..g },
        Convergence::default(),
    )
    .unwrap();
    let data = Dataset {
        n: 2,
        dt: g.dt,
        trajectories: vec![short],
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        hidden: vec![8],
        ..TrainConfig::new(Recipe::Robust, 3)
    };
    let opts = FitOptions {
        source: "test".into(),
        ..FitOptions::default()
    };
    let (model, _) = fit(&cfg, &data, dir.path(), &opts, &mut |_| {}).unwrap();
    assert_eq!(model.data.q_min.len(), 2);
    assert!(model.data.q_max[1] > model.data.q_min[1]);
    let notes = range_notes(&model, &long.q);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("coordinate 1") && notes[0].contains("--angles"),
        "{}",
        notes[0]
    );
    // Inside the range: no note.
    assert!(range_notes(&model, &long.q[..2 * 30]).is_empty());
}
