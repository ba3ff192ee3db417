//! Trajectory files.
//!
//! * **CSV** with a header `t,q0,…,q{n−1}`; an optional first column `traj`
//!   (integer trajectory id, rows of one trajectory contiguous) and optional
//!   `v0…v{n−1}` and `p0…p{n−1}` columns after the positions.
//! * **NPY** float64 `(T, n)` or `(M, T, n)` positions in C order; the step
//!   comes from the caller (`--dt`).
//!
//! Reading refuses a missing or non-numeric value, NaN/inf, a ragged row, a
//! non-uniform time step, a trajectory shorter than three points, with the
//! file, the line (CSV) or index (NPY) and the problem. Writing goes to a
//! temporary file renamed into place, so a failed write leaves nothing behind.

use std::io::Write;
use std::path::Path;

use super::{DataError, Dataset, Trajectory};
use crate::sanity::{checked_product, max_file_bytes, num, quote, read_bounded};

/// Relative tolerance on the uniformity of the time step.
pub const DT_RTOL: f64 = 1e-6;

/// Which file format a path names, by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.csv`: a `t` column, positions, optional `traj`, velocities, momenta.
    Csv,
    /// `.npy`: float64 positions `(T, n)` or `(M, T, n)`.
    Npy,
}

impl Format {
    /// The format of `path` from its extension (`.csv` or `.npy`).
    pub fn of(path: &Path) -> Result<Self, DataError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Self::Csv),
            Some("npy") => Ok(Self::Npy),
            _ => Err(DataError::File {
                path: path.display().to_string(),
                problem: "unknown format: use a .csv or .npy file".into(),
            }),
        }
    }
}

/// Read a dataset from a CSV or NPY file. `dt` is required for NPY; for CSV,
/// when given, it must agree with the file's `t` column.
pub fn read(path: &Path, dt: Option<f64>) -> Result<Dataset, DataError> {
    let ds = match Format::of(path)? {
        Format::Csv => read_csv(path)?,
        Format::Npy => {
            let dt = dt.ok_or_else(|| DataError::File {
                path: path.display().to_string(),
                problem: "NPY files carry no time column: give the step (--dt)".into(),
            })?;
            read_npy(path, dt)?
        }
    };
    if let Some(dt) = dt {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(file_err(
                path,
                format!("the step must be a positive number, got {}", num(dt)),
            ));
        }
        if (dt - ds.dt).abs() > DT_RTOL * ds.dt {
            return Err(file_err(
                path,
                format!(
                    "the given step {} disagrees with the file's time step {}",
                    num(dt),
                    num(ds.dt)
                ),
            ));
        }
    }
    Ok(ds)
}

/// Write a dataset as CSV or NPY (by extension), atomically.
pub fn write(path: &Path, data: &Dataset) -> Result<(), DataError> {
    let bytes = match Format::of(path)? {
        Format::Csv => csv_bytes(data),
        Format::Npy => npy_bytes(path, data)?,
    };
    write_atomic(path, &bytes)
}

/// A problem with the file `path` as a whole.
fn file_err(path: &Path, problem: String) -> DataError {
    DataError::File {
        path: path.display().to_string(),
        problem,
    }
}

/// An I/O error on `path`.
fn io_err(path: &Path, error: std::io::Error) -> DataError {
    DataError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// Write `bytes` to a temporary file beside `path`, then rename it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let name = path
        .file_name()
        .ok_or_else(|| file_err(path, "not a file name".into()))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    Ok(())
}

/// Column layout of a CSV header.
struct Columns {
    has_traj: bool,
    n: usize,
    has_v: bool,
    has_p: bool,
}

