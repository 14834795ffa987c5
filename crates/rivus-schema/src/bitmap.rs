//! A fixed-length bitmap of rows: the result of a filter, and the validity of a nullable
//! column.

/// `len` bits, packed 64 per word. Bits past `len` in the last word are always zero.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bitmap {
    words: Vec<u64>,
    len: usize,
}

impl Bitmap {
    /// `len` bits, all clear.
    pub fn zeros(len: usize) -> Self {
        Bitmap {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// `len` bits, all set.
    pub fn ones(len: usize) -> Self {
        let mut b = Bitmap {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        b.clear_tail();
        b
    }

    /// Bit `i` set exactly where `pred(&values[i])` holds; `len` is `values.len()`.
    ///
    /// Works 64 values per word with a branch-free inner loop, compiled once for the
    /// baseline CPU and once for AVX-512/AVX2 (picked at run time, see [`crate::cpu`]), so
    /// simple predicates become SIMD compares whose masks go straight into the words.
    pub fn from_slice<T>(values: &[T], pred: impl Fn(&T) -> bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        let words = match crate::cpu::level() {
            // SAFETY: `level` checked at run time that this CPU has the features the copy
            // was compiled for.
            #[allow(unsafe_code)]
            crate::cpu::Level::Avx512 => unsafe { pack_words_avx512(values, &pred) },
            #[allow(unsafe_code)]
            crate::cpu::Level::Avx2 => unsafe { pack_words_avx2(values, &pred) },
            crate::cpu::Level::Baseline => pack_words(values, &pred),
        };
        #[cfg(not(target_arch = "x86_64"))]
        let words = pack_words(values, &pred);
        Bitmap {
            words,
            len: values.len(),
        }
    }

    /// Bit `i` set exactly where `pred(&a[i], &b[i])` holds; `len` is the shorter length.
    /// Compiled per CPU level like [`from_slice`](Self::from_slice).
    pub fn from_zip<A, B>(a: &[A], b: &[B], pred: impl Fn(&A, &B) -> bool) -> Self {
        let len = a.len().min(b.len());
        let (a, b) = (&a[..len], &b[..len]);
        #[cfg(target_arch = "x86_64")]
        let words = match crate::cpu::level() {
            // SAFETY: `level` checked at run time that this CPU has the features the copy
            // was compiled for.
            #[allow(unsafe_code)]
            crate::cpu::Level::Avx512 => unsafe { zip_words_avx512(a, b, &pred) },
            #[allow(unsafe_code)]
            crate::cpu::Level::Avx2 => unsafe { zip_words_avx2(a, b, &pred) },
            crate::cpu::Level::Baseline => zip_words(a, b, &pred),
        };
        #[cfg(not(target_arch = "x86_64"))]
        let words = zip_words(a, b, &pred);
        Bitmap { words, len }
    }

    /// A bitmap of `len` bits from its words (64 bits each, bit `i` in word `i / 64` at
    /// `i % 64`); missing words are zero, bits past `len` are cleared.
    pub fn from_words(mut words: Vec<u64>, len: usize) -> Self {
        words.resize(len.div_ceil(64), 0);
        let mut b = Bitmap { words, len };
        b.clear_tail();
        b
    }

    /// Bit `i` set where the `i`-th item of `bits` is true; `len` items are read.
    pub fn from_bools(len: usize, bits: impl Iterator<Item = bool>) -> Self {
        let mut words = vec![0u64; len.div_ceil(64)];
        for (i, bit) in bits.take(len).enumerate() {
            if let Some(w) = words.get_mut(i / 64) {
                *w |= u64::from(bit) << (i % 64);
            }
        }
        Bitmap { words, len }
    }

    /// Bit `i` set exactly where `f(i)` holds.
    pub fn from_fn(len: usize, mut f: impl FnMut(usize) -> bool) -> Self {
        let mut words = vec![0u64; len.div_ceil(64)];
        for (w, word) in words.iter_mut().enumerate() {
            let base = w * 64;
            let end = (base + 64).min(len);
            let mut bits = 0u64;
            for i in base..end {
                bits |= u64::from(f(i)) << (i - base);
            }
            *word = bits;
        }
        Bitmap { words, len }
    }

    fn clear_tail(&mut self) {
        let rem = self.len % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i` (false past the end).
    pub fn get(&self, i: usize) -> bool {
        i < self.len
            && self
                .words
                .get(i / 64)
                .is_some_and(|w| w >> (i % 64) & 1 == 1)
    }

    /// Sets bit `i` to `value` (ignored past the end).
    pub fn set(&mut self, i: usize, value: bool) {
        if i >= self.len {
            return;
        }
        if let Some(w) = self.words.get_mut(i / 64) {
            if value {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    /// Whether any bit in `start..end` is set. Ranges under 64 bits take a branch-free path
    /// (two word loads and shifts), which is what per-row ARRAY checks hit.
    #[inline]
    pub fn any_in(&self, start: usize, end: usize) -> bool {
        let len = end.wrapping_sub(start);
        if len < 64 && end <= self.len {
            let w = start / 64;
            let shift = (start % 64) as u32;
            let lo = self.words.get(w).copied().unwrap_or(0) >> shift;
            // `checked_shl` is `None` for a shift of 64 (shift == 0): nothing from the next word.
            let hi = self
                .words
                .get(w + 1)
                .copied()
                .unwrap_or(0)
                .checked_shl(64 - shift)
                .unwrap_or(0);
            let mask = (1u64 << len) - 1;
            return (lo | hi) & mask != 0;
        }
        self.any_in_long(start, end)
    }

    fn any_in_long(&self, start: usize, end: usize) -> bool {
        let end = end.min(self.len);
        if start >= end {
            return false;
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        let head = u64::MAX << (start % 64);
        let tail = u64::MAX >> (63 - (end - 1) % 64);
        if first == last {
            return self.words.get(first).is_some_and(|w| w & head & tail != 0);
        }
        self.words.get(first).is_some_and(|w| w & head != 0)
            || self
                .words
                .get(first + 1..last)
                .is_some_and(|ws| ws.iter().any(|w| *w != 0))
            || self.words.get(last).is_some_and(|w| w & tail != 0)
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `self &= other` (lengths must match; extra bits of the longer are ignored).
    pub fn and(&mut self, other: &Bitmap) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// `self |= other`.
    pub fn or(&mut self, other: &Bitmap) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// `self &= !other`.
    pub fn and_not(&mut self, other: &Bitmap) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Flips every bit.
    pub fn not(&mut self) {
        for w in &mut self.words {
            *w = !*w;
        }
        self.clear_tail();
    }

    /// Indexes of the set bits, ascending.
    pub fn iter_ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let tz = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(w * 64 + tz)
            })
        })
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,bmi2,popcnt")]
fn pack_words_avx512<T>(values: &[T], pred: &impl Fn(&T) -> bool) -> Vec<u64> {
    pack_words(values, pred)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2,popcnt")]
fn pack_words_avx2<T>(values: &[T], pred: &impl Fn(&T) -> bool) -> Vec<u64> {
    pack_words(values, pred)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,bmi2,popcnt")]
fn zip_words_avx512<A, B>(a: &[A], b: &[B], pred: &impl Fn(&A, &B) -> bool) -> Vec<u64> {
    zip_words(a, b, pred)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2,popcnt")]
fn zip_words_avx2<A, B>(a: &[A], b: &[B], pred: &impl Fn(&A, &B) -> bool) -> Vec<u64> {
    zip_words(a, b, pred)
}

/// The words of [`Bitmap::from_zip`] (slices of equal length).
#[inline(always)]
fn zip_words<A, B>(a: &[A], b: &[B], pred: &impl Fn(&A, &B) -> bool) -> Vec<u64> {
    let mut words = vec![0u64; a.len().div_ceil(64)];
    let mut ca = a.chunks_exact(64);
    let mut cb = b.chunks_exact(64);
    for (word, (x, y)) in words.iter_mut().zip((&mut ca).zip(&mut cb)) {
        let mut bits = 0u64;
        for j in 0..64 {
            bits |= u64::from(pred(&x[j], &y[j])) << j;
        }
        *word = bits;
    }
    let (x, y) = (ca.remainder(), cb.remainder());
    if let (Some(last), false) = (words.last_mut(), x.is_empty()) {
        let mut bits = 0u64;
        for (j, (p, q)) in x.iter().zip(y).enumerate() {
            bits |= u64::from(pred(p, q)) << j;
        }
        *last = bits;
    }
    words
}

/// The words of [`Bitmap::from_slice`]; inlined into each CPU-specific copy.
#[inline(always)]
fn pack_words<T>(values: &[T], pred: &impl Fn(&T) -> bool) -> Vec<u64> {
    let mut words = vec![0u64; values.len().div_ceil(64)];
    let mut chunks = values.chunks_exact(64);
    for (word, chunk) in words.iter_mut().zip(&mut chunks) {
        let mut bits = 0u64;
        for (j, v) in chunk.iter().enumerate() {
            bits |= u64::from(pred(v)) << j;
        }
        *word = bits;
    }
    if let Some(last) = words.last_mut() {
        let rem = chunks.remainder();
        if !rem.is_empty() {
            let mut bits = 0u64;
            for (j, v) in rem.iter().enumerate() {
                bits |= u64::from(pred(v)) << j;
            }
            *last = bits;
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every CPU-specific copy of the packing loops gives the portable result.
    #[test]
    fn cpu_specific_copies_agree() {
        let values: Vec<i64> = (0..1000).map(|i| (i * 7919) % 113 - 50).collect();
        let preds: [fn(&i64) -> bool; 3] = [|v| *v > 3, |v| *v == -50, |v| v % 2 == 0];
        for pred in preds {
            for len in [0, 1, 63, 64, 65, 999, 1000] {
                let v = &values[..len];
                let portable = pack_words(v, &pred);
                let zipped = zip_words(v, v, &|a: &i64, b: &i64| pred(a) && a == b);
                assert_eq!(portable, zipped);
                #[cfg(target_arch = "x86_64")]
                {
                    use crate::cpu::Level;
                    let level = crate::cpu::level();
                    if level != Level::Baseline {
                        // SAFETY: the CPU has AVX2 (level checked).
                        #[allow(unsafe_code)]
                        let avx2 = unsafe {
                            (
                                pack_words_avx2(v, &pred),
                                zip_words_avx2(v, v, &|a: &i64, b: &i64| pred(a) && a == b),
                            )
                        };
                        assert_eq!((portable.clone(), portable.clone()), avx2);
                    }
                    if level == Level::Avx512 {
                        // SAFETY: the CPU has AVX-512 (level checked).
                        #[allow(unsafe_code)]
                        let avx512 = unsafe {
                            (
                                pack_words_avx512(v, &pred),
                                zip_words_avx512(v, v, &|a: &i64, b: &i64| pred(a) && a == b),
                            )
                        };
                        assert_eq!((portable.clone(), portable.clone()), avx512);
                    }
                }
            }
        }
    }

    #[test]
    fn ops_respect_the_length() {
        let mut a = Bitmap::from_fn(130, |i| i % 3 == 0);
        assert_eq!(a.count_ones(), 44);
        let b = Bitmap::ones(130);
        a.not();
        assert_eq!(a.count_ones(), 86);
        a.and(&b);
        assert_eq!(a.count_ones(), 86);
        a.and_not(&Bitmap::from_fn(130, |i| i < 10));
        assert!(!a.get(1) && a.get(11) && !a.get(129) && a.get(128));
        let mut z = Bitmap::zeros(130);
        z.or(&a);
        assert_eq!(z, a);
        assert_eq!(a.iter_ones().take(3).collect::<Vec<_>>(), vec![10, 11, 13]);
        assert_eq!(
            Bitmap::from_slice(&(0..130).collect::<Vec<_>>(), |v| v % 3 == 0),
            Bitmap::from_fn(130, |i| i % 3 == 0)
        );
        for (s, e) in [
            (0, 0),
            (0, 130),
            (10, 11),
            (9, 10),
            (60, 70),
            (3, 129),
            (128, 200),
        ] {
            assert_eq!(
                a.any_in(s, e),
                (s..e.min(130)).any(|i| a.get(i)),
                "{s}..{e}"
            );
        }
        z.set(0, true);
        assert!(z.get(0));
        assert!(!z.get(500));
    }
}
