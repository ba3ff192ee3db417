//! One model against one observed trajectory: roll the model out from the
//! trajectory's first two points for as many steps as the truth has, and
//! measure (the measures are defined in `docs/method.md`):
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
    AffineGenerator, Convergence, Lagrangian, LagrangianDerivatives, PhasePath, RolloutStats,
    SolverError, System, VariationalIntegrator, VectorField,
};
use crate::nn::Mlp;

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The trajectory has fewer than the three points a rollout needs.
    #[error("the trajectory has {points} points; evaluation needs at least 3")]
    TooShort {
        /// The trajectory's points.
        points: usize,
    },
    /// The trajectory's dimension is not the model's.
    #[error("the trajectory has dimension {found}, the model {expected}")]
    Dimension {
        /// The model's dimension.
        expected: usize,
        /// The trajectory's dimension.
        found: usize,
    },
    /// The trajectory's time step is not the model's.
    #[error("the trajectory's time step {data} differs from the model's step {model}")]
    Step {
        /// The trajectory's step.
        data: f64,
        /// The model's step.
        model: f64,
    },
    /// The recreation span is empty or longer than the trajectory.
    #[error(
        "train steps {train_steps} must be at least 1 and at most {max} (the trajectory's steps)"
    )]
    TrainSteps {
        /// The recreation span asked for.
        train_steps: usize,
        /// The trajectory's steps.
        max: usize,
    },
    /// The system given for the true energy and generators has another
    /// dimension than the model.
    #[error("the system '{system}' has dimension {found}, the model {expected}")]
    SystemDimension {
        /// The system's name.
        system: String,
        /// The model's dimension.
        expected: usize,
        /// The system's dimension.
        found: usize,
    },
}

/// Numbers of one phase (recreation or prediction) of a rollout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseMetrics {
    /// Points in the phase that the rollout reached (of `points_expected`).
    pub points: usize,
    /// Points in the phase of the truth.
    pub points_expected: usize,
    /// RMS position error over the points reached (points 0 and 1, the
    /// rollout's start, excluded); `None` when no point was reached.
    pub rmse: Option<f64>,
    /// The same over the truth's position scale.
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

/// A built-in generator's discrete Noether momentum
/// `D2 Ld(q_{k−1}, q_k)·ξ(q_k)` along the model's own rollout: conserved to
/// the Newton tolerance for an `Ld` invariant by construction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuiltInMomentum {
    /// The generator.
    pub generator: String,
    /// Its momentum at the start of the rollout.
    pub initial: f64,
    /// `max_k |I_k − I_0| / max_k |I_k|` over the rollout; for the three
    /// generators of a built-in `so(3)` the denominator is the largest over
    /// all three (a component of the angular momentum may vanish).
    pub relative_drift: f64,
}

/// Newton statistics of a rollout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewtonSummary {
    /// Newton solves (steps) done.
    pub solves: usize,
    /// Iterations over all solves.
    pub total_iterations: usize,
    /// Most iterations of one solve.
    pub max_iterations: usize,
    /// Largest final residual of a solve.
    pub max_residual: f64,
}

/// Everything measured of one model on one trajectory (`metrics.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The method evaluated (`dlnn`, `symdlnn`, `lnn`, …).
    pub method: String,
    /// Recreation steps `N` (points `0..=N`).
    pub train_steps: usize,
    /// Steps of the truth (points `0..=total_steps`).
    pub total_steps: usize,
    /// RMS deviation of the truth from its mean.
    pub scale: f64,
    /// Points `0..=N`: how well the model recreates the training span.
    pub recreation: PhaseMetrics,
    /// Points after `N`: how well it predicts beyond it.
    pub prediction: PhaseMetrics,
    /// What the energy is: `H_VBEA`, the true `H`, or nothing.
    pub energy: Option<String>,
    /// What the conserved quantities are.
    pub symmetry: Option<String>,
    /// The generators whose quantities were tracked.
    pub generators: Vec<String>,
    /// The learned `Ld`'s discrete Noether momenta of its built-in
    /// generators along the rollout (absent without built-in symmetries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub built_in: Vec<BuiltInMomentum>,
    /// `learned` or `true` (`None` when no generator is tracked).
    pub generator_source: Option<String>,
    /// Agreement of learned generators with the true ones: `|cos|` for one,
    /// principal angles in degrees for several.
    pub agreement: Option<Vec<f64>>,
    /// The rollout's Newton statistics.
    pub newton: NewtonSummary,
    /// Why the rollout stopped early, when it did.
    pub failure: Option<String>,
    /// Why a quantity is missing (e.g. the VBEA velocity solve failed).
    pub notes: Vec<String>,
    /// Wall time of the model's training.
    pub training_seconds: f64,
    /// Epochs the model was trained for.
    pub epochs: usize,
    /// Training speed.
    pub epochs_per_second: f64,
    /// Wall time of the rollout.
    pub rollout_seconds: f64,
    /// Where the rollout started, when not at the truth's first two points
    /// ([`evaluate_from`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// A model trained with noise: its noise level and observation
    /// residuals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<crate::learn::latent::NoiseRecord>,
}

