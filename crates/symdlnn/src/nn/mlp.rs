//! The multilayer perceptron `R^d → R`.
//!
//! `z_l = W_l h_{l−1} + b_l`, `h_l = σ(z_l)` for the hidden layers, output
//! `f = W_L h_{L−1} + b_L` (linear). All parameters live in one flat vector
//! (for each layer `W_l` row-major `out × in`, then `b_l`), which is what the
//! optimiser and the gradient buffers see. Weights are Glorot-normal, biases
//! `N(0, σ²)` with `σ =` [`BIAS_INIT_STD`], drawn from a ChaCha8 seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::activation::Activation;
use super::NnError;
use crate::mechanics::Scalar;

/// Standard deviation of the initial biases.
pub const BIAS_INIT_STD: f64 = 1e-2;

/// A fully connected network with one scalar output.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// Layer widths `[d, h1, …, hk, 1]`.
    widths: Vec<usize>,
    activation: Activation,
    params: Vec<f64>,
    /// Offset of `W_l` (and `b_l` right after it) in `params`, per layer.
    offsets: Vec<usize>,
}

impl Mlp {
    /// A network `input → hidden… → 1` initialised from `seed`.
    pub fn new(
        input: usize,
        hidden: &[usize],
        activation: Activation,
        seed: u64,
    ) -> Result<Self, NnError> {
        let mut mlp = Self::zeros(input, hidden, activation)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for l in 0..mlp.layers() {
            let (out, inp) = (mlp.widths[l + 1], mlp.widths[l]);
            let std = (2.0 / (inp + out) as f64).sqrt();
            let wn = Normal::new(0.0, std).map_err(|e| NnError::Shape(e.to_string()))?;
            let bn = Normal::new(0.0, BIAS_INIT_STD).map_err(|e| NnError::Shape(e.to_string()))?;
            let off = mlp.offsets[l];
            for w in &mut mlp.params[off..off + out * inp] {
                *w = wn.sample(&mut rng);
            }
            for b in &mut mlp.params[off + out * inp..off + out * inp + out] {
                *b = bn.sample(&mut rng);
            }
        }
        Ok(mlp)
    }

    /// A network of the given shape with all parameters zero.
    pub fn zeros(input: usize, hidden: &[usize], activation: Activation) -> Result<Self, NnError> {
        if input == 0 || hidden.is_empty() || hidden.contains(&0) {
            return Err(NnError::Shape(format!(
                "need an input and at least one hidden layer, all of positive width (got input {input}, hidden {hidden:?})"
            )));
        }
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        widths.push(1);
        let total = Self::param_count(input, hidden);
        crate::sanity::check_memory(
            &format!("a network {input} → {hidden:?} → 1"),
            total,
            std::mem::size_of::<f64>(),
        )
        .map_err(|e| NnError::Shape(e.to_string()))?;
        let mut offsets = Vec::with_capacity(widths.len() - 1);
        let mut total = 0;
        for l in 0..widths.len() - 1 {
            offsets.push(total);
            total += widths[l + 1] * widths[l] + widths[l + 1];
        }
        Ok(Self {
            widths,
            activation,
            params: vec![0.0; total],
            offsets,
        })
    }

    /// The number of parameters of `input → hidden… → 1` (`None` when it
    /// overflows).
    pub fn param_count(input: usize, hidden: &[usize]) -> Option<usize> {
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        widths.push(1);
        widths.windows(2).try_fold(0usize, |total, w| {
            w[1].checked_mul(w[0])?
                .checked_add(w[1])?
                .checked_add(total)
        })
    }

    /// A network of the given shape with the given flat parameters.
    pub fn from_params(
        input: usize,
        hidden: &[usize],
        activation: Activation,
        params: Vec<f64>,
    ) -> Result<Self, NnError> {
        let mut mlp = Self::zeros(input, hidden, activation)?;
        if params.len() != mlp.params.len() {
            return Err(NnError::Shape(format!(
                "{} parameters given, the architecture has {}",
                params.len(),
                mlp.params.len()
            )));
        }
        mlp.params = params;
        Ok(mlp)
    }

    /// Widths `[d, h1, …, hk, 1]`.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// Hidden widths `[h1, …, hk]`.
    pub fn hidden(&self) -> &[usize] {
        &self.widths[1..self.widths.len() - 1]
    }

    /// Input dimension `d`.
    pub fn input_dim(&self) -> usize {
        self.widths[0]
    }

    /// Number of affine layers (hidden layers + the output layer).
    pub fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// The activation of the hidden layers.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// All parameters, flat.
    pub fn params(&self) -> &[f64] {
        &self.params
    }

    /// All parameters, flat, mutable.
    pub fn params_mut(&mut self) -> &mut [f64] {
        &mut self.params
    }

    /// Exchange the parameter vector with `other`, which must have as many
    /// entries (a buffer swap, no copy).
    pub fn swap_params(&mut self, other: &mut Vec<f64>) {
        assert_eq!(other.len(), self.params.len(), "parameter count");
        std::mem::swap(&mut self.params, other);
    }

    /// Offset of layer `l`'s weight matrix in the flat parameters
    /// (its bias follows the `out × in` weights).
    pub fn offset(&self, l: usize) -> usize {
        self.offsets[l]
    }

    /// `W_l`, row-major `out × in` (`l` counts from 0).
    pub fn weight(&self, l: usize) -> &[f64] {
        let off = self.offsets[l];
        &self.params[off..off + self.widths[l + 1] * self.widths[l]]
    }

    /// `b_l` (`l` counts from 0).
    pub fn bias(&self, l: usize) -> &[f64] {
        let off = self.offsets[l] + self.widths[l + 1] * self.widths[l];
        &self.params[off..off + self.widths[l + 1]]
    }

    /// `f(u)` for any scalar type: the oracle for the derivative engine and
    /// the route to higher derivatives (VBEA).
    pub fn eval<D: Scalar>(&self, u: &[D]) -> D {
        let mut h: Vec<D> = u.to_vec();
        for l in 0..self.layers() {
            let (w, b) = (self.weight(l), self.bias(l));
            let inp = self.widths[l];
            let mut z: Vec<D> = (0..self.widths[l + 1])
                .map(|o| {
                    let row = &w[o * inp..(o + 1) * inp];
                    row.iter()
                        .zip(&h)
                        .fold(D::from(b[o]), |s, (wi, hi)| s + *hi * *wi)
                })
                .collect();
            if l + 1 < self.layers() {
                for x in &mut z {
                    *x = self.activation.apply(*x);
                }
            }
            h = z;
        }
        h[0]
    }
}
