//! HNSW_SQ: an HNSW graph walked over scalar-quantized codes of its vectors, with an
//! optional refine step (Milvus's index type HNSW_SQ: build parameters `sq_type`, `refine`,
//! `refine_type`; search parameter `refine_k`).
//!
//! - The graph is an ordinary [`FrozenHnsw`], built over the float32 vectors (the engine
//!   keeps them as the segment's column), so its links are as good as HNSW's.
//! - Searches score rows with their codes only: SQ8 and SQ6 (a value range per dimension,
//!   256 and 64 levels), SQ4U (one range for every dimension, 16 levels), FP16 and BF16.
//!   Byte codes take one byte per dimension whatever their number of levels.
//! - Without refine, scores are the quantized estimates, as Milvus returns them. An index
//!   built with a refine type and searched with `refine_k` re-scores the best
//!   `ceil(k * refine_k)` candidates at the refine precision and keeps the best `k`; FP32
//!   (or FLAT) re-scores with the float32 vectors, so those scores are FLAT's to the bit.
//! - COSINE codes are codes of the unit vectors and the query is normalized: the estimate
//!   is an inner product of unit vectors.
//!
//! Distances over byte codes reduce to one kernel, [`crate::distance::dot_u8`]: a row
//! decodes to `min + scale * c`, so its inner product with `q` is
//! `q . min + (q * scale) . c`, and its squared L2 distance is
//! `|q - min|^2 - 2 ((q - min) * scale) . c + |scale * c|^2`, the last term stored per row.
//!
//! Serialized codes (the "sq" blob, little-endian, sections 64-byte aligned):
//! `header (64 bytes) | base section | refine section (when the refine type has codes)`,
//! a section being `kind, dim, rows (64 bytes) | min[dim] f32 | scale[dim] f32 |
//! norms[rows] f32 | padding | codes[rows * width]`.

use rayon::prelude::*;

use super::format::{read_u32, read_u64};
use super::frozen::FrozenHnsw;
use super::prefetch::prefetch_range;
use super::query::{count_allowed, prefer_exact};
use super::walk::Space;
use crate::distance::{self, Kernels};
use crate::metric::inverse_norm;
use crate::{Hit, HnswParams, IndexError, Metric, Result, SearchOptions, TopK, VectorSource};

const MAGIC: [u8; 8] = *b"RVHNSWSQ";
const VERSION: u32 = 1;
const HEADER: usize = 64;
const ALIGN: usize = 64;
/// `refine` code of an index whose refine step reads the float32 vectors.
const REFINE_FP32: u32 = 100;

/// How the walk's codes quantize a vector (`sq_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqType {
    /// 4-bit uniform: one value range for every dimension, 16 levels.
    Sq4U,
    /// 6 bits per dimension, a range per dimension (64 levels).
    Sq6,
    /// 8 bits per dimension, a range per dimension (256 levels). Milvus's default.
    Sq8,
    /// IEEE half precision.
    Fp16,
    /// bfloat16.
    Bf16,
}

impl SqType {
    /// Parses Milvus's name (`SQ4U`, `SQ6`, `SQ8`, `FP16`, `BF16`, any case).
    pub fn from_name(name: &str) -> Option<SqType> {
        Some(match name.to_ascii_uppercase().as_str() {
            "SQ4U" => SqType::Sq4U,
            "SQ6" => SqType::Sq6,
            "SQ8" => SqType::Sq8,
            "FP16" => SqType::Fp16,
            "BF16" => SqType::Bf16,
            _ => return None,
        })
    }

