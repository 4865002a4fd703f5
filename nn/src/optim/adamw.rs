//! AdamW: Adam with decoupled weight decay (`torch.optim.AdamW`).

use super::adam::{adam_buffers, adam_step};
use super::{AdamConfig, Optimizer, StateStore};
use crate::error::Result;
use recur_autograd::{Grads, Param, ParamId};
use recur_tensor::{Float, Tensor};

/// Settings of [`AdamW`]: [`AdamConfig`]'s fields with PyTorch's AdamW defaults
/// (`lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`, **`weight_decay = 1e-2`**).
///
/// ```
/// use recur_nn::optim::AdamWConfig;
/// let c = AdamWConfig::new(3e-4);
/// assert_eq!((c.lr, c.weight_decay), (3e-4, 1e-2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Added to the denominator for stability.
    pub eps: f64,
    /// Decoupled weight decay: each step first scales `p` by `1 - lr * weight_decay`.
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

impl AdamWConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamWConfig {
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
    /// Sets the (decoupled) weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Turns AMSGrad on or off.
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    fn as_adam(&self) -> AdamConfig {
        AdamConfig {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
        }
    }
}

/// `torch.optim.AdamW`: [`Adam`](super::Adam) whose weight decay is decoupled from the
/// gradient. For each parameter `p` with gradient `g`, at step `t` (from 1):
///
/// ```text
/// p ← p · (1 − lr · weight_decay)
/// m ← β1 m + (1 − β1) g;   v ← β2 v + (1 − β2) g²   (v̂ ← max(v̂, v) with AMSGrad)
/// p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
/// ```
/// State: `step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (AMSGrad only).
///
/// ```
/// use recur_nn::optim::{AdamW, Optimizer};
/// use recur_nn::{Grads, Param};
/// use recur_tensor::Tensor;
/// let mut p = Param::new(Tensor::<f64>::from_vec(vec![2.0], &[1])?);
/// let mut grads = Grads::new();
/// grads.set(&p, Tensor::from_vec(vec![0.0], &[1])?)?;
/// let mut opt = AdamW::new(0.1)?;                   // weight_decay 1e-2
/// opt.step(&mut [&mut p], &grads)?;                 // zero gradient: only the decay acts
/// assert!((p.value().to_vec()[0] - 2.0 * (1.0 - 0.1 * 0.01)).abs() < 1e-15);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdamW<T: Float = f32> {
    cfg: AdamWConfig,
    state: StateStore<T>,
}

impl<T: Float> AdamW<T> {
    /// AdamW with learning rate `lr` and PyTorch's other defaults (weight decay 1e-2).
    ///
    /// # Errors
    /// `Invalid learning rate: {lr}` for a negative (or NaN) `lr`.
    pub fn new(lr: f64) -> Result<Self> {
        Self::with_config(AdamWConfig::new(lr))
    }

    /// AdamW with every setting.
    ///
    /// # Errors
    /// As for [`Adam::with_config`](super::Adam::with_config).
    pub fn with_config(cfg: AdamWConfig) -> Result<Self> {
        cfg.as_adam().validate()?;
        Ok(AdamW {
            cfg,
            state: StateStore::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &AdamWConfig {
        &self.cfg
    }
}

impl<T: Float> AdamW<T> {
    /// [`Optimizer::step`]'s body (run as compiled in this crate for `f32` and `f64`; see
    /// `crate::compiled`).
    fn step_impl(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        adam_step(
            "AdamW",
            &self.cfg.as_adam(),
            true,
            &mut self.state,
            params,
            grads,
        )
    }
}

impl<T: Float> Optimizer<T> for AdamW<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        crate::compiled::compiled_step!(AdamW, self, params, grads)
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
        self.state.import("AdamW", names, state, true, bufs)
    }
}
