//! The container the IVF, binary IVF and sparse indexes serialize to, and little-endian
//! readers for arrays inside it. Little-endian throughout.
//!
//! ```text
//! offset  size  field
//!      0     8  magic (one per index family)
//!      8     4  format version
//!     12     4  F: number of u64 header fields
//!     16     4  S: number of sections
//!     20     4  reserved (0)
//!     24   8*F  header fields (index-specific; f32 values as their bits)
//! 24+8*F  16*S  section table: byte offset, byte length (two u64 per section)
//! then the sections, each starting at a multiple of 64 bytes from the start (zero
//! padding between them), so an mmapped (page-aligned) file keeps every array aligned.
//! ```
//!
//! Loading checks the magic, version, counts and that every section lies inside the
//! bytes; the arrays themselves are read on demand (except small ones an index decodes
//! once, such as centroids). No checksum: the engine frames index blobs with its own.

use std::ops::Range;

use crate::{IndexError, Result};

/// Fixed part of the header.
const FIXED: usize = 24;
/// Sections start at multiples of this.
const ALIGN: usize = 64;

/// A decoded header: the fields and where each section lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    pub(crate) fields: Vec<u64>,
    pub(crate) sections: Vec<Range<usize>>,
}

/// Serializes `fields` and `sections` into one buffer.
pub(crate) fn encode(magic: &[u8; 8], version: u32, fields: &[u64], sections: &[&[u8]]) -> Vec<u8> {
    let table_at = FIXED + 8 * fields.len();
    let mut at = (table_at + 16 * sections.len()).next_multiple_of(ALIGN);
    let mut table = Vec::with_capacity(sections.len());
    for s in sections {
        table.push((at, s.len()));
        at = (at + s.len()).next_multiple_of(ALIGN);
    }
    let mut out = Vec::with_capacity(at);
    out.extend_from_slice(magic);
    for v in [version, fields.len() as u32, sections.len() as u32, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for f in fields {
        out.extend_from_slice(&f.to_le_bytes());
    }
    for &(offset, len) in &table {
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&(len as u64).to_le_bytes());
    }
    for (s, &(offset, _)) in sections.iter().zip(&table) {
        out.resize(offset, 0);
        out.extend_from_slice(s);
    }
    out
}

/// Parses the header written by [`encode`]: `what` names the index in errors.
pub(crate) fn decode(
    bytes: &[u8],
    magic: &[u8; 8],
    version: u32,
    fields: usize,
    sections: usize,
    what: &str,
) -> Result<Blob> {
    if bytes.len() < FIXED || bytes.get(..8) != Some(&magic[..]) {
        return Err(IndexError::corrupt(format!(
            "not a {what} index (bad magic)"
        )));
    }
    let found = u32_at(bytes, 8).unwrap_or(0);
    if found != version {
        return Err(IndexError::UnsupportedVersion {
            found,
            supported: version,
        });
    }
    let (f, s) = (
        u32_at(bytes, 12).unwrap_or(0) as usize,
        u32_at(bytes, 16).unwrap_or(0) as usize,
    );
    if f != fields || s != sections {
        return Err(IndexError::corrupt(format!(
            "{what} header has {f} fields and {s} sections, expected {fields} and {sections}"
        )));
    }
    let table_at = FIXED + 8 * fields;
    if bytes.len() < table_at + 16 * sections {
        return Err(IndexError::corrupt(format!("{what} header truncated")));
    }
    let fields = (0..fields)
        .map(|i| u64_at(bytes, FIXED + 8 * i).unwrap_or(0))
        .collect();
    let mut ranges = Vec::with_capacity(sections);
    for i in 0..sections {
        let at = table_at + 16 * i;
        let offset = u64_at(bytes, at).unwrap_or(u64::MAX);
        let len = u64_at(bytes, at + 8).unwrap_or(u64::MAX);
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?))
            .filter(|r| r.start % ALIGN == 0 && r.end <= bytes.len())
            .ok_or_else(|| {
                IndexError::corrupt(format!(
                    "{what} section {i} ({len} bytes at {offset}) outside {} bytes",
                    bytes.len()
                ))
            })?;
        ranges.push(range);
    }
    Ok(Blob {
        fields,
        sections: ranges,
    })
}

impl Blob {
    /// Header field `i` (0 when absent; callers asked for the count up front).
    pub(crate) fn field(&self, i: usize) -> u64 {
        self.fields.get(i).copied().unwrap_or(0)
    }

