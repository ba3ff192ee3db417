//! Helpers shared by the command-line tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Run `symdlnn ARGS` in `dir`.
pub fn symdlnn(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_symdlnn"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `symdlnn simulate --system SYSTEM --steps STEPS --out FILE` in `dir`
/// (the system's default grid and initial condition), asserting success.
#[track_caller]
pub fn simulate(dir: &Path, system: &str, steps: usize, file: &str) {
    ok(&symdlnn(
        &[
            "simulate",
            "--system",
            system,
            "--steps",
            &steps.to_string(),
            "--out",
            file,
        ],
        dir,
    ));
}

/// Assert success; return standard output.
#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Assert failure with a one-line error containing `expect`.
#[track_caller]
pub fn fails_with(out: &Output, expect: &str) {
    assert!(!out.status.success(), "command should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one-line error expected: {err}"
    );
    assert!(err.contains(expect), "stderr: {err}");
}

/// Assert success; parse standard output as JSON.
#[track_caller]
pub fn ok_json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// Parse the JSON file at `path`.
#[track_caller]
pub fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The numbers of a CSV file, row by row, without its header.
#[track_caller]
pub fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect()
}

/// A JSON array of numbers.
#[track_caller]
pub fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Write `dir/to` as a copy of the model `dir/from` whose model.json has
/// been changed by `edit` (the weights copied as they are).
#[track_caller]
pub fn edited_model(dir: &Path, from: &str, to: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let (from, to) = (dir.join(from), dir.join(to));
    std::fs::create_dir_all(&to).unwrap();
    std::fs::copy(
        from.join("weights.safetensors"),
        to.join("weights.safetensors"),
    )
    .unwrap();
    let mut v = json_file(&from.join("model.json"));
    edit(&mut v);
    std::fs::write(to.join("model.json"), v.to_string()).unwrap();
}
