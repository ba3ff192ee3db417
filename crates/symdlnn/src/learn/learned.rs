//! A trained network as a [`DiscreteLagrangian`]: the same integrator that
//! makes the ground truth predicts with it.

use std::sync::Mutex;

use std::num::NonZeroUsize;

use super::pairs::PairBatch;
use super::parametrisation::Parametrisation;
use crate::mechanics::{DiscreteLagrangian, GenericDiscreteLagrangian, PairDerivatives, Scalar};
use crate::nn::Mlp;

/// A learned discrete Lagrangian `Ld(q0, q1) = s f(u(q0, q1)) + K` (see `parametrisation`).
pub struct LearnedLd {
    mlp: Mlp,
    param: Parametrisation,
    single: Mutex<PairBatch>,
}

impl Clone for LearnedLd {
    fn clone(&self) -> Self {
        Self::new(self.mlp.clone(), self.param.clone())
    }
}

impl std::fmt::Debug for LearnedLd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnedLd")
            .field("widths", &self.mlp.widths())
            .field("param", &self.param)
            .finish()
    }
}

impl LearnedLd {
    /// Wrap a network and its parametrisation.
    pub fn new(mlp: Mlp, param: Parametrisation) -> Self {
        let single = Mutex::new(PairBatch::new(
            &mlp,
            param.clone(),
            1,
            1,
            Some(NonZeroUsize::MIN),
        ));
        Self { mlp, param, single }
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The parametrisation.
    pub fn parametrisation(&self) -> &Parametrisation {
        &self.param
    }

    /// `Ld(q0, q0 + δ)` for any scalar type (the num-dual route to higher
    /// derivatives, e.g. for VBEA).
    pub fn eval_increment<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D {
        let p = &self.param;
        let mut u = vec![D::from(0.0); p.input_dim()];
        let mut f = |swapped: bool| {
            p.input(q0, delta, swapped, &mut u);
            self.mlp.eval(&u)
        };
        let mut value = if p.time_reversible {
            (f(false) + f(true)) * (0.5 * p.output_scale)
        } else {
            f(false) * p.output_scale
        };
        for (i, c) in p.kinetic_prior.iter().enumerate() {
            value += delta[i] * delta[i] * (0.5 * c);
        }
        value
    }
}

impl GenericDiscreteLagrangian for LearnedLd {
    fn value_at_increment<D: Scalar>(&self, q0: &[D], delta: &[D]) -> D {
        self.eval_increment(q0, delta)
    }
}

impl DiscreteLagrangian for LearnedLd {
    fn dim(&self) -> usize {
        self.param.n
    }

    fn step_size(&self) -> f64 {
        self.param.h
    }

    fn value(&self, q0: &[f64], q1: &[f64]) -> f64 {
        let delta: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| b - a).collect();
        self.eval_increment(q0, &delta)
    }

    fn derivatives(&self, q0: &[f64], q1: &[f64], out: &mut PairDerivatives) {
        let delta: Vec<f64> = q0.iter().zip(q1).map(|(a, b)| b - a).collect();
        self.derivatives_at_increment(q0, &delta, out);
    }

