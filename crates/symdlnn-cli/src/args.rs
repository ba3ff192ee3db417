//! Parsers for command-line values.

/// A comma-separated list of finite numbers, e.g. `0.1,-0.2`.
#[derive(Clone, Debug)]
pub struct FloatList(pub Vec<f64>);

/// Parse a [`FloatList`].
pub fn float_list(s: &str) -> Result<FloatList, String> {
    s.split(',')
        .map(|x| {
            let x = x.trim();
            let v: f64 = x.parse().map_err(|_| format!("'{x}' is not a number"))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("'{x}' is not finite"))
            }
        })
        .collect::<Result<_, _>>()
        .map(FloatList)
}

/// A finite number > 0.
pub fn positive(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' must be a positive number"))
    }
}

/// A finite number ≥ 0.
pub fn non_negative(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' must be a number ≥ 0"))
    }
}

/// Whether progress bars should be drawn (standard error is a terminal).
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// Layer widths, e.g. `128,128,128`.
#[derive(Clone, Debug)]
pub struct Widths(pub Vec<usize>);

/// Parse [`Widths`].
pub fn widths(s: &str) -> Result<Widths, String> {
    let w: Vec<usize> = s
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{x}' is not a width"))
        })
        .collect::<Result<_, _>>()?;
    if w.is_empty() || w.contains(&0) {
        return Err("widths must be positive".into());
    }
    Ok(Widths(w))
}

/// Coordinate indices, e.g. `0,2`.
#[derive(Clone, Debug)]
pub struct Indices(pub Vec<usize>);

/// Parse [`Indices`].
pub fn indices(s: &str) -> Result<Indices, String> {
    s.split(',')
        .map(|x| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{x}' is not a coordinate index (0, 1, …)"))
        })
        .collect::<Result<_, _>>()
        .map(Indices)
}

/// Parse an activation name.
pub fn activation(s: &str) -> Result<symdlnn::nn::Activation, String> {
    symdlnn::nn::Activation::from_name(s)
        .ok_or_else(|| format!("unknown activation '{s}' (softplus, tanh, sin, silu)"))
}
