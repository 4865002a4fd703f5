//! [`Grads`]: gradients live outside tensors, keyed by parameter id or var slot.

use crate::error::{AutogradError, Result};
use crate::param::{Param, ParamId};
use crate::tape::{Var, accumulate};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;

/// The gradients a backward pass produced: one per parameter (by [`ParamId`]), one per
/// tracked leaf, and one per var marked with [`Var::retain_grad`].
///
/// Parameters iterate in id order (the order they were created), so a reduction over all
/// gradients (a global norm) is deterministic.
#[derive(Clone, Debug)]
pub struct Grads<T: Float = f32> {
    params: BTreeMap<ParamId, Tensor<T>>,
    slots: BTreeMap<usize, Tensor<T>>,
}

impl<T: Float> Default for Grads<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Grads<T> {
    /// An empty store.
    pub fn new() -> Self {
        Grads {
            params: BTreeMap::new(),
            slots: BTreeMap::new(),
        }
    }

    pub(crate) fn accumulate_param(&mut self, id: ParamId, g: Tensor<T>) -> Result<()> {
        let mut cur = self.params.remove(&id);
        accumulate(&mut cur, g);
        self.params.insert(id, cur.expect("just set"));
        Ok(())
    }

    pub(crate) fn accumulate_slot(&mut self, slot: usize, g: Tensor<T>) -> Result<()> {
        let mut cur = self.slots.remove(&slot);
        accumulate(&mut cur, g);
        self.slots.insert(slot, cur.expect("just set"));
        Ok(())
    }

    pub(crate) fn insert_slot(&mut self, slot: usize, g: Tensor<T>) {
        self.slots.insert(slot, g);
    }

    /// The gradient of a parameter (`None`: the loss does not depend on it).
    pub fn get(&self, p: &Param<T>) -> Option<&Tensor<T>> {
        self.params.get(&p.id())
    }
    /// The gradient of a parameter by id.
    pub fn get_by_id(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.params.get(&id)
    }
    /// Mutable access to a parameter's gradient.
    pub fn get_mut(&mut self, p: &Param<T>) -> Option<&mut Tensor<T>> {
        self.params.get_mut(&p.id())
    }
    /// Sets (or replaces) a parameter's gradient, e.g. to feed an optimizer gradients from
    /// elsewhere.
    ///
    /// # Errors
    /// When the shape differs from the parameter's.
    pub fn set(&mut self, p: &Param<T>, g: Tensor<T>) -> Result<()> {
        if g.shape() != p.value().shape() {
            return Err(AutogradError::GradShape {
                op: "Grads::set".into(),
                expected: p.value().shape().clone(),
                got: g.shape().clone(),
            });
        }
        self.params.insert(p.id(), g);
        Ok(())
    }
    /// The gradient of a tracked leaf or of a var marked with `retain_grad`.
    pub fn of(&self, v: &Var<'_, T>) -> Option<&Tensor<T>> {
        self.slots.get(&v.slot)
    }
    /// Every parameter gradient, in parameter creation order.
    pub fn params(&self) -> impl Iterator<Item = (ParamId, &Tensor<T>)> {
        self.params.iter().map(|(&k, v)| (k, v))
    }
    /// Every parameter gradient, mutably (for clipping).
    pub fn params_mut(&mut self) -> impl Iterator<Item = (ParamId, &mut Tensor<T>)> {
        self.params.iter_mut().map(|(&k, v)| (k, v))
    }
    /// Number of parameter gradients.
    pub fn len(&self) -> usize {
        self.params.len()
    }
    /// True when no parameter received a gradient.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}
