//! Evaluation: what a learned model recovers of the continuous system
//! (variational backward error analysis), and how well it recreates and
//! predicts observed trajectories.

pub mod evaluation;
pub mod experiment;
pub use crate::data::metrics;
pub mod range;
pub mod scaling;
pub mod start;
pub mod vbea;
pub mod zoo;

pub use evaluation::{
    evaluate, evaluate_from, EvalError, Evaluation, Metrics, NewtonSummary, PhaseMetrics, Tracked,
};
pub use vbea::{
    central_velocities, second_order_correction, InverseModifiedLagrangian, VbeaError,
    VbeaLagrangian,
};
