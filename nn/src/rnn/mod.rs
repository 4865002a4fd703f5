//! `RNN` and `RNNCell`, exactly as `torch.nn.RNN` / `torch.nn.RNNCell`.

mod act;
mod cell;
pub mod composed;
mod fused;
pub(crate) mod split;
mod step;
pub(crate) mod step_weight;

pub use act::Nonlinearity;
pub use cell::RnnCell;
pub use step::Stepper;
pub(crate) use step::gemv_into;

use crate::error::{NnError, Result};
use crate::init::uniform_param;
use crate::module::Module;
use fused::RnnLayer;
use rand::SeedableRng;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, IndexTensor, Tensor};
use std::cell::Cell;
use std::fmt;

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
        }
    }
    /// Sets `num_layers`.
    pub fn num_layers(mut self, n: usize) -> Self {
        self.num_layers = n;
        self
    }
    /// Sets the nonlinearity.
    pub fn nonlinearity(mut self, a: Nonlinearity) -> Self {
        self.nonlinearity = a;
        self
    }
    /// Sets `bias`.
    pub fn bias(mut self, b: bool) -> Self {
        self.bias = b;
        self
    }
    /// Sets `batch_first`.
    pub fn batch_first(mut self, b: bool) -> Self {
        self.batch_first = b;
        self
    }
    /// Sets `dropout`.
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }
    /// Sets `bidirectional`.
    pub fn bidirectional(mut self, b: bool) -> Self {
        self.bidirectional = b;
        self
    }
    /// Number of directions: 2 if bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Checks the settings with PyTorch's messages, in PyTorch's order.
    ///
    /// # Errors
    /// `dropout should be a number in range [0, 1] ...`, `input_size must be greater than
    /// zero`, and the same for `hidden_size` and `num_layers`.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.dropout) {
            return Err(NnError::Config(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed".into(),
            ));
        }
        for (name, v) in [
            ("input_size", self.input_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
        ] {
            if v == 0 {
                return Err(NnError::Config(format!("{name} must be greater than zero")));
            }
        }
        Ok(())
    }
}

impl fmt::Display for RnnConfig {
    /// PyTorch's printed form, only non-default fields:
    /// `RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RNN({}, {}", self.input_size, self.hidden_size)?;
        if self.num_layers != 1 {
            write!(f, ", num_layers={}", self.num_layers)?;
        }
        if self.nonlinearity != Nonlinearity::Tanh {
            write!(f, ", nonlinearity={}", self.nonlinearity)?;
        }
        if !self.bias {
            f.write_str(", bias=False")?;
        }
        if self.batch_first {
            f.write_str(", batch_first=True")?;
        }
        if self.dropout != 0.0 {
            write!(f, ", dropout={}", self.dropout)?;
        }
        if self.bidirectional {
            f.write_str(", bidirectional=True")?;
        }
        f.write_str(")")
    }
}

/// The parameters of one layer and direction.
#[derive(Debug)]
struct Cell4<T: Float> {
    w_ih: Param<T>,
    w_hh: Param<T>,
    b_ih: Option<Param<T>>,
    b_hh: Option<Param<T>>,
}

/// A multi-layer Elman RNN, `torch.nn.RNN` to the letter:
/// `h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`.
///
/// The training path records one fused node per layer and direction (input projection for
/// all steps as one GEMM, the recurrence, and a BPTT backward whose weight, input and bias
/// gradients are single GEMMs over all steps).
///
/// ```
/// use recur_nn::{Rnn, RnnConfig, Tape};
/// use recur_tensor::Tensor;
/// let mut rng = recur_nn::seeded_rng(0);
/// // The lesson's example: RNN(5, 6, 1), input (1, 3, 5), h0 (1, 3, 6).
/// let rnn = Rnn::<f32>::new(RnnConfig::new(5, 6), &mut rng)?;
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::ones(&[1, 3, 5]));
/// let h0 = tape.constant(Tensor::zeros(&[1, 3, 6]));
/// let (output, h_n) = rnn.forward(&tape, &x, Some(&h0))?;
/// assert_eq!(output.dims(), &[1, 3, 6]);
/// assert_eq!(h_n.dims(), &[1, 3, 6]);
/// assert!(output.value().to_vec().iter().all(|v| v.abs() < 1.0)); // tanh squashes into (-1, 1)
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub struct Rnn<T: Float = f32> {
    config: RnnConfig,
    cells: Vec<Cell4<T>>,
    training: bool,
    dropout_seed: u64,
    dropout_calls: Cell<u64>,
}

