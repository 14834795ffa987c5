//! Inverted-file indexes over float vectors: IVF_FLAT, IVF_SQ8 and IVF_PQ, written for this
//! crate from the published algorithms.
//!
//! - Build (`builder`): k-means (`kmeans`: k-means++ or random seeding from a fixed seed,
//!   Lloyd iterations accelerated with Hamerly's bounds, on a sample of at most
//!   `train_per_centroid * nlist` rows) trains the centroids; every row goes to the list of
//!   its nearest centroid (squared L2). Each entry stores the row's vector (IVF_FLAT, f32 as
//!   given), an 8-bit scalar code (IVF_SQ8, `sq8`) or a product-quantized code of its
//!   residual from the centroid (IVF_PQ, `pq`), in list order so that a scan reads
//!   contiguous memory.
//! - [`FrozenIvf`] (`frozen`): the immutable index, read in place from its serialized bytes
//!   (`blob` describes the container); searching it (`query`) probes the `nprobe` lists
//!   whose centroids are nearest the query, widening under filters and ranges (`probe`).
//!
//! Metrics: L2 assigns and probes by squared L2. IP assigns by L2 (k-means cells) and
//! probes the lists of largest `query . centroid` (a list's mean inner product). COSINE
//! works on unit vectors: rows (for training and codes) and the query are normalized, then
//! it is L2 for assigning and probing.
//!
//! Scores ([`crate::Hit::score`], Milvus's conventions):
//! - IVF_FLAT: the metric's exact kernel on the stored vector and the query as given:
//!   bit-identical to [`crate::flat::search`]'s scores (COSINE included).
//! - IVF_SQ8 / IVF_PQ, like Milvus, return the score estimated from the codes: squared L2
//!   or inner product of the (normalized) query with the decoded vector; for COSINE,
//!   `1 - d / 2` for the squared L2 `d` between the normalized query and the decoded
//!   normalized row (ranking by the inner product with a decoded vector instead lets its
//!   quantization error in norm reorder neighbours: on clustered test data recall@10 drops
//!   from 0.97 to 0.89 for SQ8). With [`IvfSearchParams::refine_factor`] `r >= 1`, the
//!   best `r * k` rows by code score are rescored exactly from the source instead.
//!
//! Filters and ranges (all IVF indexes, BIN_IVF_FLAT included): a search allowed a
//! fraction `s` of the rows probes `nprobe / s` lists (as many allowed rows scored as an
//! unfiltered search scores rows), or, when that costs more, scores the allowed rows
//! directly (each row's entry is stored); if the probed lists held fewer than
//! `min(k, allowed)` allowed rows, the probe doubles until they do or every list is
//! scanned, so a filtered search returns as many hits as an exact one. A range search
//! doubles the probed lists while it has fewer than `k` hits and the last doubling found
//! new ones.
//!
//! Not here: incremental inserts (growing segments are searched with FLAT), deletes (pass
//! them as the allow-filter).

pub(crate) mod blob;
mod builder;
mod frozen;
pub(crate) mod kmeans;
pub(crate) mod pq;
pub(crate) mod probe;
mod query;
pub(crate) mod sq8;

pub use builder::build;
pub(crate) use builder::{group, positions};
pub use frozen::FrozenIvf;
pub use kmeans::KmeansInit;

use crate::{IndexError, Result};

/// Milvus's bounds for `nlist` and `nprobe`.
pub const MAX_NLIST: usize = 65_536;

/// How rows are stored in the lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvfQuantizer {
    /// IVF_FLAT: row ids only; rows are scored from the source.
    Flat,
    /// IVF_SQ8: one byte per dimension (per-dimension min/max scalar quantization).
    Sq8,
    /// IVF_PQ: `m` sub-quantizers of `nbits` bits each, on the residual from the centroid.
    Pq {
        /// Sub-quantizers (Milvus `m`); must divide the dimension.
        m: usize,
        /// Bits per sub-quantizer code (Milvus `nbits`, default 8).
        nbits: usize,
    },
}

impl IvfQuantizer {
    /// Milvus's index type name.
    pub fn index_type(self) -> &'static str {
        match self {
            IvfQuantizer::Flat => "IVF_FLAT",
            IvfQuantizer::Sq8 => "IVF_SQ8",
            IvfQuantizer::Pq { .. } => "IVF_PQ",
        }
    }
}

