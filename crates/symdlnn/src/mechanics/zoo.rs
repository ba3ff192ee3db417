//! The zoo: systems beyond the paper's two, chosen to test defaults on
//! what users bring (a cyclic angle that keeps growing, three coordinates,
//! non-polynomial potentials, no continuous symmetry, chaos, a magnetic
//! term that breaks time reversal). Each is written once, generic over
//! the scalar type, and reached through [`System`] like the shipped ones.
//!
//! | name | q | L | covers | Δt (samples per period) |
//! |---|---|---|---|---|
//! | `spherical-pendulum` | (θ, φ) | `½ m l² (θ̇² + sin²θ φ̇²) + m g l cos θ` | φ grows without bound (cyclic); translation in φ; non-polynomial | 0.03 (θ-period ≈ 1.06 s: ~35) |
//! | `morse-chain` | (x1, x2, x3) | `½ m Σ ẋi² − Σ D (1 − e^{−a(x_{i+1} − x_i − r0)})²` | n = 3; Morse bonds; translation (1,1,1) | 0.06 (fast mode 2.6 s: ~43) |
//! | `spring-pendulum` | (r, θ) | `½ m (ṙ² + r² θ̇²) − ½ k (r − l0)² + m g r cos θ` | no continuous symmetry; non-polynomial | 0.02 (spring period 0.89 s: ~44) |
//! | `henon-heiles` | (x, y) | `½ |q̇|² − ½ |q|² − x² y + y³/3` | **chaotic** at the training energy (0.146 of the escape energy 1/6); no continuous symmetry | 0.15 (2π: ~42) |
//! | `magnetic-trap` | (x, y) | `½ m |q̇|² + ½ qB (x ẏ − y ẋ) − ½ k |q|²` | non-natural: gyroscopic term, time reversal wrong; rotation | 0.2 (the orbit's slow mode 10.2 s: ~51; fast mode 3.9 s: ~19) |

use super::lagrangian::{Lagrangian, Scalar};
use super::systems::{AffineGenerator, InitialBox, System, TimeGrid};

/// Spherical pendulum, θ the polar angle from the downward vertical and φ
/// the azimuth: φ is cyclic and grows without bound while the bob
/// precesses; translation in φ is the symmetry (conserved `p_φ`).
#[derive(Clone, Debug, PartialEq)]
pub struct SphericalPendulum {
    /// Mass of the bob.
    pub mass: f64,
    /// Length of the rod.
    pub length: f64,
    /// Gravitational acceleration.
    pub g: f64,
}
impl Default for SphericalPendulum {
    fn default() -> Self {
        Self {
            mass: 1.0,
            length: 1.0,
            g: 9.81,
        }
    }
}
impl Lagrangian for SphericalPendulum {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let ml2 = self.mass * self.length * self.length;
        let s = q[0].sin();
        (v[0] * v[0] + s * s * v[1] * v[1]) * (0.5 * ml2)
            + q[0].cos() * (self.mass * self.g * self.length)
    }
}

/// Three equal masses on a line joined by two Morse bonds (no walls):
/// `V = Σ D (1 − e^{−a(x_{i+1} − x_i − r0)})²`. Translation of the whole
/// chain is the symmetry (conserved total momentum).
#[derive(Clone, Debug, PartialEq)]
pub struct MorseChain {
    /// Mass of each particle.
    pub mass: f64,
    /// Well depth `D`.
    pub depth: f64,
    /// Width parameter `a`.
    pub width: f64,
    /// Equilibrium bond length `r0`.
    pub r0: f64,
}
impl Default for MorseChain {
    fn default() -> Self {
        Self {
            mass: 1.0,
            depth: 1.0,
            width: 1.0,
            r0: 1.0,
        }
    }
}
impl Lagrangian for MorseChain {
    fn dim(&self) -> usize {
        3
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let kin = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) * (0.5 * self.mass);
        let bond = |a: D, b: D| {
            let e = D::from(1.0) - ((b - a - self.r0) * (-self.width)).exp();
            e * e * self.depth
        };
        kin - bond(q[0], q[1]) - bond(q[1], q[2])
    }
}

