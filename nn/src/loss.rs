//! Losses: [`cross_entropy`] (fused log-softmax + NLL, one tape node), [`nll_loss`] and
//! [`mse_loss`], with PyTorch's semantics and error messages.
//!
//! Shape rule shared by `cross_entropy` and `nll_loss` (PyTorch's):
//!
//! | input | target | output with [`Reduction::None`] |
//! |---|---|---|
//! | `(N, C)` | `(N)` | `(N)` |
//! | `(C)` | `()` (0-D) | `()` |
//! | `(N, C, d1, ...)` | `(N, d1, ...)` | `(N, d1, ...)` |
//!
//! The classes are dim 1: a sequence model's `(N, L, C)` scores are reshaped to `(N·L, C)`
//! (targets `(N·L)`) or permuted to `(N, C, L)` first, as [`cross_entropy`] shows.
//!
//! `Mean` averages over the items whose target is not `ignore_index` (all ignored: NaN, as in
//! PyTorch); `Sum` adds them; ignored items contribute 0 and get a zero gradient.

use crate::error::{NnError, Result};
use recur_autograd::{Backward, CustomOp, InputGrads, IntoVar, Var};
use recur_tensor::{Float, IndexTensor, Tensor, pool};
use smallvec::smallvec;

/// How per-item losses are combined (`reduction=` in PyTorch).
///
/// ```
/// use recur_nn::loss::Reduction;
/// assert_eq!(Reduction::default(), Reduction::Mean);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The mean over the items that count (PyTorch's default).
    #[default]
    Mean,
    /// The sum over the items.
    Sum,
    /// No reduction: one loss per item.
    None,
}

/// Options of [`cross_entropy`] and [`nll_loss`]; the default is PyTorch's
/// (`ignore_index = -100`, `reduction = Mean`).
///
/// ```
/// use recur_nn::loss::{CrossEntropyOptions, Reduction};
/// let opts = CrossEntropyOptions::default().ignore_index(0).reduction(Reduction::Sum);
/// assert_eq!((opts.ignore_index, opts.reduction), (0, Reduction::Sum));
/// assert_eq!(CrossEntropyOptions::default().ignore_index, -100);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CrossEntropyOptions {
    /// Items whose target equals this value contribute nothing (default -100).
    pub ignore_index: i64,
    /// How the per-item losses are combined (default [`Reduction::Mean`]).
    pub reduction: Reduction,
}

