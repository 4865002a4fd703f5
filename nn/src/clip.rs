//! Gradient clipping, the standard remedy for exploding gradients in RNNs:
//! [`clip_grad_norm`] (one global norm over all gradients, `torch.nn.utils.clip_grad_norm_`)
//! and [`clip_grad_value`] (`torch.nn.utils.clip_grad_value_`). Both work on the [`Grads`]
//! a backward pass returned, in place. PyTorch's keyword arguments with their defaults
//! (`norm_type=2.0`, `error_if_nonfinite=False`) are the fields of [`ClipNormOptions`], taken
//! by [`clip_grad_norm_with`].

use crate::error::{NnError, Result};
use crate::optim::py_float;
use recur_autograd::{Grads, ParamId};
use recur_tensor::{Float, Tensor};

fn check_norm_args(max_norm: f64, norm_type: f64) -> Result<()> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(NnError::Config(format!(
            "clip_grad_norm: max_norm must be non-negative, got {}",
            py_float(max_norm)
        )));
    }
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(NnError::Config(format!(
            "clip_grad_norm: norm_type must be positive or inf, got {}",
            py_float(norm_type)
        )));
    }
    Ok(())
}

/// The total `norm_type`-norm of the selected gradients: the norm of the per-tensor norms,
/// as if every gradient were concatenated into one vector (`inf`: the largest `|g|`). Empty:
/// 0. Computed in `T`, as PyTorch does in the gradients' dtype.
fn total_norm<T: Float>(grads: &Grads<T>, norm_type: f64, keep: &dyn Fn(ParamId) -> bool) -> T {
    let norms: Vec<T> = grads
        .params()
        .filter(|(id, _)| keep(*id))
        .map(|(_, g)| g.norm(norm_type))
        .collect();
    if norms.is_empty() {
        return T::ZERO;
    }
    let n = norms.len();
    Tensor::from_vec(norms, &[n]).map_or(T::NAN, |t| t.norm(norm_type))
}

fn clip_norm_where<T: Float>(
    grads: &mut Grads<T>,
    max_norm: f64,
    options: ClipNormOptions,
    keep: &dyn Fn(ParamId) -> bool,
) -> Result<f64> {
    let ClipNormOptions {
        norm_type,
        error_if_nonfinite,
    } = options;
    check_norm_args(max_norm, norm_type)?;
    let total = total_norm(grads, norm_type, keep);
    if error_if_nonfinite && !total.is_finite() {
        return Err(NnError::Input(format!(
            "The total norm of order {} for gradients from `parameters` is non-finite, so it \
             cannot be clipped. To disable this error and scale the gradients by the non-finite \
             norm anyway, set `error_if_nonfinite=False`",
            py_float(norm_type)
        )));
    }
    // PyTorch multiplies by the clamped coefficient unconditionally; a factor of exactly 1
    // changes nothing, so skip that pass. A NaN total makes every gradient NaN, as in PyTorch.
    let coef = T::from_f64(max_norm) / (total + T::from_f64(1e-6));
    let coef = coef.min_nan(T::ONE);
    if coef != T::ONE {
        for (_, g) in grads.params_mut().filter(|(id, _)| keep(*id)) {
            for v in g.data_mut() {
                *v *= coef;
            }
        }
    }
    Ok(total.to_f64())
}

/// The optional arguments of [`clip_grad_norm_with`] and [`clip_grad_norm_of`], with
/// PyTorch's defaults: `norm_type = 2.0`, `error_if_nonfinite = false`.
///
/// ```
/// use recur_nn::clip::ClipNormOptions;
/// let o = ClipNormOptions::default();
/// assert_eq!((o.norm_type, o.error_if_nonfinite), (2.0, false));
/// let o = ClipNormOptions::default().norm_type(f64::INFINITY).error_if_nonfinite(true);
/// assert_eq!((o.norm_type, o.error_if_nonfinite), (f64::INFINITY, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipNormOptions {
    /// The `p` of the p-norm: any `p > 0`, or `f64::INFINITY` for the largest `|g|`
    /// (default 2).
    pub norm_type: f64,
    /// Refuse to clip, with an error, when the total norm is NaN or infinite (default
    /// false: the gradients are scaled by the resulting NaN or 0 factor, as in PyTorch).
    pub error_if_nonfinite: bool,
}

