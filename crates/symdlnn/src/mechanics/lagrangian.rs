//! Continuous Lagrangians `L(q, q̇)` and their derivatives.
//!
//! A system writes its Lagrangian once, generic over the scalar type
//! (`D: DualNum<Primitive = f64>`). Every derivative used by the project then
//! comes from forward-mode duals (`num-dual`):
//!
//! * momentum `p = ∂L/∂q̇`, energy `E = q̇ · ∂L/∂q̇ − L`;
//! * the Hessian blocks `∂²L/∂q̇²` and `∂²L/∂q∂q̇` (hyper-duals, one per entry);
//! * the Euler–Lagrange acceleration
//!   `q̈ = (∂²L/∂q̇²)⁻¹ (∇_q L − (∂²L/∂q̇∂q) q̇)`;
//! * the inverse Legendre map: the `q̇` with `∂L/∂q̇(q, q̇) = p` (Newton).

use nalgebra::{DMatrix, DVector};
use num_dual::{Dual64, DualNum, HyperDual64};

use super::SolverError;

/// A scalar type the mechanics can be evaluated with: `f64` or any (nested)
/// forward-mode dual number over `f64`.
pub trait Scalar: DualNum<Primitive = f64> + Copy {}
impl<D: DualNum<Primitive = f64> + Copy> Scalar for D {}

/// A continuous Lagrangian `L(q, q̇)` on `R^n × R^n`, written once for every
/// scalar type.
pub trait Lagrangian {
    /// Configuration dimension `n`.
    fn dim(&self) -> usize;
    /// `L(q, q̇)`; `q.len() == v.len() == self.dim()`.
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D;
}

impl<T: Lagrangian + ?Sized> Lagrangian for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        (**self).lagrangian(q, v)
    }
}

/// First and second derivatives of a scalar function of `x ∈ R^m` in the
/// directions `rows × cols`: `grad[i]` is filled for `i ∈ rows ∪ cols`,
/// `block[r * cols.len() + c] = ∂²f/∂x_{rows[r]}∂x_{cols[c]}`.
///
/// One hyper-dual evaluation per block entry; `grad` entries outside
/// `rows ∪ cols` are left untouched. Returns `f(x)`.
pub fn second_derivative_block(
    f: impl Fn(&[HyperDual64]) -> HyperDual64,
    x: &[f64],
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    grad: &mut [f64],
    block: &mut [f64],
) -> f64 {
    let mut xd: Vec<HyperDual64> = x.iter().map(|&v| HyperDual64::from_re(v)).collect();
    let nc = cols.len();
    let mut value = f64::NAN;
    for (r, i) in rows.clone().enumerate() {
        for (c, j) in cols.clone().enumerate() {
            xd[i].eps1 = 1.0;
            xd[j].eps2 = 1.0;
            let y = f(&xd);
            xd[i].eps1 = 0.0;
            xd[j].eps2 = 0.0;
            value = y.re;
            grad[i] = y.eps1;
            grad[j] = y.eps2;
            block[r * nc + c] = y.eps1eps2;
        }
    }
    value
}

/// Gradient of a scalar function of `x` by one dual evaluation per entry.
pub fn gradient(f: impl Fn(&[Dual64]) -> Dual64, x: &[f64], grad: &mut [f64]) -> f64 {
    let mut xd: Vec<Dual64> = x.iter().map(|&v| Dual64::from_re(v)).collect();
    let mut value = f64::NAN;
    for i in 0..x.len() {
        xd[i].eps = 1.0;
        let y = f(&xd);
        xd[i].eps = 0.0;
        value = y.re;
        grad[i] = y.eps;
    }
    value
}

/// Value, first derivatives and the velocity Hessian blocks of `L` at a state.
#[derive(Clone, Debug, PartialEq)]
pub struct LagrangianJet {
    /// `L(q, q̇)`
    pub value: f64,
    /// `∂L/∂q`
    pub dq: Vec<f64>,
    /// `∂L/∂q̇` (the momentum)
    pub dv: Vec<f64>,
    /// `∂²L/∂q̇_i∂q̇_j`, row-major `n × n`
    pub vv: Vec<f64>,
    /// `∂²L/∂q_i∂q̇_j`, row-major `n × n`
    pub qv: Vec<f64>,
}

