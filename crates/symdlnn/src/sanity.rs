//! Guards for input that reaches the library from users: NaN-aware norms,
//! sizes computed with checked arithmetic against the machine's memory,
//! bounded file reads, short numbers and escaped text in messages, and a
//! content hash.
//!
//! NaN is a failure everywhere: [`inf_norm`] and [`nan_max`] propagate it
//! (`f64::max` drops it), so a convergence test `residual <= tol` on their
//! result fails for NaN.

use std::io::Read;
use std::path::Path;

/// A request larger than the machine can hold, or whose size overflows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SizeError {
    /// The size does not fit in 64 bits.
    #[error("{what}: the size overflows")]
    Overflow {
        /// What was asked for.
        what: String,
    },
    /// The size exceeds the memory limit.
    #[error("{what} needs {} of memory, more than this machine's {}", bytes_text(*bytes), bytes_text(*limit))]
    TooLarge {
        /// What was asked for.
        what: String,
        /// Bytes it needs.
        bytes: u128,
        /// The memory limit in bytes.
        limit: u128,
    },
}

/// `x` in bytes as a short text (`12.3 GB`).
pub fn bytes_text(x: u128) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = x as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{x} bytes")
    } else if v >= 1000.0 {
        format!("{} bytes", num(x as f64))
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The memory a request may use: the machine's `MemTotal` (from
/// `/proc/meminfo`), or 16 GiB where that cannot be read;
/// `SYMDLNN_MEMORY_LIMIT` (bytes) overrides both.
pub fn memory_limit() -> u128 {
    if let Some(v) = std::env::var("SYMDLNN_MEMORY_LIMIT")
        .ok()
        .and_then(|s| s.trim().parse::<u128>().ok())
    {
        return v;
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u128>().ok())
        })
        .map_or(16 << 30, |kb| kb * 1024)
}

/// Refuse `count` items of `item_bytes` bytes each (`None`: the count
/// overflowed) when they exceed [`memory_limit`]; `what` names the request.
pub fn check_memory(what: &str, count: Option<usize>, item_bytes: usize) -> Result<(), SizeError> {
    let bytes = count
        .map(|c| c as u128 * item_bytes as u128)
        .ok_or_else(|| SizeError::Overflow { what: what.into() })?;
    let limit = memory_limit();
    if bytes > limit {
        return Err(SizeError::TooLarge {
            what: what.into(),
            bytes,
            limit,
        });
    }
    Ok(())
}

/// The product of `factors`, `None` on overflow.
pub fn checked_product(factors: &[usize]) -> Option<usize> {
    factors.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
}

/// `max(|x_i|)`, NaN when any `x_i` is NaN (0 for an empty slice).
pub fn inf_norm(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |m, a| nan_max(m, a.abs()))
}

/// The larger of `a` and `b`, NaN when either is NaN.
pub fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// `x` with about 6 significant digits, for messages.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if (1e-4..1e6).contains(&a) {
        let digits = (5 - a.log10().floor() as i32).clamp(0, 10) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let s = format!("{x:.5e}");
        // 1.50000e7 → 1.5e7
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        }
    }
}

/// `s` for a one-line message: control characters escaped, at most 60
/// characters (then `…`).
pub fn quote(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 60 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Read at most `max` bytes of the regular file `path` (symbolic links
/// followed): a device, a directory or a file longer than `max` is refused
/// (as an I/O error of kind `InvalidData`) before its contents are read.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "is a directory, not a file",
        ));
    }
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file (a device or a pipe?)",
        ));
    }
    if meta.len() > max {
        return Err(too_long(meta.len() as u128, max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_long(bytes.len() as u128, max));
    }
    Ok(bytes)
}

fn too_long(len: u128, max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "the file is {}, more than the {} this reader accepts",
            bytes_text(len),
            bytes_text(max as u128)
        ),
    )
}

/// The largest data file read: a quarter of [`memory_limit`].
pub fn max_file_bytes() -> u64 {
    (memory_limit() / 4).min(u64::MAX as u128) as u64
}

/// A 64-bit FNV-1a hash of `bytes` as 16 hex digits (detects a changed or
/// torn file; not a cryptographic hash).
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h = Hasher::new();
    h.write(bytes);
    h.finish()
}

/// An incremental [`content_hash`].
pub struct Hasher(u64);

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    /// A hasher of no bytes yet.
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    /// Add `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The hash as 16 hex digits.
    pub fn finish(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_propagate_nan_and_numbers_are_short() {
        assert!(inf_norm(&[1.0, f64::NAN, 2.0]).is_nan());
        assert!(inf_norm(&[f64::NAN]).is_nan());
        assert_eq!(inf_norm(&[-3.0, 2.0]), 3.0);
        assert_eq!(inf_norm(&[f64::NEG_INFINITY]), f64::INFINITY);
        assert!(nan_max(0.0, f64::NAN).is_nan());
        assert_eq!(num(-0.1), "-0.1");
        assert_eq!(num(1e308), "1e308");
        assert_eq!(num(0.30000000000000004), "0.3");
        assert_eq!(num(123456.7), "123457");
        assert_eq!(num(1234567.0), "1.23457e6");
        assert!(num(f64::MAX).len() < 16);
        assert_eq!(quote("a\nb\u{1b}"), "a\\nb\\u{1b}");
        assert_eq!(content_hash(b""), "cbf29ce484222325");
    }
}
