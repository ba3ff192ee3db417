//! Training configurations: what a run learns ([`Method`]) and how
//! ([`TrainConfig`]), checked once, here, by [`TrainConfig::validate`].
//!
//! A [`Method`] carries exactly the settings its objective reads: DLNN its
//! loss and input map ([`DlnnConfig`]), SymDLNN those plus its symmetry
//! search ([`SymmetryConfig`]), the LNN its data mode ([`LnnConfig`]). The
//! stored form (`model.json`'s `training`) keeps the flat layout of earlier
//! versions, so every model file written before still loads.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::invariant::BuiltIn;
use super::parametrisation::{check_angle_indices, ParamError, Parametrisation};
use super::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis};
use crate::data::noise::NoiseSpec;
use crate::data::Dataset;
use crate::nn::{Activation, Mlp, NnError, Schedule};

/// Which DLNN loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// The paper's, exactly.
    Paper,
    /// Scale-invariant, standardised inputs, kinetic prior (the default).
    Robust,
}

/// Where `J` (degeneracy term, barrier) is evaluated: at every K-th training
/// pair. Stored as a number, 0 meaning [`JacobianStride::Auto`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "usize", into = "usize")]
pub enum JacobianStride {
    /// `⌊pairs / 20⌋` clamped to `1 ..= 10` (the robust recipe's default).
    Auto,
    /// Every K-th pair (`K = 1`: all pairs, the paper recipe's default).
    Every(NonZeroUsize),
}

impl JacobianStride {
    /// The automatic stride is at most this …
    pub const AUTO_MAX_STRIDE: usize = 10;
    /// … while keeping at least this many pairs with `J`.
    pub const AUTO_MIN_JACOBIAN_PAIRS: usize = 20;

    /// Every pair.
    pub const ALL: Self = Self::Every(NonZeroUsize::MIN);

    /// The stride for `pairs` training pairs.
    pub fn resolve(self, pairs: usize) -> NonZeroUsize {
        match self {
            Self::Auto => {
                let k = (pairs / Self::AUTO_MIN_JACOBIAN_PAIRS).clamp(1, Self::AUTO_MAX_STRIDE);
                NonZeroUsize::new(k).unwrap_or(NonZeroUsize::MIN)
            }
            Self::Every(k) => k,
        }
    }
}

impl From<usize> for JacobianStride {
    fn from(k: usize) -> Self {
        NonZeroUsize::new(k).map_or(Self::Auto, Self::Every)
    }
}

impl From<JacobianStride> for usize {
    fn from(s: JacobianStride) -> usize {
        match s {
            JacobianStride::Auto => 0,
            JacobianStride::Every(k) => k.get(),
        }
    }
}

impl FromStr for JacobianStride {
    type Err = ConfigError;
    /// `auto` or a stride `K ≥ 1`.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            k => k
                .parse::<NonZeroUsize>()
                .map(Self::Every)
                .map_err(|_| ConfigError::Parse(format!("'{s}' is not auto or a stride ≥ 1"))),
        }
    }
}

impl fmt::Display for JacobianStride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Every(k) => write!(f, "{k}"),
        }
    }
}

/// Settings of the DLNN loss.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DlnnLoss {
    /// The recipe.
    pub recipe: Recipe,
    /// Weight `w` of the paper's degeneracy term.
    pub degeneracy_weight: f64,
    /// Power `m` of `d` in the paper's degeneracy term (1 or 2).
    pub degeneracy_power: u32,
    /// Sigmoid slope `κ` of the paper's degeneracy term.
    pub kappa: f64,
    /// Where `J` is evaluated (files without it evaluated every pair).
    #[serde(default = "all_pairs")]
    pub jacobian_every: JacobianStride,
}

fn all_pairs() -> JacobianStride {
    JacobianStride::ALL
}

impl DlnnLoss {
    /// Defaults of a recipe: `w = 1`, `m = 1`, `κ = 0.01`; `J` at every pair
    /// (paper) or at the automatic stride (robust).
    pub fn new(recipe: Recipe) -> Self {
        Self {
            recipe,
            degeneracy_weight: 1.0,
            degeneracy_power: 1,
            kappa: 0.01,
            jacobian_every: match recipe {
                Recipe::Paper => JacobianStride::ALL,
                Recipe::Robust => JacobianStride::Auto,
            },
        }
    }
}

/// The settings a DLNN (and SymDLNN) objective reads.
#[derive(Clone, Debug, PartialEq)]
pub struct DlnnConfig {
    /// The loss (its recipe among them).
    pub loss: DlnnLoss,
    /// Add `h|v|²/2` to `Ld` (robust recipe).
    pub kinetic_prior: bool,
    /// Symmetrise `Ld` under time reversal.
    pub time_reversible: bool,
    /// Angle coordinates: `Ld` periodic in them (robust recipe).
    pub angles: Vec<usize>,
    /// Symmetries built into `Ld` (robust recipe): it is invariant under them by construction.
    pub built_in: Option<BuiltInConfig>,
    /// Observation noise: with noise, latent positions are trained with the
    /// network ([`super::latent`]; robust recipe, affine input map).
    pub noise: NoiseSpec,
}

