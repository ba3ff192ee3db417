//! `predict --fit-start K`: the rollout starts from the `(q0, q1)` fitted
//! to the data's first K points, and says so.

mod common;
use common::{fails_with, ok, ok_json, read_csv, symdlnn};

/// A small Kepler model (h = 0.1) from the legacy fixtures.
fn model() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/legacy-models/dlnn-kepler");
    path.to_str().unwrap().to_string()
}

/// The misfits `(before, after)` in the line `start fitted to … a → b`.
#[track_caller]
fn misfits(text: &str, k: usize) -> (f64, f64) {
    let head = format!("start fitted to the first {k} observations: RMS misfit ");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(head.as_str()))
        .unwrap_or_else(|| panic!("no fit line in: {text}"));
    let (a, b) = line.split_once(" → ").unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn predict_fits_its_start_to_the_first_observations_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model();
    let m = m.as_str();
    ok(&symdlnn(
        &[
            "simulate", "--system", "kepler", "--steps", "40", "--noise", "0.002", "--seed", "5",
            "--out", "k.csv",
        ],
        d,
    ));
    let predict = |extra: &[&str]| {
        let mut args = vec![
            "predict", "--model", m, "--data", "k.csv", "--steps", "30", "--out",
        ];
        args.extend_from_slice(extra);
        symdlnn(&args, d)
    };
    let text = ok(&predict(&["p.csv", "--fit-start", "10"]));
    let (before, after) = misfits(&text, 10);
    assert!(after <= before && after > 0.0, "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
    // The JSON summary carries the same fit; the output starts at its q0.
    let json = ok_json(&predict(&["pj.csv", "--fit-start", "10", "--json"]));
    let fit = &json["fit_start"];
    assert_eq!(fit["k"], 10);
    let rms_after = fit["rms_after"].as_f64().unwrap();
    assert!((rms_after - after).abs() <= 1e-3 * after, "{fit} vs {text}");
    let q0: Vec<f64> = common::numbers(&fit["q0"]);
    let first = &read_csv(&d.join("pj.csv"))[0];
    assert_eq!(read_csv(&d.join("pj.csv")).len(), 31);
    assert!((first[1] - q0[0]).abs() < 1e-15 && (first[2] - q0[1]).abs() < 1e-15);
    // Without the flag: no fit, the data's own first point, no fit in JSON.
    let plain = ok(&predict(&["p2.csv"]));
    assert!(!plain.contains("start fitted"), "{plain}");
    assert_eq!(
        read_csv(&d.join("p2.csv"))[0][1..3],
        read_csv(&d.join("k.csv"))[0][1..3]
    );
    assert!(ok_json(&predict(&["p3.csv", "--json"]))
        .get("fit_start")
        .is_none());
}

#[test]
fn predict_refuses_a_bad_fit_start_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model();
    let m = m.as_str();
    ok(&symdlnn(
        &[
            "simulate", "--system", "kepler", "--steps", "20", "--out", "k.csv",
        ],
        d,
    ));
    let predict = |start: &[&str]| {
        let mut args = vec!["predict", "--model", m, "--steps", "5", "--out", "x.csv"];
        args.extend_from_slice(start);
        symdlnn(&args, d)
    };
    fails_with(
        &predict(&["--data", "k.csv", "--fit-start", "2"]),
        "--fit-start 2: fitting a start needs K ≥ 3 observed points, got K = 2",
    );
    fails_with(
        &predict(&["--data", "k.csv", "--fit-start", "22"]),
        "--fit-start 22: fitting a start to K = 22 points, but only 21 are observed",
    );
    fails_with(&predict(&["--data", "k.csv", "--fit-start", "-1"]), "-1");
    assert!(!d.join("x.csv").exists());
    // Clap does not enforce `requires = "data"` next to --q0 (which
    // conflicts with --data), so the flag conflicts with --q0 itself.
    let no_data = predict(&["--q0", "1,0", "--q1", "1,0.06", "--fit-start", "5"]);
    fails_with(
        &no_data,
        "'--q0 <Q0>' cannot be used with '--fit-start <K>'",
    );
    assert!(!d.join("x.csv").exists());
}
