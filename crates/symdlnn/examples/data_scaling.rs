//! More data, better model? (issue 19). Trains SymDLNN (robust recipe,
//! variational discovery, the paper's 3 × 128 network) on 1, 8 and 100
//! trajectories of the paper's multi-trajectory experiment and reports, side
//! by side: recreation of every trajectory of the data (median, worst),
//! rollouts over N steps from 20 fresh initial conditions drawn from the
//! box with another seed (median, worst rel. RMSE), the test initial
//! condition (recreation and prediction), the discovered generator's
//! agreement, the training time, and the seconds until the validation DEL
//! residual came within 2× of its final value.
//!
//! `reproduce` runs the same study on its multi-trajectory experiments
//! (`symdlnn::eval::scaling`) with the profile's budget for every size;
//! this example sets a budget and a validation share per size and draws
//! each size's trajectories afresh from the box.
//!
//! ```text
//! cargo run --release --example data_scaling -- SYSTEM SEED M:BUDGET_S[:VALIDATION] … [--epochs E] [--angles I,J] [--time-reversible] [--built-in] [--out DIR]
//! cargo run --release --example data_scaling -- kepler 0 1:120 8:300:0.125 100:900:0.1
//! ```
//!
//! Runs with validation hold that fraction of the trajectories out of
//! training (they still count in "recreation of every trajectory").
//! `--built-in` builds the system's known symmetries into `Ld` (as
//! `train --symmetry`); discovery then runs on that model.

use std::path::PathBuf;

use symdlnn::data::{generate, Dataset, Trajectory};
use symdlnn::eval::evaluation::{evaluate, Tracked};
use symdlnn::eval::experiment::{catalogue, Kind, Profile};
use symdlnn::eval::scaling::{median_worst, recreation, seconds_to_2x};
use symdlnn::learn::invariant::BuiltIn;
use symdlnn::learn::symmetry::{agreement_of, DiscoverySolver, EvaluationPoints, SymmetryBasis};
use symdlnn::learn::{
    fit, BuiltInConfig, DlnnConfig, FitOptions, LearnedLd, Method, Recipe, SymmetryConfig,
    TrainConfig, TrainControl,
};
use symdlnn::mechanics::{Convergence, Lagrangian, System, TimeGrid};

