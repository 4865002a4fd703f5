//! The fused LSTM layer: one tape node per layer and direction.
//!
//! Forward, for `T` steps of a batch of `B` with input size `I` and hidden size `H`:
//! 1. the input projection for all steps at once, biases folded in:
//!    `P = X W_ih^T + (b_ih + b_hh)`, one GEMM `[T*B, I] x [I, 4H]`;
//! 2. the recurrence, one small GEMM per step written straight into `P_t`
//!    (`P_t += h_{t-1} W_hh^T`), then the gates in PyTorch's order `i, f, g, o`:
//!    `c_t = σ(f) c_{t-1} + σ(i) tanh(g)`, `h_t = σ(o) tanh(c_t)`. The activated gates,
//!    `c_t`, `tanh(c_t)` and `h_t` are kept.
//!
//! Backward (BPTT) walks the steps backwards (the only sequential part):
//! `dc += dh σ(o) (1 - tanh²c)`, then the four gate pre-activation gradients `dZ_t`, the
//! carried `dc_{t-1} = dc σ(f)` and `dh_{t-1} = dZ_t W_hh`; afterwards `dW_hh`, `dW_ih`, `dX`
//! and the bias gradients are single GEMMs (or one column sum) over all steps.
//!
//! With threads, the batch rows are split between them for the recurrence, forward and
//! backward (see `rnn::split`).
//!
//! Variable-length batches work as in the RNN: item `b` is active at step `t` iff
//! `t < len_b`; an inactive item keeps both states and outputs zero.

use super::common::{
    col_sums, dense, dense_mut, input_side_grads, sigmoid_in_place, tanh_in_place, view,
};
use crate::rnn::split::{plan, run_groups, step_rows, step_rows_mut, step_rows_opt};
use crate::rnn::step_weight::StepWeight;
use core::ops::Range;
use recur_autograd::{AutogradError, CustomOp, Result};
use recur_tensor::gemm::{MatRef, gemm};
use recur_tensor::{Float, Tensor, pool};

struct Saved<T: Float> {
    steps: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    x: Tensor<T>,
    h0: Vec<T>,
    c0: Vec<T>,
    w_ih: Tensor<T>,
    w_hh: Tensor<T>,
    /// Activated gates `[T, B, 4H]` (`i, f, g, o` blocks per row).
    gates: Vec<T>,
    /// Cell states `[T, B, H]`, in time order.
    cs: Vec<T>,
    /// `tanh(c_t)`, `[T, B, H]`.
    tcs: Vec<T>,
    /// Hidden states `[T, B, H]`, in time order.
    hs: Vec<T>,
}

/// One LSTM layer in one direction, as a [`CustomOp`].
pub(crate) struct LstmLayer<T: Float> {
    reverse: bool,
    has_bias: bool,
    lengths: Option<Vec<usize>>,
    saved: Option<Saved<T>>,
}

impl<T: Float> LstmLayer<T> {
    pub(crate) fn new(reverse: bool, has_bias: bool, lengths: Option<Vec<usize>>) -> Self {
        LstmLayer {
            reverse,
            has_bias,
            lengths,
            saved: None,
        }
    }

    fn active(&self, t: usize, b: usize) -> bool {
        self.lengths.as_ref().is_none_or(|l| t < l[b])
    }

    /// Step `s` of the walk in processing order is time `t`; the previous state is at `prev`
    /// (`None`: the initial state).
    fn order(&self, steps: usize, s: usize) -> (usize, Option<usize>) {
        if self.reverse {
            let t = steps - 1 - s;
            (t, (s > 0).then_some(t + 1))
        } else {
            (s, s.checked_sub(1))
        }
    }
}

