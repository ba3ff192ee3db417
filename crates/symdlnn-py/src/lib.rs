//! Python bindings of `symdlnn`: the extension module `symdlnn._core`.
//!
//! Nothing here computes: arrays become the library's row-major vectors,
//! keyword arguments its settings, its errors Python exceptions
//! (`ValueError` for what the caller can fix, `NewtonError` /
//! `NumericalError` for numerical failures, `OSError` for files). The GIL is
//! released while the library works. The Python layer
//! (`python/symdlnn/__init__.py`) wraps this module in estimator classes.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use symdlnn::data::{generate, DataError, Dataset, Trajectory};
use symdlnn::eval::{self, VbeaError, VbeaLagrangian};
use symdlnn::learn::model_dir::{self, ModelError};
use symdlnn::learn::symmetry::{
    agreement_of, conserved_quantity, discover_jointly, DiscoverySolver, EvaluationPoints,
    Generator, SymmetryBasis, SymmetryError,
};
use symdlnn::learn::{
    check_generator_count, check_unwrapped, train, BatchSize, CoefficientConfig, CoefficientInit,
    ConfigError, DlnnConfig, EpochRecord, FitError, JacobianStride, LearnedLd, LnnConfig, LnnData,
    Method, MethodKind, Recipe, ScheduleSpec, ShapingConfig, SymmetryConfig, TrainConfig, Trained,
};
use symdlnn::mechanics::{
    del_residuals, Convergence, Lagrangian, SolverError, System, TimeGrid, VariationalIntegrator,
};
use symdlnn::nn::Activation;

pyo3::create_exception!(
    _core,
    NumericalError,
    PyRuntimeError,
    "A numerical failure: training met a non-finite loss, a solve did not converge."
);
pyo3::create_exception!(
    _core,
    NewtonError,
    NumericalError,
    "Newton did not converge on the discrete Euler-Lagrange equations. Attributes: `step` (the failing step) and `points` (the (k, n) array of the points reached before it, or None)."
);

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn numerical(e: impl std::fmt::Display) -> PyErr {
    NumericalError::new_err(e.to_string())
}

/// A `NewtonError` with its step and the points reached (`k × n` row-major).
fn newton_error(py: Python<'_>, e: &SolverError, points: Option<(Vec<f64>, usize)>) -> PyErr {
    let step = match e {
        SolverError::NotConverged { step, .. } | SolverError::SingularJacobian { step } => {
            Some(*step)
        }
        SolverError::Dimension { .. } => return value_error(e),
        _ => None,
    };
    let err = NewtonError::new_err(e.to_string());
    let value = err.value(py);
    let _ = value.setattr("step", step);
    let points = points.and_then(|(q, n)| matrix(py, q, n).ok());
    let _ = value.setattr("points", points);
    err
}

fn solver_error(py: Python<'_>, e: &SolverError) -> PyErr {
    newton_error(py, e, None)
}

fn model_error(e: ModelError) -> PyErr {
    match e {
        ModelError::Io { .. } => PyOSError::new_err(e.to_string()),
        ModelError::Data(DataError::Io { .. }) => PyOSError::new_err(e.to_string()),
        _ => value_error(e),
    }
}

fn symmetry_error(e: SymmetryError) -> PyErr {
    match e {
        SymmetryError::Svd => numerical(format!("symmetry discovery: {e}")),
        e => value_error(format!("symmetry discovery: {e}")),
    }
}

fn fit_error(e: FitError) -> PyErr {
    match e {
        FitError::Train(_) | FitError::Stopped { .. } => numerical(e),
        FitError::Model(m) => model_error(m),
        FitError::Symmetry(s) => symmetry_error(s),
        e => value_error(e),
    }
}

fn vbea_error(py: Python<'_>, e: &VbeaError) -> PyErr {
    match e {
        VbeaError::Solver(s) => solver_error(py, s),
        e => numerical(e),
    }
}

/// A `(len / n, n)` float64 array.
fn matrix(py: Python<'_>, values: Vec<f64>, n: usize) -> PyResult<Py<PyAny>> {
    let rows = values.len().checked_div(n).unwrap_or(0);
    let a = PyArray1::from_vec(py, values).reshape([rows, n])?;
    Ok(a.into_any().unbind())
}

fn vector(py: Python<'_>, values: Vec<f64>) -> Py<PyAny> {
    PyArray1::from_vec(py, values).into_any().unbind()
}

/// The values of a C-contiguous `(T, n)` array, and `n`.
fn rows(a: &PyReadonlyArray2<'_, f64>, name: &str) -> PyResult<(Vec<f64>, usize)> {
    let n = a.shape()[1];
    let v = a
        .as_slice()
        .map_err(|_| value_error(format!("{name}: a C-contiguous float64 array is needed")))?;
    Ok((v.to_vec(), n))
}

