//! Trajectory files: exact round trips and a clear refusal for each bad input.

use std::path::{Path, PathBuf};

use symdlnn::data::{generate, io, DataError};
use symdlnn::mechanics::{Convergence, System, TimeGrid};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[track_caller]
fn refused(path: &Path, dt: Option<f64>) -> String {
    let e = io::read(path, dt).expect_err("bad input must be refused");
    let msg = e.to_string();
    let shown = path.display().to_string();
    assert!(
        msg.starts_with(&shown),
        "message does not name the file: {msg}"
    );
    msg[shown.len()..].to_string()
}

fn sample(m: usize, noise: f64) -> symdlnn::data::Dataset {
    let s = System::from_name("kepler").unwrap();
    let ics = generate::sample_initial_conditions(&s.initial_box(), m, 3);
    let grid = TimeGrid {
        dt: 0.1,
        steps: 20,
        fine: 10,
    };
    let mut ds = generate::dataset(&s, &ics, grid, Convergence::default()).unwrap();
    generate::add_position_noise(&mut ds, noise, 3).unwrap();
    ds
}

#[test]
fn csv_round_trip_is_exact_for_one_and_several_trajectories() {
    let dir = tempfile::tempdir().unwrap();
    for m in [1, 4] {
        let ds = sample(m, 1e-3);
        let p = dir.path().join(format!("d{m}.csv"));
        io::write(&p, &ds).unwrap();
        let back = io::read(&p, None).unwrap();
        assert_eq!(back.trajectories, ds.trajectories);
        assert!((back.dt - 0.1).abs() < 1e-15);
        let head = std::fs::read_to_string(&p).unwrap();
        let first = head.lines().next().unwrap();
        let expect = if m == 1 {
            "t,q0,q1,v0,v1,p0,p1"
        } else {
            "traj,t,q0,q1,v0,v1,p0,p1"
        };
        assert_eq!(first, expect);
    }
}

#[test]
fn npy_round_trip_is_exact_for_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    for m in [1, 3] {
        let ds = sample(m, 0.0);
        let p = dir.path().join(format!("d{m}.npy"));
        io::write(&p, &ds).unwrap();
        let back = io::read(&p, Some(0.1)).unwrap();
        assert_eq!(back.trajectories.len(), m);
        for (a, b) in back.trajectories.iter().zip(&ds.trajectories) {
            assert_eq!(a.q, b.q);
            assert_eq!(a.t, b.t);
        }
    }
}

#[test]
fn each_bad_csv_input_is_refused_with_its_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("missing.csv", "t,q0,q1\n0,1,2\n0.1,,2\n0.2,1,2\n", ": line 3: missing value in column 'q0'"),
        ("text.csv", "t,q0\n0,1\n0.1,abc\n0.2,1\n", ": line 3: non-numeric value 'abc' in column 'q0'"),
        ("nan.csv", "t,q0\n0,1\n0.1,NaN\n0.2,1\n", ": line 3: non-finite value 'NaN' in column 'q0'"),
        ("inf.csv", "t,q0\n0,1\n0.1,1\n0.2,-inf\n", ": line 4: non-finite value '-inf' in column 'q0'"),
        ("ragged.csv", "t,q0,q1\n0,1,2\n0.1,1\n0.2,1,2\n", ": line 3: ragged row: 2 fields, the header has 3"),
        (
            "uneven.csv",
            "t,q0\n0,1\n0.1,1\n0.25,1\n0.3,1\n",
            ": line 4: non-uniform time step: t goes from 0.1 to 0.25 (step 0.15), the trajectory's mean step is 0.1",
        ),
        ("short.csv", "t,q0\n0,1\n0.1,1\n", ": trajectory 0: only 2 point(s) from line 2: a trajectory needs at least 3"),
        (
            "short2.csv",
            "traj,t,q0\n0,0,1\n0,0.1,1\n0,0.2,1\n1,0,1\n1,0.1,1\n",
            ": trajectory 1: only 2 point(s) from line 5: a trajectory needs at least 3",
        ),
        ("header.csv", "time,x\n0,1\n", ": line 1: header must start with 't' (or 'traj,t'), found 'time,x'"),
        (
            "extra.csv",
            "t,q0,q1,w0\n0,1,1,1\n",
            ": line 1: unexpected column 'w0' (expected traj, t, q0…q1, optionally v0…v1, p0…p1)",
        ),
        ("vcount.csv", "t,q0,q1,v0\n0,1,1,1\n", ": line 1: 1 'v' columns for 2 positions"),
        ("empty.csv", "", ": empty file: expected a header 't,q0,…'"),
        ("norows.csv", "t,q0\n", ": no data rows after the header"),
        (
            "resume.csv",
            "traj,t,q0\n0,0,1\n0,0.1,1\n0,0.2,1\n1,0,1\n1,0.1,1\n1,0.2,1\n0,0.3,1\n",
            ": line 8: trajectory 0 resumes after another: rows of one trajectory must be contiguous",
        ),
        ("badid.csv", "traj,t,q0\n0.5,0,1\n", ": line 2: trajectory id '0.5' is not a non-negative integer"),
        (
            "twodt.csv",
            "traj,t,q0\n0,0,1\n0,0.1,1\n0,0.2,1\n1,0,1\n1,0.2,1\n1,0.4,1\n",
            ": trajectory 1: time step 0.2 differs from the first trajectory's 0.1",
        ),
        ("format.txt", "t,q0\n", ": unknown format: use a .csv or .npy file"),
        // Issue 16, items 11 and 19.
        ("infdt.csv", "t,q0\n-1e308,1\n0,1\n1e308,1\n", ": line 3: the time step is not a finite number: t goes from -1e308 to 0"),
        ("down.csv", "t,q0\n0,1\n-0.1,1\n-0.2,1\n", ": line 3: time must increase: t goes from 0 to -0.1"),
        ("bigid.csv", "traj,t,q0\n18446744073709551617,0,1\n", ": line 2: trajectory id '18446744073709551617' is too large (ids must be below 2^53)"),
        ("ctrl.csv", "t,q0\n0,1\n0.1,\"a\u{1b}\nb\"\n", ": line 3: non-numeric value 'a\\u{1b}\\nb' in column 'q0'"),
        (
            "long.csv",
            "t,q0\n0,1\n1e300,1\n3e300,1\n",
            ": line 3: non-uniform time step: t goes from 0 to 1e300 (step 1e300), the trajectory's mean step is 1.5e300",
        ),
    ];
    for (name, text, expect) in cases {
        let p = write(d, name, text);
        assert_eq!(refused(&p, None), expect, "{name}");
    }
    let good = write(d, "good.csv", "t,q0\n0,1\n0.1,1\n0.2,1\n");
    assert_eq!(
        refused(&good, Some(0.2)),
        ": the given step 0.2 disagrees with the file's time step 0.1"
    );
}

