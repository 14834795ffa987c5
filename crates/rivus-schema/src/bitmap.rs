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
    /// Works 64 values per word with a branch-free inner loop, which the compiler turns into
    /// SIMD compares and mask extraction for simple predicates.
    pub fn from_slice<T>(values: &[T], pred: impl Fn(&T) -> bool) -> Self {
        let mut words = Vec::with_capacity(values.len().div_ceil(64));
        let mut chunks = values.chunks_exact(64);
        for chunk in &mut chunks {
            let mut word = 0u64;
            for (j, v) in chunk.iter().enumerate() {
                word |= u64::from(pred(v)) << j;
            }
            words.push(word);
        }
        let mut word = 0u64;
        for (j, v) in chunks.remainder().iter().enumerate() {
            word |= u64::from(pred(v)) << j;
        }
        if !chunks.remainder().is_empty() {
            words.push(word);
        }
        Bitmap {
            words,
            len: values.len(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        z.set(0, true);
        assert!(z.get(0));
        assert!(!z.get(500));
    }
}
