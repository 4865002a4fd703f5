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
//! With a projection (PyTorch's LSTM `proj_size`), `h_t = m_t W_hr^T` where `m_t` is the `h`
//! the cell writes: one more product per step, forward and backward, and `dW_hr` as one GEMM.
//!
//! Variable-length batches: item `b` is active at step `t` iff `t < len_b`. An inactive item
//! keeps its state and outputs zero, so the final state is each item's state at its own last
//! valid step, and the reverse direction starts at each item's last valid element.

use super::cell::{Backward, Cell, Forward, Recurrence};
use super::split::{plan, prepare, run_groups, step_rows, step_rows_mut, step_rows_opt};
use super::step_weight::{StepWeight, row_major_copy};
use core::ops::Range;
use recur_autograd::{AutogradError, CustomOp, Result};
use recur_tensor::gemm::{MatMut, MatRef, gemm};
use recur_tensor::vmath::vectorized;
use recur_tensor::{Float, Tensor, pool};

/// Where each input sits in the node's input list:
/// `x, s0 parts..., w_ih, [w_hh], [b_ih, [b_hh]], [w_hr]`.
#[derive(Clone, Copy, Debug)]
struct Slots {
    parts: usize,
    w_ih: usize,
    w_hh: Option<usize>,
    b_ih: Option<usize>,
    b_hh: Option<usize>,
    w_hr: Option<usize>,
}

impl Slots {
    fn new<C: Cell>(has_bias: bool, proj: bool) -> Self {
        let parts = C::STATE_PARTS;
        let w_ih = 1 + parts;
        let hh = C::RECURRENCE != Recurrence::None;
        let w_hh = hh.then_some(w_ih + 1);
        let b_ih = has_bias.then_some(w_ih + 1 + usize::from(hh));
        let b_hh = b_ih.filter(|_| hh).map(|b| b + 1);
        let last = [w_hh, b_ih, b_hh]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(w_ih);
        Slots {
            parts,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            w_hr: proj.then_some(last + 1),
        }
    }
    fn count(&self) -> usize {
        let optional = [self.w_hh, self.b_ih, self.b_hh, self.w_hr];
        1 + self.parts + 1 + optional.iter().flatten().count()
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
    /// The initial state, `[B, P*H]` (its `h` part unused with a projection).
    s0: Vec<T>,
    /// The projected `h0`, `[B, R]` (`R` = `proj_size`), with a projection.
    h0p: Vec<T>,
    /// Whether the initial `h` is all zeros (its products are skipped).
    h0_zero: bool,
    w_ih: Tensor<T>,
    w_hh: Option<Tensor<T>>,
    w_hr: Option<Tensor<T>>,
    /// The projected states `h_t`, `[T, B, R]`, with a projection.
    hs: Vec<T>,
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
    h0p: &'a [T],
    h0_zero: bool,
    whh_t: Option<&'a StepWeight<'a, T>>,
    /// `W_hr^T`, with a projection.
    whr_t: Option<&'a StepWeight<'a, T>>,
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
        proj: bool,
        lengths: Option<Vec<usize>>,
        tokens: Option<Vec<u32>>,
    ) -> Self {
        Layer {
            slots: Slots::new::<C>(has_bias, proj),
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
            op: format!("{}_layer", C::NAME.to_lowercase()),
            msg,
        }
    }

