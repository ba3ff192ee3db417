//! How much white noise the positions carry, coordinate by coordinate, and
//! whether there is any to measure at all.
//!
//! Model: each coordinate of a trajectory is `y_t = q(t_0 + tΔt) + ε_t`
//! with `q` smooth and `ε_t` independent `N(0, σ²)`. The k-th forward
//! difference `Δᵏy_t = Σ_j (−1)^{k−j} C(k, j) y_{t+j}` cancels polynomials
//! of degree `< k`. On the noise the differences are a moving average with
//! covariance `σ² Γ_k(j)`, `Γ_k(j) = (−1)ʲ C(2k, k + j)` at lag `|j| ≤ k`
//! (variance `C(2k, k) σ²`) for every order; on a component of `q` of
//! angular frequency `ω` their amplitude is `(2 sin(ωΔt/2))ᵏ`, which,
//! normalised by `√C(2k, k) ≈ 2ᵏ (πk)^{−1/4}`, falls by about
//! `sin(ωΔt/2)` per order: 0.1 at 30 samples per period, 0.5 at 6.
//!
//! * **Profile.** For every run `d` of [`RUN`] = 3 consecutive k-th
//!   differences of a trajectory, `dᵀ Γ_k⁻¹ d` (`Γ_k` the 3 × 3 Toeplitz
//!   matrix) has expectation `3σ²` on the noise; `s_k² =` its mean over all
//!   runs of all trajectories `/ 3`, for `k = 1 …` [`MAX_ORDER`] (an order
//!   counts when at least [`MIN_DIFFERENCES`] runs exist; runs never span
//!   two trajectories, and trajectories too short for an order are
//!   skipped). `s_k² ≈ σ² + S_k²`, `S_k` the signal's part. A run of one
//!   difference is the plain `(Δᵏy)² / C(2k, k)`; a run of `m` is the
//!   residual of a least-squares polynomial of degree `k − 1` on `k + m`
//!   points. Runs of 3 cut the spread of σ̂ on the paper's noisy Kepler
//!   orbit (51 points, 20 seeds × 2 coordinates) from sd 0.13 σ to 0.10 σ,
//!   and on single 50-point trajectories from 0.16–0.18 σ to 0.14–0.15 σ;
//!   the signal part still falls per order (orders 6 → 8, a sinusoid) to
//!   0.12 of itself at 30 samples per period, 0.37 at 10, 0.58 at 6 and
//!   0.82 at 4: below about 5 samples per period a signal looks like noise.
//! * **Decision.** The coordinate's noise plateau starts at the smallest
//!   `k₀` with `s_{j+1} ≥ FLAT · s_j` ([`FLAT`] = 0.8) for every `j` from
//!   `k₀` to the last order `K`, and is at least [`PAST_PLATEAU`] = 2 ratios
//!   long (`k₀ ≤ K − 2`). Where the profile keeps falling to the last order
//!   the signal dominates every order: no measurable noise. A plateau at or
//!   below [`ROUNDING_FLOOR`] `× max|y|` is the arithmetic of a simulation
//!   (rounding, solver tolerances) and does not count either.
//! * **Estimate.** `σ_i = s_{k*}` at one order for all coordinates,
//!   `k* = max_i k₀_i + 2` (`≤ K`). At `k₀` a ratio `≥ 0.8` bounds the
//!   signal by `S ≤ 1.13 σ` if it falls to at most 0.6 of itself per order
//!   (≥ 6 samples per period); two orders later it adds at most 8 % to σ,
//!   under 1 % at ≥ 10 samples per period.
//!
//! The mean square, not the median absolute deviation: on the paper's noisy
//! Kepler orbit (σ = 0.001, three seeds, orders 3–8, plain differences) the
//! MAD gave 0.50 … 1.58 σ, the mean square 0.77 … 1.10 σ, and the mean
//! square's profile still falls by ≥ 2.5× from order 7 to 8 on clean
//! trajectories of every system of the crate. Much of the spread that
//! remains is the sample's own: over 40 seeds the noise actually drawn on
//! those 51 points has an RMS of 0.80 … 1.17 σ, and σ̂ spreads about it
//! with sd 0.09.
//!
//! [`NoiseSpec`] is the user's setting (`0`, `auto`, one σ or one per
//! coordinate) and [`NoiseSpec::resolve`] turns it into per-coordinate σ.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Dataset, Trajectory};

