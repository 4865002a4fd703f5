//! The [`Cell`] trait: what a recurrent cell is to the engine — only its math.

use crate::error::Result;
use recur_autograd::Var;
use recur_tensor::Float;

/// How the previous hidden state `h_{t-1}` enters a cell's gates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    /// `h_{t-1} W_hh^T + b_hh` is added to the input side before the cell sees the gates
    /// (RNN, LSTM): the engine writes the per-step product straight into the gate buffer.
    Joined,
    /// The hidden side reaches the cell on its own (GRU, whose `r ⊙ (W_hn h + b_hn)` must not
    /// be summed with the input side first); its gradient comes back on its own too.
    Separate,
    /// No recurrent weight at all: the state enters only through the cell's element-wise
    /// math (minGRU, quasi-recurrent cells). The layer has no `weight_hh` / `bias_hh`.
    None,
}

/// One forward step of a cell on a block of batch rows, as the engine hands it over.
///
/// Every buffer is row-major with `rows` rows; widths are in units of `hidden` (`H`):
/// `gates` is `rows × G·H`, states are `rows × P·H` with the parts side by side (`h` first,
/// then e.g. `c`), `saved` is `rows × S·H` (`G`, `P`, `S` from [`Cell::GATES`],
/// [`Cell::STATE_PARTS`], [`Cell::SAVED`]).
pub struct Forward<'a, T> {
    /// The hidden size `H`.
    pub hidden: usize,
    /// The number of rows in this block.
    pub rows: usize,
    /// In: the gate pre-activations `x W_ih^T + b_ih` (plus `h_{t-1} W_hh^T + b_hh` for
    /// [`Recurrence::Joined`]). The cell may overwrite it with whatever its backward needs
    /// (the activated gates, usually): [`Backward::gates`] is this buffer as left here.
    pub gates: &'a mut [T],
    /// For [`Recurrence::Separate`]: `h_{t-1} W_hh^T + b_hh`, `rows × G·H`; empty otherwise.
    pub hidden_gates: &'a [T],
    /// The state before the step.
    pub prev: &'a [T],
    /// Out: the state after the step (every element must be written).
    pub next: &'a mut [T],
    /// Out: values kept for the backward beside `gates` (`rows × S·H`).
    pub saved: &'a mut [T],
}

/// One backward step of a cell on a block of batch rows (see [`Forward`] for the layouts).
pub struct Backward<'a, T> {
    /// The hidden size `H`.
    pub hidden: usize,
    /// The number of rows in this block.
    pub rows: usize,
    /// The gate buffer as the forward step left it.
    pub gates: &'a [T],
    /// The values the forward step saved.
    pub saved: &'a [T],
    /// The state before the step.
    pub prev: &'a [T],
    /// The state after the step.
    pub next: &'a [T],
    /// In: `dL/d next` (the output's gradient already added to the `h` part). Out: the part
    /// of `dL/d prev` that does not pass through `W_hh` (zeros where there is none); the
    /// engine adds `d(hidden gates) · W_hh` to the `h` part afterwards.
    pub d_state: &'a mut [T],
    /// Out: `dL/d` of the input-side pre-activations (`rows × G·H`; every element written).
    /// For [`Recurrence::Joined`] this is also the hidden side's gradient.
    pub d_gates: &'a mut [T],
    /// Out, for [`Recurrence::Separate`] only: `dL/d hidden_gates` (`rows × G·H`); empty
    /// otherwise.
    pub d_hidden_gates: &'a mut [T],
}

/// One step of a cell in `Var` ops (see [`Cell::forward_composed`]): `(rows, width)` vars.
pub struct ForwardVars<'a, 't, T: Float> {
    /// The hidden size `H`.
    pub hidden: usize,
    /// The gate pre-activations `(rows, G·H)`, as [`Forward::gates`] comes in.
    pub gates: &'a Var<'t, T>,
    /// For [`Recurrence::Separate`]: `h_{t-1} W_hh^T + b_hh`, `(rows, G·H)`.
    pub hidden_gates: Option<&'a Var<'t, T>>,
    /// The state parts before the step, `(rows, H)` each.
    pub prev: &'a [Var<'t, T>],
}