/// Symmetries built into `Ld`, and where they came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuiltInConfig {
    /// The symmetries.
    pub symmetry: BuiltIn,
    /// Where they came from: `declared` (`train --symmetry`) or the
    /// discovery they were taken from.
    pub source: String,
}

impl DlnnConfig {
    /// A recipe's defaults: the kinetic prior with the robust recipe, no
    /// time reversal, no angles.
    pub fn new(recipe: Recipe) -> Self {
        Self {
            loss: DlnnLoss::new(recipe),
            kinetic_prior: recipe == Recipe::Robust,
            time_reversible: false,
            angles: vec![],
            built_in: None,
            noise: NoiseSpec::Off,
        }
    }

    /// The loss recipe.
    pub fn recipe(&self) -> Recipe {
        self.loss.recipe
    }

    /// The parametrisation this configuration gives on `data` (inputs
    /// standardised by the data for the robust recipe).
    pub fn parametrisation(&self, data: &Dataset) -> Result<Parametrisation, ConfigError> {
        let (n, h) = (data.n, data.dt);
        let q: Vec<f64> = data
            .trajectories
            .iter()
            .flat_map(|t| t.q.iter().copied())
            .collect();
        let p = match self.recipe() {
            Recipe::Paper => Parametrisation {
                time_reversible: self.time_reversible,
                ..Parametrisation::raw(n, h)
            },
            Recipe::Robust => {
                let mut v = Vec::new();
                for t in &data.trajectories {
                    for k in 0..t.len() - 1 {
                        let (a, b) = (t.position(k), t.position(k + 1));
                        v.extend(a.iter().zip(b).map(|(x, y)| (y - x) / h));
                    }
                }
                Parametrisation::midpoint_velocity(
                    n,
                    h,
                    &q,
                    &v,
                    self.kinetic_prior,
                    self.time_reversible,
                )
            }
        };
        let p = if self.angles.is_empty() {
            p
        } else {
            p.with_angles(self.angles.clone(), &q)?
        };
        let Some(b) = &self.built_in else {
            return Ok(p);
        };
        let mut pairs = Vec::new();
        for t in &data.trajectories {
            for k in 0..t.len() - 1 {
                pairs.extend_from_slice(t.position(k));
                pairs.extend_from_slice(t.position(k + 1));
            }
        }
        Ok(p.with_built_in(b.symmetry.clone(), &pairs)?)
    }

    /// Refuse settings and data a DLNN cannot train on.
    fn validate(&self, data: &Dataset) -> Result<(), ConfigError> {
        if data.trajectories.iter().all(|t| t.len() < 3) {
            return Err(ConfigError::TooShort);
        }
        let loss = &self.loss;
        if !matches!(loss.degeneracy_power, 1 | 2) {
            return Err(ConfigError::DegeneracyPower(loss.degeneracy_power));
        }
        for (name, x) in [
            ("--degeneracy-weight", loss.degeneracy_weight),
            ("kappa", loss.kappa),
        ] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(ConfigError::NotNonNegative(name, x));
            }
        }
        if self.recipe() == Recipe::Paper && self.kinetic_prior {
            return Err(ConfigError::PaperKineticPrior);
        }
        if !self.angles.is_empty() {
            if self.recipe() == Recipe::Paper {
                return Err(ParamError::AnglesNeedRobust.into());
            }
            check_angle_indices(&self.angles, data.n)?;
            check_unwrapped(&self.angles, data)?;
        }
        if let Some(b) = &self.built_in {
            if self.recipe() == Recipe::Paper {
                return Err(ConfigError::BuiltInNeedsRobust);
            }
            let s = &b.symmetry;
            if s.dim() != data.n
                || s.rest
                    .iter()
                    .chain(&s.translations)
                    .any(|v| v.len() != data.n)
            {
                return Err(ConfigError::BuiltInDimension { n: data.n });
            }
            s.check_angles(&self.angles)
                .map_err(|e| ParamError::BuiltIn(e.to_string()))?;
        }
        self.check_noise(data)
    }

    /// Noise needs the robust recipe, an input map with position gradients
    /// (no angles unless a symmetry is built in), and values that fit the
    /// data.
    fn check_noise(&self, data: &Dataset) -> Result<(), ConfigError> {
        if self.noise == NoiseSpec::Off {
            return Ok(());
        }
        if self.recipe() == Recipe::Paper {
            return Err(ConfigError::NoiseNeeds("the robust recipe"));
        }
        if !self.angles.is_empty() && self.built_in.is_none() {
            return Err(ConfigError::NoiseNeeds(
                "inputs without --angles, unless a symmetry is built in (--symmetry): the standardised map's angle inputs have no position gradient",
            ));
        }
        self.noise.resolve(data)?;
        Ok(())
    }
}

/// Where the LNN's velocities and accelerations come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LnnData {
    /// `q̇`, `q̈` by central differences of positions (what DLNN gets).
    Positions,
    /// `q̇` from the file's velocities, `q̈` from the true system.
    Truth,
    /// The published SymDLNN code's protocol: `(q, p)` taken as `(q, q̇)`.
    Reference,
}

