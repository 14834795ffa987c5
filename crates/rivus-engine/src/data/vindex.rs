//! Vector indexes over sealed chunks: which ones a collection wants, building them in the
//! background, keeping them as files next to the segment (caches: a missing or damaged file
//! is rebuilt, never a failed search), and searching them.
//!
//! Rows still in memory (not sealed by a checkpoint) are always searched exactly; a sealed
//! chunk is searched by its index once built, exactly until then. Index types without a
//! build (FLAT, BIN_FLAT) are exact by definition.

// Vector types and index kinds are matched explicitly where it matters.
#![allow(clippy::wildcard_enum_match_arm)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rivus_index::{hnsw, DenseVectors, FrozenHnsw, FrozenHnswSq, HnswParams, RefineType, SqType};
use rivus_schema::{ColumnData, ColumnSource, DataType};
use rivus_storage::{BlockFile, BlockFileWriter, SharedBlock, Vfs};

use super::search::Metric;
use super::store::Chunk;
use crate::catalog::IndexMeta;
use crate::{EngineError, Result};

/// How an index of a collection is built (vector indexes here, scalar ones in
/// [`super::sindex`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    pub index_id: i64,
    pub field: String,
    pub data_type: DataType,
    /// The vector metric (unused by scalar indexes).
    pub metric: Metric,
    pub kind: IndexKind,
}

/// What is built per sealed chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Exact search: nothing to build.
    Flat,
    Hnsw {
        m: usize,
        ef_construction: usize,
    },
    /// HNSW_SQ: the graph walked over scalar-quantized codes, optionally refined.
    HnswSq {
        m: usize,
        ef_construction: usize,
        sq: SqType,
        refine: Option<RefineType>,
    },
    /// IVF_FLAT, IVF_SQ8, IVF_PQ.
    Ivf {
        nlist: usize,
        quantizer: rivus_index::IvfQuantizer,
    },
    /// BIN_IVF_FLAT.
    BinIvf {
        nlist: usize,
    },
    /// SPARSE_INVERTED_INDEX.
    Sparse {
        drop_ratio_build_per_mille: u32,
    },
    /// A scalar index (INVERTED, STL_SORT, BITMAP, Trie, AUTOINDEX on a scalar field): sorted
    /// distinct values with their rows ([`super::sindex::ScalarChunkIndex`]).
    Scalar,
}

/// Milvus AUTOINDEX on dense vectors builds HNSW with these.
const AUTO_M: usize = 16;
const AUTO_EF_CONSTRUCTION: usize = 200;