/// The column layout a header names: `traj`?, `t`, `q…`, `v…`?, `p…`?.
fn parse_header(path: &Path, header: &csv::StringRecord) -> Result<Columns, DataError> {
    let names: Vec<&str> = header.iter().map(str::trim).collect();
    let bad = |problem: String| DataError::Line {
        path: path.display().to_string(),
        line: 1,
        problem,
    };
    let mut i = 0;
    let has_traj = names.first() == Some(&"traj");
    if has_traj {
        i += 1;
    }
    if names.get(i) != Some(&"t") {
        return Err(bad(format!(
            "header must start with 't' (or 'traj,t'), found '{}'",
            quote(&names.join(","))
        )));
    }
    i += 1;
    let group = |prefix: char, i: &mut usize| -> usize {
        let mut k = 0;
        while names.get(*i) == Some(&format!("{prefix}{k}").as_str()) {
            k += 1;
            *i += 1;
        }
        k
    };
    let n = group('q', &mut i);
    if n == 0 {
        return Err(bad(
            "no position columns: expected q0, q1, … after 't'".into()
        ));
    }
    let nv = group('v', &mut i);
    let np = group('p', &mut i);
    if let Some(extra) = names.get(i) {
        return Err(bad(format!(
            "unexpected column '{}' (expected traj, t, q0…q{}, optionally v0…v{1}, p0…p{1})",
            quote(extra),
            n - 1
        )));
    }
    for (count, what) in [(nv, 'v'), (np, 'p')] {
        if count != 0 && count != n {
            return Err(bad(format!("{count} '{what}' columns for {n} positions")));
        }
    }
    Ok(Columns {
        has_traj,
        n,
        has_v: nv == n,
        has_p: np == n,
    })
}

/// One trajectory being read: its id, the file lines of its rows and its
/// values so far.
struct Builder {
    id: Option<u64>,
    first_line: u64,
    lines: Vec<u64>,
    tr: Trajectory,
}

/// Read a CSV trajectory file.
pub fn read_csv(path: &Path) -> Result<Dataset, DataError> {
    let text = read_bounded(path, max_file_bytes()).map_err(|e| io_err(path, e))?;
    parse_csv(path, &text)
}

/// Parse a CSV file's bytes (`path` names it in errors): read the header,
/// parse the rows, group them into trajectories, check each trajectory's
/// time step.
pub fn parse_csv(path: &Path, text: &[u8]) -> Result<Dataset, DataError> {
    let p = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text);
    let (cols, names) = read_header(path, &mut rdr)?;
    let mut groups = Groups::new(&cols);
    let mut record = csv::StringRecord::new();
    loop {
        let more = rdr.read_record(&mut record).map_err(|e| DataError::Line {
            path: p.clone(),
            line: 0,
            problem: quote(&e.to_string()),
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |pos| pos.line());
        let err = |problem: String| DataError::Line {
            path: p.clone(),
            line,
            problem,
        };
        if record.len() == 1 && record[0].trim().is_empty() {
            continue; // blank line
        }
        let values = parse_row(&record, &names, &err)?;
        let (id, vals) = split_id(&cols, &values, &record[0], &err)?;
        groups.push(id, line, vals, &err)?;
    }
    let done = groups.finish();
    if done.is_empty() {
        return Err(file_err(path, "no data rows after the header".into()));
    }
    check_time_steps(p, cols.n, done)
}

/// Read and check the header: the column layout and the trimmed names.
fn read_header(
    path: &Path,
    rdr: &mut csv::Reader<&[u8]>,
) -> Result<(Columns, Vec<String>), DataError> {
    let header = rdr
        .headers()
        .map_err(|e| DataError::Line {
            path: path.display().to_string(),
            line: 1,
            problem: e.to_string(),
        })?
        .clone();
    if header.is_empty() {
        return Err(file_err(
            path,
            "empty file: expected a header 't,q0,…'".into(),
        ));
    }
    let cols = parse_header(path, &header)?;
    let names: Vec<String> = header.iter().map(|s| s.trim().to_string()).collect();
    Ok((cols, names))
}

/// A problem at the line being read, as its error.
type LineErr<'a> = &'a dyn Fn(String) -> DataError;

/// The numbers of one row, refusing a ragged row or a missing, non-numeric
/// or non-finite value.
fn parse_row(
    record: &csv::StringRecord,
    names: &[String],
    err: LineErr,
) -> Result<Vec<f64>, DataError> {
    if record.len() != names.len() {
        return Err(err(format!(
            "ragged row: {} fields, the header has {}",
            record.len(),
            names.len()
        )));
    }
    let mut values = Vec::with_capacity(record.len());
    for (field, name) in record.iter().zip(names) {
        let s = field.trim();
        if s.is_empty() {
            return Err(err(format!("missing value in column '{}'", quote(name))));
        }
        let x: f64 = s.parse().map_err(|_| {
            err(format!(
                "non-numeric value '{}' in column '{}'",
                quote(s),
                quote(name)
            ))
        })?;
        if !x.is_finite() {
            return Err(err(format!(
                "non-finite value '{}' in column '{}'",
                quote(s),
                quote(name)
            )));
        }
        values.push(x);
    }
    Ok(values)
}