/// Settings of the LNN baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LnnConfig {
    /// Where velocities and accelerations come from.
    pub data: LnnData,
    /// The true system, for `truth` and `reference` data.
    pub system: Option<String>,
    /// Standardise `(q, q̇)` inputs (the reference LNN did not).
    pub standardise: bool,
    /// Add `½|q̇|²` to the learned `L`.
    #[serde(default)]
    pub kinetic_prior: bool,
}

/// Settings of the shaping term (SymDLNN's symmetry term while training).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapingConfig {
    /// `λ`.
    pub weight: f64,
    /// The term is added from this epoch on (before: reported, not trained).
    pub warmup: usize,
}

/// The paper's trainable-coefficient solver: its constants and initial guess.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoefficientConfig {
    /// Weight `α` of `(|c_j|² − 1)²`.
    pub alpha: f64,
    /// Weight `β` of `⟨c_j, c_k⟩²`.
    pub beta: f64,
    /// The initial coefficients, `K × len` row-major (in the basis).
    pub init: Vec<f64>,
    /// Where they came from (`random`, `cartpend`, `kepler`, `given`).
    pub init_name: String,
}

/// Where the paper solver's initial coefficients come from.
#[derive(Clone, Debug, PartialEq)]
pub enum CoefficientInit {
    /// `K` random unit vectors (ChaCha8 from the seed).
    Random,
    /// The paper's guess for a system (`cartpend` or `kepler`).
    PaperGuess(&'static str),
    /// `K × len` numbers, row-major.
    Given(Vec<f64>),
}

impl FromStr for CoefficientInit {
    type Err = ConfigError;
    /// `random`, `cartpend`, `kepler` or comma-separated numbers.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "random" => return Ok(Self::Random),
            "cartpend" => return Ok(Self::PaperGuess("cartpend")),
            "kepler" => return Ok(Self::PaperGuess("kepler")),
            _ => {}
        }
        s.split(',')
            .map(|x| {
                x.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        ConfigError::Parse(format!(
                            "'{x}' is not a finite number (or use random, cartpend, kepler)"
                        ))
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self::Given)
    }
}

impl CoefficientInit {
    /// The initial coefficients of `k` generators in `basis` (dimension `n`):
    /// random ones from ChaCha8 `seed`, the paper's guess (one affine
    /// generator in dimension 2), or the given numbers.
    pub fn resolve(
        &self,
        basis: SymmetryBasis,
        k: usize,
        n: usize,
        seed: u64,
    ) -> Result<(Vec<f64>, String), ConfigError> {
        Ok(match self {
            Self::Random => (
                CoefficientConfig::random(k, basis.len(n), seed),
                "random".into(),
            ),
            Self::PaperGuess(system) => {
                if basis != SymmetryBasis::Affine || n != 2 || k != 1 {
                    return Err(ConfigError::PaperGuess {
                        system,
                        basis,
                        n,
                        k,
                    });
                }
                let guess = CoefficientConfig::paper_guess(system).unwrap_or_default();
                (guess, system.to_string())
            }
            Self::Given(values) => (values.clone(), "given".into()),
        })
    }
}

impl CoefficientConfig {
    /// The paper's initial guesses in the affine basis (`vec(M)` row-major,
    /// then `w`), by system name.
    pub fn paper_guess(system: &str) -> Option<Vec<f64>> {
        match system {
            "cartpend" => Some(vec![0.1, 0.1, 0.1, 0.1, 1.5, 0.5]),
            "kepler" => Some(vec![0.1, 0.807, -0.607, 0.1, 0.1, 0.1]),
            _ => None,
        }
    }

    /// `k` random unit coefficient vectors of length `len` (standard normal
    /// entries, normalised) from a ChaCha8 `seed` (stream 3).
    pub fn random(k: usize, len: usize, seed: u64) -> Vec<f64> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(3);
        let mut c: Vec<f64> = (0..k * len)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        for cj in c.chunks_exact_mut(len) {
            let norm = cj.iter().map(|x| x * x).sum::<f64>().sqrt();
            cj.iter_mut().for_each(|x| *x /= norm);
        }
        c
    }
}

/// Settings of symmetry discovery (SymDLNN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SymmetryConfig {
    /// Number of generators `K`.
    pub generators: usize,
    /// The search space.
    pub basis: SymmetryBasis,
    /// The evaluation pairs of the null space and the shaping term.
    pub points: EvaluationPoints,
    /// Shape the network towards `K` generators while it learns (`None`:
    /// discovery after training only).
    #[serde(default)]
    pub shaping: Option<ShapingConfig>,
    /// How the generators are found after training (models written before
    /// this field existed used the null space of the learned `Ld`).
    #[serde(default)]
    pub solver: DiscoverySolver,
    /// The paper's solver: its constants and initial guess (required by it).
    #[serde(default)]
    pub coefficients: Option<CoefficientConfig>,
    /// Train again with the discovered generators built in, when the data
    /// identify them (two stages; see [`super::build_in`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub build_in: bool,
}

