//! `LSTM` and `LSTMCell`, exactly as `torch.nn.LSTM` / `torch.nn.LSTMCell` (without
//! `proj_size`).
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

pub(crate) mod common;
pub mod composed;
mod fused;

use crate::error::{NnError, Result};
use crate::module::Module;
use common::{
    DropoutStream, LayerParams, check_cell, check_forward, check_lengths, check_params,
    gated_config, named, named_mut, run_stack,
};
use fused::LstmLayer;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, Tensor, sigmoid};
use std::fmt;

pub(crate) use fused::prev_state_gemm;

gated_config!(
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
    LstmConfig,
    "LSTM"
);

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
/// let (output, (h_n, c_n)) = lstm.forward(&tape, &x, Some((&h0, &c0)))?;
/// assert_eq!((output.dims(), h_n.dims(), c_n.dims()), (&[1, 3, 6][..], &[1, 3, 6][..], &[1, 3, 6][..]));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub struct Lstm<T: Float = f32> {
    config: LstmConfig,
    cells: Vec<LayerParams<T>>,
    training: bool,
    dropout: DropoutStream,
}

impl<T: Float> fmt::Debug for Lstm<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.config)
    }
}

/// What [`Lstm::forward`] returns: `(output, (h_n, c_n))`, as in PyTorch.
///
/// ```
/// use recur_nn::{Lstm, LstmConfig, Tape, lstm::LstmOutput};
/// use recur_tensor::Tensor;
/// let lstm = Lstm::<f64>::new(LstmConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let (output, (h_n, c_n)): LstmOutput<'_, f64> = lstm.forward(&tape, &tape.constant(Tensor::ones(&[4, 2])), None)?;
/// assert_eq!((output.dims(), h_n.dims(), c_n.dims()), (&[4, 3][..], &[1, 3][..], &[1, 3][..]));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub type LstmOutput<'t, T> = (Var<'t, T>, (Var<'t, T>, Var<'t, T>));

