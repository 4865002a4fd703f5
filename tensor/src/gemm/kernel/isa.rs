//! CPU detection: the one place that decides which instruction set the GEMM, the
//! vector-matrix path and [`vmath`](crate::vmath) use.
//!
//! The choice is the best instruction set the CPU supports, capped by the environment
//! variable `RECUR_GEMM_ISA` (read once) and by [`with_isa_cap`] on the calling thread.

use std::cell::Cell;
use std::sync::OnceLock;

/// An instruction set with its own kernels, in increasing order of width.
///
/// ```
/// use recur_tensor::gemm::{Isa, isa, with_isa_cap};
/// assert!(Isa::Portable < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
/// assert_eq!(with_isa_cap(Isa::Portable, isa), Isa::Portable);
/// assert!(isa() <= Isa::Avx512);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain Rust, on every target.
    Portable,
    /// x86-64 AVX2 with FMA (256-bit vectors).
    Avx2,
    /// x86-64 AVX-512F (512-bit vectors, mask registers).
    Avx512,
}

impl Isa {
    /// The name used by `RECUR_GEMM_ISA` and [`kernel_name`](crate::gemm::kernel_name):
    /// `"portable"`, `"avx2"` or `"avx512"`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Parses [`Isa::name`]'s spelling (surrounding whitespace and case ignored).
    pub fn parse(s: &str) -> Option<Isa> {
        [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether this CPU (and OS) can run the instruction set.
    pub fn is_supported(self) -> bool {
        self <= best()
    }
}

impl core::fmt::Display for Isa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The widest instruction set this CPU supports; detected once.
fn best() -> Isa {
    static BEST: OnceLock<Isa> = OnceLock::new();
    *BEST.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if super::Avx512::detect().is_some() {
                return Isa::Avx512;
            }
            if super::Avx2::detect().is_some() {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    })
}

/// The cap set by `RECUR_GEMM_ISA` (`portable`, `avx2`, `avx512`; unset or anything else:
/// no cap); read once.
fn env_cap() -> Isa {
    static CAP: OnceLock<Isa> = OnceLock::new();
    *CAP.get_or_init(|| {
        std::env::var("RECUR_GEMM_ISA")
            .ok()
            .and_then(|v| Isa::parse(&v))
            .unwrap_or(Isa::Avx512)
    })
}

thread_local! {
    /// Set by [`with_isa_cap`] for the calling thread.
    static THREAD_CAP: Cell<Isa> = const { Cell::new(Isa::Avx512) };
}

/// The best of this CPU's instruction sets that is at most `cap`.
pub fn detect(cap: Isa) -> Isa {
    best().min(cap)
}

/// The instruction set products and [`vmath`](crate::vmath) use on this thread now: the
/// best the CPU supports, capped by `RECUR_GEMM_ISA` and [`with_isa_cap`].
pub fn isa() -> Isa {
    detect(env_cap().min(THREAD_CAP.with(Cell::get)))
}

/// Runs `f` with the instruction set of this thread's products and elementwise math capped
/// at `cap` (on top of `RECUR_GEMM_ISA`), then restores the previous cap, also if `f`
/// panics. For tests and benchmarks that compare the kernels of one CPU in one process.
///
/// A [`PackedLhs`](crate::gemm::PackedLhs) keeps the kernel it was packed for.
///
/// ```
/// use recur_tensor::gemm::{Isa, gemm, MatMut, MatRef, with_isa_cap};
/// let a = [1.0f32, 2.0, 3.0, 4.0];
/// let mut c = [0.0f32; 4];
/// with_isa_cap(Isa::Avx2, || {
///     gemm(1.0, MatRef::row_major(&a, 2, 2), MatRef::row_major(&a, 2, 2), 0.0,
///          MatMut::row_major(&mut c, 2, 2));
/// });
/// assert_eq!(c, [7.0, 10.0, 15.0, 22.0]);
/// ```
pub fn with_isa_cap<R>(cap: Isa, f: impl FnOnce() -> R) -> R {
    struct Restore(Isa);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_CAP.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(THREAD_CAP.with(|c| c.replace(cap)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for i in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
            assert_eq!(Isa::parse(i.name()), Some(i));
            assert_eq!(
                Isa::parse(&format!(" {} ", i.name().to_uppercase())),
                Some(i)
            );
        }
        assert_eq!(Isa::parse("sse2"), None);
    }

    #[test]
    fn caps_nest_and_restore() {
        let outer = isa();
        with_isa_cap(Isa::Avx2, || {
            assert!(isa() <= Isa::Avx2);
            with_isa_cap(Isa::Portable, || assert_eq!(isa(), Isa::Portable));
            assert_eq!(isa(), detect(env_cap().min(Isa::Avx2)));
        });
        assert_eq!(isa(), outer);
        assert!(detect(Isa::Avx512).is_supported());
    }
}