impl LagrangianJet {
    /// Euler–Lagrange acceleration at velocity `v` from these derivatives:
    /// `q̈ = (∂²L/∂q̇²)⁻¹ (∇_q L − (∂²L/∂q̇∂q) q̇)`. A singular `∂²L/∂q̇²` is an
    /// error, never a pseudo-inverse. (One formula for exact Lagrangians and
    /// for the LNN, whose jets come from the derivative engine.)
    pub fn acceleration(&self, v: &[f64]) -> Result<Vec<f64>, SolverError> {
        let n = v.len();
        let rhs: Vec<f64> = (0..n)
            .map(|i| self.dq[i] - (0..n).map(|j| self.qv[j * n + i] * v[j]).sum::<f64>())
            .collect();
        solve_dense(n, &self.vv, &rhs).ok_or(SolverError::SingularMatrix {
            what: "∂²L/∂q̇²"
        })
    }
}

/// Derived quantities of any [`Lagrangian`].
pub trait LagrangianDerivatives: Lagrangian {
    /// `L(q, q̇)` in `f64`.
    fn value(&self, q: &[f64], v: &[f64]) -> f64 {
        self.lagrangian(q, v)
    }

    /// Momentum `p = ∂L/∂q̇`.
    fn momentum(&self, q: &[f64], v: &[f64]) -> Vec<f64> {
        let n = self.dim();
        let x: Vec<f64> = q.iter().chain(v).copied().collect();
        let mut g = vec![0.0; 2 * n];
        let qd: Vec<Dual64> = q.iter().map(|&a| Dual64::from_re(a)).collect();
        gradient(|vd| self.lagrangian(&qd, vd), &x[n..], &mut g[n..]);
        g.split_off(n)
    }

    /// Energy `E = q̇ · ∂L/∂q̇ − L`.
    fn energy(&self, q: &[f64], v: &[f64]) -> f64 {
        let p = self.momentum(q, v);
        p.iter().zip(v).map(|(a, b)| a * b).sum::<f64>() - self.value(q, v)
    }

    /// Value, gradient and the blocks `∂²L/∂q̇²`, `∂²L/∂q∂q̇`.
    fn jet(&self, q: &[f64], v: &[f64]) -> LagrangianJet {
        let n = self.dim();
        let x: Vec<f64> = q.iter().chain(v).copied().collect();
        let f = |x: &[HyperDual64]| self.lagrangian(&x[..n], &x[n..]);
        let mut g = vec![0.0; 2 * n];
        let mut vv = vec![0.0; n * n];
        let mut qv = vec![0.0; n * n];
        second_derivative_block(f, &x, n..2 * n, n..2 * n, &mut g, &mut vv);
        let value = second_derivative_block(f, &x, 0..n, n..2 * n, &mut g, &mut qv);
        let dv = g.split_off(n);
        LagrangianJet {
            value,
            dq: g,
            dv,
            vv,
            qv,
        }
    }

    /// Euler–Lagrange acceleration `q̈ = (∂²L/∂q̇²)⁻¹ (∇_q L − (∂²L/∂q̇∂q) q̇)`.
    /// A singular `∂²L/∂q̇²` is an error, never a pseudo-inverse.
    fn acceleration(&self, q: &[f64], v: &[f64]) -> Result<Vec<f64>, SolverError> {
        self.jet(q, v).acceleration(v)
    }

    /// Inverse Legendre map: the velocity `q̇` with `∂L/∂q̇(q, q̇) = p`, by
    /// Newton from `guess`.
    fn velocity_from_momentum(
        &self,
        q: &[f64],
        p: &[f64],
        guess: &[f64],
    ) -> Result<Vec<f64>, SolverError> {
        let n = self.dim();
        let mut v = guess.to_vec();
        let mut previous = f64::INFINITY;
        let norm = crate::sanity::inf_norm;
        const MAX_ITERATIONS: usize = 50;
        for it in 0..=MAX_ITERATIONS {
            let jet = self.jet(q, &v);
            let f: Vec<f64> = (0..n).map(|i| jet.dv[i] - p[i]).collect();
            let residual = norm(&f);
            // Rounding scale of ∂L/∂q̇ − p: its two terms, and M·q̇.
            let mnorm = jet.vv.chunks(n).map(norm).fold(0.0, crate::sanity::nan_max);
            let scale = norm(p) + norm(&jet.dv) + mnorm * norm(&v);
            let finite = residual.is_finite() && scale.is_finite();
            let stalled = residual > 0.5 * previous && residual <= 1e-10 * scale;
            if finite && (residual <= 1e-14 * scale || stalled) {
                return Ok(v);
            }
            if it == MAX_ITERATIONS || !finite {
                return Err(SolverError::LegendreNotConverged {
                    residual,
                    iterations: it,
                });
            }
            let dv = solve_dense(n, &jet.vv, &f).ok_or(SolverError::SingularMatrix {
                what: "∂²L/∂q̇² (inverse Legendre map)",
            })?;
            for (a, d) in v.iter_mut().zip(&dv) {
                *a -= d;
            }
            previous = residual;
        }
        unreachable!("the loop returns at it == MAX_ITERATIONS")
    }
}

