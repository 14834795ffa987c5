//! Vector search: the rows a search may return (visible, in the searched partitions, passing
//! the filter), ranked per chunk by an index where a sealed chunk has one built or exactly
//! otherwise, merged across chunks, then paged, grouped and given their output fields.
//!
//! Milvus's conventions: the score of L2 is the squared distance and HAMMING/JACCARD are
//! distances (smaller is closer); IP and COSINE are similarities (larger is closer). Results
//! come best first; ties are broken by primary key so answers are deterministic.

// Every vector type is matched explicitly where it matters; other types are not vectors.
#![allow(clippy::wildcard_enum_match_arm)]

use std::cmp::Ordering;

use rayon::prelude::*;
use rivus_expr::plan::Predicate;
use rivus_expr::Templates;
use rivus_index::distance;
use rivus_schema::{Bitmap, Column, ColumnData, ColumnSource, DataType};

use super::store::{Chunk, Pk, Snapshot};
use super::{gather, resolve_outputs, searched_partitions, Keys};
use crate::catalog::{CollectionMeta, LoadState};
use crate::{Engine, EngineError, Result};

/// Milvus `quotaAndLimits.limits.topK`: limit + offset may not exceed it.
pub const MAX_TOPK: usize = 16384;
/// Milvus `quotaAndLimits.limits.maxNQ`... the proxy's default bound on query vectors.
pub const MAX_NQ: usize = 16384;

/// Query vectors, one per query.
#[derive(Debug, Clone)]
pub enum SearchVectors {
    /// FLOAT, FLOAT16, BFLOAT16 and INT8 queries, as f32 values.
    Float(Vec<Vec<f32>>),
    /// BINARY queries (one bit per dimension).
    Binary(Vec<Vec<u8>>),
    /// SPARSE_FLOAT queries: (index, value) pairs.
    Sparse(Vec<Vec<(u32, f32)>>),
}

impl SearchVectors {
    pub fn len(&self) -> usize {
        match self {
            SearchVectors::Float(v) => v.len(),
            SearchVectors::Binary(v) => v.len(),
            SearchVectors::Sparse(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Group-by search: up to `limit` groups of up to `size` hits each.
#[derive(Debug, Clone)]
pub struct GroupBy {
    pub field: String,
    pub size: usize,
    /// Only groups with `size` hits count (when enough rows exist).
    pub strict: bool,
}

/// A search request.
#[derive(Debug, Clone)]
pub struct Search {
    /// The vector field; empty when the collection has exactly one.
    pub anns_field: String,
    pub vectors: SearchVectors,
    /// The metric asked for; `None` takes the index's.
    pub metric: Option<String>,
    pub limit: usize,
    pub offset: usize,
    pub filter: String,
    pub templates: Templates,
    pub output_fields: Vec<String>,
    pub partitions: Vec<String>,
    /// HNSW `ef` (search breadth).
    pub ef: Option<usize>,
    /// Range search: `radius` (outer bound) and `range_filter` (inner bound).
    pub radius: Option<f64>,
    pub range_filter: Option<f64>,
    pub group_by: Option<GroupBy>,
    /// Digits scores are rounded to (`-1`: not rounded).
    pub round_decimal: i64,
    /// Search iterators: only hits strictly farther than this score (the last one returned).
    pub after: Option<f32>,
    /// IVF lists probed.
    pub nprobe: Option<usize>,
    /// SPARSE_INVERTED_INDEX: share of the query's smallest values ignored.
    pub drop_ratio_search: Option<f32>,
    /// HNSW_SQ: refine `ceil(limit * refine_k)` candidates, where the index has a refine step.
    pub refine_k: Option<f32>,
}

impl Search {
    /// A plain top-`limit` search of `vectors` on `anns_field`.
    pub fn new(anns_field: impl Into<String>, vectors: SearchVectors, limit: usize) -> Search {
        Search {
            anns_field: anns_field.into(),
            vectors,
            metric: None,
            limit,
            offset: 0,
            filter: String::new(),
            templates: Templates::new(),
            output_fields: Vec::new(),
            partitions: Vec::new(),
            ef: None,
            radius: None,
            range_filter: None,
            group_by: None,
            round_decimal: -1,
            after: None,
            nprobe: None,
            drop_ratio_search: None,
            refine_k: None,
        }
    }
}

/// A search's answer, flattened as Milvus returns it: `topks[q]` hits for query `q`, one after
/// the other.
#[derive(Debug, Clone)]
pub struct SearchOutput {
    pub topks: Vec<usize>,
    pub keys: Keys,
    pub scores: Vec<f32>,
    /// Output fields of every hit, in hit order.
    pub columns: Vec<(String, Column)>,
    /// The group-by field's value of every hit (group-by searches).
    pub group_values: Option<(String, Column)>,
    /// The metric the scores are in.
    pub metric: String,
}

/// The metrics rivus computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    L2,
    Ip,
    Cosine,
    Hamming,
    Jaccard,
}

impl Metric {
    pub fn parse(name: &str) -> Option<Metric> {
        Some(match name.to_ascii_uppercase().as_str() {
            "L2" => Metric::L2,
            "IP" => Metric::Ip,
            "COSINE" => Metric::Cosine,
            "HAMMING" => Metric::Hamming,
            "JACCARD" => Metric::Jaccard,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "L2",
            Metric::Ip => "IP",
            Metric::Cosine => "COSINE",
            Metric::Hamming => "HAMMING",
            Metric::Jaccard => "JACCARD",
        }
    }

    /// Whether larger scores are closer.
    pub fn larger_is_closer(self) -> bool {
        matches!(self, Metric::Ip | Metric::Cosine)
    }

    /// A key that sorts closest first.
    fn key(self, score: f32) -> f32 {
        if self.larger_is_closer() {
            -score
        } else {
            score
        }
    }
}

/// One candidate: its sort key (closest first), chunk and row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub key: f32,
    pub chunk: u32,
    pub row: u32,
}

fn cmp_key(a: f32, b: f32) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Keeps the `k` smallest keys seen.
pub(crate) struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<HeapHit>,
}

#[derive(Debug, Clone, Copy)]
struct HeapHit(Hit);

impl PartialEq for HeapHit {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapHit {}
impl PartialOrd for HeapHit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapHit {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_key(self.0.key, other.0.key)
            .then(self.0.chunk.cmp(&other.0.chunk))
            .then(self.0.row.cmp(&other.0.row))
    }
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// The key a candidate must beat to enter (infinite until `k` are held).
    #[inline]
    pub(crate) fn bound(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::INFINITY
        } else {
            self.heap.peek().map_or(f32::INFINITY, |h| h.0.key)
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, hit: Hit) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(HeapHit(hit));
        } else if hit.key < self.bound() {
            self.heap.pop();
            self.heap.push(HeapHit(hit));
        }
    }

    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        let mut v: Vec<Hit> = self.heap.into_iter().map(|h| h.0).collect();
        v.sort_by(|a, b| cmp_key(a.key, b.key));
        v
    }
}