impl<T: Float> Lstm<T> {
    /// A new LSTM with PyTorch's initialisation: every parameter, biases included, from
    /// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), drawn in parameter order from `rng`.
    ///
    /// # Errors
    /// When the config is invalid ([`LstmConfig::validate`]).
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig, Module};
    /// let lstm = Lstm::<f64>::new(LstmConfig::new(3, 4).num_layers(2).bidirectional(true), &mut recur_nn::seeded_rng(0))?;
    /// let names: Vec<String> = lstm.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(&names[..5], ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse"]);
    /// let p = lstm.named_parameters();
    /// assert_eq!(p[8].1.value().dims(), &[16, 8]); // weight_ih_l1: (4H, D*H)
    /// assert!(p.iter().all(|(_, p)| p.value().to_vec().iter().all(|v| v.abs() <= 0.5)));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn new<R: rand::Rng + ?Sized>(config: LstmConfig, rng: &mut R) -> Result<Self> {
        config.validate()?;
        let cells = LayerParams::stack(4, &config.geometry(), rng)?;
        Ok(Lstm {
            config,
            cells,
            training: true,
            dropout: DropoutStream::new(rng),
        })
    }

    /// The settings.
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig};
    /// let lstm = Lstm::<f32>::new(LstmConfig::new(3, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(lstm.config().num_layers, 2);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// How many times dropout masks have been drawn (see
    /// [`Rnn::dropout_calls`](crate::Rnn::dropout_calls)): one per layer boundary per training
    /// forward.
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig, Tape};
    /// use recur_tensor::Tensor;
    /// let lstm = Lstm::<f32>::new(LstmConfig::new(3, 4).num_layers(3).dropout(0.2), &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// lstm.forward(&tape, &tape.constant(Tensor::ones(&[2, 1, 3])), None)?;
    /// assert_eq!(lstm.dropout_calls(), 2);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn dropout_calls(&self) -> u64 {
        self.dropout.calls.get()
    }
    /// Restores the dropout draw counter (from a checkpoint), so a resumed run draws the same
    /// masks as an uninterrupted one.
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig};
    /// let lstm = Lstm::<f32>::new(LstmConfig::new(3, 4), &mut recur_nn::seeded_rng(0))?;
    /// lstm.set_dropout_calls(7);
    /// assert_eq!(lstm.dropout_calls(), 7);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn set_dropout_calls(&self, n: u64) {
        self.dropout.calls.set(n);
    }

    /// The training-path forward: `input` is `(L, N, in)` (`(N, L, in)` with `batch_first`,
    /// `(L, in)` unbatched); `hx` is `(h0, c0)`, each `(layers * D, N, H)` (`(layers * D, H)`
    /// unbatched), zeros if `None`. Returns `(output, (h_n, c_n))` with PyTorch's shapes:
    /// output `(L, N, D * H)`, `h_n` and `c_n` `(layers * D, N, H)`. Dropout applies between
    /// layers in train mode.
    ///
    /// # Errors
    /// PyTorch's messages, in its order: `LSTM: Expected input to be 2D or 3D, got 4D
    /// instead`, `For batched 3-D input, hx and cx should also be 3-D but got (2-D, 3-D)
    /// tensors`, `input.size(-1) must be equal to input_size. Expected 3, got 7`,
    /// `Expected hidden[0] size (2, 3, 20), got [2, 1, 20]`, `Expected hidden[1] size ...`,
    /// `Expected sequence length to be larger than 0 in RNN`.
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig, Tape};
    /// use recur_tensor::Tensor;
    /// let lstm = Lstm::<f64>::new(LstmConfig::new(3, 20).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// let x = tape.constant(Tensor::zeros(&[5, 3, 3]));
    /// let (h0, c0) = (tape.constant(Tensor::zeros(&[2, 1, 20])), tape.constant(Tensor::zeros(&[2, 3, 20])));
    /// let e = lstm.forward(&tape, &x, Some((&h0, &c0))).unwrap_err();
    /// assert_eq!(e.to_string(), "Expected hidden[0] size (2, 3, 20), got [2, 1, 20]");
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
    ) -> Result<LstmOutput<'t, T>> {
        self.forward_impl(tape, input, hx, None, self.training, &self.param_vars(tape))
    }

    /// Forward over a padded batch of variable-length sequences (what PyTorch does with a
    /// `PackedSequence`): item `b` runs only over its first `lengths[b]` steps; `h_n` and
    /// `c_n` hold each item's states at its own last valid step; the reverse direction starts
    /// at each item's last valid element; padded output positions are zero. Lengths need not
    /// be sorted.
    ///
    /// # Errors
    /// As [`Lstm::forward`], plus PyTorch's `Length of all samples has to be greater than 0
    /// ...`, a length longer than the sequence, or a count of lengths that is not the batch
    /// size.
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig, Tape};
    /// use recur_tensor::Tensor;
    /// let lstm = Lstm::<f64>::new(LstmConfig::new(2, 3), &mut recur_nn::seeded_rng(0))?;
    /// let x = Tensor::uniform(&[4, 2, 2], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    /// let tape = Tape::new();
    /// let (out, (h_n, _)) = lstm.forward_padded(&tape, &tape.constant(x.clone()), &[4, 2], None)?;
    /// // Item 1 alone, over its 2 valid steps, gives the same final state.
    /// let alone = x.narrow(0, 0, 2)?.narrow(1, 1, 1)?;
    /// let (_, (h1, _)) = lstm.forward(&tape, &tape.constant(alone), None)?;
    /// assert!(h_n.value().select(1, 1)?.sub(&h1.value().select(1, 0)?)?.abs().max_all()? < 1e-15);
    /// assert_eq!(out.value().select(0, 3)?.select(0, 1)?.to_vec(), vec![0.0; 3]); // padding
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward_padded<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        lengths: &[usize],
        hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
    ) -> Result<LstmOutput<'t, T>> {
        self.forward_impl(
            tape,
            input,
            hx,
            Some(lengths),
            self.training,
            &self.param_vars(tape),
        )
    }

    /// The parameters of this LSTM registered on `tape`, in `named_parameters` order (the
    /// `params` of [`Lstm::forward_with_params`]).
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig, Tape};
    /// let lstm = Lstm::<f32>::new(LstmConfig::new(3, 4), &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// let p = lstm.param_vars(&tape);
    /// assert_eq!((p.len(), p[0].dims()), (4, &[16, 3][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn param_vars<'t>(&self, tape: &'t Tape<T>) -> Vec<Var<'t, T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| tape.param(p))
            .collect()
    }

    /// [`Lstm::forward`] (or [`Lstm::forward_padded`] with `lengths`) with the parameters given
    /// as vars (in `named_parameters` order) instead of registered from the module: the
    /// functional form, used to gradient-check with respect to the weights.
    ///
    /// # Errors
    /// As [`Lstm::forward`], or when `params` does not match the module's parameter shapes.
    ///
    /// ```
    /// use recur_autograd::{gradcheck, GradcheckOptions};
    /// use recur_nn::{Lstm, LstmConfig, Module};
    /// use recur_tensor::Tensor;
    /// let lstm = Lstm::<f64>::new(LstmConfig::new(2, 2), &mut recur_nn::seeded_rng(0))?;
    /// let mut inputs = vec![Tensor::uniform(&[3, 2], -1.0, 1.0, &mut recur_nn::seeded_rng(1))];
    /// inputs.extend(lstm.named_parameters().iter().map(|(_, p)| p.value().clone()));
    /// gradcheck(|tape, v| {
    ///     let (out, (_, c_n)) = lstm.forward_with_params(tape, &v[0], None, None, &v[1..])?;
    ///     out.sum_all()?.add(&c_n.sum_all()?)
    /// }, &inputs, &GradcheckOptions::default())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward_with_params<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
        lengths: Option<&[usize]>,
        params: &[Var<'t, T>],
    ) -> Result<LstmOutput<'t, T>> {
        check_params("LSTM", &self.named_parameters(), params)?;
        self.forward_impl(tape, input, hx, lengths, self.training, params)
    }

    fn forward_impl<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
        lengths: Option<&[usize]>,
        training: bool,
        params: &[Var<'t, T>],
    ) -> Result<LstmOutput<'t, T>> {
        let g = self.config.geometry();
        let shapes: Vec<&[usize]> = hx.map_or_else(Vec::new, |(h, c)| vec![h.dims(), c.dims()]);
        let n = check_forward(&g, input.dims(), &shapes)?;
        if let Some(l) = lengths {
            check_lengths(l, n.steps, n.batch)?;
        }
        let (out, mut states) = run_stack(
            &g,
            n,
            tape,
            input,
            &[hx.map(|h| h.0), hx.map(|h| h.1)],
            params,
            training.then_some(&self.dropout),
            |_, dir, x, s0, p| {
                let mut ins = vec![x.clone(), s0[0].clone(), s0[1].clone()];
                ins.extend_from_slice(p);
                let refs: Vec<&Var<'t, T>> = ins.iter().collect();
                let op = LstmLayer::new(dir == 1, g.bias, lengths.map(<[usize]>::to_vec));
                let mut res = tape.custom(op, &refs)?;
                let c_n = res.pop().expect("three outputs");
                let h_n = res.pop().expect("three outputs");
                let out = res.pop().expect("three outputs");
                Ok((out, vec![h_n, c_n]))
            },
        )?;
        let c_n = states.pop().expect("two states");
        let h_n = states.pop().expect("two states");
        Ok((out, (h_n, c_n)))
    }

    /// No-tape inference on plain tensors (eval semantics: no dropout). Same shapes and errors
    /// as [`Lstm::forward`]; returns `(output, (h_n, c_n))`.
    ///
    /// # Errors
    /// As [`Lstm::forward`].
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig};
    /// use recur_tensor::Tensor;
    /// let lstm = Lstm::<f64>::new(LstmConfig::new(3, 4), &mut recur_nn::seeded_rng(1))?;
    /// let (out, (h_n, c_n)) = lstm.forward_tensor(&Tensor::ones(&[5, 0, 3]), None)?;   // batch 0 is fine
    /// assert_eq!((out.dims(), h_n.dims(), c_n.dims()), (&[5, 0, 4][..], &[1, 0, 4][..], &[1, 0, 4][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn forward_tensor(
        &self,
        input: &Tensor<T>,
        hx: Option<(&Tensor<T>, &Tensor<T>)>,
    ) -> Result<(Tensor<T>, (Tensor<T>, Tensor<T>))> {
        let tape = Tape::new();
        let x = tape.constant(input.clone());
        let hx = hx.map(|(h, c)| (tape.constant(h.clone()), tape.constant(c.clone())));
        let (out, (h_n, c_n)) = self.forward_impl(
            &tape,
            &x,
            hx.as_ref().map(|(h, c)| (h, c)),
            None,
            false,
            &self.param_vars(&tape),
        )?;
        Ok((
            out.value().clone(),
            (h_n.value().clone(), c_n.value().clone()),
        ))
    }

    /// A zero state `(h, c)` for `batch` items, each `(layers * D, batch, H)`.
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig};
    /// let lstm = Lstm::<f32>::new(LstmConfig::new(3, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// let (h, c) = lstm.zero_state(5);
    /// assert_eq!((h.dims(), c.dims()), (&[2, 5, 4][..], &[2, 5, 4][..]));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn zero_state(&self, batch: usize) -> (Tensor<T>, Tensor<T>) {
        let c = &self.config;
        let dims = [c.num_layers * c.directions(), batch, c.hidden_size];
        (Tensor::zeros(&dims), Tensor::zeros(&dims))
    }

    /// One time step of every layer, for generation: `x` is `(batch, input_size)`, `state` is
    /// `(h, c)`, each `(layers, batch, H)`, updated in place; returns the last layer's new `h`
    /// `(batch, H)`. Unidirectional models only (a reverse direction needs the whole sequence).
    ///
    /// # Errors
    /// When the model is bidirectional or the shapes do not fit.
    ///
    /// ```
    /// use recur_nn::{Lstm, LstmConfig};
    /// use recur_tensor::Tensor;
    /// let lstm = Lstm::<f64>::new(LstmConfig::new(3, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// let xs = Tensor::uniform(&[6, 1, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    /// let (out, _) = lstm.forward_tensor(&xs, None)?;
    /// let mut state = lstm.zero_state(1);
    /// for t in 0..6 {
    ///     let y = lstm.step(&xs.select(0, t)?, &mut state)?;
    ///     assert!(y.sub(&out.select(0, t)?)?.abs().max_all()? < 1e-12);
    /// }
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn step(&self, x: &Tensor<T>, state: &mut (Tensor<T>, Tensor<T>)) -> Result<Tensor<T>> {
        let c = &self.config;
        if c.bidirectional {
            return Err(NnError::Input(
                "LSTM.step: a bidirectional LSTM cannot run one step at a time".into(),
            ));
        }
        if x.rank() != 2 || x.dims()[1] != c.input_size {
            return Err(NnError::Input(format!(
                "LSTM.step: expected input (batch, {}), got {}",
                c.input_size,
                x.shape()
            )));
        }
        let batch = x.dims()[0];
        let expected = [c.num_layers, batch, c.hidden_size];
        for (k, s) in [&state.0, &state.1].into_iter().enumerate() {
            if s.dims() != expected {
                return Err(NnError::Input(format!(
                    "LSTM.step: Expected hidden[{k}] size ({}, {}, {}), got {}",
                    expected[0],
                    expected[1],
                    expected[2],
                    s.shape()
                )));
            }
        }
        let mut inp = x.clone();
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        for (layer, cell) in self.cells.iter().enumerate() {
            let (h, cc) = step_tensor(
                &inp,
                &state.0.select(0usize, layer)?,
                &state.1.select(0usize, layer)?,
                cell,
            )?;
            hs.extend_from_slice(&h);
            cs.extend_from_slice(&cc);
            inp = Tensor::from_vec(h, &[batch, c.hidden_size])?;
        }
        *state = (
            Tensor::from_vec(hs, &expected)?,
            Tensor::from_vec(cs, &expected)?,
        );
        Ok(inp)
    }
}

