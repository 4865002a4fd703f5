//! The reference LSTM composed of primitive `Var` ops, one node per operation per step.
//!
//! Slow by design: it exists so tests can prove the fused op right, and so every per-step
//! state is a var whose gradient can be retained (dL/dh_t, dL/dc_t).

use super::{Lstm, step_composed};
use crate::error::Result;
use crate::lstm::common::{check_forward, check_lengths, check_params, run_stack};
use crate::module::Module;
use recur_autograd::{Tape, Var};
use recur_tensor::{Float, Tensor};

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
    check_params("LSTM", &lstm.named_parameters(), params)?;
    let g = lstm.config.geometry();
    let shapes: Vec<&[usize]> = hx.map_or_else(Vec::new, |(h, c)| vec![h.dims(), c.dims()]);
    let n = check_forward(&g, input.dims(), &shapes)?;
    if let Some(l) = lengths {
        check_lengths(l, n.steps, n.batch)?;
    }
    // active(t): (B, 1) mask, 1 where item b is within its length at step t.
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
    let mut all_h = Vec::new();
    let mut all_c = Vec::new();
    let (output, mut states) = run_stack(
        &g,
        n,
        tape,
        input,
        &[hx.map(|h| h.0), hx.map(|h| h.1)],
        params,
        None,
        |_, dir, x, s0, p| {
            let bias = (p.len() == 4).then(|| (&p[2], &p[3]));
            let (mut h, mut c) = (s0[0].clone(), s0[1].clone());
            let mut hs: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            let mut cs: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            let mut outs: Vec<Option<Var<'t, T>>> = vec![None; n.steps];
            for s in 0..n.steps {
                let t = if dir == 1 { n.steps - 1 - s } else { s };
                let (h1, c1) = step_composed(&x.select(0usize, t)?, &h, &c, &p[0], &p[1], bias)?;
                let (h1, c1, out) = if lengths.is_some() {
                    let m = active(t)?;
                    let h1 = Var::where_cond(&m, &h1, &h)?;
                    let c1 = Var::where_cond(&m, &c1, &c)?;
                    let out = h1.mul(&tape.constant(m))?;
                    (h1, c1, out)
                } else {
                    (h1.clone(), c1, h1)
                };
                (h, c) = (h1, c1);
                hs[t] = Some(h.clone());
                cs[t] = Some(c.clone());
                outs[t] = Some(out);
            }
            let outs: Vec<Var<'t, T>> = outs
                .into_iter()
                .map(|o| o.expect("every step ran"))
                .collect();
            let refs: Vec<&Var<'t, T>> = outs.iter().collect();
            all_h.push(hs.into_iter().map(|s| s.expect("every step ran")).collect());
            all_c.push(cs.into_iter().map(|s| s.expect("every step ran")).collect());
            Ok((Var::stack(&refs, 0usize)?, vec![h, c]))
        },
    )?;
    let c_n = states.pop().expect("two states");
    let h_n = states.pop().expect("two states");
    Ok(ComposedLstm {
        output,
        h_n,
        c_n,
        states: all_h,
        cells: all_c,
    })
}
