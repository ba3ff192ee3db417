use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use symdlnn::data::io;
use symdlnn::learn::dlnn::Recipe;
use symdlnn::learn::lnn::LnnData;
use symdlnn::learn::shaping::{CoefficientConfig, ShapingConfig};
use symdlnn::learn::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis, BASIS_FORMS};
use symdlnn::learn::{fit, FitOptions, LnnConfig, SymmetryConfig, TrainConfig};
use symdlnn::nn::{Activation, Schedule};

use crate::args;

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Method {
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
    method: Method,
    /// Training trajectories (.csv or .npy)
    #[arg(long)]
    data: PathBuf,
    /// Time step (default: the file's t column; required for .npy)
    #[arg(long, value_parser = args::positive)]
    dt: Option<f64>,
    /// Loss recipe: robust (scale-invariant, the default) or paper (the paper's, exactly)
    #[arg(long, value_enum, default_value = "robust")]
    recipe: RecipeArg,
    /// Training epochs (full batch)
    #[arg(long, default_value_t = 3000)]
    epochs: usize,
    /// Hidden layer widths
    #[arg(long, default_value = "128,128,128", value_parser = args::widths)]
    hidden: args::Widths,
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
    /// Evaluate det J (degeneracy term, barrier) at every K-th pair only (1: all pairs; default: robust recipe the largest K ≤ 10 that keeps ≥ 20 pairs, paper recipe 1)
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    jacobian_every: Option<u64>,
    /// Kinetic prior h|v|²/2 in Ld, ½|q̇|² in the LNN's L (robust recipe and LNN; default on)
    #[arg(long, value_enum)]
    kinetic_prior: Option<OnOff>,
    /// Symmetrise Ld under time reversal (wrong for gyroscopic or magnetic systems)
    #[arg(long)]
    time_reversible: bool,
    /// Coordinates that are angles, by index i of q_i (e.g. 1 or 0,1): the network sees sin and cos of their midpoint, so Ld is 2π-periodic in them (robust recipe; the data must be unwrapped)
    #[arg(long, value_name = "I,J,…", value_parser = args::indices)]
    angles: Option<args::Indices>,
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
    /// Write a checkpoint every K epochs (to OUT/checkpoint)
    #[arg(long, value_name = "K")]
    checkpoint_every: Option<usize>,
    /// Continue from OUT/checkpoint with its settings
    #[arg(long)]
    resume: bool,
    /// Model directory to write
    #[arg(long)]
    out: PathBuf,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

fn parse_schedule(s: &str, lr: f64, epochs: usize) -> anyhow::Result<Schedule> {
    Ok(match s {
        "cosine" => Schedule::Cosine {
            lr,
            lr_min: 1e-5,
            epochs,
        },
        "constant" => Schedule::Constant { lr },
        "reference" => Schedule::Reference,
        _ => match s.strip_prefix("steps:") {
            Some(list) => {
                let mut boundaries = Vec::new();
                let mut values = Vec::new();
                for item in list.split(',') {
                    let (e, v) = item
                        .split_once('=')
                        .with_context(|| format!("--schedule: '{item}' is not EPOCH=LR"))?;
                    boundaries.push(
                        e.trim()
                            .parse::<usize>()
                            .with_context(|| format!("--schedule: bad epoch '{e}'"))?,
                    );
                    let v: f64 = v
                        .trim()
                        .parse()
                        .with_context(|| format!("--schedule: bad rate '{v}'"))?;
                    if !(v.is_finite() && v >= 0.0) {
                        bail!("--schedule: rate {v} must be ≥ 0");
                    }
                    values.push(v);
                }
                if boundaries.windows(2).any(|w| w[0] >= w[1]) {
                    bail!("--schedule: epochs must increase");
                }
                Schedule::Steps {
                    lr,
                    boundaries,
                    values,
                }
            }
            None => bail!(
                "--schedule: unknown schedule '{s}' (cosine, constant, reference, steps:E=LR,…)"
            ),
        },
    })
}

/// Refuse the first flag given (`true`) that applies to `scope` only.
fn refuse_given(flags: &[(bool, &str)], scope: &str) -> anyhow::Result<()> {
    match flags.iter().find(|(given, _)| *given) {
        Some((_, flag)) => bail!("{flag} applies to {scope} only"),
        None => Ok(()),
    }
}

/// The paper solver's initial coefficients from `--sym-init`.
fn initial_coefficients(
    init: &str,
    basis: SymmetryBasis,
    k: usize,
    n: usize,
    seed: u64,
) -> anyhow::Result<Vec<f64>> {
    let len = basis.len(n);
    if init == "random" {
        return Ok(CoefficientConfig::random(k, len, seed));
    }
    if let Some(guess) = CoefficientConfig::paper_guess(init) {
        if basis != SymmetryBasis::Affine || n != 2 || k != 1 {
            bail!("--sym-init {init}: the paper's guess is one affine generator in dimension 2 (got the {basis} basis, n = {n}, K = {k})");
        }
        return Ok(guess);
    }
    let values = init
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| format!("--sym-init: '{x}' is not a finite number (or use random, cartpend, kepler)"))
        })
        .collect::<anyhow::Result<Vec<f64>>>()?;
    if values.len() != k * len {
        bail!(
            "--sym-init: {} values given, K × basis size = {k} × {len} = {} needed",
            values.len(),
            k * len
        );
    }
    if values
        .chunks_exact(len)
        .any(|c| c.iter().all(|x| *x == 0.0))
    {
        bail!("--sym-init: a generator's coefficients are all zero");
    }
    Ok(values)
}

