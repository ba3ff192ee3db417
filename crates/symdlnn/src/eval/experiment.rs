//! The paper's experiments as data: which system, which initial conditions,
//! which grid, how many trajectories, how much noise (the protocol is
//! described in `docs/method.md`), and a run
//! that generates the data, trains every method, evaluates each model on
//! the training and the test initial condition, and writes the figures.
//!
//! SymDLNN here is DLNN training followed by variational symmetry discovery
//! on the trained model (the optional shaping term is off): one network
//! serves both rows — the DLNN row tracks the true generators'
//! quantities, the SymDLNN row the learned ones. Where the paper gives an
//! initial guess (cart–pendulum, Kepler), a second network is trained with
//! the paper's own solver (coefficients trained with the network from that
//! guess, the term on after the paper's 5 000 epochs or 30 % of the epochs,
//! whichever is fewer): the SymDLNN-paper row.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::evaluation::{evaluate_from, EvalError, Evaluation, Metrics, Tracked};
use super::scaling::{self, ScalingRow, StudyInput};
use crate::data::{generate, io, Dataset, Trajectory};
use crate::learn::invariant::BuiltIn;
use crate::learn::symmetry::{agreement_of, DiscoverySolver, EvaluationPoints, SymmetryBasis};
use crate::learn::{
    fit, BuiltInConfig, CoefficientConfig, DlnnConfig, FitError, FitOptions, LnnConfig, LnnData,
    Method, Recipe, ShapingConfig, SymmetryConfig, TrainConfig, TrainControl,
};
use crate::mechanics::{AffineGenerator, Convergence, System, TimeGrid};

/// How much of the paper's protocol to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Small networks, few epochs, a few trajectories: the qualitative
    /// result in minutes.
    Quick,
    /// The paper's protocol: 3 × 128 softplus, 100 000 epochs, 100
    /// trajectories, both recipes.
    Paper,
}

impl Profile {
    /// The profile called `s` (`quick` or `paper`).
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "quick" => Some(Self::Quick),
            "paper" => Some(Self::Paper),
            _ => None,
        }
    }

    /// Training settings of this profile.
    pub fn settings(self) -> Settings {
        match self {
            Self::Quick => Settings {
                hidden: vec![64, 64],
                epochs_single: 3000,
                epochs_multi: 2000,
                multi_trajectories: 8,
                recipes: vec![Recipe::Robust],
                seed: 0,
                multi_time_budget: None,
            },
            Self::Paper => Settings {
                hidden: vec![128, 128, 128],
                epochs_single: 100_000,
                epochs_multi: 100_000,
                multi_trajectories: 100,
                recipes: vec![Recipe::Paper, Recipe::Robust],
                seed: 0,
                // Six models per multi-trajectory experiment and the
                // study's four smaller ones, each at most 5 minutes.
                multi_time_budget: Some(300.0),
            },
        }
    }
}

/// Training settings shared by a profile's experiments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Hidden layer widths of every network.
    pub hidden: Vec<usize>,
    /// Epochs of the single-trajectory (and noisy) experiments.
    pub epochs_single: usize,
    /// Epochs of the multi-trajectory experiments.
    pub epochs_multi: usize,
    /// Training trajectories of the multi-trajectory experiments.
    pub multi_trajectories: usize,
    /// DLNN recipes to run side by side.
    pub recipes: Vec<Recipe>,
    /// Seed of the initial conditions, the noise and the networks.
    pub seed: u64,
    /// Seconds per model of a multi-trajectory experiment (its epochs then
    /// cap the run; minibatches by the `auto` rule, 10 % of the
    /// trajectories held out to keep the best model); `None`: by epochs,
    /// every trajectory trained on.
    #[serde(default)]
    pub multi_time_budget: Option<f64>,
}

/// Kind of experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One training trajectory.
    Single,
    /// Several training trajectories, the first from the single one's start.
    Multi,
    /// One training trajectory with Gaussian position noise.
    Noisy,
}

