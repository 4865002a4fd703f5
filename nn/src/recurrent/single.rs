//! One step of any cell on the tape, with PyTorch's `*Cell` parameters and checks: what
//! `LSTMCell` and `GRUCell` share.

use super::cell::{Cell, ForwardVars, Recurrence};
use super::config::check_cell;
use crate::error::{NnError, Result};
use crate::init::uniform_param;
use recur_autograd::{Param, Var};
use recur_tensor::{Float, Tensor};
use std::fmt;

/// A single cell's parameters: `weight_ih (G*H, in)`, `weight_hh (G*H, H)`, `bias_ih`,
/// `bias_hh (G*H)`.
#[derive(Debug)]
pub(crate) struct SingleStep<C: Cell, T: Float> {
    cell: C,
    input_size: usize,
    hidden_size: usize,
    w_ih: Param<T>,
    w_hh: Option<Param<T>>,
    b_ih: Option<Param<T>>,
    b_hh: Option<Param<T>>,
}

impl<C: Cell, T: Float> SingleStep<C, T> {
    /// PyTorch's init: every parameter from U(-1/sqrt(H), 1/sqrt(H)) in parameter order
    /// (zero sizes accepted, as PyTorch does).
    ///
    /// # Errors
    /// When the parameters cannot be allocated (sizes that overflow or do not fit).
    pub fn new<R: rand::Rng + ?Sized>(
        cell: C,
        input_size: usize,
        hidden_size: usize,
        bias: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let k = if hidden_size > 0 {
            1.0 / (hidden_size as f64).sqrt()
        } else {
            0.0
        };
        let gw = C::GATES.checked_mul(hidden_size).ok_or_else(|| {
            NnError::Config(format!(
                "{} gates x hidden_size {hidden_size} overflows",
                C::GATES
            ))
        })?;
        let hh = C::RECURRENCE != Recurrence::None;
        let w_ih = uniform_param(&[gw, input_size], k, rng)?;
        let w_hh = hh
            .then(|| uniform_param(&[gw, hidden_size], k, rng))
            .transpose()?;
        let b_ih = bias.then(|| uniform_param(&[gw], k, rng)).transpose()?;
        let b_hh = (bias && hh)
            .then(|| uniform_param(&[gw], k, rng))
            .transpose()?;
        Ok(SingleStep {
            cell,
            input_size,
            hidden_size,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        })
    }

    /// One step: `input` `(N, in)` or `(in)`, the state parts `(N, H)` or `(H)` (zeros if
    /// `None`); returns the new state parts with the input's batchedness. PyTorch's
    /// `LSTMCell` / `GRUCell` checks and messages, as `name`.
    pub fn forward<'t>(
        &self,
        name: &str,
        input: &Var<'t, T>,
        hx: Option<&[&Var<'t, T>]>,
    ) -> Result<Vec<Var<'t, T>>> {
        let shapes: Vec<&[usize]> =
            hx.map_or_else(Vec::new, |s| s.iter().map(|v| v.dims()).collect());
        let (batched, batch) = check_cell(
            name,
            self.input_size,
            self.hidden_size,
            input.dims(),
            &shapes,
        )?;
        self.step(input, hx, batched, batch)
    }

    /// [`SingleStep::forward`] after the caller's own checks (`RNNCell`'s differ).
    pub fn step<'t>(
        &self,
        input: &Var<'t, T>,
        hx: Option<&[&Var<'t, T>]>,
        batched: bool,
        batch: usize,
    ) -> Result<Vec<Var<'t, T>>> {
        let tape = input.tape();
        let lift = |v: &Var<'t, T>| -> Result<Var<'t, T>> {
            Ok(if batched {
                v.clone()
            } else {
                v.unsqueeze(0usize)?
            })
        };
        let x = lift(input)?;
        let state: Vec<Var<'t, T>> = match hx {
            Some(s) => s.iter().map(|v| lift(v)).collect::<Result<_>>()?,
            None => {
                let z = tape.constant(Tensor::zeros(&[batch, self.hidden_size]));
                vec![z; C::STATE_PARTS]
            }
        };
        let mut gates = x.matmul(&tape.param(&self.w_ih).t()?)?;
        if let Some(b) = &self.b_ih {
            gates = gates.add(&tape.param(b))?;
        }
        let mut hidden = None;
        if let Some(w) = &self.w_hh {
            let mut q = state[0].matmul(&tape.param(w).t()?)?;
            if let Some(b) = &self.b_hh {
                q = q.add(&tape.param(b))?;
            }
            match C::RECURRENCE {
                Recurrence::Joined => gates = gates.add(&q)?,
                _ => hidden = Some(q),
            }
        }
        let new = self.cell.forward_composed(ForwardVars {
            hidden: self.hidden_size,
            gates: &gates,
            hidden_gates: hidden.as_ref(),
            prev: &state,
        })?;
        if batched {
            Ok(new)
        } else {
            new.iter()
                .map(|v| Ok(v.squeeze(0usize)?))
                .collect::<Result<_>>()
        }
    }

    /// The sizes `(input_size, hidden_size)`.
    pub fn sizes(&self) -> (usize, usize) {
        (self.input_size, self.hidden_size)
    }

    /// PyTorch's names: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    pub fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        [
            ("weight_ih", Some(&self.w_ih)),
            ("weight_hh", self.w_hh.as_ref()),
            ("bias_ih", self.b_ih.as_ref()),
            ("bias_hh", self.b_hh.as_ref()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.map(|p| (n.to_string(), p)))
        .collect()
    }

    /// Mutable form of [`SingleStep::named_parameters`].
    pub fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        [
            ("weight_ih", Some(&mut self.w_ih)),
            ("weight_hh", self.w_hh.as_mut()),
            ("bias_ih", self.b_ih.as_mut()),
            ("bias_hh", self.b_hh.as_mut()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.map(|p| (n.to_string(), p)))
        .collect()
    }

    /// PyTorch's printed form: `LSTMCell(3, 4, bias=False)`, the cell's own words last
    /// (`RNNCell(3, 4, nonlinearity=relu)`).
    pub fn fmt_as(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
        write!(f, "{name}({}, {}", self.input_size, self.hidden_size)?;
        if self.b_ih.is_none() {
            f.write_str(", bias=False")?;
        }
        if let Some(extra) = self.cell.describe() {
            write!(f, ", {extra}")?;
        }
        f.write_str(")")
    }
}

