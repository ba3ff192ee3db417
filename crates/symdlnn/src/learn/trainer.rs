//! Training: Adam on an [`Objective`], with a learning-rate schedule, loss
//! history, checkpoints and resumption.
//!
//! Same seed, data and thread count → bitwise-identical model: the network is
//! initialised from a ChaCha8 seed, the engine sums per-thread gradients in a
//! fixed order, and a checkpoint stores the exact Adam state, so resuming
//! gives the same final weights as an uninterrupted run.

use super::objective::{LossReport, Objective};
use crate::nn::{Adam, Mlp, NnError, Schedule};

/// One line of the loss history: the loss at the start of `epoch` and the
/// learning rate then applied.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    /// The epoch (from 0).
    pub epoch: usize,
    /// The learning rate applied.
    pub lr: f64,
    /// The loss at the start of the epoch (minibatches: the mean over the
    /// epoch's batches of the loss at the start of each step; `det` the
    /// last batch's).
    pub report: LossReport,
    /// Optimiser steps in the epoch (1: full batch).
    pub steps: usize,
    /// The held-out scores after the epoch, when it was validated.
    pub validation: Option<super::validation::ValidationScore>,
}

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A loss or gradient was NaN or infinite.
    #[error("non-finite {what} at epoch {epoch} (loss {loss:e}{terms}); training stopped")]
    NonFinite {
        /// The epoch.
        epoch: usize,
        /// `loss` or `gradient`.
        what: &'static str,
        /// The loss value.
        loss: f64,
        /// The loss terms, e.g. `, acceleration_mse NaN, singular_mass_matrices 3`.
        terms: String,
    },
    /// A network error.
    #[error(transparent)]
    Network(#[from] NnError),
}

/// Adam on an objective.
pub struct Trainer<O: Objective> {
    /// The network.
    pub mlp: Mlp,
    /// The loss.
    pub objective: O,
    /// Adam's state.
    pub adam: Adam,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Epochs done.
    pub epoch: usize,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
    /// Step rejection (see [`StepGuard`]); `None` for plain Adam.
    pub guard: Option<StepGuard>,
    grad: Vec<f64>,
    /// The buffers the unguarded step swaps the state into (the guarded
    /// step uses the guard's snapshot).
    spare: Option<Snapshot>,
    /// Threads the Adam update is split over (the configuration's).
    pub threads: usize,
    /// Schedule epochs per training epoch from `pace_from = (epoch,
    /// position)` on: the schedule is evaluated at `position + pace ×
    /// (epoch' − epoch)`, `epoch'` fractional within a minibatch epoch
    /// (`pace` 1 from `(0, 0)` unless a time budget spreads the schedule
    /// over the epochs that fit).
    pub pace: f64,
    /// Where `pace` took effect.
    pub pace_from: (usize, f64),
    /// A minibatch epoch stops taking steps at this instant (the time
    /// budget); `None`: no deadline.
    pub deadline: Option<std::time::Instant>,
}

/// Step rejection for log-scale losses: when the loss after a step exceeds
/// the loss before it by more than `max_increase`, the step is undone and
/// redone with half the learning rate (the factor recovers by ×1.1 per
/// accepted step, up to 1). It keeps one bad step of Adam at the robust
/// recipe's rate from throwing training out of a good basin. A step to a
/// non-finite loss or gradient is undone the same way (while the factor
/// exceeds [`StepGuard::MIN_FACTOR`]): the paper solver's symmetry term,
/// normalised by `det J`, is infinite where one step flips the sign of a
/// `det J`. With several minibatches an epoch, consecutive losses are of
/// different batches and not comparable: only the non-finite rule acts
/// (comparing them froze training: batches of 8 Kepler pairs differ by more
/// than the threshold, every step was undone and the rate halved to 0).
/// Deterministic; its state is part of a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct StepGuard {
    /// Largest accepted loss increase of a step.
    pub max_increase: f64,
    /// Current learning-rate factor in (0, 1].
    pub factor: f64,
    /// Steps rejected so far.
    pub rejected: usize,
    /// State before the last step: parameters, Adam, gradient, rate, loss.
    pub snapshot: Option<Snapshot>,
}

/// Parameters and optimiser state before a step, for [`StepGuard`].
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The network's parameters.
    pub params: Vec<f64>,
    /// The objective's own parameters.
    pub own: Vec<f64>,
    /// Adam's state.
    pub adam: Adam,
    /// The gradient of the step.
    pub grad: Vec<f64>,
    /// The learning rate before the guard's factor.
    pub lr: f64,
    /// The loss before the step.
    pub loss: f64,
}

impl StepGuard {
    /// Below this rate factor a non-finite loss stops training instead of
    /// being undone.
    pub const MIN_FACTOR: f64 = 1e-3;

