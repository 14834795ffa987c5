//! Rerankers: how the hits of a search (or of every search of a hybrid search) are rescored
//! and reordered, with Milvus 2.6's semantics (`internal/util/function/rerank/`:
//! `function_score.go`, `rerank_base.go`, `rrf_function.go`, `weighted_function.go`,
//! `decay_function.go`, `util.go`).
//!
//! * RRF: `score(id) = sum_i 1 / (k + rank_i)`, rank from 1 within sub-result `i`, float32.
//! * Weighted: `score(id) = sum_i w_i * norm_i(score_i)`; with `norm_score` every metric is
//!   mapped to [0, 1] (COSINE `(1+x)/2`, IP `0.5 + atan(x)/pi`, distances `1 - 2 atan(x)/pi`);
//!   without it raw scores are summed, distances flipped with `1 - 2 atan(x)/pi` only when the
//!   searches mix similarity and distance metrics, and an all-distance sum is sorted ascending.
//! * Decay: every score is made "larger is closer" (distances through `1 - 2 atan(x)/pi`), the
//!   best across the searches is kept, then multiplied by a decay factor of the row's numeric
//!   field: `gauss` `exp(ln(decay) * d^2 / scale^2)`, `exp` `exp(ln(decay) / scale * d)`,
//!   `linear` `max(decay, 1 - (1 - decay) / scale * d)`, where
//!   `d = max(0, |value - origin| - offset)`.
//!
//! Results are sorted by score (descending unless noted), ties by the smaller primary key, then
//! `offset`/`limit` are applied and scores are rounded with `floor(x * 10^r + 0.5) / 10^r`.
//! Grouping (`group_by_field` with RRF or Weighted) buckets the sorted rows by group value,
//! keeps each group's best `group_size`, scores each group (max, sum or avg) and pages whole
//! groups.
//!
//! Parameter texts and error messages are Milvus's, word for word (its typos included).

use std::collections::HashMap;
use std::hash::Hash;

use rivus_schema::{CollectionSchema, DataType};

use super::search::Metric;
use crate::{EngineError, Result};

/// How the hits of a search, or of the searches of a hybrid search, are fused and reordered.
#[derive(Debug, Clone)]
pub enum Ranker {
    /// Reciprocal rank fusion: the sum of `1 / (k + rank)` over the searches (rank from 1).
    Rrf { k: f64 },
    /// The weighted sum of each search's score, normalized to [0, 1] by metric when
    /// `normalize` (Milvus's `norm_score`).
    Weighted { weights: Vec<f64>, normalize: bool },
    /// Scores multiplied by a decay of a numeric field's distance to an origin.
    Decay(Decay),
    /// A Milvus function-score ranker as a client sends it (`FunctionType.RERANK`): the
    /// `reranker` parameter names it; checked against the schema when the search runs.
    Function(RerankFunction),
}

/// A rerank function as Milvus receives it: input fields and text parameters.
#[derive(Debug, Clone, Default)]
pub struct RerankFunction {
    pub name: String,
    pub input_fields: Vec<String>,
    /// (key, value) as sent; keys are matched case-insensitively, as Milvus does.
    pub params: Vec<(String, String)>,
}

/// The curve of a decay ranker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecayCurve {
    Gauss,
    Exp,
    Linear,
}

/// A decay ranker on the numeric field `field`.
#[derive(Debug, Clone)]
pub struct Decay {
    pub curve: DecayCurve,
    pub field: String,
    pub origin: f64,
    /// Distance at which the factor falls to `decay` (> 0).
    pub scale: f64,
    /// Distance around `origin` that keeps the full score (>= 0).
    pub offset: f64,
    /// The factor at `scale` (0 < decay < 1; Milvus's default 0.5).
    pub decay: f64,
}

/// How a group's score is computed from its rows' (hybrid search group-by,
/// `rank_group_scorer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupScorer {
    #[default]
    Max,
    Sum,
    Avg,
}

impl GroupScorer {
    /// `max`, `sum` or `avg`; Milvus's error otherwise.
    pub fn parse(name: &str) -> Result<GroupScorer> {
        match name {
            "max" => Ok(GroupScorer::Max),
            "sum" => Ok(GroupScorer::Sum),
            "avg" => Ok(GroupScorer::Avg),
            other => Err(EngineError::invalid(format!(
                "input group scorer type: {other} is not supported!"
            ))),
        }
    }
}

const DECAY: &str = "decay";
const MODEL: &str = "model";
const RRF: &str = "rrf";
const WEIGHTED: &str = "weighted";
const BOOST: &str = "boost";

/// Milvus's RRF default `k`.
const DEFAULT_RRF_K: f64 = 60.0;

/// A ranker checked against the collection, ready to score.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    Rrf { k: f32 },
    Weighted { weights: Vec<f32>, normalize: bool },
    Decay(Decay),
}

