//! The reference RNN composed of primitive `Var` ops, one node per operation per step.
//!
//! Slow by design: it exists so tests can prove the fused op right, and so every per-step
//! state is a var whose gradient can be retained (`examples/gradient_flow` reads dL/dh_t).

use super::Rnn;
use crate::error::Result;
use recur_autograd::{Tape, Var};
use recur_tensor::Float;

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
    let h0 = h0.as_ref().map(std::slice::from_ref);
    let c = crate::recurrent::forward_composed(rnn.engine(), tape, input, h0, lengths, params)?;
    let mut finals = c.finals;
    Ok(Composed {
        output: c.output,
        h_n: finals.pop().expect("one state part"),
        states: c.states.into_iter().next().expect("one state part"),
        pre_activations: c.gates,
    })
}