/// Elastic (spring) pendulum in polar coordinates: `r` the spring's length,
/// θ from the downward vertical. No continuous point symmetry.
#[derive(Clone, Debug, PartialEq)]
pub struct SpringPendulum {
    /// Mass of the bob.
    pub mass: f64,
    /// Spring constant `k`.
    pub stiffness: f64,
    /// Rest length `l0`.
    pub rest_length: f64,
    /// Gravitational acceleration.
    pub g: f64,
}
impl Default for SpringPendulum {
    fn default() -> Self {
        Self {
            mass: 1.0,
            stiffness: 50.0,
            rest_length: 1.0,
            g: 9.81,
        }
    }
}
impl Lagrangian for SpringPendulum {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let (r, th) = (q[0], q[1]);
        let stretch = r - self.rest_length;
        (v[0] * v[0] + r * r * v[1] * v[1]) * (0.5 * self.mass)
            - stretch * stretch * (0.5 * self.stiffness)
            + r * th.cos() * (self.mass * self.g)
    }
}

/// The Hénon–Heiles system `½|q̇|² − ½|q|² − x²y + y³/3` (unit parameters;
/// `scale` multiplies the cubic terms). Bound below the escape energy 1/6;
/// at the training energy (≈ 0.146) the motion is chaotic: its prediction
/// error is bounded by Lyapunov growth, not by learning. No continuous
/// point symmetry (only the discrete C3).
#[derive(Clone, Debug, PartialEq)]
pub struct HenonHeiles {
    /// Coefficient λ of the cubic terms `λ (x²y − y³/3)`.
    pub lambda: f64,
}
impl Default for HenonHeiles {
    fn default() -> Self {
        Self { lambda: 1.0 }
    }
}
impl Lagrangian for HenonHeiles {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let (x, y) = (q[0], q[1]);
        (v[0] * v[0] + v[1] * v[1] - x * x - y * y) * 0.5
            - (x * x * y - y * y * y * (1.0 / 3.0)) * self.lambda
    }
}

/// A charged particle in a uniform magnetic field `B ẑ` and an isotropic
/// harmonic trap, symmetric gauge: `½ m |q̇|² + ½ qB (x ẏ − y ẋ) − ½ k |q|²`.
/// Not natural: the term linear in `q̇` makes time reversal wrong. Rotation
/// about the origin is the symmetry (conserved canonical angular momentum).
#[derive(Clone, Debug, PartialEq)]
pub struct MagneticTrap {
    /// Mass `m`.
    pub mass: f64,
    /// Charge times field, `qB` (the cyclotron frequency times `m`).
    pub charge_field: f64,
    /// Trap constant `k`.
    pub stiffness: f64,
}
impl Default for MagneticTrap {
    fn default() -> Self {
        Self {
            mass: 1.0,
            charge_field: 1.0,
            stiffness: 1.0,
        }
    }
}
impl Lagrangian for MagneticTrap {
    fn dim(&self) -> usize {
        2
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        let (x, y) = (q[0], q[1]);
        (v[0] * v[0] + v[1] * v[1]) * (0.5 * self.mass)
            + (x * v[1] - y * v[0]) * (0.5 * self.charge_field)
            - (x * x + y * y) * (0.5 * self.stiffness)
    }
}

/// One of the zoo's systems (reached through [`System::Zoo`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ZooSystem {
    /// `spherical-pendulum`.
    SphericalPendulum(SphericalPendulum),
    /// `morse-chain`.
    MorseChain(MorseChain),
    /// `spring-pendulum`.
    SpringPendulum(SpringPendulum),
    /// `henon-heiles`.
    HenonHeiles(HenonHeiles),
    /// `magnetic-trap`.
    MagneticTrap(MagneticTrap),
}

