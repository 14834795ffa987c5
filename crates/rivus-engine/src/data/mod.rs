//! The data plane: insert, upsert, delete, query, count, flush. Rows live in one
//! [`store::CollectionStore`] per collection under `<data>/collections/<id>/`.

// Placeholder values per type: every other type shares one answer.
#![allow(clippy::wildcard_enum_match_arm)]

#[cfg(test)]
mod crash_tests;
pub mod rerank;
mod search;
mod sindex;
pub mod store;
mod validate;
mod vindex;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rivus_expr::plan::{Literal, Predicate};
use rivus_expr::Templates;
use rivus_schema::{Bitmap, Column, ColumnBatch, ColumnData, ColumnSource, DataType, JsonColumn};

use crate::catalog::{CollectionMeta, LoadState, DEFAULT_PARTITION};
use crate::collection::resolve;
use crate::database::database;
use crate::{Engine, EngineError, Result};
use store::{pks_of, CollectionStore, Mutation, Pk, Snapshot};

pub use search::{
    GroupBy, HybridSearch, Metric, Ranker, Search, SearchOutput, SearchVectors, MAX_TOPK,
};
pub use validate::validate_rows;

/// Milvus `quotaAndLimits.limits.maxQueryResultWindow`.
pub const MAX_QUERY_RESULT_WINDOW: usize = 16384;

/// The stores opened so far, by collection id, and their background checkpoints.
#[derive(Debug, Default)]
pub(crate) struct Stores {
    open: Mutex<HashMap<i64, Arc<CollectionStore>>>,
    background: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Stores {
    /// Starts a checkpoint of `store` on its own thread when its WAL has grown enough.
    fn after_write(&self, store: &Arc<CollectionStore>) {
        if !store.claim_checkpoint() {
            return;
        }
        let store = store.clone();
        let spawned = std::thread::Builder::new()
            .name("rivus-checkpoint".into())
            .spawn(move || {
                if let Err(e) = store.checkpoint() {
                    tracing::error!(error = %e, "checkpoint failed; the collection refuses writes until restart");
                }
                // The new segment's indexes are built on this thread.
                if store.claim_indexing() {
                    store.build_indexes();
                }
            });
        match (spawned, self.background.lock()) {
            (Ok(handle), Ok(mut list)) => {
                list.retain(|h| !h.is_finished());
                list.push(handle);
            }
            (Err(e), _) => tracing::error!(error = %e, "cannot start a checkpoint thread"),
            (Ok(_), Err(_)) => {}
        }
    }
}

impl Stores {
    /// Builds `store`'s missing vector indexes on a background thread (unless one runs).
    fn schedule_indexing(&self, store: &Arc<CollectionStore>) {
        if !store.claim_indexing() {
            return;
        }
        let store = store.clone();
        let spawned = std::thread::Builder::new()
            .name("rivus-index".into())
            .spawn(move || store.build_indexes());
        match (spawned, self.background.lock()) {
            (Ok(handle), Ok(mut list)) => {
                list.retain(|h| !h.is_finished());
                list.push(handle);
            }
            (Err(e), _) => tracing::error!(error = %e, "cannot start an index build thread"),
            (Ok(_), Err(_)) => {}
        }
    }
}

impl Drop for Stores {
    /// Waits for running checkpoints, so the data directory's lock (dropped after this) is
    /// never released while one still writes files.
    fn drop(&mut self) {
        if let Ok(open) = self.open.get_mut() {
            for store in open.values() {
                store
                    .stopping
                    .store(true, std::sync::atomic::Ordering::Release);
            }
        }
        if let Ok(list) = self.background.get_mut() {
            for handle in list.drain(..) {
                let _ = handle.join();
            }
        }
    }
}

/// Primary keys returned by a write.
#[derive(Debug, Clone, PartialEq)]
pub enum Keys {
    Int(Vec<i64>),
    Str(Vec<String>),
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteResult {
    /// Keys written (insert/upsert), in row order.
    pub keys: Keys,
    /// Rows inserted, upserted or deleted.
    pub count: u64,
    /// The write's timestamp (its sequence number).
    pub timestamp: u64,
}

/// Rows to insert or upsert: one column per field given (the dynamic field as `$meta`).
#[derive(Debug, Clone)]
pub struct Rows {
    pub partition: Option<String>,
    pub columns: ColumnBatch,
}

/// A query.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub filter: String,
    pub templates: Templates,
    pub output_fields: Vec<String>,
    pub limit: Option<usize>,
    pub offset: usize,
    pub partitions: Vec<String>,
}

/// A query's answer: the columns of the matching rows, sorted by primary key, or a count.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// (field name, column) in output order; the primary key first. Dynamic keys come back
    /// inside a `$meta` column holding only the keys asked for.
    pub columns: Vec<(String, Column)>,
    /// `count(*)`, when asked for.
    pub count: Option<u64>,
}

