//! A whole training run: fresh or resumed, with checkpoints, the loss
//! history and the final model directory.

use std::path::Path;
use std::time::Instant;

use super::assemble::{trainer, AnyObjective};
use super::build_in::{discover_with, identification, stage_one, stage_two, IDENTIFIED_COSINE};
use super::config::{Method, TrainConfig};
use super::error::FitError;
use super::model_dir::{self, Architecture, DataSummary, ModelError, ModelFile, FORMAT};
use super::objective::{LossReport, Objective};
use super::trainer::{EpochRecord, Trainer};
use super::LearnedLd;
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
        method: config.method.kind(),
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
            q_min: position_bound(data, f64::min),
            q_max: position_bound(data, f64::max),
        },
        training_seconds: seconds,
        symmetries: None,
    }
}

/// A run in progress: its configuration, trainer, history and the
/// training time so far.
struct Run {
    config: TrainConfig,
    trainer: Trainer<AnyObjective>,
    history: History,
    seconds: f64,
}

/// Train a model on `data` into the model directory `out`. `on_epoch` sees
/// every epoch's record. The configuration is validated before anything is
/// written. A non-finite loss or gradient stops the run with an error; the
/// last checkpoint is left as it was. SymDLNN with `build_in` trains in two
/// stages ([`super::build_in`]): the discovery model into `out/discovery`,
/// then, when its generators are identified, the invariant model into `out`.
pub fn fit(
    config: &TrainConfig,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(ModelFile, Mlp), FitError> {
    if config.method.symmetry().is_some_and(|s| s.build_in) {
        return fit_two_stages(config, data, out, options, on_epoch);
    }
    let mut run = if options.resume {
        resume(data, out)?
    } else {
        start(config, data, out)?
    };
    train_epochs(&mut run, data, out, options, on_epoch)?;
    finish(run, data, out, options)
}

/// [`fit`] with the discovered generators built in.
fn fit_two_stages(
    config: &TrainConfig,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(ModelFile, Mlp), FitError> {
    if options.resume {
        return Err(FitError::Resume(
            "a two-stage (--build-in) run cannot be resumed; train it again".into(),
        ));
    }
    config.validate(data)?;
    let stage1_dir = out.join("discovery");
    let (found, mlp) = fit(&stage_one(config), data, &stage1_dir, options, on_epoch)?;
    let (Some(discovered), Some(sym)) = (&found.symmetries, config.method.symmetry()) else {
        return Err(FitError::BuiltIn("stage 1 found no generators".into()));
    };
    let ld = LearnedLd::new(mlp, found.parametrisation.clone());
    let cosine = identification(&ld, sym, data, config.seed)?;
    let dir = stage1_dir.display().to_string();
    if cosine.is_nan() || cosine < IDENTIFIED_COSINE {
        return Err(FitError::NotIdentified { cosine, dir });
    }
    let source = format!("discovered in {dir}; its halves of the data agree to {cosine:.4}");
    let stage2 = stage_two(config, discovered, source, data.n)?;
    let (mut model, mlp) = fit(&stage2, data, out, options, on_epoch)?;
    model.method = config.method.kind();
    if let (Some(dlnn), Some(sym)) = (stage2.dlnn(), config.method.symmetry()) {
        model.training.method = Method::SymDlnn {
            dlnn: dlnn.clone(),
            symmetry: sym.clone(),
        };
    }
    model.symmetries = found.symmetries;
    model_dir::save(out, &model, &mlp)?;
    Ok((model, mlp))
}

/// A fresh run (a stale checkpoint of an earlier run is removed, so that it
/// cannot be resumed later).
fn start(config: &TrainConfig, data: &Dataset, out: &Path) -> Result<Run, FitError> {
    let mut trainer = trainer(config, data, None)?;
    let stale = model_dir::checkpoint_dir(out);
    if stale.is_dir() {
        std::fs::remove_dir_all(&stale).map_err(|error| ModelError::Io {
            path: stale.display().to_string(),
            error,
        })?;
    }
    let history = History::new(&trainer.current_loss());
    Ok(Run {
        config: config.clone(),
        trainer,
        history,
        seconds: 0.0,
    })
}

/// The run stored in `out/checkpoint`, with its configuration, on the same data.
fn resume(data: &Dataset, out: &Path) -> Result<Run, FitError> {
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
    Ok(Run {
        config,
        trainer,
        history: History {
            text: cp.history_csv,
        },
        seconds: model.training_seconds,
    })
}

/// Train to the configuration's epochs, with checkpoints.
fn train_epochs(
    run: &mut Run,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(), FitError> {
    let mut last = Instant::now();
    let mut last_checkpoint = options.resume.then_some(run.trainer.epoch);
    let epochs = run.config.epochs;
    while run.trainer.epoch < epochs {
        let record = run.trainer.step().map_err(|error| FitError::Stopped {
            error,
            checkpoint: last_checkpoint,
            dir: model_dir::checkpoint_dir(out).display().to_string(),
        })?;
        run.history.push(record);
        on_epoch(record);
        let epoch = run.trainer.epoch;
        if let Some(k) = options.checkpoint_every.filter(|k| *k > 0) {
            if epoch.is_multiple_of(k) && epoch < epochs {
                run.seconds += last.elapsed().as_secs_f64();
                last = Instant::now();
                checkpoint(run, data, out, options)?;
                last_checkpoint = Some(epoch);
            }
        }
    }
    run.seconds += last.elapsed().as_secs_f64();
    Ok(())
}

/// Write `out/checkpoint`.
fn checkpoint(
    run: &mut Run,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
) -> Result<(), FitError> {
    let model = describe(
        &run.config,
        data,
        &options.source,
        &mut run.trainer,
        run.seconds,
    );
    let t = &run.trainer;
    model_dir::save_checkpoint(
        out,
        &model,
        &t.mlp,
        t.objective.own_params(),
        &t.adam,
        t.guard.as_ref(),
        &run.history.text,
    )?;
    Ok(())
}

/// Discover the symmetries (SymDLNN) and write the model directory.
fn finish(
    mut run: Run,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
) -> Result<(ModelFile, Mlp), FitError> {
    let mut model = describe(
        &run.config,
        data,
        &options.source,
        &mut run.trainer,
        run.seconds,
    );
    if let Some(sym) = run.config.method.symmetry() {
        let ld = LearnedLd::new(run.trainer.mlp.clone(), model.parametrisation.clone());
        model.symmetries = Some(discover_with(
            &ld,
            sym,
            data,
            run.config.seed,
            run.trainer.objective.own_params(),
        )?);
    }
    model_dir::save(out, &model, &run.trainer.mlp)?;
    crate::data::io::write_atomic(&out.join("history.csv"), run.history.text.as_bytes())
        .map_err(ModelError::from)?;
    Ok((model, run.trainer.mlp))
}

/// The smallest (`f64::min`) or largest (`f64::max`) training position of
/// each coordinate.
fn position_bound(data: &crate::data::Dataset, pick: fn(f64, f64) -> f64) -> Vec<f64> {
    (0..data.n)
        .map(|i| {
            data.trajectories
                .iter()
                .flat_map(|t| t.q.iter().skip(i).step_by(data.n).copied())
                .reduce(pick)
                .unwrap_or(f64::NAN)
        })
        .collect()
}
