//! Where the symmetry condition is imposed, and how generators are found.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::SymmetryError;
use crate::data::Dataset;

/// How generators are found after training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscoverySolver {
    /// [`discover`]: `ξ·∇Ld = 0` at evaluation pairs (sensitive to the gauge
    /// freedom of a learned `Ld`).
    #[default]
    Nullspace,
    /// [`discover_variational`]: fields that solve the learned dynamics'
    /// linearised DEL equations at the training triples (gauge-invariant).
    Variational,
    /// The paper's: coefficients trained with the network by the symmetry
    /// term ([`crate::learn::shaping`]); reported by [`from_coefficients`].
    Paper,
}

/// Where the symmetry condition is imposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationPoints {
    /// Use the training pairs.
    pub train: bool,
    /// Number of extra pairs drawn in a box around the data (Remark 1).
    pub boxed: usize,
}

/// The form [`EvaluationPoints::parse`] reads.
impl std::fmt::Display for EvaluationPoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.train, self.boxed) {
            (true, 0) => write!(f, "train"),
            (true, n) => write!(f, "train+box:{n}"),
            (false, n) => write!(f, "box:{n}"),
        }
    }
}

impl EvaluationPoints {
    /// Parse `train`, `box:N` or `train+box:N`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut e = Self {
            train: false,
            boxed: 0,
        };
        for part in s.split('+') {
            match part.strip_prefix("box:") {
                Some(n) => e.boxed = n.parse().ok()?,
                None if part == "train" => e.train = true,
                None => return None,
            }
        }
        (e.train || e.boxed > 0).then_some(e)
    }

    /// The pairs `(q0, q1)` (row-major, `2n` each): training pairs and/or
    /// `boxed` pairs with `q0` uniform in the data's bounding box (widened
    /// by 10 %) and `q1 − q0` uniform in the box of observed increments,
    /// from a ChaCha8 `seed`.
    pub fn pairs(&self, data: &Dataset, seed: u64) -> Vec<f64> {
        let n = data.n;
        let mut out = Vec::new();
        let (mut lo, mut hi) = (vec![f64::INFINITY; n], vec![f64::NEG_INFINITY; n]);
        let (mut dlo, mut dhi) = (vec![f64::INFINITY; n], vec![f64::NEG_INFINITY; n]);
        for tr in &data.trajectories {
            for k in 0..tr.len().saturating_sub(1) {
                let (a, b) = (tr.position(k), tr.position(k + 1));
                if self.train {
                    out.extend_from_slice(a);
                    out.extend_from_slice(b);
                }
                for i in 0..n {
                    lo[i] = lo[i].min(a[i]).min(b[i]);
                    hi[i] = hi[i].max(a[i]).max(b[i]);
                    dlo[i] = dlo[i].min(b[i] - a[i]);
                    dhi[i] = dhi[i].max(b[i] - a[i]);
                }
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(2);
        for _ in 0..self.boxed {
            let q0: Vec<f64> = (0..n)
                .map(|i| {
                    let pad = 0.1 * (hi[i] - lo[i]);
                    lo[i] - pad + (hi[i] - lo[i] + 2.0 * pad) * rng.random::<f64>()
                })
                .collect();
            let q1: Vec<f64> = (0..n)
                .map(|i| q0[i] + dlo[i] + (dhi[i] - dlo[i]) * rng.random::<f64>())
                .collect();
            out.extend_from_slice(&q0);
            out.extend_from_slice(&q1);
        }
        out
    }
}

impl std::str::FromStr for EvaluationPoints {
    type Err = SymmetryError;
    /// [`EvaluationPoints::parse`], with a message naming the forms.
    fn from_str(s: &str) -> Result<Self, SymmetryError> {
        Self::parse(s).ok_or_else(|| {
            SymmetryError::Parse(format!("'{s}' is not train, box:N or train+box:N"))
        })
    }
}
