//! rivus-expr integration tests: expressions from the Milvus documentation, bound against a
//! schema and evaluated over a small batch with nulls, JSON and arrays; and the vectorized
//! evaluator against a naive row-at-a-time one.

// Test code: partial matches that panic on the unexpected are the point.
#![allow(clippy::wildcard_enum_match_arm)]

mod differential;
mod differential_nested;
mod docs_table;
