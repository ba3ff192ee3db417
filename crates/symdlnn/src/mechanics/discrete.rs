//! Discrete Lagrangians `Ld(q0, q1) ≈ ∫ L dt` over one step `h`.
//!
//! The integrator needs, at a pair `(q0, q1)`, the slot derivatives
//! `D1 Ld = ∂Ld/∂q0`, `D2 Ld = ∂Ld/∂q1` and the Newton Jacobian
//! `J = ∂(D1 Ld)/∂q1` (`J[i][j] = ∂²Ld/∂q0_i∂q1_j`). [`DiscreteLagrangian`]
//! provides exactly these, in `f64`, so that exact discretisations and learned
//! networks are interchangeable behind `&dyn DiscreteLagrangian`.
//!
//! [`Midpoint`] is the midpoint rule `Ld(q0, q1) = h · L((q0+q1)/2, (q1−q0)/h)`
//! of any continuous [`Lagrangian`]; its derivatives come from hyper-duals.

use num_dual::HyperDual64;

use super::lagrangian::{Lagrangian, Scalar};

/// `D1 Ld`, `D2 Ld` and `J = ∂(D1 Ld)/∂q1` at one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct PairDerivatives {
    /// `∂Ld/∂q0`
    pub d1: Vec<f64>,
    /// `∂Ld/∂q1`
    pub d2: Vec<f64>,
    /// `J[i][j] = ∂²Ld/∂q0_i∂q1_j`, row-major `n × n`
    pub jac: Vec<f64>,
}

impl PairDerivatives {
    /// Zeroed buffers for dimension `n`.
    pub fn zeros(n: usize) -> Self {
        Self {
            d1: vec![0.0; n],
            d2: vec![0.0; n],
            jac: vec![0.0; n * n],
        }
    }
}

/// A discrete Lagrangian with its slot derivatives and Newton Jacobian.
pub trait DiscreteLagrangian {
    /// Configuration dimension `n`.
    fn dim(&self) -> usize;
    /// The time step `h` the discrete Lagrangian approximates.
    fn step_size(&self) -> f64;
    /// `Ld(q0, q1)`.
    fn value(&self, q0: &[f64], q1: &[f64]) -> f64;
    /// Fill `out` with `D1 Ld`, `D2 Ld` and `J` at `(q0, q1)`.
    fn derivatives(&self, q0: &[f64], q1: &[f64], out: &mut PairDerivatives);
    /// The same at `(q0, q0 + delta)`. The integrator works with increments;
    /// an implementation that uses `delta` directly avoids the cancellation
    /// in `q1 − q0` (relative error `ε|q|/|q1 − q0|`), which otherwise limits
    /// momentum conservation for small steps.
    fn derivatives_at_increment(&self, q0: &[f64], delta: &[f64], out: &mut PairDerivatives) {
        let q1: Vec<f64> = q0.iter().zip(delta).map(|(a, d)| a + d).collect();
        self.derivatives(q0, &q1, out);
    }
}

/// The discrete Euler–Lagrange residuals `D2 Ld(q_{k−1}, q_k) + D1 Ld(q_k,
/// q_{k+1})` along a path of positions (row-major `T × n`, `n = ld.dim()`):
/// `(T − 2) × n` values, none for fewer than 3 points. Zero (to rounding)
/// exactly when the path is a trajectory of `ld`.
pub fn del_residuals<L: DiscreteLagrangian + ?Sized>(ld: &L, q: &[f64]) -> Vec<f64> {
    let n = ld.dim();
    let points = q.len().checked_div(n).unwrap_or(0);
    let at = |k: usize| &q[k * n..(k + 1) * n];
    let (mut before, mut after) = (PairDerivatives::zeros(n), PairDerivatives::zeros(n));
    let mut out = Vec::with_capacity(points.saturating_sub(2) * n);
    for k in 1..points.saturating_sub(1) {
        ld.derivatives(at(k - 1), at(k), &mut before);
        ld.derivatives(at(k), at(k + 1), &mut after);
        out.extend(before.d2.iter().zip(&after.d1).map(|(a, b)| a + b));
    }
    out
}

/// A discrete Lagrangian that can be evaluated at any scalar type, in the
/// increment chart `Ld(q0, q0 + δ)`: the route to the higher derivatives
/// that variational backward error analysis needs (nested duals).
pub trait GenericDiscreteLagrangian: DiscreteLagrangian {
    /// `Ld(q0, q0 + delta)` for any scalar type.
    fn value_at_increment<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D;
}

impl<L: Lagrangian> GenericDiscreteLagrangian for Midpoint<L> {
    fn value_at_increment<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D {
        self.eval_increment(q0, delta)
    }
}

/// The midpoint discretisation `h · L((q0+q1)/2, (q1−q0)/h)` of a
/// continuous Lagrangian.
#[derive(Clone, Debug, PartialEq)]
pub struct Midpoint<L> {
    /// The continuous Lagrangian `L(q, q̇)` being discretised.
    pub lagrangian: L,
    /// The time step `h` (the system's time unit).
    pub h: f64,
}

impl<L: Lagrangian> Midpoint<L> {
    /// The midpoint discrete Lagrangian of `lagrangian` with step `h`.
    pub fn new(lagrangian: L, h: f64) -> Self {
        Self { lagrangian, h }
    }

