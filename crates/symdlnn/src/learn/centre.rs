//! The centre of a discovered rotation, refined from the data.
//!
//! Discovery finds a rotation's plane well and its centre poorly from few
//! trajectories: the centre is the generator's translation part, and the
//! learned `Ld` decides it from how it extrapolates off the data. The data
//! decide it directly. When the kinetic energy in the rotation's plane is
//! `½ m |v|²` (Cartesian coordinates: the only constant metric a rotation
//! leaves invariant), the angular momentum about the true centre `c`,
//!
//! ```text
//! J = v · A (q − c)        (A: the rotation's unit skew generator),
//! ```
//!
//! is conserved along every trajectory. `J` is linear in `c`. With
//! central-difference velocities at every interior point, least squares
//! over all points (each trajectory and generator with its own constant)
//! gives the centre's part in the rotated plane or subspace (its part across
//! it does not act). The fit is used when the momentum it makes conserved is
//! conserved: its RMS residual at most [`CONSERVED`] of the RMS
//! `|A (q − c)| |v|`; otherwise the discovered centre stays (a kinetic energy
//! of another form).

use super::invariant::{dot, norm, BuiltIn};
use crate::data::Dataset;

/// The largest relative RMS residual of the angular momentum for the
/// refined centre to be used (noise-free Kepler: 5e-6; σ = 0.001: 8.5e-3).
pub const CONSERVED: f64 = 0.05;

/// A centre fitted to the data's angular momentum.
#[derive(Clone, Debug, PartialEq)]
pub struct CentreFit {
    /// The fitted centre (`n`).
    pub centre: Vec<f64>,
    /// Its distance from the centre it started from.
    pub moved: f64,
    /// RMS residual of the angular momentum relative to the RMS `|A (q − c)| |v|`.
    pub residual: f64,
}

impl CentreFit {
    /// Whether the momentum is conserved well enough for the fit to be used.
    pub fn conserved(&self) -> bool {
        self.residual <= CONSERVED
    }
}

/// One interior point's angular momentum `J = a − b·δ` for one generator
/// (`a = v·A(q − c0)`, `b_i = v·A e_i`, centred on their trajectory's
/// means), with its velocity `v` and arm `x = q − c0`.
struct Point {
    a: f64,
    b: Vec<f64>,
    v: Vec<f64>,
    x: Vec<f64>,
}

/// Fit the centre of `built`'s rotation (plane or `so(3)`) to `data`;
/// `None` without a rotation, without interior points, or when the data
/// do not determine the centre (velocities that do not turn).
pub fn fit_centre(built: &BuiltIn, data: &Dataset) -> Option<CentreFit> {
    let (frame, c0) = match (&built.rotation, &built.so3) {
        (Some(r), _) => (vec![r.e1.clone(), r.e2.clone()], r.centre.clone()),
        (None, Some(s)) => (s.frame.to_vec(), s.centre.clone()),
        (None, None) => return None,
    };
    let n = c0.len();
    let skews: Vec<Vec<f64>> = (built.generators().into_iter())
        .filter(|g| g.m.iter().any(|x| *x != 0.0))
        .map(|g| g.m)
        .collect();
    let apply = |a: &[f64], x: &[f64]| -> Vec<f64> {
        (0..n).map(|i| dot(&a[i * n..(i + 1) * n], x)).collect()
    };
    // Per trajectory and generator: J = a − b·δ at each interior point,
    // with a = v·A(q − c0), b_i = v·A e_i, centred on their means.
    let d = frame.len();
    let mut rows: Vec<Point> = vec![];
    let (mut normal, mut rhs) = (vec![0.0; d * d], vec![0.0; d]);
    for t in data.trajectories.iter().filter(|t| t.len() >= 3) {
        for a_mat in &skews {
            let start = rows.len();
            for k in 1..t.len() - 1 {
                let (p, q, r) = (t.position(k - 1), t.position(k), t.position(k + 1));
                let v: Vec<f64> = (0..n).map(|i| (r[i] - p[i]) / (2.0 * data.dt)).collect();
                let x: Vec<f64> = (0..n).map(|i| q[i] - c0[i]).collect();
                let a = dot(&v, &apply(a_mat, &x));
                let b: Vec<f64> = frame.iter().map(|e| dot(&v, &apply(a_mat, e))).collect();
                rows.push(Point { a, b, v, x });
            }
            centre_rows(&mut rows[start..], d);
        }
    }
    for p in &rows {
        for i in 0..d {
            rhs[i] += p.b[i] * p.a;
            for j in 0..d {
                normal[i * d + j] += p.b[i] * p.b[j];
            }
        }
    }
    let delta = solve(d, &normal, &rhs)?;
    let mut centre = c0.clone();
    for (e, s) in frame.iter().zip(&delta) {
        centre.iter_mut().zip(e).for_each(|(c, x)| *c += s * x);
    }
    let (mut ss, mut mag) = (0.0, 0.0);
    for Point { a, b, v, x } in &rows {
        ss += (a - dot(b, &delta)).powi(2);
        let shifted: Vec<f64> = x
            .iter()
            .zip(&c0)
            .zip(&centre)
            .map(|((x, c0), c)| x + c0 - c)
            .collect();
        let arm = skews
            .iter()
            .map(|m| norm(&apply(m, &shifted)).powi(2))
            .sum::<f64>()
            / skews.len() as f64;
        mag += arm * dot(v, v);
    }
    let residual = (ss / mag).sqrt();
    let moved = norm(
        &c0.iter()
            .zip(&centre)
            .map(|(a, b)| a - b)
            .collect::<Vec<_>>(),
    );
    residual.is_finite().then_some(CentreFit {
        centre,
        moved,
        residual,
    })
}