/// One experiment of the paper's protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// `<system>-<kind>`, e.g. `kepler-noisy`.
    pub name: String,
    /// The system's name (see [`System::from_name`]).
    pub system: String,
    /// Single, multi or noisy.
    pub kind: Kind,
    /// `(q0, v0)` of the training trajectory (the first, for `multi`).
    pub train: (Vec<f64>, Vec<f64>),
    /// `(q0, v0)` of the test trajectory.
    pub test: (Vec<f64>, Vec<f64>),
    /// Observation step, training steps `N` and fine steps per step.
    pub grid: TimeGrid,
    /// Steps beyond `N` in the evaluation (`N_extra`).
    pub extra: usize,
    /// Gaussian position noise σ on the training data.
    pub noise: Option<f64>,
    /// Training trajectories.
    pub trajectories: usize,
    /// Training epochs of every model.
    pub epochs: usize,
    /// Which models: the paper's methods (with the noise models added for
    /// noisy data), or DLNN and the noise models only.
    #[serde(default)]
    pub methods: MethodSet,
}

/// The models an experiment trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodSet {
    /// SymDLNN (paper and ours), the built-in row, the LNN; with noise also
    /// the noise models.
    #[default]
    Paper,
    /// DLNN without a noise model, and the noise models.
    Noise,
}

/// The paper's experiments for `settings`, in report order. The noisy
/// experiment is Kepler's only: with Δt = 0.01 a noise of σ = 0.001 is a
/// tenth of the cart–pendulum's typical step.
pub fn catalogue(s: &Settings) -> Vec<Experiment> {
    let cart = |kind: Kind, noise: Option<f64>, trajectories: usize, epochs: usize| Experiment {
        name: format!("cartpend-{}", name_of(kind)),
        system: "cartpend".into(),
        kind,
        train: (vec![0.1, 0.1], vec![0.0, 0.0]),
        test: (vec![-1.1, -0.1], vec![0.1, -0.1]),
        grid: TimeGrid {
            dt: 0.01,
            steps: 200,
            fine: 100,
        },
        extra: 100,
        noise,
        trajectories,
        epochs,
        methods: MethodSet::Paper,
    };
    let kepler = |kind: Kind, noise: Option<f64>, trajectories: usize, epochs: usize| Experiment {
        name: format!("kepler-{}", name_of(kind)),
        system: "kepler".into(),
        kind,
        train: (vec![1.0, 0.0], vec![0.0, 0.6]),
        test: (vec![1.1, -0.01], vec![0.0, 0.6]),
        grid: TimeGrid {
            dt: 0.1,
            steps: 50,
            fine: 100,
        },
        extra: if kind == Kind::Noisy { 200 } else { 150 },
        noise,
        trajectories,
        epochs,
        methods: MethodSet::Paper,
    };
    let m = s.multi_trajectories;
    let noise_only = |e: Experiment| Experiment {
        methods: MethodSet::Noise,
        ..e
    };
    vec![
        cart(Kind::Single, None, 1, s.epochs_single),
        kepler(Kind::Single, None, 1, s.epochs_single),
        kepler(Kind::Noisy, Some(1e-3), 1, s.epochs_single),
        // The paper's text: σ² = 0.001.
        noise_only(Experiment {
            name: "kepler-noisy-text".into(),
            ..kepler(Kind::Noisy, Some(0.001_f64.sqrt()), 1, s.epochs_single)
        }),
        noise_only(cart(Kind::Noisy, Some(1e-4), 1, s.epochs_single)),
        cart(Kind::Multi, None, m, s.epochs_multi),
        kepler(Kind::Multi, None, m, s.epochs_multi),
    ]
}

/// The kind's part of an experiment's name.
fn name_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Single => "single",
        Kind::Multi => "multi",
        Kind::Noisy => "noisy",
    }
}

/// Why an experiment failed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The ground truth could not be generated.
    #[error("{experiment}: data generation: {source}")]
    Generate {
        /// The experiment's name.
        experiment: String,
        /// Why.
        source: generate::GenerateError,
    },
    /// A data file could not be written.
    #[error("{experiment}: {source}")]
    Data {
        /// The experiment's name.
        experiment: String,
        /// Why.
        source: crate::data::DataError,
    },
    /// A trained model could not be evaluated.
    #[error("{experiment}: evaluation: {source}")]
    Eval {
        /// The experiment's name.
        experiment: String,
        /// Why.
        source: EvalError,
    },
    /// The experiment names a system that does not exist.
    #[error("{experiment}: {source}")]
    System {
        /// The experiment's name.
        experiment: String,
        /// The unknown name.
        source: crate::mechanics::UnknownSystem,
    },
    /// An output directory could not be created.
    #[error("{experiment}: cannot create {path}: {error}")]
    CreateDir {
        /// The experiment's name.
        experiment: String,
        /// The directory.
        path: String,
        /// Why it could not be created.
        error: std::io::Error,
    },
}

