//! Elementwise ops: unary, tensor–scalar, binary (with an explicit broadcast node), where,
//! clamp; and the `std::ops` operators on `&Var`.

use crate::error::Result;
use crate::tape::{Backward, InputGrads, Var};
use recur_tensor::{Float, Tensor, broadcast_shapes};
use smallvec::smallvec;

/// A unary op whose backward is `grad_out * d(x or y)`: `saved` is the input or the output,
/// whichever the derivative reads; `df` maps it to the local derivative.
struct Local<T: Float> {
    saved: Tensor<T>,
    df: fn(T) -> T,
}
impl<T: Float> Backward<T> for Local<T> {
    fn backward(&self, grad_out: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        let df = self.df;
        Ok(smallvec![Some(grad_out.zip_broadcast(
            &self.saved,
            "backward",
            |g, s| g * df(s)
        )?)])
    }
}

/// Declares a unary op: forward `f` on the tensor, and the derivative from the saved input
/// (`x`) or output (`y`).
macro_rules! unary_op {
    ($(#[$doc:meta])* $name:ident, $tensor_fn:ident, saves output, |$y:ident| $df:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Var<'t, T> {
            let y = self.value.$tensor_fn();
            self.record_unary(stringify!($name), y.clone(), Local { saved: y, df: |$y: T| $df })
        }
    };
    ($(#[$doc:meta])* $name:ident, $tensor_fn:ident, saves input, |$x:ident| $df:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Var<'t, T> {
            let y = self.value.$tensor_fn();
            self.record_unary(stringify!($name), y, Local { saved: self.value.clone(), df: |$x: T| $df })
        }
    };
}

impl<'t, T: Float> Var<'t, T> {
    unary_op!(
        /// `-x`.
        neg, neg, saves output, |_y| -T::ONE
    );
    unary_op!(
        /// `|x|`; the derivative at 0 is 0, as in PyTorch.
        abs, abs, saves input, |x| if x > T::ZERO { T::ONE } else if x < T::ZERO { -T::ONE } else { T::ZERO }
    );
    unary_op!(
        /// `e^x`; backward reads the saved output.
        exp, exp, saves output, |y| y
    );
    unary_op!(
        /// Natural log; derivative `1/x`.
        ln, ln, saves input, |x| T::ONE / x
    );
    unary_op!(
        /// Square root; derivative `1/(2y)` from the saved output.
        sqrt, sqrt, saves output, |y| T::ONE / (y + y)
    );
    unary_op!(
        /// Hyperbolic tangent; derivative `1 - y²` from the saved output.
        ///
        /// ```
        /// use recur_autograd::Tape;
        /// use recur_tensor::Tensor;
        /// let tape = Tape::<f64>::new();
        /// let x = tape.leaf(Tensor::from_vec(vec![0.0, 1.0], &[2])?);
        /// let g = tape.backward(&x.tanh().sum_all())?;
        /// let d1 = 1.0 - 1f64.tanh().powi(2);
        /// assert_eq!(g.of(&x).unwrap().to_vec(), vec![1.0, d1]);
        /// # Ok::<(), recur_autograd::AutogradError>(())
        /// ```
        tanh, tanh, saves output, |y| T::ONE - y * y
    );
    unary_op!(
        /// Logistic sigmoid; derivative `y(1 - y)` from the saved output.
        sigmoid, sigmoid, saves output, |y| y * (T::ONE - y)
    );
    unary_op!(
        /// `max(x, 0)`; derivative 1 where the output is positive.
        relu, relu, saves output, |y| if y > T::ZERO { T::ONE } else { T::ZERO }
    );
    unary_op!(
        /// `1/x`; derivative `-y²` from the saved output.
        recip, recip, saves output, |y| -(y * y)
    );
    unary_op!(
        /// `x²`; derivative `2x`.
        square, square, saves input, |x| x + x
    );

