//! Variational backward error analysis (VBEA) for the midpoint rule: the
//! continuous Lagrangian whose exact flow a discrete Lagrangian follows, and
//! with it an energy for a learned model.
//!
//! * inverse modified Lagrangian `L_invmod(q, q̇) = Ld(q − h q̇/2, q + h q̇/2) / h`;
//! * `L_VBEA = L_invmod + h² L₂` with
//!   `L₂ = (aᵀ M a − q̇ᵀ Q q̇) / 24`, `M = ∂²L/∂q̇²`, `Q = ∂²L/∂q²`,
//!   `a = M⁻¹ (∇_q L − (∂²L/∂q̇∂q) q̇)`, all of `L = L_invmod`
//!   (for `n = 1` the paper's equation (4));
//! * `H_VBEA = q̇ · ∂L_VBEA/∂q̇ − L_VBEA`.
//!
//! `L₂` needs second derivatives of `L_invmod` at whatever scalar type
//! `L_VBEA` is evaluated with, so it is computed with hyper-duals nested over
//! that type: [`VbeaLagrangian`] is an ordinary [`Lagrangian`], and its
//! momentum and energy (third derivatives of the network) come from the same
//! [`LagrangianDerivatives`] as every exact system's.
//!
//! Velocities along a discrete path: central differences
//! ([`central_velocities`]), or the consistent ones that solve
//! `p_k = ∂L_VBEA/∂q̇(q_k, q̇_k)` for the path's discrete momenta
//! `p_k = −D1 Ld(q_k, q_{k+1})` ([`VbeaLagrangian::velocity`]).

use num_dual::HyperDual;

use crate::mechanics::{
    Convergence, GenericDiscreteLagrangian, Lagrangian, LagrangianDerivatives, PhasePath, Scalar,
    SolverError, VariationalIntegrator,
};

/// Why a VBEA computation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VbeaError {
    /// The velocity solve `∂L_VBEA/∂q̇(q, q̇) = p` did not converge.
    #[error("VBEA velocity at point {point}: no convergence, residual {residual:.3e} after {iterations} iterations")]
    VelocityNotConverged {
        /// Index of the path point.
        point: usize,
        /// Residual of the last Newton iterate.
        residual: f64,
        /// Newton iterations done.
        iterations: usize,
    },
    /// `∂²L_invmod/∂q̇²` was singular (the learned `Ld` is degenerate there).
    #[error("VBEA velocity at point {point}: singular ∂²L_invmod/∂q̇²")]
    Singular {
        /// Index of the path point.
        point: usize,
    },
    /// A start from a state failed in the discrete solve.
    #[error(transparent)]
    Solver(#[from] SolverError),
}

/// `L_invmod(q, q̇) = Ld(q − h q̇/2, q + h q̇/2) / h`. For the midpoint `Ld` of
/// a Lagrangian `L` this is `L` itself.
pub struct InverseModifiedLagrangian<'a, G: ?Sized> {
    ld: &'a G,
}

impl<'a, G: GenericDiscreteLagrangian + ?Sized> InverseModifiedLagrangian<'a, G> {
    /// The inverse modified Lagrangian of `ld`.
    pub fn new(ld: &'a G) -> Self {
        Self { ld }
    }
}

impl<G: GenericDiscreteLagrangian + ?Sized> Lagrangian for InverseModifiedLagrangian<'_, G> {
    fn dim(&self) -> usize {
        self.ld.dim()
    }

    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let h = self.ld.step_size();
        let q0: Vec<D> = q.iter().zip(v).map(|(a, b)| *a - *b * (0.5 * h)).collect();
        let delta: Vec<D> = v.iter().map(|b| *b * h).collect();
        self.ld.value_at_increment(&q0, &delta) / h
    }
}