/// Highest difference order of the profile.
pub const MAX_ORDER: usize = 8;
/// `s_{k+1} / s_k` at or above this is flat: noise-dominated.
pub const FLAT: f64 = 0.8;
/// Orders from the plateau's start to the one σ is read at (and the
/// fewest flat ratios a plateau needs).
pub const PAST_PLATEAU: usize = 2;
/// Consecutive differences whitened together (see the module's header).
pub const RUN: usize = 3;
/// Fewest runs of finite differences for an order to count.
pub const MIN_DIFFERENCES: usize = 10;
/// A σ at or below this times the coordinate's largest `|y|` is not
/// measurable noise.
pub const ROUNDING_FLOOR: f64 = 1e-9;
/// [`NoiseSpec::Auto`]: a coordinate without measurable noise gets this
/// times the smallest measurable `σ / scale`, times its own scale.
pub const AUTO_FLOOR: f64 = 1e-3;

/// The noise found in a dataset, per coordinate.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseEstimate {
    /// Estimated σ of each coordinate; 0.0 where none is measurable.
    pub sigma: Vec<f64>,
    /// Whether the coordinate's profile has a noise plateau above the
    /// rounding floor.
    pub measurable: Vec<bool>,
    /// The coordinate's signal scale: RMS of all its positions about their
    /// mean (0.0 for a constant coordinate or no data).
    pub scale: Vec<f64>,
    /// The difference order σ is read at (0 when nothing is measurable).
    pub order: usize,
    /// `profile[i][k − 1] = s_k` of coordinate `i`, for the orders with
    /// enough differences (see the module's header).
    pub profile: Vec<Vec<f64>>,
}

impl NoiseEstimate {
    /// Whether any coordinate has measurable noise.
    pub fn is_noisy(&self) -> bool {
        self.measurable.iter().any(|&m| m)
    }

    /// Per-coordinate σ for use, `None` when nothing is measurable: the
    /// estimate where measurable, elsewhere [`AUTO_FLOOR`] times the
    /// smallest measurable `σ / scale`, times the coordinate's scale (for a
    /// constant coordinate, [`AUTO_FLOOR`] times the smallest σ) — much
    /// cleaner than the cleanest noisy coordinate, and never 0.
    pub fn sigma_with_floor(&self) -> Option<Vec<f64>> {
        let coords = || {
            self.sigma
                .iter()
                .zip(&self.measurable)
                .zip(&self.scale)
                .map(|((&s, &m), &c)| (s, m, c))
        };
        let noisy = || coords().filter(|c| c.1);
        let rel = noisy().map(|(s, _, c)| s / c).fold(f64::INFINITY, f64::min);
        let abs = noisy().map(|c| c.0).fold(f64::INFINITY, f64::min);
        if !abs.is_finite() {
            return None;
        }
        let floor = |scale: f64| {
            let f = AUTO_FLOOR * rel * scale;
            if f > 0.0 && f.is_finite() {
                f
            } else {
                AUTO_FLOOR * abs
            }
        };
        Some(
            coords()
                .map(|(s, m, c)| if m { s } else { floor(c) })
                .collect(),
        )
    }
}

impl fmt::Display for NoiseEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_noisy() {
            return f.write_str("no measurable noise");
        }
        let parts: Vec<String> = (self.sigma.iter().zip(&self.measurable))
            .map(|(s, &m)| if m { format!("{s:.2e}") } else { "none".into() })
            .collect();
        write!(
            f,
            "σ ≈ {} per coordinate (difference order {})",
            parts.join(", "),
            self.order
        )
    }
}

/// Coordinate `i` of a trajectory's positions (whole points only).
fn column(tr: &Trajectory, n: usize, i: usize) -> Vec<f64> {
    tr.q.chunks_exact(n).map(|p| p[i]).collect()
}

/// `Γ_k(j) = (−1)^j C(2k, k + j)`: the covariance of the k-th differences
/// of unit white noise at lag `j`.
fn difference_covariance(k: usize, lag: usize) -> f64 {
    if lag > k {
        return 0.0;
    }
    let c = (1..=k - lag).fold(1.0, |c, j| c * (k + lag + j) as f64 / j as f64);
    if lag.is_multiple_of(2) {
        c
    } else {
        -c
    }
}

/// Lower Cholesky factor of the `m × m` Toeplitz matrix of `Γ_k`.
fn cholesky(k: usize, m: usize) -> Vec<f64> {
    let mut l = vec![0.0; m * m];
    for a in 0..m {
        for b in 0..=a {
            let mut s = difference_covariance(k, a - b);
            for c in 0..b {
                s -= l[a * m + c] * l[b * m + c];
            }
            l[a * m + b] = if a == b { s.sqrt() } else { s / l[b * m + b] };
        }
    }
    l
}

