//! The fused GRU layer: one tape node per layer and direction.
//!
//! Forward, for `T` steps of a batch of `B` with input size `I` and hidden size `H`:
//! 1. the input projection for all steps at once: `P = X W_ih^T + b_ih`, one GEMM
//!    `[T*B, I] x [I, 3H]`;
//! 2. the recurrence: per step one small GEMM `Q_t = h_{t-1} W_hh^T + b_hh` (`[B, 3H]`), then
//!    the gates in PyTorch's order `r, z, n`:
//!    `r = σ(P_r + Q_r)`, `z = σ(P_z + Q_z)`, `n = tanh(P_n + r ⊙ Q_n)`,
//!    `h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}`. The activated gates, `Q_n` and `h_t` are kept.
//!
//! Backward (BPTT) walks the steps backwards: the gradients of the input-side
//! pre-activations `dP_t = [dr', dz', dn']` and of the hidden-side ones
//! `dQ_t = [dr', dz', dn' ⊙ r]` (the only place they differ: `r` gates `W_hn h + b_hn`), and
//! `dh_{t-1} = dh ⊙ z + dQ_t W_hh`; afterwards `dW_ih = dP^T X`, `dX = dP W_ih`,
//! `dW_hh = dQ^T H_prev` and the bias gradients are single GEMMs or column sums over all steps.
//!
//! With threads, the batch rows are split between them for the recurrence, forward and
//! backward (see `rnn::split`).
//!
//! Variable-length batches work as in the RNN: item `b` is active at step `t` iff
//! `t < len_b`; an inactive item keeps its state and outputs zero.

use crate::lstm::common::{
    col_sums, dense, dense_mut, input_side_grads, sigmoid_in_place, tanh_in_place, view,
};
use crate::lstm::prev_state_gemm;
use crate::rnn::split::{plan, run_groups, step_rows, step_rows_mut, step_rows_opt};
use crate::rnn::step_weight::StepWeight;
use core::ops::Range;
use recur_autograd::{AutogradError, CustomOp, Result};
use recur_tensor::gemm::gemm;
use recur_tensor::{Float, Tensor, pool};

struct Saved<T: Float> {
    steps: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    x: Tensor<T>,
    h0: Vec<T>,
    w_ih: Tensor<T>,
    w_hh: Tensor<T>,
    /// Activated gates `[T, B, 3H]` (`r, z, n` blocks per row).
    gates: Vec<T>,
    /// `Q_n = h_{t-1} W_hn^T + b_hn`, `[T, B, H]`.
    qn: Vec<T>,
    /// Hidden states `[T, B, H]`, in time order.
    hs: Vec<T>,
}

/// One GRU layer in one direction, as a [`CustomOp`].
pub(crate) struct GruLayer<T: Float> {
    reverse: bool,
    has_bias: bool,
    lengths: Option<Vec<usize>>,
    saved: Option<Saved<T>>,
}

