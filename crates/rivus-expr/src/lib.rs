//! rivus-expr: Milvus's boolean filter expressions (`filter=` in query, search, delete).
//!
//! Pipeline: [`lexer`] → [`parser`] (a Pratt parser producing [`ast::Expr`] with byte spans)
//! → binder (against a collection schema) → evaluation into a row bitmap. This crate has no
//! I/O and no storage knowledge; it sees collections only through `rivus-schema`.
//!
//! Errors ([`ExprError`]) carry the byte span they are about, so callers can render a caret
//! under the offending part ([`ExprError::render`]). No input panics the parser: nesting
//! deeper than [`parser::MAX_DEPTH`] is refused.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod ast;
mod binder;
mod error;
mod eval;
pub mod lexer;
pub mod parser;
pub mod plan;
mod simd;
mod span;

pub use binder::{bind, Templates, META};
pub use error::{ExprError, Result};
pub use eval::{evaluate, evaluate_with, like, NoScalarIndex, ScalarIndex};
pub use parser::parse;
pub use span::Span;