/// `K` generators must fit the search space: `1 ≤ K ≤` its size in dimension `n`.
pub fn check_generator_count(basis: SymmetryBasis, k: usize, n: usize) -> Result<(), ConfigError> {
    let len = basis.len(n);
    if k == 0 || k > len {
        return Err(ConfigError::GeneratorCount { len, basis, n });
    }
    Ok(())
}

impl SymmetryConfig {
    /// Refuse a search the data's dimension `n` cannot hold, and a paper
    /// solver without what it trains.
    fn validate(&self, n: usize) -> Result<(), ConfigError> {
        let (basis, k) = (self.basis, self.generators);
        check_generator_count(basis, k, n)?;
        if let Some(s) = self.shaping {
            if !(s.weight.is_finite() && s.weight > 0.0) {
                return Err(ConfigError::NotNonNegative("--sym-weight", s.weight));
            }
        }
        let paper = self.solver == DiscoverySolver::Paper;
        if self.build_in && paper {
            return Err(ConfigError::BuildInPaper);
        }
        match (&self.coefficients, paper) {
            (None, false) => Ok(()),
            (Some(_), false) => Err(ConfigError::CoefficientsWithoutPaper),
            (None, true) => Err(ConfigError::PaperNeedsCoefficients),
            (Some(_), true) if self.shaping.is_none() => Err(ConfigError::PaperNeedsWeight),
            (Some(c), true) => {
                let len = basis.len(n);
                if c.init.len() != k * len {
                    return Err(ConfigError::CoefficientCount {
                        given: c.init.len(),
                        k,
                        len,
                    });
                }
                if c.init
                    .chunks_exact(len)
                    .any(|g| g.iter().all(|x| *x == 0.0))
                {
                    return Err(ConfigError::ZeroGenerator);
                }
                for (name, x) in [("--sym-alpha", c.alpha), ("--sym-beta", c.beta)] {
                    if !(x.is_finite() && x >= 0.0) {
                        return Err(ConfigError::NotNonNegative(name, x));
                    }
                }
                Ok(())
            }
        }
    }
}

/// What a run learns, with the settings that method reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// A discrete Lagrangian neural network.
    Dlnn(DlnnConfig),
    /// DLNN, then (or while training) discovery of its symmetries.
    SymDlnn {
        /// The DLNN settings.
        dlnn: DlnnConfig,
        /// The symmetry search.
        symmetry: SymmetryConfig,
    },
    /// The Lagrangian neural network baseline `L(q, q̇)`.
    Lnn(LnnConfig),
}

/// The name of a [`Method`] (`dlnn`, `symdlnn`, `lnn` in files and flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    /// [`Method::Dlnn`].
    Dlnn,
    /// [`Method::SymDlnn`].
    SymDlnn,
    /// [`Method::Lnn`].
    Lnn,
}

impl MethodKind {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dlnn => "dlnn",
            Self::SymDlnn => "symdlnn",
            Self::Lnn => "lnn",
        }
    }

    /// The epochs of a run of this method whose epochs are not given:
    /// [`super::control::default_epochs`] with minibatches `batch`, and
    /// full-batch epochs for the LNN (it trains full batch whatever the
    /// batch size).
    pub fn default_epochs(self, pairs: usize, batch: super::control::BatchSize) -> usize {
        let batch = match self {
            Self::Lnn => super::control::BatchSize::Full,
            Self::Dlnn | Self::SymDlnn => batch,
        };
        super::control::default_epochs(pairs, batch)
    }

    /// The name in a report's tables (`DLNN`, `SymDLNN`, `LNN`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Dlnn => "DLNN",
            Self::SymDlnn => "SymDLNN",
            Self::Lnn => "LNN",
        }
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Method {
    /// Its name.
    pub fn kind(&self) -> MethodKind {
        match self {
            Self::Dlnn(_) => MethodKind::Dlnn,
            Self::SymDlnn { .. } => MethodKind::SymDlnn,
            Self::Lnn(_) => MethodKind::Lnn,
        }
    }

    /// The DLNN settings (DLNN and SymDLNN).
    pub fn dlnn(&self) -> Option<&DlnnConfig> {
        match self {
            Self::Dlnn(d) | Self::SymDlnn { dlnn: d, .. } => Some(d),
            Self::Lnn(_) => None,
        }
    }

    /// Mutable [`Method::dlnn`].
    pub fn dlnn_mut(&mut self) -> Option<&mut DlnnConfig> {
        match self {
            Self::Dlnn(d) | Self::SymDlnn { dlnn: d, .. } => Some(d),
            Self::Lnn(_) => None,
        }
    }

    /// The symmetry search (SymDLNN).
    pub fn symmetry(&self) -> Option<&SymmetryConfig> {
        match self {
            Self::SymDlnn { symmetry, .. } => Some(symmetry),
            _ => None,
        }
    }

    /// Whether this is a two-stage SymDLNN that trains a second model with
    /// its discovered generators built in ([`SymmetryConfig::build_in`]).
    pub fn builds_in(&self) -> bool {
        self.symmetry().is_some_and(|s| s.build_in)
    }

    /// The LNN settings.
    pub fn lnn(&self) -> Option<&LnnConfig> {
        match self {
            Self::Lnn(l) => Some(l),
            _ => None,
        }
    }

    /// The coordinates the network sees as angles (none for the LNN).
    pub fn angles(&self) -> &[usize] {
        self.dlnn().map_or(&[], |d| &d.angles)
    }
}

