//! rivus-index: vector index algorithms over in-memory vectors. No I/O: indexes read
//! vectors through [`VectorSource`] (which the engine implements over its columns, mmapped
//! or not), serialize to an [`std::io::Write`] and load from bytes.
//!
//! - [`distance`]: the kernels every index and exact search share (L2, IP, COSINE on
//!   float32, float16, bfloat16 and int8 vectors; HAMMING and JACCARD on binary vectors),
//!   each compiled for the baseline CPU, AVX2 and AVX-512 and chosen at run time.
//! - [`flat`]: exact search (top-k, allow-filter, range) over a [`VectorSource`].
//! - [`hnsw`]: HNSW graphs: parallel build, a frozen form searched in place from bytes,
//!   filtered and range search; [`hnsw::sq`]: HNSW_SQ, the same graph walked over
//!   scalar-quantized codes, with an optional refine step.
//! - [`TopK`]: the bounded `(distance, id)` collector with deterministic ties.
//!
//! Scores follow Milvus: [`Hit::score`] is the squared L2 distance (smaller is closer), the
//! inner product or the cosine similarity (larger is closer). [`Metric`] converts between
//! scores and the internal smaller-is-closer distances.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod distance;
mod error;
pub mod flat;
pub mod hnsw;
mod metric;
mod search;
mod source;
mod topk;

pub use error::{IndexError, Result};
pub use hnsw::{
    FrozenHnsw, FrozenHnswSq, HnswBuilder, HnswParams, HnswSqParams, RefineType, SqType,
};
pub use metric::{KernelFn, Metric};
pub use search::{Hit, RangeSearch, SearchOptions};
pub use source::{DenseVectors, VectorSource};
pub use topk::TopK;

// Inverted-file, binary and sparse indexes.
pub mod ivf;
pub use ivf::{FrozenIvf, IvfParams, IvfQuantizer, IvfSearchParams};
pub mod binary;
pub use binary::{BinIvfParams, BinaryMetric, BinarySource, BinaryVectors, FrozenBinIvf};
pub mod sparse;
pub use sparse::{FrozenSparse, SparseParams, SparseSearchParams, SparseSource};
