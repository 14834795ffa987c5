//! Ordered key/value properties (collections, databases, fields' `type_params`).

use serde::{Deserialize, Serialize};

/// An ordered list of string key/value pairs with unique keys.
///
/// Order is insertion order, which is what Milvus returns and what pymilvus shows; setting an
/// existing key replaces its value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Properties(Vec<(String, String)>);

impl Properties {
    /// An empty list.
    pub fn new() -> Self {
        Properties(Vec::new())
    }

    /// Builds from pairs; a later duplicate key replaces the earlier value.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut props = Properties::new();
        for (k, v) in pairs {
            props.set(k, v);
        }
        props
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(k, _)| k != key);
        self.0.len() != before
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_in_place_and_remove_reports_presence() {
        let mut p = Properties::from_pairs([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "3".to_string()),
        ]);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("a", "3"), ("b", "2")]);
        p.set("b", "4");
        p.set("c", "5");
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![("a", "3"), ("b", "4"), ("c", "5")]
        );
        assert!(p.remove("a"));
        assert!(!p.remove("a"));
        assert_eq!(p.get("c"), Some("5"));
        assert_eq!(p.len(), 2);
    }
}