/// Subtract their means from one group's `a` and `b` (its constant `J`).
fn centre_rows(rows: &mut [Point], d: usize) {
    let k = rows.len() as f64;
    if k == 0.0 {
        return;
    }
    let mean_a = rows.iter().map(|r| r.a).sum::<f64>() / k;
    let mean_b: Vec<f64> = (0..d)
        .map(|i| rows.iter().map(|r| r.b[i]).sum::<f64>() / k)
        .collect();
    for r in rows {
        r.a -= mean_a;
        r.b.iter_mut().zip(&mean_b).for_each(|(b, m)| *b -= m);
    }
}

/// `normal δ = rhs` for a symmetric positive semi-definite `d × d` system;
/// `None` when it is singular to rounding (the data leave the centre free).
fn solve(d: usize, normal: &[f64], rhs: &[f64]) -> Option<Vec<f64>> {
    let m = nalgebra::DMatrix::from_row_slice(d, d, normal);
    let eig = m.clone().symmetric_eigen();
    let (lo, hi) = eig
        .eigenvalues
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if !(hi > 0.0 && lo > 1e-10 * hi) {
        return None;
    }
    let x = m
        .cholesky()?
        .solve(&nalgebra::DVector::from_column_slice(rhs));
    Some(x.iter().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{generate, Trajectory};
    use crate::learn::invariant::{PlaneRotation, SpaceRotation};
    use crate::mechanics::{Convergence, System};

    fn positions(system: &str, ics: &[(Vec<f64>, Vec<f64>)], steps: usize) -> Dataset {
        let s = System::from_name(system).unwrap();
        let mut grid = s.default_grid();
        grid.steps = steps;
        let d = generate::dataset(&s, ics, grid, Convergence::default()).unwrap();
        Dataset {
            trajectories: (d.trajectories.iter())
                .map(|t| Trajectory::from_positions(t.n, 0.0, d.dt, t.q.clone()))
                .collect(),
            ..d
        }
    }

    fn rotation_about(centre: Vec<f64>) -> BuiltIn {
        let r = PlaneRotation {
            e1: vec![1.0, 0.0],
            e2: vec![0.0, 1.0],
            centre,
        };
        BuiltIn::new(2, &[], Some(r)).unwrap()
    }

    #[test]
    fn keplers_centre_is_found_from_one_orbit_and_from_several() {
        let one = positions("kepler", &[(vec![1.0, 0.0], vec![0.0, 0.6])], 50);
        let fit = fit_centre(&rotation_about(vec![0.08, -0.05]), &one).unwrap();
        // Measured 2.5e-4 from the origin (central differences at Δt = 0.1),
        // relative residual 4.6e-6; fourfold margins.
        assert!(norm(&fit.centre) < 1e-3, "centre {:?}", fit.centre);
        assert!((fit.moved - 0.08_f64.hypot(0.05)).abs() < 1e-3);
        assert!(fit.conserved() && fit.residual < 2e-5, "{fit:?}");
        let s = System::from_name("kepler").unwrap();
        let mut ics = generate::sample_initial_conditions(&s.initial_box(), 3, 0);
        ics.push((vec![1.0, 0.0], vec![0.0, 0.6]));
        let several = positions("kepler", &ics, 50);
        let fit = fit_centre(&rotation_about(vec![-0.1, 0.2]), &several).unwrap();
        // Measured 3.4e-4 from the origin, residual 1.7e-4.
        assert!(norm(&fit.centre) < 1e-3, "centre {:?}", fit.centre);
        assert!(fit.conserved(), "{fit:?}");
    }

    #[test]
    fn kepler3ds_centre_is_found_by_its_so3() {
        let s = System::from_name("kepler3d").unwrap();
        let ics = generate::sample_initial_conditions(&s.initial_box(), 2, 1);
        let data = positions("kepler3d", &ics, 50);
        let e = |i: usize| {
            (0..3)
                .map(|j| f64::from(u8::from(i == j)))
                .collect::<Vec<_>>()
        };
        let so3 = SpaceRotation {
            frame: [e(0), e(1), e(2)],
            centre: vec![0.05, -0.04, 0.03],
        };
        let fit = fit_centre(&BuiltIn::with_so3(3, &[], so3).unwrap(), &data).unwrap();
        // Measured 5.2e-4 from the origin, residual 1.0e-4.
        assert!(norm(&fit.centre) < 1e-3, "centre {:?}", fit.centre);
        assert!(fit.conserved(), "{fit:?}");
    }

    #[test]
    fn a_system_without_the_rotation_conserves_no_angular_momentum() {
        // The cart–pendulum has no rotation: no centre makes J conserved
        // (measured: relative residual 0.26 at the best centre).
        let cart = positions("cartpend", &[(vec![0.1, 0.5], vec![0.3, 0.0])], 200);
        let fit = fit_centre(&rotation_about(vec![0.0, 0.0]), &cart).unwrap();
        assert!(!fit.conserved(), "{fit:?}");
    }

    #[test]
    fn a_straight_line_leaves_the_centre_free() {
        // Constant velocity: J is conserved about every point of the line.
        let q: Vec<f64> = (0..20).flat_map(|k| [0.1 * k as f64, 0.5]).collect();
        let line = Dataset {
            n: 2,
            dt: 0.1,
            trajectories: vec![Trajectory::from_positions(2, 0.0, 0.1, q)],
        };
        assert_eq!(fit_centre(&rotation_about(vec![0.0, 0.0]), &line), None);
        let none = BuiltIn::new(2, &[vec![1.0, 0.0]], None).unwrap();
        assert_eq!(fit_centre(&none, &line), None);
    }
}
