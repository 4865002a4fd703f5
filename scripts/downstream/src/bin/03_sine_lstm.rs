//! Task 3: an LSTM sine regressor. It reads `sin(t)` over 30 steps from a random phase and
//! predicts, at every step, the next value; mean squared error, Adam.

use recur::nn::loss::{Reduction, mse_loss};
use recur::nn::optim::{Adam, Optimizer};
use recur::nn::{Linear, Lstm, LstmConfig, Module, NnError, Tape, Var};
use recur::rand::RngExt;
use recur::tensor::Tensor;

const BATCH: usize = 16;
const LEN: usize = 30;
const DT: f32 = 0.3;

#[derive(Module)]
struct Model {
    lstm: Lstm<f32>,
    head: Linear<f32>,
}

impl Model {
    fn forward<'t>(&self, x: &Var<'t, f32>) -> Result<Var<'t, f32>, NnError> {
        let (out, _) = self.lstm.forward(x, None)?;
        self.head.forward(&out)
    }
}

/// Inputs `sin(t)` and targets `sin(t + DT)`, `(LEN, BATCH, 1)` each, from random phases.
fn batch(rng: &mut recur::SeededRng) -> (Tensor<f32>, Tensor<f32>) {
    let phases: Vec<f32> = (0..BATCH).map(|_| rng.random_range(0.0..6.3)).collect();
    let wave = |shift: usize| {
        let v =
            (0..LEN * BATCH).map(|i| (phases[i % BATCH] + (i / BATCH + shift) as f32 * DT).sin());
        Tensor::from_vec(v.collect(), &[LEN, BATCH, 1]).expect("sizes agree")
    };
    (wave(0), wave(1))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = recur::seeded_rng(0);
    let mut model = Model {
        lstm: Lstm::new(LstmConfig::new(1, 24), &mut rng)?,
        head: Linear::new(24, 1, &mut rng)?,
    };
    let mut opt = Adam::new(1e-2)?;
    for step in 0..=300 {
        let (x, y) = batch(&mut rng);
        let tape = Tape::new();
        let loss = mse_loss(&model.forward(&tape.constant(x))?, y, Reduction::Mean)?;
        let grads = tape.backward(&loss)?;
        opt.step_modules(&mut [&mut model], &grads)?;
        if step % 100 == 0 {
            println!("step {step:>3}: MSE {:.5}", loss.value().item()?);
        }
    }
    let (x, y) = batch(&mut rng);
    let tape = Tape::new();
    let mse = mse_loss(&model.forward(&tape.constant(x))?, y, Reduction::Mean)?
        .value()
        .item()?;
    println!(
        "held-out MSE {mse:.5} (predicting sin(t) itself scores {:.3})",
        1.0 - DT.cos()
    );
    assert!(mse < 5e-3, "MSE {mse}");
    Ok(())
}