/// How the rows of one chunk are scored against one query.
enum Scorer<'a> {
    F32 {
        data: &'a [f32],
        dim: usize,
        kernel: fn(&[f32], &[f32]) -> f32,
    },
    /// FLOAT16/BFLOAT16/INT8 rows, converted to f32 one row at a time.
    Converted {
        data: &'a [u8],
        dim: usize,
        data_type: DataType,
        kernel: fn(&[f32], &[f32]) -> f32,
    },
    Binary {
        data: &'a [u8],
        width: usize,
        kernel: fn(&[u8], &[u8]) -> f32,
    },
    Sparse {
        rows: &'a [Vec<u8>],
    },
}

/// Rows scored per batch-kernel call in exact search.
const BLOCK: usize = 256;

/// The batch kernel of `metric` (one query against consecutive rows).
fn f32_many(metric: Metric) -> distance::ManyKernel {
    distance::f32_many_kernel(match metric {
        Metric::L2 => distance::Metric::L2,
        Metric::Ip => distance::Metric::Ip,
        Metric::Cosine | Metric::Hamming | Metric::Jaccard => distance::Metric::Cosine,
    })
}

fn f32_kernel(metric: Metric) -> fn(&[f32], &[f32]) -> f32 {
    match metric {
        Metric::L2 => distance::l2_f32,
        Metric::Ip => distance::ip_f32,
        Metric::Cosine | Metric::Hamming | Metric::Jaccard => distance::cosine_f32,
    }
}

/// A FLOAT16/BFLOAT16/INT8 row as f32 values.
pub(super) fn widen(data_type: DataType, bytes: &[u8], out: &mut Vec<f32>) {
    out.clear();
    match data_type {
        DataType::Float16Vector => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| distance::f16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        ),
        DataType::BFloat16Vector => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| distance::bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        ),
        _ => out.extend(bytes.iter().map(|b| f32::from(*b as i8))),
    }
}

/// Inner product of a sparse row (Milvus's (u32 index, f32 value) pairs, sorted by index)
/// with a sorted sparse query.
fn sparse_ip(row: &[u8], query: &[(u32, f32)]) -> f32 {
    let mut sum = 0f32;
    let mut q = query.iter().peekable();
    for pair in row.chunks_exact(8) {
        let idx = u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
        let val = f32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
        while q.peek().is_some_and(|(i, _)| *i < idx) {
            q.next();
        }
        if let Some((i, v)) = q.peek() {
            if *i == idx {
                sum += val * v;
            }
        } else {
            break;
        }
    }
    sum
}

impl Scorer<'_> {
    fn for_column(column: &Column, metric: Metric) -> Option<Scorer<'_>> {
        match &column.data {
            ColumnData::Vector(v) => match v.data_type {
                DataType::FloatVector => Some(Scorer::F32 {
                    data: &v.floats,
                    dim: v.dim,
                    kernel: f32_kernel(metric),
                }),
                DataType::Float16Vector | DataType::BFloat16Vector | DataType::Int8Vector => {
                    Some(Scorer::Converted {
                        data: &v.bytes,
                        dim: v.dim,
                        data_type: v.data_type,
                        kernel: f32_kernel(metric),
                    })
                }
                DataType::BinaryVector => Some(Scorer::Binary {
                    data: &v.bytes,
                    width: v.dim.div_ceil(8),
                    kernel: if metric == Metric::Jaccard {
                        distance::jaccard
                    } else {
                        distance::hamming
                    },
                }),
                _ => None,
            },
            ColumnData::Sparse(rows) => Some(Scorer::Sparse { rows }),
            _ => None,
        }
    }
}

