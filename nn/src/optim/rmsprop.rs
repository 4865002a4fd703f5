//! RMSprop (`torch.optim.RMSprop`), plain or centered, with momentum.

use super::{Optimizer, ParamState, StateStore, Update, ensure, lerp, py_float};
use crate::error::Result;
use recur_autograd::{Grads, Param, ParamId};
use recur_tensor::{Float, Tensor};

/// Settings of [`RmsProp`]; the defaults are PyTorch's (`lr = 1e-2`, `alpha = 0.99`,
/// `eps = 1e-8`, no weight decay, no momentum, not centered).
///
/// ```
/// use recur_nn::optim::RmsPropConfig;
/// let c = RmsPropConfig::new(1e-3).momentum(0.9).centered(true);
/// assert_eq!((c.alpha, c.eps, c.momentum, c.centered), (0.99, 1e-8, 0.9, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate.
    pub lr: f64,
    /// Smoothing constant of the running average of squared gradients.
    pub alpha: f64,
    /// Added to the denominator for stability.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Momentum factor (0: none).
    pub momentum: f64,
    /// Normalise by the estimated variance (subtract the squared running mean of gradients).
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsPropConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        RmsPropConfig {
            lr,
            ..Self::default()
        }
    }
    /// Sets `alpha`.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
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
    /// Sets the momentum factor.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Turns centering on or off.
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }
}

/// `torch.optim.RMSprop`. For each parameter `p` with gradient `g`:
///
/// ```text
/// g ← g + weight_decay · p                        (if weight_decay ≠ 0)
/// v ← α v + (1 − α) g²
/// centered:  ḡ ← lerp(ḡ, g, 1 − α);  d = √(v − ḡ²) + eps
/// otherwise: d = √v + eps
/// momentum > 0:  b ← momentum · b + g / d;  p ← p − lr · b      (b starts at 0)
/// otherwise:     p ← p − lr · g / d
/// ```
/// State: `step`, `square_avg` (v), `momentum_buffer` (b, with momentum), `grad_avg`
/// (ḡ, centered).
///
/// ```
/// use recur_nn::optim::{Optimizer, RmsProp};
/// use recur_nn::{Grads, Param};
/// use recur_tensor::Tensor;
/// let mut p = Param::new(Tensor::<f64>::from_vec(vec![1.0], &[1])?);
/// let mut grads = Grads::new();
/// grads.set(&p, Tensor::from_vec(vec![2.0], &[1])?)?;
/// let mut opt = RmsProp::new(0.01)?;
/// opt.step(&mut [&mut p], &grads)?;   // v = 0.01 * 4: p = 1 - 0.01 * 2 / (0.2 + 1e-8)
/// assert!((p.value().to_vec()[0] - (1.0 - 0.02 / (0.04f64.sqrt() + 1e-8))).abs() < 1e-15);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp<T: Float = f32> {
    cfg: RmsPropConfig,
    state: StateStore<T>,
}

impl<T: Float> RmsProp<T> {
    /// RMSprop with learning rate `lr` and PyTorch's other defaults.
    ///
    /// # Errors
    /// `Invalid learning rate: {lr}` for a negative (or NaN) `lr`.
    pub fn new(lr: f64) -> Result<Self> {
        Self::with_config(RmsPropConfig::new(lr))
    }