impl Default for CrossEntropyOptions {
    fn default() -> Self {
        CrossEntropyOptions {
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

impl CrossEntropyOptions {
    /// Sets `ignore_index`.
    ///
    /// ```
    /// let o = recur_nn::loss::CrossEntropyOptions::default().ignore_index(3);
    /// assert_eq!(o.ignore_index, 3);
    /// ```
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }
    /// Sets the reduction.
    ///
    /// ```
    /// use recur_nn::loss::{CrossEntropyOptions, Reduction};
    /// let o = CrossEntropyOptions::default().reduction(Reduction::None);
    /// assert_eq!(o.reduction, Reduction::None);
    /// ```
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

// ------------------------------------------------------------------ shapes

/// How an input of `(N, C, ...)` maps onto rows of a `(M, C)` matrix.
#[derive(Clone, Debug)]
struct Rows {
    /// Number of rows `M` (items).
    m: usize,
    /// Number of classes `C`.
    c: usize,
    /// The input's rank (1, 2, or more).
    rank: usize,
    /// The shape of the unreduced output.
    out_dims: Vec<usize>,
}

fn fmt_dims(d: &[usize]) -> String {
    let v: Vec<String> = d.iter().map(|x| x.to_string()).collect();
    format!("[{}]", v.join(", "))
}

/// Checks the input/target shapes as PyTorch's `nll_loss` does.
fn check_shapes(input: &[usize], target: &IndexTensor) -> Result<Rows> {
    let t = target.dims();
    match input.len() {
        0 => Err(NnError::Input(
            "Expected 1 or more dimensions (got 0)".into(),
        )),
        1 => {
            if !t.is_empty() {
                return Err(NnError::Input(format!(
                    "Expected input batch_size (1) to match target batch_size ({}).",
                    t[0]
                )));
            }
            Ok(Rows {
                m: 1,
                c: input[0],
                rank: 1,
                out_dims: vec![],
            })
        }
        2 => {
            if t.len() > 1 {
                return Err(NnError::Input(
                    "0D or 1D target tensor expected, multi-target not supported".into(),
                ));
            }
            let tn = t.first().copied().unwrap_or(1);
            if tn != input[0] {
                return Err(NnError::Input(format!(
                    "Expected input batch_size ({}) to match target batch_size ({tn}).",
                    input[0]
                )));
            }
            Ok(Rows {
                m: input[0],
                c: input[1],
                rank: 2,
                out_dims: vec![input[0]],
            })
        }
        _ => {
            let mut expected = vec![input[0]];
            expected.extend_from_slice(&input[2..]);
            if t != expected.as_slice() {
                return Err(NnError::Input(format!(
                    "Expected target size {}, got {}{}",
                    fmt_dims(&expected),
                    fmt_dims(t),
                    classes_last_hint(input, t)
                )));
            }
            Ok(Rows {
                m: expected.iter().product(),
                c: input[1],
                rank: input.len(),
                out_dims: expected,
            })
        }
    }
}

/// When the target fits the input with its classes *last* (`(N, L, C)` logits, as a batch-first
/// RNN and a `Linear` give, with `(N, L)` targets), the two ways to feed them, after PyTorch's
/// message; otherwise nothing.
fn classes_last_hint(input: &[usize], target: &[usize]) -> String {
    let (rank, c) = (input.len(), input[input.len() - 1]);
    if target != &input[..rank - 1] {
        return String::new();
    }
    let rows = target.iter().product::<usize>();
    let mut permuted = vec![input[0], c];
    permuted.extend_from_slice(&input[1..rank - 1]);
    format!(
        " (the classes are dim 1; if they are the last dim, reshape the input to {} and the \
         target to {}, or permute the input to {})",
        fmt_dims(&[rows, c]),
        fmt_dims(&[rows]),
        fmt_dims(&permuted)
    )
}

/// Every target lies in `0..c` or equals `ignore_index` (PyTorch's message otherwise).
fn check_targets(target: &IndexTensor, c: usize, ignore_index: i64) -> Result<()> {
    match target
        .as_slice()
        .iter()
        .find(|&&y| y != ignore_index && (y < 0 || y as u64 >= c as u64))
    {
        Some(y) => Err(NnError::Input(format!("Target {y} is out of bounds."))),
        None => Ok(()),
    }
}

/// The permutation that moves the class dim (1) last: `[0, 2, 3, ..., 1]`.
fn class_last(rank: usize) -> Vec<usize> {
    let mut p = vec![0];
    p.extend(2..rank);
    p.push(1);
    p
}

/// The input as a `(M, C)` var (a view chain; backward undoes it).
fn rows_var<'t, T: Float>(x: &Var<'t, T>, r: &Rows) -> Result<Var<'t, T>> {
    Ok(match r.rank {
        2 => x.clone(),
        1 => x.reshape(&[1, r.c])?,
        n => x.permute(&class_last(n))?.reshape(&[r.m, r.c])?,
    })
}

/// The input as a contiguous `(M, C)` tensor.
fn rows_tensor<T: Float>(x: &Tensor<T>, r: &Rows) -> Result<Tensor<T>> {
    Ok(match r.rank {
        2 => x.contiguous(),
        1 => x.reshape(&[1, r.c])?,
        n => x
            .permute(&class_last(n))?
            .reshape(&[r.m, r.c])?
            .contiguous(),
    })
}

/// The factor each item's gradient is scaled by: one value shared by all items for `Sum`
/// (the upstream scalar) and `Mean` (divided by the number of counted items), or the
/// per-item upstream gradients for `None`.
fn item_scale<T: Float>(reduction: Reduction, count: usize, grad_out: &Tensor<T>) -> Vec<T> {
    let g = grad_out.to_vec();
    match reduction {
        Reduction::None => g,
        Reduction::Sum => vec![g.first().copied().unwrap_or(T::ZERO)],
        Reduction::Mean => vec![g.first().copied().unwrap_or(T::ZERO) / T::from_usize(count)],
    }
}

/// Combines per-item losses (ignored items hold 0) into the output tensor.
fn reduce_items<T: Float>(
    items: Vec<T>,
    count: usize,
    reduction: Reduction,
    out_dims: &[usize],
) -> Result<Tensor<T>> {
    Ok(match reduction {
        Reduction::None => Tensor::from_vec(items, out_dims)?,
        Reduction::Sum | Reduction::Mean => {
            let sum: f64 = items.iter().map(|v| v.to_f64()).sum();
            let v = if reduction == Reduction::Sum {
                sum
            } else {
                sum / count as f64 // 0/0 = NaN when every item is ignored, as in PyTorch
            };
            Tensor::scalar(T::from_f64(v))
        }
    })
}

// ------------------------------------------------------------------ cross-entropy kernel

/// The forward kernel on a contiguous `(M, C)` matrix: per-row `lse = log(sum(exp(x)))`
/// (shifted by the row max) and per-item loss `lse - x[y]` (0 for ignored items).
fn ce_rows<T: Float>(
    x: &[T],
    c: usize,
    target: &[i64],
    ignore_index: i64,
) -> (Vec<T>, Vec<T>, usize) {
    let mut lse = Vec::with_capacity(target.len());
    let mut items = Vec::with_capacity(target.len());
    let mut count = 0;
    let mut shifted = vec![T::ZERO; c];
    for (i, &y) in target.iter().enumerate() {
        if y == ignore_index {
            lse.push(T::ZERO);
            items.push(T::ZERO);
            continue;
        }
        let row = &x[i * c..(i + 1) * c];
        let m = row.iter().fold(T::NEG_INFINITY, |a, &v| a.max_nan(v));
        for (d, &v) in shifted.iter_mut().zip(row) {
            *d = v - m;
        }
        T::exp_slice(&mut shifted);
        let s: T = shifted.iter().copied().sum();
        let l = m + s.ln();
        lse.push(l);
        items.push(l - row[y as usize]);
        count += 1;
    }
    (items, lse, count)
}

/// The fused cross-entropy node: keeps the logits (shared, not copied) and one `lse` per row;
/// backward is `scale_i * (softmax(x_i) - onehot(y_i))`, zero for ignored rows.
pub(crate) struct CrossEntropyOp<T: Float> {
    target: IndexTensor,
    c: usize,
    opts: CrossEntropyOptions,
    out_dims: Vec<usize>,
    saved: Option<(Tensor<T>, Vec<T>, usize)>,
}

impl<T: Float> CustomOp<T> for CrossEntropyOp<T> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    fn forward(&mut self, inputs: &[&Tensor<T>]) -> recur_autograd::Result<Vec<Tensor<T>>> {
        let x = inputs[0].contiguous();
        let xs = x.as_slice().unwrap_or(&[]);
        let (items, lse, count) =
            ce_rows(xs, self.c, self.target.as_slice(), self.opts.ignore_index);
        let out = reduce_items(items, count, self.opts.reduction, &self.out_dims)?;
        self.saved = Some((x, lse, count));
        Ok(vec![out])
    }

