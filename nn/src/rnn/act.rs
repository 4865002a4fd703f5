//! The RNN nonlinearity: `tanh` or `relu`, applied in place, and its backward from the output.

use crate::error::NnError;
use recur_tensor::Float;
use std::fmt;
use std::str::FromStr;

/// The activation of an RNN layer, as in `torch.nn.RNN(nonlinearity=...)`.
///
/// ```
/// use recur_nn::Nonlinearity;
/// assert_eq!("relu".parse::<Nonlinearity>()?, Nonlinearity::Relu);
/// let e = "sigmoid".parse::<Nonlinearity>().unwrap_err();
/// assert_eq!(e.to_string(), "Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'.");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Nonlinearity {
    /// `tanh` (the default): squashes into (-1, 1).
    #[default]
    Tanh,
    /// `max(x, 0)`.
    Relu,
}

impl Nonlinearity {
    /// Applies the activation to every element in place.
    #[inline]
    pub fn apply<T: Float>(self, v: &mut [T]) {
        match self {
            Nonlinearity::Tanh => T::tanh_slice(v),
            Nonlinearity::Relu => {
                for x in v {
                    let y = *x;
                    // `y + 0` (equal to `y` here, NaN kept) rather than `y` itself: storing the
                    // loaded value back would become a masked store under AVX-512, which AMD
                    // cores run several times slower than the whole loop.
                    *x = if y <= T::ZERO { T::ZERO } else { y + T::ZERO };
                }
            }
        }
    }

    /// `dz = dh * act'(z)`, computed from the output `h = act(z)`.
    #[inline]
    pub fn backward<T: Float>(self, h: &[T], dh: &[T], dz: &mut [T]) {
        match self {
            Nonlinearity::Tanh => {
                for ((d, &y), &g) in dz.iter_mut().zip(h).zip(dh) {
                    *d = g * (T::ONE - y * y);
                }
            }
            Nonlinearity::Relu => {
                for ((d, &y), &g) in dz.iter_mut().zip(h).zip(dh) {
                    *d = if y > T::ZERO { g } else { T::ZERO };
                }
            }
        }
    }

    /// PyTorch's name: `"tanh"` or `"relu"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Nonlinearity::Tanh => "tanh",
            Nonlinearity::Relu => "relu",
        }
    }
}

impl fmt::Display for Nonlinearity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Nonlinearity {
    type Err = NnError;
    fn from_str(s: &str) -> Result<Self, NnError> {
        match s {
            "tanh" => Ok(Nonlinearity::Tanh),
            "relu" => Ok(Nonlinearity::Relu),
            other => Err(NnError::Config(format!(
                "Unknown nonlinearity '{other}'. Select from 'tanh' or 'relu'."
            ))),
        }
    }
}
