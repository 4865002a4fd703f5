//! The LSTM's cell math: the gates `i, f, g, o`, the cell state, and their backward.

use crate::error::Result;
use crate::recurrent::{Backward, Cell, Forward, ForwardVars, Recurrence, sigmoid_in_place};
use recur_autograd::Var;
use recur_tensor::Float;

/// The LSTM cell as a [`Cell`]: four gate blocks `i, f, g, o` (PyTorch's order), the
/// recurrent product joined with the input side, the state `[h | c]`, and `tanh(c_t)` kept
/// for the backward.
///
/// ```text
/// c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)      h' = σ(o) ⊙ tanh(c')
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LstmMath;

impl Cell for LstmMath {
    // What sets the LSTM apart: a cell state beside h, and h may be projected (proj_size).
    const STATE_PARTS: usize = 2;
    const PROJECTABLE: bool = true;
    const SAVED: usize = 1;
    const NAME: &'static str = "LSTM";
    const GATES: usize = 4;
    const RECURRENCE: Recurrence = Recurrence::Joined;
    #[inline(always)]
    fn forward<T: Float>(&self, f: Forward<'_, T>) {
        let h = f.hidden;
        let rows = f
            .gates
            .chunks_exact_mut(4 * h)
            .zip(f.prev.chunks_exact(2 * h))
            .zip(f.next.chunks_exact_mut(2 * h))
            .zip(f.saved.chunks_exact_mut(h));
        for (((row, prev), next), tc) in rows {
            // The gates, activated in place: σ on i, f (one pass) and o, tanh on g.
            sigmoid_in_place(&mut row[..2 * h]);
            T::tanh_slice(&mut row[2 * h..3 * h]);
            sigmoid_in_place(&mut row[3 * h..]);
            let (ri, rest) = row.split_at(h);
            let (rf, rest) = rest.split_at(h);
            let (rg, ro) = rest.split_at(h);
            let (hn, cn) = next.split_at_mut(h);
            for j in 0..h {
                cn[j] = rf[j] * prev[h + j] + ri[j] * rg[j];
            }
            tc.copy_from_slice(cn);
            T::tanh_slice(tc);
            for j in 0..h {
                hn[j] = ro[j] * tc[j];
            }
        }
    }
    #[inline(always)]
    fn backward<T: Float>(&self, b: Backward<'_, T>) {
        let h = b.hidden;
        let rows = b
            .gates
            .chunks_exact(4 * h)
            .zip(b.saved.chunks_exact(h))
            .zip(b.prev.chunks_exact(2 * h))
            .zip(b.d_state.chunks_exact_mut(2 * h))
            .zip(b.d_gates.chunks_exact_mut(4 * h));
        for ((((gate, tc), prev), ds), drow) in rows {
            let (dh, dc) = ds.split_at_mut(h);
            for j in 0..h {
                let (ig, f, gg, og) = (gate[j], gate[h + j], gate[2 * h + j], gate[3 * h + j]);
                let t = tc[j];
                let dcj = dc[j] + dh[j] * og * (T::ONE - t * t);
                drow[j] = dcj * gg * ig * (T::ONE - ig);
                drow[h + j] = dcj * prev[h + j] * f * (T::ONE - f);
                drow[2 * h + j] = dcj * ig * (T::ONE - gg * gg);
                drow[3 * h + j] = dh[j] * t * og * (T::ONE - og);
                // c_{t-1} reaches c_t only through f; h_{t-1} only through W_hh.
                dc[j] = dcj * f;
                dh[j] = T::ZERO;
            }
        }
    }
    fn forward_composed<'t, T: Float>(&self, s: ForwardVars<'_, 't, T>) -> Result<Vec<Var<'t, T>>> {
        let (h, prev) = (s.hidden, s.prev);
        let gate = |k: usize| s.gates.narrow(1usize, k * h, h);
        let i = gate(0)?.sigmoid();
        let f = gate(1)?.sigmoid();
        let g = gate(2)?.tanh();
        let o = gate(3)?.sigmoid();
        let c1 = f.mul(&prev[1])?.add(&i.mul(&g)?)?;
        let h1 = o.mul(&c1.tanh())?;
        Ok(vec![h1, c1])
    }
}
