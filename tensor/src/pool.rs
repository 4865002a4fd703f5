//! Recycling of large buffers between training steps.
//!
//! A training step allocates the same large buffers every time (activations, gradients,
//! GEMM outputs of a few MB) and frees them all when its tape is dropped. Through `malloc`
//! each of those is a fresh `mmap`: the kernel zeroes every page on first touch and unmaps it
//! on free, and that churn cost a quarter of a small RNN step. So tensor storage does not go
//! back to `malloc` when it is dropped: large buffers go to a small per-thread pool instead,
//! and [`buffer`] / [`zeroed`] / [`filled`] hand them out again.
//!
//! Only buffers of at least [`MIN_BYTES`] are kept, at most [`MAX_BUFFERS`] of them and
//! [`MAX_BYTES`] in all per thread and element type (the oldest go first), so the pool adds
//! at most a step's worth of buffers to the peak memory of a program that reuses them.

use crate::Float;
use std::collections::VecDeque;

/// Smaller buffers are left to `malloc`, which recycles them well.
pub const MIN_BYTES: usize = 64 * 1024;
/// Buffers kept per thread and element type.
pub const MAX_BUFFERS: usize = 64;
/// Bytes kept per thread and element type.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The free buffers of one thread and element type.
#[derive(Debug, Default)]
pub struct Pool<T> {
    free: VecDeque<Vec<T>>,
    bytes: usize,
}

impl<T: Float> Pool<T> {
    fn put(&mut self, v: Vec<T>) {
        let size = v.capacity() * core::mem::size_of::<T>();
        if !(MIN_BYTES..=MAX_BYTES).contains(&size) {
            return;
        }
        while self.free.len() >= MAX_BUFFERS || self.bytes + size > MAX_BYTES {
            match self.free.pop_front() {
                Some(old) => self.bytes -= old.capacity() * core::mem::size_of::<T>(),
                None => return,
            }
        }
        self.bytes += size;
        self.free.push_back(v);
    }

    /// The smallest free buffer with room for `n` elements but not more than twice that.
    fn take(&mut self, n: usize) -> Option<Vec<T>> {
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= n && v.capacity() <= 2 * n)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i)?;
        let v = self.free.remove(best)?;
        self.bytes -= v.capacity() * core::mem::size_of::<T>();
        Some(v)
    }
}

/// Gives `v`'s allocation to this thread's pool (or frees it if it is small or the pool full).
pub(crate) fn recycle<T: Float>(v: Vec<T>) {
    if v.capacity() * core::mem::size_of::<T>() >= MIN_BYTES {
        T::with_pool(|p| p.put(v));
    }
}

/// A pooled buffer with room for `n` elements (not more than twice that), if `n` is large
/// enough to be pooled and the pool has one. Its length and values are the old ones.
fn pooled<T: Float>(n: usize) -> Option<Vec<T>> {
    if n * core::mem::size_of::<T>() >= MIN_BYTES {
        T::with_pool(|p| p.take(n))
    } else {
        None
    }
}

/// An empty vector with room for at least `n` elements, from the pool when it has one.
///
/// ```
/// let mut v = recur_tensor::pool::buffer::<f32>(100_000);
/// assert!(v.is_empty() && v.capacity() >= 100_000);
/// v.extend((0..100_000).map(|i| i as f32));
/// ```
pub fn buffer<T: Float>(n: usize) -> Vec<T> {
    match pooled(n) {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(n),
    }
}

/// `n` elements whose values are unspecified (a recycled buffer's old values, else zeros),
/// for callers that overwrite every element: a reused buffer is then not written twice.
///
/// ```
/// let mut v = recur_tensor::pool::scratch::<f32>(5);
/// assert_eq!(v.len(), 5);
/// v.fill(1.0);
/// ```
pub fn scratch<T: Float>(n: usize) -> Vec<T> {
    match pooled(n) {
        Some(mut v) => {
            if v.len() >= n {
                v.truncate(n);
            } else {
                v.resize(n, T::ZERO);
            }
            v
        }
        // A zeroed allocation: large ones come from the OS already zero (no pass over them).
        None => vec![T::ZERO; n],
    }
}

/// `n` copies of `value`, in a buffer from the pool when it has one.
///
/// ```
/// assert_eq!(recur_tensor::pool::filled(3, 2.5f64), vec![2.5; 3]);
/// ```
pub fn filled<T: Float>(n: usize, value: T) -> Vec<T> {
    match pooled(n) {
        Some(mut v) => {
            v.clear();
            v.resize(n, value);
            v
        }
        // For zeros, a zeroed allocation: large ones come from the OS already zero.
        None => vec![value; n],
    }
}

/// `n` zeros, in a buffer from the pool when it has one.
///
/// ```
/// assert_eq!(recur_tensor::pool::zeroed::<f32>(4), vec![0.0; 4]);
/// ```
pub fn zeroed<T: Float>(n: usize) -> Vec<T> {
    filled(n, T::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycles_large_buffers_only() {
        let n = MIN_BYTES / 4;
        let v: Vec<f32> = vec![1.0; n];
        let ptr = v.as_ptr();
        recycle(v);
        let w = zeroed::<f32>(n);
        assert_eq!(w.as_ptr(), ptr, "the recycled allocation is reused");
        assert!(w.iter().all(|&x| x == 0.0), "and handed out zeroed");
        // Too small to keep; and a request far smaller than a pooled buffer does not take it.
        recycle(vec![1.0f32; 8]);
        recycle(w);
        let small = buffer::<f32>(16);
        assert_ne!(small.as_ptr(), ptr);
        let again = buffer::<f32>(n);
        assert_eq!(again.as_ptr(), ptr);
        // `scratch` keeps a recycled buffer's values instead of rewriting them.
        let mut full = again;
        full.resize(2 * n, 3.0);
        let ptr2 = full.as_ptr();
        recycle(full);
        let s = scratch::<f32>(2 * n - 1);
        assert_eq!((s.as_ptr(), s.len()), (ptr2, 2 * n - 1));
        assert!(s.iter().all(|&x| x == 3.0));
        assert_eq!(scratch::<f32>(3).len(), 3);
    }

    #[test]
    fn the_pool_is_bounded() {
        let n = MIN_BYTES / 8;
        for _ in 0..2 * MAX_BUFFERS {
            recycle(vec![0.0f64; n]);
        }
        f64::with_pool(|p| {
            assert!(p.free.len() <= MAX_BUFFERS && p.bytes <= MAX_BYTES);
        });
        // A buffer larger than the whole budget is freed, not kept.
        recycle(vec![0.0f64; MAX_BYTES / 8 + 1]);
        f64::with_pool(|p| assert!(p.bytes <= MAX_BYTES));
    }
}
