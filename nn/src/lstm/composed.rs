//! The reference LSTM composed of primitive `Var` ops, one node per operation per step.
//!
//! Slow by design: it exists so tests can prove the fused op right, and so every per-step
//! state is a var whose gradient can be retained (dL/dh_t, dL/dc_t).

use super::Lstm;
use crate::error::Result;
use recur_autograd::{Tape, Var};
use recur_tensor::Float;

/// What [`forward_composed`] returns: the outputs of [`Lstm::forward`] and every per-step
/// state as its own var.
///
/// ```
/// use recur_nn::{Lstm, LstmConfig, Tape, lstm::composed::forward_composed};
/// use recur_tensor::Tensor;
/// let lstm = Lstm::<f64>::new(LstmConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let c = forward_composed(&lstm, &tape, &tape.constant(Tensor::ones(&[6, 2])), None, None)?;
/// let cells: Vec<_> = c.cells[0].iter().map(|s| s.clone().retain_grad()).collect();
/// let grads = tape.backward(&c.c_n.sum_all()?)?;
/// // dL/dc_t for every step, read from the tape.
/// assert!(cells.iter().all(|s| grads.of(s).is_some()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ComposedLstm<'t, T: Float> {
    /// As [`Lstm::forward`]'s output.
    pub output: Var<'t, T>,
    /// As [`Lstm::forward`]'s `h_n`.
    pub h_n: Var<'t, T>,
    /// As [`Lstm::forward`]'s `c_n`.
    pub c_n: Var<'t, T>,
    /// For each layer and direction (`layer * D + dir`), the hidden state after each time
    /// step, in time order; call `retain_grad` on them before backward to read dL/dh_t.
    pub states: Vec<Vec<Var<'t, T>>>,
    /// The same for the cell state `c_t`.
    pub cells: Vec<Vec<Var<'t, T>>>,
}

/// The same computation as [`Lstm::forward`] (without dropout; with `lengths` as
/// [`Lstm::forward_padded`]) built from primitive ops: `select`, `matmul`, `add`, `narrow`,
/// `sigmoid`, `tanh`, `mul`, `where`, `stack`, `concat`.
///
/// # Errors
/// As [`Lstm::forward`].
///
/// ```
/// use recur_nn::{Lstm, LstmConfig, Tape, lstm::composed::forward_composed};
/// use recur_tensor::Tensor;
/// let lstm = Lstm::<f64>::new(LstmConfig::new(2, 3).bidirectional(true), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::uniform(&[4, 2, 2], -1.0, 1.0, &mut recur_nn::seeded_rng(1)));
/// let c = forward_composed(&lstm, &tape, &x, None, None)?;
/// let (out, (h_n, c_n)) = lstm.forward(&tape, &x, None)?;
/// assert!(c.output.value().sub(out.value())?.abs().max_all()? < 1e-14);
/// assert!(c.h_n.value().sub(h_n.value())?.abs().max_all()? < 1e-14);
/// assert!(c.c_n.value().sub(c_n.value())?.abs().max_all()? < 1e-14);
/// assert_eq!((c.states.len(), c.states[0].len()), (2, 4));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn forward_composed<'t, T: Float>(
    lstm: &Lstm<T>,
    tape: &'t Tape<T>,
    input: &Var<'t, T>,
    hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
    lengths: Option<&[usize]>,
) -> Result<ComposedLstm<'t, T>> {
    forward_composed_with_params(lstm, tape, input, hx, lengths, &lstm.param_vars(tape))
}

/// [`forward_composed`] with the parameters given as vars, in `named_parameters` order.
///
/// # Errors
/// As [`forward_composed`], or when `params` does not match the module's parameter shapes.
///
/// ```
/// use recur_nn::{Lstm, LstmConfig, Tape, lstm::composed::forward_composed_with_params};
/// use recur_tensor::Tensor;
/// let lstm = Lstm::<f64>::new(LstmConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::ones(&[5, 2]));
/// let params = lstm.param_vars(&tape);
/// let c = forward_composed_with_params(&lstm, &tape, &x, None, None, &params)?;
/// assert_eq!(c.output.dims(), &[5, 3]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn forward_composed_with_params<'t, T: Float>(
    lstm: &Lstm<T>,
    tape: &'t Tape<T>,
    input: &Var<'t, T>,
    hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
    lengths: Option<&[usize]>,
    params: &[Var<'t, T>],
) -> Result<ComposedLstm<'t, T>> {
    let s = hx.map(|(h, c)| [h, c]);
    let s = s.as_ref().map(|s| &s[..]);
    let c = crate::recurrent::forward_composed(lstm.engine(), tape, input, s, lengths, params)?;
    let mut finals = c.finals;
    let mut states = c.states;
    let c_n = finals.pop().expect("two state parts");
    let cells = states.pop().expect("two state parts");
    Ok(ComposedLstm {
        output: c.output,
        h_n: finals.pop().expect("two state parts"),
        c_n,
        states: states.pop().expect("two state parts"),
        cells,
    })
}
