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
mod fused;

use crate::error::{NnError, Result};
use crate::lstm::common::{
    DropoutStream, LayerParams, check_cell, check_forward, check_lengths, check_params,
    gated_config, named, named_mut, run_stack,
};
use crate::lstm::{cell_named, cell_named_mut};
use crate::module::Module;
use fused::GruLayer;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, Tensor, sigmoid};
use std::fmt;

gated_config!(
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
pub struct Gru<T: Float = f32> {
    config: GruConfig,
    cells: Vec<LayerParams<T>>,
    training: bool,
    dropout: DropoutStream,
}

impl<T: Float> fmt::Debug for Gru<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.config)
    }
}

impl<T: Float> Gru<T> {
    /// A new GRU with PyTorch's initialisation: every parameter, biases included, from
    /// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), drawn in parameter order from `rng`.
    ///
    /// # Errors
    /// When the config is invalid ([`GruConfig::validate`]).
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig, Module};
    /// let gru = Gru::<f64>::new(GruConfig::new(3, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// let p = gru.named_parameters();
    /// assert_eq!((p[4].0.as_str(), p[4].1.value().dims()), ("weight_ih_l1", &[12, 4][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn new<R: rand::Rng + ?Sized>(config: GruConfig, rng: &mut R) -> Result<Self> {
        config.validate()?;
        let cells = LayerParams::stack(3, &config.geometry(), rng)?;
        Ok(Gru {
            config,
            cells,
            training: true,
            dropout: DropoutStream::new(rng),
        })
    }

    /// The settings.
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig};
    /// let gru = Gru::<f32>::new(GruConfig::new(3, 4).bidirectional(true), &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(gru.config().directions(), 2);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn config(&self) -> &GruConfig {
        &self.config
    }

    /// How many times dropout masks have been drawn (see
    /// [`Rnn::dropout_calls`](crate::Rnn::dropout_calls)): one per layer boundary per training
    /// forward.
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig, Tape};
    /// use recur_tensor::Tensor;
    /// let gru = Gru::<f32>::new(GruConfig::new(3, 4).num_layers(2).dropout(0.2), &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// gru.forward(&tape, &tape.constant(Tensor::ones(&[2, 1, 3])), None)?;
    /// assert_eq!(gru.dropout_calls(), 1);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn dropout_calls(&self) -> u64 {
        self.dropout.calls.get()
    }
    /// Restores the dropout draw counter (from a checkpoint), so a resumed run draws the same
    /// masks as an uninterrupted one.
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig};
    /// let gru = Gru::<f32>::new(GruConfig::new(3, 4), &mut recur_nn::seeded_rng(0))?;
    /// gru.set_dropout_calls(3);
    /// assert_eq!(gru.dropout_calls(), 3);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn set_dropout_calls(&self, n: u64) {
        self.dropout.calls.set(n);
    }

    /// The training-path forward: `input` is `(L, N, in)` (`(N, L, in)` with `batch_first`,
    /// `(L, in)` unbatched), `h0` is `(layers * D, N, H)` (`(layers * D, H)` unbatched), zeros
    /// if `None`. Returns `(output, h_n)` with PyTorch's shapes. Dropout applies between
    /// layers in train mode.
    ///
    /// # Errors
    /// PyTorch's messages, in its order: `GRU: Expected input to be 2D or 3D, got 4D
    /// instead`, `For batched 3-D input, hx should also be 3-D but got 2-D tensor`,
    /// `input.size(-1) must be equal to input_size. Expected 3, got 7`, `Expected hidden size
    /// (4, 2, 4), got [2, 2, 4]`, `Expected sequence length to be larger than 0 in RNN`.
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig, Tape};
    /// use recur_tensor::Tensor;
    /// let gru = Gru::<f64>::new(GruConfig::new(3, 4), &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// let e = gru.forward(&tape, &tape.constant(Tensor::zeros(&[1, 2, 3, 4])), None).unwrap_err();
    /// assert_eq!(e.to_string(), "GRU: Expected input to be 2D or 3D, got 4D instead");
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        self.forward_impl(tape, input, h0, None, self.training, &self.param_vars(tape))
    }

    /// Forward over a padded batch of variable-length sequences (what PyTorch does with a
    /// `PackedSequence`): item `b` runs only over its first `lengths[b]` steps; `h_n` holds
    /// each item's state at its own last valid step; the reverse direction starts at each
    /// item's last valid element; padded output positions are zero.
    ///
    /// # Errors
    /// As [`Gru::forward`], plus PyTorch's `Length of all samples has to be greater than 0
    /// ...`, a length longer than the sequence, or a count of lengths that is not the batch
    /// size.
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig, Tape};
    /// use recur_tensor::Tensor;
    /// let gru = Gru::<f64>::new(GruConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
    /// let x = Tensor::uniform(&[4, 2, 2], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    /// let tape = Tape::new();
    /// let (_, h_n) = gru.forward_padded(&tape, &tape.constant(x.clone()), &[4, 2], None)?;
    /// let alone = x.narrow(0, 0, 2)?.narrow(1, 1, 1)?;
    /// let (_, h1) = gru.forward(&tape, &tape.constant(alone), None)?;
    /// assert!(h_n.value().select(1, 1)?.sub(&h1.value().select(1, 0)?)?.abs().max_all()? < 1e-15);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward_padded<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        lengths: &[usize],
        h0: Option<&Var<'t, T>>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        self.forward_impl(
            tape,
            input,
            h0,
            Some(lengths),
            self.training,
            &self.param_vars(tape),
        )
    }

    /// The parameters of this GRU registered on `tape`, in `named_parameters` order (the
    /// `params` of [`Gru::forward_with_params`]).
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig, Tape};
    /// let gru = Gru::<f32>::new(GruConfig::new(3, 4).bias(false), &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// let p = gru.param_vars(&tape);
    /// assert_eq!((p.len(), p[1].dims()), (2, &[12, 4][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn param_vars<'t>(&self, tape: &'t Tape<T>) -> Vec<Var<'t, T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| tape.param(p))
            .collect()
    }

    /// [`Gru::forward`] (or [`Gru::forward_padded`] with `lengths`) with the parameters given
    /// as vars (in `named_parameters` order): the functional form, used to gradient-check with
    /// respect to the weights.
    ///
    /// # Errors
    /// As [`Gru::forward`], or when `params` does not match the module's parameter shapes.
    ///
    /// ```
    /// use recur_autograd::{gradcheck, GradcheckOptions};
    /// use recur_nn::{Gru, GruConfig, Module};
    /// use recur_tensor::Tensor;
    /// let gru = Gru::<f64>::new(GruConfig::new(2, 2), &mut recur_nn::seeded_rng(0))?;
    /// let mut inputs = vec![Tensor::uniform(&[3, 2], -1.0, 1.0, &mut recur_nn::seeded_rng(1))];
    /// inputs.extend(gru.named_parameters().iter().map(|(_, p)| p.value().clone()));
    /// gradcheck(|tape, v| {
    ///     let (out, _) = gru.forward_with_params(tape, &v[0], None, None, &v[1..])?;
    ///     out.sum_all()
    /// }, &inputs, &GradcheckOptions::default())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward_with_params<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
        lengths: Option<&[usize]>,
        params: &[Var<'t, T>],
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        check_params("GRU", &self.named_parameters(), params)?;
        self.forward_impl(tape, input, h0, lengths, self.training, params)
    }

    fn forward_impl<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
        lengths: Option<&[usize]>,
        training: bool,
        params: &[Var<'t, T>],
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let g = self.config.geometry();
        let shapes: Vec<&[usize]> = h0.map(|h| h.dims()).into_iter().collect();
        let n = check_forward(&g, input.dims(), &shapes)?;
        if let Some(l) = lengths {
            check_lengths(l, n.steps, n.batch)?;
        }
        let (out, mut states) = run_stack(
            &g,
            n,
            tape,
            input,
            &[h0],
            params,
            training.then_some(&self.dropout),
            |_, dir, x, s0, p| {
                let mut ins = vec![x.clone(), s0[0].clone()];
                ins.extend_from_slice(p);
                let refs: Vec<&Var<'t, T>> = ins.iter().collect();
                let op = GruLayer::new(dir == 1, g.bias, lengths.map(<[usize]>::to_vec));
                let mut res = tape.custom(op, &refs)?;
                let h_n = res.pop().expect("two outputs");
                let out = res.pop().expect("two outputs");
                Ok((out, vec![h_n]))
            },
        )?;
        Ok((out, states.pop().expect("one state")))
    }

    /// No-tape inference on plain tensors (eval semantics: no dropout). Same shapes and errors
    /// as [`Gru::forward`].
    ///
    /// # Errors
    /// As [`Gru::forward`].
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig};
    /// use recur_tensor::Tensor;
    /// let gru = Gru::<f64>::new(GruConfig::new(3, 4).bidirectional(true), &mut recur_nn::seeded_rng(1))?;
    /// let (out, h_n) = gru.forward_tensor(&Tensor::ones(&[5, 3]), None)?;   // unbatched
    /// assert_eq!((out.dims(), h_n.dims()), (&[5, 8][..], &[2, 4][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward_tensor(
        &self,
        input: &Tensor<T>,
        h0: Option<&Tensor<T>>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let tape = Tape::new();
        let x = tape.constant(input.clone());
        let h = h0.map(|h| tape.constant(h.clone()));
        let (out, h_n) =
            self.forward_impl(&tape, &x, h.as_ref(), None, false, &self.param_vars(&tape))?;
        Ok((out.value().clone(), h_n.value().clone()))
    }

    /// A zero hidden state for `batch` items: `(layers * D, batch, H)`.
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig};
    /// let gru = Gru::<f32>::new(GruConfig::new(3, 4).num_layers(3), &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(gru.zero_state(2).dims(), &[3, 2, 4]);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn zero_state(&self, batch: usize) -> Tensor<T> {
        let c = &self.config;
        Tensor::zeros(&[c.num_layers * c.directions(), batch, c.hidden_size])
    }

    /// One time step of every layer, for generation: `x` is `(batch, input_size)`, `state` is
    /// `(layers, batch, H)` and is updated in place; returns the last layer's new state
    /// `(batch, H)`. Unidirectional models only.
    ///
    /// # Errors
    /// When the model is bidirectional or the shapes do not fit.
    ///
    /// ```
    /// use recur_nn::{Gru, GruConfig};
    /// use recur_tensor::Tensor;
    /// let gru = Gru::<f64>::new(GruConfig::new(3, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// let xs = Tensor::uniform(&[6, 1, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    /// let (out, _) = gru.forward_tensor(&xs, None)?;
    /// let mut state = gru.zero_state(1);
    /// for t in 0..6 {
    ///     let y = gru.step(&xs.select(0, t)?, &mut state)?;
    ///     assert!(y.sub(&out.select(0, t)?)?.abs().max_all()? < 1e-12);
    /// }
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn step(&self, x: &Tensor<T>, state: &mut Tensor<T>) -> Result<Tensor<T>> {
        let c = &self.config;
        if c.bidirectional {
            return Err(NnError::Input(
                "GRU.step: a bidirectional GRU cannot run one step at a time".into(),
            ));
        }
        if x.rank() != 2 || x.dims()[1] != c.input_size {
            return Err(NnError::Input(format!(
                "GRU.step: expected input (batch, {}), got {}",
                c.input_size,
                x.shape()
            )));
        }
        let batch = x.dims()[0];
        let expected = [c.num_layers, batch, c.hidden_size];
        if state.dims() != expected {
            return Err(NnError::Input(format!(
                "GRU.step: Expected hidden size ({}, {}, {}), got {}",
                expected[0],
                expected[1],
                expected[2],
                state.shape()
            )));
        }
        let mut inp = x.clone();
        let mut new_state = Vec::with_capacity(state.numel());
        for (layer, cell) in self.cells.iter().enumerate() {
            let h = step_tensor(&inp, &state.select(0usize, layer)?, cell)?;
            new_state.extend_from_slice(&h);
            inp = Tensor::from_vec(h, &[batch, c.hidden_size])?;
        }
        *state = Tensor::from_vec(new_state, &expected)?;
        Ok(inp)
    }
}

