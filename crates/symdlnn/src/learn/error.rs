//! The error of a training run, wrapping each stage's own.

use super::config::ConfigError;
use super::lnn::LnnError;
use super::model_dir::ModelError;
use super::symmetry::SymmetryError;
use super::trainer::TrainError;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The configuration cannot train on the data.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Training failed (a network error).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A model directory could not be read or written.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Symmetry discovery after training failed.
    #[error("symmetry discovery: {0}")]
    Symmetry(#[from] SymmetryError),
    /// The LNN's samples could not be built.
    #[error(transparent)]
    Lnn(#[from] LnnError),
    /// An unknown system name.
    #[error("unknown system: {0}")]
    System(#[from] crate::mechanics::UnknownSystem),
    /// `--out` is a non-empty directory that is not a model directory.
    #[error("{0}: exists and holds files but no model: give an empty or new directory, or --force to write into it")]
    NotAModelDirectory(String),
    /// A checkpoint that does not belong to this run.
    #[error("cannot resume: {0}")]
    Resume(String),
    /// Training stopped (e.g. a non-finite loss); the last checkpoint is intact.
    #[error("{error}; {}", match checkpoint { Some(e) => format!("the last good checkpoint (epoch {e}) is in {dir}"), None => "no checkpoint was written".to_string() })]
    Stopped {
        /// Why.
        error: TrainError,
        /// The epoch of the last checkpoint written, if any.
        checkpoint: Option<usize>,
        /// The checkpoint directory.
        dir: String,
    },
}
