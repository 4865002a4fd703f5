//! The settings of a recurrent stack and PyTorch's checks on them and on a forward call's
//! shapes, with PyTorch's messages in PyTorch's order.

use crate::error::{NnError, Result};
use std::fmt;

/// The settings every recurrent stack shares: PyTorch's constructor arguments of
/// `nn.RNN` / `nn.LSTM` / `nn.GRU` (without the cell-specific ones), with its defaults.
///
/// ```
/// use recur_nn::recurrent::RecurrentConfig;
/// let c = RecurrentConfig::new(3, 4).num_layers(2).bidirectional(true);
/// assert_eq!((c.num_layers, c.directions(), c.bias, c.batch_first, c.dropout), (2, 2, true, false, 0.0));
/// assert_eq!(RecurrentConfig::new(0, 4).validate().unwrap_err().to_string(), "input_size must be greater than zero");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentConfig {
    /// Features per input step.
    pub input_size: usize,
    /// Features of the hidden state.
    pub hidden_size: usize,
    /// Stacked layers (default 1).
    pub num_layers: usize,
    /// Whether the layers have biases (default true).
    pub bias: bool,
    /// Input and output as `(batch, seq, feature)` (default false: `(seq, batch, feature)`).
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last (default 0).
    pub dropout: f64,
    /// A second, reverse direction per layer (default false).
    pub bidirectional: bool,
    /// The size of `h` after a learned projection `h_t = W_hr m_t` (PyTorch's `proj_size`;
    /// default 0: no projection). Only for cells that allow it (LSTM).
    pub proj_size: usize,
}

/// Declares a builder method per field of a config struct with the shared fields.
macro_rules! config_builders {
    () => {
        /// Sets `num_layers`.
        pub fn num_layers(mut self, n: usize) -> Self {
            self.num_layers = n;
            self
        }
        /// Sets `bias`.
        pub fn bias(mut self, b: bool) -> Self {
            self.bias = b;
            self
        }
        /// Sets `batch_first`.
        pub fn batch_first(mut self, b: bool) -> Self {
            self.batch_first = b;
            self
        }
        /// Sets `dropout`.
        pub fn dropout(mut self, p: f64) -> Self {
            self.dropout = p;
            self
        }
        /// Sets `bidirectional`.
        pub fn bidirectional(mut self, b: bool) -> Self {
            self.bidirectional = b;
            self
        }
        /// Sets `proj_size` (PyTorch's LSTM projections; 0: none).
        pub fn proj_size(mut self, p: usize) -> Self {
            self.proj_size = p;
            self
        }
        /// Number of directions: 2 if bidirectional, else 1.
        pub fn directions(&self) -> usize {
            if self.bidirectional { 2 } else { 1 }
        }
        /// The shared settings, as the engine takes them.
        pub fn recurrent(&self) -> $crate::recurrent::RecurrentConfig {
            $crate::recurrent::RecurrentConfig {
                input_size: self.input_size,
                hidden_size: self.hidden_size,
                num_layers: self.num_layers,
                bias: self.bias,
                batch_first: self.batch_first,
                dropout: self.dropout,
                bidirectional: self.bidirectional,
                proj_size: self.proj_size,
            }
        }
    };
}
pub(crate) use config_builders;