impl IndexSpec {
    /// The spec of a declared index; `None` for a field type rivus has no index for (JSON:
    /// `create_index` refuses it).
    pub fn of(index: &IndexMeta, data_type: DataType) -> Option<IndexSpec> {
        if !data_type.is_vector() {
            return super::sindex::buildable(data_type).then(|| IndexSpec {
                index_id: index.id,
                field: index.field_name.clone(),
                data_type,
                metric: Metric::L2,
                kind: IndexKind::Scalar,
            });
        }
        let metric = index
            .params
            .get("metric_type")
            .and_then(Metric::parse)
            .unwrap_or(Metric::L2);
        let int = |key: &str, default: usize| {
            index
                .params
                .get(key)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(default)
        };
        let dense = matches!(
            data_type,
            DataType::FloatVector
                | DataType::Float16Vector
                | DataType::BFloat16Vector
                | DataType::Int8Vector
        );
        let float = |key: &str, default: f32| {
            index
                .params
                .get(key)
                .and_then(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(default)
        };
        let kind = match index.index_type().unwrap_or("AUTOINDEX") {
            "IVF_FLAT" if dense => IndexKind::Ivf {
                nlist: int("nlist", 128),
                quantizer: rivus_index::IvfQuantizer::Flat,
            },
            "IVF_SQ8" if dense => IndexKind::Ivf {
                nlist: int("nlist", 128),
                quantizer: rivus_index::IvfQuantizer::Sq8,
            },
            "IVF_PQ" if dense => IndexKind::Ivf {
                nlist: int("nlist", 128),
                quantizer: rivus_index::IvfQuantizer::Pq {
                    m: int("m", 1),
                    nbits: int("nbits", 8),
                },
            },
            "BIN_IVF_FLAT" if data_type == DataType::BinaryVector => IndexKind::BinIvf {
                nlist: int("nlist", 128),
            },
            "SPARSE_INVERTED_INDEX" if data_type == DataType::SparseFloatVector => {
                IndexKind::Sparse {
                    drop_ratio_build_per_mille: (float("drop_ratio_build", 0.0) * 1000.0).round()
                        as u32,
                }
            }
            "HNSW" if dense => IndexKind::Hnsw {
                m: int("M", AUTO_M),
                ef_construction: int("efConstruction", AUTO_EF_CONSTRUCTION),
            },
            "HNSW_SQ" if dense => {
                let refine_on = index
                    .params
                    .get("refine")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1");
                // knowhere builds a refine index only for `refine` with a `refine_type`.
                let refine = index
                    .params
                    .get("refine_type")
                    .filter(|_| refine_on)
                    .and_then(RefineType::from_name);
                IndexKind::HnswSq {
                    m: int("M", 30),
                    ef_construction: int("efConstruction", 360),
                    sq: index
                        .params
                        .get("sq_type")
                        .and_then(SqType::from_name)
                        .unwrap_or(SqType::Sq8),
                    refine,
                }
            }
            "AUTOINDEX" | "" if dense => IndexKind::Hnsw {
                m: AUTO_M,
                ef_construction: AUTO_EF_CONSTRUCTION,
            },
            _ => IndexKind::Flat,
        };
        Some(IndexSpec {
            index_id: index.id,
            field: index.field_name.clone(),
            data_type,
            metric,
            kind,
        })
    }

    pub fn needs_build(&self) -> bool {
        self.kind != IndexKind::Flat
    }
}

/// Graph bytes: built in memory, or mapped from the index file.
#[derive(Debug)]
pub enum GraphBytes {
    Owned(Vec<u8>),
    Mapped(SharedBlock),
}

impl AsRef<[u8]> for GraphBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            GraphBytes::Owned(v) => v,
            GraphBytes::Mapped(b) => b.as_ref(),
        }
    }
}

/// One built index of one sealed chunk.
#[derive(Debug)]
pub struct ChunkIndex {
    pub index_id: i64,
    pub metric: Metric,
    pub structure: Structure,
    /// FLOAT16/BFLOAT16/INT8 rows widened to f32 (the indexes read f32 vectors).
    pub widened: Option<Vec<f32>>,
}

/// The built structure, by index type.
#[derive(Debug)]
pub enum Structure {
    Hnsw(FrozenHnsw<GraphBytes>),
    HnswSq(FrozenHnswSq<GraphBytes, GraphBytes>),
    Ivf(rivus_index::FrozenIvf<GraphBytes>),
    BinIvf(rivus_index::FrozenBinIvf<GraphBytes>),
    Sparse(rivus_index::FrozenSparse<GraphBytes>),
}

