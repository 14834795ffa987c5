//! Binding: resolves names against a collection schema, types literals, fills templates, and
//! turns the syntax tree into a [`Predicate`].
//!
//! Rules (Milvus `planparserv2`): a name that is not a field goes to the dynamic field
//! (`$meta["name"]`) when the collection has one, else it is an error; vector fields cannot
//! be filtered on; a JSON field is used through a path (`meta["a"]`); comparisons need
//! compatible types (numbers with numbers, strings with strings, booleans only `==`/`!=`);
//! arithmetic applies to one field and constants; `text_match`/`phrase_match` are parsed and
//! bound but refused until full-text search exists.

// Internal dispatch over operator and type sets: a `_` arm is a refusal ("not supported"),
// never a forgotten case; layer crossings elsewhere stay exhaustive.
#![allow(clippy::wildcard_enum_match_arm)]

use std::collections::HashMap;

use rivus_schema::{CollectionSchema, DataType};

use crate::ast::{BinaryOp, Expr, ExprKind, FieldRef, PathStep, UnaryOp};
use crate::plan::{ArithOp, CmpOp, ContainsMode, Literal, Operand, Predicate};
use crate::{ExprError, Result, Span};

/// Name of the dynamic field.
pub const META: &str = "$meta";

/// Template values (`expr_template_values` / `filter_params`).
pub type Templates = HashMap<String, Literal>;

/// Binds `expr` against `schema`.
pub fn bind(expr: &Expr, schema: &CollectionSchema, templates: &Templates) -> Result<Predicate> {
    Binder { schema, templates }.predicate(expr)
}

struct Binder<'a> {
    schema: &'a CollectionSchema,
    templates: &'a Templates,
}

/// A bound sub-expression: a constant, a per-row value, or a predicate.
enum Bound {
    Const(Literal),
    Value(Operand),
    /// `array_length(field)`: only comparable with an integer.
    Length(Operand),
    Pred(Predicate),
}

fn err<T>(message: impl Into<String>, span: Span) -> Result<T> {
    Err(ExprError::new(message, span))
}

fn cmp_op(op: BinaryOp) -> Option<CmpOp> {
    Some(match op {
        BinaryOp::Lt => CmpOp::Lt,
        BinaryOp::Le => CmpOp::Le,
        BinaryOp::Gt => CmpOp::Gt,
        BinaryOp::Ge => CmpOp::Ge,
        BinaryOp::Eq => CmpOp::Eq,
        BinaryOp::Ne => CmpOp::Ne,
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Mod
        | BinaryOp::Pow
        | BinaryOp::Shl
        | BinaryOp::Shr
        | BinaryOp::BitAnd
        | BinaryOp::BitOr
        | BinaryOp::BitXor
        | BinaryOp::And
        | BinaryOp::Or => return None,
    })
}

fn arith_op(op: BinaryOp) -> Option<ArithOp> {
    Some(match op {
        BinaryOp::Add => ArithOp::Add,
        BinaryOp::Sub => ArithOp::Sub,
        BinaryOp::Mul => ArithOp::Mul,
        BinaryOp::Div => ArithOp::Div,
        BinaryOp::Mod => ArithOp::Mod,
        BinaryOp::Pow
        | BinaryOp::Shl
        | BinaryOp::Shr
        | BinaryOp::BitAnd
        | BinaryOp::BitOr
        | BinaryOp::BitXor
        | BinaryOp::Lt
        | BinaryOp::Le
        | BinaryOp::Gt
        | BinaryOp::Ge
        | BinaryOp::Eq
        | BinaryOp::Ne
        | BinaryOp::And
        | BinaryOp::Or => return None,
    })
}

fn type_name(operand: &Operand) -> String {
    if operand.data_type == DataType::Array && !operand.path.is_empty() {
        return operand
            .element_type
            .map(DataType::milvus_name)
            .unwrap_or("None")
            .to_string();
    }
    operand.data_type.milvus_name().to_string()
}

