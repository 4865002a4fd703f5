//! The [`Module`] trait: named parameters, train/eval mode.

use recur_autograd::Param;
use recur_tensor::Float;

/// A layer or model: something with named parameters (PyTorch's names and order) and a
/// train/eval mode.
pub trait Module<T: Float> {
    /// Parameters with their PyTorch names, in PyTorch's order (`weight_ih_l0`, ...).
    fn named_parameters(&self) -> Vec<(String, &Param<T>)>;
    /// The same, mutably (optimizers and checkpoint loading go through this).
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)>;
    /// Total number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.named_parameters()
            .iter()
            .map(|(_, p)| p.value().numel())
            .sum()
    }
    /// Switches train (`true`) or eval (`false`) mode; dropout is active only in train mode.
    fn set_training(&mut self, _training: bool) {}
    /// Whether the module is in train mode.
    fn is_training(&self) -> bool {
        true
    }
}

/// Prefixes every name of `m`'s parameters with `prefix.` (for containers).
pub fn prefixed<'a, T: Float>(
    prefix: &str,
    v: Vec<(String, &'a Param<T>)>,
) -> Vec<(String, &'a Param<T>)> {
    v.into_iter()
        .map(|(n, p)| (format!("{prefix}.{n}"), p))
        .collect()
}

/// Mutable form of [`prefixed`].
pub fn prefixed_mut<'a, T: Float>(
    prefix: &str,
    v: Vec<(String, &'a mut Param<T>)>,
) -> Vec<(String, &'a mut Param<T>)> {
    v.into_iter()
        .map(|(n, p)| (format!("{prefix}.{n}"), p))
        .collect()
}
