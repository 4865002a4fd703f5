//! The thread-count setting of the GEMM.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// 0 means "not set": use [`default_threads`].
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// `RECUR_NUM_THREADS` if set to a positive integer, else 1. Read once.
fn default_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        std::env::var("RECUR_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(1)
    })
}

/// Sets the number of threads [`gemm`](super::gemm) may use (process-wide).
/// `set_num_threads(0)` resets to the default (see [`num_threads`]).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads [`gemm`](super::gemm) may use: the value given to
/// [`set_num_threads`], else the environment variable `RECUR_NUM_THREADS` if it holds a
/// positive integer, else 1 (by default no thread is ever spawned).
///
/// Only products of at least about 2^22 multiply-adds are split; smaller ones run on the
/// calling thread whatever this says.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}