/// Declares a one-step module type (`LSTMCell`, `GRUCell`) over [`SingleStep`] in PyTorch's
/// state form: `one` (`h`) or `two` (`(h, c)`).
macro_rules! cell_module {
    ($(#[$doc:meta])* $name:ident, $cell:ident, $torch:literal, $form:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<T: Float = f32> {
            step: $crate::recurrent::single::SingleStep<$cell, T>,
        }

        impl<T: Float> $name<T> {
            #[doc = concat!("`torch.nn.", $torch, "(input_size, hidden_size, bias)` with PyTorch's init: every")]
            /// parameter from U(-1/sqrt(H), 1/sqrt(H)), in the order `weight_ih (G*H, in)`,
            /// `weight_hh (G*H, H)`, `bias_ih (G*H)`, `bias_hh (G*H)`. PyTorch accepts zero
            /// sizes here, and so does this.
            ///
            /// # Errors
            /// When the parameters cannot be allocated (sizes that overflow or do not fit).
            pub fn new<R: rand::Rng + ?Sized>(
                input_size: usize,
                hidden_size: usize,
                bias: bool,
                rng: &mut R,
            ) -> $crate::error::Result<Self> {
                let step = $crate::recurrent::single::SingleStep::new($cell, input_size, hidden_size, bias, rng)?;
                Ok($name { step })
            }

            $crate::recurrent::single::cell_module!(@$form $torch);
        }

        impl<T: Float> std::fmt::Display for $name<T> {
            #[doc = concat!("PyTorch's printed form: `", $torch, "(3, 4, bias=False)`.")]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.step.fmt_as(f, $torch)
            }
        }

        impl<T: Float> $crate::module::Module<T> for $name<T> {
            fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
                self.step.named_parameters()
            }
            fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
                self.step.named_parameters_mut()
            }
        }
    };

    (@one $torch:literal) => {
        /// One step on the tape. `input` is `(N, in)` or `(in)`; `hx` is `(N, H)` or `(H)`,
        /// zeros if `None`; returns `h'` with the input's batchedness.
        ///
        /// # Errors
        #[doc = concat!("PyTorch's messages in its order, after the cell's printed form (`", $torch, "(3, 4): `): `", $torch, ": Expected input to be 1D or 2D, got 3D")]
        /// instead`, `input has inconsistent input_size: got 5 expected 3`, `Input batch size
        /// 2 doesn't match hidden0 batch size 3`, `hidden0 has inconsistent hidden_size: got
        /// 5, expected 4`, ...
        pub fn forward<'t>(
            &self,
            input: &Var<'t, T>,
            hx: Option<&Var<'t, T>>,
        ) -> $crate::error::Result<Var<'t, T>> {
            let s = hx.as_ref().map(std::slice::from_ref);
            let mut new = self
                .step
                .forward($torch, input, s)
                .map_err(|e| e.in_module(self))?;
            Ok(new.pop().expect("one state part"))
        }
    };

    (@two $torch:literal) => {
        /// One step on the tape. `input` is `(N, in)` or `(in)`; `hx` is `(h, c)`, each
        /// `(N, H)` or `(H)`, zeros if `None`; returns `(h', c')` with the input's
        /// batchedness.
        ///
        /// # Errors
        #[doc = concat!("PyTorch's messages in its order, after the cell's printed form (`", $torch, "(3, 4): `): `", $torch, ": Expected input to be 1D or 2D, got 3D")]
        /// instead`, `Expected hx[1] to be 1D or 2D, got 3D instead`, `input has inconsistent
        /// input_size: got 5 expected 3`, then for `hidden0` and `hidden1` in turn: `Expected
        /// 2D hidden1 (batch x hidden_size), but got 1D tensor`, `Input batch size 2 doesn't
        /// match hidden1 batch size 3`, `hidden1 has inconsistent hidden_size: got 5,
        /// expected 4`.
        pub fn forward<'t>(
            &self,
            input: &Var<'t, T>,
            hx: Option<(&Var<'t, T>, &Var<'t, T>)>,
        ) -> $crate::error::Result<(Var<'t, T>, Var<'t, T>)> {
            let s = hx.map(|(h, c)| [h, c]);
            let mut new = self
                .step
                .forward($torch, input, s.as_ref().map(|s| &s[..]))
                .map_err(|e| e.in_module(self))?;
            let c = new.pop().expect("two state parts");
            Ok((new.pop().expect("two state parts"), c))
        }
    };
}
pub(crate) use cell_module;
