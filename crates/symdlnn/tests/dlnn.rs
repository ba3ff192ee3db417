//! DLNN training end to end: learning, prediction with the variational
//! integrator, save/load and resume.

mod common;

use symdlnn::data::{generate, Dataset, Trajectory};
use symdlnn::eval::metrics::{position_scale, rmse};
use symdlnn::learn::{dlnn_trainer, fit, model_dir, FitOptions, LearnedLd, Recipe, TrainConfig};
use symdlnn::mechanics::{Convergence, Lagrangian, System, VariationalIntegrator};

/// Ground truth of `system` for `steps` steps from its default initial
/// condition; the first `train + 1` points become the training data.
fn truth(system: &str, steps: usize, train: usize) -> (Trajectory, Dataset) {
    let s = System::from_name(system).unwrap();
    let (q0, v0) = s.default_initial_condition();
    let mut grid = s.default_grid();
    grid.steps = steps;
    let full = generate::trajectory(&s, &q0, &v0, grid, Convergence::default()).unwrap();
    let n = s.dim();
    let q = full.q[..(train + 1) * n].to_vec();
    let data = Dataset {
        n,
        dt: grid.dt,
        trajectories: vec![Trajectory::from_positions(n, 0.0, grid.dt, q)],
    };
    (full, data)
}

/// SymDLNN with the paper's solver (K = 1, affine basis, α = β = 1) from
/// the paper's guess for `system`, on training + `boxed` box pairs, the
/// term (weight 1) on after `warmup` epochs.
fn paper_solver_from_guess(
    system: &str,
    boxed: usize,
    warmup: usize,
) -> symdlnn::learn::SymmetryConfig {
    use symdlnn::learn::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis};
    use symdlnn::learn::{CoefficientConfig, ShapingConfig};
    symdlnn::learn::SymmetryConfig {
        generators: 1,
        basis: SymmetryBasis::Affine,
        points: EvaluationPoints { train: true, boxed },
        shaping: Some(ShapingConfig {
            weight: 1.0,
            warmup,
        }),
        solver: DiscoverySolver::Paper,
        coefficients: Some(CoefficientConfig {
            alpha: 1.0,
            beta: 1.0,
            init: CoefficientConfig::paper_guess(system).unwrap(),
            init_name: system.into(),
        }),
        build_in: false,
    }
}

/// Relative RMSE of the model's rollout against `full` on the recreation
/// (points ≤ train) and prediction (points > train) spans, relative to the
/// truth's RMS deviation from its mean.
fn rollout_errors(ld: &LearnedLd, full: &Trajectory, train: usize) -> (f64, f64) {
    let n = full.n;
    let steps = full.len() - 2;
    let path = VariationalIntegrator::new(ld, Convergence::default())
        .rollout_positions(full.position(0), full.position(1), steps)
        .expect("rollout converges");
    let scale = position_scale(n, &full.q);
    let rel = |span| rmse(n, &path.q, &full.q, span).unwrap() / scale;
    (rel(0..train + 1), rel(train + 1..full.len()))
}

fn train(data: &Dataset, epochs: usize, seed: u64, time_reversible: bool) -> (LearnedLd, f64, f64) {
    let mut cfg = TrainConfig::new(Recipe::Robust, epochs);
    cfg.seed = seed;
    cfg.dlnn_mut().unwrap().time_reversible = time_reversible;
    let mut t = dlnn_trainer(&cfg, data).unwrap();
    let del0 = t.current_loss().terms[0].1;
    for _ in 0..epochs {
        t.step().unwrap();
    }
    let report = t.current_loss();
    let det = report.det.unwrap();
    assert!(
        !det.near_degenerate(),
        "seed {seed}: near-degenerate Ld {det:?}"
    );
    let del = report.terms[0].1;
    (
        LearnedLd::new(t.mlp.clone(), t.objective.parametrisation().clone()),
        del0,
        del,
    )
}

