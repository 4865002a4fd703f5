//! One step at a time, for generation: every layer of a unidirectional stack advanced by one
//! time step with preallocated buffers.

use super::cell::{Cell, Forward, Recurrence};
use super::module::Recurrent;
use crate::error::{NnError, Result};
use recur_tensor::gemm::{MatMut, MatRef, gemm};
use recur_tensor::vmath::vectorized;
use recur_tensor::{Float, Tensor};

/// Runs a [`Recurrent`] stack one time step at a time for a batch of rows, with buffers
/// allocated once: what sampling text one character at a time needs. Layer 0 can take a
/// token id and read that column of `W_ih` (what multiplying by a one-hot vector, or an
/// embedding lookup, does) instead of a dense input.
///
/// ```
/// use recur_nn::{Lstm, LstmConfig};
/// use recur_tensor::Tensor;
/// let lstm = Lstm::<f64>::new(LstmConfig::new(5, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
/// let mut s = lstm.stepper()?;
/// let h = s.step_token(3)?.to_vec();
/// // The same as a whole-sequence forward over the one-hot vector.
/// let onehot = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 0.0], &[1, 5])?;
/// let (out, _) = lstm.forward_tensor(&onehot, None)?;
/// assert!(h.iter().zip(out.to_vec()).all(|(a, b)| (a - b).abs() < 1e-14));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub struct Stepper<'a, C: Cell, T: Float> {
    m: &'a Recurrent<C, T>,
    batch: usize,
    /// Every layer's state: `layers` blocks of `batch × P*H`.
    state: Vec<T>,
    /// With a projection: every layer's projected `h`, `layers` blocks of `batch × R`.
    hp: Vec<T>,
    gates: Vec<T>,
    hidden_gates: Vec<T>,
    kept: Vec<T>,
    next: Vec<T>,
    /// The last layer's new `h`, `batch × H`.
    out: Vec<T>,
    /// Per layer: `b_ih + b_hh` (joined) or `b_ih`; zeros without biases.
    bias: Vec<Vec<T>>,
    /// Per layer, for a separate recurrence: `b_hh` (zeros without biases).
    b_hh: Vec<Vec<T>>,
}

impl<C: Cell, T: Float> Recurrent<C, T> {
    /// A [`Stepper`] for one sequence, starting from a zero state.
    ///
    /// # Errors
    /// When the stack is bidirectional (a reverse direction needs the whole sequence).
    pub fn stepper(&self) -> Result<Stepper<'_, C, T>> {
        Stepper::new(self, 1).map_err(|e| e.in_module(self))
    }

    /// One time step of every layer for a batch: `x` is `(batch, input_size)`, `state` holds
    /// the state parts, each `(layers, batch, H)`, updated in place; returns the last layer's
    /// new `h` `(batch, H)`. Unidirectional stacks only.
    ///
    /// # Errors
    /// When the stack is bidirectional or the shapes do not fit.
    pub fn step(&self, x: &Tensor<T>, state: &mut [Tensor<T>]) -> Result<Tensor<T>> {
        self.step_unprefixed(x, state)
            .map_err(|e| e.in_module(self))
    }

    fn step_unprefixed(&self, x: &Tensor<T>, state: &mut [Tensor<T>]) -> Result<Tensor<T>> {
        let c = self.config();
        if x.rank() != 2 || x.dims()[1] != c.input_size {
            return Err(NnError::Input(format!(
                "step: expected input (batch, {}), got {}",
                c.input_size,
                x.shape()
            )));
        }
        let batch = x.dims()[0];
        let mut s = Stepper::new(self, batch)?;
        let (parts, h) = (C::STATE_PARTS, c.hidden_size);
        if state.len() != parts {
            return Err(NnError::Input(format!(
                "step: expected {parts} state parts, got {}",
                state.len()
            )));
        }
        let widths = self.widths();
        for (k, st) in state.iter().enumerate() {
            let expected = [c.num_layers, batch, widths[k]];
            if st.dims() != expected {
                let which = if parts == 1 {
                    String::new()
                } else {
                    format!("[{k}]")
                };
                return Err(NnError::Input(format!(
                    "step: Expected hidden{which} size ({}, {}, {}), got {}",
                    expected[0],
                    expected[1],
                    expected[2],
                    st.shape()
                )));
            }
        }
        // The native parts side by side per row; a projected h apart.
        let sw = parts * h;
        let proj = !s.hp.is_empty();
        for (k, st) in state.iter().enumerate() {
            let v = st.to_vec();
            if k == 0 && proj {
                s.hp.copy_from_slice(&v);
                continue;
            }
            for (dst, src) in s.state.chunks_exact_mut(sw).zip(v.chunks_exact(h)) {
                dst[k * h..(k + 1) * h].copy_from_slice(src);
            }
        }
        let out = s.step_values(&x.to_vec())?.to_vec();
        for (k, st) in state.iter_mut().enumerate() {
            let v: Vec<T> = if k == 0 && proj {
                s.hp.clone()
            } else {
                s.state
                    .chunks_exact(sw)
                    .flat_map(|r| r[k * h..(k + 1) * h].iter().copied())
                    .collect()
            };
            *st = Tensor::from_vec(v, &[c.num_layers, batch, widths[k]])?;
        }
        Ok(Tensor::from_vec(out, &[batch, c.h_size()])?)
    }
}

