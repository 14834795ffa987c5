//! Milvus protobuf ↔ engine types. The only module that knows both.

pub mod data;
pub mod schema;
pub mod search;

use milvus::proto::common::KeyValuePair;
use rivus_schema::Properties;

/// Key/value pairs from the wire, in order (a repeated key keeps its last value).
pub fn properties_from(pairs: Vec<KeyValuePair>) -> Properties {
    Properties::from_pairs(
        pairs
            .into_iter()
            .map(|KeyValuePair { key, value }| (key, value)),
    )
}

/// Properties onto the wire, in order.
pub fn properties_to(props: &Properties) -> Vec<KeyValuePair> {
    props
        .iter()
        .map(|(k, v)| KeyValuePair {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}
