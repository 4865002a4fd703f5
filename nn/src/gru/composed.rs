//! The reference GRU composed of primitive `Var` ops, one node per operation per step.
//!
//! Slow by design: it exists so tests can prove the fused op right, and so every per-step
//! state is a var whose gradient can be retained (dL/dh_t).

use super::{Gru, step_composed};
use crate::error::Result;
use crate::lstm::common::{check_forward, check_lengths, check_params, run_stack};
use crate::module::Module;
use recur_autograd::{Tape, Var};
use recur_tensor::{Float, Tensor};

/// What [`forward_composed`] returns: the outputs of [`Gru::forward`] and every per-step
/// state as its own var.
///
/// ```
/// use recur_nn::{Gru, GruConfig, Tape, gru::composed::forward_composed};
/// use recur_tensor::Tensor;
/// let gru = Gru::<f64>::new(GruConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let c = forward_composed(&gru, &tape, &tape.constant(Tensor::ones(&[6, 2])), None, None)?;
/// let states: Vec<_> = c.states[0].iter().map(|s| s.clone().retain_grad()).collect();
/// let grads = tape.backward(&c.h_n.sum_all()?)?;
/// assert!(states.iter().all(|s| grads.of(s).is_some())); // dL/dh_t for every step
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ComposedGru<'t, T: Float> {
    /// As [`Gru::forward`]'s output.
    pub output: Var<'t, T>,
    /// As [`Gru::forward`]'s `h_n`.
    pub h_n: Var<'t, T>,
    /// For each layer and direction (`layer * D + dir`), the state after each time step, in
    /// time order; call `retain_grad` on them before backward to read dL/dh_t.
    pub states: Vec<Vec<Var<'t, T>>>,
}

/// The same computation as [`Gru::forward`] (without dropout; with `lengths` as
/// [`Gru::forward_padded`]) built from primitive ops: `select`, `matmul`, `add`, `narrow`,
/// `sigmoid`, `tanh`, `mul`, `sub`, `where`, `stack`, `concat`.
///
/// # Errors
/// As [`Gru::forward`].
///
/// ```
/// use recur_nn::{Gru, GruConfig, Tape, gru::composed::forward_composed};
/// use recur_tensor::Tensor;
/// let gru = Gru::<f64>::new(GruConfig::new(2, 3).num_layers(2), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::uniform(&[4, 2, 2], -1.0, 1.0, &mut recur_nn::seeded_rng(1)));
/// let c = forward_composed(&gru, &tape, &x, None, None)?;
/// let (out, h_n) = gru.forward(&tape, &x, None)?;
/// assert!(c.output.value().sub(out.value())?.abs().max_all()? < 1e-14);
/// assert!(c.h_n.value().sub(h_n.value())?.abs().max_all()? < 1e-14);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn forward_composed<'t, T: Float>(
    gru: &Gru<T>,
    tape: &'t Tape<T>,
    input: &Var<'t, T>,
    h0: Option<&Var<'t, T>>,
    lengths: Option<&[usize]>,
) -> Result<ComposedGru<'t, T>> {
    forward_composed_with_params(gru, tape, input, h0, lengths, &gru.param_vars(tape))
}

/// [`forward_composed`] with the parameters given as vars, in `named_parameters` order.
///
/// # Errors
/// As [`forward_composed`], or when `params` does not match the module's parameter shapes.
///
/// ```
/// use recur_nn::{Gru, GruConfig, Tape, gru::composed::forward_composed_with_params};
/// use recur_tensor::Tensor;
/// let gru = Gru::<f64>::new(GruConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let params = gru.param_vars(&tape);
/// let c = forward_composed_with_params(&gru, &tape, &tape.constant(Tensor::ones(&[5, 2])), None, None, &params)?;
/// assert_eq!(c.output.dims(), &[5, 3]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn forward_composed_with_params<'t, T: Float>(
    gru: &Gru<T>,
    tape: &'t Tape<T>,
    input: &Var<'t, T>,
    h0: Option<&Var<'t, T>>,
    lengths: Option<&[usize]>,
    params: &[Var<'t, T>],
) -> Result<ComposedGru<'t, T>> {
    check_params("GRU", &gru.named_parameters(), params)?;
    let g = gru.config.geometry();
    let shapes: Vec<&[usize]> = h0.map(|h| h.dims()).into_iter().collect();
    let n = check_forward(&g, input.dims(), &shapes)?;
    if let Some(l) = lengths {
        check_lengths(l, n.steps, n.batch)?;
    }
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
    let mut all = Vec::new();
    let (output, mut states) = run_stack(
        &g,
        n,
        tape,
        input,
        &[h0],
        params,
        None,
        |_, dir, x, s0, p| {
            let bias = (p.len() == 4).then(|| (&p[2], &p[3]));
            let mut h = s0[0].clone();
            let mut hs: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            let mut outs: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            for s in 0..n.steps {
                let t = if dir == 1 { n.steps - 1 - s } else { s };
                let h1 = step_composed(&x.select(0usize, t)?, &h, &p[0], &p[1], bias)?;
                let (h1, out) = if lengths.is_some() {
                    let m = active(t)?;
                    let h1 = Var::where_cond(&m, &h1, &h)?;
                    let out = h1.mul(&tape.constant(m))?;
                    (h1, out)
                } else {
                    (h1.clone(), h1)
                };
                h = h1;
                hs[t] = Some(h.clone());
                outs[t] = Some(out);
            }
            let outs: Vec<Var<'t, T>> = outs
                .into_iter()
                .map(|o| o.expect("every step ran"))
                .collect();
            let refs: Vec<&Var<'t, T>> = outs.iter().collect();
            all.push(hs.into_iter().map(|s| s.expect("every step ran")).collect());
            Ok((Var::stack(&refs, 0usize)?, vec![h]))
        },
    )?;
    Ok(ComposedGru {
        output,
        h_n: states.pop().expect("one state"),
        states: all,
    })
}