#[test]
fn harmonic_oscillator_from_positions_learns_and_predicts() {
    // 101 positions (dt 0.1, ~1.6 periods); predict 200 steps beyond.
    let (full, data) = truth("oscillator", 300, 100);
    let (ld, del0, del) = train(&data, 3000, 0, false);
    assert!(del < 1e-3 * del0, "DEL {del0:e} → {del:e}");
    let (rec, pred) = rollout_errors(&ld, &full, 100);
    // Measured over seeds 0–2 (3 000 epochs): DEL reduced 2e6–4e7×,
    // recreation 9.5e-5–3.2e-4, prediction 1.8e-4–1.1e-3; bounds leave ~6×.
    assert!(rec < 2e-3, "recreation {rec:e}");
    assert!(pred < 1e-2, "prediction {pred:e}");
}

#[test]
fn cart_pendulum_robust_recipe_one_seed() {
    // The paper's data (200 steps of 0.01) and 100 further steps.
    let (full, data) = truth("cartpend", 300, 200);
    let (ld, _, _) = train(&data, 3000, 0, false);
    let (rec, pred) = rollout_errors(&ld, &full, 200);
    assert!(rec <= 1e-4, "recreation {rec:e}");
    assert!(pred <= 0.08, "prediction {pred:e}");
}

