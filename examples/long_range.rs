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
//! with their parameter counts: the RNN is fine for short sequences and fails for long ones,
//! the gated models hold up, at 3x (GRU) and 4x (LSTM) the RNN's parameters.
//!
//! ```text
//! cargo run --release --example long_range                 # T in {10, 50, 100, 200}; minutes
//! cargo run --release --example long_range -- --quick      # CI smoke run, seconds
//! ```
//!
//! Runs the 12 trainings on `--threads` worker threads (default 2), and writes
//! `long_range.svg` (the learning curves) and `results.csv` into `--out` (default
//! `runs/long_range/`).

use recur::plot;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngExt;
use recur::nn::loss::{Reduction, mse_loss};
use recur::nn::optim::{Adam, Optimizer};
use recur::nn::{
    Gru, GruConfig, Layer, Linear, Lstm, LstmConfig, Module, Rnn, RnnConfig, Tape, Var,
    clip_grad_norm,
};
use recur::tensor::Tensor;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Parser, Debug, Clone)]
#[command(about = "The adding problem for RNN, LSTM and GRU at several sequence lengths")]
struct Args {
    /// Sequence lengths T.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100,200")]
    lengths: Vec<usize>,
    /// Hidden size of every model.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// Training steps (the same budget for every model).
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Sequences per training step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// clip_grad_norm max_norm.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Test sequences per T.
    #[arg(long, default_value_t = 1000)]
    test: usize,
    /// Evaluations on the test set during training (for the curves).
    #[arg(long, default_value_t = 30)]
    evals: usize,
    /// MSE below which a run counts as solved.
    #[arg(long, default_value_t = 0.01)]
    solved: f64,
    /// Worker threads (each training runs on one).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed for the data and the initialisations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "runs/long_range")]
    out: PathBuf,
    /// A smoke run: T in {5, 10}, H = 8, 60 steps, batch 16.
    #[arg(long)]
    quick: bool,
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
    fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: &Var<'t, f32>,
    ) -> recur::nn::Result<Var<'t, f32>> {
        let h_n = match &self.net {
            Net::Rnn(m) => m.forward(tape, x, None)?.1,
            Net::Lstm(m) => m.forward(tape, x, None)?.1.0,
            Net::Gru(m) => m.forward(tape, x, None)?.1,
        };
        self.head.forward(tape, &h_n.squeeze(0usize)?)
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

/// A batch of the adding problem: inputs `(T, B, 2)` and targets `(B, 1)`.
fn batch(t_len: usize, b: usize, rng: &mut rand::rngs::StdRng) -> (Tensor<f32>, Tensor<f32>) {
    let mut x = vec![0f32; t_len * b * 2];
    let mut y = vec![0f32; b];
    let half = (t_len / 2).max(1);
    for (item, target) in y.iter_mut().enumerate() {
        let first = rng.random_range(0..half);
        let second = rng.random_range(half.min(t_len - 1)..t_len);
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
    (
        Tensor::from_vec(x, &[t_len, b, 2]).expect("sizes"),
        Tensor::from_vec(y, &[b, 1]).expect("sizes"),
    )
}

fn test_mse(model: &Model, test: &[(Tensor<f32>, Tensor<f32>)]) -> recur::nn::Result<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for (x, y) in test {
        let p = model.predict(x)?;
        for (a, b) in p.to_vec().iter().zip(y.to_vec()) {
            sum += f64::from(a - b).powi(2);
            n += 1;
        }
    }
    Ok(sum / n.max(1) as f64)
}

/// The outcome of one training run.
struct Run {
    t_len: usize,
    kind: Kind,
    /// (step, test MSE) during training.
    curve: Vec<(usize, f64)>,
    mse: f64,
    params: usize,
    head_params: usize,
    seconds: f64,
}

