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

    /// A dataset of positions only, as files are read: each trajectory
    /// row-major `T_i × n`, sampled with step `dt` from `t = 0`. Refused, with
    /// `source` naming the data: `n = 0`, no trajectory, a step that is not a
    /// finite number > 0, a length that is not a multiple of `n`, fewer than
    /// 3 points, a non-finite value (with its index `[k, i]`).
    pub fn from_positions(
        n: usize,
        dt: f64,
        positions: Vec<Vec<f64>>,
        source: &str,
    ) -> Result<Self, DataError> {
        let whole = |problem: String| DataError::File {
            path: source.to_string(),
            problem,
        };
        if n == 0 {
            return Err(whole("the positions have no coordinates (n = 0)".into()));
        }
        if positions.is_empty() {
            return Err(whole("no trajectories".into()));
        }
        if !(dt.is_finite() && dt > 0.0) {
            return Err(whole(format!(
                "the step must be a positive number, got {dt}"
            )));
        }
        let mut trajectories = Vec::with_capacity(positions.len());
        for (index, q) in positions.into_iter().enumerate() {
            let bad = |problem: String| DataError::Trajectory {
                path: source.to_string(),
                index,
                problem,
            };
            if q.len() % n != 0 {
                return Err(bad(format!(
                    "{} values are not whole points of dimension {n}",
                    q.len()
                )));
            }
            let points = q.len() / n;
            if points < 3 {
                return Err(bad(format!(
                    "only {points} point(s): a trajectory needs at least 3"
                )));
            }
            if let Some(j) = q.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "non-finite value {} at index [{}, {}]",
                    q[j],
                    j / n,
                    j % n
                )));
            }
            trajectories.push(Trajectory::from_positions(n, 0.0, dt, q));
        }
        Ok(Self {
            n,
            dt,
            trajectories,
        })
    }

    /// A hash of the data's dimension, step and every trajectory's times
    /// and positions ([`crate::sanity::content_hash`]): equal data, equal hash.
    pub fn content_hash(&self) -> String {
        let mut h = crate::sanity::Hasher::new();
        h.write(&(self.n as u64).to_le_bytes());
        h.write(&self.dt.to_le_bytes());
        for tr in &self.trajectories {
            h.write(&(tr.len() as u64).to_le_bytes());
            for x in tr.t.iter().chain(&tr.q) {
                h.write(&x.to_le_bytes());
            }
        }
        h.finish()
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