/// `dᵀ Γ⁻¹ d` for a run `d` of [`RUN`] differences, `l` the Cholesky
/// factor.
fn whitened_square(l: &[f64], d: &[f64]) -> f64 {
    let m = RUN;
    let mut z = [0.0; RUN];
    for a in 0..m {
        let s: f64 = (0..a).map(|c| l[a * m + c] * z[c]).sum();
        z[a] = (d[a] - s) / l[a * m + a];
    }
    z.iter().map(|x| x * x).sum()
}

/// One coordinate's profile `s_1 … s_K` (see the module's header).
fn profile(data: &Dataset, i: usize) -> Vec<f64> {
    let m = RUN;
    let mut ss = [0.0; MAX_ORDER];
    let mut count = [0usize; MAX_ORDER];
    let factors: Vec<Vec<f64>> = (1..=MAX_ORDER).map(|k| cholesky(k, m)).collect();
    for tr in &data.trajectories {
        let mut d = column(tr, data.n, i);
        for k in 0..MAX_ORDER {
            if d.len() < 2 {
                break;
            }
            d = d.windows(2).map(|w| w[1] - w[0]).collect();
            for run in d.windows(m).filter(|r| r.iter().all(|x| x.is_finite())) {
                ss[k] += whitened_square(&factors[k], run);
                count[k] += 1;
            }
        }
    }
    (0..MAX_ORDER)
        .take_while(|&k| count[k] >= MIN_DIFFERENCES)
        .map(|k| (ss[k] / (count[k] * m) as f64).sqrt())
        .collect()
}

/// RMS about the mean and largest magnitude of coordinate `i`'s finite
/// positions (0.0 without any). Shifted by the first value, so that a
/// constant coordinate has scale 0 exactly.
fn scale_and_magnitude(data: &Dataset, i: usize) -> (f64, f64) {
    let values = || {
        data.trajectories
            .iter()
            .flat_map(|tr| tr.q.chunks_exact(data.n).map(move |p| p[i]))
            .filter(|x| x.is_finite())
    };
    let Some(first) = values().next() else {
        return (0.0, 0.0);
    };
    let count = values().count() as f64;
    let mean = values().map(|x| x - first).sum::<f64>() / count;
    let ss: f64 = values().map(|x| (x - first - mean).powi(2)).sum();
    let magnitude = values().map(f64::abs).fold(0.0, f64::max);
    ((ss / count).sqrt(), magnitude)
}

/// The first order (1-based) of the profile's noise plateau, when it has
/// one at least [`PAST_PLATEAU`] ratios long.
fn plateau_start(profile: &[f64]) -> Option<usize> {
    let last = profile.len();
    let mut start = last;
    for k in (1..last).rev() {
        let (a, b) = (profile[k - 1], profile[k]);
        if a > 0.0 && b >= FLAT * a {
            start = k;
        } else {
            break;
        }
    }
    (start >= 1 && start + PAST_PLATEAU <= last).then_some(start)
}

/// `s` at `order` (or the profile's last order if shorter) when it is a
/// finite σ above the rounding floor.
fn sigma_at(profile: &[f64], order: usize, magnitude: f64) -> Option<f64> {
    let s = *profile.get(order.min(profile.len()).checked_sub(1)?)?;
    (s.is_finite() && s > ROUNDING_FLOOR * magnitude).then_some(s)
}

/// Estimate the white-noise σ of every coordinate (see the module's
/// header). Never fails: coordinates without enough data, constant ones and
/// clean ones come out as not measurable, σ = 0.
pub fn estimate_noise(data: &Dataset) -> NoiseEstimate {
    let n = data.n;
    let profiles: Vec<Vec<f64>> = (0..n).map(|i| profile(data, i)).collect();
    let (scale, magnitude): (Vec<f64>, Vec<f64>) =
        (0..n).map(|i| scale_and_magnitude(data, i)).unzip();
    let starts: Vec<Option<usize>> = (0..n)
        .map(|i| {
            plateau_start(&profiles[i])
                .filter(|&k| sigma_at(&profiles[i], k + PAST_PLATEAU, magnitude[i]).is_some())
        })
        .collect();
    let order = starts.iter().flatten().map(|k| k + PAST_PLATEAU).max();
    let sigmas: Vec<Option<f64>> = (0..n)
        .map(|i| {
            starts[i]
                .and(order)
                .and_then(|k| sigma_at(&profiles[i], k, magnitude[i]))
        })
        .collect();
    let measurable: Vec<bool> = sigmas.iter().map(Option::is_some).collect();
    NoiseEstimate {
        sigma: sigmas.iter().map(|s| s.unwrap_or(0.0)).collect(),
        order: if measurable.contains(&true) {
            order.unwrap_or(0)
        } else {
            0
        },
        measurable,
        scale,
        profile: profiles,
    }
}

