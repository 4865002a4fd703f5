//! The hot generic code of this crate, compiled here for `f32` and `f64`.
//!
//! A generic function is compiled in the crate that uses it, at that crate's optimisation
//! level: a user's debug build would run the recurrent engine, the fused losses and the
//! optimizers' loops unoptimised (10x slower than with them optimised), even with its
//! dependencies optimised (`[profile.dev.package."*"] opt-level = 3`). So:
//!
//! - the fused ops (the recurrent layer of each built-in cell, cross-entropy) in `f32` and
//!   `f64` are turned into `Box<dyn CustomOp<T>>` by a non-generic function here
//!   ([`fused`]): their vtables, hence their `forward` and `backward`, are this crate's
//!   instantiations. The user's crate only calls through the vtable. Other ops (a user's
//!   own cell) are boxed where they are used, as any generic code;
//! - an optimizer's `step` runs in a non-generic `f32` or `f64` function defined at the call
//!   site by [`compiled_step!`].
//!
//! (No `#[inline]` on these boundaries: that would bring the bodies back into the caller's
//! crate.) `recur-tensor` does the same for its GEMM and element loops (`kernels`).

use crate::error::Result as NnResult;
use crate::gru::GruMath;
use crate::loss::CrossEntropyOp;
use crate::lstm::LstmMath;
use crate::recurrent::Layer;
use crate::rnn::RnnMath;
use core::any::Any;
use recur_autograd::{CustomOp, Grads, Param, Result};
use recur_tensor::{Float, Tensor};

/// A custom op behind a vtable (see the module docs).
pub(crate) struct Fused<T: Float>(Box<dyn CustomOp<T>>);

/// `op` as a [`Fused`]: the instantiation compiled in this crate for a built-in op and float
/// type, else `op` boxed where this is called.
pub(crate) fn fused<T: Float, Op: CustomOp<T>>(op: Op) -> Fused<T> {
    match compile(Box::new(op)) {
        Ok(done) => *done
            .downcast::<Fused<T>>()
            .expect("`compile` turns a `CustomOp<T>` into a `Fused<T>`"),
        Err(op) => Fused(
            op.downcast::<Op>()
                .expect("`compile` hands back what it does not compile"),
        ),
    }
}

/// `Ok(Box<Fused<T>>)` for a built-in op in `f32` or `f64`; the op itself back otherwise.
/// Not generic, and never inlined: every `Fused` it makes is compiled here.
#[inline(never)]
fn compile(op: Box<dyn Any>) -> core::result::Result<Box<dyn Any>, Box<dyn Any>> {
    macro_rules! try_each {
        ($op:ident: $($ty:ty => $t:ty),* $(,)?) => {$(
            let $op = match $op.downcast::<$ty>() {
                Ok(op) => {
                    let op: Box<dyn CustomOp<$t>> = op;
                    return Ok(Box::new(Fused(op)));
                }
                Err(other) => other,
            };
        )*};
    }
    try_each!(op:
        Layer<RnnMath, f32> => f32,
        Layer<RnnMath, f64> => f64,
        Layer<LstmMath, f32> => f32,
        Layer<LstmMath, f64> => f64,
        Layer<GruMath, f32> => f32,
        Layer<GruMath, f64> => f64,
        CrossEntropyOp<f32> => f32,
        CrossEntropyOp<f64> => f64,
    );
    Err(op)
}

impl<T: Float> CustomOp<T> for Fused<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        self.0.forward(inputs)
    }

    fn backward(
        &self,
        grads_out: &[Option<&Tensor<T>>],
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<T>>>> {
        self.0.backward(grads_out, needs)
    }
}

/// An optimizer's step on `O` (an optimizer over `T`).
pub(crate) type StepFn<O, T> = fn(&mut O, &mut [&mut Param<T>], &Grads<T>) -> NnResult<()>;

/// `Optimizer::step` for `$opt<T>`: its `step_impl` run by a non-generic `f32` or `f64`
/// function defined here (so compiled in this crate; see the module docs):
/// `compiled_step!(Adam, self, params, grads)`.
macro_rules! compiled_step {
    ($opt:ident, $self_:expr, $params:expr, $grads:expr) => {{
        #[inline(never)]
        fn step_f32(
            s: &mut $opt<f32>,
            p: &mut [&mut recur_autograd::Param<f32>],
            g: &recur_autograd::Grads<f32>,
        ) -> $crate::error::Result<()> {
            s.step_impl(p, g)
        }
        #[inline(never)]
        fn step_f64(
            s: &mut $opt<f64>,
            p: &mut [&mut recur_autograd::Param<f64>],
            g: &recur_autograd::Grads<f64>,
        ) -> $crate::error::Result<()> {
            s.step_impl(p, g)
        }
        $crate::compiled::step_with($self_, $params, $grads, step_f32, step_f64, |s, p, g| {
            s.step_impl(p, g)
        })
    }};
}
pub(crate) use compiled_step;

/// Runs `f32` or `f64` on the arguments as their concrete types (the one `T` is), `generic`
/// if neither fits (which cannot happen: `Float` is sealed).
pub(crate) fn step_with<T: Float, O: 'static, O32: 'static, O64: 'static>(
    opt: &mut O,
    params: &mut [&mut Param<T>],
    grads: &Grads<T>,
    f32: StepFn<O32, f32>,
    f64: StepFn<O64, f64>,
    generic: impl FnOnce(&mut O, &mut [&mut Param<T>], &Grads<T>) -> NnResult<()>,
) -> NnResult<()> {
    if let Some(r) = concrete(opt, params, grads, f32) {
        return r;
    }
    if let Some(r) = concrete(opt, params, grads, f64) {
        return r;
    }
    generic(opt, params, grads)
}

/// `f` on the arguments if `T` is `U` (and `O` is `OU`).
fn concrete<T: Float, U: Float, O: 'static, OU: 'static>(
    opt: &mut O,
    params: &mut [&mut Param<T>],
    grads: &Grads<T>,
    f: StepFn<OU, U>,
) -> Option<NnResult<()>> {
    let grads = (grads as &dyn Any).downcast_ref::<Grads<U>>()?;
    let opt = (opt as &mut dyn Any).downcast_mut::<OU>()?;
    let mut ps: Vec<&mut Param<U>> = Vec::with_capacity(params.len());
    for p in params.iter_mut() {
        ps.push((&mut **p as &mut dyn Any).downcast_mut()?);
    }
    Some(f(opt, &mut ps, grads))
}