/// Range search bounds on scores: keep `inner <= s < outer` for distances and
/// `outer < s <= inner` for similarities (Milvus's `range_filter` and `radius`).
#[derive(Debug, Clone, Copy)]
struct Range {
    radius: Option<f32>,
    range_filter: Option<f32>,
    larger_is_closer: bool,
    /// Sort key hits must exceed (search iterators).
    after_key: Option<f32>,
}

impl Range {
    #[inline]
    fn admits(&self, score: f32) -> bool {
        if self.larger_is_closer {
            self.radius.is_none_or(|r| score > r) && self.range_filter.is_none_or(|f| score <= f)
        } else {
            self.radius.is_none_or(|r| score < r) && self.range_filter.is_none_or(|f| score >= f)
        }
    }

    fn is_set(&self) -> bool {
        self.radius.is_some() || self.range_filter.is_some() || self.after_key.is_some()
    }
}

/// HNSW ef when the request gives none: at least the page asked for.
const DEFAULT_EF: usize = 64;

/// Top-`k` of one sealed chunk through its index, for every query.
#[allow(clippy::too_many_arguments)]
fn index_chunk(
    chunk_no: u32,
    chunk: &Chunk,
    field: &str,
    index: &super::vindex::ChunkIndex,
    allowed: Option<&Bitmap>,
    s: &Search,
    metric: Metric,
    k: usize,
) -> Vec<Vec<Hit>> {
    use super::vindex::{IndexQuery, Knobs};
    let mut opts = rivus_index::SearchOptions::new(k);
    if let Some(a) = allowed {
        opts = opts.with_filter(a);
    }
    if let Some(radius) = s.radius {
        opts = opts.with_range(rivus_index::RangeSearch {
            radius: radius as f32,
            range_filter: s.range_filter.map(|f| f as f32),
        });
    }
    let knobs = Knobs {
        ef: s.ef.unwrap_or(DEFAULT_EF).max(k),
        nprobe: s.nprobe.unwrap_or(DEFAULT_NPROBE),
        drop_ratio_search: s.drop_ratio_search.unwrap_or(0.0),
        refine_k: s.refine_k,
    };
    let one = |query: IndexQuery<'_>| -> Vec<Hit> {
        match index.search(chunk, field, query, &opts, knobs) {
            Ok(hits) => hits
                .into_iter()
                .map(|h| Hit {
                    key: metric.key(h.score),
                    chunk: chunk_no,
                    row: h.row,
                })
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "index search failed");
                Vec::new()
            }
        }
    };
    // Queries in parallel too: one big chunk would otherwise keep a batch on one core.
    match &s.vectors {
        SearchVectors::Float(qs) => qs.par_iter().map(|q| one(IndexQuery::Float(q))).collect(),
        SearchVectors::Binary(qs) => qs.par_iter().map(|q| one(IndexQuery::Bytes(q))).collect(),
        SearchVectors::Sparse(qs) => qs
            .par_iter()
            .map(|q| {
                let mut bytes = Vec::with_capacity(q.len() * 8);
                for (i, v) in q {
                    bytes.extend_from_slice(&i.to_le_bytes());
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                one(IndexQuery::Bytes(&bytes))
            })
            .collect(),
    }
}

/// IVF `nprobe` when the request gives none (Milvus's default).
const DEFAULT_NPROBE: usize = 8;

/// Exact top-`k` of one chunk's `allowed` rows for every query (one heap per query).
fn exact_chunk(
    chunk_no: u32,
    scorer: &Scorer<'_>,
    allowed: &Bitmap,
    queries: &SearchVectors,
    metric: Metric,
    range: Range,
    k: usize,
) -> Vec<Vec<Hit>> {
    (0..queries.len())
        .into_par_iter()
        .map(|q| exact_query(chunk_no, scorer, allowed, queries, q, metric, range, k))
        .collect()
}

