//! The mechanical systems shipped with symdlnn.
//!
//! Each system is a struct whose physical parameters are public fields
//! (defaults = the paper's where the paper has the system), whose Lagrangian
//! is written once generically (see [`Lagrangian`]), and which knows its
//! continuous point symmetries as affine generators `ξ(q) = M q + w`
//! (normalised so that `|vec(M)|² + |w|² = 1`).
//!
//! | name | q | L |
//! |---|---|---|
//! | `cartpend` | (s, φ) | `½(α φ̇² + 2β cos φ ṡ φ̇ + γ ṡ²) + D cos φ`, `α=m1 l²`, `β=m1 l`, `γ=m1+m2`, `D=−m1 g l` |
//! | `kepler` | (x, y) | `½ m2 (ẋ²+ẏ²) + G m1 m2 / r` |
//! | `oscillator` | x | `½ m ẋ² − ½ k x²` |
//! | `double-pendulum` | (θ1, θ2) | standard, angles from the downward vertical |
//! | `iso-oscillator` | (x, y) | `½ m |q̇|² − ½ k |q|²` |
//! | `free-particle` | (x, y) | `½ m |q̇|²` |
//! | `kepler3d` | (x, y, z) | `½ m2 |q̇|² + G m1 m2 / r` |
//!
//! and the zoo's five ([`super::zoo`]): `spherical-pendulum`,
//! `morse-chain`, `spring-pendulum`, `henon-heiles`, `magnetic-trap`.
//!
//! The paper's equation (17) writes the Kepler kinetic term as `½(ẋ²+ẏ²)`;
//! its published code, whose figures the paper shows, uses `½ m2 (ẋ²+ẏ²)`.
//! We follow the code.

use super::lagrangian::{Lagrangian, Scalar};
use super::zoo::ZooSystem;

/// An affine vector field `ξ(q) = M q + w` on `R^n` generating a one-parameter
/// group of point transformations.
#[derive(Clone, Debug, PartialEq)]
pub struct AffineGenerator {
    /// Human-readable description, e.g. "translation in s".
    pub label: String,
    /// `M`, row-major `n × n`.
    pub m: Vec<f64>,
    /// `w`, length `n`.
    pub w: Vec<f64>,
}

impl AffineGenerator {
    /// A generator from `M` and `w`, normalised to unit coefficient norm.
    pub fn new(label: &str, m: Vec<f64>, w: Vec<f64>) -> Self {
        let norm = m.iter().chain(&w).map(|a| a * a).sum::<f64>().sqrt();
        let s = if norm > 0.0 { 1.0 / norm } else { 1.0 };
        Self {
            label: label.to_string(),
            m: m.iter().map(|a| a * s).collect(),
            w: w.iter().map(|a| a * s).collect(),
        }
    }

    /// Dimension `n`.
    pub fn dim(&self) -> usize {
        self.w.len()
    }

    /// `ξ(q) = M q + w`.
    pub fn apply(&self, q: &[f64]) -> Vec<f64> {
        let n = self.dim();
        (0..n)
            .map(|i| self.w[i] + (0..n).map(|j| self.m[i * n + j] * q[j]).sum::<f64>())
            .collect()
    }

    /// Coefficient vector `(vec(M), w)` (row-major `M`), length `n² + n`.
    pub fn coefficients(&self) -> Vec<f64> {
        self.m.iter().chain(&self.w).copied().collect()
    }

    /// The Noether quantity `I = ξ(q) · p` of momentum `p` at `q`.
    pub fn noether(&self, q: &[f64], p: &[f64]) -> f64 {
        self.apply(q).iter().zip(p).map(|(a, b)| a * b).sum()
    }
}

/// A vector field `ξ` on configuration space: the infinitesimal generator
/// of a (possibly nonlinear) symmetry.
pub trait VectorField {
    /// `ξ(q)`.
    fn at(&self, q: &[f64]) -> Vec<f64>;

    /// The Noether quantity `I = ξ(q) · p` of momentum `p` at `q`.
    fn noether(&self, q: &[f64], p: &[f64]) -> f64 {
        self.at(q).iter().zip(p).map(|(a, b)| a * b).sum()
    }
}

impl VectorField for AffineGenerator {
    fn at(&self, q: &[f64]) -> Vec<f64> {
        self.apply(q)
    }
}