    /// `x^e` for a scalar exponent; derivative `e·x^(e-1)`.
    pub fn powf(&self, e: T) -> Var<'t, T> {
        struct Pow<T: Float> {
            x: Tensor<T>,
            e: T,
        }
        impl<T: Float> Backward<T> for Pow<T> {
            fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
                let e = self.e;
                Ok(smallvec![Some(g.zip_broadcast(
                    &self.x,
                    "powf backward",
                    |g, x| g * e * x.powf(e - T::ONE)
                )?)])
            }
        }
        self.record_unary(
            "powf",
            self.value.powf(e),
            Pow {
                x: self.value.clone(),
                e,
            },
        )
    }

    /// Clamps into `[lo, hi]`: `min(max(x, lo), hi)`, as `torch.clamp`; the gradient passes
    /// where `lo <= x <= hi` (PyTorch's rule). As in PyTorch, `lo > hi` gives `hi` everywhere
    /// (and no gradient), a NaN bound gives NaN, and a NaN input stays NaN.
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![-2.0, 0.5, 3.0], &[3])?);
    /// let y = x.clamp(-1.0, 1.0);
    /// assert_eq!(y.value().to_vec(), vec![-1.0, 0.5, 1.0]);
    /// let g = tape.backward(&y.sum_all())?;
    /// assert_eq!(g.of(&x).unwrap().to_vec(), vec![0.0, 1.0, 0.0]);
    /// assert_eq!(x.clamp(2.0, 1.0).value().to_vec(), vec![1.0; 3]);
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn clamp(&self, lo: T, hi: T) -> Var<'t, T> {
        struct Clamp<T: Float> {
            x: Tensor<T>,
            lo: T,
            hi: T,
        }
        impl<T: Float> Backward<T> for Clamp<T> {
            fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
                let (lo, hi) = (self.lo, self.hi);
                let gi = g.zip_broadcast(&self.x, "clamp backward", |g, x| {
                    if x >= lo && x <= hi { g } else { T::ZERO }
                })?;
                Ok(smallvec![Some(gi)])
            }
        }
        let y = self.value.map(|x| {
            if lo.is_nan() || hi.is_nan() {
                T::NAN
            } else {
                let x = if x < lo { lo } else { x };
                if x > hi { hi } else { x }
            }
        });
        self.record_unary(
            "clamp",
            y,
            Clamp {
                x: self.value.clone(),
                lo,
                hi,
            },
        )
    }

    /// `x * s` for a scalar `s`.
    pub fn mul_scalar(&self, s: T) -> Var<'t, T> {
        self.record_unary("mul_scalar", self.value.mul_scalar(s), Scale(s))
    }
    /// `x / s` for a scalar `s`.
    pub fn div_scalar(&self, s: T) -> Var<'t, T> {
        self.record_unary("div_scalar", self.value.div_scalar(s), Scale(T::ONE / s))
    }
    /// `x + s` for a scalar `s`.
    pub fn add_scalar(&self, s: T) -> Var<'t, T> {
        self.record_unary("add_scalar", self.value.add_scalar(s), Scale(T::ONE))
    }
    /// `s - x` for a scalar `s`.
    pub fn rsub_scalar(&self, s: T) -> Var<'t, T> {
        self.record_unary("rsub_scalar", self.value.rsub_scalar(s), Scale(-T::ONE))
    }

    /// Both operands broadcast to their common shape, each through an explicit
    /// [`Var::broadcast_to`] node (recorded only when its shape changes).
    fn broadcast_pair(
        &self,
        other: &Var<'t, T>,
        op: &'static str,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        if self.dims() == other.dims() {
            return Ok((self.clone(), other.clone()));
        }
        let s = broadcast_shapes(op, self.dims(), other.dims())?;
        Ok((self.broadcast_to(&s)?, other.broadcast_to(&s)?))
    }

    /// `self + other`, broadcasting (NumPy rules).
    ///
    /// # Errors
    /// When the shapes do not broadcast (`add: shapes cannot be broadcast together: ...`).
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::ones(&[2, 3]));
    /// let b = tape.leaf(Tensor::zeros(&[3]));
    /// let g = tape.backward(&x.add(&b)?.sum_all())?;
    /// assert_eq!(g.of(&b).unwrap().to_vec(), vec![2.0; 3]); // summed over the broadcast dim
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn add(&self, other: &Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = self.broadcast_pair(other, "add")?;
        Var::record("add", &[&a, &b], a.value.add(&b.value)?, AddBackward)
    }
    /// `self - other`, broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn sub(&self, other: &Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = self.broadcast_pair(other, "sub")?;
        Var::record("sub", &[&a, &b], a.value.sub(&b.value)?, SubBackward)
    }
    /// `self * other`, broadcasting. Saves each operand only if the other side needs a
    /// gradient.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn mul(&self, other: &Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = self.broadcast_pair(other, "mul")?;
        let back = MulBackward {
            lhs: b.requires_grad().then(|| a.value.clone()),
            rhs: a.requires_grad().then(|| b.value.clone()),
        };
        Var::record("mul", &[&a, &b], a.value.mul(&b.value)?, back)
    }
    /// `self / other`, broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn div(&self, other: &Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = self.broadcast_pair(other, "div")?;
        let y = a.value.div(&b.value)?;
        Var::record(
            "div",
            &[&a, &b],
            y.clone(),
            DivBackward {
                rhs: b.value.clone(),
                out: y,
            },
        )
    }
    /// Elementwise maximum, broadcasting; on ties the gradient is split evenly (PyTorch).
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn maximum(&self, other: &Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = self.broadcast_pair(other, "maximum")?;
        let y = a.value.maximum(&b.value)?;
        Var::record(
            "maximum",
            &[&a, &b],
            y,
            PickBackward {
                lhs: a.value.clone(),
                rhs: b.value.clone(),
                max: true,
            },
        )
    }
    /// Elementwise minimum, broadcasting; on ties the gradient is split evenly.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn minimum(&self, other: &Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = self.broadcast_pair(other, "minimum")?;
        let y = a.value.minimum(&b.value)?;
        Var::record(
            "minimum",
            &[&a, &b],
            y,
            PickBackward {
                lhs: a.value.clone(),
                rhs: b.value.clone(),
                max: false,
            },
        )
    }

    /// `cond != 0 ? on_true : on_false` (`torch.where`); `cond` is a constant mask, the three
    /// broadcast together.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn where_cond(
        cond: &Tensor<T>,
        on_true: &Var<'t, T>,
        on_false: &Var<'t, T>,
    ) -> Result<Var<'t, T>> {
        let s = broadcast_shapes("where", cond.dims(), on_true.dims())?;
        let s = broadcast_shapes("where", &s, on_false.dims())?;
        let a = if on_true.dims() == &s[..] {
            on_true.clone()
        } else {
            on_true.broadcast_to(&s)?
        };
        let b = if on_false.dims() == &s[..] {
            on_false.clone()
        } else {
            on_false.broadcast_to(&s)?
        };
        let mask = cond.broadcast_to(&s)?.ne_mask(&Tensor::scalar(T::ZERO))?;
        let y = Tensor::where_cond(&mask, &a.value, &b.value)?;
        Var::record("where", &[&a, &b], y, WhereBackward { mask })
    }
}

