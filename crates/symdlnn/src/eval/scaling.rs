//! More data, better model? A multi-trajectory experiment's model trained
//! again on the first 1 and 8 of its trajectories (the first is always
//! the training initial condition's), side by side with the experiment's
//! own model on all of them:
//!
//! * recreation of every trajectory the model was given (held-out ones
//!   included), relative RMSE over points `2..=N` of each;
//! * rollouts over `N` steps from 20 fresh initial conditions, drawn from
//!   the system's box with seed `seed + 1000` (none of them trained on);
//! * the test initial condition over `N` steps and `N_extra` beyond;
//! * the discovered generator's agreement with the truth;
//! * training time, epochs, and the seconds until the held-out mean DEL
//!   residual came within 2× of its final value (time to accuracy).
//!
//! Every size trains the same configuration (the robust SymDLNN with the
//! known coordinates, and the built-in row's); the smaller sizes train at most the default length
//! ([`crate::learn::default_epochs`]) and keep the experiment's time
//! budget, and a size of one trajectory holds nothing out.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::evaluation::{evaluate, Tracked};
use super::experiment::{train_one, Experiment, ExperimentError, Progress, Settings};
use super::metrics::{position_scale, rmse};
use crate::data::{generate, Dataset, Trajectory};
use crate::learn::model_dir::ModelFile;
use crate::learn::symmetry::agreement_of;
use crate::learn::{default_epochs, LearnedLd, TrainConfig};
use crate::mechanics::{Convergence, System, VariationalIntegrator};
use crate::nn::Mlp;

/// Initial conditions of the fresh rollouts.
pub const FRESH: usize = 20;

/// The sizes studied for an experiment of `m` trajectories: 1, 8 and `m`
/// (those not above `m`, each once).
pub fn sizes(m: usize) -> Vec<usize> {
    let mut s: Vec<usize> = [1, 8, m].into_iter().filter(|&k| k <= m).collect();
    s.dedup();
    s
}

/// One size of the study.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScalingRow {
    /// The report's label of the configuration (`SymDLNN`, …).
    pub method: String,
    /// Trajectories given to the training.
    pub trajectories: usize,
    /// The model directory, relative to the run's output.
    pub model: String,
    /// Training failed: why (nothing else then).
    pub training_failure: Option<String>,
    /// Trajectories trained on (the others held out for validation).
    pub trained_on: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Training wall time.
    pub train_seconds: f64,
    /// Recreation rel. RMSE of each given trajectory (`None`: the rollout
    /// failed).
    pub recreation: Vec<Option<f64>>,
    /// Rel. RMSE over `N` steps from each fresh initial condition.
    pub fresh: Vec<Option<f64>>,
    /// The test initial condition: recreation and prediction rel. RMSE.
    pub test: (Option<f64>, Option<f64>),
    /// Agreement of the discovered generators with the true ones.
    pub agreement: Vec<f64>,
    /// Seconds until the held-out mean DEL residual was within 2× of its
    /// final value (`None` without validation).
    pub seconds_to_2x: Option<f64>,
}

/// Median and worst of errors where `None` (a failed rollout) is the
/// worst; `None` for no errors.
pub fn median_worst(errors: &[Option<f64>]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = errors.iter().map(|e| e.unwrap_or(f64::INFINITY)).collect();
    v.sort_by(f64::total_cmp);
    let k = v.len();
    let median = match k {
        0 => return None,
        _ if k % 2 == 1 => v[k / 2],
        _ => 0.5 * (v[k / 2 - 1] + v[k / 2]),
    };
    Some((median, v[k - 1]))
}

/// What the study needs of its experiment.
pub(crate) struct StudyInput<'a> {
    /// The experiment.
    pub exp: &'a Experiment,
    /// Its profile's settings.
    pub settings: &'a Settings,
    /// Its system.
    pub system: &'a System,
    /// Its training data (all trajectories).
    pub train: &'a Dataset,
    /// The true path from the test initial condition over `N + N_extra`.
    pub test: &'a Trajectory,
    /// The configuration trained at every size: its method key (as in the
    /// experiment's model directories), report label and recipe label.
    pub config: (&'a TrainConfig, &'a str, &'a str, &'a str),
    /// The directory (relative to `out`) of the experiment's model of this
    /// configuration on all trajectories; the other sizes' get `-m<M>`.
    pub dir: &'a str,
}

