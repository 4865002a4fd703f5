//! The [`Module`] trait: named parameters, train/eval mode.

use recur_autograd::Param;
use recur_tensor::Float;

/// The derive: `#[derive(Module)]` makes a struct of modules a [`Module`](trait@Module),
/// with PyTorch's dotted names (`rnn.weight_ih_l0`, `layers.0.weight`).
#[doc(inline)]
pub use recur_derive::Module;

/// A layer or model: something with named parameters (PyTorch's names and order) and a
/// train/eval mode.
///
/// A struct of modules gets it with `#[derive(Module)]` (the derive macro of the same name).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a recur `Module<{T}>`",
    label = "not a module of `{T}`",
    note = "in `#[derive(Module)]`, mark a field that holds no parameters `#[module(skip)]`"
)]
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

/// What the code of `#[derive(Module)]` names, under one path (`recur::nn::__derive`).
#[doc(hidden)]
pub mod __derive {
    pub use super::{Module, prefixed, prefixed_mut};
    pub use recur_autograd::Param;
    pub use recur_tensor::Float;
}