/// A noise setting refused, or one that does not fit the data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoiseError {
    /// The text is not a noise setting.
    #[error("noise '{input}': {problem} (expected auto, 0, one σ ≥ 0, or one σ per coordinate separated by commas)")]
    Parse {
        /// The text given (quoted for a one-line message).
        input: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Neither one σ nor one per coordinate.
    #[error("noise: {found} σ values for data of dimension {expected}; give one for all coordinates or {expected}")]
    Count {
        /// The data's dimension.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
}

/// The noise a user declares for the positions.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum NoiseSpec {
    /// No noise (`0`).
    #[default]
    Off,
    /// Estimate it from the data ([`estimate_noise`]).
    Auto,
    /// Known σ: one for every coordinate, or one per coordinate (each
    /// finite and ≥ 0).
    Sigma(Vec<f64>),
}

impl NoiseSpec {
    /// Per-coordinate σ for `data`, `None` for no noise: `Off`, `Auto` on
    /// data without measurable noise, or σ values all 0. `Auto`:
    /// [`NoiseEstimate::sigma_with_floor`]. `Sigma`: one value broadcast to
    /// every coordinate, or exactly one per coordinate.
    pub fn resolve(&self, data: &Dataset) -> Result<Option<Vec<f64>>, NoiseError> {
        match self {
            Self::Off => Ok(None),
            Self::Auto => Ok(estimate_noise(data).sigma_with_floor()),
            Self::Sigma(v) => {
                let all = match v.len() {
                    1 => vec![v[0]; data.n],
                    m if m == data.n => v.clone(),
                    found => {
                        return Err(NoiseError::Count {
                            expected: data.n,
                            found,
                        })
                    }
                };
                Ok(all.iter().any(|&s| s != 0.0).then_some(all))
            }
        }
    }
}

/// One σ of a list: a finite number ≥ 0 (−0 read as 0).
fn parse_sigma(item: &str) -> Result<f64, String> {
    let t = item.trim();
    if t.is_empty() {
        return Err("an empty value in the list".into());
    }
    let x: f64 = t
        .parse()
        .map_err(|_| format!("'{}' is not a number", crate::sanity::quote(t)))?;
    if !x.is_finite() {
        return Err(format!("σ must be a finite number, got {t}"));
    }
    if x < 0.0 {
        return Err(format!("σ must be ≥ 0, got {t}"));
    }
    Ok(x + 0.0)
}

impl FromStr for NoiseSpec {
    type Err = NoiseError;
    /// `auto`, `0`, one σ (`0.001`) or one per coordinate (`0.001,0.002`).
    fn from_str(s: &str) -> Result<Self, NoiseError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        if t.is_empty() {
            return Err(NoiseError::Parse {
                input: String::new(),
                problem: "empty".into(),
            });
        }
        let values = t
            .split(',')
            .map(parse_sigma)
            .collect::<Result<Vec<f64>, String>>()
            .map_err(|problem| NoiseError::Parse {
                input: crate::sanity::quote(s),
                problem,
            })?;
        Ok(match values[..] {
            [0.0] => Self::Off,
            _ => Self::Sigma(values),
        })
    }
}

