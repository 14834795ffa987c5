//! [`FrozenIvf`]: an immutable IVF index read in place from its serialized bytes.
//!
//! The layout ([`super::blob`] container, magic `RVSIVF\0\0`, version 1):
//!
//! ```text
//! fields (u64): 0 quantizer (0 FLAT, 1 SQ8, 2 PQ)   1 metric (0 L2, 1 IP, 2 COSINE)
//!               2 dim   3 rows (n)   4 lists (L = min(nlist, n))   5 nlist requested
//!               6 PQ m (0 otherwise)   7 PQ nbits (0 otherwise)   8 code bytes per row (c)
//!               9 k-means iterations   10 seed   11 reserved (0)
//! sections:     0 centroids    L x dim f32, row-major
//!               1 offsets      (L + 1) u32: list i holds entries offsets[i]..offsets[i + 1]
//!               2 ids          n u32: source rows in list order (ascending within a list)
//!               3 quantizer    SQ8: dim f32 minimums then dim f32 steps;
//!                              PQ: m x 2^nbits x (dim / m) f32 codebooks; FLAT: empty
//!               4 codes        n x c bytes, entry i's code at i * c. FLAT: the vectors
//!                              as given, dim f32 each (c = 4 x dim). SQ8: one byte per
//!                              dimension (c = dim). PQ: ceil(m x nbits / 8) bytes of
//!                              packed codes, then for L2 and COSINE the f32
//!                              |r|^2 + 2 c . r of the decoded residual r (c += 4)
//!               5 positions    n u32: the entry of row r (ids[positions[r]] = r), for
//!                              scoring the rows of a selective filter directly
//! ```
//!
//! Loading decodes the small parts (centroids, offsets, quantizer: O(L x dim)) and checks
//! every section's size; ids, codes and positions, O(n), stay in the bytes and are read as
//! lists are scanned. An id past `rows`, or a position whose entry holds another row, is
//! skipped at search time, never trusted.

use std::io::Write;
use std::ops::Range;

use super::blob::{self, Blob};
use super::pq::{self, Pq};
use super::sq8::Sq8;
use super::IvfQuantizer;
use crate::{IndexError, Metric, Result};

pub(crate) const MAGIC: [u8; 8] = *b"RVSIVF\0\0";
pub(crate) const VERSION: u32 = 1;
pub(crate) const FIELDS: usize = 12;
pub(crate) const SECTIONS: usize = 6;

/// Header fields, as the builder writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IvfHeader {
    pub(crate) quantizer: IvfQuantizer,
    pub(crate) metric: Metric,
    pub(crate) dim: usize,
    pub(crate) rows: usize,
    pub(crate) lists: usize,
    pub(crate) nlist: usize,
    pub(crate) code_size: usize,
    pub(crate) kmeans_iters: usize,
    pub(crate) seed: u64,
}

impl IvfHeader {
    pub(crate) fn fields(&self) -> [u64; FIELDS] {
        let (kind, m, nbits) = match self.quantizer {
            IvfQuantizer::Flat => (0, 0, 0),
            IvfQuantizer::Sq8 => (1, 0, 0),
            IvfQuantizer::Pq { m, nbits } => (2, m, nbits),
        };
        [
            kind,
            u64::from(self.metric.code()),
            self.dim as u64,
            self.rows as u64,
            self.lists as u64,
            self.nlist as u64,
            m as u64,
            nbits as u64,
            self.code_size as u64,
            self.kmeans_iters as u64,
            self.seed,
            0,
        ]
    }
}

/// A searchable IVF_FLAT, IVF_SQ8 or IVF_PQ index over the bytes `B` (a `Vec<u8>`, a
/// slice, an mmap). `Sync` when `B` is: searches from many threads share it.
#[derive(Debug)]
pub struct FrozenIvf<B> {
    bytes: B,
    pub(crate) header: IvfHeader,
    pub(crate) centroids: Vec<f32>,
    pub(crate) offsets: Vec<u32>,
    pub(crate) sq8: Option<Sq8>,
    pub(crate) pq: Option<Pq>,
    pub(crate) ids: Range<usize>,
    pub(crate) codes: Range<usize>,
    pub(crate) positions: Range<usize>,
}

