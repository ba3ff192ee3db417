//! Training: Adam on an [`Objective`], with a learning-rate schedule, loss
//! history, checkpoints and resumption.
//!
//! Same seed, data and thread count → bitwise-identical model: the network is
//! initialised from a ChaCha8 seed, the engine sums per-thread gradients in a
//! fixed order, and a checkpoint stores the exact Adam state, so resuming
//! gives the same final weights as an uninterrupted run.

use serde::{Deserialize, Serialize};

use super::dlnn::{DetStats, Dlnn, DlnnLoss, Recipe};
use super::parametrisation::Parametrisation;
use crate::data::Dataset;
use crate::nn::{Activation, Adam, Mlp, NnError, Schedule};

/// A loss of the network parameters.
pub trait Objective {
    /// The loss at `mlp`; with `grad`, also add its gradient into it: the
    /// network's parameters first, then the objective's own
    /// ([`Objective::own_params`]).
    fn evaluate(&mut self, mlp: &Mlp, grad: Option<&mut [f64]>) -> LossReport;
    /// Parameters the objective trains beside the network's (the paper's
    /// symmetry coefficients); none by default.
    fn own_params(&self) -> &[f64] {
        &[]
    }
    /// Mutable [`Objective::own_params`].
    fn own_params_mut(&mut self) -> &mut [f64] {
        &mut []
    }
    /// Told the epoch before each training step (terms with a warm-up use
    /// it); `true` when the loss's definition changes at this epoch, so that
    /// losses from before are not comparable (the step guard forgets them).
    fn begin_epoch(&mut self, _epoch: usize) -> bool {
        false
    }
}

/// A loss value, its named terms and `det J` diagnostics.
#[derive(Clone, Debug, PartialEq)]
pub struct LossReport {
    pub total: f64,
    pub terms: Vec<(&'static str, f64)>,
    pub det: Option<DetStats>,
}

/// One line of the loss history: the loss at the start of `epoch` and the
/// learning rate then applied.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub lr: f64,
    pub report: LossReport,
}

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A loss or gradient was NaN or infinite.
    #[error("non-finite {what} at epoch {epoch} (loss {loss:e}{terms}); training stopped")]
    NonFinite {
        epoch: usize,
        what: &'static str,
        loss: f64,
        /// The loss terms, e.g. `, acceleration_mse NaN, singular_mass_matrices 3`.
        terms: String,
    },
    /// An invalid setting.
    #[error("invalid training setting: {0}")]
    Invalid(String),
    /// A network error.
    #[error(transparent)]
    Network(#[from] NnError),
}

/// Everything that defines a training run (stored in `model.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub method: String,
    pub recipe: Recipe,
    pub epochs: usize,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub schedule: Schedule,
    pub loss: DlnnLoss,
    pub kinetic_prior: bool,
    pub time_reversible: bool,
    /// Angle coordinates: `Ld` periodic in them (robust recipe).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub angles: Vec<usize>,
    pub seed: u64,
    pub threads: usize,
    /// Step rejection threshold on the loss (see [`StepGuard`]); the robust
    /// recipe's default is 3.0 (its loss is logarithmic: DEL ×20), the paper's none.
    #[serde(default)]
    pub step_guard: Option<f64>,
    /// SymDLNN: discover this many generators after training.
    #[serde(default)]
    pub symmetry: Option<SymmetryConfig>,
    /// LNN baseline settings (`method = "lnn"`).
    #[serde(default)]
    pub lnn: Option<LnnConfig>,
}

/// Settings of the LNN baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LnnConfig {
    pub data: super::lnn::LnnData,
    /// The true system, for `truth` and `reference` data.
    pub system: Option<String>,
    /// Standardise `(q, q̇)` inputs (the reference LNN did not).
    pub standardise: bool,
    /// Add `½|q̇|²` to the learned `L`.
    #[serde(default)]
    pub kinetic_prior: bool,
}

/// Settings of symmetry discovery (`--method symdlnn`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SymmetryConfig {
    /// Number of generators `K`.
    pub generators: usize,
    pub basis: super::symmetry::SymmetryBasis,
    pub points: super::symmetry::EvaluationPoints,
    /// Shape the network towards `K` generators while it learns (`None`:
    /// discovery after training only).
    #[serde(default)]
    pub shaping: Option<super::shaping::ShapingConfig>,
    /// How the generators are found after training (models written before
    /// this field existed used the null space of the learned `Ld`).
    #[serde(default)]
    pub solver: super::symmetry::DiscoverySolver,
    /// The paper's solver: its constants and initial guess (required by it).
    #[serde(default)]
    pub coefficients: Option<super::shaping::CoefficientConfig>,
}