/// [`exact_chunk`] for query `q`.
#[allow(clippy::too_many_arguments)]
fn exact_query(
    chunk_no: u32,
    scorer: &Scorer<'_>,
    allowed: &Bitmap,
    queries: &SearchVectors,
    q: usize,
    metric: Metric,
    range: Range,
    k: usize,
) -> Vec<Hit> {
    let mut scratch: Vec<f32> = Vec::new();
    {
        let mut top = TopK::new(k);
        let mut consider = |row: usize, score: f32| {
            let key = metric.key(score);
            if range.is_set() && (!range.admits(score) || range.after_key.is_some_and(|a| key <= a))
            {
                return;
            }
            if key < top.bound() || top.heap.len() < top.k {
                top.push(Hit {
                    key,
                    chunk: chunk_no,
                    row: row as u32,
                });
            }
        };
        match (scorer, queries) {
            (Scorer::F32 { data, dim, kernel }, SearchVectors::Float(qs)) => {
                let query = qs.get(q).map(Vec::as_slice).unwrap_or_default();
                let rows = data.len().checked_div(*dim).unwrap_or(0).min(allowed.len());
                if allowed.count_ones() * 2 >= rows && rows > 0 && query.len() == *dim {
                    // Mostly allowed: score blocks of consecutive rows with the batch kernel
                    // (one dispatch, the query loaded once per block).
                    let many = f32_many(metric);
                    let mut scores = [0f32; BLOCK];
                    let mut start = 0;
                    while start < rows {
                        let end = (start + BLOCK).min(rows);
                        if allowed.any_in(start, end) {
                            let out = &mut scores[..end - start];
                            if let Some(block) = data.get(start * dim..end * dim) {
                                many(query, block, *dim, out);
                                for (i, score) in out.iter().enumerate() {
                                    if allowed.get(start + i) {
                                        consider(start + i, *score);
                                    }
                                }
                            }
                        }
                        start = end;
                    }
                } else {
                    for row in allowed.iter_ones() {
                        if let Some(v) = data.get(row * dim..(row + 1) * dim) {
                            consider(row, kernel(query, v));
                        }
                    }
                }
            }
            (
                Scorer::Converted {
                    data,
                    dim,
                    data_type,
                    kernel,
                },
                SearchVectors::Float(qs),
            ) => {
                let query = qs.get(q).map(Vec::as_slice).unwrap_or_default();
                let width = VectorWidth::of(*data_type, *dim);
                for row in allowed.iter_ones() {
                    if let Some(bytes) = data.get(row * width..(row + 1) * width) {
                        widen(*data_type, bytes, &mut scratch);
                        consider(row, kernel(query, &scratch));
                    }
                }
            }
            (
                Scorer::Binary {
                    data,
                    width,
                    kernel,
                },
                SearchVectors::Binary(qs),
            ) => {
                let query = qs.get(q).map(Vec::as_slice).unwrap_or_default();
                for row in allowed.iter_ones() {
                    if let Some(v) = data.get(row * width..(row + 1) * width) {
                        consider(row, kernel(query, v));
                    }
                }
            }
            (Scorer::Sparse { rows }, SearchVectors::Sparse(qs)) => {
                let query = qs.get(q).map(Vec::as_slice).unwrap_or_default();
                for row in allowed.iter_ones() {
                    if let Some(bytes) = rows.get(row) {
                        consider(row, sparse_ip(bytes, query));
                    }
                }
            }
            _ => {}
        }
        top.into_sorted()
    }
}

struct VectorWidth;

impl VectorWidth {
    fn of(data_type: DataType, dim: usize) -> usize {
        rivus_schema::VectorColumn::row_bytes_of(data_type, dim).unwrap_or(dim)
    }
}

/// The field searched: its name, type and dimension.
struct Target<'a> {
    field: &'a rivus_schema::FieldSchema,
    metric: Metric,
    /// The field's index (its id), when it has one.
    index_id: Option<i64>,
}

/// How hybrid search fuses its searches' hits.
#[derive(Debug, Clone)]
pub enum Ranker {
    /// Reciprocal rank fusion: the sum of `1 / (k + rank)` over the searches (rank from 1).
    Rrf { k: f64 },
    /// The weighted sum of each search's score, normalized to [0, 1] by metric when
    /// `normalize` (Milvus's `norm_score`).
    Weighted { weights: Vec<f64>, normalize: bool },
}

/// A hybrid search: several searches (each with its own field, vectors, filter and limit),
/// fused by a ranker into one page of `limit` hits per query.
#[derive(Debug, Clone)]
pub struct HybridSearch {
    pub searches: Vec<Search>,
    pub ranker: Ranker,
    pub limit: usize,
    pub offset: usize,
    pub round_decimal: i64,
    pub output_fields: Vec<String>,
    pub partitions: Vec<String>,
}

/// One page of hits per query with their scores (rounding aside).
struct Ranked {
    /// Per query: (chunk, row, score).
    hits: Vec<Vec<(u32, u32, f32)>>,
    metric: Metric,
}

impl Engine {
    /// Runs a vector search.
    pub fn search(&self, db: &str, collection: &str, s: &Search) -> Result<SearchOutput> {
        let meta = self.collection_meta(db, collection)?;
        let outputs = resolve_outputs(&meta.schema, &s.output_fields)?;
        if meta.load_state != LoadState::Loaded {
            // Checked after the request itself, as Milvus does.
            let target = search_target(&meta, s)?;
            check_request(&meta, s, &target)?;
            return Err(EngineError::QueryNotLoaded {
                collection: meta.id,
            });
        }
        let store = self.store(&meta)?;
        let snap = store.snapshot();
        let ranked = self.rank(&meta, &snap, s)?;
        let group_values = s.group_by.as_ref().map(|g| g.field.clone());
        Ok(assemble(
            &meta,
            &snap,
            ranked,
            s.round_decimal,
            &s.output_fields,
            &outputs,
            group_values,
        ))
    }