impl<T: Float> fmt::Debug for Rnn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.config)
    }
}

/// An input normalised to `(seq, batch, feature)`, with how to undo it.
struct Normalised {
    unbatched: bool,
    steps: usize,
    batch: usize,
}

impl<T: Float> Rnn<T> {
    /// A new RNN with PyTorch's initialisation: every parameter, biases included, from
    /// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), drawn in parameter order from `rng`.
    ///
    /// # Errors
    /// When the config is invalid ([`RnnConfig::validate`]).
    pub fn new<R: rand::Rng + ?Sized>(config: RnnConfig, rng: &mut R) -> Result<Self> {
        config.validate()?;
        let h = config.hidden_size;
        let k = 1.0 / (h as f64).sqrt();
        let mut cells = Vec::new();
        for layer in 0..config.num_layers {
            let in_k = if layer == 0 {
                config.input_size
            } else {
                h * config.directions()
            };
            for _ in 0..config.directions() {
                let w_ih = uniform_param(&[h, in_k], k, rng)?;
                let w_hh = uniform_param(&[h, h], k, rng)?;
                let (b_ih, b_hh) = if config.bias {
                    (
                        Some(uniform_param(&[h], k, rng)?),
                        Some(uniform_param(&[h], k, rng)?),
                    )
                } else {
                    (None, None)
                };
                cells.push(Cell4 {
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                });
            }
        }
        Ok(Rnn {
            config,
            cells,
            training: true,
            dropout_seed: rng.next_u64(),
            dropout_calls: Cell::new(0),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RnnConfig {
        &self.config
    }

    /// How many times dropout masks have been drawn (saved in checkpoints so a resumed run
    /// draws the same masks as an uninterrupted one).
    pub fn dropout_calls(&self) -> u64 {
        self.dropout_calls.get()
    }
    /// Restores the dropout draw counter (see [`Rnn::dropout_calls`]).
    pub fn set_dropout_calls(&self, n: u64) {
        self.dropout_calls.set(n);
    }

    fn suffix(dir: usize) -> &'static str {
        if dir == 1 { "_reverse" } else { "" }
    }

    /// Checks an input and h0 against the spec, in PyTorch's order, with its messages.
    fn check(&self, input: &[usize], h0: Option<&[usize]>) -> Result<Normalised> {
        let c = &self.config;
        let rank = input.len();
        if rank != 2 && rank != 3 {
            return Err(NnError::Input(format!(
                "RNN: Expected input to be 2D or 3D, got {rank}D tensor instead"
            )));
        }
        let unbatched = rank == 2;
        if let Some(h) = h0 {
            if unbatched && h.len() != 2 {
                return Err(NnError::Input(format!(
                    "For unbatched 2-D input, hx should also be 2-D but got {}-D tensor",
                    h.len()
                )));
            }
            if !unbatched && h.len() != 3 {
                return Err(NnError::Input(format!(
                    "For batched 3-D input, hx should also be 3-D but got {}-D tensor",
                    h.len()
                )));
            }
        }
        if input[rank - 1] != c.input_size {
            return Err(NnError::Input(format!(
                "input.size(-1) must be equal to input_size. Expected {}, got {}",
                c.input_size,
                input[rank - 1]
            )));
        }
        let (steps, batch) = match (unbatched, c.batch_first) {
            (true, _) => (input[0], 1),
            (false, false) => (input[0], input[1]),
            (false, true) => (input[1], input[0]),
        };
        if let Some(h) = h0 {
            let expected = [c.num_layers * c.directions(), batch, c.hidden_size];
            let got: Vec<usize> = if unbatched {
                vec![h[0], 1, h[1]]
            } else {
                h.to_vec()
            };
            if got != expected {
                return Err(NnError::Input(format!(
                    "Expected hidden size ({}, {}, {}), got {:?}",
                    expected[0], expected[1], expected[2], got
                )));
            }
        }
        if steps == 0 {
            return Err(NnError::Input(
                "Expected sequence length to be larger than 0 in RNN".into(),
            ));
        }
        Ok(Normalised {
            unbatched,
            steps,
            batch,
        })
    }

    /// The training-path forward: `input` is `(L, N, in)` (`(N, L, in)` with `batch_first`,
    /// `(L, in)` unbatched), `h0` is `(layers * D, N, H)` (`(layers * D, H)` unbatched), zeros
    /// if `None`. Returns `(output, h_n)` with PyTorch's shapes. Dropout applies between
    /// layers in train mode.
    ///
    /// # Errors
    /// The spec's messages, in its order (`RNN: Expected input to be 2D or 3D, got 4D tensor
    /// instead`, ...).
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        self.forward_impl(
            tape,
            input,
            None,
            h0,
            None,
            self.training,
            &self.param_vars(tape),
        )
    }

    /// [`Rnn::forward`] for a one-hot input given by its indices: `tokens` is `(L, N)`
    /// (`(N, L)` with `batch_first`, `(L)` unbatched) with values in `0..input_size`, and the
    /// result equals `forward` on `one_hot(tokens, input_size)`, without building the one-hot
    /// tensor: the first layer's input projection reads the tokens' columns of `W_ih` (an
    /// embedding lookup) instead of multiplying by mostly zeros, and its weight gradient adds
    /// rows instead of a GEMM. This is how a character-level model feeds characters.
    ///
    /// # Errors
    /// `RNN.forward_tokens: index 70 is out of bounds for input_size 65` for a bad token;
    /// otherwise as [`Rnn::forward`] (with the shape the one-hot input would have).
    ///
    /// ```
    /// use recur_nn::{Rnn, RnnConfig, Tape};
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let rnn = Rnn::<f64>::new(RnnConfig::new(4, 3), &mut recur_nn::seeded_rng(0))?;
    /// let ids = IndexTensor::from_vec(vec![1, 3, 0, 2], &[2, 2])?; // (L, N)
    /// let tape = Tape::new();
    /// let (out, _) = rnn.forward_tokens(&tape, &ids, None)?;
    /// let onehot = Tensor::from_vec(
    ///     (0..4).flat_map(|i| (0..4).map(move |c| f64::from([1, 3, 0, 2][i] == c))).collect(),
    ///     &[2, 2, 4],
    /// )?;
    /// let (dense, _) = rnn.forward(&tape, &tape.constant(onehot), None)?;
    /// assert!(out.value().sub(dense.value())?.abs().max_all()? < 1e-14);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward_tokens<'t>(
        &self,
        tape: &'t Tape<T>,
        tokens: &IndexTensor,
        h0: Option<&Var<'t, T>>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let c = &self.config;
        let v = c.input_size;
        if let Some(&bad) = tokens
            .as_slice()
            .iter()
            .find(|&&t| t < 0 || t as usize >= v)
        {
            return Err(NnError::Input(format!(
                "RNN.forward_tokens: index {bad} is out of bounds for input_size {v}"
            )));
        }
        // The one-hot input's shape, as a stride-0 view of one zero (never read or copied).
        let mut dims = tokens.dims().to_vec();
        dims.push(v);
        let placeholder = Tensor::zeros(&[1]).broadcast_to(&dims)?;
        // The fused layer takes the tokens time-major, `(L, N)`.
        let ids = tokens.as_slice();
        let time_major: Vec<u32> = match (dims.len(), c.batch_first) {
            (3, true) => {
                let (n, l) = (dims[0], dims[1]);
                (0..l)
                    .flat_map(|t| (0..n).map(move |b| ids[b * l + t] as u32))
                    .collect()
            }
            _ => ids.iter().map(|&t| t as u32).collect(),
        };
        self.forward_impl(
            tape,
            &tape.constant(placeholder),
            Some(&time_major),
            h0,
            None,
            self.training,
            &self.param_vars(tape),
        )
    }

