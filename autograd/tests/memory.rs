//! No growth: 1,000 train-like steps on fresh tapes leave live memory where it was. The only
//! test in this binary, so the allocation counter sees nothing else.

use rand::SeedableRng;
use recur_autograd::{Param, Tape};
use recur_tensor::Tensor;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live heap bytes, to show that training steps on fresh tapes leak nothing.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_memory_growth_over_a_thousand_steps() {
    let w = Param::new(Tensor::<f32>::uniform(
        &[16, 8],
        -0.3,
        0.3,
        &mut rand::rngs::StdRng::seed_from_u64(0),
    ));
    let mut w = w;
    let x = Tensor::<f32>::ones(&[4, 16]);
    let step = |w: &mut Param<f32>| {
        let tape = Tape::new();
        let y = tape
            .constant(x.clone())
            .matmul(&tape.param(w))
            .unwrap()
            .tanh();
        let loss = y.square().mean_all();
        let g = tape.backward(&loss).unwrap();
        let upd = w.value().sub(&g.get(w).unwrap().mul_scalar(0.01)).unwrap();
        w.set_value(upd);
    };
    for _ in 0..10 {
        step(&mut w);
    }
    let before = LIVE.load(Ordering::SeqCst);
    for _ in 0..1000 {
        step(&mut w);
    }
    let after = LIVE.load(Ordering::SeqCst);
    // This is the only test in its binary, so nothing else allocates meanwhile: a leak of even
    // one small tensor per step would show as > 100 KB here.
    assert!(
        (after - before).abs() < 4 * 1024,
        "live bytes grew by {}",
        after - before
    );
}
