//! `GRU` and `GRUCell`, exactly as `torch.nn.GRU` / `torch.nn.GRUCell`.
//!
//! For layer `k`, direction `d`, step `t`, with the gates in PyTorch's order `r, z, n` (rows
//! `0..H`, `H..2H`, `2H..3H` of `W_ih (3H, in)`, `W_hh (3H, H)` and the biases):
//!
//! ```text
//! r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr)
//! z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)
//! n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn))
//! h' = (1 - z) ⊙ n + z ⊙ h
//! ```
//!
//! Note where `r` goes: it multiplies `(h W_hn^T + b_hn)`, bias included, as in PyTorch (and
//! cuDNN), not `h` before the product as in the original paper. With `z ≈ 1` the state is
//! copied forward, and its gradient flows back through `dh_{t-1} = dh_t ⊙ z + ...` without a
//! weight matrix or a squashing derivative in the way.

pub mod composed;
mod math;

pub use math::GruMath;

use crate::error::Result;
use crate::module::Module;
use crate::recurrent::single::SingleStep;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, Tensor};
use std::fmt;

crate::recurrent::config::module_config!(
    /// The settings of a [`Gru`]; PyTorch's constructor arguments, with its defaults.
    ///
    /// ```
    /// use recur_nn::GruConfig;
    /// let c = GruConfig::new(3, 4).num_layers(2).bias(false).batch_first(true).dropout(0.5).bidirectional(true);
    /// assert_eq!(c.to_string(), "GRU(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)");
    /// assert_eq!(GruConfig::new(3, 4).to_string(), "GRU(3, 4)");
    /// assert_eq!(c.directions(), 2);
    /// let e = GruConfig::new(3, 4).num_layers(0).validate().unwrap_err();
    /// assert_eq!(e.to_string(), "num_layers must be greater than zero");
    /// ```
    GruConfig,
    "GRU"
);

crate::recurrent::wrapper::recurrent_module!(
    /// A multi-layer gated recurrent unit network, `torch.nn.GRU` to the letter (see the
    /// [module docs](crate::gru) for the equations).
    ///
    /// Parameters, for layer `k` and direction suffix `""` / `"_reverse"`: `weight_ih_l{k}`
    /// `(3H, in_k)`, `weight_hh_l{k}` `(3H, H)`, `bias_ih_l{k}` and `bias_hh_l{k}` `(3H)`, all from
    /// U(-1/sqrt(H), 1/sqrt(H)). The training path records one fused node per layer and direction
    /// (the input projection for all steps as one GEMM, one GEMM per step for the recurrence, and
    /// a BPTT backward whose weight, input and bias gradients are single GEMMs over all steps).
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig, Module, Tape};
    /// use recur_tensor::Tensor;
    /// let gru = Gru::<f32>::new(GruConfig::new(5, 6), &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(gru.num_parameters(), 3 * (6 * 5 + 6 * 6 + 6 + 6)); // 3x an RNN(5, 6)
    /// let tape = Tape::new();
    /// let x = tape.constant(Tensor::ones(&[1, 3, 5]));
    /// let h0 = tape.constant(Tensor::zeros(&[1, 3, 6]));
    /// let (output, h_n) = gru.forward(&tape, &x, Some(&h0))?;
    /// assert_eq!((output.dims(), h_n.dims()), (&[1, 3, 6][..], &[1, 3, 6][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    Gru,
    GruConfig,
    GruMath,
    "GRU",
    one
);

impl From<&GruConfig> for GruMath {
    fn from(_: &GruConfig) -> Self {
        GruMath
    }
}

/// `torch.nn.GRUCell(input_size, hidden_size, bias)`: one step `h' = cell(x, h)` with the
/// gates `r, z, n` of [`Gru`].
///
/// ```
/// use recur_nn::{GruCell, Module, Tape};
/// use recur_tensor::Tensor;
/// let cell = GruCell::<f64>::new(3, 4, false, &mut recur_nn::seeded_rng(0))?;
/// assert_eq!(cell.to_string(), "GRUCell(3, 4, bias=False)");
/// assert_eq!(cell.num_parameters(), 12 * 3 + 12 * 4);
/// let tape = Tape::new();
/// let h1 = cell.forward(&tape, &tape.constant(Tensor::ones(&[3])), None)?;   // unbatched
/// assert_eq!(h1.dims(), &[4]);
/// let e = cell.forward(&tape, &tape.constant(Tensor::ones(&[2, 5])), None).unwrap_err();
/// assert_eq!(e.to_string(), "input has inconsistent input_size: got 5 expected 3");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct GruCell<T: Float = f32> {
    step: SingleStep<GruMath, T>,
}

impl<T: Float> GruCell<T> {
    /// A cell with PyTorch's init: every parameter from U(-1/sqrt(H), 1/sqrt(H)), in the
    /// order `weight_ih (3H, in)`, `weight_hh (3H, H)`, `bias_ih (3H)`, `bias_hh (3H)`.
    /// PyTorch accepts zero sizes here, and so does this.
    ///
    /// # Errors
    /// Never; fallible for symmetry with the other constructors.
    ///
    /// ```
    /// use recur_nn::{GruCell, Module};
    /// let cell = GruCell::<f32>::new(3, 4, true, &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(cell.num_parameters(), 12 * 3 + 12 * 4 + 12 + 12);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn new<R: rand::Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        bias: bool,
        rng: &mut R,
    ) -> Result<Self> {
        Ok(GruCell {
            step: SingleStep::new(GruMath, input_size, hidden_size, bias, rng)?,
        })
    }

    /// One step on the tape. `input` is `(N, in)` or `(in)`; `hx` is `(N, H)` or `(H)`, zeros
    /// if `None`; the result has the input's batchedness.
    ///
    /// # Errors
    /// PyTorch's messages in its order: `GRUCell: Expected input to be 1D or 2D, got 3D
    /// instead`, `GRUCell: Expected hidden to be 1D or 2D, got 3D instead`, `input has
    /// inconsistent input_size: got 5 expected 3`, `Expected 2D hidden0 (batch x
    /// hidden_size), but got 1D tensor`, `Input batch size 2 doesn't match hidden0 batch size
    /// 3`, `hidden0 has inconsistent hidden_size: got 5, expected 4`.
    ///
    /// ```
    /// use recur_nn::{GruCell, Tape};
    /// use recur_tensor::Tensor;
    /// let cell = GruCell::<f64>::new(3, 4, true, &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// let mut h = tape.constant(Tensor::zeros(&[2, 4]));
    /// for t in 0..5 {                                        // unroll over a batch of 2
    ///     h = cell.forward(&tape, &tape.constant(Tensor::full(&[2, 3], t as f64 / 5.0)), Some(&h))?;
    /// }
    /// assert_eq!(h.dims(), &[2, 4]);
    /// let e = cell.forward(&tape, &tape.constant(Tensor::zeros(&[3, 3])), Some(&h)).unwrap_err();
    /// assert_eq!(e.to_string(), "Input batch size 3 doesn't match hidden0 batch size 2");
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        hx: Option<&Var<'t, T>>,
    ) -> Result<Var<'t, T>> {
        let s = hx.as_ref().map(std::slice::from_ref);
        let mut new = self.step.forward("GRUCell", tape, input, s)?;
        Ok(new.pop().expect("one state part"))
    }
}

impl<T: Float> fmt::Display for GruCell<T> {
    /// PyTorch's printed form: `GRUCell(3, 4, bias=False)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.step.fmt_as(f, "GRUCell")
    }
}

impl<T: Float> Module<T> for GruCell<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        self.step.named_parameters()
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.step.named_parameters_mut()
    }
}