    fn derivatives_at_increment(&self, q0: &[f64], delta: &[f64], out: &mut PairDerivatives) {
        // A poisoned lock only means another thread panicked mid-evaluation;
        // the batch is fully rewritten below, so its state is irrelevant.
        let mut b = self.single.lock().unwrap_or_else(|e| e.into_inner());
        b.set_pair(0, q0, delta);
        b.evaluate(&self.mlp);
        out.d1.copy_from_slice(&b.d1);
        out.d2.copy_from_slice(&b.d2);
        out.jac.copy_from_slice(&b.jac);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::invariant::BuiltIn;
    use crate::mechanics::AffineGenerator;
    use crate::nn::Activation;
    use num_dual::HyperDual64;

    fn params(n: usize) -> Vec<Parametrisation> {
        let h = 0.05;
        let q: Vec<f64> = (0..20 * n).map(|k| (k as f64 * 0.37).sin()).collect();
        let v: Vec<f64> = (0..20 * n).map(|k| (k as f64 * 0.53).cos() * 2.0).collect();
        let angles = |tr: bool, a: Vec<usize>| {
            Parametrisation::midpoint_velocity(n, h, &q, &v, true, tr)
                .with_angles(a, &q)
                .unwrap()
        };
        // Built-in symmetries (invariant input maps), on the pairs of `q`.
        let pairs: Vec<f64> = q
            .windows(2 * n)
            .step_by(n)
            .flat_map(|w| w.iter().copied())
            .collect();
        let built = |tr: bool, a: Vec<usize>, b: BuiltIn| {
            Parametrisation::midpoint_velocity(n, h, &q, &v, true, tr)
                .with_angles(a, &q)
                .unwrap()
                .with_built_in(b, &pairs)
                .unwrap()
        };
        let translation =
            || BuiltIn::new(n, &[(0..n).map(|i| 1.0 + i as f64).collect()], None).unwrap();
        let rotation = || {
            let mut g = vec![0.0; n * n];
            g[n] = 1.0;
            g[1] = -1.0;
            let w: Vec<f64> = (0..n)
                .map(|i| {
                    if i == 0 {
                        0.3
                    } else if i == 1 {
                        -0.7
                    } else {
                        0.0
                    }
                })
                .collect();
            BuiltIn::from_generators(n, &[AffineGenerator::new("r", g, w)]).unwrap()
        };
        let mut invariant = vec![
            built(false, vec![], translation()),
            built(true, vec![], translation()),
        ];
        if n >= 2 {
            // The cart–pendulum's case: a translation along q0, q1 an angle.
            let along0 = || {
                let e0: Vec<f64> = (0..n).map(|i| f64::from(i == 0)).collect();
                BuiltIn::new(n, &[e0], None).unwrap()
            };
            invariant.push(built(false, vec![1], along0()));
            invariant.push(built(true, vec![1], along0()));
            invariant.push(built(false, vec![], rotation()));
            invariant.push(built(true, vec![], rotation()));
        }
        if n >= 3 {
            // A rotation in (q0, q1), a translation along q2, or q2 an angle.
            let e2: Vec<f64> = (0..n).map(|i| f64::from(i == 2)).collect();
            let mut both = rotation();
            both = BuiltIn::new(n, &[e2], both.rotation.take()).unwrap();
            invariant.push(built(true, vec![], both));
            invariant.push(built(true, vec![2], rotation()));
            // so(3) of (q0, q1, q2) about a centre.
            let so3 = |extra: &str| {
                let mut specs = vec!["so3:0.2,-0.4,0.1"];
                specs.extend((!extra.is_empty()).then_some(extra));
                let specs: Vec<crate::learn::invariant::SymmetrySpec> =
                    specs.iter().map(|s| s.parse().unwrap()).collect();
                BuiltIn::from_declared(n, &specs, &[]).unwrap()
            };
            invariant.push(built(false, vec![], so3("")));
            invariant.push(built(true, vec![], so3("")));
            if n >= 4 {
                // With a translation along q3, or q3 an angle.
                invariant.push(built(true, vec![], so3("translation:0,0,0,1")));
                invariant.push(built(true, vec![3], so3("")));
            }
        }
        let mut all = vec![
            Parametrisation::raw(n, h),
            Parametrisation::midpoint_velocity(n, h, &q, &v, false, false),
            Parametrisation::midpoint_velocity(n, h, &q, &v, true, false),
            Parametrisation::midpoint_velocity(n, h, &q, &v, true, true),
            Parametrisation {
                time_reversible: true,
                ..Parametrisation::raw(n, h)
            },
            // The last coordinate an angle; all of them (nonlinear input maps).
            angles(false, vec![n - 1]),
            angles(true, vec![n - 1]),
            angles(false, (0..n).collect()),
            angles(true, (0..n).rev().collect()),
        ];
        all.extend(invariant);
        all
    }

    #[test]
    fn learned_derivatives_agree_with_num_dual() {
        for n in [1, 2, 3, 4] {
            for p in params(n) {
                let mlp = Mlp::new(p.input_dim(), &[12, 10], Activation::Softplus, 4).unwrap();
                let ld = LearnedLd::new(mlp, p.clone());
                let q0: Vec<f64> = (0..n).map(|i| 0.3 - 0.2 * i as f64).collect();
                let q1: Vec<f64> = (0..n).map(|i| 0.33 - 0.25 * i as f64).collect();
                let mut d = PairDerivatives::zeros(n);
                ld.derivatives(&q0, &q1, &mut d);
                // Hyper-duals on Ld(q0, q1) written in the (q0, q1) chart.
                for i in 0..n {
                    for j in 0..n {
                        let x: Vec<HyperDual64> = (0..2 * n)
                            .map(|k| {
                                let v = if k < n { q0[k] } else { q1[k - n] };
                                HyperDual64::new(
                                    v,
                                    (k == i) as u8 as f64,
                                    (k == n + j) as u8 as f64,
                                    0.0,
                                )
                            })
                            .collect();
                        let delta: Vec<HyperDual64> = (0..n).map(|k| x[n + k] - x[k]).collect();
                        let y = ld.eval_increment(&x[..n], &delta);
                        let close = |a: f64, e: f64| (a - e).abs() <= 1e-12 * (1.0 + e.abs());
                        assert!(
                            close(d.d1[i], y.eps1),
                            "{p:?}: D1 {} vs {}",
                            d.d1[i],
                            y.eps1
                        );
                        assert!(
                            close(d.d2[j], y.eps2),
                            "{p:?}: D2 {} vs {}",
                            d.d2[j],
                            y.eps2
                        );
                        assert!(
                            close(d.jac[i * n + j], y.eps1eps2),
                            "{p:?}: J {} vs {}",
                            d.jac[i * n + j],
                            y.eps1eps2
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn an_angle_coordinate_makes_ld_and_its_derivatives_periodic() {
        let (n, h) = (2, 0.05);
        let q: Vec<f64> = (0..40).map(|k| (k as f64 * 0.37).sin() * 3.0).collect();
        let base = Parametrisation::midpoint_velocity(n, h, &q, &q, true, false);
        let (q0, q1) = ([0.3, 2.9], [0.31, 3.05]);
        let tau = std::f64::consts::TAU;
        let (s0, s1) = ([0.3, 2.9 + tau], [0.31, 3.05 + tau]);
        let at = |p: &Parametrisation, a: &[f64], b: &[f64]| {
            let mlp = Mlp::new(p.input_dim(), &[12, 10], Activation::Softplus, 4).unwrap();
            let ld = LearnedLd::new(mlp, p.clone());
            let mut d = PairDerivatives::zeros(n);
            ld.derivatives(a, b, &mut d);
            let mut all = vec![ld.value(a, b)];
            all.extend(d.d1.iter().chain(&d.d2).chain(&d.jac));
            all
        };
        let gap = |p: &Parametrisation| {
            let (a, b) = (at(p, &q0, &q1), at(p, &s0, &s1));
            a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs() / (1.0 + x.abs()))
                .fold(0.0, f64::max)
        };
        let angles = base.clone().with_angles(vec![1], &q).unwrap();
        assert!(gap(&angles) < 1e-12, "with the angle: {}", gap(&angles));
        // Without it the network sees q̄ moved by 2π/σ: a different Ld.
        assert!(gap(&base) > 1e-3, "without the angle: {}", gap(&base));
    }
}
