//! Integration tests of the inverted-file, binary and sparse indexes, each against exact
//! search: recall floors, filters, range search, serialization and parameter errors.

mod binary;
mod common;
mod flat_lists;
mod pq;
mod sparse;
mod sq8;
mod timing;