impl Resolved {
    /// Whether the ranker can serve a group-by search (`IsSupportGroup`).
    pub(crate) fn supports_group(&self) -> bool {
        !matches!(self, Resolved::Decay(_))
    }

    /// The field whose value a row's new score needs.
    pub(crate) fn input_field(&self) -> Option<&str> {
        match self {
            Resolved::Decay(d) => Some(&d.field),
            Resolved::Rrf { .. } | Resolved::Weighted { .. } => None,
        }
    }
}

fn plain(message: impl Into<String>) -> EngineError {
    EngineError::refused(message)
}

/// Go's `%f`.
fn go_f(v: f64) -> String {
    format!("{v:.6}")
}

impl Ranker {
    /// Checks the ranker against `schema` (Milvus's `createFunction` for function rankers,
    /// with its messages) and returns what scores.
    pub(crate) fn resolve(&self, schema: &CollectionSchema) -> Result<Resolved> {
        match self {
            Ranker::Rrf { k } => rrf_k(*k),
            Ranker::Weighted { weights, normalize } => {
                weights_in_range(weights)?;
                Ok(Resolved::Weighted {
                    weights: weights.iter().map(|w| *w as f32).collect(),
                    normalize: *normalize,
                })
            }
            Ranker::Decay(d) => {
                check_inputs(schema, std::slice::from_ref(&d.field))?;
                decay_input_type(schema, std::slice::from_ref(&d.field))?;
                check_decay_values(d.scale, d.offset, d.decay)?;
                Ok(Resolved::Decay(d.clone()))
            }
            Ranker::Function(f) => resolve_function(schema, f),
        }
    }
}

fn rrf_k(k: f64) -> Result<Resolved> {
    if !(k > 0.0 && k < 16384.0) {
        return Err(plain("The rank params k should be in range (0, 16384)"));
    }
    Ok(Resolved::Rrf { k: k as f32 })
}

fn weights_in_range(weights: &[f64]) -> Result<()> {
    if weights.iter().any(|w| !(0.0..=1.0).contains(w)) {
        return Err(plain("rank param weight should be in range [0, 1]"));
    }
    Ok(())
}

