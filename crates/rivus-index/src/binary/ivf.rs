//! BIN_IVF_FLAT: an inverted file over binary vectors.
//!
//! Centroids are binary vectors trained by k-modes-style clustering: rows are assigned to
//! the centroid nearest under the index's metric, and each centroid becomes the majority
//! bit of its rows in every dimension (the vector minimising the summed Hamming distance
//! to them); empty clusters are re-seeded with a random row of the largest one. Lists
//! hold row ids and the vectors themselves (binary vectors are small; scanning a list then
//! reads contiguous memory), scored with the exact kernel: scores are identical to
//! [`super::flat_search`]'s.
//!
//! Layout ([`crate::ivf::blob`] container, magic `RVSBIVF\0`, version 1):
//!
//! ```text
//! fields (u64): 0 metric (0 HAMMING, 1 JACCARD)   1 dim (bits)   2 rows (n)
//!               3 lists (L = min(nlist, n))   4 nlist requested   5 k-means iterations
//!               6 seed   7 reserved (0)
//! sections:     0 centroids  L x dim/8 bytes (read in place)
//!               1 offsets    (L + 1) u32: list i holds entries offsets[i]..offsets[i + 1]
//!               2 ids        n u32: rows in list order (ascending within a list)
//!               3 vectors    n x dim/8 bytes: entry i's vector
//!               4 positions  n u32: the entry of row r (ids[positions[r]] = r)
//! ```

use std::io::Write;
use std::ops::Range;

use rayon::prelude::*;

use super::{binary_query_count, BinaryMetric, BinarySource, ORDER};
use crate::ivf::blob;
use crate::ivf::kmeans::{sample_indices, Rng};
use crate::ivf::probe::{self, Goal, ListOrder, Plan, Scanned};
use crate::ivf::MAX_NLIST;
use crate::{flat, Hit, IndexError, Result, SearchOptions, TopK};

const MAGIC: [u8; 8] = *b"RVSBIVF\0";
const VERSION: u32 = 1;
const FIELDS: usize = 8;
const SECTIONS: usize = 5;

/// BIN_IVF_FLAT build parameters (Milvus index param `nlist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinIvfParams {
    /// Number of lists. Milvus range [1, 65536], default 128. A source with fewer rows gets
    /// one list per row.
    pub nlist: usize,
    /// Clustering iterations (stops early when assignments stop changing).
    pub kmeans_iters: usize,
    /// At most this many sampled rows per centroid train the clustering; at least 1.
    pub train_per_centroid: usize,
    /// Seed of sampling and seeding.
    pub seed: u64,
}

impl BinIvfParams {
    /// `nlist` lists with the default training settings.
    pub fn new(nlist: usize) -> Self {
        BinIvfParams {
            nlist,
            kmeans_iters: 10,
            train_per_centroid: 64,
            seed: 0xb1_f5ee_d000,
        }
    }