impl<T: Float> GruLayer<T> {
    /// The forward recurrence for batch rows `g`: `gates[t]` holds their `P_t` and becomes
    /// their activated gates `r, z, n`; their `Q_n` (`h_{t-1} W_hn^T + b_hn`) and `h_t` go to
    /// `[qn, hs][t]`. `h`: their `h0`; returns their `h_n`.
    #[allow(clippy::too_many_arguments)]
    fn recur_rows(
        &self,
        whh_t: &StepWeight<'_, T>,
        mut h: Vec<T>,
        b_hh: Option<&[T]>,
        gates: &mut [&mut [T]],
        [qn, hs]: [&mut [&mut [T]]; 2],
        g: Range<usize>,
        hidden: usize,
    ) -> Vec<T> {
        let steps = gates.len();
        let g3 = 3 * hidden;
        let mut q = vec![T::ZERO; g.len() * g3];
        for s in 0..steps {
            let (t, _) = self.order(steps, s);
            if let Some(b) = b_hh {
                for row in q.chunks_exact_mut(g3.max(1)) {
                    row.copy_from_slice(b);
                }
            }
            let beta = if b_hh.is_some() { T::ONE } else { T::ZERO };
            whh_t.apply(&h, g.len(), beta, &mut q);
            for (i, b) in g.clone().enumerate() {
                let o = i * hidden;
                let hb = &mut h[o..o + hidden];
                let qnt = &mut qn[t][o..o + hidden];
                if self.active(t, b) {
                    let row = &mut gates[t][i * g3..(i + 1) * g3];
                    let qr = &q[i * g3..(i + 1) * g3];
                    // r and z: σ(P + Q) in one pass over both blocks.
                    for (p, &qv) in row[..2 * hidden].iter_mut().zip(&qr[..2 * hidden]) {
                        *p += qv;
                    }
                    sigmoid_in_place(&mut row[..2 * hidden]);
                    // n = tanh(P_n + r Q_n).
                    qnt.copy_from_slice(&qr[2 * hidden..]);
                    let (rz, rn) = row.split_at_mut(2 * hidden);
                    for j in 0..hidden {
                        rn[j] += rz[j] * qnt[j];
                    }
                    tanh_in_place(rn);
                    for j in 0..hidden {
                        hb[j] = rn[j] + rz[hidden + j] * (hb[j] - rn[j]);
                    }
                } else {
                    // Never read for an inactive row; written so that nothing is stale.
                    qnt.fill(T::ZERO);
                }
                hs[t][o..o + hidden].copy_from_slice(hb);
            }
        }
        h
    }

    /// BPTT for batch rows `g` from their `dh` w.r.t. the last state: fills their rows of
    /// `[dP, dQ]` (active rows only) and returns their gradient w.r.t. `h0`. `saved`: their
    /// rows of the activated gates, `Q_n` and `h_t` per step.
    #[allow(clippy::too_many_arguments)]
    fn bptt_rows(
        &self,
        w_hh: &StepWeight<'_, T>,
        mut dh: Vec<T>,
        [gates, qn, hs]: [Vec<&[T]>; 3],
        h0: &[T],
        g_out: Option<&[&[T]]>,
        [dp, dq]: [&mut [&mut [T]]; 2],
        g: Range<usize>,
        hidden: usize,
    ) -> Vec<T> {
        let steps = dp.len();
        let g3 = 3 * hidden;
        let mut dh_next = vec![T::ZERO; dh.len()];
        for s in (0..steps).rev() {
            let (t, prev) = self.order(steps, s);
            let h_prev = match prev {
                Some(p) => hs[p],
                None => h0,
            };
            let (dpt, dqt) = (&mut *dp[t], &mut *dq[t]);
            for (i, b) in g.clone().enumerate() {
                let r = i * hidden..(i + 1) * hidden;
                if !self.active(t, b) {
                    // The state passed through unchanged: dh carries, dP and dQ stay 0.
                    dh_next[r.clone()].copy_from_slice(&dh[r]);
                    continue;
                }
                let o = i * hidden;
                let dhb = &mut dh[r.clone()];
                if let Some(go) = g_out {
                    for (d, &gv) in dhb.iter_mut().zip(&go[t][r]) {
                        *d += gv;
                    }
                }
                let gate = &gates[t][i * g3..(i + 1) * g3];
                let (prow, qrow) = (
                    &mut dpt[i * g3..(i + 1) * g3],
                    &mut dqt[i * g3..(i + 1) * g3],
                );
                for j in 0..hidden {
                    let (rj, zj, nj) = (gate[j], gate[hidden + j], gate[2 * hidden + j]);
                    let d = dhb[j];
                    let dn = d * (T::ONE - zj) * (T::ONE - nj * nj);
                    let dz = d * (h_prev[o + j] - nj) * zj * (T::ONE - zj);
                    let dr = dn * qn[t][o + j] * rj * (T::ONE - rj);
                    (prow[j], prow[hidden + j], prow[2 * hidden + j]) = (dr, dz, dn);
                    (qrow[j], qrow[hidden + j], qrow[2 * hidden + j]) = (dr, dz, dn * rj);
                    dh_next[o + j] = d * zj;
                }
            }
            // dh_{t-1} = dh ⊙ z + dQ_t W_hh (inactive rows of dQ_t are zero).
            w_hh.apply(dqt, g.len(), T::ONE, &mut dh_next);
            core::mem::swap(&mut dh, &mut dh_next);
        }
        dh
    }
}