fn plan_error(kind: &str, expr: &str, detail: impl std::fmt::Display) -> EngineError {
    EngineError::invalid(format!(
        "failed to create {kind} plan: cannot parse expression: {expr}, error: {detail}"
    ))
}

/// Hash partition of a partition-key value (rows of one key always land together).
fn key_partition(v: &Pk, n: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for x in b {
            h ^= u64::from(*x);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    match v {
        Pk::Int(i) => eat(&i.to_le_bytes()),
        Pk::Str(s) => eat(s.as_bytes()),
    }
    (h % n.max(1) as u64) as usize
}

impl Engine {
    pub(crate) fn store(&self, meta: &CollectionMeta) -> Result<Arc<CollectionStore>> {
        let mut open = self
            .inner
            .stores
            .open
            .lock()
            .map_err(|_| EngineError::Poisoned)?;
        if let Some(s) = open.get(&meta.id) {
            let s = s.clone();
            drop(open);
            self.sync_index_specs(meta, &s);
            return Ok(s);
        }
        let dir = self
            .config()
            .data_dir
            .join("collections")
            .join(meta.id.to_string());
        let store = Arc::new(CollectionStore::open(
            &self.config().vfs,
            &dir,
            self.config().wal_sync,
            self.config().checkpoint_bytes,
        )?);
        self.observe_timestamp(store.last_seq());
        open.insert(meta.id, store.clone());
        drop(open);
        self.sync_index_specs(meta, &store);
        Ok(store)
    }

    /// Tells the store which vector indexes the catalog declares; builds what changed.
    fn sync_index_specs(&self, meta: &CollectionMeta, store: &Arc<CollectionStore>) {
        let specs: Vec<vindex::IndexSpec> = meta
            .indexes
            .iter()
            .filter_map(|i| {
                let field = meta.schema.field(&i.field_name)?;
                vindex::IndexSpec::of(i, field.data_type)
            })
            .collect();
        if store.set_index_specs(specs) {
            self.inner.stores.schedule_indexing(store);
        }
    }

    /// Re-reads a collection's declared indexes (after create_index/drop_index).
    pub(crate) fn refresh_indexes(&self, db: &str, collection: &str) -> Result<()> {
        let meta = self.collection_meta(db, collection)?;
        self.store(&meta).map(|_| ())
    }

    /// Build progress of index `index_id`: (rows in sealed segments, rows indexed). Rows
    /// not sealed yet (no flush or checkpoint since they were written) are not counted, as
    /// Milvus counts only flushed segments.
    pub fn index_progress(&self, db: &str, collection: &str, index_id: i64) -> Result<(u64, u64)> {
        let meta = self.collection_meta(db, collection)?;
        Ok(self.store(&meta)?.index_progress(index_id))
    }

    /// Removes a dropped collection's rows.
    pub(crate) fn destroy_store(&self, id: i64, dir_only: bool) -> Result<()> {
        let store = self
            .inner
            .stores
            .open
            .lock()
            .map_err(|_| EngineError::Poisoned)?
            .remove(&id);
        match store {
            Some(s) if !dir_only => s.destroy(),
            _ => {
                let dir = self
                    .config()
                    .data_dir
                    .join("collections")
                    .join(id.to_string());
                crate::ignore_not_found(self.config().vfs.remove_dir_all(&dir))
            }
        }
    }

    fn collection_meta(&self, db: &str, name: &str) -> Result<CollectionMeta> {
        let state = self.catalog().snapshot();
        let db_meta = database(&state, db)?;
        Ok(resolve(db_meta, name)?.clone())
    }

    /// The schema of a collection (alias accepted).
    pub fn collection_schema(
        &self,
        db: &str,
        collection: &str,
    ) -> Result<rivus_schema::CollectionSchema> {
        Ok(self.collection_meta(db, collection)?.schema)
    }

    /// Inserts rows; returns their keys (generated for an auto_id key).
    pub fn insert(&self, db: &str, collection: &str, rows: Rows) -> Result<WriteResult> {
        self.write_rows(db, collection, rows, false, false)
    }

    /// Inserts rows, replacing the rows that have the same keys.
    pub fn upsert(&self, db: &str, collection: &str, rows: Rows) -> Result<WriteResult> {
        self.write_rows(db, collection, rows, true, false)
    }

    /// Upserts rows that carry only some fields (`partial_update=True`): a row whose key
    /// exists keeps its stored values for the fields left out; a new key gets their nulls or
    /// defaults (a field with neither is refused).
    pub fn upsert_partial(&self, db: &str, collection: &str, rows: Rows) -> Result<WriteResult> {
        self.write_rows(db, collection, rows, true, true)
    }

    fn write_rows(
        &self,
        db: &str,
        collection: &str,
        rows: Rows,
        upsert: bool,
        partial: bool,
    ) -> Result<WriteResult> {
        let meta = self.collection_meta(db, collection)?;
        let schema = &meta.schema;
        let pk_field = schema
            .fields
            .iter()
            .find(|f| f.is_primary_key)
            .ok_or_else(|| EngineError::Internal("collection without a primary key".into()))?
            .clone();
        let partition_key = schema.fields.iter().find(|f| f.is_partition_key).cloned();
        if partition_key.is_some() && rows.partition.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(EngineError::refused(
                "not support manually specifying the partition names if partition key mode is used",
            ));
        }
        let mut columns = rows.columns;
        let n = columns.num_rows();
        if n == 0 {
            return Err(EngineError::InvalidParameterExpected {
                detail: Some("num_rows should be greater than 0".into()),
                expected: "invalid num_rows".into(),
                actual: "0".into(),
            });
        }
        // Upserts on auto_id collections name the rows to replace; new keys are generated.
        let replaced: Vec<Pk> = if pk_field.auto_id && upsert {
            let given = columns.remove(&pk_field.name).ok_or_else(|| {
                EngineError::invalid(format!(
                    "must assign pk when upsert, primary field: {}",
                    pk_field.name
                ))
            })?;
            pks_of(&given).unwrap_or_default()
        } else {
            Vec::new()
        };
        if partial && pk_field.auto_id {
            return Err(EngineError::unsupported(
                "partial upsert on an auto_id collection",
            ));
        }
        let given: Vec<String> = columns.columns().map(|(n, _)| n.to_string()).collect();
        if !partial {
            validate_rows(schema, &mut columns, pk_field.auto_id)?;
        }
        let partition_ids: Vec<i64> = match (&partition_key, rows.partition.as_deref()) {
            (Some(_), _) => meta.partitions.iter().map(|p| p.id).collect(),
            (None, None | Some("")) => vec![meta
                .partition(DEFAULT_PARTITION)
                .map(|p| p.id)
                .ok_or_else(|| EngineError::PartitionNotFound {
                    partition: DEFAULT_PARTITION.into(),
                })?],
            (None, Some(name)) => vec![meta.partition(name).map(|p| p.id).ok_or_else(|| {
                EngineError::PartitionNotFound {
                    partition: name.to_string(),
                }
            })?],
        };
        if upsert && !pk_field.auto_id {
            if let Some(pks) = columns.column(&pk_field.name).and_then(pks_of) {
                let mut seen = std::collections::HashSet::with_capacity(pks.len());
                if !pks.iter().all(|p| seen.insert(p)) {
                    return Err(EngineError::invalid(
                        "duplicate primary keys are not allowed in the same batch",
                    ));
                }
            }
        }
        let store = self.store(&meta)?;
        let first_id = std::cell::Cell::new(0u64);
        let ((keys, count), ts) = store.write(
            || {
                if pk_field.auto_id {
                    // Reserve the ids first: they come from the same clock, so the write's
                    // sequence number (what recovery moves the clock past) follows them.
                    first_id.set(self.allocate_ids(n as u64));
                }
                self.allocate_timestamp()
            },
            |_seq, current, locate| {
                let mut columns = columns;
                if partial {
                    merge_stored(
                        schema,
                        &pk_field.name,
                        &given,
                        &mut columns,
                        current,
                        locate,
                    )?;
                    validate_rows(schema, &mut columns, false)?;
                }
                if pk_field.auto_id {
                    let first = first_id.get();
                    let ids: Vec<i64> = (0..n as i64).map(|i| first as i64 + i).collect();
                    let data = if pk_field.data_type == DataType::VarChar {
                        ColumnData::VarChar(ids.iter().map(|i| i.to_string()).collect())
                    } else {
                        ColumnData::Int64(ids)
                    };
                    columns.insert(pk_field.name.clone(), Column::new(data));
                }
                let pk_col = columns.column(&pk_field.name).ok_or_else(|| {
                    EngineError::invalid(format!(
                        "fieldSchema({}) has no corresponding fieldData pass in",
                        pk_field.name
                    ))
                })?;
                let pks = pks_of(pk_col)
                    .ok_or_else(|| EngineError::invalid("primary key must be int64 or varchar"))?;
                let keys = match &pk_col.data {
                    ColumnData::Int64(v) => Keys::Int(v.clone()),
                    _ => Keys::Str(
                        pks.iter()
                            .map(|p| match p {
                                Pk::Str(s) => s.clone(),
                                Pk::Int(i) => i.to_string(),
                            })
                            .collect(),
                    ),
                };
                let inserts = match &partition_key {
                    None => vec![(partition_ids.first().copied().unwrap_or(0), columns, pks)],
                    Some(key_field) => {
                        let key_col = columns.column(&key_field.name);
                        let key_vals: Vec<Pk> = key_col.and_then(pks_of).unwrap_or_else(|| {
                            // Partition keys are INT64 or VARCHAR; anything else hashes as 0.
                            vec![Pk::Int(0); n]
                        });
                        let parts = partition_ids.len().max(1);
                        let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); parts];
                        for (i, k) in key_vals.iter().enumerate() {
                            if let Some(r) = rows_of.get_mut(key_partition(k, parts)) {
                                r.push(i);
                            }
                        }
                        rows_of
                            .into_iter()
                            .enumerate()
                            .filter(|(_, r)| !r.is_empty())
                            .map(|(p, r)| {
                                let mut batch = ColumnBatch::new(r.len());
                                for (name, col) in columns.columns() {
                                    batch.insert(name, col.take(&r));
                                }
                                let keys = r.iter().filter_map(|&i| pks.get(i).cloned()).collect();
                                (partition_ids.get(p).copied().unwrap_or(0), batch, keys)
                            })
                            .collect()
                    }
                };
                let m = Mutation {
                    seq: _seq,
                    deletes: replaced.clone(),
                    inserts,
                };
                Ok((Some(m), (keys, n as u64)))
            },
        )?;
        self.inner.stores.after_write(&store);
        Ok(WriteResult {
            keys,
            count,
            timestamp: ts,
        })
    }

    /// Deletes the rows matching `filter` (in `partition` when given). The count is the
    /// number of keys named by a key-list filter (`pk in [..]`), else the rows matched.
    pub fn delete(
        &self,
        db: &str,
        collection: &str,
        partition: Option<&str>,
        filter: &str,
        templates: &Templates,
    ) -> Result<WriteResult> {
        let meta = self.collection_meta(db, collection)?;
        let has_key = meta.schema.fields.iter().any(|f| f.is_partition_key);
        if has_key && partition.is_some_and(|p| !p.is_empty()) {
            return Err(EngineError::refused(
                "not support manually specifying the partition names if partition key mode is used",
            ));
        }
        let partition_id = match partition.filter(|p| !p.is_empty()) {
            None => None,
            Some(name) => Some(meta.partition(name).map(|p| p.id).ok_or_else(|| {
                EngineError::PartitionNotFound {
                    partition: name.to_string(),
                }
            })?),
        };
        let predicate = self.bind_filter(&meta, filter, templates, "delete")?;
        let pk_name = meta
            .schema
            .fields
            .iter()
            .find(|f| f.is_primary_key)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let named = predicate
            .as_ref()
            .and_then(|p| p.primary_key_values(&pk_name))
            .map(|v| dedup_literals(&v).len() as u64);
        let store = self.store(&meta)?;
        let (count, ts) = store.write(
            || self.allocate_timestamp(),
            |seq, current, _| {
                let matched = scan(
                    current,
                    predicate.as_ref(),
                    partition_id.map(|p| vec![p]).as_deref(),
                );
                let pks: Vec<Pk> = matched
                    .iter()
                    .filter_map(|(c, r)| current.chunks.get(*c)?.pks.get(*r).cloned())
                    .collect();
                let count = named.unwrap_or(pks.len() as u64);
                if pks.is_empty() {
                    return Ok((None, count));
                }
                Ok((
                    Some(Mutation {
                        seq,
                        deletes: pks,
                        inserts: Vec::new(),
                    }),
                    count,
                ))
            },
        )?;
        self.inner.stores.after_write(&store);
        Ok(WriteResult {
            keys: Keys::Int(Vec::new()),
            count,
            timestamp: ts,
        })
    }

    fn bind_filter(
        &self,
        meta: &CollectionMeta,
        filter: &str,
        templates: &Templates,
        kind: &str,
    ) -> Result<Option<Predicate>> {
        if filter.trim().is_empty() {
            return Ok(None);
        }
        let tree = rivus_expr::parse(filter).map_err(|e| plan_error(kind, filter, e))?;
        let bound = rivus_expr::bind(&tree, &meta.schema, templates)
            .map_err(|e| plan_error(kind, filter, e))?;
        Ok(Some(bound))
    }

    /// Deletes every row of a dropped partition.
    pub(crate) fn purge_partition(&self, meta: &CollectionMeta, partition: i64) -> Result<()> {
        let store = self.store(meta)?;
        store.write(
            || self.allocate_timestamp(),
            |seq, current, _| {
                let pks: Vec<Pk> = scan(current, None, Some(&[partition]))
                    .iter()
                    .filter_map(|(c, r)| current.chunks.get(*c)?.pks.get(*r).cloned())
                    .collect();
                let m = (!pks.is_empty()).then_some(Mutation {
                    seq,
                    deletes: pks,
                    inserts: Vec::new(),
                });
                Ok((m, ()))
            },
        )?;
        Ok(())
    }

    /// Runs a query (also `get`, which pymilvus sends as `pk in [..]`).
    pub fn query(&self, db: &str, collection: &str, q: &Query) -> Result<QueryOutput> {
        let meta = self.collection_meta(db, collection)?;
        let schema = &meta.schema;
        let is_count = q.output_fields.iter().any(|f| f.trim() == "count(*)");
        if is_count && q.limit.is_some() {
            return Err(EngineError::invalid(
                "count entities with pagination is not allowed",
            ));
        }
        if !is_count && q.filter.trim().is_empty() && q.limit.is_none() {
            return Err(EngineError::invalid(
                "empty expression should be used with limit",
            ));
        }
        if let Some(limit) = q.limit {
            let window = limit.saturating_add(q.offset);
            if window == 0 || window > MAX_QUERY_RESULT_WINDOW {
                return Err(EngineError::refused(format!(
                    "invalid max query result window, (offset+limit) should be in range [1, {MAX_QUERY_RESULT_WINDOW}], but got {window}"
                )));
            }
        }
        let outputs = resolve_outputs(schema, &q.output_fields)?;
        let predicate = self.bind_filter(&meta, &q.filter, &q.templates, "query")?;
        if meta.load_state != LoadState::Loaded {
            return Err(EngineError::QueryNotLoaded {
                collection: meta.id,
            });
        }
        let partitions = searched_partitions(&meta, &q.partitions)?;
        let store = self.store(&meta)?;
        let pk_name = schema
            .fields
            .iter()
            .find(|f| f.is_primary_key)
            .map(|f| f.name.as_str())
            .unwrap_or_default();
        let keys = predicate.as_ref().and_then(|p| lookup_keys(p, pk_name));
        // The snapshot and the key positions are read together (a checkpoint renumbers rows).
        let (snap, located) = match &keys {
            Some(keys) if !is_count => {
                let (snap, located) = store.snapshot_locating(keys);
                (snap, Some(located))
            }
            _ => (store.snapshot(), None),
        };
        if is_count {
            let count = count_matches(&snap, predicate.as_ref(), partitions.as_deref());
            return Ok(QueryOutput {
                columns: Vec::new(),
                count: Some(count),
            });
        }
        let matched = located
            .and_then(|l| by_key(&snap, &l, partitions.as_deref()))
            .unwrap_or_else(|| scan(&snap, predicate.as_ref(), partitions.as_deref()));
        let mut rows: Vec<(&Pk, usize, usize)> = matched
            .iter()
            .filter_map(|&(c, r)| Some((snap.chunks.get(c)?.pks.get(r)?, c, r)))
            .collect();
        // Rows come back in key order (query_iterator pages by key); with a limit only the
        // first offset + limit keys are selected and sorted.
        let window = q.limit.map(|l| l.saturating_add(q.offset));
        if let Some(k) = window.filter(|k| *k > 0 && *k < rows.len()) {
            rows.select_nth_unstable_by(k - 1, |a, b| a.0.cmp(b.0));
            rows.truncate(k);
        }
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let rows: Vec<(usize, usize)> = rows
            .into_iter()
            .skip(q.offset)
            .take(q.limit.unwrap_or(usize::MAX))
            .map(|(_, c, r)| (c, r))
            .collect();
        let mut columns = Vec::new();
        for out in &outputs {
            columns.push((out.name().to_string(), gather(&snap, &rows, out, schema)));
        }
        Ok(QueryOutput {
            columns,
            count: None,
        })
    }

    /// Makes every acknowledged write of the collection durable on disk and checkpoints it.
    pub fn flush(&self, db: &str, collection: &str) -> Result<()> {
        let meta = self.collection_meta(db, collection)?;
        let store = self.store(&meta)?;
        store.flush()?;
        self.inner.stores.schedule_indexing(&store);
        Ok(())
    }

    /// Live rows of the collection (deletes subtracted).
    pub fn row_count(&self, db: &str, collection: &str) -> Result<u64> {
        let meta = self.collection_meta(db, collection)?;
        Ok(self.store(&meta)?.live_rows())
    }

    /// Rows of one partition.
    pub fn partition_row_count(&self, db: &str, collection: &str, partition: &str) -> Result<u64> {
        let meta = self.collection_meta(db, collection)?;
        let id = meta.partition(partition).map(|p| p.id).ok_or_else(|| {
            EngineError::PartitionNotFound {
                partition: partition.to_string(),
            }
        })?;
        let snap = self.store(&meta)?.snapshot();
        Ok(scan(&snap, None, Some(&[id])).len() as u64)
    }
}

