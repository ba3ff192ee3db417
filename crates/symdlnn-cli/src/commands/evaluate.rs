use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use symdlnn::data::io;
use symdlnn::eval;
use symdlnn::eval::start::StartChoice;
use symdlnn::learn::model_dir;
use symdlnn::mechanics::System;
use symdlnn::report::{self, Curve};

use crate::args;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Generators {
    Auto,
    True,
    Learned,
}

#[derive(Args)]
#[command(after_help = "Examples:
  symdlnn simulate --system cartpend --steps 300 --out truth.csv
  symdlnn evaluate --model model --data truth.csv --train-steps 200 --system cartpend --out eval

Writes metrics.json, rollout.csv and the figures trajectories, energy,
invariants and losses (.png and .svg) into --out.")]
pub struct EvaluateArgs {
    /// Model directory
    #[arg(long)]
    model: PathBuf,
    /// Observed (true) trajectory to compare with: .csv or .npy
    #[arg(long)]
    data: PathBuf,
    /// Time step of an .npy --data file
    #[arg(long, value_parser = args::positive)]
    dt: Option<f64>,
    /// Which trajectory of --data (from 0)
    #[arg(long, default_value_t = 0)]
    traj: usize,
    /// Recreation span N: points 0..=N are recreation, later ones prediction
    /// [default: the length of the model's training trajectories]
    #[arg(long)]
    train_steps: Option<usize>,
    /// The built-in system behind the data: true generators, agreement and the
    /// LNN's true energy
    #[arg(long)]
    system: Option<String>,
    /// Whose generators' conserved quantities to track: auto (the model's for
    /// symdlnn, the system's otherwise), true (the system's) or learned
    #[arg(long, value_enum, default_value = "auto")]
    generators: Generators,
    /// Noisy observations of the same trajectory (e.g. the training data):
    /// start the rollout from them as predict does (a model trained with
    /// --noise: its denoised start on its training data, else a start fitted
    /// to their first points), not from the truth's first two points
    #[arg(long)]
    observed: Option<PathBuf>,
    /// With --observed: fit the start to its first K points
    #[arg(long, value_name = "K", requires = "observed")]
    fit_start: Option<usize>,
    /// Output directory
    #[arg(long)]
    out: PathBuf,
    /// Print metrics.json to standard output as well
    #[arg(long)]
    json: bool,
}

pub fn run(a: EvaluateArgs) -> anyhow::Result<()> {
    let (model, mlp) = model_dir::load(&a.model)?;
    let system = a.system.as_deref().map(System::from_name).transpose()?;
    let data = io::read(&a.data, a.dt)?;
    let source = a.data.display().to_string();
    data.expect_dim(model.n, &source)?;
    let truth = data.trajectories.get(a.traj).with_context(|| {
        format!(
            "{source}: no trajectory {} (the file has {})",
            a.traj,
            data.trajectories.len()
        )
    })?;
    let train_steps = match a.train_steps {
        Some(n) => n,
        None => {
            let per = model.data.samples / model.data.trajectories.max(1);
            per.saturating_sub(1).min(truth.len().saturating_sub(1))
        }
    };
    let observed = observed(&a, &model, &mlp)?;
    let evaluation = eval::evaluate_from(
        &model,
        &mlp,
        truth,
        (observed.as_ref()).map(|o| (&o.q0[..], &o.q1[..], o.choice.describe())),
        train_steps,
        system.as_ref(),
        match a.generators {
            Generators::Auto => eval::Tracked::Auto,
            Generators::True => eval::Tracked::True,
            Generators::Learned => eval::Tracked::Learned,
        },
    )
    .with_context(|| format!("{source}, trajectory {}", a.traj))?;
    let history = std::fs::read_to_string(a.model.join("history.csv")).ok();

    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let json = serde_json::to_string_pretty(&evaluation.metrics)?;
    io::write_atomic(&a.out.join("metrics.json"), json.as_bytes())?;
    let rollout = symdlnn::data::Dataset {
        n: model.n,
        dt: model.h,
        trajectories: vec![symdlnn::data::Trajectory::from_positions(
            model.n,
            truth.t[0],
            model.h,
            evaluation.path.clone(),
        )],
    };
    io::write(&a.out.join("rollout.csv"), &rollout)?;
    let label = model.method.label().to_string();
    let curves = [Curve {
        label: label.clone(),
        color: report::method_color(model.method.name()),
        eval: &evaluation,
    }];
    let histories: Vec<(String, String)> =
        history.into_iter().map(|h| (label.clone(), h)).collect();
    let title = a.model.display().to_string();
    let names = system
        .as_ref()
        .map(System::coordinate_names)
        .unwrap_or_default();
    let mut figures = report::write_figures(&a.out, "", &title, &curves, &histories, &names)?;
    if let Some(png) = denoised_figure(&a, &model, observed.as_ref(), &truth.q, (&title, &names))? {
        figures.push(png);
    }
    if a.json {
        println!("{json}");
    } else {
        print_summary(&evaluation.metrics);
        println!(
            "wrote metrics.json, rollout.csv and {} figures to {}",
            figures.len(),
            a.out.display()
        );
    }
    Ok(())
}

