//! Learning discrete Lagrangians from positions.
//!
//! A run is described by a [`TrainConfig`] (what is learned: a [`Method`];
//! how: network, schedule, seed), checked once by
//! [`TrainConfig::validate`]. [`assemble`](trainer) builds its objective —
//! [`dlnn`] (the DLNN loss, the paper's recipe and the robust one), with
//! [`shaping`] for SymDLNN, or [`lnn`] — over a [`PairBatch`] that
//! evaluates `D1 Ld`, `D2 Ld` and `J` of a [`Parametrisation`] of the
//! network. [`Trainer`] runs Adam on any [`Objective`]; [`fit`] is a whole
//! run with checkpoints and the model directory ([`model_dir`]);
//! [`LearnedLd`] is a trained model as a
//! [`crate::mechanics::DiscreteLagrangian`]; [`symmetry`] discovers the
//! generators that leave it invariant.
//!
//! Imports run one way: settings ([`config`]) and helpers ([`det`],
//! [`objective`], [`parametrisation`](Parametrisation), [`symmetry`]) below
//! the objectives, the objectives below assembly, assembly below [`fit`].

mod assemble;
pub mod batches;
pub mod build_in;
pub mod centre;
pub mod config;
pub mod control;
mod curvature;
pub mod det;
pub mod dlnn;
mod error;
mod fit;
pub mod invariant;
pub mod latent;
mod learned;
pub mod lnn;
pub mod model_dir;
pub mod objective;
mod pairs;
mod parametrisation;
pub mod shaping;
pub mod symmetry;
mod trainer;
pub mod validation;

pub use assemble::{dlnn_trainer, trainer, AnyObjective};
pub use config::{
    check_generator_count, check_unwrapped, BuiltInConfig, CoefficientConfig, CoefficientInit,
    ConfigError, DlnnConfig, DlnnLoss, JacobianStride, LnnConfig, LnnData, Method, MethodKind,
    Recipe, ScheduleSpec, ShapingConfig, SymmetryConfig, TrainConfig,
};
pub use control::{default_epochs, BatchSize, Keep, TrainControl, DEFAULT_STEPS};
pub use det::DetStats;
pub use error::FitError;
pub use fit::{fit, train, FitOptions, Trained};
pub use learned::LearnedLd;
pub use objective::{LossReport, Objective};
pub use pairs::PairBatch;
pub use parametrisation::{check_angle_indices, InputMap, ParamError, Parametrisation};
pub use trainer::{EpochRecord, Snapshot, StepGuard, TrainError, Trainer};
pub use validation::ValidationScore;
