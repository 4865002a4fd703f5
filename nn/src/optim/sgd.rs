//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay
//! (`torch.optim.SGD`).

use super::{Optimizer, ParamState, StateStore, Update, ensure, py_float};
use crate::error::Result;
use recur_autograd::{Grads, Param, ParamId};
use recur_tensor::{Float, Tensor};

/// Settings of [`Sgd`]; the defaults are PyTorch's (`lr = 1e-3`, everything else off).
///
/// ```
/// use recur_nn::optim::SgdConfig;
/// let c = SgdConfig::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.01);
/// assert_eq!((c.lr, c.momentum, c.dampening, c.nesterov), (0.1, 0.9, 0.0, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0: plain SGD).
    pub momentum: f64,
    /// Dampening of the momentum's gradient term.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

impl SgdConfig {
    /// The defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        SgdConfig {
            lr,
            ..Self::default()
        }
    }
    /// Sets the momentum factor.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets the dampening.
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }
    /// Sets the weight decay (L2 penalty).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Turns Nesterov momentum on or off.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }
}

/// `torch.optim.SGD`. For each parameter `p` with gradient `g`:
///
/// ```text
/// g ← g + weight_decay · p                          (if weight_decay ≠ 0)
/// if momentum ≠ 0:
///     b ← g                                         (first step: the buffer starts as the gradient)
///     b ← momentum · b + (1 − dampening) · g        (later steps)
///     g ← g + momentum · b   if nesterov, else  g ← b
/// p ← p − lr · g
/// ```
/// State: `momentum_buffer` (only with momentum).
///
/// ```
/// use recur_nn::optim::{Optimizer, Sgd, SgdConfig};
/// use recur_nn::{Grads, Param};
/// use recur_tensor::Tensor;
/// let mut p = Param::new(Tensor::<f64>::from_vec(vec![1.0], &[1])?);
/// let mut opt = Sgd::with_config(SgdConfig::new(0.1).momentum(0.9))?;
/// let mut grads = Grads::new();
/// grads.set(&p, Tensor::from_vec(vec![1.0], &[1])?)?;
/// opt.step(&mut [&mut p], &grads)?;              // b = 1;            p = 1 - 0.1
/// opt.step(&mut [&mut p], &grads)?;              // b = 0.9 + 1 = 1.9; p = 0.9 - 0.19
/// assert!((p.value().to_vec()[0] - 0.71).abs() < 1e-15);
/// assert_eq!(Sgd::<f64>::new(-0.1).unwrap_err().to_string(), "Invalid learning rate: -0.1");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<T: Float = f32> {
    cfg: SgdConfig,
    state: StateStore<T>,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD with learning rate `lr`.
    ///
    /// # Errors
    /// `Invalid learning rate: -0.1` for a negative (or NaN) `lr`.
    pub fn new(lr: f64) -> Result<Self> {
        Self::with_config(SgdConfig::new(lr))
    }

    /// SGD with every setting.
    ///
    /// # Errors
    /// PyTorch's messages: `Invalid learning rate: {lr}`, `Invalid momentum value: {m}`,
    /// `Invalid weight_decay value: {wd}`, `Nesterov momentum requires a momentum and zero
    /// dampening`. NaN settings are refused with the same messages.
    ///
    /// ```
    /// use recur_nn::optim::{Sgd, SgdConfig};
    /// let e = Sgd::<f32>::with_config(SgdConfig::new(0.1).nesterov(true)).unwrap_err();
    /// assert_eq!(e.to_string(), "Nesterov momentum requires a momentum and zero dampening");
    /// ```
    pub fn with_config(cfg: SgdConfig) -> Result<Self> {
        ensure(cfg.lr >= 0.0, || {
            format!("Invalid learning rate: {}", py_float(cfg.lr))
        })?;
        ensure(cfg.momentum >= 0.0, || {
            format!("Invalid momentum value: {}", py_float(cfg.momentum))
        })?;
        ensure(cfg.weight_decay >= 0.0, || {
            format!("Invalid weight_decay value: {}", py_float(cfg.weight_decay))
        })?;
        ensure(cfg.dampening.is_finite(), || {
            format!("Invalid dampening value: {}", py_float(cfg.dampening))
        })?;
        ensure(
            !cfg.nesterov || (cfg.momentum > 0.0 && cfg.dampening == 0.0),
            || "Nesterov momentum requires a momentum and zero dampening".into(),
        )?;
        Ok(Sgd {
            cfg,
            state: StateStore::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }
}

impl<T: Float> Sgd<T> {
    /// [`Optimizer::step`]'s body (run as compiled in this crate for `f32` and `f64`; see
    /// `crate::compiled`).
    fn step_impl(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        let c = self.cfg;
        let wd = T::from_f64(c.weight_decay);
        let momentum = T::from_f64(c.momentum);
        let keep = T::from_f64(1.0 - c.dampening);
        let neg_lr = T::from_f64(-c.lr);
        let decay = |g: T, p: T| if c.weight_decay != 0.0 { g + wd * p } else { g };
        if c.momentum == 0.0 {
            return self.state.for_each(
                "SGD",
                params,
                grads,
                |_, _| ParamState {
                    step: 0,
                    bufs: vec![],
                },
                |u: Update<'_, T>, _| {
                    for (p, &g) in u.param.iter_mut().zip(u.grad) {
                        *p += neg_lr * decay(g, *p);
                    }
                },
            );
        }
        self.state.for_each(
            "SGD",
            params,
            grads,
            // The buffer starts as the (decayed) gradient, as in PyTorch.
            |p, g| {
                let (p, g) = (p.contiguous(), g.contiguous());
                let (ps, gs) = (p.as_slice().unwrap_or(&[]), g.as_slice().unwrap_or(&[]));
                let b: Vec<T> = gs.iter().zip(ps).map(|(&g, &p)| decay(g, p)).collect();
                ParamState {
                    step: 0,
                    bufs: vec![Tensor::from_vec(b, p.dims()).unwrap_or_else(|_| p.zeros_like())],
                }
            },
            |u: Update<'_, T>, fresh| {
                let buf = u.state.bufs[0].data_mut();
                for ((p, &g), b) in u.param.iter_mut().zip(u.grad).zip(buf.iter_mut()) {
                    let g = decay(g, *p);
                    if !fresh {
                        *b = *b * momentum + keep * g;
                    }
                    let d = if c.nesterov { g + momentum * *b } else { *b };
                    *p += neg_lr * d;
                }
            },
        )
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Grads<T>) -> Result<()> {
        crate::compiled::compiled_step!(Sgd, self, params, grads)
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state_dict(&self, names: &[(String, ParamId)]) -> Vec<(String, Tensor<T>)> {
        self.state.export(names, false, self.buffer_names())
    }

    fn load_state_dict(
        &mut self,
        names: &[(String, ParamId)],
        state: &[(String, Tensor<T>)],
    ) -> Result<()> {
        let bufs = self.buffer_names();
        self.state.import("SGD", names, state, false, bufs)
    }
}

impl<T: Float> Sgd<T> {
    fn buffer_names(&self) -> &'static [&'static str] {
        if self.cfg.momentum == 0.0 {
            &[]
        } else {
            &["momentum_buffer"]
        }
    }
}
