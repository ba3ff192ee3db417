use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use symdlnn::data::{Dataset, NoiseSpec};
use symdlnn::learn::control::{parse_duration, BatchSize, Keep, TrainControl};
use symdlnn::learn::invariant::{BuiltIn, SymmetrySpec};
use symdlnn::learn::model_dir::ModelFile;
use symdlnn::learn::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis};
use symdlnn::learn::{
    check_generator_count, fit, BuiltInConfig, CoefficientConfig, CoefficientInit, DlnnConfig,
    EpochRecord, FitOptions, JacobianStride, LnnConfig, LnnData, Method, MethodKind, Recipe,
    ScheduleSpec, ShapingConfig, SymmetryConfig, TrainConfig,
};
use symdlnn::nn::Activation;

use crate::args;

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum MethodArg {
    /// Discrete Lagrangian neural network
    Dlnn,
    /// DLNN plus null-space discovery of K symmetry generators
    Symdlnn,
    /// Lagrangian neural network baseline L(q, q̇), trained on accelerations
    Lnn,
}

#[derive(Clone, Copy, ValueEnum)]
enum LnnDataArg {
    /// q̇ and q̈ by central differences of positions (what DLNN gets)
    Positions,
    /// q̇ from the file's v columns, q̈ from the true system (the LNN paper's protocol)
    Truth,
    /// the published SymDLNN code's protocol: (q, p) taken as (q, q̇); only to explain its LNN figure
    Reference,
}

