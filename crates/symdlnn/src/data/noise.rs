//! Observation noise: a setting and (placeholder) resolution.

use serde::{Deserialize, Serialize};

use super::Dataset;

/// How much observation noise to assume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum NoiseSpec {
    /// No noise.
    #[default]
    Off,
    /// Estimated from the data.
    Auto,
    /// Given standard deviations (one, or one per coordinate).
    Sigma(Vec<f64>),
}

/// A noise setting that does not fit the data.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum NoiseError {
    /// Wrong count of values.
    #[error("--noise: {found} values for {expected} coordinates")]
    Count {
        /// Coordinates.
        expected: usize,
        /// Values given.
        found: usize,
    },
}

impl NoiseSpec {
    /// The per-coordinate σ to use (`None`: no noise).
    pub fn resolve(&self, data: &Dataset) -> Result<Option<Vec<f64>>, NoiseError> {
        match self {
            Self::Off | Self::Auto => Ok(None),
            Self::Sigma(v) if v.iter().all(|&x| x == 0.0) => Ok(None),
            Self::Sigma(v) if v.len() == 1 => Ok(Some(vec![v[0]; data.n])),
            Self::Sigma(v) if v.len() == data.n => Ok(Some(v.clone())),
            Self::Sigma(v) => Err(NoiseError::Count {
                expected: data.n,
                found: v.len(),
            }),
        }
    }
}

impl std::str::FromStr for NoiseSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            t => {
                let v: Vec<f64> = t
                    .split(',')
                    .map(|x| {
                        x.trim()
                            .parse::<f64>()
                            .map_err(|e| format!("--noise {s}: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
                if v.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
                    return Err(format!("--noise {s}: values must be finite and ≥ 0"));
                }
                Ok(if v.iter().all(|&x| x == 0.0) {
                    Self::Off
                } else {
                    Self::Sigma(v)
                })
            }
        }
    }
}
