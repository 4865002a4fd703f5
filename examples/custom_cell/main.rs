//! custom_cell: a recurrent cell PyTorch does not have, written outside the library through
//! the public `recur::nn::recurrent::Cell` trait, trained on the fused engine next to RNN, LSTM
//! and GRU.
//!
//! The cell is minGRU (Feng et al. 2024, "Were RNNs All We Needed?", see `min_gru.rs`): its
//! gate reads only the input, so it has no recurrent weight matrix at all. It was chosen over
//! IndRNN because it is the newer argument (a gated cell that can be trained in parallel) and
//! because the engine runs it without any extra parameter: IndRNN's diagonal recurrent weight
//! would be a parameter of a kind the engine does not hold.
//!
//! The task is the adding problem (as `long_range`): each step is `(value, marker)`, two steps
//! are marked, the target is the sum of the two marked values, read from the last hidden
//! state through a linear head. Predicting the mean gives an MSE of 1/6 ≈ 0.167.
//!
//! ```text
//! cargo run --release --example custom_cell              # T = 50; well under a minute
//! cargo run --release --example custom_cell -- --quick   # a smoke run
//! ```

mod min_gru;

use clap::Parser;
use min_gru::MinGru;
use recur::nn::gru::GruMath;
use recur::nn::loss::{Reduction, mse_loss};
use recur::nn::lstm::LstmMath;
use recur::nn::optim::{Adam, Optimizer};
use recur::nn::recurrent::{Cell, Recurrent, RecurrentConfig};
use recur::nn::rnn::RnnMath;
use recur::nn::{Linear, Module, Nonlinearity, Tape, clip_grad_norm};
use recur::rand::RngExt;
use recur::tensor::Tensor;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    about = "minGRU, a cell written outside the library, on the adding problem next to RNN, LSTM and GRU"
)]
struct Args {
    /// Sequence length T.
    #[arg(long, default_value_t = 50)]
    length: usize,
    /// Hidden size of every model.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// Training steps (the same budget for every model).
    #[arg(long, default_value_t = 800)]
    steps: usize,
    /// Sequences per training step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// Seed of the initialisation and the data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A smoke run: 20 steps.
    #[arg(long)]
    quick: bool,
}

/// A batch of the adding problem: inputs `(T, B, 2)` and targets `(B, 1)`.
fn batch(
    t_len: usize,
    b: usize,
    rng: &mut recur::rand::rngs::StdRng,
) -> recur::nn::Result<(Tensor<f32>, Tensor<f32>)> {
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
    Ok((
        Tensor::from_vec(x, &[t_len, b, 2])?,
        Tensor::from_vec(y, &[b, 1])?,
    ))
}

/// What one model reached.
struct Outcome {
    name: &'static str,
    params: usize,
    mse: f64,
    ms_per_step: f64,
}

/// Trains cell `cell` (any [`Cell`]) with a linear head on the last hidden state.
fn train<C: Cell>(cell: C, args: &Args, steps: usize) -> recur::nn::Result<Outcome> {
    let mut rng = recur::seeded_rng(args.seed);
    let config = RecurrentConfig::new(2, args.hidden);
    let mut rnn = Recurrent::<C, f32>::new(cell, config, &mut rng)?;
    let mut head = Linear::<f32>::new(args.hidden, 1, &mut rng)?;
    let mut opt = Adam::new(args.lr)?;
    let mut data = recur::seeded_rng(args.seed + 1);
    let start = Instant::now();
    for _ in 0..steps {
        let (x, y) = batch(args.length, args.batch, &mut data)?;
        let mut grads = {
            let tape = Tape::new();
            let (_, state) = rnn.forward(&tape.constant(x), None)?;
            let h_n = state[0].squeeze(0usize)?;
            let loss = mse_loss(&head.forward(&h_n)?, y, Reduction::Mean)?;
            tape.backward(&loss)?
        };
        clip_grad_norm(&mut grads, 1.0)?;
        opt.step_modules(&mut [&mut rnn, &mut head], &grads)?;
    }
    let ms_per_step = start.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64;
    // Test MSE on 1000 fresh sequences, no tape.
    let mut test = recur::seeded_rng(args.seed + 2);
    let (x, y) = batch(args.length, 1000, &mut test)?;
    let (_, state) = rnn.forward_tensor(&x, None)?;
    let pred = head.forward_tensor(&state[0].squeeze(0)?)?;
    let mse = pred
        .to_vec()
        .iter()
        .zip(y.to_vec())
        .map(|(p, t)| f64::from(p - t).powi(2))
        .sum::<f64>()
        / 1000.0;
    Ok(Outcome {
        name: C::NAME,
        params: rnn.num_parameters() + head.num_parameters(),
        mse,
        ms_per_step,
    })
}

fn main() -> recur::nn::Result<()> {
    let args = Args::parse();
    let steps = if args.quick { 20 } else { args.steps };
    println!(
        "adding problem, T = {}, hidden {}, {steps} steps of batch {}, Adam lr {}; predicting the mean: MSE 0.167{}",
        args.length,
        args.hidden,
        args.batch,
        args.lr,
        if args.quick {
            " (--quick: a smoke run, not a result)"
        } else {
            ""
        }
    );
    let outcomes = [
        train(RnnMath::new(Nonlinearity::Tanh), &args, steps)?,
        train(LstmMath, &args, steps)?,
        train(GruMath, &args, steps)?,
        train(MinGru, &args, steps)?,
    ];
    println!(
        "{:<8} {:>7} {:>9} {:>8}",
        "cell", "params", "test MSE", "ms/step"
    );
    for o in &outcomes {
        println!(
            "{:<8} {:>7} {:>9.4} {:>8.3}",
            o.name, o.params, o.mse, o.ms_per_step
        );
    }
    Ok(())
}
