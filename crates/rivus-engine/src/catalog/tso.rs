//! Hybrid timestamps and ids, as Milvus's TSO hands them out.
//!
//! A hybrid timestamp is `physical_ms << 18 | logical`. Ids are drawn from the same sequence,
//! so they are unique, increase with creation time and look like Milvus ids.

use std::time::{SystemTime, UNIX_EPOCH};

/// Bits of the logical counter in a hybrid timestamp.
pub const LOGICAL_BITS: u32 = 18;

/// Physical milliseconds of a hybrid timestamp.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

/// The next hybrid timestamp after `last`: at least the current wall clock, strictly greater
/// than `last` even if the clock went backwards.
pub fn next_ts(last: u64) -> u64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (now_ms << LOGICAL_BITS).max(last.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_even_against_a_future_last() {
        let far_future = u64::MAX / 2;
        assert_eq!(next_ts(far_future), far_future + 1);
        let a = next_ts(0);
        let b = next_ts(a);
        assert!(b > a);
        assert!(physical_ms(a) > 1_600_000_000_000);
    }
}