fn slice(a: &PyReadonlyArray1<'_, f64>, name: &str) -> PyResult<Vec<f64>> {
    Ok(a.as_slice()
        .map_err(|_| value_error(format!("{name}: a contiguous float64 array is needed")))?
        .to_vec())
}

/// A dataset of positions from `(T_i, n)` arrays, checked by the library.
fn dataset(q: &[PyReadonlyArray2<'_, f64>], dt: f64, name: &str) -> PyResult<Dataset> {
    let n = q.first().map_or(0, |a| a.shape()[1]);
    let mut all = Vec::with_capacity(q.len());
    for (i, a) in q.iter().enumerate() {
        let (v, m) = rows(a, name)?;
        if m != n {
            return Err(value_error(format!(
                "{name}: trajectory {i} has dimension {m}, the first {n}"
            )));
        }
        all.push(v);
    }
    Dataset::from_positions(n, dt, all, name).map_err(value_error)
}

// ---------------------------------------------------------------- simulate

fn system(name: &str) -> PyResult<System> {
    System::from_name(name).map_err(value_error)
}

/// Ground truth of a built-in system (see `symdlnn.simulate`).
#[pyfunction]
#[pyo3(signature = (system, q0=None, v0=None, dt=None, steps=None, fine=None, trajectories=1, noise=0.0, seed=0))]
#[allow(clippy::too_many_arguments)]
fn simulate(
    py: Python<'_>,
    system: &str,
    q0: Option<PyReadonlyArray1<'_, f64>>,
    v0: Option<PyReadonlyArray1<'_, f64>>,
    dt: Option<f64>,
    steps: Option<usize>,
    fine: Option<usize>,
    trajectories: usize,
    noise: f64,
    seed: u64,
) -> PyResult<Py<PyDict>> {
    let s = self::system(system)?;
    let n = s.dim();
    let d = s.default_grid();
    let grid = TimeGrid {
        dt: dt.unwrap_or(d.dt),
        steps: steps.unwrap_or(d.steps),
        fine: fine.unwrap_or(d.fine),
    };
    if trajectories == 0 {
        return Err(value_error("trajectories must be at least 1"));
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(value_error(format!(
            "noise must be a number ≥ 0, got {noise}"
        )));
    }
    let given = q0.is_some() || v0.is_some();
    let ics = if trajectories > 1 {
        if given {
            return Err(value_error(
                "q0 and v0 give one trajectory; several are drawn from the system's box",
            ));
        }
        generate::sample_initial_conditions(&s.initial_box(), trajectories, seed)
    } else {
        let (dq, dv) = s.default_initial_condition();
        let q0 = q0.map(|a| slice(&a, "q0")).transpose()?.unwrap_or(dq);
        let v0 = v0.map(|a| slice(&a, "v0")).transpose()?.unwrap_or(dv);
        for (name, x) in [("q0", &q0), ("v0", &v0)] {
            if x.len() != n {
                return Err(value_error(format!(
                    "{name} has {} values; {} has dimension {n}",
                    x.len(),
                    s.name()
                )));
            }
        }
        vec![(q0, v0)]
    };
    let data = py.detach(|| -> Result<Dataset, generate::GenerateError> {
        let mut trajectories = Vec::with_capacity(ics.len());
        for (index, (q0, v0)) in ics.iter().enumerate() {
            let one = generate::trajectory(&s, q0, v0, grid, Convergence::default()).map_err(
                |e| match e {
                    generate::GenerateError::Solver(error) => {
                        generate::GenerateError::InTrajectory { index, error }
                    }
                    e => e,
                },
            )?;
            trajectories.push(one);
        }
        let mut data = Dataset {
            n,
            dt: grid.dt,
            trajectories,
        };
        generate::add_position_noise(&mut data, noise, seed)?;
        Ok(data)
    });
    let data = data.map_err(|e| match e {
        generate::GenerateError::Invalid(_) => value_error(e),
        e => numerical(e),
    })?;
    let m = data.trajectories.len();
    let t_len = data.trajectories[0].len();
    let gather = |f: &dyn Fn(&Trajectory) -> Vec<f64>| -> Vec<f64> {
        data.trajectories.iter().flat_map(f).collect()
    };
    let shape = |v: Vec<f64>| -> PyResult<Py<PyAny>> {
        let a = PyArray1::from_vec(py, v);
        Ok(if m == 1 {
            a.reshape([t_len, n])?.into_any().unbind()
        } else {
            a.reshape([m, t_len, n])?.into_any().unbind()
        })
    };
    let out = PyDict::new(py);
    let t = data.trajectories[0].t.clone();
    out.set_item("t", vector(py, t))?;
    out.set_item("q", shape(gather(&|t| t.q.clone()))?)?;
    let v = gather(&|t| t.v.clone().unwrap_or_default());
    let p = gather(&|t| t.p.clone().unwrap_or_default());
    out.set_item("v", shape(v)?)?;
    out.set_item("p", shape(p)?)?;
    out.set_item("dt", grid.dt)?;
    Ok(out.unbind())
}

/// The built-in systems as JSON (see `symdlnn.systems`).
#[pyfunction]
fn systems_json() -> PyResult<String> {
    let mut all = Vec::new();
    for name in System::NAMES {
        let s = system(name)?;
        let (q0, v0) = s.default_initial_condition();
        let g = s.default_grid();
        let symmetries: Vec<_> = (s.symmetries().iter())
            .map(|g| serde_json::json!({"label": g.label, "M": g.m, "w": g.w}))
            .collect();
        let parameters: std::collections::BTreeMap<_, _> = s.parameters().into_iter().collect();
        all.push(serde_json::json!({
            "name": s.name(), "dim": s.dim(), "description": s.description(),
            "coordinates": s.coordinate_names(),
            "parameters": parameters, "symmetries": symmetries,
            "default": {"q0": q0, "v0": v0, "dt": g.dt, "steps": g.steps, "fine": g.fine},
        }));
    }
    serde_json::to_string(&all).map_err(value_error)
}

// ---------------------------------------------------------------- settings

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| value_error(format!("{what}: {e}")))
}

