//! Search requests and results: Milvus's `search_params` key/value pairs and placeholder
//! group (or `ids`, search by primary keys) to [`rivus_engine::Search`], `function_score`
//! to a ranker, hybrid `rank_params` (strategy, group-by) to [`rivus_engine::HybridSearch`],
//! and the engine's hits to `SearchResultData`.

// Placeholder types are matched explicitly; every other one is refused by name.
#![allow(clippy::wildcard_enum_match_arm)]

use milvus::proto::common::{KeyValuePair, PlaceholderGroup, PlaceholderType};
use milvus::proto::milvus::search_request::SearchInput;
use milvus::proto::milvus::SearchRequest;
use milvus::proto::schema as pb;
use prost::Message;
use rivus_engine::data::rerank::{GroupScorer, RerankFunction};
use rivus_engine::{
    EngineError, GroupBy, HybridSearch, Keys, Ranker, Search, SearchOutput, SearchVectors,
};
use rivus_schema::CollectionSchema;

use super::data;

fn invalid(detail: impl Into<String>) -> EngineError {
    EngineError::invalid(detail.into())
}

fn parse_int(key: &str, value: &str) -> Result<i64, EngineError> {
    value
        .trim()
        .trim_matches('"')
        .parse::<i64>()
        .map_err(|_| EngineError::refused(format!("{key} [{value}] is invalid")))
}

fn parse_bool(value: &str) -> bool {
    value.trim().trim_matches('"').eq_ignore_ascii_case("true")
}

/// A search iterator's page request (pymilvus's search iterator v2): the server keeps no
/// state; each page is the hits strictly beyond the last page's final score.
#[derive(Debug, Clone, Default)]
pub struct IteratorPage {
    pub token: String,
}

/// The `search_params` pairs as a search (without vectors yet).
fn apply_params(
    s: &mut Search,
    params: &[KeyValuePair],
    iterator: &mut Option<IteratorPage>,
) -> Result<(), EngineError> {
    let mut group_size: Option<i64> = None;
    let mut strict = false;
    let mut group_field: Option<String> = None;
    for kv in params {
        let value = kv.value.as_str();
        match kv.key.as_str() {
            "anns_field" => s.anns_field = value.trim().to_string(),
            "topk" | "limit" => {
                let v = parse_int("topk", value)?;
                if v <= 0 {
                    return Err(EngineError::refused(format!(
                        "topk [{v}] is invalid, it should be in range [1, {}], but got {v}",
                        rivus_engine::data::MAX_TOPK
                    )));
                }
                s.limit = v as usize;
            }
            "offset" => {
                let v = parse_int("offset", value)?;
                if v < 0 {
                    return Err(EngineError::refused(format!(
                        "offset [{v}] is invalid, it should be in range [1, {}], but got {v}",
                        rivus_engine::data::MAX_TOPK
                    )));
                }
                s.offset = v as usize;
            }
            "round_decimal" => s.round_decimal = parse_int("round_decimal", value)?,
            "metric_type" => {
                let m = value.trim().trim_matches('"');
                if !m.is_empty() {
                    s.metric = Some(m.to_string());
                }
            }
            "group_by_field" => {
                let f = value.trim().trim_matches('"');
                if !f.is_empty() {
                    group_field = Some(f.to_string());
                }
            }
            "group_size" => group_size = Some(parse_int("group_size", value)?),
            "strict_group_size" => strict = parse_bool(value),
            "params" => apply_json_params(s, value)?,
            "iterator" => {}
            "search_iter_v2" => {
                if parse_bool(value) {
                    iterator.get_or_insert_with(IteratorPage::default);
                }
            }
            "search_iter_batch_size" => {
                let v = parse_int("search_iter_batch_size", value)?;
                if v <= 0 {
                    return Err(invalid(format!(
                        "batch size [{v}] is invalid, it should be positive"
                    )));
                }
            }
            "search_iter_last_bound" => {
                let v: f32 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("search_iter_last_bound [{value}] is invalid")))?;
                s.after = Some(v);
            }
            "search_iter_id" => {
                iterator.get_or_insert_with(IteratorPage::default).token = value.trim().to_string();
            }
            // Consistency and growing-segment hints: every search sees every acknowledged
            // write, which satisfies all of them.
            "ignore_growing" | "collection_id" | "cluster_id" | "hints" => {}
            other => {
                // Other Milvus options change results; refuse them rather than ignore them.
                if !value.trim().is_empty() {
                    return Err(EngineError::refused(format!(
                        "search parameter {other} is not supported by rivus yet"
                    )));
                }
            }
        }
    }
    if let Some(field) = group_field {
        let size = group_size.unwrap_or(1);
        if size <= 0 {
            return Err(invalid(format!(
                "input group size:{size} is negative, failed to do search_groupby"
            )));
        }
        s.group_by = Some(GroupBy {
            field,
            size: size as usize,
            strict,
        });
    }
    Ok(())
}