impl Structure {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Structure::Hnsw(g) => g.as_bytes(),
            Structure::HnswSq(g) => g.graph().as_bytes(),
            Structure::Ivf(g) => g.as_bytes(),
            Structure::BinIvf(g) => g.as_bytes(),
            Structure::Sparse(g) => g.as_bytes(),
        }
    }

    /// The block name in the index file.
    fn block(kind: IndexKind) -> &'static str {
        match kind {
            IndexKind::Hnsw { .. } | IndexKind::HnswSq { .. } => "hnsw",
            IndexKind::Ivf { .. } => "ivf",
            IndexKind::BinIvf { .. } => "bin_ivf",
            IndexKind::Sparse { .. } => "sparse",
            IndexKind::Flat | IndexKind::Scalar => "none",
        }
    }

    /// `file` is the index file, for structures with a second block.
    fn load(kind: IndexKind, bytes: GraphBytes, file: &BlockFile) -> Option<Structure> {
        Some(match kind {
            IndexKind::Hnsw { .. } => Structure::Hnsw(FrozenHnsw::load(bytes).ok()?),
            IndexKind::HnswSq { .. } => {
                let codes = GraphBytes::Mapped(file.shared_block(SQ_BLOCK)?);
                Structure::HnswSq(FrozenHnswSq::load(bytes, codes).ok()?)
            }
            IndexKind::Ivf { .. } => Structure::Ivf(rivus_index::FrozenIvf::load(bytes).ok()?),
            IndexKind::BinIvf { .. } => {
                Structure::BinIvf(rivus_index::FrozenBinIvf::load(bytes).ok()?)
            }
            IndexKind::Sparse { .. } => {
                Structure::Sparse(rivus_index::FrozenSparse::load(bytes).ok()?)
            }
            IndexKind::Flat | IndexKind::Scalar => return None,
        })
    }

    /// Rows covered.
    fn len(&self) -> usize {
        match self {
            Structure::Hnsw(g) => g.len(),
            Structure::HnswSq(g) => g.len(),
            Structure::Ivf(g) => g.len(),
            Structure::BinIvf(g) => g.len(),
            Structure::Sparse(g) => g.len(),
        }
    }
}

/// The query of one search, as an index takes it.
pub enum IndexQuery<'a> {
    Float(&'a [f32]),
    /// BINARY bytes, or a SPARSE row in Milvus's byte layout.
    Bytes(&'a [u8]),
}

/// Search-time knobs of every index type.
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    pub ef: usize,
    pub nprobe: usize,
    pub drop_ratio_search: f32,
    /// HNSW_SQ `refine_k`: refine `ceil(k * refine_k)` candidates (only where the index was
    /// built with a refine step; Milvus runs no refine without it).
    pub refine_k: Option<f32>,
}

/// The block of an HNSW_SQ index file holding the codes (the graph is the "hnsw" block).
const SQ_BLOCK: &str = "sq";

fn binary_metric(m: Metric) -> rivus_index::BinaryMetric {
    if m == Metric::Jaccard {
        rivus_index::BinaryMetric::Jaccard
    } else {
        rivus_index::BinaryMetric::Hamming
    }
}

/// A chunk's sparse rows as the index reads them.
struct SparseRows<'a>(&'a [Vec<u8>]);

impl rivus_index::SparseSource for SparseRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn row(&self, row: u32) -> &[u8] {
        self.0
            .get(row as usize)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// A chunk's binary vectors.
fn binary_rows(chunk: &Chunk, field: &str) -> Option<(Vec<u8>, usize)> {
    let column = chunk.batch.column(field)?;
    match &column.data {
        ColumnData::Vector(v) if v.data_type == DataType::BinaryVector => {
            Some((v.bytes.clone(), v.dim))
        }
        _ => None,
    }
}

fn index_metric(m: Metric) -> rivus_index::Metric {
    match m {
        Metric::Ip => rivus_index::Metric::Ip,
        Metric::Cosine => rivus_index::Metric::Cosine,
        Metric::L2 | Metric::Hamming | Metric::Jaccard => rivus_index::Metric::L2,
    }
}

/// The f32 rows of a dense vector column: borrowed for FLOAT, widened otherwise.
pub enum Rows<'a> {
    Borrowed(&'a [f32], usize),
    Widened(Vec<f32>, usize),
}

impl Rows<'_> {
    /// The widened copy, when the rows had to be converted.
    pub fn into_widened(self) -> Option<Vec<f32>> {
        match self {
            Rows::Borrowed(..) => None,
            Rows::Widened(v, _) => Some(v),
        }
    }

    pub fn floats(&self) -> &[f32] {
        match self {
            Rows::Borrowed(v, _) => v,
            Rows::Widened(v, _) => v,
        }
    }

