//! Level assignment: node `i` lives on layers `0..=level(i)`, with
//! `P(level >= l) = M^-l` (the paper's `mL = 1 / ln M`).
//!
//! Levels come from a hash of `(seed, row)` rather than a shared random stream, so they do
//! not depend on insertion order or thread count, and the builder can lay out every link
//! list before inserting anything.

/// Highest level a node may get; with `M >= 2` reaching it takes about `2^16` times more
/// rows than `u32` offsets allow, so the cap only guards against a pathological hash.
pub(crate) const MAX_LEVEL: u8 = 16;

/// SplitMix64: a well-mixed 64-bit hash of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The level of every row `0..n` for max degree `m` (at least 2).
pub(crate) fn assign_levels(n: usize, m: usize, seed: u64) -> Vec<u8> {
    let ml = 1.0 / (m.max(2) as f64).ln();
    let seed = splitmix64(seed);
    (0..n as u64)
        .map(|row| {
            // Uniform in (0, 1]: 53 random bits, shifted away from zero.
            let bits = splitmix64(seed ^ row.wrapping_mul(0xd6e8_feb8_6659_fd93)) >> 11;
            let u = (bits as f64 + 1.0) / (1u64 << 53) as f64;
            let level = (-u.ln() * ml).floor();
            if level >= f64::from(MAX_LEVEL) {
                MAX_LEVEL
            } else {
                level as u8
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_geometric_and_deterministic() {
        let levels = assign_levels(100_000, 16, 7);
        assert_eq!(levels, assign_levels(100_000, 16, 7));
        let above0 = levels.iter().filter(|&&l| l >= 1).count() as f64;
        let above1 = levels.iter().filter(|&&l| l >= 2).count() as f64;
        // Expected 1/16 and 1/256 of the rows.
        assert!((above0 / 100_000.0 - 1.0 / 16.0).abs() < 0.005, "{above0}");
        assert!((above1 / 100_000.0 - 1.0 / 256.0).abs() < 0.001, "{above1}");
        assert_ne!(levels, assign_levels(100_000, 16, 8));
    }
}
