//! Activations as modules (`Tanh`, `ReLU`, `Sigmoid`) and as functions.

use crate::error::Result;
use crate::layer::Layer;
use crate::module::Module;
use recur_autograd::{Param, Var};
use recur_tensor::Float;

macro_rules! activation {
    ($(#[$doc:meta])* $ty:ident, $func:ident, $method:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $ty;

        impl<T: Float> Module<T> for $ty {
            fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
                Vec::new()
            }
            fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
                Vec::new()
            }
        }

        impl<T: Float> Layer<T> for $ty {
            fn forward<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>> {
                Ok($func(x))
            }
        }

        #[doc = concat!("The `", stringify!($method), "` function on a var (the module [`", stringify!($ty), "`] as a function).")]
        pub fn $func<'t, T: Float>(x: &Var<'t, T>) -> Var<'t, T> {
            x.$method()
        }
    };
}

activation!(
    /// `torch.nn.Tanh`: squashes into (-1, 1).
    ///
    /// ```
    /// use recur_nn::{Layer, Tanh, Tape};
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let y = Tanh.forward(&tape.constant(Tensor::from_vec(vec![-100.0, 0.0], &[2])?))?;
    /// assert_eq!(y.value().to_vec(), vec![-1.0, 0.0]);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    Tanh, tanh, tanh
);
activation!(
    /// `torch.nn.ReLU`: `max(x, 0)`.
    ///
    /// ```
    /// use recur_nn::{Layer, ReLU, Tape};
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let y = ReLU.forward(&tape.constant(Tensor::from_vec(vec![-1.0, 2.0], &[2])?))?;
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0]);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    ReLU, relu, relu
);
activation!(
    /// `torch.nn.Sigmoid`: `1 / (1 + e^-x)`.
    ///
    /// ```
    /// use recur_nn::{Layer, Sigmoid, Tape};
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let y = Sigmoid.forward(&tape.constant(Tensor::from_vec(vec![0.0], &[1])?))?;
    /// assert_eq!(y.value().to_vec(), vec![0.5]);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    Sigmoid, sigmoid, sigmoid
);
