//! `symdlnn train / predict / inspect` end to end.

mod common;

use common::{
    edited_model, fails_with, json_file, numbers, ok, ok_json, read_csv, simulate, symdlnn,
};

#[test]
fn train_predict_inspect_on_a_small_kepler_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 30, "k.csv");
    ok(&symdlnn(
        &[
            "train", "--data", "k.csv", "--epochs", "40", "--hidden", "16,16", "--out", "m",
        ],
        d,
    ));
    for f in ["model.json", "weights.safetensors", "history.csv"] {
        assert!(d.join("m").join(f).is_file(), "{f} missing");
    }
    let history = std::fs::read_to_string(d.join("m/history.csv")).unwrap();
    assert_eq!(history.lines().count(), 41);
    assert!(
        history.starts_with("epoch,lr,loss,del,logdet,min_abs_hdet,median_abs_hdet,sign_changes\n")
    );

    let v: serde_json::Value = ok_json(&symdlnn(&["inspect", "--model", "m", "--json"], d));
    assert_eq!(v["method"], "dlnn");
    assert_eq!(v["n"], 2);
    assert_eq!(v["h"], 0.1);
    assert_eq!(v["epochs_done"], 40);
    assert_eq!(v["architecture"]["hidden"], serde_json::json!([16, 16]));
    assert_eq!(v["symdlnn_version"], env!("CARGO_PKG_VERSION"));
    assert!(v["final_losses"]["del"].as_f64().unwrap() > 0.0);
    assert!(v["det_j"]["median_abs_hdet"].as_f64().unwrap() > 0.0);
    // 30 pairs: the automatic Jacobian stride keeps every pair (≥ 20 pairs
    // with J); an explicit stride is reported as given.
    let text = ok(&symdlnn(&["inspect", "--model", "m"], d));
    assert!(
        text.contains(
            "  det J in training: every pair, automatic (the statistics above: every pair)\n"
        ),
        "{text}"
    );
    ok(&symdlnn(
        &[
            "train",
            "--data",
            "k.csv",
            "--epochs",
            "5",
            "--hidden",
            "16,16",
            "--jacobian-every",
            "3",
            "--out",
            "m3",
        ],
        d,
    ));
    let text = ok(&symdlnn(&["inspect", "--model", "m3"], d));
    assert!(
        text.contains("  det J in training: 1 pair in 3 (the statistics"),
        "{text}"
    );

    let out = ok(&symdlnn(
        &[
            "predict", "--model", "m", "--data", "k.csv", "--steps", "50", "--out", "p.csv",
            "--json",
        ],
        d,
    ));
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["points"], 51);
    let text = std::fs::read_to_string(d.join("p.csv")).unwrap();
    assert_eq!(text.lines().count(), 52);
    assert_eq!(text.lines().next().unwrap(), "t,q0,q1");
    // The rollout starts from the data's first two points.
    let data = std::fs::read_to_string(d.join("k.csv")).unwrap();
    for k in 1..3 {
        let a: Vec<&str> = text.lines().nth(k).unwrap().split(',').collect();
        let b: Vec<&str> = data.lines().nth(k).unwrap().split(',').collect();
        assert_eq!(a[..3], b[..3]);
    }
    // Same model, same start: identical bytes.
    ok(&symdlnn(
        &[
            "predict",
            "--model",
            "m",
            "--q0",
            "1,0",
            "--q1",
            &format!(
                "{},{}",
                data.lines().nth(2).unwrap().split(',').nth(1).unwrap(),
                data.lines().nth(2).unwrap().split(',').nth(2).unwrap()
            ),
            "--steps",
            "50",
            "--out",
            "p2.csv",
        ],
        d,
    ));
    assert_eq!(
        std::fs::read(d.join("p.csv")).unwrap(),
        std::fs::read(d.join("p2.csv")).unwrap()
    );
}

#[test]
fn nan_in_the_data_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bad.csv"), "t,q0\n0,1\n0.1,nan\n0.2,1\n0.3,1\n").unwrap();
    fails_with(
        &symdlnn(
            &["train", "--data", "bad.csv", "--epochs", "5", "--out", "m"],
            d,
        ),
        "bad.csv: line 3: non-finite value 'nan' in column 'q0'",
    );
    assert!(!d.join("m").exists(), "nothing may be written");
}

