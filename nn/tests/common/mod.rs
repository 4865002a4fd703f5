//! Helpers shared by the RNN test binaries.

use recur_nn::Var;
use recur_tensor::Tensor;

/// `sum(out * Wo) + sum(h_n * Wh)` with weights that differ for every element, so every
/// output and final-state element takes its own gradient.
pub fn weighted_loss<'t>(out: &Var<'t, f64>, h_n: &Var<'t, f64>) -> Var<'t, f64> {
    let tape = out.tape();
    let weights = |d: &[usize]| {
        let k: usize = d.iter().product();
        tape.constant(Tensor::from_vec((0..k).map(|i| i as f64 * 0.1 - 1.0).collect(), d).unwrap())
    };
    let (wo, wh) = (weights(out.dims()), weights(h_n.dims()));
    out.mul(&wo)
        .unwrap()
        .sum_all()
        .add(&h_n.mul(&wh).unwrap().sum_all())
        .unwrap()
}