/// The type of the values an operand yields per row (an array element for `arr[0]`).
fn value_type(operand: &Operand) -> DataType {
    if operand.data_type == DataType::Array && !operand.path.is_empty() {
        operand.element_type.unwrap_or(DataType::Json)
    } else {
        operand.data_type
    }
}

fn literal_kind(lit: &Literal) -> &'static str {
    match lit {
        Literal::Bool(_) => "Bool",
        Literal::Int(_) => "Int64",
        Literal::Float(_) => "Double",
        Literal::Str(_) => "VarChar",
        Literal::List(_) => "Array",
    }
}

/// Whether rows of `operand` can be compared with `lit` by `op`.
fn comparable(operand: &Operand, op: CmpOp, lit: &Literal) -> bool {
    let t = value_type(operand);
    if t == DataType::Json {
        return !matches!(lit, Literal::List(_)) || matches!(op, CmpOp::Eq | CmpOp::Ne);
    }
    match lit {
        Literal::Int(_) | Literal::Float(_) => {
            t.is_integer() || matches!(t, DataType::Float | DataType::Double)
        }
        Literal::Str(_) => t == DataType::VarChar,
        Literal::Bool(_) => t == DataType::Bool && matches!(op, CmpOp::Eq | CmpOp::Ne),
        Literal::List(_) => false,
    }
}

