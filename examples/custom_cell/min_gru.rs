//! minGRU (Feng et al. 2024, "Were RNNs All We Needed?") as a user's cell: written outside
//! recur-nn, through the public [`Cell`] trait only.
//!
//! ```text
//! z_t = σ(x_t W_z^T + b_z)      h̃_t = x_t W_h^T + b_h      h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
//! ```
//!
//! Its gates read only the input, so it has no recurrent weight ([`Recurrence::None`]): the
//! engine projects all steps in one GEMM and the recurrence is pure element-wise math. That
//! is the paper's point (the steps could even run as a parallel scan); here it runs on the
//! same fused engine as RNN, LSTM and GRU, with the same BPTT, threads and sampler.

use recur::nn::Result;
use recur::nn::Var;
use recur::nn::recurrent::{Backward, Cell, Forward, ForwardVars, Recurrence};
use recur::tensor::Float;

/// The minGRU cell: two gate blocks `[z, h̃]`, state `h`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MinGru;

fn sigmoid<T: Float>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp())
}

impl Cell for MinGru {
    const NAME: &'static str = "MinGRU";
    const GATES: usize = 2;
    const RECURRENCE: Recurrence = Recurrence::None;
    #[inline(always)]
    fn forward<T: Float>(&self, s: Forward<'_, T>) {
        let h = s.hidden;
        let rows = s.gates.chunks_exact_mut(2 * h).zip(s.prev.chunks_exact(h));
        for ((g, prev), next) in rows.zip(s.next.chunks_exact_mut(h)) {
            let (z, cand) = g.split_at_mut(h);
            for j in 0..h {
                z[j] = sigmoid(z[j]); // kept activated for the backward
                next[j] = prev[j] + z[j] * (cand[j] - prev[j]);
            }
        }
    }
    #[inline(always)]
    fn backward<T: Float>(&self, s: Backward<'_, T>) {
        let h = s.hidden;
        let rows = s.gates.chunks_exact(2 * h).zip(s.prev.chunks_exact(h));
        let grads = s
            .d_state
            .chunks_exact_mut(h)
            .zip(s.d_gates.chunks_exact_mut(2 * h));
        for ((g, prev), (dh, dg)) in rows.zip(grads) {
            let (z, cand) = g.split_at(h);
            for j in 0..h {
                let d = dh[j];
                dg[j] = d * (cand[j] - prev[j]) * z[j] * (T::ONE - z[j]);
                dg[h + j] = d * z[j];
                dh[j] = d * (T::ONE - z[j]); // h_{t-1} reaches h_t only through (1 - z)
            }
        }
    }
    fn forward_composed<'t, T: Float>(&self, s: ForwardVars<'_, 't, T>) -> Result<Vec<Var<'t, T>>> {
        let (h, prev) = (s.hidden, &s.prev[0]);
        let z = s.gates.narrow(1usize, 0, h)?.sigmoid();
        let cand = s.gates.narrow(1usize, h, h)?;
        Ok(vec![prev.add(&z.mul(&cand.sub(prev)?)?)?])
    }
}