    /// Forward over a padded batch of variable-length sequences (what PyTorch does with a
    /// `PackedSequence`): item `b` runs only over its first `lengths[b]` steps; `h_n` holds
    /// each item's state at its own last valid step; the reverse direction starts at each
    /// item's last valid element; padded output positions are zero. Lengths need not be sorted.
    ///
    /// # Errors
    /// As [`Rnn::forward`], plus PyTorch's `Length of all samples has to be greater than 0 ...`,
    /// a length longer than the sequence, or a count of lengths that is not the batch size.
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
            None,
            h0,
            Some(lengths),
            self.training,
            &self.param_vars(tape),
        )
    }

    /// The parameters of this RNN registered on `tape`, in `named_parameters` order.
    pub fn param_vars<'t>(&self, tape: &'t Tape<T>) -> Vec<Var<'t, T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| tape.param(p))
            .collect()
    }

    /// [`Rnn::forward`] with the parameters given as vars (in `named_parameters` order)
    /// instead of registered from the module: the functional form, used to gradient-check
    /// with respect to the weights.
    ///
    /// # Errors
    /// As [`Rnn::forward`], or when `params` does not match the module's parameter shapes.
    pub fn forward_with_params<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        h0: Option<&Var<'t, T>>,
        lengths: Option<&[usize]>,
        params: &[Var<'t, T>],
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let own = self.named_parameters();
        if params.len() != own.len() {
            return Err(NnError::Input(format!(
                "RNN: expected {} parameters, got {}",
                own.len(),
                params.len()
            )));
        }
        for ((name, p), v) in own.iter().zip(params) {
            if p.value().dims() != v.dims() {
                return Err(NnError::Input(format!(
                    "RNN: parameter {name} should have shape {}, got {}",
                    p.value().shape(),
                    v.shape()
                )));
            }
        }
        self.forward_impl(tape, input, None, h0, lengths, self.training, params)
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_impl<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        tokens: Option<&[u32]>,
        h0: Option<&Var<'t, T>>,
        lengths: Option<&[usize]>,
        training: bool,
        params: &[Var<'t, T>],
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let n = self.check(input.dims(), h0.map(|h| h.dims()))?;
        let c = &self.config;
        let (h, d) = (c.hidden_size, c.directions());
        if let Some(l) = lengths {
            check_lengths(l, n.steps, n.batch)?;
        }
        // Normalise to (L, N, in) and h0 to (layers * D, N, H).
        let mut x = if n.unbatched {
            input.unsqueeze(1usize)?
        } else if c.batch_first {
            input.transpose(0usize, 1)?
        } else {
            input.clone()
        };
        let h0 = match h0 {
            Some(h0) if n.unbatched => h0.unsqueeze(1usize)?,
            Some(h0) => h0.clone(),
            None => tape.constant(Tensor::zeros(&[c.num_layers * d, n.batch, h])),
        };
        let per_cell = if c.bias { 4 } else { 2 };
        let mut finals = Vec::with_capacity(c.num_layers * d);
        for layer in 0..c.num_layers {
            let mut outs = Vec::with_capacity(d);
            for dir in 0..d {
                let k = layer * d + dir;
                let mut ins = vec![x.clone(), h0.select(0usize, k)?];
                ins.extend_from_slice(&params[k * per_cell..(k + 1) * per_cell]);
                let mut op = RnnLayer::new(
                    c.nonlinearity,
                    dir == 1,
                    c.bias,
                    lengths.map(<[usize]>::to_vec),
                );
                if layer == 0 {
                    op.tokens = tokens.map(<[u32]>::to_vec);
                }
                let refs: Vec<&Var<'t, T>> = ins.iter().collect();
                let mut res = tape.custom(op, &refs)?;
                finals.push(res.pop().expect("two outputs"));
                outs.push(res.pop().expect("two outputs"));
            }
            x = if d == 1 {
                outs.pop().expect("one direction")
            } else {
                Var::concat(&[&outs[0], &outs[1]], 2usize)?
            };
            if training && c.dropout > 0.0 && layer + 1 < c.num_layers {
                x = self.dropout(tape, &x)?;
            }
        }
        let finals_ref: Vec<&Var<'t, T>> = finals.iter().collect();
        let mut h_n = Var::stack(&finals_ref, 0usize)?;
        let mut out = x;
        if n.unbatched {
            out = out.squeeze(1usize)?;
            h_n = h_n.squeeze(1usize)?;
        } else if c.batch_first {
            out = out.transpose(0usize, 1)?;
        }
        Ok((out, h_n))
    }

    /// Inverted dropout with an independent mask per element, from the module's own seeded
    /// stream (so runs are reproducible and resumable).
    fn dropout<'t>(&self, tape: &'t Tape<T>, x: &Var<'t, T>) -> Result<Var<'t, T>> {
        let call = self.dropout_calls.get();
        self.dropout_calls.set(call + 1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            self.dropout_seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mask = crate::dropout::mask::<T, _>(x.dims(), self.config.dropout, &mut rng);
        Ok(x.mul(&tape.constant(mask))?)
    }

    /// No-tape inference on plain tensors (eval semantics: no dropout). Same shapes and errors
    /// as [`Rnn::forward`].
    ///
    /// # Errors
    /// As [`Rnn::forward`].
    ///
    /// ```
    /// use recur_nn::{Rnn, RnnConfig};
    /// use recur_tensor::Tensor;
    /// let rnn = Rnn::<f64>::new(RnnConfig::new(3, 4), &mut recur_nn::seeded_rng(1))?;
    /// let (out, h_n) = rnn.forward_tensor(&Tensor::ones(&[5, 0, 3]), None)?;   // batch 0 is fine
    /// assert_eq!((out.dims(), h_n.dims()), (&[5, 0, 4][..], &[1, 0, 4][..]));
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
        let (out, h_n) = self.forward_impl(
            &tape,
            &x,
            None,
            h.as_ref(),
            None,
            false,
            &self.param_vars(&tape),
        )?;
        Ok((out.value().clone(), h_n.value().clone()))
    }

    /// A zero hidden state for `batch` items: `(layers * D, batch, H)`.
    pub fn zero_state(&self, batch: usize) -> Tensor<T> {
        let c = &self.config;
        Tensor::zeros(&[c.num_layers * c.directions(), batch, c.hidden_size])
    }

    /// One time step of every layer, for generation: `x` is `(batch, input_size)`, `state` is
    /// `(layers, batch, H)` and is updated in place; returns the last layer's new state
    /// `(batch, H)`. Unidirectional models only (a reverse direction needs the whole sequence).
    ///
    /// # Errors
    /// When the model is bidirectional or the shapes do not fit.
    ///
    /// ```
    /// use recur_nn::{Rnn, RnnConfig};
    /// use recur_tensor::Tensor;
    /// let rnn = Rnn::<f64>::new(RnnConfig::new(3, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
    /// let xs = Tensor::uniform(&[6, 1, 3], -1.0, 1.0, &mut recur_nn::seeded_rng(1));
    /// let (out, _) = rnn.forward_tensor(&xs, None)?;
    /// let mut state = rnn.zero_state(1);
    /// for t in 0..6 {
    ///     let y = rnn.step(&xs.select(0, t)?, &mut state)?;
    ///     let expect = out.select(0, t)?;
    ///     assert!(y.sub(&expect)?.abs().max_all()? < 1e-12);
    /// }
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn step(&self, x: &Tensor<T>, state: &mut Tensor<T>) -> Result<Tensor<T>> {
        let c = &self.config;
        if c.bidirectional {
            return Err(NnError::Input(
                "RNN.step: a bidirectional RNN cannot run one step at a time".into(),
            ));
        }
        if x.rank() != 2 || x.dims()[1] != c.input_size {
            return Err(NnError::Input(format!(
                "RNN.step: expected input (batch, {}), got {}",
                c.input_size,
                x.shape()
            )));
        }
        let batch = x.dims()[0];
        let expected = [c.num_layers, batch, c.hidden_size];
        if state.dims() != expected {
            return Err(NnError::Input(format!(
                "RNN.step: Expected hidden size ({}, {}, {}), got {}",
                expected[0],
                expected[1],
                expected[2],
                state.shape()
            )));
        }
        let mut inp = x.clone();
        let mut new_state = Vec::with_capacity(state.numel());
        for (layer, cell) in self.cells.iter().enumerate() {
            let h_prev = state.select(0usize, layer)?;
            let mut z = inp
                .matmul(&cell.w_ih.value().t()?)?
                .add(&h_prev.matmul(&cell.w_hh.value().t()?)?)?;
            if let (Some(b_ih), Some(b_hh)) = (&cell.b_ih, &cell.b_hh) {
                z = z.add(&b_ih.value().add(b_hh.value())?)?;
            }
            let mut data = z.into_vec();
            c.nonlinearity.apply(&mut data);
            new_state.extend_from_slice(&data);
            inp = Tensor::from_vec(data, &[batch, c.hidden_size])?;
        }
        *state = Tensor::from_vec(new_state, &expected)?;
        Ok(inp)
    }
}