/// Cart with a pendulum (the paper's first system).
#[derive(Clone, Debug, PartialEq)]
pub struct CartPendulum {
    /// Mass of the pendulum bob (`α = m1 l²`, `β = m1 l`).
    pub m1: f64,
    /// Mass of the cart (`γ = m1 + m2`).
    pub m2: f64,
    /// Length of the pendulum.
    pub l: f64,
    /// Gravitational acceleration (`D = −m1 g l`).
    pub g: f64,
}
impl Default for CartPendulum {
    fn default() -> Self {
        Self {
            m1: 1.0,
            m2: 1.0,
            l: 1.0,
            g: 9.81,
        }
    }
}
impl Lagrangian for CartPendulum {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let (alpha, beta) = (self.m1 * self.l * self.l, self.m1 * self.l);
        let (gamma, d) = (self.m1 + self.m2, -self.m1 * self.g * self.l);
        let (sd, pd) = (v[0], v[1]);
        let c = q[1].cos();
        (pd * pd * alpha + c * sd * pd * (2.0 * beta) + sd * sd * gamma) * 0.5 + c * d
    }
}

/// Planar Kepler problem (the paper's second system), in the paper's scaled units.
#[derive(Clone, Debug, PartialEq)]
pub struct Kepler {
    /// Gravitational constant `G`.
    pub gravitational_constant: f64,
    /// Mass of the central body, fixed at the origin.
    pub m1: f64,
    /// Mass of the orbiting body (also the kinetic term's mass).
    pub m2: f64,
}
impl Default for Kepler {
    fn default() -> Self {
        Self {
            gravitational_constant: 6.673e-26,
            m1: 6e24,
            m2: 100.0,
        }
    }
}
impl Lagrangian for Kepler {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        kepler_lagrangian(self, q, v)
    }
}

fn kepler_lagrangian<D: Scalar>(k: &Kepler, q: &[D], v: &[D]) -> D {
    let v2 = v.iter().fold(D::from(0.0), |s, a| s + *a * *a);
    let r = q.iter().fold(D::from(0.0), |s, a| s + *a * *a).sqrt();
    v2 * (0.5 * k.m2) + r.recip() * (k.gravitational_constant * k.m1 * k.m2)
}

/// One-dimensional harmonic oscillator `½ m ẋ² − ½ k x²`.
#[derive(Clone, Debug, PartialEq)]
pub struct HarmonicOscillator {
    /// Mass `m`.
    pub mass: f64,
    /// Spring constant `k`.
    pub stiffness: f64,
}
impl Default for HarmonicOscillator {
    fn default() -> Self {
        Self {
            mass: 1.0,
            stiffness: 1.0,
        }
    }
}
impl Lagrangian for HarmonicOscillator {
    fn dim(&self) -> usize {
        1
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        v[0] * v[0] * (0.5 * self.mass) - q[0] * q[0] * (0.5 * self.stiffness)
    }
}

/// Planar double pendulum, angles from the downward vertical. No continuous
/// point symmetry.
#[derive(Clone, Debug, PartialEq)]
pub struct DoublePendulum {
    /// Mass of the upper bob.
    pub m1: f64,
    /// Mass of the lower bob.
    pub m2: f64,
    /// Length of the upper rod.
    pub l1: f64,
    /// Length of the lower rod.
    pub l2: f64,
    /// Gravitational acceleration.
    pub g: f64,
}
impl Default for DoublePendulum {
    fn default() -> Self {
        Self {
            m1: 1.0,
            m2: 1.0,
            l1: 1.0,
            l2: 1.0,
            g: 9.81,
        }
    }
}
impl Lagrangian for DoublePendulum {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let (m1, m2, l1, l2, g) = (self.m1, self.m2, self.l1, self.l2, self.g);
        let kin = v[0] * v[0] * (0.5 * (m1 + m2) * l1 * l1)
            + v[1] * v[1] * (0.5 * m2 * l2 * l2)
            + v[0] * v[1] * (q[0] - q[1]).cos() * (m2 * l1 * l2);
        kin + q[0].cos() * ((m1 + m2) * g * l1) + q[1].cos() * (m2 * g * l2)
    }
}

/// Planar isotropic oscillator `½ m |q̇|² − ½ k |q|²`: rotation symmetry.
#[derive(Clone, Debug, PartialEq)]
pub struct IsotropicOscillator {
    /// Mass `m`.
    pub mass: f64,
    /// Spring constant `k`, the same in every direction.
    pub stiffness: f64,
}
impl Default for IsotropicOscillator {
    fn default() -> Self {
        Self {
            mass: 1.0,
            stiffness: 1.0,
        }
    }
}
impl Lagrangian for IsotropicOscillator {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let v2 = v[0] * v[0] + v[1] * v[1];
        let q2 = q[0] * q[0] + q[1] * q[1];
        v2 * (0.5 * self.mass) - q2 * (0.5 * self.stiffness)
    }
}

