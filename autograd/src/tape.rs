//! The tape: an append-only list of nodes in creation order, and the one reverse loop that
//! differentiates it.

use crate::error::{AutogradError, Result};
use crate::grads::Grads;
use crate::param::{Param, ParamId};
use recur_tensor::{Float, Shape, Tensor};
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::fmt;

/// Gradients for an op's inputs, in input order; `None` where an input needs none.
pub type InputGrads<T> = SmallVec<[Option<Tensor<T>>; 2]>;

/// The backward rule of a single-output op: the vector-Jacobian product.
///
/// `needs[i]` says whether input `i` wants a gradient; return `None` for the others (that is
/// how a matmul by a constant skips half its work).
pub trait Backward<T: Float>: 'static {
    /// Gradients of the inputs given the gradient of the output.
    ///
    /// # Errors
    /// Only when a tensor op fails, which would be a bug in the rule.
    fn backward(&self, grad_out: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>>;
}

/// A user-defined op with its own forward and backward that becomes **one** node on the tape,
/// with one or more outputs. The fused RNN layer and fused cross-entropy are built on it.
///
/// ```
/// use recur_autograd::{CustomOp, Result, Tape};
/// use recur_tensor::Tensor;
///
/// /// y = 3x, written as a custom op.
/// struct Triple;
/// impl CustomOp<f64> for Triple {
///     fn name(&self) -> &'static str { "triple" }
///     fn forward(&mut self, inputs: &[&Tensor<f64>]) -> Result<Vec<Tensor<f64>>> {
///         Ok(vec![inputs[0].mul_scalar(3.0)])
///     }
///     fn backward(&self, grads_out: &[Option<&Tensor<f64>>], _needs: &[bool]) -> Result<Vec<Option<Tensor<f64>>>> {
///         Ok(vec![grads_out[0].map(|g| g.mul_scalar(3.0))])
///     }
/// }
///
/// let tape = Tape::new();
/// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[2])?);
/// let y = tape.custom(Triple, &[&x])?.remove(0);
/// let grads = tape.backward(&y.sum_all())?;
/// assert_eq!(grads.of(&x).unwrap().to_vec(), vec![3.0, 3.0]);
/// # Ok::<(), recur_autograd::AutogradError>(())
/// ```
pub trait CustomOp<T: Float>: 'static {
    /// The op's name (for `Debug`, errors and anomaly reports).
    fn name(&self) -> &'static str;
    /// Computes the outputs from the input values. Runs once, eagerly; keep in `self` what
    /// backward will need.
    ///
    /// # Errors
    /// When the inputs are invalid for the op.
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>>;
    /// The gradients of the inputs, given the gradient of each output (`None`: that output got
    /// no gradient, i.e. zero). Return one entry per input (`None` where `needs` is false or
    /// the gradient is zero); each must have its input's shape.
    ///
    /// # Errors
    /// When a tensor op fails.
    fn backward(
        &self,
        grads_out: &[Option<&Tensor<T>>],
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<T>>>>;
}

/// How a node is differentiated.
enum Rule<T: Float> {
    /// A tracked leaf (a parameter or an input the caller wants gradients for).
    Leaf(Option<ParamId>),
    /// A constant, or an op none of whose inputs needs a gradient.
    Constant,
    /// A single-output op.
    Op(Box<dyn Backward<T>>),
    /// A custom op owning slots `first..first + n` of the outputs.
    Custom(Box<dyn CustomOp<T>>),
}

struct Node<T: Float> {
    name: &'static str,
    inputs: SmallVec<[usize; 3]>,
    /// First output slot; outputs are `first_slot..first_slot + n_out`.
    first_slot: usize,
    n_out: usize,
    rule: Rule<T>,
}

struct Slot {
    node: usize,
    shape: Shape,
    requires_grad: bool,
    retain: bool,
}