/// The row's trajectory id (when the file has a `traj` column, `raw` its
/// text) and the values after it; refuses an id that is not a non-negative
/// integer below 2^53 (larger ones are not exact as numbers).
fn split_id<'v>(
    cols: &Columns,
    values: &'v [f64],
    raw: &str,
    err: LineErr,
) -> Result<(Option<u64>, &'v [f64]), DataError> {
    if !cols.has_traj {
        return Ok((None, values));
    }
    let x = values[0];
    if x < 0.0 || x.fract() != 0.0 {
        return Err(err(format!(
            "trajectory id '{}' is not a non-negative integer",
            quote(raw.trim())
        )));
    }
    if x >= 9007199254740992.0 {
        return Err(err(format!(
            "trajectory id '{}' is too large (ids must be below 2^53)",
            quote(raw.trim())
        )));
    }
    Ok((Some(x as u64), &values[1..]))
}

/// Rows grouped into trajectories by their id: the finished ones and the
/// one being read.
struct Groups<'a> {
    cols: &'a Columns,
    done: Vec<Builder>,
    cur: Option<Builder>,
}

impl<'a> Groups<'a> {
    fn new(cols: &'a Columns) -> Self {
        Self {
            cols,
            done: Vec::new(),
            cur: None,
        }
    }

    /// Add one row's values after the id (read at `line`) to trajectory
    /// `id`, starting it when the id changes.
    fn push(
        &mut self,
        id: Option<u64>,
        line: u64,
        vals: &[f64],
        err: LineErr,
    ) -> Result<(), DataError> {
        let n = self.cols.n;
        if self.cur.as_ref().is_none_or(|b| b.id != id) {
            self.start(id, line, err)?;
        }
        let b = self.cur.as_mut().expect("set above");
        b.lines.push(line);
        b.tr.t.push(vals[0]);
        b.tr.q.extend_from_slice(&vals[1..1 + n]);
        let mut off = 1 + n;
        if let Some(v) = b.tr.v.as_mut() {
            v.extend_from_slice(&vals[off..off + n]);
            off += n;
        }
        if let Some(pp) = b.tr.p.as_mut() {
            pp.extend_from_slice(&vals[off..off + n]);
        }
        Ok(())
    }

    /// Finish the current trajectory and start trajectory `id` at `line`,
    /// refusing one that resumes after another.
    fn start(&mut self, id: Option<u64>, line: u64, err: LineErr) -> Result<(), DataError> {
        if self.done.iter().any(|b| b.id == id) {
            return Err(err(format!(
                "trajectory {} resumes after another: rows of one trajectory must be contiguous",
                id.unwrap_or(0)
            )));
        }
        if let Some(b) = self.cur.take() {
            self.done.push(b);
        }
        let tr = Trajectory {
            n: self.cols.n,
            t: vec![],
            q: vec![],
            v: self.cols.has_v.then(Vec::new),
            p: self.cols.has_p.then(Vec::new),
        };
        self.cur = Some(Builder {
            id,
            first_line: line,
            lines: vec![],
            tr,
        });
        Ok(())
    }

    /// Every trajectory read, in file order.
    fn finish(mut self) -> Vec<Builder> {
        self.done.extend(self.cur);
        self.done
    }
}

/// Check each trajectory's time grid and that all share one step; the
/// dataset of them.
fn check_time_steps(p: String, n: usize, done: Vec<Builder>) -> Result<Dataset, DataError> {
    let mut dt_common: Option<f64> = None;
    let mut trajectories = Vec::with_capacity(done.len());
    for (index, b) in done.into_iter().enumerate() {
        let dt = check_time_grid(&p, index, &b.tr.t, &b.lines, b.first_line)?;
        match dt_common {
            None => dt_common = Some(dt),
            Some(d0) if (dt - d0).abs() > DT_RTOL * d0 => {
                return Err(DataError::Trajectory {
                    path: p,
                    index,
                    problem: format!(
                        "time step {} differs from the first trajectory's {}",
                        num(dt),
                        num(d0)
                    ),
                })
            }
            _ => {}
        }
        trajectories.push(b.tr);
    }
    Ok(Dataset {
        n,
        dt: dt_common.unwrap_or(f64::NAN),
        trajectories,
    })
}

