//! One model against one observed trajectory: roll the model out from the
//! trajectory's first two points for as many steps as the truth has, and
//! measure (DESIGN §3 "Evaluation"):
//!
//! * recreation (points `2..=N`; points 0 and 1 are the rollout's start)
//!   and prediction (points `> N`) RMSE, absolute and relative to
//!   [`position_scale`] of the truth;
//! * energy drift: `H_VBEA` at the consistent velocities for DLNN/SymDLNN,
//!   the true `H` at central-difference velocities for the LNN (when the
//!   system is known);
//! * symmetry drift of `I_k = ξ(q_k)·∂L/∂q̇(q_k, q̇_k)` with the true `L`
//!   at central-difference velocities when the system is known (the same,
//!   gauge-free measure for every method), otherwise of the learned `Ld`'s
//!   discrete Noether quantity `−ξ(q_k)·D1 Ld(q_k, q_{k+1})` (which inherits
//!   the gauge freedom of a learned `Ld`); the learned generators for
//!   SymDLNN, the true ones otherwise;
//! * generator agreement, the rollout's Newton statistics, training time.
//!
//! A rollout whose Newton solve fails is kept up to the failure and
//! reported as such; the spans it did not reach have no numbers.

use serde::{Deserialize, Serialize};

use super::metrics::{drift, position_scale, rmse};
use super::vbea::{central_velocities, VbeaLagrangian};
use crate::data::Trajectory;
use crate::learn::model_dir::ModelFile;
use crate::learn::symmetry::{agreement_of, conserved_quantity, Generator};
use crate::learn::LearnedLd;
use crate::learn::MethodKind;
use crate::mechanics::{
    AffineGenerator, Convergence, Lagrangian, LagrangianDerivatives, System, VariationalIntegrator,
    VectorField,
};
use crate::nn::Mlp;

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("the trajectory has {points} points; evaluation needs at least 3")]
    TooShort { points: usize },
    #[error("the trajectory has dimension {found}, the model {expected}")]
    Dimension { expected: usize, found: usize },
    #[error("the trajectory's time step {data} differs from the model's step {model}")]
    Step { data: f64, model: f64 },
    #[error(
        "train steps {train_steps} must be at least 1 and at most {max} (the trajectory's steps)"
    )]
    TrainSteps { train_steps: usize, max: usize },
    #[error("the system '{system}' has dimension {found}, the model {expected}")]
    SystemDimension {
        system: String,
        expected: usize,
        found: usize,
    },
}

/// Numbers of one phase (recreation or prediction) of a rollout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseMetrics {
    /// Points in the phase that the rollout reached (of `points_expected`).
    pub points: usize,
    pub points_expected: usize,
    pub rmse: Option<f64>,
    pub relative_rmse: Option<f64>,
    /// `max |H_k − H_0|` over the phase.
    pub energy_drift: Option<f64>,
    /// The same over the energy scale (mean `|q̇·p|` along the path).
    pub relative_energy_drift: Option<f64>,
    /// `max |I_k − I_0|` over the phase, per generator.
    pub symmetry_drift: Vec<Option<f64>>,
    /// The same over the generator's scale (mean `|p||ξ(q)|` along the path).
    pub relative_symmetry_drift: Vec<Option<f64>>,
}

/// Newton statistics of a rollout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewtonSummary {
    pub solves: usize,
    pub total_iterations: usize,
    pub max_iterations: usize,
    pub max_residual: f64,
}

/// Everything measured of one model on one trajectory (`metrics.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub method: String,
    /// Recreation steps `N` (points `0..=N`).
    pub train_steps: usize,
    /// Steps of the truth (points `0..=total_steps`).
    pub total_steps: usize,
    /// RMS deviation of the truth from its mean.
    pub scale: f64,
    pub recreation: PhaseMetrics,
    pub prediction: PhaseMetrics,
    /// What the energy is: `H_VBEA`, the true `H`, or nothing.
    pub energy: Option<String>,
    /// What the conserved quantities are.
    pub symmetry: Option<String>,
    /// The generators whose quantities were tracked, and whether they are
    /// `learned` or `true`.
    pub generators: Vec<String>,
    pub generator_source: Option<String>,
    /// Agreement of learned generators with the true ones: `|cos|` for one,
    /// principal angles in degrees for several.
    pub agreement: Option<Vec<f64>>,
    pub newton: NewtonSummary,
    /// Why the rollout stopped early, when it did.
    pub failure: Option<String>,
    /// Why a quantity is missing (e.g. the VBEA velocity solve failed).
    pub notes: Vec<String>,
    pub training_seconds: f64,
    pub epochs: usize,
    pub epochs_per_second: f64,
    pub rollout_seconds: f64,
}

