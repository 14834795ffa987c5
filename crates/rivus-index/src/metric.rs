//! How [`Metric`]'s scores order, and conversions between them and internal distances.
//! (The enum itself lives with the kernels in [`crate::distance`]; this module adds what
//! searches need on top.)
//!
//! Milvus reports L2 as the squared distance (smaller is closer) and IP / COSINE as
//! similarities (larger is closer). Inside the indexes everything is a *distance* where
//! smaller is closer: L2 as is, IP and COSINE negated. [`Metric::to_distance`] and
//! [`Metric::to_score`] convert at the edges, so a [`crate::Hit`] always carries the Milvus
//! score.

pub use crate::distance::Metric;
use crate::distance::{self, Kernel};

/// A distance or score kernel over two float32 vectors.
pub type KernelFn = Kernel<f32>;

impl Metric {
    /// Parses Milvus's name (`L2`, `IP`, `COSINE`, any case).
    pub fn from_name(name: &str) -> Option<Metric> {
        if name.eq_ignore_ascii_case("L2") {
            Some(Metric::L2)
        } else if name.eq_ignore_ascii_case("IP") {
            Some(Metric::Ip)
        } else if name.eq_ignore_ascii_case("COSINE") {
            Some(Metric::Cosine)
        } else {
            None
        }
    }

    /// Milvus's name for the metric.
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "L2",
            Metric::Ip => "IP",
            Metric::Cosine => "COSINE",
        }
    }

    /// Whether a larger score is closer (IP, COSINE).
    pub fn higher_is_better(self) -> bool {
        match self {
            Metric::L2 => false,
            Metric::Ip | Metric::Cosine => true,
        }
    }

    /// This machine's kernel for the metric's Milvus score, resolved once so hot loops call
    /// it through one pointer.
    pub fn score_fn(self) -> KernelFn {
        distance::f32_kernel(self)
    }

    /// The Milvus score of `vector` for `query` (squared L2, inner product or cosine).
    /// Every exact score this crate returns comes from here, so FLAT and HNSW agree to the
    /// bit on shared rows.
    pub fn score(self, query: &[f32], vector: &[f32]) -> f32 {
        (self.score_fn())(query, vector)
    }

    /// A score as an internal distance (smaller is closer). `+ 0.0` folds `-0.0` into `0.0`
    /// so equal scores tie exactly and fall back to the row order.
    #[inline]
    pub fn to_distance(self, score: f32) -> f32 {
        match self {
            Metric::L2 => score + 0.0,
            Metric::Ip | Metric::Cosine => -score + 0.0,
        }
    }

    /// An internal distance back as the Milvus score.
    #[inline]
    pub fn to_score(self, distance: f32) -> f32 {
        match self {
            Metric::L2 => distance,
            Metric::Ip | Metric::Cosine => -distance + 0.0,
        }
    }

    /// Stable number used in serialized indexes.
    pub(crate) fn code(self) -> u32 {
        match self {
            Metric::L2 => 0,
            Metric::Ip => 1,
            Metric::Cosine => 2,
        }
    }

    /// Inverse of [`Metric::code`].
    pub(crate) fn from_code(code: u32) -> Option<Metric> {
        match code {
            0 => Some(Metric::L2),
            1 => Some(Metric::Ip),
            2 => Some(Metric::Cosine),
            _ => None,
        }
    }
}

/// `1 / |v|`, or 0 for a zero (or non-finite) vector so that COSINE against it is 0, as
/// [`distance::cosine_f32`] defines it.
pub(crate) fn inverse_norm(v: &[f32]) -> f32 {
    let norm = (distance::ip_f32_kernel())(v, v).sqrt();
    if norm > 0.0 && norm.is_finite() {
        1.0 / norm
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in [Metric::L2, Metric::Ip, Metric::Cosine] {
            assert_eq!(Metric::from_name(m.name()), Some(m));
            assert_eq!(Metric::from_name(&m.name().to_lowercase()), Some(m));
            assert_eq!(Metric::from_code(m.code()), Some(m));
        }
        assert_eq!(Metric::from_name("HAMMING"), None);
    }

    #[test]
    fn distances_order_closer_first() {
        assert!(Metric::L2.to_distance(1.0) < Metric::L2.to_distance(2.0));
        assert!(Metric::Ip.to_distance(2.0) < Metric::Ip.to_distance(1.0));
        assert_eq!(
            Metric::Cosine.to_score(Metric::Cosine.to_distance(0.5)),
            0.5
        );
        assert_eq!(Metric::Ip.to_distance(0.0).to_bits(), 0.0f32.to_bits());
    }
}
