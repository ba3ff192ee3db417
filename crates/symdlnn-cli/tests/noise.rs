//! Training on noisy positions (`train --noise`): latent positions trained
//! with the model, the estimate of σ, the denoised start of `predict`, what
//! `inspect` and `evaluate` report, and the refusals.

mod common;
use common::{fails_with, ok, read_csv, symdlnn};

/// Relative RMS error of the first `points` rows of `path` (t, x, y, …)
/// against `truth`, in the truth's scale (RMS about its mean over those
/// points); positions only (Kepler: n = 2).
fn relative_rmse(path: &[Vec<f64>], truth: &[Vec<f64>], points: usize) -> f64 {
    let n = 2;
    let rows = &truth[..points];
    let mean: Vec<f64> = (1..=n)
        .map(|i| rows.iter().map(|r| r[i]).sum::<f64>() / points as f64)
        .collect();
    let (mut scale, mut err) = (0.0, 0.0);
    for (p, t) in path.iter().zip(rows) {
        for i in 1..=n {
            scale += (t[i] - mean[i - 1]).powi(2);
            err += (p[i] - t[i]).powi(2);
        }
    }
    (err / scale).sqrt()
}

/// A noisy Kepler arc (σ = 1e-3, N = 50, the paper's protocol) and the
/// clean truth over 80 steps, in `d`.
fn kepler_data(d: &std::path::Path) {
    ok(&symdlnn(
        &[
            "simulate", "--system", "kepler", "--steps", "50", "--noise", "0.001", "--seed", "3",
            "--out", "k.csv",
        ],
        d,
    ));
    ok(&symdlnn(
        &[
            "simulate",
            "--system",
            "kepler",
            "--steps",
            "80",
            "--out",
            "truth.csv",
        ],
        d,
    ));
}

fn train(d: &std::path::Path, out: &str, epochs: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--data",
        "k.csv",
        "--hidden",
        "32,32",
        "--epochs",
        epochs,
        "--time-reversible",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    let o = symdlnn(&args, d);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// End to end at CI size: `--noise auto` estimates σ (±25 %), trains latent
/// positions, writes `denoised.csv`; `predict` from the training data starts
/// from the denoised pair, runs 80 steps without a Newton failure and
/// recreates the clean arc at ~1e-3 (measured 0.94e-3–1.03e-3 over seeds
/// 0–2; bound 3e-3), where the same model without the noise model, started
/// from the two noisy points, recreates at 4.7e-3–2.0e-2.
#[test]
fn a_noise_model_denoises_and_recreates_a_noisy_kepler_arc() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kepler_data(d);
    let truth = read_csv(&d.join("truth.csv"));
    let log = train(d, "m", "1000", &["--noise", "auto"]);
    let sigma: Vec<f64> = log
        .lines()
        .find_map(|l| l.strip_prefix("--noise auto: σ ≈ "))
        .unwrap_or_else(|| panic!("no estimate in: {log}"))
        .split(" per coordinate")
        .next()
        .unwrap()
        .split(", ")
        .map(|x| x.parse().unwrap())
        .collect();
    for s in &sigma {
        assert!((s / 1e-3 - 1.0).abs() <= 0.25, "estimated σ {sigma:?}");
    }
    assert!(log.contains("observation residuals y − q̂"), "{log}");
    let denoised = read_csv(&d.join("m/denoised.csv"));
    assert_eq!(denoised.len(), 51);
    // The denoised positions are closer to the truth than the data.
    let data = read_csv(&d.join("k.csv"));
    let (e_data, e_denoised) = (
        relative_rmse(&data, &truth, 51),
        relative_rmse(&denoised, &truth, 51),
    );
    assert!(e_denoised < 0.8 * e_data, "{e_denoised} vs data {e_data}");
    let text = ok(&symdlnn(
        &[
            "predict", "--model", "m", "--data", "k.csv", "--steps", "80", "--out", "p.csv",
        ],
        d,
    ));
    assert!(
        text.contains("start: the model's denoised positions"),
        "{text}"
    );
    let p = read_csv(&d.join("p.csv"));
    assert_eq!(p.len(), 81, "no Newton failure");
    let noise_model = relative_rmse(&p, &truth, 51);
    assert!(noise_model < 3e-3, "recreation {noise_model}");
    train(d, "plain", "1000", &[]);
    ok(&symdlnn(
        &[
            "predict", "--model", "plain", "--data", "k.csv", "--steps", "80", "--out", "q.csv",
        ],
        d,
    ));
    let plain = relative_rmse(&read_csv(&d.join("q.csv")), &truth, 51);
    assert!(
        plain > 2.0 * noise_model,
        "plain {plain} vs noise model {noise_model}"
    );
    // inspect and evaluate report the noise level and the residuals.
    let inspect = ok(&symdlnn(&["inspect", "--model", "m"], d));
    assert!(inspect.contains("noise σ (auto)"), "{inspect}");
    let eval = ok(&symdlnn(
        &[
            "evaluate",
            "--model",
            "m",
            "--data",
            "truth.csv",
            "--train-steps",
            "50",
            "--observed",
            "k.csv",
            "--out",
            "e",
        ],
        d,
    ));
    assert!(
        eval.contains("start: the model's denoised positions"),
        "{eval}"
    );
    assert!(eval.contains("lag-1 autocorrelation"), "{eval}");
    assert!(d.join("e/denoised.png").is_file() && d.join("e/denoised.svg").is_file());
    // On other observations of the same motion the start is fitted.
    ok(&symdlnn(
        &[
            "simulate",
            "--system",
            "kepler",
            "--steps",
            "50",
            "--noise",
            "0.001",
            "--seed",
            "8",
            "--out",
            "other.csv",
        ],
        d,
    ));
    let text = ok(&symdlnn(
        &[
            "predict",
            "--model",
            "m",
            "--data",
            "other.csv",
            "--steps",
            "80",
            "--out",
            "o.csv",
        ],
        d,
    ));
    assert!(
        text.contains("start fitted to the first 10 observations (the default"),
        "{text}"
    );
}