    /// Rejects values outside Milvus's ranges.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_NLIST).contains(&self.nlist) {
            return Err(IndexError::invalid(
                "nlist",
                self.nlist,
                "must be in [1, 65536]",
            ));
        }
        if self.train_per_centroid == 0 {
            return Err(IndexError::invalid(
                "train_per_centroid",
                self.train_per_centroid,
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Nearest centroid (lowest index among equals).
fn nearest(kernel: fn(&[u8], &[u8]) -> f32, point: &[u8], centroids: &[u8], bytes: usize) -> u32 {
    let mut best = (0u32, f32::INFINITY);
    for (i, c) in centroids.chunks_exact(bytes).enumerate() {
        let d = kernel(point, c);
        if d < best.1 {
            best = (i as u32, d);
        }
    }
    best.0
}

/// Trains `k` binary centroids on the rows of `data` (`bytes` each).
fn train(
    data: &[u8],
    bytes: usize,
    k: usize,
    iters: usize,
    metric: BinaryMetric,
    rng: &mut Rng,
) -> Vec<u8> {
    let n = data.len() / bytes;
    if n <= k {
        return (0..k)
            .flat_map(|i| data[(i % n.max(1)) * bytes..][..bytes].iter().copied())
            .collect();
    }
    let kernel = metric.kernel();
    let picks = sample_indices(n, k, rng);
    let mut centroids: Vec<u8> = picks
        .iter()
        .flat_map(|&i| data[i * bytes..(i + 1) * bytes].iter().copied())
        .collect();
    let dim = bytes * 8;
    let mut previous = Vec::new();
    for _ in 0..iters {
        let assign: Vec<u32> = data
            .par_chunks(bytes)
            .map(|p| nearest(kernel, p, &centroids, bytes))
            .collect();
        if assign == previous {
            break;
        }
        let mut counts = vec![0u32; k * dim];
        let mut sizes = vec![0u32; k];
        for (p, &a) in data.chunks_exact(bytes).zip(&assign) {
            let a = a as usize;
            sizes[a] += 1;
            let c = &mut counts[a * dim..(a + 1) * dim];
            for (byte, &b) in p.iter().enumerate() {
                for bit in 0..8 {
                    c[byte * 8 + bit] += u32::from(b >> bit & 1);
                }
            }
        }
        for c in 0..k {
            if sizes[c] == 0 {
                continue;
            }
            let dst = &mut centroids[c * bytes..(c + 1) * bytes];
            for (byte, out) in dst.iter_mut().enumerate() {
                let mut v = 0u8;
                for bit in 0..8 {
                    if 2 * counts[c * dim + byte * 8 + bit] > sizes[c] {
                        v |= 1 << bit;
                    }
                }
                *out = v;
            }
        }
        for c in 0..k {
            if sizes[c] > 0 {
                continue;
            }
            let Some(big) = (0..k).max_by(|&a, &b| sizes[a].cmp(&sizes[b]).then(b.cmp(&a))) else {
                break;
            };
            if sizes[big] < 2 {
                break;
            }
            // A random member of the largest cluster.
            let nth = rng.below(sizes[big] as usize);
            if let Some(row) = assign
                .iter()
                .enumerate()
                .filter(|&(_, &a)| a as usize == big)
                .nth(nth)
                .map(|(r, _)| r)
            {
                centroids[c * bytes..(c + 1) * bytes]
                    .copy_from_slice(&data[row * bytes..(row + 1) * bytes]);
            }
            sizes[c] = sizes[big] / 2;
            sizes[big] -= sizes[c];
        }
        previous = assign;
    }
    centroids
}

/// Builds a BIN_IVF_FLAT index over every row of `source` on the current rayon pool.
///
/// Errors: [`IndexError::InvalidParameter`] for out-of-range parameters,
/// [`IndexError::DimensionMismatch`] when a row does not have `dim / 8` bytes,
/// [`IndexError::TooLarge`] past `u32::MAX - 1` rows.
pub fn build<S: BinarySource + ?Sized>(
    source: &S,
    metric: BinaryMetric,
    params: &BinIvfParams,
) -> Result<FrozenBinIvf<Vec<u8>>> {
    params.validate()?;
    let rows = source.len();
    if rows >= u32::MAX as usize {
        return Err(IndexError::TooLarge {
            what: "rows",
            count: rows,
        });
    }
    let dim = source.dim();
    if dim == 0 || !dim.is_multiple_of(8) || dim > u32::MAX as usize {
        return Err(IndexError::invalid(
            "dim",
            dim,
            "must be a positive multiple of 8",
        ));
    }
    let bytes = dim / 8;
    if let Some(bad) = (0..rows as u32)
        .into_par_iter()
        .map(|r| source.vector(r).len())
        .find_any(|&len| len != bytes)
    {
        return Err(IndexError::DimensionMismatch {
            expected: dim,
            got: bad * 8,
        });
    }
    let lists = params.nlist.min(rows);
    let mut rng = Rng::new(params.seed);
    let centroids = if lists == 0 {
        Vec::new()
    } else {
        let picks = sample_indices(
            rows,
            lists.saturating_mul(params.train_per_centroid),
            &mut rng,
        );
        let mut sample = vec![0u8; picks.len() * bytes];
        sample
            .par_chunks_mut(bytes)
            .zip(picks.par_iter())
            .for_each(|(dst, &r)| dst.copy_from_slice(source.vector(r as u32)));
        train(&sample, bytes, lists, params.kmeans_iters, metric, &mut rng)
    };
    let kernel = metric.kernel();
    let assign: Vec<u32> = (0..rows as u32)
        .into_par_iter()
        .map(|r| nearest(kernel, source.vector(r), &centroids, bytes))
        .collect();
    let (offsets, ids) = crate::ivf::group(&assign, lists);
    let mut vectors = vec![0u8; rows * bytes];
    if bytes > 0 {
        vectors
            .par_chunks_mut(bytes)
            .zip(ids.par_iter())
            .for_each(|(dst, &r)| dst.copy_from_slice(source.vector(r)));
    }
    let fields = [
        metric.code(),
        dim as u64,
        rows as u64,
        lists as u64,
        params.nlist as u64,
        params.kmeans_iters as u64,
        params.seed,
        0,
    ];
    let out = blob::encode(
        &MAGIC,
        VERSION,
        &fields,
        &[
            &centroids,
            &blob::u32_bytes(&offsets),
            &blob::u32_bytes(&ids),
            &vectors,
            &blob::u32_bytes(&crate::ivf::positions(&ids)),
        ],
    );
    FrozenBinIvf::load(out)
}

/// A searchable BIN_IVF_FLAT index over the bytes `B`, read in place.
#[derive(Debug)]
pub struct FrozenBinIvf<B> {
    bytes: B,
    metric: BinaryMetric,
    dim: usize,
    rows: usize,
    lists: usize,
    nlist: usize,
    centroids: Range<usize>,
    offsets: Vec<u32>,
    ids: Range<usize>,
    vectors: Range<usize>,
    positions: Range<usize>,
}

impl<B: AsRef<[u8]>> FrozenBinIvf<B> {
    /// Opens a serialized index (as written by [`FrozenBinIvf::write_to`]).
    ///
    /// Errors: [`IndexError::Corrupt`] for bytes that are not a BIN_IVF_FLAT index or are
    /// cut short, [`IndexError::UnsupportedVersion`] for another format version.
    pub fn load(bytes: B) -> Result<Self> {
        let b = bytes.as_ref();
        let blob = blob::decode(b, &MAGIC, VERSION, FIELDS, SECTIONS, "BIN_IVF_FLAT")?;
        let metric = BinaryMetric::from_code(blob.field(0))
            .ok_or_else(|| IndexError::corrupt(format!("unknown metric code {}", blob.field(0))))?;
        let dim = blob.count(1, u64::from(u32::MAX), "dim")?;
        let rows = blob.count(2, u64::from(u32::MAX - 1), "rows")?;
        let lists = blob.count(3, MAX_NLIST as u64, "lists")?;
        let nlist = blob.count(4, MAX_NLIST as u64, "nlist")?;
        if dim == 0 || !dim.is_multiple_of(8) || lists > rows || (rows > 0 && lists == 0) {
            return Err(IndexError::corrupt(format!(
                "dim {dim}, {lists} lists for {rows} rows"
            )));
        }
        let centroids = blob.section(0, Some(lists * dim / 8), "centroids")?;
        let offsets_at = blob.section(1, Some((lists + 1) * 4), "offsets")?;
        let ids = blob.section(2, Some(rows * 4), "ids")?;
        let vectors = blob.section(3, Some(rows * (dim / 8)), "vectors")?;
        let positions = blob.section(4, Some(rows * 4), "positions")?;
        let offsets = blob::u32_vec(&b[offsets_at]);
        blob::check_offsets(&offsets, rows, "list")?;
        Ok(FrozenBinIvf {
            bytes,
            metric,
            dim,
            rows,
            lists,
            nlist,
            centroids,
            offsets,
            ids,
            vectors,
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

    /// Writes the serialized index (what [`FrozenBinIvf::load`] reads).
    pub fn write_to<W: Write>(&self, mut writer: W) -> Result<()> {
        writer.write_all(self.as_bytes())?;
        Ok(())
    }

    /// Rows covered: source rows `0..len()`.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the index covers no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Dimensions (bits) per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric the index was built for.
    pub fn metric(&self) -> BinaryMetric {
        self.metric
    }

    /// Lists built: `min(nlist, rows)`.
    pub fn lists(&self) -> usize {
        self.lists
    }

    /// `nlist` the build was asked for.
    pub fn nlist(&self) -> usize {
        self.nlist
    }

    /// Rows in each list.
    pub fn list_sizes(&self) -> Vec<usize> {
        self.offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .collect()
    }

    /// The `opts.k` closest rows for `query` (`dim / 8` bytes), best first, ties by row,
    /// probing `nprobe` lists (Milvus range [1, 65536]; more under a filter, see
    /// [`crate::ivf`]'s probing). Honours `opts.filter` (a query gets `min(k, allowed)`
    /// hits) and `opts.range`. The index holds its vectors: no source is needed.
    ///
    /// Errors: [`IndexError::DimensionMismatch`] when `query` does not have the index's
    /// dimension, [`IndexError::InvalidParameter`] for a bad `nprobe` or range.
    pub fn search(
        &self,
        query: &[u8],
        opts: &SearchOptions<'_>,
        nprobe: usize,
    ) -> Result<Vec<Hit>> {
        self.check(opts, nprobe)?;
        if query.len() * 8 != self.dim {
            return Err(IndexError::DimensionMismatch {
                expected: self.dim,
                got: query.len() * 8,
            });
        }
        Ok(self.search_checked(query, opts, nprobe))
    }

    /// [`FrozenBinIvf::search`] for `nq = queries.len() / (dim / 8)` queries, in parallel
    /// on the current rayon pool.
    pub fn search_batch(
        &self,
        queries: &[u8],
        opts: &SearchOptions<'_>,
        nprobe: usize,
    ) -> Result<Vec<Vec<Hit>>>
    where
        B: Sync,
    {
        self.check(opts, nprobe)?;
        let nq = binary_query_count(queries, self.dim)?;
        if nq == 0 {
            return Ok(Vec::new());
        }
        Ok(queries
            .par_chunks(self.dim / 8)
            .map(|q| self.search_checked(q, opts, nprobe))
            .collect())
    }

    fn check(&self, opts: &SearchOptions<'_>, nprobe: usize) -> Result<()> {
        if !(1..=MAX_NLIST).contains(&nprobe) {
            return Err(IndexError::invalid(
                "nprobe",
                nprobe,
                "must be in [1, 65536]",
            ));
        }
        if let Some(range) = &opts.range {
            range.validate(ORDER)?;
        }
        Ok(())
    }

    /// The vector of entry `entry`.
    #[inline]
    fn vector(&self, entry: usize) -> &[u8] {
        let b = self.dim / 8;
        let at = self.vectors.start + entry * b;
        self.as_bytes().get(at..at + b).unwrap_or(&[])
    }

    fn search_checked(&self, query: &[u8], opts: &SearchOptions<'_>, nprobe: usize) -> Vec<Hit> {
        let rows = self.rows;
        if opts.k == 0 || rows == 0 || self.lists == 0 {
            return Vec::new();
        }
        let allowed = probe::count_allowed(opts.filter, rows);
        if allowed == 0 {
            return Vec::new();
        }
        let kernel = self.metric.kernel();
        // Popcounts of dim/8 bytes: roughly dim/64 word operations.
        let score_cost = (self.dim as f64 / 64.0).max(1.0) + 2.0;
        let plan = probe::plan(
            self.lists,
            rows,
            allowed,
            nprobe,
            opts.filter.is_some(),
            score_cost,
            true,
        );
        let top = match plan {
            Plan::Exact => self.exact(query, kernel, opts),
            Plan::Probe(start) => {
                let row_bytes = self.dim / 8;
                let distances: Vec<f32> = self
                    .as_bytes()
                    .get(self.centroids.clone())
                    .unwrap_or(&[])
                    .chunks_exact(row_bytes)
                    .map(|c| kernel(query, c))
                    .collect();
                let mut order = ListOrder::new(&distances);
                let goal = if opts.range.is_some() {
                    Goal::InRange(opts.k)
                } else {
                    Goal::Allowed(opts.k.min(allowed))
                };
                probe::probe(&mut order, self.lists, start, goal, opts.k, |list, top| {
                    self.scan(list, query, kernel, opts, top)
                })
            }
        };
        flat::into_hits(ORDER, top)
    }

    /// Scores every allowed row directly, finding its entry through the positions.
    fn exact(
        &self,
        query: &[u8],
        kernel: fn(&[u8], &[u8]) -> f32,
        opts: &SearchOptions<'_>,
    ) -> TopK<u32> {
        let mut top = TopK::new(opts.k);
        let Some(filter) = opts.filter else {
            return top;
        };
        let b = self.as_bytes();
        for row in filter.iter_ones().take_while(|&r| r < self.rows) {
            let Some(entry) = blob::u32_at(b, self.positions.start + 4 * row)
                .map(|e| e as usize)
                .filter(|&e| {
                    e < self.rows && blob::u32_at(b, self.ids.start + 4 * e) == Some(row as u32)
                })
            else {
                continue;
            };
            let d = kernel(query, self.vector(entry));
            if opts.range.is_none_or(|r| r.contains(ORDER, d)) {
                top.push(d, row as u32);
            }
        }
        top
    }

    fn scan(
        &self,
        list: u32,
        query: &[u8],
        kernel: fn(&[u8], &[u8]) -> f32,
        opts: &SearchOptions<'_>,
        top: &mut TopK<u32>,
    ) -> Scanned {
        let l = list as usize;
        let (Some(&a), Some(&b)) = (self.offsets.get(l), self.offsets.get(l + 1)) else {
            return Scanned::default();
        };
        let (a, b) = (a as usize, b as usize);
        let ids = self
            .as_bytes()
            .get(self.ids.start + 4 * a..self.ids.start + 4 * b)
            .unwrap_or(&[]);
        let mut seen = Scanned::default();
        for (entry, row) in (a..b).zip(blob::u32s(ids)) {
            if row as usize >= self.rows || opts.filter.is_some_and(|f| !f.get(row as usize)) {
                continue;
            }
            seen.allowed += 1;
            let d = kernel(query, self.vector(entry));
            if opts.range.is_some_and(|r| !r.contains(ORDER, d)) {
                continue;
            }
            seen.accepted += 1;
            top.push(d, row);
        }
        seen
    }
}
