#![warn(missing_docs)]
//! # symdlnn
//!
//! Learn the dynamics of mechanical systems from position-only snapshots:
//! a *discrete Lagrangian* `Ld(q0, q1)` learned by a neural network,
//! integrated by an exact variational integrator, with the system's symmetries
//! and conserved quantities discovered while it learns (Lishkova et al.,
//! *Discrete Lagrangian Neural Networks with Automatic Symmetry Discovery*,
//! IFAC 2023).
//!
//! Modules, in dependency order: [`mechanics`] (Lagrangians, systems,
//! discrete Lagrangians, the DEL solver) → [`data`] (trajectories, ground
//! truth, files) → [`nn`] (MLP, the batched derivative engine, Adam) →
//! [`learn`] (DLNN and LNN losses, training, model directories, symmetry
//! discovery) → [`eval`] (variational backward error analysis, metrics, the
//! paper's experiments) → [`report`] (figures, `report.md`).
//!
//! ## A tour
//!
//! A system's Lagrangian is written once, generic over the scalar type; every
//! derivative comes from forward-mode duals:
//!
//! ```
//! use symdlnn::mechanics::{Lagrangian, LagrangianDerivatives, Scalar, System};
//!
//! /// A pendulum of unit mass and length: L = ½ φ̇² + g cos φ.
//! struct Pendulum { g: f64 }
//! impl Lagrangian for Pendulum {
//!     fn dim(&self) -> usize { 1 }
//!     fn lagrangian<D: Scalar>(&self, q: &[D], v: &[D]) -> D {
//!         v[0] * v[0] * 0.5 + q[0].cos() * self.g
//!     }
//! }
//! let p = Pendulum { g: 9.81 };
//! assert_eq!(p.momentum(&[0.3], &[2.0]), vec![2.0]);
//! let e = p.energy(&[0.3], &[2.0]); // ½ φ̇² − g cos φ
//! assert!((e - (2.0 - 9.81 * 0.3f64.cos())).abs() < 1e-14);
//! // q̈ = −g sin φ, from the Euler–Lagrange equations:
//! let a = p.acceleration(&[0.3], &[2.0]).unwrap();
//! assert!((a[0] + 9.81 * 0.3f64.sin()).abs() < 1e-14);
//! # let _ = System::NAMES;
//! ```
//!
//! Its midpoint discrete Lagrangian `h·L((q0+q1)/2, (q1−q0)/h)` is integrated
//! by Newton on the discrete Euler–Lagrange equations; a symmetry's discrete
//! Noether momentum is conserved to rounding level:
//!
//! ```
//! use symdlnn::mechanics::*;
//!
//! let kepler = System::from_name("kepler").unwrap();
//! let ld = Midpoint::new(&kepler, 1e-2);
//! let (q0, v0) = kepler.default_initial_condition();
//! let p0 = kepler.momentum(&q0, &v0);
//! let path = VariationalIntegrator::new(&ld, Convergence::default())
//!     .rollout_momentum(&q0, &p0, 1000, 1)?;
//! let rotation = &kepler.symmetries()[0];
//! let l0 = rotation.noether(&path.q[..2], &path.p[..2]);
//! let l1 = rotation.noether(&path.q[2000..], &path.p[2000..]);
//! assert!((l1 - l0).abs() < 1e-12 * l0.abs());
//! # Ok::<(), SolverError>(())
//! ```
//!
//! Ground truth by the paper's protocol, written and read back exactly:
//!
//! ```
//! use symdlnn::data::{generate, io};
//! use symdlnn::mechanics::{Convergence, System};
//!
//! let cart = System::from_name("cartpend").unwrap();
//! let (q0, v0) = cart.default_initial_condition();
//! let grid = cart.default_grid(); // Δt = 0.01, 200 steps, 100 fine steps each
//! let tr = generate::trajectory(&cart, &q0, &v0, grid, Convergence::default()).unwrap();
//! assert_eq!(tr.len(), 201);
//! let data = symdlnn::data::Dataset { n: 2, dt: grid.dt, trajectories: vec![tr] };
//! let dir = std::env::temp_dir().join(format!("symdlnn-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! io::write(&dir.join("cart.csv"), &data).unwrap();
//! let back = io::read(&dir.join("cart.csv"), None).unwrap();
//! assert_eq!(back.trajectories, data.trajectories);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