/// IVF build parameters (Milvus index params `nlist`, and `m`, `nbits` for IVF_PQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfParams {
    /// Number of lists (k-means centroids). Milvus range [1, 65536], default 128. A source
    /// with fewer rows gets one list per row.
    pub nlist: usize,
    /// What the lists store.
    pub quantizer: IvfQuantizer,
    /// Lloyd iterations of every k-means (stops early when assignments stop changing).
    pub kmeans_iters: usize,
    /// Training sample: at most this many rows per centroid (per codeword for IVF_PQ's
    /// sub-quantizers) are drawn for k-means; at least 1.
    pub train_per_centroid: usize,
    /// k-means seeding.
    pub init: KmeansInit,
    /// Seed of sampling and seeding (builds with the same seed and data are identical,
    /// whatever the thread count).
    pub seed: u64,
}

impl IvfParams {
    /// IVF_FLAT with `nlist` lists.
    pub fn flat(nlist: usize) -> Self {
        IvfParams {
            nlist,
            quantizer: IvfQuantizer::Flat,
            kmeans_iters: 10,
            train_per_centroid: 64,
            init: KmeansInit::PlusPlus,
            seed: 0x1f5e_ed00,
        }
    }

    /// IVF_SQ8 with `nlist` lists.
    pub fn sq8(nlist: usize) -> Self {
        IvfParams {
            quantizer: IvfQuantizer::Sq8,
            ..IvfParams::flat(nlist)
        }
    }

    /// IVF_PQ with `nlist` lists and `m` sub-quantizers of `nbits` bits.
    pub fn pq(nlist: usize, m: usize, nbits: usize) -> Self {
        IvfParams {
            quantizer: IvfQuantizer::Pq { m, nbits },
            ..IvfParams::flat(nlist)
        }
    }

    /// Rejects values outside Milvus's ranges for vectors of `dim` values (and `nbits`
    /// above 16, whose codebooks this crate does not train).
    pub fn validate(&self, dim: usize) -> Result<()> {
        if !(1..=MAX_NLIST).contains(&self.nlist) {
            return Err(IndexError::invalid(
                "nlist",
                self.nlist,
                "must be in [1, 65536]",
            ));
        }
        if self.train_per_centroid == 0 {
            return Err(IndexError::invalid(
                "train_per_centroid",
                self.train_per_centroid,
                "must be at least 1",
            ));
        }
        if let IvfQuantizer::Pq { m, nbits } = self.quantizer {
            if !(1..=MAX_NLIST).contains(&m) {
                return Err(IndexError::invalid("m", m, "must be in [1, 65536]"));
            }
            if !dim.is_multiple_of(m) {
                return Err(IndexError::invalid(
                    "m",
                    m,
                    "The dimension of a vector (dim) should be a multiple of the number of \
                     subquantizers (m)",
                ));
            }
            if !(1..=pq::MAX_NBITS).contains(&nbits) {
                return Err(IndexError::invalid("nbits", nbits, "must be in [1, 16]"));
            }
        }
        Ok(())
    }
}

/// IVF search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfSearchParams {
    /// Lists probed (Milvus `nprobe`, range [1, 65536], default 8); more than `nlist`
    /// probes every list.
    pub nprobe: usize,
    /// IVF_SQ8 / IVF_PQ only: 0 returns the scores estimated from the codes (Milvus);
    /// `r >= 1` takes the best `r * k` rows by code score and rescores them exactly from
    /// the source (range bounds then apply to the exact scores). Ignored by IVF_FLAT.
    pub refine_factor: usize,
}

impl Default for IvfSearchParams {
    fn default() -> Self {
        IvfSearchParams {
            nprobe: 8,
            refine_factor: 0,
        }
    }
}

impl IvfSearchParams {
    /// `nprobe` lists, no refinement.
    pub fn new(nprobe: usize) -> Self {
        IvfSearchParams {
            nprobe,
            refine_factor: 0,
        }
    }

    /// Rejects `nprobe` outside [1, 65536].
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_NLIST).contains(&self.nprobe) {
            return Err(IndexError::invalid(
                "nprobe",
                self.nprobe,
                "must be in [1, 65536]",
            ));
        }
        Ok(())
    }
}