    /// A guard rejecting steps that raise the loss by more than `max_increase`.
    pub fn new(max_increase: f64) -> Self {
        Self {
            max_increase,
            factor: 1.0,
            rejected: 0,
            snapshot: None,
        }
    }
}

impl<O: Objective> Trainer<O> {
    /// A trainer with fresh Adam state.
    pub fn new(mlp: Mlp, objective: O, schedule: Schedule) -> Self {
        let n = mlp.params().len() + objective.own_params().len();
        Self {
            mlp,
            objective,
            adam: Adam::new(n),
            schedule,
            epoch: 0,
            history: Vec::new(),
            guard: None,
            grad: vec![0.0; n],
            spare: None,
            threads: 1,
            pace: 1.0,
            pace_from: (0, 0.0),
            deadline: None,
        }
    }

    /// One epoch: loss and gradient, then an Adam step. A non-finite loss or
    /// gradient is an error and leaves the parameters untouched.
    pub fn step(&mut self) -> Result<&EpochRecord, TrainError> {
        let (report, lr) = self.optimise(self.schedule_position(self.epoch as f64), true)?;
        self.history.push(EpochRecord {
            epoch: self.epoch,
            lr,
            report,
            steps: 1,
            validation: None,
        });
        self.epoch += 1;
        Ok(self.history.last().expect("just pushed"))
    }

    /// One epoch of minibatches: an Adam step on each batch in turn, the
    /// schedule at `pace × (epoch + i / batches)` for batch `i`. The record's
    /// loss is the mean over the batches.
    pub fn minibatch_epoch(
        &mut self,
        batches: &[super::batches::Batch],
    ) -> Result<&EpochRecord, TrainError> {
        let count = batches.len().max(1) as f64;
        let mut mean: Option<LossReport> = None;
        let mut lr = 0.0;
        let mut steps = 0;
        for (i, b) in batches.iter().enumerate() {
            if i > 0
                && self
                    .deadline
                    .is_some_and(|d| std::time::Instant::now() >= d)
            {
                break;
            }
            steps += 1;
            self.objective.select(&self.mlp, Some(b));
            let at = self.schedule_position(self.epoch as f64 + i as f64 / count);
            let (report, l) = self.optimise(at, batches.len() == 1)?;
            lr = l;
            match mean.as_mut() {
                None => mean = Some(report),
                Some(m) => {
                    m.total += report.total;
                    for ((_, v), (_, x)) in m.terms.iter_mut().zip(&report.terms) {
                        *v += x;
                    }
                    m.det = report.det;
                }
            }
        }
        // The mean (a single batch: its own bits).
        if let Some(m) = mean.as_mut().filter(|_| steps > 1) {
            let k = steps as f64;
            m.total /= k;
            m.terms.iter_mut().for_each(|(_, v)| *v /= k);
        }
        let report = match mean {
            Some(m) => m,
            None => self.current_loss(),
        };
        self.history.push(EpochRecord {
            epoch: self.epoch,
            lr,
            report,
            steps,
            validation: None,
        });
        self.epoch += 1;
        Ok(self.history.last().expect("just pushed"))
    }

    /// The schedule's epoch at training epoch `epoch` (fractional; see
    /// [`Trainer::pace`]); `epoch` itself by default, to the bit.
    pub fn schedule_position(&self, epoch: f64) -> f64 {
        let (e0, p0) = self.pace_from;
        p0 + self.pace * (epoch - e0 as f64)
    }

    /// One Adam step on the objective's current selection with the
    /// schedule at (fractional) epoch `at`: the loss before the step and
    /// the rate applied. `comparable`: the previous step's loss was of the
    /// same selection (the step guard compares them).
    fn optimise(&mut self, at: f64, comparable: bool) -> Result<(LossReport, f64), TrainError> {
        self.grad.fill(0.0);
        if self.objective.begin_epoch(self.epoch) {
            if let Some(g) = self.guard.as_mut() {
                g.snapshot = None;
            }
        }
        let report = self.objective.evaluate(&self.mlp, Some(&mut self.grad));
        let fail = |what| TrainError::NonFinite {
            epoch: self.epoch,
            what,
            loss: report.total,
            terms: report
                .terms
                .iter()
                .map(|(k, v)| format!(", {k} {v:e}"))
                .collect(),
        };
        let finite_loss = report.total.is_finite();
        let finite = finite_loss && self.grad.iter().all(|g| g.is_finite());
        // Under the step guard a step that lands on a non-finite loss is
        // undone like any other bad step, until the rate is a thousandth.
        let rescue = self
            .guard
            .as_ref()
            .is_some_and(|g| g.snapshot.is_some() && g.factor > StepGuard::MIN_FACTOR);
        if !finite && !rescue {
            return Err(fail(if finite_loss { "gradient" } else { "loss" }));
        }
        let mut lr = self.schedule.lr_at(at);
        match self.guard.as_mut() {
            None => {
                let mut spare = self.spare.take();
                self.swap_and_step(&mut spare, lr);
                self.spare = spare;
            }
            Some(g) => {
                let reject = !finite
                    || (comparable
                        && g.snapshot
                            .as_ref()
                            .is_some_and(|s| report.total > s.loss + g.max_increase));
                if reject {
                    // Undo the last step; redo it with half the rate.
                    let s = g.snapshot.take().expect("checked above");
                    g.factor *= 0.5;
                    g.rejected += 1;
                    lr = s.lr * g.factor;
                    self.step_from(&s, lr);
                    self.guard.as_mut().expect("guarded").snapshot = Some(s);
                } else {
                    g.factor = (g.factor * 1.1).min(1.0);
                    lr *= g.factor;
                    let mut snap = g.snapshot.take();
                    self.swap_and_step(&mut snap, lr);
                    if let Some(s) = snap.as_mut() {
                        s.lr = self.schedule.lr_at(at);
                        s.loss = report.total;
                    }
                    self.guard.as_mut().expect("guarded").snapshot = snap;
                }
            }
        }
        Ok((report, lr))
    }

