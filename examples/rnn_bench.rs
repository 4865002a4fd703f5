//! rnn_bench: the char-RNN training step and sampling speed of
//! `scripts/torch_rnn_bench.py`, in recur, printing the same lines:
//!
//! ```text
//! small threads=1 ms/step=20.537 GFLOP/s=48.1 sample_us/char=109.0
//! ```
//!
//! after a first line naming the GEMM kernel that runs (`recur kernel: avx512 f32 12x32 ...`).
//!
//! Model: one-hot(vocab) -> RNN(vocab, hidden, layers, tanh) -> Linear(hidden, vocab) ->
//! cross-entropy (mean over T*B) -> backward -> clip_grad_norm 5 -> optimizer step.
//! Configs (vocab, hidden, layers, seq, batch, optimizer): tiny (65, 100, 1, 25, 1, Adagrad 0.1),
//! small (65, 128, 2, 50, 50, Adam 2e-3), large (65, 512, 2, 100, 32, Adam 2e-3).
//! GFLOP/s counts 3 x (sum over layers of 2*T*B*H*(in+H) + 2*T*B*H*V) per step, as the anchor.
//! Sampling: batch 1, one character at a time, 200 characters; the input character's column of
//! W_ih is read instead of multiplying by a one-hot vector.
//!
//! Usage: `cargo run --release --example rnn_bench -- [tiny|small|large]... [--cell rnn|lstm|gru]
//! [--threads N[,N...]] [--interleave] [--bandwidth] [--quick]`. With `--cell lstm|gru` the
//! lines are labelled `lstm-small` and GFLOP/s counts the gate products (4 or 3 per step), as
//! the anchor's `--cell` does. (no config: all three; no --threads: 1 then 2, as
//! the anchor does).
//! `--interleave` times the thread counts' steps in turn on one model (one step with each
//! count, repeated), so that their ratio is measured under the same machine load.
//! `--bandwidth` adds a line per config saying how close sampling comes to the memory
//! bandwidth: the weight bytes one character reads, the rate sampling reads them at, and the
//! rate a plain streaming read (a sum) of a copy of the same bytes reaches, measured in turn
//! (five alternating rounds of 200 characters / 200 passes, medians).

mod bench_common;
use bench_common::{bad_argument, median, threads_arg};
use recur::autograd::Tape;
use recur::nn::clip::clip_grad_norm;
use recur::nn::gru::GruMath;
use recur::nn::loss::{CrossEntropyOptions, cross_entropy};
use recur::nn::lstm::LstmMath;
use recur::nn::optim::{Adagrad, Adam, Optimizer};
use recur::nn::recurrent::{Cell, Recurrent, RecurrentConfig};
use recur::nn::rnn::RnnMath;
use recur::nn::{Linear, Module, Nonlinearity};
use recur::rand::RngExt;
use recur::tensor::{IndexTensor, Tensor};
use std::time::Instant;

struct Config {
    name: &'static str,
    vocab: usize,
    hidden: usize,
    layers: usize,
    seq: usize,
    batch: usize,
    adagrad: bool,
}

const CONFIGS: [Config; 3] = [
    Config {
        name: "tiny",
        vocab: 65,
        hidden: 100,
        layers: 1,
        seq: 25,
        batch: 1,
        adagrad: true,
    },
    Config {
        name: "small",
        vocab: 65,
        hidden: 128,
        layers: 2,
        seq: 50,
        batch: 50,
        adagrad: false,
    },
    Config {
        name: "large",
        vocab: 65,
        hidden: 512,
        layers: 2,
        seq: 100,
        batch: 32,
        adagrad: false,
    },
];

fn flops(c: &Config, gates: usize) -> f64 {
    let (v, h, t, b) = (
        c.vocab as f64,
        c.hidden as f64,
        c.seq as f64,
        c.batch as f64,
    );
    let mut f = 0.0;
    for l in 0..c.layers {
        let i = if l == 0 { v } else { h };
        f += 2.0 * t * b * gates as f64 * h * (i + h);
    }
    f += 2.0 * t * b * h * v;
    3.0 * f
}

/// One config's model, optimizer and batch, ready to time.
struct Bench<'c, C: Cell> {
    c: &'c Config,
    rnn: Recurrent<C, f32>,
    head: Linear<f32>,
    opt: Box<dyn Optimizer<f32>>,
    x: Tensor<f32>,
    y: IndexTensor,
    h0: Vec<Tensor<f32>>,
}

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

