//! rivus-index integration tests, one binary: HNSW against FLAT (the differential safety
//! net), filters, range search, serialization and edge cases.

mod common;
mod differential;
mod edges;
mod filtered;
mod serialization;
