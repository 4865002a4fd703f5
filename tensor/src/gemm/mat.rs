//! The strided matrix views the GEMM reads and writes.

/// A read-only strided matrix view: element `(i, j)` is `data[offset + i * rs + j * cs]`.
///
/// Strides may be anything, including 0 (a broadcast operand) and transposed layouts
/// (`rs == 1`, `cs == rows`).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// The backing slice.
    pub data: &'a [T],
    /// Index of element `(0, 0)` in `data`.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride (distance in elements between `(i, j)` and `(i + 1, j)`).
    pub rs: usize,
    /// Column stride (distance in elements between `(i, j)` and `(i, j + 1)`).
    pub cs: usize,
}

/// A mutable strided matrix view, addressed like [`MatRef`].
///
/// `rs`/`cs` must not make two distinct elements share a slot (unless the matrix is empty); if
/// they do, the result is unspecified (but still memory-safe).
#[derive(Debug)]
pub struct MatMut<'a, T> {
    /// The backing slice.
    pub data: &'a mut [T],
    /// Index of element `(0, 0)` in `data`.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A dense row-major `rows × cols` view of `data` (`rs = cols`, `cs = 1`).
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            offset: 0,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A dense row-major `rows × cols` view of `data` (`rs = cols`, `cs = 1`).
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        MatMut {
            data,
            offset: 0,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatMut {
            data: self.data,
            offset: self.offset,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}