/// An append-only record of operations. Nodes are appended after their inputs, so reverse
/// index order is already topological: [`Tape::backward`] is one loop, no recursion, no sort.
///
/// A tape is cheap; make a fresh one per training step and drop it at the end.
///
/// ```
/// use recur_autograd::Tape;
/// use recur_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![0.5, -1.0], &[2])?);
/// let y = x.tanh().mul(&x)?.sum_all();                // y = sum(x * tanh x)
/// let grads = tape.backward(&y)?;
/// let g = grads.of(&x).unwrap().to_vec();
/// let d = |v: f64| v.tanh() + v * (1.0 - v.tanh().powi(2));
/// assert!((g[0] - d(0.5)).abs() < 1e-12 && (g[1] - d(-1.0)).abs() < 1e-12);
/// # Ok::<(), recur_autograd::AutogradError>(())
/// ```
pub struct Tape<T: Float = f32> {
    nodes: RefCell<Vec<Node<T>>>,
    slots: RefCell<Vec<Slot>>,
    anomaly: Cell<bool>,
    /// The first non-finite forward value seen in anomaly mode; [`Tape::backward`] returns it.
    first_anomaly: RefCell<Option<AutogradError>>,
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A value recorded on a tape: (tape, slot id, value). Cheap to clone.
pub struct Var<'t, T: Float = f32> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) slot: usize,
    pub(crate) value: Tensor<T>,
}

impl<T: Float> Clone for Var<'_, T> {
    fn clone(&self) -> Self {
        Var {
            tape: self.tape,
            slot: self.slot,
            value: self.value.clone(),
        }
    }
}

impl<T: Float> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Var(#{} {}) = {}",
            self.node(),
            self.value.shape(),
            self.value
        )
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }
    /// The shape of the value.
    pub fn dims(&self) -> &[usize] {
        self.value.dims()
    }
    /// The shape of the value.
    pub fn shape(&self) -> &Shape {
        self.value.shape()
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.value.rank()
    }
    /// The tape this var is recorded on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }
    /// The id of the node that produced this var.
    pub fn node(&self) -> usize {
        self.tape.slots.borrow()[self.slot].node
    }
    /// The output slot id (unique per var on its tape; equals the node id for single-output ops
    /// until a multi-output op has been recorded).
    pub fn slot(&self) -> usize {
        self.slot
    }
    /// Whether a gradient flows to this var (false for constants and anything computed only
    /// from constants).
    pub fn requires_grad(&self) -> bool {
        self.tape.slots.borrow()[self.slot].requires_grad
    }
    /// Keeps this var's gradient in the [`Grads`] returned by backward (intermediate gradients
    /// are otherwise freed as the backward loop passes them). Returns `self` for chaining.
    pub fn retain_grad(self) -> Self {
        self.tape.slots.borrow_mut()[self.slot].retain = true;
        self
    }
    /// The same value as a constant: gradients stop here (`torch.Tensor.detach`).
    pub fn detach(&self) -> Var<'t, T> {
        self.tape.constant(self.value.clone())
    }

    /// Records a single-output op with these inputs. This is how every op in `ops/` is built:
    /// compute `value`, then hand over the backward rule.
    ///
    /// # Errors
    /// When an input is from another tape, or (anomaly mode) `value` is not finite or an
    /// earlier op's output was not (the first such value is reported).
    pub fn record(
        name: &'static str,
        inputs: &[&Var<'t, T>],
        value: Tensor<T>,
        backward: impl Backward<T>,
    ) -> Result<Var<'t, T>> {
        let Some(first) = inputs.first() else {
            return Err(AutogradError::Custom {
                op: name.into(),
                msg: "an op needs at least one input var".into(),
            });
        };
        first
            .tape
            .record_op(name, inputs, value, Rule::Op(Box::new(backward)))
    }

    /// Records a single-input op that cannot fail (element-wise, scalar, full reductions).
    /// In anomaly mode a non-finite output is stored on the tape and reported by
    /// [`Tape::backward`] (or [`Tape::check_anomaly`]) rather than here.
    pub(crate) fn record_unary(
        &self,
        name: &'static str,
        value: Tensor<T>,
        backward: impl Backward<T>,
    ) -> Var<'t, T> {
        let tape = self.tape;
        let ids: SmallVec<[usize; 3]> = smallvec::smallvec![self.slot];
        tape.note_anomaly(name, &ids, &value);
        tape.push_op(name, ids, value, Rule::Op(Box::new(backward)))
    }
}

