//! Searching a [`FrozenIvf`]: rank the lists by centroid, scan the nearest `nprobe` (see
//! [`super::probe`] for widening under filters and ranges), score their entries, Milvus
//! scores out. A filter so selective that scoring its rows beats scanning lists goes
//! straight to them through the row -> entry positions.

use rayon::prelude::*;

use super::frozen::FrozenIvf;
use super::pq::Pq;
use super::probe::{self, Goal, ListOrder, Plan, Scanned};
use super::sq8::Sq8;
use super::{blob, IvfQuantizer, IvfSearchParams};
use crate::metric::{inverse_norm, KernelFn};
use crate::search::query_count;
use crate::{distance, flat, Hit, IndexError, Metric, Result, SearchOptions, TopK, VectorSource};

/// What the entries hold.
#[derive(Clone, Copy)]
enum Codes<'a> {
    /// The vectors, f32 (IVF_FLAT).
    Flat,
    Sq8(&'a Sq8),
    Pq(&'a Pq),
}

/// Scores one query against entries.
///
/// - IVF_FLAT: the metric's exact kernel on the stored vector (bit-identical to FLAT).
/// - IVF_SQ8: the decoded vector against the query: squared L2 for L2, inner product for
///   IP; COSINE compares unit vectors by squared L2 `d` and reports `1 - d / 2` (this ranks
///   far better than the inner product with the decoded vector, whose norm carries the
///   quantization error).
/// - IVF_PQ: ADC with one inner-product table `q . codeword` for the query. IP:
///   `q . c + sum(table)` for the list's centroid `c`. L2 and COSINE:
///   `|q - c|^2 - 2 sum(table) + e`, where the code's stored `e = |r|^2 + 2 c . r` completes
///   `|q - (c + r)|^2` for the decoded residual `r`; COSINE as for SQ8.
struct Scorer<'a> {
    codes: Codes<'a>,
    metric: Metric,
    /// The query as given (IVF_FLAT) ...
    raw: &'a [f32],
    /// ... and normalized for COSINE (the codes).
    query: &'a [f32],
    centroids: &'a [f32],
    kernel: KernelFn,
    decoded: Vec<f32>,
    table: Vec<f32>,
    /// The list whose centroid term `bias` holds (IVF_PQ).
    bias_list: Option<u32>,
    bias: f32,
}

impl Scorer<'_> {
    /// The Milvus score of the entry of `list` whose code is `code`.
    #[inline]
    fn score(&mut self, list: u32, code: &[u8]) -> f32 {
        let d = match self.codes {
            Codes::Flat => {
                for (d, v) in self.decoded.iter_mut().zip(blob::u32s(code)) {
                    *d = f32::from_bits(v);
                }
                return (self.kernel)(self.raw, &self.decoded);
            }
            Codes::Sq8(sq) => {
                sq.decode(code, &mut self.decoded);
                (self.kernel)(self.query, &self.decoded)
            }
            Codes::Pq(pq) => {
                if self.bias_list != Some(list) {
                    let dim = self.query.len();
                    let l = list as usize;
                    let c = self.centroids.get(l * dim..(l + 1) * dim).unwrap_or(&[]);
                    self.bias = if self.metric == Metric::Ip {
                        distance::ip_f32(self.query, c)
                    } else {
                        distance::l2_f32(self.query, c)
                    };
                    self.bias_list = Some(list);
                }
                let (pq_code, term) = code.split_at(code.len().min(pq.code_bytes()));
                let ip = pq.lookup(pq_code, &self.table);
                if self.metric == Metric::Ip {
                    return self.bias + ip;
                }
                let e = blob::u32s(term).next().map_or(0.0, f32::from_bits);
                (self.bias - 2.0 * ip + e).max(0.0)
            }
        };
        if self.metric == Metric::Cosine {
            1.0 - d / 2.0
        } else {
            d
        }
    }
}