/// `L₂ = (aᵀ M a − q̇ᵀ Q q̇) / 24` of any Lagrangian at any scalar type
/// (hyper-duals over `D`, one evaluation per entry of the upper triangle of
/// the `2n × 2n` Hessian). A singular `M` gives NaN.
pub fn second_order_correction<L: Lagrangian + ?Sized, D: Scalar>(l: &L, q: &[D], v: &[D]) -> D {
    let n = q.len();
    let m = 2 * n;
    let (zero, one) = (D::from(0.0), D::from(1.0));
    let mut x: Vec<HyperDual<D>> = q
        .iter()
        .chain(v)
        .map(|&a| HyperDual::new(a, zero, zero, zero))
        .collect();
    let mut grad = vec![zero; m];
    let mut hess = vec![zero; m * m];
    for i in 0..m {
        for j in i..m {
            x[i].eps1 = one;
            x[j].eps2 = one;
            let y = l.lagrangian(&x[..n], &x[n..]);
            x[i].eps1 = zero;
            x[j].eps2 = zero;
            grad[i] = y.eps1;
            hess[i * m + j] = y.eps1eps2;
            hess[j * m + i] = y.eps1eps2;
        }
    }
    // rhs_i = ∂L/∂q_i − Σ_j ∂²L/∂q̇_i∂q_j q̇_j; M_ij = ∂²L/∂q̇_i∂q̇_j.
    let mut rhs: Vec<D> = (0..n)
        .map(|i| (0..n).fold(grad[i], |s, j| s - hess[(n + i) * m + j] * v[j]))
        .collect();
    let mut mass: Vec<D> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| hess[(n + i) * m + n + j])
        .collect();
    let b = rhs.clone();
    if !solve_in_place(n, &mut mass, &mut rhs) {
        return D::from(f64::NAN);
    }
    // aᵀ M a = aᵀ b with M a = b.
    let ama = rhs.iter().zip(&b).fold(zero, |s, (a, bi)| s + *a * *bi);
    let vqv = (0..n).fold(zero, |s, i| {
        (0..n).fold(s, |s, j| s + v[i] * hess[i * m + j] * v[j])
    });
    (ama - vqv) / 24.0
}

/// Gaussian elimination with partial pivoting (on the real parts) over any
/// scalar type; `b` becomes the solution. `false` when `a` is singular.
fn solve_in_place<D: Scalar>(n: usize, a: &mut [D], b: &mut [D]) -> bool {
    let scale = a.iter().fold(0.0f64, |s, x| s.max(x.re().abs()));
    if !(scale.is_finite() && scale > 0.0) {
        return false;
    }
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&r, &s| {
                a[r * n + col]
                    .re()
                    .abs()
                    .total_cmp(&a[s * n + col].re().abs())
            })
            .unwrap_or(col);
        if a[pivot * n + col].re().abs() <= 1e-14 * scale {
            return false;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
            b.swap(col, pivot);
        }
        for r in col + 1..n {
            let f = a[r * n + col] / a[col * n + col];
            for k in col..n {
                let t = a[col * n + k];
                a[r * n + k] -= f * t;
            }
            let t = b[col];
            b[r] -= f * t;
        }
    }
    for col in (0..n).rev() {
        let s = (col + 1..n).fold(b[col], |s, k| s - a[col * n + k] * b[k]);
        b[col] = s / a[col * n + col];
    }
    true
}

/// `L_VBEA = L_invmod + h² L₂` of a discrete Lagrangian (midpoint rule).
pub struct VbeaLagrangian<'a, G: ?Sized> {
    inverse: InverseModifiedLagrangian<'a, G>,
}

impl<'a, G: GenericDiscreteLagrangian + ?Sized> VbeaLagrangian<'a, G> {
    /// The modified Lagrangian of `ld`.
    pub fn new(ld: &'a G) -> Self {
        Self {
            inverse: InverseModifiedLagrangian::new(ld),
        }
    }