/// The `--sym-basis` and `--sym-points` flags, checked with `--symmetries k`
/// for data of dimension `n`.
pub fn search_space(
    basis: &str,
    points: &str,
    k: usize,
    n: usize,
) -> anyhow::Result<(SymmetryBasis, EvaluationPoints)> {
    let b = SymmetryBasis::from_name(basis)
        .with_context(|| format!("--sym-basis: unknown basis '{basis}' ({BASIS_FORMS})"))?;
    let p = EvaluationPoints::parse(points)
        .with_context(|| format!("--sym-points: '{points}' is not train, box:N or train+box:N"))?;
    let len = b.len(n);
    if k == 0 || k > len {
        bail!("--symmetries must be between 1 and {len} (the {basis} basis in dimension {n})");
    }
    Ok((b, p))
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let data = io::read(&a.data, a.dt)?;
    let symmetry = match a.method {
        Method::Dlnn | Method::Lnn => {
            refuse_given(
                &[
                    (a.sym_weight.is_some(), "--sym-weight"),
                    (a.sym_warmup.is_some(), "--sym-warmup"),
                    (a.sym_init.is_some(), "--sym-init"),
                    (a.sym_alpha.is_some(), "--sym-alpha"),
                    (a.sym_beta.is_some(), "--sym-beta"),
                ],
                "--method symdlnn",
            )?;
            None
        }
        Method::Symdlnn => {
            let solver = match a.sym_solver {
                SymSolver::Variational => DiscoverySolver::Variational,
                SymSolver::Nullspace => DiscoverySolver::Nullspace,
                SymSolver::Paper => DiscoverySolver::Paper,
            };
            let (basis, points) = search_space(&a.sym_basis, &a.sym_points, a.symmetries, data.n)?;
            let paper = solver == DiscoverySolver::Paper;
            let weight = a.sym_weight.unwrap_or(if paper { 1.0 } else { 0.0 });
            if paper && weight == 0.0 {
                bail!(
                    "--sym-weight must be > 0 with --sym-solver paper (it trains the coefficients)"
                );
            }
            let shaping = (weight > 0.0).then(|| ShapingConfig {
                weight,
                warmup: a
                    .sym_warmup
                    .unwrap_or((a.epochs as f64 * 0.3).round() as usize),
            });
            let coefficients = if paper {
                let init = a.sym_init.as_deref().unwrap_or("random");
                Some(CoefficientConfig {
                    alpha: a.sym_alpha.unwrap_or(1.0),
                    beta: a.sym_beta.unwrap_or(1.0),
                    init: initial_coefficients(init, basis, a.symmetries, data.n, a.seed)?,
                    init_name: match init {
                        "random" | "cartpend" | "kepler" => init.to_string(),
                        _ => "given".into(),
                    },
                })
            } else {
                refuse_given(
                    &[
                        (a.sym_init.is_some(), "--sym-init"),
                        (a.sym_alpha.is_some(), "--sym-alpha"),
                        (a.sym_beta.is_some(), "--sym-beta"),
                    ],
                    "--sym-solver paper",
                )?;
                None
            };
            Some(SymmetryConfig {
                generators: a.symmetries,
                basis,
                points,
                shaping,
                solver,
                coefficients,
            })
        }
    };
    if a.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let recipe = if a.recipe == RecipeArg::Paper {
        Recipe::Paper
    } else {
        Recipe::Robust
    };
    let mut config = TrainConfig::new(recipe, a.epochs);
    config.hidden = a.hidden.0.clone();
    config.activation = a.activation;
    config.schedule = match &a.schedule {
        Some(s) => parse_schedule(s, a.lr, a.epochs)?,
        None => match recipe {
            Recipe::Robust => Schedule::Cosine {
                lr: a.lr,
                lr_min: 1e-5,
                epochs: a.epochs,
            },
            Recipe::Paper => Schedule::Constant { lr: a.lr },
        },
    };
    config.loss.degeneracy_weight = a.degeneracy_weight;
    config.loss.degeneracy_power = a.degeneracy_power;
    if let Some(k) = a.jacobian_every {
        config.loss.jacobian_every = k as usize;
    }
    if let Some(k) = a.kinetic_prior {
        if recipe == Recipe::Paper && matches!(k, OnOff::On) {
            bail!("--kinetic-prior on belongs to the robust recipe (the paper's has none)");
        }
        config.kinetic_prior = matches!(k, OnOff::On);
    }
    config.time_reversible = a.time_reversible;
    if let Some(args::Indices(angles)) = &a.angles {
        if recipe == Recipe::Paper {
            bail!("--angles belongs to the robust recipe (the paper's feeds raw positions to the network)");
        }
        if a.method == Method::Lnn {
            bail!("--angles applies to --method dlnn and symdlnn only");
        }
        config.angles = angles.clone();
    }
    config.seed = a.seed;
    config.threads = a.threads as usize;
    if symmetry.is_some() {
        config.method = "symdlnn".into();
    }
    config.symmetry = symmetry;
    if a.method == Method::Lnn {
        if recipe == Recipe::Paper {
            bail!(
                "--recipe applies to DLNN; the LNN's options are --lnn-data and --lnn-raw-inputs"
            );
        }
        let data_mode = match a.lnn_data {
            LnnDataArg::Positions => LnnData::Positions,
            LnnDataArg::Truth => LnnData::Truth,
            LnnDataArg::Reference => LnnData::Reference,
        };
        if let Some(name) = &a.system {
            symdlnn::mechanics::System::from_name(name)?;
        }
        config.set_lnn(LnnConfig {
            data: data_mode,
            system: a.system.clone(),
            standardise: !a.lnn_raw_inputs,
            kinetic_prior: !matches!(a.kinetic_prior, Some(OnOff::Off)),
        });
    }
    if a.out.exists() && !a.resume && a.out.join("model.json").exists() {
        // Overwriting a model is allowed; say so.
        eprintln!("note: overwriting the model in {}", a.out.display());
    }
    let options = FitOptions {
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        source: a.data.display().to_string(),
    };
    let bar = crate::progress::bar(a.epochs as u64, "epochs");
    let start = std::time::Instant::now();
    let mut on_epoch = |r: &symdlnn::learn::EpochRecord| {
        if r.epoch.is_multiple_of(10) || r.epoch + 1 == a.epochs {
            let eps = (r.epoch + 1) as f64 / start.elapsed().as_secs_f64().max(1e-9);
            let terms: Vec<String> = r
                .report
                .terms
                .iter()
                .map(|(k, v)| format!("{k} {v:.3e}"))
                .collect();
            let det = r.report.det.map_or(String::new(), |d| {
                format!(
                    "; |det hJ| min {:.2e} median {:.2e}, {} minority-sign",
                    d.min_abs_hdet, d.median_abs_hdet, d.sign_changes
                )
            });
            bar.set_message(format!(
                "loss {:.4e} ({}{det}) {eps:.0} epochs/s",
                r.report.total,
                terms.join(", ")
            ));
        }
        bar.set_position(r.epoch as u64 + 1);
    };
    let result = fit(&config, &data, &a.out, &options, &mut on_epoch);
    bar.finish_and_clear();
    let (model, _) = result?;
    if model.near_degenerate {
        eprintln!(
            "warning: the learned Ld is near-degenerate (det J: min |det(hJ)| {:.3e}, median {:.3e}, {} pairs with the minority sign); predictions may fail",
            model.det_j.map_or(f64::NAN, |d| d.min_abs_hdet),
            model.det_j.map_or(f64::NAN, |d| d.median_abs_hdet),
            model.det_j.map_or(0, |d| d.sign_changes)
        );
    }
    if let Some(sym) = &model.symmetries {
        let paper = model
            .training
            .symmetry
            .as_ref()
            .is_some_and(|s| s.solver == DiscoverySolver::Paper);
        let sigma = if paper { "‖Ac‖/σmax" } else { "σ" };
        for (j, g) in sym.generators.iter().enumerate() {
            eprintln!(
                "generator {j}: {} ({sigma} {:.2e}); identifiability gap {:.2e}",
                g.description,
                g.singular_value,
                sym.gap.unwrap_or(f64::NAN)
            );
        }
        let reads_ld = model
            .training
            .symmetry
            .as_ref()
            .is_some_and(|s| s.solver != DiscoverySolver::Variational);
        if reads_ld && !model.parametrisation.time_reversible {
            eprintln!(
                "note: this solver reads ξ·∇Ld, which a gauge term Φ(q1) − Φ(q0) of the learned Ld can mislead; --time-reversible removes it (right when L is even in q̇)"
            );
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&model)?);
    } else {
        let losses: Vec<String> = model
            .final_losses
            .iter()
            .map(|(k, v)| format!("{k} {v:.4e}"))
            .collect();
        let what = match &model.training.lnn {
            Some(l) => format!("lnn ({:?} data)", l.data),
            None => format!("{} ({:?} recipe)", model.method, model.training.recipe),
        };
        println!(
            "trained {} for {} epochs in {:.1} s ({:.0} epochs/s): {}; model in {}",
            what,
            model.epochs_done,
            model.training_seconds,
            model.epochs_done as f64 / model.training_seconds.max(1e-9),
            losses.join(", "),
            a.out.display()
        );
    }
    Ok(())
}
