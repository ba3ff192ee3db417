//! Neural networks: the MLP, its activations, the batched derivative engine
//! and the optimiser.

mod activation;
mod adam;
mod engine;
mod kernels;
mod mlp;
mod pool;
mod safetensors_io;

pub use activation::Activation;
pub use adam::{Adam, Schedule};
pub use engine::{Engine, Jets};
pub use mlp::{Mlp, BIAS_INIT_STD};
pub use safetensors_io::{load_mlp, save_mlp};

/// Errors of network construction and (de)serialisation.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// Inconsistent shapes or sizes.
    #[error("network shape: {0}")]
    Shape(String),
    /// A weights file that cannot be read.
    #[error("weights file: {0}")]
    Weights(String),
}