    /// Runs a hybrid search: each search on the same snapshot, then fusion.
    pub fn hybrid_search(
        &self,
        db: &str,
        collection: &str,
        h: &HybridSearch,
    ) -> Result<SearchOutput> {
        let meta = self.collection_meta(db, collection)?;
        let outputs = resolve_outputs(&meta.schema, &h.output_fields)?;
        if h.searches.is_empty() {
            return Err(EngineError::invalid(
                "hybrid search needs at least one search request",
            ));
        }
        if h.limit == 0 || h.limit.saturating_add(h.offset) > MAX_TOPK {
            return Err(EngineError::invalid(format!(
                "topk [{}] is invalid, it should be in range [1, {MAX_TOPK}], but got {}",
                h.limit, h.limit
            )));
        }
        let nq = h.searches.first().map_or(0, |s| s.vectors.len());
        if let Some(other) = h.searches.iter().find(|s| s.vectors.len() != nq) {
            return Err(EngineError::InvalidParameterExpected {
                detail: Some("sub search request nq should be the same".into()),
                expected: nq.to_string(),
                actual: other.vectors.len().to_string(),
            });
        }
        if let Ranker::Weighted { weights, .. } = &h.ranker {
            if weights.len() != h.searches.len() {
                return Err(EngineError::InvalidParameterExpected {
                    detail: Some(
                        "the length of weights param mismatch with ann search requests".into(),
                    ),
                    expected: h.searches.len().to_string(),
                    actual: weights.len().to_string(),
                });
            }
        }
        if meta.load_state != LoadState::Loaded {
            return Err(EngineError::QueryNotLoaded {
                collection: meta.id,
            });
        }
        let store = self.store(&meta)?;
        let snap = store.snapshot();
        let mut subs = Vec::with_capacity(h.searches.len());
        for s in &h.searches {
            let mut s = s.clone();
            // Milvus ignores a sub-request's offset (pymilvus copies the hybrid one into it).
            s.offset = 0;
            if s.partitions.is_empty() {
                s.partitions = h.partitions.clone();
            }
            subs.push(self.rank(&meta, &snap, &s)?);
        }
        let mut fused: Vec<Vec<(u32, u32, f32)>> = Vec::with_capacity(nq);
        for q in 0..nq {
            let mut scores: std::collections::HashMap<(u32, u32), f64> =
                std::collections::HashMap::new();
            for (i, sub) in subs.iter().enumerate() {
                let Some(hits) = sub.hits.get(q) else {
                    continue;
                };
                for (rank, (c, r, score)) in hits.iter().enumerate() {
                    let add = match &h.ranker {
                        Ranker::Rrf { k } => 1.0 / (k + rank as f64 + 1.0),
                        Ranker::Weighted { weights, normalize } => {
                            let w = weights.get(i).copied().unwrap_or(0.0);
                            let s = f64::from(*score);
                            w * if *normalize {
                                normalized(sub.metric, s)
                            } else {
                                s
                            }
                        }
                    };
                    *scores.entry((*c, *r)).or_insert(0.0) += add;
                }
            }
            let mut list: Vec<(u32, u32, f32)> = scores
                .into_iter()
                .map(|((c, r), s)| (c, r, s as f32))
                .collect();
            list.sort_by(|a, b| {
                cmp_key(b.2, a.2).then_with(|| pk_at(&snap, a.0, a.1).cmp(&pk_at(&snap, b.0, b.1)))
            });
            fused.push(list.into_iter().skip(h.offset).take(h.limit).collect());
        }
        // Fused scores grow with closeness whatever the metrics were.
        let ranked = Ranked {
            hits: fused,
            metric: Metric::Ip,
        };
        Ok(assemble(
            &meta,
            &snap,
            ranked,
            h.round_decimal,
            &h.output_fields,
            &outputs,
            None,
        ))
    }

    /// Checks a search and ranks its page of hits on `snap`.
    fn rank(&self, meta: &CollectionMeta, snap: &Snapshot, s: &Search) -> Result<Ranked> {
        let target = search_target(meta, s)?;
        check_request(meta, s, &target)?;
        let predicate = self.bind_filter(meta, &s.filter, &s.templates, "query")?;
        let partitions = searched_partitions(meta, &s.partitions).map_err(|e| match e {
            EngineError::PartitionNotFound { partition } => {
                EngineError::refused(format!("partition name {partition} not found"))
            }
            other => other,
        })?;
        let group = match &s.group_by {
            Some(g) => Some((g.clone(), group_field(meta, &g.field)?)),
            None => None,
        };
        let per_query = ranked(snap, &target, s, predicate.as_ref(), partitions.as_deref())?;
        let mut out = Vec::with_capacity(per_query.len());
        for hits in per_query {
            let hits: Vec<Hit> = match &group {
                Some((g, _)) => group_hits(snap, hits, g, s.limit, s.offset),
                None => {
                    let mut hits = hits;
                    // Ties: the smaller key first, as a fixed order.
                    hits.sort_by(|a, b| {
                        cmp_key(a.key, b.key).then_with(|| {
                            pk_at(snap, a.chunk, a.row).cmp(&pk_at(snap, b.chunk, b.row))
                        })
                    });
                    hits.into_iter().skip(s.offset).take(s.limit).collect()
                }
            };
            out.push(
                hits.into_iter()
                    .map(|h| {
                        let score = if target.metric.larger_is_closer() {
                            -h.key
                        } else {
                            h.key
                        };
                        (h.chunk, h.row, score)
                    })
                    .collect(),
            );
        }
        Ok(Ranked {
            hits: out,
            metric: target.metric,
        })
    }
}

fn pk_at(snap: &Snapshot, chunk: u32, row: u32) -> Option<&Pk> {
    snap.chunks
        .get(chunk as usize)
        .and_then(|c| c.pks.get(row as usize))
}

/// A score mapped to [0, 1], larger closer (Milvus's weighted-ranker normalization).
fn normalized(metric: Metric, s: f64) -> f64 {
    use std::f64::consts::PI;
    match metric {
        Metric::Cosine => (1.0 + s) * 0.5,
        Metric::Ip => 0.5 + s.atan() / PI,
        Metric::L2 | Metric::Hamming | Metric::Jaccard => 1.0 - 2.0 * s.atan() / PI,
    }
}