/// PyTorch's checks on variable lengths.
pub(crate) fn check_lengths(lengths: &[usize], steps: usize, batch: usize) -> Result<()> {
    if lengths.len() != batch {
        return Err(NnError::Input(format!(
            "Expected `len(lengths)` to be equal to batch_size, but got {} (batch_size={batch})",
            lengths.len()
        )));
    }
    if lengths.contains(&0) {
        return Err(NnError::Input("Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0".into()));
    }
    if let Some(&l) = lengths.iter().find(|&&l| l > steps) {
        return Err(NnError::Input(format!(
            "a length of {l} exceeds the padded sequence length {steps}"
        )));
    }
    Ok(())
}

impl<T: Float> Module<T> for Rnn<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        let d = self.config.directions();
        let mut out = Vec::new();
        for (i, cell) in self.cells.iter().enumerate() {
            let sfx = format!("l{}{}", i / d, Self::suffix(i % d));
            out.push((format!("weight_ih_{sfx}"), &cell.w_ih));
            out.push((format!("weight_hh_{sfx}"), &cell.w_hh));
            if let (Some(b_ih), Some(b_hh)) = (&cell.b_ih, &cell.b_hh) {
                out.push((format!("bias_ih_{sfx}"), b_ih));
                out.push((format!("bias_hh_{sfx}"), b_hh));
            }
        }
        out
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let d = self.config.directions();
        let mut out = Vec::new();
        for (i, cell) in self.cells.iter_mut().enumerate() {
            let sfx = format!("l{}{}", i / d, Self::suffix(i % d));
            out.push((format!("weight_ih_{sfx}"), &mut cell.w_ih));
            out.push((format!("weight_hh_{sfx}"), &mut cell.w_hh));
            if let (Some(b_ih), Some(b_hh)) = (&mut cell.b_ih, &mut cell.b_hh) {
                out.push((format!("bias_ih_{sfx}"), b_ih));
                out.push((format!("bias_hh_{sfx}"), b_hh));
            }
        }
        out
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}