#[test]
fn each_bad_npy_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ds = sample(1, 0.0);
    let p = d.join("ok.npy");
    io::write(&p, &ds).unwrap();
    assert_eq!(
        refused(&p, None),
        ": NPY files carry no time column: give the step (--dt)"
    );

    // A NaN at [2, 1]: patch the last 8 bytes region of row 2.
    let mut bytes = std::fs::read(&p).unwrap();
    let data_start = bytes.len() - ds.trajectories[0].q.len() * 8;
    let at = data_start + (2 * 2 + 1) * 8;
    bytes[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    let nan = d.join("nan.npy");
    std::fs::write(&nan, &bytes).unwrap();
    assert_eq!(
        refused(&nan, Some(0.1)),
        ": non-finite value NaN at index [2, 1]"
    );

    let junk = write(d, "junk.npy", "not an npy file");
    assert!(refused(&junk, Some(0.1)).starts_with(": not a valid NPY file"));
}

#[test]
fn npy_of_the_wrong_dtype_or_shape_is_refused() {
    use npyz::WriterBuilder;
    let dir = tempfile::tempdir().unwrap();
    let save = |name: &str, shape: &[u64], f32s: bool| {
        let mut buf = Vec::new();
        if f32s {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut buf)
                .begin_nd()
                .unwrap();
            w.extend((0..shape.iter().product::<u64>()).map(|i| i as f32))
                .unwrap();
            w.finish().unwrap();
        } else {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut buf)
                .begin_nd()
                .unwrap();
            w.extend((0..shape.iter().product::<u64>()).map(|i| i as f64))
                .unwrap();
            w.finish().unwrap();
        }
        let p = dir.path().join(name);
        std::fs::write(&p, buf).unwrap();
        p
    };
    assert_eq!(
        refused(&save("f32.npy", &[5, 2], true), Some(0.1)),
        ": dtype <f4: expected float64 ('<f8')"
    );
    assert_eq!(
        refused(&save("vec.npy", &[5], false), Some(0.1)),
        ": shape [5]: expected (T, n) or (M, T, n) positions"
    );
    assert_eq!(
        refused(&save("short.npy", &[2, 2], false), Some(0.1)),
        ": shape [2, 2]: a trajectory needs at least 3 points"
    );
}

#[test]
fn dimension_mismatch_names_both_dimensions() {
    let ds = sample(1, 0.0);
    let e = ds.expect_dim(3, "k.csv").unwrap_err();
    assert!(matches!(
        e,
        DataError::Dimension {
            expected: 3,
            found: 2,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "k.csv: the data have dimension 2, expected 3"
    );
}

#[test]
fn noise_and_initial_conditions_are_reproducible_and_independent() {
    let a = sample(3, 1e-3);
    let b = sample(3, 1e-3);
    assert_eq!(a, b);
    let clean = sample(3, 0.0);
    let diffs: Vec<f64> = a
        .trajectories
        .iter()
        .zip(&clean.trajectories)
        .flat_map(|(x, y)| x.q.iter().zip(&y.q).map(|(u, v)| u - v))
        .collect();
    let sd = (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt();
    // 126 samples of N(0, 1e-6): the sample σ is within 30 % of 1e-3.
    assert!((sd - 1e-3).abs() < 3e-4, "noise σ {sd:e}");
    // Noise did not change the initial conditions' velocities.
    assert_eq!(a.trajectories[0].v, clean.trajectories[0].v);
}