fn custom_err(msg: String) -> AutogradError {
    AutogradError::Custom {
        op: "gru_layer".into(),
        msg,
    }
}

impl<T: Float> GruLayer<T> {
    pub(crate) fn new(reverse: bool, has_bias: bool, lengths: Option<Vec<usize>>) -> Self {
        GruLayer {
            reverse,
            has_bias,
            lengths,
            saved: None,
        }
    }

    fn active(&self, t: usize, b: usize) -> bool {
        self.lengths.as_ref().is_none_or(|l| t < l[b])
    }

    /// Time `t` of processing step `s`, and the time of the previous state (`None`: h0).
    fn order(&self, steps: usize, s: usize) -> (usize, Option<usize>) {
        if self.reverse {
            let t = steps - 1 - s;
            (t, (s > 0).then_some(t + 1))
        } else {
            (s, s.checked_sub(1))
        }
    }
}

impl<T: Float> CustomOp<T> for GruLayer<T> {
    fn name(&self) -> &'static str {
        "gru_layer"
    }

    /// Inputs: `x [T, B, I]`, `h0 [B, H]`, `w_ih [3H, I]`, `w_hh [3H, H]`, then `b_ih [3H]`,
    /// `b_hh [3H]` if the layer has biases. Outputs: `output [T, B, H]`, `h_n [B, H]`.
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        let x = inputs[0].contiguous();
        let (w_ih, w_hh) = (inputs[2], inputs[3]);
        let (steps, batch, input) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let hidden = w_hh.dims()[1];
        let g3 = 3 * hidden;
        if let Some(l) = &self.lengths
            && l.len() != batch
        {
            return Err(custom_err(format!(
                "{} lengths for a batch of {batch}",
                l.len()
            )));
        }
        let rows = steps * batch;
        let (b_ih, b_hh) = if self.has_bias {
            (Some(inputs[4].to_vec()), Some(inputs[5].to_vec()))
        } else {
            (None, None)
        };
        // 1. P = X W_ih^T + b_ih, all steps in one GEMM.
        let mut gates = vec![T::ZERO; rows * g3];
        if let Some(b) = &b_ih {
            for row in gates.chunks_exact_mut(g3.max(1)) {
                row.copy_from_slice(b);
            }
        }
        gemm(
            T::ONE,
            dense(x.storage(), x.layout().offset, rows, input),
            view(w_ih).t(),
            if b_ih.is_some() { T::ONE } else { T::ZERO },
            dense_mut(&mut gates, rows, g3),
        );
        // 2. The recurrence, split over threads by batch rows when that pays (see
        //    `rnn::split`).
        let h0 = inputs[1].to_vec();
        let mut qn = pool::scratch(rows * hidden);
        let mut hs = pool::scratch(rows * hidden);
        // W_hh^T prepared once for the T per-step products of a group (see `StepWeight`).
        let (groups, whh_t) = plan(view(w_hh).t(), steps, batch);
        let work: Vec<_> = step_rows_mut(&mut gates, steps, g3, &groups)
            .into_iter()
            .zip(step_rows_mut(&mut qn, steps, hidden, &groups))
            .zip(step_rows_mut(&mut hs, steps, hidden, &groups))
            .zip(&groups)
            .map(|(((gt, qn), hs), g)| (gt, [qn, hs], g.clone()))
            .collect();
        let h = run_groups(work, |(mut gates, [mut qn, mut hs], g)| {
            let h = h0[g.start * hidden..g.end * hidden].to_vec();
            let b_hh = b_hh.as_deref();
            self.recur_rows(&whh_t, h, b_hh, &mut gates, [&mut qn, &mut hs], g, hidden)
        })
        .concat();
        let mut out = hs.clone();
        if self.lengths.is_some() {
            for t in 0..steps {
                for b in 0..batch {
                    if !self.active(t, b) {
                        let o = (t * batch + b) * hidden;
                        out[o..o + hidden].fill(T::ZERO);
                    }
                }
            }
        }
        let result = vec![
            Tensor::from_vec(out, &[steps, batch, hidden])?,
            Tensor::from_vec(h, &[batch, hidden])?,
        ];
        self.saved = Some(Saved {
            steps,
            batch,
            input,
            hidden,
            x,
            h0,
            w_ih: w_ih.clone(),
            w_hh: w_hh.clone(),
            gates,
            qn,
            hs,
        });
        Ok(result)
    }

    fn backward(
        &self,
        grads_out: &[Option<&Tensor<T>>],
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let sv = self
            .saved
            .as_ref()
            .ok_or_else(|| custom_err("backward before forward".into()))?;
        let (steps, batch, input, hidden) = (sv.steps, sv.batch, sv.input, sv.hidden);
        let (g3, bh, rows) = (3 * hidden, batch * hidden, steps * batch);
        let g_out = grads_out[0].map(|g| g.contiguous());
        let g_out = g_out.as_ref().map(|g| g.as_slice().expect("contiguous"));
        let dh = grads_out[1].map_or_else(|| vec![T::ZERO; bh], |g| g.to_vec());
        // dP: input-side pre-activation gradients; dQ: hidden-side ones. Inactive rows keep
        // zeros.
        let mut dp = pool::zeroed(rows * g3);
        let mut dq = pool::zeroed(rows * g3);
        let (groups, w_hh) = plan(view(&sv.w_hh), steps, batch);
        let g_out_rows = step_rows_opt(g_out, steps, hidden, &groups);
        let work: Vec<_> = step_rows_mut(&mut dp, steps, g3, &groups)
            .into_iter()
            .zip(step_rows_mut(&mut dq, steps, g3, &groups))
            .zip(step_rows(&sv.gates, steps, g3, &groups))
            .zip(step_rows(&sv.qn, steps, hidden, &groups))
            .zip(step_rows(&sv.hs, steps, hidden, &groups))
            .zip(g_out_rows)
            .zip(&groups)
            .map(|((((((dp, dq), gates), qn), hs), go), g)| {
                ([dp, dq], [gates, qn, hs], go, g.clone())
            })
            .collect();
        let dh = run_groups(work, |([mut dp, mut dq], saved, go, g)| {
            let rows = g.start * hidden..g.end * hidden;
            let (dh, h0) = (dh[rows.clone()].to_vec(), &sv.h0[rows]);
            self.bptt_rows(
                &w_hh,
                dh,
                saved,
                h0,
                go.as_deref(),
                [&mut dp, &mut dq],
                g,
                hidden,
            )
        })
        .concat();
        // dX = dZ W_ih and dW_ih = dZ^T X, each one GEMM over all steps.
        let (gx, gw_ih) = input_side_grads(&dp, rows, g3, &sv.x, &sv.w_ih, needs[0], needs[2]);
        // dW_hh = sum_t dQ_t^T h_prev(t).
        let gw_hh = needs[3].then(|| {
            let mut g = vec![T::ZERO; g3 * hidden];
            prev_state_gemm(
                &dq,
                &sv.hs,
                &sv.h0,
                self.reverse,
                steps,
                batch,
                g3,
                hidden,
                &mut g,
            );
            g
        });
        let mut out = vec![
            gx.map(|g| Tensor::from_vec(g, &[steps, batch, input]))
                .transpose()?,
            needs[1]
                .then(|| Tensor::from_vec(dh, &[batch, hidden]))
                .transpose()?,
            gw_ih
                .map(|g| Tensor::from_vec(g, &[g3, input]))
                .transpose()?,
            gw_hh
                .map(|g| Tensor::from_vec(g, &[g3, hidden]))
                .transpose()?,
        ];
        if self.has_bias {
            out.push(
                needs[4]
                    .then(|| Tensor::from_vec(col_sums(&dp, g3), &[g3]))
                    .transpose()?,
            );
            out.push(
                needs[5]
                    .then(|| Tensor::from_vec(col_sums(&dq, g3), &[g3]))
                    .transpose()?,
            );
        }
        Ok(out)
    }
}