/// A learning-rate schedule by name, completed by the initial rate and the
/// number of epochs ([`ScheduleSpec::schedule`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduleSpec {
    /// Cosine decay from the rate to `1e-5` over the run (the robust default).
    Cosine,
    /// The initial rate throughout (the paper's default).
    Constant,
    /// The published code's schedule (see [`Schedule::Reference`]).
    Reference,
    /// The rate until the first boundary, then each value in turn.
    Steps {
        /// Epochs at which the rate changes, increasing.
        boundaries: Vec<usize>,
        /// The rates from each boundary on.
        values: Vec<f64>,
    },
}

impl ScheduleSpec {
    /// The forms [`ScheduleSpec::from_str`] reads, for messages.
    pub const FORMS: &'static str = "cosine, constant, reference, steps:E=LR,…";

    /// The default of a recipe: cosine (robust) or constant (paper).
    pub fn default_for(recipe: Recipe) -> Self {
        match recipe {
            Recipe::Robust => Self::Cosine,
            Recipe::Paper => Self::Constant,
        }
    }

    /// The schedule starting at `lr` for a run of `epochs`.
    pub fn schedule(&self, lr: f64, epochs: usize) -> Schedule {
        match self {
            Self::Cosine => Schedule::Cosine {
                lr,
                lr_min: 1e-5,
                epochs,
            },
            Self::Constant => Schedule::Constant { lr },
            Self::Reference => Schedule::Reference,
            Self::Steps { boundaries, values } => Schedule::Steps {
                lr,
                boundaries: boundaries.clone(),
                values: values.clone(),
            },
        }
    }
}

impl FromStr for ScheduleSpec {
    type Err = ConfigError;
    /// `cosine`, `constant`, `reference` or `steps:E1=LR1,E2=LR2,…`.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let bad = |m: String| ConfigError::Parse(m);
        match s {
            "cosine" => return Ok(Self::Cosine),
            "constant" => return Ok(Self::Constant),
            "reference" => return Ok(Self::Reference),
            _ => {}
        }
        let list = s
            .strip_prefix("steps:")
            .ok_or_else(|| bad(format!("unknown schedule '{s}' ({})", Self::FORMS)))?;
        let (mut boundaries, mut values) = (Vec::new(), Vec::new());
        for item in list.split(',') {
            let (e, v) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("'{item}' is not EPOCH=LR")))?;
            let e: usize = e
                .trim()
                .parse()
                .map_err(|_| bad(format!("bad epoch '{e}'")))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| bad(format!("bad rate '{v}'")))?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(format!("rate {v} must be ≥ 0")));
            }
            boundaries.push(e);
            values.push(v);
        }
        if boundaries.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("epochs must increase".into()));
        }
        Ok(Self::Steps { boundaries, values })
    }
}

/// Everything that defines a training run (stored in `model.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredConfig", into = "StoredConfig")]
pub struct TrainConfig {
    /// What is learned, with its settings.
    pub method: Method,
    /// Training epochs (full batch).
    pub epochs: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Seed of the network initialisation and of every random draw (ChaCha8).
    pub seed: u64,
    /// Threads the batch is split over.
    pub threads: usize,
    /// Step rejection threshold on the loss (see [`super::StepGuard`]); the
    /// robust recipe's default is 3.0 (its loss is logarithmic), the
    /// paper's and the LNN's none.
    pub step_guard: Option<f64>,
    /// Minibatches, validation, kept model, early stop, time budget.
    pub control: super::control::TrainControl,
}

impl TrainConfig {
    /// A DLNN with a recipe's defaults for `epochs` epochs: the paper's
    /// network (3 × 128 softplus); robust: cosine 3e−3 → 1e−5, kinetic
    /// prior, step guard 3; paper: constant 3e−3.
    pub fn new(recipe: Recipe, epochs: usize) -> Self {
        Self {
            method: Method::Dlnn(DlnnConfig::new(recipe)),
            epochs,
            hidden: vec![128, 128, 128],
            activation: Activation::Softplus,
            schedule: ScheduleSpec::default_for(recipe).schedule(3e-3, epochs),
            seed: 0,
            threads: 2,
            step_guard: (recipe == Recipe::Robust).then_some(3.0),
            control: Default::default(),
        }
    }

    /// The LNN baseline for `epochs` epochs: the same network and cosine
    /// schedule, no step guard (its loss is not logarithmic).
    pub fn lnn(lnn: LnnConfig, epochs: usize) -> Self {
        Self {
            method: Method::Lnn(lnn),
            step_guard: None,
            ..Self::new(Recipe::Robust, epochs)
        }
    }

