//! Times training steps of a parity model as a user's crate would write it: a 2-layer
//! batch-first RNN and a linear head, cross-entropy on every step's running parity, Adam.
//!
//! `cargo run [-- STEPS]` prints `ms/step` (the mean after a few warm-up steps).

use recur::autograd::Tape;
use recur::nn::loss::cross_entropy;
use recur::nn::optim::{Adam, Optimizer};
use recur::nn::{CrossEntropyOptions, Layer, Linear, Rnn, RnnConfig};
use recur::rand::RngExt;
use recur::tensor::{IndexTensor, Tensor};
use std::time::Instant;

const BATCH: usize = 32;
const LEN: usize = 20;
const HIDDEN: usize = 32;

/// A batch of random bit strings `(BATCH, LEN, 1)` and the running parity of each prefix.
fn batch(rng: &mut recur::rand::rngs::StdRng) -> (Tensor<f32>, IndexTensor) {
    let (mut x, mut y) = (Vec::with_capacity(BATCH * LEN), Vec::with_capacity(BATCH * LEN));
    for _ in 0..BATCH {
        let (word, mut parity) = (rng.random::<u64>(), 0);
        for t in 0..LEN {
            let bit = (word >> t) & 1;
            parity ^= bit;
            x.push(bit as f32);
            y.push(parity as i64);
        }
    }
    let x = Tensor::from_vec(x, &[BATCH, LEN, 1]).expect("sizes agree");
    let y = IndexTensor::from_vec(y, &[BATCH * LEN]).expect("sizes agree");
    (x, y)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args().nth(1).map_or(Ok(100), |s| s.parse())?;
    let warmup = (steps / 10).max(1);
    let mut rng = recur::seeded_rng(0);
    let config = RnnConfig::new(1, HIDDEN).num_layers(2).batch_first(true);
    let mut rnn = Rnn::<f32>::new(config, &mut rng)?;
    let mut head = Linear::new(HIDDEN, 2, &mut rng)?;
    let mut opt = Adam::new(1e-2)?;
    let mut start = Instant::now();
    let mut loss = f32::NAN;
    for step in 0..warmup + steps {
        if step == warmup {
            start = Instant::now();
        }
        let (x, y) = batch(&mut rng);
        let grads = {
            let tape = Tape::new();
            let (out, _) = rnn.forward(&tape, &tape.constant(x), None)?;
            let logits = head.forward(&tape, &out)?.reshape(&[BATCH * LEN, 2])?;
            let l = cross_entropy(&logits, &y, CrossEntropyOptions::default())?;
            loss = l.value().item()?;
            tape.backward(&l)?
        };
        opt.step_modules(&mut [&mut rnn, &mut head], &grads)?;
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / steps as f64;
    println!("{ms:.3} ms/step ({steps} steps, final loss {loss:.4})");
    Ok(())
}
