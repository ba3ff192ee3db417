//! `symdlnn simulate` and `symdlnn systems` end to end.

mod common;

use common::{fails_with, symdlnn};

#[test]
fn simulate_writes_the_paper_training_trajectories() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = symdlnn(
        &[
            "simulate", "--system", "cartpend", "--dt", "0.01", "--steps", "200", "--fine", "100",
            "--out", "d.csv",
        ],
        d,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(d.join("d.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "t,q0,q1,v0,v1,p0,p1");
    assert_eq!(lines.len(), 202);
    assert!(lines[201].starts_with("2.0,"));

    let out = symdlnn(
        &[
            "simulate", "--system", "kepler", "--dt", "0.1", "--steps", "50", "--fine", "100",
            "--out", "k.csv",
        ],
        d,
    );
    assert!(out.status.success());
    let text = std::fs::read_to_string(d.join("k.csv")).unwrap();
    assert_eq!(text.lines().count(), 52);
    // The Kepler momentum is m2·v = 100·v at t = 0.
    assert_eq!(text.lines().nth(1).unwrap(), "0.0,1.0,0.0,0.0,0.6,0.0,60.0");
}

#[test]
fn simulate_several_noisy_trajectories_to_npy_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["a.npy", "b.npy"] {
        let out = symdlnn(
            &[
                "simulate",
                "--system",
                "free-particle",
                "--trajectories",
                "5",
                "--noise",
                "0.01",
                "--seed",
                "9",
                "--out",
                name,
                "--json",
            ],
            d,
        );
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["trajectories"], 5);
    }
    let (a, b) = (
        std::fs::read(d.join("a.npy")).unwrap(),
        std::fs::read(d.join("b.npy")).unwrap(),
    );
    assert_eq!(a, b);
}

#[test]
fn simulate_refuses_bad_flags_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: [(&[&str], &str); 7] = [
        (&["--system", "pendulum", "--out", "x.csv"], "unknown system 'pendulum'"),
        (&["--system", "kepler", "--q0", "1,2,3", "--out", "x.csv"], "--q0 has 3 values; kepler has dimension 2"),
        (&["--system", "kepler", "--q0", "1,zz", "--out", "x.csv"], "'zz' is not a number"),
        (&["--system", "kepler", "--dt", "-1", "--out", "x.csv"], "'-1' must be a positive number"),
        (&["--system", "kepler", "--out", "x.txt"], "unknown format: use a .csv or .npy file"),
        (&["--system", "kepler", "--steps", "1", "--out", "x.csv"], "need at least 2 steps"),
        (
            &["--system", "kepler", "--v0", "0,0", "--dt", "1", "--fine", "1", "--q0", "0.01,0", "--out", "x.csv"],
            "trajectory 0 from q0=[0.01, 0.0], v0=[0.0, 0.0]: Newton did not converge at step 0: residual",
        ),
    ];
    for (args, expect) in cases {
        let mut all = vec!["simulate"];
        all.extend_from_slice(args);
        fails_with(&symdlnn(&all, d), expect);
    }
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        0,
        "no file may be written on refusal"
    );
}

#[test]
fn systems_lists_every_system_with_its_symmetries() {
    let dir = tempfile::tempdir().unwrap();
    let out = symdlnn(&["systems", "--json"], dir.path());
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cartpend",
            "kepler",
            "oscillator",
            "double-pendulum",
            "iso-oscillator",
            "free-particle",
            "kepler3d",
            "spherical-pendulum",
            "morse-chain",
            "spring-pendulum",
            "henon-heiles",
            "magnetic-trap"
        ]
    );
    assert_eq!(v[5]["symmetries"].as_array().unwrap().len(), 3);
    assert_eq!(v[6]["symmetries"].as_array().unwrap().len(), 3);
    assert_eq!(v[0]["symmetries"][0]["w"], serde_json::json!([1.0, 0.0]));
}