#[test]
fn a_diverging_run_stops_with_the_checkpoint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "cartpend", 20, "c.csv");
    // A learning rate of 1e200 from epoch 12 overflows the weights.
    let out = symdlnn(
        &[
            "train",
            "--data",
            "c.csv",
            "--recipe",
            "paper",
            "--hidden",
            "8,8",
            "--epochs",
            "100",
            "--schedule",
            "steps:12=1e200",
            "--checkpoint-every",
            "5",
            "--out",
            "m",
        ],
        d,
    );
    fails_with(&out, "non-finite loss at epoch 13 (loss NaN, del NaN, degeneracy NaN); training stopped; the last good checkpoint (epoch 10) is in m/checkpoint");
    let cp = json_file(&d.join("m/checkpoint/model.json"));
    assert_eq!(cp["epochs_done"], 10);
    assert!(!d.join("m/model.json").exists());
    // The checkpoint is a loadable model.
    ok(&symdlnn(&["inspect", "--model", "m/checkpoint"], d));
}

#[test]
fn bad_flags_and_mismatched_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "oscillator", 10, "o.csv");
    simulate(d, "kepler", 10, "k.csv");
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "train",
                "--data",
                "o.csv",
                "--degeneracy-power",
                "3",
                "--out",
                "m",
            ],
            "--degeneracy-power",
        ),
        (
            &[
                "train",
                "--data",
                "o.csv",
                "--schedule",
                "bogus",
                "--out",
                "m",
            ],
            "--schedule: unknown schedule 'bogus'",
        ),
        (
            &["train", "--data", "o.csv", "--hidden", "8,0", "--out", "m"],
            "widths must be positive",
        ),
        (
            &["train", "--data", "o.csv", "--dt", "0.2", "--out", "m"],
            "o.csv: the given step 0.2 disagrees with the file's time step 0.1",
        ),
        (
            &["train", "--data", "o.csv", "--resume", "--out", "m"],
            "no checkpoint to resume from",
        ),
        (
            &["inspect", "--model", "nowhere"],
            "nowhere: not a model directory",
        ),
    ];
    for (args, expect) in cases {
        fails_with(&symdlnn(args, d), expect);
    }
    ok(&symdlnn(
        &[
            "train", "--data", "o.csv", "--epochs", "3", "--hidden", "4", "--out", "m",
        ],
        d,
    ));
    fails_with(
        &symdlnn(
            &[
                "predict", "--model", "m", "--data", "k.csv", "--steps", "5", "--out", "p.csv",
            ],
            d,
        ),
        "k.csv: the data have dimension 2, expected 1",
    );
    fails_with(
        &symdlnn(
            &[
                "predict", "--model", "m", "--q0", "1", "--q1", "1,2", "--steps", "5", "--out",
                "p.csv",
            ],
            d,
        ),
        "--q1 has 2 values; the model has dimension 1",
    );
    assert!(!d.join("p.csv").exists());
    // A model from a newer format is refused with a clear message.
    let json = std::fs::read_to_string(d.join("m/model.json"))
        .unwrap()
        .replace("\"format\": 1", "\"format\": 99");
    std::fs::write(d.join("m/model.json"), json).unwrap();
    fails_with(
        &symdlnn(&["inspect", "--model", "m"], d),
        "model format 99 was written by a newer symdlnn",
    );
}