impl<'a, C: Cell, T: Float> Stepper<'a, C, T> {
    fn new(m: &'a Recurrent<C, T>, batch: usize) -> Result<Self> {
        let c = m.config();
        if c.bidirectional {
            return Err(NnError::Input(format!(
                "stepper: a bidirectional {} cannot run one step at a time",
                C::NAME
            )));
        }
        let h = c.hidden_size;
        let (gw, sw) = (C::GATES * h, C::STATE_PARTS * h);
        let separate = C::RECURRENCE == Recurrence::Separate;
        let values = |p: &Option<recur_autograd::Param<T>>| {
            p.as_ref()
                .map_or_else(|| vec![T::ZERO; gw], |p| p.value().to_vec())
        };
        let mut bias = Vec::with_capacity(c.num_layers);
        let mut b_hh = Vec::with_capacity(c.num_layers);
        for l in &m.layers {
            let (mut a, b) = (values(&l.b_ih), values(&l.b_hh));
            if separate {
                b_hh.push(b);
            } else {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
            }
            bias.push(a);
        }
        Ok(Stepper {
            m,
            batch,
            state: vec![T::ZERO; c.num_layers * batch * sw],
            hp: vec![
                T::ZERO;
                if c.proj_size > 0 {
                    c.num_layers * batch * c.proj_size
                } else {
                    0
                }
            ],
            gates: vec![T::ZERO; batch * gw],
            hidden_gates: vec![T::ZERO; if separate { batch * gw } else { 0 }],
            kept: vec![T::ZERO; batch * C::SAVED * h],
            next: vec![T::ZERO; batch * sw],
            out: Vec::with_capacity(batch * c.h_size()),
            bias,
            b_hh,
        })
    }

    /// Back to the zero state.
    pub fn reset(&mut self) {
        self.state.fill(T::ZERO);
        self.hp.fill(T::ZERO);
    }

