//! Smooth activations with their first three derivatives.
//!
//! The derivative engine needs `σ, σ′, σ″` in the forward pass and `σ‴` in
//! the adjoint; the generic form serves the num-dual oracle and VBEA.
//!
//! | name | σ | σ′ | σ″ | σ‴ |
//! |---|---|---|---|---|
//! | softplus | `ln(1+eˣ)` | `s = 1/(1+e⁻ˣ)` | `s(1−s)` | `s(1−s)(1−2s)` |
//! | tanh | `t` | `1−t²` | `−2t(1−t²)` | `(6t²−2)(1−t²)` |
//! | sin | `sin x` | `cos x` | `−sin x` | `−cos x` |
//! | silu | `x s` | `s + x s′` | `2s′ + x s″` | `3s″ + x s‴` |

use serde::{Deserialize, Serialize};

use crate::mechanics::Scalar;

/// A smooth activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `tanh x`.
    Tanh,
    /// `sin x`.
    Sin,
    /// SiLU (swish), `x / (1 + e⁻ˣ)`.
    Silu,
}

impl Activation {
    /// All activations, for tests and help texts.
    pub const ALL: [Activation; 4] = [Self::Softplus, Self::Tanh, Self::Sin, Self::Silu];

    /// The name used on the command line and in `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Softplus => "softplus",
            Self::Tanh => "tanh",
            Self::Sin => "sin",
            Self::Silu => "silu",
        }
    }

    /// Parse a name (see [`Activation::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `(σ, σ′, σ″, σ‴)` at `x`.
    #[inline]
    pub fn jet(self, x: f64) -> [f64; 4] {
        match self {
            Self::Softplus => {
                let e = (-x.abs()).exp();
                let value = x.max(0.0) + e.ln_1p();
                let s = if x >= 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                };
                let ds = s * (1.0 - s);
                [value, s, ds, ds * (1.0 - 2.0 * s)]
            }
            Self::Tanh => {
                let t = x.tanh();
                let d = 1.0 - t * t;
                [t, d, -2.0 * t * d, (6.0 * t * t - 2.0) * d]
            }
            Self::Sin => {
                let (s, c) = x.sin_cos();
                [s, c, -s, -c]
            }
            Self::Silu => {
                let e = (-x.abs()).exp();
                let s = if x >= 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                };
                let s1 = s * (1.0 - s);
                let s2 = s1 * (1.0 - 2.0 * s);
                let s3 = s1 * (1.0 - 6.0 * s + 6.0 * s * s);
                [x * s, s + x * s1, 2.0 * s1 + x * s2, 3.0 * s2 + x * s3]
            }
        }
    }

    /// `σ(x)` for any scalar type (duals of any order).
    pub fn apply<D: Scalar>(self, x: D) -> D {
        match self {
            Self::Softplus => {
                if x.re() > 0.0 {
                    x + (-x).exp().ln_1p()
                } else {
                    x.exp().ln_1p()
                }
            }
            Self::Tanh => x.tanh(),
            Self::Sin => x.sin(),
            Self::Silu => x / ((-x).exp() + 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual3_64;

    #[test]
    fn jets_match_third_order_duals() {
        for act in Activation::ALL {
            for &x in &[-30.0, -3.1, -0.4, 0.0, 0.2, 1.7, 25.0] {
                let d = act.apply(Dual3_64::new(x, 1.0, 0.0, 0.0));
                let j = act.jet(x);
                let expect = [d.re, d.v1, d.v2, d.v3];
                for k in 0..4 {
                    let tol = 1e-14 * (1.0 + expect[k].abs());
                    assert!(
                        (j[k] - expect[k]).abs() < tol,
                        "{act:?} x={x} order {k}: {} vs {}",
                        j[k],
                        expect[k]
                    );
                }
            }
        }
    }
}