/// One LSTM step on plain tensors: `x (B, in)`, `h`, `c` `(B, H)`; returns the new `(h, c)`
/// as flat `B * H` vectors.
fn step_tensor<T: Float>(
    x: &Tensor<T>,
    h: &Tensor<T>,
    c: &Tensor<T>,
    p: &LayerParams<T>,
) -> Result<(Vec<T>, Vec<T>)> {
    let mut z = x
        .matmul(&p.w_ih.value().t()?)?
        .add(&h.matmul(&p.w_hh.value().t()?)?)?;
    if let (Some(b_ih), Some(b_hh)) = (&p.b_ih, &p.b_hh) {
        z = z.add(&b_ih.value().add(b_hh.value())?)?;
    }
    let hidden = h.dims()[1];
    let z = z.into_vec();
    let c = c.to_vec();
    let (mut h1, mut c1) = (vec![T::ZERO; c.len()], vec![T::ZERO; c.len()]);
    for (b, row) in z.chunks_exact(4 * hidden.max(1)).enumerate() {
        for j in 0..hidden {
            let (i, f, g, o) = (
                sigmoid(row[j]),
                sigmoid(row[hidden + j]),
                row[2 * hidden + j].tanh(),
                sigmoid(row[3 * hidden + j]),
            );
            let k = b * hidden + j;
            c1[k] = f * c[k] + i * g;
            h1[k] = o * c1[k].tanh();
        }
    }
    Ok((h1, c1))
}