    /// The forward recurrence for batch rows `g`: `gates[t]` holds their `P_t` and becomes
    /// what the cell leaves there; their states go to `states[t]` (and the projected `h_t` to
    /// `hs[t]`) and the cell's saved blocks to `kept[t]`.
    fn recur_rows(
        &self,
        run: &Run<'_, T>,
        g: Range<usize>,
        gates: &mut [&mut [T]],
        states: &mut [&mut [T]],
        hs: &mut [&mut [T]],
        kept: &mut [&mut [T]],
    ) {
        let steps = gates.len();
        let (h, rows) = (run.hidden, g.len());
        let gw = C::GATES * h;
        let sw = self.slots.parts * h;
        let s0 = &run.s0[g.start * sw..g.end * sw];
        let rw = run.h0p.len() / run.batch.max(1);
        let h0p = &run.h0p[g.start * rw..g.end * rw];
        let separate = C::RECURRENCE == Recurrence::Separate;
        let mut q = if separate {
            vec![T::ZERO; rows * gw]
        } else {
            Vec::new()
        };
        // Contiguous copies of strided `h` rows for the per-step products (see `compact`).
        let (mut hbuf, mut mbuf) = (Vec::new(), Vec::new());
        for s in 0..steps {
            let (t, prev_t) = self.order(steps, s);
            let (prev, next) = neighbours(states, t, prev_t, s0);
            // The `h` the recurrent product reads: the projected one, or the state's own.
            let (h_prev, h_rs): (&[T], usize) = match (run.whr_t, prev_t) {
                (None, _) => compact(prev, sw, h, rows, &mut hbuf),
                (Some(_), None) => (h0p, rw),
                (Some(_), Some(p)) => (&*hs[p], rw),
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
                        w.apply(h_prev, h_rs, rows, T::ONE, &mut q, gw);
                    }
                } else if !skip {
                    w.apply(h_prev, h_rs, rows, T::ONE, gt, gw);
                }
            }
            // The cell's element-wise math, compiled for the CPU's vector width.
            vectorized(
                #[inline(always)]
                || {
                    self.cell.forward(Forward {
                        hidden: h,
                        rows,
                        gates: gt,
                        hidden_gates: &q,
                        prev,
                        next: &mut *next,
                        saved: &mut *kept[t],
                    })
                },
            );
            if let Some(w) = run.whr_t {
                // h_t = m_t W_hr^T, from the `h` the cell wrote.
                let (m, m_rs) = compact(next, sw, h, rows, &mut mbuf);
                w.apply(m, m_rs, rows, T::ZERO, &mut *hs[t], rw);
            }
            if self.lengths.is_some() {
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        next[i * sw..(i + 1) * sw].copy_from_slice(&prev[i * sw..(i + 1) * sw]);
                        if run.whr_t.is_some() {
                            let (from, to) = neighbours(hs, t, prev_t, h0p);
                            to[i * rw..(i + 1) * rw].copy_from_slice(&from[i * rw..(i + 1) * rw]);
                        }
                    }
                }
            }
        }
    }

    /// BPTT for batch rows `g`, from `d_state` (their gradient w.r.t. the last state) and,
    /// with a projection, `d_h` (w.r.t. the last projected `h`), through all steps: fills their
    /// rows of `d_gates` (and `d_hidden`, and `d_hs` with a projection) and returns their
    /// gradients w.r.t. the initial state (and projected `h0`) and, with `sums`, each row's
    /// gate gradients summed over the steps (input side, then hidden side). Without
    /// `need_ds0` the last product is skipped and the returned state gradients are
    /// meaningless.
    #[allow(clippy::too_many_arguments)]
    fn bptt_rows(
        &self,
        sv: &Saved<T>,
        [w_hh, w_hr]: [Option<&StepWeight<'_, T>>; 2],
        need_ds0: bool,
        sums: bool,
        g: Range<usize>,
        (mut d_state, mut d_h): (Vec<T>, Vec<T>),
        [gates, kept, states]: [Vec<&[T]>; 3],
        g_out: Option<Vec<&[T]>>,
        [d_gates, d_hidden, d_hs]: [&mut [&mut [T]]; 3],
    ) -> [Vec<T>; 4] {
        let steps = gates.len();
        let (h, rows) = (sv.hidden, g.len());
        let gw = C::GATES * h;
        let sw = self.slots.parts * h;
        let rw = sv.h0p.len() / sv.batch.max(1);
        let s0 = &sv.s0[g.start * sw..g.end * sw];
        let separate = C::RECURRENCE == Recurrence::Separate;
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
        // The gradient w.r.t. the `h` the recurrence reads (and outputs): the projected one,
        // or the `h` part of the state (row stride `sw`).
        let (dh_w, dh_rs) = if w_hr.is_some() { (rw, rw) } else { (h, sw) };
        let dhw = if w_hr.is_some() { rw } else { 0 };
        let mut stash = Vec::new();
        let mut dbuf = Vec::new();
        for s in (0..steps).rev() {
            let (t, prev_t) = self.order(steps, s);
            let prev = prev_t.map_or(s0, |p| states[p]);
            {
                let dh: &mut [T] = if w_hr.is_some() {
                    &mut d_h
                } else {
                    &mut d_state
                };
                if let Some(go) = &g_out {
                    for (i, b) in g.clone().enumerate() {
                        if self.active(t, b) {
                            let d = &mut dh[i * dh_rs..i * dh_rs + dh_w];
                            add_into(d, &go[t][i * dh_w..(i + 1) * dh_w]);
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
                        stash.extend_from_slice(&d_h[i * dhw..(i + 1) * dhw]);
                    }
                }
            }
            if let Some(w) = w_hr {
                // dm_t = dh_t W_hr, into the `h` part the cell reads; dh_t kept for dW_hr.
                let dht = &mut *d_hs[t];
                dht.copy_from_slice(&d_h);
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        dht[i * rw..(i + 1) * rw].fill(T::ZERO);
                    }
                }
                apply_into_h(w, &d_h, rw, rows, &mut d_state, sw, h, false, &mut dbuf);
            }
            let (dpt, dqt) = (&mut *d_gates[t], &mut *d_hidden[t]);
            vectorized(
                #[inline(always)]
                || {
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
                    })
                },
            );
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
                if w_hr.is_some() {
                    // The projected h_{t-1} feeds step t only through W_hh.
                    w.apply(dq, gw, rows, T::ZERO, &mut d_h, rw);
                } else {
                    apply_into_h(w, dq, gw, rows, &mut d_state, sw, h, true, &mut dbuf);
                }
            }
            if self.lengths.is_some() {
                let mut from = stash.chunks_exact((sw + dhw).max(1));
                for (i, b) in g.clone().enumerate() {
                    if !self.active(t, b) {
                        let row = from.next().expect("one stashed row per inactive item");
                        d_state[i * sw..(i + 1) * sw].copy_from_slice(&row[..sw]);
                        if w_hr.is_some() {
                            d_h[i * rw..(i + 1) * rw].copy_from_slice(&row[sw..]);
                        }
                    }
                }
            }
        }
        [d_state, d_h, sum_p, sum_q]
    }
}