    fn backward(
        &self,
        grads_out: &[Option<&Tensor<T>>],
        needs: &[bool],
    ) -> recur_autograd::Result<Vec<Option<Tensor<T>>>> {
        let (Some(g), Some((x, lse, count)), true) = (grads_out[0], &self.saved, needs[0]) else {
            return Ok(vec![None]);
        };
        let scale = item_scale(self.opts.reduction, *count, g);
        let c = self.c;
        let xs = x.as_slice().unwrap_or(&[]);
        let mut grad = pool::zeroed(xs.len());
        for (i, &y) in self.target.as_slice().iter().enumerate() {
            if y == self.opts.ignore_index {
                continue;
            }
            let s = if scale.len() == 1 { scale[0] } else { scale[i] };
            let (row, out) = (&xs[i * c..(i + 1) * c], &mut grad[i * c..(i + 1) * c]);
            for (o, &v) in out.iter_mut().zip(row) {
                *o = v - lse[i];
            }
            T::exp_slice(out);
            for o in out.iter_mut() {
                *o = s * *o;
            }
            out[y as usize] -= s;
        }
        Ok(vec![Some(Tensor::from_vec(grad, x.dims())?)])
    }
}

/// Cross-entropy between `logits` and class indices, fused into **one** tape node: a stable
/// log-softmax (shifted by the row max) and the negative log-likelihood, whose backward is
/// `softmax(logits) - onehot(target)` scaled by the upstream gradient (and `1/count` for
/// `Mean`). `torch.nn.functional.cross_entropy` without class weights or label smoothing.
///
/// Shapes: see the [module docs](self): `(N, C)` with `(N)` targets, `(C)` with a 0-D
/// target, or `(N, C, d1, ...)` with `(N, d1, ...)`. The classes are always dim 1.
///
/// # Sequences: `(N, L, C)` logits
///
/// A batch-first RNN followed by a [`Linear`](crate::Linear) gives one row of scores per
/// step, `(N, L, C)`: the classes *last*. As in PyTorch, `cross_entropy` does not take that
/// shape with `(N, L)` targets; either reshape the logits to `(N·L, C)` and the targets to
/// `(N·L)`, or permute the logits to `(N, C, L)`. Both give the same loss (with `Mean`, the
/// mean over all `N·L` steps) and the same gradients; the reshape is the cheaper one. The
/// same holds for a sequence-first `(L, N, C)` output with `(L, N)` targets.
///
/// ```
/// use recur_nn::loss::{cross_entropy, CrossEntropyOptions};
/// use recur_nn::{Layer, Linear, Rnn, RnnConfig, Tape};
/// use recur_tensor::{IndexTensor, Tensor};
///
/// let (n, l, c) = (4, 7, 3); // 4 sequences of 7 steps, 3 classes per step
/// let mut rng = recur_nn::seeded_rng(0);
/// let rnn = Rnn::<f64>::new(RnnConfig::new(5, 8).batch_first(true), &mut rng)?;
/// let head = Linear::new(8, c, &mut rng)?;
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::uniform(&[n, l, 5], -1.0, 1.0, &mut rng));
/// let (out, _) = rnn.forward(&x, None)?;                     // (N, L, 8)
/// let logits = head.forward(&out)?;                           // (N, L, C)
/// let target = IndexTensor::from_vec((0..n * l).map(|i| (i % 3) as i64).collect(), &[n, l])?;
///
/// let opts = CrossEntropyOptions::default();
/// // One row per step: (N·L, C) logits, (N·L) targets.
/// let loss = cross_entropy(&logits.reshape(&[n * l, c])?, &target.reshape(&[n * l])?, opts)?;
/// // Or the classes moved to dim 1: (N, C, L) logits, (N, L) targets.
/// let permuted = cross_entropy(&logits.permute(&[0, 2, 1])?, &target, opts)?;
/// assert!((loss.value().item()? - permuted.value().item()?).abs() < 1e-14);
/// let (g1, g2) = (tape.backward(&loss)?, tape.backward(&permuted)?);
/// let w = head.weight();
/// assert!(g1.get(w).unwrap().sub(g2.get(w).unwrap())?.abs().max_all()? < 1e-14);
///
/// // As they come, the shapes are refused in PyTorch's words, then told how to fit.
/// let err = cross_entropy(&logits, &target, opts).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Expected target size [4, 3], got [4, 7] (the classes are dim 1; if they are the last \
///      dim, reshape the input to [28, 3] and the target to [28], or permute the input to \
///      [4, 3, 7])"
/// );
/// # Ok::<(), recur_nn::NnError>(())
/// ```
///
/// When `L` equals `C` the unpermuted shapes are accepted, in recur as in PyTorch, and read
/// `(N, L, C)` as `(N, C, L)`: a wrong loss, not an error. Reshape or permute first.
///
/// # Errors
/// PyTorch's messages: `Target 3 is out of bounds.` for a target outside `0..C` (other than
/// `ignore_index`); `Expected input batch_size (4) to match target batch_size (3).`;
/// `0D or 1D target tensor expected, multi-target not supported`;
/// `Expected target size [2, 5], got [2]`. When the target would fit an input whose classes
/// are last, the size message adds how to feed it (see above).
///
/// ```
/// use recur_nn::loss::{cross_entropy, CrossEntropyOptions, Reduction};
/// use recur_nn::Tape;
/// use recur_tensor::{IndexTensor, Tensor};
/// let tape = Tape::<f64>::new();
/// let logits = tape.leaf(Tensor::from_vec(
///     vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3, 1.2, 0.2, 3.1], &[3, 3])?);
/// let target = IndexTensor::from_vec(vec![0, 1, 2], &[3])?;
/// let loss = cross_entropy(&logits, &target, CrossEntropyOptions::default())?;
/// assert!((loss.value().item()? - 0.2744067754238431).abs() < 1e-15);   // torch, float64
/// let grads = tape.backward(&loss)?;
/// let g = grads.of(&logits).unwrap().to_vec();
/// assert!(g[..3].iter().sum::<f64>().abs() < 1e-15);   // each row of softmax - onehot sums to 0
/// let sum = cross_entropy(&logits, &target, CrossEntropyOptions::default().reduction(Reduction::Sum))?;
/// assert!((sum.value().item()? - 0.8232203262715293).abs() < 1e-15);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn cross_entropy<'t, T: Float>(
    logits: &Var<'t, T>,
    target: &IndexTensor,
    opts: CrossEntropyOptions,
) -> Result<Var<'t, T>> {
    let r = check_shapes(logits.dims(), target)?;
    check_targets(target, r.c, opts.ignore_index)?;
    let rows = rows_var(logits, &r)?;
    let op = CrossEntropyOp {
        target: target.clone(),
        c: r.c,
        opts,
        out_dims: if opts.reduction == Reduction::None {
            vec![r.m]
        } else {
            vec![]
        },
        saved: None,
    };
    let out = logits
        .tape()
        .custom(crate::compiled::fused(op), &[&rows])?
        .remove(0);
    if opts.reduction == Reduction::None && out.dims() != r.out_dims.as_slice() {
        return Ok(out.reshape(&r.out_dims)?);
    }
    Ok(out)
}

