//! `train --symmetry` (a declared symmetry built into Ld) and `--build-in`
//! (the discovered one, when the data identify it), end to end.

mod common;
use common::{fails_with, json_file, ok, simulate, symdlnn};

#[test]
fn a_declared_rotation_is_built_in_and_conserved_by_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 50, "k.csv");
    ok(&symdlnn(
        &[
            "train",
            "--data",
            "k.csv",
            "--epochs",
            "60",
            "--hidden",
            "16,16",
            "--symmetry",
            "rotation",
            "--out",
            "m",
        ],
        d,
    ));
    let model = json_file(&d.join("m/model.json"));
    assert_eq!(model["parametrisation"]["input_map"]["kind"], "invariant");
    assert_eq!(model["training"]["built_in"]["source"], "declared");
    // Three inputs: the radius and the velocity in the midpoint's frame.
    assert_eq!(model["architecture"]["input"], 3);
    let text = ok(&symdlnn(&["inspect", "--model", "m"], d));
    assert!(text.contains("built in: rotation (from declared"), "{text}");
    let text = ok(&symdlnn(
        &[
            "evaluate",
            "--model",
            "m",
            "--data",
            "k.csv",
            "--train-steps",
            "50",
            "--out",
            "e",
        ],
        d,
    ));
    let m = json_file(&d.join("e/metrics.json"));
    let drift = m["built_in"][0]["relative_drift"].as_f64().unwrap();
    assert!(drift < 1e-10, "Noether momentum drift {drift:e}\n{text}");
    assert!(
        text.contains("built-in rotation: the learned Ld's Noether momentum"),
        "{text}"
    );
}

#[test]
fn so3_is_built_in_for_kepler3d_and_its_three_momenta_are_conserved() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler3d", 50, "k.csv");
    ok(&symdlnn(
        &[
            "train",
            "--data",
            "k.csv",
            "--symmetry",
            "so3",
            "--time-reversible",
            "--epochs",
            "300",
            "--hidden",
            "32,32",
            "--out",
            "m",
        ],
        d,
    ));
    let model = json_file(&d.join("m/model.json"));
    assert_eq!(model["parametrisation"]["input_map"]["kind"], "invariant");
    // Three inputs: the radius, the speed squared and the radial velocity.
    assert_eq!(model["architecture"]["input"], 3);
    let text = ok(&symdlnn(&["inspect", "--model", "m"], d));
    assert_eq!(text.matches("built in: ").count(), 3, "{text}");
    let text = ok(&symdlnn(
        &[
            "evaluate",
            "--model",
            "m",
            "--data",
            "k.csv",
            "--train-steps",
            "50",
            "--out",
            "e",
        ],
        d,
    ));
    let m = json_file(&d.join("e/metrics.json"));
    let built = m["built_in"].as_array().unwrap();
    assert_eq!(built.len(), 3, "{text}");
    for (b, axis) in built.iter().zip(["q0", "q1", "q2"]) {
        assert_eq!(b["generator"], format!("rotation about {axis}"));
        let drift = b["relative_drift"].as_f64().unwrap();
        assert!(
            drift < 1e-10,
            "{axis}: Noether momentum drift {drift:e}\n{text}"
        );
    }
    // The data's angular momentum (0, −0.1, 0.6)·m2 points away from q0.
    let l: Vec<f64> = built
        .iter()
        .map(|b| b["initial"].as_f64().unwrap())
        .collect();
    assert!(l[0].abs() < 1e-6 * l[2].abs() && l[1] != 0.0, "{l:?}");
    assert_eq!(
        text.matches("the learned Ld's Noether momentum").count(),
        3,
        "{text}"
    );
}

