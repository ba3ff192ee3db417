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
    /// A discovered generator that the data do not identify (not built in).
    #[error("the discovered generator is not identified: the generators found on the two halves of the data agree only to {cosine:.4} (at least {needed} is needed); nothing was built in{kept}. More trajectories, angle coordinates declared as angles (--angles, angles=), time reversal (--time-reversible, time_reversible=True) or more evaluation pairs (--sym-points, sym_points=) would identify it")]
    NotIdentified {
        /// The least principal cosine between the halves' generators.
        cosine: f64,
        /// The least cosine that identifies them.
        needed: f64,
        /// Where the discovery model was kept (`" and the discovery model
        /// is in DIR"`), or empty when it was not.
        kept: String,
    },
    /// Generators that cannot be built in.
    #[error("cannot build in the symmetry: {0}")]
    BuiltIn(String),
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