    /// This DLNN configuration as SymDLNN with `symmetry`; an LNN
    /// configuration is refused.
    pub fn with_symmetry(mut self, symmetry: SymmetryConfig) -> Result<Self, ConfigError> {
        let dlnn = self
            .method
            .dlnn()
            .cloned()
            .ok_or(ConfigError::SymmetryNeedsDlnn)?;
        self.method = Method::SymDlnn { dlnn, symmetry };
        Ok(self)
    }

    /// The DLNN settings (DLNN and SymDLNN).
    pub fn dlnn(&self) -> Option<&DlnnConfig> {
        self.method.dlnn()
    }

    /// Mutable [`TrainConfig::dlnn`].
    pub fn dlnn_mut(&mut self) -> Option<&mut DlnnConfig> {
        self.method.dlnn_mut()
    }

    /// The network `d → hidden… → 1` initialised from the seed (`d` the
    /// parametrisation's input dimension).
    pub fn fresh_network(&self, data: &Dataset) -> Result<Mlp, NnError> {
        let built_in = self
            .dlnn()
            .and_then(|d| d.built_in.as_ref())
            .map(|b| &b.symmetry);
        let d = super::parametrisation::input_dim(data.n, self.method.angles().len(), built_in);
        Mlp::new(d, &self.hidden, self.activation, self.seed)
    }

    /// Refuse a configuration that cannot train on `data`: every check of
    /// every setting, in one place, before anything is built or written.
    pub fn validate(&self, data: &Dataset) -> Result<(), ConfigError> {
        if self.epochs == 0 {
            return Err(ConfigError::NoEpochs);
        }
        if self.threads == 0 {
            return Err(ConfigError::NoThreads);
        }
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(ConfigError::Widths);
        }
        check_schedule(&self.schedule)?;
        self.check_sizes(data)?;
        self.control.check(data.trajectories.len())?;
        let c = &self.control;
        if matches!(self.method, Method::Lnn(_))
            && (c.validation.is_some()
                || matches!(c.batch_size, super::control::BatchSize::Pairs(_))
                    && c.batch_size.resolve(data.pairs()).is_some())
        {
            return Err(super::control::ControlError(
                "minibatches and --validation are for DLNN and SymDLNN (the LNN trains full batch)"
                    .into(),
            )
            .into());
        }
        if let Some(g) = self.step_guard {
            if !(g.is_finite() && g > 0.0) {
                return Err(ConfigError::NotNonNegative("step guard", g));
            }
        }
        match &self.method {
            Method::Dlnn(d) => d.validate(data),
            Method::SymDlnn { dlnn, symmetry } => {
                dlnn.validate(data)?;
                if dlnn.noise != NoiseSpec::Off && symmetry.shaping.is_some() {
                    return Err(ConfigError::NoiseNeeds(
                        "no symmetry term in training (--sym-weight 0, a solver other than paper): the term is not differentiated in the latent positions",
                    ));
                }
                if let Some(s) = symmetry.shaping.filter(|s| s.warmup >= self.epochs) {
                    return Err(ConfigError::Warmup {
                        warmup: s.warmup,
                        epochs: self.epochs,
                    });
                }
                symmetry.validate(data.n)
            }
            Method::Lnn(l) => match &l.system {
                Some(name) => crate::mechanics::System::from_name(name)
                    .map(|_| ())
                    .map_err(|e| ConfigError::System(e.to_string())),
                None => Ok(()),
            },
        }
    }
}

impl TrainConfig {
    /// Refuse a network or a symmetry search whose memory (computed with
    /// checked arithmetic) exceeds the machine's, before anything is allocated.
    fn check_sizes(&self, data: &Dataset) -> Result<(), ConfigError> {
        let built_in = self
            .dlnn()
            .and_then(|d| d.built_in.as_ref())
            .map(|b| &b.symmetry);
        let d = super::parametrisation::input_dim(data.n, self.method.angles().len(), built_in);
        // Parameters, gradient, Adam's two moments and the step guard's copies.
        let params = Mlp::param_count(d, &self.hidden);
        crate::sanity::check_memory(
            &format!("--hidden {:?} (training)", self.hidden),
            params.and_then(|p| p.checked_mul(8)),
            std::mem::size_of::<f64>(),
        )?;
        if let Some(sym) = self.method.symmetry() {
            let len = sym.basis.len(data.n);
            // The pairs, and a row of the symmetry matrix per pair.
            let per_pair = 2 * data.n + len * data.n.max(1);
            crate::sanity::check_memory(
                &format!("--sym-points box:{}", sym.points.boxed),
                sym.points.boxed.checked_mul(per_pair),
                4 * std::mem::size_of::<f64>(),
            )?;
        }
        Ok(())
    }
}