impl<T: Float> LstmLayer<T> {
    /// The forward recurrence for batch rows `g`: `gates[t]` holds their `P_t` and becomes
    /// their activated gates; their `h_t`, `c_t` and `tanh(c_t)` go to `[hs, cs, tcs][t]`.
    /// `state`: their `(h0, c0)`; returns their `(h_n, c_n)`.
    fn recur_rows(
        &self,
        whh_t: &StepWeight<'_, T>,
        state: (Vec<T>, Vec<T>),
        gates: &mut [&mut [T]],
        [hs, cs, tcs]: [&mut [&mut [T]]; 3],
        g: Range<usize>,
        hidden: usize,
    ) -> (Vec<T>, Vec<T>) {
        let (mut h, mut c) = state;
        let steps = gates.len();
        let g4 = 4 * hidden;
        for s in 0..steps {
            let (t, _) = self.order(steps, s);
            let gt = &mut *gates[t];
            whh_t.apply(&h, g.len(), T::ONE, gt);
            for (i, b) in g.clone().enumerate() {
                let o = i * hidden;
                let hb = &mut h[o..o + hidden];
                let cb = &mut c[o..o + hidden];
                if self.active(t, b) {
                    let row = &mut gt[i * g4..(i + 1) * g4];
                    // The gates, activated in place: σ on i, f (one pass) and o, tanh on g.
                    sigmoid_in_place(&mut row[..2 * hidden]);
                    tanh_in_place(&mut row[2 * hidden..3 * hidden]);
                    sigmoid_in_place(&mut row[3 * hidden..]);
                    let (ri, rest) = row.split_at(hidden);
                    let (rf, rest) = rest.split_at(hidden);
                    let (rg, ro) = rest.split_at(hidden);
                    let tc = &mut tcs[t][o..o + hidden];
                    for j in 0..hidden {
                        cb[j] = rf[j] * cb[j] + ri[j] * rg[j];
                    }
                    tc.copy_from_slice(cb);
                    tanh_in_place(tc);
                    for j in 0..hidden {
                        hb[j] = ro[j] * tc[j];
                    }
                } else {
                    // Never read for an inactive row; written so that nothing is stale.
                    tcs[t][o..o + hidden].fill(T::ZERO);
                }
                hs[t][o..o + hidden].copy_from_slice(hb);
                cs[t][o..o + hidden].copy_from_slice(cb);
            }
        }
        (h, c)
    }

    /// BPTT for batch rows `g` from their `(dh, dc)` w.r.t. the last states: fills their rows
    /// of `dz` (active rows only) and returns their gradients w.r.t. `(h0, c0)`. `saved`:
    /// their rows of the activated gates, `c_t` and `tanh(c_t)` per step.
    #[allow(clippy::too_many_arguments)]
    fn bptt_rows(
        &self,
        w_hh: &StepWeight<'_, T>,
        carried: (Vec<T>, Vec<T>),
        [gates, cs, tcs]: [Vec<&[T]>; 3],
        c0: &[T],
        g_out: Option<&[&[T]]>,
        dz: &mut [&mut [T]],
        g: Range<usize>,
        hidden: usize,
    ) -> (Vec<T>, Vec<T>) {
        let (mut dh, mut dc) = carried;
        let steps = dz.len();
        let g4 = 4 * hidden;
        let mut dh_next = vec![T::ZERO; dh.len()];
        for s in (0..steps).rev() {
            let (t, prev) = self.order(steps, s);
            let c_prev = match prev {
                Some(p) => cs[p],
                None => c0,
            };
            let dzt = &mut *dz[t];
            for (i, b) in g.clone().enumerate() {
                if !self.active(t, b) {
                    continue; // both states passed through: dh, dc carry, dz stays 0
                }
                let o = i * hidden;
                let r = o..o + hidden;
                let (dhb, dcb) = (&mut dh[r.clone()], &mut dc[r.clone()]);
                if let Some(go) = g_out {
                    for (d, &gv) in dhb.iter_mut().zip(&go[t][r]) {
                        *d += gv;
                    }
                }
                let gate = &gates[t][i * g4..(i + 1) * g4];
                let drow = &mut dzt[i * g4..(i + 1) * g4];
                for j in 0..hidden {
                    let (ig, f, gg, og) = (
                        gate[j],
                        gate[hidden + j],
                        gate[2 * hidden + j],
                        gate[3 * hidden + j],
                    );
                    let tc = tcs[t][o + j];
                    let dcj = dcb[j] + dhb[j] * og * (T::ONE - tc * tc);
                    drow[j] = dcj * gg * ig * (T::ONE - ig);
                    drow[hidden + j] = dcj * c_prev[o + j] * f * (T::ONE - f);
                    drow[2 * hidden + j] = dcj * ig * (T::ONE - gg * gg);
                    drow[3 * hidden + j] = dhb[j] * tc * og * (T::ONE - og);
                    dcb[j] = dcj * f;
                }
            }
            // dh_{t-1} = dZ_t W_hh for active rows; inactive rows carry dh through.
            w_hh.apply(dzt, g.len(), T::ZERO, &mut dh_next);
            if self.lengths.is_some() {
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        let r = i * hidden..(i + 1) * hidden;
                        dh_next[r.clone()].copy_from_slice(&dh[r]);
                    }
                }
            }
            core::mem::swap(&mut dh, &mut dh_next);
        }
        (dh, dc)
    }
}