impl<B: AsRef<[u8]>> FrozenIvf<B> {
    /// The `opts.k` best rows for `query`, best first, ties by row, probing
    /// `params.nprobe` lists (more under a filter or range, see [`crate::ivf`]). Honours
    /// `opts.filter` (a query gets `min(k, allowed)` hits) and `opts.range`.
    ///
    /// `source` is the source the index was built over. It is only read to refine IVF_SQ8
    /// and IVF_PQ results (`params.refine_factor > 0`); otherwise it is neither read nor
    /// checked, and any source will do (IVF_FLAT holds its vectors, the others their codes).
    ///
    /// Errors: [`IndexError::DimensionMismatch`] when `query` (or a source that is read)
    /// does not have the index's dimension, [`IndexError::SourceTooShort`] when a source
    /// that is read has fewer rows than the index covers, [`IndexError::InvalidParameter`]
    /// for a bad `nprobe` or range.
    pub fn search<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        query: &[f32],
        opts: &SearchOptions<'_>,
        params: &IvfSearchParams,
    ) -> Result<Vec<Hit>> {
        self.check_search(source, opts, params)?;
        if query.len() != self.dim() {
            return Err(IndexError::DimensionMismatch {
                expected: self.dim(),
                got: query.len(),
            });
        }
        Ok(self.search_checked(source, query, opts, params))
    }

    /// [`FrozenIvf::search`] for `nq = queries.len() / dim` row-major queries, in parallel
    /// on the current rayon pool.
    pub fn search_batch<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        queries: &[f32],
        opts: &SearchOptions<'_>,
        params: &IvfSearchParams,
    ) -> Result<Vec<Vec<Hit>>>
    where
        B: Sync,
    {
        self.check_search(source, opts, params)?;
        let nq = query_count(queries, self.dim())?;
        if nq == 0 {
            return Ok(Vec::new());
        }
        Ok(queries
            .par_chunks(self.dim())
            .map(|q| self.search_checked(source, q, opts, params))
            .collect())
    }

    /// Whether a search with `params` reads the source.
    fn refines(&self, params: &IvfSearchParams) -> bool {
        self.quantizer() != IvfQuantizer::Flat && params.refine_factor > 0
    }

    fn check_search<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        opts: &SearchOptions<'_>,
        params: &IvfSearchParams,
    ) -> Result<()> {
        params.validate()?;
        if let Some(range) = &opts.range {
            range.validate(self.metric())?;
        }
        if self.refines(params) {
            if source.dim() != self.dim() {
                return Err(IndexError::DimensionMismatch {
                    expected: self.dim(),
                    got: source.dim(),
                });
            }
            if source.len() < self.len() {
                return Err(IndexError::SourceTooShort {
                    expected: self.len(),
                    got: source.len(),
                });
            }
        }
        Ok(())
    }

    /// Search after the arguments were checked.
    fn search_checked<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        query: &[f32],
        opts: &SearchOptions<'_>,
        params: &IvfSearchParams,
    ) -> Vec<Hit> {
        let rows = self.len();
        let lists = self.lists();
        if opts.k == 0 || rows == 0 || lists == 0 {
            return Vec::new();
        }
        let allowed = probe::count_allowed(opts.filter, rows);
        if allowed == 0 {
            return Vec::new();
        }
        let metric = self.metric();
        let dim = self.dim();
        let mut normalized = query.to_vec();
        if metric == Metric::Cosine {
            let inv = inverse_norm(query);
            normalized.iter_mut().for_each(|x| *x *= inv);
        }
        let refine = self.refines(params);
        let cap = if refine {
            opts.k.saturating_mul(params.refine_factor)
        } else {
            opts.k
        };
        let mut scorer = self.scorer(query, &normalized);
        let score_cost = match self.quantizer() {
            IvfQuantizer::Flat | IvfQuantizer::Sq8 => dim as f64 / 4.0,
            IvfQuantizer::Pq { m, .. } => m as f64 / 2.0,
        } + 2.0;
        let plan = probe::plan(
            lists,
            rows,
            allowed,
            params.nprobe,
            opts.filter.is_some(),
            score_cost,
            true,
        );
        let top = match plan {
            Plan::Exact => self.exact(&mut scorer, opts, !refine, cap),
            Plan::Probe(start) => {
                let goal = if opts.range.is_some() {
                    Goal::InRange(opts.k)
                } else {
                    Goal::Allowed(opts.k.min(allowed))
                };
                let mut distances = vec![0f32; lists];
                if metric == Metric::Ip {
                    distance::ip_f32_many(&normalized, &self.centroids, dim, &mut distances);
                    distances.iter_mut().for_each(|d| *d = -*d);
                } else {
                    distance::l2_f32_many(&normalized, &self.centroids, dim, &mut distances);
                }
                let mut order = ListOrder::new(&distances);
                probe::probe(&mut order, lists, start, goal, cap, |list, top| {
                    self.scan(list, &mut scorer, opts, !refine, top)
                })
            }
        };
        if !refine {
            return flat::into_hits(metric, top);
        }
        let mut exact = TopK::new(opts.k);
        let score = metric.score_fn();
        for (_, row) in top.into_sorted_vec() {
            let s = score(query, source.vector(row));
            if opts.range.is_none_or(|r| r.contains(metric, s)) {
                exact.push(metric.to_distance(s), row);
            }
        }
        flat::into_hits(metric, exact)
    }

    fn scorer<'a>(&'a self, raw: &'a [f32], normalized: &'a [f32]) -> Scorer<'a> {
        let metric = self.metric();
        let codes = match (&self.sq8, &self.pq) {
            (Some(sq), _) => Codes::Sq8(sq),
            (None, Some(pq)) => Codes::Pq(pq),
            (None, None) => Codes::Flat,
        };
        let mut table = Vec::new();
        if let Codes::Pq(pq) = codes {
            pq.ip_table(normalized, &mut table);
        }
        Scorer {
            codes,
            metric,
            raw,
            query: normalized,
            centroids: &self.centroids,
            kernel: match (codes, metric) {
                (Codes::Flat, _) => metric.score_fn(),
                (_, Metric::Ip) => distance::ip_f32_kernel(),
                (_, Metric::L2 | Metric::Cosine) => distance::l2_f32_kernel(),
            },
            decoded: vec![0.0; self.dim()],
            table,
            bias_list: None,
            bias: 0.0,
        }
    }

    /// Scores the allowed entries of `list` into `top`; with `use_range`, only those
    /// inside `opts.range`.
    fn scan(
        &self,
        list: u32,
        scorer: &mut Scorer<'_>,
        opts: &SearchOptions<'_>,
        use_range: bool,
        top: &mut TopK<u32>,
    ) -> Scanned {
        let metric = self.metric();
        let rows = self.len();
        let entries = self.entries(list);
        let ids = blob::u32s(self.id_bytes(&entries));
        let codes = self
            .code_bytes(&entries)
            .chunks_exact(self.header.code_size.max(1));
        let mut seen = Scanned::default();
        for (row, code) in ids.zip(codes) {
            if row as usize >= rows || opts.filter.is_some_and(|f| !f.get(row as usize)) {
                continue;
            }
            seen.allowed += 1;
            let s = scorer.score(list, code);
            if use_range && opts.range.is_some_and(|r| !r.contains(metric, s)) {
                continue;
            }
            seen.accepted += 1;
            top.push(metric.to_distance(s), row);
        }
        seen
    }

    /// Scores every allowed row directly, finding its entry through the positions.
    fn exact(
        &self,
        scorer: &mut Scorer<'_>,
        opts: &SearchOptions<'_>,
        use_range: bool,
        cap: usize,
    ) -> TopK<u32> {
        let metric = self.metric();
        let rows = self.len();
        let mut top = TopK::new(cap);
        let Some(filter) = opts.filter else {
            return top;
        };
        for row in filter.iter_ones().take_while(|&r| r < rows) {
            let Some(entry) = self.position(row) else {
                continue;
            };
            // The list holding the entry: the last whose start is <= entry.
            let list = self.offsets.partition_point(|&o| o as usize <= entry);
            let Some(list) = list.checked_sub(1) else {
                continue;
            };
            let s = scorer.score(list as u32, self.code_bytes(&(entry..entry + 1)));
            if use_range && opts.range.is_some_and(|r| !r.contains(metric, s)) {
                continue;
            }
            top.push(metric.to_distance(s), row as u32);
        }
        top
    }
}