/// Check a trajectory's times: ≥ 3 points, increasing, uniform. Returns Δt.
fn check_time_grid(
    path: &str,
    index: usize,
    t: &[f64],
    lines: &[u64],
    first_line: u64,
) -> Result<f64, DataError> {
    if t.len() < 3 {
        return Err(DataError::Trajectory {
            path: path.to_string(),
            index,
            problem: format!(
                "only {} point(s) from line {first_line}: a trajectory needs at least 3",
                t.len()
            ),
        });
    }
    let dt = (t[t.len() - 1] - t[0]) / (t.len() - 1) as f64;
    for k in 1..t.len() {
        let step = t[k] - t[k - 1];
        if step.is_nan() || step <= 0.0 {
            return Err(DataError::Line {
                path: path.to_string(),
                line: lines[k],
                problem: format!(
                    "time must increase: t goes from {} to {}",
                    num(t[k - 1]),
                    num(t[k])
                ),
            });
        }
        if !step.is_finite() || !dt.is_finite() {
            return Err(DataError::Line {
                path: path.to_string(),
                line: lines[k],
                problem: format!(
                    "the time step is not a finite number: t goes from {} to {}",
                    num(t[k - 1]),
                    num(t[k])
                ),
            });
        }
        if (step - dt).abs() > DT_RTOL * dt {
            return Err(DataError::Line {
                path: path.to_string(),
                line: lines[k],
                problem: format!(
                    "non-uniform time step: t goes from {} to {} (step {}), the trajectory's mean step is {}",
                    num(t[k - 1]),
                    num(t[k]),
                    num(step),
                    num(dt)
                ),
            });
        }
    }
    Ok(dt)
}

/// The shortest decimal that reads back as `x`.
fn fmt_f64(x: f64) -> String {
    let mut b = ryu::Buffer::new();
    b.format(x).to_string()
}