/// The partition ids a read covers: `None` for all of them (when all are loaded); the loaded
/// ones, or those named (each must exist and be loaded).
fn searched_partitions(meta: &CollectionMeta, names: &[String]) -> Result<Option<Vec<i64>>> {
    if names.is_empty() {
        return Ok(meta.partitions.iter().any(|p| p.released).then(|| {
            meta.partitions
                .iter()
                .filter(|p| !p.released)
                .map(|p| p.id)
                .collect()
        }));
    }
    if meta.schema.fields.iter().any(|f| f.is_partition_key) {
        return Err(EngineError::invalid(
            "not support manually specifying the partition names if partition key mode is used",
        ));
    }
    let mut ids = Vec::new();
    for name in names {
        let p = meta
            .partition(name)
            .ok_or_else(|| EngineError::PartitionNotFound {
                partition: name.clone(),
            })?;
        if p.released {
            return Err(EngineError::PartitionNotLoaded {
                partition: name.clone(),
            });
        }
        ids.push(p.id);
    }
    Ok(Some(ids))
}

/// Fills the fields a partial upsert left out: from each key's stored row, else null/default.
fn merge_stored(
    schema: &rivus_schema::CollectionSchema,
    pk_name: &str,
    given: &[String],
    columns: &mut ColumnBatch,
    current: &Snapshot,
    locate: store::Locate<'_>,
) -> Result<()> {
    let n = columns.num_rows();
    let pks = columns.column(pk_name).and_then(pks_of).ok_or_else(|| {
        EngineError::invalid(format!(
            "must assign pk when upsert, primary field: {pk_name}"
        ))
    })?;
    let old: Vec<Option<(usize, usize)>> = pks
        .iter()
        .map(|pk| {
            locate(std::slice::from_ref(pk))
                .first()
                .map(|&(c, r)| (c as usize, r as usize))
        })
        .collect();
    let mut missing: Vec<String> = schema
        .fields
        .iter()
        .filter(|f| !f.is_function_output && !given.contains(&f.name))
        .map(|f| f.name.clone())
        .collect();
    if schema.enable_dynamic_field && !given.iter().any(|g| g == rivus_expr::META) {
        missing.push(rivus_expr::META.to_string());
    }
    for name in missing {
        let field = schema.field(&name);
        let filler = match field {
            Some(f) => validate::absent(f, 1).ok(),
            None => Some(Column::new(ColumnData::Json(JsonColumn::new(vec![
                serde_json::json!({}),
            ])))),
        };
        let mut parts: Vec<(&Column, Vec<usize>)> = Vec::with_capacity(n);
        for loc in &old {
            let stored =
                loc.and_then(|(c, r)| Some((current.chunks.get(c)?.batch.column(&name)?, r)));
            match (stored, &filler) {
                (Some((col, r)), _) => parts.push((col, vec![r])),
                (None, Some(f)) => parts.push((f, vec![0])),
                (None, None) => {
                    return Err(EngineError::invalid(format!(
                        "fieldSchema({name}) has no corresponding fieldData pass in"
                    )))
                }
            }
        }
        let refs: Vec<(&Column, &[usize])> =
            parts.iter().map(|(c, r)| (*c, r.as_slice())).collect();
        let merged = Column::concat_rows(&refs);
        columns.insert(name, merged);
    }
    Ok(())
}

