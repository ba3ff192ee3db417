//! A whole training run: fresh or resumed, with checkpoints, the loss
//! history and the final model directory.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use super::assemble::{trainer, AnyObjective};
use super::batches::Batches;
use super::build_in::{
    discover_with, identification, stage_one, stage_two, symmetry_of, IDENTIFIED_COSINE,
};
use super::config::{Method, TrainConfig};
use super::control::Keep;
use super::error::FitError;
use super::model_dir::{self, Architecture, DataSummary, ModelError, ModelFile, FORMAT};
use super::objective::{LossReport, Objective};
use super::trainer::{EpochRecord, Trainer};
use super::validation::{self, Keeper, ValidationScore, Validator};
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
    /// With `resume`: continue on data other than the checkpoint's own
    /// (of the same dimension), i.e. fine-tune.
    pub fine_tune: bool,
    /// Write into an existing directory that is not a model directory.
    pub force: bool,
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
            content_hash: Some(data.content_hash()),
            q_min: position_bound(data, f64::min),
            q_max: position_bound(data, f64::max),
        },
        training_seconds: seconds,
        symmetries: None,
        noise: trainer.objective.latent().map(|l| {
            let source = match config.dlnn().map(|d| &d.noise) {
                Some(crate::data::noise::NoiseSpec::Auto) => "auto",
                _ => "given",
            };
            l.record(source)
        }),
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

/// A trained model in memory: its description, network and loss history
/// (what [`fit`] writes into a model directory).
#[derive(Clone, Debug)]
pub struct Trained {
    /// `model.json`'s contents.
    pub model: ModelFile,
    /// The network (`weights.safetensors`).
    pub mlp: Mlp,
    /// The loss history, as `history.csv`'s text.
    pub history_csv: String,
    /// The latent positions of a model trained on noisy observations
    /// (`denoised.csv`).
    pub denoised: Option<Dataset>,
}

impl Trained {
    /// Write the model directory `dir`: `model.json`, `weights.safetensors`
    /// and `history.csv`, as one atomic save ([`model_dir::save_with`]).
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let denoised = self.denoised.as_ref().map(crate::data::io::csv_bytes);
        let mut extras = vec![("history.csv", self.history_csv.as_bytes())];
        if let Some(bytes) = &denoised {
            extras.push((model_dir::DENOISED, bytes));
        }
        model_dir::save_with(dir, &self.model, &self.mlp, &extras, None)
    }
}

/// Train a model on `data` in memory, as [`fit`] trains it (one code path:
/// the same configuration, data and seed give the same network, bit for
/// bit). `on_epoch` sees every epoch's record and may stop the run with
/// [`ControlFlow::Break`]: the model is then the one after the last
/// completed epoch (`epochs_done` says how many), described and (SymDLNN)
/// its symmetries discovered as at the end of a full run. `source` names the
/// data in `model.json`. A non-finite loss or gradient is an error.
/// SymDLNN with `build_in` trains in two stages, as [`fit`] does, but keeps
/// only the second model; a run stopped in stage 1 returns stage 1's model.
pub fn train(
    config: &TrainConfig,
    data: &Dataset,
    source: &str,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> ControlFlow<()>,
) -> Result<Trained, FitError> {
    config.validate(data)?;
    if config.method.builds_in() {
        let mut stopped = false;
        let mut watch = |r: &EpochRecord| {
            let flow = on_epoch(r);
            stopped |= flow.is_break();
            flow
        };
        let found = train_one(&stage_one(config), data, source, &mut watch)?;
        if stopped {
            return Ok(found);
        }
        let ld = LearnedLd::new(found.mlp, found.model.parametrisation.clone());
        let stage2 = built_in_stage(config, data, &found.model, &ld, None)?;
        let mut trained = train_one(&stage2, data, source, on_epoch)?;
        record_two_stages(&mut trained.model, config, &stage2, found.model.symmetries);
        return Ok(trained);
    }
    train_one(config, data, source, on_epoch)
}