impl<T: Lagrangian + ?Sized> LagrangianDerivatives for T {}

/// Solve the dense `n × n` system `A x = b` (`A` row-major) by LU with
/// partial pivoting; `None` when `A` is singular or not finite.
pub fn solve_dense(n: usize, a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    if !a.iter().chain(b).all(|x| x.is_finite()) {
        return None;
    }
    let m = DMatrix::from_row_slice(n, n, a);
    let x = m.lu().solve(&DVector::from_column_slice(b))?;
    x.iter()
        .all(|v| v.is_finite())
        .then(|| x.as_slice().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanics::{CartPendulum, Kepler};

    #[test]
    fn cart_pendulum_acceleration_matches_the_analytic_equations_of_motion() {
        let s = CartPendulum::default();
        let (alpha, beta, gamma) = (s.m1 * s.l * s.l, s.m1 * s.l, s.m1 + s.m2);
        let d = -s.m1 * s.g * s.l;
        let (q, v) = ([0.3, 0.7], [-0.4, 1.3]);
        let (phi, phid) = (q[1], v[1]);
        // d/dt(γṡ + β cosφ φ̇) = 0 and d/dt(αφ̇ + β cosφ ṡ) = −β sinφ ṡφ̇ − D sinφ:
        // [γ, β c; β c, α] a = [β s φ̇², −D s].
        let (c, sn) = (phi.cos(), phi.sin());
        let det = gamma * alpha - beta * beta * c * c;
        let r = [beta * sn * phid * phid, -d * sn];
        let expect = [
            (alpha * r[0] - beta * c * r[1]) / det,
            (gamma * r[1] - beta * c * r[0]) / det,
        ];
        let a = s.acceleration(&q, &v).unwrap();
        for i in 0..2 {
            assert!(
                (a[i] - expect[i]).abs() < 1e-13 * (1.0 + expect[i].abs()),
                "{a:?} vs {expect:?}"
            );
        }
    }

    #[test]
    fn kepler_acceleration_is_the_inverse_square_law() {
        let s = Kepler::default();
        let (q, v) = ([0.8, -0.6], [0.1, 0.5]);
        let gm = s.gravitational_constant * s.m1;
        let a = s.acceleration(&q, &v).unwrap();
        for i in 0..2 {
            let expect = -gm * q[i]; // r = 1
            assert!((a[i] - expect).abs() < 1e-14, "{a:?}");
        }
    }

    #[test]
    fn energy_momentum_and_inverse_legendre_are_consistent() {
        let s = CartPendulum::default();
        let (q, v) = ([0.2, -0.4], [0.5, -1.5]);
        let p = s.momentum(&q, &v);
        let (beta, gamma) = (s.m1 * s.l, s.m1 + s.m2);
        assert!((p[0] - (beta * q[1].cos() * v[1] + gamma * v[0])).abs() < 1e-15);
        let v_back = s.velocity_from_momentum(&q, &p, &[0.0, 0.0]).unwrap();
        assert!((v_back[0] - v[0]).abs() < 1e-14 && (v_back[1] - v[1]).abs() < 1e-14);
        // E = T + V for a natural Lagrangian.
        let t = 0.5
            * (s.m1 * v[1] * v[1] + 2.0 * beta * q[1].cos() * v[0] * v[1] + gamma * v[0] * v[0]);
        let e = t + s.m1 * s.g * s.l * q[1].cos();
        assert!((s.energy(&q, &v) - e).abs() < 1e-13);
    }

    #[test]
    fn a_degenerate_lagrangian_is_reported_not_pseudo_inverted() {
        struct Degenerate;
        impl Lagrangian for Degenerate {
            fn dim(&self) -> usize {
                2
            }
            fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
                v[0] * v[0] - q[1] * q[1]
            }
        }
        let err = Degenerate
            .acceleration(&[0.0, 1.0], &[1.0, 1.0])
            .unwrap_err();
        assert_eq!(err.to_string(), "singular or non-finite ∂²L/∂q̇²");
    }
}
