//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", 2016/2018), written for this crate.
//!
//! - [`HnswBuilder`] (`builder`): parallel insertion over lock-free link arrays, then a
//!   freeze into the serialized layout.
//! - [`FrozenHnsw`] (`frozen`, `format`): the immutable graph, read in place from bytes (a
//!   `Vec<u8>` after a build, an mmap after a load); searching it (`query`) takes the
//!   [`crate::VectorSource`] the graph was built over.
//! - `walk`: the greedy descent and the `ef` beam shared by build and search; `select`: the
//!   neighbour heuristic; `visited`: pooled per-walk scratch; `level`: level assignment.
//!
//! Not here: vectors (the engine's columns), deletes (pass them as the allow-filter),
//! incremental inserts into a frozen graph (growing segments are searched with FLAT).

mod builder;
mod format;
mod frozen;
mod level;
mod prefetch;
mod query;
mod select;
pub mod sq;
mod visited;
mod walk;

pub use builder::HnswBuilder;
pub use frozen::FrozenHnsw;
pub use sq::{FrozenHnswSq, HnswSqParams, RefineType, SqType};

use crate::{IndexError, Metric, Result, VectorSource};

/// HNSW build parameters (Milvus index params `M`, `efConstruction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HnswParams {
    /// Max links per node on layers >= 1; layer 0 allows `2 * m`. Milvus range [2, 2048].
    pub m: usize,
    /// Beam width while inserting; larger builds slower and searches better. At least 1.
    pub ef_construction: usize,
    /// Seed of the level assignment (builds with the same seed, data and one thread are
    /// identical).
    pub seed: u64,
}

impl Default for HnswParams {
    /// `M = 16`, `efConstruction = 200` (hnswlib's defaults); the engine passes the values
    /// of the Milvus request explicitly.
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            seed: 0x5eed_f41e,
        }
    }
}

impl HnswParams {
    /// `m` and `ef_construction` with the default seed.
    pub fn new(m: usize, ef_construction: usize) -> Self {
        HnswParams {
            m,
            ef_construction,
            ..HnswParams::default()
        }
    }

    /// Rejects values outside Milvus's ranges.
    pub fn validate(&self) -> Result<()> {
        if !(2..=2048).contains(&self.m) {
            return Err(IndexError::invalid("M", self.m, "must be in [2, 2048]"));
        }
        if self.ef_construction == 0 || self.ef_construction > i32::MAX as usize {
            return Err(IndexError::invalid(
                "efConstruction",
                self.ef_construction,
                "must be in [1, 2^31)",
            ));
        }
        Ok(())
    }
}

/// Builds a graph over every row of `source` on the current rayon pool (run it inside
/// `ThreadPool::install` to choose the thread count).
pub fn build<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    params: &HnswParams,
) -> Result<FrozenHnsw<Vec<u8>>> {
    HnswBuilder::new(source, metric, params)?.build()
}