/// [`train`] of one model.
fn train_one(
    config: &TrainConfig,
    data: &Dataset,
    source: &str,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> ControlFlow<()>,
) -> Result<Trained, FitError> {
    let (train, held) = split(config, data)?;
    let data = &*train;
    let mut run = fresh(config, data)?;
    equip(&mut run, data, held);
    train_epochs(&mut run, data, None, &FitOptions::default(), on_epoch)?;
    conclude(run, data, source)
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
    if config.method.builds_in() {
        return fit_two_stages(config, data, out, options, on_epoch);
    }
    if options.checkpoint_every == Some(0) {
        return Err(super::config::ConfigError::NoCheckpointInterval.into());
    }
    if !options.resume {
        config.validate(data)?;
    }
    let created = prepare_out(out, options)?;
    let result = (|| -> Result<(ModelFile, Mlp), FitError> {
        let config = if options.resume {
            Cow::Owned(model_dir::load_checkpoint(out)?.model.training)
        } else {
            Cow::Borrowed(config)
        };
        // Validation holds out whole trajectories; the rest is the training data.
        let (train, held) = split(&config, data)?;
        let data = &*train;
        let mut run = if options.resume {
            resume(data, out, options)?
        } else {
            start(&config, data, out)?
        };
        equip(&mut run, data, held);
        let mut every = |r: &EpochRecord| {
            on_epoch(r);
            ControlFlow::Continue(())
        };
        train_epochs(&mut run, data, Some(out), options, &mut every)?;
        let trained = conclude(run, data, &options.source)?;
        trained.save(out)?;
        Ok((trained.model, trained.mlp))
    })();
    if result.is_err() && created {
        // Only when empty: checkpoints written before a failure are kept.
        let _ = std::fs::remove_dir(out);
    }
    result
}

/// Check, before training, that `out` can hold the model: a directory that
/// is ours (a model or a checkpoint), empty, or new (then created; returns
/// `true`), and writable. A non-empty directory of other files is refused
/// unless `options.force`.
fn prepare_out(out: &Path, options: &FitOptions) -> Result<bool, FitError> {
    let path = || out.display().to_string();
    let io = |error: std::io::Error| ModelError::Io {
        path: path(),
        error,
    };
    let created = if out.is_dir() {
        let ours = out.join("model.json").is_file() || model_dir::checkpoint_dir(out).is_dir();
        let empty = std::fs::read_dir(out).map_err(io)?.next().is_none();
        if !ours && !empty && !options.force {
            return Err(FitError::NotAModelDirectory(path()));
        }
        false
    } else if out.exists() {
        return Err(ModelError::Invalid {
            path: path(),
            problem: "exists and is not a directory".into(),
        }
        .into());
    } else {
        std::fs::create_dir_all(out).map_err(io)?;
        true
    };
    let probe = out.join(format!(".symdlnn-probe{}", std::process::id()));
    if let Err(e) = std::fs::File::create(&probe) {
        if created {
            let _ = std::fs::remove_dir(out);
        }
        return Err(io(e).into());
    }
    let _ = std::fs::remove_file(&probe);
    Ok(created)
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
    // `out` is checked once, here; stage 2 then writes beside `discovery`.
    prepare_out(out, options)?;
    let stage2_options = FitOptions {
        force: true,
        ..options.clone()
    };
    let stage1_dir = out.join("discovery");
    let (found, mlp) = fit(&stage_one(config), data, &stage1_dir, options, on_epoch)?;
    let ld = LearnedLd::new(mlp, found.parametrisation.clone());
    let stage2 = built_in_stage(config, data, &found, &ld, Some(&stage1_dir))?;
    let (mut model, mlp) = fit(&stage2, data, out, &stage2_options, on_epoch)?;
    record_two_stages(&mut model, config, &stage2, found.symmetries);
    model_dir::save(out, &model, &mlp)?;
    Ok((model, mlp))
}

