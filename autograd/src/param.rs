//! [`Param`]: a trainable tensor with a stable identity.

use recur_tensor::{Float, Tensor};
use std::sync::atomic::{AtomicU64, Ordering};

/// A parameter's identity: stable for the parameter's life, so gradients recorded on any
/// tape map back to it from step to step.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ParamId(u64);

impl ParamId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ParamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
    /// The id as a number (unique within the process).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A trainable tensor. Parameters live outside tapes (in modules); each step registers them
/// on a fresh tape with [`Tape::param`](crate::Tape::param), and the gradients come back keyed
/// by [`ParamId`].
///
/// ```
/// use recur_autograd::{Param, Tape};
/// use recur_tensor::Tensor;
/// let w = Param::new(Tensor::<f64>::from_vec(vec![2.0], &[1])?);
/// let tape = Tape::new();
/// let y = tape.param(&w).square().sum_all();
/// let grads = tape.backward(&y)?;
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![4.0]);
/// # Ok::<(), recur_autograd::AutogradError>(())
/// ```
#[derive(Debug)]
pub struct Param<T: Float = f32> {
    id: ParamId,
    value: Tensor<T>,
}

impl<T: Float> Param<T> {
    /// A parameter with a fresh id.
    pub fn new(value: Tensor<T>) -> Self {
        Param {
            id: ParamId::fresh(),
            value,
        }
    }
    /// The id.
    pub fn id(&self) -> ParamId {
        self.id
    }
    /// The current value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }
    /// Mutable access to the value (optimizers update in place through this).
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }
    /// Replaces the value, keeping the id.
    pub fn set_value(&mut self, value: Tensor<T>) {
        self.value = value;
    }
    /// A copy with the same value and a **new** id (a separate parameter).
    pub fn duplicate(&self) -> Self {
        Param::new(self.value.clone())
    }
}
