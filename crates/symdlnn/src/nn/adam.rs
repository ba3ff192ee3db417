//! Adam and learning-rate schedules.
//!
//! Adam (Kingma & Ba) with bias correction: `m ← β1 m + (1−β1) g`,
//! `v ← β2 v + (1−β2) g²`, `θ ← θ − lr_t · m̂ / (√v̂ + ε)`; defaults
//! β1 = 0.9, β2 = 0.999, ε = 1e−8 (the paper's).

use serde::{Deserialize, Serialize};

use super::pool::{run_parts, PartedSlice};

/// A learning-rate schedule over `epochs` epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Schedule {
    /// A constant rate.
    Constant {
        /// The rate.
        lr: f64,
    },
    /// Piecewise constant: `lr` until the first boundary, then each value in turn.
    Steps {
        /// The rate before the first boundary.
        lr: f64,
        /// Epochs, ascending, at which the rate changes.
        boundaries: Vec<usize>,
        /// The rate from each boundary on, one per boundary (the last one
        /// also serves any boundaries beyond it).
        values: Vec<f64>,
    },
    /// Cosine decay from `lr` to `lr_min` over `epochs`.
    Cosine {
        /// The rate at epoch 0.
        lr: f64,
        /// The rate at epoch `epochs` and after.
        lr_min: f64,
        /// Length of the decay in epochs.
        epochs: usize,
    },
    /// What the published code's piecewise schedule evaluates to: 3e−3 for
    /// epochs < 1000, 0 for 1000–2000, 3e−4 after 2000.
    Reference,
}

impl Schedule {
    /// The learning rate at `epoch` (from 0).
    pub fn lr(&self, epoch: usize) -> f64 {
        self.lr_at(epoch as f64)
    }

    /// The learning rate at a fractional epoch `t ≥ 0` (minibatch training
    /// evaluates the schedule at `step / steps per epoch`); at a whole `t`
    /// the same bits as [`Schedule::lr`].
    pub fn lr_at(&self, epoch: f64) -> f64 {
        match self {
            Self::Constant { lr } => *lr,
            Self::Steps {
                lr,
                boundaries,
                values,
            } => {
                let k = boundaries
                    .iter()
                    .take_while(|&&b| epoch >= b as f64)
                    .count();
                if k == 0 {
                    *lr
                } else {
                    values[(k - 1).min(values.len() - 1)]
                }
            }
            Self::Cosine { lr, lr_min, epochs } => {
                let x = epoch.min(*epochs as f64) / (*epochs).max(1) as f64;
                lr_min + (lr - lr_min) * 0.5 * (1.0 + (std::f64::consts::PI * x).cos())
            }
            Self::Reference => {
                if epoch < 1000.0 {
                    3e-3
                } else if epoch <= 2000.0 {
                    0.0
                } else {
                    3e-4
                }
            }
        }
    }
}

/// Adam state for a flat parameter vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Decay rate `β1` of the first-moment average.
    pub beta1: f64,
    /// Decay rate `β2` of the second-moment average.
    pub beta2: f64,
    /// `ε` added to `√v̂` in the update's denominator.
    pub eps: f64,
    /// Steps taken.
    pub t: u64,
    /// First-moment average `m`, one entry per parameter.
    pub m: Vec<f64>,
    /// Second-moment average `v`, one entry per parameter.
    pub v: Vec<f64>,
}