/// Stage 2's configuration from stage 1's model `found` (its network `ld`):
/// the discovered generators, when the halves of `data` identify them,
/// projected and built in ([`super::build_in`]). `dir`: where stage 1's
/// model was kept, if it was.
fn built_in_stage(
    config: &TrainConfig,
    data: &Dataset,
    found: &ModelFile,
    ld: &LearnedLd,
    dir: Option<&Path>,
) -> Result<TrainConfig, FitError> {
    let (Some(discovered), Some(sym)) = (&found.symmetries, config.method.symmetry()) else {
        return Err(FitError::BuiltIn("stage 1 found no generators".into()));
    };
    let halves = identification(ld, sym, data, config.seed)?;
    let place = match dir {
        Some(d) => format!("in {}", d.display()),
        None => "by a first model trained in memory".into(),
    };
    if !halves.identified() {
        return Err(FitError::NotIdentified {
            cosine: halves.cosine(),
            needed: IDENTIFIED_COSINE,
            kept: dir.map_or(String::new(), |d| {
                format!(" and the discovery model is in {}", d.display())
            }),
        });
    }
    let generators: Vec<_> = discovered.generators.iter().map(|g| g.affine()).collect();
    let (train, _) = split(config, data)?;
    let (symmetry, centre) = symmetry_of(&generators, &train)?;
    let source = format!("discovered {place}; its halves of the data agree to {halves}{centre}");
    stage_two(config, symmetry, source)
}

/// Record stage 2's `model` (trained by `stage2`) as `config`'s SymDLNN,
/// with the symmetries stage 1 discovered.
fn record_two_stages(
    model: &mut ModelFile,
    config: &TrainConfig,
    stage2: &TrainConfig,
    discovered: Option<super::symmetry::Symmetries>,
) {
    model.method = config.method.kind();
    if let (Some(dlnn), Some(sym)) = (stage2.dlnn(), config.method.symmetry()) {
        model.training.method = Method::SymDlnn {
            dlnn: dlnn.clone(),
            symmetry: sym.clone(),
        };
    }
    model.symmetries = discovered;
}

/// The training part of `data` and the trajectories held out for
/// validation (none without `--validation`).
fn split<'a>(
    config: &TrainConfig,
    data: &'a Dataset,
) -> Result<(Cow<'a, Dataset>, Option<Dataset>), FitError> {
    Ok(match config.control.validation {
        Some(f) => {
            let (train, held, _) = validation::split(data, f, config.seed)?;
            (Cow::Owned(train), Some(held))
        }
        None => (Cow::Borrowed(data), None),
    })
}

/// Give `run` its minibatches (DLNN/SymDLNN, when the batch size asks for
/// them) and its validator on the `held` trajectories.
fn equip(run: &mut Run, data: &Dataset, held: Option<Dataset>) {
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
    if !matches!(run.config.method, Method::Lnn(_)) {
        let lengths: Vec<usize> = data.trajectories.iter().map(|t| t.len()).collect();
        run.plan = (run.config.control.batch_size)
            .resolve(data.pairs())
            .map(|b| Batches::new(&lengths, b, run.config.seed));
    }
}

/// The configuration the trainer is built from: the validation split is
/// made before, on the whole data (the trainer sees the training part).
fn for_trainer(config: &TrainConfig) -> TrainConfig {
    let mut c = config.clone();
    c.control.validation = None;
    c.control.patience = None;
    c
}

