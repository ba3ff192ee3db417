//! A seeded mutation fuzzer over the readers users feed files to: CSV, NPY,
//! `model.json` (with its weights) and checkpoints. Each case mutates a
//! valid file (bit flips, byte edits, insertions, deletions, truncation,
//! splices, interesting numbers and bytes) or writes arbitrary bytes, reads
//! it, and requires no panic, a bounded time per case (no hang), and every
//! failure a typed error (the readers' signatures: `DataError`, `ModelError`).
//!
//! CI runs `SYMDLNN_FUZZ_CASES` cases (default 300 per reader). A long run:
//!
//! ```sh
//! SYMDLNN_FUZZ_SECONDS=600 cargo test --release -p symdlnn --test fuzz_readers -- --nocapture
//! ```
//!
//! (`SYMDLNN_FUZZ_SEED` picks another seed; the report prints the cases run.)

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symdlnn::data::{generate, io};
use symdlnn::learn::{fit, model_dir, FitOptions, Recipe, TrainConfig};
use symdlnn::mechanics::{Convergence, System, TimeGrid};

/// Interesting values spliced into text files.
const TOKENS: &[&str] = &[
    "0",
    "-0",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "inf",
    "-inf",
    "18446744073709551616",
    "9007199254740993",
    "\"",
    "\"\"",
    ",",
    "\n",
    "\r\n",
    "\u{1b}",
    "\u{0}",
    "é",
    "[",
    "]",
    "{",
    "}",
    ":",
    "null",
    "true",
    "-1",
    "4611686018427387904",
    "1e999",
    "0x10",
    " ",
];

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// One mutation of `bytes`.
fn mutate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = bytes.len();
    let at = |rng: &mut ChaCha8Rng, len: usize| {
        if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        }
    };
    match rng.random_range(0..9) {
        0 if len > 0 => {
            let i = at(rng, len);
            bytes[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = at(rng, len);
            bytes[i] = rng.random();
        }
        2 => {
            let i = at(rng, len + 1).min(len);
            let k = rng.random_range(1..16);
            for _ in 0..k {
                bytes.insert(i, rng.random());
            }
        }
        3 if len > 0 => {
            let i = at(rng, len);
            let k = rng.random_range(1..=(len - i).min(64));
            bytes.drain(i..i + k);
        }
        4 => bytes.truncate(at(rng, len + 1)),
        5 => {
            let i = at(rng, len + 1).min(len);
            let t = TOKENS[rng.random_range(0..TOKENS.len())].as_bytes();
            bytes.splice(i..i, t.iter().copied());
        }
        6 if len > 0 => {
            // Replace a run of digits by an interesting number.
            let i = at(rng, len);
            let mut j = i;
            while j < len && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                j += 1;
            }
            let t = TOKENS[rng.random_range(0..TOKENS.len())].as_bytes();
            bytes.splice(i..j, t.iter().copied());
        }
        7 if !corpus.is_empty() => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            if !other.is_empty() {
                let a = at(rng, other.len());
                let b = rng.random_range(a..=other.len());
                let i = at(rng, len + 1).min(len);
                bytes.splice(i..i, other[a..b].iter().copied());
            }
        }
        8 if len >= 8 => {
            // An interesting little-endian integer or float over 8 bytes.
            let i = at(rng, len - 7);
            let v: u64 = match rng.random_range(0..6) {
                0 => u64::MAX,
                1 => 1 << 62,
                2 => f64::NAN.to_bits(),
                3 => f64::INFINITY.to_bits(),
                4 => 1e308f64.to_bits(),
                _ => rng.random(),
            };
            bytes[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        _ => {
            let k = rng.random_range(0..64);
            *bytes = (0..k).map(|_| rng.random()).collect();
        }
    }
}

/// Run `read` on `cases` mutations of the seeds (or for `budget`);
/// panics on a reader panic or a case slower than `limit`. Returns the
/// cases run and how many were accepted.
fn fuzz(
    name: &str,
    seeds: &[Vec<u8>],
    cases: usize,
    budget: Option<Duration>,
    rng: &mut ChaCha8Rng,
    mut read: impl FnMut(&[u8]) -> bool,
) -> (usize, usize) {
    let limit = Duration::from_secs(5);
    let (mut run, mut accepted) = (0, 0);
    let deadline = budget.map(|b| Instant::now() + b);
    while deadline.map_or(run < cases, |d| Instant::now() < d) {
        let mut bytes = seeds[rng.random_range(0..seeds.len())].clone();
        for _ in 0..rng.random_range(1..5) {
            mutate(rng, &mut bytes, seeds);
        }
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| read(&bytes)));
        let took = start.elapsed();
        match result {
            Ok(ok) => accepted += ok as usize,
            Err(_) => panic!(
                "{name}: the reader panicked on case {run}: {:?}",
                String::from_utf8_lossy(&bytes)
            ),
        }
        assert!(
            took < limit + Duration::from_micros(bytes.len() as u64),
            "{name}: case {run} took {took:?} for {} bytes",
            bytes.len()
        );
        run += 1;
    }
    (run, accepted)
}

