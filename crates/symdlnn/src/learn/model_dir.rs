//! Model directories.
//!
//! A model is a directory with `weights.safetensors` (the network) and
//! `model.json` ([`ModelFile`]: method, dimension, step, architecture,
//! parametrisation, training configuration, seed, crate version, final
//! losses and `det J` diagnostics). Training also writes `history.csv` and,
//! with checkpoints, `checkpoint/` (a model directory plus the optimiser
//! state). Files are written to temporary names and renamed into place.
//!
//! Saving is atomic as a whole: the new weights (and any extra files) are
//! written in full beside the old ones as `NAME.new`, then `model.json`,
//! which records the weights' content hash (`weights_hash`), replaces the old
//! one (the commit), then the new files are renamed over the old. Loading
//! takes the weights whose hash `model.json` names (`weights.safetensors`,
//! or `weights.safetensors.new` after a save interrupted past its commit),
//! so an interrupted save leaves the old model or the new one, never a
//! mixture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{MethodKind, TrainConfig};
use super::det::DetStats;
use super::parametrisation::Parametrisation;
use super::trainer::{Snapshot, StepGuard};
use crate::data::io::write_atomic;
use crate::nn::{load_mlp, save_mlp, Activation, Adam, Mlp};

/// Version of the `model.json` layout this build writes and reads.
pub const FORMAT: u32 = 1;

/// The network's architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    /// Input width `d`.
    pub input: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// The hidden layers' activation.
    pub activation: Activation,
}

/// What the model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// The data file (as given to `train`).
    pub source: String,
    /// Number of trajectories.
    pub trajectories: usize,
    /// Number of position snapshots.
    pub samples: usize,
    /// The time step.
    pub dt: f64,
    /// [`crate::data::Dataset::content_hash`] of the data (absent in models
    /// written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Smallest training position per coordinate (empty in older models).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub q_min: Vec<f64>,
    /// Largest training position per coordinate (empty in older models).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub q_max: Vec<f64>,
}

/// The latent positions of a model trained on noisy observations, in a
/// model directory.
pub const DENOISED: &str = "denoised.csv";

/// The contents of `model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// The `model.json` layout version ([`FORMAT`]).
    pub format: u32,
    /// The crate version that wrote the file.
    pub symdlnn_version: String,
    /// What was learned.
    pub method: MethodKind,
    /// Dimension of `q`.
    pub n: usize,
    /// The time step `h` of `Ld`.
    pub h: f64,
    /// The network's shape.
    pub architecture: Architecture,
    /// How the network becomes `Ld`.
    pub parametrisation: Parametrisation,
    /// The configuration it was trained with.
    pub training: TrainConfig,
    /// The seed of the run.
    pub seed: u64,
    /// Epochs trained.
    pub epochs_done: usize,
    /// Sign of `det J` at initialisation (the robust barrier's side).
    pub sign0: f64,
    /// The loss and its terms after training.
    pub final_losses: BTreeMap<String, f64>,
    /// `det J` over all training pairs (DLNN).
    pub det_j: Option<DetStats>,
    /// Whether `det J` looks degenerate.
    pub near_degenerate: bool,
    /// What it was trained on.
    pub data: DataSummary,
    /// Wall time of training.
    pub training_seconds: f64,
    /// Discovered symmetries (SymDLNN).
    #[serde(default)]
    pub symmetries: Option<super::symmetry::Symmetries>,
    /// Training on noisy observations: the noise level and the residuals
    /// it left (absent for models trained without noise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<super::latent::NoiseRecord>,
}

/// Why a model directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    // The I/O error is part of the message, not a separate cause, so that a
    // chain of causes prints it once.
    #[error("{path}: {error}")]
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        error: std::io::Error,
    },
    #[error("{path}: {problem}")]
    /// A file's contents are inconsistent.
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    #[error(transparent)]
    /// A data file could not be read.
    Data(#[from] crate::data::DataError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |error| ModelError::Io {
        path: path.display().to_string(),
        error,
    }
}

fn invalid(path: &Path, problem: impl Into<String>) -> ModelError {
    ModelError::Invalid {
        path: path.display().to_string(),
        problem: problem.into(),
    }
}

/// The largest `model.json`, optimiser or history file read (bytes).
const MAX_SIDE_FILE: u64 = 1 << 30;

