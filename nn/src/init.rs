//! Parameter initialisation as PyTorch does it.

use recur_autograd::Param;
use recur_tensor::{Float, Tensor};

/// A parameter drawn from U(-bound, bound) (PyTorch's `init.uniform_(-bound, bound)`).
///
/// ```
/// let p = recur_nn::init::uniform_param::<f32, _>(&[4, 3], 0.5, &mut recur_nn::seeded_rng(0));
/// assert!(p.value().to_vec().iter().all(|v| v.abs() <= 0.5));
/// ```
pub fn uniform_param<T: Float, R: rand::Rng + ?Sized>(
    dims: &[usize],
    bound: f64,
    rng: &mut R,
) -> Param<T> {
    Param::new(Tensor::uniform(
        dims,
        T::from_f64(-bound),
        T::from_f64(bound),
        rng,
    ))
}

/// A parameter drawn from N(0, 1) (PyTorch's `init.normal_`, used by `Embedding`).
pub fn normal_param<T: Float, R: rand::Rng + ?Sized>(dims: &[usize], rng: &mut R) -> Param<T> {
    Param::new(Tensor::normal(dims, T::ZERO, T::ONE, rng))
}
