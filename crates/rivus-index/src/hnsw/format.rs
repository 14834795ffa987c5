//! The serialized HNSW graph, byte by byte. Little-endian throughout; every array starts at
//! a multiple of 4 bytes from the start (layer 0 at a multiple of 64), so an mmapped file
//! (page-aligned) can be read in place. No checksum: the engine frames index blobs with its
//! own.
//!
//! ```text
//! offset size  field
//!      0    8  magic "RVSHNSW\0"
//!      8    4  format version (3)
//!     12    4  metric (0 L2, 1 IP, 2 COSINE)
//!     16    4  dim
//!     20    4  rows (n): the graph covers source rows 0..n
//!     24    4  M (max links per row on layers >= 1; layer 0 allows 2M)
//!     28    4  efConstruction
//!     32    4  entry point row (u32::MAX when n = 0)
//!     36    4  levels (L: top layer + 1; 0 when n = 0)
//!     40    8  level seed
//!     48    8  byte offset of the inverse norms (COSINE; 0 when absent: every vector
//!              had unit length, so the walk scores with the inner product alone)
//!     56    8  byte offset of layer 0
//!     64    8  byte offset of the upper-block index
//!     72    8  byte offset of the upper blocks
//!     80    8  length of the upper blocks in u32 words
//!     88   40  reserved (0)
//!    128       layer 0: n x 2M u32, row r's links at [r * 2M, (r + 1) * 2M), closest
//!              first, unused slots u32::MAX
//!              upper-block index: n x u32, the word offset of row r's upper block, or
//!              u32::MAX for rows on layer 0 only
//!              upper blocks, one per row of level l >= 1: [l, then for each layer 1..=l:
//!              count, count links (closest first)]
//!              for COSINE unless all vectors are unit length: n x f32 inverse norms
//!              (1/|v|, 0 for a zero vector)
//! ```
//!
//! Every lookup is direct, because every query walks the graph: layer 0 has a fixed slot
//! per row (no offset to read first, so the walk can prefetch the next candidate's links;
//! with M = 16 a slot is 128 bytes, two cache lines), and a row's upper layers are one
//! block found through the index (about 1/M of the rows have one; the index costs 4 bytes
//! per row and saves a search through the rows of each upper layer at every hop).
//!
//! Vectors are not stored: they come from the [`crate::VectorSource`] at search time.

use crate::{IndexError, Metric, Result};

/// First eight bytes of every serialized graph.
pub(crate) const MAGIC: [u8; 8] = *b"RVSHNSW\0";
/// The format version this build writes and reads.
pub(crate) const VERSION: u32 = 3;
/// Fixed header size (layer 0 follows, 64-byte aligned).
pub(crate) const HEADER_BYTES: usize = 128;
/// An unused layer-0 slot, and a row without an upper block.
pub(crate) const EMPTY: u32 = u32::MAX;
/// More levels than any level assignment produces; guards a corrupt header.
const MAX_LEVELS: usize = 64;

/// The fixed header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) metric: Metric,
    pub(crate) dim: usize,
    pub(crate) rows: usize,
    pub(crate) m: usize,
    pub(crate) ef_construction: usize,
    pub(crate) entry: u32,
    /// Top layer + 1 (0 for an empty graph).
    pub(crate) levels: usize,
    pub(crate) seed: u64,
}

/// Where the arrays are (byte offsets from the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) layer0_at: usize,
    pub(crate) upper_index_at: usize,
    pub(crate) upper_at: usize,
    pub(crate) upper_words: usize,
    /// COSINE inverse norms, when stored.
    pub(crate) norms_at: Option<usize>,
}

/// The graph in memory, as the builder hands it over.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// `n * 2M` slots, [`EMPTY`]-padded.
    pub(crate) layer0: Vec<u32>,
    /// Per row: word offset of its upper block, or [`EMPTY`].
    pub(crate) upper_index: Vec<u32>,
    /// The upper blocks.
    pub(crate) upper: Vec<u32>,
    /// COSINE inverse norms (empty when not stored).
    pub(crate) inverse_norms: Vec<f32>,
}