fn dedup_literals(values: &[Literal]) -> Vec<String> {
    let mut keys: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Rows matching `predicate`, counted without listing them.
fn count_matches(
    snap: &Snapshot,
    predicate: Option<&Predicate>,
    partitions: Option<&[i64]>,
) -> u64 {
    let mut n = 0u64;
    for chunk in snap.chunks.iter() {
        if partitions.is_some_and(|p| !p.contains(&chunk.partition)) {
            continue;
        }
        n += chunk_rows(snap, chunk, predicate).count_ones() as u64;
    }
    n
}

/// The rows of `chunk` visible to `snap` and matching `predicate` (no visibility pass for a
/// chunk whose rows are all visible).
fn chunk_rows(snap: &Snapshot, chunk: &store::Chunk, predicate: Option<&Predicate>) -> Bitmap {
    let all_visible = chunk.all_visible(snap.at);
    match predicate {
        Some(p) if all_visible => sindex::filter_chunk(chunk, p),
        Some(p) => {
            let mut rows = chunk.visible(snap.at);
            rows.and(&sindex::filter_chunk(chunk, p));
            rows
        }
        None if all_visible => Bitmap::ones(chunk.len()),
        None => chunk.visible(snap.at),
    }
}

/// The keys a key-lookup filter (`pk in [..]`, `pk == v`) names; `None` for other filters.
fn lookup_keys(predicate: &Predicate, pk_name: &str) -> Option<Vec<Pk>> {
    let mut keys = Vec::new();
    for v in predicate.primary_key_values(pk_name)? {
        keys.push(match v {
            Literal::Int(i) => Pk::Int(i),
            Literal::Str(s) => Pk::Str(s),
            Literal::Bool(_) | Literal::Float(_) | Literal::List(_) => return None,
        });
    }
    keys.sort_unstable();
    keys.dedup();
    Some(keys)
}

/// A key lookup answered from the key index instead of a scan. `None` (scan instead) when a
/// key's newest row is not visible to this snapshot yet (an older version may be the one it
/// sees).
fn by_key(
    snap: &Snapshot,
    located: &[(u32, u32)],
    partitions: Option<&[i64]>,
) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::with_capacity(located.len());
    for &(c, r) in located {
        let (c, r) = (c as usize, r as usize);
        let chunk = snap.chunks.get(c)?;
        if !chunk.visible_row(r, snap.at) {
            return None;
        }
        if partitions.is_none_or(|p| p.contains(&chunk.partition)) {
            out.push((c, r));
        }
    }
    Some(out)
}

