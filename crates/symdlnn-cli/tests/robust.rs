//! Issue 16: nothing reachable from user input panics, hangs, silently
//! returns a wrong answer or loses work. One check per numbered case, at the
//! command line where the user meets it: the exit code, the message's key
//! words, and that nothing was written.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{edited_model, fails_with, json_file, ok, read_csv, simulate, symdlnn};

/// `symdlnn ARGS` in `dir`, killed (and the test failed) after `secs`.
fn within(secs: u64, args: &[&str], dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_symdlnn"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            panic!("symdlnn {args:?} did not return within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A crash (a panic is exit 101, an abort a signal) is not a refusal.
#[track_caller]
fn refused(out: &Output, expect: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    fails_with(out, expect);
}

/// Success, or a one-line refusal (exit 1): not a panic (101) or a signal.
#[track_caller]
fn no_crash(out: &Output) {
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

/// An NPY v1 header of float64 C-order `shape` (a Python tuple), 128 bytes.
fn npy_header(shape: &str) -> Vec<u8> {
    let mut dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while dict.len() < 128 - 10 - 1 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    b.extend_from_slice(dict.as_bytes());
    b
}

/// A small Kepler model `m` (2 epochs, checkpoints every epoch) on `k.csv`.
fn kepler_model(d: &Path) {
    simulate(d, "kepler", 30, "k.csv");
    ok(&symdlnn(
        &[
            "train",
            "--data",
            "k.csv",
            "--epochs",
            "3",
            "--hidden",
            "8",
            "--checkpoint-every",
            "1",
            "--out",
            "m",
        ],
        d,
    ));
}

#[test]
fn absurd_npy_shapes_are_refused_by_every_command() {
    // Items 1 and 11 (an NPY with more data than its shape).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kepler_model(d);
    std::fs::write(d.join("big.npy"), npy_header("(1, 4611686018427387904, 4)")).unwrap();
    std::fs::write(
        d.join("huge.npy"),
        npy_header("(8589934592, 8589934592, 4)"),
    )
    .unwrap();
    let mut extra = npy_header("(3, 2)");
    extra.extend(std::iter::repeat_n(0u8, 8 * 7));
    std::fs::write(d.join("extra.npy"), extra).unwrap();
    for (file, expect) in [
        ("big.npy", "is too large"),
        ("huge.npy", "is too large"),
        (
            "extra.npy",
            "shape [3, 2] needs 48 bytes of data, the file has 56",
        ),
    ] {
        refused(
            &symdlnn(&["train", "--data", file, "--dt", "0.1", "--out", "t"], d),
            expect,
        );
        refused(
            &symdlnn(
                &[
                    "predict", "--model", "m", "--data", file, "--dt", "0.1", "--steps", "3",
                    "--out", "p.csv",
                ],
                d,
            ),
            expect,
        );
        refused(
            &symdlnn(
                &[
                    "evaluate", "--model", "m", "--data", file, "--dt", "0.1", "--out", "e",
                ],
                d,
            ),
            expect,
        );
        refused(
            &symdlnn(
                &["discover", "--model", "m", "--data", file, "--dt", "0.1"],
                d,
            ),
            expect,
        );
    }
    for f in ["t", "p.csv", "e"] {
        assert!(!d.join(f).exists(), "{f} written");
    }
}

#[test]
fn resume_refuses_other_data_and_changed_settings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kepler_model(d);
    let model_before = std::fs::read(d.join("m/model.json")).unwrap();
    // Item 2: another dimension, same trajectories, samples and step.
    ok(&symdlnn(
        &[
            "simulate",
            "--system",
            "oscillator",
            "--steps",
            "30",
            "--dt",
            "0.1",
            "--out",
            "o.csv",
        ],
        d,
    ));
    for extra in [&[][..], &["--fine-tune"][..]] {
        let mut a = vec!["train", "--data", "o.csv", "--resume", "--out", "m"];
        a.extend_from_slice(extra);
        refused(
            &symdlnn(&a, d),
            "cannot resume: the data have dimension 1, the checkpoint's model 2",
        );
    }
    // Item 10: other data of the same shape are not the run's own.
    ok(&symdlnn(
        &[
            "simulate", "--system", "kepler", "--steps", "30", "--noise", "0.01", "--out", "k2.csv",
        ],
        d,
    ));
    refused(
        &symdlnn(&["train", "--data", "k2.csv", "--resume", "--out", "m"], d),
        "another content hash",
    );
    // Item 12: settings of a fresh run given with --resume.
    for flag in [["--epochs", "10"], ["--hidden", "4"]] {
        refused(
            &symdlnn(
                &[
                    "train", "--data", "k.csv", "--resume", flag[0], flag[1], "--out", "m",
                ],
                d,
            ),
            &format!("{} applies to a fresh run", flag[0]),
        );
    }
    assert_eq!(std::fs::read(d.join("m/model.json")).unwrap(), model_before);
    // Item 4: Adam's first moment stored as F32.
    let opt = d.join("m/checkpoint/optimizer.safetensors");
    let bytes = std::fs::read(&opt).unwrap();
    let hlen = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + hlen]).unwrap();
    let len = header["m"]["shape"][0].as_u64().unwrap();
    header["m"]["dtype"] = "F32".into();
    header["m"]["shape"] = serde_json::json!([2 * len]);
    let mut text = header.to_string();
    while text.len() < hlen {
        text.push(' ');
    }
    assert_eq!(text.len(), hlen, "the header must keep its length");
    let mut edited = bytes[..8].to_vec();
    edited.extend_from_slice(text.as_bytes());
    edited.extend_from_slice(&bytes[8 + hlen..]);
    std::fs::write(&opt, edited).unwrap();
    refused(
        &symdlnn(&["train", "--data", "k.csv", "--resume", "--out", "m"], d),
        "m: expected F64",
    );
    assert_eq!(std::fs::read(d.join("m/model.json")).unwrap(), model_before);
}