/// The bytes of `model.json` (with the weights' content hash,
/// `weights_hash`) and `weights.safetensors` ([`save`] writes them;
/// [`from_bytes`] reads them back).
pub fn to_bytes(model: &ModelFile, mlp: &Mlp) -> Result<(Vec<u8>, Vec<u8>), ModelError> {
    let here = Path::new("model");
    let weights = save_mlp(mlp).map_err(|e| invalid(here, e.to_string()))?;
    let mut value = serde_json::to_value(model).map_err(|e| invalid(here, e.to_string()))?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "weights_hash".into(),
            crate::sanity::content_hash(&weights).into(),
        );
    }
    let json = serde_json::to_vec_pretty(&value).map_err(|e| invalid(here, e.to_string()))?;
    Ok((json, weights))
}

/// Write `model.json` and `weights.safetensors` into `dir` (created if needed).
pub fn save(dir: &Path, model: &ModelFile, mlp: &Mlp) -> Result<(), ModelError> {
    save_with(dir, model, mlp, &[], None)
}

/// Where [`save_with`] stops when asked to (a fault-injection seam: the
/// state a kill at that moment leaves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveStage {
    /// The new weights and extra files are written beside the old ones.
    Pending,
    /// `model.json` is replaced (the commit); the new files keep their
    /// temporary names.
    Committed,
    /// The new weights are in place; the extra files not yet.
    WeightsRenamed,
}

/// [`save`] with `extras` (file name, contents) written as part of the same
/// atomic save; `stop_at` returns early at that stage as a kill would, for
/// tests.
pub fn save_with(
    dir: &Path,
    model: &ModelFile,
    mlp: &Mlp,
    extras: &[(&str, &[u8])],
    stop_at: Option<SaveStage>,
) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let (json, weights) = to_bytes(model, mlp).map_err(|e| match e {
        ModelError::Invalid { problem, .. } => invalid(dir, problem),
        e => e,
    })?;
    let mut files: Vec<(&str, &[u8])> = vec![("weights.safetensors", &weights)];
    files.extend_from_slice(extras);
    let pending = |name: &str| dir.join(format!("{name}.new"));
    let cleanup = || {
        for (name, _) in &files {
            let _ = std::fs::remove_file(pending(name));
        }
    };
    for (name, bytes) in &files {
        if let Err(e) = write_atomic(&pending(name), bytes) {
            cleanup();
            return Err(e.into());
        }
    }
    if stop_at == Some(SaveStage::Pending) {
        return Ok(());
    }
    if let Err(e) = write_atomic(&dir.join("model.json"), &json) {
        cleanup();
        return Err(e.into());
    }
    for (i, (name, _)) in files.iter().enumerate() {
        if stop_at == Some([SaveStage::Committed, SaveStage::WeightsRenamed][i.min(1)]) {
            return Ok(());
        }
        let target = dir.join(name);
        std::fs::rename(pending(name), &target).map_err(io(&target))?;
    }
    Ok(())
}

/// The weights of the model in `dir` whose `model.json` names the hash
/// `expected` (`None`: a model written before hashes, read as it is).
fn read_weights(dir: &Path, expected: Option<&str>) -> Result<Vec<u8>, ModelError> {
    let wpath = dir.join("weights.safetensors");
    let read = |p: &Path| crate::sanity::read_bounded(p, crate::sanity::max_file_bytes());
    let Some(expected) = expected else {
        return read(&wpath).map_err(io(&wpath));
    };
    let first = read(&wpath);
    if let Ok(b) = &first {
        if crate::sanity::content_hash(b) == expected {
            return first.map_err(io(&wpath));
        }
    }
    // A save interrupted after its commit: the new weights are pending.
    let pending = dir.join("weights.safetensors.new");
    if let Ok(b) = read(&pending) {
        if crate::sanity::content_hash(&b) == expected {
            return Ok(b);
        }
    }
    first.map_err(io(&wpath))?;
    Err(invalid(
        &wpath,
        "the weights do not match model.json (weights_hash): a save was interrupted or a file replaced",
    ))
}

/// Read a model directory.
pub fn load(dir: &Path) -> Result<(ModelFile, Mlp), ModelError> {
    let json_path = dir.join("model.json");
    if !dir.exists() {
        return Err(invalid(dir, "not a model directory (it does not exist)"));
    }
    if !dir.is_dir() {
        return Err(invalid(
            dir,
            "not a model directory (it is a file; a model is a directory with model.json)",
        ));
    }
    let text = crate::sanity::read_bounded(&json_path, MAX_SIDE_FILE).map_err(io(&json_path))?;
    let hash = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("weights_hash")
                .and_then(|h| h.as_str())
                .map(String::from)
        });
    let bytes = read_weights(dir, hash.as_deref())?;
    from_bytes(&text, &bytes, dir)
}

