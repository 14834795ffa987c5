//! The syntax tree of a filter expression, as parsed, before any schema is consulted.

use crate::Span;

/// One step of a JSON or array path: `["key"]` or `[0]`.
#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    Key(String),
    Index(i64),
}

/// A reference to a field, the dynamic field (`$meta`), or a path inside one.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// The field name; `$meta` for the dynamic field.
    pub name: String,
    pub path: Vec<PathStep>,
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
    BitNot,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinaryOp {
    /// Whether the operator compares (gives a boolean from two values).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne
        )
    }
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// What an expression node is.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    List(Vec<Expr>),
    /// `{name}`, filled from the request's template values.
    Template(String),
    Field(FieldRef),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// A chained comparison `lower op field op upper`; `ascending` is true for `<`/`<=`
    /// chains and false for `>`/`>=` chains.
    Range {
        lower: Box<Expr>,
        lower_inclusive: bool,
        field: FieldRef,
        upper: Box<Expr>,
        upper_inclusive: bool,
        ascending: bool,
    },
    In {
        expr: Box<Expr>,
        list: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: String,
    },
    IsNull {
        field: FieldRef,
        negated: bool,
    },
    Exists(FieldRef),
    Call {
        name: String,
        args: Vec<Expr>,
    },
}