#[test]
fn fine_tuning_on_other_data_is_explicit() {
    // Item 10: --fine-tune continues on other data of the run's dimension.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kepler_model(d);
    ok(&symdlnn(
        &[
            "simulate", "--system", "kepler", "--steps", "30", "--noise", "0.01", "--out", "k2.csv",
        ],
        d,
    ));
    ok(&symdlnn(
        &[
            "train",
            "--data",
            "k2.csv",
            "--resume",
            "--fine-tune",
            "--out",
            "m",
        ],
        d,
    ));
    assert_eq!(json_file(&d.join("m/model.json"))["epochs_done"], 3);
}

#[test]
fn bad_training_settings_and_outputs_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 30, "k.csv");
    let train = |extra: &[&str], out: &str| {
        let mut a = vec!["train", "--data", "k.csv", "--out", out];
        a.extend_from_slice(extra);
        within(60, &a, d)
    };
    // Item 3 and 18: networks too large to address or to hold.
    refused(
        &train(&["--hidden", "2,4611686018427387924"], "a"),
        "the size overflows",
    );
    refused(
        &train(&["--hidden", "100000,100000"], "a"),
        "of memory, more than this machine's",
    );
    refused(
        &train(
            &["--method", "symdlnn", "--sym-points", "box:1000000000000"],
            "a",
        ),
        "--sym-points box:1000000000000 needs",
    );
    // Item 12.
    refused(
        &train(&["--checkpoint-every", "0"], "a"),
        "--checkpoint-every must be at least 1",
    );
    refused(
        &train(
            &[
                "--method",
                "symdlnn",
                "--sym-weight",
                "1",
                "--sym-warmup",
                "10",
                "--epochs",
                "5",
            ],
            "a",
        ),
        "--sym-warmup 10 must be less than --epochs 5",
    );
    assert!(!d.join("a").exists());
    // Item 13: an output that cannot be written fails at once, not after
    // a million epochs.
    std::fs::write(d.join("file"), "x").unwrap();
    let long = ["--epochs", "1000000"];
    refused(&train(&long, "file"), "exists and is not a directory");
    refused(
        &train(&long, "/proc/symdlnn-test/m"),
        "/proc/symdlnn-test/m",
    );
    // Item 16: a directory of other files is not overwritten without --force.
    std::fs::create_dir(d.join("notes")).unwrap();
    std::fs::write(d.join("notes/history.csv"), "mine").unwrap();
    refused(
        &train(&["--epochs", "2", "--hidden", "4"], "notes"),
        "holds files but no model",
    );
    assert_eq!(
        std::fs::read_to_string(d.join("notes/history.csv")).unwrap(),
        "mine"
    );
    ok(&train(
        &["--epochs", "2", "--hidden", "4", "--force"],
        "notes",
    ));
    assert!(d.join("notes/model.json").is_file());
}