/// The flattened answer: keys, rounded scores, output fields and group values of every hit.
fn assemble(
    meta: &CollectionMeta,
    snap: &Snapshot,
    ranked: Ranked,
    round_decimal: i64,
    requested: &[String],
    outputs: &[super::Output],
    group_field: Option<String>,
) -> SearchOutput {
    let mut topks = Vec::with_capacity(ranked.hits.len());
    let mut rows: Vec<(usize, usize)> = Vec::new();
    let mut scores: Vec<f32> = Vec::new();
    for hits in ranked.hits {
        topks.push(hits.len());
        for (c, r, score) in hits {
            scores.push(round(score, round_decimal));
            rows.push((c as usize, r as usize));
        }
    }
    let pk_field = meta
        .schema
        .fields
        .iter()
        .find(|f| f.is_primary_key)
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let mut keys_int = Vec::new();
    let mut keys_str = Vec::new();
    for &(c, r) in &rows {
        match snap.chunks.get(c).and_then(|ch| ch.pks.get(r)) {
            Some(Pk::Int(v)) => keys_int.push(*v),
            Some(Pk::Str(v)) => keys_str.push(v.clone()),
            None => {}
        }
    }
    let is_str = meta
        .schema
        .fields
        .iter()
        .any(|f| f.is_primary_key && f.data_type == DataType::VarChar);
    let keys = if is_str {
        Keys::Str(keys_str)
    } else {
        Keys::Int(keys_int)
    };
    let mut columns = Vec::new();
    for out in outputs {
        // The key comes back as ids; as a field only when asked for.
        if out.name() == pk_field && !asked_for(requested, &pk_field, meta) {
            continue;
        }
        columns.push((
            out.name().to_string(),
            gather(snap, &rows, out, &meta.schema),
        ));
    }
    let group_values = group_field.map(|field| {
        let out = super::Output::Field(field.clone());
        (field, gather(snap, &rows, &out, &meta.schema))
    });
    SearchOutput {
        topks,
        keys,
        scores,
        columns,
        group_values,
        metric: ranked.metric.name().to_string(),
    }
}

/// Whether `field` (the primary key) was asked for as an output field (by name or `*`).
fn asked_for(requested: &[String], field: &str, _meta: &CollectionMeta) -> bool {
    requested.iter().any(|f| {
        let f = f.trim();
        f == field || f == "*"
    })
}

fn round(score: f32, digits: i64) -> f32 {
    if digits < 0 {
        return score;
    }
    let p = 10f64.powi(digits as i32);
    ((f64::from(score) * p).round() / p) as f32
}

/// The vector field searched and the metric scores are in.
fn search_target<'a>(meta: &'a CollectionMeta, s: &Search) -> Result<Target<'a>> {
    let schema = &meta.schema;
    let field = if s.anns_field.is_empty() {
        let mut vectors = schema.vector_fields();
        let first = vectors.next();
        if vectors.next().is_some() {
            return Err(EngineError::refused(
                "multiple anns_fields exist, please specify a anns_field in search_params",
            ));
        }
        first.ok_or_else(|| EngineError::refused("anns_field not found in schema"))?
    } else {
        let f = schema.field(&s.anns_field).ok_or_else(|| {
            EngineError::invalid(format!(
                "failed to create query plan: failed to get field schema by name: fieldName({}) not found",
                s.anns_field
            ))
        })?;
        if !f.data_type.is_vector() {
            return Err(EngineError::invalid(format!(
                "failed to create query plan: field ({}) to search is not of vector data type",
                f.name
            )));
        }
        f
    };
    let index = meta.indexes.iter().find(|i| i.field_name == field.name);
    let index_metric = index.and_then(|i| i.params.get("metric_type").map(str::to_string));
    let metric_name = match (&s.metric, &index_metric) {
        (Some(asked), Some(built)) if !asked.eq_ignore_ascii_case(built) => {
            return Err(EngineError::invalid(format!(
                "metric type not match: invalid parameter[expected={built}][actual={asked}]"
            )));
        }
        (Some(asked), _) => asked.clone(),
        (None, Some(built)) => built.clone(),
        (None, None) => "L2".to_string(),
    };
    let metric = Metric::parse(&metric_name).ok_or_else(|| {
        EngineError::refused(format!(
            "metric type {metric_name} is not supported for search by rivus"
        ))
    })?;
    Ok(Target {
        field,
        metric,
        index_id: index.map(|i| i.id),
    })
}

