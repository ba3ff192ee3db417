//! Adam and learning-rate schedules.
//!
//! Adam (Kingma & Ba) with bias correction: `m ← β1 m + (1−β1) g`,
//! `v ← β2 v + (1−β2) g²`, `θ ← θ − lr_t · m̂ / (√v̂ + ε)`; defaults
//! β1 = 0.9, β2 = 0.999, ε = 1e−8 (the paper's).

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
        self.step_keeping(params, grad, lr, parts, None);
    }

    /// [`Adam::step`], writing the parameters and state from before the
    /// update into `before` on the way (one pass over the memory instead of
    /// a copy and an update: the step guard's snapshot).
    pub fn step_keeping(
        &mut self,
        params: &mut [f64],
        grad: &[f64],
        lr: f64,
        parts: usize,
        before: Option<(&mut Vec<f64>, &mut Adam)>,
    ) {
        let len = params.len();
        assert!(
            grad.len() == len && self.m.len() == len && self.v.len() == len,
            "Adam: parameter, gradient and state lengths differ"
        );
        let mut keep = before.map(|(p, a)| {
            p.resize(len, 0.0);
            a.m.resize(len, 0.0);
            a.v.resize(len, 0.0);
            (a.beta1, a.beta2, a.eps, a.t) = (self.beta1, self.beta2, self.eps, self.t);
            (Raw::new(p), Raw::new(&mut a.m), Raw::new(&mut a.v))
        });
        self.t += 1;
        let t = self.t as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let (p_all, m_all, v_all) = (
            Raw::new(params),
            Raw::new(&mut self.m),
            Raw::new(&mut self.v),
        );
        // Below a few thousand parameters a thread hand-over costs more
        // than the update.
        let parts = parts.clamp(1, len.div_ceil(4096).max(1));
        let chunk = len.div_ceil(parts).max(1);
        let keep = keep.as_mut();
        let update = |i: usize| {
            let r = (i * chunk).min(len)..((i + 1) * chunk).min(len);
            // SAFETY: the ranges of distinct parts are disjoint, within
            // `len`, and every buffer is borrowed mutably for the whole call.
            let (p, m, v) = unsafe { (p_all.slice(&r), m_all.slice(&r), v_all.slice(&r)) };
            let g = &grad[r.clone()];
            if let Some((kp, km, kv)) = &keep {
                // SAFETY: as above.
                let (kp, km, kv) = unsafe { (kp.slice(&r), km.slice(&r), kv.slice(&r)) };
                kp.copy_from_slice(p);
                km.copy_from_slice(m);
                kv.copy_from_slice(v);
            }
            for (((p, g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            }
        };
        if parts == 1 {
            update(0);
        } else {
            run_parts(parts, &update);
        }
    }
}

/// A mutable buffer handed to several parts of a round, each taking a
/// disjoint range.
struct Raw(*mut f64, usize);

// SAFETY: used only through `slice` on disjoint ranges (see its callers).
unsafe impl Sync for Raw {}

impl Raw {
    fn new(x: &mut [f64]) -> Self {
        Self(x.as_mut_ptr(), x.len())
    }

    /// # Safety
    /// `r` within the buffer and not handed out twice at a time.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, r: &std::ops::Range<usize>) -> &mut [f64] {
        assert!(r.start <= r.end && r.end <= self.1);
        std::slice::from_raw_parts_mut(self.0.add(r.start), r.end - r.start)
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
    fn a_step_keeping_the_state_before_it_updates_as_a_plain_step() {
        // 10 000 parameters: split over three parts (and one).
        let len = 10_000;
        let grad: Vec<f64> = (0..len)
            .map(|k| ((k * 37 % 101) as f64 - 50.0) * 1e-2)
            .collect();
        let p0: Vec<f64> = (0..len).map(|k| (k as f64).sin()).collect();
        let mut warm = Adam::new(len);
        let mut p1 = p0.clone();
        warm.step(&mut p1, &grad, 1e-2, 1);
        for parts in [1, 3] {
            let (mut plain, mut kept) = (warm.clone(), warm.clone());
            let (mut pp, mut pk) = (p1.clone(), p1.clone());
            let (mut before_p, mut before) = (vec![], Adam::new(0));
            plain.step(&mut pp, &grad, 3e-3, parts);
            kept.step_keeping(
                &mut pk,
                &grad,
                3e-3,
                parts,
                Some((&mut before_p, &mut before)),
            );
            assert_eq!((&pp, &plain), (&pk, &kept), "same update, same bits");
            assert_eq!(
                (&before_p, &before),
                (&p1, &warm),
                "the state before the step"
            );
        }
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