/// The `reranker` parameter (key matched case-insensitively, value lowercased).
fn reranker_name(f: &RerankFunction) -> String {
    f.params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("reranker"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Parameters a ranker does not read: Milvus skips them; rivus refuses them by name so that
/// nothing the caller asked for is silently dropped.
fn refuse_unknown(f: &RerankFunction, name: &str, known: &[&str]) -> Result<()> {
    for (key, _) in &f.params {
        let key = key.to_ascii_lowercase();
        if key != "reranker" && !known.contains(&key.as_str()) {
            return Err(plain(format!(
                "parameter {key} of the {name} reranker is not supported by rivus (supported: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

fn resolve_function(schema: &CollectionSchema, f: &RerankFunction) -> Result<Resolved> {
    let name = reranker_name(f);
    match name.as_str() {
        DECAY => {
            check_inputs(schema, &f.input_fields)?;
            if f.input_fields.len() != 1 {
                return Err(plain(format!(
                    "Decay function only supoorts single input, but gets [[{}]] input",
                    f.input_fields.join(" ")
                )));
            }
            decay_input_type(schema, &f.input_fields)?;
            refuse_unknown(f, DECAY, &["function", "origin", "scale", "offset", "decay"])?;
            let decay = parse_decay(f)?;
            Ok(Resolved::Decay(decay))
        }
        RRF => {
            check_inputs(schema, &f.input_fields)?;
            if !f.input_fields.is_empty() {
                return Err(plain(format!(
                    "The rrf function does not support input parameters, but got [{}]",
                    f.input_fields.join(" ")
                )));
            }
            refuse_unknown(f, RRF, &["k"])?;
            let mut k = DEFAULT_RRF_K;
            for (key, value) in &f.params {
                if key.eq_ignore_ascii_case("k") {
                    k = go_float(value)
                        .ok_or_else(|| plain(format!("Param k:{value} is not a number")))?;
                }
            }
            rrf_k(k)
        }
        WEIGHTED => {
            check_inputs(schema, &f.input_fields)?;
            if !f.input_fields.is_empty() {
                return Err(plain(format!(
                    "The weighted function does not support input parameters, but got [{}]",
                    f.input_fields.join(" ")
                )));
            }
            refuse_unknown(f, WEIGHTED, &["weights", "norm_score"])?;
            let mut weights: Option<Vec<f64>> = None;
            let mut normalize = false;
            for (key, value) in &f.params {
                match key.to_ascii_lowercase().as_str() {
                    "weights" => {
                        let parsed = parse_weights(value).ok_or_else(|| {
                            plain(format!(
                                "Parse weights param failed, weight should be []float, bug got: {value}"
                            ))
                        })?;
                        weights_in_range(&parsed)?;
                        weights = Some(parsed);
                    }
                    "norm_score" => {
                        normalize = go_bool(value).ok_or_else(|| {
                            plain(format!(
                                "norm_score params must be true/false, bug got {value}"
                            ))
                        })?;
                    }
                    _ => {}
                }
            }
            let weights = weights
                .filter(|w| !w.is_empty())
                .ok_or_else(|| plain("weights not found"))?;
            Ok(Resolved::Weighted {
                weights: weights.iter().map(|w| *w as f32).collect(),
                normalize,
            })
        }
        MODEL => Err(EngineError::unsupported(
            "model rerankers (reranker \"model\") call an external rerank service; \
             rivus does not support them (use rrf, weighted or decay)",
        )),
        BOOST => Err(plain(
            "boost rankers (reranker \"boost\") are not supported by rivus yet",
        )),
        other => Err(plain(format!(
            "Unsupported rerank function: [{other}] , list of supported [{DECAY},{MODEL},{RRF},{WEIGHTED}]"
        ))),
    }
}

/// Milvus's `newRerankBase` checks of the input fields.
fn check_inputs(schema: &CollectionSchema, inputs: &[String]) -> Result<()> {
    for name in inputs {
        if name.is_empty() {
            return Err(plain("Rerank input field name cannot be empty string"));
        }
        if inputs.iter().filter(|n| *n == name).count() > 1 {
            return Err(plain(format!(
                "Each function input field should be used exactly once in the same function, input field: {name}"
            )));
        }
        let field = schema
            .field(name)
            .ok_or_else(|| plain(format!("Function input field not found: {name}")))?;
        if field.nullable {
            return Err(plain(format!(
                "Function input field cannot be nullable: field {}",
                field.name
            )));
        }
    }
    Ok(())
}

/// The decay input must be numeric.
fn decay_input_type(schema: &CollectionSchema, inputs: &[String]) -> Result<()> {
    let Some(field) = inputs.first().and_then(|n| schema.field(n)) else {
        return Ok(());
    };
    match field.data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float
        | DataType::Double => Ok(()),
        other => Err(plain(format!(
            "Decay rerank: unsupported input field type:{}, only support numberic field",
            other.milvus_name()
        ))),
    }
}

/// Go's `strconv.ParseFloat` for the values clients send.
fn go_float(value: &str) -> Option<f64> {
    value.parse::<f64>().ok()
}

/// Go's `strconv.ParseBool`.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A JSON array of numbers (Go's `json.Unmarshal` into `[]float32`).
fn parse_weights(value: &str) -> Option<Vec<f64>> {
    let parsed: serde_json::Value = serde_json::from_str(value).ok()?;
    parsed
        .as_array()?
        .iter()
        .map(serde_json::Value::as_f64)
        .collect()
}

fn parse_decay(f: &RerankFunction) -> Result<Decay> {
    let mut function = String::new();
    let (mut origin, mut scale, mut offset, mut decay) = (None, None, 0.0, 0.5);
    let number = |key: &str, value: &str| {
        go_float(value).ok_or_else(|| plain(format!("Param {key}:{value} is not a number")))
    };
    for (key, value) in &f.params {
        match key.to_ascii_lowercase().as_str() {
            "function" => function = value.clone(),
            "origin" => origin = Some(number("origin", value)?),
            "scale" => scale = Some(number("scale", value)?),
            "offset" => offset = number("offset", value)?,
            "decay" => decay = number("decay", value)?,
            _ => {}
        }
    }
    let origin = origin.ok_or_else(|| plain("Decay function lost param: origin"))?;
    let scale = scale.ok_or_else(|| plain("Decay function lost param: scale"))?;
    check_decay_values(scale, offset, decay)?;
    let curve = match function.as_str() {
        "gauss" => DecayCurve::Gauss,
        "exp" => DecayCurve::Exp,
        "linear" => DecayCurve::Linear,
        // Milvus prints the reranker's name here, not the function asked for.
        _ => {
            return Err(plain(
                "Invaild decay function: decay, only support [gauss,linear,exp]",
            ))
        }
    };
    Ok(Decay {
        curve,
        field: f.input_fields.first().cloned().unwrap_or_default(),
        origin,
        scale,
        offset,
        decay,
    })
}

fn check_decay_values(scale: f64, offset: f64, decay: f64) -> Result<()> {
    if scale.is_nan() || scale <= 0.0 {
        return Err(plain(format!(
            "Decay function param: scale must > 0, but got {}",
            go_f(scale)
        )));
    }
    if offset.is_nan() || offset < 0.0 {
        return Err(plain(format!(
            "Decay function param: offset must >= 0, but got {}",
            go_f(offset)
        )));
    }
    if decay.is_nan() || decay <= 0.0 || decay >= 1.0 {
        // Milvus 2.6 prints the offset here (a slip); rivus prints the decay asked for.
        return Err(plain(format!(
            "Decay function param: decay must 0 < decay < 1, but got {}",
            go_f(decay)
        )));
    }
    Ok(())
}

/// The decay factor of a field value (Milvus's `gaussianDecay`, `expDecay`, `linearDecay`).
pub fn decay_factor(d: &Decay, value: f64) -> f64 {
    let adjusted = ((value - d.origin).abs() - d.offset).max(0.0);
    match d.curve {
        DecayCurve::Gauss => {
            let sigma_square = d.scale.powi(2) / d.decay.ln();
            (adjusted.powi(2) / sigma_square).exp()
        }
        DecayCurve::Exp => (d.decay.ln() / d.scale * adjusted).exp(),
        DecayCurve::Linear => {
            let slope = (1.0 - d.decay) / d.scale;
            d.decay.max(1.0 - slope * adjusted)
        }
    }
}

/// `1 - 2 atan(x) / pi` in float32, as Milvus computes it.
fn flip(score: f32) -> f32 {
    1.0 - 2.0 * (f64::from(score).atan() as f32) / std::f32::consts::PI
}

/// A score made "larger is closer" (Milvus's `toGreaterScore`).
pub fn to_greater(metric: Metric, score: f32) -> f32 {
    if metric.larger_is_closer() {
        score
    } else {
        flip(score)
    }
}

/// Milvus's weighted-ranker normalisation (`getNormalizeFunc`).
pub fn normalize(metric: Metric, normalize: bool, mixed: bool, score: f32) -> f32 {
    if !normalize {
        return if mixed {
            to_greater(metric, score)
        } else {
            score
        };
    }
    match metric {
        Metric::Cosine => (1.0 + score) * 0.5,
        Metric::Ip => 0.5 + (f64::from(score).atan() as f32) / std::f32::consts::PI,
        Metric::L2 | Metric::Hamming | Metric::Jaccard => flip(score),
    }
}

/// One sub-result for one query: rows best first with their scores.
pub(crate) struct SubHits<'a, K> {
    pub hits: &'a [(K, f32)],
    pub metric: Metric,
}

/// Fused scores of every row of the sub-results, and whether they sort descending.
pub(crate) struct Fused<K> {
    pub scores: Vec<(K, f32)>,
    pub descending: bool,
}

/// Scores the rows of `subs` with `ranker`; `value` gives a row's decay input.
pub(crate) fn fuse<K: Clone + Eq + Hash>(
    ranker: &Resolved,
    subs: &[SubHits<'_, K>],
    value: impl Fn(&K) -> Option<f64>,
) -> Result<Fused<K>> {
    let mut order: Vec<K> = Vec::new();
    let mut scores: HashMap<K, f32> = HashMap::new();
    let mut add = |id: &K, f: &dyn Fn(Option<f32>) -> f32| match scores.get_mut(id) {
        Some(s) => *s = f(Some(*s)),
        None => {
            order.push(id.clone());
            scores.insert(id.clone(), f(None));
        }
    };
    let descending = match ranker {
        Resolved::Rrf { k } => {
            for sub in subs {
                for (rank, (id, _)) in sub.hits.iter().enumerate() {
                    let term = 1.0 / (k + (rank + 1) as f32);
                    add(id, &|old| old.map_or(term, |s| s + term));
                }
            }
            true
        }
        Resolved::Weighted {
            weights,
            normalize: norm,
        } => {
            if weights.len() != subs.len() {
                return Err(EngineError::InvalidParameterExpected {
                    detail: Some(
                        "the length of weights param mismatch with ann search requests".into(),
                    ),
                    expected: subs.len().to_string(),
                    actual: weights.len().to_string(),
                });
            }
            let larger = subs.iter().filter(|s| s.metric.larger_is_closer()).count();
            let mixed = larger > 0 && larger < subs.len();
            for (sub, w) in subs.iter().zip(weights) {
                for (id, score) in sub.hits {
                    let term = w * normalize(sub.metric, *norm, mixed, *score);
                    add(id, &|old| old.map_or(term, |s| s + term));
                }
            }
            *norm || mixed || larger == subs.len()
        }
        Resolved::Decay(d) => {
            for sub in subs {
                for (id, score) in sub.hits {
                    let g = to_greater(sub.metric, *score);
                    add(id, &|old| old.map_or(g, |s| s.max(g)));
                }
            }
            for (id, s) in scores.iter_mut() {
                let factor = value(id).map_or(0.0, |v| decay_factor(d, v)) as f32;
                *s *= factor;
            }
            true
        }
    };
    let scores = order
        .into_iter()
        .filter_map(|id| {
            let s = *scores.get(&id)?;
            Some((id, s))
        })
        .collect();
    Ok(Fused { scores, descending })
}

/// Milvus's final rounding (`math.Floor(score*10^r + 0.5) / 10^r`).
pub fn round_score(score: f32, digits: i64) -> f32 {
    if digits < 0 {
        return score;
    }
    let m = 10f64.powi(digits as i32);
    ((f64::from(score) * m + 0.5).floor() / m) as f32
}

/// Sorts fused scores (ties by the smaller id), skips `offset`, keeps `limit`, rounds
/// (`newIDScores`).
pub(crate) fn page<K: Ord>(
    fused: Fused<K>,
    offset: usize,
    limit: usize,
    round_decimal: i64,
) -> Vec<(K, f32)> {
    let mut scores = fused.scores;
    let descending = fused.descending;
    scores.sort_by(|a, b| {
        let by_score = if descending {
            b.1.partial_cmp(&a.1)
        } else {
            a.1.partial_cmp(&b.1)
        };
        by_score
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    scores
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(id, s)| (id, round_score(s, round_decimal)))
        .collect()
}

/// Grouping of fused scores (`newGroupingIDScores`).
pub(crate) struct Grouping {
    pub size: usize,
    pub strict: bool,
    pub scorer: GroupScorer,
}

/// Groups fused scores: rows by score (descending, ties by the smaller id), each group keeps
/// its first `size` rows; groups ordered by their score (ties: the larger group, then the
/// smaller first id); `offset` groups skipped, `limit` kept (strict: short groups dropped
/// afterwards); rows of a group best first, scores rounded.
pub(crate) fn group_page<K: Ord + Clone, G: Eq + Hash + Clone>(
    fused: Fused<K>,
    group_of: impl Fn(&K) -> G,
    grouping: &Grouping,
    offset: usize,
    limit: usize,
    round_decimal: i64,
) -> Vec<(K, f32)> {
    let mut scores = fused.scores;
    scores.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    struct Group<K> {
        rows: Vec<(K, f32)>,
        max: f32,
        sum: f32,
        score: f32,
    }
    let mut index: HashMap<G, usize> = HashMap::new();
    let mut groups: Vec<Group<K>> = Vec::new();
    for (id, score) in scores {
        let key = group_of(&id);
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                rows: Vec::new(),
                // Milvus starts a group's max at 0.
                max: 0.0,
                sum: 0.0,
                score: 0.0,
            });
            groups.len() - 1
        });
        let Some(g) = groups.get_mut(i) else { continue };
        if g.rows.len() >= grouping.size {
            continue;
        }
        g.rows.push((id, score));
        if score > g.max {
            g.max = score;
        }
        g.sum += score;
    }
    for g in &mut groups {
        g.score = match grouping.scorer {
            GroupScorer::Max => g.max,
            GroupScorer::Sum => g.sum,
            GroupScorer::Avg => g.sum / g.rows.len().max(1) as f32,
        };
    }
    groups.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| b.rows.len().cmp(&a.rows.len()))
            .then_with(|| {
                a.rows
                    .first()
                    .map(|r| &r.0)
                    .cmp(&b.rows.first().map(|r| &r.0))
            })
    });
    groups
        .into_iter()
        .skip(offset)
        .take(limit)
        .filter(|g| !grouping.strict || g.rows.len() >= grouping.size)
        .flat_map(|g| g.rows)
        .map(|(id, s)| (id, round_score(s, round_decimal)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivus_schema::FieldSchema;

    fn decay(curve: DecayCurve, origin: f64, scale: f64, offset: f64, decay: f64) -> Decay {
        Decay {
            curve,
            field: "t".into(),
            origin,
            scale,
            offset,
            decay,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn decay_is_one_inside_the_offset_and_decay_at_scale() {
        for curve in [DecayCurve::Gauss, DecayCurve::Exp, DecayCurve::Linear] {
            let d = decay(curve, 100.0, 10.0, 2.0, 0.5);
            assert_eq!(decay_factor(&d, 100.0), 1.0);
            assert_eq!(decay_factor(&d, 98.0), 1.0);
            assert_eq!(decay_factor(&d, 102.0), 1.0);
            // |value - origin| - offset == scale: the factor is `decay`.
            assert!(close(decay_factor(&d, 112.0), 0.5), "{curve:?}");
            assert!(close(decay_factor(&d, 88.0), 0.5), "{curve:?}");
        }
    }

    #[test]
    fn decay_curves_match_the_formulas() {
        let g = decay(DecayCurve::Gauss, 0.0, 4.0, 1.0, 0.3);
        // exp(ln(0.3) * 5^2 / 4^2)
        assert!(close(
            decay_factor(&g, 6.0),
            (0.3f64.ln() * 25.0 / 16.0).exp()
        ));
        let e = decay(DecayCurve::Exp, 0.0, 4.0, 1.0, 0.3);
        assert!(close(
            decay_factor(&e, -6.0),
            (0.3f64.ln() / 4.0 * 5.0).exp()
        ));
        let l = decay(DecayCurve::Linear, 0.0, 4.0, 1.0, 0.3);
        assert!(close(decay_factor(&l, 3.0), 1.0 - 0.7 / 4.0 * 2.0));
        // Milvus's linear decay stops at `decay` (it does not reach 0).
        assert_eq!(decay_factor(&l, 1000.0), 0.3);
        assert!(decay_factor(&g, 1000.0) < 1e-12);
    }

    #[test]
    fn greater_scores_and_normalisation() {
        assert_eq!(to_greater(Metric::Ip, -3.0), -3.0);
        assert_eq!(to_greater(Metric::Cosine, 0.25), 0.25);
        let f = to_greater(Metric::L2, 1.0);
        assert!((f - 0.5).abs() < 1e-6, "{f}");
        assert_eq!(to_greater(Metric::L2, 0.0), 1.0);
        assert_eq!(normalize(Metric::Cosine, true, false, 0.5), 0.75);
        assert!((normalize(Metric::Ip, true, false, 1.0) - 0.75).abs() < 1e-6);
        assert_eq!(normalize(Metric::L2, false, false, 3.0), 3.0);
        assert!((normalize(Metric::L2, false, true, 1.0) - 0.5).abs() < 1e-6);
        assert_eq!(normalize(Metric::Ip, false, true, 3.0), 3.0);
    }

    fn sub(hits: &[(i64, f32)], metric: Metric) -> (Vec<(i64, f32)>, Metric) {
        (hits.to_vec(), metric)
    }

    fn run(ranker: &Resolved, subs: &[(Vec<(i64, f32)>, Metric)]) -> Fused<i64> {
        let subs: Vec<SubHits<'_, i64>> = subs
            .iter()
            .map(|(h, m)| SubHits {
                hits: h,
                metric: *m,
            })
            .collect();
        fuse(ranker, &subs, |id| Some(*id as f64)).unwrap()
    }

    #[test]
    fn rrf_sums_reciprocal_ranks_in_f32() {
        let r = Resolved::Rrf { k: 60.0 };
        let fused = run(
            &r,
            &[
                sub(&[(1, 0.1), (2, 0.2), (3, 0.3)], Metric::L2),
                sub(&[(3, 9.0), (4, 8.0)], Metric::Ip),
            ],
        );
        let out = page(fused, 0, 10, -1);
        let want3 = 1.0f32 / 63.0 + 1.0f32 / 61.0;
        assert_eq!(out[0], (3, want3));
        // Then 1 (1/61), and 2 and 4 tie at 1/62: the smaller id first.
        assert_eq!(out[1], (1, 1.0 / 61.0));
        assert_eq!(out[2], (2, 1.0 / 62.0));
        assert_eq!(out[3], (4, 1.0 / 62.0));
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn ties_go_to_the_smaller_id_and_offset_limit_round() {
        let r = Resolved::Rrf { k: 60.0 };
        let fused = run(
            &r,
            &[
                sub(&[(5, 0.0), (7, 0.0)], Metric::L2),
                sub(&[(2, 0.0), (9, 0.0)], Metric::L2),
            ],
        );
        let out = page(fused, 1, 2, 3);
        assert_eq!(out.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![5, 7]);
        assert_eq!(out[0].1, round_score(1.0 / 61.0, 3));
        // floor(x * 10^r + 0.5) on the float32 value (0.0175f32 is 0.017500000074...).
        assert_eq!(round_score(0.0175, 3), 0.018);
        assert_eq!(round_score(0.01749, 3), 0.017);
        assert_eq!(round_score(-0.0175, 3), -0.018);
    }

    #[test]
    fn weighted_with_and_without_normalisation() {
        let r = Resolved::Weighted {
            weights: vec![0.5, 1.0],
            normalize: true,
        };
        let fused = run(
            &r,
            &[
                sub(&[(1, 0.0)], Metric::L2),
                sub(&[(1, 0.5), (2, 1.0)], Metric::Cosine),
            ],
        );
        let out = page(fused, 0, 10, -1);
        assert_eq!(out[0].0, 1);
        assert!((out[0].1 - (0.5 * 1.0 + 0.75)).abs() < 1e-6);
        assert_eq!(out[1], (2, 1.0));

        // All distances, not normalised: raw sums sorted ascending.
        let r = Resolved::Weighted {
            weights: vec![1.0, 1.0],
            normalize: false,
        };
        let fused = run(
            &r,
            &[
                sub(&[(1, 1.0), (2, 3.0)], Metric::L2),
                sub(&[(2, 0.5), (3, 2.0)], Metric::L2),
            ],
        );
        assert!(!fused.descending);
        let out = page(fused, 0, 10, -1);
        assert_eq!(out, vec![(1, 1.0), (3, 2.0), (2, 3.5)]);

        // Mixed metrics, not normalised: distances flipped, sorted descending.
        let fused = run(
            &r,
            &[sub(&[(1, 1.0)], Metric::L2), sub(&[(2, 0.7)], Metric::Ip)],
        );
        assert!(fused.descending);
        let out = page(fused, 0, 10, -1);
        assert_eq!(out[0].0, 2);
        assert!((out[1].1 - 0.5).abs() < 1e-6);
    }

    #[test]
    fn weighted_needs_one_weight_per_search() {
        let r = Resolved::Weighted {
            weights: vec![0.5],
            normalize: true,
        };
        let subs = [sub(&[(1, 0.0)], Metric::L2), sub(&[(1, 0.0)], Metric::L2)];
        let subs: Vec<SubHits<'_, i64>> = subs
            .iter()
            .map(|(h, m)| SubHits {
                hits: h,
                metric: *m,
            })
            .collect();
        let err = fuse(&r, &subs, |_| None).err().unwrap();
        assert_eq!(
            err.to_string(),
            "the length of weights param mismatch with ann search requests: invalid parameter[expected=2][actual=1]"
        );
    }

    #[test]
    fn decay_takes_the_best_greater_score_times_the_factor() {
        let d = decay(DecayCurve::Linear, 0.0, 10.0, 0.0, 0.5);
        let r = Resolved::Decay(d.clone());
        // ids double as the field value: id 0 keeps its score, id 10 is halved.
        let fused = run(
            &r,
            &[
                sub(&[(10, 0.9), (0, 0.4)], Metric::Cosine),
                sub(&[(0, 1.0)], Metric::L2),
            ],
        );
        let out = page(fused, 0, 10, -1);
        let g0 = to_greater(Metric::L2, 1.0).max(0.4);
        assert_eq!(out[0].0, 0);
        assert!((out[0].1 - g0).abs() < 1e-7);
        assert!((out[1].1 - 0.45).abs() < 1e-7);
    }

    #[test]
    fn grouping_pages_whole_groups() {
        let r = Resolved::Rrf { k: 60.0 };
        // Rank order 1..=6; groups: 1,2 -> a; 3 -> b; 4,5,6 -> c.
        let fused = run(
            &r,
            &[sub(
                &[(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0), (5, 0.0), (6, 0.0)],
                Metric::L2,
            )],
        );
        let group = |id: &i64| match id {
            1 | 2 => 'a',
            3 => 'b',
            _ => 'c',
        };
        let g = Grouping {
            size: 2,
            strict: false,
            scorer: GroupScorer::Max,
        };
        let ids = |v: Vec<(i64, f32)>| v.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        let fused2 = |f: &Fused<i64>| Fused {
            scores: f.scores.clone(),
            descending: f.descending,
        };
        assert_eq!(
            ids(group_page(fused2(&fused), group, &g, 0, 3, -1)),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(
            ids(group_page(fused2(&fused), group, &g, 1, 1, -1)),
            vec![3]
        );
        // Strict: the short group b is dropped after paging.
        let strict = Grouping { strict: true, ..g };
        assert_eq!(
            ids(group_page(fused2(&fused), group, &strict, 0, 2, -1)),
            vec![1, 2]
        );
        // Sum: c (4+5) outranks b; a (1+2) is still first.
        let sum = Grouping {
            scorer: GroupScorer::Sum,
            strict: false,
            size: 2,
        };
        assert_eq!(
            ids(group_page(fused, group, &sum, 0, 3, -1)),
            vec![1, 2, 4, 5, 3]
        );
    }

    fn schema() -> CollectionSchema {
        let mut pk = FieldSchema::new("id", DataType::Int64);
        pk.is_primary_key = true;
        let mut nullable = FieldSchema::new("maybe", DataType::Int64);
        nullable.nullable = true;
        CollectionSchema {
            name: "c".into(),
            description: String::new(),
            fields: vec![
                pk,
                FieldSchema::new("t", DataType::Int64),
                FieldSchema::new("name", DataType::VarChar),
                nullable,
            ],
            functions: Vec::new(),
            enable_dynamic_field: false,
        }
    }

    fn function(inputs: &[&str], params: &[(&str, &str)]) -> Ranker {
        Ranker::Function(RerankFunction {
            name: "f".into(),
            input_fields: inputs.iter().map(|s| s.to_string()).collect(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    fn err(r: Ranker) -> String {
        r.resolve(&schema()).err().unwrap().to_string()
    }

    #[test]
    fn decay_functions_are_checked_like_milvus() {
        let ok = function(
            &["t"],
            &[
                ("reranker", "decay"),
                ("function", "exp"),
                ("origin", "5"),
                ("scale", "2"),
            ],
        );
        match ok.resolve(&schema()).unwrap() {
            Resolved::Decay(d) => {
                assert_eq!(
                    (d.curve, d.origin, d.scale, d.offset, d.decay),
                    (DecayCurve::Exp, 5.0, 2.0, 0.0, 0.5)
                );
                assert_eq!(d.field, "t");
            }
            other => panic!("{other:?}"),
        }
        let base = [
            ("reranker", "decay"),
            ("function", "gauss"),
            ("origin", "0"),
            ("scale", "1"),
        ];
        assert_eq!(
            err(function(
                &["t"],
                &[("reranker", "decay"), ("function", "gauss"), ("scale", "1")]
            )),
            "Decay function lost param: origin"
        );
        assert_eq!(
            err(function(&["t"], &[("reranker", "decay"), ("origin", "1")])),
            "Decay function lost param: scale"
        );
        assert_eq!(
            err(function(&["t"], &[("reranker", "decay"), ("origin", "x")])),
            "Param origin:x is not a number"
        );
        let with = |extra: (&'static str, &'static str)| {
            let mut p = base.to_vec();
            p.push(extra);
            function(&["t"], &p)
        };
        assert_eq!(
            err(with(("scale", "0"))),
            "Decay function param: scale must > 0, but got 0.000000"
        );
        assert_eq!(
            err(with(("offset", "-1"))),
            "Decay function param: offset must >= 0, but got -1.000000"
        );
        assert_eq!(
            err(with(("decay", "1"))),
            "Decay function param: decay must 0 < decay < 1, but got 1.000000"
        );
        assert_eq!(
            err(with(("function", "cubic"))),
            "Invaild decay function: decay, only support [gauss,linear,exp]"
        );
        assert_eq!(
            err(with(("score_mode", "max"))).split(" (").next().unwrap(),
            "parameter score_mode of the decay reranker is not supported by rivus"
        );
        assert_eq!(
            err(function(&["name"], &base)),
            "Decay rerank: unsupported input field type:VarChar, only support numberic field"
        );
        assert_eq!(
            err(function(&["nope"], &base)),
            "Function input field not found: nope"
        );
        assert_eq!(
            err(function(&["maybe"], &base)),
            "Function input field cannot be nullable: field maybe"
        );
        assert_eq!(
            err(function(&[], &base)),
            "Decay function only supoorts single input, but gets [[]] input"
        );
        assert_eq!(
            err(function(&["t", "id"], &base)),
            "Decay function only supoorts single input, but gets [[t id]] input"
        );
        assert_eq!(err(function(&["t", "t"], &base)), "Each function input field should be used exactly once in the same function, input field: t");
    }

    #[test]
    fn other_function_rankers() {
        match function(&[], &[("reranker", "RRF"), ("k", "10")])
            .resolve(&schema())
            .unwrap()
        {
            Resolved::Rrf { k } => assert_eq!(k, 10.0),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err(function(&[], &[("reranker", "rrf"), ("k", "0")])),
            "The rank params k should be in range (0, 16384)"
        );
        assert_eq!(
            err(function(&["t"], &[("reranker", "rrf")])),
            "The rrf function does not support input parameters, but got [t]"
        );
        match function(
            &[],
            &[
                ("reranker", "weighted"),
                ("weights", "[0.2, 0.8]"),
                ("norm_score", "True"),
            ],
        )
        .resolve(&schema())
        .unwrap()
        {
            Resolved::Weighted { weights, normalize } => {
                assert_eq!(weights, vec![0.2, 0.8]);
                assert!(normalize);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err(function(&[], &[("reranker", "weighted")])),
            "weights not found"
        );
        assert_eq!(
            err(function(
                &[],
                &[("reranker", "weighted"), ("weights", "[2]")]
            )),
            "rank param weight should be in range [0, 1]"
        );
        assert_eq!(
            err(function(&[], &[("reranker", "weighted"), ("weights", "x")])),
            "Parse weights param failed, weight should be []float, bug got: x"
        );
        assert_eq!(
            err(function(
                &[],
                &[
                    ("reranker", "weighted"),
                    ("weights", "[1]"),
                    ("norm_score", "yes")
                ]
            )),
            "norm_score params must be true/false, bug got yes"
        );
        assert_eq!(
            err(function(&[], &[("reranker", "cohere")])),
            "Unsupported rerank function: [cohere] , list of supported [decay,model,rrf,weighted]"
        );
        let model = err(function(
            &["name"],
            &[("reranker", "model"), ("provider", "tei")],
        ));
        assert!(model.contains("rivus does not support them"), "{model}");
        assert!(model.ends_with("unsupported operation"), "{model}");
        assert!(GroupScorer::parse("median").is_err());
        assert_eq!(GroupScorer::parse("avg").unwrap(), GroupScorer::Avg);
    }
}
