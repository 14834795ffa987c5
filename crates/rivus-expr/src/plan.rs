//! The bound form of a filter: every name resolved against the schema, every literal typed,
//! every template filled. This is what the evaluator runs.

use rivus_schema::DataType;

use crate::ast::PathStep;

/// A constant value of the filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Literal>),
}

impl Literal {
    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Literal::Int(v) => Some(*v as f64),
            Literal::Float(v) => Some(*v),
            Literal::Bool(_) | Literal::Str(_) | Literal::List(_) => None,
        }
    }
}

/// Arithmetic applied to a field before comparing (`age * 2 + 1 > 10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    /// The operator with its sides swapped (`1 < a` is `a > 1`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
        }
    }

    /// Whether `ordering` satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            CmpOp::Lt => ordering == Less,
            CmpOp::Le => ordering != Greater,
            CmpOp::Gt => ordering == Greater,
            CmpOp::Ge => ordering != Less,
            CmpOp::Eq => ordering == Equal,
            CmpOp::Ne => ordering != Equal,
        }
    }
}

/// A value read from each row: a field, possibly a path inside it, possibly with arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// The column read (`$meta` for dynamic keys).
    pub field: String,
    pub data_type: DataType,
    /// Element type of an ARRAY field.
    pub element_type: Option<DataType>,
    /// Keys/indexes into a JSON value, or one index into an ARRAY.
    pub path: Vec<PathStep>,
    pub arith: Vec<(ArithOp, Literal)>,
}

/// How `*_contains*` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainsMode {
    /// `json_contains(f, v)`: the array holds `v`.
    One,
    /// `*_contains_all`: the array holds every value of the list.
    All,
    /// `*_contains_any`: the array holds at least one value of the list.
    Any,
}

/// A bound predicate over rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Const(bool),
    /// A BOOL field (or JSON path) used as a condition by itself.
    Truthy(Operand),
    Compare {
        lhs: Operand,
        op: CmpOp,
        rhs: Literal,
    },
    CompareFields {
        lhs: Operand,
        op: CmpOp,
        rhs: Operand,
    },
    Range {
        operand: Operand,
        lower: Literal,
        lower_inclusive: bool,
        upper: Literal,
        upper_inclusive: bool,
    },
    In {
        operand: Operand,
        values: Vec<Literal>,
        negated: bool,
    },
    Like {
        operand: Operand,
        pattern: String,
    },
    IsNull {
        operand: Operand,
        negated: bool,
    },
    Exists(Operand),
    Contains {
        operand: Operand,
        values: Vec<Literal>,
        mode: ContainsMode,
    },
    ArrayLength {
        operand: Operand,
        op: CmpOp,
        value: i64,
    },
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
}

impl Predicate {
    /// The primary-key values this predicate selects, when it is a key lookup
    /// (`pk in [..]`, `pk == v`, or an `or` of those), so the engine can look rows up by key
    /// instead of scanning. `None` for anything else.
    pub fn primary_key_values(&self, pk_field: &str) -> Option<Vec<Literal>> {
        let plain = |o: &Operand| o.field == pk_field && o.path.is_empty() && o.arith.is_empty();
        match self {
            Predicate::In {
                operand,
                values,
                negated: false,
            } if plain(operand) => Some(values.clone()),
            Predicate::Compare {
                lhs,
                op: CmpOp::Eq,
                rhs,
            } if plain(lhs) => Some(vec![rhs.clone()]),
            Predicate::Or(parts) => {
                let mut all = Vec::new();
                for p in parts {
                    all.extend(p.primary_key_values(pk_field)?);
                }
                Some(all)
            }
            Predicate::In { .. }
            | Predicate::Compare { .. }
            | Predicate::Const(_)
            | Predicate::Truthy(_)
            | Predicate::CompareFields { .. }
            | Predicate::Range { .. }
            | Predicate::Like { .. }
            | Predicate::IsNull { .. }
            | Predicate::Exists(_)
            | Predicate::Contains { .. }
            | Predicate::ArrayLength { .. }
            | Predicate::And(_)
            | Predicate::Not(_) => None,
        }
    }
}
