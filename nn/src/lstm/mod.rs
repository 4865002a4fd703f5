//! `LSTM` and `LSTMCell`, exactly as `torch.nn.LSTM` / `torch.nn.LSTMCell` (without
//! `proj_size`): the cell's math ([`LstmMath`]) on the [recurrent engine](crate::recurrent).
//!
//! For layer `k`, direction `d`, step `t`, with the gates in PyTorch's order `i, f, g, o`
//! (rows `0..H`, `H..2H`, `2H..3H`, `3H..4H` of `W_ih (4H, in)`, `W_hh (4H, H)` and the
//! biases):
//!
//! ```text
//! i = σ(x W_ii^T + b_ii + h W_hi^T + b_hi)      f = σ(x W_if^T + b_if + h W_hf^T + b_hf)
//! g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)   o = σ(x W_io^T + b_io + h W_ho^T + b_ho)
//! c' = f ⊙ c + i ⊙ g                             h' = o ⊙ tanh(c')
//! ```
//!
//! The cell state `c` is what makes long-range learning possible: its gradient flows back
//! through `dc_{t-1} = dc_t ⊙ f`, an elementwise product with no weight matrix and no squashing
//! derivative in the way, so with `f ≈ 1` it neither vanishes nor explodes.

mod math;

pub use math::LstmMath;

use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, Tensor};

crate::recurrent::wrapper::gated_builtin!(
    /// The settings of an [`Lstm`]; PyTorch's constructor arguments, with its defaults
    /// (`proj_size` is not supported).
    ///
    /// ```
    /// use recur_nn::LstmConfig;
    /// let c = LstmConfig::new(3, 4).num_layers(2).bias(false).batch_first(true).dropout(0.5).bidirectional(true);
    /// assert_eq!(c.to_string(), "LSTM(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)");
    /// assert_eq!(LstmConfig::new(3, 4).to_string(), "LSTM(3, 4)");
    /// assert_eq!(c.directions(), 2);
    /// let e = LstmConfig::new(3, 4).dropout(1.5).validate().unwrap_err();
    /// assert!(e.to_string().starts_with("dropout should be a number in range [0, 1]"));
    /// ```
    ;
    /// A multi-layer long short-term memory network, `torch.nn.LSTM` to the letter (see the
    /// [module docs](crate::lstm) for the equations).
    ///
    /// Parameters, for layer `k` and direction suffix `""` / `"_reverse"`: `weight_ih_l{k}`
    /// `(4H, in_k)`, `weight_hh_l{k}` `(4H, H)`, `bias_ih_l{k}` and `bias_hh_l{k}` `(4H)`, all from
    /// U(-1/sqrt(H), 1/sqrt(H)). The training path records one fused node per layer and direction
    /// (the input projection for all steps as one GEMM, one GEMM per step for the recurrence, and
    /// a BPTT backward whose weight, input and bias gradients are single GEMMs over all steps).
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig, Module, Tape};
    /// use recur_tensor::Tensor;
    /// let lstm = Lstm::<f32>::new(LstmConfig::new(5, 6), &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(lstm.num_parameters(), 4 * (6 * 5 + 6 * 6 + 6 + 6)); // 4x an RNN(5, 6)
    /// let tape = Tape::new();
    /// let x = tape.constant(Tensor::ones(&[1, 3, 5]));
    /// let h0 = tape.constant(Tensor::zeros(&[1, 3, 6]));
    /// let c0 = tape.constant(Tensor::zeros(&[1, 3, 6]));
    /// let (output, (h_n, c_n)) = lstm.forward(&x, Some((&h0, &c0)))?;
    /// assert_eq!((output.dims(), h_n.dims(), c_n.dims()), (&[1, 3, 6][..], &[1, 3, 6][..], &[1, 3, 6][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    ;
    /// `torch.nn.LSTMCell(input_size, hidden_size, bias)`: one step,
    /// `(h', c') = cell(x, (h, c))` with the gates `i, f, g, o` of [`Lstm`].
    ///
    /// ```
    /// use recur_nn::{LstmCell, Module, Tape};
    /// use recur_tensor::Tensor;
    /// let cell = LstmCell::<f64>::new(3, 4, true, &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(cell.to_string(), "LSTMCell(3, 4)");
    /// assert_eq!(cell.named_parameters()[0].1.value().dims(), &[16, 3]); // weight_ih: (4H, in)
    /// let tape = Tape::new();
    /// let (h1, c1) = cell.forward(&tape.constant(Tensor::ones(&[2, 3])), None)?;
    /// assert_eq!((h1.dims(), c1.dims()), (&[2, 4][..], &[2, 4][..]));
    /// let (h, c) = (tape.constant(Tensor::zeros(&[3, 4])), tape.constant(Tensor::zeros(&[3, 4])));
    /// let e = cell.forward(&tape.constant(Tensor::ones(&[2, 3])), Some((&h, &c))).unwrap_err();
    /// assert_eq!(e.to_string(), "LSTMCell(3, 4): Input batch size 2 doesn't match hidden0 batch size 3");
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    ;
    LstmConfig, Lstm, LstmCell, LstmMath, "LSTM", "LSTMCell", two
);

/// What [`Lstm::forward`] returns: `(output, (h_n, c_n))`, as in PyTorch.
///
/// ```
/// use recur_nn::{Lstm, LstmConfig, Tape, lstm::LstmOutput};
/// use recur_tensor::Tensor;
/// let lstm = Lstm::<f64>::new(LstmConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let (output, (h_n, c_n)): LstmOutput<'_, f64> = lstm.forward(&tape.constant(Tensor::ones(&[4, 2])), None)?;
/// assert_eq!((output.dims(), h_n.dims(), c_n.dims()), (&[4, 3][..], &[1, 3][..], &[1, 3][..]));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub type LstmOutput<'t, T> = (Var<'t, T>, (Var<'t, T>, Var<'t, T>));