impl<T: Float> Module<T> for Lstm<T> {
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

/// One LSTM step from primitive ops (`matmul`, `add`, `narrow`, `sigmoid`, `tanh`, `mul`):
/// `x (B, in)`, `h`, `c` `(B, H)`, `w_ih`, `w_hh` as stored (`(4H, in)`, `(4H, H)`), and the
/// biases if any. Returns `(h', c')`. The composed reference and [`LstmCell`] are built on it.
pub(crate) fn step_composed<'t, T: Float>(
    x: &Var<'t, T>,
    h: &Var<'t, T>,
    c: &Var<'t, T>,
    w_ih: &Var<'t, T>,
    w_hh: &Var<'t, T>,
    bias: Option<(&Var<'t, T>, &Var<'t, T>)>,
) -> Result<(Var<'t, T>, Var<'t, T>)> {
    let hidden = h.dims()[1];
    let mut z = x.matmul(&w_ih.t()?)?.add(&h.matmul(&w_hh.t()?)?)?;
    if let Some((b_ih, b_hh)) = bias {
        z = z.add(b_ih)?.add(b_hh)?;
    }
    let gate = |k: usize| z.narrow(1usize, k * hidden, hidden);
    let i = gate(0)?.sigmoid()?;
    let f = gate(1)?.sigmoid()?;
    let g = gate(2)?.tanh()?;
    let o = gate(3)?.sigmoid()?;
    let c1 = f.mul(c)?.add(&i.mul(&g)?)?;
    let h1 = o.mul(&c1.tanh()?)?;
    Ok((h1, c1))
}

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
/// let (h1, c1) = cell.forward(&tape, &tape.constant(Tensor::ones(&[2, 3])), None)?;
/// assert_eq!((h1.dims(), c1.dims()), (&[2, 4][..], &[2, 4][..]));
/// let (h, c) = (tape.constant(Tensor::zeros(&[3, 4])), tape.constant(Tensor::zeros(&[3, 4])));
/// let e = cell.forward(&tape, &tape.constant(Tensor::ones(&[2, 3])), Some((&h, &c))).unwrap_err();
/// assert_eq!(e.to_string(), "Input batch size 2 doesn't match hidden0 batch size 3");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct LstmCell<T: Float = f32> {
    input_size: usize,
    hidden_size: usize,
    params: LayerParams<T>,
}

