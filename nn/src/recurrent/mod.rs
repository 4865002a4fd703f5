//! The recurrent engine: one machine for every recurrent cell.
//!
//! A cell is only its math — a type implementing [`Cell`]: how many gate blocks its input
//! projection has, how `h_{t-1}` enters them ([`Recurrence`]), what state it carries, and the
//! element-wise step from gate pre-activations to the new state, with that step's backward.
//! [`Recurrent`] owns everything else: PyTorch's shape checks and messages, variable lengths,
//! the input projection (one GEMM, or a token lookup for one-hot input), the per-step
//! recurrent product on a prepared `W_hh`, pooled buffers, the thread split over batch rows,
//! the BPTT loop, the weight, input and bias gradients as single GEMMs, layers, directions,
//! dropout between layers, the tape node, no-tape inference, the one-step [`Stepper`] for
//! sampling, and PyTorch's parameter names.
//!
//! [`Rnn`](crate::Rnn), [`Lstm`](crate::Lstm) and [`Gru`](crate::Gru) are this engine with
//! their cells ([`RnnMath`](crate::rnn::RnnMath), [`LstmMath`](crate::lstm::LstmMath),
//! [`GruMath`](crate::gru::GruMath)); a cell of your own gets the same speed (see "Write your
//! own cell" in the guide, `recur::guide`, and `examples/custom_cell`). [`forward_composed`] runs
//! the same stack from primitive ops and the cell's [`Cell::forward_composed`]: the reference
//! a cell's fused step is tested against.

mod cell;
mod composed;
pub(crate) mod config;
mod layer;
mod module;
pub(crate) mod single;
pub(crate) mod split;
mod stack;
mod step_weight;
mod stepper;
pub(crate) mod wrapper;

pub use cell::{Backward, Cell, Forward, ForwardVars, Recurrence, sigmoid_in_place};
pub use composed::{Composed, forward_composed};
pub use config::RecurrentConfig;
pub(crate) use layer::Layer;
pub use module::{Recurrent, RecurrentOutput};
pub use stepper::Stepper;
