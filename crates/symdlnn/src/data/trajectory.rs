use super::DataError;

/// One uniformly sampled trajectory: row-major `(T, n)` arrays.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// Configuration dimension.
    pub n: usize,
    /// Sample times `t_k`.
    pub t: Vec<f64>,
    /// Positions, `T × n`.
    pub q: Vec<f64>,
    /// Velocities, `T × n`, when known.
    pub v: Option<Vec<f64>>,
    /// Momenta, `T × n`, when known.
    pub p: Option<Vec<f64>>,
}

impl Trajectory {
    /// Number of samples `T`.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// `true` when the trajectory has no samples.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Position `q_k`.
    pub fn position(&self, k: usize) -> &[f64] {
        &self.q[k * self.n..(k + 1) * self.n]
    }

    /// Positions only, sampled from `t0` with step `dt`.
    pub fn from_positions(n: usize, t0: f64, dt: f64, q: Vec<f64>) -> Self {
        let len = q.len().checked_div(n).unwrap_or(0);
        let t = (0..len).map(|k| t0 + k as f64 * dt).collect();
        Self {
            n,
            t,
            q,
            v: None,
            p: None,
        }
    }
}

/// Several trajectories of one system, sharing dimension and time step.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Configuration dimension.
    pub n: usize,
    /// The common time step `Δt`.
    pub dt: f64,
    /// The trajectories, in file order.
    pub trajectories: Vec<Trajectory>,
}

impl Dataset {
    /// Total number of samples over all trajectories.
    pub fn samples(&self) -> usize {
        self.trajectories.iter().map(Trajectory::len).sum()
    }

    /// Pairs `(q_k, q_{k+1})` over all trajectories.
    pub fn pairs(&self) -> usize {
        self.trajectories
            .iter()
            .map(|t| t.len().saturating_sub(1))
            .sum()
    }

    /// Refuse data whose dimension is not `expected`; `source` names the file.
    pub fn expect_dim(&self, expected: usize, source: &str) -> Result<(), DataError> {
        if self.n == expected {
            Ok(())
        } else {
            Err(DataError::Dimension {
                path: source.to_string(),
                expected,
                found: self.n,
            })
        }
    }
}
