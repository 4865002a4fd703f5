//! One layer in one direction of any [`Cell`], as one tape node.
//!
//! Forward, for `T` steps of a batch of `B` with input size `I`, hidden size `H` and a cell
//! with `G` gates:
//! 1. the input projection for all steps at once: `P = X W_ih^T`, one GEMM
//!    `[T*B, I] x [I, G*H]` (for a one-hot input given by tokens, a lookup of `W_ih`'s
//!    columns instead, row by row in the recurrence);
//! 2. the recurrence, per step on data in cache: the bias added to `P_t`, the recurrent
//!    product `h_{t-1} W_hh^T` written straight into `P_t` (or beside it, for
//!    [`Recurrence::Separate`]), then the cell's element-wise math. Every state is kept
//!    (`[T, B, P*H]`, the parts side by side). With threads, the batch rows are split between
//!    them (`split`). A zero initial state skips the first step's product.
//!
//! Backward (BPTT) walks the steps backwards (the only sequential part): the output's
//! gradient joins the state's, the cell turns it into the gates' gradients `dP_t` (and `dQ_t`)
//! and the direct part of the previous state's gradient, and one product
//! `dh_{t-1} += dQ_t W_hh` carries the rest. Afterwards `dW_hh`, `dW_ih` and `dX` are single
//! GEMMs over all steps; the bias gradients are per-row sums taken while the rows are in cache.
//!
//! Variable-length batches: item `b` is active at step `t` iff `t < len_b`. An inactive item
//! keeps its state and outputs zero, so the final state is each item's state at its own last
//! valid step, and the reverse direction starts at each item's last valid element.

use super::cell::{Backward, Cell, Forward, Recurrence};
use super::split::{plan, run_groups, step_rows, step_rows_mut, step_rows_opt};
use super::step_weight::{StepWeight, row_major_copy};
use core::ops::Range;
use recur_autograd::{AutogradError, CustomOp, Result};
use recur_tensor::gemm::{MatMut, MatRef, gemm};
use recur_tensor::{Float, Tensor, pool};

/// Where each input sits in the node's input list:
/// `x, s0 parts..., w_ih, [w_hh], [b_ih, [b_hh]]`.
#[derive(Clone, Copy, Debug)]
struct Slots {
    parts: usize,
    w_ih: usize,
    w_hh: Option<usize>,
    b_ih: Option<usize>,
    b_hh: Option<usize>,
}

impl Slots {
    fn new<C: Cell>(cell: &C, has_bias: bool) -> Self {
        let parts = cell.state_parts();
        let w_ih = 1 + parts;
        let hh = cell.recurrence() != Recurrence::None;
        let w_hh = hh.then_some(w_ih + 1);
        let b_ih = has_bias.then_some(w_ih + 1 + usize::from(hh));
        let b_hh = b_ih.filter(|_| hh).map(|b| b + 1);
        Slots {
            parts,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        }
    }
    fn count(&self) -> usize {
        1 + self.parts + 1 + [self.w_hh, self.b_ih, self.b_hh].iter().flatten().count()
    }
}

/// One layer and direction of cell `C`, as a [`CustomOp`]: what forward keeps for backward.
pub(crate) struct Layer<C: Cell, T: Float> {
    cell: C,
    reverse: bool,
    slots: Slots,
    /// Per-item lengths (`None`: every item runs all steps).
    lengths: Option<Vec<usize>>,
    /// A one-hot input given by its indices (time-major, `T * B`): `x` is then only a
    /// placeholder of the right shape.
    tokens: Option<Vec<u32>>,
    saved: Option<Saved<T>>,
}

struct Saved<T: Float> {
    steps: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    x: Tensor<T>,
    /// The initial state, `[B, P*H]`.
    s0: Vec<T>,
    /// Whether the initial `h` is all zeros (its products are skipped).
    h0_zero: bool,
    w_ih: Tensor<T>,
    w_hh: Option<Tensor<T>>,
    /// The gate buffers as the cell left them, `[T, B, G*H]`.
    gates: Vec<T>,
    /// The cell's saved blocks, `[T, B, S*H]`.
    kept: Vec<T>,
    /// All states, `[T, B, P*H]`, in time order (shared with the output for a one-part
    /// state and no lengths).
    states: Tensor<T>,
}