/// Median and worst of a list of errors (a failed rollout the worst).
fn summary(errors: &[Option<f64>]) -> (f64, f64) {
    median_worst(errors).unwrap_or((f64::NAN, f64::NAN))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let system_name = args.first().cloned().unwrap_or_else(|| "kepler".into());
    let seed: u64 = args.get(1).map_or(Ok(0), |s| s.parse())?;
    let mut epochs = 5000;
    let mut out = PathBuf::from("target/data_scaling");
    let mut runs: Vec<(usize, f64, Option<f64>)> = vec![];
    let mut angles: Vec<usize> = vec![];
    let (mut time_reversible, mut built_in) = (false, false);
    let mut it = args.iter().skip(2);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--epochs" => epochs = it.next().ok_or("--epochs E")?.parse()?,
            "--out" => out = it.next().ok_or("--out DIR")?.into(),
            "--time-reversible" => time_reversible = true,
            "--built-in" => built_in = true,
            "--angles" => {
                angles = it
                    .next()
                    .ok_or("--angles I,J")?
                    .split(',')
                    .map(|i| i.parse())
                    .collect::<Result<_, _>>()?
            }
            spec => {
                let p: Vec<&str> = spec.split(':').collect();
                runs.push((
                    p[0].parse()?,
                    p[1].parse()?,
                    p.get(2).map(|v| v.parse()).transpose()?,
                ));
            }
        }
    }
    let system = System::from_name(&system_name)?;
    let exp = catalogue(&Profile::Paper.settings())
        .into_iter()
        .find(|e| e.system == system_name && e.kind == Kind::Multi)
        .ok_or("no multi experiment for this system")?;
    let conv = Convergence::default();
    let positions = |d: Dataset| Dataset {
        trajectories: d
            .trajectories
            .iter()
            .map(|t| Trajectory::from_positions(t.n, 0.0, d.dt, t.q.clone()))
            .collect(),
        ..d
    };
    // 20 fresh initial conditions over N steps, the test one over N + extra.
    let fresh_ics = generate::sample_initial_conditions(&system.initial_box(), 20, seed + 1000);
    let fresh = generate::dataset(&system, &fresh_ics, exp.grid, conv)?;
    let long = TimeGrid {
        steps: exp.grid.steps + exp.extra,
        ..exp.grid
    };
    let test = generate::trajectory(&system, &exp.test.0, &exp.test.1, long, conv)?;
    let truth_gens = system.symmetries();
    println!(
        "| M | trained on | epochs | steps/epoch | train s | recreation median / worst | fresh 20 median / worst | test rec. / pred. | agreement | s to 2× final val DEL |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (m, budget, validation) in runs {
        let mut ics = vec![exp.train.clone()];
        if m > 1 {
            ics.extend(generate::sample_initial_conditions(
                &system.initial_box(),
                m - 1,
                seed,
            ));
        }
        let data = positions(generate::dataset(&system, &ics, exp.grid, conv)?);
        let symmetry = SymmetryConfig {
            generators: truth_gens.len().max(1),
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
        let config = TrainConfig {
            method: Method::SymDlnn {
                dlnn: DlnnConfig {
                    angles: angles.clone(),
                    time_reversible,
                    built_in: built_in
                        .then(|| BuiltIn::from_generators(system.dim(), &truth_gens))
                        .transpose()?
                        .map(|symmetry| BuiltInConfig {
                            symmetry,
                            source: "declared".into(),
                        }),
                    ..DlnnConfig::new(Recipe::Robust)
                },
                symmetry,
            },
            seed,
            control: TrainControl {
                validation,
                time_budget: Some(budget),
                ..Default::default()
            },
            ..TrainConfig::new(Recipe::Robust, epochs)
        };
        let dir = out.join(format!("{system_name}-m{m}-s{seed}"));
        let mut steps = 0usize;
        let start = std::time::Instant::now();
        let (model, mlp) = fit(&config, &data, &dir, &FitOptions::default(), &mut |r| {
            steps += r.steps
        })?;
        let wall = start.elapsed().as_secs_f64();
        let ld = LearnedLd::new(mlp.clone(), model.parametrisation.clone());
        let errors = |d: &Dataset| -> Vec<Option<f64>> {
            d.trajectories.iter().map(|t| recreation(&ld, t)).collect()
        };
        let (rec, fr) = (summary(&errors(&data)), summary(&errors(&fresh)));
        let ev = evaluate(
            &model,
            &mlp,
            &test,
            exp.grid.steps,
            Some(&system),
            Tracked::Auto,
        )?;
        let agreement = model
            .symmetries
            .as_ref()
            .map(|s| agreement_of(&s.generators, &truth_gens))
            .unwrap_or_default();
        let history = std::fs::read_to_string(dir.join("history.csv"))?;
        let tta = seconds_to_2x(&history).map_or("–".into(), |t| format!("{t:.0}"));
        let epochs_done = model.epochs_done;
        println!(
            "| {m} | {} | {epochs_done} | {:.1} | {:.0} (wall {wall:.0}) | {:.2e} / {:.2e} | {:.2e} / {:.2e} | {:.2e} / {:.2e} | {} | {tta} |",
            model.data.trajectories,
            steps as f64 / epochs_done.max(1) as f64,
            model.training_seconds,
            rec.0,
            rec.1,
            fr.0,
            fr.1,
            ev.metrics.recreation.relative_rmse.unwrap_or(f64::INFINITY),
            ev.metrics.prediction.relative_rmse.unwrap_or(f64::INFINITY),
            agreement
                .iter()
                .map(|a| format!("{a:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    Ok(())
}