/// What a run reports as it goes.
pub enum Progress<'a> {
    /// A stage of an experiment begins (`model` is being trained, …).
    Stage {
        /// The experiment's name.
        experiment: &'a str,
        /// What begins, e.g. `training lnn (positions, 3000 epochs)`.
        stage: String,
    },
    /// An epoch of the current training finished.
    Epoch {
        /// The epoch finished, from 1.
        epoch: usize,
        /// Epochs of the training.
        epochs: usize,
    },
}

/// One line of an experiment's table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `DLNN`, `SymDLNN` or `LNN`.
    pub method: String,
    /// `robust` or `paper` (DLNN/SymDLNN), `positions` (LNN).
    pub recipe: String,
    /// Which initial condition: `train` or `test`.
    pub trajectory: String,
    /// The model directory, relative to the run's output.
    pub model: String,
    /// Training failed: why (no metrics then).
    pub training_failure: Option<String>,
    /// The evaluation's numbers (none when training failed).
    pub metrics: Option<Metrics>,
}

/// Learned generators of a SymDLNN model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LearnedGenerators {
    /// `SymDLNN` (variational discovery) or `SymDLNN-paper` (the paper's solver).
    #[serde(default = "symdlnn_label")]
    pub method: String,
    /// The DLNN recipe the network was trained with.
    pub recipe: String,
    /// Each learned generator, described.
    pub generators: Vec<String>,
    /// Agreement with the true generators: `|cos|` for one, principal
    /// angles in degrees for several.
    pub agreement: Vec<f64>,
    /// The discovery's singular values, ascending, relative to the largest.
    pub spectrum: Vec<f64>,
}

/// The `method` of stored generators that name none: `SymDLNN`.
fn symdlnn_label() -> String {
    "SymDLNN".into()
}

/// Everything an experiment produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExperimentResult {
    /// The experiment run.
    pub experiment: Experiment,
    /// Its table: every method on both initial conditions.
    pub rows: Vec<Row>,
    /// What each SymDLNN model learned.
    pub generators: Vec<LearnedGenerators>,
    /// The system's true generators, by label.
    pub true_generators: Vec<String>,
    /// Figure files (PNG), relative to the run's output.
    pub figures: Vec<String>,
    /// Multi-trajectory experiments: the robust SymDLNN trained on 1, 8
    /// and all of the trajectories ([`super::scaling`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling: Vec<ScalingRow>,
    /// Wall time of the experiment.
    pub seconds: f64,
}

/// One evaluation with the labels it is reported under.
#[derive(Clone, Debug)]
pub struct LabelledEvaluation {
    /// `DLNN`, `SymDLNN`, `SymDLNN-paper` or `LNN`.
    pub method: String,
    /// The recipe the model was trained with.
    pub recipe: String,
    /// `train` or `test` initial condition.
    pub trajectory: String,
    /// The evaluation.
    pub evaluation: Evaluation,
}

/// A finished experiment: its results and the series behind its figures.
#[derive(Clone, Debug)]
pub struct ExperimentRun {
    /// What the report shows of the experiment.
    pub result: ExperimentResult,
    /// Every model's evaluation on both initial conditions.
    pub evaluations: Vec<LabelledEvaluation>,
    /// `(label, history.csv)` of each trained model.
    pub histories: Vec<(String, String)>,
    /// The system's coordinate names, for axis labels.
    pub coordinate_names: Vec<String>,
}

/// A trained model (or why it failed) and its label.
struct Trained {
    method: &'static str,
    recipe: String,
    dir: String,
    result: Result<(crate::learn::model_dir::ModelFile, crate::nn::Mlp), FitError>,
}