/// [`cross_entropy`] on plain tensors, no tape (evaluation); the same kernel.
///
/// # Errors
/// As for [`cross_entropy`].
///
/// ```
/// use recur_nn::loss::{cross_entropy_tensor, CrossEntropyOptions};
/// use recur_tensor::{IndexTensor, Tensor};
/// let logits = Tensor::<f32>::zeros(&[4, 65]);                     // uniform over 65 classes
/// let target = IndexTensor::from_vec(vec![0, 7, 64, 3], &[4])?;
/// let loss = cross_entropy_tensor(&logits, &target, CrossEntropyOptions::default())?;
/// assert!((loss.item()? - 65f32.ln()).abs() < 1e-6);             // 4.1743873
/// let bad = IndexTensor::from_vec(vec![0, 65, 1, 2], &[4])?;
/// let err = cross_entropy_tensor(&logits, &bad, CrossEntropyOptions::default()).unwrap_err();
/// assert_eq!(err.to_string(), "Target 65 is out of bounds.");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn cross_entropy_tensor<T: Float>(
    logits: &Tensor<T>,
    target: &IndexTensor,
    opts: CrossEntropyOptions,
) -> Result<Tensor<T>> {
    let r = check_shapes(logits.dims(), target)?;
    check_targets(target, r.c, opts.ignore_index)?;
    let rows = rows_tensor(logits, &r)?;
    let xs = rows.as_slice().unwrap_or(&[]);
    let (items, _, count) = ce_rows(xs, r.c, target.as_slice(), opts.ignore_index);
    reduce_items(items, count, opts.reduction, &r.out_dims)
}