impl<T: Float> LstmCell<T> {
    /// A cell with PyTorch's init: every parameter from U(-1/sqrt(H), 1/sqrt(H)), in the
    /// order `weight_ih (4H, in)`, `weight_hh (4H, H)`, `bias_ih (4H)`, `bias_hh (4H)`.
    /// PyTorch accepts zero sizes here, and so does this.
    ///
    /// # Errors
    /// Never; fallible for symmetry with the other constructors.
    ///
    /// ```
    /// use recur_nn::{LstmCell, Module};
    /// let cell = LstmCell::<f32>::new(3, 4, false, &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(cell.num_parameters(), 16 * 3 + 16 * 4);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn new<R: rand::Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        bias: bool,
        rng: &mut R,
    ) -> Result<Self> {
        Ok(LstmCell {
            input_size,
            hidden_size,
            params: LayerParams::init(4, input_size, hidden_size, bias, rng)?,
        })
    }

    /// One step on the tape. `input` is `(N, in)` or `(in)`; `hx` is `(h, c)`, each `(N, H)`
    /// or `(H)`, zeros if `None`; returns `(h', c')` with the input's batchedness.
    ///
    /// # Errors
    /// PyTorch's messages in its order: `LSTMCell: Expected input to be 1D or 2D, got 3D
    /// instead`, `LSTMCell: Expected hx[1] to be 1D or 2D, got 3D instead`, `input has
    /// inconsistent input_size: got 5 expected 3`, then for `hidden0` and `hidden1` in turn:
    /// `Expected 2D hidden1 (batch x hidden_size), but got 1D tensor`, `Input batch size 2
    /// doesn't match hidden1 batch size 3`, `hidden1 has inconsistent hidden_size: got 5,
    /// expected 4`.
    ///
    /// ```
    /// use recur_nn::{LstmCell, Tape};
    /// use recur_tensor::Tensor;
    /// let cell = LstmCell::<f64>::new(3, 4, true, &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// let (mut h, mut c) = (tape.constant(Tensor::zeros(&[4])), tape.constant(Tensor::zeros(&[4])));
    /// for t in 0..5 {                                        // unroll over an unbatched sequence
    ///     let x = tape.constant(Tensor::full(&[3], t as f64 / 5.0));
    ///     (h, c) = cell.forward(&tape, &x, Some((&h, &c)))?;
    /// }
    /// assert_eq!(h.dims(), &[4]);
    /// assert!(h.value().to_vec().iter().all(|v| v.abs() < 1.0)); // o ⊙ tanh(c)
    /// let e = cell.forward(&tape, &tape.constant(Tensor::zeros(&[2, 3])), Some((&h, &c))).unwrap_err();
    /// assert_eq!(e.to_string(), "Expected 2D hidden0 (batch x hidden_size), but got 1D tensor");
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let shapes: Vec<&[usize]> = hx.map_or_else(Vec::new, |(h, c)| vec![h.dims(), c.dims()]);
        let (batched, batch) = check_cell(
            "LSTMCell",
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
        let (h, c) = match hx {
            Some((h, c)) => (lift(h)?, lift(c)?),
            None => {
                let z = tape.constant(Tensor::zeros(&[batch, self.hidden_size]));
                (z.clone(), z)
            }
        };
        let p = &self.params;
        let b = match (&p.b_ih, &p.b_hh) {
            (Some(bi), Some(bh)) => Some((tape.param(bi), tape.param(bh))),
            _ => None,
        };
        let (h1, c1) = step_composed(
            &x,
            &h,
            &c,
            &tape.param(&p.w_ih),
            &tape.param(&p.w_hh),
            b.as_ref().map(|(a, b)| (a, b)),
        )?;
        Ok(if batched {
            (h1, c1)
        } else {
            (h1.squeeze(0usize)?, c1.squeeze(0usize)?)
        })
    }
}