#[test]
fn a_failed_model_save_leaves_the_old_model() {
    // Items 14 and 15: the history cannot be put in place; the model files
    // stay as they were, with no temporary left.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    simulate(d, "kepler", 30, "k.csv");
    let train = |seed: &str| {
        symdlnn(
            &[
                "train", "--data", "k.csv", "--epochs", "2", "--hidden", "4", "--seed", seed,
                "--out", "m",
            ],
            d,
        )
    };
    ok(&train("1"));
    let before: Vec<Vec<u8>> = ["model.json", "weights.safetensors"]
        .iter()
        .map(|f| std::fs::read(d.join("m").join(f)).unwrap())
        .collect();
    std::fs::create_dir_all(d.join("m/history.csv.new/block")).unwrap();
    let out = train("2");
    assert_eq!(out.status.code(), Some(1));
    let after: Vec<Vec<u8>> = ["model.json", "weights.safetensors"]
        .iter()
        .map(|f| std::fs::read(d.join("m").join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
    for e in std::fs::read_dir(d.join("m")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains("tmp") && name != "weights.safetensors.new",
            "{name}"
        );
    }
}

#[test]
fn hostile_values_fail_loudly_instead_of_hanging_or_lying() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kepler_model(d);
    let csv = std::fs::read_to_string(d.join("k.csv")).unwrap();
    // Item 5 and 8: one cell of 1e308.
    let mut lines: Vec<String> = csv.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[5].split(',').map(String::from).collect();
    cells[1] = "1e308".into();
    lines[5] = cells.join(",");
    std::fs::write(d.join("huge.csv"), lines.join("\n") + "\n").unwrap();
    let out = within(60, &["discover", "--model", "m", "--data", "huge.csv"], d);
    no_crash(&out);
    // Positions scaled by 1e200 with the null-space solver: scaled, not looping.
    let scaled: Vec<String> = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                return l.to_string();
            }
            let mut c: Vec<String> = l.split(',').map(String::from).collect();
            for x in c.iter_mut().skip(1) {
                *x = format!("{:e}", x.parse::<f64>().unwrap() * 1e200);
            }
            c.join(",")
        })
        .collect();
    std::fs::write(d.join("scaled.csv"), scaled.join("\n") + "\n").unwrap();
    let out = within(
        60,
        &[
            "discover",
            "--model",
            "m",
            "--data",
            "scaled.csv",
            "--sym-solver",
            "nullspace",
        ],
        d,
    );
    no_crash(&out);
    // Item 8: a model with a NaN bias is refused, not used for a straight line.
    let weights = std::fs::read(d.join("m/weights.safetensors")).unwrap();
    let mut nan = weights.clone();
    let at = nan.len() - 8; // the last value of the last tensor
    nan[at..].copy_from_slice(&f64::NAN.to_le_bytes());
    std::fs::create_dir(d.join("nan")).unwrap();
    std::fs::write(d.join("nan/weights.safetensors"), &nan).unwrap();
    let mut v = json_file(&d.join("m/model.json"));
    v.as_object_mut().unwrap().remove("weights_hash");
    std::fs::write(d.join("nan/model.json"), v.to_string()).unwrap();
    refused(
        &symdlnn(
            &[
                "predict", "--model", "nan", "--q0", "1,0", "--q1", "1,0.1", "--steps", "5",
                "--out", "p.csv",
            ],
            d,
        ),
        "non-finite value NaN",
    );
    refused(
        &within(60, &["discover", "--model", "nan", "--data", "k.csv"], d),
        "non-finite value NaN",
    );
    assert!(!d.join("p.csv").exists());
    // Item 7: a step count whose storage overflows.
    refused(
        &within(
            30,
            &[
                "predict",
                "--model",
                "m",
                "--q0",
                "1,0",
                "--q1",
                "1,0.1",
                "--steps",
                "18446744073709551615",
                "--out",
                "p.csv",
            ],
            d,
        ),
        "the rollout: the size overflows",
    );
    assert!(!d.join("p.csv").exists());
    // Item 6: evaluate on coordinates of 1e300 returns.
    let out = within(
        120,
        &[
            "evaluate",
            "--model",
            "m",
            "--data",
            "scaled.csv",
            "--system",
            "kepler",
            "--out",
            "e",
        ],
        d,
    );
    no_crash(&out);
}

