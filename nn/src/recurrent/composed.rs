//! The reference for any cell: the same stack built from primitive `Var` ops, one node per
//! operation per step, with the cell's math from [`Cell::forward_composed`].
//!
//! Slow by design: it exists so tests can prove the fused path right (for a user's cell too),
//! and so every per-step state is a var whose gradient can be read (dL/dh_t, dL/dc_t).

use super::cell::{Cell, ForwardVars, Recurrence};
use super::module::Recurrent;
use crate::error::Result;
use recur_autograd::Var;
use recur_tensor::{Float, Tensor};

/// What [`forward_composed`] returns.
pub struct Composed<'t, T: Float> {
    /// As [`Recurrent::forward`]'s output.
    pub output: Var<'t, T>,
    /// As [`Recurrent::forward`]'s final state parts.
    pub finals: Vec<Var<'t, T>>,
    /// `states[part][layer * D + dir][t]`: each state part after each time step, in time
    /// order; call `retain_grad` on them before backward to read their gradients.
    pub states: Vec<Vec<Vec<Var<'t, T>>>>,
    /// `gates[layer * D + dir][t]`: the gate pre-activations the cell received at each step
    /// (`x W_ih^T + b_ih`, plus `h W_hh^T + b_hh` for a joined recurrence).
    pub gates: Vec<Vec<Var<'t, T>>>,
}

/// The same computation as [`Recurrent::forward`] (without dropout; with `lengths` as
/// [`Recurrent::forward_padded`]), with the parameters given as vars in `named_parameters`
/// order, built from `select`, `matmul`, `add`, the cell's own ops, `where`, `stack` and
/// `concat`.
///
/// # Errors
/// As [`Recurrent::forward_with_params`].
pub fn forward_composed<'t, C: Cell, T: Float>(
    m: &Recurrent<C, T>,
    input: &Var<'t, T>,
    state0: Option<&[&Var<'t, T>]>,
    lengths: Option<&[usize]>,
    params: &[Var<'t, T>],
) -> Result<Composed<'t, T>> {
    let tape = input.tape();
    m.check_params(params)?;
    let n = m.check(input, state0, lengths)?;
    let cell = m.cell();
    let (d, per, parts) = (m.config().directions(), m.per_layer(), C::STATE_PARTS);
    let recurrence = C::RECURRENCE;
    let bias = m.config().bias;
    // active[t]: (B, 1) mask, 1 where item b is within its length at step t.
    let active = |t: usize| -> Result<Tensor<T>> {
        let v: Vec<T> = (0..n.batch)
            .map(|b| T::from_f64(f64::from(u8::from(lengths.is_none_or(|l| t < l[b])))))
            .collect();
        Ok(Tensor::from_vec(v, &[n.batch, 1])?)
    };
    let mut all_states: Vec<Vec<Vec<Var<'t, T>>>> = vec![Vec::new(); parts];
    let mut all_gates = Vec::new();
    let (output, finals) = super::stack::run_stack(m, n, input, state0, false, |k, dir, x, s0| {
        let p = &params[(k * d + dir) * per..(k * d + dir + 1) * per];
        let w_ih = p[0].t()?;
        let hh = recurrence != Recurrence::None;
        let w_hh = if hh { Some(p[1].t()?) } else { None };
        let b_ih = bias.then(|| &p[1 + usize::from(hh)]);
        let b_hh = (bias && hh).then(|| &p[3]);
        let w_hr = if m.config().proj_size > 0 {
            Some(p[per - 1].t()?)
        } else {
            None
        };
        let steps = x.dims()[0];
        let mut state: Vec<Var<'t, T>> = s0.iter().map(|v| (*v).clone()).collect();
        let mut states: Vec<Vec<Option<Var<'t, T>>>> = vec![vec![None; steps]; parts];
        let mut gates: Vec<Option<Var<'t, T>>> = vec![None; steps];
        let mut outs: Vec<Option<Var<'t, T>>> = vec![None; steps];
        for s in 0..steps {
            let t = if dir == 1 { steps - 1 - s } else { s };
            let mut g = x.select(0usize, t)?.matmul(&w_ih)?;
            if let Some(b) = b_ih {
                g = g.add(b)?;
            }
            let mut hidden = None;
            if let Some(w) = &w_hh {
                let mut q = state[0].matmul(w)?;
                if let Some(b) = b_hh {
                    q = q.add(b)?;
                }
                match recurrence {
                    Recurrence::Joined => g = g.add(&q)?,
                    _ => hidden = Some(q),
                }
            }
            gates[t] = Some(g.clone());
            let mut new = cell.forward_composed(ForwardVars {
                hidden: m.config().hidden_size,
                gates: &g,
                hidden_gates: hidden.as_ref(),
                prev: &state,
            })?;
            if let Some(w) = &w_hr {
                // h_t = m_t W_hr^T.
                new[0] = new[0].matmul(w)?;
            }
            let out = if lengths.is_some() {
                let mask = active(t)?;
                new = new
                    .iter()
                    .zip(&state)
                    .map(|(a, b)| Var::where_cond(&mask, a, b))
                    .collect::<recur_autograd::Result<_>>()?;
                new[0].mul(&tape.constant(mask))?
            } else {
                new[0].clone()
            };
            for (dst, v) in states.iter_mut().zip(&new) {
                dst[t] = Some(v.clone());
            }
            outs[t] = Some(out);
            state = new;
        }
        let outs: Vec<Var<'t, T>> = outs
            .into_iter()
            .map(|o| o.expect("every step ran"))
            .collect();
        let refs: Vec<&Var<'t, T>> = outs.iter().collect();
        for (dst, src) in all_states.iter_mut().zip(states) {
            dst.push(
                src.into_iter()
                    .map(|s| s.expect("every step ran"))
                    .collect(),
            );
        }
        all_gates.push(
            gates
                .into_iter()
                .map(|g| g.expect("every step ran"))
                .collect(),
        );
        Ok((Var::stack(&refs, 0usize)?, state))
    })?;
    Ok(Composed {
        output,
        finals,
        states: all_states,
        gates: all_gates,
    })
}