impl<'c, C: Cell> Bench<'c, C> {
    fn new(c: &'c Config, cell: C) -> BoxResult<Self> {
        let mut rng = recur::seeded_rng(0);
        let config = RecurrentConfig::new(c.vocab, c.hidden).num_layers(c.layers);
        let rnn = Recurrent::new(cell, config, &mut rng)?;
        let head = Linear::<f32>::new(c.hidden, c.vocab, &mut rng)?;
        let opt: Box<dyn Optimizer<f32>> = if c.adagrad {
            Box::new(Adagrad::new(0.1)?)
        } else {
            Box::new(Adam::new(2e-3)?)
        };
        let (t, b, v) = (c.seq, c.batch, c.vocab);
        let xs: Vec<usize> = (0..t * b).map(|_| rng.random_range(0..v)).collect();
        let ys: Vec<i64> = (0..t * b).map(|_| rng.random_range(0..v as i64)).collect();
        let y = IndexTensor::from_vec(ys, &[t * b])?;
        let mut onehot = vec![0.0f32; t * b * v];
        for (i, &x) in xs.iter().enumerate() {
            onehot[i * v + x] = 1.0;
        }
        let x = Tensor::from_vec(onehot, &[t, b, v])?;
        let h0 = rnn.zero_state(b);
        Ok(Bench {
            c,
            rnn,
            head,
            opt,
            x,
            y,
            h0,
        })
    }

    /// One training step; returns its wall time in seconds.
    fn step(&mut self) -> BoxResult<f64> {
        let (t, b, v) = (self.c.seq, self.c.batch, self.c.vocab);
        let s = Instant::now();
        let mut grads = {
            let tape = Tape::new();
            let h0: Vec<_> = self.h0.iter().map(|h| tape.constant(h.clone())).collect();
            let h0: Vec<_> = h0.iter().collect();
            let (out, _) = self
                .rnn
                .forward(&tape.constant(self.x.clone()), Some(&h0))?;
            let logits = self.head.forward(&out)?.reshape(&[t * b, v])?;
            let loss = cross_entropy(&logits, &self.y, CrossEntropyOptions::default())?;
            tape.backward(&loss)?
        };
        clip_grad_norm(&mut grads, 5.0)?;
        self.opt
            .step_modules(&mut [&mut self.rnn, &mut self.head], &grads)?;
        Ok(s.elapsed().as_secs_f64())
    }

    /// Microseconds per character of batch-1 sampling, one character at a time (200).
    fn sample(&self) -> BoxResult<f64> {
        let v = self.c.vocab;
        let n = 200;
        let mut stepper = self.rnn.stepper()?;
        let mut logits = vec![0.0f32; v];
        let mut probs = vec![0.0f32; v];
        let mut srng = recur::seeded_rng(1);
        let mut ch = 0usize;
        let s = Instant::now();
        for _ in 0..n {
            let h = stepper.step_token(ch)?;
            self.head.forward_slice(h, &mut logits)?;
            let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0.0;
            for (p, &l) in probs.iter_mut().zip(&logits) {
                *p = (l - m).exp();
                total += *p;
            }
            let mut u = srng.random::<f32>() * total;
            ch = v - 1;
            for (i, &p) in probs.iter().enumerate() {
                if u < p {
                    ch = i;
                    break;
                }
                u -= p;
            }
        }
        Ok(s.elapsed().as_secs_f64() / n as f64 * 1e6)
    }

    /// A copy of the weights one sampled character reads: every matrix of the RNN but layer
    /// 0's input weight (one column of it is read: the character's), and the head's.
    fn sampled_weights(&self) -> Vec<f32> {
        let rnn = self.rnn.named_parameters().into_iter();
        let head = self.head.named_parameters().into_iter();
        rnn.filter(|(n, _)| n.starts_with("weight_") && n != "weight_ih_l0")
            .chain(head.filter(|(n, _)| n == "weight"))
            .flat_map(|(_, p)| p.value().to_vec())
            .collect()
    }

    /// The `--bandwidth` line: sampling's read rate of its weights against a plain streaming
    /// read of a copy of them, alternating (so both meet the same machine load).
    fn report_bandwidth(&self) -> BoxResult<()> {
        let weights = self.sampled_weights();
        let bytes = std::mem::size_of_val(weights.as_slice()) as f64;
        let (mut sample, mut stream) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            // us/char -> bytes per second.
            sample.push(bytes / (self.sample()? * 1e-6));
            stream.push(stream_rate(&weights, 200));
        }
        let (sample, stream) = (median(sample) / 1e9, median(stream) / 1e9);
        println!(
            "{} bandwidth: weights_MB/char={:.2} sample_GB/s={sample:.1} stream_GB/s={stream:.1} ratio={:.2}",
            self.label(),
            bytes / 1e6,
            sample / stream
        );
        Ok(())
    }

    /// `small`, or `lstm-small` for a gated cell, as the anchor labels its lines.
    fn label(&self) -> String {
        match C::NAME {
            "RNN" => self.c.name.to_string(),
            other => format!("{}-{}", other.to_lowercase(), self.c.name),
        }
    }

    fn report(&self, threads: usize, ms: f64, us: f64) {
        println!(
            "{} threads={threads} ms/step={ms:.3} GFLOP/s={:.1} sample_us/char={us:.1}",
            self.label(),
            flops(self.c, C::GATES) / ms / 1e6
        );
    }
}

/// Bytes per second of `passes` plain streaming reads (sums) of `w`.
fn stream_rate(w: &[f32], passes: usize) -> f64 {
    let s = Instant::now();
    let mut total = 0.0f32;
    for _ in 0..passes {
        total += sum(std::hint::black_box(w));
    }
    std::hint::black_box(total);
    (passes * std::mem::size_of_val(w)) as f64 / s.elapsed().as_secs_f64()
}

