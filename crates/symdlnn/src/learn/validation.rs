//! Validation by trajectory: a seeded fraction of the trajectories is held
//! out of training; every few epochs the model is scored on them by
//!
//! * `val_loss`: the training loss on the held-out trajectories (robust
//!   recipe: `log mean|r|² − (2/n) mean log|det J|`, scale-invariant),
//! * `val_del`: its mean squared DEL residual `mean|r_k|²` (not
//!   scale-invariant: logged, not used to choose), and
//! * `val_rollout`: the median over the held-out trajectories of the
//!   relative RMSE of a short rollout ([`ROLLOUT_STEPS`] steps from the
//!   trajectory's first two points, relative to the segment's position
//!   scale); a failed rollout scores `+∞`.
//!
//! The best model is the one with the lowest `val_loss`. (Choosing by
//! `val_rollout` was measured to be worse: on 8 Kepler trajectories, one
//! held out, the rollout of the one held-out trajectory fluctuated between
//! 0.03 and 0.7 while the loss fell steadily, and picked a model at epoch
//! 2 200 of 5 000 whose training trajectories recreated at 0.23;
//! `docs/measurements.md` §9.)

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::{ConfigError, DlnnLoss};
use super::dlnn::Dlnn;
use super::objective::Objective;
use super::parametrisation::Parametrisation;
use super::LearnedLd;
use crate::data::metrics::{position_scale, rmse};
use crate::data::Dataset;
use crate::mechanics::{Convergence, VariationalIntegrator};
use crate::nn::Mlp;

/// Steps of the validation rollout (fewer when a trajectory is shorter).
pub const ROLLOUT_STEPS: usize = 50;

/// The held-out scores of one validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationScore {
    /// The training loss on the held-out trajectories (chooses the best).
    pub loss: f64,
    /// Mean squared DEL residual over the held-out triples.
    pub del: f64,
    /// Median relative RMSE of the held-out rollouts (`+∞` when failed).
    pub rollout: f64,
}

impl ValidationScore {
    /// `true` when `self` is strictly better than `other` (a lower
    /// held-out loss). NaN is never better; anything is better than NaN.
    pub fn better_than(&self, other: &Self) -> bool {
        !self.loss.is_nan() && (self.loss < other.loss || other.loss.is_nan())
    }
}

/// The seeded split: `(training, held out, indices held out)`. Holds out
/// `round(f · M)` trajectories, at least one and at most `M − 1`, drawn by
/// ChaCha8 from `seed` (stream 2^32, apart from the batches' streams).
pub fn split(
    data: &Dataset,
    fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset, Vec<usize>), ConfigError> {
    let m = data.trajectories.len();
    if m < 2 {
        return Err(super::control::ControlError(format!(
            "--validation holds out whole trajectories: the data have {m}, it needs at least 2"
        ))
        .into());
    }
    let k = ((fraction * m as f64).round() as usize).clamp(1, m - 1);
    let mut order: Vec<usize> = (0..m).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1 << 32);
    order.shuffle(&mut rng);
    let mut held: Vec<usize> = order[..k].to_vec();
    held.sort_unstable();
    let part = |keep: &dyn Fn(usize) -> bool| Dataset {
        n: data.n,
        dt: data.dt,
        trajectories: (0..m)
            .filter(|i| keep(*i))
            .map(|i| data.trajectories[i].clone())
            .collect(),
    };
    let train = part(&|i| held.binary_search(&i).is_err());
    let val = part(&|i| held.binary_search(&i).is_ok());
    if train.trajectories.iter().all(|t| t.len() < 3) {
        return Err(ConfigError::TooShort);
    }
    Ok((train, val, held))
}

/// Scores models on held-out trajectories.
pub struct Validator {
    data: Dataset,
    objective: Dlnn,
    param: Parametrisation,
}

impl Validator {
    /// A validator on `held` with the training run's parametrisation, loss
    /// settings and `det J` sign.
    pub fn new(
        mlp: &Mlp,
        param: Parametrisation,
        held: Dataset,
        loss: DlnnLoss,
        sign0: f64,
        threads: usize,
    ) -> Self {
        let objective = Dlnn::new(mlp, param.clone(), &held, loss, Some(sign0), threads);
        Self {
            data: held,
            objective,
            param,
        }
    }

    /// The held-out trajectories.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The scores of `mlp`.
    pub fn score(&mut self, mlp: &Mlp) -> ValidationScore {
        let report = self.objective.evaluate(mlp, None);
        let del = report
            .terms
            .iter()
            .find(|(k, _)| *k == "del")
            .map_or(f64::NAN, |(_, v)| *v);
        let ld = LearnedLd::new(mlp.clone(), self.param.clone());
        let n = self.data.n;
        let mut errors: Vec<f64> = self
            .data
            .trajectories
            .iter()
            .filter(|t| t.len() >= 3)
            .map(|t| {
                let steps = (t.len() - 2).min(ROLLOUT_STEPS);
                let truth = &t.q[..(steps + 2) * n];
                let path = VariationalIntegrator::new(&ld, Convergence::default())
                    .rollout_positions(t.position(0), t.position(1), steps);
                match path {
                    Ok(p) => {
                        let e = rmse(n, &p.q, truth, 2..steps + 2).unwrap_or(f64::INFINITY)
                            / position_scale(n, truth).max(f64::MIN_POSITIVE);
                        if e.is_finite() {
                            e
                        } else {
                            f64::INFINITY
                        }
                    }
                    Err(_) => f64::INFINITY,
                }
            })
            .collect();
        errors.sort_by(f64::total_cmp);
        let rollout = match errors.len() {
            0 => f64::INFINITY,
            k if k % 2 == 1 => errors[k / 2],
            k => 0.5 * (errors[k / 2 - 1] + errors[k / 2]),
        };
        ValidationScore {
            loss: report.total,
            del,
            rollout,
        }
    }
}

/// The best model so far and the validations since it.
#[derive(Default)]
pub struct Keeper {
    /// The best: its epoch (epochs done), score, network and own parameters.
    pub best: Option<(usize, ValidationScore, Mlp, Vec<f64>)>,
    /// Validations since the best one.
    pub since: usize,
}

impl Keeper {
    /// Offer the model after `epoch` epochs with `score`; `true` when it is
    /// the new best (the network is then cloned).
    pub fn offer(&mut self, epoch: usize, score: ValidationScore, mlp: &Mlp, own: &[f64]) -> bool {
        let better = self
            .best
            .as_ref()
            .is_none_or(|(_, b, _, _)| score.better_than(b))
            && !score.loss.is_nan();
        if better {
            self.best = Some((epoch, score, mlp.clone(), own.to_vec()));
            self.since = 0;
        } else {
            self.since += 1;
        }
        better
    }
}

/// The index of the best of `scores` (the first of equals), `None` when
/// empty or all NaN.
pub fn best_index(scores: &[ValidationScore]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, s) in scores.iter().enumerate() {
        if s.loss.is_nan() {
            continue;
        }
        if best.is_none_or(|b| s.better_than(&scores[b])) {
            best = Some(i);
        }
    }
    best
}