/// `--observed`: the observations, the model's denoised positions, and
/// the rollout's start chosen from them.
struct Observed {
    data: symdlnn::data::Dataset,
    denoised: Option<symdlnn::data::Dataset>,
    q0: Vec<f64>,
    q1: Vec<f64>,
    choice: StartChoice,
}

/// With `--observed` started from the model's denoised positions (its
/// training data, a model trained with noise): the figure `denoised`
/// (observations, denoised positions, truth, residuals).
fn denoised_figure(
    a: &EvaluateArgs,
    model: &model_dir::ModelFile,
    observed: Option<&Observed>,
    truth: &[f64],
    (title, names): (&str, &[String]),
) -> anyhow::Result<Option<PathBuf>> {
    let Some(o) = observed.filter(|o| o.choice == StartChoice::Denoised) else {
        return Ok(None);
    };
    let (Some(y), Some(d)) = (
        o.data.trajectories.get(a.traj),
        (o.denoised.as_ref()).and_then(|d| d.trajectories.get(a.traj)),
    ) else {
        return Ok(None);
    };
    if y.q.len() != d.q.len() {
        return Ok(None);
    }
    let figure =
        report::charts::denoised(title, (model.n, model.h), &y.q, &d.q, Some(truth), names);
    let Some(figure) = figure else {
        return Ok(None);
    };
    let [png, _] = figure.write(&a.out.join("denoised"))?;
    Ok(Some(png))
}

/// The `--observed` file (trajectory `--traj`) and the start a rollout
/// takes from it; `None` without `--observed`.
fn observed(
    a: &EvaluateArgs,
    model: &model_dir::ModelFile,
    mlp: &symdlnn::nn::Mlp,
) -> anyhow::Result<Option<Observed>> {
    let Some(path) = &a.observed else {
        return Ok(None);
    };
    let data = io::read(path, a.dt)?;
    let source = path.display().to_string();
    data.expect_dim(model.n, &source)?;
    if a.traj >= data.trajectories.len() {
        anyhow::bail!(
            "{source}: no trajectory {} (the file has {})",
            a.traj,
            data.trajectories.len()
        );
    }
    if data.trajectories[a.traj].len() < 2 {
        anyhow::bail!("{source}, trajectory {}: fewer than two points", a.traj);
    }
    let ld = symdlnn::learn::LearnedLd::new(mlp.clone(), model.parametrisation.clone());
    let denoised = model_dir::load_denoised(&a.model)?;
    let (q0, q1, choice) =
        eval::start::observed_start(&ld, model, denoised.as_ref(), &data, a.traj, a.fit_start)
            .with_context(|| format!("{source}: fitting the start"))?;
    Ok(Some(Observed {
        data,
        denoised,
        q0,
        q1,
        choice,
    }))
}

fn print_summary(m: &eval::Metrics) {
    if let Some(start) = &m.start {
        println!("{start}");
    }
    if let Some(noise) = &m.noise {
        for line in noise.lines() {
            println!("{line}");
        }
    }
    let f = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.3e}"));
    for (name, p) in [("recreation", &m.recreation), ("prediction", &m.prediction)] {
        println!(
            "{name:>10}: relative RMSE {}, energy drift {}, symmetry drift {} ({} of {} points)",
            f(p.relative_rmse),
            f(p.energy_drift),
            p.symmetry_drift
                .iter()
                .map(|d| f(*d))
                .collect::<Vec<_>>()
                .join("/"),
            p.points,
            p.points_expected
        );
    }
    if let (Some(what), Some(source)) = (&m.symmetry, &m.generator_source) {
        if !m.generators.is_empty() {
            println!(
                "symmetry drift: {what}, for the {source} generator(s) {}",
                m.generators.join(", ")
            );
        }
    }
    for b in &m.built_in {
        println!(
            "built-in {}: the learned Ld's Noether momentum {:.6e}, relative drift {:.3e} over the rollout",
            b.generator, b.initial, b.relative_drift
        );
    }
    if let Some(a) = &m.agreement {
        println!("agreement with the true generators: {a:.6?}");
    }
    if let Some(e) = &m.failure {
        println!("the rollout stopped early: {e}");
    }
    for n in &m.notes {
        println!("note: {n}");
    }
}