/// Serializes a graph into one buffer.
pub(crate) fn encode(header: &Header, parts: &Parts) -> Vec<u8> {
    let layer0_at = HEADER_BYTES;
    let upper_index_at = layer0_at + 4 * parts.layer0.len();
    let upper_at = upper_index_at + 4 * parts.upper_index.len();
    let norms_at = upper_at + 4 * parts.upper.len();
    let end = norms_at + 4 * parts.inverse_norms.len();
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(&MAGIC);
    for v in [
        VERSION,
        header.metric.code(),
        header.dim as u32,
        header.rows as u32,
        header.m as u32,
        header.ef_construction as u32,
        header.entry,
        header.levels as u32,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [
        header.seed,
        if parts.inverse_norms.is_empty() {
            0
        } else {
            norms_at as u64
        },
        layer0_at as u64,
        upper_index_at as u64,
        upper_at as u64,
        parts.upper.len() as u64,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.resize(HEADER_BYTES, 0);
    for v in parts
        .layer0
        .iter()
        .chain(&parts.upper_index)
        .chain(&parts.upper)
    {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in &parts.inverse_norms {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The little-endian u32 at byte `at`, if in bounds.
#[inline(always)]
pub(crate) fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// A header `u64` field as a byte offset or count.
fn field(bytes: &[u8], at: usize) -> Result<usize> {
    let v = read_u64(bytes, at).ok_or_else(|| IndexError::corrupt("truncated header"))?;
    usize::try_from(v).map_err(|_| IndexError::corrupt("offset out of range"))
}

/// Checks that `count` u32s at byte `at` lie inside `len` bytes and start 4-aligned.
fn check_array(len: usize, at: usize, count: usize, what: &str) -> Result<()> {
    let end = count
        .checked_mul(4)
        .and_then(|b| b.checked_add(at))
        .ok_or_else(|| IndexError::corrupt(format!("{what} size overflows")))?;
    if !at.is_multiple_of(4) || end > len {
        return Err(IndexError::corrupt(format!(
            "{what} at {at} (+{count} u32) outside {len} bytes"
        )));
    }
    Ok(())
}

/// Parses and bounds-checks the header: O(1), the arrays themselves are only read on
/// demand. A link that points past `rows`, or an upper block that runs past its array, is
/// ignored at search time (treated as missing), never trusted.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, Layout)> {
    if bytes.len() < HEADER_BYTES || bytes.get(..8) != Some(&MAGIC[..]) {
        return Err(IndexError::corrupt("not an HNSW index (bad magic)"));
    }
    let u32_at = |at: usize| read_u32(bytes, at).unwrap_or(0);
    let version = u32_at(8);
    if version != VERSION {
        return Err(IndexError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let metric = Metric::from_code(u32_at(12))
        .ok_or_else(|| IndexError::corrupt(format!("unknown metric code {}", u32_at(12))))?;
    let header = Header {
        metric,
        dim: u32_at(16) as usize,
        rows: u32_at(20) as usize,
        m: u32_at(24) as usize,
        ef_construction: u32_at(28) as usize,
        entry: u32_at(32),
        levels: u32_at(36) as usize,
        seed: read_u64(bytes, 40).unwrap_or(0),
    };
    if header.dim == 0 {
        return Err(IndexError::corrupt("dim is 0"));
    }
    if !(2..=2048).contains(&header.m) {
        return Err(IndexError::corrupt(format!("M = {}", header.m)));
    }
    if header.rows == 0 {
        if header.levels != 0 {
            return Err(IndexError::corrupt("empty graph with levels"));
        }
    } else if header.levels == 0
        || header.levels > MAX_LEVELS
        || header.entry as usize >= header.rows
    {
        return Err(IndexError::corrupt(format!(
            "bad level count {} or entry {} for {} rows",
            header.levels, header.entry, header.rows
        )));
    }
    let layout = Layout {
        norms_at: None,
        layer0_at: field(bytes, 56)?,
        upper_index_at: field(bytes, 64)?,
        upper_at: field(bytes, 72)?,
        upper_words: field(bytes, 80)?,
    };
    let slots = header
        .rows
        .checked_mul(2 * header.m)
        .ok_or_else(|| IndexError::corrupt("layer 0 size overflows"))?;
    check_array(bytes.len(), layout.layer0_at, slots, "layer 0")?;
    check_array(
        bytes.len(),
        layout.upper_index_at,
        header.rows,
        "upper-block index",
    )?;
    check_array(
        bytes.len(),
        layout.upper_at,
        layout.upper_words,
        "upper blocks",
    )?;
    let norms_at = field(bytes, 48)?;
    let norms = if header.rows > 0 && metric == Metric::Cosine && norms_at != 0 {
        check_array(bytes.len(), norms_at, header.rows, "inverse norms")?;
        Some(norms_at)
    } else {
        None
    };
    Ok((
        header,
        Layout {
            norms_at: norms,
            ..layout
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let header = Header {
            metric: Metric::Cosine,
            dim: 2,
            rows: 3,
            m: 2,
            ef_construction: 10,
            entry: 1,
            levels: 2,
            seed: 9,
        };
        let e = EMPTY;
        let parts = Parts {
            layer0: vec![1, e, e, e, 0, 2, e, e, 1, e, e, e],
            upper_index: vec![e, 0, e],
            upper: vec![1, 0],
            inverse_norms: vec![1.0, 0.5, 0.25],
        };
        encode(&header, &parts)
    }

    #[test]
    fn decode_reads_what_encode_wrote() {
        let bytes = sample();
        let (h, layout) = decode(&bytes).unwrap();
        assert_eq!(
            (h.metric, h.dim, h.rows, h.m, h.entry, h.levels),
            (Metric::Cosine, 2, 3, 2, 1, 2)
        );
        assert_eq!(layout.layer0_at % 64, 0);
        assert_eq!(read_u32(&bytes, layout.layer0_at + 16), Some(0));
        assert_eq!(read_u32(&bytes, layout.upper_index_at + 4), Some(0));
        assert_eq!(layout.upper_words, 2);
        let norms = layout.norms_at.unwrap();
        assert_eq!(read_u32(&bytes, norms + 4), Some(0.5f32.to_bits()));
        assert_eq!(norms + 12, bytes.len());
    }

    #[test]
    fn decode_rejects_damage() {
        let bytes = sample();
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(IndexError::Corrupt { .. })
        ));
        assert!(decode(&bytes[..10]).is_err());
        let mut v = bytes.clone();
        v[8] = 9;
        assert!(matches!(
            decode(&v),
            Err(IndexError::UnsupportedVersion { found: 9, .. })
        ));
        let mut v = bytes.clone();
        v[0] = b'X';
        assert!(decode(&v).is_err());
        let mut v = bytes.clone();
        v[32] = 7; // entry past rows
        assert!(decode(&v).is_err());
        let mut v = bytes;
        v[80] = 200; // upper blocks past the end
        assert!(decode(&v).is_err());
    }
}
