//! A whole training run: fresh or resumed, with checkpoints, the loss
//! history and the final model directory.

use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, Instant};

use super::assemble::{trainer, AnyObjective};
use super::batches::Batches;
use super::config::{SymmetryConfig, TrainConfig};
use super::control::Keep;
use super::error::FitError;
use super::model_dir::{self, Architecture, DataSummary, ModelError, ModelFile, FORMAT};
use super::objective::{LossReport, Objective};
use super::symmetry::{DiscoverySolver, Symmetries, SymmetryError};
use super::trainer::{EpochRecord, Trainer};
use super::validation::{self, Keeper, Validator};
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

/// The history as CSV text (with validation: the training seconds and the
/// held-out scores, empty on epochs that were not validated).
struct History {
    text: String,
    validating: bool,
}

impl History {
    fn new(report: &LossReport, validating: bool) -> Self {
        let mut head = vec!["epoch".to_string(), "lr".into(), "loss".into()];
        head.extend(report.terms.iter().map(|(k, _)| k.to_string()));
        head.extend([
            "min_abs_hdet".into(),
            "median_abs_hdet".into(),
            "sign_changes".into(),
        ]);
        if validating {
            head.extend([
                "seconds".into(),
                "val_loss".into(),
                "val_del".into(),
                "val_rollout".into(),
            ]);
        }
        Self {
            text: head.join(",") + "\n",
            validating,
        }
    }