/// Planar free particle `½ m |q̇|²`: two translations and a rotation.
#[derive(Clone, Debug, PartialEq)]
pub struct FreeParticle {
    /// Mass `m`.
    pub mass: f64,
}
impl Default for FreeParticle {
    fn default() -> Self {
        Self { mass: 1.0 }
    }
}
impl Lagrangian for FreeParticle {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, _q: &[D], v: &[D]) -> D {
        (v[0] * v[0] + v[1] * v[1]) * (0.5 * self.mass)
    }
}

/// Kepler problem in three dimensions: symmetry group SO(3).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Kepler3d {
    /// The constant and masses, as in the planar problem.
    pub planar: Kepler,
}
impl Lagrangian for Kepler3d {
    fn dim(&self) -> usize {
        3
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        kepler_lagrangian(&self.planar, q, v)
    }
}

/// A box of initial conditions `q0 ∈ [q_lo, q_hi]`, `v0 ∈ [v_lo, v_hi]`
/// (component-wise, uniform) from which several trajectories are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct InitialBox {
    /// Lower corner of the positions, length `n`.
    pub q_lo: Vec<f64>,
    /// Upper corner of the positions, length `n`.
    pub q_hi: Vec<f64>,
    /// Lower corner of the velocities, length `n`.
    pub v_lo: Vec<f64>,
    /// Upper corner of the velocities, length `n`.
    pub v_hi: Vec<f64>,
}

/// Default time grid of a system: kept step `dt`, `steps` kept steps and
/// `fine` integrator steps per kept step.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimeGrid {
    /// Time between kept snapshots.
    pub dt: f64,
    /// Number of kept steps (a trajectory has `steps + 1` snapshots).
    pub steps: usize,
    /// Integrator steps per kept step (the integrator's step is `dt / fine`).
    pub fine: usize,
}

/// Any of the shipped systems, chosen by name at run time.
#[derive(Clone, Debug, PartialEq)]
pub enum System {
    /// `cartpend`: the cart with a pendulum.
    CartPendulum(CartPendulum),
    /// `kepler`: the planar Kepler problem.
    Kepler(Kepler),
    /// `oscillator`: the one-dimensional harmonic oscillator.
    HarmonicOscillator(HarmonicOscillator),
    /// `double-pendulum`: the planar double pendulum.
    DoublePendulum(DoublePendulum),
    /// `iso-oscillator`: the planar isotropic oscillator.
    IsotropicOscillator(IsotropicOscillator),
    /// `free-particle`: the planar free particle.
    FreeParticle(FreeParticle),
    /// `kepler3d`: the Kepler problem in three dimensions.
    Kepler3d(Kepler3d),
    /// One of the zoo's systems (see [`super::zoo`]).
    Zoo(ZooSystem),
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            System::CartPendulum($s) => $e,
            System::Kepler($s) => $e,
            System::HarmonicOscillator($s) => $e,
            System::DoublePendulum($s) => $e,
            System::IsotropicOscillator($s) => $e,
            System::FreeParticle($s) => $e,
            System::Kepler3d($s) => $e,
            System::Zoo($s) => $e,
        }
    };
}

impl Lagrangian for System {
    fn dim(&self) -> usize {
        dispatch!(self, s => s.dim())
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        dispatch!(self, s => s.lagrangian(q, v))
    }
}

/// Error for an unknown system name.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown system '{name}' (known: {})", System::NAMES.join(", "))]
pub struct UnknownSystem {
    /// The name that was asked for.
    pub name: String,
}

impl System {
    /// The names accepted by [`System::from_name`].
    pub const NAMES: [&'static str; 12] = [
        "cartpend",
        "kepler",
        "oscillator",
        "double-pendulum",
        "iso-oscillator",
        "free-particle",
        "kepler3d",
        "spherical-pendulum",
        "morse-chain",
        "spring-pendulum",
        "henon-heiles",
        "magnetic-trap",
    ];