/// The read-only facts of one forward run, shared by the row groups.
struct Run<'a, T: Float> {
    hidden: usize,
    batch: usize,
    s0: &'a [T],
    h0_zero: bool,
    whh_t: Option<&'a StepWeight<'a, T>>,
    /// `b_ih + b_hh` (joined) or `b_ih` (otherwise).
    bias: Option<&'a [T]>,
    /// `b_hh` for [`Recurrence::Separate`].
    b_hh: Option<&'a [T]>,
    /// `W_ih^T` row-major, for token input.
    lookup: Option<(&'a [T], &'a [u32])>,
}

impl<C: Cell, T: Float> Layer<C, T> {
    pub(crate) fn new(
        cell: C,
        reverse: bool,
        has_bias: bool,
        lengths: Option<Vec<usize>>,
        tokens: Option<Vec<u32>>,
    ) -> Self {
        Layer {
            slots: Slots::new(&cell, has_bias),
            cell,
            reverse,
            lengths,
            tokens,
            saved: None,
        }
    }

    fn active(&self, t: usize, b: usize) -> bool {
        self.lengths.as_ref().is_none_or(|l| t < l[b])
    }

    /// Processing step `s` is time `t`; the previous state is at `prev` (`None`: the initial
    /// state).
    fn order(&self, steps: usize, s: usize) -> (usize, Option<usize>) {
        if self.reverse {
            let t = steps - 1 - s;
            (t, (s > 0).then_some(t + 1))
        } else {
            (s, s.checked_sub(1))
        }
    }

    fn err(&self, msg: String) -> AutogradError {
        AutogradError::Custom {
            op: format!("{}_layer", self.cell.name().to_lowercase()),
            msg,
        }
    }

