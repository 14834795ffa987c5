//! Vector search: the rows a search may return (visible, in the searched partitions, passing
//! the filter), ranked per chunk by an index where a sealed chunk has one built or exactly
//! otherwise, merged across chunks, then paged, grouped and given their output fields.
//!
//! Milvus's conventions: the score of L2 is the squared distance and HAMMING/JACCARD are
//! distances (smaller is closer); IP and COSINE are similarities (larger is closer). Results
//! come best first; ties are broken by primary key so answers are deterministic.
//!
//! A search by primary keys ([`SearchVectors::Keys`]) first reads the keys' vectors from the
//! same snapshot it searches. A search's ranker reorders its page, and a hybrid search fuses
//! its searches' pages (optionally grouped), with the rules of [`super::rerank`].

// Every vector type is matched explicitly where it matters; other types are not vectors.
#![allow(clippy::wildcard_enum_match_arm)]

use std::cmp::Ordering;

use rayon::prelude::*;
use rivus_expr::plan::Predicate;
use rivus_expr::Templates;
use rivus_index::distance;
use rivus_schema::{Bitmap, Column, ColumnData, ColumnSource, DataType};

use super::rerank::{self, GroupScorer, Grouping, Resolved, SubHits};
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
    /// Search by primary keys: the vectors of these keys' rows (in the searched field), read
    /// from the collection when the search runs; one query per key.
    Keys(Keys),
}