/// A recurrent cell's math, and nothing else: the engine ([`Recurrent`](super::Recurrent))
/// owns the input projection, the per-step recurrent product, the loops over steps and
/// rows, threads, layers, directions, dropout, variable lengths, the tape node, the weight
/// and bias gradients and the one-step sampler.
///
/// A cell with `G` gates, `P` state parts and `S` saved blocks has, per layer and direction,
/// `weight_ih (G·H, in)`, `weight_hh (G·H, H)` (unless [`Recurrence::None`]) and, with
/// biases, `bias_ih (G·H)` and `bias_hh (G·H)` (unless [`Recurrence::None`]).
///
/// [`Cell::forward`] and [`Cell::backward`] work on plain slices (see [`Forward`],
/// [`Backward`]); [`Cell::forward_composed`] is the same math in `Var` ops — the reference
/// the fused path is tested against ([`forward_composed`](super::forward_composed)).
///
/// ```
/// use recur_nn::recurrent::{Backward, Cell, Forward, ForwardVars, Recurrence, Recurrent, RecurrentConfig};
/// use recur_nn::{Result, Var};
/// use recur_tensor::Float;
///
/// /// h_t = relu(x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh): a ReLU RNN, written by hand.
/// #[derive(Clone, Debug)]
/// struct MyRelu;
///
/// impl Cell for MyRelu {
///     const NAME: &'static str = "MyRelu";
///     const GATES: usize = 1;
///     const RECURRENCE: Recurrence = Recurrence::Joined;
///     #[inline(always)]
///     fn forward<T: Float>(&self, s: Forward<'_, T>) {
///         for (h, &z) in s.next.iter_mut().zip(s.gates.iter()) {
///             *h = if z > T::ZERO { z } else { T::ZERO };
///         }
///     }
///     #[inline(always)]
///     fn backward<T: Float>(&self, s: Backward<'_, T>) {
///         for ((dz, dh), &h) in s.d_gates.iter_mut().zip(s.d_state.iter_mut()).zip(s.next) {
///             *dz = if h > T::ZERO { *dh } else { T::ZERO };
///             *dh = T::ZERO; // no path to h_{t-1} but through W_hh
///         }
///     }
///     fn forward_composed<'t, T: Float>(&self, s: ForwardVars<'_, 't, T>) -> Result<Vec<Var<'t, T>>> {
///         Ok(vec![s.gates.relu()])
///     }
/// }
///
/// let rnn = Recurrent::<MyRelu, f64>::new(MyRelu, RecurrentConfig::new(3, 4), &mut recur_nn::seeded_rng(0))?;
/// let (out, state) = rnn.forward_tensor(&recur_tensor::Tensor::ones(&[5, 2, 3]), None)?;
/// assert_eq!((out.dims(), state[0].dims()), (&[5, 2, 4][..], &[1, 2, 4][..]));
/// assert!(out.to_vec().iter().all(|&v| v >= 0.0));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub trait Cell: Clone + Send + Sync + 'static {
    /// The name in messages and the printed form (`"LSTM"`).
    const NAME: &'static str;
    /// `G`: gate blocks of width `H` in the input projection (RNN 1, GRU 3, LSTM 4).
    const GATES: usize;
    /// How `h_{t-1}` enters the gates.
    const RECURRENCE: Recurrence;
    /// `P`: state parts carried from step to step, `h` first (LSTM: `h`, `c`).
    const STATE_PARTS: usize = 1;
    /// `S`: blocks of width `H` per row that the forward keeps for the backward beside the
    /// gate buffer (LSTM: `tanh(c_t)`).
    const SAVED: usize = 0;
    /// Whether the engine may project the state's `h` part (PyTorch's LSTM `proj_size`:
    /// `h_t = W_hr m_t`, with `m_t` what [`Cell::forward`] writes as `h`). Only for cells
    /// whose step never reads the `h` part of [`Forward::prev`]: with a projection, `h_{t-1}`
    /// reaches the gates only through `W_hh`.
    const PROJECTABLE: bool = false;
    /// Extra words for this cell's printed form (`nonlinearity=relu`), if any.
    fn describe(&self) -> Option<String> {
        None
    }
    /// One step forward (see [`Forward`]).
    ///
    /// The engine runs it through [`vectorized`](recur_tensor::vmath::vectorized), so plain
    /// element-wise loops here are compiled for the CPU's vector width (AVX-512, AVX2) with
    /// the same results as the portable path. Mark the method `#[inline(always)]`: only code
    /// inlined into that call is compiled for the wider instruction set.
    fn forward<T: Float>(&self, s: Forward<'_, T>);
    /// One step backward (see [`Backward`]); vectorised like [`Cell::forward`].
    fn backward<T: Float>(&self, s: Backward<'_, T>);
    /// The same step in `Var` ops (see [`ForwardVars`]); returns the new state parts.
    ///
    /// # Errors
    /// When an op fails (it should not for the engine's shapes).
    fn forward_composed<'t, T: Float>(&self, s: ForwardVars<'_, 't, T>) -> Result<Vec<Var<'t, T>>>;
}

/// `σ` of every element, in place, for a cell's gates: `(1 + tanh(x / 2)) / 2`, one SIMD
/// `tanh` pass, for `f32`; the exact form for `f64` (what references and gradient checks run
/// in).
///
/// ```
/// let mut v = [0.0f64, 2.0, -2.0];
/// recur_nn::recurrent::sigmoid_in_place(&mut v);
/// assert!((v[0] - 0.5).abs() < 1e-15 && (v[1] + v[2] - 1.0).abs() < 1e-15);
/// ```
pub fn sigmoid_in_place<T: Float>(v: &mut [T]) {
    if T::DTYPE == "float64" {
        for x in v {
            *x = recur_tensor::sigmoid(*x);
        }
        return;
    }
    let half = T::from_f64(0.5);
    for x in v.iter_mut() {
        *x *= half;
    }
    T::tanh_slice(v);
    for x in v.iter_mut() {
        *x = (*x + T::ONE) * half;
    }
}
