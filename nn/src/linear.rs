//! `Linear` and `Embedding`.

use crate::error::{NnError, Result};
use crate::init::{normal_param, uniform_param};
use crate::layer::Layer;
use crate::module::Module;
use recur_autograd::{Param, Tape, Var};
use recur_tensor::{Float, IndexTensor, Tensor};

/// `torch.nn.Linear(in_features, out_features)`: `y = x W^T + b`, weight `(out, in)`, bias
/// `(out)`, both initialised from U(-1/sqrt(in), 1/sqrt(in)).
///
/// ```
/// use recur_nn::{Layer, Linear, Module, Tape};
/// use recur_tensor::Tensor;
/// let lin = Linear::<f64>::new(3, 2, &mut recur_nn::seeded_rng(0))?;
/// assert_eq!(lin.num_parameters(), 3 * 2 + 2);
/// let tape = Tape::new();
/// let y = lin.forward(&tape.constant(Tensor::zeros(&[5, 3])))?;
/// assert_eq!(y.value().to_vec()[..2], lin.bias().unwrap().value().to_vec()[..]); // 0 W^T + b
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct Linear<T: Float = f32> {
    weight: Param<T>,
    bias: Option<Param<T>>,
}

impl<T: Float> Linear<T> {
    /// A linear layer with a bias.
    ///
    /// # Errors
    /// When the weight `(out_features, in_features)` does not fit in memory.
    pub fn new<R: rand::Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        rng: &mut R,
    ) -> Result<Self> {
        Self::with_bias(in_features, out_features, true, rng)
    }

    /// A linear layer, with or without a bias.
    ///
    /// # Errors
    /// When the weight `(out_features, in_features)` does not fit in memory.
    pub fn with_bias<R: rand::Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        bias: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let k = if in_features > 0 {
            1.0 / (in_features as f64).sqrt()
        } else {
            0.0
        };
        let weight = uniform_param(&[out_features, in_features], k, rng)?;
        let bias = match bias {
            true => Some(uniform_param(&[out_features], k, rng)?),
            false => None,
        };
        Ok(Linear { weight, bias })
    }

    /// The weight `(out, in)`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }
    /// The bias `(out)`, if any.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
    /// `(in_features, out_features)`.
    pub fn features(&self) -> (usize, usize) {
        (self.weight.value().dims()[1], self.weight.value().dims()[0])
    }

    fn check(&self, dims: &[usize]) -> Result<()> {
        let (i, o) = self.features();
        if dims.last() != Some(&i) {
            let rows: usize = dims.iter().rev().skip(1).product();
            return Err(NnError::Input(format!(
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                rows,
                dims.last().copied().unwrap_or(0),
                i,
                o
            ))
            .in_module(self));
        }
        Ok(())
    }

    /// `out = x W^T + b` for one input vector, with no allocation (the sampling loop's head).
    ///
    /// # Errors
    /// When `x` is not `in_features` long or `out` not `out_features`.
    ///
    /// ```
    /// use recur_nn::Linear;
    /// let lin = Linear::<f32>::new(3, 2, &mut recur_nn::seeded_rng(0))?;
    /// let mut out = [0.0f32; 2];
    /// lin.forward_slice(&[1.0, 2.0, 3.0], &mut out)?;
    /// let t = lin.forward_tensor(&recur_tensor::Tensor::from_vec(vec![1.0, 2.0, 3.0], &[1, 3])?)?;
    /// assert!(out.iter().zip(t.to_vec()).all(|(a, b)| (a - b).abs() < 1e-6));
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward_slice(&self, x: &[T], out: &mut [T]) -> Result<()> {
        let (i, o) = self.features();
        if x.len() != i || out.len() != o {
            return Err(NnError::Input(format!(
                "forward_slice: expected {i} inputs and {o} outputs, got {} and {}",
                x.len(),
                out.len()
            ))
            .in_module(self));
        }
        match &self.bias {
            Some(b) => out.copy_from_slice(b.value().contiguous().as_slice().expect("contiguous")),
            None => out.fill(T::ZERO),
        }
        self.weight.value().matvec_acc(x, out)?;
        Ok(())
    }

    /// No-tape forward on a plain tensor.
    ///
    /// # Errors
    /// PyTorch's `mat1 and mat2 shapes cannot be multiplied (5x4 and 3x2)` when the last dim
    /// is not `in_features`.
    pub fn forward_tensor(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.check(x.dims())?;
        let y = x.matmul(&self.weight.value().t()?)?;
        Ok(match &self.bias {
            Some(b) => y.add(b.value())?,
            None => y,
        })
    }
}

impl<T: Float> std::fmt::Display for Linear<T> {
    /// PyTorch's printed form: `Linear(in_features=3, out_features=2, bias=True)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (i, o) = self.features();
        let bias = if self.bias.is_some() { "True" } else { "False" };
        write!(f, "Linear(in_features={i}, out_features={o}, bias={bias})")
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        let mut v = vec![("weight".to_string(), &self.weight)];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b));
        }
        v
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let mut v = vec![("weight".to_string(), &mut self.weight)];
        if let Some(b) = &mut self.bias {
            v.push(("bias".to_string(), b));
        }
        v
    }
}