/// The JSON `params` object: `ef`, `radius`, `range_filter`, plus everything pymilvus copies
/// into it (checked against the top-level pairs it duplicates).
fn apply_json_params(s: &mut Search, json: &str) -> Result<(), EngineError> {
    if json.trim().is_empty() {
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| invalid(format!("search params are not valid JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(invalid("search params must be a JSON object"));
    };
    let number = |key: &str, v: &serde_json::Value| -> Result<f64, EngineError> {
        match v {
            serde_json::Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| invalid(format!("{key} is invalid"))),
            serde_json::Value::String(t) => t
                .trim()
                .parse::<f64>()
                .map_err(|_| invalid(format!("{key} [{t}] is invalid"))),
            _ => Err(invalid(format!("{key} [{v}] is invalid"))),
        }
    };
    for (key, v) in obj {
        match key.as_str() {
            "ef" => {
                let ef = number("ef", v)?;
                if !(1.0..=32768.0).contains(&ef) || ef.fract() != 0.0 {
                    return Err(invalid(format!(
                        "param 'ef' ({ef}) should be in range [1, 32768]"
                    )));
                }
                s.ef = Some(ef as usize);
            }
            "nprobe" => {
                let n = number("nprobe", v)?;
                if !(1.0..=65536.0).contains(&n) || n.fract() != 0.0 {
                    return Err(invalid(format!(
                        "param 'nprobe' ({n}) should be in range [1, 65536]"
                    )));
                }
                s.nprobe = Some(n as usize);
            }
            "drop_ratio_search" => {
                let r = number("drop_ratio_search", v)?;
                if !(0.0..1.0).contains(&r) {
                    return Err(invalid(format!(
                        "param 'drop_ratio_search' ({r}) should be in range [0.000000, 1.000000)"
                    )));
                }
                s.drop_ratio_search = Some(r as f32);
            }
            "refine_k" => {
                // knowhere `FaissHnswConfig`: a float in [1, FLT_MAX).
                let r = number("refine_k", v)?;
                if !(1.0..f64::from(f32::MAX)).contains(&r) {
                    return Err(invalid(format!(
                        "Out of range in json: param 'refine_k' ({r}) should be in range \
                         [{:.6}, {:.6})",
                        1.0f32,
                        f32::MAX
                    )));
                }
                s.refine_k = Some(r as f32);
            }
            "radius" => s.radius = Some(number("radius", v)?),
            "range_filter" => s.range_filter = Some(number("range_filter", v)?),
            "metric_type" => {
                if let Some(m) = v.as_str().filter(|m| !m.is_empty()) {
                    s.metric = Some(m.to_string());
                }
            }
            // Knobs of index types rivus does not have (and the keys pymilvus copies here from
            // the request's top level): they cannot change rivus's answer.
            "max_empty_result_buckets"
            | "search_list"
            | "itopk_size"
            | "level"
            | "offset"
            | "limit"
            | "round_decimal"
            | "ignore_growing"
            | "group_by_field"
            | "group_size"
            | "strict_group_size"
            | "anns_field"
            | "topk"
            | "hints"
            | "page_retain_order" => {}
            other => {
                return Err(EngineError::refused(format!(
                    "search parameter {other} is not supported by rivus yet"
                )));
            }
        }
    }
    Ok(())
}

fn f16_bits_to_f32(bytes: &[u8], bf16: bool) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| {
            let bits = u16::from_le_bytes([b[0], b[1]]);
            if bf16 {
                f32::from_bits(u32::from(bits) << 16)
            } else {
                half_to_f32(bits)
            }
        })
        .collect()
}

fn half_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let mant = f32::from(bits & 0x3ff);
    sign * match exp {
        0 => mant * 2f32.powi(-24),
        0x1f if mant == 0.0 => f32::INFINITY,
        0x1f => f32::NAN,
        e => (1.0 + mant / 1024.0) * 2f32.powi(e - 15),
    }
}