fn custom_err(msg: String) -> AutogradError {
    AutogradError::Custom {
        op: "lstm_layer".into(),
        msg,
    }
}

impl<T: Float> CustomOp<T> for LstmLayer<T> {
    fn name(&self) -> &'static str {
        "lstm_layer"
    }

    /// Inputs: `x [T, B, I]`, `h0 [B, H]`, `c0 [B, H]`, `w_ih [4H, I]`, `w_hh [4H, H]`, then
    /// `b_ih [4H]`, `b_hh [4H]` if the layer has biases. Outputs: `output [T, B, H]`,
    /// `h_n [B, H]`, `c_n [B, H]`.
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        let x = inputs[0].contiguous();
        let (w_ih, w_hh) = (inputs[3], inputs[4]);
        let (steps, batch, input) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let hidden = w_hh.dims()[1];
        let g4 = 4 * hidden;
        if let Some(l) = &self.lengths
            && l.len() != batch
        {
            return Err(custom_err(format!(
                "{} lengths for a batch of {batch}",
                l.len()
            )));
        }
        let rows = steps * batch;
        // 1. P = X W_ih^T + (b_ih + b_hh), all steps in one GEMM.
        let mut gates = vec![T::ZERO; rows * g4];
        let beta = if self.has_bias {
            let b = inputs[5].add(inputs[6])?.to_vec();
            for row in gates.chunks_exact_mut(g4.max(1)) {
                row.copy_from_slice(&b);
            }
            T::ONE
        } else {
            T::ZERO
        };
        gemm(
            T::ONE,
            dense(x.storage(), x.layout().offset, rows, input),
            view(w_ih).t(),
            beta,
            dense_mut(&mut gates, rows, g4),
        );
        // 2. The recurrence, split over threads by batch rows when that pays (see
        //    `rnn::split`).
        let h0 = inputs[1].to_vec();
        let c0 = inputs[2].to_vec();
        let mut hs = pool::scratch(rows * hidden);
        let mut cs = pool::scratch(rows * hidden);
        let mut tcs = pool::scratch(rows * hidden);
        // W_hh^T prepared once for the T per-step products of a group (see `StepWeight`).
        let (groups, whh_t) = plan(view(w_hh).t(), steps, batch);
        let work: Vec<_> = step_rows_mut(&mut gates, steps, g4, &groups)
            .into_iter()
            .zip(step_rows_mut(&mut hs, steps, hidden, &groups))
            .zip(step_rows_mut(&mut cs, steps, hidden, &groups))
            .zip(step_rows_mut(&mut tcs, steps, hidden, &groups))
            .zip(&groups)
            .map(|((((gt, hs), cs), tcs), g)| (gt, [hs, cs, tcs], g.clone()))
            .collect();
        let (hn, cn): (Vec<Vec<T>>, Vec<Vec<T>>) =
            run_groups(work, |(mut gates, [mut hs, mut cs, mut tcs], g)| {
                let rows = g.start * hidden..g.end * hidden;
                let state = (h0[rows.clone()].to_vec(), c0[rows].to_vec());
                self.recur_rows(
                    &whh_t,
                    state,
                    &mut gates,
                    [&mut hs, &mut cs, &mut tcs],
                    g,
                    hidden,
                )
            })
            .into_iter()
            .unzip();
        let (h, c) = (hn.concat(), cn.concat());
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
            Tensor::from_vec(c, &[batch, hidden])?,
        ];
        self.saved = Some(Saved {
            steps,
            batch,
            input,
            hidden,
            x,
            h0,
            c0,
            w_ih: w_ih.clone(),
            w_hh: w_hh.clone(),
            gates,
            cs,
            tcs,
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
        let (g4, bh, rows) = (4 * hidden, batch * hidden, steps * batch);
        let g_out = grads_out[0].map(|g| g.contiguous());
        let g_out = g_out.as_ref().map(|g| g.as_slice().expect("contiguous"));
        let dh = grads_out[1].map_or_else(|| vec![T::ZERO; bh], |g| g.to_vec());
        let dc = grads_out[2].map_or_else(|| vec![T::ZERO; bh], |g| g.to_vec());
        // Inactive rows keep dz = 0: start from zeros.
        let mut dz = pool::zeroed(rows * g4);
        let (groups, w_hh) = plan(view(&sv.w_hh), steps, batch);
        let g_out_rows = step_rows_opt(g_out, steps, hidden, &groups);
        let work: Vec<_> = step_rows_mut(&mut dz, steps, g4, &groups)
            .into_iter()
            .zip(step_rows(&sv.gates, steps, g4, &groups))
            .zip(step_rows(&sv.cs, steps, hidden, &groups))
            .zip(step_rows(&sv.tcs, steps, hidden, &groups))
            .zip(g_out_rows)
            .zip(&groups)
            .map(|(((((dz, gates), cs), tcs), go), g)| (dz, [gates, cs, tcs], go, g.clone()))
            .collect();
        let (dh, dc): (Vec<Vec<T>>, Vec<Vec<T>>) = run_groups(work, |(mut dz, saved, go, g)| {
            let rows = g.start * hidden..g.end * hidden;
            let carried = (dh[rows.clone()].to_vec(), dc[rows.clone()].to_vec());
            let c0 = &sv.c0[rows];
            self.bptt_rows(&w_hh, carried, saved, c0, go.as_deref(), &mut dz, g, hidden)
        })
        .into_iter()
        .unzip();
        let (dh, dc) = (dh.concat(), dc.concat());
        // dX = dZ W_ih and dW_ih = dZ^T X, each one GEMM over all steps.
        let (gx, gw_ih) = input_side_grads(&dz, rows, g4, &sv.x, &sv.w_ih, needs[0], needs[3]);
        // dW_hh = sum_t dZ_t^T h_prev(t): one GEMM over the steps whose previous state is
        // stored, one for the step that starts from h0.
        let gw_hh = needs[4].then(|| {
            let mut g = vec![T::ZERO; g4 * hidden];
            prev_state_gemm(
                &dz,
                &sv.hs,
                &sv.h0,
                self.reverse,
                steps,
                batch,
                g4,
                hidden,
                &mut g,
            );
            g
        });
        let gb = (self.has_bias && (needs[5] || needs[6])).then(|| col_sums(&dz, g4));
        let mut out = vec![
            gx.map(|g| Tensor::from_vec(g, &[steps, batch, input]))
                .transpose()?,
            needs[1]
                .then(|| Tensor::from_vec(dh, &[batch, hidden]))
                .transpose()?,
            needs[2]
                .then(|| Tensor::from_vec(dc, &[batch, hidden]))
                .transpose()?,
            gw_ih
                .map(|g| Tensor::from_vec(g, &[g4, input]))
                .transpose()?,
            gw_hh
                .map(|g| Tensor::from_vec(g, &[g4, hidden]))
                .transpose()?,
        ];
        if self.has_bias {
            let gb = gb.map(|g| Tensor::from_vec(g, &[g4])).transpose()?;
            out.push(if needs[5] { gb.clone() } else { None });
            out.push(if needs[6] { gb } else { None });
        }
        Ok(out)
    }
}

