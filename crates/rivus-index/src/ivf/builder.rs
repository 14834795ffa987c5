//! Building an IVF index: sample, train the centroids, assign every row, quantize, freeze.

use rayon::prelude::*;

use super::frozen::{FrozenIvf, IvfHeader, MAGIC, VERSION};
use super::kmeans::{self, Kmeans, Rng};
use super::pq::Pq;
use super::sq8::Sq8;
use super::{blob, IvfParams, IvfQuantizer};
use crate::metric::inverse_norm;
use crate::{distance, IndexError, Metric, Result, VectorSource};

/// Reads rows as the index sees them: normalized for COSINE.
pub(crate) struct RowReader<'a, S: ?Sized> {
    pub(crate) source: &'a S,
    pub(crate) normalize: bool,
}

impl<S: VectorSource + ?Sized> RowReader<'_, S> {
    /// Row `row` into `buf`.
    #[inline]
    pub(crate) fn read(&self, row: u32, buf: &mut Vec<f32>) {
        let v = self.source.vector(row);
        buf.clear();
        buf.extend_from_slice(v);
        if self.normalize {
            let inv = inverse_norm(v);
            buf.iter_mut().for_each(|x| *x *= inv);
        }
    }

    /// The rows `picks` one after another.
    fn gather(&self, picks: &[usize], dim: usize) -> Vec<f32> {
        let mut out = vec![0f32; picks.len() * dim];
        out.par_chunks_mut(dim)
            .zip(picks.par_iter())
            .for_each_init(Vec::new, |buf, (dst, &r)| {
                self.read(r as u32, buf);
                dst.copy_from_slice(buf);
            });
        out
    }
}

/// Checks that every row has `dim` values and that row offsets fit the format.
pub(crate) fn check_rows<S: VectorSource + ?Sized>(source: &S) -> Result<()> {
    let rows = source.len();
    if rows >= u32::MAX as usize {
        return Err(IndexError::TooLarge {
            what: "rows",
            count: rows,
        });
    }
    let dim = source.dim();
    if dim == 0 || dim > u32::MAX as usize {
        return Err(IndexError::invalid("dim", dim, "must be in [1, 2^32)"));
    }
    if let Some(bad) = (0..rows as u32)
        .into_par_iter()
        .map(|r| source.vector(r).len())
        .find_any(|&len| len != dim)
    {
        return Err(IndexError::DimensionMismatch {
            expected: dim,
            got: bad,
        });
    }
    Ok(())
}

/// Groups rows by list: CSR offsets and the rows of each list, ascending.
pub(crate) fn group(assign: &[u32], lists: usize) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; lists + 1];
    for &a in assign {
        offsets[a as usize + 1] += 1;
    }
    for i in 0..lists {
        offsets[i + 1] += offsets[i];
    }
    let mut cursor: Vec<u32> = offsets[..lists].to_vec();
    let mut ids = vec![0u32; assign.len()];
    for (row, &a) in assign.iter().enumerate() {
        let c = &mut cursor[a as usize];
        ids[*c as usize] = row as u32;
        *c += 1;
    }
    (offsets, ids)
}

/// Row `r`'s entry (`ids[positions[r]] == r`).
pub(crate) fn positions(ids: &[u32]) -> Vec<u32> {
    let mut positions = vec![0u32; ids.len()];
    for (entry, &row) in ids.iter().enumerate() {
        if let Some(p) = positions.get_mut(row as usize) {
            *p = entry as u32;
        }
    }
    positions
}

