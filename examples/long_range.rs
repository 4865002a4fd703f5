//! The adding problem: can a recurrent network carry information across T steps?
//!
//! Each input step is a pair `(value, marker)`: the values are U(0, 1), and exactly two steps
//! are marked, one in the first half of the sequence and one in the second. The target is the
//! sum of the two marked values, read from the last step's hidden state through a linear
//! head. Predicting the mean (1.0) always gives an MSE of 1/6 ≈ 0.167; a model that solves
//! the task gets far below that. The first marker can be up to T steps before the output, so
//! the gradient that would teach the model to keep it must survive T steps of backpropagation.
//!
//! A vanilla RNN, an LSTM and a GRU with the same hidden size are trained with the same budget
//! (steps, batch, Adam, gradient clipping) for each T, and their final test MSE is tabulated
//! with their parameter counts and their measured time per training step: the RNN is cheap
//! and fine for short sequences and fails for long ones; the gated models hold up, at 3x (GRU)
//! and 4x (LSTM) the RNN's parameters and about 4-8x its time per step.
//!
//! Knowing only the nearer (second) marker's value gives an MSE of 1/12 ≈ 0.083 (the first
//! value's variance). A second table splits the final test error by how many steps the nearer
//! marker lies before the output, which shows what a failing model does and does not use. A
//! third shows what the gates learned: per unit, the mean of the LSTM's forget gate and the
//! GRU's update gate over the test sequences, at init and after training.
//!
//! ```text
//! cargo run --release --example long_range                 # T in {10, 50, 100}; ~30 s, 1 thread
//! cargo run --release --example long_range -- --lengths 10,50,100,200 --threads 2
//! cargo run --release --example long_range -- --quick      # CI smoke run, a second
//! ```
//!
//! Runs the trainings on `--threads` worker threads (default 1, so the time per step is not
//! shared with a second training), and writes `long_range.svg` (the learning curves, with the
//! 1/6 and 1/12 levels) and `results.csv` into `--out` (default `runs/long_range/`).

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
use indicatif::{ProgressBar, ProgressStyle};
use recur::nn::loss::{Reduction, mse_loss};
use recur::nn::optim::{Adam, Optimizer};
use recur::nn::{
    Gru, GruConfig, Linear, Lstm, LstmConfig, Module, Rnn, RnnConfig, Tape, Var, clip_grad_norm,
};
use recur::rand::RngExt;
use recur::tensor::Tensor;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Parser, Debug, Clone)]
#[command(
    about = "The adding problem for RNN, LSTM and GRU: where the vanilla RNN stops and the gates carry on",
    long_about = None
)]
struct Args {
    /// Sequence lengths T [default: 10,50,100; --quick: 5,10].
    #[arg(long, value_delimiter = ',')]
    lengths: Option<Vec<usize>>,
    /// Hidden size of every model [default: 32; --quick: 8].
    #[arg(long)]
    hidden: Option<usize>,
    /// Training steps, the same budget for every model [default: 2000; --quick: 60].
    #[arg(long)]
    steps: Option<usize>,
    /// Sequences per training step [default: 64; --quick: 16].
    #[arg(long)]
    batch: Option<usize>,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// clip_grad_norm max_norm.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Test sequences per T [default: 1000; --quick: 64].
    #[arg(long)]
    test: Option<usize>,
    /// Evaluations on the test set during training, for the curves [default: 30; --quick: 4].
    #[arg(long)]
    evals: Option<usize>,
    /// MSE below which a run counts as solved.
    #[arg(long, default_value_t = 0.01)]
    solved: f64,
    /// Worker threads, each training on one; with more than one, the trainings share the
    /// cores and the time per step includes that contention.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed for the data and the initialisations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "runs/long_range")]
    out: PathBuf,
    /// A smoke run for CI (T in {5, 10}, hidden 8, 60 steps of batch 16): it checks that the
    /// example runs, not the lesson. Explicit flags override its values.
    #[arg(long)]
    quick: bool,
}

/// The run's settings: the flags given, else the preset's (the default or `--quick`).
#[derive(Debug, Clone)]
struct Settings {
    lengths: Vec<usize>,
    hidden: usize,
    steps: usize,
    batch: usize,
    lr: f64,
    clip: f64,
    test: usize,
    evals: usize,
    solved: f64,
    threads: usize,
    seed: u64,
    out: PathBuf,
    quick: bool,
}