    /// Milvus's name.
    pub fn name(self) -> &'static str {
        match self {
            SqType::Sq4U => "SQ4U",
            SqType::Sq6 => "SQ6",
            SqType::Sq8 => "SQ8",
            SqType::Fp16 => "FP16",
            SqType::Bf16 => "BF16",
        }
    }

    fn code(self) -> u32 {
        match self {
            SqType::Sq4U => 1,
            SqType::Sq6 => 2,
            SqType::Sq8 => 3,
            SqType::Fp16 => 4,
            SqType::Bf16 => 5,
        }
    }

    fn from_code(code: u32) -> Option<SqType> {
        [
            SqType::Sq4U,
            SqType::Sq6,
            SqType::Sq8,
            SqType::Fp16,
            SqType::Bf16,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }

    /// The top code of a byte quantizer; `None` for the half-precision types.
    fn levels(self) -> Option<f32> {
        match self {
            SqType::Sq4U => Some(15.0),
            SqType::Sq6 => Some(63.0),
            SqType::Sq8 => Some(255.0),
            SqType::Fp16 | SqType::Bf16 => None,
        }
    }

    /// Bytes per row.
    fn width(self, dim: usize) -> usize {
        match self.levels() {
            Some(_) => dim,
            None => 2 * dim,
        }
    }
}

/// The precision of the refine step (`refine_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefineType {
    /// Codes kept next to the walk's (SQ6, SQ8, FP16, BF16).
    Codes(SqType),
    /// The float32 vectors themselves (`FP32`, or `FLAT`): nothing extra is stored.
    Fp32,
}

impl RefineType {
    /// Parses Milvus's name (`SQ6`, `SQ8`, `FP16`, `BF16`, `FP32`, `FLAT`, any case).
    pub fn from_name(name: &str) -> Option<RefineType> {
        let upper = name.to_ascii_uppercase();
        match upper.as_str() {
            "FP32" | "FLAT" => Some(RefineType::Fp32),
            "SQ4U" => None,
            other => SqType::from_name(other).map(RefineType::Codes),
        }
    }

    /// Milvus's name.
    pub fn name(self) -> &'static str {
        match self {
            RefineType::Codes(t) => t.name(),
            RefineType::Fp32 => "FP32",
        }
    }

    fn code(self) -> u32 {
        match self {
            RefineType::Codes(t) => t.code(),
            RefineType::Fp32 => REFINE_FP32,
        }
    }
}

/// HNSW_SQ build parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HnswSqParams {
    /// The graph's `M` and `efConstruction`.
    pub hnsw: HnswParams,
    /// The walk's quantizer.
    pub sq: SqType,
    /// The refine step's precision; `None` builds no refine (Milvus: `refine` false or no
    /// `refine_type`).
    pub refine: Option<RefineType>,
}

/// One set of codes inside the blob.
#[derive(Debug)]
struct CodeSet {
    kind: SqType,
    dim: usize,
    /// Per dimension: the value of code 0, and the step between codes (byte kinds).
    min: Vec<f32>,
    scale: Vec<f32>,
    norms_at: usize,
    codes_at: usize,
    width: usize,
    /// Half-precision codes copied out when the blob is not 2-byte aligned.
    owned_halves: Option<Vec<u16>>,
}

fn read_f32(b: &[u8], at: usize) -> Option<f32> {
    read_u32(b, at).map(f32::from_bits)
}

fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// `bytes` as u16s, when aligned (every bit pattern is a valid u16).
fn u16s_in_place(bytes: &[u8]) -> Option<&[u16]> {
    if cfg!(target_endian = "big") || !bytes.len().is_multiple_of(2) {
        return None;
    }
    // SAFETY: every bit pattern is a valid u16, `align_to` only yields the middle part at
    // u16 alignment, and the slice keeps the borrow of `bytes`.
    #[allow(unsafe_code)]
    let (head, values, tail) = unsafe { bytes.align_to::<u16>() };
    (head.is_empty() && tail.is_empty()).then_some(values)
}

impl CodeSet {
    /// Bytes of a section of `kind` for `rows` rows of `dim` values.
    fn section_bytes(kind: SqType, dim: usize, rows: usize) -> usize {
        align_up(HEADER + 8 * dim + 4 * rows) + rows * kind.width(dim)
    }