fn train(args: &Args, t_len: usize, kind: Kind, bar: &ProgressBar) -> recur::nn::Result<Run> {
    let start = Instant::now();
    let mut model = Model::new(kind, args.hidden, args.seed + 17)?;
    let mut opt = Adam::new(args.lr)?;
    let mut rng = recur::seeded_rng(args.seed * 1000 + t_len as u64);
    let mut test_rng = recur::seeded_rng(args.seed * 1000 + 500 + t_len as u64);
    let chunk = 250.min(args.test.max(1));
    let test: Vec<_> = (0..args.test.div_ceil(chunk))
        .map(|i| batch(t_len, chunk.min(args.test - i * chunk), &mut test_rng))
        .collect();
    let every = (args.steps / args.evals.max(1)).max(1);
    let mut curve = vec![(0, test_mse(&model, &test)?)];
    for step in 1..=args.steps {
        let (x, y) = batch(t_len, args.batch, &mut rng);
        let mut grads = {
            let tape = Tape::new();
            let pred = model.forward(&tape, &tape.constant(x))?;
            let loss = mse_loss(&pred, &tape.constant(y), Reduction::Mean)?;
            tape.backward(&loss)?
        };
        clip_grad_norm(&mut grads, args.clip, 2.0, false)?;
        model.step(&mut opt, &grads)?;
        if step % every == 0 || step == args.steps {
            curve.push((step, test_mse(&model, &test)?));
        }
        bar.inc(1);
    }
    let mse = curve.last().expect("evaluated").1;
    Ok(Run {
        t_len,
        kind,
        curve,
        mse,
        params: model.recurrent().num_parameters(),
        head_params: model.head.num_parameters(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = Args::parse();
    if args.quick {
        args.lengths = vec![5, 10];
        args.hidden = 8;
        args.steps = 60;
        args.batch = 16;
        args.test = 64;
        args.evals = 4;
    }
    if args.lengths.iter().any(|&t| t < 2) {
        return Err("sequence lengths must be at least 2 (two marked steps)".into());
    }
    let start = Instant::now();
    println!(
        "adding problem: hidden {}, {} steps of batch {}, Adam lr {}, clip_grad_norm {}, {} test sequences per T; f32, {} threads",
        args.hidden, args.steps, args.batch, args.lr, args.clip, args.test, args.threads
    );
    let jobs: Vec<(usize, Kind)> = args
        .lengths
        .iter()
        .flat_map(|&t| Kind::ALL.map(|k| (t, k)))
        .collect();
    let bar = ProgressBar::new((jobs.len() * args.steps) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {elapsed} elapsed, eta {eta}")
            .expect("valid template"),
    );
    // Workers pop from the end: sorted by T, the longest (slowest) trainings start first.
    let mut queue = jobs.clone();
    queue.sort_by_key(|&(t, k)| (t, k != Kind::Rnn));
    let queue = Mutex::new(queue);
    let results: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..args.threads.max(1) {
            s.spawn(|| {
                loop {
                    let Some((t_len, kind)) = queue.lock().expect("queue").pop() else {
                        break;
                    };
                    match train(&args, t_len, kind, &bar) {
                        Ok(run) => {
                            bar.suspend(|| {
                                println!(
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
        return Err(e.into());
    }
    let mut runs = results.into_inner().expect("results");
    runs.sort_by_key(|r| (r.t_len, Kind::ALL.iter().position(|k| *k == r.kind)));
    let find = |t: usize, k: Kind| {
        runs.iter()
            .find(|r| r.t_len == t && r.kind == k)
            .expect("ran")
    };

    println!(
        "\nfinal test MSE (predicting the mean: 0.167; solved: < {}):\n",
        args.solved
    );
    println!("| T | RNN | LSTM | GRU |");
    println!("|---|---|---|---|");
    for &t in &args.lengths {
        let mut line = format!("| {t} |");
        for k in Kind::ALL {
            let r = find(t, k);
            let mark = if r.mse < args.solved {
                "solved"
            } else {
                "fails"
            };
            let _ = write!(line, " {:.5} ({mark}) |", r.mse);
        }
        println!("{line}");
    }
    println!("\nparameters (hidden {}, input 2):\n", args.hidden);
    println!("| model | recurrent layer | + linear head | total | vs RNN |");
    println!("|---|---|---|---|---|");
    let t0 = args.lengths[0];
    let base = find(t0, Kind::Rnn).params as f64;
    for k in Kind::ALL {
        let r = find(t0, k);
        println!(
            "| {} | {} | {} | {} | {:.1}x |",
            k.name(),
            r.params,
            r.head_params,
            r.params + r.head_params,
            r.params as f64 / base
        );
    }
    println!("\nwall time per training (s):\n");
    println!("| T | RNN | LSTM | GRU |");
    println!("|---|---|---|---|");
    for &t in &args.lengths {
        println!(
            "| {t} | {:.1} | {:.1} | {:.1} |",
            find(t, Kind::Rnn).seconds,
            find(t, Kind::Lstm).seconds,
            find(t, Kind::Gru).seconds
        );
    }

    // The learning curves, one panel per T.
    let charts: Vec<plot::Chart> = args
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
                        .map(|&(s, m)| (s as f64, m.log10()))
                        .collect(),
                    color: plot::PALETTE[i],
                    dashed: false,
                })
                .collect();
            series.push(plot::Series {
                label: "mean (1/6)".into(),
                points: vec![
                    (0.0, (1.0f64 / 6.0).log10()),
                    (args.steps as f64, (1.0f64 / 6.0).log10()),
                ],
                color: "#888888",
                dashed: true,
            });
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
        args.hidden, args.batch, args.lr, args.clip
    );
    let svg = plot::grid(&charts, 2, 560.0, 340.0, &note);
    let svg_path = args.out.join("long_range.svg");
    plot::write_atomic(&svg_path, svg.as_bytes())?;
    let mut csv = String::from("T,model,step,test_mse\n");
    for r in &runs {
        for (s, m) in &r.curve {
            let _ = writeln!(csv, "{},{},{},{}", r.t_len, r.kind.name(), s, m);
        }
    }
    plot::write_atomic(&args.out.join("results.csv"), csv.as_bytes())?;
    println!(
        "\nwrote {} and results.csv; total {:.1}s",
        svg_path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