impl<B: AsRef<[u8]>> FrozenIvf<B> {
    /// Opens a serialized index (as written by [`FrozenIvf::write_to`]).
    ///
    /// Errors: [`IndexError::Corrupt`] for bytes that are not an IVF index or are cut
    /// short, [`IndexError::UnsupportedVersion`] for another format version.
    pub fn load(bytes: B) -> Result<Self> {
        let b = bytes.as_ref();
        let blob = blob::decode(b, &MAGIC, VERSION, FIELDS, SECTIONS, "IVF")?;
        let (header, sq8, pq) = parse(&blob, b)?;
        let (dim, rows, lists) = (header.dim, header.rows, header.lists);
        let centroids_at = blob.section(0, Some(lists * dim * 4), "centroids")?;
        let offsets_at = blob.section(1, Some((lists + 1) * 4), "offsets")?;
        let ids = blob.section(2, Some(rows * 4), "ids")?;
        let code_bytes = rows
            .checked_mul(header.code_size)
            .ok_or_else(|| IndexError::corrupt("codes size overflows"))?;
        let codes = blob.section(4, Some(code_bytes), "codes")?;
        let positions = blob.section(5, Some(rows * 4), "positions")?;
        let centroids = blob::f32_vec(&b[centroids_at]);
        let offsets = blob::u32_vec(&b[offsets_at]);
        blob::check_offsets(&offsets, rows, "list")?;
        Ok(FrozenIvf {
            bytes,
            header,
            centroids,
            offsets,
            sq8,
            pq,
            ids,
            codes,
            positions,
        })
    }

    /// The serialized index.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// The bytes back.
    pub fn into_inner(self) -> B {
        self.bytes
    }

    /// Writes the serialized index (what [`FrozenIvf::load`] reads).
    pub fn write_to<W: Write>(&self, mut writer: W) -> Result<()> {
        writer.write_all(self.as_bytes())?;
        Ok(())
    }

    /// Rows covered: source rows `0..len()`.
    pub fn len(&self) -> usize {
        self.header.rows
    }

    /// Whether the index covers no rows.
    pub fn is_empty(&self) -> bool {
        self.header.rows == 0
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.header.dim
    }

    /// The metric the index was built for.
    pub fn metric(&self) -> Metric {
        self.header.metric
    }

    /// What the lists store (and so Milvus's index type).
    pub fn quantizer(&self) -> IvfQuantizer {
        self.header.quantizer
    }

    /// Lists built: `min(nlist, rows)`.
    pub fn lists(&self) -> usize {
        self.header.lists
    }

    /// `nlist` the build was asked for.
    pub fn nlist(&self) -> usize {
        self.header.nlist
    }

    /// Rows in each list.
    pub fn list_sizes(&self) -> Vec<usize> {
        self.offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .collect()
    }