    /// The inverse modified Lagrangian it corrects.
    pub fn inverse_modified(&self) -> &InverseModifiedLagrangian<'a, G> {
        &self.inverse
    }

    /// `H_VBEA(q, q̇) = q̇ · ∂L_VBEA/∂q̇ − L_VBEA`.
    pub fn hamiltonian(&self, q: &[f64], v: &[f64]) -> f64 {
        self.energy(q, v)
    }

    /// The velocity `q̇` with `∂L_VBEA/∂q̇(q, q̇) = p`, from `guess`. Newton
    /// with the Jacobian of `L_invmod` (it differs from the exact one by
    /// `O(h²)`, so the iteration contracts by `O(h²)` a step and needs no
    /// fourth derivatives). `point` labels errors.
    pub fn velocity(
        &self,
        q: &[f64],
        p: &[f64],
        guess: &[f64],
        point: usize,
    ) -> Result<Vec<f64>, VbeaError> {
        const MAX_ITERATIONS: usize = 50;
        let n = q.len();
        let norm = crate::sanity::inf_norm;
        let mut v = guess.to_vec();
        let mut previous = f64::INFINITY;
        for it in 0..=MAX_ITERATIONS {
            let pv = self.momentum(q, &v);
            let f: Vec<f64> = (0..n).map(|i| pv[i] - p[i]).collect();
            let residual = norm(&f);
            let jet = self.inverse.jet(q, &v);
            // Rounding scale: the momenta, and M·q̇ at the iterate and the guess
            // (a state at rest has p = 0).
            let mnorm = jet.vv.chunks(n).map(norm).fold(0.0, crate::sanity::nan_max);
            let scale = norm(p) + norm(&pv) + mnorm * (norm(&v) + norm(guess));
            let finite = residual.is_finite() && scale.is_finite();
            let stalled = residual >= 0.5 * previous && residual <= 1e-10 * scale;
            if finite && (residual <= 1e-13 * scale || stalled) {
                return Ok(v);
            }
            if it == MAX_ITERATIONS || !finite {
                return Err(VbeaError::VelocityNotConverged {
                    point,
                    residual,
                    iterations: it,
                });
            }
            let dv = crate::mechanics::solve_dense(n, &jet.vv, &f)
                .ok_or(VbeaError::Singular { point })?;
            for (a, d) in v.iter_mut().zip(&dv) {
                *a -= d;
            }
            previous = residual;
        }
        unreachable!("the loop returns at it == MAX_ITERATIONS")
    }

    /// Consistent velocities along a discrete path with momenta `p_k`
    /// (row-major, as [`PhasePath`] gives them), started from central
    /// differences.
    pub fn path_velocities(&self, path: &PhasePath) -> Result<Vec<f64>, VbeaError> {
        match self.path_velocities_until_failure(path) {
            (v, None) => Ok(v),
            (_, Some(e)) => Err(e),
        }
    }

    /// As [`Self::path_velocities`], but a failed solve ends the series: the
    /// velocities of the points before it come back with the error.
    pub fn path_velocities_until_failure(&self, path: &PhasePath) -> (Vec<f64>, Option<VbeaError>) {
        let n = self.dim();
        let guess = central_velocities(n, self.inverse.ld.step_size(), &path.q);
        let mut v = Vec::with_capacity(path.q.len());
        for k in 0..path.q.len() / n {
            let r = k * n..(k + 1) * n;
            match self.velocity(&path.q[r.clone()], &path.p[r.clone()], &guess[r], k) {
                Ok(vk) => v.extend(vk),
                Err(e) => return (v, Some(e)),
            }
        }
        (v, None)
    }

    /// `H_VBEA` at every point of a path (row-major positions and velocities).
    pub fn energies(&self, q: &[f64], v: &[f64]) -> Vec<f64> {
        let n = self.dim();
        q.chunks(n)
            .zip(v.chunks(n))
            .map(|(q, v)| self.hamiltonian(q, v))
            .collect()
    }

    /// A start from a state: `p0 = ∂L_VBEA/∂q̇(q0, q̇0)`, then `steps`
    /// position–momentum steps of the discrete Lagrangian itself.
    pub fn rollout_from_state(
        &self,
        q0: &[f64],
        v0: &[f64],
        steps: usize,
        convergence: Convergence,
    ) -> Result<PhasePath, VbeaError> {
        let p0 = self.momentum(q0, v0);
        Ok(VariationalIntegrator::new(self.inverse.ld, convergence)
            .rollout_momentum(q0, &p0, steps, 1)?)
    }
}

impl<G: GenericDiscreteLagrangian + ?Sized> Lagrangian for VbeaLagrangian<'_, G> {
    fn dim(&self) -> usize {
        self.inverse.dim()
    }

    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let h = self.inverse.ld.step_size();
        self.inverse.lagrangian(q, v) + second_order_correction(&self.inverse, q, v) * (h * h)
    }
}

