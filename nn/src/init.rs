//! Parameter initialisation as PyTorch does it.
//!
//! Every module constructor allocates its parameters here, so sizes are checked in one
//! place: a shape whose element count overflows or that does not fit in memory is an
//! error, never a wrapped count, a panic or an abort.

use crate::error::Result;
use recur_autograd::Param;
use recur_tensor::{Float, Tensor};

/// A parameter drawn from U(-bound, bound) (PyTorch's `init.uniform_(-bound, bound)`).
///
/// # Errors
/// When the shape does not fit in memory ([`Tensor::try_uniform`]).
///
/// ```
/// let p = recur_nn::init::uniform_param::<f32, _>(&[4, 3], 0.5, &mut recur_nn::seeded_rng(0))?;
/// assert!(p.value().to_vec().iter().all(|v| v.abs() <= 0.5));
/// assert!(recur_nn::init::uniform_param::<f32, _>(&[1 << 32, 1 << 32], 0.5, &mut recur_nn::seeded_rng(0)).is_err());
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn uniform_param<T: Float, R: rand::Rng + ?Sized>(
    dims: &[usize],
    bound: f64,
    rng: &mut R,
) -> Result<Param<T>> {
    Ok(Param::new(Tensor::try_uniform(
        dims,
        T::from_f64(-bound),
        T::from_f64(bound),
        rng,
    )?))
}

/// A parameter drawn from N(0, 1) (PyTorch's `init.normal_`, used by `Embedding`).
///
/// # Errors
/// When the shape does not fit in memory ([`Tensor::try_normal`]).
pub fn normal_param<T: Float, R: rand::Rng + ?Sized>(
    dims: &[usize],
    rng: &mut R,
) -> Result<Param<T>> {
    Ok(Param::new(Tensor::try_normal(dims, T::ZERO, T::ONE, rng)?))
}