    pub fn dim(&self) -> usize {
        match self {
            Rows::Borrowed(_, d) | Rows::Widened(_, d) => *d,
        }
    }
}

/// A chunk's dense vectors as f32 rows.
pub fn dense_rows<'a>(chunk: &'a Chunk, field: &str) -> Option<Rows<'a>> {
    if let Some((values, dim)) = chunk.batch.f32_values(field) {
        return Some(Rows::Borrowed(values, dim));
    }
    let column = chunk.batch.column(field)?;
    let ColumnData::Vector(v) = &column.data else {
        return None;
    };
    match v.data_type {
        DataType::FloatVector => Some(Rows::Borrowed(&v.floats, v.dim)),
        DataType::Float16Vector | DataType::BFloat16Vector | DataType::Int8Vector => {
            let mut out = Vec::with_capacity(chunk.len() * v.dim);
            let mut row = Vec::new();
            let width = rivus_schema::VectorColumn::row_bytes_of(v.data_type, v.dim)?;
            for bytes in v.bytes.chunks_exact(width) {
                super::search::widen(v.data_type, bytes, &mut row);
                out.extend_from_slice(&row);
            }
            Some(Rows::Widened(out, v.dim))
        }
        _ => None,
    }
}

impl ChunkIndex {
    /// Builds the index of `spec` over `chunk` (on the current rayon pool).
    pub fn build(chunk: &Chunk, spec: &IndexSpec) -> Result<Option<ChunkIndex>> {
        let failed =
            |e: rivus_index::IndexError| EngineError::Internal(format!("index build: {e}"));
        let (structure, widened) = match spec.kind {
            IndexKind::Hnsw { m, ef_construction } => {
                let Some(rows) = dense_rows(chunk, &spec.field) else {
                    return Ok(None);
                };
                let source = DenseVectors::new(rows.floats(), rows.dim()).map_err(failed)?;
                let params = HnswParams::new(m, ef_construction);
                let built =
                    hnsw::build(&source, index_metric(spec.metric), &params).map_err(failed)?;
                let graph =
                    FrozenHnsw::load(GraphBytes::Owned(built.into_inner())).map_err(failed)?;
                (Structure::Hnsw(graph), rows.into_widened())
            }
            IndexKind::HnswSq {
                m,
                ef_construction,
                sq,
                refine,
            } => {
                let Some(rows) = dense_rows(chunk, &spec.field) else {
                    return Ok(None);
                };
                let source = DenseVectors::new(rows.floats(), rows.dim()).map_err(failed)?;
                let params = rivus_index::HnswSqParams {
                    hnsw: HnswParams::new(m, ef_construction),
                    sq,
                    refine,
                };
                let built =
                    hnsw::sq::build(&source, index_metric(spec.metric), &params).map_err(failed)?;
                let graph = GraphBytes::Owned(built.graph().as_bytes().to_vec());
                let codes = GraphBytes::Owned(built.codes_bytes().to_vec());
                drop(built);
                let index = FrozenHnswSq::load(graph, codes).map_err(failed)?;
                // The vectors are only read by an FP32 refine.
                let widened = if refine == Some(RefineType::Fp32) {
                    rows.into_widened()
                } else {
                    None
                };
                (Structure::HnswSq(index), widened)
            }
            IndexKind::Ivf { nlist, quantizer } => {
                let Some(rows) = dense_rows(chunk, &spec.field) else {
                    return Ok(None);
                };
                let source = DenseVectors::new(rows.floats(), rows.dim()).map_err(failed)?;
                let mut params = rivus_index::IvfParams::flat(nlist);
                params.quantizer = quantizer;
                let built = rivus_index::ivf::build(&source, index_metric(spec.metric), &params)
                    .map_err(failed)?;
                let ivf = rivus_index::FrozenIvf::load(GraphBytes::Owned(built.into_inner()))
                    .map_err(failed)?;
                (Structure::Ivf(ivf), rows.into_widened())
            }
            IndexKind::BinIvf { nlist } => {
                let Some((bytes, dim)) = binary_rows(chunk, &spec.field) else {
                    return Ok(None);
                };
                let source = rivus_index::BinaryVectors::new(bytes, dim).map_err(failed)?;
                let params = rivus_index::BinIvfParams::new(nlist);
                let built =
                    rivus_index::binary::build(&source, binary_metric(spec.metric), &params)
                        .map_err(failed)?;
                let ivf = rivus_index::FrozenBinIvf::load(GraphBytes::Owned(built.into_inner()))
                    .map_err(failed)?;
                (Structure::BinIvf(ivf), None)
            }
            IndexKind::Sparse {
                drop_ratio_build_per_mille,
            } => {
                let drop_ratio_build = drop_ratio_build_per_mille as f32 / 1000.0;
                let Some(column) = chunk.batch.column(&spec.field) else {
                    return Ok(None);
                };
                let ColumnData::Sparse(rows) = &column.data else {
                    return Ok(None);
                };
                let params = rivus_index::SparseParams { drop_ratio_build };
                let built =
                    rivus_index::sparse::build(&SparseRows(rows), &params).map_err(failed)?;
                let index = rivus_index::FrozenSparse::load(GraphBytes::Owned(built.into_inner()))
                    .map_err(failed)?;
                (Structure::Sparse(index), None)
            }
            IndexKind::Flat | IndexKind::Scalar => return Ok(None),
        };
        Ok(Some(ChunkIndex {
            index_id: spec.index_id,
            metric: spec.metric,
            structure,
            widened,
        }))
    }