#[test]
fn symdlnn_stores_generators_and_inspect_compares_them_with_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 30, "k.csv");
    ok(&symdlnn(
        &[
            "train",
            "--method",
            "symdlnn",
            "--symmetries",
            "2",
            "--data",
            "k.csv",
            "--epochs",
            "20",
            "--hidden",
            "16,16",
            "--out",
            "m",
        ],
        d,
    ));
    let v: serde_json::Value = ok_json(&symdlnn(
        &["inspect", "--model", "m", "--truth", "kepler", "--json"],
        d,
    ));
    assert_eq!(v["method"], "symdlnn");
    let gens = v["generators"].as_array().unwrap();
    assert_eq!(gens.len(), 2);
    for g in gens {
        let c: Vec<f64> = g["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(c.len(), 6);
        assert!((c.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(g["M"].as_array().unwrap().len(), 4);
    }
    let spectrum: Vec<f64> = v["spectrum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(spectrum.len(), 6);
    // Variational solver (the default): relative to the scale of the
    // linearised equations, ascending.
    assert!(spectrum.windows(2).all(|w| w[0] <= w[1]) && spectrum[5] > 0.0);
    assert_eq!(v["training"]["symmetry"]["solver"], "variational");
    // The null-space solver reports σ/σmax, and says how to remove the
    // gauge term that can mislead it.
    let null = symdlnn(
        &[
            "train",
            "--method",
            "symdlnn",
            "--sym-solver",
            "nullspace",
            "--data",
            "k.csv",
            "--epochs",
            "20",
            "--hidden",
            "16,16",
            "--out",
            "m-null",
        ],
        d,
    );
    ok(&null);
    assert!(String::from_utf8_lossy(&null.stderr)
        .contains("note: this solver reads ξ·∇Ld, which a gauge term Φ(q1) − Φ(q0) of the learned Ld can mislead; --time-reversible removes it"));
    let w: serde_json::Value = ok_json(&symdlnn(&["inspect", "--model", "m-null", "--json"], d));
    assert_eq!(w["training"]["symmetry"]["solver"], "nullspace");
    assert_eq!(w["spectrum"][5].as_f64(), Some(1.0));
    // K = 2 learned against one true generator: one principal angle.
    let angles = v["agreement"].as_array().unwrap();
    assert_eq!(angles.len(), 1);
    assert!((0.0..=90.0).contains(&angles[0].as_f64().unwrap()));

    fails_with(
        &symdlnn(&["inspect", "--model", "m", "--truth", "cartpend-x"], d),
        "unknown system 'cartpend-x'",
    );
    fails_with(
        &symdlnn(
            &["inspect", "--model", "m", "--truth", "double-pendulum"],
            d,
        ),
        "--truth double-pendulum: the system has no known symmetry to compare with",
    );
    // Bad symmetry flags, the paper solver's among them, are refused before
    // anything is written.
    let sym_train = |extra: &[&str]| {
        let mut args = vec![
            "train", "--method", "symdlnn", "--data", "k.csv", "--out", "m2",
        ];
        args.extend_from_slice(extra);
        symdlnn(&args, d)
    };
    for (extra, expect) in [
        (
            &["--symmetries", "7"][..],
            "--symmetries must be between 1 and 6 (the affine basis in dimension 2)",
        ),
        (
            &["--sym-basis", "spiral"][..],
            "--sym-basis: unknown basis 'spiral' (affine, translations, linear, rotations, euclidean or polynomial:D (D = 1…6))",
        ),
        (
            &["--sym-basis", "polynomial:7"][..],
            "--sym-basis: unknown basis 'polynomial:7'",
        ),
        (&["--sym-points", "box:x"][..], "--sym-points: 'box:x'"),
        (
            &["--sym-solver", "paper", "--sym-init", "1,2,3"][..],
            "--sym-init: 3 values given, K × basis size = 1 × 6 = 6 needed",
        ),
        (
            &["--sym-solver", "paper", "--sym-init", "1,2,x,4,5,6"][..],
            "--sym-init: 'x' is not a finite number",
        ),
        (
            &["--sym-solver", "paper", "--sym-init", "0,0,0,0,0,0"][..],
            "--sym-init: a generator's coefficients are all zero",
        ),
        (
            &[
                "--sym-solver",
                "paper",
                "--sym-init",
                "kepler",
                "--sym-basis",
                "rotations",
            ][..],
            "--sym-init kepler: the paper's guess is one affine generator in dimension 2",
        ),
        (
            &["--sym-solver", "paper", "--sym-weight", "0"][..],
            "--sym-weight must be > 0 with --sym-solver paper",
        ),
        (
            &["--sym-init", "kepler"][..],
            "--sym-init applies to --sym-solver paper only",
        ),
        (
            &["--sym-solver", "nullspace", "--sym-beta", "2"][..],
            "--sym-beta applies to --sym-solver paper only",
        ),
    ] {
        fails_with(&sym_train(extra), expect);
    }
    fails_with(
        &symdlnn(
            &[
                "train",
                "--sym-weight",
                "5",
                "--data",
                "k.csv",
                "--out",
                "m2",
            ],
            d,
        ),
        "--sym-weight applies to --method symdlnn only",
    );
    assert!(!d.join("m2").exists());
    // It trains the coefficients from the paper's guess and reports them.
    ok(&sym_train(&[
        "--sym-solver",
        "paper",
        "--sym-init",
        "kepler",
        "--epochs",
        "20",
        "--sym-warmup",
        "5",
        "--hidden",
        "16,16",
    ]));
    let p: serde_json::Value = ok_json(&symdlnn(
        &["inspect", "--model", "m2", "--truth", "kepler", "--json"],
        d,
    ));
    assert_eq!(p["training"]["symmetry"]["solver"], "paper");
    assert_eq!(
        p["training"]["symmetry"]["coefficients"]["init_name"],
        "kepler"
    );
    let cos = p["agreement"][0].as_f64().unwrap();
    // The guess's own agreement is 0.9718; 15 small steps stay near it.
    assert!((0.9..=1.0).contains(&cos), "agreement {cos}");
    assert!(p["final_losses"]["symmetry"].as_f64().unwrap() > 0.0);

    // Polynomial fields: each generator says its basis; M and w are its
    // degree ≤ 1 part, the coefficients after the affine six its degree-2
    // part; the agreement is |cos| against the rotation in those coordinates.
    ok(&sym_train(&[
        "--sym-solver",
        "nullspace",
        "--sym-basis",
        "polynomial:2",
        "--epochs",
        "20",
        "--hidden",
        "16,16",
    ]));
    let q: serde_json::Value = ok_json(&symdlnn(
        &["inspect", "--model", "m2", "--truth", "kepler", "--json"],
        d,
    ));
    assert_eq!(q["training"]["symmetry"]["basis"]["polynomial"], 2);
    let g = &q["generators"][0];
    assert_eq!(g["basis"]["polynomial"], 2);
    let c = numbers(&g["coefficients"]);
    assert_eq!(c.len(), 12);
    assert_eq!(numbers(&g["M"]), c[..4]);
    assert_eq!(numbers(&g["w"]), c[4..6]);
    let r = std::f64::consts::FRAC_1_SQRT_2;
    let cos = (c[1] * r - c[2] * r).abs() / c.iter().map(|x| x * x).sum::<f64>().sqrt();
    let reported = q["agreement"][0].as_f64().unwrap();
    assert!((reported - cos).abs() < 1e-12, "{reported} vs {cos}");
}

#[test]
fn lnn_trains_in_each_data_mode_and_predicts_with_the_same_integrator() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 30, "k.csv");
    for (mode, extra) in [
        ("positions", None),
        ("truth", Some("kepler")),
        ("reference", Some("kepler")),
    ] {
        let out = format!("m-{mode}");
        let mut args = vec![
            "train",
            "--method",
            "lnn",
            "--lnn-data",
            mode,
            "--data",
            "k.csv",
            "--epochs",
            "20",
            "--hidden",
            "16,16",
            "--out",
            &out,
        ];
        if let Some(s) = extra {
            args.extend(["--system", s]);
        }
        ok(&symdlnn(&args, d));
        let v: serde_json::Value = ok_json(&symdlnn(&["inspect", "--model", &out, "--json"], d));
        assert_eq!(v["method"], "lnn");
        assert_eq!(v["training"]["lnn"]["data"], mode);
        assert!(v["final_losses"]["acceleration_mse"].as_f64().unwrap() > 0.0);
    }
    // A learned L predicts through the same variational integrator.
    simulate(d, "oscillator", 60, "o.csv");
    ok(&symdlnn(
        &[
            "train",
            "--method",
            "lnn",
            "--lnn-data",
            "truth",
            "--system",
            "oscillator",
            "--data",
            "o.csv",
            "--epochs",
            "300",
            "--hidden",
            "16,16",
            "--out",
            "lo",
        ],
        d,
    ));
    let s: serde_json::Value = ok_json(&symdlnn(
        &[
            "predict", "--model", "lo", "--data", "o.csv", "--steps", "40", "--out", "lo.csv",
            "--json",
        ],
        d,
    ));
    assert_eq!(s["newton"]["solves"], 39);
    assert_eq!(
        std::fs::read_to_string(d.join("lo.csv"))
            .unwrap()
            .lines()
            .count(),
        42
    );
    fails_with(
        &symdlnn(
            &[
                "train",
                "--method",
                "lnn",
                "--lnn-data",
                "truth",
                "--data",
                "k.csv",
                "--out",
                "bad",
            ],
            d,
        ),
        "--lnn-data truth needs the true system (--system)",
    );
    std::fs::write(
        d.join("pos.csv"),
        "t,q0,q1\n0,1,0\n0.1,0.99,0.06\n0.2,0.98,0.12\n",
    )
    .unwrap();
    fails_with(
        &symdlnn(
            &[
                "train",
                "--method",
                "lnn",
                "--lnn-data",
                "reference",
                "--system",
                "kepler",
                "--data",
                "pos.csv",
                "--out",
                "bad",
            ],
            d,
        ),
        "--lnn-data reference needs 'p' columns in the data file",
    );
    assert!(!d.join("bad").exists());
}

#[test]
fn angle_coordinates_make_the_model_periodic_and_bad_uses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "cartpend", 40, "c.csv");
    simulate(d, "oscillator", 10, "o.csv");
    // A pendulum angle wrapped into (−π, π]: a step of −2π + 0.02.
    let wrapped = "t,q0,q1\n0,0,3.10\n0.01,0,3.12\n0.02,0,3.14\n0.03,0,-3.1232\n0.04,0,-3.1032\n";
    std::fs::write(d.join("w.csv"), wrapped).unwrap();
    let train = |extra: &[&str]| {
        let mut a = vec!["train", "--epochs", "3", "--hidden", "4", "--out", "m"];
        a.extend_from_slice(extra);
        symdlnn(&a, d)
    };
    let cases: [(&[&str], &str); 7] = [
        (
            &["--data", "c.csv", "--angles", "1", "--recipe", "paper"],
            "--angles belongs to the robust recipe",
        ),
        (
            &["--data", "c.csv", "--angles", "1", "--method", "lnn"],
            "--angles applies to --method dlnn and symdlnn only",
        ),
        (
            &["--data", "c.csv", "--angles", "2"],
            "angle coordinate 2 does not exist (the data have 2 coordinates, 0–1)",
        ),
        (
            &["--data", "o.csv", "--angles", "1"],
            "angle coordinate 1 does not exist (the data have 1 coordinate, index 0)",
        ),
        (
            &["--data", "c.csv", "--angles", "1,1"],
            "an angle coordinate is named twice",
        ),
        (&["--data", "c.csv", "--angles", "x"], "'x' is not a coordinate index"),
        (
            &["--data", "w.csv", "--angles", "1"],
            "angle coordinate 1 jumps by -6.263 between snapshots 2 and 3 of trajectory 0: unwrap it",
        ),
    ];
    for (args, expect) in cases {
        fails_with(&train(args), expect);
        assert!(!d.join("m").exists(), "{args:?} left a model behind");
    }
    // The same wrapped file is fine when coordinate 1 is not an angle.
    ok(&train(&["--data", "w.csv"]));
    ok(&train(&["--data", "c.csv", "--angles", "1"]));
    let model = json_file(&d.join("m/model.json"));
    assert_eq!(
        model["parametrisation"]["input_map"]["angles"],
        serde_json::json!([1])
    );
    assert_eq!(model["architecture"]["input"], 5);
    let text = ok(&symdlnn(&["inspect", "--model", "m"], d));
    assert!(
        text.contains(
            "inputs: standardised midpoint and velocity; angles q1 (Ld periodic); kinetic prior"
        ),
        "{text}"
    );
    // A model file whose parametrisation does not fit its network is refused.
    edited_model(d, "m", "edited", |v| {
        let map = &mut v["parametrisation"]["input_map"];
        map.as_object_mut().unwrap().remove("angles");
    });
    fails_with(
        &symdlnn(&["inspect", "--model", "edited"], d),
        "the parametrisation (n = 2, 4 network inputs) does not fit the model (n = 2, 5 inputs)",
    );
    // Rolled out from a start shifted by 2π in the angle, the model's
    // trajectory is the same one shifted by 2π: Ld is periodic in it.
    let run = |q0: &str, q1: &str, out: &str| {
        ok(&symdlnn(
            &[
                "predict", "--model", "m", "--q0", q0, "--q1", q1, "--steps", "20", "--out", out,
            ],
            d,
        ));
        // Columns t, q0, q1.
        let rows = read_csv(&d.join(out));
        rows.into_iter()
            .map(|r| r[1..].to_vec())
            .collect::<Vec<_>>()
    };
    let tau = std::f64::consts::TAU;
    let a = run("0.1,0.3", "0.1002,0.305", "a.csv");
    let b = run(
        &format!("0.1,{}", 0.3 + tau),
        &format!("0.1002,{}", 0.305 + tau),
        "b.csv",
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!((x[0] - y[0]).abs() < 1e-9, "{x:?} vs {y:?}");
        assert!((x[1] + tau - y[1]).abs() < 1e-9, "{x:?} vs {y:?}");
    }
}