/// One GRU step on plain tensors: `x (B, in)`, `h (B, H)`; returns the new `h` as a flat
/// `B * H` vector.
fn step_tensor<T: Float>(x: &Tensor<T>, h: &Tensor<T>, p: &LayerParams<T>) -> Result<Vec<T>> {
    let mut gi = x.matmul(&p.w_ih.value().t()?)?;
    let mut gh = h.matmul(&p.w_hh.value().t()?)?;
    if let (Some(b_ih), Some(b_hh)) = (&p.b_ih, &p.b_hh) {
        gi = gi.add(b_ih.value())?;
        gh = gh.add(b_hh.value())?;
    }
    let hidden = h.dims()[1];
    let (gi, gh, hv) = (gi.into_vec(), gh.into_vec(), h.to_vec());
    let mut h1 = vec![T::ZERO; hv.len()];
    for b in 0..hv.len() / hidden.max(1) {
        let (pi, ph) = (&gi[b * 3 * hidden..], &gh[b * 3 * hidden..]);
        for j in 0..hidden {
            let r = sigmoid(pi[j] + ph[j]);
            let z = sigmoid(pi[hidden + j] + ph[hidden + j]);
            let n = (pi[2 * hidden + j] + r * ph[2 * hidden + j]).tanh();
            let k = b * hidden + j;
            h1[k] = n + z * (hv[k] - n);
        }
    }
    Ok(h1)
}