    /// Move the parameters, Adam state and gradient into `before`'s buffers
    /// (swapping: no copy of the network's parameters; fresh buffers the
    /// first time), then take the Adam step from them.
    fn swap_and_step(&mut self, before: &mut Option<Snapshot>, lr: f64) {
        let b = before.get_or_insert_with(|| Snapshot {
            params: vec![0.0; self.mlp.params().len()],
            own: vec![],
            adam: Adam::new(0),
            grad: vec![0.0; self.grad.len()],
            lr: 0.0,
            loss: 0.0,
        });
        std::mem::swap(&mut b.grad, &mut self.grad);
        self.mlp.swap_params(&mut b.params);
        b.own.clear();
        b.own.extend_from_slice(self.objective.own_params());
        std::mem::swap(&mut b.adam, &mut self.adam);
        self.step_from(b, lr);
    }

    /// One Adam step on all trained parameters from the state `before`.
    fn step_from(&mut self, before: &Snapshot, lr: f64) {
        self.adam.step_from(
            &before.adam,
            &[&before.params, &before.own],
            &mut [self.mlp.params_mut(), self.objective.own_params_mut()],
            &before.grad,
            lr,
            self.threads,
        );
    }

    /// The loss at the current parameters over every sample (no update;
    /// a minibatch selection is cleared).
    pub fn current_loss(&mut self) -> LossReport {
        self.objective.select(&self.mlp, None);
        self.objective.evaluate(&self.mlp, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;

    /// `x²` of its own parameter `x`, infinite below `wall`.
    struct Walled {
        x: [f64; 1],
        wall: f64,
    }

    impl Objective for Walled {
        fn evaluate(&mut self, mlp: &Mlp, grad: Option<&mut [f64]>) -> LossReport {
            let x = self.x[0];
            let total = if x > self.wall { x * x } else { f64::INFINITY };
            if let Some(g) = grad {
                g[mlp.params().len()] += 2.0 * x;
            }
            LossReport {
                total,
                terms: vec![],
                det: None,
            }
        }
        fn own_params(&self) -> &[f64] {
            &self.x
        }
        fn own_params_mut(&mut self) -> &mut [f64] {
            &mut self.x
        }
    }

    #[test]
    fn the_step_guard_undoes_a_step_to_an_infinite_loss() {
        let mlp = Mlp::new(1, &[2], Activation::Tanh, 0).unwrap();
        let walled = || Walled {
            x: [1.0],
            wall: 0.85,
        };
        // Adam's first steps move x by about the rate: 0.2 jumps the wall.
        let schedule = Schedule::Constant { lr: 0.2 };
        let mut t = Trainer::new(mlp.clone(), walled(), schedule.clone());
        t.guard = Some(StepGuard::new(3.0));
        for _ in 0..8 {
            t.step().unwrap();
        }
        let g = t.guard.as_ref().unwrap();
        let infinite = t
            .history
            .iter()
            .filter(|r| r.report.total.is_infinite())
            .count();
        // Every step to the wall was undone (and counted), and training went on.
        assert!(infinite >= 1, "the wall was never hit");
        assert_eq!(g.rejected, infinite);
        assert_eq!(t.history.len(), 8);
        // Without the guard the same run stops with an error at epoch 1.
        let mut plain = Trainer::new(mlp, walled(), schedule);
        plain.step().unwrap();
        let err = plain.step().unwrap_err().to_string();
        assert!(err.starts_with("non-finite loss at epoch 1"), "{err}");
    }
}