impl RecurrentConfig {
    /// `(input_size, hidden_size)` with PyTorch's defaults.
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        RecurrentConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
            proj_size: 0,
        }
    }

    config_builders!();

    /// The width of `h` (and of each direction's output): `proj_size` if set, else
    /// `hidden_size`.
    pub fn h_size(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.hidden_size
        }
    }

    /// `num_layers * directions`: the leading dim of the initial and final states.
    pub fn stacked(&self) -> usize {
        self.num_layers * self.directions()
    }

    /// Checks the settings with PyTorch's messages, in PyTorch's order.
    ///
    /// # Errors
    /// `dropout should be a number in range [0, 1] ...`, `input_size must be greater than
    /// zero`, and the same for `hidden_size` and `num_layers`.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.dropout) {
            return Err(NnError::Config(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed".into(),
            ));
        }
        for (name, v) in [
            ("input_size", self.input_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
        ] {
            if v == 0 {
                return Err(NnError::Config(format!("{name} must be greater than zero")));
            }
        }
        if self.proj_size >= self.hidden_size {
            return Err(NnError::Config(
                "proj_size has to be smaller than hidden_size".into(),
            ));
        }
        Ok(())
    }

    /// Checks that a stack of cells with `gates` gate blocks has parameter sizes that can be
    /// counted (`gates * hidden * max(in, D * hidden)` fits a `usize`).
    pub(crate) fn check_sizes(&self, name: &str, gates: usize) -> Result<()> {
        let widest = self
            .input_size
            .max(self.hidden_size.saturating_mul(self.directions()));
        let ok = gates
            .checked_mul(self.hidden_size)
            .and_then(|g| g.checked_mul(widest))
            .and_then(|n| n.checked_mul(std::mem::size_of::<f64>()))
            .is_some_and(|bytes| bytes <= isize::MAX as usize);
        if ok {
            Ok(())
        } else {
            Err(NnError::Config(format!(
                "{name}: parameters of {gates} x {} x {widest} elements cannot be allocated",
                self.hidden_size
            )))
        }
    }

    /// PyTorch's printed form for a module called `name`, only non-default fields, with the
    /// cell's own words (`nonlinearity=relu`) after `num_layers`.
    pub(crate) fn fmt_as(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        extra: Option<&str>,
    ) -> fmt::Result {
        write!(f, "{name}({}, {}", self.input_size, self.hidden_size)?;
        if self.proj_size != 0 {
            write!(f, ", proj_size={}", self.proj_size)?;
        }
        if self.num_layers != 1 {
            write!(f, ", num_layers={}", self.num_layers)?;
        }
        if let Some(e) = extra {
            write!(f, ", {e}")?;
        }
        if !self.bias {
            f.write_str(", bias=False")?;
        }
        if self.batch_first {
            f.write_str(", batch_first=True")?;
        }
        if self.dropout != 0.0 {
            write!(f, ", dropout={}", self.dropout)?;
        }
        if self.bidirectional {
            f.write_str(", bidirectional=True")?;
        }
        f.write_str(")")
    }
}

