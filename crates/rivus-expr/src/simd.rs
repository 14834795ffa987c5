//! Hand-written SIMD kernels for the hottest filter shapes, where the compiler's
//! auto-vectorization of the portable loops falls short. Each has a portable twin in
//! `eval.rs` that the differential tests compare it with.

/// Membership of `values` in a set of integers whose offsets from `lo` lie below
/// `span <= 1024`, given as a 1024-bit table (bit `x - lo` set for each member). Bit `i` of
/// the result is `member(values[i]) != negated`. `None` when this CPU lacks AVX-512.
pub fn in_bit_table(
    values: &[i64],
    lo: i64,
    span: u64,
    table: &[u64; 16],
    negated: bool,
) -> Option<Vec<u64>> {
    #[cfg(target_arch = "x86_64")]
    if rivus_schema::cpu::level() == rivus_schema::cpu::Level::Avx512 && span <= 1024 {
        // SAFETY: AVX-512F is present (checked at run time just above).
        #[allow(unsafe_code)]
        return Some(unsafe { in_bit_table_avx512(values, lo, span, table, negated) });
    }
    let _ = (values, lo, span, table, negated);
    None
}

/// Eight rows per step: subtract `lo`, pick each row's table word with a two-register
/// permute (16 words = 1024 bits live in two registers), shift the row's bit down, test
/// it, and AND with the in-range mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn in_bit_table_avx512(
    values: &[i64],
    lo: i64,
    span: u64,
    table: &[u64; 16],
    negated: bool,
) -> Vec<u64> {
    use std::arch::x86_64::{
        __m512i, _mm512_and_si512, _mm512_cmplt_epu64_mask, _mm512_loadu_si512,
        _mm512_permutex2var_epi64, _mm512_set1_epi64, _mm512_srli_epi64, _mm512_srlv_epi64,
        _mm512_sub_epi64, _mm512_test_epi64_mask,
    };
    // SAFETY: each load reads 64 bytes from a slice of eight 8-byte integers; the loads
    // are unaligned loads, so any address is fine.
    let load = |eight: &[i64]| -> __m512i {
        debug_assert_eq!(eight.len(), 8);
        unsafe { _mm512_loadu_si512(eight.as_ptr().cast()) }
    };
    let table: [i64; 16] = table.map(|w| w as i64);
    let (t_lo, t_hi) = (load(&table[..8]), load(&table[8..]));
    let lo_v = _mm512_set1_epi64(lo);
    let span_v = _mm512_set1_epi64(span as i64);
    let low6 = _mm512_set1_epi64(63);
    let one = _mm512_set1_epi64(1);
    let mut words = vec![0u64; values.len().div_ceil(64)];
    let mut chunks = values.chunks_exact(64);
    for (word, chunk) in words.iter_mut().zip(&mut chunks) {
        let mut bits = 0u64;
        for (k, eight) in chunk.chunks_exact(8).enumerate() {
            let off = _mm512_sub_epi64(load(eight), lo_v);
            let in_range = _mm512_cmplt_epu64_mask(off, span_v);
            let w = _mm512_permutex2var_epi64(t_lo, _mm512_srli_epi64::<6>(off), t_hi);
            let bit = _mm512_srlv_epi64(w, _mm512_and_si512(off, low6));
            let hit = _mm512_test_epi64_mask(bit, one) & in_range;
            bits |= u64::from(hit) << (k * 8);
        }
        *word = if negated { !bits } else { bits };
    }
    let rest = chunks.remainder();
    if let (Some(last), false) = (words.last_mut(), rest.is_empty()) {
        let mut bits = 0u64;
        for (j, v) in rest.iter().enumerate() {
            let off = v.wrapping_sub(lo) as u64;
            let member =
                off < span && (table[(off >> 6) as usize & 15] as u64) >> (off & 63) & 1 == 1;
            bits |= u64::from(member != negated) << j;
        }
        *last = bits;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512 kernel against the portable definition, when this CPU can run it.
    #[test]
    fn in_bit_table_matches_the_portable_rule() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (lo, span) in [(0i64, 1u64), (-500, 700), (i64::MAX - 2000, 1024), (3, 64)] {
            let mut table = [0u64; 16];
            let members: Vec<u64> = (0..span).filter(|_| next() % 3 == 0).collect();
            for off in &members {
                table[(*off >> 6) as usize] |= 1 << (off & 63);
            }
            for len in [0usize, 1, 63, 64, 65, 200, 1000] {
                let values: Vec<i64> = (0..len)
                    .map(|_| lo.wrapping_add((next() % (span * 2 + 10)) as i64 - 5))
                    .collect();
                for negated in [false, true] {
                    let Some(words) = in_bit_table(&values, lo, span, &table, negated) else {
                        return; // no AVX-512 here: the portable path is all that runs
                    };
                    for (i, v) in values.iter().enumerate() {
                        let off = v.wrapping_sub(lo) as u64;
                        let member = off < span && members.contains(&off);
                        let bit = words[i / 64] >> (i % 64) & 1 == 1;
                        assert_eq!(bit, member != negated, "lo {lo} span {span} value {v}");
                    }
                    assert_eq!(words.len(), len.div_ceil(64));
                }
            }
        }
    }
}
