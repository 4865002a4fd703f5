//! `RNN` and `RNNCell`, exactly as `torch.nn.RNN` / `torch.nn.RNNCell`.

mod act;
mod cell;
mod math;

pub use act::Nonlinearity;
pub use cell::RnnCell;
pub use math::RnnMath;

use crate::error::Result;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, Tensor};
use std::fmt;

/// [`Rnn`]'s one-step sampler: the engine's [`Stepper`](crate::recurrent::Stepper) with the
/// RNN's cell.
pub type Stepper<'a, T> = crate::recurrent::Stepper<'a, RnnMath, T>;

/// The settings of an [`Rnn`]; PyTorch's constructor arguments, with its defaults.
///
/// ```
/// use recur_nn::RnnConfig;
/// let c = RnnConfig::new(3, 4).num_layers(2).bias(false).batch_first(true).dropout(0.5).bidirectional(true);
/// assert_eq!(c.to_string(), "RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RnnConfig {
    /// Features per input step.
    pub input_size: usize,
    /// Features of the hidden state.
    pub hidden_size: usize,
    /// Stacked layers (default 1).
    pub num_layers: usize,
    /// `tanh` (default) or `relu`.
    pub nonlinearity: Nonlinearity,
    /// Whether the layers have `b_ih` and `b_hh` (default true).
    pub bias: bool,
    /// Input and output as `(batch, seq, feature)` (default false: `(seq, batch, feature)`).
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last (default 0).
    pub dropout: f64,
    /// A second, reverse direction per layer (default false).
    pub bidirectional: bool,
    /// PyTorch's `proj_size`: accepted, and refused when the RNN is built (only LSTM has
    /// projections).
    pub proj_size: usize,
}

impl RnnConfig {
    /// `RNN(input_size, hidden_size)` with PyTorch's defaults.
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        RnnConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            nonlinearity: Nonlinearity::Tanh,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
            proj_size: 0,
        }
    }
    /// Sets the nonlinearity.
    pub fn nonlinearity(mut self, a: Nonlinearity) -> Self {
        self.nonlinearity = a;
        self
    }

    crate::recurrent::config::config_builders!();

    /// Checks the settings with PyTorch's messages, in PyTorch's order.
    ///
    /// # Errors
    /// `dropout should be a number in range [0, 1] ...`, `input_size must be greater than
    /// zero`, and the same for `hidden_size` and `num_layers`.
    pub fn validate(&self) -> Result<()> {
        self.recurrent().validate()
    }
}

impl fmt::Display for RnnConfig {
    /// PyTorch's printed form, only non-default fields:
    /// `RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra = crate::recurrent::Cell::describe(&RnnMath::new(self.nonlinearity));
        self.recurrent().fmt_as(f, "RNN", extra.as_deref())
    }
}

crate::recurrent::wrapper::recurrent_module!(
    /// A multi-layer Elman RNN, `torch.nn.RNN` to the letter:
    /// `h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`.
    ///
    /// It is the [recurrent engine](crate::recurrent) with the cell [`RnnMath`]: the training
    /// path records one fused node per layer and direction (input projection for all steps as
    /// one GEMM, the recurrence, and a BPTT backward whose weight, input and bias gradients are
    /// single GEMMs over all steps).
    ///
    /// ```
    /// use recur_nn::{Rnn, RnnConfig, Tape};
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let mut rng = recur_nn::seeded_rng(0);
    /// // The lesson's example: RNN(5, 6, 1), input (1, 3, 5), h0 (1, 3, 6).
    /// let rnn = Rnn::<f64>::new(RnnConfig::new(5, 6), &mut rng)?;
    /// let tape = Tape::new();
    /// let x = tape.constant(Tensor::ones(&[1, 3, 5]));
    /// let h0 = tape.constant(Tensor::zeros(&[1, 3, 6]));
    /// let (output, h_n) = rnn.forward(&x, Some(&h0))?;
    /// assert_eq!((output.dims(), h_n.dims()), (&[1, 3, 6][..], &[1, 3, 6][..]));
    /// assert!(output.value().to_vec().iter().all(|v| v.abs() <= 1.0)); // tanh: [-1, 1]
    /// // Characters as token ids: the same as the one-hot input, without building it.
    /// let ids = IndexTensor::from_vec(vec![1, 3, 0], &[3])?;
    /// let (out, _) = rnn.forward_tokens(&tape, &ids, None)?;
    /// let onehot = Tensor::from_vec(
    ///     (0..3).flat_map(|i| (0..5).map(move |c| f64::from([1, 3, 0][i] == c))).collect(),
    ///     &[3, 5],
    /// )?;
    /// let (dense, _) = rnn.forward(&tape.constant(onehot.clone()), None)?;
    /// assert!(out.value().sub(dense.value())?.abs().max_all()? < 1e-14);
    /// // Sampling: one step at a time, allocation-free, the same states.
    /// let mut s = rnn.stepper()?;
    /// for (t, &id) in [1, 3, 0].iter().enumerate() {
    ///     let h = s.step_token(id)?.to_vec();
    ///     let want = dense.value().select(0, t)?.to_vec();
    ///     assert!(h.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-14));
    /// }
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    Rnn,
    RnnConfig,
    RnnMath = |c: &RnnConfig| RnnMath::new(c.nonlinearity),
    "RNN",
    one
);
