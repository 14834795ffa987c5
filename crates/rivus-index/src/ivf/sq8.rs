//! 8-bit scalar quantization with a per-dimension range (IVF_SQ8's codes): dimension `d`
//! of a vector is stored as `round((x - min_d) / scale_d)` in 0..=255, where `min_d` and
//! `max_d = min_d + 255 * scale_d` are the smallest and largest values of that dimension
//! over the indexed rows. Decoding gives `min_d + code * scale_d`, within `scale_d / 2` of
//! the original value.

use rayon::prelude::*;

/// A trained scalar quantizer: `min` and `scale` per dimension.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sq8 {
    pub(crate) min: Vec<f32>,
    pub(crate) scale: Vec<f32>,
}

/// The smallest and largest finite value of each dimension over `rows` rows of `dim` values
/// (`row(r, buf)` writes row `r` into `buf`), in parallel; a dimension with no finite value
/// keeps `(inf, -inf)`. Shared by IVF_SQ8 and HNSW_SQ's quantizers.
pub(crate) fn bounds<F>(dim: usize, rows: usize, row: F) -> (Vec<f32>, Vec<f32>)
where
    F: Fn(u32, &mut Vec<f32>) + Sync,
{
    let init = || (vec![f32::INFINITY; dim], vec![f32::NEG_INFINITY; dim]);
    (0..rows as u32)
        .into_par_iter()
        .fold(
            || (init(), Vec::new()),
            |((mut lo, mut hi), mut buf), r| {
                row(r, &mut buf);
                for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(&buf) {
                    if x.is_finite() {
                        *l = l.min(x);
                        *h = h.max(x);
                    }
                }
                ((lo, hi), buf)
            },
        )
        .map(|(bounds, _)| bounds)
        .reduce(init, |(mut lo, mut hi), (lo2, hi2)| {
            for (a, b) in lo.iter_mut().zip(lo2) {
                *a = a.min(b);
            }
            for (a, b) in hi.iter_mut().zip(hi2) {
                *a = a.max(b);
            }
            (lo, hi)
        })
}

impl Sq8 {
    /// The quantizer covering every value of `rows` rows of `dim` values; `row(r, buf)`
    /// writes row `r` into `buf`.
    pub(crate) fn fit<F>(dim: usize, rows: usize, row: F) -> Sq8
    where
        F: Fn(u32, &mut Vec<f32>) + Sync,
    {
        let (min, max) = bounds(dim, rows, row);
        Sq8::from_bounds(&min, &max)
    }

    /// The quantizer for the value ranges `min[d]..=max[d]` (an empty or non-finite range
    /// codes every value as `min`, or 0).
    pub(crate) fn from_bounds(min: &[f32], max: &[f32]) -> Sq8 {
        let (mut lo, mut scale) = (Vec::with_capacity(min.len()), Vec::with_capacity(min.len()));
        for (&a, &b) in min.iter().zip(max) {
            let a = if a.is_finite() { a } else { 0.0 };
            let s = (b - a) / 255.0;
            lo.push(a);
            scale.push(if s.is_finite() && s > 0.0 { s } else { 0.0 });
        }
        Sq8 { min: lo, scale }
    }

    /// Codes of `x` into `out` (one byte per dimension).
    pub(crate) fn encode(&self, x: &[f32], out: &mut [u8]) {
        for (((o, &v), &lo), &s) in out.iter_mut().zip(x).zip(&self.min).zip(&self.scale) {
            *o = if s > 0.0 {
                // NaN -> 0 through `as`.
                ((v - lo) / s).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
        }
    }

    /// The vector `code` stands for, into `out`.
    #[inline]
    pub(crate) fn decode(&self, code: &[u8], out: &mut [f32]) {
        for (((o, &c), &lo), &s) in out.iter_mut().zip(code).zip(&self.min).zip(&self.scale) {
            *o = lo + f32::from(c) * s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_is_within_half_a_step() {
        let rows = [[0.0f32, -1.0, 5.0], [1.0, 1.0, 5.0], [0.3, 0.2, 5.0]];
        let q = Sq8::fit(3, 3, |r, buf| {
            buf.clear();
            buf.extend_from_slice(&rows[r as usize]);
        });
        assert_eq!(q.min, [0.0, -1.0, 5.0]);
        assert_eq!(q.scale[2], 0.0);
        for r in rows {
            let mut code = [0u8; 3];
            q.encode(&r, &mut code);
            let mut back = [0f32; 3];
            q.decode(&code, &mut back);
            for d in 0..3 {
                assert!((back[d] - r[d]).abs() <= q.scale[d] / 2.0 + 1e-6);
            }
        }
        let mut code = [0u8; 3];
        q.encode(&[9.0, -9.0, f32::NAN], &mut code);
        assert_eq!(code, [255, 0, 0]);
    }
}
