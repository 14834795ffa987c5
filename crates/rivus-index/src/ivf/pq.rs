//! Product quantization (Jégou, Douze & Schmid, "Product quantization for nearest neighbor
//! search", 2011), written for this crate: a vector of `dim` values is cut into `m`
//! sub-vectors of `dsub = dim / m` values, and each is replaced by the index of its nearest
//! codeword among the `ksub = 2^nbits` of that sub-space (trained with k-means). A code is
//! `m` indexes of `nbits` bits packed little-endian (code `j` in bits
//! `[j * nbits, (j + 1) * nbits)`, least significant bit first), `ceil(m * nbits / 8)`
//! bytes.
//!
//! Searching uses asymmetric distance computation (ADC): the query's distance (or inner
//! product) to every codeword of every sub-space goes into an `m x ksub` table once, and a
//! code's score is the sum of `m` table entries.

use rayon::prelude::*;

use super::kmeans::{self, Kmeans, KmeansInit};
use crate::distance;

/// Largest supported `nbits`: a codebook holds `2^nbits` codewords per sub-space.
pub(crate) const MAX_NBITS: usize = 16;

/// A trained product quantizer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pq {
    pub(crate) m: usize,
    pub(crate) nbits: usize,
    pub(crate) ksub: usize,
    pub(crate) dsub: usize,
    /// `m * ksub * dsub` values: sub-space `j`'s codeword `c` at `(j * ksub + c) * dsub`.
    pub(crate) codebooks: Vec<f32>,
    /// For short sub-vectors (`dsub <= kmeans::SHORT`), each codebook transposed (value `d`
    /// of codeword `c` at `j * ksub * dsub + d * ksub + c`); empty otherwise.
    soa: Vec<f32>,
}

impl Pq {
    /// Bytes per code.
    pub(crate) fn code_size(m: usize, nbits: usize) -> usize {
        (m * nbits).div_ceil(8)
    }

    /// Bytes of this quantizer's codes.
    pub(crate) fn code_bytes(&self) -> usize {
        Pq::code_size(self.m, self.nbits)
    }

    /// Trains the `m` codebooks on the `data.len() / dim` vectors of `data`, one k-means per
    /// sub-space (in parallel).
    pub(crate) fn train(
        data: &[f32],
        dim: usize,
        m: usize,
        nbits: usize,
        iters: usize,
        seed: u64,
    ) -> Pq {
        let dsub = dim / m;
        let ksub = 1usize << nbits;
        let n = data.len() / dim;
        let books: Vec<Vec<f32>> = (0..m)
            .into_par_iter()
            .map(|j| {
                let mut sub = Vec::with_capacity(n * dsub);
                for p in data.chunks_exact(dim) {
                    sub.extend_from_slice(&p[j * dsub..(j + 1) * dsub]);
                }
                kmeans::train(
                    &sub,
                    dsub,
                    &Kmeans {
                        k: ksub,
                        iters,
                        init: KmeansInit::PlusPlus,
                        seed: seed
                            .wrapping_add(j as u64)
                            .wrapping_mul(0x2545_f491_4f6c_dd1d),
                    },
                )
            })
            .collect();
        Pq::new(m, nbits, dsub, books.concat())
    }

    /// A quantizer from its codebooks (`m * 2^nbits * dsub` values).
    pub(crate) fn new(m: usize, nbits: usize, dsub: usize, codebooks: Vec<f32>) -> Pq {
        let ksub = 1usize << nbits;
        let soa = if dsub <= kmeans::SHORT {
            codebooks
                .chunks(ksub * dsub.max(1))
                .flat_map(|book| kmeans::transpose(book, dsub))
                .collect()
        } else {
            Vec::new()
        };
        Pq {
            m,
            nbits,
            ksub,
            dsub,
            codebooks,
            soa,
        }
    }

    /// `out[c]` (`ksub` values) = squared L2 distance (or inner product with `ip`) from
    /// `sub`, sub-vector `j` of a vector, to codeword `c`.
    #[inline]
    fn sub_distances(&self, j: usize, sub: &[f32], out: &mut [f32], ip: bool) {
        if self.dsub <= kmeans::SHORT {
            let len = self.ksub * self.dsub;
            let soa = self.soa.get(j * len..(j + 1) * len).unwrap_or(&[]);
            if ip {
                kmeans::ip_transposed(sub, soa, out);
            } else {
                kmeans::l2_transposed(sub, soa, out);
            }
        } else if ip {
            distance::ip_f32_many(sub, self.codebook(j), self.dsub, out);
        } else {
            distance::l2_f32_many(sub, self.codebook(j), self.dsub, out);
        }
    }

    /// Sub-space `j`'s codebook (`ksub * dsub` values).
    #[inline]
    fn codebook(&self, j: usize) -> &[f32] {
        let len = self.ksub * self.dsub;
        self.codebooks.get(j * len..(j + 1) * len).unwrap_or(&[])
    }

