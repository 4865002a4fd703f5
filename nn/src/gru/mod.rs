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

mod math;

pub use math::GruMath;

use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, Tensor};

crate::recurrent::wrapper::gated_builtin!(
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
    ;
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
    /// let (output, h_n) = gru.forward(&x, Some(&h0))?;
    /// assert_eq!((output.dims(), h_n.dims()), (&[1, 3, 6][..], &[1, 3, 6][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    ;
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
    /// let h1 = cell.forward(&tape.constant(Tensor::ones(&[3])), None)?;   // unbatched
    /// assert_eq!(h1.dims(), &[4]);
    /// let e = cell.forward(&tape.constant(Tensor::ones(&[2, 5])), None).unwrap_err();
    /// assert_eq!(e.to_string(), "GRUCell(3, 4, bias=False): input has inconsistent input_size: got 5 expected 3");
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    ;
    GruConfig, Gru, GruCell, GruMath, "GRU", "GRUCell", one
);