#[derive(Clone, Copy, ValueEnum)]
enum SymSolver {
    /// Fields that solve the learned dynamics' linearised DEL equations (gauge-invariant)
    Variational,
    /// Smallest right singular vectors of the symmetry matrix of the learned Ld
    Nullspace,
    /// The paper's: coefficients trained with the network (needs --sym-weight > 0; default 1)
    Paper,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum RecipeArg {
    Robust,
    Paper,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ThresholdArg {
    /// Each batch's own median
    Batch,
    /// An exponential running median over the batches
    Running,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeepArg {
    /// The model with the lowest validation score
    Best,
    /// The model at the end of training
    Last,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Args)]
#[command(after_help = "Examples:
  symdlnn simulate --system cartpend --out cartpend.csv
  symdlnn train --data cartpend.csv --epochs 3000 --out model
  symdlnn train --data cartpend.csv --time-reversible --out model-tr
  # a pendulum that turns over: Ld periodic in q1
  symdlnn train --data cartpend20.csv --angles 1 --out model-angles
  # the paper's recipe and the published code's learning-rate schedule
  symdlnn train --data cartpend.csv --recipe paper --epochs 100000 --schedule reference --out model-paper
  # continue an interrupted run
  symdlnn train --data cartpend.csv --epochs 20000 --checkpoint-every 1000 --out model
  symdlnn train --data cartpend.csv --resume --out model

Schedules: cosine (lr → 1e-5; the robust default), constant (the paper's default),
reference (3e-3 below epoch 1000, 0 to 2000, 3e-4 after: what the published code evaluates),
steps:E1=LR1,E2=LR2,… (lr until E1, then LR1, …).")]
pub struct TrainArgs {
    /// Learning method
    #[arg(long, value_enum, default_value = "dlnn")]
    method: MethodArg,
    /// Training trajectories: .csv (several trajectories by a traj column) or .npy files, or directories of them (all with one Δt; trajectories may differ in length)
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Time step (default: the file's t column; required for .npy)
    #[arg(long, value_parser = args::positive)]
    dt: Option<f64>,
    /// Loss recipe: robust (scale-invariant, the default) or paper (the paper's, exactly)
    #[arg(long, value_enum, default_value = "robust")]
    recipe: RecipeArg,
    /// Training epochs, passes over the data [default: 20 000 optimiser steps' worth: 20 000 epochs with a full batch, fewer with minibatches]
    #[arg(long)]
    epochs: Option<usize>,
    /// Hidden layer widths [default: 128,128,128]
    #[arg(long, value_parser = args::widths)]
    hidden: Option<args::Widths>,
    /// Activation: softplus, tanh, sin, silu
    #[arg(long, default_value = "softplus", value_parser = args::activation)]
    activation: Activation,
    /// Initial learning rate
    #[arg(long, default_value_t = 3e-3, value_parser = args::positive)]
    lr: f64,
    /// Learning-rate schedule (default: cosine for robust, constant for paper)
    #[arg(long)]
    schedule: Option<String>,
    /// Weight of the paper's degeneracy term
    #[arg(long, default_value_t = 1.0, value_parser = args::non_negative)]
    degeneracy_weight: f64,
    /// Power m of det J in the paper's degeneracy term (1 or 2)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    degeneracy_power: u32,
    /// Evaluate det J (degeneracy term, barrier) at every K-th pair only (1: all pairs; auto or default: robust recipe the largest K ≤ 10 that keeps ≥ 20 pairs, paper recipe 1)
    #[arg(long, value_name = "K")]
    jacobian_every: Option<JacobianStride>,
    /// Observation noise: train denoised positions with the model (auto: estimate σ per coordinate from the data; σ or σ0,σ1,…: given; 0: none, the default)
    #[arg(long, value_name = "auto|σ|σ0,σ1,…|0")]
    noise: Option<String>,
    /// Kinetic prior h|v|²/2 in Ld, ½|q̇|² in the LNN's L (robust recipe and LNN; default on)
    #[arg(long, value_enum)]
    kinetic_prior: Option<OnOff>,
    /// Symmetrise Ld under time reversal (wrong for gyroscopic or magnetic systems)
    #[arg(long)]
    time_reversible: bool,
    /// Coordinates that are angles, by index i of q_i (e.g. 1 or 0,1): the network sees sin and cos of their midpoint, so Ld is 2π-periodic in them (robust recipe; the data must be unwrapped)
    #[arg(long, value_name = "I,J,…", value_parser = args::indices)]
    angles: Option<args::Indices>,
    /// Build a symmetry into Ld (repeatable): rotation (about the origin, coordinates 0 and 1), rotation:cx,cy, so3 (all rotations of coordinates 0, 1, 2 about the origin: three generators), so3:cx,cy,cz (about a centre), translation:a,b,…, affine:M;w (projected on a translation or a rotation; three rotations spanning so(3) of one 3-D subspace together) or from:MODEL (the generators a SymDLNN model discovered); the network then sees only invariants of the pair (robust recipe)
    #[arg(long, value_name = "SPEC")]
    symmetry: Vec<String>,
    /// Seed of the network initialisation (ChaCha8)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (the batch is split across them; results depend on this number only through summation order)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
    /// SymDLNN: number of generators K to discover
    #[arg(long, default_value_t = 1)]
    symmetries: usize,
    /// SymDLNN: how generators are found: variational (after training, fields solving the learned dynamics' linearised DEL equations; gauge-invariant), nullspace (after training, ξ·∇Ld = 0 at --sym-points) or paper (coefficients trained with the network by the symmetry term)
    #[arg(long, value_enum, default_value = "variational")]
    sym_solver: SymSolver,
    /// SymDLNN, paper solver: initial coefficients: random (ChaCha8 from --seed), the paper's guess for cartpend or kepler (affine basis, n = 2, K = 1), or K × (basis size) comma-separated numbers
    #[arg(long, value_name = "INIT")]
    sym_init: Option<String>,
    /// SymDLNN, paper solver: weight α of (|c_j|² − 1)² [default: 1]
    #[arg(long, value_parser = args::non_negative)]
    sym_alpha: Option<f64>,
    /// SymDLNN, paper solver: weight β of the squared orthogonality term ⟨c_j, c_k⟩² [default: 1]
    #[arg(long, value_parser = args::non_negative)]
    sym_beta: Option<f64>,
    /// SymDLNN: search space: affine (ξ = Mq + w), translations, linear, rotations, or polynomial:D (every component a polynomial of degree ≤ D, 1 ≤ D ≤ 6)
    #[arg(long, default_value = "affine")]
    sym_basis: String,
    /// SymDLNN: weight λ of the symmetry term while training: with nullspace or variational the shaping term λ·Σ_{j≤K} σ_j²/‖A‖_F² (default 0: discovery after training only); with paper its symmetry loss (default 1)
    #[arg(long, value_parser = args::non_negative)]
    sym_weight: Option<f64>,
    /// SymDLNN: epochs before the shaping term trains [default: 30 % of --epochs]
    #[arg(long, value_name = "EPOCHS")]
    sym_warmup: Option<usize>,
    /// SymDLNN: then train again with the discovered generators built into Ld, if the data identify them (the generators found on the two halves of every trajectory agree); the discovery model goes to OUT/discovery
    #[arg(long)]
    build_in: bool,
    /// SymDLNN: evaluation pairs: train, box:N or train+box:N
    #[arg(long, default_value = "train+box:200")]
    sym_points: String,
    /// LNN: where velocities and accelerations come from
    #[arg(long, value_enum, default_value = "positions")]
    lnn_data: LnnDataArg,
    /// LNN: the true system, for --lnn-data truth or reference
    #[arg(long)]
    system: Option<String>,
    /// LNN: feed raw (q, q̇) to the network, as the reference LNN did (default: standardised)
    #[arg(long)]
    lnn_raw_inputs: bool,
    /// Training pairs per optimiser step: auto (full batch up to 2048 pairs, above it minibatches of 512), full, or a number B ≥ 8 (pairs shuffled every epoch from --seed; an epoch is one pass)
    #[arg(long, default_value = "auto", value_name = "B")]
    batch_size: String,
    /// Hold out this fraction of the trajectories (drawn from --seed) and score the model on them every --validate-every epochs (history.csv: val_loss, val_del, val_rollout; the best is the lowest val_loss)
    #[arg(long, value_name = "F")]
    validation: Option<f64>,
    /// Epochs between validations
    #[arg(long, default_value_t = 10, value_name = "EPOCHS")]
    validate_every: usize,
    /// With --validation: keep the best model by validation (default) or the last
    #[arg(long, value_enum)]
    keep: Option<KeepArg>,
    /// With --validation: stop after this many validations without improvement
    #[arg(long, value_name = "N")]
    patience: Option<usize>,
    /// Minibatches, robust recipe: the barrier's threshold 1e-6 × median |det J| from each batch (batch) or a running median over batches (running)
    #[arg(long, value_enum, default_value = "batch")]
    barrier_threshold: ThresholdArg,
    /// Train for at most this long (e.g. 90s, 10m, 1h): the schedule is spread over the epochs that fit, from the epoch time measured in the first seconds; --epochs still caps the run
    #[arg(long, value_name = "TIME")]
    time_budget: Option<String>,
    /// Write a checkpoint every K epochs (to OUT/checkpoint)
    #[arg(long, value_name = "K")]
    checkpoint_every: Option<usize>,
    /// Continue from OUT/checkpoint with its settings, on the run's own data
    #[arg(long)]
    resume: bool,
    /// With --resume: continue on other data of the same dimension (fine-tuning)
    #[arg(long, requires = "resume")]
    fine_tune: bool,
    /// Write into an existing directory that holds files but no model
    #[arg(long)]
    force: bool,
    /// Model directory to write
    #[arg(long)]
    out: PathBuf,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

/// Refuse the first flag given (`true`) that applies to `scope` only.
fn refuse_given(flags: &[(bool, &str)], scope: &str) -> anyhow::Result<()> {
    match flags.iter().find(|(given, _)| *given) {
        Some((_, flag)) => bail!("{flag} applies to {scope} only"),
        None => Ok(()),
    }
}

/// The `--sym-basis` and `--sym-points` flags, checked with `--symmetries k`
/// for data of dimension `n`.
pub fn search_space(
    basis: &str,
    points: &str,
    k: usize,
    n: usize,
) -> anyhow::Result<(SymmetryBasis, EvaluationPoints)> {
    let b: SymmetryBasis = basis.parse().context("--sym-basis")?;
    let p: EvaluationPoints = points.parse().context("--sym-points")?;
    check_generator_count(b, k, n)?;
    Ok((b, p))
}

impl TrainArgs {
    /// The run these flags describe, for `data` (checked by the library
    /// when it trains).
    fn config(&self, data: &Dataset) -> anyhow::Result<TrainConfig> {
        let n = data.n;
        if self.resume {
            refuse_given(
                &[
                    (self.epochs.is_some(), "--epochs"),
                    (self.hidden.is_some(), "--hidden"),
                ],
                "a fresh run (--resume continues with the checkpoint's settings)",
            )?;
        }
        let recipe = match self.recipe {
            RecipeArg::Robust => Recipe::Robust,
            RecipeArg::Paper => Recipe::Paper,
        };
        let batch_size: BatchSize = self.batch_size.parse().context("--batch-size")?;
        let kind = match self.method {
            MethodArg::Dlnn => MethodKind::Dlnn,
            MethodArg::Symdlnn => MethodKind::SymDlnn,
            MethodArg::Lnn => MethodKind::Lnn,
        };
        let epochs = (self.epochs).unwrap_or_else(|| kind.default_epochs(data.pairs(), batch_size));
        let method = self.method(recipe, n, epochs)?;
        let spec = match &self.schedule {
            Some(s) => s.parse().context("--schedule")?,
            None => ScheduleSpec::default_for(recipe),
        };
        let base = match method {
            Method::Lnn(lnn) => TrainConfig::lnn(lnn, epochs),
            method => TrainConfig {
                method,
                ..TrainConfig::new(recipe, epochs)
            },
        };
        Ok(TrainConfig {
            hidden: self
                .hidden
                .as_ref()
                .map_or(base.hidden.clone(), |w| w.0.clone()),
            activation: self.activation,
            schedule: spec.schedule(self.lr, epochs),
            seed: self.seed,
            threads: self.threads as usize,
            control: TrainControl {
                batch_size,
                validation: self.validation,
                validate_every: self.validate_every,
                keep: match self.keep {
                    None | Some(KeepArg::Best) => Keep::Best,
                    Some(KeepArg::Last) => Keep::Last,
                },
                patience: self.patience,
                running_threshold: self.barrier_threshold == ThresholdArg::Running,
                time_budget: self
                    .time_budget
                    .as_deref()
                    .map(parse_duration)
                    .transpose()
                    .context("--time-budget")?,
            },
            ..base
        })
    }

    /// `--method` with the settings it reads; flags of another method are refused.
    fn method(&self, recipe: Recipe, n: usize, epochs: usize) -> anyhow::Result<Method> {
        let symmetry_flags = [
            (self.sym_weight.is_some(), "--sym-weight"),
            (self.sym_warmup.is_some(), "--sym-warmup"),
            (self.sym_init.is_some(), "--sym-init"),
            (self.sym_alpha.is_some(), "--sym-alpha"),
            (self.sym_beta.is_some(), "--sym-beta"),
            (self.build_in, "--build-in"),
        ];
        match self.method {
            MethodArg::Dlnn => {
                refuse_given(&symmetry_flags, "--method symdlnn")?;
                Ok(Method::Dlnn(self.dlnn(recipe, n)?))
            }
            MethodArg::Symdlnn => Ok(Method::SymDlnn {
                dlnn: self.dlnn(recipe, n)?,
                symmetry: self.symmetry(n, epochs)?,
            }),
            MethodArg::Lnn => {
                refuse_given(&symmetry_flags, "--method symdlnn")?;
                self.lnn(recipe).map(Method::Lnn)
            }
        }
    }

    fn dlnn(&self, recipe: Recipe, n: usize) -> anyhow::Result<DlnnConfig> {
        let mut d = DlnnConfig::new(recipe);
        d.loss.degeneracy_weight = self.degeneracy_weight;
        d.loss.degeneracy_power = self.degeneracy_power;
        if let Some(k) = self.jacobian_every {
            d.loss.jacobian_every = k;
        }
        if let Some(k) = self.kinetic_prior {
            d.kinetic_prior = matches!(k, OnOff::On);
        }
        d.time_reversible = self.time_reversible;
        d.angles = self.angles.as_ref().map_or(vec![], |a| a.0.clone());
        d.built_in = self.built_in(n)?;
        if let Some(noise) = &self.noise {
            d.noise = noise.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(d)
    }

    /// The `--symmetry` flags as built-in symmetries of dimension `n`.
    fn built_in(&self, n: usize) -> anyhow::Result<Option<BuiltInConfig>> {
        if self.symmetry.is_empty() {
            return Ok(None);
        }
        let (mut specs, mut discovered) = (vec![], vec![]);
        let mut sources = vec![];
        for spec in &self.symmetry {
            if let Some(path) = spec.strip_prefix("from:") {
                let (model, _) = symdlnn::learn::model_dir::load(std::path::Path::new(path))
                    .with_context(|| format!("--symmetry {spec}"))?;
                let Some(found) = &model.symmetries else {
                    bail!("--symmetry {spec}: the model has no discovered symmetries (train it with --method symdlnn)");
                };
                discovered.extend(found.generators.iter().map(|g| g.affine()));
                sources.push(spec.clone());
            } else {
                let parsed: SymmetrySpec = spec.parse().context("--symmetry")?;
                parsed
                    .generators(n)
                    .with_context(|| format!("--symmetry {spec}"))?;
                specs.push(parsed);
                sources.push("declared".to_string());
            }
        }
        let symmetry = BuiltIn::from_declared(n, &specs, &discovered).context("--symmetry")?;
        sources.dedup();
        Ok(Some(BuiltInConfig {
            symmetry,
            source: sources.join(", "),
        }))
    }

    fn lnn(&self, recipe: Recipe) -> anyhow::Result<LnnConfig> {
        if recipe == Recipe::Paper {
            bail!(
                "--recipe applies to DLNN; the LNN's options are --lnn-data and --lnn-raw-inputs"
            );
        }
        refuse_given(
            &[
                (self.angles.is_some(), "--angles"),
                (self.time_reversible, "--time-reversible"),
                (self.jacobian_every.is_some(), "--jacobian-every"),
                (!self.symmetry.is_empty(), "--symmetry"),
                (self.noise.is_some(), "--noise"),
            ],
            "--method dlnn and symdlnn",
        )?;
        Ok(LnnConfig {
            data: match self.lnn_data {
                LnnDataArg::Positions => LnnData::Positions,
                LnnDataArg::Truth => LnnData::Truth,
                LnnDataArg::Reference => LnnData::Reference,
            },
            system: self.system.clone(),
            standardise: !self.lnn_raw_inputs,
            kinetic_prior: !matches!(self.kinetic_prior, Some(OnOff::Off)),
        })
    }

    fn symmetry(&self, n: usize, epochs: usize) -> anyhow::Result<SymmetryConfig> {
        let solver = match self.sym_solver {
            SymSolver::Variational => DiscoverySolver::Variational,
            SymSolver::Nullspace => DiscoverySolver::Nullspace,
            SymSolver::Paper => DiscoverySolver::Paper,
        };
        let (basis, points) = search_space(&self.sym_basis, &self.sym_points, self.symmetries, n)?;
        let paper = solver == DiscoverySolver::Paper;
        let weight = self.sym_weight.unwrap_or(if paper { 1.0 } else { 0.0 });
        let shaping = (weight > 0.0).then(|| ShapingConfig {
            weight,
            warmup: (self.sym_warmup).unwrap_or((epochs as f64 * 0.3).round() as usize),
        });
        let coefficients = if paper {
            let init: CoefficientInit = (self.sym_init.as_deref().unwrap_or("random"))
                .parse()
                .context("--sym-init")?;
            let (init, init_name) = init.resolve(basis, self.symmetries, n, self.seed)?;
            Some(CoefficientConfig {
                alpha: self.sym_alpha.unwrap_or(1.0),
                beta: self.sym_beta.unwrap_or(1.0),
                init,
                init_name,
            })
        } else {
            refuse_given(
                &[
                    (self.sym_init.is_some(), "--sym-init"),
                    (self.sym_alpha.is_some(), "--sym-alpha"),
                    (self.sym_beta.is_some(), "--sym-beta"),
                ],
                "--sym-solver paper",
            )?;
            None
        };
        Ok(SymmetryConfig {
            generators: self.symmetries,
            basis,
            points,
            shaping,
            solver,
            coefficients,
            build_in: self.build_in,
        })
    }
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let data = symdlnn::data::read_all(&a.data, a.dt)?;
    let config = a.config(&data)?;
    if a.out.exists() && !a.resume && a.out.join("model.json").exists() {
        // Overwriting a model is allowed; say so.
        eprintln!("note: overwriting the model in {}", a.out.display());
    }
    if config.dlnn().is_some_and(|d| d.noise == NoiseSpec::Auto) {
        eprintln!("--noise auto: {}", symdlnn::data::estimate_noise(&data));
    }
    let model = train(&config, &data, &a)?;
    warn(&model);
    noise_lines(&model, &a.out);
    noise_to_step(&model, &data);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&model)?);
    } else {
        println!("{}", summary(&model, &a));
    }
    Ok(())
}

/// `fit` with a progress bar.
fn train(config: &TrainConfig, data: &Dataset, a: &TrainArgs) -> anyhow::Result<ModelFile> {
    let options = FitOptions {
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        source: source_name(&a.data),
        fine_tune: a.fine_tune,
        force: a.force,
    };
    let bar = crate::progress::bar(config.epochs as u64, "epochs");
    let start = std::time::Instant::now();
    let mut val = String::new();
    let mut on_epoch = |r: &EpochRecord| {
        if let Some(v) = r.validation {
            val = format!(
                "; val: loss {:.4e}, del {:.3e}, rollout {:.3e} (epoch {})",
                v.loss,
                v.del,
                v.rollout,
                r.epoch + 1
            );
        }
        if r.epoch.is_multiple_of(10) || r.epoch + 1 == config.epochs || r.validation.is_some() {
            let eps = (r.epoch + 1) as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{}{val} {eps:.0} epochs/s", progress_line(r)));
        }
        bar.set_position(r.epoch as u64 + 1);
    };
    let result = fit(config, data, &a.out, &options, &mut on_epoch);
    bar.finish_and_clear();
    Ok(result?.0)
}

/// The data's name in `model.json`: the path, or the paths joined by `,`.
fn source_name(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(",")
}

/// An epoch's loss, terms and `det J` statistics, for the progress bar.
fn progress_line(r: &EpochRecord) -> String {
    let terms: Vec<String> = (r.report.terms.iter())
        .map(|(k, v)| format!("{k} {v:.3e}"))
        .collect();
    let det = r.report.det.map_or(String::new(), |d| {
        format!(
            "; |det hJ| min {:.2e} median {:.2e}, {} minority-sign",
            d.min_abs_hdet, d.median_abs_hdet, d.sign_changes
        )
    });
    format!("loss {:.4e} ({}{det})", r.report.total, terms.join(", "))
}

/// Warnings and notes about the trained model, on standard error.
fn warn(model: &ModelFile) {
    if model.near_degenerate {
        eprintln!(
            "warning: the learned Ld is near-degenerate (det J: min |det(hJ)| {:.3e}, median {:.3e}, {} pairs with the minority sign); predictions may fail",
            model.det_j.map_or(f64::NAN, |d| d.min_abs_hdet),
            model.det_j.map_or(f64::NAN, |d| d.median_abs_hdet),
            model.det_j.map_or(0, |d| d.sign_changes)
        );
    }
    let (Some(sym), Some(config)) = (&model.symmetries, model.training.method.symmetry()) else {
        return;
    };
    let sigma = if config.solver == DiscoverySolver::Paper {
        "‖Ac‖/σmax"
    } else {
        "σ"
    };
    for (j, g) in sym.generators.iter().enumerate() {
        eprintln!(
            "generator {j}: {} ({sigma} {:.2e}); identifiability gap {:.2e}",
            g.description,
            g.singular_value,
            sym.gap.unwrap_or(f64::NAN)
        );
    }
    if config.solver != DiscoverySolver::Variational && !model.parametrisation.time_reversible {
        eprintln!(
            "note: this solver reads ξ·∇Ld, which a gauge term Φ(q1) − Φ(q0) of the learned Ld can mislead; --time-reversible removes it (right when L is even in q̇)"
        );
    }
}

/// What training with noise did, on standard error.
fn noise_lines(model: &ModelFile, out: &std::path::Path) {
    match (&model.noise, model.training.dlnn().map(|d| &d.noise)) {
        (Some(record), _) => {
            for line in record.lines() {
                eprintln!("{line}");
            }
            eprintln!(
                "denoised positions in {}",
                out.join(symdlnn::learn::model_dir::DENOISED).display()
            );
        }
        (None, Some(NoiseSpec::Auto)) => eprintln!(
            "note: no measurable noise in the data: trained without latent positions (as --noise 0)"
        ),
        _ => {}
    }
}

/// Warn when the noise is a large fraction of the motion per step: the
/// velocities in the data are then mostly noise (measured: at σ ≈ 0.5 of
/// the RMS step, Kepler's rollouts fail; docs/measurements.md §12).
fn noise_to_step(model: &ModelFile, data: &Dataset) {
    let Some(noise) = &model.noise else {
        return;
    };
    let n = data.n;
    let (mut ss, mut count) = (vec![0.0; n], 0usize);
    for t in &data.trajectories {
        for k in 1..t.len() {
            for (c, s) in ss.iter_mut().enumerate() {
                *s += (t.position(k)[c] - t.position(k - 1)[c]).powi(2);
            }
            count += 1;
        }
    }
    let worst = (0..n)
        .map(|c| noise.sigma[c] / (ss[c] / count.max(1) as f64).sqrt())
        .fold(0.0, f64::max);
    if worst > 0.25 {
        eprintln!(
            "warning: the noise is {:.0} % of the RMS step of a coordinate: the data's velocities are mostly noise and the model may not hold beyond the data (sample more densely, or average repeated measurements)",
            100.0 * worst
        );
    }
}

/// The one-line result.
fn summary(model: &ModelFile, a: &TrainArgs) -> String {
    let losses: Vec<String> = (model.final_losses.iter())
        .map(|(k, v)| format!("{k} {v:.4e}"))
        .collect();
    let what = match (&model.training.method, model.training.dlnn()) {
        (Method::Lnn(l), _) => format!("lnn ({:?} data)", l.data),
        (_, Some(d)) => format!("{} ({:?} recipe)", model.method, d.recipe()),
        (_, None) => model.method.to_string(),
    };
    format!(
        "trained {} for {} epochs in {:.1} s ({:.0} epochs/s): {}; model in {}",
        what,
        model.epochs_done,
        model.training_seconds,
        model.epochs_done as f64 / model.training_seconds.max(1e-9),
        losses.join(", "),
        a.out.display()
    )
}
