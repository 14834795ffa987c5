//! Oversized requests answered as Milvus answers them.
//!
//! tonic refuses a request over its decoding limit with `OUT_OF_RANGE`, which pymilvus
//! retries 75 times (minutes) before giving up; Milvus (grpc-go) answers `RESOURCE_EXHAUSTED`,
//! which pymilvus reports at once. This wrapper rewrites that one status on the way out.

use std::task::{Context, Poll};

use tonic::codegen::http::{HeaderValue, Request, Response};
use tonic::codegen::{BoxFuture, Service};
use tonic::server::NamedService;

/// gRPC status codes (the numbers on the wire).
const OUT_OF_RANGE: &[u8] = b"11";
const RESOURCE_EXHAUSTED: &str = "8";

/// Wraps a gRPC service, turning tonic's "message too large" into `RESOURCE_EXHAUSTED`.
#[derive(Debug, Clone)]
pub struct SizeLimitStatus<S>(pub S);

impl<S: NamedService> NamedService for SizeLimitStatus<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, R> Service<Request<B>> for SizeLimitStatus<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let future = self.0.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            let headers = response.headers_mut();
            let too_large = headers
                .get("grpc-status")
                .is_some_and(|s| s.as_bytes() == OUT_OF_RANGE)
                && headers
                    .get("grpc-message")
                    .and_then(|m| m.to_str().ok())
                    // grpc-message is percent-encoded on the wire.
                    .is_some_and(|m| {
                        m.contains("message length too large")
                            || m.contains("message%20length%20too%20large")
                    });
            if too_large {
                headers.insert("grpc-status", HeaderValue::from_static(RESOURCE_EXHAUSTED));
            }
            Ok(response)
        })
    }
}