    fn parse(bytes: &[u8], at: usize, dim: usize, rows: usize) -> Result<CodeSet> {
        let bad = |what: &str| IndexError::corrupt(format!("HNSW_SQ codes: {what}"));
        let kind = read_u32(bytes, at)
            .and_then(SqType::from_code)
            .ok_or_else(|| bad("unknown quantizer"))?;
        if read_u32(bytes, at + 4) != Some(dim as u32)
            || read_u64(bytes, at + 8) != Some(rows as u64)
        {
            return Err(bad("section shape differs from the header"));
        }
        let end = at
            .checked_add(Self::section_bytes(kind, dim, rows))
            .ok_or_else(|| bad("section size overflows"))?;
        if end > bytes.len() {
            return Err(bad("cut short"));
        }
        let floats = |from: usize| -> Vec<f32> {
            (0..dim)
                .map(|d| read_f32(bytes, from + 4 * d).unwrap_or(0.0))
                .collect()
        };
        let min = floats(at + HEADER);
        let scale = floats(at + HEADER + 4 * dim);
        let norms_at = at + HEADER + 8 * dim;
        let codes_at = at + align_up(HEADER + 8 * dim + 4 * rows);
        let width = kind.width(dim);
        let owned_halves = match kind.levels() {
            Some(_) => None,
            None => {
                let raw = &bytes[codes_at..codes_at + rows * width];
                u16s_in_place(raw).is_none().then(|| {
                    raw.chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect()
                })
            }
        };
        Ok(CodeSet {
            kind,
            dim,
            min,
            scale,
            norms_at,
            codes_at,
            width,
            owned_halves,
        })
    }

    /// The query in the form this set's distances take (`query` normalized for COSINE).
    fn prepare(&self, metric: Metric, query: &[f32]) -> Prepared {
        match self.kind {
            SqType::Fp16 => Prepared::Half(query.iter().map(|&x| to_f16(x)).collect()),
            SqType::Bf16 => Prepared::Half(query.iter().map(|&x| to_bf16(x)).collect()),
            SqType::Sq4U | SqType::Sq6 | SqType::Sq8 => match metric {
                Metric::L2 => {
                    let shifted: Vec<f32> =
                        query.iter().zip(&self.min).map(|(q, m)| q - m).collect();
                    let qq = shifted.iter().map(|x| x * x).sum();
                    let w = shifted
                        .iter()
                        .zip(&self.scale)
                        .map(|(x, s)| x * s)
                        .collect();
                    Prepared::Bytes { w, bias: qq }
                }
                Metric::Ip | Metric::Cosine => {
                    let bias = query.iter().zip(&self.min).map(|(q, m)| q * m).sum();
                    let w = query.iter().zip(&self.scale).map(|(q, s)| q * s).collect();
                    Prepared::Bytes { w, bias }
                }
            },
        }
    }

    /// A view of this set over the blob, ready to score rows against `prepared`.
    fn space<'a>(
        &'a self,
        blob: &'a [u8],
        rows: usize,
        metric: Metric,
        prepared: &'a Prepared,
    ) -> CodeSpace<'a> {
        let codes = blob
            .get(self.codes_at..self.codes_at + rows * self.width)
            .unwrap_or_default();
        let halves: &[u16] = match &self.owned_halves {
            Some(v) => v,
            None if self.kind.levels().is_none() => u16s_in_place(codes).unwrap_or_default(),
            None => &[],
        };
        CodeSpace {
            set: self,
            blob,
            codes,
            halves,
            metric,
            prepared,
            kernels: distance::kernels(),
        }
    }
}

/// A query prepared for one code set.
enum Prepared {
    /// Byte codes: `w` weights each code; `bias` is `|q - min|^2` (L2) or `q . min`.
    Bytes { w: Vec<f32>, bias: f32 },
    /// Half-precision codes: the query rounded to the same format.
    Half(Vec<u16>),
}

/// Distances from one prepared query to rows, over one code set (smaller is closer).
struct CodeSpace<'a> {
    set: &'a CodeSet,
    blob: &'a [u8],
    codes: &'a [u8],
    halves: &'a [u16],
    metric: Metric,
    prepared: &'a Prepared,
    kernels: &'static Kernels,
}

