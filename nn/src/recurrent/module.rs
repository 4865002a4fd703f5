//! [`Recurrent`]: a stack of layers of any [`Cell`], with PyTorch's parameters, shapes and
//! messages.

use super::cell::{Cell, Recurrence};
use super::config::{Normalised, RecurrentConfig, check_forward, check_lengths};
use super::layer::Layer;
use crate::error::{NnError, Result};
use crate::init::uniform_param;
use crate::module::Module;
use rand::SeedableRng;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, IndexTensor, Tensor};
use std::cell::Cell as Counter;
use std::fmt;

/// The parameters of one layer and direction: `W_ih (G*H, in)`, `W_hh (G*H, H)` (unless the
/// cell has no recurrence), and the biases `(G*H)` when the module has them.
#[derive(Debug)]
pub(crate) struct LayerParams<T: Float> {
    pub w_ih: Param<T>,
    pub w_hh: Option<Param<T>>,
    pub b_ih: Option<Param<T>>,
    pub b_hh: Option<Param<T>>,
    /// The projection `W_hr (P, H)` with `proj_size` `P > 0`.
    pub w_hr: Option<Param<T>>,
}

/// A stack of recurrent layers of cell `C` — `torch.nn.RNN` / `LSTM` / `GRU`'s machine, for
/// any cell. [`Rnn`](crate::Rnn), [`Lstm`](crate::Lstm) and [`Gru`](crate::Gru) are this type
/// with their cells; a user's own [`Cell`] gets the same engine: the input projection as one
/// GEMM (or a token lookup), one recurrent product per step on a prepared `W_hh`, the thread
/// split over batch rows, BPTT with the weight gradients as single GEMMs, layers, directions,
/// dropout between layers, variable lengths, no-tape inference and a one-step sampler.
///
/// Parameters, for layer `k` and direction suffix `""` / `"_reverse"`: `weight_ih_l{k}`
/// `(G*H, in_k)`, `weight_hh_l{k}` `(G*H, H)`, `bias_ih_l{k}` and `bias_hh_l{k}` `(G*H)`,
/// all from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch draws them (no `*_hh` for a cell without
/// recurrence).
pub struct Recurrent<C: Cell, T: Float = f32> {
    cell: C,
    config: RecurrentConfig,
    pub(crate) layers: Vec<LayerParams<T>>,
    training: bool,
    dropout_seed: u64,
    dropout_calls: Counter<u64>,
}

impl<C: Cell, T: Float> fmt::Debug for Recurrent<C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<C: Cell, T: Float> fmt::Display for Recurrent<C, T> {
    /// PyTorch's printed form: `LSTM(3, 4, num_layers=2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra = self.cell.describe();
        self.config.fmt_as(f, C::NAME, extra.as_deref())
    }
}

impl<C: Cell, T: Float> crate::layer::Layer<T> for Recurrent<C, T> {
    /// [`Recurrent::forward`] from a zero state, returning the output sequence only: the
    /// final state is dropped (what a recurrent layer inside a [`Sequential`](crate::Sequential)
    /// hands on). Call the inherent `forward` for the final state or a given initial state.
    fn forward<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>> {
        Ok(Recurrent::forward(self, x, None)?.0)
    }
}

/// What a forward returns: the output `(L, N, D*H)` and the final state parts, each
/// `(layers * D, N, H)` (in the input's layout: unbatched, batch-first or not).
pub type RecurrentOutput<'t, T> = (Var<'t, T>, Vec<Var<'t, T>>);

impl<C: Cell, T: Float> Recurrent<C, T> {
    /// A new stack with PyTorch's initialisation: every parameter, biases included, from
    /// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), drawn in parameter order from `rng`.
    ///
    /// # Errors
    /// When the config is invalid ([`RecurrentConfig::validate`]) or its parameters could not
    /// be allocated.
    pub fn new<R: rand::Rng + ?Sized>(
        cell: C,
        config: RecurrentConfig,
        rng: &mut R,
    ) -> Result<Self> {
        config.validate()?;
        config.check_sizes(C::NAME, C::GATES)?;
        if config.proj_size > 0 && !C::PROJECTABLE {
            return Err(NnError::Config(format!(
                "proj_size argument is only supported for LSTM, not {}",
                C::NAME
            )));
        }
        let (h, gw, hw) = (
            config.hidden_size,
            C::GATES * config.hidden_size,
            config.h_size(),
        );
        let proj = config.proj_size > 0;
        let k = 1.0 / (h as f64).sqrt();
        let hh = C::RECURRENCE != Recurrence::None;
        let mut layers = Vec::with_capacity(config.stacked());
        for layer in 0..config.num_layers {
            let input = if layer == 0 {
                config.input_size
            } else {
                hw * config.directions()
            };
            for _ in 0..config.directions() {
                let w_ih = uniform_param(&[gw, input], k, rng)?;
                let w_hh = hh.then(|| uniform_param(&[gw, hw], k, rng)).transpose()?;
                let b_ih = config
                    .bias
                    .then(|| uniform_param(&[gw], k, rng))
                    .transpose()?;
                let b_hh = (config.bias && hh)
                    .then(|| uniform_param(&[gw], k, rng))
                    .transpose()?;
                let w_hr = proj.then(|| uniform_param(&[hw, h], k, rng)).transpose()?;
                layers.push(LayerParams {
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    w_hr,
                });
            }
        }
        Ok(Recurrent {
            cell,
            config,
            layers,
            training: true,
            dropout_seed: rng.next_u64(),
            dropout_calls: Counter::new(0),
        })
    }

