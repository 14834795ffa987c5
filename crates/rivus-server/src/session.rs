//! Per-request context: which database a request is about, and running engine calls off the
//! async runtime.
//!
//! pymilvus sends the current database only as the `dbname` gRPC metadata header (often as an
//! empty string) and fills the body's `db_name` for a few RPCs. Like Milvus's proxy
//! (`DatabaseInterceptor`) the body wins, then the header, then `default`.

use rivus_engine::{EngineError, DEFAULT_DATABASE};
use tonic::metadata::MetadataMap;
use tracing::Instrument;

/// The database a request addresses.
pub fn database_name(body_db: &str, metadata: &MetadataMap) -> String {
    if !body_db.is_empty() {
        return body_db.to_string();
    }
    metadata
        .get("dbname")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_DATABASE)
        .to_string()
}

/// Runs a synchronous engine call on the blocking pool inside an `rpc` span. A panic in the
/// call becomes an internal error, never a dropped connection.
pub async fn blocking<T, F>(rpc: &'static str, db: &str, call: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
{
    let span = tracing::info_span!("rpc", rpc, db = %db);
    let inner = span.clone();
    async move {
        match tokio::task::spawn_blocking(move || inner.in_scope(call)).await {
            Ok(result) => result,
            Err(join) => Err(EngineError::Internal(format!("{rpc} failed: {join}"))),
        }
    }
    .instrument(span)
    .await
}
