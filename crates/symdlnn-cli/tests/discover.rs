//! `symdlnn discover` end to end: the symmetries of a saved model found
//! again, with the training's settings or others.

mod common;

use common::{edited_model, fails_with, numbers, ok, ok_json, simulate, symdlnn};

#[test]
fn discover_repeats_the_trainings_discovery_and_tries_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 30, "k.csv");
    let train = |extra: &[&str]| {
        let mut a = vec![
            "train", "--data", "k.csv", "--epochs", "60", "--hidden", "16,16",
        ];
        a.extend_from_slice(extra);
        ok(&symdlnn(&a, d));
    };
    // SymDLNN, null space on a time-reversible Ld, from a seed.
    let train_symdlnn = |seed: &str, out: &str| {
        train(&[
            "--method",
            "symdlnn",
            "--sym-solver",
            "nullspace",
            "--time-reversible",
            "--seed",
            seed,
            "--out",
            out,
        ])
    };
    train_symdlnn("3", "m");
    let model_json = std::fs::read(d.join("m/model.json")).unwrap();
    let stored: serde_json::Value = ok_json(&symdlnn(&["inspect", "--model", "m", "--json"], d));

    // The model's own settings by default: training's result to the last bit
    // (the same network, pairs and box seed).
    let again: serde_json::Value = ok_json(&symdlnn(
        &["discover", "--model", "m", "--data", "k.csv", "--json"],
        d,
    ));
    assert_eq!(again["solver"], "nullspace");
    assert_eq!(again["points"], "train+box:200");
    assert_eq!(again["seed"], 3);
    assert_eq!(again["agreement"], serde_json::Value::Null);
    assert_eq!(again["generators"], stored["generators"]);
    assert_eq!(again["spectrum"], stored["spectrum"]);

    // Another solver, with the truth: the agreement is |cos| between the
    // coefficient vectors (vec M, w) of the generator and Kepler's rotation.
    let other: serde_json::Value = ok_json(&symdlnn(
        &[
            "discover",
            "--model",
            "m",
            "--data",
            "k.csv",
            "--sym-solver",
            "variational",
            "--truth",
            "kepler",
            "--json",
        ],
        d,
    ));
    assert_eq!(other["solver"], "variational");
    let c = numbers(&other["generators"][0]["coefficients"]);
    let r = std::f64::consts::FRAC_1_SQRT_2;
    let truth = [0.0, r, -r, 0.0, 0.0, 0.0];
    let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
    let cos = c.iter().zip(truth).map(|(a, b)| a * b).sum::<f64>().abs() / norm;
    let reported = numbers(&other["agreement"])[0];
    assert!((reported - cos).abs() < 1e-12, "{reported} vs {cos}");
    // A smaller search space: the rotation basis has one field in 2-D.
    let text = ok(&symdlnn(
        &[
            "discover",
            "--model",
            "m",
            "--data",
            "k.csv",
            "--sym-basis",
            "rotations",
            "--truth",
            "kepler",
        ],
        d,
    ));
    assert!(
        text.contains("symmetries (rotations basis, Nullspace solver, 230 evaluation pairs)"),
        "{text}"
    );
    assert!(
        text.contains("agreement with kepler's rotation: |cos| = 1.000000"),
        "{text}"
    );
    // Nothing was written to the model.
    assert_eq!(std::fs::read(d.join("m/model.json")).unwrap(), model_json);

    // A model file from before generators recorded their basis reads as
    // affine; one whose generator does not fit its basis is refused.
    edited_model(d, "m", "edited", |v| {
        let generator = &mut v["symmetries"]["generators"][0];
        generator.as_object_mut().unwrap().remove("basis");
    });
    let old: serde_json::Value = ok_json(&symdlnn(&["inspect", "--model", "edited", "--json"], d));
    assert_eq!(old["generators"], stored["generators"]);
    edited_model(d, "m", "edited", |v| {
        v["symmetries"]["generators"][0]["basis"] = serde_json::json!({ "polynomial": 2 });
    });
    fails_with(
        &symdlnn(&["inspect", "--model", "edited"], d),
        "invalid symmetries: generator 0 has 6 coefficients, 4 entries of M and 2 of w; the polynomial:2 basis in dimension 2 has 12, 4, 2",
    );

    // Several models jointly: the same model twice is that model alone;
    // three seeds give each model's own generators beside the joint ones.
    let twice: serde_json::Value = ok_json(&symdlnn(
        &[
            "discover", "--model", "m", "--model", "m", "--data", "k.csv", "--json",
        ],
        d,
    ));
    let (c1, c2) = (
        numbers(&again["generators"][0]["coefficients"]),
        numbers(&twice["generators"][0]["coefficients"]),
    );
    let gap = c1
        .iter()
        .zip(&c2)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(gap < 1e-12, "{c1:?} vs {c2:?}");
    train_symdlnn("4", "m4");
    train_symdlnn("5", "m5");
    let joint: serde_json::Value = ok_json(&symdlnn(
        &[
            "discover", "--model", "m", "--model", "m4", "--model", "m5", "--data", "k.csv",
            "--truth", "kepler", "--json",
        ],
        d,
    ));
    // Three times the pairs; each model alone with its agreements.
    assert_eq!(joint["pairs"], 3 * again["pairs"].as_u64().unwrap());
    let models = joint["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(models[0]["model"], "m");
    assert_eq!(models[0]["generators"], again["generators"]);
    for m in models {
        let with_joint = numbers(&m["agreement_with_joint"])[0];
        let with_truth = numbers(&m["agreement"])[0];
        assert!((0.0..=1.0 + 1e-12).contains(&with_joint), "{with_joint}");
        assert!((0.0..=1.0 + 1e-12).contains(&with_truth), "{with_truth}");
    }
    let text = ok(&symdlnn(
        &[
            "discover", "--model", "m", "--model", "m4", "--data", "k.csv", "--truth", "kepler",
        ],
        d,
    ));
    assert!(
        text.starts_with("2 models jointly on k.csv (1 trajectory)"),
        "{text}"
    );
    assert!(text.contains("  each model alone:\n    m: "), "{text}");

    // A DLNN model: the train defaults (one generator, variational).
    train(&["--out", "plain"]);
    let plain: serde_json::Value = ok_json(&symdlnn(
        &["discover", "--model", "plain", "--data", "k.csv", "--json"],
        d,
    ));
    assert_eq!(plain["solver"], "variational");
    assert_eq!(plain["generators"].as_array().unwrap().len(), 1);

    // Refusals, one line each.
    train(&["--method", "lnn", "--out", "lnn"]);
    simulate(d, "oscillator", 10, "o.csv");
    std::fs::write(
        d.join("coarse.csv"),
        "t,q0,q1\n0,1,0\n0.2,0.9,0.3\n0.4,0.7,0.6\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--model", "lnn", "--data", "k.csv"],
            "lnn: an LNN has no discrete Lagrangian to find symmetries of",
        ),
        (
            &["--model", "m", "--data", "coarse.csv"],
            "coarse.csv: the data's time step 0.2 differs from the step 0.1 of m",
        ),
        (
            &["--model", "m", "--data", "o.csv"],
            "the model m: o.csv: the data have dimension 1, expected 2",
        ),
        (
            &["--model", "m", "--data", "k.csv", "--sym-solver", "paper"],
            "invalid value 'paper' for '--sym-solver <SYM_SOLVER>'",
        ),
        (
            &["--model", "m", "--data", "k.csv", "--symmetries", "7"],
            "--symmetries must be between 1 and 6 (the affine basis in dimension 2)",
        ),
        (
            &["--model", "m", "--data", "k.csv", "--sym-points", "box:0"],
            "--sym-points: 'box:0' is not train, box:N or train+box:N",
        ),
        (
            &[
                "--model",
                "m",
                "--data",
                "k.csv",
                "--truth",
                "double-pendulum",
            ],
            "--truth double-pendulum: the system has no known symmetry to compare with",
        ),
    ];
    for (args, expect) in cases {
        fails_with(&symdlnn(&[&["discover"], args].concat(), d), expect);
    }
}