    /// The `opts.k` best rows of this chunk for `query`.
    pub fn search(
        &self,
        chunk: &Chunk,
        field: &str,
        query: IndexQuery<'_>,
        opts: &rivus_index::SearchOptions<'_>,
        knobs: Knobs,
    ) -> std::result::Result<Vec<rivus_index::Hit>, rivus_index::IndexError> {
        let dense = |dim: usize| -> Option<Rows<'_>> {
            match &self.widened {
                Some(w) => Some(Rows::Borrowed(w, dim)),
                None => dense_rows(chunk, field),
            }
        };
        let missing =
            || rivus_index::IndexError::invalid("field", 0, "the chunk lacks the indexed field");
        match (&self.structure, query) {
            (Structure::Hnsw(g), IndexQuery::Float(q)) => {
                let rows = dense(g.dim()).ok_or_else(missing)?;
                let source = DenseVectors::new(rows.floats(), rows.dim())?;
                g.search(&source, q, opts, knobs.ef)
            }
            (Structure::HnswSq(g), IndexQuery::Float(q)) => {
                // The vectors are only read by an FP32 refine.
                let refined = knobs.refine_k.is_some() && g.refine_type() == Some(RefineType::Fp32);
                if refined {
                    let rows = dense(g.dim()).ok_or_else(missing)?;
                    let source = DenseVectors::new(rows.floats(), rows.dim())?;
                    g.search(&source, q, opts, knobs.ef, knobs.refine_k)
                } else {
                    let none = DenseVectors::new(&[][..], g.dim().max(1))?;
                    g.search(&none, q, opts, knobs.ef, knobs.refine_k)
                }
            }
            (Structure::Ivf(g), IndexQuery::Float(q)) => {
                let rows = dense(g.dim()).ok_or_else(missing)?;
                let source = DenseVectors::new(rows.floats(), rows.dim())?;
                let params = rivus_index::IvfSearchParams::new(knobs.nprobe);
                g.search(&source, q, opts, &params)
            }
            (Structure::BinIvf(g), IndexQuery::Bytes(q)) => g.search(q, opts, knobs.nprobe),
            (Structure::Sparse(g), IndexQuery::Bytes(q)) => {
                let params = rivus_index::SparseSearchParams {
                    drop_ratio_search: knobs.drop_ratio_search,
                };
                g.search(q, opts, &params)
            }
            _ => Err(rivus_index::IndexError::invalid(
                "query",
                0,
                "the query type does not match the index",
            )),
        }
    }

    /// Writes the graph to `path` (a block file: checksummed, written whole or not at all).
    pub fn save(&self, vfs: &Arc<dyn Vfs>, path: &Path) -> Result<()> {
        let mut file = BlockFileWriter::create_in(vfs, path)?;
        if let Structure::HnswSq(g) = &self.structure {
            file.add(SQ_BLOCK, g.codes_bytes())?;
        }
        let block = match &self.structure {
            Structure::Hnsw(_) | Structure::HnswSq(_) => "hnsw",
            Structure::Ivf(_) => "ivf",
            Structure::BinIvf(_) => "bin_ivf",
            Structure::Sparse(_) => "sparse",
        };
        file.add(block, self.structure.as_bytes())?;
        file.finish()?;
        Ok(())
    }

    /// Loads the graph of `spec` for `chunk` from `path`; `None` when the file is missing,
    /// damaged or does not fit the chunk (the caller rebuilds it).
    pub fn load(
        vfs: &Arc<dyn Vfs>,
        path: &Path,
        chunk: &Chunk,
        spec: &IndexSpec,
    ) -> Option<ChunkIndex> {
        if !vfs.exists(path).unwrap_or(false) {
            return None;
        }
        let block = Structure::block(spec.kind);
        let loaded = BlockFile::open_in(vfs, path).ok().and_then(|f| {
            let b = f.shared_block(block)?;
            Structure::load(spec.kind, GraphBytes::Mapped(b), &f)
        });
        let Some(structure) = loaded else {
            tracing::warn!(file = %path.display(), "index file is damaged; rebuilding it");
            return None;
        };
        let fits = match &structure {
            Structure::Hnsw(g) => {
                g.metric() == index_metric(spec.metric)
                    && dense_rows(chunk, &spec.field).is_some_and(|r| r.dim() == g.dim())
            }
            Structure::Ivf(g) => {
                g.metric() == index_metric(spec.metric)
                    && dense_rows(chunk, &spec.field).is_some_and(|r| r.dim() == g.dim())
            }
            Structure::HnswSq(g) => {
                let IndexKind::HnswSq { sq, refine, .. } = spec.kind else {
                    return None;
                };
                g.metric() == index_metric(spec.metric)
                    && g.sq_type() == sq
                    && g.refine_type() == refine
                    && dense_rows(chunk, &spec.field).is_some_and(|r| r.dim() == g.dim())
            }
            Structure::BinIvf(g) => g.metric() == binary_metric(spec.metric),
            Structure::Sparse(_) => true,
        };
        if structure.len() != chunk.len() || !fits {
            tracing::warn!(file = %path.display(), "index file does not match its segment; rebuilding it");
            return None;
        }
        let widened = match (&structure, dense_rows(chunk, &spec.field)) {
            (Structure::Hnsw(_) | Structure::Ivf(_), Some(rows)) => rows.into_widened(),
            (Structure::HnswSq(g), Some(rows)) if g.refine_type() == Some(RefineType::Fp32) => {
                rows.into_widened()
            }
            _ => None,
        };
        Some(ChunkIndex {
            index_id: spec.index_id,
            metric: spec.metric,
            structure,
            widened,
        })
    }
}

/// `segment-<id>.c<chunk>.idx-<index id>`: one chunk's graph.
pub fn index_path(dir: &Path, segment: u64, chunk: usize, index_id: i64) -> PathBuf {
    dir.join(format!("segment-{segment:08}.c{chunk}.idx-{index_id}"))
}

/// Parses an index file name: (segment, index id).
pub fn parse_index_name(name: &str) -> Option<(u64, i64)> {
    let rest = name.strip_prefix("segment-")?;
    let (seg, rest) = rest.split_once(".c")?;
    let (_, id) = rest.split_once(".idx-")?;
    Some((seg.parse().ok()?, id.parse().ok()?))
}

/// Shared handle type stored on chunks.
pub type Built = Arc<ChunkIndex>;