/// The series behind the metrics, for figures.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub metrics: Metrics,
    pub n: usize,
    pub h: f64,
    /// Truth positions, row-major, `total_steps + 1` points.
    pub truth: Vec<f64>,
    /// The model's rollout (possibly shorter when it failed).
    pub path: Vec<f64>,
    /// Energy at each point of `path` (`H_VBEA` or true `H`).
    pub energy: Option<Vec<f64>>,
    /// Its scale: mean `|q̇·p|` along the path (0 when unknown).
    pub energy_scale: f64,
    /// Per generator, `I_k` at each point (true momentum) or pair (learned
    /// `Ld`) of `path`.
    pub invariants: Vec<Vec<f64>>,
    /// Per generator, its scale: mean `|p||ξ(q)|` along the path.
    pub invariant_scales: Vec<f64>,
}

/// Whose generators' conserved quantities an evaluation tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracked {
    /// The learned ones for SymDLNN, the true ones otherwise.
    Auto,
    /// The system's true generators.
    True,
    /// The generators stored in the model (none if it has none).
    Learned,
}

/// Evaluate `model` on `truth` with recreation span `train_steps`; `system`
/// (when known) supplies the true generators and the true energy.
pub fn evaluate(
    model: &ModelFile,
    mlp: &Mlp,
    truth: &Trajectory,
    train_steps: usize,
    system: Option<&System>,
    tracked: Tracked,
) -> Result<Evaluation, EvalError> {
    let n = model.n;
    let h = model.h;
    let len = truth.len();
    if len < 3 {
        return Err(EvalError::TooShort { points: len });
    }
    if truth.n != n {
        return Err(EvalError::Dimension {
            expected: n,
            found: truth.n,
        });
    }
    let dt = truth.t[1] - truth.t[0];
    if (dt - h).abs() > crate::data::io::DT_RTOL * h {
        return Err(EvalError::Step { data: dt, model: h });
    }
    if train_steps == 0 || train_steps > len - 1 {
        return Err(EvalError::TrainSteps {
            train_steps,
            max: len - 1,
        });
    }
    if let Some(s) = system.filter(|s| s.dim() != n) {
        return Err(EvalError::SystemDimension {
            system: s.name().into(),
            expected: n,
            found: s.dim(),
        });
    }
    let ld = LearnedLd::new(mlp.clone(), model.parametrisation.clone());
    let start = std::time::Instant::now();
    let (path, failure) = VariationalIntegrator::new(&ld, Convergence::default())
        .rollout_positions_until_failure(truth.position(0), truth.position(1), len - 2)
        // Dimensions were checked above.
        .map_err(|_| EvalError::Dimension {
            expected: n,
            found: truth.n,
        })?;
    let rollout_seconds = start.elapsed().as_secs_f64();
    let reached = path.q.len() / n;
    let mut notes = vec![];
    // Velocities by central differences, for the true L's energy and momenta.
    let central = system.map(|_| central_velocities(n, h, &path.q));

    // Energy along the rollout.
    let is_lnn = model.method == MethodKind::Lnn;
    let (energy_label, energy, energy_scale) = if is_lnn {
        match (system, &central) {
            (Some(s), Some(v)) => {
                let (e, scale) = energy_series(s, &path.q, v);
                (
                    Some("true H (central-difference velocities)"),
                    Some(e),
                    scale,
                )
            }
            _ => {
                notes.push("LNN energy needs the system (--system)".into());
                (None, None, 0.0)
            }
        }
    } else {
        // Kept up to a point where the velocity solve fails (said in notes).
        let vbea = VbeaLagrangian::new(&ld);
        let (v, failed) = vbea.path_velocities_until_failure(&path);
        if let Some(e) = failed {
            notes.push(format!("energy stops early: {e}"));
        }
        if v.is_empty() {
            (None, None, 0.0)
        } else {
            let (e, scale) = energy_series(&vbea, &path.q[..v.len()], &v);
            (Some("H_VBEA (consistent velocities)"), Some(e), scale)
        }
    };

    // Conserved quantities: learned generators for SymDLNN, true ones otherwise.
    let learned: &[Generator] = model.symmetries.as_ref().map_or(&[], |s| &s.generators[..]);
    let true_generators = system.map(|s| s.symmetries()).unwrap_or_default();
    let use_learned = match tracked {
        Tracked::Auto => model.method == MethodKind::SymDlnn && !learned.is_empty(),
        Tracked::True => false,
        Tracked::Learned => true,
    };
    // Each tracked generator's name and field.
    let (generators, source): (Vec<(String, &dyn VectorField)>, _) = if use_learned {
        let named = learned
            .iter()
            .map(|g| (g.description.clone(), g as &dyn VectorField));
        (named.collect(), Some("learned"))
    } else if !true_generators.is_empty() {
        let named =
            (true_generators.iter()).map(|g| (describe_generator(g), g as &dyn VectorField));
        (named.collect(), Some("true"))
    } else {
        (vec![], None)
    };
    // With the system known: the true momentum along the path (gauge-free,
    // the same measure for every method). Otherwise the learned Ld's
    // discrete Noether quantity, which inherits its gauge.
    let momenta: Vec<f64> = match (system, &central) {
        (Some(s), Some(v)) => path
            .q
            .chunks(n)
            .zip(v.chunks(n))
            .flat_map(|(q, v)| s.momentum(q, v))
            .collect(),
        _ => path.p.clone(),
    };
    let (symmetry_label, invariants): (Option<&str>, Vec<Vec<f64>>) = match system {
        Some(_) => (
            Some("ξ(q)·∂L/∂q̇ of the true L at central-difference velocities"),
            generators
                .iter()
                .map(|(_, g)| {
                    path.q
                        .chunks(n)
                        .zip(momenta.chunks(n))
                        .map(|(q, p)| g.noether(q, p))
                        .collect()
                })
                .collect(),
        ),
        None => (
            Some("−ξ(q_k)·D1 Ld(q_k, q_k+1) of the learned Ld (gauge-dependent)"),
            generators
                .iter()
                .map(|(_, g)| conserved_quantity(&ld, *g, &path.q))
                .collect(),
        ),
    };
    let symmetry_label = symmetry_label.filter(|_| !generators.is_empty());
    let per_point = system.is_some();
    let invariant_scales: Vec<f64> = generators
        .iter()
        .map(|(_, g)| {
            let terms = path.q.chunks(n).zip(momenta.chunks(n)).map(|(q, p)| {
                let xi = g.at(q);
                norm2(&xi) * norm2(p)
            });
            terms.sum::<f64>() / reached as f64
        })
        .collect();

    let scale = position_scale(n, &truth.q);
    let phase = |points: std::ops::Range<usize>, pairs: std::ops::Range<usize>| {
        let expected = points.len();
        let points = points.start..points.end.min(reached);
        let pairs = pairs.start..pairs.end.min(reached.saturating_sub(1));
        // Points 0 and 1 are the rollout's inputs, not its output.
        let err = rmse(n, &path.q, &truth.q, points.start.max(2)..points.end);
        // The energy series may stop before the rollout does.
        let e_drift = energy
            .as_ref()
            .and_then(|e| drift(e, points.start..points.end.min(e.len())));
        let span = if per_point {
            points.clone()
        } else {
            pairs.clone()
        };
        let s_drift: Vec<Option<f64>> = invariants.iter().map(|i| drift(i, span.clone())).collect();
        let relative = |x: Option<f64>, s: f64| x.map(|x| x / s).filter(|_| s > 0.0);
        PhaseMetrics {
            points: points.len(),
            points_expected: expected,
            rmse: err,
            relative_rmse: relative(err, scale),
            energy_drift: e_drift,
            relative_energy_drift: relative(e_drift, energy_scale),
            relative_symmetry_drift: s_drift
                .iter()
                .zip(&invariant_scales)
                .map(|(d, s)| relative(*d, *s))
                .collect(),
            symmetry_drift: s_drift,
        }
    };
    let recreation = phase(0..train_steps + 1, 0..train_steps);
    let prediction = phase(train_steps + 1..len, train_steps..len - 1);

    let agreement = (!learned.is_empty() && !true_generators.is_empty())
        .then(|| agreement_of(learned, &true_generators));
    let s = path.stats;
    let metrics = Metrics {
        method: model.method.to_string(),
        train_steps,
        total_steps: len - 1,
        scale,
        recreation,
        prediction,
        energy: energy_label.map(String::from),
        symmetry: symmetry_label.map(String::from),
        generators: generators.iter().map(|(name, _)| name.clone()).collect(),
        generator_source: source.map(String::from),
        agreement,
        newton: NewtonSummary {
            solves: s.steps,
            total_iterations: s.total_iterations,
            max_iterations: s.max_iterations,
            max_residual: s.max_residual,
        },
        failure: failure.map(|e| e.to_string()),
        notes,
        training_seconds: model.training_seconds,
        epochs: model.epochs_done,
        epochs_per_second: model.epochs_done as f64 / model.training_seconds.max(1e-12),
        rollout_seconds,
    };
    Ok(Evaluation {
        metrics,
        n,
        h,
        truth: truth.q.clone(),
        path: path.q,
        energy,
        energy_scale,
        invariants,
        invariant_scales,
    })
}

fn norm2(x: &[f64]) -> f64 {
    x.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn describe_generator(g: &AffineGenerator) -> String {
    if g.label.is_empty() {
        crate::learn::symmetry::describe(g.dim(), &g.m, &g.w)
    } else {
        g.label.clone()
    }
}

/// Energy of a Lagrangian at each state, and its scale (mean `|q̇·p|`).
fn energy_series<L: Lagrangian + ?Sized>(l: &L, q: &[f64], v: &[f64]) -> (Vec<f64>, f64) {
    let n = l.dim();
    let mut scale = 0.0;
    let e: Vec<f64> = q
        .chunks(n)
        .zip(v.chunks(n))
        .map(|(q, v)| {
            let p = l.momentum(q, v);
            let vp: f64 = v.iter().zip(&p).map(|(a, b)| a * b).sum();
            scale += vp.abs();
            vp - l.value(q, v)
        })
        .collect();
    let points = (q.len() / n).max(1);
    (e, scale / points as f64)
}
