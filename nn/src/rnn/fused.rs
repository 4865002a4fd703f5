//! The fused RNN layer: one tape node per layer and direction.
//!
//! Forward, for `T` steps of a batch of `B` with input size `I` and hidden size `H`:
//! 1. the input projection for all steps at once: `P = X W_ih^T`, one GEMM
//!    `[T*B, I] x [I, H]` (for a one-hot input given by tokens, a lookup of `W_ih`'s columns);
//! 2. the recurrence `h_t = act(P_t + (b_ih + b_hh) + h_{t-1} W_hh^T)`, the bias added to `P_t`
//!    in cache just before one small GEMM per step written straight into `P_t`, every state
//!    kept (`S`, `[T, B, H]`). With threads, the batch rows are split between them (`split`).
//!
//! Backward (BPTT): walk the steps backwards computing `dz_t = dh_t * act'(h_t)` and
//! `dh_{t-1} = dz_t W_hh` (the only sequential part), then `dW_hh`, `dW_ih`, `dX` and the bias
//! gradients as single GEMMs over all steps.
//!
//! Variable-length batches: item `b` is active at step `t` iff `t < len_b`. An inactive item
//! keeps its state and outputs zero, so `h_n` is each item's state at its own last valid step,
//! and the reverse direction starts at each item's last valid element.

use crate::rnn::Nonlinearity;
use crate::rnn::split::{plan, run_groups, step_rows, step_rows_mut, step_rows_opt};
use crate::rnn::step_weight::{StepWeight, row_major_copy};
use core::ops::Range;
use recur_autograd::{AutogradError, CustomOp, Result};
use recur_tensor::gemm::{MatMut, MatRef, gemm};
use recur_tensor::{Float, Tensor, pool};

/// The shape facts of one layer run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub steps: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
}

/// What forward keeps for backward: exactly the states and the weights the products need.
pub(crate) struct RnnLayer<T: Float> {
    pub act: Nonlinearity,
    pub reverse: bool,
    pub has_bias: bool,
    /// Per-item lengths (`None`: every item runs all steps).
    pub lengths: Option<Vec<usize>>,
    /// A one-hot input given by its indices (time-major, `T * B`): `x` is then only a
    /// placeholder of the right shape, and `X W_ih^T` is a lookup of `W_ih`'s columns.
    pub tokens: Option<Vec<u32>>,
    saved: Option<Saved<T>>,
}

struct Saved<T: Float> {
    dims: Dims,
    x: Tensor<T>,
    h0: Tensor<T>,
    w_ih: Tensor<T>,
    w_hh: Tensor<T>,
    /// All states, `[T, B, H]`, in time order (shared with the output when there are no
    /// lengths).
    states: Tensor<T>,
}

impl<T: Float> RnnLayer<T> {
    pub(crate) fn new(
        act: Nonlinearity,
        reverse: bool,
        has_bias: bool,
        lengths: Option<Vec<usize>>,
    ) -> Self {
        RnnLayer {
            act,
            reverse,
            has_bias,
            lengths,
            tokens: None,
            saved: None,
        }
    }

    fn active(&self, t: usize, b: usize) -> bool {
        self.lengths.as_ref().is_none_or(|l| t < l[b])
    }