/// Builds an index over every row of `source` on the current rayon pool (run it inside
/// `ThreadPool::install` to choose the thread count).
///
/// Errors: [`IndexError::InvalidParameter`] for out-of-range parameters (`nlist` 0, `m`
/// not dividing the dimension, ...), [`IndexError::DimensionMismatch`] when a row does not
/// have `source.dim()` values, [`IndexError::TooLarge`] past `u32::MAX - 1` rows.
pub fn build<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    params: &IvfParams,
) -> Result<FrozenIvf<Vec<u8>>> {
    let dim = source.dim();
    params.validate(dim)?;
    check_rows(source)?;
    let rows = source.len();
    let reader = RowReader {
        source,
        normalize: metric == Metric::Cosine,
    };
    let lists = params.nlist.min(rows);
    let mut rng = Rng::new(params.seed);

    let centroids = if lists == 0 {
        Vec::new()
    } else {
        let picks = kmeans::sample_indices(
            rows,
            lists.saturating_mul(params.train_per_centroid),
            &mut rng,
        );
        let sample = reader.gather(&picks, dim);
        kmeans::train(
            &sample,
            dim,
            &Kmeans {
                k: lists,
                iters: params.kmeans_iters,
                init: params.init,
                seed: rng.next_u64(),
            },
        )
    };
    let view = kmeans::Centroids::new(&centroids, dim);
    let assign: Vec<u32> = (0..rows as u32)
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(buf, out), r| {
                reader.read(r, buf);
                view.nearest(buf, out).0
            },
        )
        .collect();
    drop(view);
    let (offsets, ids) = group(&assign, lists);

    let (code_size, quantizer_bytes, codes) = match params.quantizer {
        IvfQuantizer::Flat => {
            // The vectors as given (not normalized), so scores match FLAT's to the bit.
            let mut codes = vec![0u8; rows * dim * 4];
            if dim > 0 {
                codes
                    .par_chunks_mut(dim * 4)
                    .zip(ids.par_iter())
                    .for_each(|(code, &r)| {
                        for (c, v) in code.chunks_exact_mut(4).zip(source.vector(r)) {
                            c.copy_from_slice(&v.to_le_bytes());
                        }
                    });
            }
            (dim * 4, Vec::new(), codes)
        }
        IvfQuantizer::Sq8 => {
            let sq = Sq8::fit(dim, rows, |r, buf| reader.read(r, buf));
            let mut codes = vec![0u8; rows * dim];
            codes.par_chunks_mut(dim).zip(ids.par_iter()).for_each_init(
                Vec::new,
                |buf, (code, &r)| {
                    reader.read(r, buf);
                    sq.encode(buf, code);
                },
            );
            let mut q = sq.min.clone();
            q.extend_from_slice(&sq.scale);
            (dim, blob::f32_bytes(&q), codes)
        }
        IvfQuantizer::Pq { m, nbits } => {
            let residual = |r: u32, buf: &mut Vec<f32>| {
                reader.read(r, buf);
                let c = assign[r as usize] as usize;
                for (x, &cv) in buf.iter_mut().zip(&centroids[c * dim..(c + 1) * dim]) {
                    *x -= cv;
                }
            };
            let ksub = 1usize << nbits;
            let picks = kmeans::sample_indices(
                rows,
                ksub.saturating_mul(params.train_per_centroid),
                &mut rng,
            );
            let mut sample = vec![0f32; picks.len() * dim];
            sample
                .par_chunks_mut(dim)
                .zip(picks.par_iter())
                .for_each_init(Vec::new, |buf, (dst, &r)| {
                    residual(r as u32, buf);
                    dst.copy_from_slice(buf);
                });
            let pq = Pq::train(&sample, dim, m, nbits, params.kmeans_iters, rng.next_u64());
            drop(sample);
            // L2 and COSINE codes end with the f32 term |r|^2 + 2 c . r of the decoded
            // residual r (see the query's ADC).
            let pq_size = Pq::code_size(m, nbits);
            let with_term = metric != Metric::Ip;
            let size = pq_size + if with_term { 4 } else { 0 };
            let mut codes = vec![0u8; rows * size];
            if size > 0 {
                let dot = distance::ip_f32_kernel();
                codes
                    .par_chunks_mut(size)
                    .zip(ids.par_iter())
                    .for_each_init(
                        || (Vec::new(), Vec::new()),
                        |(buf, scratch), (code, &r)| {
                            residual(r, buf);
                            let (pq_code, term) = code.split_at_mut(pq_size);
                            pq.encode(buf, pq_code, scratch);
                            if with_term {
                                pq.decode(pq_code, buf);
                                let c = assign[r as usize] as usize;
                                let centroid = &centroids[c * dim..(c + 1) * dim];
                                let e = dot(buf, buf) + 2.0 * dot(centroid, buf);
                                term.copy_from_slice(&e.to_le_bytes());
                            }
                        },
                    );
            }
            (size, blob::f32_bytes(&pq.codebooks), codes)
        }
    };
    let header = IvfHeader {
        quantizer: params.quantizer,
        metric,
        dim,
        rows,
        lists,
        nlist: params.nlist,
        code_size,
        kmeans_iters: params.kmeans_iters,
        seed: params.seed,
    };
    let bytes = blob::encode(
        &MAGIC,
        VERSION,
        &header.fields(),
        &[
            &blob::f32_bytes(&centroids),
            &blob::u32_bytes(&offsets),
            &blob::u32_bytes(&ids),
            &quantizer_bytes,
            &codes,
            &blob::u32_bytes(&positions(&ids)),
        ],
    );
    FrozenIvf::load(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_is_a_counting_sort() {
        let (offsets, ids) = group(&[2, 0, 2, 1, 0], 4);
        assert_eq!(offsets, [0, 2, 3, 5, 5]);
        assert_eq!(ids, [1, 4, 3, 0, 2]);
        assert_eq!(positions(&ids), [3, 0, 4, 2, 1]);
    }
}