impl Space for CodeSpace<'_> {
    #[inline(always)]
    fn distance(&self, row: u32) -> f32 {
        let r = row as usize;
        match self.prepared {
            Prepared::Bytes { w, bias } => {
                let at = r * self.set.width;
                let code = self.codes.get(at..at + self.set.width).unwrap_or_default();
                let dot = (self.kernels.dot_u8)(w, code);
                match self.metric {
                    Metric::L2 => {
                        let norm = read_f32(self.blob, self.set.norms_at + 4 * r).unwrap_or(0.0);
                        (bias - 2.0 * dot + norm).max(0.0)
                    }
                    Metric::Ip | Metric::Cosine => -(bias + dot) + 0.0,
                }
            }
            Prepared::Half(q) => {
                let dim = self.set.dim;
                let code = self.halves.get(r * dim..(r + 1) * dim).unwrap_or_default();
                let k = self.kernels;
                let (l2, ip) = if self.set.kind == SqType::Fp16 {
                    (k.l2_f16, k.ip_f16)
                } else {
                    (k.l2_bf16, k.ip_bf16)
                };
                match self.metric {
                    Metric::L2 => l2(q, code),
                    Metric::Ip | Metric::Cosine => -ip(q, code) + 0.0,
                }
            }
        }
    }

    #[inline(always)]
    fn prefetch(&self, row: u32) {
        let at = row as usize * self.set.width;
        if at < self.codes.len() {
            prefetch_range(self.codes.as_ptr().wrapping_add(at), self.set.width);
        }
    }
}

/// f32 to IEEE half bits, rounding to nearest even (overflow to infinity).
fn to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal: shift the implicit-one mantissa into place, rounding to nearest even.
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1u32 << shift) - 1);
        let mut v = m >> shift;
        if rest > half || (rest == half && v & 1 == 1) {
            v += 1;
        }
        return sign | v as u16;
    }
    let mut v = ((e as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && v & 1 == 1) {
        v += 1; // may carry into the exponent, up to infinity: still correct.
    }
    sign | v as u16
}

/// f32 to bfloat16 bits, rounding to nearest even.
fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// A searchable HNSW_SQ index: the graph `G` and the codes `C` (each a `Vec<u8>` after a
/// build, a mapped block after a load).
#[derive(Debug)]
pub struct FrozenHnswSq<G, C> {
    graph: FrozenHnsw<G>,
    codes: C,
    base: CodeSet,
    refine: Option<(RefineType, Option<CodeSet>)>,
}

/// Builds the graph over every row of `source` and encodes the codes, on the current rayon
/// pool.
pub fn build<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    params: &HnswSqParams,
) -> Result<FrozenHnswSq<Vec<u8>, Vec<u8>>> {
    let graph = super::build(source, metric, &params.hnsw)?;
    let codes = encode(source, metric, params.sq, params.refine);
    FrozenHnswSq::load(graph.into_inner(), codes)
}

/// Row `r` as the codes quantize it: normalized for COSINE.
fn row_into<S: VectorSource + ?Sized>(source: &S, metric: Metric, r: u32, buf: &mut Vec<f32>) {
    buf.clear();
    buf.extend_from_slice(source.vector(r));
    if metric == Metric::Cosine {
        let inv = inverse_norm(buf);
        buf.iter_mut().for_each(|x| *x *= inv);
    }
}

/// The serialized codes of `source` for a graph built over it with `metric` (what [`build`]
/// stores next to the graph; [`FrozenHnswSq::load`] takes both).
pub fn encode<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    sq: SqType,
    refine: Option<RefineType>,
) -> Vec<u8> {
    let (dim, rows) = (source.dim(), source.len());
    let refine_set = match refine {
        Some(RefineType::Codes(t)) => Some(t),
        Some(RefineType::Fp32) | None => None,
    };
    let base_at = HEADER;
    let refine_at = align_up(base_at + CodeSet::section_bytes(sq, dim, rows));
    let total = match refine_set {
        Some(t) => refine_at + CodeSet::section_bytes(t, dim, rows),
        None => base_at + CodeSet::section_bytes(sq, dim, rows),
    };
    let mut out = vec![0u8; total];
    out[..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&metric.code().to_le_bytes());
    out[16..20].copy_from_slice(&(dim as u32).to_le_bytes());
    out[24..32].copy_from_slice(&(rows as u64).to_le_bytes());
    out[32..36].copy_from_slice(&refine.map_or(0, RefineType::code).to_le_bytes());
    out[40..48].copy_from_slice(&(base_at as u64).to_le_bytes());
    let refine_word = if refine_set.is_some() { refine_at } else { 0 };
    out[48..56].copy_from_slice(&(refine_word as u64).to_le_bytes());
    encode_section(source, metric, sq, &mut out[base_at..]);
    if let Some(t) = refine_set {
        encode_section(source, metric, t, &mut out[refine_at..]);
    }
    out
}

