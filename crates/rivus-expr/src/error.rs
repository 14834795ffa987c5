//! Expression errors, each with the byte span of the input it is about.

use crate::Span;

/// Result of parsing or binding an expression.
pub type Result<T> = std::result::Result<T, ExprError>;

/// An expression Milvus would refuse (always the user's fault; Milvus code 1100).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// What is wrong, worded for the user.
    pub message: String,
    /// Where in the expression (byte offsets).
    pub span: Span,
}

impl ExprError {
    /// An error about `span`.
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        ExprError {
            message: message.into(),
            span,
        }
    }

    /// The expression with a caret line under the span, for messages and logs.
    pub fn render(&self, input: &str) -> String {
        let start = self.span.start.min(input.len());
        let width = self.span.end.saturating_sub(self.span.start).max(1);
        let pad: String = input
            .get(..start)
            .unwrap_or_default()
            .chars()
            .map(|_| ' ')
            .collect();
        format!("{}\n{input}\n{pad}{}", self.message, "^".repeat(width))
    }
}
