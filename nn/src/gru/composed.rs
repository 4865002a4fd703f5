//! The reference GRU composed of primitive `Var` ops, one node per operation per step.
//!
//! Slow by design: it exists so tests can prove the fused op right, and so every per-step
//! state is a var whose gradient can be retained (dL/dh_t).

use super::Gru;
use crate::error::Result;
use recur_autograd::{Tape, Var};
use recur_tensor::Float;

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
    let s = h0.as_ref().map(std::slice::from_ref);
    let c = crate::recurrent::forward_composed(gru.engine(), tape, input, s, lengths, params)?;
    let mut finals = c.finals;
    Ok(ComposedGru {
        output: c.output,
        h_n: finals.pop().expect("one state part"),
        states: c.states.into_iter().next().expect("one state part"),
    })
}
