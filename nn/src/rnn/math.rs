//! The RNN's cell math: `h_t = act(z_t)`, its backward from the output.

use super::Nonlinearity;
use crate::error::Result;
use crate::recurrent::{Backward, Cell, Forward, ForwardVars, Recurrence};
use recur_autograd::Var;
use recur_tensor::Float;

/// The Elman cell `h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)` as a [`Cell`]: one
/// gate block, the recurrent product joined with the input side, `act` = tanh or relu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RnnMath {
    /// The activation.
    pub nonlinearity: Nonlinearity,
}

impl RnnMath {
    /// The cell with activation `nonlinearity`.
    pub fn new(nonlinearity: Nonlinearity) -> Self {
        RnnMath { nonlinearity }
    }
}

impl Cell for RnnMath {
    const NAME: &'static str = "RNN";
    const GATES: usize = 1;
    const RECURRENCE: Recurrence = Recurrence::Joined;
    fn describe(&self) -> Option<String> {
        (self.nonlinearity != Nonlinearity::Tanh)
            .then(|| format!("nonlinearity={}", self.nonlinearity))
    }
    #[inline(always)]
    fn forward<T: Float>(&self, s: Forward<'_, T>) {
        s.next.copy_from_slice(s.gates);
        self.nonlinearity.apply(s.next);
    }
    #[inline(always)]
    fn backward<T: Float>(&self, s: Backward<'_, T>) {
        // dz = dh * act'(z), from the output h = act(z); h_{t-1} is reached only through W_hh.
        self.nonlinearity.backward(s.next, s.d_state, s.d_gates);
        s.d_state.fill(T::ZERO);
    }
    fn forward_composed<'t, T: Float>(&self, s: ForwardVars<'_, 't, T>) -> Result<Vec<Var<'t, T>>> {
        Ok(vec![match self.nonlinearity {
            Nonlinearity::Tanh => s.gates.tanh(),
            Nonlinearity::Relu => s.gates.relu(),
        }])
    }
}