macro_rules! zoo_dispatch {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            ZooSystem::SphericalPendulum($s) => $e,
            ZooSystem::MorseChain($s) => $e,
            ZooSystem::SpringPendulum($s) => $e,
            ZooSystem::HenonHeiles($s) => $e,
            ZooSystem::MagneticTrap($s) => $e,
        }
    };
}

impl Lagrangian for ZooSystem {
    fn dim(&self) -> usize {
        zoo_dispatch!(self, s => s.dim())
    }
    fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
        zoo_dispatch!(self, s => s.lagrangian(q, v))
    }
}

fn boxed(q_lo: &[f64], q_hi: &[f64], v_lo: &[f64], v_hi: &[f64]) -> InitialBox {
    InitialBox {
        q_lo: q_lo.to_vec(),
        q_hi: q_hi.to_vec(),
        v_lo: v_lo.to_vec(),
        v_hi: v_hi.to_vec(),
    }
}

impl ZooSystem {
    /// The zoo's names, in [`System::NAMES`] order.
    pub const NAMES: [&'static str; 5] = [
        "spherical-pendulum",
        "morse-chain",
        "spring-pendulum",
        "henon-heiles",
        "magnetic-trap",
    ];

    /// The system called `name` with its default parameters.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "spherical-pendulum" => Self::SphericalPendulum(SphericalPendulum::default()),
            "morse-chain" => Self::MorseChain(MorseChain::default()),
            "spring-pendulum" => Self::SpringPendulum(SpringPendulum::default()),
            "henon-heiles" => Self::HenonHeiles(HenonHeiles::default()),
            "magnetic-trap" => Self::MagneticTrap(MagneticTrap::default()),
            _ => return None,
        })
    }

    /// The system's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SphericalPendulum(_) => "spherical-pendulum",
            Self::MorseChain(_) => "morse-chain",
            Self::SpringPendulum(_) => "spring-pendulum",
            Self::HenonHeiles(_) => "henon-heiles",
            Self::MagneticTrap(_) => "magnetic-trap",
        }
    }

    /// One line on the system.
    pub fn description(&self) -> &'static str {
        match self {
            Self::SphericalPendulum(_) => {
                "spherical pendulum, q=(θ,φ): ½ml²(θ̇²+sin²θ φ̇²) + mgl cosθ (φ cyclic, grows)"
            }
            Self::MorseChain(_) => {
                "three masses, two Morse bonds, q=(x1,x2,x3): ½mΣẋ² − ΣD(1−e^{−a(Δx−r0)})²"
            }
            Self::SpringPendulum(_) => {
                "spring pendulum, q=(r,θ): ½m(ṙ²+r²θ̇²) − ½k(r−l0)² + mgr cosθ"
            }
            Self::HenonHeiles(_) => {
                "Hénon–Heiles, q=(x,y): ½|q̇|² − ½|q|² − λ(x²y − y³/3); chaotic at the training energy"
            }
            Self::MagneticTrap(_) => {
                "charge in a field B and a trap, q=(x,y): ½m|q̇|² + ½qB(xẏ−yẋ) − ½k|q|² (not time-reversible)"
            }
        }
    }

    /// Coordinate names.
    pub fn coordinate_names(&self) -> &'static [&'static str] {
        match self {
            Self::SphericalPendulum(_) => &["θ", "φ"],
            Self::MorseChain(_) => &["x1", "x2", "x3"],
            Self::SpringPendulum(_) => &["r", "θ"],
            Self::HenonHeiles(_) | Self::MagneticTrap(_) => &["x", "y"],
        }
    }

    /// Named physical parameters.
    pub fn parameters(&self) -> Vec<(&'static str, f64)> {
        match self {
            Self::SphericalPendulum(s) => vec![("m", s.mass), ("l", s.length), ("g", s.g)],
            Self::MorseChain(s) => {
                vec![("m", s.mass), ("D", s.depth), ("a", s.width), ("r0", s.r0)]
            }
            Self::SpringPendulum(s) => vec![
                ("m", s.mass),
                ("k", s.stiffness),
                ("l0", s.rest_length),
                ("g", s.g),
            ],
            Self::HenonHeiles(s) => vec![("lambda", s.lambda)],
            Self::MagneticTrap(s) => {
                vec![("m", s.mass), ("qB", s.charge_field), ("k", s.stiffness)]
            }
        }
    }

    /// Known continuous point symmetries (normalised affine generators).
    pub fn symmetries(&self) -> Vec<AffineGenerator> {
        match self {
            Self::SphericalPendulum(_) => vec![AffineGenerator::new(
                "translation in φ",
                vec![0.0; 4],
                vec![0.0, 1.0],
            )],
            Self::MorseChain(_) => vec![AffineGenerator::new(
                "translation of the chain",
                vec![0.0; 9],
                vec![1.0, 1.0, 1.0],
            )],
            Self::SpringPendulum(_) | Self::HenonHeiles(_) => vec![],
            Self::MagneticTrap(_) => vec![AffineGenerator::new(
                "rotation",
                vec![0.0, 1.0, -1.0, 0.0],
                vec![0.0, 0.0],
            )],
        }
    }

    /// The training initial condition `(q0, v0)`.
    pub fn default_initial_condition(&self) -> (Vec<f64>, Vec<f64>) {
        match self {
            Self::SphericalPendulum(_) => (vec![0.8, 0.0], vec![0.0, 3.0]),
            Self::MorseChain(_) => (vec![-1.0, 0.0, 1.3], vec![0.1, 0.0, -0.1]),
            Self::SpringPendulum(_) => (vec![1.25, 0.5], vec![0.0, 0.0]),
            Self::HenonHeiles(_) => (vec![0.0, 0.0], vec![0.45, 0.3]),
            Self::MagneticTrap(_) => (vec![1.0, 0.0], vec![0.0, 0.5]),
        }
    }

    /// The test initial condition (inside [`ZooSystem::initial_box`]).
    pub fn test_initial_condition(&self) -> (Vec<f64>, Vec<f64>) {
        match self {
            Self::SphericalPendulum(_) => (vec![0.9, 0.2], vec![0.2, 2.8]),
            Self::MorseChain(_) => (vec![-0.9, 0.1, 1.1], vec![-0.1, 0.1, 0.05]),
            Self::SpringPendulum(_) => (vec![1.2, -0.3], vec![0.1, 0.2]),
            Self::HenonHeiles(_) => (vec![0.02, -0.03], vec![0.3, 0.25]),
            Self::MagneticTrap(_) => (vec![0.5, -0.5], vec![0.2, 0.3]),
        }
    }

    /// The time grid: Δt gives 35–51 samples per characteristic period of
    /// the training orbit (its dominant oscillation); `steps` covers a few
    /// periods.
    pub fn default_grid(&self) -> TimeGrid {
        let (dt, steps) = match self {
            Self::SphericalPendulum(_) => (0.03, 200),
            Self::MorseChain(_) => (0.06, 150),
            Self::SpringPendulum(_) => (0.02, 200),
            Self::HenonHeiles(_) => (0.15, 200),
            Self::MagneticTrap(_) => (0.2, 100),
        };
        TimeGrid {
            dt,
            steps,
            fine: 20,
        }
    }

    /// The box of initial conditions for several trajectories; it contains
    /// the training and test initial conditions.
    pub fn initial_box(&self) -> InitialBox {
        match self {
            Self::SphericalPendulum(_) => {
                boxed(&[0.6, -0.5], &[1.0, 0.5], &[-0.5, 2.5], &[0.5, 3.5])
            }
            Self::MorseChain(_) => boxed(
                &[-1.2, -0.2, 0.8],
                &[-0.8, 0.2, 1.4],
                &[-0.2, -0.2, -0.2],
                &[0.2, 0.2, 0.2],
            ),
            Self::SpringPendulum(_) => boxed(&[1.1, -0.6], &[1.3, 0.6], &[-0.3, -0.3], &[0.3, 0.3]),
            // Every energy in the box is below the escape energy 1/6.
            Self::HenonHeiles(_) => {
                boxed(&[-0.05, -0.05], &[0.05, 0.05], &[-0.45, -0.3], &[0.45, 0.3])
            }
            Self::MagneticTrap(_) => boxed(&[-1.0, -1.0], &[1.0, 1.0], &[-0.5, -0.5], &[0.5, 0.5]),
        }
    }

    /// Whether the training regime is chaotic.
    pub fn chaotic(&self) -> bool {
        matches!(self, Self::HenonHeiles(_))
    }

    /// Whether `L` is even in `q̇` (time reversal holds).
    pub fn time_reversible(&self) -> bool {
        !matches!(self, Self::MagneticTrap(_))
    }

    /// Coordinates that are angles a user would declare (`--angles`):
    /// angles not moved by a built-in symmetry.
    pub fn angles(&self) -> Vec<usize> {
        match self {
            Self::SphericalPendulum(_) => vec![0],
            Self::SpringPendulum(_) => vec![1],
            _ => vec![],
        }
    }

    /// Whether the accelerations are polynomial in `(q, q̇)`.
    pub fn polynomial_dynamics(&self) -> bool {
        matches!(self, Self::HenonHeiles(_) | Self::MagneticTrap(_))
    }
}