//!
//! Learning a discrete Lagrangian from positions only, and predicting with
//! the same variational integrator:
//!
//! ```
//! use symdlnn::data::{generate, Dataset, Trajectory};
//! use symdlnn::learn::{dlnn_trainer, LearnedLd, Recipe, TrainConfig};
//! use symdlnn::mechanics::{Convergence, System, TimeGrid, VariationalIntegrator};
//!
//! let osc = System::from_name("oscillator").unwrap();
//! let grid = TimeGrid { dt: 0.1, steps: 60, fine: 10 };
//! let truth = generate::trajectory(&osc, &[1.0], &[0.0], grid, Convergence::default()).unwrap();
//! // Positions only.
//! let data = Dataset { n: 1, dt: 0.1, trajectories: vec![Trajectory::from_positions(1, 0.0, 0.1, truth.q.clone())] };
//! let mut config = TrainConfig::new(Recipe::Robust, 300);
//! config.hidden = vec![32, 32];
//! let mut trainer = dlnn_trainer(&config, &data).unwrap();
//! let before = trainer.current_loss().terms[0].1; // mean |DEL residual|²
//! for _ in 0..300 {
//!     trainer.step().unwrap();
//! }
//! let after = trainer.current_loss().terms[0].1;
//! assert!(after < 1e-2 * before);
//! let ld = LearnedLd::new(trainer.mlp.clone(), trainer.objective.parametrisation().clone());
//! let path = VariationalIntegrator::new(&ld, Convergence::default())
//!     .rollout_positions(truth.position(0), truth.position(1), 20)
//!     .unwrap();
//! assert_eq!(path.q.len(), 22);
//! ```
//!
//! A coordinate that is an angle (the cart–pendulum's φ, which turns over
//! in the paper's trajectory) can enter the network through `sin` and `cos`,
//! so that the learned `Ld` is 2π-periodic in it:
//!
//! ```
//! use symdlnn::data::{generate, Dataset, Trajectory};
//! use symdlnn::learn::{dlnn_trainer, LearnedLd, Recipe, TrainConfig};
//! use symdlnn::mechanics::{Convergence, DiscreteLagrangian, System};
//!
//! let cart = System::from_name("cartpend").unwrap();
//! let (q0, v0) = cart.default_initial_condition();
//! let truth = generate::trajectory(&cart, &q0, &v0, cart.default_grid(), Convergence::default()).unwrap();
//! let data = Dataset { n: 2, dt: 0.01, trajectories: vec![Trajectory::from_positions(2, 0.0, 0.01, truth.q.clone())] };
//! let mut config = TrainConfig::new(Recipe::Robust, 20);
//! config.hidden = vec![16, 16];
//! config.dlnn_mut().unwrap().angles = vec![1]; // `train --angles 1`
//! let mut trainer = dlnn_trainer(&config, &data).unwrap();
//! for _ in 0..20 {
//!     trainer.step().unwrap();
//! }
//! let ld = LearnedLd::new(trainer.mlp.clone(), trainer.objective.parametrisation().clone());
//! let tau = std::f64::consts::TAU;
//! let (a, b) = (ld.value(&[0.1, 0.3], &[0.11, 0.35]), ld.value(&[0.1, 0.3 + tau], &[0.11, 0.35 + tau]));
//! assert!((a - b).abs() < 1e-12 * a.abs().max(1.0));
//! ```
//!
//! Symmetry discovery needs no initial guess: for a fixed `Ld` the residual
//! `ξ(q0)·D1 Ld + ξ(q1)·D2 Ld` is linear in the coefficients of `ξ`, and the
//! generators are the smallest right singular vectors of that matrix — here
//! over fields of degree ≤ 2, on the exact midpoint `Ld` of Kepler, and
//! jointly over several `Ld`s (models of one system trained from different
//! seeds, in practice):
//!
//! ```
//! use symdlnn::data::generate;
//! use symdlnn::learn::symmetry::{
//!     agreement_of, discover, discover_jointly, DiscoverySolver, EvaluationPoints, SymmetryBasis,
//! };
//! use symdlnn::mechanics::{Convergence, Midpoint, System};
//!
//! let kepler = System::from_name("kepler").unwrap();
//! let ics = vec![kepler.default_initial_condition()];
//! let data = generate::dataset(&kepler, &ics, kepler.default_grid(), Convergence::default()).unwrap();
//! let ld = Midpoint::new(&kepler, data.dt);
//! let pairs = EvaluationPoints::parse("train+box:200").unwrap().pairs(&data, 0);
//! let found = discover(&ld, SymmetryBasis::Polynomial(2), 1, &pairs).unwrap();
//! assert_eq!(found.generators[0].description, "rotation"); // no degree-2 part
//! assert!(agreement_of(&found.generators, &kepler.symmetries())[0] > 1.0 - 1e-9);
//! let found = discover_jointly(
//!     &[&ld, &ld],
//!     DiscoverySolver::Nullspace,
//!     SymmetryBasis::Affine,
//!     1,
//!     &data,
//!     &pairs,
//! )
//! .unwrap();
//! assert!(agreement_of(&found.joint.generators, &kepler.symmetries())[0] > 1.0 - 1e-9);
//! assert_eq!(found.alone.len(), 2); // each model's own generators too
//! ```
//!
//! Variational backward error analysis gives any discrete Lagrangian a
//! modified continuous Lagrangian `L_VBEA` and with it an energy: for the
//! midpoint rule of the oscillator it is conserved along the discrete path
//! far better than the true energy:
//!
//! ```
//! use symdlnn::eval::VbeaLagrangian;
//! use symdlnn::mechanics::*;
//!
//! let osc = System::from_name("oscillator").unwrap();
//! let ld = Midpoint::new(&osc, 0.1);
//! let path = VariationalIntegrator::new(&ld, Convergence::default())
//!     .rollout_positions(&[1.0], &[0.995], 200)?;
//! let vbea = VbeaLagrangian::new(&ld);
//! let v = vbea.path_velocities(&path).unwrap();
//! let spread = |e: Vec<f64>| e.iter().map(|x| (x - e[0]).abs()).fold(0.0, f64::max);
//! let h_vbea = spread(vbea.energies(&path.q, &v));
//! let h_true = spread(path.q.iter().zip(&v).map(|(q, v)| osc.energy(&[*q], &[*v])).collect());
//! assert!(h_vbea < 1e-2 * h_true, "{h_vbea} vs {h_true}");
//! # Ok::<(), SolverError>(())
//! ```

pub mod data;
pub mod eval;
pub mod learn;
pub mod mechanics;
pub mod nn;
pub mod report;
pub mod sanity;