/// A fresh run in memory.
fn fresh(config: &TrainConfig, data: &Dataset) -> Result<Run, FitError> {
    let mut trainer = trainer(&for_trainer(config), data, None)?;
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

/// A fresh run (a stale checkpoint of an earlier run is removed, so that it
/// cannot be resumed later).
fn start(config: &TrainConfig, data: &Dataset, out: &Path) -> Result<Run, FitError> {
    let run = fresh(config, data)?;
    let stale = model_dir::checkpoint_dir(out);
    if stale.is_dir() {
        std::fs::remove_dir_all(&stale).map_err(|error| ModelError::Io {
            path: stale.display().to_string(),
            error,
        })?;
    }
    Ok(run)
}

/// The run stored in `out/checkpoint`, with its configuration, on the same
/// data (other data of its dimension with `options.fine_tune`).
fn resume(data: &Dataset, out: &Path, options: &FitOptions) -> Result<Run, FitError> {
    let cp = model_dir::load_checkpoint(out)?;
    let keeper = kept(cp.best, &cp.mlp);
    let (model, mlp) = (cp.model, cp.mlp);
    check_resume_data(&model, data, options.fine_tune)?;
    let config = model.training.clone();
    let mut trainer = trainer(&for_trainer(&config), data, Some((mlp, model.sign0)))?;
    let own = trainer.objective.own_params_mut();
    if own.len() != cp.own_params.len() {
        return Err(FitError::Resume(format!(
            "the checkpoint has {} trained parameters of its own (symmetry coefficients or latent positions), the configuration {}",
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
        keeper,
    })
}

/// The keeper of a resumed run: the checkpoint's best model (a network of
/// `mlp`'s shape), if it kept one.
fn kept(best: Option<model_dir::KeptBest>, mlp: &Mlp) -> Keeper {
    let Some(b) = best else {
        return Keeper::default();
    };
    let mut net = mlp.clone();
    net.params_mut().copy_from_slice(&b.params);
    let [loss, del, rollout] = b.score;
    Keeper {
        best: Some((b.epoch, ValidationScore { loss, del, rollout }, net, b.own)),
        since: b.since,
    }
}

/// Refuse data of another dimension than the checkpoint's, and (unless
/// `fine_tune`) data that are not the run's own: another shape or step, or
/// another content hash.
fn check_resume_data(model: &ModelFile, data: &Dataset, fine_tune: bool) -> Result<(), FitError> {
    if data.n != model.n {
        return Err(FitError::Resume(format!(
            "the data have dimension {}, the checkpoint's model {}",
            data.n, model.n
        )));
    }
    if fine_tune {
        return Ok(());
    }
    let summary = (data.trajectories.len(), data.samples(), data.dt);
    let stored = (model.data.trajectories, model.data.samples, model.data.dt);
    if summary != stored {
        return Err(FitError::Resume(format!(
            "the data ({} trajectories, {} samples, dt {}) differ from the checkpoint's ({}, {}, {}); --fine-tune continues on other data",
            summary.0,
            summary.1,
            crate::sanity::num(summary.2),
            stored.0,
            stored.1,
            crate::sanity::num(stored.2)
        )));
    }
    if let Some(stored) = &model.data.content_hash {
        if *stored != data.content_hash() {
            return Err(FitError::Resume(
                "the data differ from the checkpoint's (another content hash): resume on the run's own data, or give --fine-tune to continue on these".into(),
            ));
        }
    }
    Ok(())
}

/// Train to the configuration's epochs (fewer when the time budget, the
/// patience or `on_epoch` ends the run), with checkpoints into `out` (none
/// without it) and validations.
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
    out: Option<&Path>,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> ControlFlow<()>,
) -> Result<(), FitError> {
    let mut last = Instant::now();
    let started = last;
    let mut last_checkpoint = options.resume.then_some(run.trainer.epoch);
    let epochs = run.config.epochs;
    let control = run.config.control.clone();
    // A resumed run has the budget's rest: the checkpoint's training time
    // counts.
    let budget = (control.time_budget).map(|b| Duration::from_secs_f64((b - run.seconds).max(0.0)));
    run.trainer.deadline = budget.map(|b| started + b);
    let mut planned = epochs;
    let mut warm: Option<(Instant, usize)> = None;
    while run.trainer.epoch < planned {
        let stopped = |error| match out {
            None => FitError::Train(error),
            Some(out) => FitError::Stopped {
                error,
                checkpoint: last_checkpoint,
                dir: model_dir::checkpoint_dir(out).display().to_string(),
            },
        };
        match &run.plan {
            Some(plan) => {
                let batches = plan.epoch(run.trainer.epoch);
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
            planned = pace(run, b - elapsed, epochs, &mut warm);
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
        stop |= on_epoch(record).is_break();
        if stop {
            break;
        }
        if let (Some(k), Some(out)) = (options.checkpoint_every.filter(|k| *k > 0), out) {
            if epoch.is_multiple_of(k) && epoch < planned {
                run.seconds += last.elapsed().as_secs_f64();
                last = Instant::now();
                checkpoint(run, data, out, options)?;
                last_checkpoint = Some(epoch);
            }
        }
    }
    run.trainer.deadline = None;
    run.seconds += last.elapsed().as_secs_f64();
    Ok(())
}

/// The epochs planned with `left` of the time budget: from the mean epoch
/// time since the first epoch (`warm` remembers when that ended), the rest
/// of the schedule spread over the epochs that fit (capped at `epochs`).
fn pace(
    run: &mut Run,
    left: Duration,
    epochs: usize,
    warm: &mut Option<(Instant, usize)>,
) -> usize {
    let epoch = run.trainer.epoch;
    let Some((t0, e0)) = *warm else {
        *warm = Some((Instant::now(), epoch));
        return epochs;
    };
    let per_epoch = t0.elapsed().as_secs_f64() / (epoch - e0).max(1) as f64;
    let fit = left.as_secs_f64() / per_epoch;
    // A minibatch epoch is cut at the deadline: plan the epoch that may not
    // finish; a full-batch one is not.
    let more = if run.plan.is_some() {
        fit.ceil()
    } else {
        fit.floor()
    };
    let planned = (epoch + more as usize).min(epochs).max(epoch);
    let t = &mut run.trainer;
    let at = t.schedule_position(epoch as f64);
    if planned > epoch {
        t.pace = (epochs as f64 - at).max(0.0) / (planned - epoch) as f64;
        t.pace_from = (epoch, at);
    }
    planned
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
    let best = (run.keeper.best.as_ref()).map(|(epoch, score, mlp, own)| model_dir::KeptBest {
        epoch: *epoch,
        score: [score.loss, score.del, score.rollout],
        since: run.keeper.since,
        params: mlp.params().to_vec(),
        own: own.clone(),
    });
    model_dir::save_checkpoint(
        out,
        &model,
        &t.mlp,
        (t.objective.own_params(), &t.adam, t.guard.as_ref()),
        best.as_ref(),
        &run.history.text,
    )?;
    Ok(())
}

/// Keep the best validated model (with `--keep best`), describe the model
/// and discover its symmetries (SymDLNN).
fn conclude(mut run: Run, data: &Dataset, source: &str) -> Result<Trained, FitError> {
    let validated = run.keeper.best.take();
    if let (Some((_, _, mlp, own)), Keep::Best) = (&validated, run.config.control.keep) {
        run.trainer.mlp = mlp.clone();
        run.trainer.objective.own_params_mut().copy_from_slice(own);
    }
    let last = run.trainer.history.last().and_then(|r| r.validation);
    let mut model = describe(&run.config, data, source, &mut run.trainer, run.seconds);
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
        model.symmetries = Some(discover_with(
            &ld,
            sym,
            data,
            run.config.seed,
            run.trainer.objective.own_params(),
        )?);
    }
    Ok(Trained {
        denoised: run.trainer.objective.latent().map(|l| l.denoised(data)),
        model,
        mlp: run.trainer.mlp,
        history_csv: run.history.text,
    })
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