/// The keyword arguments of the estimators, as the CLI's `train` flags.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Settings {
    hidden: Vec<usize>,
    #[pyo3(default)]
    epochs: Option<usize>,
    lr: f64,
    #[pyo3(default)]
    schedule: Option<String>,
    activation: String,
    seed: u64,
    #[pyo3(default)]
    threads: Option<usize>,
    #[pyo3(default)]
    recipe: Option<String>,
    #[pyo3(default)]
    angles: Option<Vec<usize>>,
    #[pyo3(default)]
    time_reversible: Option<bool>,
    #[pyo3(default)]
    kinetic_prior: Option<bool>,
    #[pyo3(default)]
    jacobian_every: Option<String>,
    #[pyo3(default)]
    degeneracy_weight: Option<f64>,
    #[pyo3(default)]
    degeneracy_power: Option<u32>,
    #[pyo3(default)]
    symmetries: Option<usize>,
    #[pyo3(default)]
    sym_basis: Option<String>,
    #[pyo3(default)]
    sym_solver: Option<String>,
    #[pyo3(default)]
    sym_points: Option<String>,
    #[pyo3(default)]
    sym_weight: Option<f64>,
    #[pyo3(default)]
    sym_warmup: Option<usize>,
    #[pyo3(default)]
    sym_init: Option<String>,
    #[pyo3(default)]
    sym_alpha: Option<f64>,
    #[pyo3(default)]
    sym_beta: Option<f64>,
    #[pyo3(default)]
    lnn_data: Option<String>,
    #[pyo3(default)]
    system: Option<String>,
    #[pyo3(default)]
    standardise: Option<bool>,
    #[pyo3(default)]
    noise: Option<String>,
    #[pyo3(default)]
    symmetry: Option<Vec<String>>,
    #[pyo3(default)]
    build_in: Option<bool>,
}

fn solver(name: &str) -> PyResult<DiscoverySolver> {
    match name {
        "variational" => Ok(DiscoverySolver::Variational),
        "nullspace" => Ok(DiscoverySolver::Nullspace),
        "paper" => Ok(DiscoverySolver::Paper),
        _ => Err(value_error(format!(
            "unknown solver '{name}' (variational, nullspace, paper)"
        ))),
    }
}

fn non_negative(x: f64, name: &str) -> PyResult<f64> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(value_error(format!("{name} must be a number ≥ 0, got {x}")))
    }
}

