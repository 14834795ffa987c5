//! rivus-index: vector index algorithms over in-memory vectors. No I/O: indexes will read
//! vectors through `rivus-schema` columns and serialize to writers the engine provides.
//!
//! Today: [`distance`], the kernels every index and exact search share (L2, IP, COSINE on
//! float32, float16, bfloat16 and int8 vectors; HAMMING and JACCARD on binary vectors), each
//! compiled for the baseline CPU, AVX2 and AVX-512 and chosen at run time.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod distance;