/// The denoised positions of a model trained with noise (`denoised.csv`),
/// `None` when the directory has none.
pub fn load_denoised(dir: &Path) -> Result<Option<crate::data::Dataset>, ModelError> {
    let path = dir.join(DENOISED);
    if !path.is_file() {
        return Ok(None);
    }
    Ok(Some(crate::data::io::read(&path, None)?))
}

/// A model from the bytes of its `model.json` and `weights.safetensors`,
/// with every check of [`load`] (the weights must match `weights_hash`
/// when the description has one); `dir` names the directory in errors.
pub fn from_bytes(json: &[u8], weights: &[u8], dir: &Path) -> Result<(ModelFile, Mlp), ModelError> {
    let json_path = dir.join("model.json");
    let value: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| invalid(&json_path, format!("not valid JSON: {e}")))?;
    match value.get("format").and_then(|f| f.as_u64()) {
        Some(f) if f == FORMAT as u64 => {}
        Some(f) if f > FORMAT as u64 => {
            return Err(invalid(
                &json_path,
                format!(
                    "model format {f} was written by a newer symdlnn; this is {} (format {FORMAT})",
                    env!("CARGO_PKG_VERSION")
                ),
            ))
        }
        Some(f) => {
            return Err(invalid(
                &json_path,
                format!("model format {f} is not supported (this build reads {FORMAT})"),
            ))
        }
        None => {
            return Err(invalid(
                &json_path,
                "no 'format' field: not a symdlnn model",
            ))
        }
    }
    let weights_hash = match value.get("weights_hash") {
        None => None,
        Some(h) => Some(
            h.as_str()
                .ok_or_else(|| invalid(&json_path, "weights_hash is not a string"))?
                .to_string(),
        ),
    };
    let model: ModelFile = serde_json::from_value(value)
        .map_err(|e| invalid(&json_path, format!("invalid model description: {e}")))?;
    let p = &model.parametrisation;
    p.check()
        .map_err(|e| invalid(&json_path, format!("invalid parametrisation: {e}")))?;
    check_step(&model, &json_path)?;
    if p.n != model.n || p.input_dim() != model.architecture.input {
        return Err(invalid(
            &json_path,
            format!(
                "the parametrisation (n = {}, {} network inputs) does not fit the model (n = {}, {} inputs)",
                p.n,
                p.input_dim(),
                model.n,
                model.architecture.input
            ),
        ));
    }
    if let Some(sym) = &model.symmetries {
        sym.check(model.n)
            .map_err(|e| invalid(&json_path, format!("invalid symmetries: {e}")))?;
    }
    let wpath = dir.join("weights.safetensors");
    if let Some(expected) = &weights_hash {
        if crate::sanity::content_hash(weights) != *expected {
            return Err(invalid(
                &wpath,
                "the weights do not match model.json (weights_hash): a save was interrupted or a file replaced",
            ));
        }
    }
    let a = &model.architecture;
    let mlp = load_mlp(weights, a.input, &a.hidden, a.activation)
        .map_err(|e| invalid(&wpath, e.to_string()))?;
    Ok((model, mlp))
}

/// The step `h` must be a positive number, the parametrisation's own
/// (`path` names the file in the error).
fn check_step(model: &ModelFile, path: &Path) -> Result<(), ModelError> {
    let (h, ph) = (model.h, model.parametrisation.h);
    if !(h.is_finite() && h > 0.0) {
        return Err(invalid(
            path,
            format!(
                "the step h must be a positive number, got {}",
                crate::sanity::num(h)
            ),
        ));
    }
    if (h - ph).abs() > 1e-9 * h {
        return Err(invalid(
            path,
            format!(
                "the step h = {} differs from the parametrisation's h = {}",
                crate::sanity::num(h),
                crate::sanity::num(ph)
            ),
        ));
    }
    Ok(())
}

/// The checkpoint directory inside a model directory.
pub fn checkpoint_dir(dir: &Path) -> PathBuf {
    dir.join("checkpoint")
}

