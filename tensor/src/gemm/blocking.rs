//! Cache sizes and the BLIS block sizes derived from them.
//!
//! `KC` is chosen so that one `KC × NR` micro-panel of packed B fills L1d, `MC` so that the
//! packed `MC × KC` block of A takes about half of L2, and `NC` so that the packed `KC × NC`
//! panel of B takes about a quarter of L3.
//!
//! Each micro-kernel call streams its B micro-panel through L1 (the hardware prefetcher keeps
//! up from L2) and loads and stores its `C` tile once per `KC` block, so a deeper block means
//! fewer passes over `C`. Measured on a Zen 3 core (32 KB L1d, f32 `6 × 16` kernel), steps
//! alternating in one process: `KC` 512 instead of 256 (half of L1d) made the large char-RNN
//! training step (hidden 512, `K` = 512 in most products) ~10 % faster (medians 220.9 vs
//! 245.4 ms) and square products of n = 512 and 1024 ~3 % faster; f64 (`6 × 8`, also 512
//! now) within the noise either way; 1024 no better than 512.
//!
//! `KC` is at least 512: on a Zen 5 core (48 KB L1d, f32 `12 × 32` AVX-512 kernel, where
//! filling L1d would give 384), `KC` 512 took ~5 % less CPU time for the small + large
//! char-RNN steps (process task-clock 2.89-2.98 s vs 3.05-3.14 s, alternating runs) and
//! square products of n = 512 / 1024 reached 243 / 168 GFLOP/s instead of 239 / 161 (best of
//! three alternating runs on a loaded machine); f64 (`12 × 16`) 99 / 81 instead of 75 / 74.

use std::sync::OnceLock;

/// Data-cache sizes in bytes, per core for L1d/L2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CacheSizes {
    pub l1d: usize,
    pub l2: usize,
    pub l3: usize,
}

/// Used when the sizes cannot be read (a typical current x86 core).
const DEFAULT_CACHES: CacheSizes = CacheSizes {
    l1d: 32 << 10,
    l2: 512 << 10,
    l3: 8 << 20,
};

/// The cache sizes of this machine, read once from sysfs (defaults if unavailable).
pub(super) fn cache_sizes() -> CacheSizes {
    static SIZES: OnceLock<CacheSizes> = OnceLock::new();
    *SIZES.get_or_init(|| read_sysfs().unwrap_or(DEFAULT_CACHES))
}

/// Parses sysfs size strings like `32K`, `512K`, `1M`, `32768K`.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .map(|d| d * mult)
        .filter(|&x| x > 0)
}

fn read_sysfs() -> Option<CacheSizes> {
    let mut sizes = CacheSizes {
        l1d: 0,
        l2: 0,
        l3: 0,
    };
    for idx in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{idx}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let Some(size) = parse_size(&size) else {
            continue;
        };
        match (level.trim(), kind.trim()) {
            ("1", "Data" | "Unified") => sizes.l1d = size,
            ("2", "Data" | "Unified") => sizes.l2 = size,
            ("3", "Data" | "Unified") => sizes.l3 = size,
            _ => {}
        }
    }
    if sizes.l1d == 0 || sizes.l2 == 0 {
        return None;
    }
    if sizes.l3 == 0 {
        sizes.l3 = sizes.l2 * 4;
    }
    Some(sizes)
}

/// Block sizes for one micro-kernel shape and element size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Blocking {
    /// Rows of A packed per `ic` block (a multiple of `MR`).
    pub mc: usize,
    /// Depth of one `pc` block.
    pub kc: usize,
    /// Columns of B packed per `jc` panel (a multiple of `NR`).
    pub nc: usize,
}

/// Upper limits of the block sizes, derived from the caches, for an `mr × nr` kernel on
/// elements of `elem` bytes.
pub(super) fn max_blocking(mr: usize, nr: usize, elem: usize) -> Blocking {
    blocking_for(cache_sizes(), mr, nr, elem)
}

fn blocking_for(caches: CacheSizes, mr: usize, nr: usize, elem: usize) -> Blocking {
    // At least 512 (one block for the RNN's K = 512): see the module docs.
    let kc = (caches.l1d / (nr * elem)).clamp(512, 1024) / 8 * 8;
    let mc = ((caches.l2 / 2 / (kc * elem)).clamp(mr, 4096) / mr).max(1) * mr;
    let nc = ((caches.l3 / 4 / (kc * elem)).clamp(nr, 4096) / nr).max(1) * nr;
    Blocking { mc, kc, nc }
}

/// The block sizes actually used for an `m × n × k` product: the maximal ones, shrunk so that
/// the blocks split each dimension evenly (e.g. `k = 300` with `KC = 256` gives two blocks of
/// 150, not 256 + 44). `mc`/`nc` stay multiples of `mr`/`nr`.
pub(super) fn blocking(
    mr: usize,
    nr: usize,
    elem: usize,
    m: usize,
    n: usize,
    k: usize,
) -> Blocking {
    let max = max_blocking(mr, nr, elem);
    let even = |len: usize, max: usize, unit: usize| -> usize {
        let blocks = len.div_ceil(max).max(1);
        len.div_ceil(blocks).div_ceil(unit).max(1) * unit
    };
    Blocking {
        mc: even(m, max.mc, mr),
        kc: even(k, max.kc, 1),
        nc: even(n, max.nc, nr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sysfs_sizes() {
        assert_eq!(parse_size("32K\n"), Some(32 << 10));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("32768K"), Some(32 << 20));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn block_sizes_fit_the_caches() {
        let zen3 = CacheSizes {
            l1d: 32 << 10,
            l2: 512 << 10,
            l3: 32 << 20,
        };
        let b = blocking_for(zen3, 6, 16, 4);
        assert_eq!(b.kc, 512);
        assert_eq!(b.mc % 6, 0);
        assert!(b.mc * b.kc * 4 <= zen3.l2 / 2);
        assert_eq!(b.nc % 16, 0);
        let zen5 = CacheSizes {
            l1d: 48 << 10,
            l2: 1 << 20,
            l3: 32 << 20,
        };
        let b = blocking_for(zen5, 12, 32, 4);
        assert_eq!(b.kc, 512);
        assert_eq!(b.mc % 12, 0);
        assert!(b.mc * b.kc * 4 <= zen5.l2 / 2);
        assert_eq!(blocking_for(zen5, 6, 16, 4).kc, 768);
        let tiny = CacheSizes {
            l1d: 1,
            l2: 1,
            l3: 1,
        };
        let b = blocking_for(tiny, 12, 32, 8);
        assert!(b.mc >= 12 && b.kc >= 512 && b.nc >= 32);
    }

    #[test]
    fn even_blocks() {
        let b = blocking(6, 16, 4, 1000, 5000, 300);
        let max = max_blocking(6, 16, 4);
        assert!(b.kc <= max.kc && b.mc <= max.mc && b.nc <= max.nc);
        assert_eq!(b.mc % 6, 0);
        assert_eq!(b.nc % 16, 0);
        assert!(300usize.div_ceil(b.kc) == 300usize.div_ceil(max.kc));
    }
}