/// The series behind the metrics, for figures.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The numbers.
    pub metrics: Metrics,
    /// Configuration dimension.
    pub n: usize,
    /// Time step.
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
    evaluate_from(model, mlp, truth, None, train_steps, system, tracked)
}

/// As [`evaluate`], with the rollout started from `start = (q0, q1, how)`
/// (e.g. a denoised or fitted start, [`super::start`]) instead of the
/// truth's first two points; `how` is recorded in the metrics.
pub fn evaluate_from(
    model: &ModelFile,
    mlp: &Mlp,
    truth: &Trajectory,
    start: Option<(&[f64], &[f64], String)>,
    train_steps: usize,
    system: Option<&System>,
    tracked: Tracked,
) -> Result<Evaluation, EvalError> {
    check_inputs(model, truth, train_steps, system)?;
    let n = model.n;
    let len = truth.len();
    let ld = LearnedLd::new(mlp.clone(), model.parametrisation.clone());
    let (q0, q1) = match &start {
        Some((a, b, _)) if a.len() == n && b.len() == n => (*a, *b),
        Some((a, _, _)) => {
            return Err(EvalError::Dimension {
                expected: n,
                found: a.len(),
            })
        }
        None => (truth.position(0), truth.position(1)),
    };
    let rollout = roll_out(&ld, n, truth, q0, q1)?;
    let path = &rollout.path;
    let mut notes = vec![];
    // Velocities by central differences, for the true L's energy and momenta.
    let central = system.map(|_| central_velocities(n, model.h, &path.q));
    let energy = energy_along(model, system, central.as_deref(), &ld, path, &mut notes);
    notes.extend(super::range::range_notes(model, &path.q));

    // Conserved quantities: learned generators for SymDLNN, true ones otherwise.
    let learned: &[Generator] = model.symmetries.as_ref().map_or(&[], |s| &s.generators[..]);
    let true_generators = system.map(|s| s.symmetries()).unwrap_or_default();
    let (generators, source) = tracked_generators(model, tracked, learned, &true_generators);
    let invariants = invariants_along(n, system, central.as_deref(), &ld, &generators, path);

    let spans = Spans {
        n,
        path: &path.q,
        truth: &truth.q,
        reached: path.q.len() / n,
        scale: position_scale(n, &truth.q),
        energy: &energy,
        invariants: &invariants,
        per_point: system.is_some(),
    };
    let metrics = Metrics {
        method: model.method.to_string(),
        train_steps,
        total_steps: len - 1,
        scale: spans.scale,
        recreation: spans.phase(0..train_steps + 1, 0..train_steps),
        prediction: spans.phase(train_steps + 1..len, train_steps..len - 1),
        energy: energy.label.map(String::from),
        symmetry: invariants.label.map(String::from),
        generators: generators.iter().map(|(name, _)| name.clone()).collect(),
        built_in: built_in_momenta(&ld, &path.q),
        generator_source: source.map(String::from),
        agreement: (!learned.is_empty() && !true_generators.is_empty())
            .then(|| agreement_of(learned, &true_generators)),
        newton: newton_summary(&path.stats),
        failure: rollout.failure.as_ref().map(|e| e.to_string()),
        notes,
        training_seconds: model.training_seconds,
        epochs: model.epochs_done,
        epochs_per_second: model.epochs_done as f64 / model.training_seconds.max(1e-12),
        rollout_seconds: rollout.seconds,
        start: start.map(|s| s.2),
        noise: model.noise.clone(),
    };
    Ok(Evaluation {
        metrics,
        n,
        h: model.h,
        truth: truth.q.clone(),
        path: rollout.path.q,
        energy: energy.values,
        energy_scale: energy.scale,
        invariants: invariants.values,
        invariant_scales: invariants.scales,
    })
}

/// Refuse a trajectory the model cannot be evaluated on: too short, of
/// another dimension or step, a recreation span outside it, or a system of
/// another dimension.
fn check_inputs(
    model: &ModelFile,
    truth: &Trajectory,
    train_steps: usize,
    system: Option<&System>,
) -> Result<(), EvalError> {
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
    Ok(())
}

/// The model's rollout from the truth's first two points, as far as its
/// Newton solves succeed.
struct Rollout {
    path: PhasePath,
    /// Why the rollout stopped early, when it did.
    failure: Option<SolverError>,
    seconds: f64,
}

