//! Adam (`torch.optim.Adam`), with L2 weight decay and AMSGrad; its update is shared with
//! [`AdamW`](super::AdamW).

use super::{Optimizer, ParamState, StateStore, Update, ensure, lerp, py_float};
use crate::error::Result;
use recur_autograd::{Grads, Param, ParamId};
use recur_tensor::{Float, Tensor};

/// Settings of [`Adam`]; the defaults are PyTorch's (`lr = 1e-3`, `betas = (0.9, 0.999)`,
/// `eps = 1e-8`, no weight decay, no AMSGrad).
///
/// ```
/// use recur_nn::optim::AdamConfig;
/// let c = AdamConfig::new(2e-3).betas(0.9, 0.99).amsgrad(true);
/// assert_eq!((c.lr, c.betas, c.eps, c.amsgrad), (2e-3, (0.9, 0.99), 1e-8, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Added to the denominator for stability.
    pub eps: f64,
    /// L2 penalty added to the gradient (coupled; see [`AdamW`](super::AdamW) for decoupled).
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

impl AdamConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamConfig {
            lr,
            ..Self::default()
        }
    }
    /// Sets `betas`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = (beta1, beta2);
        self
    }
    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Turns AMSGrad on or off.
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// PyTorch's checks, in its order.
    pub(super) fn validate(&self) -> Result<()> {
        ensure(self.lr >= 0.0, || {
            format!("Invalid learning rate: {}", py_float(self.lr))
        })?;
        ensure(self.eps >= 0.0, || {
            format!("Invalid epsilon value: {}", py_float(self.eps))
        })?;
        for (i, b) in [self.betas.0, self.betas.1].into_iter().enumerate() {
            ensure((0.0..1.0).contains(&b), || {
                format!("Invalid beta parameter at index {i}: {}", py_float(b))
            })?;
        }
        ensure(self.weight_decay >= 0.0, || {
            format!(
                "Invalid weight_decay value: {}",
                py_float(self.weight_decay)
            )
        })
    }
}

/// `torch.optim.Adam`. For each parameter `p` with gradient `g`, at step `t` (from 1):
///
/// ```text
/// g ← g + weight_decay · p                                  (if weight_decay ≠ 0)
/// m ← lerp(m, g, 1 − β1)            = β1 m + (1 − β1) g
/// v ← β2 v + (1 − β2) g²
/// v̂ ← max(v̂, v)                                             (AMSGrad; use v̂ for v below)
/// p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
/// ```
/// State: `step`, `exp_avg` (m), `exp_avg_sq` (v), `max_exp_avg_sq` (v̂, AMSGrad only).
///
/// ```
/// use recur_nn::optim::{Adam, Optimizer};
/// use recur_nn::{Grads, Param};
/// use recur_tensor::Tensor;
/// let mut p = Param::new(Tensor::<f64>::from_vec(vec![1.0, 1.0], &[2])?);
/// let mut grads = Grads::new();
/// grads.set(&p, Tensor::from_vec(vec![0.5, -3.0], &[2])?)?;
/// let mut opt = Adam::new(0.01)?;
/// opt.step(&mut [&mut p], &grads)?;
/// // The first step moves every coordinate by about lr against its gradient's sign.
/// let v = p.value().to_vec();
/// assert!((v[0] - 0.99).abs() < 1e-9 && (v[1] - 1.01).abs() < 1e-9);
/// let e = recur_nn::optim::Adam::<f64>::with_config(
///     recur_nn::optim::AdamConfig::new(1e-3).betas(1.5, 0.999)).unwrap_err();
/// assert_eq!(e.to_string(), "Invalid beta parameter at index 0: 1.5");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Adam<T: Float = f32> {
    cfg: AdamConfig,
    state: StateStore<T>,
}

impl<T: Float> Adam<T> {
    /// Adam with learning rate `lr` and PyTorch's other defaults.
    ///
    /// # Errors
    /// `Invalid learning rate: {lr}` for a negative (or NaN) `lr`.
    pub fn new(lr: f64) -> Result<Self> {
        Self::with_config(AdamConfig::new(lr))
    }

    /// Adam with every setting.
    ///
    /// # Errors
    /// PyTorch's messages: `Invalid learning rate: {lr}`, `Invalid epsilon value: {eps}`,
    /// `Invalid beta parameter at index 0: {b}` (each beta must lie in `[0, 1)`),
    /// `Invalid weight_decay value: {wd}`.
    pub fn with_config(cfg: AdamConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Adam {
            cfg,
            state: StateStore::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }
}

/// State buffer names of Adam and AdamW.
pub(super) fn adam_buffers(amsgrad: bool) -> &'static [&'static str] {
    if amsgrad {
        &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    } else {
        &["exp_avg", "exp_avg_sq"]
    }
}