#[test]
#[ignore = "5 seeds × 2 variants × 3 000 epochs: ~2 minutes in release; run with --ignored"]
fn cart_pendulum_robust_recipe_five_seeds() {
    // The bounds: recreation ≤ 1e-4, prediction ≤ 0.08 (≤ 0.05 with
    // time-reversal symmetrisation). All seeds run and print before the check.
    let (full, data) = truth("cartpend", 300, 200);
    let mut failures = Vec::new();
    for tr in [false, true] {
        for seed in 0..5 {
            let (ld, _, del) = train(&data, 3000, seed, tr);
            let (rec, pred) = rollout_errors(&ld, &full, 200);
            println!("time_reversible={tr} seed={seed}: DEL {del:.3e} recreation {rec:.3e} prediction {pred:.3e}");
            if rec > 1e-4 || pred > if tr { 0.05 } else { 0.08 } {
                failures.push(format!(
                    "tr={tr} seed={seed}: recreation {rec:.3e}, prediction {pred:.3e}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "outside the bounds: {failures:?}");
}

#[test]
fn save_load_predict_is_bit_identical_and_resume_matches_an_uninterrupted_run() {
    let (full, data) = truth("kepler", 60, 30);
    let mut cfg = TrainConfig::new(Recipe::Robust, 30);
    cfg.hidden = vec![16, 16];
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let opts = FitOptions {
        source: "test".into(),
        ..FitOptions::default()
    };
    let (_, mlp_a) = fit(&cfg, &data, &a, &opts, &mut |_| {}).unwrap();

    // Save → load → predict: identical bits.
    let (model, loaded) = model_dir::load(&a).unwrap();
    assert_eq!(loaded.params(), mlp_a.params());
    let roll = |ld: &LearnedLd| {
        VariationalIntegrator::new(ld, Convergence::default())
            .rollout_positions(full.position(0), full.position(1), 20)
            .unwrap()
            .q
    };
    let before = roll(&LearnedLd::new(
        mlp_a.clone(),
        model.parametrisation.clone(),
    ));
    let after = roll(&LearnedLd::new(loaded, model.parametrisation.clone()));
    assert_eq!(before, after);

    // Interrupted at epoch 20 (checkpoint), resumed to 30: the same weights.
    let with_cp = FitOptions {
        checkpoint_every: Some(20),
        ..opts.clone()
    };
    fit(&cfg, &data, &b, &with_cp, &mut |_| {}).unwrap();
    std::fs::remove_file(b.join("model.json")).unwrap();
    std::fs::remove_file(b.join("weights.safetensors")).unwrap();
    let resume = FitOptions {
        resume: true,
        ..with_cp
    };
    let mut resumed_epochs = Vec::new();
    let (model_b, mlp_b) = fit(&cfg, &data, &b, &resume, &mut |r| {
        resumed_epochs.push(r.epoch)
    })
    .unwrap();
    assert_eq!(resumed_epochs, (20..30).collect::<Vec<_>>());
    assert_eq!(model_b.epochs_done, 30);
    assert_eq!(
        mlp_b.params(),
        mlp_a.params(),
        "resumed run differs from the uninterrupted one"
    );
    let history = std::fs::read_to_string(b.join("history.csv")).unwrap();
    assert_eq!(
        history,
        std::fs::read_to_string(a.join("history.csv")).unwrap()
    );
}

/// The paper's symmetry solver trains coefficients beside the network: a
/// checkpoint carries them (and their Adam state), so a resumed run ends
/// with the same weights and generator as an uninterrupted one; and they
/// move from their initial guess.
#[test]
fn paper_solver_coefficients_train_and_resume_bit_identically() {
    use symdlnn::learn::CoefficientConfig;
    let (_, data) = truth("kepler", 30, 30);
    let mut cfg = TrainConfig::new(Recipe::Robust, 30);
    cfg.hidden = vec![16, 16];
    let init = CoefficientConfig::paper_guess("kepler").unwrap();
    let cfg = cfg
        .with_symmetry(paper_solver_from_guess("kepler", 20, 5))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let [(model_a, mlp_a), (model_b, mlp_b)] =
        common::straight_and_resumed(&cfg, &data, dir.path(), 20, |_| {});
    assert_eq!(mlp_b.params(), mlp_a.params());
    let (ga, gb) = (
        &model_a.symmetries.as_ref().unwrap().generators[0],
        &model_b.symmetries.as_ref().unwrap().generators[0],
    );
    assert_eq!(ga.coefficients, gb.coefficients);
    // Unit norm as reported; 25 Adam steps of 3e-3 moved it off the guess.
    let norm = init.iter().map(|x| x * x).sum::<f64>().sqrt();
    let moved = ga
        .coefficients
        .iter()
        .zip(&init)
        .map(|(c, g)| (c - g / norm).abs())
        .fold(0.0, f64::max);
    assert!(moved > 1e-3 && moved < 0.2, "moved {moved}");
}

/// The paper's solver on its cart–pendulum protocol (one trajectory, 3 000
/// epochs, seeds 0–2) from the paper's initial guess (|cos| 0.941): the
/// generator improves (mostly by Adam's per-coordinate steps on the norm
/// term, which shrink the guess's small entries: that alone gives 0.9931)
/// and the fit stays within 2× of DLNN's.
#[test]
#[ignore = "3 seeds × (SymDLNN + DLNN) × 3 000 epochs: ~2 minutes in release; run with --ignored"]
fn paper_solver_from_the_papers_guess_on_the_cart_pendulum() {
    use symdlnn::learn::symmetry::{agreement, from_coefficients, SymmetryBasis};
    use symdlnn::learn::{trainer, Objective};
    let (full, data) = truth("cartpend", 300, 200);
    let system = System::from_name("cartpend").unwrap();
    let mut failures = Vec::new();
    for seed in 0..3 {
        let (dlnn, _, del_dlnn) = train(&data, 3000, seed, false);
        let (rec_dlnn, _) = rollout_errors(&dlnn, &full, 200);
        let mut cfg = TrainConfig::new(Recipe::Robust, 3000);
        cfg.seed = seed;
        let sym = paper_solver_from_guess("cartpend", 200, 900);
        let points = sym.points;
        let cfg = cfg.with_symmetry(sym).unwrap();
        let mut t = trainer(&cfg, &data, None).unwrap();
        for _ in 0..3000 {
            t.step().unwrap();
        }
        let del = t.current_loss().terms[0].1;
        let ld = LearnedLd::new(t.mlp.clone(), t.objective.parametrisation().clone());
        let found = from_coefficients(
            &ld,
            SymmetryBasis::Affine,
            t.objective.own_params(),
            &points.pairs(&data, seed),
        )
        .unwrap();
        let cos = agreement(&[found.generators[0].affine()], &system.symmetries())[0];
        let (rec, _) = rollout_errors(&ld, &full, 200);
        println!(
            "seed {seed}: agreement {cos:.5}; DEL {del:.3e} (DLNN {del_dlnn:.3e}); recreation {rec:.3e} (DLNN {rec_dlnn:.3e})"
        );
        // Measured: agreement 0.99452, 0.99435, 0.99432; DEL 0.79–1.09× and
        // recreation 0.85–1.12× DLNN's.
        if cos < 0.99 || del > 2.0 * del_dlnn || rec > 2.0 * rec_dlnn {
            failures.push(seed);
        }
    }
    assert!(
        failures.is_empty(),
        "seeds outside the bounds: {failures:?}"
    );
}

/// When the shaping term switches on after its warm-up the loss's definition
/// changes; the step guard must not compare the new loss with the old one
/// (it would reject every step and freeze training).
#[test]
fn the_step_guard_forgets_losses_from_before_the_shaping_warm_up() {
    use symdlnn::learn::symmetry::{DiscoverySolver, EvaluationPoints, SymmetryBasis};
    use symdlnn::learn::{trainer, ShapingConfig, SymmetryConfig};
    let (_, data) = truth("kepler", 30, 30);
    let mut cfg = TrainConfig::new(Recipe::Robust, 40);
    cfg.hidden = vec![16, 16];
    let cfg = cfg
        .with_symmetry(SymmetryConfig {
            generators: 1,
            basis: SymmetryBasis::Affine,
            points: EvaluationPoints {
                train: true,
                boxed: 20,
            },
            // A weight large enough that switching the term on raises the loss
            // by more than the guard's threshold (3).
            shaping: Some(ShapingConfig {
                weight: 1e4,
                warmup: 10,
            }),
            solver: DiscoverySolver::Variational,
            coefficients: None,
            build_in: false,
        })
        .unwrap();
    let mut t = trainer(&cfg, &data, None).unwrap();
    for _ in 0..11 {
        t.step().unwrap();
    }
    let symmetry = |t: &symdlnn::learn::Trainer<_>| {
        let r = &t.history.last().unwrap().report;
        r.terms.iter().find(|x| x.0 == "symmetry").unwrap().1
    };
    let (at_start, before) = (symmetry(&t), t.mlp.params().to_vec());
    for _ in 0..29 {
        t.step().unwrap();
    }
    let guard = t.guard.as_ref().unwrap();
    assert!(guard.rejected < 5, "{} steps rejected", guard.rejected);
    assert_ne!(t.mlp.params(), &before[..]);
    // The term trains: it falls once it is on.
    assert!(symmetry(&t) < at_start, "{} vs {at_start}", symmetry(&t));
}

/// Latent positions are the objective's own parameters: a checkpoint
/// carries them (and their Adam state), so a run with `--noise` resumed
/// from a checkpoint ends with the same network and the same denoised
/// positions, bit for bit, as an uninterrupted one.
#[test]
fn a_noise_model_resumes_to_the_same_bits() {
    let (_, mut data) = truth("kepler", 60, 30);
    generate::add_position_noise(&mut data, 1e-3, 4).unwrap();
    let mut cfg = TrainConfig::new(Recipe::Robust, 30);
    cfg.hidden = vec![16, 16];
    cfg.dlnn_mut().unwrap().noise = symdlnn::data::NoiseSpec::Sigma(vec![1e-3]);
    let dir = tempfile::tempdir().unwrap();
    let [(_, mlp_a), (model_b, mlp_b)] =
        common::straight_and_resumed(&cfg, &data, dir.path(), 20, |b| {
            for f in ["model.json", "weights.safetensors", model_dir::DENOISED] {
                std::fs::remove_file(b.join(f)).unwrap();
            }
        });
    assert_eq!(mlp_b.params(), mlp_a.params());
    let denoised = |d: &str| {
        model_dir::load_denoised(&dir.path().join(d))
            .unwrap()
            .unwrap()
    };
    let (da, db) = (denoised("a"), denoised("b"));
    assert_eq!(da.trajectories[0].q, db.trajectories[0].q);
    // The latent positions moved off the data, and the record says by how much.
    assert_ne!(da.trajectories[0].q, data.trajectories[0].q);
    let noise = model_b.noise.unwrap();
    assert!(
        noise.residual_sd.iter().all(|&s| s > 0.0 && s < 1e-2),
        "{noise:?}"
    );
}
