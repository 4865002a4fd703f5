//! `gradcheck`: analytical gradients against central finite differences, in `f64`.

use crate::error::{AutogradError, Result};
use crate::tape::{Tape, Var};
use recur_tensor::Tensor;

/// Tolerances and step for [`gradcheck`]; the defaults are `torch.autograd.gradcheck`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step (default 1e-6).
    pub eps: f64,
    /// Absolute tolerance (default 1e-5).
    pub atol: f64,
    /// Relative tolerance (default 1e-3).
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// The worst agreement found for one input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputReport {
    /// Position of the input in the list.
    pub input: usize,
    /// Multi-index of the input element with the largest |analytical - numerical|
    /// (empty when the input has no elements).
    pub worst_element: Vec<usize>,
    /// Flat index of the output element for that entry of the Jacobian.
    pub output_element: usize,
    /// The backward pass's value there.
    pub analytical: f64,
    /// The finite-difference value there.
    pub numerical: f64,
    /// |analytical - numerical| there.
    pub max_abs_err: f64,
}

/// What [`gradcheck`] found: one report per input.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// Per input, in order.
    pub inputs: Vec<InputReport>,
}

/// Checks the gradients of `f` with respect to each of `inputs`, as
/// `torch.autograd.gradcheck` does: the analytical Jacobian row by row (backward with one-hot
/// upstream gradients, run twice, which must agree exactly) against central differences
/// `(f(x + eps) - f(x - eps)) / 2eps`, passing when `|a - n| <= atol + rtol * |n|` everywhere.
///
/// `f` receives a fresh tape and the inputs as tracked leaves; it may return any shape.
///
/// # Errors
/// [`AutogradError::GradcheckMismatch`] naming the input, the element and both values where
/// they disagree most; [`AutogradError::NonReentrant`] when two backward passes differ; or
/// any error `f` returns.
///
/// ```
/// use recur_autograd::{gradcheck, GradcheckOptions};
/// use recur_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
/// let w = Tensor::from_vec(vec![0.5, 0.25, -1.0], &[3])?;
/// let report = gradcheck(|_, v| v[0].tanh().mul(&v[1]), &[x, w], &GradcheckOptions::default())?;
/// assert!(report.inputs.iter().all(|r| r.max_abs_err < 1e-8));
/// # Ok::<(), recur_autograd::AutogradError>(())
/// ```
pub fn gradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    opts: &GradcheckOptions,
) -> Result<GradcheckReport>
where
    F: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    let inputs: Vec<Tensor<f64>> = inputs.iter().map(|t| t.contiguous()).collect();
    let eval = |xs: &[Tensor<f64>]| -> Result<Vec<f64>> {
        let tape = Tape::new();
        let vars: Vec<Var<'_, f64>> = xs.iter().map(|x| tape.leaf(x.clone())).collect();
        Ok(f(&tape, &vars)?.value().to_vec())
    };

    // Analytical Jacobians (n_out rows per input), twice.
    let analytical = || -> Result<Vec<Vec<f64>>> {
        let tape = Tape::new();
        let vars: Vec<Var<'_, f64>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
        let out = f(&tape, &vars)?;
        let n_out = out.value().numel();
        let mut jac: Vec<Vec<f64>> = inputs
            .iter()
            .map(|x| vec![0.0; n_out * x.numel()])
            .collect();
        for j in 0..n_out {
            let mut onehot = vec![0.0; n_out];
            onehot[j] = 1.0;
            let grads = tape.backward_with(&out, Tensor::from_vec(onehot, out.dims())?)?;
            for (i, v) in vars.iter().enumerate() {
                if let Some(g) = grads.of(v) {
                    let n_in = inputs[i].numel();
                    jac[i][j * n_in..(j + 1) * n_in].copy_from_slice(&g.to_vec());
                }
            }
        }
        Ok(jac)
    };
    let first = analytical()?;
    let second = analytical()?;
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        let max_diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        if max_diff > 0.0 || a.iter().zip(b).any(|(x, y)| x.is_nan() != y.is_nan()) {
            return Err(AutogradError::NonReentrant { input: i, max_diff });
        }
    }

    let n_out = eval(&inputs)?.len();
    let mut reports = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        let n_in = x.numel();
        let mut worst: Option<(f64, usize, usize, f64, f64)> = None; // (excess, elem, out, a, n)
        let mut report = InputReport {
            input: i,
            worst_element: vec![],
            output_element: 0,
            analytical: 0.0,
            numerical: 0.0,
            max_abs_err: 0.0,
        };
        for e in 0..n_in {
            let probe = |delta: f64| -> Result<Vec<f64>> {
                let mut data = x.to_vec();
                data[e] += delta;
                let mut xs = inputs.clone();
                xs[i] = Tensor::from_vec(data, x.dims())?;
                eval(&xs)
            };
            let plus = probe(opts.eps)?;
            let minus = probe(-opts.eps)?;
            for j in 0..n_out {
                let num = (plus[j] - minus[j]) / (2.0 * opts.eps);
                let ana = first[i][j * n_in + e];
                let err = (ana - num).abs();
                let excess = err - (opts.atol + opts.rtol * num.abs());
                let bad = excess > 0.0 || excess.is_nan();
                if err > report.max_abs_err
                    || (err.is_nan() && !report.max_abs_err.is_nan())
                    || report.worst_element.is_empty()
                {
                    report.max_abs_err = err;
                    report.worst_element = unravel(e, x.dims());
                    report.output_element = j;
                    report.analytical = ana;
                    report.numerical = num;
                }
                if bad && worst.is_none_or(|w| excess > w.0 || excess.is_nan()) {
                    worst = Some((excess, e, j, ana, num));
                }
            }
        }
        if let Some((_, e, j, ana, num)) = worst {
            return Err(AutogradError::GradcheckMismatch {
                input: i,
                element: unravel(e, x.dims()),
                output: j,
                analytical: ana,
                numerical: num,
            });
        }
        reports.push(report);
    }
    Ok(GradcheckReport { inputs: reports })
}

/// Row-major multi-index of flat index `i` in `dims`.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for d in (0..dims.len()).rev() {
        idx[d] = i % dims[d];
        i /= dims[d];
    }
    idx
}