#[test]
fn predict_keeps_the_points_reached_when_newton_fails() {
    // Item 17: a free particle (all network weights 0, the kinetic prior
    // left) at 1e305 per step overflows after some hundred steps.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kepler_model(d);
    let (model, mlp) = symdlnn::learn::model_dir::load(&d.join("m")).unwrap();
    let zero = symdlnn::nn::Mlp::from_params(
        mlp.input_dim(),
        mlp.hidden(),
        mlp.activation(),
        vec![0.0; mlp.params().len()],
    )
    .unwrap();
    symdlnn::learn::model_dir::save(&d.join("free"), &model, &zero).unwrap();
    let args = |steps: &str, out: &str| {
        vec![
            "predict".to_string(),
            "--model".into(),
            "free".into(),
            "--q0".into(),
            "0,0".into(),
            "--q1".into(),
            "1e305,0".into(),
            "--steps".into(),
            steps.into(),
            "--out".into(),
            out.into(),
        ]
    };
    let run = |a: Vec<String>| symdlnn(&a.iter().map(String::as_str).collect::<Vec<_>>(), d);
    let out = run(args("3000", "p.csv"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("(partial)") && err.contains("prediction stopped"),
        "{err}"
    );
    let points: usize = err
        .split("wrote the ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    let partial = read_csv(&d.join("p.csv"));
    assert_eq!(partial.len(), points);
    assert!((3..3001).contains(&points), "{points}");
    // Exactly the points reached: a run that stops before the failure.
    ok(&run(args(&(points - 1).to_string(), "full.csv")));
    assert_eq!(read_csv(&d.join("full.csv")), partial);
}

#[test]
fn simulate_and_models_refuse_what_cannot_be_right() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Item 9: a simulation that blows up writes nothing.
    for extra in [
        &["--q0", "0,0"][..],
        &["--v0", "1e300,0"][..],
        &["--noise", "1e308"][..],
    ] {
        let mut a = vec![
            "simulate", "--system", "kepler", "--steps", "20", "--out", "s.csv",
        ];
        a.extend_from_slice(extra);
        let out = within(60, &a, d);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {out:?}");
        assert!(!d.join("s.csv").exists(), "{extra:?}");
    }
    refused(
        &symdlnn(
            &[
                "simulate", "--system", "kepler", "--noise", "1e308", "--out", "s.csv",
            ],
            d,
        ),
        "are not finite",
    );
    // Item 18: requests larger than the machine.
    for extra in [
        &["--steps", "1000000000000"][..],
        &["--trajectories", "1000000000"][..],
    ] {
        let mut a = vec!["simulate", "--system", "kepler", "--out", "s.csv"];
        a.extend_from_slice(extra);
        refused(&within(30, &a, d), "of memory, more than this machine's");
    }
    assert!(!d.join("s.csv").exists());
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/dev/zero", d.join("zero.csv")).unwrap();
        refused(
            &within(30, &["train", "--data", "zero.csv", "--out", "z"], d),
            "not a regular file",
        );
        assert!(!d.join("z").exists());
    }
    // Items 11, 18, 19: model.json's h, widths, and a model path that is a file.
    kepler_model(d);
    let predict = |model: &str| {
        within(
            30,
            &[
                "predict", "--model", model, "--q0", "1,0", "--q1", "1,0.1", "--steps", "3",
                "--out", "p.csv",
            ],
            d,
        )
    };
    edited_model(d, "m", "neg", |v| v["h"] = (-0.1).into());
    refused(
        &predict("neg"),
        "the step h must be a positive number, got -0.1",
    );
    edited_model(d, "m", "h2", |v| v["h"] = 0.2.into());
    refused(&predict("h2"), "differs from the parametrisation's h = 0.1");
    edited_model(d, "m", "wide", |v| {
        v["architecture"]["hidden"] = serde_json::json!([1_000_000_000u64, 1_000_000_000u64])
    });
    refused(&predict("wide"), "of memory, more than this machine's");
    refused(&predict("k.csv"), "it is a file");
    assert!(!d.join("p.csv").exists());
    // Item 19: a decreasing time column, and short numbers.
    std::fs::write(d.join("down.csv"), "t,q0\n0,1\n-0.1,1\n-0.2,1\n").unwrap();
    refused(
        &symdlnn(&["train", "--data", "down.csv", "--out", "x"], d),
        "time must increase",
    );
    std::fs::write(
        d.join("far.csv"),
        format!("t,q0\n0,1\n{},1\n{},1\n", f64::MAX / 3.0, f64::MAX),
    )
    .unwrap();
    let out = symdlnn(&["train", "--data", "far.csv", "--out", "x"], d);
    refused(&out, "non-uniform time step");
    assert!(
        out.stderr.len() < 250,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d.join("x").exists());
}