/// The sum of `w` in 32 independent lanes, so that it vectorises and the additions' latency
/// does not limit it: a read as fast as the caches deliver.
fn sum(w: &[f32]) -> f32 {
    let mut acc = [0.0f32; 32];
    let chunks = w.chunks_exact(32);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Times `steps` training steps (after 3 warm-up steps) and the sampling with `threads`
/// threads, as the anchor does.
fn run<C: Cell>(
    cell: C,
    c: &Config,
    threads: usize,
    steps: usize,
    bandwidth: bool,
) -> BoxResult<()> {
    recur::tensor::gemm::set_num_threads(threads);
    let mut bench = Bench::new(c, cell)?;
    for _ in 0..3 {
        bench.step()?;
    }
    let times = (0..steps)
        .map(|_| bench.step())
        .collect::<BoxResult<Vec<f64>>>()?;
    let us = bench.sample()?;
    bench.report(threads, median(times) * 1e3, us);
    if bandwidth {
        bench.report_bandwidth()?;
    }
    Ok(())
}

/// Like [`run`] for several thread counts at once, their timed steps interleaved (one step
/// with each count in turn), so that every count meets the same machine load: on a shared,
/// noisy machine the ratio between the counts is then measured, not the load's drift.
fn run_interleaved<C: Cell>(
    cell: C,
    c: &Config,
    counts: &[usize],
    steps: usize,
    bandwidth: bool,
) -> BoxResult<()> {
    let set = recur::tensor::gemm::set_num_threads;
    let mut bench = Bench::new(c, cell)?;
    for &th in counts {
        set(th);
        for _ in 0..3 {
            bench.step()?;
        }
    }
    let mut times = vec![Vec::with_capacity(steps); counts.len()];
    for _ in 0..steps {
        for (&th, t) in counts.iter().zip(&mut times) {
            set(th);
            t.push(bench.step()?);
        }
    }
    for (&th, t) in counts.iter().zip(times) {
        set(th);
        let us = bench.sample()?;
        bench.report(th, median(t) * 1e3, us);
    }
    if bandwidth {
        bench.report_bandwidth()?;
    }
    Ok(())
}

/// Every selected config with cell `cell`: interleaved thread counts, or (as the anchor)
/// every config with one thread count, then with the next.
fn bench_all<'a, C: Cell, I: Iterator<Item = &'a Config>>(
    cell: C,
    selected: &impl Fn() -> I,
    counts: &[usize],
    steps: &impl Fn(&Config) -> usize,
    interleave: bool,
    bandwidth: bool,
) -> BoxResult<()> {
    if interleave {
        selected().try_for_each(|c| run_interleaved(cell.clone(), c, counts, steps(c), bandwidth))
    } else {
        counts.iter().try_for_each(|&th| {
            selected().try_for_each(|c| run(cell.clone(), c, th, steps(c), bandwidth))
        })
    }
}

fn main() -> std::process::ExitCode {
    let mut names = Vec::new();
    let mut threads: Option<Vec<usize>> = None;
    let mut quick = false;
    let mut interleave = false;
    let mut bandwidth = false;
    let mut cell = "rnn".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => match threads_arg(args.next()) {
                Ok(n) => threads = Some(n),
                Err(code) => return code,
            },
            "--cell" => match args.next() {
                Some(c) if ["rnn", "lstm", "gru"].contains(&c.as_str()) => cell = c,
                other => {
                    return bad_argument(
                        &format!("--cell {}", other.unwrap_or_default()),
                        "--cell rnn|lstm|gru",
                    );
                }
            },
            "--quick" => quick = true,
            "--interleave" => interleave = true,
            "--bandwidth" => bandwidth = true,
            name if CONFIGS.iter().any(|c| c.name == name) => names.push(name.to_string()),
            other => {
                return bad_argument(
                    other,
                    "rnn_bench [tiny|small|large]... [--threads N[,N...]] [--cell rnn|lstm|gru] [--interleave] [--bandwidth] [--quick]",
                );
            }
        }
    }
    if names.is_empty() {
        names = CONFIGS.iter().map(|c| c.name.to_string()).collect();
    }
    let thread_counts = threads.unwrap_or_else(|| vec![1, 2]);
    let steps = |c: &Config| {
        if quick {
            2
        } else if c.name == "tiny" {
            200
        } else {
            30
        }
    };
    let selected = || CONFIGS.iter().filter(|c| names.iter().any(|n| n == c.name));
    // Every figure says what ran (`RECUR_GEMM_ISA` can cap it).
    println!("recur kernel: {}", recur::tensor::gemm::kernel_name());
    let result = match cell.as_str() {
        "lstm" => bench_all(
            LstmMath,
            &selected,
            &thread_counts,
            &steps,
            interleave,
            bandwidth,
        ),
        "gru" => bench_all(
            GruMath,
            &selected,
            &thread_counts,
            &steps,
            interleave,
            bandwidth,
        ),
        _ => bench_all(
            RnnMath::new(Nonlinearity::Tanh),
            &selected,
            &thread_counts,
            &steps,
            interleave,
            bandwidth,
        ),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