impl Settings {
    /// The configuration of `method` for `data` (every check of it is the
    /// library's `TrainConfig::validate`, when training).
    fn config(&self, method: &str, data: &Dataset) -> PyResult<TrainConfig> {
        let n = data.n;
        let kind = match method {
            "dlnn" => MethodKind::Dlnn,
            "symdlnn" => MethodKind::SymDlnn,
            "lnn" => MethodKind::Lnn,
            m => return Err(value_error(format!("unknown method '{m}'"))),
        };
        let epochs =
            (self.epochs).unwrap_or_else(|| kind.default_epochs(data.pairs(), BatchSize::Auto));
        let recipe = match self.recipe.as_deref().unwrap_or("robust") {
            "robust" => Recipe::Robust,
            "paper" => Recipe::Paper,
            r => return Err(value_error(format!("unknown recipe '{r}' (robust, paper)"))),
        };
        let method = match kind {
            MethodKind::Dlnn => Method::Dlnn(self.dlnn(recipe, n)?),
            MethodKind::SymDlnn => Method::SymDlnn {
                dlnn: self.dlnn(recipe, n)?,
                symmetry: self.symmetry(n, epochs)?,
            },
            MethodKind::Lnn => Method::Lnn(self.lnn()?),
        };
        let spec = match &self.schedule {
            Some(s) => parse::<ScheduleSpec>(s, "schedule")?,
            None => ScheduleSpec::default_for(recipe),
        };
        let base = match method {
            Method::Lnn(lnn) => TrainConfig::lnn(lnn, epochs),
            method => TrainConfig {
                method,
                ..TrainConfig::new(recipe, epochs)
            },
        };
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(value_error(format!(
                "lr must be a positive number, got {}",
                self.lr
            )));
        }
        let activation = Activation::from_name(&self.activation).ok_or_else(|| {
            value_error(format!(
                "unknown activation '{}' (softplus, tanh, sin, silu)",
                self.activation
            ))
        })?;
        Ok(TrainConfig {
            hidden: self.hidden.clone(),
            activation,
            schedule: spec.schedule(self.lr, epochs),
            seed: self.seed,
            threads: self.threads.unwrap_or(base.threads),
            ..base
        })
    }

    fn dlnn(&self, recipe: Recipe, n: usize) -> PyResult<DlnnConfig> {
        let mut d = DlnnConfig::new(recipe);
        d.loss.degeneracy_weight = self.degeneracy_weight.unwrap_or(1.0);
        d.loss.degeneracy_power = self.degeneracy_power.unwrap_or(1);
        if let Some(k) = &self.jacobian_every {
            d.loss.jacobian_every = parse::<JacobianStride>(k, "jacobian_every")?;
        }
        if let Some(k) = self.kinetic_prior {
            d.kinetic_prior = k;
        }
        d.time_reversible = self.time_reversible.unwrap_or(false);
        d.angles = self.angles.clone().unwrap_or_default();
        if let Some(s) = &self.noise {
            d.noise = parse::<symdlnn::data::NoiseSpec>(s, "noise")?;
        }
        d.built_in = self.built_in(n)?;
        Ok(d)
    }

    /// `symmetry=[…]`: declared symmetries built into `Ld` (the CLI's
    /// `--symmetry` specs but `from:MODEL`).
    fn built_in(&self, n: usize) -> PyResult<Option<symdlnn::learn::BuiltInConfig>> {
        let Some(specs) = self.symmetry.as_ref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let mut parsed = vec![];
        for spec in specs {
            let p = parse::<symdlnn::learn::invariant::SymmetrySpec>(spec, "symmetry")?;
            p.generators(n)
                .map_err(|e| value_error(format!("symmetry {spec}: {e}")))?;
            parsed.push(p);
        }
        let symmetry = symdlnn::learn::invariant::BuiltIn::from_declared(n, &parsed, &[])
            .map_err(|e| value_error(format!("symmetry: {e}")))?;
        Ok(Some(symdlnn::learn::BuiltInConfig {
            symmetry,
            source: "declared".into(),
        }))
    }

    fn lnn(&self) -> PyResult<LnnConfig> {
        let data = match self.lnn_data.as_deref().unwrap_or("positions") {
            "positions" => LnnData::Positions,
            "truth" => LnnData::Truth,
            "reference" => LnnData::Reference,
            d => {
                return Err(value_error(format!(
                    "unknown lnn_data '{d}' (positions, truth, reference)"
                )))
            }
        };
        Ok(LnnConfig {
            data,
            system: self.system.clone(),
            standardise: self.standardise.unwrap_or(true),
            kinetic_prior: self.kinetic_prior.unwrap_or(true),
        })
    }

    fn symmetry(&self, n: usize, epochs: usize) -> PyResult<SymmetryConfig> {
        let k = self.symmetries.unwrap_or(1);
        let solver = solver(self.sym_solver.as_deref().unwrap_or("variational"))?;
        let basis =
            parse::<SymmetryBasis>(self.sym_basis.as_deref().unwrap_or("affine"), "sym_basis")?;
        let points = parse::<EvaluationPoints>(
            self.sym_points.as_deref().unwrap_or("train+box:200"),
            "sym_points",
        )?;
        check_generator_count(basis, k, n).map_err(value_error)?;
        let paper = solver == DiscoverySolver::Paper;
        let weight = self.sym_weight.unwrap_or(if paper { 1.0 } else { 0.0 });
        non_negative(weight, "sym_weight")?;
        let shaping = (weight > 0.0).then(|| ShapingConfig {
            weight,
            warmup: self
                .sym_warmup
                .unwrap_or((epochs as f64 * 0.3).round() as usize),
        });
        let coefficients = if paper {
            let init: CoefficientInit =
                parse(self.sym_init.as_deref().unwrap_or("random"), "sym_init")?;
            let (init, init_name) = init.resolve(basis, k, n, self.seed).map_err(value_error)?;
            Some(CoefficientConfig {
                alpha: non_negative(self.sym_alpha.unwrap_or(1.0), "sym_alpha")?,
                beta: non_negative(self.sym_beta.unwrap_or(1.0), "sym_beta")?,
                init,
                init_name,
            })
        } else {
            for (given, name) in [
                (self.sym_init.is_some(), "sym_init"),
                (self.sym_alpha.is_some(), "sym_alpha"),
                (self.sym_beta.is_some(), "sym_beta"),
            ] {
                if given {
                    return Err(value_error(format!(
                        "{name} applies to sym_solver='paper' only"
                    )));
                }
            }
            None
        };
        Ok(SymmetryConfig {
            generators: k,
            basis,
            points,
            shaping,
            solver,
            coefficients,
            build_in: self.build_in.unwrap_or(false),
        })
    }
}