    /// RMSprop with every setting.
    ///
    /// # Errors
    /// PyTorch's messages: `Invalid learning rate: {lr}`, `Invalid epsilon value: {v}`,
    /// `Invalid momentum value: {v}`, `Invalid weight_decay value: {v}`,
    /// `Invalid alpha value: {v}`.
    pub fn with_config(cfg: RmsPropConfig) -> Result<Self> {
        ensure(cfg.lr >= 0.0, || {
            format!("Invalid learning rate: {}", py_float(cfg.lr))
        })?;
        ensure(cfg.eps >= 0.0, || {
            format!("Invalid epsilon value: {}", py_float(cfg.eps))
        })?;
        ensure(cfg.momentum >= 0.0, || {
            format!("Invalid momentum value: {}", py_float(cfg.momentum))
        })?;
        ensure(cfg.weight_decay >= 0.0, || {
            format!("Invalid weight_decay value: {}", py_float(cfg.weight_decay))
        })?;
        ensure(cfg.alpha >= 0.0, || {
            format!("Invalid alpha value: {}", py_float(cfg.alpha))
        })?;
        Ok(RmsProp {
            cfg,
            state: StateStore::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RmsPropConfig {
        &self.cfg
    }

    /// Buffer names in state order: `square_avg`, then `momentum_buffer` and `grad_avg` when
    /// enabled.
    fn buffer_names(&self) -> &'static [&'static str] {
        match (self.cfg.momentum > 0.0, self.cfg.centered) {
            (false, false) => &["square_avg"],
            (true, false) => &["square_avg", "momentum_buffer"],
            (false, true) => &["square_avg", "grad_avg"],
            (true, true) => &["square_avg", "momentum_buffer", "grad_avg"],
        }
    }
}

impl<T: Float> RmsProp<T> {
    /// [`Optimizer::step`]'s body (run as compiled in this crate for `f32` and `f64`; see
    /// `crate::compiled`).
    fn step_impl(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        let c = self.cfg;
        let wd = T::from_f64(c.weight_decay);
        let alpha = T::from_f64(c.alpha);
        let w = T::from_f64(1.0 - c.alpha);
        let one_minus_w = T::ONE - w;
        let eps = T::from_f64(c.eps);
        let momentum = T::from_f64(c.momentum);
        let neg_lr = T::from_f64(-c.lr);
        let n_bufs = self.buffer_names().len();
        let use_momentum = c.momentum > 0.0;
        self.state.for_each(
            "RMSprop",
            params,
            grads,
            |p, _| ParamState {
                step: 0,
                bufs: vec![p.zeros_like(); n_bufs],
            },
            |u: Update<'_, T>, _| {
                let st = u.state;
                st.step += 1;
                // Buffers in state order: square_avg, [momentum_buffer], [grad_avg].
                let Some((sq, rest)) = st.bufs.split_first_mut() else {
                    return;
                };
                let sq = sq.data_mut();
                let (mut buf, rest) = if use_momentum {
                    let Some((b, r)) = rest.split_first_mut() else {
                        return;
                    };
                    (Some(b.data_mut()), r)
                } else {
                    (None, rest)
                };
                let mut avg = rest
                    .first_mut()
                    .filter(|_| c.centered)
                    .map(|t| t.data_mut());
                for (i, (p, &g)) in u.param.iter_mut().zip(u.grad).enumerate() {
                    let g = if c.weight_decay != 0.0 {
                        g + wd * *p
                    } else {
                        g
                    };
                    sq[i] = sq[i] * alpha + w * g * g;
                    let d = match avg.as_deref_mut() {
                        Some(ga) => {
                            ga[i] = lerp(ga[i], g, w, one_minus_w);
                            (sq[i] - ga[i] * ga[i]).sqrt() + eps
                        }
                        None => sq[i].sqrt() + eps,
                    };
                    match buf.as_deref_mut() {
                        Some(b) => {
                            b[i] = b[i] * momentum + g / d;
                            *p += neg_lr * b[i];
                        }
                        None => *p += neg_lr * (g / d),
                    }
                }
            },
        )
    }
}

impl<T: Float> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        crate::compiled::compiled_step!(RmsProp, self, params, grads)
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state_dict(&self, names: &[(String, ParamId)]) -> Vec<(String, Tensor<T>)> {
        self.state.export(names, true, self.buffer_names())
    }

    fn load_state_dict(
        &mut self,
        names: &[(String, ParamId)],
        state: &[(String, Tensor<T>)],
    ) -> Result<()> {
        let bufs = self.buffer_names();
        self.state.import("RMSprop", names, state, true, bufs)
    }
}