    /// Runs the layer. `x`: `[T, B, I]`, `h0`: `[B, H]`, `w_ih`: `[H, I]`, `w_hh`: `[H, H]`,
    /// `bias`: `b_ih + b_hh` (`[H]`) if any. Returns all states `[T*B*H]` and the final state.
    pub(crate) fn run(
        &self,
        x: &Tensor<T>,
        h0: &Tensor<T>,
        w_ih: &Tensor<T>,
        w_hh: &Tensor<T>,
        bias: Option<&[T]>,
    ) -> (Vec<T>, Vec<T>) {
        let (steps, batch, input) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let hidden = w_hh.dims()[0];
        let rows = steps * batch;
        // 1. P = X W_ih^T for all steps in one GEMM, written whole (beta = 0). For tokens
        //    (a one-hot input), row r of P is column `token r` of W_ih: looked up in a
        //    transposed copy (rows contiguous) step by step in the recurrence instead. Either
        //    way the bias is added in the recurrence, on data in cache.
        let mut p = pool::scratch(rows * hidden);
        let wt = self
            .tokens
            .as_ref()
            .map(|_| row_major_copy(transposed(w_ih)));
        let lookup = wt
            .as_deref()
            .zip(self.tokens.as_deref())
            .map(|(wt, tokens)| Lookup { wt, tokens, batch });
        if lookup.is_none() {
            let xl = x.layout();
            let x_mat = MatRef {
                data: x.storage(),
                offset: xl.offset,
                rows,
                cols: input,
                rs: input,
                cs: 1,
            };
            gemm(
                T::ONE,
                x_mat,
                transposed(w_ih),
                T::ZERO,
                MatMut::row_major(&mut p, rows, hidden),
            );
        }
        // 2. The recurrence, in place: P_t becomes the state h_t; split over threads by batch
        //    rows when that pays (see `split`).
        let h0v = h0.contiguous();
        let h0s = h0v.as_slice().expect("contiguous");
        // W_hh^T prepared once for the T per-step products of a group (see `StepWeight`).
        let (groups, whh_t) = plan(transposed(w_hh), steps, batch);
        let work: Vec<_> = step_rows_mut(&mut p, steps, hidden, &groups)
            .into_iter()
            .zip(&groups)
            .map(|(rows, g)| (rows, g.clone()))
            .collect();
        // A zero initial state (the usual case) contributes nothing to the first step:
        // its product is skipped.
        let h0_zero = h0s.iter().all(|&v| v == T::ZERO);
        run_groups(work, |(mut rows, g)| {
            let h0 = &h0s[g.start * hidden..g.end * hidden];
            self.recur_rows(&whh_t, h0, h0_zero, lookup, bias, &mut rows, g, hidden);
        });
        let last = if steps == 0 {
            h0s.to_vec()
        } else {
            let t = if self.reverse { 0 } else { steps - 1 };
            p[t * batch * hidden..(t + 1) * batch * hidden].to_vec()
        };
        (p, last)
    }
}

impl<T: Float> RnnLayer<T> {
    /// The forward recurrence for batch rows `g`: `rows[t]` holds their `P_t` and becomes
    /// their `h_t`; `h0` is their initial state (`h0_zero`: all zeros, so the first step
    /// needs no product); `bias` (if any) is added to `P_t` first.
    #[allow(clippy::too_many_arguments)]
    fn recur_rows(
        &self,
        whh_t: &StepWeight<'_, T>,
        h0: &[T],
        h0_zero: bool,
        lookup: Option<Lookup<'_, T>>,
        bias: Option<&[T]>,
        rows: &mut [&mut [T]],
        g: Range<usize>,
        hidden: usize,
    ) {
        let steps = rows.len();
        for s in 0..steps {
            let t = if self.reverse { steps - 1 - s } else { s };
            // The previous state (h0 at the first step) and this step's rows, borrowed apart.
            let (prev, cur): (&[T], &mut [T]) = if s == 0 {
                (h0, &mut *rows[t])
            } else if self.reverse {
                let (a, b) = rows.split_at_mut(t + 1);
                (&*b[0], &mut *a[t])
            } else {
                let (a, b) = rows.split_at_mut(t);
                (&*a[t - 1], &mut *b[0])
            };
            if let Some(lk) = lookup {
                for (i, row) in cur.chunks_exact_mut(hidden.max(1)).enumerate() {
                    let v = lk.tokens[t * lk.batch + g.start + i] as usize;
                    row.copy_from_slice(&lk.wt[v * hidden..(v + 1) * hidden]);
                }
            }
            if let Some(b) = bias {
                for row in cur.chunks_exact_mut(hidden.max(1)) {
                    for (z, &bv) in row.iter_mut().zip(b) {
                        *z += bv;
                    }
                }
            }
            if !(s == 0 && h0_zero) {
                whh_t.apply(prev, g.len(), T::ONE, cur);
            }
            self.act.apply(cur);
            if self.lengths.is_some() {
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        cur[i * hidden..(i + 1) * hidden]
                            .copy_from_slice(&prev[i * hidden..(i + 1) * hidden]);
                    }
                }
            }
        }
    }

    /// BPTT for batch rows `g`, from `dh` (their gradient w.r.t. the last state) through all
    /// steps: fills their rows of `dz` and returns their gradient w.r.t. `h0` and, if
    /// `item_sums`, each row's `dz` summed over the steps (in processing order, while the rows
    /// are in cache; the bias gradient is the sum of these over the batch). Without
    /// `need_dh0` the last product (the gradient w.r.t. `h0`) is skipped and the returned
    /// gradient is meaningless.
    #[allow(clippy::too_many_arguments)]
    fn bptt_rows(
        &self,
        w_hh: &StepWeight<'_, T>,
        need_dh0: bool,
        mut dh: Vec<T>,
        states: &[&[T]],
        g_out: Option<&[&[T]]>,
        dz: &mut [&mut [T]],
        g: Range<usize>,
        hidden: usize,
        item_sums: bool,
    ) -> (Vec<T>, Vec<T>) {
        let steps = states.len();
        let mut dh_next = vec![T::ZERO; dh.len()];
        let mut sums = if item_sums {
            vec![T::ZERO; dh.len()]
        } else {
            Vec::new()
        };
        for s in (0..steps).rev() {
            let t = if self.reverse { steps - 1 - s } else { s };
            let (h, dzt) = (states[t], &mut *dz[t]);
            for (i, b) in g.clone().enumerate() {
                let r = i * hidden..(i + 1) * hidden;
                if !self.active(t, b) {
                    // The state passed through unchanged; the zero output takes no gradient.
                    dzt[r].fill(T::ZERO);
                    continue;
                }
                if let Some(go) = g_out {
                    for (d, &gv) in dh[r.clone()].iter_mut().zip(&go[t][r.clone()]) {
                        *d += gv;
                    }
                }
                self.act
                    .backward(&h[r.clone()], &dh[r.clone()], &mut dzt[r.clone()]);
                if item_sums {
                    for (a, &v) in sums[r.clone()].iter_mut().zip(&dzt[r]) {
                        *a += v;
                    }
                }
            }
            if s == 0 && !need_dh0 {
                break;
            }
            // dh_{t-1} = dz_t W_hh (active rows); inactive rows carry dh through.
            w_hh.apply(dzt, g.len(), T::ZERO, &mut dh_next);
            if self.lengths.is_some() {
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        dh_next[i * hidden..(i + 1) * hidden]
                            .copy_from_slice(&dh[i * hidden..(i + 1) * hidden]);
                    }
                }
            }
            core::mem::swap(&mut dh, &mut dh_next);
        }
        (dh, sums)
    }
}