impl Settings {
    fn from_args(a: Args) -> Result<Settings, String> {
        let q = a.quick;
        let pick =
            |v: Option<usize>, full: usize, quick: usize| v.unwrap_or(if q { quick } else { full });
        let s = Settings {
            lengths: a
                .lengths
                .unwrap_or_else(|| if q { vec![5, 10] } else { vec![10, 50, 100] }),
            hidden: pick(a.hidden, 32, 8),
            steps: pick(a.steps, 2000, 60),
            batch: pick(a.batch, 64, 16),
            lr: a.lr,
            clip: a.clip,
            test: pick(a.test, 1000, 64),
            evals: pick(a.evals, 30, 4),
            solved: a.solved,
            threads: a.threads,
            seed: a.seed,
            out: a.out,
            quick: q,
        };
        if s.lengths.is_empty() || s.lengths.iter().any(|&t| t < 2) {
            return Err(format!(
                "--lengths {:?}: every sequence length must be at least 2 (two marked steps)",
                s.lengths
            ));
        }
        for (flag, v) in [
            ("--hidden", s.hidden),
            ("--steps", s.steps),
            ("--batch", s.batch),
            ("--test", s.test),
            ("--evals", s.evals),
            ("--threads", s.threads),
        ] {
            if v == 0 {
                return Err(format!("{flag} must be at least 1, got 0"));
            }
        }
        // A hostile size: refuse what cannot be allocated instead of aborting in the allocator.
        let longest = *s.lengths.iter().max().expect("non-empty");
        let cells = longest
            .checked_mul(s.batch.max(s.test.min(250)))
            .and_then(|n| n.checked_mul(s.hidden))
            .filter(|&n| n <= 1 << 31);
        if cells.is_none() {
            return Err(format!(
                "T = {longest} x batch {} x hidden {}: too large for this example",
                s.batch, s.hidden
            ));
        }
        if !(s.lr > 0.0 && s.lr.is_finite() && s.clip > 0.0 && s.clip.is_finite()) {
            return Err(format!(
                "--lr and --clip must be positive and finite, got {} and {}",
                s.lr, s.clip
            ));
        }
        Ok(s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Rnn,
    Lstm,
    Gru,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Rnn, Kind::Lstm, Kind::Gru];
    fn name(self) -> &'static str {
        match self {
            Kind::Rnn => "RNN",
            Kind::Lstm => "LSTM",
            Kind::Gru => "GRU",
        }
    }
}

/// A recurrent layer and a linear head on its last state.
struct Model {
    net: Net,
    head: Linear<f32>,
}

enum Net {
    Rnn(Rnn<f32>),
    Lstm(Lstm<f32>),
    Gru(Gru<f32>),
}

impl Model {
    fn new(kind: Kind, hidden: usize, seed: u64) -> recur::nn::Result<Model> {
        let mut rng = recur::seeded_rng(seed);
        let net = match kind {
            Kind::Rnn => Net::Rnn(Rnn::new(RnnConfig::new(2, hidden), &mut rng)?),
            Kind::Lstm => Net::Lstm(Lstm::new(LstmConfig::new(2, hidden), &mut rng)?),
            Kind::Gru => Net::Gru(Gru::new(GruConfig::new(2, hidden), &mut rng)?),
        };
        Ok(Model {
            net,
            head: Linear::new(hidden, 1, &mut rng)?,
        })
    }

    fn recurrent(&self) -> &dyn Module<f32> {
        match &self.net {
            Net::Rnn(m) => m,
            Net::Lstm(m) => m,
            Net::Gru(m) => m,
        }
    }

    /// Predictions `(B, 1)` for input `(T, B, 2)`, on the tape.
    fn forward<'t>(&self, x: &Var<'t, f32>) -> recur::nn::Result<Var<'t, f32>> {
        let h_n = match &self.net {
            Net::Rnn(m) => m.forward(x, None)?.1,
            Net::Lstm(m) => m.forward(x, None)?.1.0,
            Net::Gru(m) => m.forward(x, None)?.1,
        };
        self.head.forward(&h_n.squeeze(0usize)?)
    }

    /// Predictions without a tape.
    fn predict(&self, x: &Tensor<f32>) -> recur::nn::Result<Tensor<f32>> {
        let h_n = match &self.net {
            Net::Rnn(m) => m.forward_tensor(x, None)?.1,
            Net::Lstm(m) => m.forward_tensor(x, None)?.1.0,
            Net::Gru(m) => m.forward_tensor(x, None)?.1,
        };
        self.head.forward_tensor(&h_n.squeeze(0usize)?)
    }

    fn step(
        &mut self,
        opt: &mut Adam<f32>,
        grads: &recur::nn::Grads<f32>,
    ) -> recur::nn::Result<()> {
        let net: &mut dyn Module<f32> = match &mut self.net {
            Net::Rnn(m) => m,
            Net::Lstm(m) => m,
            Net::Gru(m) => m,
        };
        opt.step_modules(&mut [net, &mut self.head], grads)
    }
}