// ---------------------------------------------------------------- training

/// The losses of an epoch as a dict: `loss`, its terms, `lr`.
fn losses<'py>(py: Python<'py>, r: &EpochRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("loss", r.report.total)?;
    for (k, v) in &r.report.terms {
        d.set_item(*k, *v)?;
    }
    d.set_item("lr", r.lr)?;
    Ok(d)
}

/// Train `method` on positions `q` with step `dt` (see the estimators'
/// `fit`). Returns the model and the exception that stopped it early
/// (KeyboardInterrupt, or one raised by a callback), or None.
#[pyfunction]
#[pyo3(signature = (method, q, dt, settings, callback=None, progress=None, source="python"))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    method: &str,
    q: Vec<PyReadonlyArray2<'_, f64>>,
    dt: f64,
    settings: Settings,
    callback: Option<Py<PyAny>>,
    progress: Option<Py<PyAny>>,
    source: &str,
) -> PyResult<(Model, Option<PyErr>)> {
    let data = dataset(&q, dt, "q")?;
    drop(q);
    let config = settings.config(method, &data)?;
    // A two-stage (build_in) run counts its second stage's epochs on.
    let stages = if config.method.builds_in() { 2 } else { 1 };
    let total = stages * config.epochs;
    if let Some(p) = &progress {
        p.call_method1(py, "start", (total,))?;
    }
    config.validate(&data).map_err(value_error)?;
    const TICK: Duration = Duration::from_millis(100);
    let mut stop: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut last = Instant::now();
        let (mut offset, mut previous) = (0, 0);
        let mut on_epoch = |record: &EpochRecord| -> ControlFlow<()> {
            if record.epoch < previous {
                offset += previous + 1;
            }
            previous = record.epoch;
            let r = &EpochRecord {
                epoch: offset + record.epoch,
                ..record.clone()
            };
            let tick = last.elapsed() >= TICK;
            let last_epoch = r.epoch + 1 == total;
            if callback.is_none() && !tick && !last_epoch {
                return ControlFlow::Continue(());
            }
            Python::attach(|py| {
                let mut flow = ControlFlow::Continue(());
                if let Some(cb) = &callback {
                    let args = losses(py, r).map(|l| (r.epoch, l));
                    match args.and_then(|a| cb.call1(py, a)) {
                        Ok(v) => {
                            if v.bind(py).is(pyo3::types::PyBool::new(py, false)) {
                                flow = ControlFlow::Break(());
                            }
                        }
                        Err(e) => {
                            stop = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                }
                if tick || last_epoch {
                    last = Instant::now();
                    if let Some(p) = &progress {
                        let args = losses(py, r).map(|l| (r.epoch + 1, l));
                        if let Err(e) = args.and_then(|a| p.call1(py, a)) {
                            stop = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                    if let Err(e) = py.check_signals() {
                        stop = Some(e);
                        return ControlFlow::Break(());
                    }
                }
                flow
            })
        };
        train(&config, &data, source, &mut on_epoch)
    });
    let trained = result.map_err(fit_error)?;
    Ok((Model::new(trained, Some(data)), stop))
}

// ---------------------------------------------------------------- models

/// What a model holds: the trained model and the learned `Ld`.
struct Inner {
    trained: Trained,
    ld: LearnedLd,
    data: Option<Dataset>,
}

/// A trained model: `model.json`, the network, the history (and the
/// training data, after `fit`).
#[pyclass(module = "symdlnn._core", frozen)]
struct Model {
    inner: Arc<Inner>,
}

impl Model {
    fn new(trained: Trained, data: Option<Dataset>) -> Self {
        let ld = LearnedLd::new(trained.mlp.clone(), trained.model.parametrisation.clone());
        Self {
            inner: Arc::new(Inner { trained, ld, data }),
        }
    }

    fn n(&self) -> usize {
        self.inner.trained.model.n
    }

    /// `(T, n)` positions of this model's dimension.
    fn path(&self, q: &PyReadonlyArray2<'_, f64>, name: &str) -> PyResult<Vec<f64>> {
        let (v, n) = rows(q, name)?;
        if n != self.n() {
            return Err(value_error(format!(
                "{name} has dimension {n}; the model has dimension {}",
                self.n()
            )));
        }
        Ok(v)
    }

    fn point(&self, q: &PyReadonlyArray1<'_, f64>, name: &str) -> PyResult<Vec<f64>> {
        let v = slice(q, name)?;
        if v.len() != self.n() {
            return Err(value_error(format!(
                "{name} has {} values; the model has dimension {}",
                v.len(),
                self.n()
            )));
        }
        Ok(v)
    }

    fn refuse_lnn(&self, what: &str) -> PyResult<()> {
        if self.inner.trained.model.method == MethodKind::Lnn {
            return Err(value_error(format!(
                "an LNN has no discrete Lagrangian to {what} (use DLNN or SymDLNN)"
            )));
        }
        Ok(())
    }
}

#[pymethods]
impl Model {
    /// A model from the bytes of `model.json`, `weights.safetensors` and
    /// `history.csv` (checked as `load` checks a directory).
    #[staticmethod]
    #[pyo3(signature = (json, weights, history, denoised=None))]
    fn from_bytes(
        json: &[u8],
        weights: &[u8],
        history: &str,
        denoised: Option<&str>,
    ) -> PyResult<Self> {
        let (model, mlp) =
            model_dir::from_bytes(json, weights, Path::new("<bytes>")).map_err(model_error)?;
        let denoised = denoised
            .map(|text| symdlnn::data::io::parse_csv(Path::new("<denoised>"), text.as_bytes()))
            .transpose()
            .map_err(value_error)?;
        Ok(Self::new(
            Trained {
                model,
                mlp,
                history_csv: history.to_string(),
                denoised,
            },
            None,
        ))
    }

    /// The bytes of `model.json`, `weights.safetensors`, `history.csv` and
    /// (a model trained with noise) `denoised.csv`.
    #[allow(clippy::type_complexity)]
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(
        Bound<'py, pyo3::types::PyBytes>,
        Bound<'py, pyo3::types::PyBytes>,
        String,
        Option<String>,
    )> {
        let t = &self.inner.trained;
        let (json, weights) = model_dir::to_bytes(&t.model, &t.mlp).map_err(model_error)?;
        let denoised = (t.denoised.as_ref())
            .map(|d| String::from_utf8_lossy(&symdlnn::data::io::csv_bytes(d)).into_owned());
        Ok((
            pyo3::types::PyBytes::new(py, &json),
            pyo3::types::PyBytes::new(py, &weights),
            t.history_csv.clone(),
            denoised,
        ))
    }

    /// Read a model directory (as written by `symdlnn train` or `save`).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let (model, mlp) = model_dir::load(&path).map_err(model_error)?;
        let history = std::fs::read_to_string(path.join("history.csv")).unwrap_or_default();
        let denoised = model_dir::load_denoised(&path).map_err(model_error)?;
        Ok(Self::new(
            Trained {
                model,
                mlp,
                history_csv: history,
                denoised,
            },
            None,
        ))
    }

    /// Write the model directory `path`.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.trained.save(&path))
            .map_err(model_error)
    }

    /// The symmetries built into the model's `Ld`, as `affine:M;w` specs
    /// (the estimators' `symmetry=`; they project back on the same types).
    fn built_in_specs(&self) -> Vec<String> {
        use symdlnn::learn::invariant::SymmetrySpec;
        (self.inner.trained.model.parametrisation.built_in())
            .map(|b| b.generators())
            .unwrap_or_default()
            .into_iter()
            .map(|g| SymmetrySpec::Affine { m: g.m, w: g.w }.to_string())
            .collect()
    }

    /// `model.json` as JSON text.
    fn info_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.trained.model).map_err(value_error)
    }

    /// The denoised positions of a model trained with noise, one `(T_i, n)`
    /// array per training trajectory (`None` without).
    fn denoised(&self, py: Python<'_>) -> PyResult<Option<Vec<Py<PyAny>>>> {
        let Some(d) = &self.inner.trained.denoised else {
            return Ok(None);
        };
        (d.trajectories.iter())
            .map(|t| matrix(py, t.q.clone(), d.n))
            .collect::<PyResult<Vec<_>>>()
            .map(Some)
    }

    /// `history.csv`'s text.
    #[getter]
    fn history_csv(&self) -> String {
        self.inner.trained.history_csv.clone()
    }

    /// Roll out from `(q0, q1)` or from the state `(q0, v0)`: `(steps + 1, n)`.
    #[pyo3(signature = (q0, q1, v0, steps))]
    fn predict(
        &self,
        py: Python<'_>,
        q0: PyReadonlyArray1<'_, f64>,
        q1: Option<PyReadonlyArray1<'_, f64>>,
        v0: Option<PyReadonlyArray1<'_, f64>>,
        steps: usize,
    ) -> PyResult<Py<PyAny>> {
        if steps < 1 {
            return Err(value_error("steps must be at least 1"));
        }
        let n = self.n();
        let q0 = self.point(&q0, "q0")?;
        let ld = &self.inner.ld;
        match (q1, v0) {
            (Some(q1), None) => {
                let q1 = self.point(&q1, "q1")?;
                let (path, failure) = py
                    .detach(|| {
                        VariationalIntegrator::new(ld, Convergence::default())
                            .rollout_positions_until_failure(&q0, &q1, steps - 1)
                    })
                    .map_err(value_error)?;
                match failure {
                    None => matrix(py, path.q, n),
                    Some(e) => Err(newton_error(py, &e, Some((path.q, n)))),
                }
            }
            (None, Some(v0)) => {
                let v0 = self.point(&v0, "v0")?;
                let vbea = VbeaLagrangian::new(ld);
                let roll = |k: usize| vbea.rollout_from_state(&q0, &v0, k, Convergence::default());
                match py.detach(|| roll(steps)) {
                    Ok(path) => matrix(py, path.q, n),
                    Err(VbeaError::Solver(e)) => {
                        // The points before the failing step: the same
                        // rollout, that many steps.
                        let reached = match e {
                            SolverError::NotConverged { step, .. }
                            | SolverError::SingularJacobian { step } => {
                                py.detach(|| roll(step)).ok().map(|p| (p.q, n))
                            }
                            _ => None,
                        };
                        Err(newton_error(py, &e, reached))
                    }
                    Err(e) => Err(vbea_error(py, &e)),
                }
            }
            _ => Err(value_error("give q1 or v0 (one of them)")),
        }
    }

    /// `H_VBEA(q_k, v_k)` at each point: `(T,)`.
    fn energy(
        &self,
        py: Python<'_>,
        q: PyReadonlyArray2<'_, f64>,
        v: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Py<PyAny>> {
        let q = self.path(&q, "q")?;
        let v = self.path(&v, "v")?;
        if q.len() != v.len() {
            return Err(value_error(format!(
                "q has {} points, v {}",
                q.len() / self.n(),
                v.len() / self.n()
            )));
        }
        let e = py.detach(|| VbeaLagrangian::new(&self.inner.ld).energies(&q, &v));
        Ok(vector(py, e))
    }

    /// The DEL residuals along positions `q`: `(T − 2, n)`.
    fn del_residual(&self, py: Python<'_>, q: PyReadonlyArray2<'_, f64>) -> PyResult<Py<PyAny>> {
        let q = self.path(&q, "q")?;
        if q.len() < 3 * self.n() {
            return Err(value_error(format!(
                "q has {} point(s): DEL residuals need at least 3",
                q.len() / self.n()
            )));
        }
        let r = py.detach(|| del_residuals(&self.inner.ld, &q));
        matrix(py, r, self.n())
    }

    /// Discover `k` generators on the positions `q` (default: the training
    /// data) with step `dt` (default: the model's).
    #[pyo3(signature = (k, basis, solver, points, seed, q))]
    #[allow(clippy::too_many_arguments)]
    fn discover(
        &self,
        py: Python<'_>,
        k: usize,
        basis: &str,
        solver: &str,
        points: &str,
        seed: Option<u64>,
        q: Option<Vec<PyReadonlyArray2<'_, f64>>>,
    ) -> PyResult<Vec<PyGenerator>> {
        self.refuse_lnn("find symmetries of")?;
        let model = &self.inner.trained.model;
        let given;
        let data = match (&q, &self.inner.data) {
            (Some(q), _) => {
                given = dataset(q, model.h, "q")?;
                if given.n != model.n {
                    return Err(value_error(format!(
                        "q has dimension {}; the model has dimension {}",
                        given.n, model.n
                    )));
                }
                &given
            }
            (None, Some(d)) => d,
            (None, None) => {
                return Err(value_error(
                    "this model was loaded, not fitted: give the trajectories q to discover on",
                ))
            }
        };
        check_unwrapped(model.parametrisation.angles(), data).map_err(value_error)?;
        let basis = parse::<SymmetryBasis>(basis, "basis")?;
        let points = parse::<EvaluationPoints>(points, "points")?;
        check_generator_count(basis, k, model.n).map_err(|e: ConfigError| value_error(e))?;
        let solver = self::solver(solver)?;
        if solver == DiscoverySolver::Paper {
            return Err(value_error(
                "the paper's solver trains its coefficients with the network: use SymDLNN(sym_solver='paper')",
            ));
        }
        let seed = seed.unwrap_or(model.seed);
        let ld = &self.inner.ld;
        let found = py
            .detach(|| {
                let pairs = points.pairs(data, seed);
                discover_jointly(&[ld], solver, basis, k, data, &pairs)
            })
            .map_err(symmetry_error)?;
        let sym = found.alone.into_iter().next().expect("one model");
        Ok(sym
            .generators
            .into_iter()
            .map(|g| PyGenerator {
                g,
                owner: self.inner.clone(),
                gap: sym.gap,
            })
            .collect())
    }

    /// The generators stored with a SymDLNN model (found when it trained).
    fn stored_generators(&self) -> Vec<PyGenerator> {
        let Some(sym) = &self.inner.trained.model.symmetries else {
            return vec![];
        };
        (sym.generators.iter())
            .map(|g| PyGenerator {
                g: g.clone(),
                owner: self.inner.clone(),
                gap: sym.gap,
            })
            .collect()
    }

    /// The CLI's `evaluate` metrics against the positions `q_truth`, as JSON.
    #[pyo3(signature = (q_truth, train_steps, system=None, generators="auto"))]
    fn evaluate_json(
        &self,
        py: Python<'_>,
        q_truth: PyReadonlyArray2<'_, f64>,
        train_steps: usize,
        system: Option<&str>,
        generators: &str,
    ) -> PyResult<String> {
        let model = &self.inner.trained.model;
        let truth = dataset(&[q_truth], model.h, "q_truth")?;
        if truth.n != model.n {
            return Err(value_error(format!(
                "q_truth has dimension {}; the model has dimension {}",
                truth.n, model.n
            )));
        }
        let system = system.map(self::system).transpose()?;
        let tracked = match generators {
            "auto" => eval::Tracked::Auto,
            "true" => eval::Tracked::True,
            "learned" => eval::Tracked::Learned,
            g => {
                return Err(value_error(format!(
                    "unknown generators '{g}' (auto, true, learned)"
                )))
            }
        };
        let mlp = &self.inner.trained.mlp;
        let e = py
            .detach(|| {
                eval::evaluate(
                    model,
                    mlp,
                    &truth.trajectories[0],
                    train_steps,
                    system.as_ref(),
                    tracked,
                )
            })
            .map_err(value_error)?;
        serde_json::to_string(&e.metrics).map_err(value_error)
    }
}

