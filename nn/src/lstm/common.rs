//! What `LSTM` and `GRU` share with each other (and, in spirit, with `RNN`): the settings
//! struct, PyTorch's shape checks in PyTorch's order, the parameter layout and init, the
//! layer-by-layer and direction-by-direction driver, dropout between layers, and GEMM views.

use crate::error::{NnError, Result};
use crate::init::uniform_param;
use rand::SeedableRng;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::gemm::{MatMut, MatRef};
use recur_tensor::{Float, Tensor};
use std::cell::Cell;

/// Declares the settings struct of a gated recurrent module (`LSTM`, `GRU`): PyTorch's
/// constructor arguments with its defaults, a builder, validation with PyTorch's messages, and
/// PyTorch's printed form.
macro_rules! gated_config {
    ($(#[$doc:meta])* $name:ident, $torch:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            /// Features per input step.
            pub input_size: usize,
            /// Features of the hidden state.
            pub hidden_size: usize,
            /// Stacked layers (default 1).
            pub num_layers: usize,
            /// Whether the layers have `b_ih` and `b_hh` (default true).
            pub bias: bool,
            /// Input and output as `(batch, seq, feature)` (default false: `(seq, batch, feature)`).
            pub batch_first: bool,
            /// Dropout probability on the outputs of every layer but the last (default 0).
            pub dropout: f64,
            /// A second, reverse direction per layer (default false).
            pub bidirectional: bool,
        }

        impl $name {
            #[doc = concat!("`", $torch, "(input_size, hidden_size)` with PyTorch's defaults.")]
            ///
            /// ```
            #[doc = concat!("let c = recur_nn::", stringify!($name), "::new(3, 4);")]
            #[doc = concat!("assert_eq!((c.num_layers, c.bias, c.batch_first, c.dropout, c.bidirectional), (1, true, false, 0.0, false));")]
            /// ```
            pub fn new(input_size: usize, hidden_size: usize) -> Self {
                $name {
                    input_size,
                    hidden_size,
                    num_layers: 1,
                    bias: true,
                    batch_first: false,
                    dropout: 0.0,
                    bidirectional: false,
                }
            }
            /// Sets `num_layers`.
            ///
            /// ```
            #[doc = concat!("assert_eq!(recur_nn::", stringify!($name), "::new(3, 4).num_layers(2).num_layers, 2);")]
            /// ```
            pub fn num_layers(mut self, n: usize) -> Self {
                self.num_layers = n;
                self
            }
            /// Sets `bias`.
            ///
            /// ```
            #[doc = concat!("assert!(!recur_nn::", stringify!($name), "::new(3, 4).bias(false).bias);")]
            /// ```
            pub fn bias(mut self, b: bool) -> Self {
                self.bias = b;
                self
            }
            /// Sets `batch_first`.
            ///
            /// ```
            #[doc = concat!("assert!(recur_nn::", stringify!($name), "::new(3, 4).batch_first(true).batch_first);")]
            /// ```
            pub fn batch_first(mut self, b: bool) -> Self {
                self.batch_first = b;
                self
            }
            /// Sets `dropout`.
            ///
            /// ```
            #[doc = concat!("assert_eq!(recur_nn::", stringify!($name), "::new(3, 4).dropout(0.5).dropout, 0.5);")]
            /// ```
            pub fn dropout(mut self, p: f64) -> Self {
                self.dropout = p;
                self
            }
            /// Sets `bidirectional`.
            ///
            /// ```
            #[doc = concat!("assert!(recur_nn::", stringify!($name), "::new(3, 4).bidirectional(true).bidirectional);")]
            /// ```
            pub fn bidirectional(mut self, b: bool) -> Self {
                self.bidirectional = b;
                self
            }
            /// Number of directions: 2 if bidirectional, else 1.
            ///
            /// ```
            #[doc = concat!("assert_eq!(recur_nn::", stringify!($name), "::new(3, 4).directions(), 1);")]
            #[doc = concat!("assert_eq!(recur_nn::", stringify!($name), "::new(3, 4).bidirectional(true).directions(), 2);")]
            /// ```
            pub fn directions(&self) -> usize {
                if self.bidirectional { 2 } else { 1 }
            }

            /// Checks the settings with PyTorch's messages, in PyTorch's order.
            ///
            /// # Errors
            /// `dropout should be a number in range [0, 1] ...`, `input_size must be greater
            /// than zero`, and the same for `hidden_size` and `num_layers`.
            ///
            /// ```
            #[doc = concat!("let e = recur_nn::", stringify!($name), "::new(0, 4).validate().unwrap_err();")]
            #[doc = concat!("assert_eq!(e.to_string(), \"input_size must be greater than zero\");")]
            #[doc = concat!("assert!(recur_nn::", stringify!($name), "::new(3, 4).dropout(1.0).validate().is_ok());")]
            /// ```
            pub fn validate(&self) -> Result<()> {
                $crate::lstm::common::validate(
                    self.dropout,
                    self.input_size,
                    self.hidden_size,
                    self.num_layers,
                )
            }

            pub(crate) fn geometry(&self) -> $crate::lstm::common::Geometry {
                $crate::lstm::common::Geometry {
                    name: $torch,
                    input_size: self.input_size,
                    hidden_size: self.hidden_size,
                    num_layers: self.num_layers,
                    directions: self.directions(),
                    batch_first: self.batch_first,
                    bias: self.bias,
                    dropout: self.dropout,
                }
            }
        }

        impl std::fmt::Display for $name {
            #[doc = concat!("PyTorch's printed form, only non-default fields: `", $torch,
                "(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)`.")]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::lstm::common::display(f, &self.geometry())
            }
        }
    };
}
pub(crate) use gated_config;

