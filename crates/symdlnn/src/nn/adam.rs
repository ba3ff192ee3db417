//! Adam and learning-rate schedules.
//!
//! Adam (Kingma & Ba) with bias correction: `m ← β1 m + (1−β1) g`,
//! `v ← β2 v + (1−β2) g²`, `θ ← θ − lr_t · m̂ / (√v̂ + ε)`; defaults
//! β1 = 0.9, β2 = 0.999, ε = 1e−8 (the paper's).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::pool::run_parts;

/// A learning-rate schedule over `epochs` epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Schedule {
    /// A constant rate.
    Constant { lr: f64 },
    /// Piecewise constant: `lr` until the first boundary, then each value in turn.
    Steps {
        lr: f64,
        boundaries: Vec<usize>,
        values: Vec<f64>,
    },
    /// Cosine decay from `lr` to `lr_min` over `epochs`.
    Cosine { lr: f64, lr_min: f64, epochs: usize },
    /// What the published code's piecewise schedule evaluates to: 3e−3 for
    /// epochs < 1000, 0 for 1000–2000, 3e−4 after 2000.
    Reference,
}

impl Schedule {
    /// The learning rate at `epoch` (from 0).
    pub fn lr(&self, epoch: usize) -> f64 {
        match self {
            Self::Constant { lr } => *lr,
            Self::Steps {
                lr,
                boundaries,
                values,
            } => {
                let k = boundaries.iter().take_while(|&&b| epoch >= b).count();
                if k == 0 {
                    *lr
                } else {
                    values[(k - 1).min(values.len() - 1)]
                }
            }
            Self::Cosine { lr, lr_min, epochs } => {
                let x = (epoch.min(*epochs) as f64) / (*epochs).max(1) as f64;
                lr_min + (lr - lr_min) * 0.5 * (1.0 + (std::f64::consts::PI * x).cos())
            }
            Self::Reference => {
                if epoch < 1000 {
                    3e-3
                } else if epoch <= 2000 {
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
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken.
    pub t: u64,
    pub m: Vec<f64>,
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

    /// Become a copy of `other`, reusing this state's buffers.
    pub fn copy_from(&mut self, other: &Adam) {
        self.beta1 = other.beta1;
        self.beta2 = other.beta2;
        self.eps = other.eps;
        self.t = other.t;
        self.m.clone_from(&other.m);
        self.v.clone_from(&other.v);
    }

    /// One update of `params` with gradient `grad` and rate `lr`, split
    /// over `parts` contiguous ranges run on the engine's worker threads
    /// (element-wise, so the same bits for any split).
    pub fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64, parts: usize) {
        self.t += 1;
        let t = self.t as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let update = |params: &mut [f64], grad: &[f64], m: &mut [f64], v: &mut [f64]| {
            for (((p, g), m), v) in params.iter_mut().zip(grad).zip(m).zip(v) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            }
        };
        // Below a few thousand parameters a thread hand-over costs more
        // than the update.
        let parts = parts.clamp(1, params.len().div_ceil(4096).max(1));
        if parts == 1 {
            update(params, grad, &mut self.m, &mut self.v);
            return;
        }
        let chunk = params.len().div_ceil(parts);
        let pieces: Vec<Mutex<_>> = params
            .chunks_mut(chunk)
            .zip(grad.chunks(chunk))
            .zip(self.m.chunks_mut(chunk))
            .zip(self.v.chunks_mut(chunk))
            .map(|(((p, g), m), v)| Mutex::new((p, g, m, v)))
            .collect();
        run_parts(pieces.len(), &|i| {
            let mut piece = pieces[i].lock().unwrap_or_else(|e| e.into_inner());
            let (p, g, m, v) = &mut *piece;
            update(p, g, m, v);
        });
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
    fn adam_first_step_moves_each_parameter_by_the_learning_rate() {
        // With bias correction the first step is lr · g/(|g| + ε/…) ≈ lr·sign(g).
        let mut a = Adam::new(3);
        let mut p = vec![1.0, 2.0, 3.0];
        a.step(&mut p, &[0.5, -2.0, 1e-3], 0.1, 1);
        for (x, e) in p.iter().zip([0.9, 2.1, 2.9]) {
            assert!((x - e).abs() < 1e-6, "{p:?}");
        }
    }
}