/// `rows` rows of `width` from `src` (row stride `rs`) as a contiguous matrix: `src` itself
/// when it is one, else a copy in `buf`. A product reading `h` out of `[h | c]` rows would
/// read rows `P*H` apart, 4 KiB for an LSTM of hidden size 512: every row in the same L1 set.
fn compact<'b, T: Float>(
    src: &'b [T],
    rs: usize,
    width: usize,
    rows: usize,
    buf: &'b mut Vec<T>,
) -> (&'b [T], usize) {
    if rs == width {
        return (src, rs);
    }
    buf.clear();
    for r in 0..rows {
        buf.extend_from_slice(&src[r * rs..r * rs + width]);
    }
    (buf, width)
}

/// `h(out) (+)= x · M` where `h(out)` is the first `width` columns of `out`'s rows (stride
/// `rs`), through a contiguous buffer when `out` has other parts (see [`compact`]).
#[allow(clippy::too_many_arguments)]
fn apply_into_h<T: Float>(
    w: &StepWeight<'_, T>,
    x: &[T],
    x_rs: usize,
    rows: usize,
    out: &mut [T],
    rs: usize,
    width: usize,
    accumulate: bool,
    buf: &mut Vec<T>,
) {
    let beta = if accumulate { T::ONE } else { T::ZERO };
    if rs == width {
        w.apply(x, x_rs, rows, beta, out, rs);
        return;
    }
    buf.clear();
    buf.resize(rows * width, T::ZERO);
    w.apply(x, x_rs, rows, T::ZERO, buf, width);
    for (dst, src) in out.chunks_exact_mut(rs).zip(buf.chunks_exact(width)) {
        if accumulate {
            add_into(&mut dst[..width], src);
        } else {
            dst[..width].copy_from_slice(src);
        }
    }
}

/// The previous state (`s0` at the first step) and this step's state, borrowed apart.
fn neighbours<'a, T>(
    states: &'a mut [&mut [T]],
    t: usize,
    prev_t: Option<usize>,
    s0: &'a [T],
) -> (&'a [T], &'a mut [T]) {
    match prev_t {
        None => (s0, &mut *states[t]),
        Some(p) if p < t => {
            let (a, b) = states.split_at_mut(t);
            (&*a[p], &mut *b[0])
        }
        Some(p) => {
            let (a, b) = states.split_at_mut(p);
            (&*b[0], &mut *a[t])
        }
    }
}

/// Adds `b` to every row of `rows` (rows of `b.len()`).
fn add_rows<T: Float>(rows: &mut [T], b: &[T]) {
    vectorized(
        #[inline(always)]
        || {
            for row in rows.chunks_exact_mut(b.len().max(1)) {
                for (z, &v) in row.iter_mut().zip(b) {
                    *z += v;
                }
            }
        },
    )
}