/// Rates finite and ≥ 0 (the initial one > 0), boundaries increasing.
fn check_schedule(s: &Schedule) -> Result<(), ConfigError> {
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    let good = match s {
        Schedule::Constant { lr } => ok(*lr) && *lr > 0.0,
        Schedule::Cosine { lr, lr_min, .. } => ok(*lr) && *lr > 0.0 && ok(*lr_min),
        Schedule::Reference => true,
        Schedule::Steps {
            lr,
            boundaries,
            values,
        } => {
            ok(*lr)
                && *lr > 0.0
                && values.iter().all(|v| ok(*v))
                && !values.is_empty()
                && values.len() == boundaries.len()
                && boundaries.windows(2).all(|w| w[0] < w[1])
        }
    };
    if good {
        Ok(())
    } else {
        Err(ConfigError::Schedule)
    }
}

/// Angle coordinates must be unwrapped: a step of more than π between
/// snapshots is a wrap (the velocity input would see a jump of 2π).
pub fn check_unwrapped(angles: &[usize], data: &Dataset) -> Result<(), ConfigError> {
    for (t, traj) in data.trajectories.iter().enumerate() {
        for k in 1..traj.len() {
            for &i in angles.iter().filter(|&&i| i < data.n) {
                let step = traj.position(k)[i] - traj.position(k - 1)[i];
                if step.abs() > std::f64::consts::PI {
                    return Err(ConfigError::Wrapped {
                        coordinate: i,
                        step,
                        snapshot: k,
                        trajectory: t,
                    });
                }
            }
        }
    }
    Ok(())
}

