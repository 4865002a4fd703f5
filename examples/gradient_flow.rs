//! Vanishing and exploding gradients, measured; and what the gates of an LSTM and a GRU change.
//!
//! Backpropagation through time multiplies the gradient by one Jacobian per step:
//! `dL/dh_{t-1} = W_hh^T (φ'(z_t) ⊙ dL/dh_t)`, so
//! `‖dL/dh_{t-1}‖ <= ‖W_hh‖₂ · max|φ'(z_t)| · ‖dL/dh_t‖`, with `|tanh'| <= 1`, `relu' ∈ {0, 1}`
//! (and `σ' <= 1/4` for a sigmoid). Over `T` steps that is a geometric sequence: below 1 the
//! gradient vanishes, above 1 it can explode, in `f32` up to `inf` and then `NaN`.
//!
//! This example steps an `RnnCell` over a long random sequence on one tape (so every `h_t` is
//! a var) with `W_hh = s · Q` (`Q` orthogonal, so the spectral radius and `‖W_hh‖₂` are both
//! `s`), takes `L = v · h_T`, asks the tape to retain `dL/dh_t` for every step, and prints
//! `‖dL/dh_t‖` for t = T..1 for tanh and relu and several `s`, with the measured per-step rate
//! next to its bound.
//!
//! Then the gated cells on the same input and loss: an `LstmCell` (`‖dL/dh_t‖` and, along its
//! additive cell path `c_t = f ⊙ c_{t-1} + i ⊙ g`, `‖dL/dc_t‖`) and a `GruCell`
//! (`h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}`), at PyTorch's init and with a bias added to the forget
//! gate `f` (LSTM) or the update gate `z` (GRU), printed with the mean gate: the gradient
//! survives about as many steps as the gate keeps the state.
//!
//! Last, it trains an exploding configuration for a few SGD steps with and without
//! `clip_grad_norm`: without, the parameters become `NaN`; with, every update stays finite.
//!
//! ```text
//! cargo run --release --example gradient_flow                     # T = 300, H = 64
//! cargo run --release --example gradient_flow -- --cell lstm,gru  # only the gated cells
//! cargo run --release --example gradient_flow -- --quick          # CI smoke run, a second
//! ```
//!
//! Writes `gradient_flow.svg` and `norms.csv` into `--out` (default `runs/gradient_flow/`).

/// `println!` that ends the program quietly when stdout is closed (`... | head`), as a
/// command-line tool should, instead of panicking on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(141); // 128 + SIGPIPE, what a shell reports for a closed pipe
        }
    }};
}

