//! The GRU's cell math: the gates `r, z, n` and their backward.

use crate::error::Result;
use crate::recurrent::{Backward, Cell, Forward, ForwardVars, Recurrence, sigmoid_in_place};
use recur_autograd::Var;
use recur_tensor::Float;

/// The GRU cell as a [`Cell`]: three gate blocks `r, z, n` (PyTorch's order) whose hidden
/// side stays apart (`r` multiplies `h W_hn^T + b_hn`), the state `h`, and `h W_hn^T + b_hn`
/// kept for the backward.
///
/// ```text
/// r = σ(P_r + Q_r)    z = σ(P_z + Q_z)    n = tanh(P_n + r ⊙ Q_n)    h' = (1 - z) ⊙ n + z ⊙ h
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GruMath;

impl Cell for GruMath {
    const NAME: &'static str = "GRU";
    const GATES: usize = 3;
    const RECURRENCE: Recurrence = Recurrence::Separate;
    const SAVED: usize = 1;
    #[inline(always)]
    fn forward<T: Float>(&self, f: Forward<'_, T>) {
        let (h, g3) = (f.hidden, 3 * f.hidden);
        let states = f.prev.chunks_exact(h).zip(f.next.chunks_exact_mut(h));
        for (i, ((prev, next), qn)) in states.zip(f.saved.chunks_exact_mut(h)).enumerate() {
            let (row, q) = (
                &mut f.gates[i * g3..(i + 1) * g3],
                &f.hidden_gates[i * g3..(i + 1) * g3],
            );
            // r and z: σ(P + Q) in one pass over both blocks.
            for (p, &qv) in row[..2 * h].iter_mut().zip(&q[..2 * h]) {
                *p += qv;
            }
            sigmoid_in_place(&mut row[..2 * h]);
            // n = tanh(P_n + r Q_n).
            qn.copy_from_slice(&q[2 * h..]);
            let (rz, rn) = row.split_at_mut(2 * h);
            for j in 0..h {
                rn[j] += rz[j] * qn[j];
            }
            T::tanh_slice(rn);
            for j in 0..h {
                next[j] = rn[j] + rz[h + j] * (prev[j] - rn[j]);
            }
        }
    }
    #[inline(always)]
    fn backward<T: Float>(&self, b: Backward<'_, T>) {
        let (h, g3) = (b.hidden, 3 * b.hidden);
        for (i, dh) in b.d_state.chunks_exact_mut(h).enumerate() {
            let (gate, qn, prev) = (&b.gates[i * g3..], &b.saved[i * h..], &b.prev[i * h..]);
            let prow = &mut b.d_gates[i * g3..(i + 1) * g3];
            let qrow = &mut b.d_hidden_gates[i * g3..(i + 1) * g3];
            for j in 0..h {
                let (rj, zj, nj) = (gate[j], gate[h + j], gate[2 * h + j]);
                let d = dh[j];
                let dn = d * (T::ONE - zj) * (T::ONE - nj * nj);
                let dz = d * (prev[j] - nj) * zj * (T::ONE - zj);
                let dr = dn * qn[j] * rj * (T::ONE - rj);
                (prow[j], prow[h + j], prow[2 * h + j]) = (dr, dz, dn);
                (qrow[j], qrow[h + j], qrow[2 * h + j]) = (dr, dz, dn * rj);
                // h_{t-1} reaches h_t directly through z (and through W_hh, added by the engine).
                dh[j] = d * zj;
            }
        }
    }
    fn forward_composed<'t, T: Float>(&self, s: ForwardVars<'_, 't, T>) -> Result<Vec<Var<'t, T>>> {
        let (h, prev) = (s.hidden, s.prev);
        let p = |k: usize| s.gates.narrow(1usize, k * h, h);
        let q = s.hidden_gates.ok_or_else(|| {
            crate::error::NnError::Input("GRU: the hidden-side gates are missing".into())
        })?;
        let qg = |k: usize| q.narrow(1usize, k * h, h);
        let r = p(0)?.add(&qg(0)?)?.sigmoid();
        let z = p(1)?.add(&qg(1)?)?.sigmoid();
        let n = p(2)?.add(&r.mul(&qg(2)?)?)?.tanh();
        // h' = n + z (h - n) = (1 - z) n + z h.
        let h1 = n.add(&z.mul(&prev[0].sub(&n)?)?)?;
        Ok(vec![h1])
    }
}