/// `G += sum_t dZ_t^T h_prev(t)` for `dZ: [T*B, gw]` and states `hs: [T*B, H]`: one GEMM over
/// the `T - 1` steps whose previous state is a stored state, plus one for the first step
/// (in processing order), whose previous state is `h0`. Writes `G` (`[gw, H]`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn prev_state_gemm<T: Float>(
    dz: &[T],
    hs: &[T],
    h0: &[T],
    reverse: bool,
    steps: usize,
    batch: usize,
    gw: usize,
    hidden: usize,
    g: &mut [T],
) {
    if steps == 0 {
        return;
    }
    let n = (steps - 1) * batch;
    // Forward: dZ_1.. pairs with h_0..; reverse: dZ_0.. pairs with h_1...
    let (dz_from, h_from) = if reverse { (0, batch) } else { (batch, 0) };
    let dzs: MatRef<'_, T> = dense(dz, dz_from * gw, n, gw).t();
    gemm(
        T::ONE,
        dzs,
        dense(hs, h_from * hidden, n, hidden),
        T::ZERO,
        dense_mut(g, gw, hidden),
    );
    let first = if reverse { steps - 1 } else { 0 };
    gemm(
        T::ONE,
        dense(dz, first * batch * gw, batch, gw).t(),
        dense(h0, 0, batch, hidden),
        T::ONE,
        dense_mut(g, gw, hidden),
    );
}