impl<T: Float> Linear<T> {
    /// `x W^T + b` for `x` of shape `(*, in)`. Leading dims are flattened into one GEMM
    /// `(rows, in) x (in, out)` rather than a batched product, so the weight gradient is one
    /// GEMM too. The same as [`Layer::forward`], callable without importing the trait.
    ///
    /// # Errors
    /// `Linear(in_features=3, out_features=2, bias=True): mat1 and mat2 shapes cannot be
    /// multiplied (4x5 and 3x2)` style messages when the last dim is not `in`.
    ///
    /// ```
    /// use recur_nn::{Linear, Tape};
    /// use recur_tensor::Tensor;
    /// let head = Linear::<f32>::new(3, 2, &mut recur_nn::seeded_rng(0))?;
    /// let tape = Tape::new();
    /// let y = head.forward(&tape.constant(Tensor::zeros(&[5, 4, 3])))?;
    /// assert_eq!(y.dims(), &[5, 4, 2]);
    /// assert!(head.forward(&tape.constant(Tensor::zeros(&[4, 5]))).is_err());
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    pub fn forward<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>> {
        let tape = x.tape();
        self.check(x.dims())?;
        let (i, o) = self.features();
        let lead = &x.dims()[..x.rank() - 1];
        let flat = if x.rank() > 2 {
            x.reshape(&[lead.iter().product(), i])?
        } else {
            x.clone()
        };
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        let mut y = flat.linear(&tape.param(&self.weight), bias.as_ref())?;
        if x.rank() > 2 {
            let mut dims = lead.to_vec();
            dims.push(o);
            y = y.reshape(&dims)?;
        }
        Ok(y)
    }
}

impl<T: Float> Layer<T> for Linear<T> {
    /// [`Linear::forward`].
    fn forward<'t>(&self, x: &Var<'t, T>) -> Result<Var<'t, T>> {
        Linear::forward(self, x)
    }
}

/// `torch.nn.Embedding(num, dim)`: a lookup table, weight `(num, dim)` from N(0, 1). The
/// gradient is a scatter-add: a row used twice gets twice the gradient.
///
/// ```
/// use recur_nn::{Embedding, Tape};
/// use recur_tensor::IndexTensor;
/// let emb = Embedding::<f64>::new(10, 4, &mut recur_nn::seeded_rng(0))?;
/// let tape = Tape::new();
/// let y = emb.forward(&tape, &IndexTensor::from_vec(vec![1, 2, 1, 9], &[2, 2])?)?;
/// assert_eq!(y.dims(), &[2, 2, 4]);
/// let e = emb.forward(&tape, &IndexTensor::from_usizes(&[10])).unwrap_err();
/// assert_eq!(e.to_string(), "Embedding(10, 4): index out of range in self");
/// # Ok::<(), recur_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct Embedding<T: Float = f32> {
    weight: Param<T>,
}

impl<T: Float> Embedding<T> {
    /// A table of `num` rows of size `dim`, from N(0, 1).
    ///
    /// # Errors
    /// When the table `(num, dim)` does not fit in memory.
    pub fn new<R: rand::Rng + ?Sized>(num: usize, dim: usize, rng: &mut R) -> Result<Self> {
        Ok(Embedding {
            weight: normal_param(&[num, dim], rng)?,
        })
    }
    /// The table `(num, dim)`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    fn check(&self, idx: &IndexTensor) -> Result<()> {
        let n = self.weight.value().dims()[0] as i64;
        if idx.as_slice().iter().any(|&i| i < 0 || i >= n) {
            return Err(NnError::Input("index out of range in self".into()).in_module(self));
        }
        Ok(())
    }

    /// Looks up rows: output shape `idx.shape + [dim]`.
    ///
    /// # Errors
    /// PyTorch's `index out of range in self` for an index outside `0..num`, after the module:
    /// `Embedding(65, 32): index out of range in self`.
    pub fn forward<'t>(&self, tape: &'t Tape<T>, idx: &IndexTensor) -> Result<Var<'t, T>> {
        self.check(idx)?;
        let flat = idx.reshape(&[idx.numel()])?;
        let rows = tape.param(&self.weight).index_select(0usize, &flat)?;
        let mut dims = idx.dims().to_vec();
        dims.push(self.weight.value().dims()[1]);
        Ok(rows.reshape(&dims)?)
    }

    /// No-tape lookup.
    ///
    /// # Errors
    /// As [`Embedding::forward`].
    pub fn forward_tensor(&self, idx: &IndexTensor) -> Result<Tensor<T>> {
        self.check(idx)?;
        let flat = idx.reshape(&[idx.numel()])?;
        let mut dims = idx.dims().to_vec();
        dims.push(self.weight.value().dims()[1]);
        Ok(self
            .weight
            .value()
            .index_select(0usize, &flat)?
            .reshape(&dims)?)
    }
}

impl<T: Float> std::fmt::Display for Embedding<T> {
    /// PyTorch's printed form: `Embedding(65, 32)` (`num_embeddings`, `embedding_dim`).
    ///
    /// ```
    /// let emb = recur_nn::Embedding::<f32>::new(65, 32, &mut recur_nn::seeded_rng(0))?;
    /// assert_eq!(emb.to_string(), "Embedding(65, 32)");
    /// # Ok::<(), recur_nn::NnError>(())
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.weight.value().dims();
        write!(f, "Embedding({}, {})", d[0], d[1])
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        vec![("weight".to_string(), &self.weight)]
    }
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        vec![("weight".to_string(), &mut self.weight)]
    }
}
