//! The thread-count setting of the GEMM.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    /// Set by [`serial`]: products on this thread stay on it.
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

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
/// Only products of at least about 2^25 multiply-adds are split; smaller ones run on the
/// calling thread whatever this says. Inside [`serial`] this is 1.
pub fn num_threads() -> usize {
    if SERIAL.with(Cell::get) {
        return 1;
    }
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

/// Runs `f` with every product on the current thread kept on it ([`num_threads`] reads 1
/// there), then restores the setting, also if `f` panics.
///
/// For callers that split work over threads themselves: each of their threads computes its
/// share with single-threaded products instead of splitting them once more.
///
/// ```
/// use recur_tensor::gemm::{num_threads, serial, set_num_threads};
/// set_num_threads(2);
/// assert_eq!(serial(num_threads), 1);
/// assert_eq!(num_threads(), 2);
/// set_num_threads(0);
/// ```
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SERIAL.with(|s| s.replace(true)));
    f()
}
