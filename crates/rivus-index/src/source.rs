//! [`VectorSource`]: how indexes read vectors. Indexes never own or store the vectors they
//! index: the engine implements this trait over its columns (in memory or mmapped segment
//! files), and a serialized graph holds only links, so one copy of the vectors serves both
//! exact search and the index.

/// Dense float32 vectors addressed by row offset `0..len()`.
///
/// Contract: every row in `0..len()` has exactly `dim()` values. Indexes only ask for rows
/// below `len()`, so an implementation may panic on larger rows; it must not return a slice
/// of another length for a valid row (indexes check lengths where it matters and report
/// [`crate::IndexError::DimensionMismatch`]). `Sync` because builds and batched searches read
/// from several threads at once.
pub trait VectorSource: Sync {
    /// Values per vector.
    fn dim(&self) -> usize;
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The vector at `row` (`row < len()`).
    fn vector(&self, row: u32) -> &[f32];
}

/// Row-major vectors in one contiguous buffer (`len = data.len() / dim`): the in-memory
/// [`VectorSource`], for tests, benchmarks and growing segments.
#[derive(Debug, Clone)]
pub struct DenseVectors<T> {
    data: T,
    dim: usize,
    len: usize,
}

impl<T: AsRef<[f32]>> DenseVectors<T> {
    /// Wraps `data` (`rows * dim` values). Fails when `dim` is zero or does not divide the
    /// buffer's length.
    pub fn new(data: T, dim: usize) -> crate::Result<Self> {
        let values = data.as_ref().len();
        if dim == 0 {
            return Err(crate::IndexError::invalid("dim", dim, "must be positive"));
        }
        if values % dim != 0 {
            return Err(crate::IndexError::DimensionMismatch {
                expected: dim,
                got: values % dim,
            });
        }
        Ok(DenseVectors {
            len: values / dim,
            data,
            dim,
        })
    }

    /// The underlying buffer.
    pub fn data(&self) -> &[f32] {
        self.data.as_ref()
    }
}

impl<T: AsRef<[f32]> + Sync> VectorSource for DenseVectors<T> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn vector(&self, row: u32) -> &[f32] {
        let start = row as usize * self.dim;
        self.data
            .as_ref()
            .get(start..start + self.dim)
            .unwrap_or(&[])
    }
}

impl<S: VectorSource + ?Sized> VectorSource for &S {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn len(&self) -> usize {
        (**self).len()
    }

    #[inline]
    fn vector(&self, row: u32) -> &[f32] {
        (**self).vector(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_vectors_slice_rows() {
        let v = DenseVectors::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.vector(1), &[3.0, 4.0]);
        assert_eq!(v.vector(3), &[] as &[f32]);
        assert!(DenseVectors::new(vec![1.0; 5], 2).is_err());
        assert!(DenseVectors::new(vec![1.0; 4], 0).is_err());
    }
}