fn small_model(dir: &Path) -> std::path::PathBuf {
    let system = System::from_name("oscillator").unwrap();
    let grid = TimeGrid {
        dt: 0.1,
        steps: 12,
        fine: 1,
    };
    let (q0, v0) = system.default_initial_condition();
    let data = generate::dataset(&system, &[(q0, v0)], grid, Convergence::default()).unwrap();
    let mut cfg = TrainConfig::new(Recipe::Robust, 4);
    cfg.hidden = vec![3];
    let out = dir.join("m");
    let opts = FitOptions {
        checkpoint_every: Some(2),
        source: "fuzz".into(),
        ..FitOptions::default()
    };
    fit(&cfg, &data, &out, &opts, &mut |_| {}).unwrap();
    io::write(&dir.join("seed.csv"), &data).unwrap();
    io::write(&dir.join("seed.npy"), &data).unwrap();
    out
}

#[test]
fn readers_never_panic_or_hang_on_mutated_files() {
    let per_reader = env_usize("SYMDLNN_FUZZ_CASES").unwrap_or(300);
    // The time of a long run, shared equally by the five readers.
    let deadline = env_usize("SYMDLNN_FUZZ_SECONDS").map(|s| Duration::from_secs(s as u64) / 5);
    let seed = env_usize("SYMDLNN_FUZZ_SEED").unwrap_or(16) as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let model = small_model(d);
    let read = |p: &str| std::fs::read(d.join(p)).unwrap();

    // CSV: parsed from bytes and through the file reader.
    let csv_seeds = vec![
        read("seed.csv"),
        b"traj,t,q0,v0,p0\n0,0,1,2,3\n0,0.5,1,2,3\n0,1,1,2,3\n1,0,1,1,1\n1,0.5,2,2,2\n1,1,3,3,3\n"
            .to_vec(),
    ];
    let csv_path = d.join("case.csv");
    let mut report = vec![];
    report.push((
        "csv",
        fuzz("csv", &csv_seeds, per_reader, deadline, &mut rng, |b| {
            let a = io::parse_csv(&csv_path, b).is_ok();
            std::fs::write(&csv_path, b).unwrap();
            let f = io::read(&csv_path, None).is_ok();
            assert_eq!(a, f);
            a
        }),
    ));

    // NPY.
    let npy_seeds = vec![read("seed.npy")];
    let npy_path = d.join("case.npy");
    report.push((
        "npy",
        fuzz("npy", &npy_seeds, per_reader, deadline, &mut rng, |b| {
            let a = io::parse_npy(&npy_path, b, 0.1).is_ok();
            std::fs::write(&npy_path, b).unwrap();
            let f = io::read(&npy_path, Some(0.1)).is_ok();
            assert_eq!(a, f);
            a
        }),
    ));

    // model.json and the weights of a model directory.
    let json = std::fs::read(model.join("model.json")).unwrap();
    let weights = std::fs::read(model.join("weights.safetensors")).unwrap();
    let case = d.join("case-model");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::write(case.join("weights.safetensors"), &weights).unwrap();
    report.push((
        "model.json",
        fuzz(
            "model.json",
            std::slice::from_ref(&json),
            per_reader,
            deadline,
            &mut rng,
            |b| {
                std::fs::write(case.join("model.json"), b).unwrap();
                model_dir::load(&case).is_ok()
            },
        ),
    ));
    std::fs::write(case.join("model.json"), &json).unwrap();
    report.push((
        "weights",
        fuzz(
            "weights",
            std::slice::from_ref(&weights),
            per_reader,
            deadline,
            &mut rng,
            |b| {
                // Without the hash check, so that the parser itself is reached.
                let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
                v.as_object_mut().unwrap().remove("weights_hash");
                std::fs::write(case.join("model.json"), v.to_string()).unwrap();
                std::fs::write(case.join("weights.safetensors"), b).unwrap();
                model_dir::load(&case).is_ok()
            },
        ),
    ));

    // Checkpoints: the optimiser state and the history.
    let cp = model_dir::checkpoint_dir(&model);
    let optimizer = std::fs::read(cp.join("optimizer.safetensors")).unwrap();
    let history = std::fs::read(cp.join("history.csv")).unwrap();
    let work = d.join("case-cp");
    let wcp = model_dir::checkpoint_dir(&work);
    std::fs::create_dir_all(&wcp).unwrap();
    for f in [
        "model.json",
        "weights.safetensors",
        "history.csv",
        "optimizer.safetensors",
    ] {
        std::fs::copy(cp.join(f), wcp.join(f)).unwrap();
    }
    report.push((
        "checkpoint",
        fuzz(
            "checkpoint",
            &[optimizer, history.clone()],
            per_reader,
            deadline,
            &mut rng,
            |b| {
                let target = if b.starts_with(b"epoch") {
                    "history.csv"
                } else {
                    "optimizer.safetensors"
                };
                std::fs::write(wcp.join(target), b).unwrap();
                let ok = model_dir::load_checkpoint(&work).is_ok();
                std::fs::write(wcp.join("history.csv"), &history).unwrap();
                ok
            },
        ),
    ));
    let total: usize = report.iter().map(|(_, (n, _))| n).sum();
    for (name, (n, ok)) in &report {
        eprintln!("fuzz {name}: {n} cases, {ok} accepted");
    }
    eprintln!("fuzz: {total} cases in all (seed {seed}), no panic, no hang");
}