    /// The system with its default parameters.
    pub fn from_name(name: &str) -> Result<Self, UnknownSystem> {
        Ok(match name {
            "cartpend" => Self::CartPendulum(CartPendulum::default()),
            "kepler" => Self::Kepler(Kepler::default()),
            "oscillator" => Self::HarmonicOscillator(HarmonicOscillator::default()),
            "double-pendulum" => Self::DoublePendulum(DoublePendulum::default()),
            "iso-oscillator" => Self::IsotropicOscillator(IsotropicOscillator::default()),
            "free-particle" => Self::FreeParticle(FreeParticle::default()),
            "kepler3d" => Self::Kepler3d(Kepler3d::default()),
            other if ZooSystem::from_name(other).is_some() => {
                Self::Zoo(ZooSystem::from_name(other).expect("checked"))
            }
            _ => {
                return Err(UnknownSystem {
                    name: name.to_string(),
                })
            }
        })
    }

    /// The system's name (as accepted by [`System::from_name`]).
    pub fn name(&self) -> &'static str {
        match self {
            Self::CartPendulum(_) => "cartpend",
            Self::Kepler(_) => "kepler",
            Self::HarmonicOscillator(_) => "oscillator",
            Self::DoublePendulum(_) => "double-pendulum",
            Self::IsotropicOscillator(_) => "iso-oscillator",
            Self::FreeParticle(_) => "free-particle",
            Self::Kepler3d(_) => "kepler3d",
            Self::Zoo(z) => z.name(),
        }
    }

    /// One line on what the system is and its Lagrangian.
    pub fn description(&self) -> &'static str {
        match self {
            Self::CartPendulum(_) => "cart–pendulum, q=(s,φ): ½(αφ̇²+2β cosφ ṡφ̇+γṡ²)+D cosφ",
            Self::Kepler(_) => "planar Kepler, q=(x,y): ½m2|q̇|² + G m1 m2/r (paper's code units)",
            Self::HarmonicOscillator(_) => "harmonic oscillator, q=x: ½mẋ² − ½kx²",
            Self::DoublePendulum(_) => "double pendulum, q=(θ1,θ2) from the downward vertical",
            Self::IsotropicOscillator(_) => "planar isotropic oscillator: ½m|q̇|² − ½k|q|²",
            Self::FreeParticle(_) => "planar free particle: ½m|q̇|²",
            Self::Kepler3d(_) => "Kepler in 3-D, q=(x,y,z): ½m2|q̇|² + G m1 m2/r",
            Self::Zoo(z) => z.description(),
        }
    }

    /// Names of the coordinates, for axis labels.
    pub fn coordinate_names(&self) -> Vec<String> {
        let names: &[&str] = match self {
            Self::CartPendulum(_) => &["s", "φ"],
            Self::Kepler(_) | Self::IsotropicOscillator(_) | Self::FreeParticle(_) => &["x", "y"],
            Self::Kepler3d(_) => &["x", "y", "z"],
            Self::DoublePendulum(_) => &["θ1", "θ2"],
            Self::HarmonicOscillator(_) => &["x"],
            Self::Zoo(z) => z.coordinate_names(),
        };
        names.iter().map(|x| x.to_string()).collect()
    }

    /// Named physical parameters and their values.
    pub fn parameters(&self) -> Vec<(&'static str, f64)> {
        match self {
            Self::CartPendulum(s) => vec![("m1", s.m1), ("m2", s.m2), ("l", s.l), ("g", s.g)],
            Self::Kepler(s) | Self::Kepler3d(Kepler3d { planar: s }) => {
                vec![("G", s.gravitational_constant), ("m1", s.m1), ("m2", s.m2)]
            }
            Self::HarmonicOscillator(s) => vec![("m", s.mass), ("k", s.stiffness)],
            Self::DoublePendulum(s) => vec![
                ("m1", s.m1),
                ("m2", s.m2),
                ("l1", s.l1),
                ("l2", s.l2),
                ("g", s.g),
            ],
            Self::IsotropicOscillator(s) => vec![("m", s.mass), ("k", s.stiffness)],
            Self::FreeParticle(s) => vec![("m", s.mass)],
            Self::Zoo(z) => z.parameters(),
        }
    }

    /// The known continuous point symmetries as normalised affine generators
    /// (a basis of the symmetry algebra; empty when there is none).
    pub fn symmetries(&self) -> Vec<AffineGenerator> {
        let rot2 = || AffineGenerator::new("rotation", vec![0.0, 1.0, -1.0, 0.0], vec![0.0, 0.0]);
        match self {
            Self::CartPendulum(_) => vec![AffineGenerator::new(
                "translation in s",
                vec![0.0; 4],
                vec![1.0, 0.0],
            )],
            Self::Kepler(_) | Self::IsotropicOscillator(_) => vec![rot2()],
            Self::HarmonicOscillator(_) | Self::DoublePendulum(_) => vec![],
            Self::FreeParticle(_) => vec![
                AffineGenerator::new("translation in x", vec![0.0; 4], vec![1.0, 0.0]),
                AffineGenerator::new("translation in y", vec![0.0; 4], vec![0.0, 1.0]),
                rot2(),
            ],
            Self::Kepler3d(_) => {
                let rot = |label: &str, i: usize, j: usize| {
                    let mut m = vec![0.0; 9];
                    m[i * 3 + j] = 1.0;
                    m[j * 3 + i] = -1.0;
                    AffineGenerator::new(label, m, vec![0.0; 3])
                };
                vec![
                    rot("rotation about z", 0, 1),
                    rot("rotation about x", 1, 2),
                    rot("rotation about y", 2, 0),
                ]
            }
            Self::Zoo(z) => z.symmetries(),
        }
    }

    /// The default (paper's training) initial condition `(q0, v0)`.
    pub fn default_initial_condition(&self) -> (Vec<f64>, Vec<f64>) {
        match self {
            Self::CartPendulum(_) => (vec![0.1, 0.1], vec![0.0, 0.0]),
            Self::Kepler(_) => (vec![1.0, 0.0], vec![0.0, 0.6]),
            Self::HarmonicOscillator(_) => (vec![1.0], vec![0.0]),
            Self::DoublePendulum(_) => (vec![1.0, 0.5], vec![0.0, 0.0]),
            Self::IsotropicOscillator(_) => (vec![1.0, 0.0], vec![0.0, 0.5]),
            Self::FreeParticle(_) => (vec![0.0, 0.0], vec![1.0, 0.5]),
            Self::Kepler3d(_) => (vec![1.0, 0.0, 0.0], vec![0.0, 0.6, 0.1]),
            Self::Zoo(z) => z.default_initial_condition(),
        }
    }

    /// The default time grid (the paper's for its two systems).
    pub fn default_grid(&self) -> TimeGrid {
        match self {
            Self::CartPendulum(_) => TimeGrid {
                dt: 0.01,
                steps: 200,
                fine: 100,
            },
            Self::Kepler(_) | Self::Kepler3d(_) => TimeGrid {
                dt: 0.1,
                steps: 50,
                fine: 100,
            },
            Self::DoublePendulum(_) => TimeGrid {
                dt: 0.01,
                steps: 200,
                fine: 100,
            },
            Self::Zoo(z) => z.default_grid(),
            _ => TimeGrid {
                dt: 0.1,
                steps: 100,
                fine: 10,
            },
        }
    }

    /// The documented box of initial conditions for several trajectories
    /// (centred on the default initial condition; Kepler's stays bound).
    pub fn initial_box(&self) -> InitialBox {
        let b = |q_lo: &[f64], q_hi: &[f64], v_lo: &[f64], v_hi: &[f64]| InitialBox {
            q_lo: q_lo.to_vec(),
            q_hi: q_hi.to_vec(),
            v_lo: v_lo.to_vec(),
            v_hi: v_hi.to_vec(),
        };
        match self {
            Self::CartPendulum(_) => b(&[-0.5, -0.3], &[0.5, 0.3], &[-0.2, -0.2], &[0.2, 0.2]),
            Self::Kepler(_) => b(&[0.9, -0.1], &[1.1, 0.1], &[-0.05, 0.55], &[0.05, 0.65]),
            Self::HarmonicOscillator(_) => b(&[-1.0], &[1.0], &[-1.0], &[1.0]),
            Self::DoublePendulum(_) => b(&[-1.0, -1.0], &[1.0, 1.0], &[-0.5, -0.5], &[0.5, 0.5]),
            Self::IsotropicOscillator(_) => {
                b(&[-1.0, -1.0], &[1.0, 1.0], &[-1.0, -1.0], &[1.0, 1.0])
            }
            Self::FreeParticle(_) => b(&[-1.0, -1.0], &[1.0, 1.0], &[-1.0, -1.0], &[1.0, 1.0]),
            Self::Kepler3d(_) => b(
                &[0.9, -0.1, -0.1],
                &[1.1, 0.1, 0.1],
                &[-0.05, 0.55, -0.1],
                &[0.05, 0.65, 0.1],
            ),
            Self::Zoo(z) => z.initial_box(),
        }
    }
}
