//! Several trajectory files, or directories of them, as one data set:
//! trajectories of different lengths from a list of NPY files (one
//! trajectory each, or `(M, T, n)` stacks) and/or CSV files, in the order
//! given (a directory's `.npy` and `.csv` files in name order). All must
//! share the dimension and the time step.

use std::path::{Path, PathBuf};

use super::io::{self, DT_RTOL};
use super::{DataError, Dataset};

/// The files a list of paths names: files as given, directories expanded to
/// their `.npy` and `.csv` files sorted by name.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|error| DataError::Io {
                path: p.display().to_string(),
                error,
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && matches!(f.extension().and_then(|e| e.to_str()), Some("npy" | "csv"))
                })
                .collect();
            if files.is_empty() {
                return Err(DataError::File {
                    path: p.display().to_string(),
                    problem: "the directory holds no .npy or .csv file".into(),
                });
            }
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Read every file of `paths` ([`expand`]) into one data set (`dt` as in
/// [`io::read`]; required for NPY files).
pub fn read_all(paths: &[PathBuf], dt: Option<f64>) -> Result<Dataset, DataError> {
    let files = expand(paths)?;
    let mut all: Option<Dataset> = None;
    for f in &files {
        let d = io::read(f, dt)?;
        match all.as_mut() {
            None => all = Some(d),
            Some(a) => {
                check_same(a, &d, f)?;
                a.trajectories.extend(d.trajectories);
            }
        }
    }
    all.ok_or_else(|| DataError::File {
        path: String::new(),
        problem: "no data file given".into(),
    })
}

fn check_same(a: &Dataset, d: &Dataset, f: &Path) -> Result<(), DataError> {
    let problem = if d.n != a.n {
        format!("dimension {} differs from the first file's {}", d.n, a.n)
    } else if (d.dt - a.dt).abs() > DT_RTOL * a.dt {
        format!("time step {} differs from the first file's {}", d.dt, a.dt)
    } else {
        return Ok(());
    };
    Err(DataError::File {
        path: f.display().to_string(),
        problem,
    })
}