impl fmt::Display for NoiseSpec {
    /// `0`, `auto` or the σ values separated by commas, each in the
    /// shortest form that reads back exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("0"),
            Self::Auto => f.write_str("auto"),
            Self::Sigma(v) => {
                let parts: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl Serialize for NoiseSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NoiseSpec {
    /// The text form, or a bare number.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(f64),
        }
        let text = match Repr::deserialize(deserializer)? {
            Repr::Text(s) => s,
            Repr::Number(x) => format!("{x:?}"),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate;
    use crate::mechanics::{Convergence, System};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    /// Per coordinate: amplitude, offset, samples per period of the fastest
    /// component.
    const COORDS: [(f64, f64, f64); 3] =
        [(1.0, 0.5, 30.0), (0.02, -3.0, 45.0), (30.0, 100.0, 60.0)];

    /// Per coordinate a sum of three sines (frequency ratios 1, 0.618…,
    /// 0.377…, random phases), one trajectory per length.
    fn smooth(lengths: &[usize], seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = COORDS.len();
        let trajectories = lengths
            .iter()
            .map(|&len| {
                let phases: Vec<f64> = (0..3 * n).map(|_| rng.random::<f64>() * 6.3).collect();
                let mut q = Vec::with_capacity(len * n);
                for t in 0..len {
                    for (i, &(a, c, period)) in COORDS.iter().enumerate() {
                        let w = std::f64::consts::TAU / period * t as f64;
                        let ph = &phases[3 * i..3 * i + 3];
                        let x = (w + ph[0]).sin()
                            + 0.6 * (0.618_034 * w + ph[1]).sin()
                            + 0.4 * (0.377_2 * w + ph[2]).cos();
                        q.push(c + a * x);
                    }
                }
                Trajectory::from_positions(n, 0.0, 0.1, q)
            })
            .collect();
        Dataset {
            n,
            dt: 0.1,
            trajectories,
        }
    }

    /// `data` plus `N(0, σ_i²)` on coordinate `i` (ChaCha8 seeded by `seed`).
    fn noisy(data: &Dataset, sigma: &[f64], seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normals: Vec<Normal<f64>> = sigma
            .iter()
            .map(|&s| Normal::new(0.0, s).unwrap())
            .collect();
        let mut out = data.clone();
        for tr in &mut out.trajectories {
            for (j, x) in tr.q.iter_mut().enumerate() {
                *x += normals[j % data.n].sample(&mut rng);
            }
        }
        out
    }

    /// Positions of `m` trajectories of a system on its default grid: the
    /// default initial condition, then draws from its box (seed 0).
    fn simulated(name: &str, m: usize) -> Dataset {
        let system = System::from_name(name).unwrap();
        let grid = system.default_grid();
        let mut ics = vec![system.default_initial_condition()];
        ics.extend(generate::sample_initial_conditions(
            &system.initial_box(),
            m - 1,
            0,
        ));
        let full = generate::dataset(&system, &ics, grid, Convergence::default()).unwrap();
        let trajectories = full
            .trajectories
            .iter()
            .map(|t| Trajectory::from_positions(t.n, 0.0, grid.dt, t.q.clone()))
            .collect();
        Dataset {
            n: full.n,
            dt: full.dt,
            trajectories,
        }
    }

    /// Estimated over true σ, every coordinate of `seeds` noisy copies of
    /// `smooth(lengths)` with σ_i = `rel ×` the clean coordinate's scale.
    fn synthetic_ratios(lengths: &[usize], rel: f64, seeds: u64) -> Vec<f64> {
        let mut out = vec![];
        for seed in 0..seeds {
            let clean = smooth(lengths, seed);
            let truth: Vec<f64> = estimate_noise(&clean)
                .scale
                .iter()
                .map(|s| rel * s)
                .collect();
            let est = estimate_noise(&noisy(&clean, &truth, 1000 + seed));
            assert!(
                est.measurable.iter().all(|&m| m),
                "{lengths:?} {rel} {seed}: {est}"
            );
            out.extend(est.sigma.iter().zip(&truth).map(|(s, t)| s / t));
        }
        out
    }

    /// Mean, standard deviation, range and how many are outside ±25 %.
    fn spread(r: &[f64]) -> String {
        let mean = r.iter().sum::<f64>() / r.len() as f64;
        let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / r.len() as f64).sqrt();
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(0.0, f64::max);
        let out = r.iter().filter(|&&x| !within(x)).count();
        format!(
            "mean {mean:.3} sd {sd:.3} range {lo:.3} … {hi:.3}, {out}/{} outside",
            r.len()
        )
    }

    fn within(r: f64) -> bool {
        (0.75..=1.25).contains(&r)
    }

    #[test]
    fn synthetic_noise_is_found_within_25_percent() {
        // Scales 1, 0.02 and 30 (offsets 0.5, −3, 100), 30–60 samples per
        // period, σ = 1e-4, 1e-3, 1e-2 of each scale. Estimated/true σ
        // measured with the seeds here (same at the three σ within 0.01):
        //   lengths 50+77+120+400, 10 seeds: 0.93 … 1.07 (sd 0.04);
        //   one trajectory of 400, 10 seeds: 0.92 … 1.14 (sd 0.055);
        //   one trajectory of 50, 20 seeds:  0.63 … 1.41 (sd 0.15–0.16),
        //     4 of 60 outside ±25 %, mean 0.99: at 50 points that is the
        //     sample's own spread (runs of 1 difference: 17–23 of 120
        //     outside over 40 seeds, runs of 3: 8–14).
        // Over 40 seeds: 50+77+120+400 0.895 … 1.118; 400 points 0.896 …
        // 1.175; 120 points 0.77 … 1.26 (2 of 360 outside).
        for rel in [1e-4, 1e-3, 1e-2] {
            for lengths in [&[50, 77, 120, 400][..], &[400]] {
                let r = synthetic_ratios(lengths, rel, 10);
                println!("{lengths:?} {rel}: {}", spread(&r));
                assert!(r.iter().all(|&x| within(x)), "{lengths:?} {rel}: {r:?}");
            }
            let r = synthetic_ratios(&[50], rel, 20);
            println!("[50] {rel}: {}", spread(&r));
            let inside = r.iter().filter(|&&x| within(x)).count();
            let mean = r.iter().sum::<f64>() / r.len() as f64;
            assert!(inside * 100 >= 85 * r.len(), "50 points, {rel}: {r:?}");
            assert!((mean - 1.0).abs() < 0.05, "50 points, {rel}: mean {mean}");
        }
    }

    #[test]
    fn clean_simulations_have_no_measurable_noise() {
        // Every system of the crate on its default grid (Kepler N = 50,
        // Δt = 0.1; cart–pendulum N = 200, Δt = 0.01), one trajectory and
        // eight. The last ratio s_8/s_7 measured is 0.10 … 0.40 (0.40: the
        // spherical pendulum, eight trajectories), the free particle's
        // profile is flat at 3e-17 … 1e-16 (rounding), under the floor.
        for name in System::NAMES {
            for m in [1, 8] {
                let est = estimate_noise(&simulated(name, m));
                assert!(!est.is_noisy(), "{name} × {m}: {est} {:?}", est.profile);
                assert_eq!(est.to_string(), "no measurable noise");
                assert_eq!(est.order, 0);
                assert!(est.sigma.iter().all(|&s| s == 0.0));
            }
        }
    }

    /// The estimate on a system's default trajectory with the paper's
    /// noise (`add_position_noise`, seed 0 as `eval::experiment`), and the
    /// RMS of the noise actually drawn.
    fn paper_noisy(name: &str, sigma: f64) -> (NoiseEstimate, Vec<f64>) {
        let clean = simulated(name, 1);
        let mut data = clean.clone();
        generate::add_position_noise(&mut data, sigma, 0).unwrap();
        let drawn = (0..data.n)
            .map(|i| {
                let d = data.trajectories[0].q.iter().zip(&clean.trajectories[0].q);
                let e: Vec<f64> = d.skip(i).step_by(data.n).map(|(a, b)| a - b).collect();
                (e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64).sqrt()
            })
            .collect();
        (estimate_noise(&data), drawn)
    }

    #[test]
    fn the_papers_noisy_data_are_measured_within_25_percent() {
        // Estimated/true σ per coordinate (the noise drawn: its RMS/σ):
        //   Kepler N = 50, σ = 0.001:  0.855, 0.850 (drawn 0.957, 0.962), order 5;
        //   Kepler N = 50, σ = 0.0316: 0.854, 0.855 (drawn 0.957, 0.962), order 4;
        //   cart–pendulum, σ = 1e-4:   0.905, 0.927 (drawn 0.959, 0.995), order 6.
        // Over seeds 0–39 (80 values each): Kepler 0.001 0.71 … 1.31
        // (sd 0.12, 3 outside ±25 %; the drawn noise alone 0.80 … 1.17),
        // Kepler 0.0316 0.74 … 1.28 (2 outside), cart–pendulum 0.82 … 1.15.
        for (name, sigma) in [("kepler", 1e-3), ("kepler", 0.0316), ("cartpend", 1e-4)] {
            let (est, drawn) = paper_noisy(name, sigma);
            let r: Vec<f64> = est.sigma.iter().map(|s| s / sigma).collect();
            println!(
                "{name} σ = {sigma}: {est}; estimated/true {r:?}, drawn/true {:?}",
                drawn.iter().map(|d| d / sigma).collect::<Vec<_>>()
            );
            assert!(est.measurable.iter().all(|&m| m), "{name} {sigma}: {est}");
            assert!(r.iter().all(|&x| within(x)), "{name} {sigma}: {r:?}");
        }
    }

    #[test]
    fn short_trajectories_are_skipped_and_nothing_left_is_no_noise() {
        // Two points each: no order has 10 runs; nothing measured, no panic.
        let tiny = noisy(&smooth(&[2, 2, 3], 1), &[0.1, 0.1, 0.1], 2);
        let est = estimate_noise(&tiny);
        assert!(!est.is_noisy());
        assert_eq!(est.to_string(), "no measurable noise");
        assert!(est.profile.iter().all(Vec::is_empty));
        assert_eq!(NoiseSpec::Auto.resolve(&tiny).unwrap(), None);
        // The same short ones next to a long noisy trajectory: its σ.
        let mut data = smooth(&[400], 3);
        let truth: Vec<f64> = estimate_noise(&data)
            .scale
            .iter()
            .map(|s| 1e-3 * s)
            .collect();
        data = noisy(&data, &truth, 4);
        let alone = estimate_noise(&data);
        data.trajectories.extend(tiny.trajectories);
        let with_tiny = estimate_noise(&data);
        assert!(with_tiny.is_noisy());
        for (a, b) in alone.sigma.iter().zip(&with_tiny.sigma) {
            assert!((a / b - 1.0).abs() < 0.01, "{a} {b}");
        }
        // No trajectories, no coordinates.
        let none = Dataset {
            n: 2,
            dt: 0.1,
            trajectories: vec![],
        };
        assert_eq!(estimate_noise(&none).sigma, vec![0.0, 0.0]);
        let empty = Dataset {
            n: 0,
            dt: 0.1,
            trajectories: vec![Trajectory::from_positions(0, 0.0, 0.1, vec![])],
        };
        assert!(!estimate_noise(&empty).is_noisy());
        assert_eq!(NoiseSpec::Auto.resolve(&empty).unwrap(), None);
    }

    #[test]
    fn a_constant_coordinate_is_no_noise_and_never_nan() {
        // Coordinate 1 constant (an exactly representable value and 0.1),
        // coordinate 0 noisy.
        for c in [2.0, 0.1, 0.0] {
            let q: Vec<f64> = (0..300).flat_map(|t| [(t as f64 * 0.2).sin(), c]).collect();
            let clean = Dataset {
                n: 2,
                dt: 0.1,
                trajectories: vec![Trajectory::from_positions(2, 0.0, 0.1, q)],
            };
            let est = estimate_noise(&noisy(&clean, &[1e-3, 0.0], 5));
            // Measured: σ₀ = 1.04e-3 at order 6 for every c.
            assert_eq!(est.measurable, vec![true, false], "{est}");
            assert!((est.sigma[0] / 1e-3 - 1.0).abs() < 0.25, "{est}");
            assert_eq!(est.sigma[1], 0.0);
            assert_eq!(est.scale[1], 0.0);
            assert!(est.profile[1].iter().all(|s| s.is_finite()));
            let with_floor = est.sigma_with_floor().unwrap();
            // A constant coordinate: AUTO_FLOOR × the smallest σ.
            assert_eq!(with_floor[1], AUTO_FLOOR * est.sigma[0]);
            assert!(with_floor.iter().all(|s| s.is_finite() && *s > 0.0));
            // Both constant: nothing, no NaN.
            let flat = Dataset {
                n: 1,
                dt: 0.1,
                trajectories: vec![Trajectory::from_positions(1, 0.0, 0.1, vec![c; 50])],
            };
            let est = estimate_noise(&flat);
            assert!(!est.is_noisy() && est.sigma == vec![0.0] && est.scale == vec![0.0]);
            assert!(est.profile[0].iter().all(|s| *s == 0.0));
        }
    }

    #[test]
    fn non_finite_values_are_skipped_not_propagated() {
        let mut data = smooth(&[300], 6);
        let truth: Vec<f64> = estimate_noise(&data)
            .scale
            .iter()
            .map(|s| 1e-3 * s)
            .collect();
        data = noisy(&data, &truth, 7);
        data.trajectories[0].q[3 * 100] = f64::NAN;
        data.trajectories[0].q[3 * 200 + 1] = f64::INFINITY;
        // Measured: estimated/true 0.97, 0.99, 0.88 at order 7.
        let est = estimate_noise(&data);
        let nums = est
            .sigma
            .iter()
            .chain(&est.scale)
            .chain(est.profile.iter().flatten());
        assert!(nums.clone().all(|x| !x.is_nan()), "{est:?}");
        for (s, t) in est.sigma.iter().zip(&truth) {
            assert!(within(s / t), "{s} {t}");
        }
    }

    #[test]
    fn trajectories_of_different_lengths_pool_their_differences() {
        // A clean coordinate next to noisy ones, lengths 15 … 200.
        let lengths = [15, 40, 200, 23];
        let clean = smooth(&lengths, 8);
        let scale = estimate_noise(&clean).scale;
        let truth = [1e-2 * scale[0], 0.0, 1e-3 * scale[2]];
        let est = estimate_noise(&noisy(&clean, &truth, 9));
        // Measured: estimated/true 1.01, –, 0.95 at order 5.
        assert_eq!(est.measurable, vec![true, false, true], "{est}");
        assert!(
            within(est.sigma[0] / truth[0]) && within(est.sigma[2] / truth[2]),
            "{est}"
        );
        let f = est.sigma_with_floor().unwrap();
        let rel = (est.sigma[0] / est.scale[0]).min(est.sigma[2] / est.scale[2]);
        assert!((f[1] / (AUTO_FLOOR * rel * est.scale[1]) - 1.0).abs() < 1e-12);
        assert_eq!((f[0], f[2]), (est.sigma[0], est.sigma[2]));
        let text = est.to_string();
        assert!(
            text.starts_with("σ ≈ ") && text.contains(", none, "),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("(difference order {})", est.order)),
            "{text}"
        );
    }