    /// The cell.
    pub fn cell(&self) -> &C {
        &self.cell
    }

    /// The settings.
    pub fn config(&self) -> &RecurrentConfig {
        &self.config
    }

    /// How many times dropout masks have been drawn (saved in checkpoints so a resumed run
    /// draws the same masks as an uninterrupted one).
    pub fn dropout_calls(&self) -> u64 {
        self.dropout_calls.get()
    }

    /// Restores the dropout draw counter (see [`Recurrent::dropout_calls`]).
    pub fn set_dropout_calls(&self, n: u64) {
        self.dropout_calls.set(n);
    }

    /// The training-path forward: `input` is `(L, N, in)` (`(N, L, in)` with `batch_first`,
    /// `(L, in)` unbatched); `state0` holds the initial state parts, each
    /// `(layers * D, N, H)` (`(layers * D, H)` unbatched), zeros if `None`. Returns the output
    /// and the final state parts in PyTorch's shapes. Dropout applies between layers in train
    /// mode.
    ///
    /// # Errors
    /// PyTorch's messages, in its order, each after the module's printed form
    /// (`LSTM(3, 4): ...`; `LSTM: Expected input to be 2D or 3D, got 4D
    /// instead`, `input.size(-1) must be equal to input_size. Expected 5, got 7`, ...).
    pub fn forward<'t>(
        &self,
        input: &Var<'t, T>,
        state0: Option<&[&Var<'t, T>]>,
    ) -> Result<RecurrentOutput<'t, T>> {
        let tape = input.tape();
        self.run(
            input,
            None,
            state0,
            None,
            self.training,
            &self.param_vars(tape),
        )
    }

    /// Forward over a padded batch of variable-length sequences (what PyTorch does with a
    /// `PackedSequence`): item `b` runs only over its first `lengths[b]` steps; the final
    /// state holds each item's state at its own last valid step; the reverse direction starts
    /// at each item's last valid element; padded output positions are zero. Lengths need not
    /// be sorted.
    ///
    /// # Errors
    /// As [`Recurrent::forward`], plus PyTorch's `Length of all samples has to be greater
    /// than 0 ...`, a length longer than the sequence, or a count of lengths that is not the
    /// batch size.
    pub fn forward_padded<'t>(
        &self,
        input: &Var<'t, T>,
        lengths: &[usize],
        state0: Option<&[&Var<'t, T>]>,
    ) -> Result<RecurrentOutput<'t, T>> {
        let tape = input.tape();
        let params = self.param_vars(tape);
        self.run(input, None, state0, Some(lengths), self.training, &params)
    }

    /// [`Recurrent::forward`] for a one-hot input given by its indices: `tokens` is `(L, N)`
    /// (`(N, L)` with `batch_first`, `(L)` unbatched) with values in `0..input_size`, and the
    /// result equals `forward` on `one_hot(tokens, input_size)`, without building the one-hot
    /// tensor: the first layer's input projection reads the tokens' columns of `W_ih` (an
    /// embedding lookup) instead of multiplying by mostly zeros, and its weight gradient adds
    /// rows instead of a GEMM. This is how a character-level model feeds characters.
    ///
    /// # Errors
    /// `LSTM(65, 128): forward_tokens: index 70 is out of bounds for input_size 65` for a bad
    /// token;
    /// otherwise as [`Recurrent::forward`] (with the shape the one-hot input would have).
    pub fn forward_tokens<'t>(
        &self,
        tape: &'t Tape<T>,
        tokens: &IndexTensor,
        state0: Option<&[&Var<'t, T>]>,
    ) -> Result<RecurrentOutput<'t, T>> {
        let v = self.config.input_size;
        if let Some(&bad) = tokens
            .as_slice()
            .iter()
            .find(|&&t| t < 0 || t as usize >= v)
        {
            return Err(NnError::Input(format!(
                "forward_tokens: index {bad} is out of bounds for input_size {v}"
            ))
            .in_module(self));
        }
        // The one-hot input's shape, as a stride-0 view of one zero (never read or copied).
        let mut dims = tokens.dims().to_vec();
        dims.push(v);
        let placeholder = Tensor::zeros(&[1]).broadcast_to(&dims)?;
        // The layers take the tokens time-major, `(L, N)`.
        let ids = tokens.as_slice();
        let time_major: Vec<u32> = match (dims.len(), self.config.batch_first) {
            (3, true) => {
                let (n, l) = (dims[0], dims[1]);
                (0..l)
                    .flat_map(|t| (0..n).map(move |b| ids[b * l + t] as u32))
                    .collect()
            }
            _ => ids.iter().map(|&t| t as u32).collect(),
        };
        let x = tape.constant(placeholder);
        let params = self.param_vars(tape);
        self.run(&x, Some(&time_major), state0, None, self.training, &params)
    }

    /// The parameters registered on `tape`, in `named_parameters` order (the `params` of
    /// [`Recurrent::forward_with_params`]).
    pub fn param_vars<'t>(&self, tape: &'t Tape<T>) -> Vec<Var<'t, T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| tape.param(p))
            .collect()
    }

    /// [`Recurrent::forward`] (or [`Recurrent::forward_padded`] with `lengths`) with the
    /// parameters given as vars (in `named_parameters` order) instead of registered from the
    /// module: the functional form, used to gradient-check with respect to the weights.
    ///
    /// # Errors
    /// As [`Recurrent::forward`], or when `params` does not match the module's parameter
    /// shapes.
    pub fn forward_with_params<'t>(
        &self,
        input: &Var<'t, T>,
        state0: Option<&[&Var<'t, T>]>,
        lengths: Option<&[usize]>,
        params: &[Var<'t, T>],
    ) -> Result<RecurrentOutput<'t, T>> {
        self.check_params(params)?;
        self.run(input, None, state0, lengths, self.training, params)
    }

    /// Checks that `params` has the module's parameter shapes.
    pub(crate) fn check_params(&self, params: &[Var<'_, T>]) -> Result<()> {
        self.check_params_unprefixed(params)
            .map_err(|e| e.in_module(self))
    }

    fn check_params_unprefixed(&self, params: &[Var<'_, T>]) -> Result<()> {
        let own = self.named_parameters();
        if params.len() != own.len() {
            return Err(NnError::Input(format!(
                "expected {} parameters, got {}",
                own.len(),
                params.len()
            )));
        }
        for ((pname, p), v) in own.iter().zip(params) {
            if p.value().dims() != v.dims() {
                return Err(NnError::Input(format!(
                    "parameter {pname} should have shape {}, got {}",
                    p.value().shape(),
                    v.shape()
                )));
            }
        }
        Ok(())
    }

    /// Checks a forward call's shapes; the messages after the module's printed form.
    pub(crate) fn check(
        &self,
        input: &Var<'_, T>,
        state0: Option<&[&Var<'_, T>]>,
        lengths: Option<&[usize]>,
    ) -> Result<Normalised> {
        let shapes: Option<Vec<&[usize]>> = state0.map(|s| s.iter().map(|v| v.dims()).collect());
        self.check_dims(input.dims(), shapes.as_deref(), lengths)
            .map_err(|e| e.in_module(self))
    }

    fn check_dims(
        &self,
        input: &[usize],
        state0: Option<&[&[usize]]>,
        lengths: Option<&[usize]>,
    ) -> Result<Normalised> {
        let parts = C::STATE_PARTS;
        if let Some(s) = state0
            && s.len() != parts
        {
            return Err(NnError::Input(format!(
                "expected {parts} initial state parts, got {}",
                s.len()
            )));
        }
        let shapes = state0.unwrap_or_default();
        let n = check_forward(&self.config, C::NAME, input, shapes, &self.widths())?;
        if let Some(l) = lengths {
            check_lengths(l, n.steps, n.batch)?;
        }
        Ok(n)
    }

    /// Parameters of layer-and-direction `i` within `params` (in `named_parameters` order).
    pub(crate) fn per_layer(&self) -> usize {
        let hh = C::RECURRENCE != Recurrence::None;
        let proj = usize::from(self.config.proj_size > 0);
        1 + usize::from(hh) + usize::from(self.config.bias) * (1 + usize::from(hh)) + proj
    }

    /// The width of each state part: `h` (`proj_size` when projected), then `H` for the rest.
    pub(crate) fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.config.hidden_size; C::STATE_PARTS];
        w[0] = self.config.h_size();
        w
    }

    #[allow(clippy::too_many_arguments)]
    fn run<'t>(
        &self,
        input: &Var<'t, T>,
        tokens: Option<&[u32]>,
        state0: Option<&[&Var<'t, T>]>,
        lengths: Option<&[usize]>,
        training: bool,
        params: &[Var<'t, T>],
    ) -> Result<RecurrentOutput<'t, T>> {
        let tape = input.tape();
        let n = self.check(input, state0, lengths)?;
        let per = self.per_layer();
        let d = self.config.directions();
        super::stack::run_stack(self, n, input, state0, training, |k, dir, x, s0| {
            let i = k * d + dir;
            let mut ins: Vec<&Var<'t, T>> = vec![x];
            ins.extend(s0);
            ins.extend(&params[i * per..(i + 1) * per]);
            let op = Layer::new(
                self.cell.clone(),
                dir == 1,
                self.config.bias,
                self.config.proj_size > 0,
                lengths.map(<[usize]>::to_vec),
                if k == 0 {
                    tokens.map(<[u32]>::to_vec)
                } else {
                    None
                },
            );
            let mut res = tape.custom(crate::compiled::fused(op), &ins)?;
            let finals = res.split_off(1);
            let out = res.pop().expect("an output");
            Ok((out, finals))
        })
    }

    /// Inverted dropout between layers with an independent mask per element, from the
    /// module's own seeded stream (so runs are reproducible and resumable).
    pub(crate) fn dropout<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>> {
        let tape = x.tape();
        let call = self.dropout_calls.get();
        self.dropout_calls.set(call + 1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            self.dropout_seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mask = crate::dropout::mask::<T, _>(x.dims(), self.config.dropout, &mut rng);
        Ok(x.mul(&tape.constant(mask))?)
    }

    /// No-tape inference on plain tensors (eval semantics: no dropout). Same shapes and
    /// errors as [`Recurrent::forward`].
    ///
    /// # Errors
    /// As [`Recurrent::forward`].
    pub fn forward_tensor(
        &self,
        input: &Tensor<T>,
        state0: Option<&[&Tensor<T>]>,
    ) -> Result<(Tensor<T>, Vec<Tensor<T>>)> {
        let tape = Tape::new();
        let x = tape.constant(input.clone());
        let s: Option<Vec<Var<'_, T>>> =
            state0.map(|s| s.iter().map(|t| tape.constant((*t).clone())).collect());
        let refs: Option<Vec<&Var<'_, T>>> = s.as_ref().map(|s| s.iter().collect());
        let params = self.param_vars(&tape);
        let (out, finals) = self.run(&x, None, refs.as_deref(), None, false, &params)?;
        Ok((
            out.value().clone(),
            finals.iter().map(|v| v.value().clone()).collect(),
        ))
    }

    /// A zero state for `batch` items: one `(layers * D, batch, H)` tensor per state part.
    pub fn zero_state(&self, batch: usize) -> Vec<Tensor<T>> {
        self.widths()
            .into_iter()
            .map(|w| Tensor::zeros(&[self.config.stacked(), batch, w]))
            .collect()
    }
}

impl<C: Cell, T: Float> Module<T> for Recurrent<C, T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        let d = self.config.directions();
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let sfx = format!("l{}{}", i / d, if i % d == 1 { "_reverse" } else { "" });
            out.push((format!("weight_ih_{sfx}"), &l.w_ih));
            if let Some(w) = &l.w_hh {
                out.push((format!("weight_hh_{sfx}"), w));
            }
            if let Some(b) = &l.b_ih {
                out.push((format!("bias_ih_{sfx}"), b));
            }
            if let Some(b) = &l.b_hh {
                out.push((format!("bias_hh_{sfx}"), b));
            }
            if let Some(w) = &l.w_hr {
                out.push((format!("weight_hr_{sfx}"), w));
            }
        }
        out
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let d = self.config.directions();
        let mut out = Vec::new();
        for (i, l) in self.layers.iter_mut().enumerate() {
            let sfx = format!("l{}{}", i / d, if i % d == 1 { "_reverse" } else { "" });
            out.push((format!("weight_ih_{sfx}"), &mut l.w_ih));
            if let Some(w) = &mut l.w_hh {
                out.push((format!("weight_hh_{sfx}"), w));
            }
            if let Some(b) = &mut l.b_ih {
                out.push((format!("bias_ih_{sfx}"), b));
            }
            if let Some(b) = &mut l.b_hh {
                out.push((format!("bias_hh_{sfx}"), b));
            }
            if let Some(w) = &mut l.w_hr {
                out.push((format!("weight_hr_{sfx}"), w));
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
