//! Network weights as safetensors: `layers.{l}.weight` (`out × in`, F64) and
//! `layers.{l}.bias` (`out`, F64) for each affine layer `l = 0 … L−1`.

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{Activation, Mlp, NnError};

/// Serialise the parameters of `mlp`.
pub fn save_mlp(mlp: &Mlp) -> Result<Vec<u8>, NnError> {
    let w = mlp.widths();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = (0..mlp.layers())
        .flat_map(|l| {
            let enc = |x: &[f64]| x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
            [
                (
                    format!("layers.{l}.weight"),
                    vec![w[l + 1], w[l]],
                    enc(mlp.weight(l)),
                ),
                (format!("layers.{l}.bias"), vec![w[l + 1]], enc(mlp.bias(l))),
            ]
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F64, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| NnError::Weights(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| NnError::Weights(e.to_string()))
}

/// Load parameters for an architecture `input → hidden… → 1` from safetensors bytes.
pub fn load_mlp(
    bytes: &[u8],
    input: usize,
    hidden: &[usize],
    activation: Activation,
) -> Result<Mlp, NnError> {
    let mut mlp = Mlp::zeros(input, hidden, activation)?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| NnError::Weights(e.to_string()))?;
    let w = mlp.widths().to_vec();
    for l in 0..mlp.layers() {
        let off = mlp.offset(l);
        for (name, shape, at) in [
            (format!("layers.{l}.weight"), vec![w[l + 1], w[l]], off),
            (
                format!("layers.{l}.bias"),
                vec![w[l + 1]],
                off + w[l + 1] * w[l],
            ),
        ] {
            let t = st
                .tensor(&name)
                .map_err(|e| NnError::Weights(format!("{name}: {e}")))?;
            if t.dtype() != Dtype::F64
                || t.shape() != shape.as_slice()
                || t.data().len() != 8 * shape.iter().product::<usize>()
            {
                return Err(NnError::Weights(format!(
                    "{name}: expected F64 {shape:?}, found {:?} {:?}",
                    t.dtype(),
                    t.shape()
                )));
            }
            let dst = &mut mlp.params_mut()[at..at + shape.iter().product::<usize>()];
            for (x, chunk) in dst.iter_mut().zip(t.data().chunks_exact(8)) {
                *x = f64::from_le_bytes(chunk.try_into().expect("chunks of 8 bytes"));
            }
            if let Some(i) = dst.iter().position(|x| !x.is_finite()) {
                return Err(NnError::Weights(format!(
                    "{name}: non-finite value {} at index {i}",
                    dst[i]
                )));
            }
        }
    }
    Ok(mlp)
}