/// A value that can stand where a constant is meant: a [`Var`] as it is (a gradient flows
/// into it if it is tracked), or a plain [`Tensor`], recorded as a constant on the tape.
///
/// ```
/// use recur_autograd::{IntoVar, Tape};
/// use recur_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let t = Tensor::from_vec(vec![1.0, 2.0], &[2])?;
/// let c = (&t).into_var(&tape);
/// assert!(!c.requires_grad());
/// let x = tape.leaf(t);
/// assert!((&x).into_var(&tape).requires_grad());
/// # Ok::<(), recur_autograd::AutogradError>(())
/// ```
pub trait IntoVar<'t, T: Float> {
    /// This value on `tape`.
    fn into_var(self, tape: &'t Tape<T>) -> Var<'t, T>;
}

impl<'t, T: Float> IntoVar<'t, T> for &Var<'t, T> {
    fn into_var(self, _tape: &'t Tape<T>) -> Var<'t, T> {
        self.clone()
    }
}

impl<'t, T: Float> IntoVar<'t, T> for Var<'t, T> {
    fn into_var(self, _tape: &'t Tape<T>) -> Var<'t, T> {
        self
    }
}

impl<'t, T: Float> IntoVar<'t, T> for &Tensor<T> {
    fn into_var(self, tape: &'t Tape<T>) -> Var<'t, T> {
        tape.constant(self.clone())
    }
}

impl<'t, T: Float> IntoVar<'t, T> for Tensor<T> {
    fn into_var(self, tape: &'t Tape<T>) -> Var<'t, T> {
        tape.constant(self)
    }
}

impl<T: Float> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape {
            nodes: RefCell::new(Vec::new()),
            slots: RefCell::new(Vec::new()),
            anomaly: Cell::new(false),
            first_anomaly: RefCell::new(None),
        }
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }
    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns anomaly mode on or off. When on, the first op whose output (forward) or whose
    /// input gradient (backward) is not finite is reported as [`AutogradError::Anomaly`],
    /// naming the op, its node id and its input shapes.
    ///
    /// Ops that cannot fail (`tanh`, `ln`, `mul_scalar`, `sum_all`, ...) return their `Var`
    /// directly: the first non-finite forward value is kept on the tape and
    /// [`Tape::backward`] returns it (so does [`Tape::check_anomaly`], without a backward).
    /// Ops that return a `Result` fail at once, with that first anomaly if there was one.
    ///
    /// ```
    /// use recur_autograd::{AutogradError, Tape};
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// tape.set_anomaly(true);
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 0.0], &[2])?);
    /// let y = x.exp();                                      // finite: fine
    /// let z = x.ln();                                       // ln(0) = -inf: noted
    /// let loss = z.mul_scalar(2.0).sum_all();
    /// let e = tape.backward(&loss).unwrap_err();            // reported here
    /// assert_eq!(
    ///     e.to_string(),
    ///     "anomaly: forward of op `ln` (node #2, input shapes [[2]]) produced a non-finite value"
    /// );
    /// assert!(matches!(e, AutogradError::Anomaly { .. }));
    /// assert_eq!(y.add(&z).unwrap_err(), e);                // a fallible op: at once
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn set_anomaly(&self, on: bool) {
        self.anomaly.set(on);
    }
    /// Whether anomaly mode is on.
    pub fn anomaly(&self) -> bool {
        self.anomaly.get()
    }

    /// The first non-finite forward value recorded in anomaly mode, as an error.
    ///
    /// # Errors
    /// [`AutogradError::Anomaly`] naming the first op whose output was not finite.
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// tape.set_anomaly(true);
    /// let x = tape.constant(Tensor::from_vec(vec![-1.0], &[1])?);
    /// assert!(tape.check_anomaly().is_ok());
    /// let _ = x.sqrt();                                      // NaN
    /// assert!(tape.check_anomaly().unwrap_err().to_string().contains("op `sqrt`"));
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn check_anomaly(&self) -> Result<()> {
        match &*self.first_anomaly.borrow() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// In anomaly mode, keeps the first non-finite forward output (the op about to become
    /// node `self.len()`). Returns the first anomaly seen so far, if any.
    fn note_anomaly(&self, op: &str, inputs: &[usize], t: &Tensor<T>) -> Option<AutogradError> {
        if !self.anomaly.get() {
            return None;
        }
        let first = self.first_anomaly.borrow().is_none();
        if first && let Err(e) = self.check_finite("forward", op, self.len(), inputs, t) {
            *self.first_anomaly.borrow_mut() = Some(e);
        }
        self.first_anomaly.borrow().clone()
    }

    fn push(
        &self,
        name: &'static str,
        inputs: SmallVec<[usize; 3]>,
        rule: Rule<T>,
        shapes: &[Shape],
        requires_grad: bool,
    ) -> usize {
        let mut nodes = self.nodes.borrow_mut();
        let mut slots = self.slots.borrow_mut();
        let node = nodes.len();
        let first_slot = slots.len();
        for s in shapes {
            slots.push(Slot {
                node,
                shape: s.clone(),
                requires_grad,
                retain: false,
            });
        }
        nodes.push(Node {
            name,
            inputs,
            first_slot,
            n_out: shapes.len(),
            rule,
        });
        first_slot
    }

    fn leaf_var(
        &self,
        name: &'static str,
        value: Tensor<T>,
        rule: Rule<T>,
        requires_grad: bool,
    ) -> Var<'_, T> {
        let slot = self.push(
            name,
            SmallVec::new(),
            rule,
            core::slice::from_ref(value.shape()),
            requires_grad,
        );
        Var {
            tape: self,
            slot,
            value,
        }
    }

    /// Registers a parameter as a tracked leaf; its gradient is found by
    /// [`Grads::get`]`(&param)`. Registering the same parameter twice is allowed (the
    /// gradients add up).
    pub fn param(&self, p: &Param<T>) -> Var<'_, T> {
        self.leaf_var("param", p.value().clone(), Rule::Leaf(Some(p.id())), true)
    }

    /// A tracked leaf that is not a parameter (an input whose gradient you want); its gradient
    /// is found by [`Grads::of`].
    pub fn leaf(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leaf_var("leaf", value, Rule::Leaf(None), true)
    }

    /// A constant: no gradient flows into it.
    pub fn constant(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leaf_var("constant", value, Rule::Constant, false)
    }

    fn check_tape(&self, op: &'static str, v: &Var<'_, T>) -> Result<()> {
        if !core::ptr::eq(self, v.tape) {
            return Err(AutogradError::ForeignVar { op, node: v.node() });
        }
        Ok(())
    }

    fn input_shapes(&self, inputs: &[usize]) -> String {
        let slots = self.slots.borrow();
        let v: Vec<String> = inputs.iter().map(|&s| slots[s].shape.to_string()).collect();
        format!("[{}]", v.join(", "))
    }

    fn check_finite(
        &self,
        phase: &'static str,
        op: &str,
        node: usize,
        inputs: &[usize],
        t: &Tensor<T>,
    ) -> Result<()> {
        if self.anomaly.get() && !t.to_vec().iter().all(|v| v.is_finite()) {
            return Err(AutogradError::Anomaly {
                phase,
                op: op.to_string(),
                node,
                input_shapes: self.input_shapes(inputs),
            });
        }
        Ok(())
    }

    fn record_op<'t>(
        &'t self,
        name: &'static str,
        inputs: &[&Var<'t, T>],
        value: Tensor<T>,
        rule: Rule<T>,
    ) -> Result<Var<'t, T>> {
        for v in inputs {
            self.check_tape(name, v)?;
        }
        let ids: SmallVec<[usize; 3]> = inputs.iter().map(|v| v.slot).collect();
        if let Some(e) = self.note_anomaly(name, &ids, &value) {
            return Err(e);
        }
        Ok(self.push_op(name, ids, value, rule))
    }

    /// Appends a single-output op node (a constant when no input needs a gradient).
    fn push_op(
        &self,
        name: &'static str,
        ids: SmallVec<[usize; 3]>,
        value: Tensor<T>,
        rule: Rule<T>,
    ) -> Var<'_, T> {
        let requires_grad = {
            let slots = self.slots.borrow();
            ids.iter().any(|&s| slots[s].requires_grad)
        };
        // An op on constants only is itself a constant: drop its rule (and what it saved).
        let rule = if requires_grad { rule } else { Rule::Constant };
        let slot = self.push(
            name,
            ids,
            rule,
            core::slice::from_ref(value.shape()),
            requires_grad,
        );
        Var {
            tape: self,
            slot,
            value,
        }
    }

    /// Runs a [`CustomOp`] on `inputs` and records it as one node; returns its outputs.
    ///
    /// # Errors
    /// When an input is from another tape, the op's forward fails, or (anomaly mode) an
    /// output is not finite or an earlier op's output was not (the first is reported).
    pub fn custom<'t, Op: CustomOp<T>>(
        &'t self,
        mut op: Op,
        inputs: &[&Var<'t, T>],
    ) -> Result<Vec<Var<'t, T>>> {
        let name = op.name();
        for v in inputs {
            self.check_tape(name, v)?;
        }
        let values: SmallVec<[&Tensor<T>; 4]> = inputs.iter().map(|v| &v.value).collect();
        let outs = op.forward(&values)?;
        let ids: SmallVec<[usize; 3]> = inputs.iter().map(|v| v.slot).collect();
        for o in &outs {
            if let Some(e) = self.note_anomaly(name, &ids, o) {
                return Err(e);
            }
        }
        let requires_grad = {
            let slots = self.slots.borrow();
            ids.iter().any(|&s| slots[s].requires_grad)
        };
        let rule = if requires_grad {
            Rule::Custom(Box::new(op))
        } else {
            Rule::Constant
        };
        let shapes: Vec<Shape> = outs.iter().map(|o| o.shape().clone()).collect();
        let first = self.push(name, ids, rule, &shapes, requires_grad);
        Ok(outs
            .into_iter()
            .enumerate()
            .map(|(i, value)| Var {
                tape: self,
                slot: first + i,
                value,
            })
            .collect())
    }

    /// Differentiates a scalar (any shape with one element) with respect to every tracked
    /// leaf it depends on.
    ///
    /// # Errors
    /// When `output` has more than one element ([`AutogradError::NonScalarBackward`]), is
    /// from another tape, or (anomaly mode) a forward value was or a gradient becomes
    /// non-finite.
    pub fn backward(&self, output: &Var<'_, T>) -> Result<Grads<T>> {
        self.check_anomaly()?;
        if output.value.numel() != 1 {
            return Err(AutogradError::NonScalarBackward {
                shape: output.value.shape().clone(),
            });
        }
        self.backward_with(output, Tensor::ones(output.dims()))
    }

    /// Differentiates `output` given the gradient of the loss with respect to it
    /// (`output.backward(grad_output)` in PyTorch).
    ///
    /// # Errors
    /// When `grad_output`'s shape is not `output`'s, `output` is from another tape, or
    /// (anomaly mode) a forward value was or a gradient becomes non-finite.
    pub fn backward_with(&self, output: &Var<'_, T>, grad_output: Tensor<T>) -> Result<Grads<T>> {
        self.check_tape("backward", output)?;
        self.check_anomaly()?;
        if grad_output.shape() != output.value.shape() {
            return Err(AutogradError::GradShape {
                op: "backward_with".into(),
                expected: output.value.shape().clone(),
                got: grad_output.shape().clone(),
            });
        }
        let nodes = self.nodes.borrow();
        let slots = self.slots.borrow();
        let mut grads: Vec<Option<Tensor<T>>> = vec![None; slots.len()];
        let mut out = Grads::new();
        if !slots[output.slot].requires_grad {
            return Ok(out);
        }
        grads[output.slot] = Some(grad_output);
        let last = slots[output.slot].node;
        // The one reverse loop: every consumer of a node was appended after it.
        for id in (0..=last).rev() {
            let node = &nodes[id];
            let outs = node.first_slot..node.first_slot + node.n_out;
            if outs.clone().all(|s| grads[s].is_none()) {
                continue;
            }
            for s in outs.clone() {
                if slots[s].retain
                    && let Some(g) = &grads[s]
                {
                    out.insert_slot(s, g.clone());
                }
            }
            let needs: SmallVec<[bool; 3]> = node
                .inputs
                .iter()
                .map(|&s| slots[s].requires_grad)
                .collect();
            let input_grads: Vec<Option<Tensor<T>>> = match &node.rule {
                Rule::Constant => continue,
                Rule::Leaf(pid) => {
                    let g = grads[node.first_slot].take().expect("checked above");
                    match pid {
                        Some(p) => out.accumulate_param(*p, g)?,
                        None => out.accumulate_slot(node.first_slot, g)?,
                    }
                    continue;
                }
                Rule::Op(rule) => {
                    let g = grads[node.first_slot]
                        .take()
                        .expect("single output has the gradient");
                    rule.backward(&g, &needs)?.into_vec()
                }
                Rule::Custom(op) => {
                    let taken: Vec<Option<Tensor<T>>> =
                        outs.clone().map(|s| grads[s].take()).collect();
                    let refs: Vec<Option<&Tensor<T>>> = taken.iter().map(|g| g.as_ref()).collect();
                    op.backward(&refs, &needs)?
                }
            };
            if input_grads.len() != node.inputs.len() {
                return Err(AutogradError::Custom {
                    op: node.name.into(),
                    msg: format!(
                        "backward returned {} gradients for {} inputs",
                        input_grads.len(),
                        node.inputs.len()
                    ),
                });
            }
            for (&s, g) in node.inputs.iter().zip(input_grads) {
                let Some(g) = g else { continue };
                if !slots[s].requires_grad {
                    continue;
                }
                if g.shape() != &slots[s].shape {
                    return Err(AutogradError::GradShape {
                        op: node.name.into(),
                        expected: slots[s].shape.clone(),
                        got: g.shape().clone(),
                    });
                }
                self.check_finite("backward", node.name, id, &node.inputs, &g)?;
                accumulate(&mut grads[s], g);
            }
        }
        Ok(out)
    }
}

/// `slot += g`, in place when the slot's buffer is not shared.
pub(crate) fn accumulate<T: Float>(slot: &mut Option<Tensor<T>>, g: Tensor<T>) {
    match slot {
        None => *slot = Some(g),
        Some(acc) => {
            let gv = g.contiguous();
            let gs = gv.as_slice().expect("contiguous");
            for (a, &b) in acc.data_mut().iter_mut().zip(gs) {
                *a += b;
            }
        }
    }
}

impl<T: Float> fmt::Debug for Tape<T> {
    /// One node per line: `#12 tanh <- [#11] [32, 128]` (node id, op, input nodes, shape).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.nodes.borrow();
        let slots = self.slots.borrow();
        for (id, n) in nodes.iter().enumerate() {
            let ins: Vec<String> = n
                .inputs
                .iter()
                .map(|&s| format!("#{}", slots[s].node))
                .collect();
            let shapes: Vec<String> = (n.first_slot..n.first_slot + n.n_out)
                .map(|s| slots[s].shape.to_string())
                .collect();
            writeln!(
                f,
                "#{id} {} <- [{}] {}",
                n.name,
                ins.join(", "),
                shapes.join(" ")
            )?;
        }
        Ok(())
    }
}