    /// The code of `x` into `out` (`code_size` bytes, cleared first); `scratch` holds
    /// distances.
    pub(crate) fn encode(&self, x: &[f32], out: &mut [u8], scratch: &mut Vec<f32>) {
        out.fill(0);
        scratch.resize(self.ksub, 0.0);
        for j in 0..self.m {
            let sub = &x[j * self.dsub..(j + 1) * self.dsub];
            self.sub_distances(j, sub, scratch, false);
            let mut best = (0u32, f32::INFINITY);
            for (c, &d) in scratch.iter().enumerate() {
                if d < best.1 {
                    best = (c as u32, d);
                }
            }
            put_code(out, j, self.nbits, best.0);
        }
    }

    /// `table[j * ksub + c]` = squared L2 distance from `x`'s sub-vector `j` to codeword
    /// `c`.
    #[cfg(test)]
    pub(crate) fn l2_table(&self, x: &[f32], table: &mut Vec<f32>) {
        self.table(x, table, false);
    }

    /// `table[j * ksub + c]` = inner product of `x`'s sub-vector `j` with codeword `c`.
    pub(crate) fn ip_table(&self, x: &[f32], table: &mut Vec<f32>) {
        self.table(x, table, true);
    }

    fn table(&self, x: &[f32], table: &mut Vec<f32>, ip: bool) {
        table.clear();
        table.resize(self.m * self.ksub, 0.0);
        for (j, t) in table.chunks_exact_mut(self.ksub).enumerate() {
            self.sub_distances(j, &x[j * self.dsub..(j + 1) * self.dsub], t, ip);
        }
    }

    /// The sum of `code`'s table entries (the ADC distance or inner product), in sub-space
    /// order.
    #[inline]
    pub(crate) fn lookup(&self, code: &[u8], table: &[f32]) -> f32 {
        let mut acc = 0.0f32;
        if self.nbits == 8 {
            for (t, &c) in table.chunks_exact(self.ksub).zip(code) {
                acc += t.get(c as usize).copied().unwrap_or(0.0);
            }
        } else {
            for (j, t) in table.chunks_exact(self.ksub).enumerate() {
                acc += t.get(get_code(code, j, self.nbits)).copied().unwrap_or(0.0);
            }
        }
        acc
    }

    /// The vector `code` stands for (sub-space codewords one after another), into `out`.
    pub(crate) fn decode(&self, code: &[u8], out: &mut Vec<f32>) {
        out.clear();
        for j in 0..self.m {
            let c = get_code(code, j, self.nbits);
            out.extend_from_slice(&self.codebook(j)[c * self.dsub..(c + 1) * self.dsub]);
        }
    }
}

/// Code `j` of `nbits` bits from a packed code.
#[inline]
pub(crate) fn get_code(code: &[u8], j: usize, nbits: usize) -> usize {
    let bit = j * nbits;
    let byte = bit / 8;
    let mut v = 0u32;
    for b in 0..3 {
        v |= u32::from(code.get(byte + b).copied().unwrap_or(0)) << (8 * b);
    }
    ((v >> (bit % 8)) & ((1u32 << nbits) - 1)) as usize
}

/// Stores `value` as code `j` of `nbits` bits into a packed code (whose bits there are 0).
pub(crate) fn put_code(code: &mut [u8], j: usize, nbits: usize, value: u32) {
    let bit = j * nbits;
    let v = (value & ((1u32 << nbits) - 1)) << (bit % 8);
    for (b, byte) in code.iter_mut().skip(bit / 8).take(3).enumerate() {
        *byte |= (v >> (8 * b)) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pack_and_unpack() {
        for nbits in 1..=MAX_NBITS {
            let m = 7;
            let mut code = vec![0u8; Pq::code_size(m, nbits)];
            let values: Vec<u32> = (0..m as u32)
                .map(|j| j.wrapping_mul(2_654_435_761) & ((1 << nbits) - 1))
                .collect();
            for (j, &v) in values.iter().enumerate() {
                put_code(&mut code, j, nbits, v);
            }
            for (j, &v) in values.iter().enumerate() {
                assert_eq!(get_code(&code, j, nbits), v as usize, "nbits {nbits} j {j}");
            }
        }
    }

    #[test]
    fn adc_matches_decoded_distance() {
        let mut rng = kmeans::Rng::new(4);
        let dim = 8;
        let data: Vec<f32> = (0..500 * dim).map(|_| rng.unit() as f32).collect();
        let pq = Pq::train(&data, dim, 4, 4, 8, 1);
        assert_eq!((pq.ksub, pq.dsub, pq.codebooks.len()), (16, 2, 4 * 16 * 2));
        let q: Vec<f32> = (0..dim).map(|_| rng.unit() as f32).collect();
        let (mut l2, mut ip, mut scratch, mut back) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        pq.l2_table(&q, &mut l2);
        pq.ip_table(&q, &mut ip);
        let mut err = 0.0;
        for x in data.chunks_exact(dim).take(50) {
            let mut code = vec![0u8; Pq::code_size(4, 4)];
            pq.encode(x, &mut code, &mut scratch);
            pq.decode(&code, &mut back);
            assert!((pq.lookup(&code, &l2) - distance::l2_f32(&q, &back)).abs() < 1e-4);
            assert!((pq.lookup(&code, &ip) - distance::ip_f32(&q, &back)).abs() < 1e-4);
            err += distance::l2_f32(x, &back);
        }
        // 16 codewords per 2-d sub-space of uniform [0, 1) data: small error.
        assert!(err / 50.0 < 0.1, "mean error {}", err / 50.0);
    }
}