/// (chunk, row) of every visible row matching `predicate` in the given partitions.
fn scan(
    snap: &Snapshot,
    predicate: Option<&Predicate>,
    partitions: Option<&[i64]>,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (c, chunk) in snap.chunks.iter().enumerate() {
        if partitions.is_some_and(|p| !p.contains(&chunk.partition)) {
            continue;
        }
        out.extend(
            chunk_rows(snap, chunk, predicate)
                .iter_ones()
                .map(|r| (c, r)),
        );
    }
    out
}

/// One output column.
enum Output {
    Field(String),
    /// `$meta`, whole (`None`) or only some keys.
    Dynamic(Option<Vec<String>>),
}

impl Output {
    fn name(&self) -> &str {
        match self {
            Output::Field(f) => f,
            Output::Dynamic(_) => rivus_expr::META,
        }
    }
}

fn resolve_outputs(
    schema: &rivus_schema::CollectionSchema,
    requested: &[String],
) -> Result<Vec<Output>> {
    let pk = schema
        .fields
        .iter()
        .find(|f| f.is_primary_key)
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let mut fields: Vec<String> = vec![pk];
    let mut dynamic_all = false;
    let mut dynamic_keys: Vec<String> = Vec::new();
    for name in requested {
        let name = name.trim();
        if name.is_empty() || name == "count(*)" {
            continue;
        }
        if name == "*" {
            for f in &schema.fields {
                if !fields.contains(&f.name) {
                    fields.push(f.name.clone());
                }
            }
            dynamic_all = schema.enable_dynamic_field;
            continue;
        }
        if schema.field(name).is_some() {
            if !fields.iter().any(|f| f == name) {
                fields.push(name.to_string());
            }
        } else if name == rivus_expr::META && schema.enable_dynamic_field {
            dynamic_all = true;
        } else if schema.enable_dynamic_field {
            if !dynamic_keys.iter().any(|k| k == name) {
                dynamic_keys.push(name.to_string());
            }
        } else {
            return Err(EngineError::refused(format!("field {name} not exist")));
        }
    }
    let mut out: Vec<Output> = fields.into_iter().map(Output::Field).collect();
    if dynamic_all {
        out.push(Output::Dynamic(None));
    } else if !dynamic_keys.is_empty() {
        out.push(Output::Dynamic(Some(dynamic_keys)));
    }
    Ok(out)
}