// ------------------------------------------------------------------ nll

/// The negative log-likelihood of `target` under `log_probs` (the output of a log-softmax):
/// per item `-log_probs[i, y_i]` (`torch.nn.functional.nll_loss`, no class weights). One tape
/// node whose backward writes `-scale_i` at each target.
///
/// Shapes, options and errors as for [`cross_entropy`].
///
/// # Errors
/// As for [`cross_entropy`].
///
/// ```
/// use recur_nn::loss::{nll_loss, CrossEntropyOptions};
/// use recur_nn::Tape;
/// use recur_tensor::{IndexTensor, Tensor};
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3], &[2, 3])?);
/// let target = IndexTensor::from_vec(vec![0, 1], &[2])?;
/// let loss = nll_loss(&x.log_softmax(1)?, &target, CrossEntropyOptions::default())?;
/// let grads = tape.backward(&loss)?;
/// assert_eq!(grads.of(&x).unwrap().dims(), &[2, 3]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn nll_loss<'t, T: Float>(
    log_probs: &Var<'t, T>,
    target: &IndexTensor,
    opts: CrossEntropyOptions,
) -> Result<Var<'t, T>> {
    let r = check_shapes(log_probs.dims(), target)?;
    check_targets(target, r.c, opts.ignore_index)?;
    let rows = rows_var(log_probs, &r)?;
    let x = rows.value().contiguous();
    let xs = x.as_slice().unwrap_or(&[]);
    let mut count = 0;
    let items: Vec<T> = target
        .as_slice()
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            if y == opts.ignore_index {
                T::ZERO
            } else {
                count += 1;
                -xs[i * r.c + y as usize]
            }
        })
        .collect();
    let flat_dims = if opts.reduction == Reduction::None {
        vec![r.m]
    } else {
        vec![]
    };
    let out = reduce_items(items, count, opts.reduction, &flat_dims)?;
    let back = NllBackward {
        target: target.clone(),
        dims: [r.m, r.c],
        opts,
        count,
    };
    let out = Var::record("nll_loss", &[&rows], out, back)?;
    if opts.reduction == Reduction::None && out.dims() != r.out_dims.as_slice() {
        return Ok(out.reshape(&r.out_dims)?);
    }
    Ok(out)
}