/// `acc += v`, element by element.
fn add_into<T: Float>(acc: &mut [T], v: &[T]) {
    vectorized(
        #[inline(always)]
        || {
            for (a, &x) in acc.iter_mut().zip(v) {
                *a += x;
            }
        },
    )
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

/// Rows `[start, start + width)` of each row (`row_width` wide) of `src`, gathered.
fn columns<T: Float>(src: &[T], row_width: usize, start: usize, width: usize) -> Vec<T> {
    src.chunks_exact(row_width.max(1))
        .flat_map(|r| r[start..start + width].iter().copied())
        .collect()
}

impl<C: Cell, T: Float> CustomOp<T> for Layer<C, T> {
    fn name(&self) -> &'static str {
        "recurrent_layer"
    }

    /// Inputs: `x [T, B, I]`, the initial state parts `[B, H]` each (`h0` `[B, R]` with a
    /// projection), `w_ih [G*H, I]`, then `w_hh [G*H, R or H]` unless the cell has no
    /// recurrence, the biases `[G*H]` if the layer has them, and `w_hr [R, H]` with a
    /// projection. Outputs: `output [T, B, R or H]` and the final state parts.
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
        let parts = sl.parts;
        let w_ih = inputs[sl.w_ih];
        let hidden = w_ih.dims()[0] / C::GATES.max(1);
        let w_hr = sl.w_hr.map(|i| inputs[i]);
        // R: the width of the `h` the recurrence reads and outputs.
        let rw = w_hr.map_or(hidden, |w| w.dims()[0]);
        let (gw, sw, rows) = (C::GATES * hidden, parts * hidden, steps * batch);
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
        // The initial state, parts side by side per row; a projected h0 apart.
        let mut s0 = vec![T::ZERO; batch * sw];
        let first_native = usize::from(w_hr.is_some());
        for k in first_native..parts {
            let part = inputs[1 + k].to_vec();
            for (row, src) in s0
                .chunks_exact_mut(sw.max(1))
                .zip(part.chunks_exact(hidden.max(1)))
            {
                row[k * hidden..(k + 1) * hidden].copy_from_slice(src);
            }
        }
        let h0p = if w_hr.is_some() {
            inputs[1].to_vec()
        } else {
            Vec::new()
        };
        let h0_zero = if w_hr.is_some() {
            h0p.iter().all(|&v| v == T::ZERO)
        } else {
            s0.chunks_exact(sw.max(1))
                .all(|r| r[..hidden].iter().all(|&v| v == T::ZERO))
        };
        let b_ih = sl.b_ih.map(|i| inputs[i].to_vec());
        let b_hh = sl.b_hh.map(|i| inputs[i].to_vec());
        let (bias, b_hh_sep) = match (C::RECURRENCE, b_ih, b_hh) {
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
        let groups = plan(steps, batch, gw * rw.max(1));
        let whh_t = w_hh
            .map(|w| w.as_mat())
            .transpose()?
            .map(|m| prepare(m.t(), &groups, batch));
        let whr_t = w_hr
            .map(|w| w.as_mat())
            .transpose()?
            .map(|m| prepare(m.t(), &groups, batch));
        let mut states = pool::scratch(rows * sw);
        let mut hs = pool::scratch(if w_hr.is_some() { rows * rw } else { 0 });
        let kw = C::SAVED * hidden;
        let mut kept = pool::scratch(rows * kw);
        let run = Run {
            hidden,
            batch,
            s0: &s0,
            h0p: &h0p,
            h0_zero,
            whh_t: whh_t.as_ref(),
            whr_t: whr_t.as_ref(),
            bias: bias.as_deref(),
            b_hh: b_hh_sep.as_deref(),
            lookup: wt.as_deref().zip(self.tokens.as_deref()),
        };
        let hs_w = if w_hr.is_some() { rw } else { 0 };
        let work: Vec<_> = step_rows_mut(&mut gates, steps, gw, &groups)
            .into_iter()
            .zip(step_rows_mut(&mut states, steps, sw, &groups))
            .zip(step_rows_mut(&mut hs, steps, hs_w, &groups))
            .zip(step_rows_mut(&mut kept, steps, kw, &groups))
            .zip(&groups)
            .map(|((((gt, st), hp), kp), g)| (gt, st, hp, kp, g.clone()))
            .collect();
        run_groups(work, |(mut gt, mut st, mut hp, mut kp, g)| {
            self.recur_rows(&run, g, &mut gt, &mut st, &mut hp, &mut kp);
        });
        // The `h` sequence the outputs come from: the projected one, or the state's part.
        let (hsrc, hsrc_w): (&[T], usize) = if w_hr.is_some() {
            (&hs, rw)
        } else {
            (&states, sw)
        };
        let last = if self.reverse {
            0
        } else {
            steps.saturating_sub(1)
        };
        // Row block `last` of a buffer of `w`-wide rows.
        fn last_block<T>(buf: &[T], last: usize, batch: usize, w: usize) -> &[T] {
            &buf[last * batch * w..(last + 1) * batch * w]
        }
        let mut out = Vec::with_capacity(1 + parts);
        // The output: the `h`, zero at inactive positions (a plain one-part state with no
        // lengths is the output itself: shared below, not copied).
        let shared = parts == 1 && w_hr.is_none() && self.lengths.is_none();
        if !shared {
            let mut o = columns(hsrc, hsrc_w, 0, rw);
            for (r, dst) in o.chunks_exact_mut(rw.max(1)).enumerate() {
                if !self.active(r / batch.max(1), r % batch.max(1)) {
                    dst.fill(T::ZERO);
                }
            }
            out.push(Tensor::from_vec(o, &[steps, batch, rw])?);
        }
        // The final state: each part's rows at the last processed step (the initial state
        // for zero steps).
        let (h_last, h_last_w): (&[T], usize) = match (steps, w_hr.is_some()) {
            (0, true) => (&h0p, rw),
            (0, false) => (&s0, sw),
            _ => (last_block(hsrc, last, batch, hsrc_w), hsrc_w),
        };
        out.push(Tensor::from_vec(
            columns(h_last, h_last_w, 0, rw),
            &[batch, rw],
        )?);
        let native_last = if steps == 0 {
            &s0[..]
        } else {
            last_block(&states, last, batch, sw)
        };
        for k in 1..parts {
            out.push(Tensor::from_vec(
                columns(native_last, sw, k * hidden, hidden),
                &[batch, hidden],
            )?);
        }
        let states = Tensor::from_vec(states, &[steps, batch, sw])?;
        if shared {
            out.insert(0, states.clone());
        }
        self.saved = Some(Saved {
            steps,
            batch,
            input,
            hidden,
            x,
            s0,
            h0p,
            h0_zero,
            w_ih: w_ih.clone(),
            w_hh: w_hh.cloned(),
            w_hr: w_hr.cloned(),
            hs,
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
        let proj = sv.w_hr.is_some();
        let rw = sv.w_hr.as_ref().map_or(hidden, |w| w.dims()[0]);
        let (gw, sw, kw, rows) = (
            C::GATES * hidden,
            parts * hidden,
            C::SAVED * hidden,
            steps * batch,
        );
        let separate = C::RECURRENCE == Recurrence::Separate;
        let g_out = grads_out[0].map(|g| g.contiguous());
        let g_out = g_out.as_ref().map(|g| g.as_slice().expect("contiguous"));
        // The final state's gradient: native parts side by side, a projected h apart.
        let mut d_last = vec![T::ZERO; batch * sw];
        let mut dh_last = vec![T::ZERO; if proj { batch * rw } else { 0 }];
        for k in 0..parts {
            if let Some(g) = grads_out[1 + k] {
                let g = g.to_vec();
                if k == 0 && proj {
                    dh_last.copy_from_slice(&g);
                    continue;
                }
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
        let dq_w = if separate { gw } else { 0 };
        let mut dq = pool::scratch(rows * dq_w);
        let dhs_w = if proj { rw } else { 0 };
        let mut dhs = pool::scratch(rows * dhs_w);
        let groups = plan(steps, batch, gw * rw.max(1));
        let w_hh = sv
            .w_hh
            .as_ref()
            .map(|w| w.as_mat())
            .transpose()?
            .map(|m| prepare(m, &groups, batch));
        let w_hr = sv
            .w_hr
            .as_ref()
            .map(|w| w.as_mat())
            .transpose()?
            .map(|m| prepare(m, &groups, batch));
        let states = sv.states.as_slice().expect("built contiguous");
        let work: Vec<_> = step_rows_mut(&mut dp, steps, gw, &groups)
            .into_iter()
            .zip(step_rows_mut(&mut dq, steps, dq_w, &groups))
            .zip(step_rows_mut(&mut dhs, steps, dhs_w, &groups))
            .zip(step_rows(&sv.gates, steps, gw, &groups))
            .zip(step_rows(&sv.kept, steps, kw, &groups))
            .zip(step_rows(states, steps, sw, &groups))
            .zip(step_rows_opt(g_out, steps, rw, &groups))
            .zip(&groups)
            .map(|(((((((dp, dq), dh), gates), kept), st), go), g)| {
                ([dp, dq, dh], [gates, kept, st], go, g.clone())
            })
            .collect();
        let results = run_groups(work, |([mut dp, mut dq, mut dh], saved, go, g)| {
            let d = d_last[g.start * sw..g.end * sw].to_vec();
            let dhp = dh_last[g.start * dhs_w..g.end * dhs_w].to_vec();
            self.bptt_rows(
                sv,
                [w_hh.as_ref(), w_hr.as_ref()],
                need_ds0,
                need_b,
                g,
                (d, dhp),
                saved,
                go,
                [&mut dp, &mut dq, &mut dh],
            )
        });
        let (mut d_s0, mut d_h0) = (Vec::with_capacity(batch * sw), Vec::new());
        let (mut sum_p, mut sum_q) = (Vec::new(), Vec::new());
        for [d, dh, p, q] in results {
            d_s0.extend_from_slice(&d);
            d_h0.extend_from_slice(&dh);
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
        // The `h` sequence as a contiguous matrix for the weight-gradient GEMMs (see
        // `compact`): the projected one, or the states' `h` parts.
        let mut hcopy = Vec::new();
        let (hparts, hparts_w) = compact(states, sw, hidden, rows, &mut hcopy);
        let (hsrc, hsrc_w, h0src, h0_w): (&[T], usize, &[T], usize) = if proj {
            (&sv.hs, rw, &sv.h0p, rw)
        } else {
            (hparts, hparts_w, &sv.s0, sw)
        };
        let gw_hh = sl.w_hh.filter(|&i| needs[i]).map(|_| {
            let dqs = if separate { &dq } else { &dp };
            let mut g = pool::scratch(gw * rw);
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
                dense(hsrc, h_from * hsrc_w, n, rw, hsrc_w),
                T::ZERO,
                MatMut::row_major(&mut g, gw, rw),
            );
            if !sv.h0_zero {
                let first = if self.reverse { steps - 1 } else { 0 };
                gemm(
                    T::ONE,
                    dense(dqs, first * batch * gw, batch, gw, gw).t(),
                    dense(h0src, 0, batch, rw, h0_w),
                    T::ONE,
                    MatMut::row_major(&mut g, gw, rw),
                );
            }
            g
        });
        // dW_hr = sum_t dh_t^T m_t: [R, T*B] x [T*B, H], one GEMM.
        let gw_hr = sl.w_hr.filter(|&i| needs[i]).map(|_| {
            let mut g = pool::scratch(rw * hidden);
            gemm(
                T::ONE,
                dense(&dhs, 0, rows, rw, rw).t(),
                dense(hparts, 0, rows, hidden, hparts_w),
                T::ZERO,
                MatMut::row_major(&mut g, rw, hidden),
            );
            g
        });
        let mut out: Vec<Option<Tensor<T>>> = vec![None; sl.count()];
        out[0] = gx
            .map(|g| Tensor::from_vec(g, &[steps, batch, input]))
            .transpose()?;
        for k in 0..parts {
            if needs[1 + k] {
                out[1 + k] = Some(if k == 0 && proj {
                    Tensor::from_vec(d_h0.clone(), &[batch, rw])?
                } else {
                    Tensor::from_vec(columns(&d_s0, sw, k * hidden, hidden), &[batch, hidden])?
                });
            }
        }
        out[sl.w_ih] = gw_ih
            .map(|g| Tensor::from_vec(g, &[gw, input]))
            .transpose()?;
        if let (Some(i), Some(g)) = (sl.w_hh, gw_hh) {
            out[i] = Some(Tensor::from_vec(g, &[gw, rw])?);
        }
        if let (Some(i), Some(g)) = (sl.w_hr, gw_hr) {
            out[i] = Some(Tensor::from_vec(g, &[rw, hidden])?);
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