#[test]
fn trajectories_of_different_lengths_from_a_directory_train_validate_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("runs")).unwrap();
    // Three NPY files of 21, 36 and 51 points (one Δt), and a CSV of 41.
    for (steps, file) in [(20, "runs/a.npy"), (35, "runs/b.npy"), (50, "runs/c.npy")] {
        simulate(d, "kepler", steps, file);
    }
    simulate(d, "kepler", 40, "d.csv");
    let out = ok(&symdlnn(
        &[
            "train",
            "--data",
            "runs",
            "d.csv",
            "--dt",
            "0.1",
            "--epochs",
            "30",
            "--hidden",
            "16,16",
            "--batch-size",
            "24",
            "--validation",
            "0.25",
            "--validate-every",
            "10",
            "--out",
            "m",
        ],
        d,
    ));
    assert!(out.contains("best_epoch"), "{out}");
    let v = json_file(&d.join("m/model.json"));
    // One of four trajectories held out: 3 trained on.
    assert_eq!(v["data"]["trajectories"], 3);
    assert_eq!(v["training"]["control"]["batch_size"], 24);
    let history = std::fs::read_to_string(d.join("m/history.csv")).unwrap();
    let head = history.lines().next().unwrap();
    assert!(
        head.ends_with(",seconds,val_loss,val_del,val_rollout"),
        "{head}"
    );
    // Validated after epochs 10, 20 and 30: those rows have scores.
    let validated = history
        .lines()
        .skip(1)
        .filter(|l| !l.ends_with(",,,"))
        .count();
    assert_eq!(validated, 3, "{history}");
    // The model predicts a trajectory of each length.
    for (file, traj) in [("runs/a.npy", "0"), ("runs/c.npy", "0"), ("d.csv", "0")] {
        ok(&symdlnn(
            &[
                "evaluate",
                "--model",
                "m",
                "--data",
                file,
                "--dt",
                "0.1",
                "--traj",
                traj,
                "--train-steps",
                "15",
                "--out",
                "e",
            ],
            d,
        ));
    }
    fails_with(
        &symdlnn(
            &[
                "train",
                "--data",
                "d.csv",
                "--validation",
                "0.5",
                "--out",
                "x",
            ],
            d,
        ),
        "--validation holds out whole trajectories: the data have 1, it needs at least 2",
    );
}

/// Without `--epochs` a run takes 20 000 optimiser steps: 20 000 full-batch
/// epochs, or fewer epochs of several minibatches; the cosine schedule
/// spans the epochs chosen (it ends at 1e-5).
#[test]
fn the_default_epochs_make_twenty_thousand_steps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 30, "k.csv");
    for (batch, epochs) in [("auto", 20_000), ("8", 5_000)] {
        let out = format!("m{batch}");
        ok(&symdlnn(
            &[
                "train",
                "--data",
                "k.csv",
                "--hidden",
                "2",
                "--batch-size",
                batch,
                "--out",
                &out,
            ],
            d,
        ));
        let v: serde_json::Value = ok_json(&symdlnn(&["inspect", "--model", &out, "--json"], d));
        assert_eq!(v["epochs_done"], epochs, "--batch-size {batch}");
        let history = read_csv(&d.join(&out).join("history.csv"));
        let last_lr = history.last().unwrap()[1];
        assert!((last_lr - 1e-5).abs() < 1e-7, "last lr {last_lr}");
    }
}