/// A batch of the adding problem: inputs `(T, B, 2)`, targets `(B, 1)`, and for each item the
/// number of steps between the nearer (second) marker and the output.
struct Batch {
    x: Tensor<f32>,
    y: Tensor<f32>,
    gap: Vec<usize>,
}

fn batch(t_len: usize, b: usize, rng: &mut recur::rand::rngs::StdRng) -> Batch {
    let mut x = vec![0f32; t_len * b * 2];
    let mut y = vec![0f32; b];
    let mut gap = vec![0; b];
    let half = (t_len / 2).max(1);
    for (item, target) in y.iter_mut().enumerate() {
        let first = rng.random_range(0..half);
        let second = rng.random_range(half.min(t_len - 1)..t_len);
        gap[item] = t_len - 1 - second;
        for t in 0..t_len {
            let v: f32 = rng.random();
            let o = (t * b + item) * 2;
            x[o] = v;
            if t == first || t == second {
                x[o + 1] = 1.0;
                *target += v;
            }
        }
    }
    Batch {
        x: Tensor::from_vec(x, &[t_len, b, 2]).expect("sizes"),
        y: Tensor::from_vec(y, &[b, 1]).expect("sizes"),
        gap,
    }
}

/// Buckets of the nearer marker's distance from the output, in steps: `[lo, hi)`.
const GAPS: [(usize, usize); 4] = [(0, 5), (5, 10), (10, 20), (20, usize::MAX)];

/// Test MSE overall and per [`GAPS`] bucket (NaN where a bucket is empty).
fn test_mse(model: &Model, test: &[Batch]) -> recur::nn::Result<(f64, [f64; 4])> {
    let (mut sum, mut n) = (0.0, 0usize);
    let mut by_gap = [(0.0, 0usize); 4];
    for b in test {
        let p = model.predict(&b.x)?;
        for ((a, y), g) in p.to_vec().iter().zip(b.y.to_vec()).zip(&b.gap) {
            let e = f64::from(a - y).powi(2);
            sum += e;
            n += 1;
            if let Some(k) = GAPS.iter().position(|&(lo, hi)| lo <= *g && *g < hi) {
                by_gap[k].0 += e;
                by_gap[k].1 += 1;
            }
        }
    }
    let per = by_gap.map(|(s, n)| if n == 0 { f64::NAN } else { s / n as f64 });
    Ok((sum / n.max(1) as f64, per))
}

/// Per unit, the mean over a batch's sequences and steps of the gate that keeps the state:
/// the LSTM's forget gate `f` or the GRU's update gate `z` (block 1 of both gate layouts,
/// `i f g o` and `r z n`), recomputed in f64 from the layer's parameters, the inputs and the
/// states the layer's own `step` produces. `None` for the RNN.
fn keep_gate(model: &Model, b: &Batch) -> recur::nn::Result<Option<Vec<f64>>> {
    enum State {
        Lstm((Tensor<f32>, Tensor<f32>)),
        Gru(Tensor<f32>),
    }
    let (t_len, batch, input) = (b.x.dims()[0], b.x.dims()[1], b.x.dims()[2]);
    let (mut state, gates) = match &model.net {
        Net::Lstm(m) => (State::Lstm(m.zero_state(batch)), 4),
        Net::Gru(m) => (State::Gru(m.zero_state(batch)), 3),
        Net::Rnn(_) => return Ok(None),
    };
    let p: std::collections::HashMap<String, Vec<f32>> = model
        .recurrent()
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_vec()))
        .collect();
    let (w_ih, w_hh, b_ih, b_hh) = (
        &p["weight_ih_l0"],
        &p["weight_hh_l0"],
        &p["bias_ih_l0"],
        &p["bias_hh_l0"],
    );
    let h = b_hh.len() / gates;
    let mut sums = vec![0.0f64; h];
    for t in 0..t_len {
        let x = b.x.select(0, t)?;
        let (xv, h_prev) = match &state {
            State::Lstm((hs, _)) | State::Gru(hs) => (x.to_vec(), hs.to_vec()),
        };
        for item in 0..batch {
            let xi = &xv[item * input..(item + 1) * input];
            let hi = &h_prev[item * h..(item + 1) * h];
            for (j, sum) in sums.iter_mut().enumerate() {
                let row = h + j; // block 1: f (LSTM) or z (GRU)
                let dot = |w: &[f32], v: &[f32]| -> f64 {
                    w[row * v.len()..(row + 1) * v.len()]
                        .iter()
                        .zip(v)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum()
                };
                let z = dot(w_ih, xi) + f64::from(b_ih[row]) + dot(w_hh, hi) + f64::from(b_hh[row]);
                *sum += 1.0 / (1.0 + (-z).exp());
            }
        }
        match (&model.net, &mut state) {
            (Net::Lstm(m), State::Lstm(s)) => {
                m.step(&x, s)?;
            }
            (Net::Gru(m), State::Gru(s)) => {
                m.step(&x, s)?;
            }
            _ => {} // not reachable: the state was made from this model
        }
    }
    let n = (t_len * batch) as f64;
    Ok(Some(sums.into_iter().map(|v| v / n).collect()))
}