impl TrainConfig {
    /// The defaults of a recipe for `epochs` epochs: the paper's network
    /// (3 × 128 softplus); robust: cosine 3e−3 → 1e−5, kinetic prior on;
    /// paper: constant 3e−3.
    pub fn new(recipe: Recipe, epochs: usize) -> Self {
        let schedule = match recipe {
            Recipe::Robust => Schedule::Cosine {
                lr: 3e-3,
                lr_min: 1e-5,
                epochs,
            },
            Recipe::Paper => Schedule::Constant { lr: 3e-3 },
        };
        Self {
            method: "dlnn".into(),
            recipe,
            epochs,
            hidden: vec![128, 128, 128],
            activation: Activation::Softplus,
            schedule,
            loss: DlnnLoss::new(recipe),
            kinetic_prior: recipe == Recipe::Robust,
            time_reversible: false,
            angles: vec![],
            seed: 0,
            threads: 2,
            step_guard: (recipe == Recipe::Robust).then_some(3.0),
            symmetry: None,
            lnn: None,
        }
    }

    /// Make this the LNN baseline's configuration: method `lnn`, no step
    /// guard (the LNN loss is not logarithmic), the kinetic prior as `lnn` says.
    pub fn set_lnn(&mut self, lnn: LnnConfig) {
        self.method = "lnn".into();
        self.step_guard = None;
        self.kinetic_prior = lnn.kinetic_prior;
        self.lnn = Some(lnn);
    }

    /// The network `d → hidden… → 1` initialised from the seed (`d` the
    /// parametrisation's input dimension).
    pub fn fresh_network(&self, data: &Dataset) -> Result<Mlp, NnError> {
        let d = super::parametrisation::input_dim(data.n, self.angles.len());
        Mlp::new(d, &self.hidden, self.activation, self.seed)
    }

    /// A trainer for `objective` with this configuration's schedule and step guard.
    pub fn trainer<O: Objective>(&self, mlp: Mlp, objective: O) -> Trainer<O> {
        let mut trainer = Trainer::new(mlp, objective, self.schedule.clone());
        trainer.guard = self.step_guard.map(StepGuard::new);
        trainer.threads = self.threads;
        trainer
    }

    /// The parametrisation this configuration gives on `data`.
    pub fn parametrisation(&self, data: &Dataset) -> Result<Parametrisation, TrainError> {
        let n = data.n;
        let q: Vec<f64> = data
            .trajectories
            .iter()
            .flat_map(|t| t.q.iter().copied())
            .collect();
        let p = match self.recipe {
            Recipe::Paper => Parametrisation {
                time_reversible: self.time_reversible,
                ..Parametrisation::raw(n, data.dt)
            },
            Recipe::Robust => {
                let mut v = Vec::new();
                for t in &data.trajectories {
                    for k in 0..t.len() - 1 {
                        let (a, b) = (t.position(k), t.position(k + 1));
                        v.extend(a.iter().zip(b).map(|(x, y)| (y - x) / data.dt));
                    }
                }
                Parametrisation::midpoint_velocity(
                    n,
                    data.dt,
                    &q,
                    &v,
                    self.kinetic_prior,
                    self.time_reversible,
                )
            }
        };
        if self.angles.is_empty() {
            return Ok(p);
        }
        p.with_angles(self.angles.clone(), &q)
            .map_err(TrainError::Invalid)
    }
}

/// Adam on an objective.
pub struct Trainer<O: Objective> {
    pub mlp: Mlp,
    pub objective: O,
    pub adam: Adam,
    pub schedule: Schedule,
    /// Epochs done.
    pub epoch: usize,
    pub history: Vec<EpochRecord>,
    /// Step rejection (see [`StepGuard`]); `None` for plain Adam.
    pub guard: Option<StepGuard>,
    grad: Vec<f64>,
    /// The buffers the unguarded step swaps the state into (the guarded
    /// step uses the guard's snapshot).
    spare: Option<Snapshot>,
    /// Threads the Adam update is split over (the configuration's).
    pub threads: usize,
}

/// Step rejection for log-scale losses: when the loss after a step exceeds
/// the loss before it by more than `max_increase`, the step is undone and
/// redone with half the learning rate (the factor recovers by ×1.1 per
/// accepted step, up to 1). Plain Adam at the robust recipe's rate is
/// occasionally thrown out of a good basin by one step (measured on the
/// paper's cart–pendulum, 3 000 epochs: seeds 3 and 4 ended at recreation
/// error 1.15 and 1.6e-3; with a threshold of 3 they reach 1.3e-5 and 9e-6
/// after 13–14 rejections, while a threshold of 1 rejects ~300 steps and
/// slows every seed). A step to a non-finite loss or gradient is undone the
/// same way (while the factor exceeds [`StepGuard::MIN_FACTOR`]): the
/// symmetry term of the paper's solver, normalised by `det J`, is infinite
/// where one step flips the sign of a `det J`, and is measured to do so.
/// Deterministic; its state is part of a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct StepGuard {
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
    pub adam: Adam,
    pub grad: Vec<f64>,
    pub lr: f64,
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
        }
    }

    /// One epoch: loss and gradient, then an Adam step. A non-finite loss or
    /// gradient is an error and leaves the parameters untouched.
    pub fn step(&mut self) -> Result<&EpochRecord, TrainError> {
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
        let mut lr = self.schedule.lr(self.epoch);
        match self.guard.as_mut() {
            None => {
                let mut spare = self.spare.take();
                self.swap_and_step(&mut spare, lr);
                self.spare = spare;
            }
            Some(g) => {
                let reject = !finite
                    || g.snapshot
                        .as_ref()
                        .is_some_and(|s| report.total > s.loss + g.max_increase);
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
                        s.lr = self.schedule.lr(self.epoch);
                        s.loss = report.total;
                    }
                    self.guard.as_mut().expect("guarded").snapshot = snap;
                }
            }
        }
        self.history.push(EpochRecord {
            epoch: self.epoch,
            lr,
            report,
        });
        self.epoch += 1;
        Ok(self.history.last().expect("just pushed"))
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

    /// The loss at the current parameters (no update).
    pub fn current_loss(&mut self) -> LossReport {
        self.objective.evaluate(&self.mlp, None)
    }
}