impl Binder<'_> {
    fn predicate(&self, expr: &Expr) -> Result<Predicate> {
        match self.bind(expr)? {
            Bound::Pred(p) => Ok(p),
            Bound::Const(Literal::Bool(b)) => Ok(Predicate::Const(b)),
            Bound::Value(operand)
                if value_type(&operand) == DataType::Bool
                    || value_type(&operand) == DataType::Json =>
            {
                Ok(Predicate::Truthy(operand))
            }
            Bound::Value(operand) => err(
                format!(
                    "field {} of type {} is not a boolean condition",
                    operand.field,
                    type_name(&operand)
                ),
                expr.span,
            ),
            Bound::Const(_) => err(
                "a constant that is not a boolean is not a condition",
                expr.span,
            ),
            Bound::Length(_) => err("array_length(...) is a number, not a condition", expr.span),
        }
    }

    fn constant(&self, expr: &Expr) -> Result<Literal> {
        match self.bind(expr)? {
            Bound::Const(lit) => Ok(lit),
            Bound::Value(_) | Bound::Length(_) | Bound::Pred(_) => {
                err("expected a constant value here", expr.span)
            }
        }
    }

    fn field(&self, field: &FieldRef) -> Result<Operand> {
        let span = field.span;
        let (name, path) = match self.schema.field(&field.name) {
            Some(_) => (field.name.clone(), field.path.clone()),
            None if field.name == META => {
                if !self.schema.enable_dynamic_field {
                    return err("the dynamic field is not enabled on this collection", span);
                }
                if field.path.is_empty() {
                    return err(
                        "$meta must be followed by a key, as in $meta[\"key\"]",
                        span,
                    );
                }
                (META.to_string(), field.path.clone())
            }
            None if self.schema.enable_dynamic_field => {
                let mut path = vec![PathStep::Key(field.name.clone())];
                path.extend(field.path.iter().cloned());
                (META.to_string(), path)
            }
            None => return err(format!("field {} not exist", field.name), span),
        };
        if name == META {
            return Ok(Operand {
                field: name,
                data_type: DataType::Json,
                element_type: None,
                path,
                arith: vec![],
            });
        }
        let Some(schema_field) = self.schema.field(&name) else {
            return err(format!("field {name} not exist"), span);
        };
        let data_type = schema_field.data_type;
        if data_type.is_vector() {
            return err(
                format!("vector field {name} cannot be used in a filter expression"),
                span,
            );
        }
        let bad_array_path = path.len() > 1 || matches!(path.first(), Some(PathStep::Key(_)));
        match data_type {
            DataType::Json => {}
            DataType::Array if bad_array_path => {
                return err(
                    format!("array field {name} takes one integer index, as in {name}[0]"),
                    span,
                );
            }
            DataType::Array => {}
            _ if !path.is_empty() => {
                return err(
                    format!(
                        "field {name} of type {} cannot be indexed",
                        data_type.milvus_name()
                    ),
                    span,
                )
            }
            _ => {}
        }
        Ok(Operand {
            field: name,
            data_type,
            element_type: schema_field.element_type,
            path,
            arith: vec![],
        })
    }

    fn bind(&self, expr: &Expr) -> Result<Bound> {
        let span = expr.span;
        Ok(match &expr.kind {
            ExprKind::Int(v) => Bound::Const(Literal::Int(*v)),
            ExprKind::Float(v) => Bound::Const(Literal::Float(*v)),
            ExprKind::Bool(v) => Bound::Const(Literal::Bool(*v)),
            ExprKind::Str(s) => Bound::Const(Literal::Str(s.clone())),
            ExprKind::List(items) => Bound::Const(Literal::List(
                items
                    .iter()
                    .map(|i| self.constant(i))
                    .collect::<Result<_>>()?,
            )),
            ExprKind::Template(name) => match self.templates.get(name) {
                Some(lit) => Bound::Const(lit.clone()),
                None => {
                    return err(
                        format!(
                        "the value of expression template variable name {{{name}}} is not found"
                    ),
                        span,
                    )
                }
            },
            ExprKind::Field(field) => Bound::Value(self.field(field)?),
            ExprKind::Unary { op, expr: inner } => self.unary(*op, inner, span)?,
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span)?,
            ExprKind::Range {
                lower,
                lower_inclusive,
                field,
                upper,
                upper_inclusive,
                ascending,
            } => {
                let operand = self.field(field)?;
                let (lo, lo_inc, hi, hi_inc) = if *ascending {
                    (
                        self.constant(lower)?,
                        *lower_inclusive,
                        self.constant(upper)?,
                        *upper_inclusive,
                    )
                } else {
                    (
                        self.constant(upper)?,
                        *upper_inclusive,
                        self.constant(lower)?,
                        *lower_inclusive,
                    )
                };
                for lit in [&lo, &hi] {
                    if !comparable(&operand, CmpOp::Lt, lit) {
                        return err(
                            format!(
                                "comparisons between {} and {} are not supported",
                                type_name(&operand),
                                literal_kind(lit)
                            ),
                            span,
                        );
                    }
                }
                Bound::Pred(Predicate::Range {
                    operand,
                    lower: lo,
                    lower_inclusive: lo_inc,
                    upper: hi,
                    upper_inclusive: hi_inc,
                })
            }
            ExprKind::In {
                expr: inner,
                list,
                negated,
            } => {
                let operand = self.value(inner)?;
                let Literal::List(values) = self.constant(list)? else {
                    return err("the right side of in must be a list", list.span);
                };
                for v in &values {
                    if !comparable(&operand, CmpOp::Eq, v) {
                        return err(
                            format!(
                                "value {v:?} in the list does not match the type {} of {}",
                                type_name(&operand),
                                operand.field
                            ),
                            list.span,
                        );
                    }
                }
                Bound::Pred(Predicate::In {
                    operand,
                    values,
                    negated: *negated,
                })
            }
            ExprKind::Like {
                expr: inner,
                pattern,
            } => {
                let operand = self.value(inner)?;
                if !matches!(value_type(&operand), DataType::VarChar | DataType::Json) {
                    return err(
                        format!(
                            "like operation on non-string or no-json field is unsupported: {}",
                            operand.field
                        ),
                        span,
                    );
                }
                Bound::Pred(Predicate::Like {
                    operand,
                    pattern: pattern.clone(),
                })
            }
            ExprKind::IsNull { field, negated } => Bound::Pred(Predicate::IsNull {
                operand: self.field(field)?,
                negated: *negated,
            }),
            ExprKind::Exists(field) => {
                let operand = self.field(field)?;
                if operand.data_type != DataType::Json || operand.path.is_empty() {
                    return err(
                        "exists applies to a JSON path, as in exists meta[\"key\"]",
                        span,
                    );
                }
                Bound::Pred(Predicate::Exists(operand))
            }
            ExprKind::Call { name, args } => self.call(name, args, span)?,
        })
    }

    /// A per-row value (a field, maybe with arithmetic).
    fn value(&self, expr: &Expr) -> Result<Operand> {
        match self.bind(expr)? {
            Bound::Value(v) => Ok(v),
            Bound::Const(_) | Bound::Length(_) | Bound::Pred(_) => {
                err("expected a field here", expr.span)
            }
        }
    }

    fn unary(&self, op: UnaryOp, inner: &Expr, span: Span) -> Result<Bound> {
        match op {
            UnaryOp::Not => Ok(Bound::Pred(Predicate::Not(Box::new(
                self.predicate(inner)?,
            )))),
            UnaryOp::Neg | UnaryOp::Plus | UnaryOp::BitNot => match self.bind(inner)? {
                Bound::Const(Literal::Int(v)) => Ok(Bound::Const(Literal::Int(match op {
                    UnaryOp::Neg => v
                        .checked_neg()
                        .ok_or_else(|| ExprError::new("integer overflow", span))?,
                    UnaryOp::BitNot => !v,
                    UnaryOp::Plus | UnaryOp::Not => v,
                }))),
                Bound::Const(Literal::Float(v)) if op != UnaryOp::BitNot => {
                    Ok(Bound::Const(Literal::Float(if op == UnaryOp::Neg {
                        -v
                    } else {
                        v
                    })))
                }
                Bound::Const(_) | Bound::Value(_) | Bound::Length(_) | Bound::Pred(_) => {
                    err("unary minus, plus and ~ apply to numeric constants", span)
                }
            },
        }
    }

    fn binary(&self, op: BinaryOp, lhs: &Expr, rhs: &Expr, span: Span) -> Result<Bound> {
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let (l, r) = (self.predicate(lhs)?, self.predicate(rhs)?);
            let mut parts = Vec::new();
            for p in [l, r] {
                match (op, p) {
                    (BinaryOp::And, Predicate::And(inner))
                    | (BinaryOp::Or, Predicate::Or(inner)) => parts.extend(inner),
                    (_, other) => parts.push(other),
                }
            }
            return Ok(Bound::Pred(if op == BinaryOp::And {
                Predicate::And(parts)
            } else {
                Predicate::Or(parts)
            }));
        }
        let (l, r) = (self.bind(lhs)?, self.bind(rhs)?);
        if let Some(cmp) = cmp_op(op) {
            return self.compare(cmp, l, r, span);
        }
        if let Some(arith) = arith_op(op) {
            return match (l, r) {
                (Bound::Const(a), Bound::Const(b)) => Ok(Bound::Const(fold(arith, &a, &b, span)?)),
                (Bound::Value(mut v), Bound::Const(c)) => {
                    let t = value_type(&v);
                    if !(t.is_integer()
                        || matches!(t, DataType::Float | DataType::Double | DataType::Json))
                    {
                        return err(
                            format!(
                                "arithmetic on field {} of type {} is not supported",
                                v.field,
                                type_name(&v)
                            ),
                            span,
                        );
                    }
                    if c.as_f64().is_none() {
                        return err("arithmetic needs a numeric constant", rhs.span);
                    }
                    if matches!(arith, ArithOp::Div | ArithOp::Mod) && c.as_f64() == Some(0.0) {
                        return err("division by zero", rhs.span);
                    }
                    v.arith.push((arith, c));
                    Ok(Bound::Value(v))
                }
                (Bound::Const(_), Bound::Value(_)) => err(
                    "arithmetic must have the field on the left, as in field + 1",
                    span,
                ),
                _ => err("arithmetic applies to one field and constants", span),
            };
        }
        match (l, r) {
            (Bound::Const(Literal::Int(a)), Bound::Const(Literal::Int(b))) => {
                Ok(Bound::Const(Literal::Int(match op {
                    BinaryOp::Pow => u32::try_from(b)
                        .ok()
                        .and_then(|b| a.checked_pow(b))
                        .ok_or_else(|| ExprError::new("invalid power", span))?,
                    BinaryOp::Shl => u32::try_from(b)
                        .ok()
                        .and_then(|b| a.checked_shl(b))
                        .ok_or_else(|| ExprError::new("invalid shift", span))?,
                    BinaryOp::Shr => u32::try_from(b)
                        .ok()
                        .and_then(|b| a.checked_shr(b))
                        .ok_or_else(|| ExprError::new("invalid shift", span))?,
                    BinaryOp::BitAnd => a & b,
                    BinaryOp::BitOr => a | b,
                    BinaryOp::BitXor => a ^ b,
                    _ => return err("unsupported operator", span),
                })))
            }
            (Bound::Const(a), Bound::Const(b)) if op == BinaryOp::Pow => {
                match (a.as_f64(), b.as_f64()) {
                    (Some(a), Some(b)) => Ok(Bound::Const(Literal::Float(a.powf(b)))),
                    _ => err("** applies to numbers", span),
                }
            }
            _ => err(
                format!("operator {op:?} is only supported between constants"),
                span,
            ),
        }
    }

    fn compare(&self, op: CmpOp, l: Bound, r: Bound, span: Span) -> Result<Bound> {
        let (operand, op, lit) = match (l, r) {
            (Bound::Length(v), Bound::Const(Literal::Int(n))) => {
                return Ok(Bound::Pred(Predicate::ArrayLength {
                    operand: v,
                    op,
                    value: n,
                }))
            }
            (Bound::Const(Literal::Int(n)), Bound::Length(v)) => {
                return Ok(Bound::Pred(Predicate::ArrayLength {
                    operand: v,
                    op: op.flipped(),
                    value: n,
                }))
            }
            (Bound::Length(_), _) | (_, Bound::Length(_)) => {
                return err(
                    "array_length can only be compared with an integer constant",
                    span,
                )
            }
            (Bound::Value(v), Bound::Const(c)) => (v, op, c),
            (Bound::Const(c), Bound::Value(v)) => (v, op.flipped(), c),
            (Bound::Value(a), Bound::Value(b)) => {
                let (ta, tb) = (value_type(&a), value_type(&b));
                let numeric =
                    |t: DataType| t.is_integer() || matches!(t, DataType::Float | DataType::Double);
                let ok = (numeric(ta) && numeric(tb))
                    || ta == tb && ta != DataType::Json && ta != DataType::Array;
                if !ok || !a.arith.is_empty() || !b.arith.is_empty() {
                    return err(
                        format!(
                            "comparisons between {} and {} are not supported",
                            type_name(&a),
                            type_name(&b)
                        ),
                        span,
                    );
                }
                return Ok(Bound::Pred(Predicate::CompareFields { lhs: a, op, rhs: b }));
            }
            (Bound::Const(a), Bound::Const(b)) => {
                return Ok(Bound::Const(Literal::Bool(fold_compare(op, &a, &b, span)?)))
            }
            (Bound::Pred(_), _) | (_, Bound::Pred(_)) => {
                return err(
                    "a condition cannot be compared; use and/or/not to combine conditions",
                    span,
                )
            }
        };
        if !comparable(&operand, op, &lit) {
            return err(
                format!(
                    "comparisons between {} and {} are not supported",
                    type_name(&operand),
                    literal_kind(&lit)
                ),
                span,
            );
        }
        Ok(Bound::Pred(Predicate::Compare {
            lhs: operand,
            op,
            rhs: lit,
        }))
    }

    fn call(&self, name: &str, args: &[Expr], span: Span) -> Result<Bound> {
        let lower = name.to_ascii_lowercase();
        let arity = |n: usize| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                err(
                    format!("function {name} takes {n} argument(s), got {}", args.len()),
                    span,
                )
            }
        };
        let (is_json, mode) = match lower.as_str() {
            "json_contains" => (true, ContainsMode::One),
            "json_contains_all" => (true, ContainsMode::All),
            "json_contains_any" => (true, ContainsMode::Any),
            "array_contains" => (false, ContainsMode::One),
            "array_contains_all" => (false, ContainsMode::All),
            "array_contains_any" => (false, ContainsMode::Any),
            "array_length" => {
                arity(1)?;
                let operand = self.value(&args[0])?;
                if !(operand.data_type == DataType::Array && operand.path.is_empty())
                    && operand.data_type != DataType::Json
                {
                    return err(
                        format!(
                            "array_length applies to an array or JSON field, not {}",
                            operand.field
                        ),
                        span,
                    );
                }
                return Ok(Bound::Length(operand));
            }
            "text_match" | "phrase_match" => {
                arity(if lower == "text_match" { 2 } else { 3 }).or_else(|e| {
                    if lower == "phrase_match" && args.len() == 2 {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })?;
                let operand = self.value(&args[0])?;
                if operand.data_type != DataType::VarChar {
                    return err(
                        format!("{lower} applies to a VARCHAR field, not {}", operand.field),
                        span,
                    );
                }
                let _ = self.constant(&args[1])?;
                return err(
                    format!(
                        "{lower} is not supported by rivus yet (it arrives with full-text search)"
                    ),
                    span,
                );
            }
            _ => return err(format!("function {name} is not supported"), span),
        };
        arity(2)?;
        let operand = self.value(&args[0])?;
        // Milvus plans `json_contains*` and `array_contains*` alike: either family works on a
        // JSON value (any path) or a whole ARRAY field.
        let _ = is_json;
        if !(operand.data_type == DataType::Json
            || operand.data_type == DataType::Array && operand.path.is_empty())
        {
            return err(
                format!(
                    "{lower} applies to a JSON or ARRAY field, not {} of type {}",
                    operand.field,
                    type_name(&operand)
                ),
                span,
            );
        }
        let value = self.constant(&args[1])?;
        let values = match (mode, value) {
            (ContainsMode::One, v) => vec![v],
            (ContainsMode::All | ContainsMode::Any, Literal::List(vs)) => vs,
            (_, _) => {
                return err(
                    format!("{lower} expects a list as its second argument"),
                    args[1].span,
                )
            }
        };
        Ok(Bound::Pred(Predicate::Contains {
            operand,
            values,
            mode,
        }))
    }
}