/// A discovered generator `ξ(q)` of a model (see `symdlnn.Generator`).
#[pyclass(name = "Generator", module = "symdlnn._core", frozen)]
struct PyGenerator {
    g: Generator,
    owner: Arc<Inner>,
    gap: Option<f64>,
}

#[pymethods]
impl PyGenerator {
    /// `M` of the affine part `M q + w`: `(n, n)`.
    #[getter(M)]
    fn m(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        matrix(py, self.g.m.clone(), self.g.w.len())
    }

    /// `w` of the affine part: `(n,)`.
    #[getter]
    fn w(&self, py: Python<'_>) -> Py<PyAny> {
        vector(py, self.g.w.clone())
    }

    /// Coefficients in the basis (unit norm).
    #[getter]
    fn coefficients(&self, py: Python<'_>) -> Py<PyAny> {
        vector(py, self.g.coefficients.clone())
    }

    /// The basis, e.g. `affine`.
    #[getter]
    fn basis(&self) -> String {
        self.g.basis.to_string()
    }

    /// What it looks like (`rotation`, `translation`, …).
    #[getter]
    fn description(&self) -> String {
        self.g.description.clone()
    }

    /// Its normalised singular value (small: a good symmetry).
    #[getter]
    fn singular_value(&self) -> f64 {
        self.g.singular_value
    }

