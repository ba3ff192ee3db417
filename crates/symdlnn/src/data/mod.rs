//! Trajectories: the data that training reads and evaluation compares with.
//!
//! * [`Trajectory`] / [`Dataset`]: uniformly sampled positions `q_k ∈ R^n`,
//!   `t_k = t_0 + k Δt`, optionally with velocities and momenta; a dataset is
//!   several trajectories of one system with one step.
//! * [`generate`]: the paper's ground-truth protocol (fine midpoint variational
//!   integrator in position–momentum form, keep every k-th point), random
//!   initial conditions from a documented box, Gaussian position noise.
//! * [`io`]: CSV and NPY files, refusing bad input with the file, the line or
//!   index and the problem.
//! * [`noise`]: the white-noise σ of each coordinate estimated from the
//!   positions (or none measurable), and the user's noise setting.

mod collection;
pub mod generate;
pub mod io;
pub mod metrics;
pub mod noise;
mod trajectory;

pub use collection::{expand, read_all};
pub use noise::{estimate_noise, NoiseError, NoiseEstimate, NoiseSpec};

pub use trajectory::{Dataset, Trajectory};

/// Refusal of a trajectory file or of data unfit for use.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read or written.
    // The I/O error is part of the message, not a separate cause, so that a
    // chain of causes prints it once.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A problem at a line of a CSV file.
    #[error("{path}: line {line}: {problem}")]
    Line {
        /// The file.
        path: String,
        /// The 1-based line (0 when the reader could not tell).
        line: u64,
        /// What is wrong there.
        problem: String,
    },
    /// A problem with the file as a whole (header, format, shape, dtype).
    #[error("{path}: {problem}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A problem with one trajectory (index counts from 0 in file order).
    #[error("{path}: trajectory {index}: {problem}")]
    Trajectory {
        /// The file.
        path: String,
        /// Index of the trajectory, from 0 in file order.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The data's dimension does not match what is required (e.g. a model's).
    #[error("{path}: the data have dimension {found}, expected {expected}")]
    Dimension {
        /// The file (or other source) of the data.
        path: String,
        /// The dimension required.
        expected: usize,
        /// The data's dimension.
        found: usize,
    },
}