    /// Header field `i` as a count, rejecting values past `max`.
    pub(crate) fn count(&self, i: usize, max: u64, name: &str) -> Result<usize> {
        let v = self.field(i);
        if v > max {
            return Err(IndexError::corrupt(format!("{name} = {v} out of range")));
        }
        usize::try_from(v).map_err(|_| IndexError::corrupt(format!("{name} = {v} out of range")))
    }

    /// Section `i`, checked to hold exactly `len` bytes.
    pub(crate) fn section(&self, i: usize, len: Option<usize>, name: &str) -> Result<Range<usize>> {
        let r = self
            .sections
            .get(i)
            .cloned()
            .ok_or_else(|| IndexError::corrupt(format!("missing section {name}")))?;
        match len {
            Some(len) if r.len() != len => Err(IndexError::corrupt(format!(
                "section {name} holds {} bytes, expected {len}",
                r.len()
            ))),
            Some(_) | None => Ok(r),
        }
    }
}

/// The little-endian u32 at byte `at`, if in bounds.
#[inline(always)]
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// The little-endian u64 at byte `at`, if in bounds.
#[inline(always)]
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// The u32s stored in `bytes` (a whole section; a trailing partial value is ignored).
#[inline]
pub(crate) fn u32s(bytes: &[u8]) -> impl ExactSizeIterator<Item = u32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// The f32s stored in `bytes`, decoded into a vector.
pub(crate) fn f32_vec(bytes: &[u8]) -> Vec<f32> {
    u32s(bytes).map(f32::from_bits).collect()
}

/// The u32s stored in `bytes`, decoded into a vector.
pub(crate) fn u32_vec(bytes: &[u8]) -> Vec<u32> {
    u32s(bytes).collect()
}

/// `values` as little-endian bytes.
pub(crate) fn u32_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `values` as little-endian bytes.
pub(crate) fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `values` as little-endian bytes.
pub(crate) fn u64_bytes(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A CSR offsets array (`lists + 1` values): starts at 0, never decreases, ends at `total`.
pub(crate) fn check_offsets(offsets: &[u32], total: usize, name: &str) -> Result<()> {
    let monotone = offsets.windows(2).all(|w| w[0] <= w[1]);
    if offsets.first() != Some(&0)
        || !monotone
        || offsets.last().map(|&v| v as usize) != Some(total)
    {
        return Err(IndexError::corrupt(format!(
            "{name} offsets are not a partition of {total} entries"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let bytes = encode(b"TESTBLOB", 3, &[7, u64::MAX], &[&[1, 2, 3], &[], &[9; 70]]);
        let blob = decode(&bytes, b"TESTBLOB", 3, 2, 3, "test").unwrap();
        assert_eq!(blob.fields, [7, u64::MAX]);
        assert_eq!(&bytes[blob.sections[0].clone()], &[1, 2, 3]);
        assert!(blob.sections[1].is_empty());
        assert_eq!(blob.sections[2].len(), 70);
        assert!(blob.sections.iter().all(|r| r.start % 64 == 0));
        assert!(blob.section(0, Some(4), "x").is_err());
        assert!(blob.count(1, 10, "x").is_err());
        assert!(decode(&bytes, b"OTHERBLB", 3, 2, 3, "test").is_err());
        assert!(matches!(
            decode(&bytes, b"TESTBLOB", 4, 2, 3, "test"),
            Err(IndexError::UnsupportedVersion { found: 3, .. })
        ));
        assert!(decode(&bytes, b"TESTBLOB", 3, 1, 3, "test").is_err());
        assert!(decode(&bytes[..bytes.len() - 1], b"TESTBLOB", 3, 2, 3, "test").is_err());
        assert!(decode(&bytes[..30], b"TESTBLOB", 3, 2, 3, "test").is_err());
    }

    #[test]
    fn offsets_must_partition() {
        assert!(check_offsets(&[0, 2, 2, 5], 5, "l").is_ok());
        assert!(check_offsets(&[0, 3, 2, 5], 5, "l").is_err());
        assert!(check_offsets(&[1, 5], 5, "l").is_err());
        assert!(check_offsets(&[0, 4], 5, "l").is_err());
        assert!(check_offsets(&[], 0, "l").is_err());
    }
}
