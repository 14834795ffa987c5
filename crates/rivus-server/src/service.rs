//! `MilvusService` for rivus: one short method per RPC (translate in, call the engine,
//! translate out). RPCs not listed here answer UNIMPLEMENTED through the generated default
//! stubs.

// The `MilvusService` trait fixes `tonic::Status` as the error type of every RPC.
#![allow(clippy::result_large_err)]

use milvus::proto::common::{
    self, ConsistencyLevel as PbConsistency, IndexState, LoadState as PbLoadState, ServerInfo,
    Status,
};
use milvus::proto::milvus::milvus_service_server::MilvusService;
use milvus::proto::milvus::*;
use milvus::proto::schema as pb_schema;
use prost::Message;
use rivus_engine::{
    CollectionMeta, ConsistencyLevel, CreateCollection, CreateIndex, Engine, EngineError, Keys,
    LoadState, Query, Rows, WriteResult,
};
use tonic::{Request, Response};

use crate::session::{blocking, database_name};
use crate::status;
use crate::translate::data;
use crate::translate::schema::{schema_from, schema_to};
use crate::translate::search;
use crate::translate::{properties_from, properties_to};

type RpcResult<T> = Result<Response<T>, tonic::Status>;

/// The Milvus service over one engine.
#[derive(Debug, Clone)]
pub struct RivusService {
    engine: Engine,
}

impl RivusService {
    /// Serves `engine`.
    pub fn new(engine: Engine) -> Self {
        RivusService { engine }
    }

    /// Runs `call` with a clone of the engine on the blocking pool.
    async fn run<T, F>(&self, rpc: &'static str, db: &str, call: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(Engine) -> Result<T, EngineError> + Send + 'static,
    {
        let engine = self.engine.clone();
        blocking(rpc, db, move || call(engine)).await
    }
}

/// A `common.Status` answer from a unit result.
fn status_of(result: Result<(), EngineError>) -> RpcResult<Status> {
    Ok(Response::new(match result {
        Ok(()) => status::ok(),
        Err(e) => status::from_error(&e),
    }))
}

/// An answer that carries a status field: `build` on success, `fail` with the error status.
fn reply<T, R>(
    result: Result<T, EngineError>,
    build: impl FnOnce(T) -> R,
    fail: impl FnOnce(Status) -> R,
) -> RpcResult<R> {
    Ok(Response::new(match result {
        Ok(value) => build(value),
        Err(e) => fail(status::from_error(&e)),
    }))
}

fn consistency_to(level: ConsistencyLevel) -> i32 {
    level.code()
}

fn load_state_to(state: LoadState) -> PbLoadState {
    match state {
        LoadState::NotExist => PbLoadState::NotExist,
        LoadState::NotLoad => PbLoadState::NotLoad,
        LoadState::Loaded => PbLoadState::Loaded,
    }
}

fn physical_ms(ts: u64) -> u64 {
    rivus_engine::catalog::physical_ms(ts)
}

fn channel_names(collection: &CollectionMeta) -> Vec<String> {
    (0..collection.shards_num.max(1))
        .map(|i| format!("rivus-dml_{i}_{}v{i}", collection.id))
        .collect()
}

#[allow(deprecated)] // Milvus still fills the deprecated in-memory fields for ShowType::InMemory.
#[tonic::async_trait]
impl MilvusService for RivusService {
    // ---- connection ----------------------------------------------------------------------

