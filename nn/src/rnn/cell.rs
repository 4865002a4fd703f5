//! `RNNCell`: one step, `h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)`.

use super::Nonlinearity;
use crate::error::{NnError, Result};
use crate::init::uniform_param;
use crate::module::Module;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, Tensor};
use std::fmt;

/// `torch.nn.RNNCell(input_size, hidden_size, bias, nonlinearity)`.
///
/// ```
/// use recur_nn::{Nonlinearity, RnnCell, Tape};
/// use recur_tensor::Tensor;
/// let cell = RnnCell::<f64>::new(3, 4, true, Nonlinearity::Tanh, &mut recur_nn::seeded_rng(0))?;
/// assert_eq!(cell.to_string(), "RNNCell(3, 4)");
/// let tape = Tape::new();
/// let h1 = cell.forward(&tape, &tape.constant(Tensor::ones(&[2, 3])), None)?;
/// assert_eq!(h1.dims(), &[2, 4]);
/// let e = cell.forward(&tape, &tape.constant(Tensor::ones(&[2, 5])), None).unwrap_err();
/// assert_eq!(e.to_string(), "input has inconsistent input_size: got 5 expected 3");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct RnnCell<T: Float = f32> {
    input_size: usize,
    hidden_size: usize,
    nonlinearity: Nonlinearity,
    w_ih: Param<T>,
    w_hh: Param<T>,
    b_ih: Option<Param<T>>,
    b_hh: Option<Param<T>>,
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
        let k = 1.0 / (hidden_size as f64).sqrt();
        let w_ih = uniform_param(&[hidden_size, input_size], k, rng)?;
        let w_hh = uniform_param(&[hidden_size, hidden_size], k, rng)?;
        let (b_ih, b_hh) = if bias {
            (
                Some(uniform_param(&[hidden_size], k, rng)?),
                Some(uniform_param(&[hidden_size], k, rng)?),
            )
        } else {
            (None, None)
        };
        Ok(RnnCell {
            input_size,
            hidden_size,
            nonlinearity,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        })
    }

    /// Checks shapes with PyTorch's messages, in its order; returns whether the input is
    /// batched and the batch size.
    fn check(&self, input: &[usize], hx: Option<&[usize]>) -> Result<(bool, usize)> {
        if input.len() != 1 && input.len() != 2 {
            return Err(NnError::Input(format!(
                "RNNCell: Expected input to be 1D or 2D, got {}D instead",
                input.len()
            )));
        }
        if let Some(h) = hx
            && h.len() != 1
            && h.len() != 2
        {
            return Err(NnError::Input(format!(
                "RNNCell: Expected hidden to be 1D or 2D, got {}D instead",
                h.len()
            )));
        }
        let batched = input.len() == 2;
        let batch = if batched { input[0] } else { 1 };
        let feat = input[input.len() - 1];
        if feat != self.input_size {
            return Err(NnError::Input(format!(
                "input has inconsistent input_size: got {feat} expected {}",
                self.input_size
            )));
        }
        if let Some(h) = hx {
            let (hb, hh) = if h.len() == 2 {
                (h[0], h[1])
            } else {
                (1, h[0])
            };
            if h.len() != input.len() || hb != batch {
                return Err(NnError::Input(format!(
                    "Input batch size {batch} doesn't match hidden0 batch size {hb}"
                )));
            }
            if hh != self.hidden_size {
                return Err(NnError::Input(format!(
                    "hidden0 has inconsistent hidden_size: got {hh}, expected {}",
                    self.hidden_size
                )));
            }
        }
        Ok((batched, batch))
    }

    /// One step on the tape. `input` is `(N, in)` or `(in)`; `hx` is `(N, H)` or `(H)`, zeros
    /// if `None`; the result has the input's batchedness.
    ///
    /// # Errors
    /// The spec's messages (`RNNCell: Expected input to be 1D or 2D, got 3D instead`, ...).
    pub fn forward<'t>(
        &self,
        tape: &'t Tape<T>,
        input: &Var<'t, T>,
        hx: Option<&Var<'t, T>>,
    ) -> Result<Var<'t, T>> {
        let (batched, batch) = self.check(input.dims(), hx.map(|h| h.dims()))?;
        let x = if batched {
            input.clone()
        } else {
            input.unsqueeze(0usize)?
        };
        let h = match hx {
            Some(h) if batched => h.clone(),
            Some(h) => h.unsqueeze(0usize)?,
            None => tape.constant(Tensor::zeros(&[batch, self.hidden_size])),
        };
        let mut z = x
            .matmul(&tape.param(&self.w_ih).t()?)?
            .add(&h.matmul(&tape.param(&self.w_hh).t()?)?)?;
        if let (Some(b_ih), Some(b_hh)) = (&self.b_ih, &self.b_hh) {
            z = z.add(&tape.param(b_ih))?.add(&tape.param(b_hh))?;
        }
        let h1 = match self.nonlinearity {
            Nonlinearity::Tanh => z.tanh()?,
            Nonlinearity::Relu => z.relu()?,
        };
        Ok(if batched { h1 } else { h1.squeeze(0usize)? })
    }
}

impl<T: Float> fmt::Display for RnnCell<T> {
    /// PyTorch's printed form: `RNNCell(3, 4, bias=False, nonlinearity=relu)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RNNCell({}, {}", self.input_size, self.hidden_size)?;
        if self.b_ih.is_none() {
            f.write_str(", bias=False")?;
        }
        if self.nonlinearity != Nonlinearity::Tanh {
            write!(f, ", nonlinearity={}", self.nonlinearity)?;
        }
        f.write_str(")")
    }
}

impl<T: Float> Module<T> for RnnCell<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        let mut v = vec![
            ("weight_ih".to_string(), &self.w_ih),
            ("weight_hh".to_string(), &self.w_hh),
        ];
        if let (Some(b_ih), Some(b_hh)) = (&self.b_ih, &self.b_hh) {
            v.push(("bias_ih".to_string(), b_ih));
            v.push(("bias_hh".to_string(), b_hh));
        }
        v
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let mut v = vec![
            ("weight_ih".to_string(), &mut self.w_ih),
            ("weight_hh".to_string(), &mut self.w_hh),
        ];
        if let (Some(b_ih), Some(b_hh)) = (&mut self.b_ih, &mut self.b_hh) {
            v.push(("bias_ih".to_string(), b_ih));
            v.push(("bias_hh".to_string(), b_hh));
        }
        v
    }
}