/// Velocities along a row-major path by central differences
/// `(q_{k+1} − q_{k−1}) / 2h`, second-order one-sided at the two ends
/// (a path of two points gets the forward difference at both).
pub fn central_velocities(n: usize, h: f64, q: &[f64]) -> Vec<f64> {
    let len = q.len() / n;
    let at = |k: usize, i: usize| q[k * n + i];
    let mut v = vec![0.0; q.len()];
    if len < 2 {
        return v;
    }
    for i in 0..n {
        if len == 2 {
            let d = (at(1, i) - at(0, i)) / h;
            v[i] = d;
            v[n + i] = d;
            continue;
        }
        v[i] = (-3.0 * at(0, i) + 4.0 * at(1, i) - at(2, i)) / (2.0 * h);
        for k in 1..len - 1 {
            v[k * n + i] = (at(k + 1, i) - at(k - 1, i)) / (2.0 * h);
        }
        let l = len - 1;
        v[l * n + i] = (3.0 * at(l, i) - 4.0 * at(l - 1, i) + at(l - 2, i)) / (2.0 * h);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanics::{
        CartPendulum, DiscreteLagrangian, Midpoint, PairDerivatives, VariationalIntegrator,
    };

    /// The exact discrete Lagrangian of `L = ½ m ẋ² − ½ k x²`:
    /// `Ld = m ω ((q0² + q1²) cos ωh − 2 q0 q1) / (2 sin ωh)`.
    struct ExactOscillator {
        m: f64,
        k: f64,
        h: f64,
    }

    impl ExactOscillator {
        fn omega(&self) -> f64 {
            (self.k / self.m).sqrt()
        }
        fn c(&self) -> f64 {
            self.m * self.omega() / (2.0 * (self.omega() * self.h).sin())
        }
        fn lagrangian(&self, q: f64, v: f64) -> f64 {
            0.5 * self.m * v * v - 0.5 * self.k * q * q
        }
    }

    impl DiscreteLagrangian for ExactOscillator {
        fn dim(&self) -> usize {
            1
        }
        fn step_size(&self) -> f64 {
            self.h
        }
        fn value(&self, q0: &[f64], q1: &[f64]) -> f64 {
            self.value_at_increment(q0, &[q1[0] - q0[0]])
        }
        fn derivatives(&self, q0: &[f64], q1: &[f64], out: &mut PairDerivatives) {
            let (c, cs) = (self.c(), (self.omega() * self.h).cos());
            out.d1[0] = c * (2.0 * q0[0] * cs - 2.0 * q1[0]);
            out.d2[0] = c * (2.0 * q1[0] * cs - 2.0 * q0[0]);
            out.jac[0] = -2.0 * c;
        }
    }

    impl GenericDiscreteLagrangian for ExactOscillator {
        fn value_at_increment<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D {
            let (a, b) = (q0[0], q0[0] + delta[0]);
            let cs = (self.omega() * self.h).cos();
            ((a * a + b * b) * cs - a * b * 2.0) * self.c()
        }
    }

    const HS: [f64; 3] = [0.2, 0.1, 0.05];

    #[test]
    fn vbea_of_the_exact_oscillator_ld_is_the_true_lagrangian_to_fourth_order() {
        let states = [(1.0, 0.0), (0.3, -1.2), (-0.8, 0.5)];
        let errors = |vbea: bool| -> Vec<f64> {
            HS.iter()
                .map(|&h| {
                    let ld = ExactOscillator { m: 1.3, k: 2.0, h };
                    let l = VbeaLagrangian::new(&ld);
                    states
                        .iter()
                        .map(|&(q, v)| {
                            let approx = if vbea {
                                l.value(&[q], &[v])
                            } else {
                                l.inverse_modified().value(&[q], &[v])
                            };
                            (approx - ld.lagrangian(q, v)).abs()
                        })
                        .fold(0.0, f64::max)
                })
                .collect()
        };
        let (inv, vbea) = (errors(false), errors(true));
        for w in 0..2 {
            // Error ratios as h halves: 4 for O(h²), 16 for O(h⁴).
            let (ri, rv) = (inv[w] / inv[w + 1], vbea[w] / vbea[w + 1]);
            assert!((3.8..4.2).contains(&ri), "L_invmod ratio {ri} ({inv:?})");
            assert!((14.0..18.0).contains(&rv), "L_VBEA ratio {rv} ({vbea:?})");
        }
        assert!(vbea[2] < 1e-3 * inv[2], "{inv:?} {vbea:?}");
    }

    #[test]
    fn h_vbea_is_conserved_along_exact_samples_to_fourth_order() {
        let drift = |h: f64| {
            let ld = ExactOscillator { m: 1.3, k: 2.0, h };
            let w = ld.omega();
            let l = VbeaLagrangian::new(&ld);
            let energies: Vec<f64> = (0..=(10.0 / h) as usize)
                .map(|k| {
                    let t = k as f64 * h;
                    l.hamiltonian(&[(w * t).cos()], &[-w * (w * t).sin()])
                })
                .collect();
            let spread = energies.iter().map(|e| (e - energies[0]).abs());
            spread.fold(0.0, f64::max)
        };
        let d: Vec<f64> = HS.iter().map(|&h| drift(h)).collect();
        for w in 0..2 {
            let r = d[w] / d[w + 1];
            assert!(r > 14.0, "drift ratio {r} ({d:?})");
        }
        assert!(d[2] < 1e-5, "{d:?}");
    }

    /// `L₂` by an independent route: finite-difference Hessians of `L` and a
    /// nalgebra solve, on the non-separable cart–pendulum Lagrangian.
    #[test]
    fn second_order_correction_matches_finite_differences_on_a_non_separable_lagrangian() {
        let s = CartPendulum::default();
        let (q, v) = ([0.3, -0.7], [0.4, 1.1]);
        let x: Vec<f64> = q.iter().chain(&v).copied().collect();
        let f = |x: &[f64]| s.lagrangian(&x[..2], &x[2..]);
        let e = 1e-4;
        let shifted = |i: usize, a: f64, j: usize, b: f64| {
            let mut y = x.clone();
            y[i] += a;
            y[j] += b;
            f(&y)
        };
        let hess = |i: usize, j: usize| {
            (shifted(i, e, j, e) - shifted(i, e, j, -e) - shifted(i, -e, j, e)
                + shifted(i, -e, j, -e))
                / (4.0 * e * e)
        };
        let grad = |i: usize| (shifted(i, e, i, 0.0) - shifted(i, -e, i, 0.0)) / (2.0 * e);
        let m = nalgebra::Matrix2::from_fn(|i, j| hess(2 + i, 2 + j));
        let rhs = nalgebra::Vector2::from_fn(|i, _| {
            grad(i) - (0..2).map(|j| hess(2 + i, j) * v[j]).sum::<f64>()
        });
        let a = m.lu().solve(&rhs).unwrap();
        let qq = nalgebra::Matrix2::from_fn(hess);
        let vv = nalgebra::Vector2::new(v[0], v[1]);
        let expect = ((a.transpose() * m * a)[0] - (vv.transpose() * qq * vv)[0]) / 24.0;
        let got = second_order_correction(&s, &q, &v);
        assert!(
            (got - expect).abs() < 1e-6 * expect.abs(),
            "{got} vs {expect}"
        );
    }

    /// Along the midpoint rule's own path, `H_VBEA` (consistent velocities)
    /// is conserved to `O(h⁴)`, the true energy only to `O(h²)`.
    #[test]
    fn h_vbea_of_the_midpoint_rule_is_conserved_to_fourth_order_on_its_path() {
        let s = CartPendulum::default();
        let (q0, v0) = ([0.1, 1.0], [0.0, 0.0]);
        let p0 = s.momentum(&q0, &v0);
        let drifts = |h: f64| {
            let ld = Midpoint::new(&s, h);
            let path = VariationalIntegrator::new(&ld, Convergence::default())
                .rollout_momentum(&q0, &p0, (2.0 / h) as usize, 1)
                .unwrap();
            let l = VbeaLagrangian::new(&ld);
            let v = l.path_velocities(&path).unwrap();
            let spread = |e: Vec<f64>| e.iter().map(|x| (x - e[0]).abs()).fold(0.0, f64::max);
            let true_energy = path
                .q
                .chunks(2)
                .zip(v.chunks(2))
                .map(|(q, v)| s.energy(q, v))
                .collect();
            (spread(l.energies(&path.q, &v)), spread(true_energy))
        };
        let (a, b) = (drifts(0.04), drifts(0.02));
        assert!(a.0 / b.0 > 12.0, "H_VBEA drifts {a:?} {b:?}");
        assert!((3.0..5.0).contains(&(a.1 / b.1)), "H drifts {a:?} {b:?}");
        assert!(b.0 < 1e-2 * b.1, "{a:?} {b:?}");
    }

    /// The paper's "initial momentum" start agrees with a start from the
    /// exact second position.
    #[test]
    fn a_start_from_a_state_matches_the_start_from_two_exact_positions() {
        let ld = ExactOscillator {
            m: 1.3,
            k: 2.0,
            h: 0.1,
        };
        let w = ld.omega();
        let l = VbeaLagrangian::new(&ld);
        let steps = 200;
        let from_state = l
            .rollout_from_state(&[1.0], &[0.0], steps, Convergence::default())
            .unwrap();
        let from_positions = VariationalIntegrator::new(&ld, Convergence::default())
            .rollout_positions(&[1.0], &[(w * 0.1).cos()], steps - 1)
            .unwrap();
        for k in 0..=steps {
            let exact = (w * 0.1 * k as f64).cos();
            // Calibrated: the momentum start is exact to O(h⁴) ≈ 1e-6 here.
            assert!((from_state.q[k] - exact).abs() < 1e-5, "step {k}");
            assert!((from_positions.q[k] - exact).abs() < 1e-10, "step {k}");
        }
        // The consistent velocity recovers the exact one to O(h⁴).
        let t = 0.7;
        let path = VariationalIntegrator::new(&ld, Convergence::default())
            .rollout_positions(&[(w * t).cos()], &[(w * (t + 0.1)).cos()], 1)
            .unwrap();
        let v = l.path_velocities(&path).unwrap();
        for (k, vk) in v.iter().enumerate() {
            let exact = -w * (w * (t + 0.1 * k as f64)).sin();
            assert!((vk - exact).abs() < 1e-5, "{vk} vs {exact}");
        }
    }
}
