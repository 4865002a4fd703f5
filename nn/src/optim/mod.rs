//! Optimizers with PyTorch's exact update rules: [`Sgd`], [`Adam`], [`AdamW`], [`Adagrad`],
//! [`RmsProp`], behind one [`Optimizer`] trait.
//!
//! - Updates are in place (`Param::value_mut` → `Tensor::data_mut`): no allocation per step
//!   once the state exists, provided nothing else still shares the parameter's buffer (drop
//!   the step's tape before calling `step`, since its nodes may hold the parameter's value;
//!   otherwise copy-on-write makes one copy).
//! - Per-parameter state lives in the optimizer, keyed by [`ParamId`], and is created on the
//!   parameter's first step. Parameters without a gradient in [`Grads`] are skipped, like
//!   PyTorch's `None` gradients.
//! - State is computed in the parameter's element type `T` (as PyTorch does in the parameter's
//!   dtype); scalar coefficients (bias corrections, step sizes) in `f64`.
//! - [`Optimizer::state_dict`] names the state by *parameter name* (`weight_ih_l0.exp_avg`,
//!   `weight_ih_l0.step`), so it can be saved beside a checkpoint and restored in a fresh
//!   process where the [`ParamId`]s differ. Hyperparameters (`lr`, betas, ...) are not part
//!   of it: they are the constructor's arguments (and [`Optimizer::set_lr`]).

mod adagrad;
mod adam;
mod adamw;
mod rmsprop;
mod sgd;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use adamw::{AdamW, AdamWConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use sgd::{Sgd, SgdConfig};

use crate::error::{NnError, Result};
use crate::module::Module;
use recur_autograd::{Grads, Param, ParamId};
use recur_tensor::{Float, Tensor};
use std::collections::BTreeMap;

/// An optimizer: updates parameters in place from their gradients.
///
/// ```
/// use recur_nn::optim::{Optimizer, Sgd};
/// use recur_nn::{Param, Tape};
/// use recur_tensor::Tensor;
/// let mut w = Param::new(Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2])?);
/// let mut opt = Sgd::new(0.1)?;
/// for _ in 0..3 {
///     let grads = {
///         let tape = Tape::new();
///         let loss = tape.param(&w).square().sum_all();   // d/dw = 2w
///         tape.backward(&loss)?
///     };                                                    // tape dropped: update in place
///     opt.step(&mut [&mut w], &grads)?;
/// }
/// let w_now = w.value().to_vec();                          // w ← w - 0.1 · 2w = 0.8 w
/// assert!((w_now[0] - 0.512).abs() < 1e-15 && (w_now[1] + 1.024).abs() < 1e-15);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub trait Optimizer<T: Float> {
    /// One update of every parameter that has a gradient in `grads` (parameters without one
    /// are skipped, like PyTorch's `None` gradients).
    ///
    /// # Errors
    /// When a gradient's shape differs from its parameter's, or restored state does not fit
    /// the parameter. Nothing is updated for that parameter then.
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()>;

    /// [`Optimizer::step`] over every parameter of `modules`.
    ///
    /// # Errors
    /// As for [`Optimizer::step`].
    ///
    /// ```
    /// use recur_nn::optim::{Optimizer, Adam};
    /// use recur_nn::{Module, Param, Tape};
    /// use recur_tensor::Tensor;
    /// #[derive(Module)]
    /// struct Affine { weight: Param<f64>, bias: Param<f64> }
    /// let mut m = Affine { weight: Param::new(Tensor::ones(&[2])), bias: Param::new(Tensor::zeros(&[1])) };
    /// let tape = Tape::new();
    /// let loss = tape.param(&m.weight).sum_all().add(&tape.param(&m.bias).sum_all())?;
    /// let grads = tape.backward(&loss)?;
    /// let mut opt = Adam::new(0.1)?;
    /// opt.step_modules(&mut [&mut m], &grads)?;
    /// assert!((m.weight.value().to_vec()[0] - 0.9).abs() < 1e-9);   // Adam's first step is ~lr
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    fn step_modules(&mut self, modules: &mut [&mut dyn Module<T>], grads: &Grads<T>) -> Result<()> {
        let mut params: Vec<&mut Param<T>> = Vec::new();
        for m in modules.iter_mut() {
            params.extend(m.named_parameters_mut().into_iter().map(|(_, p)| p));
        }
        self.step(&mut params, grads)
    }

