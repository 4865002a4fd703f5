//! 01 · A tour of `Tensor`: shapes, broadcasting, matmul, views, reductions, errors.
//!
//! `cargo run --release --example 01_tensor_tour`
//!
//! recur's tensors behave like PyTorch's: row-major, broadcasting by the same rules, printed
//! the same way, and a shape mistake is an error that names the op and the shapes, not a
//! panic.

use recur::tensor::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Make tensors: from data with a shape, or filled, or random (seeded).
    let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    let ones = Tensor::<f32>::ones(&[3]);
    let r = Tensor::<f32>::uniform(&[3, 2], -1.0, 1.0, &mut recur::seeded_rng(0));
    println!("a = {a}\nshape {:?}, {} elements", a.dims(), a.numel());

    // Broadcasting: (2, 3) + (3) adds the row to every row, as in PyTorch.
    println!("a + 1 = {}", a.add(&ones)?);

    // Matrix product: (2, 3) @ (3, 2) -> (2, 2). The product uses recur's GEMM.
    let p = a.matmul(&r)?;
    println!("a @ r = {p}  {:?}", p.dims());

    // Views share storage: a transpose is a new shape over the same numbers.
    let at = a.t()?;
    println!(
        "a.t() {:?}, shares a's storage: {}",
        at.dims(),
        at.shares_storage(&a)
    );

    // Reductions over a dim, keeping it or not.
    println!("row sums {}", a.sum(&[1usize], false)?);
    println!("column means {}", a.mean(&[0usize], true)?);

    // A wrong shape is an error naming the op and the shapes.
    let err = a.matmul(&a).unwrap_err();
    println!("a @ a: {err}");
    Ok(())
}
