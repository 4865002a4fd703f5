//! 02 · Autograd: record on a tape, run backward, check against finite differences.
//!
//! `cargo run --release --example 02_autograd_gradcheck`
//!
//! Every operation on a `Var` is recorded on its `Tape`; `tape.backward(&loss)` walks the
//! record in reverse and returns the gradient of `loss` for every parameter (and for any var
//! marked with `retain_grad`). `gradcheck` compares those gradients with central finite
//! differences in f64, which is how every op in recur is tested.

use recur::autograd::{GradcheckOptions, gradcheck};
use recur::nn::{Param, Tape};
use recur::tensor::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // L = sum(tanh(x · w)): one parameter w, a constant input x.
    let w = Param::new(Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0], &[3])?);
    let x = Tensor::<f64>::from_vec(vec![1.0, 0.3, -0.8], &[3])?;
    let tape = Tape::new();
    let z = tape.param(&w).mul(&tape.constant(x.clone()))?.retain_grad();
    let loss = z.tanh().sum_all();
    let grads = tape.backward(&loss)?;

    // By hand: dL/dw_i = x_i · tanh'(z_i) = x_i · (1 - tanh(z_i)²).
    let by_hand: Vec<f64> = (0..3)
        .map(|i| {
            let zi = x.to_vec()[i] * w.value().to_vec()[i];
            x.to_vec()[i] * (1.0 - zi.tanh().powi(2))
        })
        .collect();
    println!(
        "dL/dw from the tape: {}",
        grads.get(&w).expect("w was used")
    );
    println!("dL/dw by hand:       {by_hand:?}");
    println!("dL/dz (retained):    {}", grads.of(&z).expect("retained"));

    // gradcheck: the whole Jacobian against (f(x + eps) - f(x - eps)) / 2eps, per input.
    let report = gradcheck(
        |_, v| Ok(v[0].mul(&v[1])?.tanh().sum_all()),
        &[w.value().clone(), x],
        &GradcheckOptions::default(),
    )?;
    for r in &report.inputs {
        println!(
            "gradcheck input {}: max |analytical - numerical| = {:.1e}",
            r.input, r.max_abs_err
        );
    }
    Ok(())
}