impl Default for ClipNormOptions {
    fn default() -> Self {
        ClipNormOptions {
            norm_type: 2.0,
            error_if_nonfinite: false,
        }
    }
}

impl ClipNormOptions {
    /// Sets `norm_type`.
    pub fn norm_type(mut self, norm_type: f64) -> Self {
        self.norm_type = norm_type;
        self
    }

    /// Sets `error_if_nonfinite`.
    pub fn error_if_nonfinite(mut self, error_if_nonfinite: bool) -> Self {
        self.error_if_nonfinite = error_if_nonfinite;
        self
    }
}

/// Scales every parameter gradient in `grads` so that their total 2-norm is at most
/// `max_norm`, like `torch.nn.utils.clip_grad_norm_(params, max_norm)`, and returns the
/// total norm **before** clipping. Other norms, and an error for a non-finite total: see
/// [`clip_grad_norm_with`].
///
/// `total` is the 2-norm of the per-tensor 2-norms (the norm of all gradients as one
/// vector); each gradient is multiplied by `min(max_norm / (total + 1e-6), 1)`. A
/// non-finite total scales the gradients by a NaN or 0 factor, as PyTorch does.
///
/// # Errors
/// A negative or NaN `max_norm` ([`NnError::Config`]).
///
/// ```
/// use recur_nn::{clip::clip_grad_norm, Grads, Param};
/// use recur_tensor::Tensor;
/// let a = Param::new(Tensor::<f64>::zeros(&[2, 2]));
/// let b = Param::new(Tensor::<f64>::zeros(&[3]));
/// let mut grads = Grads::new();
/// grads.set(&a, Tensor::from_vec(vec![3.0, 0.0, 0.0, 4.0], &[2, 2])?)?;
/// grads.set(&b, Tensor::from_vec(vec![12.0, 0.0, 0.0], &[3])?)?;
/// let total = clip_grad_norm(&mut grads, 1.0)?;
/// assert_eq!(total, 13.0);
/// let g = grads.get(&b).unwrap().to_vec();
/// assert!((g[0] - 12.0 / 13.0).abs() < 1e-6);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn clip_grad_norm<T: Float>(grads: &mut Grads<T>, max_norm: f64) -> Result<f64> {
    clip_grad_norm_with(grads, max_norm, ClipNormOptions::default())
}

/// [`clip_grad_norm`] with PyTorch's optional arguments ([`ClipNormOptions`]):
/// `clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite)`.
///
/// `total` is the `norm_type`-norm of the per-tensor norms (for `norm_type = inf`, the
/// largest `|g|`); each gradient is multiplied by `min(max_norm / (total + 1e-6), 1)`.
///
/// # Errors
/// With `error_if_nonfinite`, when the total is NaN or infinite (PyTorch's text: `The total
/// norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be clipped.
/// ...`), leaving the gradients untouched; a negative or NaN `max_norm`, or a `norm_type`
/// that is not positive ([`NnError::Config`]).
///
/// ```
/// use recur_nn::clip::{clip_grad_norm_with, ClipNormOptions};
/// use recur_nn::{Grads, Param};
/// use recur_tensor::Tensor;
/// let a = Param::new(Tensor::<f64>::zeros(&[3]));
/// let mut grads = Grads::new();
/// grads.set(&a, Tensor::from_vec(vec![3.0, -4.0, 1.0], &[3])?)?;
/// let max_abs = ClipNormOptions::default().norm_type(f64::INFINITY);
/// assert_eq!(clip_grad_norm_with(&mut grads, 2.0, max_abs)?, 4.0);
/// assert!((grads.get(&a).unwrap().to_vec()[1] + 2.0).abs() < 1e-6);
///
/// grads.set(&a, Tensor::from_vec(vec![f64::NAN, 0.0, 0.0], &[3])?)?;
/// let strict = ClipNormOptions::default().error_if_nonfinite(true);
/// assert!(clip_grad_norm_with(&mut grads, 1.0, strict).is_err());
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn clip_grad_norm_with<T: Float>(
    grads: &mut Grads<T>,
    max_norm: f64,
    options: ClipNormOptions,
) -> Result<f64> {
    clip_norm_where(grads, max_norm, options, &|_| true)
}