    /// Entries `start..end` of list `list`.
    #[inline]
    pub(crate) fn entries(&self, list: u32) -> Range<usize> {
        let l = list as usize;
        match (self.offsets.get(l), self.offsets.get(l + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// The ids of entries `range` (as little-endian bytes).
    #[inline]
    pub(crate) fn id_bytes(&self, range: &Range<usize>) -> &[u8] {
        self.as_bytes()
            .get(self.ids.start + 4 * range.start..self.ids.start + 4 * range.end)
            .unwrap_or(&[])
    }

    /// The entry holding row `row`, if the positions say so consistently.
    #[inline]
    pub(crate) fn position(&self, row: usize) -> Option<usize> {
        let b = self.as_bytes();
        let entry = blob::u32_at(b, self.positions.start + 4 * row)? as usize;
        (entry < self.header.rows
            && blob::u32_at(b, self.ids.start + 4 * entry) == Some(row as u32))
        .then_some(entry)
    }

    /// The codes of entries `range`.
    #[inline]
    pub(crate) fn code_bytes(&self, range: &Range<usize>) -> &[u8] {
        let c = self.header.code_size;
        self.as_bytes()
            .get(self.codes.start + c * range.start..self.codes.start + c * range.end)
            .unwrap_or(&[])
    }
}

/// The header fields and the quantizer, checked.
fn parse(blob: &Blob, b: &[u8]) -> Result<(IvfHeader, Option<Sq8>, Option<Pq>)> {
    let metric = u32::try_from(blob.field(1))
        .ok()
        .and_then(Metric::from_code)
        .ok_or_else(|| IndexError::corrupt(format!("unknown metric code {}", blob.field(1))))?;
    let dim = blob.count(2, u64::from(u32::MAX), "dim")?;
    let rows = blob.count(3, u64::from(u32::MAX - 1), "rows")?;
    let lists = blob.count(4, super::MAX_NLIST as u64, "lists")?;
    let nlist = blob.count(5, super::MAX_NLIST as u64, "nlist")?;
    let m = blob.count(6, super::MAX_NLIST as u64, "m")?;
    let nbits = blob.count(7, pq::MAX_NBITS as u64, "nbits")?;
    let code_size = blob.count(8, u64::from(u32::MAX), "code size")?;
    if dim == 0 || lists > rows || (rows > 0 && lists == 0) {
        return Err(IndexError::corrupt(format!(
            "dim {dim}, {lists} lists for {rows} rows"
        )));
    }
    let quantizer = match blob.field(0) {
        0 => IvfQuantizer::Flat,
        1 => IvfQuantizer::Sq8,
        2 => IvfQuantizer::Pq { m, nbits },
        other => return Err(IndexError::corrupt(format!("unknown IVF kind {other}"))),
    };
    let expected_code = match quantizer {
        IvfQuantizer::Flat => dim
            .checked_mul(4)
            .ok_or_else(|| IndexError::corrupt("dim too large"))?,
        IvfQuantizer::Sq8 => dim,
        IvfQuantizer::Pq { m, nbits } => {
            if m == 0 || nbits == 0 || !dim.is_multiple_of(m) {
                return Err(IndexError::corrupt(format!(
                    "PQ m {m} nbits {nbits} dim {dim}"
                )));
            }
            Pq::code_size(m, nbits) + if metric == Metric::Ip { 0 } else { 4 }
        }
    };
    if code_size != expected_code {
        return Err(IndexError::corrupt(format!(
            "code size {code_size}, expected {expected_code}"
        )));
    }
    let (sq8, pq) = match quantizer {
        IvfQuantizer::Flat => {
            blob.section(3, Some(0), "quantizer")?;
            (None, None)
        }
        IvfQuantizer::Sq8 => {
            let at = blob.section(3, Some(2 * dim * 4), "quantizer")?;
            let v = blob::f32_vec(&b[at]);
            let (min, scale) = v.split_at(dim);
            (
                Some(Sq8 {
                    min: min.to_vec(),
                    scale: scale.to_vec(),
                }),
                None,
            )
        }
        IvfQuantizer::Pq { m, nbits } => {
            let ksub = 1usize << nbits;
            let at = blob.section(3, Some(ksub * dim * 4), "quantizer")?;
            (
                None,
                Some(Pq::new(m, nbits, dim / m, blob::f32_vec(&b[at]))),
            )
        }
    };
    let header = IvfHeader {
        quantizer,
        metric,
        dim,
        rows,
        lists,
        nlist,
        code_size,
        kmeans_iters: blob.count(9, u64::from(u32::MAX), "iterations")?,
        seed: blob.field(10),
    };
    Ok((header, sq8, pq))
}