/// A configuration that cannot be trained, or a setting that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A setting's text does not parse.
    #[error("{0}")]
    Parse(String),
    /// A minibatch, validation or time-budget setting is out of range.
    #[error(transparent)]
    Control(#[from] super::control::ControlError),
    /// `epochs = 0`.
    #[error("--epochs must be at least 1")]
    NoEpochs,
    /// `threads = 0`.
    #[error("--threads must be at least 1")]
    NoThreads,
    /// No hidden layer, or one of width 0.
    #[error("--hidden: widths must be positive")]
    Widths,
    /// A schedule with a non-positive or non-finite rate, or boundaries out of order.
    #[error(
        "--schedule: rates must be finite (the first > 0, the rest ≥ 0) and epochs must increase"
    )]
    Schedule,
    /// No trajectory long enough for a DEL residual.
    #[error("no trajectory has 3 points")]
    TooShort,
    /// The paper's degeneracy power is 1 or 2.
    #[error("degeneracy power must be 1 or 2, got {0}")]
    DegeneracyPower(u32),
    /// A weight that must be a finite number ≥ 0 (> 0 for some).
    #[error("{0} must be a finite positive number, got {1}")]
    NotNonNegative(&'static str, f64),
    /// The paper's recipe has no kinetic prior.
    #[error("--kinetic-prior on belongs to the robust recipe (the paper's has none)")]
    PaperKineticPrior,
    /// A wrapped angle coordinate.
    #[error("angle coordinate {coordinate} jumps by {step:.3} between snapshots {} and {snapshot} of trajectory {trajectory}: unwrap it (e.g. numpy.unwrap) so that steps stay below π", snapshot - 1)]
    Wrapped {
        /// The coordinate.
        coordinate: usize,
        /// The step between the snapshots.
        step: f64,
        /// The later snapshot's index.
        snapshot: usize,
        /// The trajectory's index.
        trajectory: usize,
    },
    /// `--build-in` with the paper's solver (its coefficients are trained, not discovered on halves of the data).
    #[error("--build-in needs the variational or null-space solver")]
    BuildInPaper,
    /// Noise with a setting it does not work with.
    #[error("--noise needs {0}")]
    NoiseNeeds(&'static str),
    /// A noise level that does not fit the data.
    #[error(transparent)]
    Noise(#[from] crate::data::noise::NoiseError),
    /// Built-in symmetries with the paper's raw input map.
    #[error("--symmetry (a built-in symmetry) belongs to the robust recipe (the paper's feeds raw positions to the network)")]
    BuiltInNeedsRobust,
    /// Built-in symmetries of another dimension.
    #[error("the built-in symmetries are not of the data's dimension {n}")]
    BuiltInDimension {
        /// The data's dimension.
        n: usize,
    },
    /// A parametrisation setting (angle coordinates).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// `K` outside the search space.
    #[error("--symmetries must be between 1 and {len} (the {basis} basis in dimension {n})")]
    GeneratorCount {
        /// The basis size.
        len: usize,
        /// The basis.
        basis: SymmetryBasis,
        /// The dimension.
        n: usize,
    },
    /// The paper's solver trains its coefficients: it needs a weight.
    #[error("--sym-weight must be > 0 with --sym-solver paper (it trains the coefficients)")]
    PaperNeedsWeight,
    /// The paper's solver without initial coefficients.
    #[error("the paper's symmetry solver needs its initial coefficients (--sym-init)")]
    PaperNeedsCoefficients,
    /// Initial coefficients for another solver.
    #[error("--sym-init applies to --sym-solver paper only")]
    CoefficientsWithoutPaper,
    /// Initial coefficients of the wrong count.
    #[error("--sym-init: {given} values given, K × basis size = {k} × {len} = {} needed", k * len)]
    CoefficientCount {
        /// Values given.
        given: usize,
        /// Generators.
        k: usize,
        /// Basis size.
        len: usize,
    },
    /// A generator with all-zero initial coefficients.
    #[error("--sym-init: a generator's coefficients are all zero")]
    ZeroGenerator,
    /// The paper's guess used outside its setting.
    #[error("--sym-init {system}: the paper's guess is one affine generator in dimension 2 (got the {basis} basis, n = {n}, K = {k})")]
    PaperGuess {
        /// The system whose guess.
        system: &'static str,
        /// The basis asked for.
        basis: SymmetryBasis,
        /// The dimension.
        n: usize,
        /// The generators asked for.
        k: usize,
    },
    /// A symmetry search asked of the LNN.
    #[error("symmetry discovery applies to DLNN models (--method symdlnn), not the LNN")]
    SymmetryNeedsDlnn,
    /// An unknown system name.
    #[error("--system: {0}")]
    System(String),
    /// A checkpoint interval of 0 epochs.
    #[error("--checkpoint-every must be at least 1")]
    NoCheckpointInterval,
    /// A request larger than the machine's memory.
    #[error("{0}")]
    TooLarge(#[from] crate::sanity::SizeError),
    /// The shaping term's warm-up covers the whole run.
    #[error("--sym-warmup {warmup} must be less than --epochs {epochs} (the shaping term would never train)")]
    Warmup {
        /// The warm-up epochs.
        warmup: usize,
        /// The run's epochs.
        epochs: usize,
    },
}

/// Whether the noise setting is off (model files without noise omit it).
fn is_off(noise: &NoiseSpec) -> bool {
    *noise == NoiseSpec::Off
}

/// `model.json`'s flat layout of a [`TrainConfig`] (the layout of every
/// version so far).
#[derive(Serialize, Deserialize)]
struct StoredConfig {
    method: MethodKind,
    recipe: Recipe,
    epochs: usize,
    hidden: Vec<usize>,
    activation: Activation,
    schedule: Schedule,
    loss: DlnnLoss,
    kinetic_prior: bool,
    time_reversible: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    angles: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    built_in: Option<BuiltInConfig>,
    #[serde(default, skip_serializing_if = "is_off")]
    noise: NoiseSpec,
    seed: u64,
    threads: usize,
    #[serde(default)]
    step_guard: Option<f64>,
    #[serde(default)]
    symmetry: Option<SymmetryConfig>,
    #[serde(default)]
    lnn: Option<LnnConfig>,
    /// Absent in files from before minibatches: full batch.
    #[serde(
        default = "super::control::TrainControl::legacy",
        skip_serializing_if = "super::control::TrainControl::is_legacy"
    )]
    control: super::control::TrainControl,
}

impl TryFrom<StoredConfig> for TrainConfig {
    type Error = ConfigError;
    fn try_from(s: StoredConfig) -> Result<Self, ConfigError> {
        let dlnn = DlnnConfig {
            loss: s.loss,
            kinetic_prior: s.kinetic_prior,
            time_reversible: s.time_reversible,
            angles: s.angles,
            built_in: s.built_in,
            noise: s.noise,
        };
        let method = match (s.method, s.symmetry, s.lnn) {
            (MethodKind::Dlnn, _, _) => Method::Dlnn(dlnn),
            (MethodKind::SymDlnn, Some(symmetry), _) => Method::SymDlnn { dlnn, symmetry },
            (MethodKind::Lnn, _, Some(lnn)) => Method::Lnn(lnn),
            (kind, _, _) => {
                return Err(ConfigError::Parse(format!(
                    "method {kind} without its '{}' settings",
                    if kind == MethodKind::Lnn {
                        "lnn"
                    } else {
                        "symmetry"
                    }
                )))
            }
        };
        Ok(Self {
            method,
            epochs: s.epochs,
            hidden: s.hidden,
            activation: s.activation,
            schedule: s.schedule,
            seed: s.seed,
            threads: s.threads,
            step_guard: s.step_guard,
            control: s.control,
        })
    }
}

impl From<TrainConfig> for StoredConfig {
    fn from(c: TrainConfig) -> Self {
        let kind = c.method.kind();
        let (dlnn, symmetry, lnn) = match c.method {
            Method::Dlnn(d) => (d, None, None),
            Method::SymDlnn { dlnn, symmetry } => (dlnn, Some(symmetry), None),
            // The LNN's file keeps the robust defaults in the DLNN fields.
            Method::Lnn(l) => (
                DlnnConfig {
                    kinetic_prior: l.kinetic_prior,
                    ..DlnnConfig::new(Recipe::Robust)
                },
                None,
                Some(l),
            ),
        };
        Self {
            method: kind,
            recipe: dlnn.recipe(),
            epochs: c.epochs,
            hidden: c.hidden,
            activation: c.activation,
            schedule: c.schedule,
            loss: dlnn.loss,
            kinetic_prior: dlnn.kinetic_prior,
            time_reversible: dlnn.time_reversible,
            angles: dlnn.angles,
            built_in: dlnn.built_in,
            noise: dlnn.noise,
            seed: c.seed,
            threads: c.threads,
            step_guard: c.step_guard,
            symmetry,
            lnn,
            control: c.control,
        }
    }
}
