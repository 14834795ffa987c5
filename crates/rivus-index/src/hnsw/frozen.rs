//! [`FrozenHnsw`]: an immutable HNSW graph read in place from its serialized bytes.
//!
//! Opening one parses the 128-byte header only; neighbour lists are
//! decoded from the bytes as a walk reaches them, so the engine can hand over an mmapped
//! index file and start searching at once. A freshly built graph is the same type over a
//! `Vec<u8>`, so there is one search path whether the graph was just built or loaded.

use std::io::Write;

use super::format::{self, Header, Layout};
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
    /// Where the arrays are. `layout.norms_at` is `None` for metrics other than COSINE,
    /// and for COSINE over unit-length vectors, which the walk scores by inner product
    /// alone.
    pub(crate) layout: Layout,
    pub(crate) pool: ScratchPool,
}

impl<B: AsRef<[u8]>> FrozenHnsw<B> {
    /// Opens a serialized graph (as written by [`FrozenHnsw::write_to`]). Checks the
    /// header and that every array lies inside `bytes`; does not read the arrays.
    ///
    /// Errors: [`crate::IndexError::Corrupt`] for bytes that are not a graph or are cut
    /// short, [`crate::IndexError::UnsupportedVersion`] for another format version.
    pub fn load(bytes: B) -> Result<Self> {
        let (header, layout) = format::decode(bytes.as_ref())?;
        Ok(FrozenHnsw {
            bytes,
            header,
            layout,
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
        self.header.levels
    }
}

/// Appends the links in `raw` (little-endian u32s) that are rows below `rows`, stopping at
/// the first [`format::EMPTY`].
#[inline(always)]
fn decode_links(raw: &[u8], rows: usize, out: &mut Vec<u32>) {
    out.extend(
        raw.chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok())
            .map(u32::from_le_bytes)
            .take_while(|&r| r != format::EMPTY)
            .filter(|&r| (r as usize) < rows),
    );
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
        if node as usize >= rows {
            return;
        }
        if layer == 0 {
            let slot = 8 * self.header.m;
            let at = self.layout.layer0_at + slot * node as usize;
            if let Some(raw) = bytes.get(at..at + slot) {
                decode_links(raw, rows, out);
            }
            return;
        }
        // The row's upper block: [level, then per layer 1..=level: count, links].
        let word = |i: usize| -> Option<usize> {
            if i >= self.layout.upper_words {
                return None;
            }
            format::read_u32(bytes, self.layout.upper_at + 4 * i).map(|w| w as usize)
        };
        let Some(block) = format::read_u32(bytes, self.layout.upper_index_at + 4 * node as usize)
        else {
            return;
        };
        if block == format::EMPTY {
            return;
        }
        let block = block as usize;
        if word(block).is_none_or(|level| level < layer) {
            return;
        }
        let mut at = block + 1;
        for _ in 1..layer {
            match word(at) {
                Some(count) => at += 1 + count.min(self.header.m),
                None => return,
            }
        }
        let Some(count) = word(at) else {
            return;
        };
        let (start, end) = (at + 1, at + 1 + count.min(self.header.m));
        if end > self.layout.upper_words {
            return;
        }
        let base = self.layout.upper_at;
        if let Some(raw) = bytes.get(base + 4 * start..base + 4 * end) {
            decode_links(raw, rows, out);
        }
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32, layer: usize) {
        if layer == 0 {
            let slot = 8 * self.header.m;
            let at = self.layout.layer0_at + slot * node as usize;
            prefetch_range(self.bytes.as_ref().as_ptr().wrapping_add(at), slot);
        }
    }
}