    /// Layer `layer`'s `h` as a matrix of `batch` rows: the projected one, or the state's
    /// `h` part in place.
    fn h_of(&self, layer: usize) -> MatRef<'_, T> {
        let c = self.m.config();
        let (rw, sw) = (c.h_size(), C::STATE_PARTS * c.hidden_size);
        let (data, rs) = if self.hp.is_empty() {
            (&self.state[..], sw)
        } else {
            (&self.hp[..], rw)
        };
        MatRef {
            data,
            offset: layer * self.batch * rs,
            rows: self.batch,
            cols: rw,
            rs,
            cs: 1,
        }
    }

    /// Every layer's state: `layers` blocks of `batch × P*H` (the parts side by side).
    pub fn state(&self) -> &[T] {
        &self.state
    }

    /// One step whose layer-0 input is the one-hot vector of `token` (batch 1); returns the
    /// last layer's new `h`.
    ///
    /// # Errors
    /// When `token >= input_size`.
    pub fn step_token(&mut self, token: usize) -> Result<&[T]> {
        let input = self.m.config().input_size;
        if token >= input {
            return Err(NnError::Input(format!(
                "step_token: token {token} is out of range for input_size {input}"
            ))
            .in_module(self.m));
        }
        let w = self.m.layers[0].w_ih.value().as_mat()?;
        for (j, z) in self.gates.iter_mut().enumerate() {
            *z = self.bias[0][j] + w.data[w.offset + j * w.rs + token * w.cs];
        }
        self.finish_layer(0);
        self.rest()
    }

    /// One step with a dense layer-0 input `x` (`batch × input_size` values, row-major).
    ///
    /// # Errors
    /// When `x` has the wrong length.
    pub fn step(&mut self, x: &[T]) -> Result<&[T]> {
        let input = self.m.config().input_size;
        if x.len() != self.batch * input {
            return Err(NnError::Input(format!(
                "step: expected {} input values, got {}",
                self.batch * input,
                x.len()
            ))
            .in_module(self.m));
        }
        self.step_values(x)
    }

    /// [`Stepper::step`] after the length check.
    fn step_values(&mut self, x: &[T]) -> Result<&[T]> {
        self.project(0, Some(x))?;
        self.finish_layer(0);
        self.rest()
    }

    /// `gates = bias + x W_ih^T` for layer `layer` (`x`: `batch` rows).
    fn project(&mut self, layer: usize, x: Option<&[T]>) -> Result<()> {
        let gw = self.bias[layer].len();
        let w = self.m.layers[layer].w_ih.value().as_mat()?;
        let mut gates = std::mem::take(&mut self.gates);
        for row in gates.chunks_exact_mut(gw.max(1)) {
            row.copy_from_slice(&self.bias[layer]);
        }
        // Layer 0 reads `x`; a layer above reads the `h` of the layer below in place.
        let xm = match x {
            Some(x) => MatRef::row_major(x, self.batch, self.m.config().input_size),
            None => self.h_of(layer - 1),
        };
        gemm(
            T::ONE,
            xm,
            w.t(),
            T::ONE,
            MatMut::row_major(&mut gates, self.batch, gw),
        );
        self.gates = gates;
        Ok(())
    }

    /// Layers 1.. from layer 0's fresh state.
    fn rest(&mut self) -> Result<&[T]> {
        let layers = self.m.config().num_layers;
        for layer in 1..layers {
            self.project(layer, None)?;
            self.finish_layer(layer);
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let last = self.h_of(layers - 1);
        for r in 0..last.rows {
            let start = last.offset + r * last.rs;
            out.extend_from_slice(&last.data[start..start + last.cols]);
        }
        self.out = out;
        Ok(&self.out)
    }

    /// The recurrent product, the cell's step, and the new state into layer `layer`.
    fn finish_layer(&mut self, layer: usize) {
        let (h, cell) = (self.m.config().hidden_size, self.m.cell());
        let (gw, sw) = (C::GATES * h, C::STATE_PARTS * h);
        let block = self.batch * sw;
        if let Some(w) = &self.m.layers[layer].w_hh {
            let separate = C::RECURRENCE == Recurrence::Separate;
            let mut out = if separate {
                let mut q = std::mem::take(&mut self.hidden_gates);
                for row in q.chunks_exact_mut(gw.max(1)) {
                    row.copy_from_slice(&self.b_hh[layer]);
                }
                q
            } else {
                std::mem::take(&mut self.gates)
            };
            let w = w.value().as_mat().expect("a 2-D weight");
            let hm = self.h_of(layer);
            gemm(
                T::ONE,
                hm,
                w.t(),
                T::ONE,
                MatMut::row_major(&mut out, self.batch, gw),
            );
            if separate {
                self.hidden_gates = out;
            } else {
                self.gates = out;
            }
        }
        let prev = &mut self.state[layer * block..(layer + 1) * block];
        vectorized(
            #[inline(always)]
            || {
                cell.forward(Forward {
                    hidden: h,
                    rows: self.batch,
                    gates: &mut self.gates,
                    hidden_gates: &self.hidden_gates,
                    prev,
                    next: &mut self.next,
                    saved: &mut self.kept,
                })
            },
        );
        prev.copy_from_slice(&self.next);
        if let Some(w) = &self.m.layers[layer].w_hr {
            // h = m W_hr^T, from the `h` the cell wrote.
            let w = w.value().as_mat().expect("a 2-D weight");
            let rw = w.rows;
            let m = MatRef {
                data: &self.next,
                offset: 0,
                rows: self.batch,
                cols: h,
                rs: sw,
                cs: 1,
            };
            let hp = &mut self.hp[layer * self.batch * rw..(layer + 1) * self.batch * rw];
            gemm(
                T::ONE,
                m,
                w.t(),
                T::ZERO,
                MatMut::row_major(hp, self.batch, rw),
            );
        }
    }
}
