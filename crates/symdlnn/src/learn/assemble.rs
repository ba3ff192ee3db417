//! Assembly: a validated [`TrainConfig`] and a data set become an objective
//! and a [`Trainer`] — the one place where a configuration's method decides
//! which loss is built.

use super::config::ConfigError;
use super::config::{DlnnConfig, LnnConfig, Method, SymmetryConfig, TrainConfig};
use super::det::DetStats;
use super::dlnn::Dlnn;
use super::error::FitError;
use super::latent::Latent;
use super::lnn::{Lnn, LnnSamples};
use super::objective::{LossReport, Objective};
use super::parametrisation::Parametrisation;
use super::shaping::Shaping;
use super::symmetry::EvaluationPoints;
use super::trainer::{StepGuard, Trainer};
use crate::data::Dataset;
use crate::nn::Mlp;

/// The objective of a run: DLNN (and SymDLNN) or the LNN baseline.
// One value per training run: the size difference is irrelevant.
#[allow(clippy::large_enum_variant)]
pub enum AnyObjective {
    /// DLNN, with SymDLNN's shaping term when configured.
    Dlnn(Dlnn),
    /// The LNN baseline.
    Lnn(Lnn),
}

impl Objective for AnyObjective {
    fn evaluate(&mut self, mlp: &Mlp, grad: Option<&mut [f64]>) -> LossReport {
        match self {
            Self::Dlnn(o) => o.evaluate(mlp, grad),
            Self::Lnn(o) => o.evaluate(mlp, grad),
        }
    }

    fn begin_epoch(&mut self, epoch: usize) -> bool {
        match self {
            Self::Dlnn(o) => o.begin_epoch(epoch),
            Self::Lnn(o) => o.begin_epoch(epoch),
        }
    }

    fn select(&mut self, mlp: &Mlp, batch: Option<&super::batches::Batch>) {
        match self {
            Self::Dlnn(o) => o.select(mlp, batch),
            Self::Lnn(o) => o.select(mlp, batch),
        }
    }

    fn own_params(&self) -> &[f64] {
        match self {
            Self::Dlnn(o) => o.own_params(),
            Self::Lnn(o) => o.own_params(),
        }
    }

    fn own_params_mut(&mut self) -> &mut [f64] {
        match self {
            Self::Dlnn(o) => o.own_params_mut(),
            Self::Lnn(o) => o.own_params_mut(),
        }
    }
}

impl AnyObjective {
    /// The learned discrete Lagrangian's parametrisation.
    pub fn parametrisation(&self) -> &Parametrisation {
        match self {
            Self::Dlnn(o) => o.parametrisation(),
            Self::Lnn(o) => o.parametrisation(),
        }
    }

    /// `det J` statistics over all training pairs (DLNN), at `mlp`.
    pub fn final_det_stats(&mut self, mlp: &Mlp) -> Option<DetStats> {
        match self {
            Self::Dlnn(o) => Some(o.full_det_stats(mlp)),
            Self::Lnn(_) => None,
        }
    }

    /// The latent positions (DLNN trained on noisy observations).
    pub fn latent(&self) -> Option<&super::latent::Latent> {
        match self {
            Self::Dlnn(o) => o.latent(),
            Self::Lnn(_) => None,
        }
    }

    /// Sign of `det J` at initialisation (DLNN's barrier side; 1 for LNN).
    pub fn sign0(&self) -> f64 {
        match self {
            Self::Dlnn(o) => o.sign0(),
            Self::Lnn(_) => 1.0,
        }
    }
}

impl TrainConfig {
    /// A trainer for `objective` with this configuration's schedule and step guard.
    pub fn trainer<O: Objective>(&self, mlp: Mlp, objective: O) -> Trainer<O> {
        let mut trainer = Trainer::new(mlp, objective, self.schedule.clone());
        trainer.guard = self.step_guard.map(StepGuard::new);
        trainer.threads = self.threads;
        trainer
    }
}

/// The trainer of a run, after [`TrainConfig::validate`]: a fresh network
/// from the seed, or `resume = (network, sign0)`.
pub fn trainer(
    config: &TrainConfig,
    data: &Dataset,
    resume: Option<(Mlp, f64)>,
) -> Result<Trainer<AnyObjective>, FitError> {
    config.validate(data)?;
    let (mlp, sign0) = match resume {
        Some((mlp, sign0)) => (mlp, Some(sign0)),
        None => (
            config
                .fresh_network(data)
                .map_err(super::TrainError::from)?,
            None,
        ),
    };
    let objective = match &config.method {
        Method::Dlnn(dlnn) => AnyObjective::Dlnn(dlnn_objective(config, dlnn, data, &mlp, sign0)?),
        Method::SymDlnn { dlnn, symmetry } => {
            let mut objective = dlnn_objective(config, dlnn, data, &mlp, sign0)?;
            add_shaping(&mut objective, symmetry, config, data, &mlp);
            AnyObjective::Dlnn(objective)
        }
        Method::Lnn(lnn) => AnyObjective::Lnn(lnn_objective(config, lnn, data, &mlp)?),
    };
    Ok(config.trainer(mlp, objective))
}

/// A DLNN trainer for `data` under `config` (DLNN or SymDLNN settings;
/// without a shaping term), from a fresh network.
pub fn dlnn_trainer(config: &TrainConfig, data: &Dataset) -> Result<Trainer<Dlnn>, FitError> {
    config.validate(data)?;
    let dlnn = config.dlnn().ok_or(super::ConfigError::SymmetryNeedsDlnn)?;
    let mlp = config
        .fresh_network(data)
        .map_err(super::TrainError::from)?;
    let objective = dlnn_objective(config, dlnn, data, &mlp, None)?;
    Ok(config.trainer(mlp, objective))
}

fn dlnn_objective(
    config: &TrainConfig,
    dlnn: &DlnnConfig,
    data: &Dataset,
    mlp: &Mlp,
    sign0: Option<f64>,
) -> Result<Dlnn, FitError> {
    let param = dlnn.parametrisation(data)?;
    let mut objective = Dlnn::new(mlp, param, data, dlnn.loss, sign0, config.threads);
    objective.set_running_threshold(config.control.running_threshold);
    if let Some(sigma) = dlnn.noise.resolve(data).map_err(ConfigError::from)? {
        objective.set_latent(Latent::new(data, sigma));
    }
    Ok(objective)
}

/// SymDLNN's shaping term, when it has one (a weight > 0): on the box
/// pairs it draws, and on the training pairs when its points include them.
fn add_shaping(
    objective: &mut Dlnn,
    sym: &SymmetryConfig,
    config: &TrainConfig,
    data: &Dataset,
    mlp: &Mlp,
) {
    let Some(shaping) = sym.shaping else {
        return;
    };
    let box_only = EvaluationPoints {
        train: false,
        ..sym.points
    };
    let term = Shaping::new(
        mlp,
        objective.parametrisation(),
        sym,
        shaping,
        box_only.pairs(data, config.seed),
        config.threads,
    );
    objective.set_shaping(term, sym.points.train);
}

fn lnn_objective(
    config: &TrainConfig,
    lnn: &LnnConfig,
    data: &Dataset,
    mlp: &Mlp,
) -> Result<Lnn, FitError> {
    let system = lnn
        .system
        .as_deref()
        .map(crate::mechanics::System::from_name)
        .transpose()?;
    let samples = LnnSamples::new(data, lnn.data, system.as_ref())?;
    let param = samples.parametrisation(data.dt, lnn.standardise, lnn.kinetic_prior);
    Ok(Lnn::new(mlp, samples, param, config.threads)?)
}