    /// The learning rate.
    ///
    /// ```
    /// use recur_nn::optim::{Optimizer, RmsProp};
    /// assert_eq!(Optimizer::<f32>::lr(&RmsProp::new(0.01)?), 0.01);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    fn lr(&self) -> f64;

    /// Sets the learning rate (for schedules), like writing `param_groups[0]["lr"]`. Not
    /// validated, as in PyTorch.
    ///
    /// ```
    /// use recur_nn::optim::{Adam, Optimizer};
    /// let mut opt = Adam::<f32>::new(1e-3)?;
    /// for epoch in 0..3 {
    ///     opt.set_lr(1e-3 * 0.5f64.powi(epoch));          // step decay
    /// }
    /// assert_eq!(opt.lr(), 2.5e-4);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    fn set_lr(&mut self, lr: f64);

    /// The state of every parameter in `names` that has state, as named tensors:
    /// `"{name}.{buffer}"` (PyTorch's buffer names: `exp_avg`, `exp_avg_sq`, `sum`,
    /// `square_avg`, `momentum_buffer`, ...) and `"{name}.step"` as a 0-D tensor.
    ///
    /// Step counts travel as `T`; in `f32` they are exact up to 2^24 steps (PyTorch keeps
    /// `step` in a `float32` tensor too).
    ///
    /// ```
    /// use recur_nn::optim::{Adagrad, Optimizer};
    /// use recur_nn::{Grads, Param};
    /// use recur_tensor::Tensor;
    /// let mut w = Param::new(Tensor::<f64>::ones(&[2]));
    /// let mut grads = Grads::new();
    /// grads.set(&w, Tensor::from_vec(vec![1.0, 2.0], &[2])?)?;
    /// let mut opt = Adagrad::new(0.1)?;
    /// opt.step(&mut [&mut w], &grads)?;
    /// let state = opt.state_dict(&[("weight".to_string(), w.id())]);
    /// let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    /// assert_eq!(names, ["weight.step", "weight.sum"]);
    /// assert_eq!(state[1].1.to_vec(), vec![1.0, 4.0]);
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    fn state_dict(&self, names: &[(String, ParamId)]) -> Vec<(String, Tensor<T>)>;

    /// Replaces the whole state with `state` (as written by [`Optimizer::state_dict`]),
    /// mapping names to the parameters of this process through `names`. Parameters with no
    /// entries start fresh.
    ///
    /// # Errors
    /// [`NnError::Checkpoint`] for an entry no parameter claims, a parameter with only part of
    /// its state, buffers of different shapes, or a step count that is not a non-negative
    /// integer. Nothing changes then.
    ///
    /// ```
    /// use recur_nn::optim::{Adam, Optimizer};
    /// use recur_nn::{Grads, Param};
    /// use recur_tensor::Tensor;
    /// let mut w = Param::new(Tensor::<f64>::ones(&[2]));
    /// let mut grads = Grads::new();
    /// grads.set(&w, Tensor::ones(&[2]))?;
    /// let mut opt = Adam::new(0.1)?;
    /// opt.step(&mut [&mut w], &grads)?;
    /// let saved = opt.state_dict(&[("weight".to_string(), w.id())]);
    ///
    /// // Later, in a fresh process: another Param (another id), the same name.
    /// let mut w2 = Param::new(w.value().clone());
    /// let mut opt2 = Adam::new(0.1)?;
    /// opt2.load_state_dict(&[("weight".to_string(), w2.id())], &saved)?;
    /// let mut grads2 = Grads::new();
    /// grads2.set(&w2, Tensor::ones(&[2]))?;
    /// opt.step(&mut [&mut w], &grads)?;
    /// opt2.step(&mut [&mut w2], &grads2)?;
    /// assert_eq!(w2.value().to_vec(), w.value().to_vec());     // the run continues seamlessly
    /// let bad = [("head.weight.exp_avg".to_string(), Tensor::zeros(&[2]))];
    /// assert!(opt2.load_state_dict(&[("weight".to_string(), w2.id())], &bad).is_err());
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    fn load_state_dict(
        &mut self,
        names: &[(String, ParamId)],
        state: &[(String, Tensor<T>)],
    ) -> Result<()>;
}