impl SearchVectors {
    pub fn len(&self) -> usize {
        match self {
            SearchVectors::Float(v) => v.len(),
            SearchVectors::Binary(v) => v.len(),
            SearchVectors::Sparse(v) => v.len(),
            SearchVectors::Keys(Keys::Int(v)) => v.len(),
            SearchVectors::Keys(Keys::Str(v)) => v.len(),
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
    /// Reranks the page of hits (Milvus's function score, e.g. a decay ranker).
    pub ranker: Option<Ranker>,
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
            ranker: None,
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
        // Keys are resolved to vectors before any chunk is searched.
        SearchVectors::Keys(_) => vec![Vec::new(); s.vectors.len()],
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

pub use super::rerank::Ranker;

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
    /// Group-by over the fused hits: every search is a group-by search on this field (its
    /// own limit in groups), then the fused rows are grouped again and `limit` groups kept.
    pub group_by: Option<GroupBy>,
    /// How a group's score is computed from its rows' (`rank_group_scorer`).
    pub group_scorer: GroupScorer,
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
        let target = search_target(&meta, s)?;
        check_request(&meta, s, &target)?;
        let ranker = match &s.ranker {
            Some(r) => Some(self.check_search_ranker(&meta, s, r)?),
            None => None,
        };
        if meta.load_state != LoadState::Loaded {
            // Checked after the request itself, as Milvus does.
            return Err(EngineError::QueryNotLoaded {
                collection: meta.id,
            });
        }
        let store = self.store(&meta)?;
        let (snap, by_keys) = match &s.vectors {
            SearchVectors::Keys(keys) => {
                let pks = keys_as_pks(keys);
                // The snapshot and the key positions are read together (a checkpoint
                // renumbers rows).
                let (snap, located) = store.snapshot_locating(&pks);
                let partitions =
                    searched_partitions(&meta, &s.partitions).map_err(partition_name_error)?;
                let vectors =
                    vectors_of_keys(&snap, &located, &pks, target.field, partitions.as_deref())?;
                let mut resolved = s.clone();
                resolved.vectors = vectors;
                (snap, Some(resolved))
            }
            _ => (store.snapshot(), None),
        };
        let s = by_keys.as_ref().unwrap_or(s);
        let mut ranked = self.rank(&meta, &snap, s)?;
        let mut round_decimal = s.round_decimal;
        if let Some(ranker) = &ranker {
            ranked = rerank_page(&snap, ranked, ranker, s)?;
            // Rounded by the ranker, Milvus's way.
            round_decimal = -1;
        }
        let group_values = s.group_by.as_ref().map(|g| g.field.clone());
        Ok(assemble(
            &meta,
            &snap,
            ranked,
            round_decimal,
            &s.output_fields,
            &outputs,
            group_values,
        ))
    }

    /// A search's ranker, checked as Milvus's `initSearchRequest` does (after the plan).
    fn check_search_ranker(
        &self,
        meta: &CollectionMeta,
        s: &Search,
        ranker: &Ranker,
    ) -> Result<Resolved> {
        self.bind_filter(meta, &s.filter, &s.templates, "query")?;
        if s.after.is_some() {
            return Err(EngineError::invalid("Range search do not support rerank"));
        }
        let resolved = ranker.resolve(&meta.schema)?;
        if s.group_by.is_some() && !resolved.supports_group() {
            return Err(EngineError::invalid(
                "Current rerank does not support grouping search",
            ));
        }
        Ok(resolved)
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
        if let Some(g) = &h.group_by {
            // Milvus's parseRankParams: the field, then the group size.
            if meta.schema.field(&g.field).is_none() {
                return Err(EngineError::GroupByFieldNotFound {
                    field: g.field.clone(),
                });
            }
            check_group_size(g.size)?;
        }
        let nq = h.searches.first().map_or(0, |s| s.vectors.len());
        if let Some(other) = h.searches.iter().find(|s| s.vectors.len() != nq) {
            return Err(EngineError::InvalidParameterExpected {
                detail: Some("sub search request nq should be the same".into()),
                expected: nq.to_string(),
                actual: other.vectors.len().to_string(),
            });
        }
        if h.searches
            .iter()
            .any(|s| matches!(s.vectors, SearchVectors::Keys(_)))
        {
            return Err(EngineError::invalid(
                "search by primary keys is not supported in hybrid search",
            ));
        }
        if h.searches.iter().any(|s| s.ranker.is_some()) {
            return Err(EngineError::invalid(
                "a hybrid search's sub-searches take no ranker; the hybrid search's ranker fuses them",
            ));
        }
        let ranker = h.ranker.resolve(&meta.schema)?;
        if h.group_by.is_some() && !ranker.supports_group() {
            return Err(EngineError::invalid(
                "Current rerank does not support grouping search",
            ));
        }
        if let Resolved::Weighted { weights, .. } = &ranker {
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
        let mut subs_in = Vec::with_capacity(h.searches.len());
        for s in &h.searches {
            let mut s = s.clone();
            // Milvus ignores a sub-request's offset (pymilvus copies the hybrid one into it)
            // and takes its group-by from the rank params (parseSearchInfo with rankParams).
            s.offset = 0;
            s.group_by = h.group_by.clone();
            if s.partitions.is_empty() {
                s.partitions = h.partitions.clone();
            }
            let target = search_target(&meta, &s)?;
            check_request(&meta, &s, &target)?;
            subs_in.push(s);
        }
        if meta.load_state != LoadState::Loaded {
            return Err(EngineError::QueryNotLoaded {
                collection: meta.id,
            });
        }
        let store = self.store(&meta)?;
        let snap = store.snapshot();
        let mut subs = Vec::with_capacity(subs_in.len());
        for s in &subs_in {
            let mut ranked = self.rank(&meta, &snap, s)?;
            // Segcore rounds each search's scores before the proxy fuses them.
            if s.round_decimal >= 0 {
                for hits in &mut ranked.hits {
                    for hit in hits.iter_mut() {
                        hit.2 = round(hit.2, s.round_decimal);
                    }
                }
            }
            subs.push(ranked);
        }
        let grouping = h.group_by.as_ref().map(|g| Grouping {
            size: g.size,
            strict: g.strict,
            scorer: h.group_scorer,
        });
        let mut fused: Vec<Vec<(u32, u32, f32)>> = Vec::with_capacity(nq);
        for q in 0..nq {
            let per_sub: Vec<Vec<(RowKey, f32)>> = subs
                .iter()
                .map(|sub| row_keys(&snap, sub.hits.get(q).map(Vec::as_slice).unwrap_or(&[])))
                .collect();
            let inputs: Vec<SubHits<'_, RowKey>> = per_sub
                .iter()
                .zip(&subs)
                .map(|(hits, sub)| SubHits {
                    hits,
                    metric: sub.metric,
                })
                .collect();
            let page = fuse_page(
                &snap,
                &ranker,
                &inputs,
                grouping.as_ref().zip(h.group_by.as_ref()),
                h.offset,
                h.limit,
                h.round_decimal,
            )?;
            fused.push(page);
        }
        let ranked = Ranked {
            hits: fused,
            // Fused scores grow with closeness (but see `Fused::descending`).
            metric: Metric::Ip,
        };
        Ok(assemble(
            &meta,
            &snap,
            ranked,
            -1,
            &h.output_fields,
            &outputs,
            h.group_by.as_ref().map(|g| g.field.clone()),
        ))
    }

    /// Checks a search and ranks its page of hits on `snap`.
    fn rank(&self, meta: &CollectionMeta, snap: &Snapshot, s: &Search) -> Result<Ranked> {
        let target = search_target(meta, s)?;
        check_request(meta, s, &target)?;
        let predicate = self.bind_filter(meta, &s.filter, &s.templates, "query")?;
        let partitions = searched_partitions(meta, &s.partitions).map_err(partition_name_error)?;
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

/// The proxy's message for a partition named but missing.
fn partition_name_error(e: EngineError) -> EngineError {
    match e {
        EngineError::PartitionNotFound { partition } => {
            EngineError::refused(format!("partition name {partition} not found"))
        }
        other => other,
    }
}

/// A row of a snapshot, ordered by its primary key (ties in reranking go to the smaller key;
/// a key has one visible row per snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RowKey {
    pk: Pk,
    chunk: u32,
    row: u32,
}

/// A ranked page as reranker input.
fn row_keys(snap: &Snapshot, hits: &[(u32, u32, f32)]) -> Vec<(RowKey, f32)> {
    hits.iter()
        .filter_map(|&(chunk, row, score)| {
            let pk = pk_at(snap, chunk, row)?.clone();
            Some((RowKey { pk, chunk, row }, score))
        })
        .collect()
}

/// A numeric field's value on a row (a decay ranker's input).
fn numeric_at(snap: &Snapshot, key: &RowKey, field: &str) -> Option<f64> {
    let column = snap.chunks.get(key.chunk as usize)?.batch.column(field)?;
    if column
        .valid
        .as_ref()
        .is_some_and(|v| !v.get(key.row as usize))
    {
        return None;
    }
    Some(match column.data.scalar_at(key.row as usize)? {
        rivus_schema::ScalarValue::Int(v) => f64::from(v),
        rivus_schema::ScalarValue::Long(v) => v as f64,
        rivus_schema::ScalarValue::Float(v) => f64::from(v),
        rivus_schema::ScalarValue::Double(v) => v,
        _ => return None,
    })
}

/// The group-by value of a row.
fn group_value_of(snap: &Snapshot, key: &RowKey, field: &str) -> Option<String> {
    let chunk = snap.chunks.get(key.chunk as usize)?;
    group_value(chunk, field, key.row as usize)
}

/// Fuses one query's sub-results with `ranker` and pages the result (grouped or not).
fn fuse_page(
    snap: &Snapshot,
    ranker: &Resolved,
    subs: &[SubHits<'_, RowKey>],
    grouping: Option<(&Grouping, &GroupBy)>,
    offset: usize,
    limit: usize,
    round_decimal: i64,
) -> Result<Vec<(u32, u32, f32)>> {
    let input = ranker.input_field();
    let fused = rerank::fuse(ranker, subs, |key| {
        input.and_then(|field| numeric_at(snap, key, field))
    })?;
    let page = match grouping {
        Some((grouping, g)) => rerank::group_page(
            fused,
            |key| group_value_of(snap, key, &g.field),
            grouping,
            offset,
            limit,
            round_decimal,
        ),
        None => rerank::page(fused, offset, limit, round_decimal),
    };
    Ok(page
        .into_iter()
        .map(|(key, score)| (key.chunk, key.row, score))
        .collect())
}

/// Reranks each query's page of a search with its ranker (Milvus's `searchWithRerank`: the
/// page the search's offset and limit select, reordered; a grouped page regrouped).
fn rerank_page(snap: &Snapshot, ranked: Ranked, ranker: &Resolved, s: &Search) -> Result<Ranked> {
    let grouping = s.group_by.as_ref().map(|g| {
        (
            Grouping {
                size: g.size,
                strict: g.strict,
                scorer: GroupScorer::Max,
            },
            g,
        )
    });
    let mut hits = Vec::with_capacity(ranked.hits.len());
    for page in &ranked.hits {
        // Segcore rounds the search's scores before the proxy reranks them.
        let rounded: Vec<(u32, u32, f32)> = page
            .iter()
            .map(|&(c, r, score)| (c, r, round(score, s.round_decimal)))
            .collect();
        let keyed = row_keys(snap, &rounded);
        let subs = [SubHits {
            hits: &keyed,
            metric: ranked.metric,
        }];
        let window = s.limit + s.offset;
        hits.push(fuse_page(
            snap,
            ranker,
            &subs,
            grouping.as_ref().map(|(gr, g)| (gr, *g)),
            0,
            window,
            s.round_decimal,
        )?);
    }
    Ok(Ranked {
        hits,
        metric: Metric::Ip,
    })
}

/// Keys as the store's primary keys.
fn keys_as_pks(keys: &Keys) -> Vec<Pk> {
    match keys {
        Keys::Int(v) => v.iter().map(|k| Pk::Int(*k)).collect(),
        Keys::Str(v) => v.iter().map(|k| Pk::Str(k.clone())).collect(),
    }
}

/// Go's `%v` of a slice of keys: `[1 4 7]`.
fn go_list(pks: &[&Pk]) -> String {
    let items: Vec<String> = pks
        .iter()
        .map(|pk| match pk {
            Pk::Int(v) => v.to_string(),
            Pk::Str(v) => v.clone(),
        })
        .collect();
    format!("[{}]", items.join(" "))
}

/// The vectors of `pks`' rows in `field` (search by primary keys), read from `snap`: only
/// visible rows of the searched partitions count; any key without one is an error naming
/// the missing keys (Milvus's message).
fn vectors_of_keys(
    snap: &Snapshot,
    located: &[(u32, u32)],
    pks: &[Pk],
    field: &rivus_schema::FieldSchema,
    partitions: Option<&[i64]>,
) -> Result<SearchVectors> {
    let wanted: std::collections::HashSet<&Pk> = pks.iter().collect();
    let mut found: std::collections::HashMap<&Pk, (usize, usize)> =
        std::collections::HashMap::with_capacity(pks.len());
    let mut stale = false;
    for &(c, r) in located {
        let (c, r) = (c as usize, r as usize);
        let Some(chunk) = snap.chunks.get(c) else {
            stale = true;
            continue;
        };
        if !chunk.visible_row(r, snap.at) {
            // The key's newest row is not visible to this snapshot yet: an older one may be.
            stale = true;
            continue;
        }
        if let Some(pk) = chunk.pks.get(r) {
            if partitions.is_none_or(|p| p.contains(&chunk.partition)) {
                found.insert(pk, (c, r));
            }
        }
    }
    if stale {
        found.clear();
        for (c, chunk) in snap.chunks.iter().enumerate() {
            if partitions.is_some_and(|p| !p.contains(&chunk.partition)) {
                continue;
            }
            for (r, pk) in chunk.pks.iter().enumerate() {
                if wanted.contains(pk) && chunk.visible_row(r, snap.at) {
                    found.insert(pk, (c, r));
                }
            }
        }
    }
    let missing: Vec<&Pk> = pks.iter().filter(|pk| !found.contains_key(pk)).collect();
    if !missing.is_empty() {
        return Err(EngineError::invalid(format!(
            "some of the provided primary key IDs do not exist: missing IDs = {}",
            go_list(&missing)
        )));
    }
    let rows: Vec<(usize, usize)> = pks.iter().filter_map(|pk| found.get(pk).copied()).collect();
    let name = field.name.as_str();
    let dim = field.dim().unwrap_or(0).max(0) as usize;
    let column_of = |c: usize| {
        snap.chunks
            .get(c)
            .and_then(|chunk| chunk.batch.column(name))
            .ok_or_else(|| EngineError::Internal(format!("field {name} has no column")))
    };
    Ok(match field.data_type {
        DataType::FloatVector => {
            let mut out = Vec::with_capacity(rows.len());
            for &(c, r) in &rows {
                let values = snap
                    .chunks
                    .get(c)
                    .and_then(|chunk| chunk.batch.f32_values(name))
                    .and_then(|(data, d)| data.get(r * d..(r + 1) * d))
                    .ok_or_else(|| EngineError::Internal(format!("field {name} has no row")))?;
                out.push(values.to_vec());
            }
            SearchVectors::Float(out)
        }
        DataType::Float16Vector | DataType::BFloat16Vector | DataType::Int8Vector => {
            let width = VectorWidth::of(field.data_type, dim);
            let mut out = Vec::with_capacity(rows.len());
            for &(c, r) in &rows {
                let bytes = match &column_of(c)?.data {
                    ColumnData::Vector(v) => v.bytes.get(r * width..(r + 1) * width),
                    _ => None,
                }
                .ok_or_else(|| EngineError::Internal(format!("field {name} has no row")))?;
                let mut values = Vec::with_capacity(dim);
                widen(field.data_type, bytes, &mut values);
                out.push(values);
            }
            SearchVectors::Float(out)
        }
        DataType::BinaryVector => {
            let width = dim.div_ceil(8);
            let mut out = Vec::with_capacity(rows.len());
            for &(c, r) in &rows {
                let bytes = match &column_of(c)?.data {
                    ColumnData::Vector(v) => v.bytes.get(r * width..(r + 1) * width),
                    _ => None,
                }
                .ok_or_else(|| EngineError::Internal(format!("field {name} has no row")))?;
                out.push(bytes.to_vec());
            }
            SearchVectors::Binary(out)
        }
        DataType::SparseFloatVector => {
            let mut out = Vec::with_capacity(rows.len());
            for &(c, r) in &rows {
                let bytes = match &column_of(c)?.data {
                    ColumnData::Sparse(rows) => rows.get(r),
                    _ => None,
                }
                .ok_or_else(|| EngineError::Internal(format!("field {name} has no row")))?;
                out.push(
                    bytes
                        .chunks_exact(8)
                        .map(|b| {
                            (
                                u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                                f32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                            )
                        })
                        .collect(),
                );
            }
            SearchVectors::Sparse(out)
        }
        other => {
            return Err(EngineError::invalid(format!(
                "field ({}) to search is not of vector data type ({})",
                field.name,
                other.milvus_name()
            )))
        }
    })
}

/// Search-by-primary-key checks that need no data: the keys' type, duplicates, and a field
/// whose raw vectors exist (Milvus's messages).
fn check_keys(meta: &CollectionMeta, keys: &Keys, target: &Target<'_>) -> Result<()> {
    let pk_type = meta
        .schema
        .primary_field()
        .map_or(DataType::Int64, |f| f.data_type);
    match (keys, pk_type) {
        (Keys::Str(_), DataType::Int64) => {
            return Err(EngineError::invalid(
                "primary key is int64, but IDs type mismatch",
            ))
        }
        (Keys::Int(_), DataType::VarChar) => {
            return Err(EngineError::invalid(
                "primary key is varchar, but IDs type mismatch",
            ))
        }
        _ => {}
    }
    let pks = keys_as_pks(keys);
    let mut seen = std::collections::HashSet::with_capacity(pks.len());
    if !pks.iter().all(|pk| seen.insert(pk)) {
        return Err(EngineError::invalid(
            "duplicate IDs found in search request",
        ));
    }
    if target.field.is_function_output {
        return Err(EngineError::refused(format!(
            "not allowed to retrieve raw data of field {}",
            target.field.name
        )));
    }
    Ok(())
}

/// Milvus's group size bounds (`parseGroupByInfo`).
fn check_group_size(size: usize) -> Result<()> {
    if size == 0 {
        return Err(EngineError::invalid(
            "input group size:0 is negative, failed to do search_groupby",
        ));
    }
    if size > MAX_GROUP_SIZE {
        return Err(EngineError::invalid(format!(
            "input group size:{size} exceeds configured max group size:{MAX_GROUP_SIZE}"
        )));
    }
    Ok(())
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
            if matches!(s.vectors, SearchVectors::Keys(_)) {
                return Err(EngineError::invalid(
                    "multiple vector fields exist, please specify anns_field in search_params",
                ));
            }
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
        check_group_size(g.size)?;
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
        (SearchVectors::Keys(keys), _) => check_keys(meta, keys, target)?,
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

#[cfg(test)]
mod tests {
    use super::super::rerank::{Decay, DecayCurve, RerankFunction};
    use super::super::tests::{rows, schema};
    use super::*;
    use crate::{CreateCollection, CreateIndex, EngineConfig, Templates};

    /// Rows (k, k * 7 % 13) for k in 0..n, FLAT L2 on `vec` = (k, v).
    fn engine(dir: &std::path::Path, n: i64) -> Engine {
        let engine = Engine::open(EngineConfig::new(dir)).unwrap();
        engine
            .create_collection("default", CreateCollection::new(schema()))
            .unwrap();
        let mut params = rivus_schema::Properties::new();
        params.set("index_type", "FLAT");
        params.set("metric_type", "L2");
        engine
            .create_index(
                "default",
                "c",
                CreateIndex {
                    field_name: "vec".into(),
                    index_name: String::new(),
                    params,
                },
            )
            .unwrap();
        engine.load_collection("default", "c").unwrap();
        let data: Vec<(i64, i64)> = (0..n).map(|k| (k, k * 7 % 13)).collect();
        engine.insert("default", "c", rows(&data)).unwrap();
        engine
    }

    fn hits(out: &SearchOutput) -> Vec<Vec<(i64, f32)>> {
        let Keys::Int(keys) = &out.keys else {
            panic!("int keys")
        };
        let mut at = 0;
        out.topks
            .iter()
            .map(|n| {
                let q: Vec<(i64, f32)> = keys[at..at + n]
                    .iter()
                    .copied()
                    .zip(out.scores[at..at + n].iter().copied())
                    .collect();
                at += n;
                q
            })
            .collect()
    }

    fn by_keys(keys: Keys, limit: usize) -> Search {
        Search::new("vec", SearchVectors::Keys(keys), limit)
    }

    fn err(engine: &Engine, s: &Search) -> String {
        engine.search("default", "c", s).err().unwrap().to_string()
    }

    #[test]
    fn search_by_keys_searches_with_the_rows_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), 60);
        for flushed in [false, true] {
            if flushed {
                engine.flush("default", "c").unwrap();
            }
            let out = engine
                .search("default", "c", &by_keys(Keys::Int(vec![10, 3]), 5))
                .unwrap();
            let plain = Search::new(
                "vec",
                SearchVectors::Float(vec![vec![10.0, 5.0], vec![3.0, 8.0]]),
                5,
            );
            let want = engine.search("default", "c", &plain).unwrap();
            assert_eq!(hits(&out), hits(&want));
            // The key's own row is its nearest hit.
            assert_eq!(hits(&out)[0][0], (10, 0.0));
            assert_eq!(hits(&out)[1][0], (3, 0.0));
        }
    }

    #[test]
    fn search_by_keys_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), 20);
        assert_eq!(
            err(&engine, &by_keys(Keys::Int(vec![1, 99, 5, 100]), 3)),
            "some of the provided primary key IDs do not exist: missing IDs = [99 100]: invalid parameter"
        );
        assert_eq!(
            err(&engine, &by_keys(Keys::Int(vec![1, 2, 1]), 3)),
            "duplicate IDs found in search request: invalid parameter"
        );
        assert_eq!(
            err(&engine, &by_keys(Keys::Str(vec!["1".into()]), 3)),
            "primary key is int64, but IDs type mismatch: invalid parameter"
        );
        engine
            .delete("default", "c", None, "id in [4]", &Templates::new())
            .unwrap();
        assert_eq!(
            err(&engine, &by_keys(Keys::Int(vec![4]), 3)),
            "some of the provided primary key IDs do not exist: missing IDs = [4]: invalid parameter"
        );
    }

    #[test]
    fn a_decay_ranker_reorders_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), 40);
        let decay = Decay {
            curve: DecayCurve::Gauss,
            field: "v".into(),
            origin: 0.0,
            scale: 4.0,
            offset: 1.0,
            decay: 0.5,
        };
        let q = vec![20.0f32, 6.0];
        let mut s = Search::new("vec", SearchVectors::Float(vec![q.clone()]), 8);
        s.offset = 2;
        let page = hits(&engine.search("default", "c", &s).unwrap()).remove(0);
        s.ranker = Some(Ranker::Decay(decay.clone()));
        let got = hits(&engine.search("default", "c", &s).unwrap()).remove(0);
        // The same rows, rescored: flip(L2) * decay(v), sorted descending.
        let mut want: Vec<(i64, f32)> = page
            .iter()
            .map(|(k, d)| {
                let v = (k * 7 % 13) as f64;
                let f = rerank::decay_factor(&decay, v) as f32;
                (*k, rerank::to_greater(Metric::L2, *d) * f)
            })
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(got, want);

        // Decay cannot group; function rankers are checked against the schema.
        s.group_by = Some(GroupBy {
            field: "v".into(),
            size: 1,
            strict: false,
        });
        assert_eq!(
            err(&engine, &s),
            "Current rerank does not support grouping search: invalid parameter"
        );
        s.group_by = None;
        s.ranker = Some(Ranker::Function(RerankFunction {
            name: "r".into(),
            input_fields: vec!["vec".into()],
            params: vec![("reranker".into(), "decay".into())],
        }));
        assert_eq!(
            err(&engine, &s),
            "Decay rerank: unsupported input field type:FloatVector, only support numberic field"
        );
    }

    #[test]
    fn hybrid_group_by_pages_groups_of_fused_rows() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), 60);
        let sub = |q: Vec<f32>| {
            let mut s = Search::new("vec", SearchVectors::Float(vec![q]), 20);
            s.metric = Some("L2".into());
            s
        };
        let h = HybridSearch {
            searches: vec![sub(vec![10.0, 3.0]), sub(vec![30.0, 9.0])],
            ranker: Ranker::Rrf { k: 60.0 },
            limit: 4,
            offset: 0,
            round_decimal: -1,
            output_fields: vec!["v".into()],
            partitions: vec![],
            group_by: Some(GroupBy {
                field: "v".into(),
                size: 2,
                strict: false,
            }),
            group_scorer: GroupScorer::Max,
        };
        let out = engine.hybrid_search("default", "c", &h).unwrap();
        let got = hits(&out).remove(0);
        let groups: Vec<i64> = got.iter().map(|(k, _)| k * 7 % 13).collect();
        // At most 4 groups of at most 2 rows, contiguous, each group's rows best first.
        let mut distinct: Vec<i64> = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            if i == 0 || groups[i - 1] != *g {
                assert!(!distinct.contains(g), "groups not contiguous: {groups:?}");
                distinct.push(*g);
            }
        }
        assert_eq!(distinct.len(), 4, "{groups:?}");
        for g in &distinct {
            let rows: Vec<f32> = got
                .iter()
                .filter(|(k, _)| k * 7 % 13 == *g)
                .map(|(_, s)| *s)
                .collect();
            assert!(rows.len() <= 2);
            assert!(rows.windows(2).all(|w| w[0] >= w[1]));
        }
        assert!(out.group_values.is_some());

        let mut decay = h.clone();
        decay.ranker = Ranker::Decay(Decay {
            curve: DecayCurve::Exp,
            field: "v".into(),
            origin: 0.0,
            scale: 1.0,
            offset: 0.0,
            decay: 0.5,
        });
        assert_eq!(
            engine
                .hybrid_search("default", "c", &decay)
                .err()
                .unwrap()
                .to_string(),
            "Current rerank does not support grouping search: invalid parameter"
        );
    }
}
