//! A whole training run: fresh or resumed, with checkpoints, the loss
//! history and the final model directory.

use std::path::Path;
use std::time::Instant;

use super::dlnn::{DetStats, Dlnn};
use super::lnn::{Lnn, LnnError, LnnSamples};
use super::model_dir::{self, Architecture, DataSummary, ModelError, ModelFile, FORMAT};
use super::parametrisation::Parametrisation;
use super::symmetry::DiscoverySolver;
use super::trainer::{check_dlnn, LnnConfig, Objective};
use super::trainer::{EpochRecord, LossReport, TrainConfig, TrainError, Trainer};
use crate::data::Dataset;
use crate::nn::Mlp;

/// How to run [`fit`].
#[derive(Clone, Debug, Default)]
pub struct FitOptions {
    /// Write a checkpoint every this many epochs.
    pub checkpoint_every: Option<usize>,
    /// Continue from `out/checkpoint` (its configuration is used).
    pub resume: bool,
    /// Name of the data source, recorded in `model.json`.
    pub source: String,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("symmetry discovery: {0}")]
    Symmetry(#[from] super::symmetry::SymmetryError),
    #[error(transparent)]
    Lnn(#[from] LnnError),
    #[error("unknown system: {0}")]
    System(#[from] crate::mechanics::UnknownSystem),
    #[error("cannot resume: {0}")]
    Resume(String),
    /// Training stopped (e.g. a non-finite loss); the last checkpoint is intact.
    #[error("{error}; {}", match checkpoint { Some(e) => format!("the last good checkpoint (epoch {e}) is in {dir}"), None => "no checkpoint was written".to_string() })]
    Stopped {
        error: TrainError,
        checkpoint: Option<usize>,
        dir: String,
    },
}

/// The objective of a run: DLNN (and SymDLNN) or the LNN baseline.
// One value per training run: the size difference is irrelevant.
#[allow(clippy::large_enum_variant)]
pub enum AnyObjective {
    Dlnn(Dlnn),
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

    /// Sign of `det J` at initialisation (DLNN's barrier side; 1 for LNN).
    pub fn sign0(&self) -> f64 {
        match self {
            Self::Dlnn(o) => o.sign0(),
            Self::Lnn(_) => 1.0,
        }
    }
}

/// The trainer of a run: a fresh network from the seed, or `resume = (network, sign0)`.
pub fn trainer(
    config: &TrainConfig,
    data: &Dataset,
    resume: Option<(Mlp, f64)>,
) -> Result<Trainer<AnyObjective>, FitError> {
    let (mlp, sign0) = match resume {
        Some((mlp, sign0)) => (mlp, Some(sign0)),
        None => (config.fresh_network(data).map_err(TrainError::from)?, None),
    };
    let objective = match &config.lnn {
        None => {
            check_dlnn(config, data)?;
            let param = config.parametrisation(data)?;
            let mut dlnn = Dlnn::new(&mlp, param, data, config.loss, sign0, config.threads);
            if let Some(sym) = &config.symmetry {
                if sym.solver == DiscoverySolver::Paper && sym.shaping.is_none() {
                    return Err(TrainError::Invalid(
                        "the paper's symmetry solver trains its coefficients with the network: it needs a symmetry weight > 0".into(),
                    )
                    .into());
                }
                if let Some(shaping) = sym.shaping {
                    let box_only = super::symmetry::EvaluationPoints {
                        train: false,
                        ..sym.points
                    };
                    if sym.solver == DiscoverySolver::Paper && sym.coefficients.is_none() {
                        return Err(TrainError::Invalid(
                            "the paper's symmetry solver needs its initial coefficients".into(),
                        )
                        .into());
                    }
                    let term = super::shaping::Shaping::new(
                        &mlp,
                        dlnn.parametrisation(),
                        sym,
                        shaping,
                        box_only.pairs(data, config.seed),
                        config.threads,
                    );
                    dlnn.set_shaping(term, sym.points.train);
                }
            }
            AnyObjective::Dlnn(dlnn)
        }
        Some(LnnConfig {
            data: mode,
            system,
            standardise,
            kinetic_prior,
        }) => {
            // The LNN's inputs are (q, q̇); its network was sized without angles.
            if !config.angles.is_empty() {
                return Err(LnnError::Angles.into());
            }
            let system = system
                .as_deref()
                .map(crate::mechanics::System::from_name)
                .transpose()?;
            let samples = LnnSamples::new(data, *mode, system.as_ref())?;
            let param = samples.parametrisation(data.dt, *standardise, *kinetic_prior);
            AnyObjective::Lnn(Lnn::new(&mlp, samples, param, config.threads)?)
        }
    };
    Ok(config.trainer(mlp, objective))
}

/// The history as CSV text.
struct History {
    text: String,
}

impl History {
    fn new(report: &LossReport) -> Self {
        let mut head = vec!["epoch".to_string(), "lr".into(), "loss".into()];
        head.extend(report.terms.iter().map(|(k, _)| k.to_string()));
        head.extend([
            "min_abs_hdet".into(),
            "median_abs_hdet".into(),
            "sign_changes".into(),
        ]);
        Self {
            text: head.join(",") + "\n",
        }
    }

    fn push(&mut self, r: &EpochRecord) {
        let f = |x: f64| ryu::Buffer::new().format(x).to_string();
        let mut row = vec![r.epoch.to_string(), f(r.lr), f(r.report.total)];
        row.extend(r.report.terms.iter().map(|(_, v)| f(*v)));
        match r.report.det {
            Some(d) => row.extend([
                f(d.min_abs_hdet),
                f(d.median_abs_hdet),
                d.sign_changes.to_string(),
            ]),
            None => row.extend(["".into(), "".into(), "".into()]),
        }
        self.text.push_str(&row.join(","));
        self.text.push('\n');
    }
}

fn describe(
    config: &TrainConfig,
    data: &Dataset,
    source: &str,
    trainer: &mut Trainer<AnyObjective>,
    seconds: f64,
) -> ModelFile {
    let report = trainer.current_loss();
    let det = trainer.objective.final_det_stats(&trainer.mlp);
    let param = trainer.objective.parametrisation().clone();
    let mut final_losses: std::collections::BTreeMap<String, f64> = report
        .terms
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    final_losses.insert("loss".into(), report.total);
    ModelFile {
        format: FORMAT,
        symdlnn_version: env!("CARGO_PKG_VERSION").into(),
        method: config.method.clone(),
        n: data.n,
        h: data.dt,
        architecture: Architecture {
            input: trainer.mlp.input_dim(),
            hidden: trainer.mlp.hidden().to_vec(),
            activation: trainer.mlp.activation(),
        },
        parametrisation: param,
        training: config.clone(),
        seed: config.seed,
        epochs_done: trainer.epoch,
        sign0: trainer.objective.sign0(),
        final_losses,
        det_j: det,
        near_degenerate: det.is_some_and(|d| d.near_degenerate()),
        data: DataSummary {
            source: source.into(),
            trajectories: data.trajectories.len(),
            samples: data.samples(),
            dt: data.dt,
        },
        training_seconds: seconds,
        symmetries: None,
    }
}

/// Train a DLNN on `data` into the model directory `out`. `on_epoch` sees
/// every epoch's record. A non-finite loss or gradient stops the run with an
/// error; the last checkpoint is left as it was.
pub fn fit(
    config: &TrainConfig,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(ModelFile, Mlp), FitError> {
    let (config, mut trainer, mut history, mut seconds) = if options.resume {
        let cp = model_dir::load_checkpoint(out)?;
        let (model, mlp) = (cp.model, cp.mlp);
        let summary = (data.trajectories.len(), data.samples(), data.dt);
        let stored = (model.data.trajectories, model.data.samples, model.data.dt);
        if summary != stored {
            return Err(FitError::Resume(format!(
                "the data ({} trajectories, {} samples, dt {}) differ from the checkpoint's ({}, {}, {})",
                summary.0, summary.1, summary.2, stored.0, stored.1, stored.2
            )));
        }
        let config = model.training.clone();
        let mut trainer = trainer(&config, data, Some((mlp, model.sign0)))?;
        let own = trainer.objective.own_params_mut();
        if own.len() != cp.own_params.len() {
            return Err(FitError::Resume(format!(
                "the checkpoint has {} symmetry coefficients, the configuration {}",
                cp.own_params.len(),
                own.len()
            )));
        }
        own.copy_from_slice(&cp.own_params);
        trainer.adam = cp.adam;
        trainer.guard = cp.guard;
        trainer.epoch = model.epochs_done;
        (
            config,
            trainer,
            History {
                text: cp.history_csv,
            },
            model.training_seconds,
        )
    } else {
        // A stale checkpoint of an earlier run must not be resumed later.
        let stale = model_dir::checkpoint_dir(out);
        if stale.is_dir() {
            std::fs::remove_dir_all(&stale).map_err(|error| ModelError::Io {
                path: stale.display().to_string(),
                error,
            })?;
        }
        let mut trainer = trainer(config, data, None)?;
        let history = History::new(&trainer.current_loss());
        (config.clone(), trainer, history, 0.0)
    };
    let mut last = Instant::now();
    let mut last_checkpoint = options.resume.then_some(trainer.epoch);
    while trainer.epoch < config.epochs {
        let record = match trainer.step() {
            Ok(r) => r,
            Err(error) => {
                let dir = model_dir::checkpoint_dir(out).display().to_string();
                return Err(FitError::Stopped {
                    error,
                    checkpoint: last_checkpoint,
                    dir,
                });
            }
        };
        history.push(record);
        on_epoch(record);
        if let Some(k) = options.checkpoint_every.filter(|k| *k > 0) {
            if trainer.epoch.is_multiple_of(k) && trainer.epoch < config.epochs {
                seconds += last.elapsed().as_secs_f64();
                last = Instant::now();
                let model = describe(&config, data, &options.source, &mut trainer, seconds);
                model_dir::save_checkpoint(
                    out,
                    &model,
                    &trainer.mlp,
                    trainer.objective.own_params(),
                    &trainer.adam,
                    trainer.guard.as_ref(),
                    &history.text,
                )?;
                last_checkpoint = Some(trainer.epoch);
            }
        }
    }
    seconds += last.elapsed().as_secs_f64();
    let mut model = describe(&config, data, &options.source, &mut trainer, seconds);
    if let Some(sym) = &config.symmetry {
        let ld = super::LearnedLd::new(trainer.mlp.clone(), model.parametrisation.clone());
        model.symmetries = Some(discover_symmetries(
            &ld,
            sym,
            data,
            config.seed,
            trainer.objective.own_params(),
        )?);
    }
    model_dir::save(out, &model, &trainer.mlp)?;
    crate::data::io::write_atomic(&out.join("history.csv"), history.text.as_bytes())
        .map_err(ModelError::from)?;
    Ok((model, trainer.mlp))
}

/// The generators of a learned `ld` by `sym`'s solver and search space, on
/// `data` (the variational solver's triples; the null space's evaluation
/// pairs, box pairs drawn from ChaCha8 `seed`). The paper's solver trained
/// its `coefficients` (`K × len`) with the network; they are reported here
/// against the evaluation pairs. (`symdlnn discover` reruns the first two
/// on saved models through [`super::symmetry::discover_jointly`].)
fn discover_symmetries(
    ld: &super::LearnedLd,
    sym: &super::SymmetryConfig,
    data: &Dataset,
    seed: u64,
    coefficients: &[f64],
) -> Result<super::symmetry::Symmetries, super::symmetry::SymmetryError> {
    use super::symmetry::{discover, discover_variational, from_coefficients};
    match sym.solver {
        DiscoverySolver::Nullspace => {
            discover(ld, sym.basis, sym.generators, &sym.points.pairs(data, seed))
        }
        DiscoverySolver::Variational => discover_variational(ld, sym.basis, sym.generators, data),
        DiscoverySolver::Paper => {
            from_coefficients(ld, sym.basis, coefficients, &sym.points.pairs(data, seed))
        }
    }
}
