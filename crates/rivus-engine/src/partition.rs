//! Partitions (catalog side): create, drop, has, list.

use rivus_schema::{validate_name, NameKind};

use crate::catalog::{LoadState, PartitionMeta, DEFAULT_PARTITION};
use crate::collection::{resolve, resolve_mut};
use crate::database::database;
use crate::{Engine, EngineError, Result};

impl Engine {
    /// Creates a partition (alias accepted). Creating an existing partition succeeds.
    pub fn create_partition(&self, db: &str, collection: &str, partition: &str) -> Result<()> {
        let partition = validate_name(NameKind::Partition, partition)?;
        let max = self.config().schema_limits.max_partitions;
        self.catalog().mutate(|state| {
            let id = state.next_id();
            let created_ts = state.next_ts();
            let meta = resolve_mut(state, db, collection)?;
            if meta.schema.partition_key_field().is_some() {
                return Err(EngineError::refused(
                    "disable create partition if partition key mode is used",
                ));
            }
            if meta.partition(&partition).is_some() {
                return Ok(());
            }
            if meta.partitions.len() as i64 >= max {
                return Err(EngineError::refused(format!(
                    "partition number ({}) exceeds max configuration ({max}), collection: {}",
                    meta.partitions.len(),
                    meta.name()
                )));
            }
            // A partition created in a loaded collection is loaded with it (Milvus 2.x).
            meta.partitions.push(PartitionMeta {
                id,
                name: partition,
                created_ts,
                released: false,
            });
            Ok(())
        })
    }

    /// Drops a partition (alias accepted). A missing partition succeeds; `_default`,
    /// partition-key partitions and partitions of a loaded collection are refused.
    pub fn drop_partition(&self, db: &str, collection: &str, partition: &str) -> Result<()> {
        let partition = validate_name(NameKind::Partition, partition)?;
        let dropped = self.catalog().mutate(|state| {
            let meta = resolve_mut(state, db, collection)?;
            if meta.schema.partition_key_field().is_some() {
                return Err(EngineError::refused(
                    "disable drop partition if partition key mode is used",
                ));
            }
            if partition == DEFAULT_PARTITION {
                return Err(EngineError::refused("default partition cannot be deleted"));
            }
            let Some(id) = meta.partition(&partition).map(|p| p.id) else {
                return Ok(None);
            };
            if meta.load_state == LoadState::Loaded {
                return Err(EngineError::refused(
                    "partition cannot be dropped, partition is loaded, please release it first",
                ));
            }
            meta.partitions.retain(|p| p.name != partition);
            Ok(Some((meta.clone(), id)))
        })?;
        // The partition is gone from the catalog; its rows go with it.
        if let Some((meta, id)) = dropped {
            self.purge_partition(&meta, id)?;
        }
        Ok(())
    }

    /// Whether the partition exists (alias accepted).
    pub fn has_partition(&self, db: &str, collection: &str, partition: &str) -> Result<bool> {
        let partition = validate_name(NameKind::Partition, partition)?;
        let state = self.catalog().snapshot();
        Ok(resolve(database(&state, db)?, collection)?
            .partition(&partition)
            .is_some())
    }

    /// The partitions of a collection in creation order (alias accepted).
    pub fn list_partitions(&self, db: &str, collection: &str) -> Result<Vec<PartitionMeta>> {
        let state = self.catalog().snapshot();
        Ok(resolve(database(&state, db)?, collection)?
            .partitions
            .clone())
    }
}