impl Adam {
    /// Fresh state for `n` parameters with the paper's constants.
    pub fn new(n: usize) -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// One update of `params` with gradient `grad` and rate `lr`, in place
    /// (it copies the state first: for small problems and tests; training
    /// uses [`Adam::step_from`]).
    pub fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) {
        let before = self.clone();
        let from = params.to_vec();
        self.step_from(&before, &[&from], &mut [params], grad, lr, 1);
    }

    /// One update from the state `before` at the parameters `from` into
    /// this state and `to`: out of place, so that the state before the step
    /// is kept without a copy (the trainer swaps buffers). The parameters
    /// may come in segments (the network's, the objective's own), matched
    /// segment for segment and concatenated for `grad` and the moments. The
    /// update is split over `parts` contiguous ranges run on the engine's
    /// worker threads (element-wise, so the same bits for any split).
    pub fn step_from(
        &mut self,
        before: &Adam,
        from: &[&[f64]],
        to: &mut [&mut [f64]],
        grad: &[f64],
        lr: f64,
        parts: usize,
    ) {
        let len = grad.len();
        assert!(
            from.len() == to.len()
                && from.iter().zip(to.iter()).all(|(f, t)| f.len() == t.len())
                && from.iter().map(|f| f.len()).sum::<usize>() == len
                && before.m.len() == len
                && before.v.len() == len,
            "Adam: parameter, gradient and state lengths differ"
        );
        (self.beta1, self.beta2, self.eps) = (before.beta1, before.beta2, before.eps);
        self.t = before.t + 1;
        self.m.resize(len, 0.0);
        self.v.resize(len, 0.0);
        let t = self.t as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let (m_all, v_all) = (PartedSlice::new(&mut self.m), PartedSlice::new(&mut self.v));
        let to: Vec<PartedSlice<f64>> = to.iter_mut().map(|t| PartedSlice::new(t)).collect();
        // Below a few thousand parameters a thread hand-over costs more
        // than the update.
        let parts = parts.clamp(1, len.div_ceil(4096).max(1));
        let chunk = len.div_ceil(parts).max(1);
        let update = |i: usize| {
            let (lo, hi) = ((i * chunk).min(len), ((i + 1) * chunk).min(len));
            let mut offset = 0;
            for (f, t) in from.iter().zip(&to) {
                let (a, b) = (lo.max(offset), hi.min(offset + f.len()));
                if a < b {
                    let (r, local) = (a..b, a - offset..b - offset);
                    // SAFETY: the ranges of distinct parts are disjoint,
                    // within the buffers, which are borrowed for the call.
                    let (m, v, p) = unsafe {
                        (
                            m_all.range(r.clone()),
                            v_all.range(r.clone()),
                            t.range(local.clone()),
                        )
                    };
                    let (g, m0, v0, p0) = (
                        &grad[r.clone()],
                        &before.m[r.clone()],
                        &before.v[r],
                        &f[local],
                    );
                    for k in 0..p.len() {
                        m[k] = b1 * m0[k] + (1.0 - b1) * g[k];
                        v[k] = b2 * v0[k] + (1.0 - b2) * g[k] * g[k];
                        p[k] = p0[k] - lr * (m[k] / c1) / ((v[k] / c2).sqrt() + eps);
                    }
                }
                offset += f.len();
            }
        };
        run_parts(parts, &update);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_evaluate_as_documented() {
        assert_eq!(Schedule::Reference.lr(999), 3e-3);
        assert_eq!(Schedule::Reference.lr(1000), 0.0);
        assert_eq!(Schedule::Reference.lr(2000), 0.0);
        assert_eq!(Schedule::Reference.lr(2001), 3e-4);
        let c = Schedule::Cosine {
            lr: 3e-3,
            lr_min: 1e-5,
            epochs: 100,
        };
        assert_eq!(c.lr(0), 3e-3);
        assert!((c.lr(50) - (1e-5 + (3e-3 - 1e-5) * 0.5)).abs() < 1e-18);
        assert!((c.lr(100) - 1e-5).abs() < 1e-18);
        let s = Schedule::Steps {
            lr: 1.0,
            boundaries: vec![10, 20],
            values: vec![0.5, 0.25],
        };
        assert_eq!((s.lr(9), s.lr(10), s.lr(25)), (1.0, 0.5, 0.25));
    }

    #[test]
    fn a_step_from_a_kept_state_is_the_plain_step_for_any_split() {
        // 10 000 parameters in two segments (9 000 + 1 000), split over
        // three parts (a part straddles the segments) and over one.
        let len = 10_000;
        let grad: Vec<f64> = (0..len)
            .map(|k| ((k * 37 % 101) as f64 - 50.0) * 1e-2)
            .collect();
        let mut p1: Vec<f64> = (0..len).map(|k| (k as f64).sin()).collect();
        let mut warm = Adam::new(len);
        warm.step(&mut p1, &grad, 1e-2);
        let mut plain = warm.clone();
        let mut pp = p1.clone();
        plain.step(&mut pp, &grad, 3e-3);
        for parts in [1, 3] {
            let mut next = Adam::new(0);
            let (mut a, mut b) = (vec![0.0; 9_000], vec![0.0; 1_000]);
            next.step_from(
                &warm,
                &[&p1[..9_000], &p1[9_000..]],
                &mut [&mut a, &mut b],
                &grad,
                3e-3,
                parts,
            );
            a.extend_from_slice(&b);
            assert_eq!((&a, &next), (&pp, &plain), "{parts} parts: the same bits");
        }
    }

    #[test]
    fn adam_first_step_moves_each_parameter_by_the_learning_rate() {
        // With bias correction the first step is lr · g/(|g| + ε/…) ≈ lr·sign(g).
        let mut a = Adam::new(3);
        let mut p = vec![1.0, 2.0, 3.0];
        a.step(&mut p, &[0.5, -2.0, 1e-3], 0.1);
        for (x, e) in p.iter().zip([0.9, 2.1, 2.9]) {
            assert!((x - e).abs() < 1e-6, "{p:?}");
        }
    }
}