/// Roll `ld` out from `(q0, q1)` for as many steps as the truth has,
/// keeping the path up to a failed Newton solve.
fn roll_out(
    ld: &LearnedLd,
    n: usize,
    truth: &Trajectory,
    q0: &[f64],
    q1: &[f64],
) -> Result<Rollout, EvalError> {
    let start = std::time::Instant::now();
    let (path, failure) = VariationalIntegrator::new(ld, Convergence::default())
        .rollout_positions_until_failure(q0, q1, truth.len() - 2)
        // Dimensions were checked by `check_inputs`.
        .map_err(|_| EvalError::Dimension {
            expected: n,
            found: truth.n,
        })?;
    Ok(Rollout {
        path,
        failure,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// An energy series along the rollout.
struct EnergySeries {
    /// What the energy is (`None`: no energy could be computed).
    label: Option<&'static str>,
    /// The energy at each point the series reached.
    values: Option<Vec<f64>>,
    /// Mean `|q̇·p|` along the path (0 when unknown).
    scale: f64,
}

/// The energy along the rollout: the true `H` at central-difference
/// velocities for the LNN (when the system is known), otherwise `H_VBEA` at
/// the consistent velocities, kept up to a failed velocity solve (said in
/// `notes`).
fn energy_along(
    model: &ModelFile,
    system: Option<&System>,
    central: Option<&[f64]>,
    ld: &LearnedLd,
    path: &PhasePath,
    notes: &mut Vec<String>,
) -> EnergySeries {
    let none = EnergySeries {
        label: None,
        values: None,
        scale: 0.0,
    };
    if model.method == MethodKind::Lnn {
        let (Some(s), Some(v)) = (system, central) else {
            notes.push("LNN energy needs the system (--system)".into());
            return none;
        };
        let (e, scale) = energy_series(s, &path.q, v);
        return EnergySeries {
            label: Some("true H (central-difference velocities)"),
            values: Some(e),
            scale,
        };
    }
    let vbea = VbeaLagrangian::new(ld);
    let (v, failed) = vbea.path_velocities_until_failure(path);
    if let Some(e) = failed {
        notes.push(format!("energy stops early: {e}"));
    }
    if v.is_empty() {
        return none;
    }
    let (e, scale) = energy_series(&vbea, &path.q[..v.len()], &v);
    EnergySeries {
        label: Some("H_VBEA (consistent velocities)"),
        values: Some(e),
        scale,
    }
}

/// The built-in generators' discrete Noether momenta along `path`.
fn built_in_momenta(ld: &LearnedLd, path: &[f64]) -> Vec<BuiltInMomentum> {
    let Some(b) = ld.parametrisation().built_in() else {
        return vec![];
    };
    if path.len() < 2 * ld.parametrisation().n {
        return vec![];
    }
    // NaN propagates: a NaN momentum gives a NaN drift, not 0.
    let max = |a: f64, b: f64| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(b)
        }
    };
    let generators = b.generators();
    let momenta: Vec<Vec<f64>> = (generators.iter())
        .map(|g| conserved_quantity(ld, g, path))
        .collect();
    let scale_of = |i: &[f64]| i.iter().map(|x| x.abs()).fold(0.0, max);
    // so(3)'s generators come last, three of them: one scale for the three.
    let so3 = if b.so3.is_some() { 3 } else { 0 };
    let group = momenta.len() - so3;
    let so3_scale = momenta[group..].iter().map(|i| scale_of(i)).fold(0.0, max);
    generators
        .iter()
        .zip(&momenta)
        .enumerate()
        .map(|(k, (g, i))| {
            let first = i.first().copied().unwrap_or(f64::NAN);
            let scale = if k >= group { so3_scale } else { scale_of(i) };
            let drift = i.iter().map(|x| (x - first).abs()).fold(0.0, max);
            BuiltInMomentum {
                generator: describe_generator(g),
                initial: first,
                relative_drift: if scale > 0.0 { drift / scale } else { drift },
            }
        })
        .collect()
}

/// Tracked generators: each one's name and field.
type NamedGenerators<'a> = Vec<(String, &'a dyn VectorField)>;

/// The generators whose conserved quantities are tracked, and whether they
/// are `learned` or `true`: the learned ones for SymDLNN (or when asked),
/// otherwise the system's true ones (none when the system is unknown).
fn tracked_generators<'a>(
    model: &ModelFile,
    tracked: Tracked,
    learned: &'a [Generator],
    true_generators: &'a [AffineGenerator],
) -> (NamedGenerators<'a>, Option<&'static str>) {
    let use_learned = match tracked {
        Tracked::Auto => model.method == MethodKind::SymDlnn && !learned.is_empty(),
        Tracked::True => false,
        Tracked::Learned => true,
    };
    if use_learned {
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
    }
}