impl<T: Float> fmt::Display for LstmCell<T> {
    /// PyTorch's printed form: `LSTMCell(3, 4, bias=False)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LSTMCell({}, {}", self.input_size, self.hidden_size)?;
        if self.params.b_ih.is_none() {
            f.write_str(", bias=False")?;
        }
        f.write_str(")")
    }
}

impl<T: Float> Module<T> for LstmCell<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        cell_named(&self.params)
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        cell_named_mut(&mut self.params)
    }
}

/// A cell's parameter names: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
pub(crate) fn cell_named<T: Float>(p: &LayerParams<T>) -> Vec<(String, &Param<T>)> {
    let mut v = vec![
        ("weight_ih".to_string(), &p.w_ih),
        ("weight_hh".to_string(), &p.w_hh),
    ];
    if let (Some(b_ih), Some(b_hh)) = (&p.b_ih, &p.b_hh) {
        v.push(("bias_ih".to_string(), b_ih));
        v.push(("bias_hh".to_string(), b_hh));
    }
    v
}

/// Mutable form of [`cell_named`].
pub(crate) fn cell_named_mut<T: Float>(p: &mut LayerParams<T>) -> Vec<(String, &mut Param<T>)> {
    let mut v = vec![
        ("weight_ih".to_string(), &mut p.w_ih),
        ("weight_hh".to_string(), &mut p.w_hh),
    ];
    if let (Some(b_ih), Some(b_hh)) = (&mut p.b_ih, &mut p.b_hh) {
        v.push(("bias_ih".to_string(), b_ih));
        v.push(("bias_hh".to_string(), b_hh));
    }
    v
}
