//! Task 2: a parity classifier. A 2-layer batch-first RNN reads random bits and a linear head
//! gives, at every step, the parity of the bits so far; cross-entropy, Adam.
//!
//! `02_parity [STEPS]` (default 800) prints `ms/step` (the mean after a few warm-up steps)
//! and the accuracy on a fresh batch, which must be above 0.95 after the default run
//! (`run.sh` times fewer steps and skips that check).

use recur::nn::loss::cross_entropy;
use recur::nn::optim::{Adam, Optimizer};
use recur::nn::{CrossEntropyOptions, Linear, Module, NnError, Rnn, RnnConfig, Tape, Var};
use recur::rand::RngExt;
use recur::tensor::{IndexTensor, Tensor};
use std::time::Instant;

const BATCH: usize = 32;
const LEN: usize = 20;
const HIDDEN: usize = 32;
const STEPS: usize = 800;

#[derive(Module)]
struct Model {
    rnn: Rnn<f32>,
    head: Linear<f32>,
}

impl Model {
    /// Logits `(BATCH * LEN, 2)` for a batch of bits `(BATCH, LEN, 1)`.
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Result<Var<'t, f32>, NnError> {
        let (out, _) = self.rnn.forward(x, None)?;
        Ok(self.head.forward(&out)?.reshape(&[BATCH * LEN, 2])?)
    }
}

/// A batch of random bit strings `(BATCH, LEN, 1)` and the running parity of each prefix.
fn batch(rng: &mut recur::SeededRng) -> (Tensor<f32>, IndexTensor) {
    let (mut x, mut y) = (
        Vec::with_capacity(BATCH * LEN),
        Vec::with_capacity(BATCH * LEN),
    );
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
    let steps: usize = std::env::args().nth(1).map_or(Ok(STEPS), |s| s.parse())?;
    let warmup = (steps / 10).max(1);
    let mut rng = recur::seeded_rng(0);
    let config = RnnConfig::new(1, HIDDEN).num_layers(2).batch_first(true);
    let mut model = Model {
        rnn: Rnn::new(config, &mut rng)?,
        head: Linear::new(HIDDEN, 2, &mut rng)?,
    };
    let mut opt = Adam::new(1e-2)?;
    let mut start = Instant::now();
    let mut loss = f32::NAN;
    for step in 0..warmup + steps {
        if step == warmup {
            start = Instant::now();
        }
        let (x, y) = batch(&mut rng);
        let tape = Tape::new();
        let logits = model.forward(&tape.constant(x))?;
        let l = cross_entropy(&logits, &y, CrossEntropyOptions::default())?;
        loss = l.value().item()?;
        let grads = tape.backward(&l)?;
        opt.step_modules(&mut [&mut model], &grads)?;
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / steps as f64;
    let (x, y) = batch(&mut rng);
    let predicted = model
        .forward(&Tape::new().constant(x))?
        .value()
        .argmax(1, false)?;
    let right = predicted
        .as_slice()
        .iter()
        .zip(y.as_slice())
        .filter(|(p, y)| p == y)
        .count();
    let accuracy = right as f64 / y.numel() as f64;
    println!("{ms:.3} ms/step ({steps} steps, final loss {loss:.4}, accuracy {accuracy:.3})");
    assert!(
        steps < STEPS || accuracy > 0.95,
        "accuracy {accuracy} after {steps} steps"
    );
    Ok(())
}