#[test]
fn bad_symmetries_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 20, "k.csv");
    let train = |extra: &[&str]| {
        let mut a = vec![
            "train", "--data", "k.csv", "--epochs", "3", "--hidden", "4", "--out", "m",
        ];
        a.extend_from_slice(extra);
        symdlnn(&a, d)
    };
    let cases: [(&[&str], &str); 7] = [
        (
            &["--symmetry", "spiral"],
            "--symmetry: 'spiral' is not rotation, rotation:cx,cy",
        ),
        (
            &["--symmetry", "translation:1"],
            "a built-in generator has 1 components, the data 2",
        ),
        (
            &["--symmetry", "rotation", "--recipe", "paper"],
            "--symmetry (a built-in symmetry) belongs to the robust recipe",
        ),
        (
            &["--symmetry", "rotation", "--symmetry", "rotation:1,0"],
            "only one rotation can be built in",
        ),
        (&["--symmetry", "so3"], "so(3) needs at least 3 coordinates"),
        (
            &["--symmetry", "rotation", "--method", "lnn"],
            "--symmetry applies to --method dlnn and symdlnn only",
        ),
        (
            &["--build-in"],
            "--build-in applies to --method symdlnn only",
        ),
    ];
    for (args, expect) in cases {
        fails_with(&train(args), expect);
        assert!(!d.join("m").exists(), "{args:?} left a model behind");
    }
}

#[test]
fn an_unidentified_generator_is_not_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "cartpend", 60, "c.csv");
    // A barely trained network: its "symmetry" is an accident of the network.
    let out = symdlnn(
        &[
            "train",
            "--method",
            "symdlnn",
            "--build-in",
            "--data",
            "c.csv",
            "--epochs",
            "5",
            "--hidden",
            "8",
            "--out",
            "m",
        ],
        d,
    );
    fails_with(&out, "the discovered generator is not identified");
    fails_with(
        &out,
        "nothing was built in and the discovery model is in m/discovery. More trajectories, angle coordinates declared as angles (--angles, angles=), time reversal (--time-reversible",
    );
    assert!(
        d.join("m/discovery/model.json").is_file(),
        "the discovery model is kept"
    );
    assert!(!d.join("m/model.json").exists(), "nothing was built in");
}

/// `evaluate --json`'s prediction rel. RMSE of `model` on `full.csv` (50
/// training steps).
fn prediction(d: &std::path::Path, model: &str) -> f64 {
    let out = ok(&symdlnn(
        &[
            "evaluate",
            "--model",
            model,
            "--data",
            "full.csv",
            "--train-steps",
            "50",
            "--out",
            &format!("e-{}", model.replace('/', "-")),
            "--json",
        ],
        d,
    ));
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    m["prediction"]["relative_rmse"].as_f64().unwrap()
}

#[test]
fn an_identified_rotation_is_built_in_about_the_centre_the_data_conserve() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 200, "full.csv");
    let text = std::fs::read_to_string(d.join("full.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(52).collect();
    std::fs::write(d.join("k.csv"), head.join("\n") + "\n").unwrap();
    ok(&symdlnn(
        &[
            "train",
            "--method",
            "symdlnn",
            "--build-in",
            "--sym-solver",
            "nullspace",
            "--time-reversible",
            "--data",
            "k.csv",
            "--hidden",
            "32,32",
            "--epochs",
            "2000",
            "--out",
            "m",
        ],
        d,
    ));
    let model = json_file(&d.join("m/model.json"));
    let source = model["training"]["built_in"]["source"].as_str().unwrap();
    assert!(
        source.contains("its centre refined by the data's angular momentum"),
        "{source}"
    );
    // The halves agree on the plane; refitted to each half's data, their
    // centres agree too (measured 0.9978 as discovered, 1.0000 refitted).
    let refitted: f64 = source
        .split(" with each half's centre refitted")
        .next()
        .and_then(|s| s.rsplit(", ").next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no refitted agreement in {source}"));
    assert!(refitted >= 0.999, "{source}");
    // Kepler's centre is the origin: measured 2.5e-4 off (discovery's own
    // generator 0.093 off, by the note's "moved"); fourfold margin.
    let c = &model["parametrisation"]["input_map"]["built_in"]["rotation"]["centre"];
    let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    assert!(x.hypot(y) < 1e-3, "built-in centre ({x}, {y})");
    // The built-in model predicts the unseen 150 steps far better than the
    // discovery model it came from (measured 0.021 against 0.11).
    let (built, found) = (prediction(d, "m"), prediction(d, "m/discovery"));
    assert!(
        built < 0.5 * found && built < 0.05,
        "built in {built}, discovery model {found}"
    );
}