/// `(name, id)` for every parameter of `module`, names prefixed with `prefix.` unless
/// `prefix` is empty: the mapping [`Optimizer::state_dict`] and
/// [`Optimizer::load_state_dict`] take.
///
/// ```
/// use recur_nn::optim::param_names;
/// use recur_nn::{Module, Param};
/// use recur_tensor::Tensor;
/// #[derive(Module)]
/// struct One(#[module(rename = "weight")] Param<f32>);
/// let m = One(Param::new(Tensor::zeros(&[2])));
/// assert_eq!(param_names("", &m), vec![("weight".to_string(), m.0.id())]);
/// assert_eq!(param_names("head", &m)[0].0, "head.weight");
/// ```
pub fn param_names<T: Float>(prefix: &str, module: &dyn Module<T>) -> Vec<(String, ParamId)> {
    module
        .named_parameters()
        .into_iter()
        .map(|(n, p)| {
            let name = if prefix.is_empty() {
                n
            } else {
                format!("{prefix}.{n}")
            };
            (name, p.id())
        })
        .collect()
}

// ------------------------------------------------------------------ shared machinery

/// A float as Python prints it (`1.0`, `-0.1`, `1e-05`, `1e+16`, `inf`, `nan`), so that error
/// messages read exactly like PyTorch's.
pub(crate) fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's Debug uses the same shortest round-trip digits and the same switch to
    // scientific notation (exponent < -4 or >= 16) as Python's repr; only the exponent's
    // spelling differs.
    let s = format!("{v:?}");
    match s.split_once('e') {
        None => s,
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mant}e{sign}{digits:0>2}")
        }
    }
}

/// `Err(Config(msg))` unless `ok`.
pub(crate) fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(NnError::Config(msg()))
    }
}

/// PyTorch's `lerp`: `a + w (b - a)` for `w < 0.5`, else `b - (b - a)(1 - w)`.
#[inline(always)]
pub(crate) fn lerp<T: Float>(a: T, b: T, w: T, one_minus_w: T) -> T {
    if w.to_f64() < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * one_minus_w
    }
}

/// One parameter's state: a step count and buffers of the parameter's shape, in the order
/// of the optimizer's buffer names.
#[derive(Clone, Debug)]
pub(crate) struct ParamState<T: Float> {
    pub step: u64,
    pub bufs: Vec<Tensor<T>>,
}

/// The state of every parameter an optimizer has seen, keyed by id.
#[derive(Clone, Debug)]
pub(crate) struct StateStore<T: Float> {
    pub map: BTreeMap<ParamId, ParamState<T>>,
}

impl<T: Float> Default for StateStore<T> {
    fn default() -> Self {
        StateStore {
            map: BTreeMap::new(),
        }
    }
}

/// What a parameter's update gets: its values, its gradient, and its state.
pub(crate) struct Update<'a, T: Float> {
    pub param: &'a mut [T],
    pub grad: &'a [T],
    pub state: &'a mut ParamState<T>,
}