/// Per-dimension value ranges of the rows (as quantized: unit vectors for COSINE).
fn bounds<S: VectorSource + ?Sized>(source: &S, metric: Metric) -> (Vec<f32>, Vec<f32>) {
    crate::ivf::sq8::bounds(source.dim(), source.len(), |r, buf| {
        row_into(source, metric, r, buf)
    })
}

/// Writes one section into `out` (which starts at the section).
fn encode_section<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    kind: SqType,
    out: &mut [u8],
) {
    let (dim, rows) = (source.dim(), source.len());
    out[..4].copy_from_slice(&kind.code().to_le_bytes());
    out[4..8].copy_from_slice(&(dim as u32).to_le_bytes());
    out[8..16].copy_from_slice(&(rows as u64).to_le_bytes());
    let width = kind.width(dim);
    let (min, scale) = match kind.levels() {
        Some(levels) => {
            let (mut lo, mut hi) = bounds(source, metric);
            if kind == SqType::Sq4U {
                let l = lo.iter().copied().fold(f32::INFINITY, f32::min);
                let h = hi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                lo.iter_mut().for_each(|x| *x = l);
                hi.iter_mut().for_each(|x| *x = h);
            }
            let mut scale = Vec::with_capacity(dim);
            for (l, h) in lo.iter_mut().zip(&hi) {
                if !l.is_finite() {
                    *l = 0.0;
                }
                let s = (h - *l) / levels;
                scale.push(if s.is_finite() && s > 0.0 { s } else { 0.0 });
            }
            (lo, scale)
        }
        None => (vec![0.0; dim], vec![0.0; dim]),
    };
    for (d, (m, s)) in min.iter().zip(&scale).enumerate() {
        out[HEADER + 4 * d..][..4].copy_from_slice(&m.to_le_bytes());
        out[HEADER + 4 * (dim + d)..][..4].copy_from_slice(&s.to_le_bytes());
    }
    let norms_at = HEADER + 8 * dim;
    let codes_at = align_up(HEADER + 8 * dim + 4 * rows);
    let (head, codes) = out.split_at_mut(codes_at);
    let norms = &mut head[norms_at..norms_at + 4 * rows];
    if rows == 0 || width == 0 {
        return;
    }
    let levels = kind.levels();
    codes[..rows * width]
        .par_chunks_mut(width)
        .zip(norms.par_chunks_mut(4))
        .enumerate()
        .for_each_init(Vec::new, |buf, (r, (code, norm))| {
            row_into(source, metric, r as u32, buf);
            let mut n = 0f32;
            match levels {
                Some(levels) => {
                    for (((c, &x), &m), &s) in code.iter_mut().zip(buf.iter()).zip(&min).zip(&scale)
                    {
                        // NaN codes as 0 through `as`.
                        let q = if s > 0.0 {
                            ((x - m) / s).round().clamp(0.0, levels)
                        } else {
                            0.0
                        };
                        *c = q as u8;
                        let v = s * f32::from(*c);
                        n += v * v;
                    }
                }
                None => {
                    for (c, &x) in code.chunks_exact_mut(2).zip(buf.iter()) {
                        let h = if kind == SqType::Fp16 {
                            to_f16(x)
                        } else {
                            to_bf16(x)
                        };
                        c.copy_from_slice(&h.to_le_bytes());
                    }
                }
            }
            norm.copy_from_slice(&n.to_le_bytes());
        });
}

