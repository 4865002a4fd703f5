//! `RNNCell`: one step, `h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)`.

use super::{Nonlinearity, RnnMath};
use crate::error::{NnError, Result};
use crate::module::Module;
use crate::recurrent::config::check_cell;
use crate::recurrent::single::SingleStep;
use recur_autograd::{Param, Var};
use recur_tensor::Float;
use std::fmt;

/// `torch.nn.RNNCell(input_size, hidden_size, bias, nonlinearity)`.
///
/// ```
/// use recur_nn::{Nonlinearity, RnnCell, Tape};
/// use recur_tensor::Tensor;
/// let cell = RnnCell::<f64>::new(3, 4, true, Nonlinearity::Tanh, &mut recur_nn::seeded_rng(0))?;
/// assert_eq!(cell.to_string(), "RNNCell(3, 4)");
/// let tape = Tape::new();
/// let h1 = cell.forward(&tape.constant(Tensor::ones(&[2, 3])), None)?;
/// assert_eq!(h1.dims(), &[2, 4]);
/// let e = cell.forward(&tape.constant(Tensor::ones(&[2, 5])), None).unwrap_err();
/// assert_eq!(e.to_string(), "RNNCell(3, 4): input has inconsistent input_size: got 5 expected 3");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct RnnCell<T: Float = f32> {
    step: SingleStep<RnnMath, T>,
}

impl<T: Float> RnnCell<T> {
    /// A cell with PyTorch's init: every parameter from U(-1/sqrt(H), 1/sqrt(H)).
    ///
    /// # Errors
    /// `input_size must be greater than zero` (and the same for `hidden_size`).
    pub fn new<R: rand::Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        bias: bool,
        nonlinearity: Nonlinearity,
        rng: &mut R,
    ) -> Result<Self> {
        for (name, v) in [("input_size", input_size), ("hidden_size", hidden_size)] {
            if v == 0 {
                return Err(NnError::Config(format!("{name} must be greater than zero")));
            }
        }
        let step = SingleStep::new(
            RnnMath::new(nonlinearity),
            input_size,
            hidden_size,
            bias,
            rng,
        )?;
        Ok(RnnCell { step })
    }

    /// One step on the tape. `input` is `(N, in)` or `(in)`; `hx` is `(N, H)` or `(H)`, zeros
    /// if `None`; the result has the input's batchedness.
    ///
    /// # Errors
    /// The spec's messages (`RNNCell: Expected input to be 1D or 2D, got 3D instead`, ...).
    pub fn forward<'t>(&self, input: &Var<'t, T>, hx: Option<&Var<'t, T>>) -> Result<Var<'t, T>> {
        let (input_size, hidden_size) = self.step.sizes();
        let shapes: Vec<&[usize]> = hx.map(|h| h.dims()).into_iter().collect();
        let (batched, batch) =
            check_cell("RNNCell", input_size, hidden_size, input.dims(), &shapes)
                .map_err(|e| e.in_module(self))?;
        let s = hx.as_ref().map(std::slice::from_ref);
        let mut new = self.step.step(input, s, batched, batch)?;
        Ok(new.pop().expect("one state part"))
    }
}

impl<T: Float> fmt::Display for RnnCell<T> {
    /// PyTorch's printed form: `RNNCell(3, 4, bias=False, nonlinearity=relu)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.step.fmt_as(f, "RNNCell")
    }
}

impl<T: Float> Module<T> for RnnCell<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        self.step.named_parameters()
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.step.named_parameters_mut()
    }
}
