//! Allocation-free one-step inference for generation (batch 1, unidirectional).

use super::Rnn;
use crate::error::{NnError, Result};
use recur_tensor::Float;
use recur_tensor::gemm::{MatMut, MatRef, gemm};

/// Runs an [`Rnn`] one time step at a time with preallocated buffers: what sampling text one
/// character at a time needs. Layer 0 can take a token id and read that column of `W_ih`
/// (what multiplying by a one-hot vector, or an embedding lookup, does) instead of a dense
/// input.
///
/// ```
/// use recur_nn::{Rnn, RnnConfig};
/// use recur_tensor::Tensor;
/// let rnn = Rnn::<f64>::new(RnnConfig::new(5, 4).num_layers(2), &mut recur_nn::seeded_rng(0))?;
/// let mut s = rnn.stepper()?;
/// let h = s.step_token(3)?.to_vec();
/// // The same as a dense one-hot step.
/// let mut state = rnn.zero_state(1);
/// let onehot = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 0.0], &[1, 5])?;
/// let dense = rnn.step(&onehot, &mut state)?;
/// assert!(h.iter().zip(dense.to_vec()).all(|(a, b)| (a - b).abs() < 1e-14));
/// # Ok::<(), recur_nn::NnError>(())
/// ```
pub struct Stepper<'a, T: Float> {
    rnn: &'a Rnn<T>,
    /// Every layer's state, `layers * H`.
    h: Vec<T>,
    z: Vec<T>,
    /// `b_ih + b_hh` per layer (zeros without biases).
    bias: Vec<Vec<T>>,
}

impl<T: Float> Rnn<T> {
    /// A [`Stepper`] starting from a zero state.
    ///
    /// # Errors
    /// When the RNN is bidirectional (a reverse direction needs the whole sequence).
    pub fn stepper(&self) -> Result<Stepper<'_, T>> {
        let c = &self.config;
        if c.bidirectional {
            return Err(NnError::Input(
                "RNN.stepper: a bidirectional RNN cannot run one step at a time".into(),
            ));
        }
        let h = c.hidden_size;
        let bias = self
            .cells
            .iter()
            .map(|cell| match (&cell.b_ih, &cell.b_hh) {
                (Some(a), Some(b)) => a
                    .value()
                    .to_vec()
                    .iter()
                    .zip(b.value().to_vec())
                    .map(|(&x, y)| x + y)
                    .collect(),
                _ => vec![T::ZERO; h],
            })
            .collect();
        Ok(Stepper {
            rnn: self,
            h: vec![T::ZERO; c.num_layers * h],
            z: vec![T::ZERO; h],
            bias,
        })
    }
}

impl<T: Float> Stepper<'_, T> {
    /// Back to the zero state.
    pub fn reset(&mut self) {
        self.h.fill(T::ZERO);
    }

    /// Every layer's state, `(layers, H)` row-major.
    pub fn state(&self) -> &[T] {
        &self.h
    }

    /// One step whose layer-0 input is the one-hot vector of `token`; returns the last layer's
    /// new state.
    ///
    /// # Errors
    /// When `token >= input_size`.
    pub fn step_token(&mut self, token: usize) -> Result<&[T]> {
        let (hid, input) = (self.rnn.config.hidden_size, self.rnn.config.input_size);
        if token >= input {
            return Err(NnError::Input(format!(
                "RNN.step_token: token {token} is out of range for input_size {input}"
            )));
        }
        let w_ih = self.rnn.cells[0].w_ih.value();
        let w = w_ih.contiguous();
        let wd = w.as_slice().expect("contiguous");
        for (j, z) in self.z.iter_mut().enumerate() {
            *z = self.bias[0][j] + wd[j * input + token];
        }
        self.finish_layer(0, hid);
        self.rest()
    }

    /// One step with a dense layer-0 input `x` (`input_size` values).
    ///
    /// # Errors
    /// When `x` has the wrong length.
    pub fn step(&mut self, x: &[T]) -> Result<&[T]> {
        let (hid, input) = (self.rnn.config.hidden_size, self.rnn.config.input_size);
        if x.len() != input {
            return Err(NnError::Input(format!(
                "RNN.step: expected {input} input values, got {}",
                x.len()
            )));
        }
        self.z.copy_from_slice(&self.bias[0]);
        let w = self.rnn.cells[0].w_ih.value();
        gemv_into(x, w, &mut self.z);
        self.finish_layer(0, hid);
        self.rest()
    }

    /// Layers 1.. from layer 0's fresh state.
    fn rest(&mut self) -> Result<&[T]> {
        let hid = self.rnn.config.hidden_size;
        for layer in 1..self.rnn.config.num_layers {
            self.z.copy_from_slice(&self.bias[layer]);
            let (below, _) = self.h.split_at(layer * hid);
            let x = &below[(layer - 1) * hid..];
            gemv_into(x, self.rnn.cells[layer].w_ih.value(), &mut self.z);
            self.finish_layer(layer, hid);
        }
        let l = self.rnn.config.num_layers - 1;
        Ok(&self.h[l * hid..(l + 1) * hid])
    }

    /// `z += h_prev W_hh^T`, the activation, and the new state into `h[layer]`.
    fn finish_layer(&mut self, layer: usize, hid: usize) {
        let h_prev = &self.h[layer * hid..(layer + 1) * hid];
        gemv_into(h_prev, self.rnn.cells[layer].w_hh.value(), &mut self.z);
        self.rnn.config.nonlinearity.apply(&mut self.z);
        self.h[layer * hid..(layer + 1) * hid].copy_from_slice(&self.z);
    }
}

/// `z += x W^T` for `W` of shape `(out, in)`: one vector-matrix product, reading `W` in place.
pub(crate) fn gemv_into<T: Float>(x: &[T], w: &recur_tensor::Tensor<T>, z: &mut [T]) {
    let l = w.layout();
    let (out, inp) = (l.dims()[0], l.dims()[1]);
    let a = MatRef {
        data: x,
        offset: 0,
        rows: 1,
        cols: inp,
        rs: inp,
        cs: 1,
    };
    let b = MatRef {
        data: w.storage(),
        offset: l.offset,
        rows: inp,
        cols: out,
        rs: l.strides[1],
        cs: l.strides[0],
    };
    gemm(
        T::ONE,
        a,
        b,
        T::ONE,
        MatMut {
            data: z,
            offset: 0,
            rows: 1,
            cols: out,
            rs: out,
            cs: 1,
        },
    );
}