impl<G: AsRef<[u8]>, C: AsRef<[u8]>> FrozenHnswSq<G, C> {
    /// Opens a graph and its codes (as [`build`] made them). Checks both headers and that
    /// they describe the same rows.
    pub fn load(graph: G, codes: C) -> Result<Self> {
        let graph = FrozenHnsw::load(graph)?;
        let bytes = codes.as_ref();
        let bad = |what: &str| IndexError::corrupt(format!("HNSW_SQ codes: {what}"));
        if bytes.len() < HEADER || bytes[..8] != MAGIC {
            return Err(bad("not an HNSW_SQ code blob"));
        }
        let version = read_u32(bytes, 8).unwrap_or(0);
        if version != VERSION {
            return Err(IndexError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let metric = read_u32(bytes, 12).and_then(Metric::from_code);
        let dim = read_u32(bytes, 16).unwrap_or(0) as usize;
        let rows = read_u64(bytes, 24).unwrap_or(0) as usize;
        if metric != Some(graph.metric()) || dim != graph.dim() || rows != graph.len() {
            return Err(bad("codes and graph describe different rows"));
        }
        let base_at = read_u64(bytes, 40).unwrap_or(0) as usize;
        let base = CodeSet::parse(bytes, base_at, dim, rows)?;
        let refine = match read_u32(bytes, 32).unwrap_or(0) {
            0 => None,
            REFINE_FP32 => Some((RefineType::Fp32, None)),
            code => {
                let kind = SqType::from_code(code).ok_or_else(|| bad("unknown refine type"))?;
                let at = read_u64(bytes, 48).unwrap_or(0) as usize;
                let set = CodeSet::parse(bytes, at, dim, rows)?;
                if set.kind != kind {
                    return Err(bad("refine section of another type"));
                }
                Some((RefineType::Codes(kind), Some(set)))
            }
        };
        Ok(FrozenHnswSq {
            graph,
            codes,
            base,
            refine,
        })
    }

    /// The graph.
    pub fn graph(&self) -> &FrozenHnsw<G> {
        &self.graph
    }

    /// The serialized codes.
    pub fn codes_bytes(&self) -> &[u8] {
        self.codes.as_ref()
    }

    /// Rows covered.
    pub fn len(&self) -> usize {
        self.graph.len()
    }

    /// Whether no rows are covered.
    pub fn is_empty(&self) -> bool {
        self.graph.is_empty()
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.graph.dim()
    }

    /// The metric the index was built for.
    pub fn metric(&self) -> Metric {
        self.graph.metric()
    }

    /// The walk's quantizer.
    pub fn sq_type(&self) -> SqType {
        self.base.kind
    }

    /// The refine precision, when built with one.
    pub fn refine_type(&self) -> Option<RefineType> {
        self.refine.as_ref().map(|(t, _)| *t)
    }

    /// The `opts.k` best rows for `query`, best first, ties by row: a walk of layer 0 with
    /// a beam of `max(ef, k')` over the codes, where `k' = ceil(k * refine_k)` when the
    /// index has a refine step and `refine_k` is given (else `k`, and no refine). Filters
    /// and ranges as [`FrozenHnsw::search`]: selective filters score the allowed rows'
    /// codes exactly, so a filtered search returns `min(k, allowed)` hits. `source` is only
    /// read by an FP32 refine.
    ///
    /// Errors: [`IndexError::DimensionMismatch`], [`IndexError::SourceTooShort`] (FP32
    /// refine), [`IndexError::InvalidParameter`] for a bad range or `refine_k` below 1.
    pub fn search<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        query: &[f32],
        opts: &SearchOptions<'_>,
        ef: usize,
        refine_k: Option<f32>,
    ) -> Result<Vec<Hit>> {
        let (dim, rows, metric) = (self.dim(), self.len(), self.metric());
        if query.len() != dim {
            return Err(IndexError::DimensionMismatch {
                expected: dim,
                got: query.len(),
            });
        }
        if let Some(range) = &opts.range {
            range.validate(metric)?;
        }
        if let Some(f) = refine_k {
            if !(f >= 1.0 && f.is_finite()) {
                return Err(IndexError::invalid("refine_k", f, "must be at least 1"));
            }
        }
        let refine = match (&self.refine, refine_k) {
            (Some((t, set)), Some(f)) => Some((*t, set.as_ref(), f)),
            _ => None,
        };
        if let Some((RefineType::Fp32, ..)) = refine {
            if source.dim() != dim {
                return Err(IndexError::DimensionMismatch {
                    expected: dim,
                    got: source.dim(),
                });
            }
            if source.len() < rows {
                return Err(IndexError::SourceTooShort {
                    expected: rows,
                    got: source.len(),
                });
            }
        }
        let allowed = opts.filter.map_or(rows, |f| count_allowed(f, rows));
        if opts.k == 0 || rows == 0 || allowed == 0 {
            return Ok(Vec::new());
        }
        let mut unit = query.to_vec();
        if metric == Metric::Cosine {
            let inv = inverse_norm(query);
            unit.iter_mut().for_each(|x| *x *= inv);
        }
        let blob = self.codes.as_ref();
        let prepared = self.base.prepare(metric, &unit);
        let space = self.base.space(blob, rows, metric, &prepared);
        let candidates = match refine {
            Some((.., f)) => ((opts.k as f64 * f64::from(f)).ceil() as usize).clamp(opts.k, rows),
            None => opts.k,
        };
        let refine_space = refine.and_then(|(_, set, _)| set).map(|set| {
            let p = set.prepare(metric, &unit);
            (set, p)
        });
        let finish = |pairs: &[(f32, u32)]| -> Vec<Hit> {
            let in_range = |s: f32| opts.range.is_none_or(|r| r.contains(metric, s));
            let Some((kind, ..)) = refine else {
                return pairs
                    .iter()
                    .map(|&(d, row)| Hit {
                        row,
                        score: metric.to_score(d),
                    })
                    .filter(|h| in_range(h.score))
                    .take(opts.k)
                    .collect();
            };
            let take = &pairs[..pairs.len().min(candidates)];
            let mut rescored: Vec<(f32, u32)> = match (kind, &refine_space) {
                (RefineType::Codes(_), Some((set, p))) => {
                    let s = set.space(blob, rows, metric, p);
                    take.iter().map(|&(_, r)| (s.distance(r), r)).collect()
                }
                _ => take
                    .iter()
                    .map(|&(_, r)| (metric.to_distance(metric.score(query, source.vector(r))), r))
                    .collect(),
            };
            rescored.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            rescored
                .into_iter()
                .map(|(d, row)| Hit {
                    row,
                    score: metric.to_score(d),
                })
                .filter(|h| in_range(h.score))
                .take(opts.k)
                .collect()
        };
        // Scores every allowed row's codes (selective filters, and a walk that fell short).
        let exact = || {
            let mut top = TopK::new(candidates);
            let quantized_range = opts.range.filter(|_| refine.is_none());
            let mut visit = |r: usize| {
                let d = space.distance(r as u32);
                if quantized_range.is_none_or(|x| x.contains(metric, metric.to_score(d))) {
                    top.push(d, r as u32);
                }
            };
            match opts.filter {
                Some(f) => f.iter_ones().take_while(|&r| r < rows).for_each(&mut visit),
                None => (0..rows).for_each(&mut visit),
            }
            finish(&top.into_sorted_vec())
        };
        let mut ef = ef.max(candidates);
        if prefer_exact(allowed, rows, ef) {
            return Ok(exact());
        }
        let mut scratch = self.graph.pool.get();
        loop {
            self.graph.walk_in(&space, ef, opts.filter, &mut scratch);
            let Some(range) = opts.range else {
                if scratch.pairs.len() < candidates.min(allowed) {
                    return Ok(exact());
                }
                return Ok(finish(&scratch.pairs));
            };
            // Range search: widen until k hits are in range, the farthest code found lies
            // beyond the radius, or the graph is exhausted.
            let hits = finish(&scratch.pairs);
            let exhausted = scratch.pairs.len() < ef;
            let outer = range.outer_distance(metric);
            let beyond = scratch.pairs.last().is_none_or(|&(d, _)| d >= outer);
            if hits.len() >= opts.k || exhausted || beyond || ef >= rows {
                return Ok(hits);
            }
            ef = ef.saturating_mul(2).min(rows);
            if prefer_exact(allowed, rows, ef) {
                return Ok(exact());
            }
        }
    }
}

#[cfg(test)]
mod tests;