/// The facts about a stack that the shared code needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub name: &'static str,
    pub input_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub directions: usize,
    pub batch_first: bool,
    pub bias: bool,
    pub dropout: f64,
}

impl Geometry {
    /// `num_layers * directions`: the leading dim of h0 / h_n.
    pub fn stacked(&self) -> usize {
        self.num_layers * self.directions
    }
}

pub(crate) fn validate(
    dropout: f64,
    input_size: usize,
    hidden_size: usize,
    num_layers: usize,
) -> Result<()> {
    if !(0.0..=1.0).contains(&dropout) {
        return Err(NnError::Config(
            "dropout should be a number in range [0, 1] representing the probability of an element being zeroed".into(),
        ));
    }
    for (name, v) in [
        ("input_size", input_size),
        ("hidden_size", hidden_size),
        ("num_layers", num_layers),
    ] {
        if v == 0 {
            return Err(NnError::Config(format!("{name} must be greater than zero")));
        }
    }
    Ok(())
}

pub(crate) fn display(f: &mut std::fmt::Formatter<'_>, g: &Geometry) -> std::fmt::Result {
    write!(f, "{}({}, {}", g.name, g.input_size, g.hidden_size)?;
    if g.num_layers != 1 {
        write!(f, ", num_layers={}", g.num_layers)?;
    }
    if !g.bias {
        f.write_str(", bias=False")?;
    }
    if g.batch_first {
        f.write_str(", batch_first=True")?;
    }
    if g.dropout != 0.0 {
        write!(f, ", dropout={}", g.dropout)?;
    }
    if g.directions == 2 {
        f.write_str(", bidirectional=True")?;
    }
    f.write_str(")")
}

/// An input normalised to `(seq, batch, feature)`, with how to undo it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Normalised {
    pub unbatched: bool,
    pub steps: usize,
    pub batch: usize,
}

