//! Learning discrete Lagrangians from positions.
//!
//! [`Parametrisation`] turns a network into `Ld`; [`PairBatch`] evaluates
//! `D1 Ld`, `D2 Ld` and `J` at many pairs and back-propagates through them;
//! [`dlnn`] is the DLNN loss (the paper's recipe and the robust one);
//! [`Trainer`] runs Adam with checkpoints; [`LearnedLd`] is a trained model
//! as a [`crate::mechanics::DiscreteLagrangian`]; [`model_dir`] saves and
//! loads models.

pub mod dlnn;
mod fit;
mod learned;
pub mod lnn;
pub mod model_dir;
mod pairs;
mod parametrisation;
pub mod shaping;
pub mod symmetry;
mod trainer;

pub use fit::{fit, trainer, AnyObjective, FitError, FitOptions};
pub use learned::LearnedLd;
pub use pairs::PairBatch;
pub use parametrisation::{InputMap, Parametrisation};
pub use trainer::{
    check_angles, dlnn_trainer, EpochRecord, LnnConfig, LossReport, Objective, Snapshot, StepGuard,
    SymmetryConfig, TrainConfig, TrainError, Trainer,
};