impl System {
    /// The test initial condition, inside [`System::initial_box`] (for
    /// Kepler the paper's).
    pub fn test_initial_condition(&self) -> (Vec<f64>, Vec<f64>) {
        match self {
            Self::CartPendulum(_) => (vec![0.3, -0.2], vec![0.1, -0.1]),
            Self::Kepler(_) => (vec![1.1, -0.01], vec![0.0, 0.6]),
            Self::HarmonicOscillator(_) => (vec![-0.5], vec![0.7]),
            Self::DoublePendulum(_) => (vec![0.6, -0.4], vec![0.2, 0.1]),
            Self::IsotropicOscillator(_) => (vec![0.5, -0.5], vec![0.3, 0.4]),
            Self::FreeParticle(_) => (vec![0.3, -0.2], vec![-0.6, 0.8]),
            Self::Kepler3d(_) => (vec![1.05, 0.02, -0.02], vec![0.0, 0.62, 0.05]),
            Self::Zoo(z) => z.test_initial_condition(),
        }
    }

    /// Whether the default regime is chaotic (prediction bounded by
    /// Lyapunov growth, not by learning).
    pub fn chaotic(&self) -> bool {
        matches!(self, Self::Zoo(z) if z.chaotic())
    }

    /// Whether `L` is even in `q̇` (the docs then recommend
    /// `--time-reversible`).
    pub fn time_reversible(&self) -> bool {
        match self {
            Self::Zoo(z) => z.time_reversible(),
            _ => true,
        }
    }

    /// The angle coordinates a user would declare with `--angles` (none
    /// moved by the system's symmetries, so they combine with a built-in
    /// symmetry).
    pub fn recommended_angles(&self) -> Vec<usize> {
        match self {
            Self::CartPendulum(_) => vec![1],
            Self::DoublePendulum(_) => vec![0, 1],
            Self::Zoo(z) => z.angles(),
            _ => vec![],
        }
    }

    /// Whether the accelerations are polynomial in `(q, q̇)` (a polynomial
    /// sparse regression can then be exact).
    pub fn polynomial_dynamics(&self) -> bool {
        match self {
            Self::HarmonicOscillator(_) | Self::IsotropicOscillator(_) | Self::FreeParticle(_) => {
                true
            }
            Self::Zoo(z) => z.polynomial_dynamics(),
            _ => false,
        }
    }
}