/// `grad_out * s` (also the identity, for add_scalar, with s = 1).
struct Scale<T: Float>(T);
impl<T: Float> Backward<T> for Scale<T> {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![Some(if self.0 == T::ONE {
            g.clone()
        } else {
            g.mul_scalar(self.0)
        })])
    }
}

struct AddBackward;
impl<T: Float> Backward<T> for AddBackward {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![
            needs[0].then(|| g.clone()),
            needs[1].then(|| g.clone())
        ])
    }
}

struct SubBackward;
impl<T: Float> Backward<T> for SubBackward {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        Ok(smallvec![
            needs[0].then(|| g.clone()),
            needs[1].then(|| g.neg())
        ])
    }
}

struct MulBackward<T: Float> {
    lhs: Option<Tensor<T>>,
    rhs: Option<Tensor<T>>,
}
impl<T: Float> Backward<T> for MulBackward<T> {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        let grad_lhs = match (&self.rhs, needs[0]) {
            (Some(r), true) => Some(g.mul(r)?),
            _ => None,
        };
        let grad_rhs = match (&self.lhs, needs[1]) {
            (Some(l), true) => Some(g.mul(l)?),
            _ => None,
        };
        Ok(smallvec![grad_lhs, grad_rhs])
    }
}

/// d(a/b) = g/b, -g·(a/b)/b.
struct DivBackward<T: Float> {
    rhs: Tensor<T>,
    out: Tensor<T>,
}
impl<T: Float> Backward<T> for DivBackward<T> {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        let grad_lhs = if needs[0] {
            Some(g.div(&self.rhs)?)
        } else {
            None
        };
        let grad_rhs = if needs[1] {
            Some(g.mul(&self.out)?.div(&self.rhs)?.neg())
        } else {
            None
        };
        Ok(smallvec![grad_lhs, grad_rhs])
    }
}

struct PickBackward<T: Float> {
    lhs: Tensor<T>,
    rhs: Tensor<T>,
    max: bool,
}
impl<T: Float> Backward<T> for PickBackward<T> {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        let half = T::from_f64(0.5);
        let max = self.max;
        // Weight of the left operand: 1 where it wins, 1/2 on a tie, 0 where it loses.
        let w = self
            .lhs
            .zip_broadcast(&self.rhs, "maximum backward", |a, b| {
                let wins = if max { a > b } else { a < b };
                if a == b {
                    half
                } else if wins {
                    T::ONE
                } else {
                    T::ZERO
                }
            })?;
        let grad_lhs = if needs[0] { Some(g.mul(&w)?) } else { None };
        let grad_rhs = if needs[1] {
            Some(g.mul(&w.rsub_scalar(T::ONE))?)
        } else {
            None
        };
        Ok(smallvec![grad_lhs, grad_rhs])
    }
}

struct WhereBackward<T: Float> {
    mask: Tensor<T>,
}
impl<T: Float> Backward<T> for WhereBackward<T> {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        let grad_true = if needs[0] {
            Some(g.mul(&self.mask)?)
        } else {
            None
        };
        let grad_false = if needs[1] {
            Some(g.mul(&self.mask.rsub_scalar(T::ONE))?)
        } else {
            None
        };
        Ok(smallvec![grad_true, grad_false])
    }
}

macro_rules! operator {
    ($trait:ident, $method:ident) => {
        impl<'t, T: Float> core::ops::$trait<&Var<'t, T>> for &Var<'t, T> {
            type Output = Var<'t, T>;
            /// # Panics
            /// When the shapes do not broadcast (the named method's error text).
            #[track_caller]
            fn $method(self, rhs: &Var<'t, T>) -> Var<'t, T> {
                match Var::$method(self, rhs) {
                    Ok(v) => v,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    };
}
operator!(Add, add);
operator!(Sub, sub);
operator!(Mul, mul);
operator!(Div, div);

impl<'t, T: Float> core::ops::Neg for &Var<'t, T> {
    type Output = Var<'t, T>;
    fn neg(self) -> Var<'t, T> {
        Var::neg(self)
    }
}