/// Train (or, for all trajectories, reuse) and measure every size.
pub(crate) fn study(
    input: &StudyInput,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<ScalingRow>, ExperimentError> {
    let exp = input.exp;
    let fresh_ics = generate::sample_initial_conditions(
        &input.system.initial_box(),
        FRESH,
        input.settings.seed + 1000,
    );
    let fresh = generate::dataset(input.system, &fresh_ics, exp.grid, Convergence::default())
        .map_err(|source| ExperimentError::Generate {
            experiment: exp.name.clone(),
            source,
        })?;
    let mut rows = vec![];
    for m in sizes(input.train.trajectories.len()) {
        let data = Dataset {
            trajectories: input.train.trajectories[..m].to_vec(),
            ..input.train.clone()
        };
        let (dir, trained) = if m == input.train.trajectories.len() {
            let loaded = crate::learn::model_dir::load(&out.join(input.dir));
            (input.dir.to_string(), loaded.map_err(|e| e.to_string()))
        } else {
            train_size(input, &data, m, out, progress)
        };
        rows.push(match trained {
            Ok((model, mlp)) => measure(input, &model, &mlp, &data, &fresh, dir, out)?,
            Err(failure) => failed_row(input.config.2, m, dir, failure),
        });
    }
    Ok(rows)
}

/// Train the configuration on the first `m` trajectories.
fn train_size(
    input: &StudyInput,
    data: &Dataset,
    m: usize,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> (String, Result<(ModelFile, Mlp), String>) {
    let (config, method, _, recipe) = input.config;
    let name = input.exp.name.as_str();
    let dir = format!("{}-m{m}", input.dir);
    let mut c = config.clone();
    let pairs: usize = data.trajectories.iter().map(|t| t.len() - 1).sum();
    c.epochs = c.epochs.min(default_epochs(pairs, c.control.batch_size));
    if m == 1 {
        c.control.validation = None;
    }
    let stage = format!(
        "training {method} on {m} of {} trajectories ({recipe}, {} epochs)",
        input.train.trajectories.len(),
        c.epochs
    );
    let source = format!("data/{name}-train.csv (first {m} trajectories)");
    let result = train_one(&c, data, &out.join(&dir), (name, stage, source), progress);
    (dir, result.map_err(|e| e.to_string()))
}

/// The row of a size whose training failed.
fn failed_row(method: &str, m: usize, model: String, failure: String) -> ScalingRow {
    ScalingRow {
        method: method.into(),
        trajectories: m,
        model,
        training_failure: Some(failure),
        trained_on: 0,
        epochs: 0,
        train_seconds: 0.0,
        recreation: vec![],
        fresh: vec![],
        test: (None, None),
        agreement: vec![],
        seconds_to_2x: None,
    }
}

/// Measure a trained model of the study.
fn measure(
    input: &StudyInput,
    model: &ModelFile,
    mlp: &Mlp,
    data: &Dataset,
    fresh: &Dataset,
    dir: String,
    out: &Path,
) -> Result<ScalingRow, ExperimentError> {
    let ld = LearnedLd::new(mlp.clone(), model.parametrisation.clone());
    let test = evaluate(
        model,
        mlp,
        input.test,
        input.exp.grid.steps,
        Some(input.system),
        Tracked::Auto,
    )
    .map_err(|source| ExperimentError::Eval {
        experiment: input.exp.name.clone(),
        source,
    })?;
    let history = std::fs::read_to_string(out.join(&dir).join("history.csv")).unwrap_or_default();
    Ok(ScalingRow {
        method: input.config.2.into(),
        trajectories: data.trajectories.len(),
        trained_on: model.data.trajectories,
        epochs: model.epochs_done,
        train_seconds: model.training_seconds,
        recreation: data
            .trajectories
            .iter()
            .map(|t| recreation(&ld, t))
            .collect(),
        fresh: fresh
            .trajectories
            .iter()
            .map(|t| recreation(&ld, t))
            .collect(),
        test: (
            test.metrics.recreation.relative_rmse,
            test.metrics.prediction.relative_rmse,
        ),
        agreement: model
            .symmetries
            .as_ref()
            .map(|s| agreement_of(&s.generators, &input.system.symmetries()))
            .unwrap_or_default(),
        seconds_to_2x: seconds_to_2x(&history),
        model: dir,
        training_failure: None,
    })
}

/// Relative RMSE of `ld`'s rollout from `truth`'s first two points over
/// its points `2..`, relative to the truth's [`position_scale`]; `None`
/// when the rollout fails or is not finite, or the truth has fewer than
/// three points.
pub fn recreation(ld: &LearnedLd, truth: &Trajectory) -> Option<f64> {
    let n = truth.n;
    if truth.len() < 3 {
        return None;
    }
    let path = VariationalIntegrator::new(ld, Convergence::default())
        .rollout_positions(truth.position(0), truth.position(1), truth.len() - 2)
        .ok()?;
    let e = rmse(n, &path.q, &truth.q, 2..truth.len())? / position_scale(n, &truth.q);
    e.is_finite().then_some(e)
}

/// Seconds (the `seconds` column of `history.csv`) until the `val_del`
/// column first came within 2× of its last value; `None` without those
/// columns or values.
pub fn seconds_to_2x(history: &str) -> Option<f64> {
    let mut lines = history.lines();
    let head: Vec<&str> = lines.next()?.split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let (s, v) = (col("seconds")?, col("val_del")?);
    let rows: Vec<(f64, f64)> = lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f.get(s)?.parse().ok()?, f.get(v)?.parse().ok()?))
        })
        .filter(|(_, v): &(f64, f64)| v.is_finite())
        .collect();
    let last = rows.last()?.1;
    rows.iter().find(|r| r.1 <= 2.0 * last).map(|r| r.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_one_eight_and_all_once_each() {
        assert_eq!(sizes(100), vec![1, 8, 100]);
        assert_eq!(sizes(8), vec![1, 8]);
        assert_eq!(sizes(5), vec![1, 5]);
        assert_eq!(sizes(1), vec![1]);
    }

    #[test]
    fn a_failed_rollout_is_the_worst_error() {
        assert_eq!(median_worst(&[]), None);
        assert_eq!(
            median_worst(&[Some(2.0), Some(1.0), Some(3.0)]),
            Some((2.0, 3.0))
        );
        assert_eq!(
            median_worst(&[Some(2.0), None, Some(1.0), Some(4.0)]),
            Some((3.0, f64::INFINITY))
        );
    }

    #[test]
    fn a_truth_too_short_to_roll_out_has_no_error() {
        use crate::learn::Parametrisation;
        use crate::nn::{Activation, Mlp};
        let q = vec![0.0, 1.0, 0.1, 0.9];
        let param = Parametrisation::midpoint_velocity(2, 0.1, &q, &q, true, false);
        let mlp = Mlp::new(param.input_dim(), &[4], Activation::Softplus, 1).unwrap();
        let ld = LearnedLd::new(mlp, param);
        let one = Trajectory::from_positions(2, 0.0, 0.1, q[..2].to_vec());
        assert_eq!(recreation(&ld, &one), None);
        let two = Trajectory::from_positions(2, 0.0, 0.1, q);
        assert_eq!(recreation(&ld, &two), None);
    }

    #[test]
    fn time_to_accuracy_is_the_first_time_within_twice_the_last_value() {
        // Validation every other row (empty cells between), the last 0.5:
        // the first row at or below 1.0 is at 3 s.
        let h = "epoch,seconds,loss,val_del\n1,1,0.1,8\n2,2,0.1,\n3,3,0.1,0.9\n4,4,0.1,1.5\n5,5,0.1,0.5\n";
        assert_eq!(seconds_to_2x(h), Some(3.0));
        assert_eq!(seconds_to_2x("epoch,seconds,loss\n1,1,0.1\n"), None);
        assert_eq!(seconds_to_2x(""), None);
    }
}