fn check_request(meta: &CollectionMeta, s: &Search, target: &Target<'_>) -> Result<()> {
    let _ = meta;
    let nq = s.vectors.len();
    if nq == 0 || nq > MAX_NQ {
        return Err(EngineError::refused(format!(
            "nq [{nq}] is invalid, nq (number of search vector per search request) should be in range [1, {MAX_NQ}], but got {nq}"
        )));
    }
    if s.limit == 0 || s.limit > MAX_TOPK {
        return Err(EngineError::refused(format!(
            "topk [{}] is invalid, it should be in range [1, {MAX_TOPK}], but got {}",
            s.limit, s.limit
        )));
    }
    if s.offset > MAX_TOPK {
        return Err(EngineError::refused(format!(
            "offset [{}] is invalid, it should be in range [1, {MAX_TOPK}], but got {}",
            s.offset, s.offset
        )));
    }
    if s.limit + s.offset > MAX_TOPK {
        return Err(EngineError::refused(format!(
            "offset+topk [{}] is invalid, it should be in range [1, {MAX_TOPK}], but got {}",
            s.limit + s.offset,
            s.limit + s.offset
        )));
    }
    if !(-1..=6).contains(&s.round_decimal) {
        return Err(EngineError::refused(format!(
            "round_decimal [{}] is invalid, should be -1 or an integer in range [0, 6]",
            s.round_decimal
        )));
    }
    if let Some(g) = &s.group_by {
        if g.size == 0 {
            return Err(EngineError::invalid(
                "input group size:0 is negative, failed to do search_groupby",
            ));
        }
        if g.size > MAX_GROUP_SIZE {
            return Err(EngineError::invalid(format!(
                "input group size:{} exceeds configured max group size:{MAX_GROUP_SIZE}",
                g.size
            )));
        }
        if s.radius.is_some() {
            return Err(EngineError::InvalidParameterExpected {
                detail: Some("Not allowed to do range-search when doing search-group-by".into()),
                expected: String::new(),
                actual: String::new(),
            });
        }
        if target.field.data_type == DataType::BinaryVector {
            return Err(EngineError::refused(
                "not support search_group_by operation based on binary vector column",
            ));
        }
    }
    if s.range_filter.is_some() && s.radius.is_none() {
        return Err(EngineError::InvalidParameterExpected {
            detail: Some(
                "range_filter requires radius to be set; range_filter alone is not a valid range search parameter".into(),
            ),
            expected: "range_filter".into(),
            actual: String::new(),
        });
    }
    let field = target.field;
    let dim = field.dim().unwrap_or(0).max(0) as usize;
    let mismatch = |got: usize| {
        EngineError::invalid(format!(
            "vector dimension mismatch, expected vector dim {dim} of field {}, actual {got}",
            field.name
        ))
    };
    match (&s.vectors, field.data_type) {
        (
            SearchVectors::Float(qs),
            DataType::FloatVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::Int8Vector,
        ) => {
            if let Some(q) = qs.iter().find(|q| q.len() != dim) {
                return Err(mismatch(q.len()));
            }
        }
        (SearchVectors::Binary(qs), DataType::BinaryVector) => {
            if let Some(q) = qs.iter().find(|q| q.len() * 8 != dim) {
                return Err(mismatch(q.len() * 8));
            }
        }
        (SearchVectors::Sparse(_), DataType::SparseFloatVector) => {}
        _ => {
            return Err(EngineError::invalid(format!(
                "the type of the search vectors does not match the type of field {} ({})",
                field.name,
                field.data_type.milvus_name()
            )))
        }
    }
    if let (Some(r), Some(f)) = (s.radius, s.range_filter) {
        let closer_larger = target.metric.larger_is_closer();
        let m = target.metric.name();
        if closer_larger && f <= r {
            return Err(EngineError::invalid(format!(
                "metric type ({m}), range_filter({f}) must be greater than radius({r})"
            )));
        }
        if !closer_larger && f >= r {
            return Err(EngineError::invalid(format!(
                "metric type ({m}), range_filter({f}) must be less than radius({r})"
            )));
        }
    }
    Ok(())
}

/// Milvus `quotaAndLimits.limits.maxGroupSize`.
const MAX_GROUP_SIZE: usize = 10;

/// The group-by field: a scalar (bool, integer or varchar) field of the schema.
fn group_field<'a>(meta: &'a CollectionMeta, name: &str) -> Result<&'a rivus_schema::FieldSchema> {
    let f = meta
        .schema
        .field(name)
        .ok_or_else(|| EngineError::GroupByFieldNotFound {
            field: name.to_string(),
        })?;
    match f.data_type {
        DataType::Bool
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::VarChar => Ok(f),
        other => Err(EngineError::refused(format!(
            "unsupported data type {} for group by operator",
            segcore_name(other)
        ))),
    }
}

/// The type's name as segcore's messages print it.
fn segcore_name(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "BOOL",
        DataType::Int8 => "INT8",
        DataType::Int16 => "INT16",
        DataType::Int32 => "INT32",
        DataType::Int64 => "INT64",
        DataType::Float => "FLOAT",
        DataType::Double => "DOUBLE",
        DataType::VarChar => "VARCHAR",
        DataType::Array => "ARRAY",
        DataType::Json => "JSON",
        DataType::BinaryVector => "VECTOR_BINARY",
        DataType::FloatVector => "VECTOR_FLOAT",
        DataType::Float16Vector => "VECTOR_FLOAT16",
        DataType::BFloat16Vector => "VECTOR_BFLOAT16",
        DataType::SparseFloatVector => "VECTOR_SPARSE_FLOAT",
        DataType::Int8Vector => "VECTOR_INT8",
    }
}

/// A hashable value of the group-by field.
fn group_value(chunk: &Chunk, field: &str, row: usize) -> Option<String> {
    let column = chunk.batch.column(field)?;
    if column.valid.as_ref().is_some_and(|v| !v.get(row)) {
        return Some("\u{0}null".into());
    }
    Some(format!("{:?}", column.data.scalar_at(row)))
}