/// The outcome of one training run.
struct Run {
    t_len: usize,
    kind: Kind,
    /// (step, test MSE) during training.
    curve: Vec<(usize, f64)>,
    mse: f64,
    /// The final test MSE per [`GAPS`] bucket.
    by_gap: [f64; 4],
    /// Per unit, the mean keep gate (LSTM f, GRU z) on the first test batch, before and
    /// after training; `None` for the RNN.
    gate_init: Option<Vec<f64>>,
    gate_trained: Option<Vec<f64>>,
    params: usize,
    head_params: usize,
    /// Wall time of the training steps alone (batch, forward, backward, clip, Adam), without
    /// the evaluations.
    step_seconds: f64,
    seconds: f64,
}

fn train(s: &Settings, t_len: usize, kind: Kind, bar: &ProgressBar) -> recur::nn::Result<Run> {
    let start = Instant::now();
    let mut model = Model::new(kind, s.hidden, s.seed + 17)?;
    let mut opt = Adam::new(s.lr)?;
    let mut rng = recur::seeded_rng(s.seed * 1000 + t_len as u64);
    let mut test_rng = recur::seeded_rng(s.seed * 1000 + 500 + t_len as u64);
    let chunk = 250.min(s.test);
    let test: Vec<_> = (0..s.test.div_ceil(chunk))
        .map(|i| batch(t_len, chunk.min(s.test - i * chunk), &mut test_rng))
        .collect();
    let every = (s.steps / s.evals).max(1);
    let gate_init = keep_gate(&model, &test[0])?;
    let mut curve = vec![(0, test_mse(&model, &test)?.0)];
    let mut by_gap = [f64::NAN; 4];
    let mut step_seconds = 0.0;
    for step in 1..=s.steps {
        let t0 = Instant::now();
        let b = batch(t_len, s.batch, &mut rng);
        let mut grads = {
            let tape = Tape::new();
            let pred = model.forward(&tape.constant(b.x))?;
            let loss = mse_loss(&pred, b.y, Reduction::Mean)?;
            tape.backward(&loss)?
        };
        clip_grad_norm(&mut grads, s.clip)?;
        model.step(&mut opt, &grads)?;
        step_seconds += t0.elapsed().as_secs_f64();
        if step % every == 0 || step == s.steps {
            let (mse, per) = test_mse(&model, &test)?;
            curve.push((step, mse));
            by_gap = per;
        }
        bar.inc(1);
    }
    let mse = curve.last().expect("evaluated").1;
    Ok(Run {
        t_len,
        kind,
        curve,
        mse,
        by_gap,
        gate_init,
        gate_trained: keep_gate(&model, &test[0])?,
        params: model.recurrent().num_parameters(),
        head_params: model.head.num_parameters(),
        step_seconds,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs every (T, model) training on `s.threads` workers, the longest first.
fn run_all(s: &Settings) -> Result<Vec<Run>, String> {
    let jobs: Vec<(usize, Kind)> = s
        .lengths
        .iter()
        .flat_map(|&t| Kind::ALL.map(|k| (t, k)))
        .collect();
    let bar = ProgressBar::new((jobs.len() * s.steps) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {elapsed} elapsed, eta {eta}")
            .expect("valid template"),
    );
    // Workers pop from the end: sorted by T, the longest (slowest) trainings start first.
    let mut queue = jobs;
    queue.sort_by_key(|&(t, k)| (t, k != Kind::Rnn));
    let queue = Mutex::new(queue);
    let results: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..s.threads {
            scope.spawn(|| {
                loop {
                    let Some((t_len, kind)) = queue.lock().expect("queue").pop() else {
                        break;
                    };
                    match train(s, t_len, kind, &bar) {
                        Ok(run) => {
                            bar.suspend(|| {
                                say!(
                                    "T={:>4} {:<4} test MSE {:.5} ({:.1}s)",
                                    run.t_len,
                                    run.kind.name(),
                                    run.mse,
                                    run.seconds
                                )
                            });
                            results.lock().expect("results").push(run);
                        }
                        Err(e) => {
                            *failure.lock().expect("failure") =
                                Some(format!("T={t_len} {}: {e}", kind.name()));
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().expect("failure") {
        return Err(e);
    }
    let mut runs = results.into_inner().expect("results");
    runs.sort_by_key(|r| (r.t_len, Kind::ALL.iter().position(|k| *k == r.kind)));
    Ok(runs)
}

/// `v` with three significant digits (`0.0150`, `0.713`, `6.35`, `142`), so a short time
/// never prints as zero.
fn sig3(v: f64) -> String {
    if !(v.is_finite() && v > 0.0) {
        return format!("{v}");
    }
    let decimals = (2 - v.log10().floor() as i64).clamp(0, 9) as usize;
    format!("{v:.decimals$}")
}

/// The MSE of predicting the mean (1/6) and of knowing the nearer marker's value only (1/12).
const MEAN_MSE: f64 = 1.0 / 6.0;
const NEARER_ONLY_MSE: f64 = 1.0 / 12.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let s = match Settings::from_args(Args::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    if s.quick {
        say!(
            "--quick: a smoke run (it checks that the example runs; at this size every model fails and the numbers teach nothing)"
        );
    }
    say!(
        "adding problem: T in {:?}, hidden {}, {} steps of batch {}, Adam lr {}, clip_grad_norm {}, {} test sequences per T; f32, {} thread(s)",
        s.lengths,
        s.hidden,
        s.steps,
        s.batch,
        s.lr,
        s.clip,
        s.test,
        s.threads
    );
    let runs = run_all(&s)?;
    let find = |t: usize, k: Kind| {
        runs.iter()
            .find(|r| r.t_len == t && r.kind == k)
            .expect("ran")
    };

    say!(
        "\nfinal test MSE (predicting the mean: 1/6 = 0.167; knowing only the nearer marker's value: 1/12 = 0.083; solved: < {}):\n",
        s.solved
    );
    say!("| T | RNN | LSTM | GRU |");
    say!("|---|---|---|---|");
    for &t in &s.lengths {
        let mut line = format!("| {t} |");
        for k in Kind::ALL {
            let r = find(t, k);
            let mark = if r.mse < s.solved { "solved" } else { "fails" };
            let _ = write!(line, " {:.5} ({mark}) |", r.mse);
        }
        say!("{line}");
    }

    let t_max = *s.lengths.iter().max().expect("non-empty");
    say!(
        "\nat T = {t_max}, the final test MSE by the nearer marker's distance from the output (steps):\n"
    );
    let buckets: Vec<usize> = (0..GAPS.len())
        .filter(|&k| GAPS[k].0 < t_max.div_ceil(2))
        .collect();
    let mut head = String::from("| model |");
    for &k in &buckets {
        let (lo, hi) = GAPS[k];
        let hi = hi.min(t_max.div_ceil(2));
        let _ = write!(head, " {lo}-{} |", hi - 1);
    }
    say!("{head}");
    say!("|---|{}", "---|".repeat(buckets.len()));
    for k in Kind::ALL {
        let r = find(t_max, k);
        let mut line = format!("| {} |", k.name());
        for &b in &buckets {
            let _ = write!(line, " {:.4} |", r.by_gap[b]);
        }
        say!("{line}");
    }

    say!(
        "\nthe gate that keeps the state (LSTM: forget gate f, GRU: update gate z), per unit averaged over {} test sequences and their steps, at PyTorch's init -> after training:\n",
        s.test.min(250)
    );
    say!(
        "| T | LSTM mean f | LSTM units with mean f > 0.9 | GRU mean z | GRU units with mean z > 0.9 |"
    );
    say!("|---|---|---|---|---|");
    let summary = |g: &Option<Vec<f64>>| -> (f64, usize, usize, f64) {
        let g = g.as_deref().unwrap_or(&[]);
        let mean = g.iter().sum::<f64>() / g.len().max(1) as f64;
        let max = g.iter().copied().fold(0.0, f64::max);
        (mean, g.iter().filter(|&&v| v > 0.9).count(), g.len(), max)
    };
    for &t in &s.lengths {
        let mut line = format!("| {t} |");
        for k in [Kind::Lstm, Kind::Gru] {
            let r = find(t, k);
            let (m0, n0, len, _) = summary(&r.gate_init);
            let (m1, n1, _, max1) = summary(&r.gate_trained);
            let _ = write!(
                line,
                " {m0:.2} -> {m1:.2} | {n0} -> {n1} of {len} (largest {max1:.3}) |"
            );
        }
        say!("{line}");
    }

    say!("\nparameters (hidden {}, input 2):\n", s.hidden);
    say!("| model | recurrent layer | + linear head | total | vs RNN |");
    say!("|---|---|---|---|---|");
    let t0 = s.lengths[0];
    let base = find(t0, Kind::Rnn).params as f64;
    for k in Kind::ALL {
        let r = find(t0, k);
        say!(
            "| {} | {} | {} | {} | {:.1}x |",
            k.name(),
            r.params,
            r.head_params,
            r.params + r.head_params,
            r.params as f64 / base
        );
    }
    say!(
        "\ntime per training step (batch {}: forward, backward, clip, Adam; ms, mean over {} steps; ratio to the RNN):\n",
        s.batch,
        s.steps
    );
    say!("| T | RNN | LSTM | GRU | training wall time RNN / LSTM / GRU (s) |");
    say!("|---|---|---|---|---|");
    for &t in &s.lengths {
        let ms = |k: Kind| 1e3 * find(t, k).step_seconds / s.steps as f64;
        let rnn = ms(Kind::Rnn);
        say!(
            "| {t} | {} | {} ({:.1}x) | {} ({:.1}x) | {} / {} / {} |",
            sig3(rnn),
            sig3(ms(Kind::Lstm)),
            ms(Kind::Lstm) / rnn,
            sig3(ms(Kind::Gru)),
            ms(Kind::Gru) / rnn,
            sig3(find(t, Kind::Rnn).seconds),
            sig3(find(t, Kind::Lstm).seconds),
            sig3(find(t, Kind::Gru).seconds)
        );
    }

    // The learning curves, one panel per T, with the two reference levels.
    let level = |label: &str, v: f64, color: &'static str| plot::Series {
        label: label.into(),
        points: vec![(0.0, v.log10()), (s.steps as f64, v.log10())],
        color,
        dashed: true,
    };
    let charts: Vec<plot::Chart> = s
        .lengths
        .iter()
        .map(|&t| {
            let mut series: Vec<plot::Series> = Kind::ALL
                .iter()
                .enumerate()
                .map(|(i, &k)| plot::Series {
                    label: k.name().to_string(),
                    points: find(t, k)
                        .curve
                        .iter()
                        .map(|&(st, m)| (st as f64, m.log10()))
                        .collect(),
                    color: plot::PALETTE[i],
                    dashed: false,
                })
                .collect();
            series.push(level("mean: 1/6", MEAN_MSE, "#888888"));
            series.push(level("1/12: nearer only", NEARER_ONLY_MSE, "#bbbbbb"));
            plot::Chart {
                title: format!("adding problem, T = {t}"),
                x_label: "training step".into(),
                y_label: "test MSE (log scale)".into(),
                y_log10: true,
                y_range: Some((-5.0, 0.0)),
                series,
            }
        })
        .collect();
    let note = format!(
        "hidden {}, batch {}, Adam lr {}, clip {}; recur examples/long_range",
        s.hidden, s.batch, s.lr, s.clip
    );
    let svg = plot::grid(&charts, 2, 560.0, 340.0, &note);
    let svg_path = s.out.join("long_range.svg");
    plot::write_atomic(&svg_path, svg.as_bytes())?;
    let mut csv = String::from("T,model,step,test_mse\n");
    for r in &runs {
        for (st, m) in &r.curve {
            let _ = writeln!(csv, "{},{},{},{}", r.t_len, r.kind.name(), st, m);
        }
    }
    plot::write_atomic(&s.out.join("results.csv"), csv.as_bytes())?;
    say!(
        "\nwrote {} and results.csv; total {} s",
        svg_path.display(),
        sig3(start.elapsed().as_secs_f64())
    );
    Ok(())
}