    /// `Ld` on the stacked input `x = (q0, q1)`, for any scalar type.
    pub fn eval<D: Scalar>(&self, x: &[D]) -> D {
        let n = self.lagrangian.dim();
        let (q0, q1) = x.split_at(n);
        let delta: Vec<D> = q0.iter().zip(q1).map(|(a, b)| *b - *a).collect();
        self.eval_increment(q0, &delta)
    }

    /// `Ld(q0, q0 + delta)`, for any scalar type.
    pub fn eval_increment<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D {
        const STACK: usize = 8;
        let n = q0.len();
        let fill = |mid: &mut [D], vel: &mut [D]| {
            for i in 0..n {
                mid[i] = q0[i] + delta[i] * 0.5;
                vel[i] = delta[i] / self.h;
            }
        };
        if n <= STACK {
            let (mut mid, mut vel) = ([D::from(0.0); STACK], [D::from(0.0); STACK]);
            fill(&mut mid, &mut vel);
            self.lagrangian.lagrangian(&mid[..n], &vel[..n]) * self.h
        } else {
            let (mut mid, mut vel) = (vec![D::from(0.0); n], vec![D::from(0.0); n]);
            fill(&mut mid, &mut vel);
            self.lagrangian.lagrangian(&mid, &vel) * self.h
        }
    }
}

impl<L: Lagrangian> DiscreteLagrangian for Midpoint<L> {
    fn dim(&self) -> usize {
        self.lagrangian.dim()
    }
    fn step_size(&self) -> f64 {
        self.h
    }
    fn value(&self, q0: &[f64], q1: &[f64]) -> f64 {
        let x: Vec<f64> = q0.iter().chain(q1).copied().collect();
        self.eval(&x)
    }
    fn derivatives(&self, q0: &[f64], q1: &[f64], out: &mut PairDerivatives) {
        let delta: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| b - a).collect();
        self.derivatives_at_increment(q0, &delta, out);
    }

    /// Hyper-duals seeded in the `(q0, δ)` chart: `∂/∂q0_i` at fixed `q1` is
    /// the direction `(e_i, −e_i)`, `∂/∂q1_j` is `(0, e_j)`.
    fn derivatives_at_increment(&self, q0: &[f64], delta: &[f64], out: &mut PairDerivatives) {
        let n = self.dim();
        let mut a: Vec<HyperDual64> = q0.iter().map(|&x| HyperDual64::from_re(x)).collect();
        let mut d: Vec<HyperDual64> = delta.iter().map(|&x| HyperDual64::from_re(x)).collect();
        for i in 0..n {
            for j in 0..n {
                a[i].eps1 = 1.0;
                d[i].eps1 = -1.0;
                d[j].eps2 = 1.0;
                let y = self.eval_increment(&a, &d);
                a[i].eps1 = 0.0;
                d[i].eps1 = 0.0;
                d[j].eps2 = 0.0;
                out.d1[i] = y.eps1;
                out.d2[j] = y.eps2;
                out.jac[i * n + j] = y.eps1eps2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanics::System;

    /// Central finite differences of `f` at `x` in direction `e_i`, step `eps`.
    fn fd(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize, eps: f64) -> f64 {
        let (mut a, mut b) = (x.to_vec(), x.to_vec());
        a[i] += eps;
        b[i] -= eps;
        (f(&a) - f(&b)) / (2.0 * eps)
    }

    #[test]
    fn slot_derivatives_and_jacobian_agree_with_finite_differences() {
        for name in System::NAMES {
            let s = System::from_name(name).unwrap();
            let n = s.dim();
            let h = 0.05;
            let ld = Midpoint::new(&s, h);
            let q0: Vec<f64> = (0..n).map(|i| 0.7 + 0.3 * i as f64).collect();
            let q1: Vec<f64> = (0..n).map(|i| 0.72 + 0.29 * i as f64 - 0.01).collect();
            let mut d = PairDerivatives::zeros(n);
            ld.derivatives(&q0, &q1, &mut d);
            let x: Vec<f64> = q0.iter().chain(&q1).copied().collect();
            let f = |x: &[f64]| ld.eval(x);
            let eps = 1e-6;
            for i in 0..n {
                let (g1, g2) = (fd(&f, &x, i, eps), fd(&f, &x, n + i, eps));
                let tol = 1e-7 * (1.0 + g1.abs().max(g2.abs()));
                assert!(
                    (d.d1[i] - g1).abs() < tol,
                    "{name}: D1[{i}] {} vs {g1}",
                    d.d1[i]
                );
                assert!(
                    (d.d2[i] - g2).abs() < tol,
                    "{name}: D2[{i}] {} vs {g2}",
                    d.d2[i]
                );
                for j in 0..n {
                    // J[i][j] = ∂(D1_i)/∂q1_j by differencing the exact D1.
                    let d1_i = |x: &[f64]| {
                        let mut o = PairDerivatives::zeros(n);
                        ld.derivatives(&x[..n], &x[n..], &mut o);
                        o.d1[i]
                    };
                    let fdj = fd(&d1_i, &x, n + j, eps);
                    let tol = 1e-6 * (1.0 + fdj.abs());
                    let jij = d.jac[i * n + j];
                    assert!(
                        (jij - fdj).abs() < tol,
                        "{name}: J[{i}][{j}] {jij} vs {fdj}"
                    );
                }
            }
            // The increment chart gives the same numbers as the (q0, q1) chart.
            let delta: Vec<f64> = q0.iter().zip(&q1).map(|(a, b)| b - a).collect();
            let mut e = PairDerivatives::zeros(n);
            ld.derivatives_at_increment(&q0, &delta, &mut e);
            assert_eq!(d, e);
        }
    }
}
