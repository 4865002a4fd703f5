//! Joining and indexing: concat, stack, split, index_select, gather.

use crate::error::{AutogradError, Result};
use crate::tape::{Backward, InputGrads, Var};
use recur_tensor::{Dim, Float, IndexTensor, Shape, Tensor, TensorError};

impl<'t, T: Float> Var<'t, T> {
    /// Concatenates along `dim` (`torch.cat`); backward slices the gradient back apart.
    ///
    /// # Errors
    /// When the list is empty, the vars are on different tapes, or the other dims differ.
    pub fn concat<D: Dim>(vars: &[&Var<'t, T>], dim: D) -> Result<Var<'t, T>> {
        let first = vars
            .first()
            .ok_or(AutogradError::Tensor(TensorError::EmptyList {
                op: "concat",
            }))?;
        let d = dim.resolve("concat", first.dims())?;
        let values: Vec<&Tensor<T>> = vars.iter().map(|v| &v.value).collect();
        let y = Tensor::concat(&values, d)?;
        let sizes = vars.iter().map(|v| v.dims()[d]).collect();
        Var::record(
            "concat",
            vars,
            y,
            Split {
                dim: d,
                sizes,
                stacked: false,
            },
        )
    }

    /// Stacks along a new `dim` (`torch.stack`); backward selects the gradient back apart.
    ///
    /// # Errors
    /// When the list is empty, the vars are on different tapes, or the shapes differ.
    pub fn stack<D: Dim>(vars: &[&Var<'t, T>], dim: D) -> Result<Var<'t, T>> {
        let values: Vec<&Tensor<T>> = vars.iter().map(|v| &v.value).collect();
        let y = Tensor::stack(&values, dim)?;
        // The stacked dim, resolved against the output's rank.
        let d = dim.resolve("stack", y.dims())?;
        let sizes = vec![1; vars.len()];
        Var::record(
            "stack",
            vars,
            y,
            Split {
                dim: d,
                sizes,
                stacked: true,
            },
        )
    }

    /// Splits into pieces of `split_size` along `dim` (the last may be smaller); each piece is
    /// a narrow node.
    ///
    /// # Errors
    /// When `dim` is out of range or `split_size` is 0 for a non-empty dim.
    pub fn split<D: Dim>(&self, split_size: usize, dim: D) -> Result<Vec<Var<'t, T>>> {
        let d = dim.resolve("split", self.dims())?;
        let pieces = self.value.split(split_size, d)?;
        let mut out = Vec::with_capacity(pieces.len());
        let mut start = 0;
        for p in pieces {
            let len = p.dims()[d];
            out.push(self.narrow(d, start, len)?);
            start += len;
        }
        Ok(out)
    }

    /// Rows (along `dim`) picked by a 1-D index; backward adds the gradient rows back into
    /// zeros (`index_add`), so a row picked twice gets twice the gradient.
    ///
    /// # Errors
    /// When `dim` or an index is out of range, or the index is not 1-D.
    ///
    /// ```
    /// use recur_autograd::Tape;
    /// use recur_tensor::{IndexTensor, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let w = tape.leaf(Tensor::ones(&[3, 2]));
    /// let rows = w.index_select(0, &IndexTensor::from_usizes(&[2, 0, 2]))?;
    /// let g = tape.backward(&rows.sum_all())?;
    /// assert_eq!(g.of(&w).unwrap().to_vec(), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// # Ok::<(), recur_autograd::AutogradError>(())
    /// ```
    pub fn index_select<D: Dim>(&self, dim: D, index: &IndexTensor) -> Result<Var<'t, T>> {
        let d = dim.resolve("index_select", self.dims())?;
        let y = self.value.index_select(d, index)?;
        Var::record(
            "index_select",
            &[self],
            y,
            IndexAdd {
                input: self.shape().clone(),
                dim: d,
                index: index.clone(),
                gather: false,
            },
        )
    }

    /// `torch.gather` along `dim`; backward is `scatter_add` into zeros.
    ///
    /// # Errors
    /// When `dim` or an index is out of range, or the index shape does not fit.
    pub fn gather<D: Dim>(&self, dim: D, index: &IndexTensor) -> Result<Var<'t, T>> {
        let d = dim.resolve("gather", self.dims())?;
        let y = self.value.gather(d, index)?;
        Var::record(
            "gather",
            &[self],
            y,
            IndexAdd {
                input: self.shape().clone(),
                dim: d,
                index: index.clone(),
                gather: true,
            },
        )
    }
}

/// Backward of concat/stack: one slice of the gradient per input.
struct Split {
    dim: usize,
    sizes: Vec<usize>,
    stacked: bool,
}
impl<T: Float> Backward<T> for Split {
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Result<InputGrads<T>> {
        let mut out = InputGrads::new();
        let mut start = 0;
        for (i, &len) in self.sizes.iter().enumerate() {
            out.push(if !needs[i] {
                None
            } else if self.stacked {
                Some(g.select(self.dim, start)?)
            } else {
                Some(g.narrow(self.dim, start, len)?)
            });
            start += len;
        }
        Ok(out)
    }
}

/// Backward of index_select (index_add) and gather (scatter_add), into zeros.
struct IndexAdd {
    input: Shape,
    dim: usize,
    index: IndexTensor,
    gather: bool,
}
impl<T: Float> Backward<T> for IndexAdd {
    fn backward(&self, g: &Tensor<T>, _: &[bool]) -> Result<InputGrads<T>> {
        let zeros = Tensor::zeros(&self.input);
        let gi = if self.gather {
            zeros.scatter_add(self.dim, &self.index, g)?
        } else {
            zeros.index_add(self.dim, &self.index, g)?
        };
        Ok(smallvec::smallvec![Some(gi)])
    }
}