/// Groups ranked hits: groups in order of their best hit, each with its best `size` hits;
/// `offset` groups skipped, then `limit` groups returned (strict: only full groups, unless
/// too few rows exist to fill them).
fn group_hits(
    snap: &Snapshot,
    hits: Vec<Hit>,
    g: &GroupBy,
    limit: usize,
    offset: usize,
) -> Vec<Hit> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::HashMap<String, Vec<Hit>> = std::collections::HashMap::new();
    let mut sorted = hits;
    sorted.sort_by(|a, b| cmp_key(a.key, b.key));
    for h in sorted {
        let Some(chunk) = snap.chunks.get(h.chunk as usize) else {
            continue;
        };
        let Some(v) = group_value(chunk, &g.field, h.row as usize) else {
            continue;
        };
        let entry = groups.entry(v.clone()).or_default();
        if entry.is_empty() {
            order.push(v);
        }
        if entry.len() < g.size {
            entry.push(h);
        }
    }
    let full: Vec<&String> = if g.strict
        && order
            .iter()
            .filter(|v| groups.get(*v).is_some_and(|h| h.len() >= g.size))
            .count()
            >= offset + limit
    {
        order
            .iter()
            .filter(|v| groups.get(*v).is_some_and(|h| h.len() >= g.size))
            .collect()
    } else {
        order.iter().collect()
    };
    full.into_iter()
        .skip(offset)
        .take(limit)
        .flat_map(|v| groups.get(v).cloned().unwrap_or_default())
        .collect()
}

/// The candidates of every query over every chunk, unsorted; enough for the page asked
/// (offset + limit, or for group-by every allowed row ranked).
fn ranked(
    snap: &Snapshot,
    target: &Target<'_>,
    s: &Search,
    predicate: Option<&Predicate>,
    partitions: Option<&[i64]>,
) -> Result<Vec<Vec<Hit>>> {
    let k = match &s.group_by {
        // Grouping needs more than the top hits: rank every allowed row (exact).
        Some(_) => usize::MAX,
        None => s.offset + s.limit,
    };
    let range = Range {
        radius: s.radius.map(|r| r as f32),
        range_filter: s.range_filter.map(|r| r as f32),
        larger_is_closer: target.metric.larger_is_closer(),
        after_key: s.after.map(|a| target.metric.key(a)),
    };
    let field = target.field.name.as_str();
    let per_chunk: Vec<Vec<Vec<Hit>>> = snap
        .chunks
        .par_iter()
        .enumerate()
        .filter(|(_, chunk)| partitions.is_none_or(|p| p.contains(&chunk.partition)))
        .map(|(c, chunk)| {
            let built = target
                .index_id
                .filter(|_| s.group_by.is_none() && s.after.is_none())
                .and_then(|id| chunk.index(id));
            let all_visible = chunk.all_visible(snap.at);
            let allowed = match (predicate, all_visible) {
                (None, true) => None,
                (None, false) => Some(chunk.visible(snap.at)),
                (Some(p), true) => Some(super::sindex::filter_chunk(chunk, p)),
                (Some(p), false) => {
                    let mut allowed = chunk.visible(snap.at);
                    allowed.and(&super::sindex::filter_chunk(chunk, p));
                    Some(allowed)
                }
            };
            if allowed.as_ref().is_some_and(|a| a.count_ones() == 0) {
                return Vec::new();
            }
            if let Some(index) = built {
                return index_chunk(
                    c as u32,
                    chunk,
                    field,
                    &index,
                    allowed.as_ref(),
                    s,
                    target.metric,
                    k,
                );
            }
            let allowed = allowed.unwrap_or_else(|| Bitmap::ones(chunk.len()));
            // FLOAT vectors are read in place (a sealed chunk's straight from its file).
            if let (Some((data, dim)), SearchVectors::Float(_)) =
                (chunk.batch.f32_values(field), &s.vectors)
            {
                let scorer = Scorer::F32 {
                    data,
                    dim,
                    kernel: f32_kernel(target.metric),
                };
                return exact_chunk(
                    c as u32,
                    &scorer,
                    &allowed,
                    &s.vectors,
                    target.metric,
                    range,
                    k,
                );
            }
            let Some(column) = chunk.batch.column(field) else {
                return Vec::new();
            };
            let Some(scorer) = Scorer::for_column(column, target.metric) else {
                return Vec::new();
            };
            let mut allowed = allowed;
            if let Some(valid) = &column.valid {
                allowed.and(valid);
            }
            exact_chunk(
                c as u32,
                &scorer,
                &allowed,
                &s.vectors,
                target.metric,
                range,
                k,
            )
        })
        .collect();
    let nq = s.vectors.len();
    let mut out: Vec<Vec<Hit>> = vec![Vec::new(); nq];
    for chunk_hits in per_chunk {
        for (q, hits) in chunk_hits.into_iter().enumerate() {
            if let Some(o) = out.get_mut(q) {
                o.extend(hits);
            }
        }
    }
    if k != usize::MAX {
        for hits in &mut out {
            if hits.len() > k {
                hits.select_nth_unstable_by(k - 1, |a, b| cmp_key(a.key, b.key));
                hits.truncate(k);
            }
        }
    }
    Ok(out)
}