/// An experiment's data: what the models train on and the long true paths
/// they are evaluated against.
struct ExperimentData {
    /// Training positions, `N + 1` points per trajectory (noisy if asked).
    train: Dataset,
    /// `("train" | "test", truth)` over `N + N_extra` steps.
    truths: [(&'static str, Trajectory); 2],
}

/// Generate, train and evaluate one experiment into `out` (`out/data`,
/// `out/models`; figures are the report's: [`crate::report::experiment_figures`]).
pub fn run(
    exp: &Experiment,
    settings: &Settings,
    threads: usize,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExperimentRun, ExperimentError> {
    let start = Instant::now();
    let name = exp.name.as_str();
    let system = System::from_name(&exp.system).map_err(|source| ExperimentError::System {
        experiment: name.into(),
        source,
    })?;
    progress(Progress::Stage {
        experiment: name,
        stage: "generating data".into(),
    });
    // Training: SymDLNN (= DLNN + discovery) per recipe, and the LNN.
    let configs = train_configs(exp, settings, threads, &system.symmetries());
    let data = generate_data(exp, settings, &system)?;
    let mut run = run_on(exp, &system, &data, &configs, out, progress, start)?;
    if exp.kind == Kind::Multi {
        run.result.scaling = more_data(exp, settings, &system, &data, &configs, out, progress)?;
        run.result.seconds = start.elapsed().as_secs_f64();
    }
    Ok(run)
}

/// The robust SymDLNN and built-in configurations of `configs` trained on
/// 1, 8 and all of the experiment's trajectories ([`super::scaling`]).
fn more_data(
    exp: &Experiment,
    settings: &Settings,
    system: &System,
    data: &ExperimentData,
    configs: &[(&'static str, String, TrainConfig)],
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<ScalingRow>, ExperimentError> {
    let mut rows = vec![];
    for (method, recipe, config) in configs {
        let robust = recipe.starts_with(recipe_name(Recipe::Robust));
        if !(robust && matches!(*method, "symdlnn" | "symdlnn-builtin")) {
            continue;
        }
        let full = model_dir(exp, method, recipe);
        let input = StudyInput {
            exp,
            settings,
            system,
            train: &data.train,
            test: &data.truths[1].1,
            config: (config, method, label_of(method), recipe),
            dir: &full,
        };
        rows.extend(scaling::study(&input, out, progress)?);
    }
    Ok(rows)
}

/// [`run`] with the given `(method, recipe, config)` trainings (methods
/// as in [`train_configs`], or `dlnn` / `dlnn-recommended`).
pub(crate) fn run_configs(
    exp: &Experiment,
    settings: &Settings,
    system: &System,
    configs: &[(&'static str, String, TrainConfig)],
    out: &Path,
    progress: &mut dyn FnMut(Progress),
    start: Instant,
) -> Result<ExperimentRun, ExperimentError> {
    let data = generate_data(exp, settings, system)?;
    run_on(exp, system, &data, configs, out, progress, start)
}

/// [`run_configs`] on generated `data`.
fn run_on(
    exp: &Experiment,
    system: &System,
    data: &ExperimentData,
    configs: &[(&'static str, String, TrainConfig)],
    out: &Path,
    progress: &mut dyn FnMut(Progress),
    start: Instant,
) -> Result<ExperimentRun, ExperimentError> {
    let name = exp.name.as_str();
    write_data(exp, data, out)?;
    let true_generators = system.symmetries();
    let trained = train_all(exp, &data.train, configs, out, progress);

    // Evaluation on both initial conditions.
    progress(Progress::Stage {
        experiment: name,
        stage: "evaluating".into(),
    });
    let generators = learned_generators(&trained, &true_generators);
    let (rows, evaluations) = evaluate_all(exp, system, &data.truths, &trained, out)?;
    Ok(ExperimentRun {
        result: ExperimentResult {
            experiment: exp.clone(),
            rows,
            generators,
            true_generators: true_generators.iter().map(|g| g.label.clone()).collect(),
            figures: vec![],
            scaling: vec![],
            seconds: start.elapsed().as_secs_f64(),
        },
        evaluations,
        histories: histories(&trained, out),
        coordinate_names: system.coordinate_names(),
    })
}

/// Generate the training data (positions only, `N + 1` points per
/// trajectory, noise added when the experiment has it) and the true paths
/// from the training and the test initial condition.
fn generate_data(
    exp: &Experiment,
    settings: &Settings,
    system: &System,
) -> Result<ExperimentData, ExperimentError> {
    let gen_err = |source| ExperimentError::Generate {
        experiment: exp.name.clone(),
        source,
    };
    let mut ics = vec![exp.train.clone()];
    if exp.trajectories > 1 {
        ics.extend(generate::sample_initial_conditions(
            &system.initial_box(),
            exp.trajectories - 1,
            settings.seed,
        ));
    }
    let conv = Convergence::default();
    let full = generate::dataset(system, &ics, exp.grid, conv).map_err(gen_err)?;
    let mut train = Dataset {
        n: full.n,
        dt: full.dt,
        trajectories: full
            .trajectories
            .iter()
            .map(|t| Trajectory::from_positions(t.n, 0.0, exp.grid.dt, t.q.clone()))
            .collect(),
    };
    if let Some(sigma) = exp.noise {
        generate::add_position_noise(&mut train, sigma, settings.seed).map_err(gen_err)?;
    }
    let long = TimeGrid {
        steps: exp.grid.steps + exp.extra,
        ..exp.grid
    };
    let truth_of =
        |ic: &(Vec<f64>, Vec<f64>)| generate::trajectory(system, &ic.0, &ic.1, long, conv);
    let truths = [
        ("train", truth_of(&exp.train).map_err(gen_err)?),
        ("test", truth_of(&exp.test).map_err(gen_err)?),
    ];
    Ok(ExperimentData { train, truths })
}

/// Write the training data and the true paths into `out/data` (and create
/// `out/models` for the training that follows).
fn write_data(exp: &Experiment, data: &ExperimentData, out: &Path) -> Result<(), ExperimentError> {
    let name = exp.name.as_str();
    let data_err = |source| ExperimentError::Data {
        experiment: name.into(),
        source,
    };
    let data_dir = out.join("data");
    let models_dir = out.join("models");
    for d in [&data_dir, &models_dir] {
        std::fs::create_dir_all(d).map_err(|error| ExperimentError::CreateDir {
            experiment: name.into(),
            path: d.display().to_string(),
            error,
        })?;
    }
    io::write(&data_dir.join(format!("{name}-train.csv")), &data.train).map_err(data_err)?;
    for (which, t) in &data.truths {
        let d = Dataset {
            n: t.n,
            dt: exp.grid.dt,
            trajectories: vec![t.clone()],
        };
        io::write(&data_dir.join(format!("{name}-truth-{which}.csv")), &d).map_err(data_err)?;
    }
    Ok(())
}

/// The training configuration of every method: `(method, recipe, config)`
/// for SymDLNN per recipe (with SymDLNN-paper before it where the paper
/// gives an initial guess), then the LNN.
fn train_configs(
    exp: &Experiment,
    settings: &Settings,
    threads: usize,
    true_generators: &[AffineGenerator],
) -> Vec<(&'static str, String, TrainConfig)> {
    if exp.methods == MethodSet::Noise {
        return noise_configs(exp, settings, threads, true_generators, true);
    }
    let mut configs: Vec<(&'static str, String, TrainConfig)> = vec![];
    let control = match (exp.kind, settings.multi_time_budget) {
        (Kind::Multi, Some(budget)) => TrainControl {
            validation: Some(0.1),
            time_budget: Some(budget),
            ..TrainControl::default()
        },
        _ => TrainControl::default(),
    };
    // A budgeted run is labelled as such (the paper's recipe ran by epochs).
    let label = |recipe: Recipe| match control.time_budget {
        Some(b) => format!("{} ({b:.0} s budget)", recipe_name(recipe)),
        None => recipe_name(recipe).into(),
    };
    for &recipe in &settings.recipes {
        let symmetry = SymmetryConfig {
            generators: true_generators.len().max(1),
            basis: SymmetryBasis::Affine,
            points: EvaluationPoints {
                train: true,
                boxed: 200,
            },
            shaping: None,
            coefficients: None,
            solver: DiscoverySolver::Variational,
            build_in: false,
        };
        let base = TrainConfig {
            hidden: settings.hidden.clone(),
            seed: settings.seed,
            threads,
            control: control.clone(),
            ..TrainConfig::new(recipe, exp.epochs)
        };
        let symdlnn = |symmetry| TrainConfig {
            method: Method::SymDlnn {
                dlnn: known_coordinates(exp, DlnnConfig::new(recipe)),
                symmetry,
            },
            ..base.clone()
        };
        if let (Some(guess), 1) = (
            CoefficientConfig::paper_guess(&exp.system),
            true_generators.len(),
        ) {
            let paper = SymmetryConfig {
                solver: DiscoverySolver::Paper,
                // The paper's 5 000 epochs of warm-up, at most the CLI's 30 %.
                shaping: Some(ShapingConfig {
                    weight: 1.0,
                    warmup: (exp.epochs * 3 / 10).min(5000),
                }),
                coefficients: Some(CoefficientConfig {
                    alpha: 1.0,
                    beta: 1.0,
                    init: guess,
                    init_name: exp.system.clone(),
                }),
                ..symmetry.clone()
            };
            configs.push(("symdlnn-paper", label(recipe), symdlnn(paper)));
        }
        configs.push(("symdlnn", label(recipe), symdlnn(symmetry)));
        if let Some(c) = built_in_config(exp, &base, true_generators) {
            configs.push(("symdlnn-builtin", label(recipe), c));
        }
    }
    let lnn = TrainConfig {
        hidden: settings.hidden.clone(),
        seed: settings.seed,
        threads,
        control: TrainControl {
            time_budget: control.time_budget,
            ..TrainControl::default()
        },
        ..TrainConfig::lnn(
            LnnConfig {
                data: LnnData::Positions,
                system: None,
                standardise: true,
                kinetic_prior: true,
            },
            exp.epochs,
        )
    };
    configs.push(("lnn", "positions".into(), lnn));
    configs.extend(noise_configs(
        exp,
        settings,
        threads,
        true_generators,
        false,
    ));
    configs
}

/// With noisy data, the noise models (`train --noise auto`, robust recipe,
/// time-reversible): plain, and with the system's symmetries built in (φ of
/// the cart–pendulum an angle); with `plain`, DLNN without a noise model
/// first (the behaviour before noise models, with the known coordinates).
fn noise_configs(
    exp: &Experiment,
    settings: &Settings,
    threads: usize,
    true_generators: &[AffineGenerator],
    plain: bool,
) -> Vec<(&'static str, String, TrainConfig)> {
    if exp.noise.is_none() {
        return vec![];
    }
    let base = TrainConfig {
        hidden: settings.hidden.clone(),
        seed: settings.seed,
        threads,
        ..TrainConfig::new(Recipe::Robust, exp.epochs)
    };
    let mut configs = vec![];
    if plain {
        let mut c = base.clone();
        if let Some(d) = c.dlnn_mut() {
            *d = known_coordinates(exp, d.clone());
        }
        configs.push(("dlnn", "robust".to_string(), c));
    }
    let mut noisy = base.clone();
    if let Some(d) = noisy.dlnn_mut() {
        d.noise = crate::data::NoiseSpec::Auto;
        d.time_reversible = true;
    }
    let built_in = built_in_config(exp, &noisy, true_generators);
    configs.push(("dlnn-noise", "robust".to_string(), noisy));
    if let Some(c) = built_in {
        configs.push(("dlnn-noise-builtin", "robust".to_string(), c));
    }
    configs
}

/// The SymDLNN (built in) row's configuration: a robust DLNN with the
/// system's known symmetries built in, time-reversible, and the
/// cart–pendulum's φ an angle — what a user who knows the system would
/// declare (`train --symmetry … --time-reversible [--angles 1]`). `None`
/// without known symmetries or with the paper's recipe.
fn built_in_config(
    exp: &Experiment,
    base: &TrainConfig,
    true_generators: &[AffineGenerator],
) -> Option<TrainConfig> {
    let n = true_generators.first()?.w.len();
    let symmetry = BuiltIn::from_generators(n, true_generators).ok()?;
    let mut c = base.clone();
    let d = c.dlnn_mut().filter(|d| d.recipe() == Recipe::Robust)?;
    *d = known_coordinates(exp, d.clone());
    d.built_in = Some(BuiltInConfig {
        symmetry,
        source: "declared (the system's known symmetry)".into(),
    });
    Some(c)
}

/// What a user who knows the paper's systems declares (robust recipe; the
/// paper's recipe stays as published): both are time-reversible
/// (`--time-reversible`), and the cart–pendulum's φ is an angle
/// (`--angles 1`).
fn known_coordinates(exp: &Experiment, mut d: DlnnConfig) -> DlnnConfig {
    if d.recipe() == Recipe::Robust && matches!(exp.system.as_str(), "cartpend" | "kepler") {
        d.time_reversible = true;
        if exp.system == "cartpend" {
            d.angles = vec![1];
        }
    }
    d
}

/// The directory of an experiment's model, relative to the run's output
/// (the recipe label's first word: `robust (300 s budget)` → `robust`).
fn model_dir(exp: &Experiment, method: &str, recipe: &str) -> String {
    let recipe = recipe.split_whitespace().next().unwrap_or(recipe);
    format!("models/{}-{method}-{recipe}", exp.name)
}

/// Train every configuration on `train` into `out/models/…`; a failed
/// training is kept with its error (its rows then have no metrics).
fn train_all(
    exp: &Experiment,
    train: &Dataset,
    configs: &[(&'static str, String, TrainConfig)],
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Vec<Trained> {
    let name = exp.name.as_str();
    let mut trained: Vec<Trained> = vec![];
    for (method, recipe, config) in configs {
        let dir = model_dir(exp, method, recipe);
        let stage = format!("training {method} ({recipe}, {} epochs)", config.epochs);
        let source = format!("data/{name}-train.csv");
        let result = train_one(
            config,
            train,
            &out.join(&dir),
            (name, stage, source),
            progress,
        );
        trained.push(Trained {
            method,
            recipe: recipe.clone(),
            dir,
            result,
        });
    }
    trained
}

/// Train `config` on `data` into `dir` (no checkpoints), announcing
/// `(experiment, stage, data source)` and then each epoch.
pub(crate) fn train_one(
    config: &TrainConfig,
    data: &Dataset,
    dir: &Path,
    (experiment, stage, source): (&str, String, String),
    progress: &mut dyn FnMut(Progress),
) -> Result<(crate::learn::model_dir::ModelFile, crate::nn::Mlp), FitError> {
    progress(Progress::Stage { experiment, stage });
    let epochs = config.epochs;
    let options = FitOptions {
        checkpoint_every: None,
        resume: false,
        source,
        ..FitOptions::default()
    };
    fit(config, data, dir, &options, &mut |r| {
        progress(Progress::Epoch {
            epoch: r.epoch,
            epochs,
        })
    })
}

/// The generators each trained SymDLNN model learned, with their agreement
/// with the true ones.
fn learned_generators(
    trained: &[Trained],
    true_generators: &[AffineGenerator],
) -> Vec<LearnedGenerators> {
    let mut generators = vec![];
    for t in trained {
        if let Ok((model, _)) = &t.result {
            if let Some(sym) = &model.symmetries {
                generators.push(LearnedGenerators {
                    method: label_of(t.method).into(),
                    recipe: t.recipe.clone(),
                    generators: sym
                        .generators
                        .iter()
                        .map(|g| g.description.clone())
                        .collect(),
                    agreement: agreement_of(&sym.generators, true_generators),
                    spectrum: sym.spectrum.clone(),
                });
            }
        }
    }
    generators
}

/// The rows each trained model is reported under, and whose conserved
/// quantities each tracks: one network serves the DLNN row (true
/// generators) and the SymDLNN row (learned ones).
fn views_of(method: &str) -> &'static [(&'static str, Tracked)] {
    match method {
        "symdlnn" => &[("DLNN", Tracked::True), ("SymDLNN", Tracked::Learned)],
        "symdlnn-paper" => &[("SymDLNN-paper", Tracked::Learned)],
        "symdlnn-builtin" => &[("SymDLNN (built in)", Tracked::True)],
        "dlnn" => &[("DLNN", Tracked::True)],
        "dlnn-recommended" => &[("DLNN (recommended)", Tracked::True)],
        "dlnn-noise" => &[("DLNN (noise model)", Tracked::True)],
        "dlnn-noise-builtin" => &[("DLNN (noise model, built in)", Tracked::True)],
        _ => &[("LNN", Tracked::True)],
    }
}

/// How a noise model's training-trajectory rollout starts in the report.
const DENOISED_START: &str = "start: the model's denoised positions (its training data)";

/// A noise model's start on its training trajectory: its denoised first
/// two positions (the other rows, and the test trajectory, start from the
/// truth's first two points).
fn denoised_start(
    model: &crate::learn::model_dir::ModelFile,
    dir: &Path,
    which: &str,
) -> Option<(Vec<f64>, Vec<f64>)> {
    if which != "train" || model.noise.is_none() {
        return None;
    }
    let d = crate::learn::model_dir::load_denoised(dir).ok()??;
    let t = d.trajectories.first()?;
    (t.len() >= 2).then(|| (t.position(0).to_vec(), t.position(1).to_vec()))
}

/// Evaluate every trained model's views on both true paths: the table's
/// rows (a failed training gives a row without metrics) and the
/// evaluations behind the figures.
fn evaluate_all(
    exp: &Experiment,
    system: &System,
    truths: &[(&'static str, Trajectory)],
    trained: &[Trained],
    out: &Path,
) -> Result<(Vec<Row>, Vec<LabelledEvaluation>), ExperimentError> {
    let mut rows = vec![];
    let mut evaluations = vec![];
    for (which, truth) in truths {
        for t in trained {
            for (label, tracked) in views_of(t.method) {
                let mut metrics = None;
                if let Ok((model, mlp)) = &t.result {
                    let start = denoised_start(model, &out.join(&t.dir), which);
                    let start = start
                        .as_ref()
                        .map(|(a, b)| (&a[..], &b[..], DENOISED_START.into()));
                    let steps = exp.grid.steps;
                    let mut e =
                        evaluate_from(model, mlp, truth, start, steps, Some(system), *tracked)
                            .map_err(|source| ExperimentError::Eval {
                                experiment: exp.name.clone(),
                                source,
                            })?;
                    e.metrics.method = label.to_lowercase();
                    metrics = Some(e.metrics.clone());
                    evaluations.push(LabelledEvaluation {
                        method: label.to_string(),
                        recipe: t.recipe.clone(),
                        trajectory: which.to_string(),
                        evaluation: e,
                    });
                }
                rows.push(Row {
                    method: label.to_string(),
                    recipe: t.recipe.clone(),
                    trajectory: which.to_string(),
                    model: t.dir.clone(),
                    training_failure: t.result.as_ref().err().map(|e| e.to_string()),
                    metrics,
                });
            }
        }
    }
    Ok((rows, evaluations))
}

/// `(label, history.csv)` of each model whose training succeeded (a
/// history that cannot be read is left out).
fn histories(trained: &[Trained], out: &Path) -> Vec<(String, String)> {
    trained
        .iter()
        .filter(|t| t.result.is_ok())
        .filter_map(|t| {
            let text = std::fs::read_to_string(out.join(&t.dir).join("history.csv")).ok()?;
            let label = match t.method {
                "lnn" => "LNN".to_string(),
                "symdlnn-paper" => format!("SymDLNN-paper ({})", t.recipe),
                "symdlnn-builtin" => format!("SymDLNN built in ({})", t.recipe),
                "dlnn" => "DLNN".to_string(),
                "dlnn-recommended" => "DLNN (recommended)".to_string(),
                _ => format!("DLNN/SymDLNN ({})", t.recipe),
            };
            Some((label, text))
        })
        .collect()
}

/// The report's label of a trained method's symmetry rows.
fn label_of(method: &str) -> &'static str {
    match method {
        "symdlnn-paper" => "SymDLNN-paper",
        "symdlnn-builtin" => "SymDLNN (built in)",
        _ => "SymDLNN",
    }
}

/// The recipe's name in model directories and the report.
fn recipe_name(r: Recipe) -> &'static str {
    match r {
        Recipe::Paper => "paper",
        Recipe::Robust => "robust",
    }
}
