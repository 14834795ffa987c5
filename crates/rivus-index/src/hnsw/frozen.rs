//! [`FrozenHnsw`]: an immutable HNSW graph read in place from its serialized bytes.
//!
//! Opening one parses the 64-byte header and the layer table only; neighbour lists are
//! decoded from the bytes as a walk reaches them, so the engine can hand over an mmapped
//! index file and start searching at once. A freshly built graph is the same type over a
//! `Vec<u8>`, so there is one search path whether the graph was just built or loaded.

use std::io::Write;

use super::format::{self, Header, LayerLayout};
use super::prefetch::prefetch_range;
use super::visited::ScratchPool;
use super::walk::Links;
use crate::{Metric, Result};

/// A searchable HNSW graph over the bytes `B` (a `Vec<u8>`, a slice, an mmap).
///
/// Holds links only; searches take the [`crate::VectorSource`] the graph was built over.
/// `Sync` when `B` is: searches from many threads share it, each borrowing pooled scratch
/// memory.
#[derive(Debug)]
pub struct FrozenHnsw<B> {
    bytes: B,
    pub(crate) header: Header,
    pub(crate) layers: Vec<LayerLayout>,
    /// Byte offset of the COSINE inverse norms (`None` for other metrics, and for COSINE
    /// over unit-length vectors, which the walk scores by inner product alone).
    pub(crate) norms_at: Option<usize>,
    pub(crate) pool: ScratchPool,
}

impl<B: AsRef<[u8]>> FrozenHnsw<B> {
    /// Opens a serialized graph (as written by [`FrozenHnsw::write_to`]). Checks the
    /// header and that every array lies inside `bytes`; does not read the arrays.
    ///
    /// Errors: [`crate::IndexError::Corrupt`] for bytes that are not a graph or are cut
    /// short, [`crate::IndexError::UnsupportedVersion`] for another format version.
    pub fn load(bytes: B) -> Result<Self> {
        let (header, layers, norms_at) = format::decode(bytes.as_ref())?;
        Ok(FrozenHnsw {
            bytes,
            header,
            layers,
            norms_at,
            pool: ScratchPool::default(),
        })
    }

    /// The serialized graph.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// The bytes back.
    pub fn into_inner(self) -> B {
        self.bytes
    }

    /// Writes the serialized graph (what [`FrozenHnsw::load`] reads).
    pub fn write_to<W: Write>(&self, mut writer: W) -> Result<()> {
        writer.write_all(self.as_bytes())?;
        Ok(())
    }

    /// Rows covered: source rows `0..len()`.
    pub fn len(&self) -> usize {
        self.header.rows
    }

    /// Whether the graph covers no rows.
    pub fn is_empty(&self) -> bool {
        self.header.rows == 0
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.header.dim
    }

    /// The metric the graph was built for.
    pub fn metric(&self) -> Metric {
        self.header.metric
    }

    /// `M`: max links per node on the upper layers (2M on layer 0).
    pub fn m(&self) -> usize {
        self.header.m
    }

    /// `efConstruction` used by the build.
    pub fn ef_construction(&self) -> usize {
        self.header.ef_construction
    }

    /// Number of layers (0 for an empty graph).
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// Position of `node` among an upper layer's rows.
    fn position(bytes: &[u8], layer: &LayerLayout, node: u32) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, layer.node_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row = format::read_u32(bytes, layer.nodes_at + 4 * mid)?;
            match row.cmp(&node) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

impl<B: AsRef<[u8]>> Links for FrozenHnsw<B> {
    fn rows(&self) -> usize {
        self.header.rows
    }

    #[inline]
    fn neighbors(&self, node: u32, layer: usize, out: &mut Vec<u32>) {
        out.clear();
        let bytes = self.bytes.as_ref();
        let rows = self.header.rows;
        let Some(l) = self.layers.get(layer) else {
            return;
        };
        if layer == 0 {
            let slot = 8 * self.header.m;
            let at = l.links_at + slot * node as usize;
            if let Some(raw) = bytes.get(at..at + slot) {
                out.extend(
                    raw.chunks_exact(4)
                        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                        .map(u32::from_le_bytes)
                        .take_while(|&r| r != format::EMPTY)
                        .filter(|&r| (r as usize) < rows),
                );
            }
            return;
        }
        let Some(index) = Self::position(bytes, l, node) else {
            return;
        };
        let at = l.offsets_at + 4 * index;
        let (Some(start), Some(end)) =
            (format::read_u32(bytes, at), format::read_u32(bytes, at + 4))
        else {
            return;
        };
        let (start, end) = (start as usize, end as usize);
        if start > end || end > l.link_count {
            return;
        }
        let Some(raw) = bytes.get(l.links_at + 4 * start..l.links_at + 4 * end) else {
            return;
        };
        out.extend(
            raw.chunks_exact(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(u32::from_le_bytes)
                .filter(|&r| (r as usize) < rows),
        );
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32, layer: usize) {
        if layer == 0 {
            if let Some(l) = self.layers.first() {
                let slot = 8 * self.header.m;
                let at = l.links_at + slot * node as usize;
                prefetch_range(self.bytes.as_ref().as_ptr().wrapping_add(at), slot);
            }
        }
    }
}