/// [`clip_grad_norm_with`] over the gradients of the listed parameters only (those in
/// `params` that have a gradient); other gradients are neither counted nor scaled.
///
/// # Errors
/// As for [`clip_grad_norm_with`].
///
/// ```
/// use recur_nn::clip::{clip_grad_norm_of, ClipNormOptions};
/// use recur_nn::{Grads, Param};
/// use recur_tensor::Tensor;
/// let a = Param::new(Tensor::<f64>::zeros(&[1]));
/// let b = Param::new(Tensor::<f64>::zeros(&[1]));
/// let mut grads = Grads::new();
/// grads.set(&a, Tensor::from_vec(vec![10.0], &[1])?)?;
/// grads.set(&b, Tensor::from_vec(vec![10.0], &[1])?)?;
/// assert_eq!(clip_grad_norm_of(&mut grads, &[a.id()], 1.0, ClipNormOptions::default())?, 10.0);
/// assert!(grads.get(&a).unwrap().to_vec()[0] < 1.0 + 1e-6);
/// assert_eq!(grads.get(&b).unwrap().to_vec(), vec![10.0]);   // untouched
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn clip_grad_norm_of<T: Float>(
    grads: &mut Grads<T>,
    params: &[ParamId],
    max_norm: f64,
    options: ClipNormOptions,
) -> Result<f64> {
    clip_norm_where(grads, max_norm, options, &|id| params.contains(&id))
}

/// The total `norm_type`-norm of every parameter gradient in `grads`, without clipping
/// (`torch.nn.utils.get_total_norm`): what [`clip_grad_norm`] would return. Handy for
/// logging gradient norms.
///
/// # Errors
/// When `norm_type` is not positive.
///
/// ```
/// use recur_nn::{clip::grad_norm, Grads, Param};
/// use recur_tensor::Tensor;
/// let a = Param::new(Tensor::<f32>::zeros(&[2]));
/// let mut grads = Grads::new();
/// grads.set(&a, Tensor::from_vec(vec![3.0, -4.0], &[2])?)?;
/// assert_eq!(grad_norm(&grads, 2.0)?, 5.0);
/// assert_eq!(grad_norm(&grads, 1.0)?, 7.0);
/// assert_eq!(grad_norm(&grads, f64::INFINITY)?, 4.0);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn grad_norm<T: Float>(grads: &Grads<T>, norm_type: f64) -> Result<f64> {
    check_norm_args(0.0, norm_type)?;
    Ok(total_norm(grads, norm_type, &|_| true).to_f64())
}

/// Clamps every element of every parameter gradient into `[-clip_value, clip_value]`, in
/// place (`torch.nn.utils.clip_grad_value_`; Karpathy's min-char-rnn does
/// `np.clip(d, -5, 5)`). NaN elements stay NaN.
///
/// # Errors
/// When `clip_value` is negative or NaN ([`NnError::Config`]).
///
/// ```
/// use recur_nn::{clip::clip_grad_value, Grads, Param};
/// use recur_tensor::Tensor;
/// let a = Param::new(Tensor::<f32>::zeros(&[3]));
/// let mut grads = Grads::new();
/// grads.set(&a, Tensor::from_vec(vec![-9.0, 0.5, 7.0], &[3])?)?;
/// clip_grad_value(&mut grads, 5.0)?;
/// assert_eq!(grads.get(&a).unwrap().to_vec(), vec![-5.0, 0.5, 5.0]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn clip_grad_value<T: Float>(grads: &mut Grads<T>, clip_value: f64) -> Result<()> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(NnError::Config(format!(
            "clip_grad_value: clip_value must be non-negative, got {}",
            py_float(clip_value)
        )));
    }
    let (lo, hi) = (T::from_f64(-clip_value), T::from_f64(clip_value));
    for (_, g) in grads.params_mut() {
        for v in g.data_mut() {
            if *v < lo {
                *v = lo;
            } else if *v > hi {
                *v = hi;
            }
        }
    }
    Ok(())
}