/// Backward of [`nll_loss`]: `-scale_i` at `(i, y_i)`, zeros elsewhere.
struct NllBackward {
    target: IndexTensor,
    dims: [usize; 2],
    opts: CrossEntropyOptions,
    count: usize,
}
impl<T: Float> Backward<T> for NllBackward {
    fn backward(&self, grad_out: &Tensor<T>, _: &[bool]) -> recur_autograd::Result<InputGrads<T>> {
        let scale = item_scale(self.opts.reduction, self.count, grad_out);
        let [m, c] = self.dims;
        let mut grad = vec![T::ZERO; m * c];
        for (i, &y) in self.target.as_slice().iter().enumerate() {
            if y != self.opts.ignore_index {
                let s = if scale.len() == 1 { scale[0] } else { scale[i] };
                grad[i * c + y as usize] = -s;
            }
        }
        Ok(smallvec![Some(Tensor::from_vec(grad, &self.dims)?)])
    }
}

// ------------------------------------------------------------------ mse

/// Mean squared error `(a - b)²`, reduced (`torch.nn.functional.mse_loss`), of two
/// tensors of the same shape. The target `b` is a var or a plain tensor ([`IntoVar`]; a
/// tensor is a constant).
///
/// Shapes that differ are refused even when they would broadcast: `(4, 1)` against `(4)`
/// would silently compute a `(4, 4)` loss, which PyTorch only warns about. To broadcast on
/// purpose, call [`mse_loss_broadcast`].
///
/// # Errors
/// When the shapes differ (PyTorch's words: `mse_loss: Using a target size ([4]) that is
/// different to the input size ([4, 1]) ...`).
///
/// ```
/// use recur_nn::loss::{mse_loss, Reduction};
/// use recur_nn::Tape;
/// use recur_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let a = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])?);
/// let b = tape.constant(Tensor::from_vec(vec![1.0, 0.0, 0.0], &[3])?);
/// let loss = mse_loss(&a, &b, Reduction::Mean)?;
/// assert_eq!(loss.value().item()?, 13.0 / 3.0);
/// let same = mse_loss(&a, b.value(), Reduction::Mean)?;        // a plain tensor target
/// assert_eq!(same.value().item()?, 13.0 / 3.0);
/// let g = tape.backward(&loss)?;
/// assert_eq!(g.of(&a).unwrap().to_vec(), vec![0.0, 4.0 / 3.0, 2.0]);   // 2(a - b)/n
///
/// let column = tape.leaf(Tensor::zeros(&[3, 1]));
/// let e = mse_loss(&column, &b, Reduction::Mean).unwrap_err();
/// assert!(e.to_string().starts_with("mse_loss: Using a target size ([3]) that is different to the input size ([3, 1])"));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn mse_loss<'t, T: Float>(
    a: &Var<'t, T>,
    b: impl IntoVar<'t, T>,
    reduction: Reduction,
) -> Result<Var<'t, T>> {
    let b = b.into_var(a.tape());
    if a.dims() != b.dims() {
        return Err(NnError::Input(format!(
            "mse_loss: Using a target size ({}) that is different to the input size ({}). \
             This will likely lead to incorrect results due to broadcasting. Please ensure \
             they have the same size, or call mse_loss_broadcast to broadcast on purpose.",
            b.value().shape(),
            a.value().shape()
        )));
    }
    mse_loss_broadcast(a, &b, reduction)
}

/// [`mse_loss`] of operands that broadcast together (NumPy rules), when that is meant:
/// `(4, 1)` against `(4)` gives a `(4, 4)` loss.
///
/// # Errors
/// When the shapes do not broadcast.
///
/// ```
/// use recur_nn::loss::{mse_loss_broadcast, Reduction};
/// use recur_nn::Tape;
/// use recur_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let a = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[2, 1])?);
/// let b = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2])?);
/// let loss = mse_loss_broadcast(&a, &b, Reduction::None)?;
/// assert_eq!(loss.value().dims(), &[2, 2]);
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub fn mse_loss_broadcast<'t, T: Float>(
    a: &Var<'t, T>,
    b: impl IntoVar<'t, T>,
    reduction: Reduction,
) -> Result<Var<'t, T>> {
    let sq = a.sub(&b.into_var(a.tape()))?.square();
    Ok(match reduction {
        Reduction::Mean => sq.mean_all(),
        Reduction::Sum => sq.sum_all(),
        Reduction::None => sq,
    })
}