    #[test]
    fn noise_settings_parse_and_print_back() {
        let good: [(&str, NoiseSpec); 9] = [
            ("auto", NoiseSpec::Auto),
            (" AUTO ", NoiseSpec::Auto),
            ("0", NoiseSpec::Off),
            ("0.0", NoiseSpec::Off),
            ("-0", NoiseSpec::Off),
            ("0.001", NoiseSpec::Sigma(vec![0.001])),
            ("1e-3, 2e-3", NoiseSpec::Sigma(vec![0.001, 0.002])),
            ("0,0.5", NoiseSpec::Sigma(vec![0.0, 0.5])),
            ("3", NoiseSpec::Sigma(vec![3.0])),
        ];
        for (text, spec) in good {
            let parsed: NoiseSpec = text.parse().unwrap();
            assert_eq!(parsed, spec, "{text}");
            assert_eq!(
                parsed.to_string().parse::<NoiseSpec>().unwrap(),
                spec,
                "{text}"
            );
        }
        assert_eq!(
            NoiseSpec::Sigma(vec![0.001, 2e-20]).to_string(),
            "0.001,2e-20"
        );
        assert_eq!(NoiseSpec::default(), NoiseSpec::Off);
        assert_eq!(NoiseSpec::Off.to_string(), "0");
        for (bad, says) in [
            ("", "empty"),
            ("  ", "empty"),
            ("-0.001", "≥ 0"),
            ("0.001,-1", "≥ 0"),
            ("nan", "finite"),
            ("inf", "finite"),
            ("1e999", "finite"),
            ("0.001,", "empty value"),
            (",", "empty value"),
            ("abc", "not a number"),
            ("0.001;0.002", "not a number"),
            ("auto,0.1", "not a number"),
        ] {
            let e = bad.parse::<NoiseSpec>().unwrap_err();
            let m = e.to_string();
            assert!(
                matches!(e, NoiseError::Parse { .. }) && m.contains(says),
                "{bad}: {m}"
            );
            assert!(!m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn noise_settings_serialize_as_text() {
        for spec in [
            NoiseSpec::Off,
            NoiseSpec::Auto,
            NoiseSpec::Sigma(vec![0.001, 0.25]),
        ] {
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(json, format!("\"{spec}\""));
            assert_eq!(serde_json::from_str::<NoiseSpec>(&json).unwrap(), spec);
        }
        assert_eq!(
            serde_json::from_str::<NoiseSpec>("0.002").unwrap(),
            NoiseSpec::Sigma(vec![0.002])
        );
        assert_eq!(
            serde_json::from_str::<NoiseSpec>("0").unwrap(),
            NoiseSpec::Off
        );
        assert!(serde_json::from_str::<NoiseSpec>("\"-1\"").is_err());
        assert!(serde_json::from_str::<NoiseSpec>("[1]").is_err());
    }

    #[test]
    fn resolve_broadcasts_counts_and_estimates() {
        let clean = smooth(&[200], 10);
        let none = |s: &str| s.parse::<NoiseSpec>().unwrap().resolve(&clean).unwrap();
        assert_eq!(none("0"), None);
        assert_eq!(none("0,0,0"), None);
        assert_eq!(none("auto"), None);
        assert_eq!(none("0.01"), Some(vec![0.01; 3]));
        assert_eq!(none("1,0,3"), Some(vec![1.0, 0.0, 3.0]));
        let e = NoiseSpec::Sigma(vec![0.1, 0.2])
            .resolve(&clean)
            .unwrap_err();
        assert_eq!(
            e,
            NoiseError::Count {
                expected: 3,
                found: 2
            }
        );
        assert!(
            e.to_string().contains("2 σ values") && e.to_string().contains("dimension 3"),
            "{e}"
        );
        let truth: Vec<f64> = estimate_noise(&clean)
            .scale
            .iter()
            .map(|s| 1e-3 * s)
            .collect();
        let data = noisy(&clean, &truth, 11);
        let auto = NoiseSpec::Auto.resolve(&data).unwrap().unwrap();
        assert_eq!(auto, estimate_noise(&data).sigma);
    }
}
