//! rivus-server: the Milvus gRPC protocol in front of the rivus engine.
//!
//! The adapter only translates: each RPC reads its request, calls one engine method on the
//! blocking pool, and writes the answer or the Milvus status for the error
//! ([`status`]). RPCs with no engine capability behind them keep the UNIMPLEMENTED stub that
//! `milvus-sdk-rust` generates; `docs/compat.md` lists the state of every RPC.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod service;
mod session;
pub mod status;
mod translate;

use std::future::Future;

use milvus::proto::milvus::milvus_service_server::MilvusServiceServer;
use rivus_engine::Engine;
use tokio::net::TcpListener;

mod fast_insert;
mod limits;
pub use service::RivusService;

/// Largest request the server accepts (Milvus `proxy.grpc.serverMaxRecvSize`, 64 MiB): a
/// bigger insert is refused by gRPC (RESOURCE_EXHAUSTED) before anything is stored.
pub const MAX_RECV_BYTES: usize = 64 * 1024 * 1024;
/// Largest response the server sends (Milvus `proxy.grpc.serverMaxSendSize`, 256 MiB).
pub const MAX_SEND_BYTES: usize = 256 * 1024 * 1024;

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves the Milvus protocol on `listener` until `shutdown` resolves, then stops accepting,
/// lets in-flight requests finish and returns.
pub async fn serve(
    engine: Engine,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let rivus = std::sync::Arc::new(RivusService::new(engine));
    let generated = MilvusServiceServer::from_arc(std::sync::Arc::clone(&rivus))
        .max_decoding_message_size(MAX_RECV_BYTES)
        .max_encoding_message_size(MAX_SEND_BYTES);
    let service = fast_insert::FastWrites {
        inner: generated,
        service: rivus,
        max_decoding: MAX_RECV_BYTES,
        max_encoding: MAX_SEND_BYTES,
    };
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        // pymilvus pings every 10 s; hyper/h2 never answers "too many pings", and we also
        // keep idle connections alive from our side.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .add_service(limits::SizeLimitStatus(service))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