/// Write a checkpoint: the model, the objective's own parameters (the
/// paper's symmetry coefficients), the optimiser state and the history so far.
/// Written beside the old checkpoint and renamed over it, so an interrupted
/// write keeps the last good one.
pub fn save_checkpoint(
    dir: &Path,
    model: &ModelFile,
    mlp: &Mlp,
    (own_params, adam, guard): (&[f64], &Adam, Option<&StepGuard>),
    best: Option<&KeptBest>,
    history_csv: &str,
) -> Result<(), ModelError> {
    let tmp = dir.join(format!(".checkpoint.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    save(&tmp, model, mlp)?;
    let st = save_optimizer(own_params, adam, guard).map_err(|e| invalid(&tmp, e))?;
    write_atomic(&tmp.join("optimizer.safetensors"), &st)?;
    if let Some(b) = best {
        let bytes = encode_f64(&b.tensors()).map_err(|e| invalid(&tmp, e))?;
        write_atomic(&tmp.join(BEST), &bytes)?;
    }
    write_atomic(&tmp.join("history.csv"), history_csv.as_bytes())?;
    let target = checkpoint_dir(dir);
    let old = dir.join(format!(".checkpoint.old{}", std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(io(&target))?;
    }
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// A checkpoint's contents.
pub struct Checkpoint {
    /// The model as at the checkpoint.
    pub model: ModelFile,
    /// The network as at the checkpoint.
    pub mlp: Mlp,
    /// The objective's own parameters (empty unless the paper's symmetry solver).
    pub own_params: Vec<f64>,
    /// The optimiser's state.
    pub adam: Adam,
    /// The step guard's state.
    pub guard: Option<StepGuard>,
    /// The loss history so far, as CSV.
    pub history_csv: String,
    /// The best model by validation so far (runs that validate).
    pub best: Option<KeptBest>,
}

/// The best model by validation that a checkpoint keeps, so that a resumed
/// run still chooses from every validation of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptBest {
    /// Epochs done at that validation.
    pub epoch: usize,
    /// Its held-out loss, DEL residual and rollout error.
    pub score: [f64; 3],
    /// Validations since it (for `--patience`).
    pub since: usize,
    /// Its network parameters.
    pub params: Vec<f64>,
    /// Its objective's own parameters.
    pub own: Vec<f64>,
}

/// The kept best model's file in a checkpoint.
const BEST: &str = "best.safetensors";

impl KeptBest {
    fn tensors(&self) -> Vec<(&'static str, Vec<f64>)> {
        let [loss, del, rollout] = self.score;
        vec![
            (
                "meta",
                vec![self.epoch as f64, loss, del, rollout, self.since as f64],
            ),
            ("params", self.params.clone()),
            ("own", self.own.clone()),
        ]
    }

    /// From a checkpoint's file, checked against the network's and the
    /// own parameters' sizes.
    fn from_bytes(bytes: &[u8], net: usize, own: usize) -> Result<Self, String> {
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
        let meta = read_f64(&st, "meta", 5)?;
        let count = |x: f64, what: &str| -> Result<usize, String> {
            (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 1e15)
                .then_some(x as usize)
                .ok_or_else(|| format!("meta: {what} {x} is not a count"))
        };
        Ok(Self {
            epoch: count(meta[0], "epoch")?,
            score: [meta[1], meta[2], meta[3]],
            since: count(meta[4], "validations since")?,
            params: read_f64(&st, "params", net)?,
            own: read_f64(&st, "own", own)?,
        })
    }
}

/// Named F64 vectors as safetensors bytes.
fn encode_f64(tensors: &[(&str, Vec<f64>)]) -> Result<Vec<u8>, String> {
    use safetensors::tensor::{Dtype, TensorView};
    let data: Vec<Vec<u8>> = (tensors.iter())
        .map(|(_, x)| x.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = (tensors.iter().zip(&data))
        .map(|((k, x), d)| {
            TensorView::new(Dtype::F64, vec![x.len()], d)
                .map(|t| (k.to_string(), t))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| e.to_string())
}

/// The F64 vector `k` of `len` values.
fn read_f64(st: &safetensors::SafeTensors, k: &str, len: usize) -> Result<Vec<f64>, String> {
    use safetensors::tensor::Dtype;
    let t = st.tensor(k).map_err(|e| format!("{k}: {e}"))?;
    if t.dtype() != Dtype::F64 || t.shape() != [len] || t.data().len() != 8 * len {
        return Err(format!(
            "{k}: expected F64 [{len}], found {:?} {:?}",
            t.dtype(),
            t.shape()
        ));
    }
    Ok(t.data()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// Read a checkpoint: model, network, optimiser state and history text.
pub fn load_checkpoint(dir: &Path) -> Result<Checkpoint, ModelError> {
    let cp = checkpoint_dir(dir);
    if !cp.is_dir() {
        return Err(invalid(
            dir,
            "no checkpoint to resume from (train with --checkpoint-every)",
        ));
    }
    let (model, mlp) = load(&cp)?;
    let opath = cp.join("optimizer.safetensors");
    let bytes =
        crate::sanity::read_bounded(&opath, crate::sanity::max_file_bytes()).map_err(io(&opath))?;
    let (own_params, adam, guard) =
        load_optimizer(&bytes, mlp.params().len(), model.training.step_guard)
            .map_err(|e| invalid(&opath, e))?;
    let hpath = cp.join("history.csv");
    let history_csv = crate::sanity::read_bounded(&hpath, MAX_SIDE_FILE)
        .map_err(io(&hpath))
        .and_then(|b| String::from_utf8(b).map_err(|_| invalid(&hpath, "not UTF-8 text")))?;
    let bpath = cp.join(BEST);
    let best = if bpath.is_file() {
        let bytes = crate::sanity::read_bounded(&bpath, crate::sanity::max_file_bytes())
            .map_err(io(&bpath))?;
        Some(
            KeptBest::from_bytes(&bytes, mlp.params().len(), own_params.len())
                .map_err(|e| invalid(&bpath, e))?,
        )
    } else {
        None
    };
    Ok(Checkpoint {
        model,
        mlp,
        own_params,
        adam,
        guard,
        history_csv,
        best,
    })
}

fn save_optimizer(
    own_params: &[f64],
    adam: &Adam,
    guard: Option<&StepGuard>,
) -> Result<Vec<u8>, String> {
    let mut tensors: Vec<(&str, Vec<f64>)> = vec![
        ("m", adam.m.clone()),
        ("v", adam.v.clone()),
        (
            "consts",
            vec![adam.beta1, adam.beta2, adam.eps, adam.t as f64],
        ),
    ];
    if !own_params.is_empty() {
        tensors.push(("own", own_params.to_vec()));
    }
    if let Some(g) = guard {
        tensors.push(("guard.state", vec![g.factor, g.rejected as f64]));
        if let Some(s) = &g.snapshot {
            tensors.push(("guard.params", [&s.params[..], &s.own[..]].concat()));
            tensors.push(("guard.grad", s.grad.clone()));
            tensors.push(("guard.m", s.adam.m.clone()));
            tensors.push(("guard.v", s.adam.v.clone()));
            tensors.push(("guard.consts", vec![s.adam.t as f64, s.lr, s.loss]));
        }
    }
    encode_f64(&tensors)
}

/// The optimiser file: the objective's own parameters, Adam and the step
/// guard; `net` is the network's parameter count (Adam covers both).
fn load_optimizer(
    bytes: &[u8],
    net: usize,
    guard: Option<f64>,
) -> Result<(Vec<f64>, Adam, Option<StepGuard>), String> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let get = |k: &str, len: usize| read_f64(&st, k, len);
    let own = match st.tensor("own") {
        Ok(t) => get("own", t.shape().first().copied().unwrap_or(0))?,
        Err(_) => vec![],
    };
    let n = net + own.len();
    let c = get("consts", 4)?;
    let adam = Adam {
        beta1: c[0],
        beta2: c[1],
        eps: c[2],
        t: c[3] as u64,
        m: get("m", n)?,
        v: get("v", n)?,
    };
    let guard = match guard {
        None => None,
        Some(max_increase) => {
            let state = get("guard.state", 2)?;
            let snapshot = if st.names().contains(&"guard.params") {
                let sc = get("guard.consts", 3)?;
                let mut params = get("guard.params", n)?;
                let own = params.split_off(net);
                Some(Snapshot {
                    params,
                    own,
                    grad: get("guard.grad", n)?,
                    adam: Adam {
                        t: sc[0] as u64,
                        m: get("guard.m", n)?,
                        v: get("guard.v", n)?,
                        ..adam.clone()
                    },
                    lr: sc[1],
                    loss: sc[2],
                })
            } else {
                None
            };
            Some(StepGuard {
                max_increase,
                factor: state[0],
                rejected: state[1] as usize,
                snapshot,
            })
        }
    };
    Ok((own, adam, guard))
}
