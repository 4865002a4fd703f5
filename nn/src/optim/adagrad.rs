//! Adagrad (`torch.optim.Adagrad`).

use super::{Optimizer, ParamState, StateStore, Update, ensure, py_float};
use crate::error::Result;
use recur_autograd::{Grads, Param, ParamId};
use recur_tensor::{Float, Tensor};

/// Settings of [`Adagrad`]; the defaults are PyTorch's (`lr = 1e-2`, `lr_decay = 0`,
/// `weight_decay = 0`, `initial_accumulator_value = 0`, `eps = 1e-10`).
///
/// ```
/// use recur_nn::optim::AdagradConfig;
/// let c = AdagradConfig::new(0.1).initial_accumulator_value(0.1);
/// assert_eq!((c.lr, c.eps, c.initial_accumulator_value), (0.1, 1e-10, 0.1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate.
    pub lr: f64,
    /// The learning rate at step `t` is `lr / (1 + (t - 1) lr_decay)`.
    pub lr_decay: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// The starting value of the sum of squared gradients.
    pub initial_accumulator_value: f64,
    /// Added to the denominator for stability.
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

impl AdagradConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdagradConfig {
            lr,
            ..Self::default()
        }
    }
    /// Sets `lr_decay`.
    pub fn lr_decay(mut self, lr_decay: f64) -> Self {
        self.lr_decay = lr_decay;
        self
    }
    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Sets the accumulator's starting value.
    pub fn initial_accumulator_value(mut self, v: f64) -> Self {
        self.initial_accumulator_value = v;
        self
    }
    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

/// `torch.optim.Adagrad`. For each parameter `p` with gradient `g`, at step `t` (from 1):
///
/// ```text
/// g ← g + weight_decay · p                  (if weight_decay ≠ 0)
/// clr = lr / (1 + (t − 1) · lr_decay)
/// s ← s + g²                                (s starts at initial_accumulator_value)
/// p ← p − clr · g / (√s + eps)
/// ```
/// State: `step`, `sum` (s).
///
/// ```
/// use recur_nn::optim::{Adagrad, Optimizer};
/// use recur_nn::{Grads, Param};
/// use recur_tensor::Tensor;
/// let mut p = Param::new(Tensor::<f64>::from_vec(vec![1.0], &[1])?);
/// let mut grads = Grads::new();
/// grads.set(&p, Tensor::from_vec(vec![3.0], &[1])?)?;
/// let mut opt = Adagrad::new(0.1)?;
/// opt.step(&mut [&mut p], &grads)?;   // s = 9: p = 1 - 0.1 * 3 / (3 + 1e-10)
/// opt.step(&mut [&mut p], &grads)?;   // s = 18
/// let want = 1.0 - 0.1 * 3.0 / (3.0 + 1e-10) - 0.1 * 3.0 / (18f64.sqrt() + 1e-10);
/// assert!((p.value().to_vec()[0] - want).abs() < 1e-15);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad<T: Float = f32> {
    cfg: AdagradConfig,
    state: StateStore<T>,
}

impl<T: Float> Adagrad<T> {
    /// Adagrad with learning rate `lr` and PyTorch's other defaults.
    ///
    /// # Errors
    /// `Invalid learning rate: {lr}` for a negative (or NaN) `lr`.
    pub fn new(lr: f64) -> Result<Self> {
        Self::with_config(AdagradConfig::new(lr))
    }

    /// Adagrad with every setting.
    ///
    /// # Errors
    /// PyTorch's messages: `Invalid learning rate: {lr}`, `Invalid lr_decay value: {v}`,
    /// `Invalid weight_decay value: {v}`, `Invalid initial_accumulator_value value: {v}`,
    /// `Invalid epsilon value: {v}`.
    pub fn with_config(cfg: AdagradConfig) -> Result<Self> {
        ensure(cfg.lr >= 0.0, || {
            format!("Invalid learning rate: {}", py_float(cfg.lr))
        })?;
        ensure(cfg.lr_decay >= 0.0, || {
            format!("Invalid lr_decay value: {}", py_float(cfg.lr_decay))
        })?;
        ensure(cfg.weight_decay >= 0.0, || {
            format!("Invalid weight_decay value: {}", py_float(cfg.weight_decay))
        })?;
        ensure(cfg.initial_accumulator_value >= 0.0, || {
            format!(
                "Invalid initial_accumulator_value value: {}",
                py_float(cfg.initial_accumulator_value)
            )
        })?;
        ensure(cfg.eps >= 0.0, || {
            format!("Invalid epsilon value: {}", py_float(cfg.eps))
        })?;
        Ok(Adagrad {
            cfg,
            state: StateStore::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &AdagradConfig {
        &self.cfg
    }
}

impl<T: Float> Adagrad<T> {
    /// [`Optimizer::step`]'s body (run as compiled in this crate for `f32` and `f64`; see
    /// `crate::compiled`).
    fn step_impl(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        let c = self.cfg;
        let wd = T::from_f64(c.weight_decay);
        let eps = T::from_f64(c.eps);
        let init = T::from_f64(c.initial_accumulator_value);
        self.state.for_each(
            "Adagrad",
            params,
            grads,
            |p, _| ParamState {
                step: 0,
                bufs: vec![Tensor::full(p.dims(), init)],
            },
            |u: Update<'_, T>, _| {
                let st = u.state;
                st.step += 1;
                let neg_clr = T::from_f64(-(c.lr / (1.0 + (st.step - 1) as f64 * c.lr_decay)));
                let sum = st.bufs[0].data_mut();
                if c.weight_decay == 0.0 {
                    // Branch-free so that it vectorises (the same arithmetic).
                    for ((p, &g), s) in u.param.iter_mut().zip(u.grad).zip(sum.iter_mut()) {
                        *s += g * g;
                        *p += neg_clr * (g / (s.sqrt() + eps));
                    }
                    return;
                }
                for ((p, &g), s) in u.param.iter_mut().zip(u.grad).zip(sum.iter_mut()) {
                    let g = if c.weight_decay != 0.0 {
                        g + wd * *p
                    } else {
                        g
                    };
                    *s += g * g;
                    *p += neg_clr * (g / (s.sqrt() + eps));
                }
            },
        )
    }
}

impl<T: Float> Optimizer<T> for Adagrad<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        crate::compiled::compiled_step!(Adagrad, self, params, grads)
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state_dict(&self, names: &[(String, ParamId)]) -> Vec<(String, Tensor<T>)> {
        self.state.export(names, true, &["sum"])
    }

    fn load_state_dict(
        &mut self,
        names: &[(String, ParamId)],
        state: &[(String, Tensor<T>)],
    ) -> Result<()> {
        self.state.import("Adagrad", names, state, true, &["sum"])
    }
}
