//! 03 · An RNN in 30 lines: `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)` from tape
//! ops, checked against `recur::nn::Rnn`, then trained by hand-written SGD.
//!
//! `cargo run --release --example 03_rnn_in_30_lines`
//!
//! The task: read 5 random numbers and output the first one at the end, so the state must
//! carry it through 4 more steps. The loss falls as the RNN learns to remember.

use recur::nn::{Module, Param, Rnn, RnnConfig, Tape, Var};
use recur::tensor::Tensor;

/// The RNN: the same parameters, in the same layout, as `torch.nn.RNN(1, H)`:
/// `weight_ih (H, 1)`, `weight_hh (H, H)`, `bias_ih (H)`, `bias_hh (H)`. Returns `h_T`.
fn forward<'t>(
    tape: &'t Tape<f32>,
    p: &[Param<f32>],
    xs: &[Tensor<f32>],
) -> recur::autograd::Result<Var<'t, f32>> {
    let [w_ih, w_hh, b_ih, b_hh] = [0, 1, 2, 3].map(|i| tape.param(&p[i]));
    let (w_ih_t, w_hh_t) = (w_ih.t()?, w_hh.t()?);
    let mut h = tape.constant(Tensor::zeros(&[xs[0].dims()[0], w_hh.dims()[0]]));
    for x in xs {
        // A batch of rows at once: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).
        let z = tape.constant(x.clone()).matmul(&w_ih_t)?.add(&b_ih)?;
        h = z.add(&h.matmul(&w_hh_t)?)?.add(&b_hh)?.tanh();
    }
    Ok(h)
}

/// A `(T, B, 1)` sequence as T tensors of `(B, 1)`.
fn steps(seq: &Tensor<f32>) -> recur::tensor::Result<Vec<Tensor<f32>>> {
    let (t_len, batch) = (seq.dims()[0], seq.dims()[1]);
    (0..t_len)
        .map(|t| seq.narrow(0, t, 1)?.reshape(&[batch, 1]))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (t_len, batch, hidden) = (5, 32, 16);
    let mut rng = recur::seeded_rng(0);
    let rnn = Rnn::<f32>::new(RnnConfig::new(1, hidden), &mut rng)?;
    // Take recur's layer's initial weights, so the two can be compared.
    let params: Vec<Param<f32>> = rnn
        .named_parameters()
        .iter()
        .map(|(_, p)| Param::new(p.value().clone()))
        .collect();
    let head = Param::new(Tensor::<f32>::uniform(&[hidden, 1], -0.25, 0.25, &mut rng));

    // Same numbers as the library's fused RNN?
    let seq = Tensor::<f32>::uniform(&[t_len, batch, 1], -1.0, 1.0, &mut rng);
    let ours = forward(&Tape::new(), &params, &steps(&seq)?)?
        .value()
        .to_vec();
    let (_, h_n) = rnn.forward_tensor(&seq, None)?;
    let diff = ours
        .iter()
        .zip(h_n.to_vec())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    println!("max |ours - recur::nn::Rnn| = {diff:.1e}");

    // Train: target = the first input, read from h_T by a linear head; plain SGD.
    let mut all: Vec<Param<f32>> = params;
    all.push(head);
    for step in 0..=300 {
        let seq = Tensor::<f32>::uniform(&[t_len, batch, 1], -1.0, 1.0, &mut rng);
        let xs = steps(&seq)?;
        let tape = Tape::new();
        let pred = forward(&tape, &all[..4], &xs)?.matmul(&tape.param(&all[4]))?;
        let loss = pred.sub(&tape.constant(xs[0].clone()))?.square().mean_all();
        let grads = tape.backward(&loss)?;
        for p in &mut all {
            let g = grads
                .get(p)
                .expect("every parameter is used")
                .mul_scalar(0.1);
            let v = p.value().sub(&g)?;
            p.set_value(v);
        }
        if step % 50 == 0 {
            println!(
                "step {step:>3}: MSE {:.4} (predicting 0 scores 0.333)",
                loss.value().item()?
            );
        }
    }
    Ok(())
}
