//! The serialized HNSW graph, byte by byte. Little-endian throughout; every array starts at
//! a multiple of 4 bytes from the start, so an mmapped file (page-aligned) can be read in
//! place. No checksum: the engine frames index blobs with its own.
//!
//! ```text
//! offset size  field
//!      0    8  magic "RVSHNSW\0"
//!      8    4  format version (2)
//!     12    4  metric (0 L2, 1 IP, 2 COSINE)
//!     16    4  dim
//!     20    4  rows (n): the graph covers source rows 0..n
//!     24    4  M (max links per node on layers >= 1; layer 0 allows 2M)
//!     28    4  efConstruction
//!     32    4  entry point row (u32::MAX when n = 0)
//!     36    4  layers (L: top level + 1; 0 when n = 0)
//!     40    8  level seed
//!     48    8  byte offset of the inverse norms (COSINE; 0 when absent: every vector
//!              had unit length, so the walk scores with the inner product alone)
//!     56    8  reserved (0)
//!     64 40*L  layer table, one entry per layer 0..L, five u64 each:
//!              nodes_at, node_count, offsets_at, links_at, link_count
//! then layer 0, at a multiple of 64 bytes (zero padding before it):
//!   links   n x 2M u32: row r's links at [r * 2M, (r + 1) * 2M), closest first, unused
//!           slots u32::MAX (node_count = n, nodes_at = offsets_at = 0, link_count = n*2M)
//! then, per upper layer 1..L:
//!   nodes   node_count x u32  rows on this layer, ascending
//!   offsets (node_count + 1) x u32  node i's links are links[offsets[i]..offsets[i + 1]]
//!   links   link_count x u32  neighbour rows, closest first
//! then, for COSINE unless all vectors are unit length: n x f32 inverse norms (1/|v|, 0
//! for a zero vector).
//! ```
//!
//! Layer 0 has a fixed slot per row rather than offsets because every query walks it: a
//! row's links are found without reading an offset first, so the walk can prefetch the
//! next candidate's links (with M = 16 a slot is 128 bytes, two cache lines when the
//! buffer is 64-byte aligned, as an mmap is). Upper layers hold about 1/M of the rows,
//! are only crossed greedily, and stay compact.
//!
//! Vectors are not stored: they come from the [`crate::VectorSource`] at search time.

use crate::{IndexError, Metric, Result};

/// First eight bytes of every serialized graph.
pub(crate) const MAGIC: [u8; 8] = *b"RVSHNSW\0";
/// The format version this build writes and reads.
pub(crate) const VERSION: u32 = 2;
/// Fixed header size.
pub(crate) const HEADER_BYTES: usize = 64;
/// One layer-table entry: five u64.
const LAYER_ENTRY_BYTES: usize = 40;
/// More layers than any level assignment produces; guards a corrupt header.
const MAX_LAYERS: usize = 64;
/// An unused layer-0 link slot.
pub(crate) const EMPTY: u32 = u32::MAX;

/// The fixed header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) metric: Metric,
    pub(crate) dim: usize,
    pub(crate) rows: usize,
    pub(crate) m: usize,
    pub(crate) ef_construction: usize,
    pub(crate) entry: u32,
    pub(crate) seed: u64,
}

/// Where one layer's arrays are (byte offsets from the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerLayout {
    pub(crate) nodes_at: usize,
    pub(crate) node_count: usize,
    pub(crate) offsets_at: usize,
    pub(crate) links_at: usize,
    pub(crate) link_count: usize,
}

/// One layer in memory, as the builder hands it over.
#[derive(Debug, Default)]
pub(crate) struct LayerParts {
    /// Rows on the layer, ascending (empty for layer 0, which holds every row).
    pub(crate) nodes: Vec<u32>,
    /// Upper layers: CSR offsets into `links`. Empty for layer 0.
    pub(crate) offsets: Vec<u32>,
    /// Upper layers: every node's links one after another. Layer 0: `n * 2M` slots,
    /// [`EMPTY`]-padded.
    pub(crate) links: Vec<u32>,
}