fn fold(op: ArithOp, a: &Literal, b: &Literal, span: Span) -> Result<Literal> {
    if let (Literal::Int(x), Literal::Int(y)) = (a, b) {
        let r = match op {
            ArithOp::Add => x.checked_add(*y),
            ArithOp::Sub => x.checked_sub(*y),
            ArithOp::Mul => x.checked_mul(*y),
            ArithOp::Div => x.checked_div(*y),
            ArithOp::Mod => x.checked_rem(*y),
        };
        return r
            .map(Literal::Int)
            .ok_or_else(|| ExprError::new("integer overflow or division by zero", span));
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Ok(Literal::Float(match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            ArithOp::Div => x / y,
            ArithOp::Mod => x % y,
        })),
        _ => err("arithmetic applies to numbers", span),
    }
}

fn fold_compare(op: CmpOp, a: &Literal, b: &Literal, span: Span) -> Result<bool> {
    let ordering = match (a, b) {
        (Literal::Str(x), Literal::Str(y)) => x.cmp(y),
        (Literal::Bool(x), Literal::Bool(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x
                .partial_cmp(&y)
                .ok_or_else(|| ExprError::new("NaN in comparison", span))?,
            _ => return err("constants of different types cannot be compared", span),
        },
    };
    Ok(op.holds(ordering))
}