/// Declares the settings struct of a recurrent module with no settings of its own (`LSTM`,
/// `GRU`): PyTorch's constructor arguments with its defaults, a builder, validation with
/// PyTorch's messages, and PyTorch's printed form.
macro_rules! module_config {
    ($(#[$doc:meta])* $name:ident, $torch:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            /// Features per input step.
            pub input_size: usize,
            /// Features of the hidden state.
            pub hidden_size: usize,
            /// Stacked layers (default 1).
            pub num_layers: usize,
            /// Whether the layers have `b_ih` and `b_hh` (default true).
            pub bias: bool,
            /// Input and output as `(batch, seq, feature)` (default false: `(seq, batch, feature)`).
            pub batch_first: bool,
            /// Dropout probability on the outputs of every layer but the last (default 0).
            pub dropout: f64,
            /// A second, reverse direction per layer (default false).
            pub bidirectional: bool,
            /// The size of `h` after a learned projection (PyTorch's `proj_size`; 0: none).
            /// Only LSTM supports it, as in PyTorch.
            pub proj_size: usize,
        }

        impl $name {
            #[doc = concat!("`", $torch, "(input_size, hidden_size)` with PyTorch's defaults.")]
            ///
            /// ```
            #[doc = concat!("let c = recur_nn::", stringify!($name), "::new(3, 4);")]
            #[doc = concat!("assert_eq!((c.num_layers, c.bias, c.batch_first, c.dropout, c.bidirectional), (1, true, false, 0.0, false));")]
            /// ```
            pub fn new(input_size: usize, hidden_size: usize) -> Self {
                $crate::recurrent::RecurrentConfig::new(input_size, hidden_size).into()
            }

            $crate::recurrent::config::config_builders!();

            /// Checks the settings with PyTorch's messages, in PyTorch's order.
            ///
            /// # Errors
            /// `dropout should be a number in range [0, 1] ...`, `input_size must be greater
            /// than zero`, and the same for `hidden_size` and `num_layers`.
            ///
            /// ```
            #[doc = concat!("let e = recur_nn::", stringify!($name), "::new(0, 4).validate().unwrap_err();")]
            #[doc = concat!("assert_eq!(e.to_string(), \"input_size must be greater than zero\");")]
            #[doc = concat!("assert!(recur_nn::", stringify!($name), "::new(3, 4).dropout(1.0).validate().is_ok());")]
            /// ```
            pub fn validate(&self) -> $crate::error::Result<()> {
                self.recurrent().validate()
            }

        }

        impl From<$crate::recurrent::RecurrentConfig> for $name {
            fn from(c: $crate::recurrent::RecurrentConfig) -> Self {
                $name {
                    input_size: c.input_size,
                    hidden_size: c.hidden_size,
                    num_layers: c.num_layers,
                    bias: c.bias,
                    batch_first: c.batch_first,
                    dropout: c.dropout,
                    bidirectional: c.bidirectional,
                    proj_size: c.proj_size,
                }
            }
        }

        impl std::fmt::Display for $name {
            #[doc = concat!("PyTorch's printed form, only non-default fields: `", $torch,
                "(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)`.")]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.recurrent().fmt_as(f, $torch, None)
            }
        }
    };
}
pub(crate) use module_config;

/// An input normalised to `(seq, batch, feature)`, with how to undo it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Normalised {
    pub unbatched: bool,
    pub steps: usize,
    pub batch: usize,
}