/// Serializes a graph into one buffer.
pub(crate) fn encode(header: &Header, layers: &[LayerParts], inverse_norms: &[f32]) -> Vec<u8> {
    let arrays: usize = layers
        .iter()
        .map(|l| l.nodes.len() + l.offsets.len() + l.links.len())
        .sum();
    let mut out = Vec::with_capacity(
        HEADER_BYTES + layers.len() * LAYER_ENTRY_BYTES + 4 * (arrays + inverse_norms.len()),
    );
    out.extend_from_slice(&MAGIC);
    for v in [
        VERSION,
        header.metric.code(),
        header.dim as u32,
        header.rows as u32,
        header.m as u32,
        header.ef_construction as u32,
        header.entry,
        layers.len() as u32,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&header.seed.to_le_bytes());
    let table_end = HEADER_BYTES + layers.len() * LAYER_ENTRY_BYTES;
    let layer0_at = table_end.next_multiple_of(64);
    let mut at = layer0_at;
    let mut table = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let nodes_at = if i == 0 { 0 } else { at };
        at += 4 * l.nodes.len();
        let offsets_at = if i == 0 { 0 } else { at };
        at += 4 * l.offsets.len();
        let links_at = at;
        at += 4 * l.links.len();
        table.push([
            nodes_at,
            if i == 0 { header.rows } else { l.nodes.len() },
            offsets_at,
            links_at,
            l.links.len(),
        ]);
    }
    let norms_at = if inverse_norms.is_empty() { 0 } else { at };
    out.extend_from_slice(&(norms_at as u64).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    for entry in table {
        for v in entry {
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
    }
    if !layers.is_empty() {
        out.resize(layer0_at, 0);
    }
    for l in layers {
        for v in l.nodes.iter().chain(&l.offsets).chain(&l.links) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    for v in inverse_norms {
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

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
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

/// Parses and bounds-checks the header and layer table: O(layers), the arrays themselves
/// are only read on demand. A link that points past `rows` or an offset past the links is
/// ignored at search time (treated as missing), never trusted.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, Vec<LayerLayout>, Option<usize>)> {
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
        seed: read_u64(bytes, 40).unwrap_or(0),
    };
    let layer_count = u32_at(36) as usize;
    if header.dim == 0 {
        return Err(IndexError::corrupt("dim is 0"));
    }
    if !(2..=2048).contains(&header.m) {
        return Err(IndexError::corrupt(format!("M = {}", header.m)));
    }
    if header.rows == 0 {
        if layer_count != 0 {
            return Err(IndexError::corrupt("empty graph with layers"));
        }
    } else if layer_count == 0 || layer_count > MAX_LAYERS || header.entry as usize >= header.rows {
        return Err(IndexError::corrupt(format!(
            "bad layer count {layer_count} or entry {} for {} rows",
            header.entry, header.rows
        )));
    }
    check_array(
        bytes.len(),
        HEADER_BYTES,
        layer_count * LAYER_ENTRY_BYTES / 4,
        "layer table",
    )?;
    let mut layers = Vec::with_capacity(layer_count);
    for i in 0..layer_count {
        let at = HEADER_BYTES + i * LAYER_ENTRY_BYTES;
        let layout = LayerLayout {
            nodes_at: field(bytes, at)?,
            node_count: field(bytes, at + 8)?,
            offsets_at: field(bytes, at + 16)?,
            links_at: field(bytes, at + 24)?,
            link_count: field(bytes, at + 32)?,
        };
        if i == 0 && (layout.node_count != header.rows || layout.nodes_at != 0) {
            return Err(IndexError::corrupt("layer 0 must hold every row"));
        }
        if i > 0 {
            if layout.node_count > header.rows {
                return Err(IndexError::corrupt(format!("layer {i} has too many nodes")));
            }
            check_array(
                bytes.len(),
                layout.nodes_at,
                layout.node_count,
                "layer nodes",
            )?;
        }
        check_array(
            bytes.len(),
            layout.offsets_at,
            layout.node_count.saturating_add(1),
            "layer offsets",
        )?;
        check_array(
            bytes.len(),
            layout.links_at,
            layout.link_count,
            "layer links",
        )?;
        layers.push(layout);
    }
    let norms_at = field(bytes, 48)?;
    let norms = if header.rows > 0 && metric == Metric::Cosine && norms_at != 0 {
        check_array(bytes.len(), norms_at, header.rows, "inverse norms")?;
        Some(norms_at)
    } else {
        None
    };
    Ok((header, layers, norms))
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
            seed: 9,
        };
        let e = EMPTY;
        let layers = [
            LayerParts {
                nodes: vec![],
                offsets: vec![],
                links: vec![1, e, e, e, 0, 2, e, e, 1, e, e, e],
            },
            LayerParts {
                nodes: vec![1],
                offsets: vec![0, 0],
                links: vec![],
            },
        ];
        encode(&header, &layers, &[1.0, 0.5, 0.25])
    }

    #[test]
    fn decode_reads_what_encode_wrote() {
        let bytes = sample();
        let (h, layers, norms) = decode(&bytes).unwrap();
        assert_eq!(
            (h.metric, h.dim, h.rows, h.m, h.entry),
            (Metric::Cosine, 2, 3, 2, 1)
        );
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0].link_count, 12);
        assert_eq!(layers[0].links_at % 64, 0);
        assert_eq!(read_u32(&bytes, layers[0].links_at + 16), Some(0));
        assert_eq!(read_u32(&bytes, layers[1].nodes_at), Some(1));
        let norms = norms.unwrap();
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
        v[HEADER_BYTES + 32] = 200; // layer-0 link count past the end
        assert!(decode(&v).is_err());
    }
}
