//! The reference RNN composed of primitive `Var` ops, one node per operation per step.
//!
//! Slow by design: it exists so tests can prove the fused op right, and so every per-step
//! state is a var whose gradient can be retained (`examples/gradient_flow` reads dL/dh_t).

use super::{Nonlinearity, Rnn};
use crate::error::Result;
use recur_autograd::{Tape, Var};
use recur_tensor::{Float, Tensor};

/// What [`forward_composed`] returns.
pub struct Composed<'t, T: Float> {
    /// As [`Rnn::forward`]'s output.
    pub output: Var<'t, T>,
    /// As [`Rnn::forward`]'s `h_n`.
    pub h_n: Var<'t, T>,
    /// For each layer and direction (`layer * D + dir`), the state after each time step, in
    /// time order; call `retain_grad` on them before backward to read dL/dh_t.
    pub states: Vec<Vec<Var<'t, T>>>,
    /// The pre-activations `z_t` (before tanh/relu), laid out like `states`.
    pub pre_activations: Vec<Vec<Var<'t, T>>>,
}

/// The same computation as [`Rnn::forward`] (without dropout; with `lengths` as
/// [`Rnn::forward_padded`]) built from primitive ops: `select`, `matmul`, `add`, `tanh`/`relu`,
/// `where`, `stack`, `concat`.
///
/// # Errors
/// As [`Rnn::forward`].
///
/// ```
/// use recur_nn::{Rnn, RnnConfig, Tape, rnn::composed::forward_composed};
/// use recur_tensor::Tensor;
/// let rnn = Rnn::<f64>::new(RnnConfig::new(2, 3).bidirectional(true), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::uniform(&[4, 2, 2], -1.0, 1.0, &mut recur_nn::seeded_rng(1)));
/// let c = forward_composed(&rnn, &tape, &x, None, None)?;
/// let (out, h_n) = rnn.forward(&tape, &x, None)?;
/// assert!(c.output.value().sub(out.value())?.abs().max_all()? < 1e-14);
/// assert!(c.h_n.value().sub(h_n.value())?.abs().max_all()? < 1e-14);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn forward_composed<'t, T: Float>(
    rnn: &Rnn<T>,
    tape: &'t Tape<T>,
    input: &Var<'t, T>,
    h0: Option<&Var<'t, T>>,
    lengths: Option<&[usize]>,
) -> Result<Composed<'t, T>> {
    forward_composed_with_params(rnn, tape, input, h0, lengths, &rnn.param_vars(tape))
}

/// [`forward_composed`] with the parameters given as vars, in `named_parameters` order.
///
/// # Errors
/// As [`forward_composed`].
pub fn forward_composed_with_params<'t, T: Float>(
    rnn: &Rnn<T>,
    tape: &'t Tape<T>,
    input: &Var<'t, T>,
    h0: Option<&Var<'t, T>>,
    lengths: Option<&[usize]>,
    params: &[Var<'t, T>],
) -> Result<Composed<'t, T>> {
    let n = rnn.check(input.dims(), h0.map(|h| h.dims()))?;
    let c = &rnn.config;
    let (hid, d) = (c.hidden_size, c.directions());
    if let Some(l) = lengths {
        super::check_lengths(l, n.steps, n.batch)?;
    }
    let mut x = if n.unbatched {
        input.unsqueeze(1usize)?
    } else if c.batch_first {
        input.transpose(0usize, 1)?
    } else {
        input.clone()
    };
    let h0 = match h0 {
        Some(h0) if n.unbatched => h0.unsqueeze(1usize)?,
        Some(h0) => h0.clone(),
        None => tape.constant(Tensor::zeros(&[c.num_layers * d, n.batch, hid])),
    };
    // active[t]: (B, 1) mask, 1 where item b is within its length at step t.
    let active = |t: usize| -> Result<Tensor<T>> {
        let v: Vec<T> = (0..n.batch)
            .map(|b| {
                if lengths.is_none_or(|l| t < l[b]) {
                    T::ONE
                } else {
                    T::ZERO
                }
            })
            .collect();
        Ok(Tensor::from_vec(v, &[n.batch, 1])?)
    };
    let mut finals = Vec::new();
    let mut all_states = Vec::new();
    let mut all_pre = Vec::new();
    for layer in 0..c.num_layers {
        let mut outs = Vec::new();
        for dir in 0..d {
            let per_cell = if c.bias { 4 } else { 2 };
            let p = &params[(layer * d + dir) * per_cell..(layer * d + dir + 1) * per_cell];
            let (w_ih, w_hh) = (p[0].t()?, p[1].t()?);
            let bias = if c.bias { Some(p[2].add(&p[3])?) } else { None };
            let mut h = h0.select(0usize, layer * d + dir)?;
            let mut states: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            let mut step_out: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            let mut pre: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            for s in 0..n.steps {
                let t = if dir == 1 { n.steps - 1 - s } else { s };
                let mut z = x.select(0usize, t)?.matmul(&w_ih)?.add(&h.matmul(&w_hh)?)?;
                if let Some(b) = &bias {
                    z = z.add(b)?;
                }
                pre[t] = Some(z.clone());
                let new = match c.nonlinearity {
                    Nonlinearity::Tanh => z.tanh()?,
                    Nonlinearity::Relu => z.relu()?,
                };
                let (new, out) = if lengths.is_some() {
                    let m = active(t)?;
                    let kept = Var::where_cond(&m, &new, &h)?;
                    let out = kept.mul(&tape.constant(m))?;
                    (kept, out)
                } else {
                    (new.clone(), new)
                };
                h = new;
                states[t] = Some(h.clone());
                step_out[t] = Some(out);
            }
            let outs_t: Vec<Var<'t, T>> = step_out
                .into_iter()
                .map(|o| o.expect("every step ran"))
                .collect();
            let refs: Vec<&Var<'t, T>> = outs_t.iter().collect();
            outs.push(Var::stack(&refs, 0usize)?);
            finals.push(h);
            all_states.push(
                states
                    .into_iter()
                    .map(|s| s.expect("every step ran"))
                    .collect(),
            );
            all_pre.push(
                pre.into_iter()
                    .map(|s| s.expect("every step ran"))
                    .collect(),
            );
        }
        x = if d == 1 {
            outs.pop().expect("one direction")
        } else {
            Var::concat(&[&outs[0], &outs[1]], 2usize)?
        };
    }
    let refs: Vec<&Var<'t, T>> = finals.iter().collect();
    let mut h_n = Var::stack(&refs, 0usize)?;
    let mut output = x;
    if n.unbatched {
        output = output.squeeze(1usize)?;
        h_n = h_n.squeeze(1usize)?;
    } else if c.batch_first {
        output = output.transpose(0usize, 1)?;
    }
    Ok(Composed {
        output,
        h_n,
        states: all_states,
        pre_activations: all_pre,
    })
}