    fn push(&mut self, r: &EpochRecord, seconds: f64) {
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
        if self.validating {
            row.push(format!("{seconds:.3}"));
            match r.validation {
                Some(v) => row.extend([f(v.loss), f(v.del), f(v.rollout)]),
                None => row.extend(["".into(), "".into(), "".into()]),
            }
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
    /// Minibatches, when the run uses them.
    plan: Option<Batches>,
    /// The held-out trajectories' scorer, when validating.
    validator: Option<Validator>,
    /// The best model by validation.
    keeper: Keeper,
}

/// Train a model on `data` into the model directory `out`. `on_epoch` sees
/// every epoch's record. The configuration is validated before anything is
/// written. A non-finite loss or gradient stops the run with an error; the
/// last checkpoint is left as it was.
pub fn fit(
    config: &TrainConfig,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(ModelFile, Mlp), FitError> {
    let config = if options.resume {
        Cow::Owned(model_dir::load_checkpoint(out)?.model.training)
    } else {
        config.validate(data)?;
        Cow::Borrowed(config)
    };
    // Validation holds out whole trajectories; the rest is the training data.
    let (train, held) = match config.control.validation {
        Some(f) => {
            let (train, held, _) = validation::split(data, f, config.seed)?;
            (Cow::Owned(train), Some(held))
        }
        None => (Cow::Borrowed(data), None),
    };
    let data = &*train;
    let mut run = if options.resume {
        resume(data, out)?
    } else {
        start(&config, data, out)?
    };
    if let (Some(held), Some(dlnn)) = (held, run.config.dlnn()) {
        let t = &run.trainer;
        run.validator = Some(Validator::new(
            &t.mlp,
            t.objective.parametrisation().clone(),
            held,
            dlnn.loss,
            t.objective.sign0(),
            run.config.threads,
        ));
    }
    if !matches!(run.config.method, super::Method::Lnn(_)) {
        let lengths: Vec<usize> = data.trajectories.iter().map(|t| t.len()).collect();
        run.plan = run
            .config
            .control
            .batch_size
            .resolve(data.pairs())
            .map(|b| Batches::new(&lengths, b, run.config.seed));
    }
    train_epochs(&mut run, data, out, options, on_epoch)?;
    finish(run, data, out, options)
}

/// The configuration the trainer is built from: the validation split is
/// made before, on the whole data (the trainer sees the training part).
fn for_trainer(config: &TrainConfig) -> TrainConfig {
    let mut c = config.clone();
    c.control.validation = None;
    c.control.patience = None;
    c
}

/// A fresh run (a stale checkpoint of an earlier run is removed, so that it
/// cannot be resumed later).
fn start(config: &TrainConfig, data: &Dataset, out: &Path) -> Result<Run, FitError> {
    let mut trainer = trainer(&for_trainer(config), data, None)?;
    let stale = model_dir::checkpoint_dir(out);
    if stale.is_dir() {
        std::fs::remove_dir_all(&stale).map_err(|error| ModelError::Io {
            path: stale.display().to_string(),
            error,
        })?;
    }
    let history = History::new(&trainer.current_loss(), config.control.validation.is_some());
    Ok(Run {
        config: config.clone(),
        trainer,
        history,
        seconds: 0.0,
        plan: None,
        validator: None,
        keeper: Keeper::default(),
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
    let mut trainer = trainer(&for_trainer(&config), data, Some((mlp, model.sign0)))?;
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
        trainer,
        history: History {
            text: cp.history_csv,
            validating: config.control.validation.is_some(),
        },
        config,
        seconds: model.training_seconds,
        plan: None,
        validator: None,
        keeper: Keeper::default(),
    })
}

/// Train to the configuration's epochs (fewer when the time budget or the
/// patience ends the run), with checkpoints and validations.
///
/// Time budget: after every epoch from the second on, the mean epoch time
/// since the end of the first (which pays for allocations) gives the
/// epochs that fit in the time left; the rest of the schedule (defined over
/// `epochs`) is spread over them (`Trainer::pace`, continuous in the
/// schedule's position), capped at `epochs`. The run stops at the budget in
/// any case, within one optimiser step (a minibatch epoch is cut short).
fn train_epochs(
    run: &mut Run,
    data: &Dataset,
    out: &Path,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(), FitError> {
    let mut last = Instant::now();
    let started = last;
    let mut last_checkpoint = options.resume.then_some(run.trainer.epoch);
    let epochs = run.config.epochs;
    let control = run.config.control.clone();
    let budget = control.time_budget.map(Duration::from_secs_f64);
    run.trainer.deadline = budget.map(|b| started + b);
    let mut planned = epochs;
    let mut warm: Option<(Instant, usize)> = None;
    let mut batches = Vec::new();
    while run.trainer.epoch < planned {
        let stopped = |error| FitError::Stopped {
            error,
            checkpoint: last_checkpoint,
            dir: model_dir::checkpoint_dir(out).display().to_string(),
        };
        match &run.plan {
            Some(plan) => {
                batches = plan.epoch(run.trainer.epoch);
                run.trainer.minibatch_epoch(&batches).map_err(stopped)?;
            }
            None => {
                run.trainer.step().map_err(stopped)?;
            }
        };
        let epoch = run.trainer.epoch;
        let elapsed = started.elapsed();
        let out_of_time = budget.is_some_and(|b| elapsed >= b);
        if let (Some(b), false) = (budget, out_of_time) {
            match warm {
                None => warm = Some((Instant::now(), epoch)),
                Some((t0, e0)) => {
                    let per_epoch = t0.elapsed().as_secs_f64() / (epoch - e0) as f64;
                    let left = (b - elapsed).as_secs_f64() / per_epoch;
                    // A minibatch epoch is cut at the deadline: plan the
                    // epoch that may not finish; a full-batch one is not.
                    let more = if run.plan.is_some() {
                        left.ceil()
                    } else {
                        left.floor()
                    };
                    planned = (epoch + more as usize).min(epochs).max(epoch);
                    let t = &mut run.trainer;
                    let at = t.schedule_position(epoch as f64);
                    if planned > epoch {
                        t.pace = (epochs as f64 - at).max(0.0) / (planned - epoch) as f64;
                        t.pace_from = (epoch, at);
                    }
                }
            }
        }
        let last_epoch = epoch >= planned || out_of_time;
        let mut stop = out_of_time;
        if let Some(v) = run.validator.as_mut() {
            if epoch.is_multiple_of(control.validate_every) || last_epoch {
                let t = &mut run.trainer;
                let score = v.score(&t.mlp);
                run.keeper
                    .offer(epoch, score, &t.mlp, t.objective.own_params());
                t.history.last_mut().expect("an epoch was run").validation = Some(score);
                stop |= control.patience.is_some_and(|p| run.keeper.since >= p);
            }
        }
        let record = run.trainer.history.last().expect("an epoch was run");
        run.history
            .push(record, run.seconds + last.elapsed().as_secs_f64());
        on_epoch(record);
        if stop {
            break;
        }
        if let Some(k) = options.checkpoint_every.filter(|k| *k > 0) {
            if epoch.is_multiple_of(k) && epoch < planned {
                run.seconds += last.elapsed().as_secs_f64();
                last = Instant::now();
                checkpoint(run, data, out, options)?;
                last_checkpoint = Some(epoch);
            }
        }
    }
    drop(batches);
    run.trainer.deadline = None;
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
    let validated = run.keeper.best.take();
    if let Some((epoch, score, mlp, own)) = &validated {
        if run.config.control.keep == Keep::Best {
            run.trainer.mlp = mlp.clone();
            run.trainer.objective.own_params_mut().copy_from_slice(own);
        }
        let _ = (epoch, score);
    }
    let last = run.trainer.history.last().and_then(|r| r.validation);
    let mut model = describe(
        &run.config,
        data,
        &options.source,
        &mut run.trainer,
        run.seconds,
    );
    if let Some((epoch, score, _, _)) = &validated {
        let kept = match run.config.control.keep {
            Keep::Best => Some((*epoch, *score)),
            Keep::Last => last.map(|s| (run.trainer.epoch, s)),
        };
        let l = &mut model.final_losses;
        l.insert("best_epoch".into(), *epoch as f64);
        if let Some((e, s)) = kept {
            l.insert("kept_epoch".into(), e as f64);
            l.insert("val_loss".into(), s.loss);
            l.insert("val_del".into(), s.del);
            l.insert("val_rollout".into(), s.rollout);
        }
    }
    if let Some(sym) = run.config.method.symmetry() {
        let ld = LearnedLd::new(run.trainer.mlp.clone(), model.parametrisation.clone());
        model.symmetries = Some(discover_symmetries(
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

/// The generators of a learned `ld` by `sym`'s solver and search space, on
/// `data` (the variational solver's triples; the null space's evaluation
/// pairs, box pairs drawn from ChaCha8 `seed`). The paper's solver trained
/// its `coefficients` (`K × len`) with the network; they are reported here
/// against the evaluation pairs. (`symdlnn discover` reruns the first two
/// on saved models through [`super::symmetry::discover_jointly`].)
fn discover_symmetries(
    ld: &LearnedLd,
    sym: &SymmetryConfig,
    data: &Dataset,
    seed: u64,
    coefficients: &[f64],
) -> Result<Symmetries, SymmetryError> {
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
