//! A recurrence split over threads by batch items.
//!
//! The items of a batch never meet inside a recurrent layer: row `b` of `h_t` depends only on
//! row `b` of `h_{t-1}` (and the shared weights). So the `T` sequential step products of a
//! layer run split into independent groups of rows, one per thread, with no synchronisation
//! between steps: each thread walks all `T` steps for its rows, with single-threaded products
//! (see [`gemm::serial`](recur_tensor::gemm::serial)). Splitting each step's product over
//! threads instead would meet once per step.
//!
//! Each element is computed as the serial code computes it, whatever the thread count.

use super::step_weight::StepWeight;
use core::ops::Range;
use recur_tensor::Float;
use recur_tensor::gemm::{MatRef, num_threads, serial};

/// A layer run is split into groups when its recurrence does at least this many
/// multiply-adds in all: the groups' threads are spawned once per layer run, not once per
/// product, so the bar is lower than the GEMM's own `PARALLEL_MIN_WORK`.
pub(crate) const SPLIT_MIN_WORK: usize = 1 << 22;

/// The groups of batch rows to run on separate threads: one group (no threading) unless
/// threads are allowed and the recurrence's products (`work` multiply-adds in all) are worth
/// it.
pub(crate) fn batch_groups(batch: usize, work: usize) -> Vec<Range<usize>> {
    let parts = if work >= SPLIT_MIN_WORK {
        num_threads().min(batch / 2).max(1)
    } else {
        1
    };
    (0..parts)
        .map(|g| g * batch / parts..(g + 1) * batch / parts)
        .collect()
}

/// The groups of batch rows for a layer run over `steps` steps of `batch` rows whose per-step
/// work is `row_work` multiply-adds a row.
pub(crate) fn plan(steps: usize, batch: usize, row_work: usize) -> Vec<Range<usize>> {
    batch_groups(batch, steps.saturating_mul(batch).saturating_mul(row_work))
}

/// A per-step matrix `m` (`[K, N]`, any strides) prepared for the groups' products (for
/// single-threaded products when there are several groups).
pub(crate) fn prepare<'a, T: Float>(
    m: MatRef<'a, T>,
    groups: &[Range<usize>],
    batch: usize,
) -> StepWeight<'a, T> {
    if groups.len() > 1 {
        let rows = groups.iter().map(|g| g.len()).max().unwrap_or(0);
        serial(|| StepWeight::new(m, rows))
    } else {
        StepWeight::new(m, batch)
    }
}

/// Cuts `buf` (`steps` blocks of `batch * width`, row-major rows) into each group's rows of
/// each step: `out[g][t]` holds group `g`'s rows of step `t`.
pub(crate) fn step_rows_mut<'a, T>(
    buf: &'a mut [T],
    steps: usize,
    width: usize,
    groups: &[Range<usize>],
) -> Vec<Vec<&'a mut [T]>> {
    let mut out: Vec<Vec<&'a mut [T]>> = groups.iter().map(|_| Vec::with_capacity(steps)).collect();
    let mut rest = buf;
    for _ in 0..steps {
        for (g, group) in groups.iter().enumerate() {
            let (rows, tail) = core::mem::take(&mut rest).split_at_mut(group.len() * width);
            out[g].push(rows);
            rest = tail;
        }
    }
    out
}

/// [`step_rows_mut`] for a shared buffer.
pub(crate) fn step_rows<'a, T>(
    buf: &'a [T],
    steps: usize,
    width: usize,
    groups: &[Range<usize>],
) -> Vec<Vec<&'a [T]>> {
    let mut out: Vec<Vec<&'a [T]>> = groups.iter().map(|_| Vec::with_capacity(steps)).collect();
    let mut rest = buf;
    for _ in 0..steps {
        for (g, group) in groups.iter().enumerate() {
            let (rows, tail) = rest.split_at(group.len() * width);
            out[g].push(rows);
            rest = tail;
        }
    }
    out
}

/// [`step_rows`] of an optional buffer: every group gets `None` when `buf` is `None`.
pub(crate) fn step_rows_opt<'a, T>(
    buf: Option<&'a [T]>,
    steps: usize,
    width: usize,
    groups: &[Range<usize>],
) -> Vec<Option<Vec<&'a [T]>>> {
    match buf {
        Some(b) => step_rows(b, steps, width, groups)
            .into_iter()
            .map(Some)
            .collect(),
        None => groups.iter().map(|_| None).collect(),
    }
}

/// Runs `f` on every item, the first on the calling thread and the others on scoped threads,
/// all with single-threaded products; returns the results in order. One item runs directly
/// (its products may still use threads).
pub(crate) fn run_groups<I: Send, R: Send>(items: Vec<I>, f: impl Fn(I) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let mut items = items.into_iter();
        let first = items.next().expect("at least two items");
        let handles: Vec<_> = items
            .map(|item| s.spawn(move || serial(|| f(item))))
            .collect();
        let mut out = vec![serial(|| f(first))];
        for h in handles {
            match h.join() {
                Ok(r) => out.push(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_the_batch_in_order() {
        for batch in [0, 1, 2, 3, 7, 32, 50] {
            for threads in [1, 2, 3] {
                recur_tensor::gemm::set_num_threads(threads);
                let g = batch_groups(batch, usize::MAX);
                recur_tensor::gemm::set_num_threads(0);
                assert!(!g.is_empty() && g.len() <= threads.max(1));
                assert_eq!(g[0].start, 0);
                assert_eq!(g.last().unwrap().end, batch);
                assert!(g.windows(2).all(|w| w[0].end == w[1].start));
                if g.len() > 1 {
                    assert!(g.iter().all(|r| !r.is_empty()));
                }
            }
        }
        // Small recurrences stay whole.
        assert_eq!(batch_groups(32, SPLIT_MIN_WORK - 1).len(), 1);
    }

    #[test]
    fn step_rows_partition_the_buffer() {
        let (steps, width) = (3, 2);
        let groups = [0..1, 1..4];
        let mut buf: Vec<usize> = (0..steps * 4 * width).collect();
        let parts = step_rows_mut(&mut buf, steps, width, &groups);
        assert_eq!(parts[0][2], &[16, 17]);
        assert_eq!(parts[1][1], &[10, 11, 12, 13, 14, 15]);
        let shared = step_rows(&buf, steps, width, &groups);
        assert_eq!(shared[1][0], &[2, 3, 4, 5, 6, 7]);
        assert_eq!(
            run_groups(vec![1, 2, 3], |i| i * recur_tensor::gemm::num_threads()),
            vec![1, 2, 3]
        );
    }
}