    /// The forward recurrence for batch rows `g`: `gates[t]` holds their `P_t` and becomes
    /// what the cell leaves there; their states go to `states[t]` and the cell's saved blocks
    /// to `kept[t]`.
    fn recur_rows(
        &self,
        run: &Run<'_, T>,
        g: Range<usize>,
        gates: &mut [&mut [T]],
        states: &mut [&mut [T]],
        kept: &mut [&mut [T]],
    ) {
        let steps = gates.len();
        let (h, rows) = (run.hidden, g.len());
        let gw = self.cell.gates() * h;
        let sw = self.slots.parts * h;
        let s0 = &run.s0[g.start * sw..g.end * sw];
        let separate = self.cell.recurrence() == Recurrence::Separate;
        let mut q = if separate {
            vec![T::ZERO; rows * gw]
        } else {
            Vec::new()
        };
        for s in 0..steps {
            let (t, prev_t) = self.order(steps, s);
            let (prev, next): (&[T], &mut [T]) = match prev_t {
                None => (s0, &mut *states[t]),
                Some(p) if p < t => {
                    let (a, b) = states.split_at_mut(t);
                    (&*a[p], &mut *b[0])
                }
                Some(p) => {
                    let (a, b) = states.split_at_mut(p);
                    (&*b[0], &mut *a[t])
                }
            };
            let gt = &mut *gates[t];
            if let Some((wt, tokens)) = run.lookup {
                for (i, row) in gt.chunks_exact_mut(gw.max(1)).enumerate() {
                    let v = tokens[t * run.batch + g.start + i] as usize;
                    row.copy_from_slice(&wt[v * gw..(v + 1) * gw]);
                }
            }
            if let Some(b) = run.bias {
                add_rows(gt, b);
            }
            let skip = s == 0 && run.h0_zero;
            if let Some(w) = run.whh_t {
                if separate {
                    match run.b_hh {
                        Some(b) => q
                            .chunks_exact_mut(gw.max(1))
                            .for_each(|r| r.copy_from_slice(b)),
                        None => q.fill(T::ZERO),
                    }
                    if !skip {
                        w.apply(prev, sw, rows, T::ONE, &mut q, gw);
                    }
                } else if !skip {
                    w.apply(prev, sw, rows, T::ONE, gt, gw);
                }
            }
            self.cell.forward(Forward {
                hidden: h,
                rows,
                gates: gt,
                hidden_gates: &q,
                prev,
                next,
                saved: &mut *kept[t],
            });
            if self.lengths.is_some() {
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        next[i * sw..(i + 1) * sw].copy_from_slice(&prev[i * sw..(i + 1) * sw]);
                    }
                }
            }
        }
    }

    /// BPTT for batch rows `g`, from `d_state` (their gradient w.r.t. the last state) through
    /// all steps: fills their rows of `d_gates` (and `d_hidden`) and returns their gradient
    /// w.r.t. the initial state and, with `sums`, each row's gate gradients summed over the
    /// steps (input side, then hidden side). Without `need_ds0` the last product is skipped
    /// and the returned state gradient is meaningless.
    #[allow(clippy::too_many_arguments)]
    fn bptt_rows(
        &self,
        sv: &Saved<T>,
        w_hh: Option<&StepWeight<'_, T>>,
        need_ds0: bool,
        sums: bool,
        g: Range<usize>,
        mut d_state: Vec<T>,
        [gates, kept, states]: [Vec<&[T]>; 3],
        g_out: Option<Vec<&[T]>>,
        [d_gates, d_hidden]: [&mut [&mut [T]]; 2],
    ) -> (Vec<T>, Vec<T>, Vec<T>) {
        let steps = gates.len();
        let (h, rows) = (sv.hidden, g.len());
        let gw = self.cell.gates() * h;
        let sw = self.slots.parts * h;
        let s0 = &sv.s0[g.start * sw..g.end * sw];
        let separate = self.cell.recurrence() == Recurrence::Separate;
        let mut sum_p = if sums {
            vec![T::ZERO; rows * gw]
        } else {
            Vec::new()
        };
        let mut sum_q = if sums && separate {
            vec![T::ZERO; rows * gw]
        } else {
            Vec::new()
        };
        let mut stash = Vec::new();
        for s in (0..steps).rev() {
            let (t, prev_t) = self.order(steps, s);
            let prev = prev_t.map_or(s0, |p| states[p]);
            if let Some(go) = &g_out {
                for (i, b) in g.clone().enumerate() {
                    if self.active(t, b) {
                        let d = &mut d_state[i * sw..i * sw + h];
                        for (d, &v) in d.iter_mut().zip(&go[t][i * h..(i + 1) * h]) {
                            *d += v;
                        }
                    }
                }
            }
            if self.lengths.is_some() {
                // Inactive rows pass their state's gradient through untouched.
                stash.clear();
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        stash.extend_from_slice(&d_state[i * sw..(i + 1) * sw]);
                    }
                }
            }
            let (dpt, dqt) = (&mut *d_gates[t], &mut *d_hidden[t]);
            self.cell.backward(Backward {
                hidden: h,
                rows,
                gates: gates[t],
                saved: kept[t],
                prev,
                next: states[t],
                d_state: &mut d_state,
                d_gates: dpt,
                d_hidden_gates: dqt,
            });
            if self.lengths.is_some() {
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        dpt[i * gw..(i + 1) * gw].fill(T::ZERO);
                        if separate {
                            dqt[i * gw..(i + 1) * gw].fill(T::ZERO);
                        }
                    }
                }
            }
            if sums {
                add_into(&mut sum_p, dpt);
                if separate {
                    add_into(&mut sum_q, dqt);
                }
            }
            if s == 0 && !need_ds0 {
                break;
            }
            if let Some(w) = w_hh {
                let dq: &[T] = if separate { dqt } else { dpt };
                w.apply(dq, gw, rows, T::ONE, &mut d_state, sw);
            }
            if self.lengths.is_some() {
                let mut from = stash.chunks_exact(sw.max(1));
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        let row = from.next().expect("one stashed row per inactive item");
                        d_state[i * sw..(i + 1) * sw].copy_from_slice(row);
                    }
                }
            }
        }
        (d_state, sum_p, sum_q)
    }
}

