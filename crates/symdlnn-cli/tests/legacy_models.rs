//! Model directories written before the configuration became a `Method`
//! enum (by the binary of commit dce247c, into `tests/data/legacy-models`)
//! still load, describe themselves and predict the rollout that binary
//! predicted, to the last bit; and their stored training configuration
//! reads and writes back unchanged.

mod common;
use common::{ok, symdlnn};

/// The fixtures: model, and the two starting points its rollout was made from.
const MODELS: [(&str, &str, &str); 5] = [
    (
        "dlnn-kepler",
        "1.0,0.0",
        "0.9979985657506579,0.05995996073703052",
    ),
    (
        "symdlnn-kepler",
        "1.0,0.0",
        "0.9979985657506579,0.05995996073703052",
    ),
    (
        "symdlnn-paper-kepler",
        "1.0,0.0",
        "0.9979985657506579,0.05995996073703052",
    ),
    (
        "lnn-kepler",
        "1.0,0.0",
        "0.9979985657506579,0.05995996073703052",
    ),
    (
        "dlnn-cartpend-angles",
        "0.1,0.1",
        "0.09995174993787659,0.10009698511552796",
    ),
];

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/legacy-models")
        .join(name)
}

#[test]
fn old_model_directories_predict_what_they_predicted_when_written() {
    let dir = tempfile::tempdir().unwrap();
    for (name, q0, q1) in MODELS {
        let model = fixture(name);
        let model = model.to_str().unwrap();
        ok(&symdlnn(
            &[
                "predict", "--model", model, "--q0", q0, "--q1", q1, "--steps", "20", "--out",
                "p.csv",
            ],
            dir.path(),
        ));
        let got = std::fs::read(dir.path().join("p.csv")).unwrap();
        let want = std::fs::read(fixture(name).join("expected-predict.csv")).unwrap();
        assert_eq!(got, want, "{name}: the rollout changed");
        let text = ok(&symdlnn(&["inspect", "--model", model], dir.path()));
        let method = name.split('-').next().unwrap();
        assert!(text.contains(&format!("method {method}")), "{name}: {text}");
    }
}

#[test]
fn stored_training_configurations_round_trip_unchanged() {
    for (name, _, _) in MODELS {
        let text = std::fs::read_to_string(fixture(name).join("model.json")).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (model, _) = symdlnn::learn::model_dir::load(&fixture(name)).unwrap();
        let written = serde_json::to_value(&model.training).unwrap();
        assert_eq!(written, stored["training"], "{name}");
        assert_eq!(model.method.name(), stored["method"], "{name}");
    }
}

#[test]
fn a_closed_standard_output_ends_the_command_without_a_panic() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_symdlnn"))
        .args([
            "inspect",
            "--model",
            fixture("dlnn-kepler").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is printed
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}