/// `--noise 0` is training without noise, bit for bit; so is `--noise auto`
/// on clean data (no measurable noise).
#[test]
fn no_noise_trains_exactly_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&symdlnn(
        &[
            "simulate", "--system", "kepler", "--steps", "50", "--out", "k.csv",
        ],
        d,
    ));
    let weights = |m: &str| std::fs::read(d.join(m).join("weights.safetensors")).unwrap();
    train(d, "a", "200", &[]);
    train(d, "b", "200", &["--noise", "0"]);
    let log = train(d, "c", "200", &["--noise", "auto"]);
    assert!(log.contains("no measurable noise"), "{log}");
    assert_eq!(weights("a"), weights("b"));
    assert_eq!(weights("a"), weights("c"));
    assert!(!d.join("c/denoised.csv").exists());
}

#[test]
fn bad_noise_settings_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kepler_data(d);
    for (extra, needle) in [
        (&["--noise=-1"][..], "σ must be ≥ 0"),
        (&["--noise", "nan"][..], "noise"),
        (&["--noise", "0.1,0.2,0.3"][..], "3"),
        (&["--noise", "0.001", "--angles", "1"][..], "--angles"),
        (
            &["--noise", "0.001", "--recipe", "paper"][..],
            "robust recipe",
        ),
        (&["--noise", "0.001", "--method", "lnn"][..], "--noise"),
        (
            &[
                "--noise",
                "0.001",
                "--method",
                "symdlnn",
                "--sym-solver",
                "paper",
            ][..],
            "symmetry term",
        ),
    ] {
        let mut args = vec!["train", "--data", "k.csv", "--epochs", "5", "--out", "x"];
        args.extend_from_slice(extra);
        fails_with(&symdlnn(&args, d), needle);
        assert!(!d.join("x/model.json").exists(), "{extra:?} wrote a model");
    }
}