    /// The identifiability gap `σ_{K+1}/σ_K` of the discovery (None when
    /// `K` is the whole basis).
    #[getter]
    fn gap(&self) -> Option<f64> {
        self.gap
    }

    /// Agreement with a built-in system's symmetries: `|cos|` against one,
    /// principal angles in degrees against several.
    fn agreement(&self, truth: &str) -> PyResult<Vec<f64>> {
        let s = system(truth)?;
        if s.dim() != self.g.w.len() {
            return Err(value_error(format!(
                "the system '{truth}' has dimension {}, the generator {}",
                s.dim(),
                self.g.w.len()
            )));
        }
        let truth = s.symmetries();
        if truth.is_empty() {
            return Err(value_error(format!(
                "the system '{}' has no symmetry",
                s.name()
            )));
        }
        Ok(agreement_of(std::slice::from_ref(&self.g), &truth))
    }

    /// The discrete Noether quantity `−ξ(q_k)·D1 Ld(q_k, q_{k+1})` along
    /// positions `q` `(T, n)`: `(T − 1,)`.
    fn conserved(&self, py: Python<'_>, q: PyReadonlyArray2<'_, f64>) -> PyResult<Py<PyAny>> {
        let (v, n) = rows(&q, "q")?;
        let dim = self.owner.trained.model.n;
        if n != dim {
            return Err(value_error(format!(
                "q has dimension {n}; the model has dimension {dim}"
            )));
        }
        if v.len() < 2 * n {
            return Err(value_error("q needs at least 2 points"));
        }
        let ld = &self.owner.ld;
        let i = py.detach(|| conserved_quantity(ld, &self.g, &v));
        Ok(vector(py, i))
    }

    fn __repr__(&self) -> String {
        format!(
            "Generator({}, singular value {:.3e})",
            self.g.description, self.g.singular_value
        )
    }
}

/// The extension module `symdlnn._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(systems_json, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_class::<Model>()?;
    m.add_class::<PyGenerator>()?;
    m.add("NumericalError", m.py().get_type::<NumericalError>())?;
    m.add("NewtonError", m.py().get_type::<NewtonError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