/// A DLNN trainer for `data` under `config`, from a fresh network.
pub fn dlnn_trainer(config: &TrainConfig, data: &Dataset) -> Result<Trainer<Dlnn>, TrainError> {
    check_dlnn(config, data)?;
    let mlp = config.fresh_network(data)?;
    let objective = Dlnn::new(
        &mlp,
        config.parametrisation(data)?,
        data,
        config.loss,
        None,
        config.threads,
    );
    Ok(config.trainer(mlp, objective))
}

/// Refuse data and settings a DLNN cannot train on.
pub(crate) fn check_dlnn(config: &TrainConfig, data: &Dataset) -> Result<(), TrainError> {
    if data.trajectories.iter().all(|t| t.len() < 3) {
        return Err(TrainError::Invalid("no trajectory has 3 points".into()));
    }
    if !matches!(config.loss.degeneracy_power, 1 | 2) {
        return Err(TrainError::Invalid(format!(
            "degeneracy power must be 1 or 2, got {}",
            config.loss.degeneracy_power
        )));
    }
    check_angles(&config.angles, data)
}

/// Angle coordinates must be unwrapped: a step of more than π between
/// snapshots is a wrap (the velocity input would see a jump of 2π). The
/// rest is checked by [`Parametrisation::with_angles`].
pub fn check_angles(angles: &[usize], data: &Dataset) -> Result<(), TrainError> {
    for (t, traj) in data.trajectories.iter().enumerate() {
        for k in 1..traj.len() {
            for &i in angles.iter().filter(|&&i| i < data.n) {
                let step = traj.position(k)[i] - traj.position(k - 1)[i];
                if step.abs() > std::f64::consts::PI {
                    return Err(TrainError::Invalid(format!(
                        "angle coordinate {i} jumps by {step:.3} between snapshots {} and {k} of trajectory {t}: unwrap it (e.g. numpy.unwrap) so that steps stay below π",
                        k - 1
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Test support: check an objective's gradient (network parameters, then
/// its own) against central finite differences at every `stride`-th
/// network parameter and every own parameter, with tolerance
/// `rtol · (|fd| + floor · max(|loss|, 1))`.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_gradient_matches_fd(
    obj: &mut impl Objective,
    mlp: &mut Mlp,
    stride: usize,
    rtol: f64,
    floor: f64,
    what: &str,
) {
    let net = mlp.params().len();
    let mut grad = vec![0.0; net + obj.own_params().len()];
    let base = obj.evaluate(mlp, Some(&mut grad)).total;
    assert!(base.is_finite(), "{what}: loss {base}");
    let check = |k: usize, adjoint: f64, lp: f64, lm: f64, eps: f64| {
        let fd = (lp - lm) / (2.0 * eps);
        let tol = rtol * (fd.abs() + floor * base.abs().max(1.0));
        assert!(
            (adjoint - fd).abs() <= tol,
            "{what} param {k}: adjoint {adjoint} vs FD {fd}"
        );
    };
    // Every `stride`-th network parameter, then every own parameter.
    fn param<'a>(obj: &'a mut impl Objective, mlp: &'a mut Mlp, k: usize) -> &'a mut f64 {
        let net = mlp.params().len();
        if k < net {
            &mut mlp.params_mut()[k]
        } else {
            &mut obj.own_params_mut()[k - net]
        }
    }
    for k in (0..net).step_by(stride).chain(net..grad.len()) {
        let x0 = *param(obj, mlp, k);
        let eps = 1e-6 * (1.0 + x0.abs());
        *param(obj, mlp, k) = x0 + eps;
        let lp = obj.evaluate(mlp, None).total;
        *param(obj, mlp, k) = x0 - eps;
        let lm = obj.evaluate(mlp, None).total;
        *param(obj, mlp, k) = x0;
        check(k, grad[k], lp, lm, eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