/// PyTorch's forward checks, in its order: input rank, state ranks, feature size, state
/// shapes, sequence length. `hx` holds the shapes of the given initial states (one for RNN and
/// GRU, `(h0, c0)` for LSTM; empty when none was given); the messages follow PyTorch's wording
/// for one state (`hx should also be 3-D`, `Expected hidden size`) or two (`hx and cx should
/// also be 3-D`, `Expected hidden[0] size`).
pub(crate) fn check_forward(
    c: &RecurrentConfig,
    name: &str,
    input: &[usize],
    hx: &[&[usize]],
    widths: &[usize],
) -> Result<Normalised> {
    let rank = input.len();
    if rank != 2 && rank != 3 {
        // PyTorch's RNN says "tensor instead", its LSTM and GRU only "instead".
        let tensor = if name == "RNN" { " tensor" } else { "" };
        return Err(NnError::Input(format!(
            "{name}: Expected input to be 2D or 3D, got {rank}D{tensor} instead"
        )));
    }
    let unbatched = rank == 2;
    let want = if unbatched { 2 } else { 3 };
    if hx.iter().any(|h| h.len() != want) {
        let (what, form) = if unbatched {
            ("unbatched 2-D", "2-D")
        } else {
            ("batched 3-D", "3-D")
        };
        return Err(NnError::Input(match hx {
            [h] => format!(
                "For {what} input, hx should also be {form} but got {}-D tensor",
                h.len()
            ),
            _ => format!(
                "For {what} input, hx and cx should also be {form} but got ({}) tensors",
                hx.iter()
                    .map(|h| format!("{}-D", h.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    }
    if input[rank - 1] != c.input_size {
        return Err(NnError::Input(format!(
            "input.size(-1) must be equal to input_size. Expected {}, got {}",
            c.input_size,
            input[rank - 1]
        )));
    }
    let (steps, batch) = match (unbatched, c.batch_first) {
        (true, _) => (input[0], 1),
        (false, false) => (input[0], input[1]),
        (false, true) => (input[1], input[0]),
    };
    for (k, h) in hx.iter().enumerate() {
        let expected = [c.stacked(), batch, widths[k]];
        let got: Vec<usize> = if unbatched {
            vec![h[0], 1, h[1]]
        } else {
            h.to_vec()
        };
        if got != expected {
            let which = if hx.len() == 1 {
                String::new()
            } else {
                format!("[{k}]")
            };
            return Err(NnError::Input(format!(
                "Expected hidden{which} size ({}, {}, {}), got {got:?}",
                expected[0], expected[1], expected[2]
            )));
        }
    }
    if steps == 0 {
        return Err(NnError::Input(
            "Expected sequence length to be larger than 0 in RNN".into(),
        ));
    }
    Ok(Normalised {
        unbatched,
        steps,
        batch,
    })
}

/// PyTorch's checks on variable lengths.
pub(crate) fn check_lengths(lengths: &[usize], steps: usize, batch: usize) -> Result<()> {
    if lengths.len() != batch {
        return Err(NnError::Input(format!(
            "Expected `len(lengths)` to be equal to batch_size, but got {} (batch_size={batch})",
            lengths.len()
        )));
    }
    if lengths.contains(&0) {
        return Err(NnError::Input("Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0".into()));
    }
    if let Some(&l) = lengths.iter().find(|&&l| l > steps) {
        return Err(NnError::Input(format!(
            "a length of {l} exceeds the padded sequence length {steps}"
        )));
    }
    Ok(())
}

/// The cell-level checks of `LSTMCell` / `GRUCell`, in PyTorch's order: input rank, the
/// rank of each state, the feature size, then per state its rank after the batch dim is
/// added, its batch size and its hidden size. Returns whether the input is batched and the
/// batch size.
pub(crate) fn check_cell(
    name: &str,
    input_size: usize,
    hidden_size: usize,
    input: &[usize],
    hx: &[&[usize]],
) -> Result<(bool, usize)> {
    if input.len() != 1 && input.len() != 2 {
        return Err(NnError::Input(format!(
            "{name}: Expected input to be 1D or 2D, got {}D instead",
            input.len()
        )));
    }
    for (k, h) in hx.iter().enumerate() {
        if h.len() != 1 && h.len() != 2 {
            let which = if hx.len() == 1 {
                "hidden".to_string()
            } else {
                format!("hx[{k}]")
            };
            return Err(NnError::Input(format!(
                "{name}: Expected {which} to be 1D or 2D, got {}D instead",
                h.len()
            )));
        }
    }
    let batched = input.len() == 2;
    let batch = if batched { input[0] } else { 1 };
    let feat = input[input.len() - 1];
    if feat != input_size {
        return Err(NnError::Input(format!(
            "input has inconsistent input_size: got {feat} expected {input_size}"
        )));
    }
    for (k, h) in hx.iter().enumerate() {
        // PyTorch adds the batch dim to an unbatched call's states before checking them.
        let rank = h.len() + usize::from(!batched);
        let (hb, hh) = match h {
            [b, hh] => (*b, *hh),
            [hh] => (1, *hh),
            _ => (1, 0),
        };
        if rank != 2 {
            // PyTorch's RNNCell reports a batched/unbatched mix as a batch-size mismatch.
            return Err(NnError::Input(if name == "RNNCell" {
                format!("Input batch size {batch} doesn't match hidden{k} batch size {hb}")
            } else {
                format!("Expected 2D hidden{k} (batch x hidden_size), but got {rank}D tensor")
            }));
        }
        if hb != batch {
            return Err(NnError::Input(format!(
                "Input batch size {batch} doesn't match hidden{k} batch size {hb}"
            )));
        }
        if hh != hidden_size {
            return Err(NnError::Input(format!(
                "hidden{k} has inconsistent hidden_size: got {hh}, expected {hidden_size}"
            )));
        }
    }
    Ok((batched, batch))
}
