//! Exact variational mechanics: continuous Lagrangians, the shipped systems,
//! discrete Lagrangians, the variational integrator and the fitting of a
//! rollout's start to observations. No learning here;
//! learned models implement the same [`DiscreteLagrangian`] trait.

mod discrete;
mod integrator;
mod lagrangian;
mod start;
mod systems;
pub mod zoo;

pub use discrete::{
    del_residuals, DiscreteLagrangian, GenericDiscreteLagrangian, Midpoint, PairDerivatives,
};
pub use integrator::{Convergence, NewtonStats, PhasePath, RolloutStats, VariationalIntegrator};
pub use lagrangian::{
    gradient, second_derivative_block, solve_dense, Lagrangian, LagrangianDerivatives,
    LagrangianJet, Scalar,
};
pub use start::{fit_start, FitStop, FittedStart, StartError};
pub use systems::{
    AffineGenerator, CartPendulum, DoublePendulum, FreeParticle, HarmonicOscillator, InitialBox,
    IsotropicOscillator, Kepler, Kepler3d, System, TimeGrid, UnknownSystem, VectorField,
};
pub use zoo::ZooSystem;

/// Failure of a Newton solve or linear solve in the mechanics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolverError {
    /// Newton did not reach the tolerance (or produced a non-finite residual).
    #[error("Newton did not converge at step {step}: residual {residual:.3e} after {iterations} iterations")]
    NotConverged {
        /// Index of the step that failed.
        step: usize,
        /// Last residual `|F|∞`.
        residual: f64,
        /// Newton updates taken.
        iterations: usize,
    },
    /// The inverse Legendre map `∂L/∂q̇(q, q̇) = p` found no `q̇`.
    #[error("inverse Legendre map did not converge: residual {residual:.3e} after {iterations} iterations")]
    LegendreNotConverged {
        /// Last residual `|∂L/∂q̇ − p|∞`.
        residual: f64,
        /// Newton updates taken.
        iterations: usize,
    },
    /// The Newton Jacobian `∂(D1 Ld)/∂q1` was singular or not finite.
    #[error("singular or non-finite Newton Jacobian ∂(D1 Ld)/∂q1 at step {step}")]
    SingularJacobian {
        /// Index of the step that failed.
        step: usize,
    },
    /// A matrix that must be inverted was singular or not finite.
    #[error("singular or non-finite {what}")]
    SingularMatrix {
        /// Which matrix, for the message.
        what: &'static str,
    },
    /// A converged step whose position or momentum is not finite.
    #[error(
        "the rollout left the finite numbers at step {step} (a position or momentum overflowed)"
    )]
    Overflow {
        /// Index of the step.
        step: usize,
    },
    /// A rollout too long for memory (or whose size overflows).
    #[error("{0}")]
    TooLarge(#[from] crate::sanity::SizeError),
    /// An input vector had the wrong length.
    #[error("dimension mismatch: expected {expected} coordinates, got {found}")]
    Dimension {
        /// The configuration dimension `n`.
        expected: usize,
        /// The length that was passed.
        found: usize,
    },
}