/// PyTorch's forward checks, in its order: input rank, state ranks, feature size, state
/// shapes, sequence length. `hx` holds the shapes of the given initial states (one for GRU,
/// `(h0, c0)` for LSTM; empty when none was given); the messages follow PyTorch's wording for
/// one state (`hx should also be 3-D`, `Expected hidden size`) or two (`hx and cx should also
/// be 3-D`, `Expected hidden[0] size`).
pub(crate) fn check_forward(g: &Geometry, input: &[usize], hx: &[&[usize]]) -> Result<Normalised> {
    let rank = input.len();
    if rank != 2 && rank != 3 {
        return Err(NnError::Input(format!(
            "{}: Expected input to be 2D or 3D, got {rank}D instead",
            g.name
        )));
    }
    let unbatched = rank == 2;
    let want = if unbatched { 2 } else { 3 };
    if hx.iter().any(|h| h.len() != want) {
        let (what, form) = if unbatched {
            ("unbatched 2-D", "2-D")
        } else {
            ("batched 3-D", "3-D")
        };
        return Err(NnError::Input(match hx {
            [h] => format!(
                "For {what} input, hx should also be {form} but got {}-D tensor",
                h.len()
            ),
            _ => format!(
                "For {what} input, hx and cx should also be {form} but got ({}) tensors",
                hx.iter()
                    .map(|h| format!("{}-D", h.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    }
    if input[rank - 1] != g.input_size {
        return Err(NnError::Input(format!(
            "input.size(-1) must be equal to input_size. Expected {}, got {}",
            g.input_size,
            input[rank - 1]
        )));
    }
    let (steps, batch) = match (unbatched, g.batch_first) {
        (true, _) => (input[0], 1),
        (false, false) => (input[0], input[1]),
        (false, true) => (input[1], input[0]),
    };
    let expected = [g.stacked(), batch, g.hidden_size];
    for (k, h) in hx.iter().enumerate() {
        let got: Vec<usize> = if unbatched {
            vec![h[0], 1, h[1]]
        } else {
            h.to_vec()
        };
        if got != expected {
            let which = if hx.len() == 1 {
                String::new()
            } else {
                format!("[{k}]")
            };
            return Err(NnError::Input(format!(
                "Expected hidden{which} size ({}, {}, {}), got {got:?}",
                expected[0], expected[1], expected[2]
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

/// PyTorch's checks on variable lengths: the RNN's, shared.
pub(crate) use crate::rnn::check_lengths;

/// The cell-level checks of `LSTMCell` / `GRUCell`, in PyTorch's order: input rank, the
/// rank of each state, the feature size, then per state its rank after the batch dim is
/// added, its batch size and its hidden size. Returns whether the input is batched and the
/// batch size.
pub(crate) fn check_cell(
    name: &str,
    input_size: usize,
    hidden_size: usize,
    input: &[usize],
    hx: &[&[usize]],
) -> Result<(bool, usize)> {
    if input.len() != 1 && input.len() != 2 {
        return Err(NnError::Input(format!(
            "{name}: Expected input to be 1D or 2D, got {}D instead",
            input.len()
        )));
    }
    for (k, h) in hx.iter().enumerate() {
        if h.len() != 1 && h.len() != 2 {
            let which = if hx.len() == 1 {
                "hidden".to_string()
            } else {
                format!("hx[{k}]")
            };
            return Err(NnError::Input(format!(
                "{name}: Expected {which} to be 1D or 2D, got {}D instead",
                h.len()
            )));
        }
    }
    let batched = input.len() == 2;
    let batch = if batched { input[0] } else { 1 };
    let feat = input[input.len() - 1];
    if feat != input_size {
        return Err(NnError::Input(format!(
            "input has inconsistent input_size: got {feat} expected {input_size}"
        )));
    }
    for (k, h) in hx.iter().enumerate() {
        // PyTorch adds the batch dim to an unbatched call's states before checking them.
        let rank = h.len() + usize::from(!batched);
        if rank != 2 {
            return Err(NnError::Input(format!(
                "Expected 2D hidden{k} (batch x hidden_size), but got {rank}D tensor"
            )));
        }
        let (hb, hh) = if batched { (h[0], h[1]) } else { (1, h[0]) };
        if hb != batch {
            return Err(NnError::Input(format!(
                "Input batch size {batch} doesn't match hidden{k} batch size {hb}"
            )));
        }
        if hh != hidden_size {
            return Err(NnError::Input(format!(
                "hidden{k} has inconsistent hidden_size: got {hh}, expected {hidden_size}"
            )));
        }
    }
    Ok((batched, batch))
}

/// The parameters of one layer and direction: `W_ih (G*H, in)`, `W_hh (G*H, H)`, and the
/// two biases `(G*H)` when the module has them (`G` = 4 for LSTM, 3 for GRU).
#[derive(Debug)]
pub(crate) struct LayerParams<T: Float> {
    pub w_ih: Param<T>,
    pub w_hh: Param<T>,
    pub b_ih: Option<Param<T>>,
    pub b_hh: Option<Param<T>>,
}

impl<T: Float> LayerParams<T> {
    /// PyTorch's init: every parameter from U(-1/sqrt(H), 1/sqrt(H)), in parameter order.
    pub fn init<R: rand::Rng + ?Sized>(
        gates: usize,
        input: usize,
        hidden: usize,
        bias: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let k = if hidden > 0 {
            1.0 / (hidden as f64).sqrt()
        } else {
            0.0
        };
        let rows = gates.checked_mul(hidden).ok_or_else(|| {
            NnError::Config(format!("hidden_size {hidden} x {gates} gates overflows"))
        })?;
        let w_ih = uniform_param(&[rows, input], k, rng)?;
        let w_hh = uniform_param(&[rows, hidden], k, rng)?;
        let (b_ih, b_hh) = if bias {
            (
                Some(uniform_param(&[rows], k, rng)?),
                Some(uniform_param(&[rows], k, rng)?),
            )
        } else {
            (None, None)
        };
        Ok(LayerParams {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        })
    }

    /// All layers and directions of a stack, in PyTorch's order.
    pub fn stack<R: rand::Rng + ?Sized>(
        gates: usize,
        g: &Geometry,
        rng: &mut R,
    ) -> Result<Vec<Self>> {
        let mut out = Vec::with_capacity(g.stacked());
        for layer in 0..g.num_layers {
            let input = if layer == 0 {
                g.input_size
            } else {
                g.hidden_size * g.directions
            };
            for _ in 0..g.directions {
                out.push(Self::init(gates, input, g.hidden_size, g.bias, rng)?);
            }
        }
        Ok(out)
    }
}

/// `l{k}` or `l{k}_reverse` for entry `i` of a stack with `d` directions.
fn suffix(i: usize, d: usize) -> String {
    format!("l{}{}", i / d, if i % d == 1 { "_reverse" } else { "" })
}

/// PyTorch's names and order: `weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
/// weight_ih_l0_reverse, ...`.
pub(crate) fn named<T: Float>(cells: &[LayerParams<T>], d: usize) -> Vec<(String, &Param<T>)> {
    let mut out = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let sfx = suffix(i, d);
        out.push((format!("weight_ih_{sfx}"), &c.w_ih));
        out.push((format!("weight_hh_{sfx}"), &c.w_hh));
        if let (Some(b_ih), Some(b_hh)) = (&c.b_ih, &c.b_hh) {
            out.push((format!("bias_ih_{sfx}"), b_ih));
            out.push((format!("bias_hh_{sfx}"), b_hh));
        }
    }
    out
}

/// Mutable form of [`named`].
pub(crate) fn named_mut<T: Float>(
    cells: &mut [LayerParams<T>],
    d: usize,
) -> Vec<(String, &mut Param<T>)> {
    let mut out = Vec::new();
    for (i, c) in cells.iter_mut().enumerate() {
        let sfx = suffix(i, d);
        out.push((format!("weight_ih_{sfx}"), &mut c.w_ih));
        out.push((format!("weight_hh_{sfx}"), &mut c.w_hh));
        if let (Some(b_ih), Some(b_hh)) = (&mut c.b_ih, &mut c.b_hh) {
            out.push((format!("bias_ih_{sfx}"), b_ih));
            out.push((format!("bias_hh_{sfx}"), b_hh));
        }
    }
    out
}

/// Checks that `params` has the module's parameter shapes (for `forward_with_params`).
pub(crate) fn check_params<T: Float>(
    name: &str,
    own: &[(String, &Param<T>)],
    params: &[Var<'_, T>],
) -> Result<()> {
    if params.len() != own.len() {
        return Err(NnError::Input(format!(
            "{name}: expected {} parameters, got {}",
            own.len(),
            params.len()
        )));
    }
    for ((pname, p), v) in own.iter().zip(params) {
        if p.value().dims() != v.dims() {
            return Err(NnError::Input(format!(
                "{name}: parameter {pname} should have shape {}, got {}",
                p.value().shape(),
                v.shape()
            )));
        }
    }
    Ok(())
}

/// Inverted dropout between layers, with an independent mask per element drawn from the
/// module's own seeded stream (reproducible, and resumable through the call counter).
#[derive(Debug)]
pub(crate) struct DropoutStream {
    pub seed: u64,
    pub calls: Cell<u64>,
}

impl DropoutStream {
    pub fn new<R: rand::Rng + ?Sized>(rng: &mut R) -> Self {
        DropoutStream {
            seed: rng.next_u64(),
            calls: Cell::new(0),
        }
    }

    pub fn apply<'t, T: Float>(
        &self,
        tape: &'t Tape<T>,
        x: &Var<'t, T>,
        p: f64,
    ) -> Result<Var<'t, T>> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        let mut rng =
            rand::rngs::StdRng::seed_from_u64(self.seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mask = crate::dropout::mask::<T, _>(x.dims(), p, &mut rng);
        Ok(x.mul(&tape.constant(mask))?)
    }
}

/// The output of one layer and direction: its output sequence `(L, N, H)` and its final
/// states (`h_n`, and `c_n` for LSTM), each `(N, H)`.
pub(crate) type LayerOut<'t, T> = (Var<'t, T>, Vec<Var<'t, T>>);

/// Runs a stack: normalises the input to `(L, N, in)` and every initial state to
/// `(layers * D, N, H)` (zeros when not given), calls `layer(k, dir, x, states0, params)` for
/// every layer `k` and direction (the `k * D + dir`-th slice of each initial state and that
/// layer's parameter vars), concatenates the directions, applies dropout between layers, and
/// returns the output and the stacked final states in PyTorch's shapes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_stack<'t, T: Float>(
    g: &Geometry,
    n: Normalised,
    tape: &'t Tape<T>,
    input: &Var<'t, T>,
    states0: &[Option<&Var<'t, T>>],
    params: &[Var<'t, T>],
    dropout: Option<&DropoutStream>,
    mut layer: impl FnMut(
        usize,
        usize,
        &Var<'t, T>,
        &[Var<'t, T>],
        &[Var<'t, T>],
    ) -> Result<LayerOut<'t, T>>,
) -> Result<(Var<'t, T>, Vec<Var<'t, T>>)> {
    let (h, d) = (g.hidden_size, g.directions);
    let mut x = if n.unbatched {
        input.unsqueeze(1usize)?
    } else if g.batch_first {
        input.transpose(0usize, 1)?
    } else {
        input.clone()
    };
    let states0: Vec<Var<'t, T>> = states0
        .iter()
        .map(|s| match s {
            Some(s) if n.unbatched => Ok(s.unsqueeze(1usize)?),
            Some(s) => Ok((*s).clone()),
            None => Ok(tape.constant(Tensor::zeros(&[g.stacked(), n.batch, h]))),
        })
        .collect::<Result<_>>()?;
    let per_cell = if g.bias { 4 } else { 2 };
    let mut finals: Vec<Vec<Var<'t, T>>> = vec![Vec::with_capacity(g.stacked()); states0.len()];
    for k in 0..g.num_layers {
        let mut outs = Vec::with_capacity(d);
        for dir in 0..d {
            let i = k * d + dir;
            let s0: Vec<Var<'t, T>> = states0
                .iter()
                .map(|s| s.select(0usize, i))
                .collect::<recur_autograd::Result<_>>()?;
            let (out, fin) = layer(k, dir, &x, &s0, &params[i * per_cell..(i + 1) * per_cell])?;
            for (dst, f) in finals.iter_mut().zip(fin) {
                dst.push(f);
            }
            outs.push(out);
        }
        x = if d == 1 {
            outs.pop().expect("one direction")
        } else {
            Var::concat(&[&outs[0], &outs[1]], 2usize)?
        };
        if let Some(stream) = dropout
            && g.dropout > 0.0
            && k + 1 < g.num_layers
        {
            x = stream.apply(tape, &x, g.dropout)?;
        }
    }
    let mut states = Vec::with_capacity(finals.len());
    for f in &finals {
        let refs: Vec<&Var<'t, T>> = f.iter().collect();
        let s = Var::stack(&refs, 0usize)?;
        states.push(if n.unbatched { s.squeeze(1usize)? } else { s });
    }
    let out = if n.unbatched {
        x.squeeze(1usize)?
    } else if g.batch_first {
        x.transpose(0usize, 1)?
    } else {
        x
    };
    Ok((out, states))
}

/// A dense row-major matrix view of `rows x cols` starting at `offset`.
pub(crate) fn dense<T>(data: &[T], offset: usize, rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef {
        data,
        offset,
        rows,
        cols,
        rs: cols,
        cs: 1,
    }
}

/// A dense row-major mutable view of the whole of `data` as `rows x cols`.
pub(crate) fn dense_mut<T>(data: &mut [T], rows: usize, cols: usize) -> MatMut<'_, T> {
    MatMut::row_major(data, rows, cols)
}

/// A 2-D tensor as a strided view (no copy).
pub(crate) fn view<T: Float>(w: &Tensor<T>) -> MatRef<'_, T> {
    let l = w.layout();
    MatRef {
        data: w.storage(),
        offset: l.offset,
        rows: l.dims()[0],
        cols: l.dims()[1],
        rs: l.strides[0],
        cs: l.strides[1],
    }
}

/// `tanh` of every element, in place: the one place the fused LSTM and GRU layers apply it
/// (so a vectorised kernel can be swapped in here).
#[inline]
pub(crate) fn tanh_in_place<T: Float>(v: &mut [T]) {
    T::tanh_slice(v);
}

/// The logistic sigmoid of every element, in place (see [`tanh_in_place`]).
#[inline]
pub(crate) fn sigmoid_in_place<T: Float>(v: &mut [T]) {
    if T::DTYPE == "float64" {
        // f64 is what references and gradient checks run in: keep the exact form.
        for x in v {
            *x = recur_tensor::sigmoid(*x);
        }
        return;
    }
    // sigmoid(x) = (1 + tanh(x / 2)) / 2: one SIMD tanh pass.
    let half = T::from_f64(0.5);
    for x in v.iter_mut() {
        *x *= half;
    }
    T::tanh_slice(v);
    for x in v.iter_mut() {
        *x = (*x + T::ONE) * half;
    }
}

/// Column sums of a row-major `rows x cols` buffer (a bias gradient).
pub(crate) fn col_sums<T: Float>(data: &[T], cols: usize) -> Vec<T> {
    let mut g = vec![T::ZERO; cols];
    if cols > 0 {
        for row in data.chunks_exact(cols) {
            for (a, &v) in g.iter_mut().zip(row) {
                *a += v;
            }
        }
    }
    g
}

/// The input-side gradients of a fused gated layer over all steps at once, each one GEMM:
/// `dX = dZ W_ih` (`[rows, gates] x [gates, in]`) and `dW_ih = dZ^T X`
/// (`[gates, rows] x [rows, in]`), computed only where `need_x` / `need_w` ask.
pub(crate) fn input_side_grads<T: Float>(
    dz: &[T],
    rows: usize,
    gates: usize,
    x: &Tensor<T>,
    w_ih: &Tensor<T>,
    need_x: bool,
    need_w: bool,
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    let input = w_ih.dims()[1];
    let dz_all = dense(dz, 0, rows, gates);
    let gx = need_x.then(|| {
        let mut gx = vec![T::ZERO; rows * input];
        recur_tensor::gemm::gemm(
            T::ONE,
            dz_all,
            view(w_ih),
            T::ZERO,
            dense_mut(&mut gx, rows, input),
        );
        gx
    });
    let gw = need_w.then(|| {
        let mut g = vec![T::ZERO; gates * input];
        let xm = dense(x.storage(), x.layout().offset, rows, input);
        recur_tensor::gemm::gemm(
            T::ONE,
            dz_all.t(),
            xm,
            T::ZERO,
            dense_mut(&mut g, gates, input),
        );
        g
    });
    (gx, gw)
}