impl<T: Float> Module<T> for Gru<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        named(&self.cells, self.config.directions())
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        named_mut(&mut self.cells, self.config.directions())
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

/// One GRU step from primitive ops (`matmul`, `add`, `narrow`, `sigmoid`, `tanh`, `mul`,
/// `sub`): `x (B, in)`, `h (B, H)`, `w_ih (3H, in)`, `w_hh (3H, H)` as stored, and the biases
/// if any. Returns `h'`. The composed reference and [`GruCell`] are built on it.
pub(crate) fn step_composed<'t, T: Float>(
    x: &Var<'t, T>,
    h: &Var<'t, T>,
    w_ih: &Var<'t, T>,
    w_hh: &Var<'t, T>,
    bias: Option<(&Var<'t, T>, &Var<'t, T>)>,
) -> Result<Var<'t, T>> {
    let hidden = h.dims()[1];
    let mut gi = x.matmul(&w_ih.t()?)?;
    let mut gh = h.matmul(&w_hh.t()?)?;
    if let Some((b_ih, b_hh)) = bias {
        gi = gi.add(b_ih)?;
        gh = gh.add(b_hh)?;
    }
    let part = |v: &Var<'t, T>, k: usize| v.narrow(1usize, k * hidden, hidden);
    let r = part(&gi, 0)?.add(&part(&gh, 0)?)?.sigmoid()?;
    let z = part(&gi, 1)?.add(&part(&gh, 1)?)?.sigmoid()?;
    let n = part(&gi, 2)?.add(&r.mul(&part(&gh, 2)?)?)?.tanh()?;
    Ok(n.add(&z.mul(&h.sub(&n)?)?)?)
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
    input_size: usize,
    hidden_size: usize,
    params: LayerParams<T>,
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
            input_size,
            hidden_size,
            params: LayerParams::init(3, input_size, hidden_size, bias, rng)?,
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
        let shapes: Vec<&[usize]> = hx.map(|h| h.dims()).into_iter().collect();
        let (batched, batch) = check_cell(
            "GRUCell",
            self.input_size,
            self.hidden_size,
            input.dims(),
            &shapes,
        )?;
        let lift = |v: &Var<'t, T>| -> Result<Var<'t, T>> {
            Ok(if batched {
                v.clone()
            } else {
                v.unsqueeze(0usize)?
            })
        };
        let x = lift(input)?;
        let h = match hx {
            Some(h) => lift(h)?,
            None => tape.constant(Tensor::zeros(&[batch, self.hidden_size])),
        };
        let p = &self.params;
        let b = match (&p.b_ih, &p.b_hh) {
            (Some(bi), Some(bh)) => Some((tape.param(bi), tape.param(bh))),
            _ => None,
        };
        let h1 = step_composed(
            &x,
            &h,
            &tape.param(&p.w_ih),
            &tape.param(&p.w_hh),
            b.as_ref().map(|(a, b)| (a, b)),
        )?;
        Ok(if batched { h1 } else { h1.squeeze(0usize)? })
    }
}

impl<T: Float> fmt::Display for GruCell<T> {
    /// PyTorch's printed form: `GRUCell(3, 4, bias=False)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GRUCell({}, {}", self.input_size, self.hidden_size)?;
        if self.params.b_ih.is_none() {
            f.write_str(", bias=False")?;
        }
        f.write_str(")")
    }
}

impl<T: Float> Module<T> for GruCell<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        cell_named(&self.params)
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        cell_named_mut(&mut self.params)
    }
}
