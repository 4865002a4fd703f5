//! [`Layer`]: a module with a one-input, one-output forward; [`Sequential`] chains them.

use crate::error::Result;
use crate::module::{Module, prefixed, prefixed_mut};
use recur_autograd::{Param, Var};
use recur_tensor::Float;

/// A module whose forward maps one var to one var (Linear, activations, Dropout, ...; Rnn,
/// Lstm and Gru map the input sequence to the output sequence from a zero state).
pub trait Layer<T: Float>: Module<T> {
    /// Records the forward on the input's tape ([`Var::tape`]).
    ///
    /// # Errors
    /// When the input's shape does not fit the layer.
    fn forward<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>>;
}

/// Layers applied in order (`torch.nn.Sequential`); parameters are named `0.weight`, `1.bias`, ...
///
/// A recurrent module ([`Rnn`](crate::Rnn), [`Lstm`](crate::Lstm), [`Gru`](crate::Gru)) is a
/// layer too: from a zero state it hands on its output sequence and drops its final state.
///
/// ```
/// use recur_nn::{Layer, Linear, Module, Sequential, Tanh, Tape};
/// use recur_tensor::Tensor;
/// let mut rng = recur_nn::seeded_rng(0);
/// let net = Sequential::<f32>::new()
///     .push(Linear::new(4, 8, &mut rng)?)
///     .push(Tanh)
///     .push(Linear::new(8, 2, &mut rng)?);
/// assert_eq!(net.named_parameters()[2].0, "2.weight");
/// let tape = Tape::new();
/// let y = net.forward(&tape.constant(Tensor::ones(&[3, 4])))?;
/// assert_eq!(y.dims(), &[3, 2]);
///
/// // An LSTM over (L, N, 4), then a head on every step: (L, N, 8) -> (L, N, 1).
/// let tagger = Sequential::<f32>::new()
///     .push(recur_nn::Lstm::new(recur_nn::LstmConfig::new(4, 8), &mut rng)?)
///     .push(Linear::new(8, 1, &mut rng)?);
/// let y = tagger.forward(&tape.constant(Tensor::ones(&[5, 3, 4])))?;
/// assert_eq!(y.dims(), &[5, 3, 1]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Layer<T>>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty sequence (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }
    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn push(mut self, layer: impl Layer<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }
    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed(&i.to_string(), l.named_parameters()))
            .collect()
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, l)| prefixed_mut(&i.to_string(), l.named_parameters_mut()))
            .collect()
    }
    fn set_training(&mut self, training: bool) {
        for l in &mut self.layers {
            l.set_training(training);
        }
    }
    fn is_training(&self) -> bool {
        self.layers.first().is_none_or(|l| l.is_training())
    }
}

impl<T: Float> Layer<T> for Sequential<T> {
    fn forward<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.forward(&h)?;
        }
        Ok(h)
    }
}
