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

use rivus_index::{hnsw, DenseVectors, FrozenHnsw, HnswParams};
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
        let kind = match index.index_type().unwrap_or("AUTOINDEX") {
            "HNSW" if dense => IndexKind::Hnsw {
                m: int("M", AUTO_M),
                ef_construction: int("efConstruction", AUTO_EF_CONSTRUCTION),
            },
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
    pub graph: FrozenHnsw<GraphBytes>,
    /// FLOAT16/BFLOAT16/INT8 rows widened to f32 (the graph reads f32 vectors).
    pub widened: Option<Vec<f32>>,
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
        let IndexKind::Hnsw { m, ef_construction } = spec.kind else {
            return Ok(None);
        };
        let Some(rows) = dense_rows(chunk, &spec.field) else {
            return Ok(None);
        };
        let source = DenseVectors::new(rows.floats(), rows.dim())
            .map_err(|e| EngineError::Internal(format!("index build: {e}")))?;
        let params = HnswParams::new(m, ef_construction);
        let built = hnsw::build(&source, index_metric(spec.metric), &params)
            .map_err(|e| EngineError::Internal(format!("index build: {e}")))?;
        let graph = FrozenHnsw::load(GraphBytes::Owned(built.into_inner()))
            .map_err(|e| EngineError::Internal(format!("index build: {e}")))?;
        let widened = match rows {
            Rows::Borrowed(..) => None,
            Rows::Widened(v, _) => Some(v),
        };
        Ok(Some(ChunkIndex {
            index_id: spec.index_id,
            metric: spec.metric,
            graph,
            widened,
        }))
    }

    /// Writes the graph to `path` (a block file: checksummed, written whole or not at all).
    pub fn save(&self, vfs: &Arc<dyn Vfs>, path: &Path) -> Result<()> {
        let mut file = BlockFileWriter::create_in(vfs, path)?;
        file.add("hnsw", self.graph.as_bytes())?;
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
        let loaded = BlockFile::open_in(vfs, path)
            .ok()
            .and_then(|f| f.shared_block("hnsw"))
            .and_then(|b| FrozenHnsw::load(GraphBytes::Mapped(b)).ok());
        let Some(graph) = loaded else {
            tracing::warn!(file = %path.display(), "index file is damaged; rebuilding it");
            return None;
        };
        let rows = dense_rows(chunk, &spec.field)?;
        if graph.len() != chunk.len()
            || graph.dim() != rows.dim()
            || graph.metric() != index_metric(spec.metric)
        {
            tracing::warn!(file = %path.display(), "index file does not match its segment; rebuilding it");
            return None;
        }
        let widened = match rows {
            Rows::Borrowed(..) => None,
            Rows::Widened(v, _) => Some(v),
        };
        Some(ChunkIndex {
            index_id: spec.index_id,
            metric: spec.metric,
            graph,
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