/// A dataset as CSV (a `traj` column when it has several trajectories;
/// velocities and momenta when every trajectory has them).
/// The CSV text of a dataset (as [`write`] writes it).
pub fn csv_bytes(data: &Dataset) -> Vec<u8> {
    let n = data.n;
    let multi = data.trajectories.len() > 1;
    let first = data.trajectories.first();
    let has_v =
        first.is_some_and(|t| t.v.is_some()) && data.trajectories.iter().all(|t| t.v.is_some());
    let has_p =
        first.is_some_and(|t| t.p.is_some()) && data.trajectories.iter().all(|t| t.p.is_some());
    let mut head: Vec<String> = Vec::new();
    if multi {
        head.push("traj".into());
    }
    head.push("t".into());
    head.extend((0..n).map(|i| format!("q{i}")));
    if has_v {
        head.extend((0..n).map(|i| format!("v{i}")));
    }
    if has_p {
        head.extend((0..n).map(|i| format!("p{i}")));
    }
    let mut out = head.join(",");
    out.push('\n');
    for (id, tr) in data.trajectories.iter().enumerate() {
        for k in 0..tr.len() {
            let mut row: Vec<String> = Vec::with_capacity(head.len());
            if multi {
                row.push(id.to_string());
            }
            row.push(fmt_f64(tr.t[k]));
            let cols = [
                Some(&tr.q),
                tr.v.as_ref().filter(|_| has_v),
                tr.p.as_ref().filter(|_| has_p),
            ];
            for c in cols.into_iter().flatten() {
                row.extend(c[k * n..(k + 1) * n].iter().map(|&x| fmt_f64(x)));
            }
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// Read an NPY file of float64 positions `(T, n)` or `(M, T, n)`.
pub fn read_npy(path: &Path, dt: f64) -> Result<Dataset, DataError> {
    let bytes = read_bounded(path, max_file_bytes()).map_err(|e| io_err(path, e))?;
    parse_npy(path, &bytes, dt)
}

/// Where an NPY file's data start: after the magic string, the version, the
/// header length and the header (`None` when the prelude is cut short).
fn npy_data_offset(bytes: &[u8]) -> Option<usize> {
    let major = *bytes.get(6)?;
    if major == 1 {
        let len = u16::from_le_bytes(bytes.get(8..10)?.try_into().ok()?);
        Some(10 + len as usize)
    } else {
        let len = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
        Some(12usize.checked_add(len as usize)?)
    }
}

/// Parse an NPY file's bytes (`path` names it in errors) with the step `dt`.
pub fn parse_npy(path: &Path, bytes: &[u8], dt: f64) -> Result<Dataset, DataError> {
    let npy = npyz::NpyFile::new(bytes)
        .map_err(|e| file_err(path, format!("not a valid NPY file: {e}")))?;
    let dtype = match npy.dtype() {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => format!("{other:?}"),
    };
    if dtype != "<f8" && dtype != ">f8" {
        return Err(file_err(
            path,
            format!("dtype {dtype}: expected float64 ('<f8')"),
        ));
    }
    if npy.order() != npyz::Order::C {
        return Err(file_err(
            path,
            "Fortran-ordered array: save it in C order".into(),
        ));
    }
    let shape: Vec<u64> = npy.shape().to_vec();
    let Some(shape) = shape
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()
    else {
        return Err(file_err(path, format!("shape {shape:?} is too large")));
    };
    let (m, t, n) = match shape[..] {
        [t, n] => (1, t, n),
        [m, t, n] => (m, t, n),
        _ => {
            return Err(file_err(
                path,
                format!("shape {shape:?}: expected (T, n) or (M, T, n) positions"),
            ))
        }
    };
    if n == 0 || m == 0 {
        return Err(file_err(path, format!("shape {shape:?} has no data")));
    }
    if t < 3 {
        return Err(file_err(
            path,
            format!("shape {shape:?}: a trajectory needs at least 3 points"),
        ));
    }
    let Some(count) = checked_product(&shape).filter(|c| c.checked_mul(8).is_some()) else {
        return Err(file_err(path, format!("shape {shape:?} is too large")));
    };
    let data_bytes = npy_data_offset(bytes).map_or(0, |o| bytes.len().saturating_sub(o));
    if data_bytes != count * 8 {
        return Err(file_err(
            path,
            format!(
                "shape {shape:?} needs {} bytes of data, the file has {data_bytes}",
                count * 8
            ),
        ));
    }
    let values: Vec<f64> = npy
        .into_vec()
        .map_err(|e| file_err(path, format!("could not read the data: {e}")))?;
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        let idx = if shape.len() == 2 {
            format!("[{}, {}]", i / n, i % n)
        } else {
            format!("[{}, {}, {}]", i / (t * n), (i / n) % t, i % n)
        };
        return Err(file_err(
            path,
            format!("non-finite value {} at index {idx}", num(values[i])),
        ));
    }
    let trajectories = values
        .chunks(t * n)
        .map(|c| Trajectory::from_positions(n, 0.0, dt, c.to_vec()))
        .collect();
    Ok(Dataset {
        n,
        dt,
        trajectories,
    })
}

/// A dataset's positions as NPY `(T, n)` or `(M, T, n)`.
fn npy_bytes(path: &Path, data: &Dataset) -> Result<Vec<u8>, DataError> {
    use npyz::WriterBuilder;
    let t = data.trajectories.first().map_or(0, Trajectory::len);
    if data.trajectories.iter().any(|tr| tr.len() != t) {
        return Err(file_err(
            path,
            "NPY needs trajectories of equal length; use CSV for ragged data".into(),
        ));
    }
    let shape: Vec<u64> = if data.trajectories.len() == 1 {
        vec![t as u64, data.n as u64]
    } else {
        vec![data.trajectories.len() as u64, t as u64, data.n as u64]
    };
    let mut buf = Vec::new();
    let wrap = |e: std::io::Error| io_err(path, e);
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut buf)
        .begin_nd()
        .map_err(wrap)?;
    for tr in &data.trajectories {
        w.extend(tr.q.iter().copied()).map_err(wrap)?;
    }
    w.finish().map_err(wrap)?;
    Ok(buf)
}
