//! Task 4: a custom op, SiLU `y = x * sigmoid(x)`, with its own forward and backward as one
//! node on the tape, checked against finite differences with `gradcheck`.

use recur::autograd::{CustomOp, GradcheckOptions, Result, gradcheck};
use recur::nn::Tape;
use recur::tensor::{Float, Tensor};

/// SiLU; keeps its input for the backward pass.
#[derive(Default)]
struct Silu<T: Float> {
    x: Option<Tensor<T>>,
}

impl<T: Float> CustomOp<T> for Silu<T> {
    fn name(&self) -> &'static str {
        "silu"
    }
    fn forward(&mut self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        let x = inputs[0].clone();
        let y = x.mul(&x.sigmoid())?;
        self.x = Some(x);
        Ok(vec![y])
    }
    fn backward(
        &self,
        grads_out: &[Option<&Tensor<T>>],
        _: &[bool],
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let (Some(g), Some(x)) = (grads_out[0], &self.x) else {
            return Ok(vec![None]);
        };
        // dy/dx = s + x s (1 - s), with s = sigmoid(x).
        let s = x.sigmoid();
        let ds = s.add(&x.mul(&s)?.mul(&s.rsub_scalar(T::ONE))?)?;
        Ok(vec![Some(g.mul(&ds)?)])
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut rng = recur::seeded_rng(0);
    let x = Tensor::<f64>::normal(&[3, 4], 0.0, 2.0, &mut rng);
    let w = Tensor::<f64>::normal(&[4, 2], 0.0, 1.0, &mut rng);
    // The op inside a small graph: sum(silu(x) @ w).
    let report = gradcheck(
        |tape, v| {
            Ok(tape
                .custom(Silu::default(), &[&v[0]])?
                .remove(0)
                .matmul(&v[1])?
                .sum_all())
        },
        &[x.clone(), w],
        &GradcheckOptions::default(),
    )?;
    for r in &report.inputs {
        println!(
            "gradcheck input {}: max |analytical - numerical| = {:.1e}",
            r.input, r.max_abs_err
        );
        assert!(r.max_abs_err < 1e-6);
    }
    // In f32 on a tape, as a model would use it: the same values as x * sigmoid(x).
    let tape = Tape::new();
    let x32 = tape.constant(x.cast::<f32>());
    let ours = tape.custom(Silu::default(), &[&x32])?.remove(0);
    let plain = x32.mul(&x32.sigmoid())?;
    assert_eq!(ours.value().to_vec(), plain.value().to_vec());
    println!("silu on an f32 tape: {:?}", &ours.value().to_vec()[..4]);
    Ok(())
}