/// Conserved quantities along the rollout, one series per tracked generator.
struct InvariantSeries {
    /// What the quantities are (`None` when no generator is tracked).
    label: Option<&'static str>,
    /// Per generator, `I_k` at each point (true momentum) or pair (learned
    /// `Ld`) of the path.
    values: Vec<Vec<f64>>,
    /// Per generator, mean `|p||ξ(q)|` along the path.
    scales: Vec<f64>,
}

/// The tracked generators' quantities along the rollout. With the system
/// known: `ξ(q)·p` with the true momentum at central-difference velocities
/// (gauge-free, the same measure for every method). Otherwise the learned
/// `Ld`'s discrete Noether quantity, which inherits its gauge.
fn invariants_along(
    n: usize,
    system: Option<&System>,
    central: Option<&[f64]>,
    ld: &LearnedLd,
    generators: &NamedGenerators,
    path: &PhasePath,
) -> InvariantSeries {
    let momenta: Vec<f64> = match (system, central) {
        (Some(s), Some(v)) => path
            .q
            .chunks(n)
            .zip(v.chunks(n))
            .flat_map(|(q, v)| s.momentum(q, v))
            .collect(),
        _ => path.p.clone(),
    };
    let (label, values): (Option<&str>, Vec<Vec<f64>>) = match system {
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
                .map(|(_, g)| conserved_quantity(ld, *g, &path.q))
                .collect(),
        ),
    };
    let reached = path.q.len() / n;
    let scales: Vec<f64> = generators
        .iter()
        .map(|(_, g)| {
            let terms = path.q.chunks(n).zip(momenta.chunks(n)).map(|(q, p)| {
                let xi = g.at(q);
                norm2(&xi) * norm2(p)
            });
            terms.sum::<f64>() / reached as f64
        })
        .collect();
    InvariantSeries {
        label: label.filter(|_| !generators.is_empty()),
        values,
        scales,
    }
}

/// The series a phase's numbers are measured on.
struct Spans<'a> {
    n: usize,
    /// The rollout's positions, `reached` points.
    path: &'a [f64],
    /// The truth's positions.
    truth: &'a [f64],
    reached: usize,
    /// RMS deviation of the truth from its mean.
    scale: f64,
    energy: &'a EnergySeries,
    invariants: &'a InvariantSeries,
    /// Whether the invariants are per point (true momentum) rather than per
    /// pair (learned `Ld`).
    per_point: bool,
}

impl Spans<'_> {
    /// The numbers of one phase: its `points` of the truth and the `pairs`
    /// between them, cut to what the rollout reached.
    fn phase(&self, points: std::ops::Range<usize>, pairs: std::ops::Range<usize>) -> PhaseMetrics {
        let expected = points.len();
        let points = points.start..points.end.min(self.reached);
        let pairs = pairs.start..pairs.end.min(self.reached.saturating_sub(1));
        // Points 0 and 1 are the rollout's inputs, not its output.
        let err = rmse(
            self.n,
            self.path,
            self.truth,
            points.start.max(2)..points.end,
        );
        // The energy series may stop before the rollout does.
        let e_drift = (self.energy.values.as_ref())
            .and_then(|e| drift(e, points.start..points.end.min(e.len())));
        let span = if self.per_point {
            points.clone()
        } else {
            pairs.clone()
        };
        let s_drift: Vec<Option<f64>> = (self.invariants.values.iter())
            .map(|i| drift(i, span.clone()))
            .collect();
        let relative = |x: Option<f64>, s: f64| x.map(|x| x / s).filter(|_| s > 0.0);
        PhaseMetrics {
            points: points.len(),
            points_expected: expected,
            rmse: err,
            relative_rmse: relative(err, self.scale),
            energy_drift: e_drift,
            relative_energy_drift: relative(e_drift, self.energy.scale),
            relative_symmetry_drift: s_drift
                .iter()
                .zip(&self.invariants.scales)
                .map(|(d, s)| relative(*d, *s))
                .collect(),
            symmetry_drift: s_drift,
        }
    }
}

/// A rollout's Newton statistics as reported.
fn newton_summary(s: &RolloutStats) -> NewtonSummary {
    NewtonSummary {
        solves: s.steps,
        total_iterations: s.total_iterations,
        max_iterations: s.max_iterations,
        max_residual: s.max_residual,
    }
}

/// Euclidean norm.
fn norm2(x: &[f64]) -> f64 {
    x.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// A true generator's label, or its formula when it has none.
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
