//! rivus-expr integration tests: expressions from the Milvus documentation, bound against a
//! schema and evaluated over a small batch with nulls, JSON and arrays.

mod docs_table;
