//! Training and models in memory (what the Python package calls): one code
//! path with the model directories, checked inputs, DEL residuals.

use std::ops::ControlFlow;

use symdlnn::data::{generate, Dataset, Trajectory};
use symdlnn::learn::symmetry::{EvaluationPoints, SymmetryBasis};
use symdlnn::learn::{
    fit, model_dir, train, trainer, FitOptions, Recipe, SymmetryConfig, TrainConfig,
};
use symdlnn::mechanics::{del_residuals, Convergence, Midpoint, System, TimeGrid};

fn kepler_positions(points: usize, fine: usize) -> Dataset {
    let s = System::from_name("kepler").unwrap();
    let (q0, v0) = s.default_initial_condition();
    let grid = TimeGrid {
        dt: 0.1,
        steps: points - 1,
        fine,
    };
    let tr = generate::trajectory(&s, &q0, &v0, grid, Convergence::default()).unwrap();
    Dataset::from_positions(2, 0.1, vec![tr.q], "kepler").unwrap()
}

fn small(epochs: usize) -> TrainConfig {
    let mut c = TrainConfig::new(Recipe::Robust, epochs);
    c.hidden = vec![16, 16];
    c
}

/// `train` and `fit` give the same network, description and history; a
/// SymDLNN's generators too. `Trained::save` writes `fit`'s directory.
#[test]
fn train_in_memory_is_fit_bit_for_bit() {
    let data = kepler_positions(31, 10);
    let symdlnn = small(25)
        .with_symmetry(SymmetryConfig {
            generators: 1,
            basis: SymmetryBasis::Affine,
            points: EvaluationPoints::parse("train+box:50").unwrap(),
            shaping: None,
            solver: Default::default(),
            coefficients: None,
            build_in: false,
        })
        .unwrap();
    for config in [small(25), symdlnn] {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("fit"), dir.path().join("train"));
        let opts = FitOptions {
            source: "kepler".into(),
            ..FitOptions::default()
        };
        let (model_fit, mlp_fit) = fit(&config, &data, &a, &opts, &mut |_| {}).unwrap();
        let mut seen = 0;
        let trained = train(&config, &data, "kepler", &mut |_| {
            seen += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, 25);
        assert_eq!(trained.mlp.params(), mlp_fit.params());
        let mut m = trained.model.clone();
        m.training_seconds = model_fit.training_seconds;
        assert_eq!(m, model_fit);
        assert_eq!(
            trained.model.symmetries.is_some(),
            config.method.symmetry().is_some()
        );
        trained.save(&b).unwrap();
        for file in ["weights.safetensors", "history.csv"] {
            assert_eq!(
                std::fs::read(a.join(file)).unwrap(),
                std::fs::read(b.join(file)).unwrap(),
                "{file}"
            );
        }
    }
}

/// Breaking from the callback leaves the network after the last completed
/// epoch: the trainer's after as many steps.
#[test]
fn a_break_stops_training_after_the_completed_epoch() {
    let data = kepler_positions(31, 10);
    let config = small(40);
    let trained = train(&config, &data, "kepler", &mut |r| {
        if r.epoch == 6 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(trained.model.epochs_done, 7);
    assert_eq!(trained.history_csv.lines().count(), 1 + 7);
    let mut t = trainer(&config, &data, None).unwrap();
    for _ in 0..7 {
        t.step().unwrap();
    }
    assert_eq!(trained.mlp.params(), t.mlp.params());
}

/// Model bytes read back as the directory does, and bad bytes are refused
/// with `load`'s messages.
#[test]
fn model_bytes_round_trip_and_refuse_what_load_refuses() {
    let data = kepler_positions(31, 10);
    let trained = train(&small(3), &data, "k", &mut |_| ControlFlow::Continue(())).unwrap();
    let (json, weights) = model_dir::to_bytes(&trained.model, &trained.mlp).unwrap();
    let dir = tempfile::tempdir().unwrap();
    trained.save(dir.path()).unwrap();
    assert_eq!(std::fs::read(dir.path().join("model.json")).unwrap(), json);
    let (model, mlp) = model_dir::from_bytes(&json, &weights, dir.path()).unwrap();
    assert_eq!(model, trained.model);
    assert_eq!(mlp.params(), trained.mlp.params());
    let (loaded, _) = model_dir::load(dir.path()).unwrap();
    assert_eq!(loaded, model);
    let e = model_dir::from_bytes(b"{}", &weights, dir.path()).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("no 'format' field: not a symdlnn model"),
        "{e}"
    );
    let e = model_dir::from_bytes(&json, &weights[..10], dir.path()).unwrap_err();
    assert!(e.to_string().contains("weights.safetensors"), "{e}");
}

#[test]
fn positions_are_checked_as_files_are() {
    let ok = vec![0.0; 6];
    let err = |n, dt, q: Vec<Vec<f64>>| {
        Dataset::from_positions(n, dt, q, "q")
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(2, 0.1, vec![vec![0.0; 4]]),
        "q: trajectory 0: only 2 point(s): a trajectory needs at least 3"
    );
    assert_eq!(
        err(2, 0.1, vec![ok.clone(), vec![0.0; 7]]),
        "q: trajectory 1: 7 values are not whole points of dimension 2"
    );
    let mut nan = ok.clone();
    nan[5] = f64::NAN;
    assert_eq!(
        err(2, 0.1, vec![nan]),
        "q: trajectory 0: non-finite value NaN at index [2, 1]"
    );
    assert_eq!(
        err(2, -1.0, vec![ok.clone()]),
        "q: the step must be a positive number, got -1"
    );
    assert_eq!(
        err(2, f64::NAN, vec![ok.clone()]),
        "q: the step must be a positive number, got NaN"
    );
    assert_eq!(
        err(0, 0.1, vec![vec![]]),
        "q: the positions have no coordinates (n = 0)"
    );
    assert_eq!(err(2, 0.1, vec![]), "q: no trajectories");
    let d = Dataset::from_positions(2, 0.5, vec![ok.clone(), vec![1.0; 8]], "q").unwrap();
    assert_eq!(
        d.trajectories[1],
        Trajectory::from_positions(2, 0.0, 0.5, vec![1.0; 8])
    );
    assert_eq!(d.samples(), 7);
}

/// A path of the midpoint rule itself (one fine step per kept step) solves
/// its DEL equations to rounding; a finer truth does not, by O(h²).
#[test]
fn del_residuals_vanish_on_the_discrete_lagrangians_own_trajectory() {
    let s = System::from_name("kepler").unwrap();
    let ld = Midpoint::new(&s, 0.1);
    let exact = kepler_positions(40, 1);
    let r = del_residuals(&ld, &exact.trajectories[0].q);
    assert_eq!(r.len(), 38 * 2);
    let worst = r.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(worst < 1e-12, "{worst:e}");
    let finer = kepler_positions(40, 10);
    let r = del_residuals(&ld, &finer.trajectories[0].q);
    let worst = r.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(worst > 1e-6, "{worst:e}");
    assert!(del_residuals(&ld, &[0.0; 4]).is_empty());
}