impl<T: Float> StateStore<T> {
    /// Runs `update` on every parameter of `params` that has a gradient, creating its state
    /// with `init` on first sight. (`&mut` borrows rule out a parameter listed twice.)
    pub fn for_each(
        &mut self,
        op: &'static str,
        params: &mut [&mut Param<T>],
        grads: &Grads<T>,
        mut init: impl FnMut(&Tensor<T>, &Tensor<T>) -> ParamState<T>,
        mut update: impl FnMut(Update<'_, T>, bool),
    ) -> Result<()> {
        for p in params.iter_mut() {
            let id = p.id();
            let Some(grad) = grads.get_by_id(id) else {
                continue;
            };
            if grad.dims() != p.value().dims() {
                return Err(NnError::Input(format!(
                    "{op}: the gradient of parameter #{} has shape {}, the parameter {}",
                    id.get(),
                    grad.shape(),
                    p.value().shape()
                )));
            }
            let fresh = !self.map.contains_key(&id);
            let state = self.map.entry(id).or_insert_with(|| init(p.value(), grad));
            if let Some(b) = state.bufs.iter().find(|b| b.dims() != p.value().dims()) {
                return Err(NnError::Input(format!(
                    "{op}: the restored state of parameter #{} has shape {}, the parameter {}",
                    id.get(),
                    b.shape(),
                    p.value().shape()
                )));
            }
            let g = grad.contiguous();
            let grad = g.as_slice().unwrap_or(&[]);
            update(
                Update {
                    param: p.value_mut().data_mut(),
                    grad,
                    state,
                },
                fresh,
            );
        }
        Ok(())
    }

    /// Named state tensors (see [`Optimizer::state_dict`]).
    pub fn export(
        &self,
        names: &[(String, ParamId)],
        with_step: bool,
        buf_names: &[&str],
    ) -> Vec<(String, Tensor<T>)> {
        let mut out = Vec::new();
        for (name, id) in names {
            let Some(st) = self.map.get(id) else { continue };
            if with_step {
                out.push((
                    format!("{name}.step"),
                    Tensor::scalar(T::from_f64(st.step as f64)),
                ));
            }
            for (b, t) in buf_names.iter().zip(&st.bufs) {
                out.push((format!("{name}.{b}"), t.clone()));
            }
        }
        out
    }

    /// Replaces the store from named tensors (see [`Optimizer::load_state_dict`]).
    pub fn import(
        &mut self,
        op: &'static str,
        names: &[(String, ParamId)],
        state: &[(String, Tensor<T>)],
        with_step: bool,
        buf_names: &[&str],
    ) -> Result<()> {
        let err = |msg: String| NnError::Checkpoint {
            path: format!("{op} state"),
            msg,
        };
        let lookup: BTreeMap<&str, &Tensor<T>> =
            state.iter().map(|(k, v)| (k.as_str(), v)).collect();
        if lookup.len() != state.len() {
            return Err(err("an entry appears twice".into()));
        }
        let mut claimed = 0;
        let mut map = BTreeMap::new();
        for (name, id) in names {
            let step = with_step
                .then(|| lookup.get(format!("{name}.step").as_str()).copied())
                .flatten();
            let bufs: Vec<Option<&Tensor<T>>> = buf_names
                .iter()
                .map(|b| lookup.get(format!("{name}.{b}").as_str()).copied())
                .collect();
            let found = bufs.iter().filter(|b| b.is_some()).count() + usize::from(step.is_some());
            let wanted = buf_names.len() + usize::from(with_step);
            if found == 0 {
                continue;
            }
            if found != wanted {
                let mut keys: Vec<String> =
                    buf_names.iter().map(|b| format!("{name}.{b}")).collect();
                if with_step {
                    keys.insert(0, format!("{name}.step"));
                }
                return Err(err(format!(
                    "the state of `{name}` is incomplete: expected {}",
                    keys.join(", ")
                )));
            }
            claimed += found;
            let step = match step {
                None => 0,
                Some(t) => {
                    let v = t.item().map_err(|_| {
                        err(format!(
                            "`{name}.step` has shape {}, expected a scalar",
                            t.shape()
                        ))
                    })?;
                    let v = v.to_f64();
                    if !(v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0) {
                        return Err(err(format!(
                            "`{name}.step` is {v}, expected a non-negative integer"
                        )));
                    }
                    v as u64
                }
            };
            let bufs: Vec<Tensor<T>> = bufs.into_iter().flatten().map(|t| t.contiguous()).collect();
            if let Some(b) = bufs.iter().find(|b| b.dims() != bufs[0].dims()) {
                return Err(err(format!(
                    "the state buffers of `{name}` have different shapes: {} and {}",
                    bufs[0].shape(),
                    b.shape()
                )));
            }
            map.insert(*id, ParamState { step, bufs });
        }
        if claimed != state.len() {
            let mut unexpected: Vec<&str> = state
                .iter()
                .map(|(k, _)| k.as_str())
                .filter(|k| {
                    !names.iter().any(|(n, _)| {
                        k.strip_prefix(n.as_str())
                            .and_then(|r| r.strip_prefix('.'))
                            .is_some_and(|r| (with_step && r == "step") || buf_names.contains(&r))
                    })
                })
                .collect();
            unexpected.sort_unstable();
            return Err(err(format!(
                "unexpected entries: {}",
                unexpected.join(", ")
            )));
        }
        self.map = map;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::py_float;

    #[test]
    fn floats_print_like_python() {
        for (v, s) in [
            (-0.1, "-0.1"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (1e-5, "1e-05"),
            (1e-10, "1e-10"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (2.5e-300, "2.5e-300"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(py_float(v), s);
        }
    }
}