/// The query vectors of a placeholder group.
fn vectors_from(bytes: &[u8]) -> Result<SearchVectors, EngineError> {
    let group = PlaceholderGroup::decode(bytes)
        .map_err(|e| invalid(format!("cannot decode the search vectors: {e}")))?;
    let Some(p) = group.placeholders.into_iter().next() else {
        return Err(invalid("the search request has no vectors"));
    };
    let kind = PlaceholderType::try_from(p.r#type).unwrap_or(PlaceholderType::None);
    Ok(match kind {
        PlaceholderType::FloatVector => SearchVectors::Float(
            p.values
                .iter()
                .map(|v| {
                    v.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                })
                .collect(),
        ),
        PlaceholderType::Float16Vector => {
            SearchVectors::Float(p.values.iter().map(|v| f16_bits_to_f32(v, false)).collect())
        }
        PlaceholderType::BFloat16Vector => {
            SearchVectors::Float(p.values.iter().map(|v| f16_bits_to_f32(v, true)).collect())
        }
        PlaceholderType::Int8Vector => SearchVectors::Float(
            p.values
                .iter()
                .map(|v| v.iter().map(|b| f32::from(*b as i8)).collect())
                .collect(),
        ),
        PlaceholderType::BinaryVector => SearchVectors::Binary(p.values),
        PlaceholderType::SparseFloatVector => {
            let mut out = Vec::with_capacity(p.values.len());
            for v in &p.values {
                let mut pairs: Vec<(u32, f32)> = v
                    .chunks_exact(8)
                    .map(|b| {
                        (
                            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                            f32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                        )
                    })
                    .collect();
                pairs.sort_by_key(|(i, _)| *i);
                out.push(pairs);
            }
            SearchVectors::Sparse(out)
        }
        PlaceholderType::VarChar => {
            return Err(EngineError::refused(
                "searching with text (a BM25 function) is not supported by rivus yet",
            ))
        }
        other => {
            return Err(EngineError::refused(format!(
                "search vectors of type {} are not supported by rivus yet",
                other.as_str_name()
            )))
        }
    })
}

/// A Milvus search request as an engine search (and the iterator page it asks for, if any).
pub fn search_from(r: &SearchRequest) -> Result<(Search, Option<IteratorPage>), EngineError> {
    let vectors = match &r.search_input {
        Some(SearchInput::PlaceholderGroup(bytes)) => vectors_from(bytes)?,
        // Search by primary keys: the engine reads the keys' vectors when it searches.
        Some(SearchInput::Ids(ids)) => SearchVectors::Keys(match &ids.id_field {
            Some(pb::i_ds::IdField::IntId(a)) => Keys::Int(a.data.clone()),
            Some(pb::i_ds::IdField::StrId(a)) => Keys::Str(a.data.clone()),
            Some(_) => {
                return Err(EngineError::refused(
                    "search by primary keys of this key type is not supported by rivus",
                ))
            }
            None => Keys::Int(Vec::new()),
        }),
        None => return Err(invalid("the search request has no vectors")),
    };
    let mut s = Search::new(String::new(), vectors, 0);
    let mut iterator = None;
    apply_params(&mut s, &r.search_params, &mut iterator)?;
    if let Some(page) = &mut iterator {
        if s.vectors.len() != 1 {
            return Err(invalid("search iterator only supports one query vector"));
        }
        if s.group_by.is_some() || s.offset > 0 {
            return Err(invalid(
                "search iterator does not support group_by or offset",
            ));
        }
        if page.token.is_empty() {
            page.token = format!(
                "rivus-{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(1)
            );
        }
    }
    if s.limit == 0 {
        return Err(EngineError::refused("topk is required"));
    }
    if !r.function_chains.is_empty() {
        return Err(EngineError::refused(
            "function chains are not supported by rivus yet",
        ));
    }
    s.ranker = ranker_from(r.function_score.as_ref())?;
    if iterator.is_some() {
        if s.ranker.is_some() {
            // Milvus's initSearchRequest refuses rerankers on iterators with this text.
            return Err(invalid("Range search do not support rerank"));
        }
        if matches!(s.vectors, SearchVectors::Keys(_)) {
            return Err(invalid(
                "search iterator does not support search by primary keys",
            ));
        }
    }
    if !r.sub_reqs.is_empty() {
        return Err(EngineError::refused(
            "advanced sub-requests are not supported by rivus yet",
        ));
    }
    s.filter = r.dsl.clone();
    s.templates = data::templates_from(r.expr_template_values.clone())?;
    s.output_fields = r.output_fields.clone();
    s.partitions = r.partition_names.clone();
    Ok((s, iterator))
}

/// A function-score ranker (`ranker=Function(..., FunctionType.RERANK)` in pymilvus) as the
/// engine's [`Ranker::Function`]; Milvus's `NewFunctionScore`/`createFunction` checks of the
/// message itself, with its texts. The engine checks the function against the schema.
fn ranker_from(score: Option<&pb::FunctionScore>) -> Result<Option<Ranker>, EngineError> {
    let Some(score) = score else {
        return Ok(None);
    };
    if !score.params.is_empty() {
        let keys: Vec<&str> = score.params.iter().map(|kv| kv.key.as_str()).collect();
        return Err(EngineError::refused(format!(
            "function score parameters ({}) are not supported by rivus yet",
            keys.join(", ")
        )));
    }
    if score.functions.len() > 1 {
        return Err(EngineError::refused("Currently only supports one rerank"));
    }
    let Some(f) = score.functions.first() else {
        return Ok(None);
    };
    let kind = pb::FunctionType::try_from(f.r#type).unwrap_or(pb::FunctionType::Unknown);
    if kind != pb::FunctionType::Rerank {
        return Err(EngineError::refused(format!(
            "{} is not rerank function.",
            kind.as_str_name()
        )));
    }
    if !f.output_field_names.is_empty() {
        return Err(EngineError::refused(format!(
            "Rerank function should not have output field, but now is {}",
            f.output_field_names.len()
        )));
    }
    Ok(Some(Ranker::Function(RerankFunction {
        name: f.name.clone(),
        input_fields: f.input_field_names.clone(),
        params: f
            .params
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect(),
    })))
}

/// Go's `strconv.ParseBool`; anything else reads as false, as Milvus's group-by parsing does.
fn go_bool(value: &str) -> bool {
    matches!(value.trim(), "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// A Milvus hybrid search request: its searches and `rank_params`.
pub fn hybrid_from(
    r: &milvus::proto::milvus::HybridSearchRequest,
) -> Result<HybridSearch, EngineError> {
    if !r.function_chains.is_empty() {
        return Err(EngineError::refused(
            "function chains are not supported by rivus yet",
        ));
    }
    let function_ranker = ranker_from(r.function_score.as_ref())?;
    let mut searches = Vec::with_capacity(r.requests.len());
    for sub in &r.requests {
        let (s, iterator) = search_from(sub)?;
        if iterator.is_some() {
            return Err(invalid("hybrid search does not support iterators"));
        }
        if s.ranker.is_some() {
            return Err(EngineError::refused(
                "a ranker on a hybrid search sub-request is not supported; give it to hybrid_search",
            ));
        }
        searches.push(s);
    }
    let mut strategy = String::from("rrf");
    let mut params = serde_json::Value::Null;
    let mut limit: Option<i64> = None;
    let mut offset = 0i64;
    let mut round_decimal = -1i64;
    let mut group_field: Option<String> = None;
    let mut group_size: Option<i64> = None;
    let mut strict = false;
    let mut group_scorer = GroupScorer::Max;
    for kv in &r.rank_params {
        let value = kv.value.as_str();
        match kv.key.as_str() {
            "strategy" => strategy = value.trim().trim_matches('"').to_ascii_lowercase(),
            "params" => {
                params = serde_json::from_str(value)
                    .map_err(|e| invalid(format!("rank params are not valid JSON: {e}")))?
            }
            "limit" => limit = Some(parse_int("limit", value)?),
            "offset" => offset = parse_int("offset", value)?,
            "round_decimal" => round_decimal = parse_int("round_decimal", value)?,
            // Milvus's parseRankParams -> parseGroupByInfo (the same rules as search's).
            "group_by_field" => {
                let f = value.trim().trim_matches('"');
                if !f.is_empty() {
                    group_field = Some(f.to_string());
                }
            }
            "group_size" => {
                let v = value.trim().trim_matches('"');
                let size = v
                    .parse::<i64>()
                    .map_err(|_| invalid(format!("failed to parse input group size:{v}")))?;
                if size <= 0 {
                    return Err(invalid(format!(
                        "input group size:{size} is negative, failed to do search_groupby"
                    )));
                }
                group_size = Some(size);
            }
            "strict_group_size" => strict = go_bool(value.trim().trim_matches('"')),
            "rank_group_scorer" => {
                group_scorer = GroupScorer::parse(value.trim().trim_matches('"'))?
            }
            _ => {}
        }
    }
    let group_by = match group_field {
        Some(field) => Some(GroupBy {
            field,
            size: group_size.unwrap_or(1) as usize,
            strict,
        }),
        None => {
            if let Some(size) = group_size.filter(|s| *s > 10) {
                return Err(invalid(format!(
                    "input group size:{size} exceeds configured max group size:10"
                )));
            }
            None
        }
    };
    let legacy = match (&function_ranker, strategy.as_str()) {
        // A function ranker replaces the legacy strategy (Milvus reads one or the other).
        (Some(f), _) => f.clone(),
        (None, "rrf") => {
            let k = match params.get("k") {
                None => 60.0,
                Some(v) => v.as_f64().ok_or_else(|| {
                    EngineError::refused("The type of rank param k should be float")
                })?,
            };
            if !(k > 0.0 && k < 16384.0) {
                return Err(invalid(format!(
                    "The rank params k should be in range (0, 16384), but got {k}"
                )));
            }
            Ranker::Rrf { k }
        }
        (None, "weighted") => {
            let weights: Vec<f64> = params
                .get("weights")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|w| w.as_f64()).collect())
                .unwrap_or_default();
            for w in &weights {
                if !(0.0..=1.0).contains(w) {
                    return Err(invalid(format!(
                        "rank param weight should be in range [0, 1], but got {w}"
                    )));
                }
            }
            let normalize = params
                .get("norm_score")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            Ranker::Weighted { weights, normalize }
        }
        (None, other) => {
            return Err(invalid(format!("unsupported rank type {other}")));
        }
    };
    let limit = limit.ok_or_else(|| invalid("limit not found in rank_params"))?;
    if limit <= 0 || offset < 0 {
        return Err(invalid(format!(
            "topk [{limit}] is invalid, it should be in range [1, {}], but got {limit}",
            rivus_engine::data::MAX_TOPK
        )));
    }
    if !(-1..=6).contains(&round_decimal) {
        return Err(invalid(format!(
            "round_decimal {round_decimal} is invalid, should be -1 or an integer in range [0, 6]"
        )));
    }
    Ok(HybridSearch {
        searches,
        ranker: legacy,
        limit: limit as usize,
        offset: offset as usize,
        round_decimal,
        output_fields: r.output_fields.clone(),
        partitions: r.partition_names.clone(),
        group_by,
        group_scorer,
    })
}

/// The engine's answer as Milvus's `SearchResultData`.
pub fn results_to(
    schema: &CollectionSchema,
    out: &SearchOutput,
    nq: usize,
    limit: usize,
    requested: &[String],
) -> pb::SearchResultData {
    let ids = match &out.keys {
        Keys::Int(v) => pb::i_ds::IdField::IntId(pb::LongArray { data: v.clone() }),
        Keys::Str(v) => pb::i_ds::IdField::StrId(pb::StringArray { data: v.clone() }),
    };
    let mut output_fields: Vec<String> = out
        .columns
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n != "$meta")
        .collect();
    for f in requested {
        let f = f.trim();
        if f != "*"
            && !f.is_empty()
            && schema.field(f).is_none()
            && !output_fields.iter().any(|o| o == f)
        {
            output_fields.push(f.to_string());
        }
    }
    let pk = schema
        .fields
        .iter()
        .find(|f| f.is_primary_key)
        .map(|f| f.name.clone())
        .unwrap_or_default();
    pb::SearchResultData {
        num_queries: nq as i64,
        top_k: limit as i64,
        fields_data: out
            .columns
            .iter()
            .map(|(name, col)| data::field_from_column(schema, name, col))
            .collect(),
        scores: out.scores.clone(),
        ids: Some(pb::IDs {
            id_field: Some(ids),
        }),
        topks: out.topks.iter().map(|k| *k as i64).collect(),
        output_fields,
        group_by_field_value: out
            .group_values
            .as_ref()
            .map(|(name, col)| data::field_from_column(schema, name, col)),
        primary_field_name: pk,
        ..Default::default()
    }
}