    async fn connect(&self, request: Request<ConnectRequest>) -> RpcResult<ConnectResponse> {
        let db = database_name("", request.metadata());
        let result = self
            .run("Connect", &db.clone(), move |engine| {
                engine.describe_database(&db)?;
                Ok(engine.allocate_timestamp())
            })
            .await;
        reply(
            result,
            |ts| ConnectResponse {
                status: Some(status::ok()),
                server_info: Some(ServerInfo {
                    build_tags: format!("rivus-{}", env!("CARGO_PKG_VERSION")),
                    deploy_mode: "STANDALONE".into(),
                    ..Default::default()
                }),
                identifier: i64::try_from(ts).unwrap_or(i64::MAX),
            },
            |s| ConnectResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn get_version(
        &self,
        _request: Request<GetVersionRequest>,
    ) -> RpcResult<GetVersionResponse> {
        Ok(Response::new(GetVersionResponse {
            status: Some(status::ok()),
            version: format!("rivus-{}", env!("CARGO_PKG_VERSION")),
        }))
    }

    async fn check_health(
        &self,
        _request: Request<CheckHealthRequest>,
    ) -> RpcResult<CheckHealthResponse> {
        let reasons = self.engine.health();
        Ok(Response::new(CheckHealthResponse {
            status: Some(status::ok()),
            is_healthy: reasons.is_empty(),
            reasons,
            quota_states: Vec::new(),
        }))
    }

    async fn alloc_timestamp(
        &self,
        _request: Request<AllocTimestampRequest>,
    ) -> RpcResult<AllocTimestampResponse> {
        Ok(Response::new(AllocTimestampResponse {
            status: Some(status::ok()),
            timestamp: self.engine.allocate_timestamp(),
        }))
    }

    // ---- databases -----------------------------------------------------------------------

    async fn create_database(&self, request: Request<CreateDatabaseRequest>) -> RpcResult<Status> {
        let CreateDatabaseRequest {
            base: _,
            db_name,
            properties,
        } = request.into_inner();
        let props = properties_from(properties);
        status_of(
            self.run("CreateDatabase", &db_name.clone(), move |e| {
                e.create_database(&db_name, props)
            })
            .await,
        )
    }

    async fn drop_database(&self, request: Request<DropDatabaseRequest>) -> RpcResult<Status> {
        let DropDatabaseRequest { base: _, db_name } = request.into_inner();
        status_of(
            self.run("DropDatabase", &db_name.clone(), move |e| {
                e.drop_database(&db_name)
            })
            .await,
        )
    }

    async fn list_databases(
        &self,
        _request: Request<ListDatabasesRequest>,
    ) -> RpcResult<ListDatabasesResponse> {
        let result = self
            .run("ListDatabases", "", |e| Ok(e.list_databases()))
            .await;
        reply(
            result,
            |dbs| ListDatabasesResponse {
                status: Some(status::ok()),
                db_names: dbs.iter().map(|d| d.name.clone()).collect(),
                created_timestamp: dbs.iter().map(|d| d.created_ts).collect(),
                db_ids: dbs.iter().map(|d| d.id).collect(),
            },
            |s| ListDatabasesResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn describe_database(
        &self,
        request: Request<DescribeDatabaseRequest>,
    ) -> RpcResult<DescribeDatabaseResponse> {
        let DescribeDatabaseRequest { base: _, db_name } = request.into_inner();
        let result = self
            .run("DescribeDatabase", &db_name.clone(), move |e| {
                e.describe_database(&db_name)
            })
            .await;
        reply(
            result,
            |db| DescribeDatabaseResponse {
                status: Some(status::ok()),
                db_name: db.name.clone(),
                db_id: db.id,
                created_timestamp: db.created_ts,
                properties: properties_to(&db.properties),
            },
            |s| DescribeDatabaseResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn alter_database(&self, request: Request<AlterDatabaseRequest>) -> RpcResult<Status> {
        let AlterDatabaseRequest {
            base: _,
            db_name,
            db_id: _,
            properties,
            delete_keys,
        } = request.into_inner();
        let result = self
            .run("AlterDatabase", &db_name.clone(), move |e| {
                match (properties.is_empty(), delete_keys.is_empty()) {
                    (true, true) => Err(EngineError::refused(
                        "alter database with empty properties and delete keys, expected to set either properties or delete keys",
                    )),
                    (false, false) => Err(EngineError::refused(
                        "alter database cannot modify properties and delete keys at the same time",
                    )),
                    (false, true) => e.alter_database_properties(&db_name, properties_from(properties)),
                    (true, false) => e.drop_database_properties(&db_name, &delete_keys),
                }
            })
            .await;
        status_of(result)
    }

    // ---- collections ---------------------------------------------------------------------

    async fn create_collection(
        &self,
        request: Request<CreateCollectionRequest>,
    ) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let CreateCollectionRequest {
            base: _,
            db_name: _,
            collection_name,
            schema,
            shards_num,
            consistency_level,
            properties,
            num_partitions,
        } = request.into_inner();
        let result = self
            .run("CreateCollection", &db.clone(), move |e| {
                let proto =
                    pb_schema::CollectionSchema::decode(schema.as_slice()).map_err(|err| {
                        EngineError::invalid(format!(
                            "failed to unmarshal collection schema: {err}"
                        ))
                    })?;
                let (schema, schema_props) = schema_from(proto)?;
                let mut props = schema_props;
                for (k, v) in properties_from(properties).iter() {
                    props.set(k, v);
                }
                let consistency_level =
                    ConsistencyLevel::from_code(consistency_level).ok_or_else(|| {
                        EngineError::invalid(format!(
                            "invalid consistency level: {consistency_level}"
                        ))
                    })?;
                e.create_collection(
                    &db,
                    CreateCollection {
                        name: collection_name,
                        schema,
                        shards_num,
                        consistency_level,
                        properties: props,
                        num_partitions,
                    },
                )
            })
            .await;
        status_of(result)
    }

    async fn drop_collection(&self, request: Request<DropCollectionRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let DropCollectionRequest {
            base: _,
            db_name: _,
            collection_name,
        } = request.into_inner();
        status_of(
            self.run("DropCollection", &db.clone(), move |e| {
                e.drop_collection(&db, &collection_name)
            })
            .await,
        )
    }

    async fn has_collection(
        &self,
        request: Request<HasCollectionRequest>,
    ) -> RpcResult<BoolResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let HasCollectionRequest {
            base: _,
            db_name: _,
            collection_name,
            time_stamp: _,
        } = request.into_inner();
        let result = self
            .run("HasCollection", &db.clone(), move |e| {
                e.has_collection(&db, &collection_name)
            })
            .await;
        reply(
            result,
            |value| BoolResponse {
                status: Some(status::ok()),
                value,
            },
            |s| BoolResponse {
                status: Some(s),
                value: false,
            },
        )
    }

    async fn describe_collection(
        &self,
        request: Request<DescribeCollectionRequest>,
    ) -> RpcResult<DescribeCollectionResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let DescribeCollectionRequest {
            base: _,
            db_name: _,
            collection_name,
            collection_id,
            time_stamp: _,
        } = request.into_inner();
        let result = self
            .run("DescribeCollection", &db.clone(), move |e| {
                if collection_name.is_empty() && collection_id != 0 {
                    return Err(EngineError::unsupported(
                        "describe_collection by collection id",
                    ));
                }
                e.describe_collection(&db, &collection_name)
            })
            .await;
        reply(
            result,
            |d| {
                let c = &d.collection;
                DescribeCollectionResponse {
                    status: Some(status::ok()),
                    schema: Some(schema_to(&c.schema, &c.properties, &d.database)),
                    collection_id: c.id,
                    virtual_channel_names: channel_names(c),
                    physical_channel_names: channel_names(c),
                    created_timestamp: c.created_ts,
                    created_utc_timestamp: physical_ms(c.created_ts),
                    shards_num: c.shards_num,
                    aliases: d.aliases.clone(),
                    consistency_level: consistency_to(c.consistency_level),
                    collection_name: c.name().to_string(),
                    properties: properties_to(&c.properties),
                    db_name: d.database.clone(),
                    num_partitions: c.partitions.len() as i64,
                    db_id: d.database_id,
                    ..Default::default()
                }
            },
            |s| DescribeCollectionResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn show_collections(
        &self,
        request: Request<ShowCollectionsRequest>,
    ) -> RpcResult<ShowCollectionsResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let ShowCollectionsRequest {
            base: _,
            db_name: _,
            time_stamp: _,
            r#type,
            collection_names,
        } = request.into_inner();
        let in_memory = r#type == ShowType::InMemory as i32;
        let result = self
            .run("ShowCollections", &db.clone(), move |e| {
                let all = e.list_collections(&db)?;
                if collection_names.is_empty() {
                    return Ok(all);
                }
                // Milvus answers for the requested names only, and fails on a missing one.
                collection_names
                    .iter()
                    .map(|n| {
                        all.iter()
                            .find(|c| c.name() == n)
                            .cloned()
                            .ok_or_else(|| EngineError::collection_not_found_in(&db, n.clone()))
                    })
                    .collect()
            })
            .await;
        reply(
            result,
            |list| ShowCollectionsResponse {
                status: Some(status::ok()),
                collection_names: list.iter().map(|c| c.name().to_string()).collect(),
                collection_ids: list.iter().map(|c| c.id).collect(),
                created_timestamps: list.iter().map(|c| c.created_ts).collect(),
                created_utc_timestamps: list.iter().map(|c| physical_ms(c.created_ts)).collect(),
                in_memory_percentages: if in_memory {
                    list.iter()
                        .map(|c| {
                            if c.load_state == LoadState::Loaded {
                                100
                            } else {
                                0
                            }
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                query_service_available: if in_memory {
                    list.iter()
                        .map(|c| c.load_state == LoadState::Loaded)
                        .collect()
                } else {
                    Vec::new()
                },
                shards_num: list.iter().map(|c| c.shards_num).collect(),
            },
            |s| ShowCollectionsResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn rename_collection(
        &self,
        request: Request<RenameCollectionRequest>,
    ) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let RenameCollectionRequest {
            base: _,
            db_name: _,
            old_name,
            new_name,
            new_db_name,
        } = request.into_inner();
        status_of(
            self.run("RenameCollection", &db.clone(), move |e| {
                e.rename_collection(&db, &old_name, &new_db_name, &new_name)
            })
            .await,
        )
    }

    async fn get_collection_statistics(
        &self,
        request: Request<GetCollectionStatisticsRequest>,
    ) -> RpcResult<GetCollectionStatisticsResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let GetCollectionStatisticsRequest {
            base: _,
            db_name: _,
            collection_name,
        } = request.into_inner();
        let result = self
            .run("GetCollectionStatistics", &db.clone(), move |e| {
                e.collection_row_count(&db, &collection_name)
            })
            .await;
        reply(
            result,
            |rows| GetCollectionStatisticsResponse {
                status: Some(status::ok()),
                stats: vec![common::KeyValuePair {
                    key: "row_count".into(),
                    value: rows.to_string(),
                }],
            },
            |s| GetCollectionStatisticsResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn alter_collection(
        &self,
        request: Request<AlterCollectionRequest>,
    ) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let AlterCollectionRequest {
            base: _,
            db_name: _,
            collection_name,
            collection_id: _,
            properties,
            delete_keys,
        } = request.into_inner();
        let result = self
            .run("AlterCollection", &db.clone(), move |e| {
                if !properties.is_empty() && !delete_keys.is_empty() {
                    return Err(EngineError::refused(
                        "can not provide properties and deletekeys at the same time",
                    ));
                }
                if delete_keys.is_empty() {
                    e.alter_collection_properties(
                        &db,
                        &collection_name,
                        properties_from(properties),
                    )
                } else {
                    e.drop_collection_properties(&db, &collection_name, &delete_keys)
                }
            })
            .await;
        status_of(result)
    }

    async fn load_collection(&self, request: Request<LoadCollectionRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let LoadCollectionRequest {
            base: _,
            db_name: _,
            collection_name,
            replica_number,
            resource_groups,
            refresh,
            load_fields,
            skip_load_dynamic_field,
            load_params: _,
        } = request.into_inner();
        let result = self
            .run("LoadCollection", &db.clone(), move |e| {
                if replica_number > 1 {
                    return Err(EngineError::unsupported(format!(
                        "loading {replica_number} replicas (rivus runs one node; use replica_number=1)"
                    )));
                }
                if !resource_groups.is_empty() {
                    return Err(EngineError::unsupported("resource groups"));
                }
                if !load_fields.is_empty() || skip_load_dynamic_field {
                    return Err(EngineError::unsupported("loading a subset of fields"));
                }
                if refresh {
                    let (state, _) = e.load_state(&db, &collection_name, &[]).map(|s| (s, ()))?;
                    if state != LoadState::Loaded {
                        return Err(EngineError::CollectionNotLoaded { collection: collection_name });
                    }
                    return Ok(());
                }
                e.load_collection(&db, &collection_name)
            })
            .await;
        status_of(result)
    }

    async fn release_collection(
        &self,
        request: Request<ReleaseCollectionRequest>,
    ) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let ReleaseCollectionRequest {
            base: _,
            db_name: _,
            collection_name,
        } = request.into_inner();
        status_of(
            self.run("ReleaseCollection", &db.clone(), move |e| {
                e.release_collection(&db, &collection_name)
            })
            .await,
        )
    }

    async fn get_load_state(
        &self,
        request: Request<GetLoadStateRequest>,
    ) -> RpcResult<GetLoadStateResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let GetLoadStateRequest {
            base: _,
            collection_name,
            partition_names,
            db_name: _,
        } = request.into_inner();
        let result = self
            .run("GetLoadState", &db.clone(), move |e| {
                e.load_state(&db, &collection_name, &partition_names)
            })
            .await;
        reply(
            result,
            |state| GetLoadStateResponse {
                status: Some(status::ok()),
                state: load_state_to(state) as i32,
            },
            |s| GetLoadStateResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn get_loading_progress(
        &self,
        request: Request<GetLoadingProgressRequest>,
    ) -> RpcResult<GetLoadingProgressResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let GetLoadingProgressRequest {
            base: _,
            collection_name,
            partition_names,
            db_name: _,
        } = request.into_inner();
        let result = self
            .run("GetLoadingProgress", &db.clone(), move |e| {
                let description = e
                    .describe_collection(&db, &collection_name)
                    .map_err(|err| {
                        if let EngineError::CannotFindCollection {
                            database,
                            collection,
                        } = err
                        {
                            EngineError::collection_not_found_in(&database, collection)
                        } else {
                            err
                        }
                    })?;
                let collection = description.collection;
                for p in &partition_names {
                    if collection.partition(p).is_none() {
                        return Err(EngineError::PartitionNotFound {
                            partition: p.clone(),
                        });
                    }
                }
                if collection.load_state != LoadState::Loaded {
                    return Err(EngineError::CollectionNotLoaded {
                        collection: collection.id.to_string(),
                    });
                }
                Ok(())
            })
            .await;
        reply(
            result,
            |()| GetLoadingProgressResponse {
                status: Some(status::ok()),
                progress: 100,
                refresh_progress: 100,
            },
            |s| GetLoadingProgressResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    // ---- aliases -------------------------------------------------------------------------

    async fn create_alias(&self, request: Request<CreateAliasRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let CreateAliasRequest {
            base: _,
            db_name: _,
            collection_name,
            alias,
        } = request.into_inner();
        status_of(
            self.run("CreateAlias", &db.clone(), move |e| {
                e.create_alias(&db, &alias, &collection_name)
            })
            .await,
        )
    }

    async fn alter_alias(&self, request: Request<AlterAliasRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let AlterAliasRequest {
            base: _,
            db_name: _,
            collection_name,
            alias,
        } = request.into_inner();
        status_of(
            self.run("AlterAlias", &db.clone(), move |e| {
                e.alter_alias(&db, &alias, &collection_name)
            })
            .await,
        )
    }

    async fn drop_alias(&self, request: Request<DropAliasRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let DropAliasRequest {
            base: _,
            db_name: _,
            alias,
        } = request.into_inner();
        status_of(
            self.run("DropAlias", &db.clone(), move |e| e.drop_alias(&db, &alias))
                .await,
        )
    }

    async fn describe_alias(
        &self,
        request: Request<DescribeAliasRequest>,
    ) -> RpcResult<DescribeAliasResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let DescribeAliasRequest {
            base: _,
            db_name: _,
            alias,
        } = request.into_inner();
        let (db_echo, alias_echo) = (db.clone(), alias.clone());
        let result = self
            .run("DescribeAlias", &db.clone(), move |e| {
                e.describe_alias(&db, &alias)
            })
            .await;
        reply(
            result,
            |collection| DescribeAliasResponse {
                status: Some(status::ok()),
                db_name: db_echo,
                alias: alias_echo,
                collection,
            },
            |s| DescribeAliasResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn list_aliases(
        &self,
        request: Request<ListAliasesRequest>,
    ) -> RpcResult<ListAliasesResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let ListAliasesRequest {
            base: _,
            db_name: _,
            collection_name,
        } = request.into_inner();
        let (db_echo, collection_echo) = (db.clone(), collection_name.clone());
        let result = self
            .run("ListAliases", &db.clone(), move |e| {
                e.list_aliases(&db, &collection_name)
            })
            .await;
        reply(
            result,
            |aliases| ListAliasesResponse {
                status: Some(status::ok()),
                db_name: db_echo,
                collection_name: collection_echo,
                aliases,
            },
            |s| ListAliasesResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    // ---- partitions ----------------------------------------------------------------------

    async fn create_partition(
        &self,
        request: Request<CreatePartitionRequest>,
    ) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let CreatePartitionRequest {
            base: _,
            db_name: _,
            collection_name,
            partition_name,
        } = request.into_inner();
        status_of(
            self.run("CreatePartition", &db.clone(), move |e| {
                e.create_partition(&db, &collection_name, &partition_name)
            })
            .await,
        )
    }

    async fn drop_partition(&self, request: Request<DropPartitionRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let DropPartitionRequest {
            base: _,
            db_name: _,
            collection_name,
            partition_name,
        } = request.into_inner();
        status_of(
            self.run("DropPartition", &db.clone(), move |e| {
                e.drop_partition(&db, &collection_name, &partition_name)
            })
            .await,
        )
    }

    async fn has_partition(
        &self,
        request: Request<HasPartitionRequest>,
    ) -> RpcResult<BoolResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let HasPartitionRequest {
            base: _,
            db_name: _,
            collection_name,
            partition_name,
        } = request.into_inner();
        let result = self
            .run("HasPartition", &db.clone(), move |e| {
                e.has_partition(&db, &collection_name, &partition_name)
            })
            .await;
        reply(
            result,
            |value| BoolResponse {
                status: Some(status::ok()),
                value,
            },
            |s| BoolResponse {
                status: Some(s),
                value: false,
            },
        )
    }

    async fn show_partitions(
        &self,
        request: Request<ShowPartitionsRequest>,
    ) -> RpcResult<ShowPartitionsResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let ShowPartitionsRequest {
            base: _,
            db_name: _,
            collection_name,
            collection_id: _,
            partition_names,
            r#type,
        } = request.into_inner();
        let in_memory = r#type == ShowType::InMemory as i32;
        let result = self
            .run("ShowPartitions", &db.clone(), move |e| {
                let loaded =
                    e.load_state(&db, &collection_name, &partition_names)? == LoadState::Loaded;
                let mut partitions = e.list_partitions(&db, &collection_name)?;
                if !partition_names.is_empty() {
                    partitions.retain(|p| partition_names.contains(&p.name));
                }
                Ok((partitions, loaded))
            })
            .await;
        reply(
            result,
            |(partitions, loaded)| ShowPartitionsResponse {
                status: Some(status::ok()),
                partition_names: partitions.iter().map(|p| p.name.clone()).collect(),
                partition_i_ds: partitions.iter().map(|p| p.id).collect(),
                created_timestamps: partitions.iter().map(|p| p.created_ts).collect(),
                created_utc_timestamps: partitions
                    .iter()
                    .map(|p| physical_ms(p.created_ts))
                    .collect(),
                in_memory_percentages: if in_memory {
                    partitions
                        .iter()
                        .map(|_| if loaded { 100 } else { 0 })
                        .collect()
                } else {
                    Vec::new()
                },
            },
            |s| ShowPartitionsResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    // ---- indexes -------------------------------------------------------------------------

    async fn create_index(&self, request: Request<CreateIndexRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let CreateIndexRequest {
            base: _,
            db_name: _,
            collection_name,
            field_name,
            extra_params,
            index_name,
        } = request.into_inner();
        let result = self
            .run("CreateIndex", &db.clone(), move |e| {
                let mut params = rivus_schema::Properties::new();
                for pair in extra_params {
                    // Older clients nest build parameters as JSON under "params".
                    if pair.key == "params" {
                        let nested: serde_json::Map<String, serde_json::Value> =
                            serde_json::from_str(&pair.value).map_err(|err| {
                                EngineError::invalid(format!(
                                    "invalid index params {}: {err}",
                                    pair.value
                                ))
                            })?;
                        for (k, v) in nested {
                            let v = if let serde_json::Value::String(s) = v {
                                s
                            } else {
                                v.to_string()
                            };
                            params.set(k, v);
                        }
                    } else {
                        params.set(pair.key, pair.value);
                    }
                }
                e.create_index(
                    &db,
                    &collection_name,
                    CreateIndex {
                        field_name,
                        index_name,
                        params,
                    },
                )
            })
            .await;
        status_of(result)
    }

    async fn describe_index(
        &self,
        request: Request<DescribeIndexRequest>,
    ) -> RpcResult<DescribeIndexResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let DescribeIndexRequest {
            base: _,
            db_name: _,
            collection_name,
            field_name,
            index_name,
            timestamp: _,
        } = request.into_inner();
        let result = self
            .run("DescribeIndex", &db.clone(), move |e| {
                let indexes = e.describe_index(&db, &collection_name, &index_name, &field_name)?;
                let mut out = Vec::with_capacity(indexes.len());
                for i in indexes {
                    let progress = e.index_progress(&db, &collection_name, i.id)?;
                    out.push((i, progress));
                }
                Ok(out)
            })
            .await;
        reply(
            result,
            |indexes| DescribeIndexResponse {
                status: Some(status::ok()),
                index_descriptions: indexes
                    .iter()
                    .map(|(i, (total, indexed))| IndexDescription {
                        index_name: i.index_name.clone(),
                        index_id: i.id,
                        params: properties_to(&i.params),
                        field_name: i.field_name.clone(),
                        indexed_rows: *indexed as i64,
                        total_rows: *total as i64,
                        pending_index_rows: total.saturating_sub(*indexed) as i64,
                        state: if indexed >= total {
                            IndexState::Finished as i32
                        } else {
                            IndexState::InProgress as i32
                        },
                        index_state_fail_reason: String::new(),
                        ..Default::default()
                    })
                    .collect(),
            },
            |s| DescribeIndexResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn drop_index(&self, request: Request<DropIndexRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let DropIndexRequest {
            base: _,
            db_name: _,
            collection_name,
            field_name,
            index_name,
        } = request.into_inner();
        status_of(
            self.run("DropIndex", &db.clone(), move |e| {
                e.drop_index(&db, &collection_name, &index_name, &field_name)
            })
            .await,
        )
    }

    async fn load_partitions(&self, request: Request<LoadPartitionsRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let result = self
            .run("LoadPartitions", &db.clone(), move |e| {
                if r.replica_number > 1 {
                    return Err(EngineError::unsupported(format!(
                        "loading {} replicas (rivus runs one node; use replica_number=1)",
                        r.replica_number
                    )));
                }
                if !r.resource_groups.is_empty() {
                    return Err(EngineError::unsupported("resource groups"));
                }
                if r.partition_names.is_empty() {
                    return Err(EngineError::invalid("partition names should not be empty"));
                }
                e.load_partitions(&db, &r.collection_name, &r.partition_names)
            })
            .await;
        status_of(result)
    }

    async fn release_partitions(
        &self,
        request: Request<ReleasePartitionsRequest>,
    ) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let result = self
            .run("ReleasePartitions", &db.clone(), move |e| {
                e.release_partitions(&db, &r.collection_name, &r.partition_names)
            })
            .await;
        status_of(result)
    }

    async fn flush_all(&self, request: Request<FlushAllRequest>) -> RpcResult<FlushAllResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let result = self
            .run("FlushAll", &db.clone(), move |e| {
                for name in e.list_collections(&db)? {
                    e.flush(&db, name.name())?;
                }
                Ok(e.allocate_timestamp())
            })
            .await;
        reply(
            result,
            |ts| FlushAllResponse {
                status: Some(status::ok()),
                flush_all_ts: ts,
                ..Default::default()
            },
            |s| FlushAllResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn get_flush_all_state(
        &self,
        _request: Request<GetFlushAllStateRequest>,
    ) -> RpcResult<GetFlushAllStateResponse> {
        // FlushAll returns once every write is on disk.
        Ok(Response::new(GetFlushAllStateResponse {
            status: Some(status::ok()),
            flushed: true,
            ..Default::default()
        }))
    }

    async fn insert(&self, request: Request<InsertRequest>) -> RpcResult<MutationResult> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let result = self
            .run("Insert", &db.clone(), move |e| {
                write_rows(
                    &e,
                    &db,
                    &r.collection_name,
                    r.partition_name,
                    r.fields_data,
                    r.num_rows,
                    (false, false),
                )
            })
            .await;
        reply(result, |(w, _)| mutation_ok(w, false), mutation_err)
    }

    async fn upsert(&self, request: Request<UpsertRequest>) -> RpcResult<MutationResult> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let result = self
            .run("Upsert", &db.clone(), move |e| {
                write_rows(
                    &e,
                    &db,
                    &r.collection_name,
                    r.partition_name,
                    r.fields_data,
                    r.num_rows,
                    (true, r.partial_update),
                )
            })
            .await;
        reply(result, |(w, _)| mutation_ok(w, true), mutation_err)
    }

    async fn delete(&self, request: Request<DeleteRequest>) -> RpcResult<MutationResult> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let result = self
            .run("Delete", &db.clone(), move |e| {
                let templates = data::templates_from(r.expr_template_values)?;
                let partition = (!r.partition_name.is_empty()).then_some(r.partition_name.as_str());
                e.delete(&db, &r.collection_name, partition, &r.expr, &templates)
            })
            .await;
        reply(
            result,
            |w| MutationResult {
                status: Some(status::ok()),
                delete_cnt: w.count as i64,
                timestamp: w.timestamp,
                ..Default::default()
            },
            mutation_err,
        )
    }

    async fn query(&self, request: Request<QueryRequest>) -> RpcResult<QueryResults> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let collection_name = r.collection_name.clone();
        let result = self
            .run("Query", &db.clone(), move |e| {
                let mut q = Query {
                    filter: r.expr,
                    templates: data::templates_from(r.expr_template_values)?,
                    output_fields: r.output_fields.clone(),
                    partitions: r.partition_names,
                    ..Default::default()
                };
                for kv in &r.query_params {
                    let parse = |v: &str| {
                        v.trim().parse::<i64>().map_err(|_| {
                            EngineError::invalid(format!("{} [{v}] is invalid", kv.key))
                        })
                    };
                    match kv.key.as_str() {
                        "limit" => q.limit = Some(parse(&kv.value)?.max(0) as usize),
                        "offset" => q.offset = parse(&kv.value)?.max(0) as usize,
                        _ => {}
                    }
                }
                let schema = e.collection_schema(&db, &r.collection_name)?;
                let out = e.query(&db, &r.collection_name, &q)?;
                Ok((schema, out, r.output_fields))
            })
            .await;
        reply(
            result,
            |(schema, out, requested)| match out.count {
                Some(count) => QueryResults {
                    status: Some(status::ok()),
                    fields_data: vec![pb_schema::FieldData {
                        r#type: pb_schema::DataType::Int64 as i32,
                        field_name: "count(*)".into(),
                        field: Some(pb_schema::field_data::Field::Scalars(
                            pb_schema::ScalarField {
                                data: Some(pb_schema::scalar_field::Data::LongData(
                                    pb_schema::LongArray {
                                        data: vec![count as i64],
                                    },
                                )),
                                valid_data: Vec::new(),
                            },
                        )),
                        ..Default::default()
                    }],
                    collection_name: collection_name.clone(),
                    output_fields: vec!["count(*)".into()],
                    ..Default::default()
                },
                None => {
                    let mut output_fields: Vec<String> = out
                        .columns
                        .iter()
                        .map(|(n, _)| n.clone())
                        .filter(|n| n != "$meta")
                        .collect();
                    // Dynamic keys asked for by name are reported by name.
                    for f in &requested {
                        let f = f.trim();
                        if f != "*"
                            && !f.is_empty()
                            && schema.field(f).is_none()
                            && !output_fields.iter().any(|o| o == f)
                        {
                            output_fields.push(f.to_string());
                        }
                    }
                    QueryResults {
                        status: Some(status::ok()),
                        fields_data: out
                            .columns
                            .iter()
                            .map(|(name, col)| data::field_from_column(&schema, name, col))
                            .collect(),
                        collection_name: collection_name.clone(),
                        output_fields,
                        ..Default::default()
                    }
                }
            },
            |s| QueryResults {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn search(&self, request: Request<SearchRequest>) -> RpcResult<SearchResults> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let collection_name = r.collection_name.clone();
        let result = self
            .run("Search", &db.clone(), move |e| {
                let (s, iterator) = search::search_from(&r)?;
                let schema = e.collection_schema(&db, &r.collection_name)?;
                let out = e.search(&db, &r.collection_name, &s)?;
                let mut data =
                    search::results_to(&schema, &out, s.vectors.len(), s.limit, &r.output_fields);
                if let Some(page) = iterator {
                    data.search_iterator_v2_results = Some(pb_schema::SearchIteratorV2Results {
                        token: page.token,
                        last_bound: out.scores.last().copied().or(s.after).unwrap_or(0.0),
                    });
                }
                Ok((data, e.allocate_timestamp()))
            })
            .await;
        reply(
            result,
            |(data, ts)| SearchResults {
                status: Some(status::ok()),
                results: Some(data),
                collection_name: collection_name.clone(),
                session_ts: ts,
            },
            |s| SearchResults {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn hybrid_search(
        &self,
        request: Request<HybridSearchRequest>,
    ) -> RpcResult<SearchResults> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let collection_name = r.collection_name.clone();
        let result = self
            .run("HybridSearch", &db.clone(), move |e| {
                let h = search::hybrid_from(&r)?;
                let schema = e.collection_schema(&db, &r.collection_name)?;
                let out = e.hybrid_search(&db, &r.collection_name, &h)?;
                let nq = h.searches.first().map_or(0, |s| s.vectors.len());
                Ok(search::results_to(
                    &schema,
                    &out,
                    nq,
                    h.limit,
                    &r.output_fields,
                ))
            })
            .await;
        reply(
            result,
            |data| SearchResults {
                status: Some(status::ok()),
                results: Some(data),
                collection_name: collection_name.clone(),
                ..Default::default()
            },
            |s| SearchResults {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn flush(&self, request: Request<FlushRequest>) -> RpcResult<FlushResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let names = r.collection_names.clone();
        let result = self
            .run("Flush", &db.clone(), move |e| {
                let mut ts = std::collections::HashMap::new();
                for name in &names {
                    e.flush(&db, name)?;
                    ts.insert(name.clone(), e.allocate_timestamp());
                }
                Ok((db, ts))
            })
            .await;
        reply(
            result,
            |(db, ts)| FlushResponse {
                status: Some(status::ok()),
                db_name: db,
                coll_seg_i_ds: ts
                    .keys()
                    .map(|k| (k.clone(), pb_schema::LongArray { data: vec![] }))
                    .collect(),
                flush_coll_seg_i_ds: ts
                    .keys()
                    .map(|k| (k.clone(), pb_schema::LongArray { data: vec![] }))
                    .collect(),
                coll_seal_times: ts.keys().map(|k| (k.clone(), 0)).collect(),
                coll_flush_ts: ts,
                ..Default::default()
            },
            |s| FlushResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    async fn get_flush_state(
        &self,
        _request: Request<GetFlushStateRequest>,
    ) -> RpcResult<GetFlushStateResponse> {
        // Flush returns only once every write is on disk, so any flush asked about is done.
        Ok(Response::new(GetFlushStateResponse {
            status: Some(status::ok()),
            flushed: true,
        }))
    }

    async fn get_partition_statistics(
        &self,
        request: Request<GetPartitionStatisticsRequest>,
    ) -> RpcResult<GetPartitionStatisticsResponse> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let r = request.into_inner();
        let result = self
            .run("GetPartitionStatistics", &db.clone(), move |e| {
                e.partition_row_count(&db, &r.collection_name, &r.partition_name)
            })
            .await;
        reply(
            result,
            |rows| GetPartitionStatisticsResponse {
                status: Some(status::ok()),
                stats: vec![common::KeyValuePair {
                    key: "row_count".into(),
                    value: rows.to_string(),
                }],
            },
            |s| GetPartitionStatisticsResponse {
                status: Some(s),
                ..Default::default()
            },
        )
    }

    // ---- index properties (alter_index_properties / drop_index_properties) --------------

    async fn alter_index(&self, request: Request<AlterIndexRequest>) -> RpcResult<Status> {
        let db = database_name(&request.get_ref().db_name, request.metadata());
        let AlterIndexRequest {
            base: _,
            db_name: _,
            collection_name,
            index_name,
            extra_params,
            delete_keys,
        } = request.into_inner();
        status_of(
            self.run("AlterIndex", &db.clone(), move |e| {
                let set = properties_from(extra_params);
                e.alter_index(&db, &collection_name, &index_name, &set, &delete_keys)
            })
            .await,
        )
    }
}

#[allow(dead_code)]
fn _consistency_names_stay_in_sync() -> [PbConsistency; 5] {
    [
        PbConsistency::Strong,
        PbConsistency::Session,
        PbConsistency::Bounded,
        PbConsistency::Eventually,
        PbConsistency::Customized,
    ]
}

/// Insert or upsert rows from the wire.
fn write_rows(
    e: &Engine,
    db: &str,
    collection: &str,
    partition: String,
    fields: Vec<pb_schema::FieldData>,
    num_rows: u32,
    (upsert, partial): (bool, bool),
) -> Result<(WriteResult, ()), EngineError> {
    let schema = e.collection_schema(db, collection)?;
    let columns = data::columns_from_fields(&schema, fields, num_rows as usize)?;
    let rows = Rows {
        partition: (!partition.is_empty()).then_some(partition),
        columns,
    };
    let w = if partial {
        e.upsert_partial(db, collection, rows)?
    } else if upsert {
        e.upsert(db, collection, rows)?
    } else {
        e.insert(db, collection, rows)?
    };
    Ok((w, ()))
}

fn mutation_ok(w: WriteResult, upsert: bool) -> MutationResult {
    let n = w.count as i64;
    let ids = match w.keys {
        Keys::Int(v) => pb_schema::i_ds::IdField::IntId(pb_schema::LongArray { data: v }),
        Keys::Str(v) => pb_schema::i_ds::IdField::StrId(pb_schema::StringArray { data: v }),
    };
    MutationResult {
        status: Some(status::ok()),
        i_ds: Some(pb_schema::IDs {
            id_field: Some(ids),
        }),
        succ_index: (0..n as u32).collect(),
        insert_cnt: n,
        upsert_cnt: if upsert { n } else { 0 },
        timestamp: w.timestamp,
        ..Default::default()
    }
}

fn mutation_err(s: Status) -> MutationResult {
    MutationResult {
        status: Some(s),
        ..Default::default()
    }
}