/// One Adam step over `params`; `decoupled` selects AdamW's weight decay
/// (`p ← p (1 − lr · wd)` before the moments, instead of adding `wd · p` to the gradient).
pub(super) fn adam_step<T: Float>(
    op: &'static str,
    cfg: &AdamConfig,
    decoupled: bool,
    state: &mut StateStore<T>,
    params: &mut [&mut Param<T>],
    grads: &Grads<T>,
) -> Result<()> {
    let c = *cfg;
    let (b1, b2) = c.betas;
    let w1 = T::from_f64(1.0 - b1);
    let one_minus_w1 = T::ONE - w1;
    let beta2 = T::from_f64(b2);
    let w2 = T::from_f64(1.0 - b2);
    let eps = T::from_f64(c.eps);
    let wd = T::from_f64(c.weight_decay);
    let shrink = T::from_f64(1.0 - c.lr * c.weight_decay);
    let n_bufs = adam_buffers(c.amsgrad).len();
    state.for_each(
        op,
        params,
        grads,
        |p, _| ParamState {
            step: 0,
            bufs: vec![p.zeros_like(); n_bufs],
        },
        |u: Update<'_, T>, _| {
            let st = u.state;
            st.step += 1;
            let t = st.step as f64;
            let bc1 = 1.0 - b1.powf(t);
            let bc2_sqrt = (1.0 - b2.powf(t)).sqrt();
            let neg_step_size = T::from_f64(-(c.lr / bc1));
            let bc2_sqrt = T::from_f64(bc2_sqrt);
            let (m, rest) = st.bufs.split_at_mut(1);
            let (v, vmax) = rest.split_at_mut(1);
            let (m, v) = (m[0].data_mut(), v[0].data_mut());
            let mut vmax = vmax.first_mut().map(|t| t.data_mut());
            if c.weight_decay == 0.0 && vmax.is_none() {
                // The common case, branch-free so that it vectorises (the same arithmetic as
                // below, `lerp`'s branch decided once).
                let it = u.param.iter_mut().zip(u.grad).zip(m).zip(v);
                if w1.to_f64() < 0.5 {
                    for (((p, &g), m), v) in it {
                        *m = *m + w1 * (g - *m);
                        *v = *v * beta2 + w2 * g * g;
                        let denom = v.sqrt() / bc2_sqrt + eps;
                        *p += neg_step_size * (*m / denom);
                    }
                } else {
                    for (((p, &g), m), v) in it {
                        *m = g - (g - *m) * one_minus_w1;
                        *v = *v * beta2 + w2 * g * g;
                        let denom = v.sqrt() / bc2_sqrt + eps;
                        *p += neg_step_size * (*m / denom);
                    }
                }
                return;
            }
            for (i, (p, &g)) in u.param.iter_mut().zip(u.grad).enumerate() {
                let mut g = g;
                if c.weight_decay != 0.0 {
                    if decoupled {
                        *p *= shrink;
                    } else {
                        g += wd * *p;
                    }
                }
                m[i] = lerp(m[i], g, w1, one_minus_w1);
                v[i] = v[i] * beta2 + w2 * g * g;
                let second = match vmax.as_deref_mut() {
                    Some(vm) => {
                        vm[i] = vm[i].max_nan(v[i]);
                        vm[i]
                    }
                    None => v[i],
                };
                let denom = second.sqrt() / bc2_sqrt + eps;
                *p += neg_step_size * (m[i] / denom);
            }
        },
    )
}

impl<T: Float> Adam<T> {
    /// [`Optimizer::step`]'s body (run as compiled in this crate for `f32` and `f64`; see
    /// `crate::compiled`).
    fn step_impl(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        adam_step("Adam", &self.cfg, false, &mut self.state, params, grads)
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        crate::compiled::compiled_step!(Adam, self, params, grads)
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state_dict(&self, names: &[(String, ParamId)]) -> Vec<(String, Tensor<T>)> {
        self.state
            .export(names, true, adam_buffers(self.cfg.amsgrad))
    }

    fn load_state_dict(
        &mut self,
        names: &[(String, ParamId)],
        state: &[(String, Tensor<T>)],
    ) -> Result<()> {
        let bufs = adam_buffers(self.cfg.amsgrad);
        self.state.import("Adam", names, state, true, bufs)
    }
}