fn gather(
    snap: &Snapshot,
    rows: &[(usize, usize)],
    out: &Output,
    schema: &rivus_schema::CollectionSchema,
) -> Column {
    let name = out.name();
    // Group consecutive rows of one chunk to gather in runs.
    let mut parts: Vec<(&Column, Vec<usize>)> = Vec::new();
    let mut missing = 0usize;
    for &(c, r) in rows {
        let Some(col) = snap.chunks.get(c).and_then(|ch| ch.batch.column(name)) else {
            missing += 1;
            continue;
        };
        match parts.last_mut() {
            Some((last, rs)) if std::ptr::eq(*last, col) => rs.push(r),
            _ => parts.push((col, vec![r])),
        }
    }
    let refs: Vec<(&Column, &[usize])> = parts.iter().map(|(c, r)| (*c, r.as_slice())).collect();
    let mut column = if refs.is_empty() || missing > 0 {
        empty_column(schema, name, rows.len())
    } else {
        Column::concat_rows(&refs)
    };
    if let (Output::Dynamic(Some(keys)), ColumnData::Json(docs)) = (out, &column.data) {
        let filtered: Vec<serde_json::Value> = docs
            .docs()
            .iter()
            .map(|d| {
                let mut m = serde_json::Map::new();
                if let serde_json::Value::Object(obj) = d {
                    for k in keys {
                        if let Some(v) = obj.get(k) {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                serde_json::Value::Object(m)
            })
            .collect();
        column = Column {
            data: ColumnData::Json(JsonColumn::new(filtered)),
            valid: column.valid,
        };
    }
    column
}

/// A column of `n` null/empty rows for a field no chunk has (e.g. `$meta` before any row).
fn empty_column(schema: &rivus_schema::CollectionSchema, name: &str, n: usize) -> Column {
    let data = schema
        .field(name)
        .and_then(|f| validate::placeholder(f, n).ok())
        .map(|c| c.data)
        .unwrap_or_else(|| ColumnData::Json(JsonColumn::new(vec![serde_json::json!({}); n])));
    Column {
        data,
        valid: Some(Bitmap::zeros(n)),
    }
}

#[cfg(test)]
mod tests;