/// A one-hot input given by tokens: row `r` of `P` is row `tokens[r]` of `wt` (`W_ih^T`,
/// row-major), with `r = t * batch + b`.
#[derive(Clone, Copy)]
struct Lookup<'a, T> {
    wt: &'a [T],
    tokens: &'a [u32],
    batch: usize,
}

/// `w^T` as a strided view (no copy).
fn transposed<T: Float>(w: &Tensor<T>) -> MatRef<'_, T> {
    let l = w.layout();
    MatRef {
        data: w.storage(),
        offset: l.offset,
        rows: l.dims()[1],
        cols: l.dims()[0],
        rs: l.strides[1],
        cs: l.strides[0],
    }
}

fn plain<T: Float>(w: &Tensor<T>) -> MatRef<'_, T> {
    let l = w.layout();
    MatRef {
        data: w.storage(),
        offset: l.offset,
        rows: l.dims()[0],
        cols: l.dims()[1],
        rs: l.strides[0],
        cs: l.strides[1],
    }
}

impl<T: Float> CustomOp<T> for RnnLayer<T> {
    fn name(&self) -> &'static str {
        "rnn_layer"
    }

    /// Inputs: `x [T, B, I]`, `h0 [B, H]`, `w_ih [H, I]`, `w_hh [H, H]`, then `b_ih [H]`,
    /// `b_hh [H]` if the layer has biases. Outputs: `output [T, B, H]`, `h_n [B, H]`.
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        // With tokens, `x` is a stride-0 placeholder: keep it as it is (never read).
        let x = if self.tokens.is_some() {
            inputs[0].clone()
        } else {
            inputs[0].contiguous()
        };
        let (h0, w_ih, w_hh) = (inputs[1], inputs[2], inputs[3]);
        let bias: Option<Vec<T>> = if self.has_bias {
            Some(inputs[4].add(inputs[5])?.to_vec())
        } else {
            None
        };
        let (steps, batch, input) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let hidden = w_hh.dims()[0];
        if let Some(l) = &self.lengths
            && l.len() != batch
        {
            return Err(AutogradError::Custom {
                op: "rnn_layer".into(),
                msg: format!("{} lengths for a batch of {batch}", l.len()),
            });
        }
        if let Some(tok) = &self.tokens
            && tok.len() != steps * batch
        {
            return Err(AutogradError::Custom {
                op: "rnn_layer".into(),
                msg: format!(
                    "{} tokens for {steps} steps of a batch of {batch}",
                    tok.len()
                ),
            });
        }
        let (states, last) = self.run(&x, h0, w_ih, w_hh, bias.as_deref());
        let states = Tensor::from_vec(states, &[steps, batch, hidden])?;
        // Without lengths the output *is* the state sequence: shared, not copied.
        let out = match &self.lengths {
            None => states.clone(),
            Some(_) => {
                let mut out = states.to_vec();
                for t in 0..steps {
                    for b in 0..batch {
                        if !self.active(t, b) {
                            let o = (t * batch + b) * hidden;
                            out[o..o + hidden].fill(T::ZERO);
                        }
                    }
                }
                Tensor::from_vec(out, &[steps, batch, hidden])?
            }
        };
        self.saved = Some(Saved {
            dims: Dims {
                steps,
                batch,
                input,
                hidden,
            },
            x,
            h0: h0.contiguous(),
            w_ih: w_ih.clone(),
            w_hh: w_hh.clone(),
            states,
        });
        Ok(vec![out, Tensor::from_vec(last, &[batch, hidden])?])
    }

    fn backward(
        &self,
        grads_out: &[Option<&Tensor<T>>],
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let sv = self.saved.as_ref().ok_or_else(|| AutogradError::Custom {
            op: "rnn_layer".into(),
            msg: "backward before forward".into(),
        })?;
        let states = sv.states.as_slice().expect("built contiguous");
        let Dims {
            steps,
            batch,
            input,
            hidden,
        } = sv.dims;
        let (bh, rows) = (batch * hidden, steps * batch);
        let g_out = grads_out[0].map(|g| g.contiguous());
        let g_out = g_out.as_ref().map(|g| g.as_slice().expect("contiguous"));
        let dh: Vec<T> = match grads_out[1] {
            Some(g) => g.to_vec(),
            None => vec![T::ZERO; bh],
        };
        // BPTT: dz_t for every step (the only sequential part), split over threads by batch
        // rows when that pays (see `split`). Every row of every step is written.
        let mut dz = pool::scratch(rows * hidden);
        let (groups, w_hh) = plan(plain(&sv.w_hh), steps, batch);
        let state_rows = step_rows(states, steps, hidden, &groups);
        let g_out_rows = step_rows_opt(g_out, steps, hidden, &groups);
        let work: Vec<_> = step_rows_mut(&mut dz, steps, hidden, &groups)
            .into_iter()
            .zip(state_rows)
            .zip(g_out_rows)
            .zip(&groups)
            .map(|(((dz, st), go), g)| {
                let dh = dh[g.start * hidden..g.end * hidden].to_vec();
                (dz, st, go, dh, g.clone())
            })
            .collect();
        let need_gb = self.has_bias && (needs[4] || needs[5]);
        let (dh, item_sums): (Vec<Vec<T>>, Vec<Vec<T>>) =
            run_groups(work, |(mut dz, st, go, dh, g)| {
                self.bptt_rows(
                    &w_hh,
                    needs[1],
                    dh,
                    &st,
                    go.as_deref(),
                    &mut dz,
                    g,
                    hidden,
                    need_gb,
                )
            })
            .into_iter()
            .unzip();
        let dh = dh.concat();
        let dz_all = MatRef {
            data: &dz,
            offset: 0,
            rows,
            cols: hidden,
            rs: hidden,
            cs: 1,
        };
        let dz_t = MatRef {
            data: &dz,
            offset: 0,
            rows: hidden,
            cols: rows,
            rs: 1,
            cs: hidden,
        };
        // dX = dZ W_ih: [T*B, H] x [H, I].
        // Tokens (a constant one-hot input) take no gradient.
        let gx = (needs[0] && self.tokens.is_none()).then(|| {
            // Written whole by the GEMM (beta = 0).
            let mut gx = pool::scratch(rows * input);
            gemm(
                T::ONE,
                dz_all,
                plain(&sv.w_ih),
                T::ZERO,
                MatMut {
                    data: &mut gx,
                    offset: 0,
                    rows,
                    cols: input,
                    rs: input,
                    cs: 1,
                },
            );
            gx
        });
        // dW_ih = dZ^T X: [H, T*B] x [T*B, I].
        let gw_ih = needs[2].then(|| {
            // Written whole: by the transposition below, or by the GEMM (beta = 0).
            let mut g = pool::scratch(hidden * input);
            if let Some(tokens) = &self.tokens {
                // dW_ih[:, v] = sum of dz rows whose token is v: add rows of dW_ih^T, then
                // transpose.
                let mut gt = vec![T::ZERO; input * hidden];
                for (row, &tok) in dz.chunks_exact(hidden.max(1)).zip(tokens) {
                    let dst = &mut gt[tok as usize * hidden..(tok as usize + 1) * hidden];
                    for (d, &v) in dst.iter_mut().zip(row) {
                        *d += v;
                    }
                }
                for (j, grow) in g.chunks_exact_mut(input.max(1)).enumerate() {
                    for (v, d) in grow.iter_mut().enumerate() {
                        *d = gt[v * hidden + j];
                    }
                }
                return g;
            }
            let xm = MatRef {
                data: sv.x.storage(),
                offset: sv.x.layout().offset,
                rows,
                cols: input,
                rs: input,
                cs: 1,
            };
            gemm(
                T::ONE,
                dz_t,
                xm,
                T::ZERO,
                MatMut {
                    data: &mut g,
                    offset: 0,
                    rows: hidden,
                    cols: input,
                    rs: input,
                    cs: 1,
                },
            );
            g
        });
        // dW_hh = sum_t dz_t^T h_prev(t): one GEMM over the steps whose previous state is a
        // stored state, plus one for the step that starts from h0.
        let gw_hh = needs[3].then(|| {
            if steps == 0 {
                return vec![T::ZERO; hidden * hidden];
            }
            // Written whole by the first GEMM (beta = 0, also when it has no steps to sum).
            let mut g = pool::scratch(hidden * hidden);
            {
                let first = if self.reverse { steps - 1 } else { 0 };
                let n = (steps - 1) * batch;
                let (dz_from, s_from) = if self.reverse { (0, bh) } else { (bh, 0) };
                let dzs = MatRef {
                    data: &dz,
                    offset: dz_from,
                    rows: hidden,
                    cols: n,
                    rs: 1,
                    cs: hidden,
                };
                let ss = MatRef {
                    data: states,
                    offset: s_from,
                    rows: n,
                    cols: hidden,
                    rs: hidden,
                    cs: 1,
                };
                gemm(
                    T::ONE,
                    dzs,
                    ss,
                    T::ZERO,
                    MatMut {
                        data: &mut g,
                        offset: 0,
                        rows: hidden,
                        cols: hidden,
                        rs: hidden,
                        cs: 1,
                    },
                );
                let h0s = sv.h0.as_slice().expect("built contiguous");
                if h0s.iter().all(|&v| v == T::ZERO) {
                    // A zero initial state adds nothing.
                    return g;
                }
                let dz0 = MatRef {
                    data: &dz,
                    offset: first * bh,
                    rows: hidden,
                    cols: batch,
                    rs: 1,
                    cs: hidden,
                };
                let h0 = MatRef {
                    data: sv.h0.storage(),
                    offset: sv.h0.layout().offset,
                    rows: batch,
                    cols: hidden,
                    rs: hidden,
                    cs: 1,
                };
                gemm(
                    T::ONE,
                    dz0,
                    h0,
                    T::ONE,
                    MatMut {
                        data: &mut g,
                        offset: 0,
                        rows: hidden,
                        cols: hidden,
                        rs: hidden,
                        cs: 1,
                    },
                );
            }
            g
        });
        // The bias gradient: the items' sums over the steps, added in batch order (the same
        // order whatever the thread split).
        let gb = need_gb.then(|| {
            let mut g = vec![T::ZERO; hidden];
            for row in item_sums.concat().chunks_exact(hidden.max(1)) {
                for (a, &v) in g.iter_mut().zip(row) {
                    *a += v;
                }
            }
            g
        });
        let mut out = vec![
            gx.map(|g| Tensor::from_vec(g, &[steps, batch, input]))
                .transpose()?,
            needs[1]
                .then(|| Tensor::from_vec(dh, &[batch, hidden]))
                .transpose()?,
            gw_ih
                .map(|g| Tensor::from_vec(g, &[hidden, input]))
                .transpose()?,
            gw_hh
                .map(|g| Tensor::from_vec(g, &[hidden, hidden]))
                .transpose()?,
        ];
        if self.has_bias {
            let gb = gb.map(|g| Tensor::from_vec(g, &[hidden])).transpose()?;
            out.push(if needs[4] { gb.clone() } else { None });
            out.push(if needs[5] { gb } else { None });
        }
        Ok(out)
    }
}