/// Adds `b` to every row of `rows` (rows of `b.len()`).
fn add_rows<T: Float>(rows: &mut [T], b: &[T]) {
    for row in rows.chunks_exact_mut(b.len().max(1)) {
        for (z, &v) in row.iter_mut().zip(b) {
            *z += v;
        }
    }
}

/// `acc += v`, element by element.
fn add_into<T: Float>(acc: &mut [T], v: &[T]) {
    for (a, &x) in acc.iter_mut().zip(v) {
        *a += x;
    }
}

/// Sums the rows (each `width` wide) of per-row sums in batch order.
fn col_sums<T: Float>(rows: &[T], width: usize) -> Vec<T> {
    let mut g = vec![T::ZERO; width];
    for row in rows.chunks_exact(width.max(1)) {
        add_into(&mut g, row);
    }
    g
}

/// A dense row-major view of `rows x cols` starting at `offset`, with row stride `rs`.
fn dense<T>(data: &[T], offset: usize, rows: usize, cols: usize, rs: usize) -> MatRef<'_, T> {
    MatRef {
        data,
        offset,
        rows,
        cols,
        rs,
        cs: 1,
    }
}

impl<C: Cell, T: Float> CustomOp<T> for Layer<C, T> {
    fn name(&self) -> &'static str {
        "recurrent_layer"
    }

    /// Inputs: `x [T, B, I]`, the initial state parts `[B, H]` each, `w_ih [G*H, I]`, then
    /// `w_hh [G*H, H]` unless the cell has no recurrence, then the biases `[G*H]` if the
    /// layer has them. Outputs: `output [T, B, H]` and the final state parts `[B, H]` each.
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        let sl = self.slots;
        if inputs.len() != sl.count() {
            return Err(self.err(format!(
                "expected {} inputs, got {}",
                sl.count(),
                inputs.len()
            )));
        }
        // With tokens, `x` is a stride-0 placeholder: keep it as it is (never read).
        let x = if self.tokens.is_some() {
            inputs[0].clone()
        } else {
            inputs[0].contiguous()
        };
        let (steps, batch, input) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let (gn, parts) = (self.cell.gates(), sl.parts);
        let w_ih = inputs[sl.w_ih];
        let hidden = w_ih.dims()[0] / gn.max(1);
        let (gw, sw, rows) = (gn * hidden, parts * hidden, steps * batch);
        if let Some(l) = &self.lengths
            && l.len() != batch
        {
            return Err(self.err(format!("{} lengths for a batch of {batch}", l.len())));
        }
        if let Some(tok) = &self.tokens
            && tok.len() != rows
        {
            return Err(self.err(format!(
                "{} tokens for {steps} steps of a batch of {batch}",
                tok.len()
            )));
        }
        // The initial state, parts side by side per row.
        let mut s0 = vec![T::ZERO; batch * sw];
        for k in 0..parts {
            let part = inputs[1 + k].to_vec();
            for (row, src) in s0
                .chunks_exact_mut(sw.max(1))
                .zip(part.chunks_exact(hidden.max(1)))
            {
                row[k * hidden..(k + 1) * hidden].copy_from_slice(src);
            }
        }
        let h0_zero = s0
            .chunks_exact(sw.max(1))
            .all(|r| r[..hidden].iter().all(|&v| v == T::ZERO));
        let b_ih = sl.b_ih.map(|i| inputs[i].to_vec());
        let b_hh = sl.b_hh.map(|i| inputs[i].to_vec());
        let recurrence = self.cell.recurrence();
        let (bias, b_hh_sep) = match (recurrence, b_ih, b_hh) {
            (Recurrence::Joined, Some(mut a), Some(b)) => {
                add_into(&mut a, &b);
                (Some(a), None)
            }
            (_, a, b) => (a, b),
        };
        // 1. P = X W_ih^T for all steps in one GEMM (beta = 0: written whole), unless the
        //    input is tokens (looked up row by row in the recurrence instead).
        let mut gates = pool::scratch(rows * gw);
        let w_ih_t = w_ih.as_mat()?.t();
        let wt = self.tokens.as_ref().map(|_| row_major_copy(w_ih_t));
        if wt.is_none() {
            gemm(
                T::ONE,
                dense(x.storage(), x.layout().offset, rows, input, input),
                w_ih_t,
                T::ZERO,
                MatMut::row_major(&mut gates, rows, gw),
            );
        }
        // 2. The recurrence, split over threads by batch rows when that pays.
        let w_hh = sl.w_hh.map(|i| inputs[i]);
        let whh_view = w_hh.map(|w| w.as_mat()).transpose()?.map(MatRef::t);
        let (groups, whh_t) = plan(whh_view, steps, batch, gw * hidden.max(1));
        let mut states = pool::scratch(rows * sw);
        let mut kept = pool::scratch(rows * self.cell.saved() * hidden);
        let run = Run {
            hidden,
            batch,
            s0: &s0,
            h0_zero,
            whh_t: whh_t.as_ref(),
            bias: bias.as_deref(),
            b_hh: b_hh_sep.as_deref(),
            lookup: wt.as_deref().zip(self.tokens.as_deref()),
        };
        let kw = self.cell.saved() * hidden;
        let work: Vec<_> = step_rows_mut(&mut gates, steps, gw, &groups)
            .into_iter()
            .zip(step_rows_mut(&mut states, steps, sw, &groups))
            .zip(step_rows_mut(&mut kept, steps, kw, &groups))
            .zip(&groups)
            .map(|(((gt, st), kp), g)| (gt, st, kp, g.clone()))
            .collect();
        run_groups(work, |(mut gt, mut st, mut kp, g)| {
            self.recur_rows(&run, g, &mut gt, &mut st, &mut kp);
        });
        let states = Tensor::from_vec(states, &[steps, batch, sw])?;
        // The final state: each part's rows at the last processed step.
        let last = if self.reverse {
            0
        } else {
            steps.saturating_sub(1)
        };
        let st = states.as_slice().expect("built contiguous");
        let mut out = Vec::with_capacity(1 + parts);
        // The output: the `h` part, zero at inactive positions. A one-part state with no
        // lengths *is* the output: shared, not copied.
        out.push(if parts == 1 && self.lengths.is_none() {
            states.clone()
        } else {
            let mut o = pool::scratch(rows * hidden);
            for (r, (dst, src)) in o
                .chunks_exact_mut(hidden.max(1))
                .zip(st.chunks_exact(sw.max(1)))
                .enumerate()
            {
                if self.active(r / batch.max(1), r % batch.max(1)) {
                    dst.copy_from_slice(&src[..hidden]);
                } else {
                    dst.fill(T::ZERO);
                }
            }
            Tensor::from_vec(o, &[steps, batch, hidden])?
        });
        for k in 0..parts {
            let v: Vec<T> = if steps == 0 {
                s0.chunks_exact(sw.max(1))
                    .flat_map(|r| r[k * hidden..(k + 1) * hidden].iter().copied())
                    .collect()
            } else {
                st[last * batch * sw..(last + 1) * batch * sw]
                    .chunks_exact(sw.max(1))
                    .flat_map(|r| r[k * hidden..(k + 1) * hidden].iter().copied())
                    .collect()
            };
            out.push(Tensor::from_vec(v, &[batch, hidden])?);
        }
        self.saved = Some(Saved {
            steps,
            batch,
            input,
            hidden,
            x,
            s0,
            h0_zero,
            w_ih: w_ih.clone(),
            w_hh: w_hh.cloned(),
            gates,
            kept,
            states,
        });
        Ok(out)
    }

    fn backward(
        &self,
        grads_out: &[Option<&Tensor<T>>],
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let sv = self
            .saved
            .as_ref()
            .ok_or_else(|| self.err("backward before forward".into()))?;
        let sl = self.slots;
        let (steps, batch, input, hidden) = (sv.steps, sv.batch, sv.input, sv.hidden);
        let parts = sl.parts;
        let (gw, sw, kw, rows) = (
            self.cell.gates() * hidden,
            parts * hidden,
            self.cell.saved() * hidden,
            steps * batch,
        );
        let separate = self.cell.recurrence() == Recurrence::Separate;
        let g_out = grads_out[0].map(|g| g.contiguous());
        let g_out = g_out.as_ref().map(|g| g.as_slice().expect("contiguous"));
        // The final state's gradient, parts side by side.
        let mut d_last = vec![T::ZERO; batch * sw];
        for k in 0..parts {
            if let Some(g) = grads_out[1 + k] {
                let g = g.to_vec();
                for (row, src) in d_last
                    .chunks_exact_mut(sw.max(1))
                    .zip(g.chunks_exact(hidden.max(1)))
                {
                    row[k * hidden..(k + 1) * hidden].copy_from_slice(src);
                }
            }
        }
        let need_ds0 = (1..=parts).any(|k| needs[k]);
        let need_b = [sl.b_ih, sl.b_hh].iter().flatten().any(|&i| needs[i]);
        // BPTT: the gate gradients of every step (every row written), split over threads by
        // batch rows when that pays.
        let mut dp = pool::scratch(rows * gw);
        let mut dq = pool::scratch(if separate { rows * gw } else { 0 });
        let whh_view = sv.w_hh.as_ref().map(|w| w.as_mat()).transpose()?;
        let (groups, w_hh) = plan(whh_view, steps, batch, gw * hidden.max(1));
        let states = sv.states.as_slice().expect("built contiguous");
        let dq_width = if separate { gw } else { 0 };
        let work: Vec<_> = step_rows_mut(&mut dp, steps, gw, &groups)
            .into_iter()
            .zip(step_rows_mut(&mut dq, steps, dq_width, &groups))
            .zip(step_rows(&sv.gates, steps, gw, &groups))
            .zip(step_rows(&sv.kept, steps, kw, &groups))
            .zip(step_rows(states, steps, sw, &groups))
            .zip(step_rows_opt(g_out, steps, hidden, &groups))
            .zip(&groups)
            .map(|((((((dp, dq), gates), kept), st), go), g)| {
                ([dp, dq], [gates, kept, st], go, g.clone())
            })
            .collect();
        let results = run_groups(work, |([mut dp, mut dq], saved, go, g)| {
            let d = d_last[g.start * sw..g.end * sw].to_vec();
            self.bptt_rows(
                sv,
                w_hh.as_ref(),
                need_ds0,
                need_b,
                g,
                d,
                saved,
                go,
                [&mut dp, &mut dq],
            )
        });
        let mut d_s0 = Vec::with_capacity(batch * sw);
        let (mut sum_p, mut sum_q) = (Vec::new(), Vec::new());
        for (d, p, q) in results {
            d_s0.extend_from_slice(&d);
            sum_p.extend_from_slice(&p);
            sum_q.extend_from_slice(&q);
        }
        let dp_all = dense(&dp, 0, rows, gw, gw);
        // dX = dP W_ih: [T*B, G*H] x [G*H, I]. Tokens (a constant one-hot input) take none.
        let gx = (needs[0] && self.tokens.is_none())
            .then(|| -> Result<Vec<T>> {
                let mut gx = pool::scratch(rows * input);
                gemm(
                    T::ONE,
                    dp_all,
                    sv.w_ih.as_mat()?,
                    T::ZERO,
                    MatMut::row_major(&mut gx, rows, input),
                );
                Ok(gx)
            })
            .transpose()?;
        // dW_ih = dP^T X: [G*H, T*B] x [T*B, I]; for tokens, the rows of dP added by token.
        let gw_ih = needs[sl.w_ih].then(|| {
            let mut g = pool::scratch(gw * input);
            if let Some(tokens) = &self.tokens {
                let mut gt = vec![T::ZERO; input * gw];
                for (row, &tok) in dp.chunks_exact(gw.max(1)).zip(tokens) {
                    add_into(&mut gt[tok as usize * gw..(tok as usize + 1) * gw], row);
                }
                for (j, grow) in g.chunks_exact_mut(input.max(1)).enumerate() {
                    for (v, d) in grow.iter_mut().enumerate() {
                        *d = gt[v * gw + j];
                    }
                }
            } else {
                let xm = dense(sv.x.storage(), sv.x.layout().offset, rows, input, input);
                gemm(
                    T::ONE,
                    dp_all.t(),
                    xm,
                    T::ZERO,
                    MatMut::row_major(&mut g, gw, input),
                );
            }
            g
        });
        // dW_hh = sum_t dQ_t^T h_prev(t): one GEMM over the steps whose previous state is a
        // stored state, one for the step that starts from h0 (skipped when h0 is zero).
        let gw_hh = sl.w_hh.filter(|&i| needs[i]).map(|_| {
            let dqs = if separate { &dq } else { &dp };
            let mut g = pool::scratch(gw * hidden);
            if steps == 0 {
                g.fill(T::ZERO);
                return g;
            }
            let n = (steps - 1) * batch;
            // Forward: dQ_1.. pairs with h_0..; reverse: dQ_0.. pairs with h_1...
            let (dq_from, h_from) = if self.reverse { (0, batch) } else { (batch, 0) };
            gemm(
                T::ONE,
                dense(dqs, dq_from * gw, n, gw, gw).t(),
                dense(states, h_from * sw, n, hidden, sw),
                T::ZERO,
                MatMut::row_major(&mut g, gw, hidden),
            );
            if !sv.h0_zero {
                let first = if self.reverse { steps - 1 } else { 0 };
                gemm(
                    T::ONE,
                    dense(dqs, first * batch * gw, batch, gw, gw).t(),
                    dense(&sv.s0, 0, batch, hidden, sw),
                    T::ONE,
                    MatMut::row_major(&mut g, gw, hidden),
                );
            }
            g
        });
        let mut out: Vec<Option<Tensor<T>>> = vec![None; sl.count()];
        out[0] = gx
            .map(|g| Tensor::from_vec(g, &[steps, batch, input]))
            .transpose()?;
        for k in 0..parts {
            if needs[1 + k] {
                let v: Vec<T> = d_s0
                    .chunks_exact(sw.max(1))
                    .flat_map(|r| r[k * hidden..(k + 1) * hidden].iter().copied())
                    .collect();
                out[1 + k] = Some(Tensor::from_vec(v, &[batch, hidden])?);
            }
        }
        out[sl.w_ih] = gw_ih
            .map(|g| Tensor::from_vec(g, &[gw, input]))
            .transpose()?;
        if let (Some(i), Some(g)) = (sl.w_hh, gw_hh) {
            out[i] = Some(Tensor::from_vec(g, &[gw, hidden])?);
        }
        // The bias gradients: the rows' sums over the steps, added in batch order (the same
        // order whatever the thread split).
        if let Some(i) = sl.b_ih
            && needs[i]
        {
            out[i] = Some(Tensor::from_vec(col_sums(&sum_p, gw), &[gw])?);
        }
        if let Some(i) = sl.b_hh
            && needs[i]
        {
            let sums = if separate { &sum_q } else { &sum_p };
            out[i] = Some(Tensor::from_vec(col_sums(sums, gw), &[gw])?);
        }
        Ok(out)
    }
}