mod plot;
use clap::Parser;
use recur::nn::optim::{Optimizer, Sgd};
use recur::nn::{
    GruCell, LstmCell, Module, Nonlinearity, Rnn, RnnCell, RnnConfig, Tape, Var, clip_grad_norm,
};
use recur::tensor::Tensor;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    about = "Measure dL/dh_t over a long sequence for RNN, LSTM and GRU: vanishing, exploding, gates, clipping",
    long_about = None
)]
struct Args {
    /// The cells to measure (rnn, lstm, gru), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "rnn,lstm,gru")]
    cell: Vec<CellKind>,
    /// Sequence length T [default: 300; --quick: 40].
    #[arg(long)]
    steps: Option<usize>,
    /// Hidden size [default: 64; --quick: 16].
    #[arg(long)]
    hidden: Option<usize>,
    /// Input size (inputs are N(0, 1)).
    #[arg(long, default_value_t = 8)]
    input: usize,
    /// Scales s of the RNN's W_hh = s * Q (Q orthogonal): the spectral radius
    /// [default: 0.5,0.9,1.0,1.1,1.5,2.0,3.0; --quick: 0.5,1.0,2.0].
    #[arg(long, value_delimiter = ',')]
    scales: Option<Vec<f64>>,
    /// Biases added to the LSTM's forget gate and the GRU's update gate (0: PyTorch's init).
    #[arg(long, value_delimiter = ',', default_value = "0,2,4")]
    gate_bias: Vec<f64>,
    /// Seed for the weights, the input and v.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory for the SVG and the CSV.
    #[arg(long, default_value = "runs/gradient_flow")]
    out: PathBuf,
    /// A smoke run for CI (T = 40, H = 16, three scales, three training steps); explicit flags
    /// override its values.
    #[arg(long)]
    quick: bool,
    /// Activation of the clipping demo (tanh or relu).
    #[arg(long, default_value = "relu")]
    clip_act: String,
    /// Scale s of the clipping demo.
    #[arg(long, default_value_t = 1.5)]
    clip_scale: f64,
    /// max_norm for clip_grad_norm.
    #[arg(long, default_value_t = 1.0)]
    max_norm: f64,
    /// SGD learning rate of the clipping demo.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// SGD steps of the clipping demo [default: 10; --quick: 3].
    #[arg(long)]
    train_steps: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum CellKind {
    Rnn,
    Lstm,
    Gru,
}

/// The settings of a run: the flags, with the preset (default or `--quick`) where none was
/// given.
struct Settings {
    cells: Vec<CellKind>,
    steps: usize,
    hidden: usize,
    input: usize,
    scales: Vec<f64>,
    gate_bias: Vec<f64>,
    seed: u64,
    out: PathBuf,
    quick: bool,
    clip_act: Nonlinearity,
    clip_scale: f64,
    max_norm: f64,
    lr: f64,
    train_steps: usize,
}

impl Settings {
    fn from_args(a: Args) -> Result<Settings, String> {
        let q = a.quick;
        let s = Settings {
            cells: a.cell,
            steps: a.steps.unwrap_or(if q { 40 } else { 300 }),
            hidden: a.hidden.unwrap_or(if q { 16 } else { 64 }),
            input: a.input,
            scales: a.scales.unwrap_or_else(|| {
                if q {
                    vec![0.5, 1.0, 2.0]
                } else {
                    vec![0.5, 0.9, 1.0, 1.1, 1.5, 2.0, 3.0]
                }
            }),
            gate_bias: a.gate_bias,
            seed: a.seed,
            out: a.out,
            quick: q,
            clip_act: a.clip_act.parse().map_err(|e| format!("--clip-act: {e}"))?,
            clip_scale: a.clip_scale,
            max_norm: a.max_norm,
            lr: a.lr,
            train_steps: a.train_steps.unwrap_or(if q { 3 } else { 10 }),
        };
        for (flag, v, max) in [
            ("--steps", s.steps, 1 << 20),
            ("--hidden", s.hidden, 4096),
            ("--input", s.input, 4096),
        ] {
            if v == 0 || v > max {
                return Err(format!("{flag} must be in 1..={max}, got {v}"));
            }
        }
        if s.cells.is_empty() {
            return Err("--cell: name at least one of rnn, lstm, gru".into());
        }
        if s.scales.iter().chain(&s.gate_bias).any(|v| !v.is_finite()) {
            return Err("--scales and --gate-bias must be finite numbers".into());
        }
        if !(s.max_norm > 0.0 && s.max_norm.is_finite() && s.lr > 0.0 && s.lr.is_finite()) {
            return Err(format!(
                "--max-norm and --lr must be positive and finite, got {} and {}",
                s.max_norm, s.lr
            ));
        }
        Ok(s)
    }
}

/// An orthogonal matrix (Gram–Schmidt on a Gaussian one), row-major `n x n`.
fn orthogonal(n: usize, seed: u64) -> Vec<f64> {
    let g = Tensor::<f64>::normal(&[n, n], 0.0, 1.0, &mut recur::seeded_rng(seed)).to_vec();
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(n);
    for i in 0..n {
        let mut v = g[i * n..(i + 1) * n].to_vec();
        for _ in 0..2 {
            // twice, for orthogonality to machine precision
            for u in &q {
                let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                for (a, b) in v.iter_mut().zip(u) {
                    *a -= d * b;
                }
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        q.push(v.iter().map(|a| a / norm).collect());
    }
    q.concat()
}

/// ‖W‖₂ by power iteration on W^T W.
fn spectral_norm(w: &[f64], n: usize) -> f64 {
    let mut x = vec![1.0 / (n as f64).sqrt(); n];
    let mut sigma = 0.0;
    for _ in 0..200 {
        let y: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| w[i * n + j] * x[j]).sum())
            .collect();
        let z: Vec<f64> = (0..n)
            .map(|j| (0..n).map(|i| w[i * n + j] * y[i]).sum())
            .collect();
        let norm = z.iter().map(|a| a * a).sum::<f64>().sqrt();
        sigma = norm.sqrt();
        x = z.iter().map(|a| a / norm).collect();
    }
    sigma
}

/// An RNN with the example's weights: PyTorch init from `seed`, then `W_hh = s Q` if a scale
/// is given.
fn model(s: &Settings, act: Nonlinearity, q: &[f64], scale: f64) -> Rnn<f32> {
    let cfg = RnnConfig::new(s.input, s.hidden).nonlinearity(act);
    let mut rnn = Rnn::<f32>::new(cfg, &mut recur::seeded_rng(s.seed)).expect("valid config");
    set_w_hh(&mut rnn, "weight_hh_l0", q, scale, s.hidden);
    rnn
}

/// Sets the parameter `name` of `m` to `scale · Q`.
fn set_w_hh(m: &mut dyn Module<f32>, name: &str, q: &[f64], scale: f64, h: usize) {
    for (n, p) in m.named_parameters_mut() {
        if n == name {
            let w: Vec<f32> = q.iter().map(|v| (scale * v) as f32).collect();
            p.set_value(Tensor::from_vec(w, &[h, h]).expect("H x H"));
        }
    }
}

/// The input sequence, one `(1, input)` tensor per step (N(0, 1)), and the readout `v`
/// `(1, H)` (U(-1, 1)) that every measurement shares: `L = v · h_T`.
fn data(s: &Settings) -> (Vec<Tensor<f32>>, Tensor<f32>) {
    let x = Tensor::<f32>::normal(
        &[s.steps, 1, s.input],
        0.0,
        1.0,
        &mut recur::seeded_rng(s.seed + 1),
    )
    .to_vec();
    let xs = x
        .chunks(s.input)
        .map(|c| Tensor::from_vec(c.to_vec(), &[1, s.input]).expect("1 x input"))
        .collect();
    let v = Tensor::<f32>::uniform(
        &[1, s.hidden],
        -1.0,
        1.0,
        &mut recur::seeded_rng(s.seed + 2),
    );
    (xs, v)
}

fn norm2(t: &Tensor<f32>) -> f64 {
    t.to_vec()
        .iter()
        .map(|&a| f64::from(a).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// `L = v · h_T` on the tape, then `‖dL/dv_t‖` for every retained var of each path, in the
/// order t = T, T-1, ..., 1 (0 where no gradient arrived).
fn backward_norms<'t>(
    h_last: &Var<'t, f32>,
    v: &Tensor<f32>,
    paths: &[&[Var<'t, f32>]],
) -> Vec<Vec<f64>> {
    let tape = h_last.tape();
    let loss = h_last
        .mul(&tape.constant(v.clone()))
        .map(|l| l.sum_all())
        .expect("scalar");
    let grads = tape.backward(&loss).expect("backward");
    paths
        .iter()
        .map(|vars| {
            vars.iter()
                .rev()
                .map(|s| grads.of(s).map_or(0.0, norm2))
                .collect()
        })
        .collect()
}

/// The geometric-mean rate per step over the stretch k = 0..=span where the norms are finite
/// and non-zero, and that span (0: no rate).
fn rate(norms: &[f64]) -> (f64, usize) {
    let span = norms
        .iter()
        .take_while(|n| n.is_finite() && **n > 0.0)
        .count()
        .saturating_sub(1);
    if span == 0 {
        return (f64::NAN, 0);
    }
    ((norms[span] / norms[0]).powf(1.0 / span as f64), span)
}

/// A cell with one state (`RnnCell`, `GruCell`), stepped on a tape.
trait OneState {
    fn step<'t>(&self, x: &Var<'t, f32>, h: Option<&Var<'t, f32>>) -> Var<'t, f32>;
}

impl OneState for RnnCell<f32> {
    fn step<'t>(&self, x: &Var<'t, f32>, h: Option<&Var<'t, f32>>) -> Var<'t, f32> {
        self.forward(x, h).expect("shapes fit")
    }
}

impl OneState for GruCell<f32> {
    fn step<'t>(&self, x: &Var<'t, f32>, h: Option<&Var<'t, f32>>) -> Var<'t, f32> {
        self.forward(x, h).expect("shapes fit")
    }
}

/// Steps `cell` over the shared input from a zero state, one var per `h_t` with its gradient
/// retained; returns `‖dL/dh_t‖` for t = T..1 and the states' values for t = 1..T.
fn unroll(st: &Settings, cell: &impl OneState) -> (Vec<f64>, Vec<Vec<f32>>) {
    let (xs, v) = data(st);
    let tape = Tape::new();
    let mut hs: Vec<Var<'_, f32>> = Vec::with_capacity(xs.len());
    for x in &xs {
        let h = cell.step(&tape.constant(x.clone()), hs.last());
        // The retained-gradient API: mark every h_t, then read dL/dh_t from the gradient store.
        hs.push(h.retain_grad());
    }
    let norms = backward_norms(hs.last().expect("T >= 1"), &v, &[&hs])
        .pop()
        .expect("one path");
    (norms, hs.iter().map(|s| s.value().to_vec()).collect())
}

/// One measured row of the RNN table.
struct Row {
    act: Nonlinearity,
    scale: f64,
    w_norm: f64,
    /// ‖dL/dh_t‖ for t = T, T-1, ..., 1 (index k is t = T - k).
    norms: Vec<f64>,
    /// Geometric mean per-step ratio over the finite, non-zero stretch.
    rate: f64,
    /// Its bound: geometric mean of ‖W_hh‖₂ · max_j |φ'(z_t)_j| over the same steps.
    bound: f64,
    /// Mean |φ'(z)| over all steps and units.
    mean_dphi: f64,
    /// The largest |h_t| of the forward pass (NaN if one is NaN).
    h_max: f64,
    /// The first t (1-based) at which the forward state is not finite.
    h_bad: Option<usize>,
}

/// The first t (1-based) whose state is not finite, and the largest |h| (NaN if one is NaN).
fn forward_health(hv: &[Vec<f32>]) -> (Option<usize>, f64) {
    let bad = hv
        .iter()
        .position(|h| h.iter().any(|v| !v.is_finite()))
        .map(|t| t + 1);
    let max = hv.iter().flatten().fold(0.0f64, |a, &b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(f64::from(b.abs()))
        }
    });
    (bad, max)
}

/// A vanilla RNN stepped as an `RnnCell`, with `W_hh = s Q`.
fn measure(st: &Settings, act: Nonlinearity, q: &[f64], s: f64) -> Row {
    let (t_len, h) = (st.steps, st.hidden);
    let mut cell = RnnCell::<f32>::new(st.input, h, true, act, &mut recur::seeded_rng(st.seed))
        .expect("valid sizes");
    set_w_hh(&mut cell, "weight_hh", q, s, h);
    let (norms, hv) = unroll(st, &cell);
    // φ'(z_t) from h_t: tanh' = 1 - h², relu' = [h > 0].
    let dphi: Vec<Vec<f64>> = hv
        .iter()
        .map(|s| {
            s.iter()
                .map(|&y| match act {
                    Nonlinearity::Tanh => 1.0 - f64::from(y).powi(2),
                    Nonlinearity::Relu => f64::from(u8::from(y > 0.0)),
                })
                .collect()
        })
        .collect();
    let w: Vec<f64> = q.iter().map(|v| s * v).collect();
    let w_norm = spectral_norm(&w, h);
    let (rate, span) = rate(&norms);
    let bound = if span > 0 {
        // Step k -> k+1 goes from h_t to h_{t-1} through φ'(z_t), t = T - k.
        let log_b: f64 = (0..span)
            .map(|k| {
                let m = dphi[t_len - 1 - k].iter().cloned().fold(0.0, f64::max);
                (w_norm * m).ln()
            })
            .sum();
        (log_b / span as f64).exp()
    } else {
        f64::NAN
    };
    let all: Vec<f64> = dphi.iter().flatten().copied().collect();
    let mean_dphi = all.iter().sum::<f64>() / all.len().max(1) as f64;
    let (h_bad, h_max) = forward_health(&hv);
    Row {
        act,
        scale: s,
        w_norm,
        norms,
        rate,
        bound,
        mean_dphi,
        h_max,
        h_bad,
    }
}

/// One path of one gated (or reference) cell at PyTorch's init.
struct GatedRow {
    cell: &'static str,
    /// The bias added to the forget (LSTM) or update (GRU) gate; NaN for the RNN.
    bias: f64,
    /// Mean of that gate over all steps and units; NaN for the RNN.
    gate: f64,
    /// "h" or "c".
    path: &'static str,
    norms: Vec<f64>,
    rate: f64,
    h_bad: Option<usize>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The mean over steps and units of gate block `block` (rows `block·H .. (block+1)·H` of the
/// cell's weights): `σ(W_i x_t + b_i + W_h h_{t-1} + b_h)`, recomputed in f64 from the
/// parameters, the inputs and the states the cell produced.
fn gate_mean(cell: &dyn Module<f32>, block: usize, xs: &[Tensor<f32>], hs: &[Vec<f32>]) -> f64 {
    let p: std::collections::HashMap<String, Vec<f32>> = cell
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_vec()))
        .collect();
    let (w_ih, w_hh, b_ih, b_hh) = (
        &p["weight_ih"],
        &p["weight_hh"],
        &p["bias_ih"],
        &p["bias_hh"],
    );
    let h = hs[0].len();
    let input = w_ih.len() / b_ih.len();
    let zeros = vec![0f32; h];
    let (mut sum, mut n) = (0.0, 0usize);
    for (t, x) in xs.iter().enumerate() {
        let x = x.to_vec();
        let h_prev = if t == 0 { &zeros } else { &hs[t - 1] };
        for j in block * h..(block + 1) * h {
            let dot = |w: &[f32], v: &[f32], k: usize| -> f64 {
                w[j * k..(j + 1) * k]
                    .iter()
                    .zip(v)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum()
            };
            let z = dot(w_ih, &x, input)
                + f64::from(b_ih[j])
                + dot(w_hh, h_prev, h)
                + f64::from(b_hh[j]);
            sum += sigmoid(z);
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// Adds `bias` to gate block 1 of `bias_ih`: the LSTM's forget gate (order i, f, g, o) or the
/// GRU's update gate (order r, z, n).
fn add_gate_bias(cell: &mut dyn Module<f32>, h: usize, bias: f64) {
    for (n, p) in cell.named_parameters_mut() {
        if n == "bias_ih" {
            let mut b = p.value().to_vec();
            for v in &mut b[h..2 * h] {
                *v += bias as f32;
            }
            let len = b.len();
            p.set_value(Tensor::from_vec(b, &[len]).expect("bias"));
        }
    }
}

/// An LSTM cell stepped over the shared input: `‖dL/dh_t‖` and `‖dL/dc_t‖`.
fn measure_lstm(st: &Settings, bias: f64) -> [GatedRow; 2] {
    let mut cell = LstmCell::<f32>::new(st.input, st.hidden, true, &mut recur::seeded_rng(st.seed))
        .expect("valid sizes");
    add_gate_bias(&mut cell, st.hidden, bias);
    let (xs, v) = data(st);
    let tape = Tape::new();
    let (mut hs, mut cs): (Vec<Var<'_, f32>>, Vec<Var<'_, f32>>) = (Vec::new(), Vec::new());
    for x in &xs {
        let state = hs.last().zip(cs.last());
        let (h, c) = cell
            .forward(&tape.constant(x.clone()), state)
            .expect("shapes fit");
        hs.push(h.retain_grad());
        cs.push(c.retain_grad());
    }
    let mut norms = backward_norms(hs.last().expect("T >= 1"), &v, &[&hs, &cs]);
    let hv: Vec<Vec<f32>> = hs.iter().map(|s| s.value().to_vec()).collect();
    let gate = gate_mean(&cell, 1, &xs, &hv);
    let (h_bad, _) = forward_health(&hv);
    let c_norms = norms.pop().expect("c path");
    let h_norms = norms.pop().expect("h path");
    let row = |path, norms: Vec<f64>| GatedRow {
        cell: "LSTM",
        bias,
        gate,
        path,
        rate: rate(&norms).0,
        norms,
        h_bad,
    };
    [row("h", h_norms), row("c", c_norms)]
}

/// A GRU cell stepped over the shared input: `‖dL/dh_t‖`.
fn measure_gru(st: &Settings, bias: f64) -> GatedRow {
    let mut cell = GruCell::<f32>::new(st.input, st.hidden, true, &mut recur::seeded_rng(st.seed))
        .expect("valid sizes");
    add_gate_bias(&mut cell, st.hidden, bias);
    let (norms, hv) = unroll(st, &cell);
    GatedRow {
        cell: "GRU",
        bias,
        gate: gate_mean(&cell, 1, &data(st).0, &hv),
        path: "h",
        rate: rate(&norms).0,
        norms,
        h_bad: forward_health(&hv).0,
    }
}

/// The tanh RNN cell at PyTorch's init (no `W_hh` override), as the gated rows' reference.
fn measure_rnn_init(st: &Settings) -> GatedRow {
    let cell = RnnCell::<f32>::new(
        st.input,
        st.hidden,
        true,
        Nonlinearity::Tanh,
        &mut recur::seeded_rng(st.seed),
    )
    .expect("valid sizes");
    let (norms, hv) = unroll(st, &cell);
    GatedRow {
        cell: "RNN tanh",
        bias: f64::NAN,
        gate: f64::NAN,
        path: "h",
        rate: rate(&norms).0,
        norms,
        h_bad: forward_health(&hv).0,
    }
}

fn sci(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        "inf".into()
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.1e}")
    }
}

fn verdict(norms: &[f64], rate: f64, h_bad: Option<usize>) -> String {
    let last = *norms.last().expect("T >= 1");
    if let Some(t) = h_bad {
        return format!("forward overflows (h_t non-finite from t={t})");
    }
    if norms.iter().any(|n| n.is_nan()) {
        "explodes to NaN"
    } else if norms.iter().any(|n| n.is_infinite()) {
        "explodes to inf"
    } else if last == 0.0 {
        "vanishes (underflow to 0)"
    } else if rate > 1.01 {
        "explodes"
    } else if rate < 0.99 {
        "vanishes"
    } else {
        "roughly flat"
    }
    .to_string()
}

/// One SGD run of the clipping demo: per step (loss, total grad norm before clipping,
/// max |param| after the update).
fn train(s: &Settings, q: &[f64], clip: Option<f64>) -> Vec<(f64, f64, f64)> {
    let mut rnn = model(s, s.clip_act, q, s.clip_scale);
    let mut opt = Sgd::<f32>::new(s.lr).expect("valid lr");
    let x = Tensor::<f32>::normal(
        &[s.steps, 1, s.input],
        0.0,
        1.0,
        &mut recur::seeded_rng(s.seed + 1),
    );
    let target = Tensor::<f32>::full(&[1, 1, s.hidden], 0.5);
    let mut out = Vec::new();
    for _ in 0..s.train_steps {
        let (loss, mut grads) = {
            let tape = Tape::new();
            let (_, h_n) = rnn
                .forward(&tape.constant(x.clone()), None)
                .expect("shapes fit");
            // L = ½ ‖h_T - y‖²
            let loss = h_n
                .sub(&tape.constant(target.clone()))
                .map(|d| d.square().sum_all().mul_scalar(0.5))
                .expect("shapes fit");
            let grads = tape.backward(&loss).expect("backward");
            (loss.value().to_vec()[0] as f64, grads)
        };
        let norm = match clip {
            Some(m) => clip_grad_norm(&mut grads, m).expect("valid max_norm"),
            None => total_norm(&grads),
        };
        opt.step_modules(&mut [&mut rnn], &grads)
            .expect("shapes fit");
        let max_p = rnn
            .named_parameters()
            .iter()
            .flat_map(|(_, p)| p.value().to_vec())
            .map(|v| v.abs() as f64)
            .fold(0.0, |a: f64, b| {
                if b.is_nan() || a.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            });
        out.push((loss, norm, max_p));
    }
    out
}

fn act_name(a: Nonlinearity) -> &'static str {
    a.as_str()
}

/// A markdown table row.
fn md_row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

/// The total 2-norm of every parameter gradient (what `clip_grad_norm` measures), without
/// touching them.
fn total_norm(grads: &recur::nn::Grads<f32>) -> f64 {
    grads
        .params()
        .flat_map(|(_, g)| g.to_vec())
        .map(|v| (v as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The columns of the norm tables: k = T - t for a few t, deduplicated.
fn columns(t_len: usize) -> (Vec<usize>, Vec<String>) {
    let mut cols: Vec<usize> = Vec::new();
    for k in [0usize, 10, 50, 100, 200, t_len - 1] {
        if k < t_len && !cols.contains(&k) {
            cols.push(k);
        }
    }
    let head = cols
        .iter()
        .map(|&k| match k {
            0 => "t=T".to_string(),
            k if k == t_len - 1 => "t=1".to_string(),
            k => format!("t=T-{k}"),
        })
        .collect();
    (cols, head)
}

fn or_dash(v: f64) -> String {
    if v.is_nan() {
        "-".to_string()
    } else {
        format!("{v:.4}")
    }
}

/// log10 of a norm curve for the plot (NaN stays NaN, 0 becomes -inf: a cross at the bottom).
fn log_curve(norms: &[f64]) -> Vec<(f64, f64)> {
    norms
        .iter()
        .enumerate()
        .map(|(k, &n)| (k as f64, if n.is_nan() { f64::NAN } else { n.log10() }))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let st = match Settings::from_args(Args::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    if st.quick {
        say!(
            "--quick: a smoke run (T = {}, H = {}); the full run is the one the docs quote",
            st.steps,
            st.hidden
        );
    }
    let q = orthogonal(st.hidden, st.seed + 3);
    let t_len = st.steps;
    let (cols, col_head) = columns(t_len);
    let has = |c: CellKind| st.cells.contains(&c);
    let mut charts = Vec::new();
    let mut csv = String::from("cell,setting,path,t,norm\n");
    let mut held = true;
    let mut finite = true;

    if has(CellKind::Rnn) {
        say!(
            "vanilla RNN (RnnCell stepped on a tape), T = {t_len}, H = {}, input {} (N(0,1)), W_hh = s·Q with Q orthogonal, L = v·h_T (v ~ U(-1,1)^H), f32",
            st.hidden,
            st.input
        );
        say!("‖dL/dh_t‖ read from the tape's retained gradients (Var::retain_grad + Grads::of)\n");
        let mut rows = Vec::new();
        for act in [Nonlinearity::Tanh, Nonlinearity::Relu] {
            for &s in &st.scales {
                rows.push(measure(&st, act, &q, s));
            }
        }
        let mut head: Vec<String> = ["act", "ρ(W_hh)", "‖W_hh‖₂"].map(String::from).to_vec();
        head.extend(col_head.iter().cloned());
        head.extend(
            [
                "rate/step",
                "bound ‖W‖₂·max φ'",
                "mean φ'",
                "max ‖h_t‖∞",
                "verdict",
            ]
            .map(String::from),
        );
        say!("{}", md_row(&head));
        say!("{}", md_row(&vec!["---".to_string(); head.len()]));
        for r in &rows {
            let mut cells = vec![
                act_name(r.act).to_string(),
                format!("{:.2}", r.scale),
                format!("{:.3}", r.w_norm),
            ];
            cells.extend(cols.iter().map(|&k| sci(r.norms[k])));
            cells.extend([
                or_dash(r.rate),
                or_dash(r.bound),
                format!("{:.3}", r.mean_dphi),
                sci(r.h_max),
                verdict(&r.norms, r.rate, r.h_bad),
            ]);
            say!("{}", md_row(&cells));
        }
        held = rows
            .iter()
            .filter(|r| !r.rate.is_nan())
            .all(|r| r.rate <= r.bound * (1.0 + 1e-4));
        say!(
            "\nrate/step: (‖dL/dh_k‖ / ‖dL/dh_T‖)^(1/(T-k)) over the stretch where the norm is finite and non-zero;"
        );
        say!(
            "bound: geometric mean over the same steps of ‖W_hh‖₂ · max_j φ'(z_t)_j (sup tanh' = sup relu' = 1; a sigmoid's would be 1/4). rate <= bound on every row: {}",
            if held { "yes" } else { "NO" }
        );
        for act in [Nonlinearity::Tanh, Nonlinearity::Relu] {
            let series = rows
                .iter()
                .filter(|r| r.act == act)
                .enumerate()
                .map(|(i, r)| plot::Series {
                    label: format!("s = {}", r.scale),
                    points: log_curve(&r.norms),
                    color: plot::PALETTE[i % plot::PALETTE.len()],
                    dashed: false,
                })
                .collect();
            charts.push(plot::Chart {
                title: format!("RNN {}: ‖dL/dh_t‖ (W_hh = s·Q, T = {t_len})", act_name(act)),
                x_label: "steps back from T (T - t)".into(),
                y_label: "‖dL/dh_t‖ (log scale)".into(),
                y_log10: true,
                y_range: None,
                series,
            });
        }
        for r in &rows {
            for (k, n) in r.norms.iter().enumerate() {
                let _ = writeln!(
                    csv,
                    "rnn {},s={},h,{},{}",
                    act_name(r.act),
                    r.scale,
                    t_len - k,
                    n
                );
            }
        }
    }

    if has(CellKind::Lstm) || has(CellKind::Gru) {
        say!(
            "\ngated cells (LstmCell, GruCell stepped on a tape) at PyTorch's init, the same input and L = v·h_T, T = {t_len}, H = {}, f32;",
            st.hidden
        );
        say!(
            "gate bias: added to the LSTM's forget gate f (c_t = f ⊙ c_(t-1) + i ⊙ g) or the GRU's update gate z (h_t = (1 - z) ⊙ n + z ⊙ h_(t-1));"
        );
        say!(
            "mean gate: the mean of f (LSTM) or z (GRU) over all steps and units. The RNN row: the tanh RNN at PyTorch's init, for reference.\n"
        );
        let reference = measure_rnn_init(&st);
        let mut rows = Vec::new();
        for &b in &st.gate_bias {
            if has(CellKind::Lstm) {
                rows.extend(measure_lstm(&st, b));
            }
        }
        for &b in &st.gate_bias {
            if has(CellKind::Gru) {
                rows.push(measure_gru(&st, b));
            }
        }
        let mut head: Vec<String> = ["cell", "gate bias", "mean gate", "‖dL/d·‖"]
            .map(String::from)
            .to_vec();
        head.extend(col_head.iter().cloned());
        head.extend(["rate/step", "verdict"].map(String::from));
        say!("{}", md_row(&head));
        say!("{}", md_row(&vec!["---".to_string(); head.len()]));
        for r in std::iter::once(&reference).chain(&rows) {
            let mut cells = vec![
                r.cell.to_string(),
                if r.bias.is_nan() {
                    "-".into()
                } else {
                    format!("{:+}", r.bias)
                },
                if r.gate.is_nan() {
                    "-".into()
                } else {
                    format!("{:.3}", r.gate)
                },
                format!("{}_t", r.path),
            ];
            cells.extend(cols.iter().map(|&k| sci(r.norms[k])));
            cells.extend([or_dash(r.rate), verdict(&r.norms, r.rate, r.h_bad)]);
            say!("{}", md_row(&cells));
        }
        say!(
            "\nAt PyTorch's init a gate sits near σ(0) = 0.5 and the gated cells' gradients vanish too; the more the gate keeps (mean gate near 1), the slower they decay. Training can move the gates there: long_range starts its LSTM and GRU at PyTorch's init and they learn to carry a value 100 steps."
        );
        for (cell, name) in [(CellKind::Lstm, "LSTM"), (CellKind::Gru, "GRU")] {
            if !has(cell) {
                continue;
            }
            let mut series = vec![plot::Series {
                label: "RNN tanh, init".into(),
                points: log_curve(&reference.norms),
                color: "#888888",
                dashed: false,
            }];
            for (i, &b) in st.gate_bias.iter().enumerate() {
                for r in rows.iter().filter(|r| r.cell == name && r.bias == b) {
                    series.push(plot::Series {
                        label: format!("{}_t, bias {:+}", r.path, b),
                        points: log_curve(&r.norms),
                        color: plot::PALETTE[i % plot::PALETTE.len()],
                        dashed: r.path == "c",
                    });
                }
            }
            charts.push(plot::Chart {
                title: if cell == CellKind::Lstm {
                    format!("LSTM: ‖dL/dh_t‖, ‖dL/dc_t‖ (dashed), bias on f, T = {t_len}")
                } else {
                    format!("GRU: ‖dL/dh_t‖, bias on the update gate z, T = {t_len}")
                },
                x_label: "steps back from T (T - t)".into(),
                y_label: "gradient norm (log scale)".into(),
                y_log10: true,
                y_range: None,
                series,
            });
        }
        for r in std::iter::once(&reference).chain(&rows) {
            let setting = if r.bias.is_nan() {
                "init".to_string()
            } else {
                format!("gate_bias={}", r.bias)
            };
            for (k, n) in r.norms.iter().enumerate() {
                let _ = writeln!(csv, "{},{setting},{},{},{}", r.cell, r.path, t_len - k, n);
            }
        }
    }

    if has(CellKind::Rnn) {
        let plain = train(&st, &q, None);
        let clipped = train(&st, &q, Some(st.max_norm));
        say!(
            "\nSGD (lr {}) on L = ½‖h_T - 0.5‖², {} RNN with s = {}, T = {t_len}: without and with clip_grad_norm(max_norm = {}); ‖θ‖∞ is the largest |weight| after the step",
            st.lr,
            act_name(st.clip_act),
            st.clip_scale,
            st.max_norm
        );
        say!(
            "| step | loss (no clip) | ‖∇‖ (no clip) | ‖θ‖∞ (no clip) | loss (clipped) | ‖∇‖ before clip | ‖θ‖∞ (clipped) |"
        );
        say!("|---|---|---|---|---|---|---|");
        for (k, (a, b)) in plain.iter().zip(&clipped).enumerate() {
            say!(
                "| {k} | {} | {} | {} | {} | {} | {} |",
                sci(a.0),
                sci(a.1),
                sci(a.2),
                sci(b.0),
                sci(b.1),
                sci(b.2)
            );
        }
        finite = clipped.iter().all(|r| r.2.is_finite());
        let broke = plain.iter().position(|r| !r.2.is_finite());
        say!(
            "clipped updates stay finite: {}; unclipped parameters: {}",
            if finite { "yes" } else { "NO" },
            match broke {
                Some(k) => format!("non-finite after step {k}"),
                None => "finite throughout".into(),
            }
        );
        let run = |v: &[(f64, f64, f64)], i: usize| -> Vec<(f64, f64)> {
            v.iter()
                .enumerate()
                .map(|(k, r)| (k as f64, [r.0, r.1, r.2][i].log10()))
                .collect()
        };
        let line = |label: &str, points, color, dashed| plot::Series {
            label: label.into(),
            points,
            color,
            dashed,
        };
        charts.push(plot::Chart {
            title: format!(
                "SGD on RNN {} s = {}: clip_grad_norm({})",
                act_name(st.clip_act),
                st.clip_scale,
                st.max_norm
            ),
            x_label: "SGD step".into(),
            y_label: "log scale".into(),
            y_log10: true,
            y_range: None,
            series: vec![
                line("‖∇‖, no clip", run(&plain, 1), plot::PALETTE[1], false),
                line("‖θ‖∞, no clip", run(&plain, 2), plot::PALETTE[1], true),
                line("‖∇‖ before clip", run(&clipped, 1), plot::PALETTE[0], false),
                line("‖θ‖∞, clipped", run(&clipped, 2), plot::PALETTE[0], true),
            ],
        });
    }

    let svg = plot::grid(
        &charts,
        3,
        560.0,
        380.0,
        "crosses: the first inf/NaN (top) or underflow to 0 (bottom) of a line. recur examples/gradient_flow",
    );
    let svg_path = st.out.join("gradient_flow.svg");
    plot::write_atomic(&svg_path, svg.as_bytes())?;
    plot::write_atomic(&st.out.join("norms.csv"), csv.as_bytes())?;
    say!(
        "\nwrote {} and norms.csv in {:.2}s",
        svg_path.display(),
        start.elapsed().as_secs_f64()
    );
    if !held || !finite {
        return Err("a check failed (see above)".into());
    }
    Ok(())
}
