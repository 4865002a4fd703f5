//! Layers and directions: the driver that the fused path and the composed reference share.

use super::cell::Cell;
use super::config::Normalised;
use super::module::{Recurrent, RecurrentOutput};
use crate::error::Result;
use recur_autograd::Var;
use recur_tensor::{Float, Tensor};

/// What one layer and direction returns: its output `(L, N, H)` and its final state parts,
/// each `(N, H)`.
pub(crate) type LayerOut<'t, T> = (Var<'t, T>, Vec<Var<'t, T>>);

/// Runs a stack: normalises the input to `(L, N, in)` and every initial state part to
/// `(layers * D, N, H)` (zeros when not given), calls `layer(k, dir, x, s0)` for every layer
/// `k` and direction with the `k * D + dir`-th slice of each initial state part, concatenates
/// the directions, applies dropout between layers (in training), and returns the output and
/// the stacked final state parts in PyTorch's shapes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_stack<'t, C: Cell, T: Float>(
    m: &Recurrent<C, T>,
    n: Normalised,
    input: &Var<'t, T>,
    state0: Option<&[&Var<'t, T>]>,
    training: bool,
    mut layer: impl FnMut(usize, usize, &Var<'t, T>, &[&Var<'t, T>]) -> Result<LayerOut<'t, T>>,
) -> Result<RecurrentOutput<'t, T>> {
    let tape = input.tape();
    let c = m.config();
    let (d, widths) = (c.directions(), m.widths());
    let mut x = if n.unbatched {
        input.unsqueeze(1usize)?
    } else if c.batch_first {
        input.transpose(0usize, 1)?
    } else {
        input.clone()
    };
    let states0: Vec<Var<'t, T>> = widths
        .iter()
        .enumerate()
        .map(|(k, &w)| match state0 {
            Some(s) if n.unbatched => Ok(s[k].unsqueeze(1usize)?),
            Some(s) => Ok(s[k].clone()),
            None => Ok(tape.constant(Tensor::zeros(&[c.stacked(), n.batch, w]))),
        })
        .collect::<Result<_>>()?;
    let mut finals: Vec<Vec<Var<'t, T>>> = vec![Vec::with_capacity(c.stacked()); widths.len()];
    for k in 0..c.num_layers {
        let mut outs = Vec::with_capacity(d);
        for dir in 0..d {
            let i = k * d + dir;
            let s0: Vec<Var<'t, T>> = states0
                .iter()
                .map(|s| s.select(0usize, i))
                .collect::<recur_autograd::Result<_>>()?;
            let refs: Vec<&Var<'t, T>> = s0.iter().collect();
            let (out, fin) = layer(k, dir, &x, &refs)?;
            for (dst, f) in finals.iter_mut().zip(fin) {
                dst.push(f);
            }
            outs.push(out);
        }
        x = if d == 1 {
            outs.pop().expect("one direction")
        } else {
            Var::concat(&[&outs[0], &outs[1]], 2usize)?
        };
        if training && c.dropout > 0.0 && k + 1 < c.num_layers {
            x = m.dropout(&x)?;
        }
    }
    let mut states = Vec::with_capacity(widths.len());
    for f in &finals {
        let refs: Vec<&Var<'t, T>> = f.iter().collect();
        let s = Var::stack(&refs, 0usize)?;
        states.push(if n.unbatched { s.squeeze(1usize)? } else { s });
    }
    let out = if n.unbatched {
        x.squeeze(1usize)?
    } else if c.batch_first {
        x.transpose(0usize, 1)?
    } else {
        x
    };
    Ok((out, states))
}
