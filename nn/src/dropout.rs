//! Dropout: inverted scaling, an independent mask per element, identity in eval mode.

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::module::Module;
use rand::SeedableRng;
use recur_autograd::{Param, Var};
use recur_tensor::{Float, Tensor};
use std::cell::Cell;

/// A dropout mask: each element kept with probability `1 - p` and scaled by `1 / (1 - p)`,
/// else 0 (all zeros when `p == 1`, as in PyTorch).
pub(crate) fn mask<T: Float, R: rand::Rng + ?Sized>(
    dims: &[usize],
    p: f64,
    rng: &mut R,
) -> Tensor<T> {
    let u = Tensor::<f64>::uniform(dims, 0.0, 1.0, rng);
    let scale = if p < 1.0 {
        T::from_f64(1.0 / (1.0 - p))
    } else {
        T::ZERO
    };
    Tensor::from_vec(
        u.to_vec()
            .into_iter()
            .map(|v| if v < p { T::ZERO } else { scale })
            .collect(),
        dims,
    )
    .expect("same element count")
}

/// `torch.nn.Dropout(p)`: in train mode zeroes each element with probability `p` and scales
/// the rest by `1/(1-p)`; the identity in eval mode. Masks come from the module's own seeded
/// stream.
///
/// ```
/// use recur_nn::{Dropout, Layer, Tape};
/// use recur_tensor::Tensor;
/// let mut d = Dropout::new(0.5, 7)?;
/// let tape = Tape::<f64>::new();
/// let y = d.forward(&tape.constant(Tensor::ones(&[1000])))?;
/// assert!(y.value().to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
/// d.set_training(false);
/// let y = d.forward(&tape.constant(Tensor::ones(&[3])))?;
/// assert_eq!(y.value().to_vec(), vec![1.0; 3]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: bool,
    seed: u64,
    calls: Cell<u64>,
}

impl Dropout {
    /// Dropout with probability `p`, masks seeded by `seed`.
    ///
    /// # Errors
    /// PyTorch's message when `p` is not in [0, 1].
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(NnError::Config(format!(
                "dropout probability has to be between 0 and 1, but got {p}"
            )));
        }
        Ok(Dropout {
            p,
            training: true,
            seed,
            calls: Cell::new(0),
        })
    }
    /// The probability.
    pub fn p(&self) -> f64 {
        self.p
    }
    /// Train (`true`, dropout active) or eval (`false`, identity) mode. The same as
    /// [`Module::set_training`], without naming the element type.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

impl<T: Float> Module<T> for Dropout {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        Vec::new()
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        Vec::new()
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

impl<T: Float> Layer<T> for Dropout {
    fn forward<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>> {
        let tape = x.tape();
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        let call = self.calls.get();
        self.calls.set(call + 1);
        let mut rng =
            rand::rngs::StdRng::seed_from_u64(self.seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Ok(x.mul(&tape.constant(mask(x.dims(), self.p, &mut rng)))?)
    }
}
