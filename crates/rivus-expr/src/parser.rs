//! A Pratt parser for Milvus's filter grammar (`Plan.g4`).
//!
//! Precedence, loosest first, as the grammar's alternative order sets it: `or`/`||`,
//! `and`/`&&`, `|`, `^`, `&`, `==`/`!=`, `<`/`<=`/`>`/`>=` (with chained ranges
//! `a < field < b`), `in`/`not in`, `<<`/`>>`, `+`/`-`, `*`/`/`/`%`, unary
//! `-`/`+`/`not`/`!`/`~`, `**`, then postfix `like`, `is null`, `is not null`.

// Token dispatch: every token a rule does not name is a syntax error, so `_` arms are the
// grammar, not a forgotten case.
#![allow(clippy::wildcard_enum_match_arm)]

use crate::ast::{BinaryOp, Expr, ExprKind, FieldRef, PathStep, UnaryOp};
use crate::lexer::{tokenize, Token, TokenKind};
use crate::{ExprError, Result, Span};

/// Deepest nesting accepted; deeper input is refused instead of overflowing the stack.
pub const MAX_DEPTH: usize = 100;

/// Parses a filter expression.
pub fn parse(input: &str) -> Result<Expr> {
    let tokens = tokenize(input)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let expr = parser.expr(0)?;
    let next = parser.peek();
    if next.kind != TokenKind::Eof {
        return Err(ExprError::new(
            format!(
                "unexpected {} after the end of the expression",
                describe(&next.kind)
            ),
            next.span,
        ));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Ident(name) => format!("identifier {name:?}"),
        TokenKind::Str(s) => format!("string {s:?}"),
        TokenKind::Int(i) => format!("number {i}"),
        TokenKind::Float(f) => format!("number {f}"),
        TokenKind::Eof => "end of input".to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Binding power (left, right) of an infix operator token.
fn infix(kind: &TokenKind) -> Option<(u8, u8, BinaryOp)> {
    Some(match kind {
        TokenKind::Or => (2, 3, BinaryOp::Or),
        TokenKind::And => (4, 5, BinaryOp::And),
        TokenKind::BitOr => (6, 7, BinaryOp::BitOr),
        TokenKind::BitXor => (8, 9, BinaryOp::BitXor),
        TokenKind::BitAnd => (10, 11, BinaryOp::BitAnd),
        TokenKind::Eq => (12, 13, BinaryOp::Eq),
        TokenKind::Ne => (12, 13, BinaryOp::Ne),
        TokenKind::Lt => (14, 15, BinaryOp::Lt),
        TokenKind::Le => (14, 15, BinaryOp::Le),
        TokenKind::Gt => (14, 15, BinaryOp::Gt),
        TokenKind::Ge => (14, 15, BinaryOp::Ge),
        TokenKind::Shl => (18, 19, BinaryOp::Shl),
        TokenKind::Shr => (18, 19, BinaryOp::Shr),
        TokenKind::Plus => (20, 21, BinaryOp::Add),
        TokenKind::Minus => (20, 21, BinaryOp::Sub),
        TokenKind::Star => (22, 23, BinaryOp::Mul),
        TokenKind::Slash => (22, 23, BinaryOp::Div),
        TokenKind::Percent => (22, 23, BinaryOp::Mod),
        TokenKind::Pow => (26, 27, BinaryOp::Pow),
        _ => return None,
    })
}

/// Binding power of `in` / `not in`.
const IN_POWER: (u8, u8) = (16, 17);
/// Right binding power of unary operators.
const UNARY_POWER: u8 = 24;

impl Parser {
    fn peek(&self) -> Token {
        self.tokens.get(self.pos).cloned().unwrap_or(Token {
            kind: TokenKind::Eof,
            span: Span::default(),
        })
    }

    fn peek_kind_at(&self, ahead: usize) -> TokenKind {
        self.tokens
            .get(self.pos + ahead)
            .map(|t| t.kind.clone())
            .unwrap_or(TokenKind::Eof)
    }

    fn bump(&mut self) -> Token {
        let token = self.peek();
        self.pos += 1;
        token
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<Token> {
        let token = self.peek();
        if token.kind == kind {
            self.pos += 1;
            Ok(token)
        } else {
            Err(ExprError::new(
                format!("expected {what}, found {}", describe(&token.kind)),
                token.span,
            ))
        }
    }

    fn expr(&mut self, min_power: u8) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(
                format!("expression nests deeper than {MAX_DEPTH} levels"),
                self.peek().span,
            ));
        }
        let result = self.expr_inner(min_power);
        self.depth -= 1;
        result
    }

    fn expr_inner(&mut self, min_power: u8) -> Result<Expr> {
        let mut lhs = self.prefix()?;
        loop {
            let token = self.peek();
            // `not in` / `in`
            let negated_in = token.kind == TokenKind::Not && self.peek_kind_at(1) == TokenKind::In;
            if token.kind == TokenKind::In || negated_in {
                if IN_POWER.0 < min_power {
                    break;
                }
                self.pos += if negated_in { 2 } else { 1 };
                let list = self.expr(IN_POWER.1)?;
                let span = lhs.span.to(list.span);
                lhs = Expr {
                    kind: ExprKind::In {
                        expr: Box::new(lhs),
                        list: Box::new(list),
                        negated: negated_in,
                    },
                    span,
                };
                continue;
            }
            let Some((left, right, op)) = infix(&token.kind) else {
                break;
            };
            if left < min_power {
                break;
            }
            self.pos += 1;
            let rhs = self.expr(right)?;
            // A chained comparison `a < field < b` becomes one range.
            if let Some(range) = self.try_range(&lhs, op, &rhs)? {
                lhs = range;
                continue;
            }
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        Ok(lhs)
    }

    /// After `lower op1 middle`, a second comparison of the same direction with a field in
    /// the middle makes a range (`Plan.g4` Range / ReverseRange).
    fn try_range(&mut self, lower: &Expr, op1: BinaryOp, middle: &Expr) -> Result<Option<Expr>> {
        let ascending = matches!(op1, BinaryOp::Lt | BinaryOp::Le);
        if !matches!(
            op1,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        ) {
            return Ok(None);
        }
        let ExprKind::Field(field) = &middle.kind else {
            return Ok(None);
        };
        let next = self.peek().kind;
        let op2 = match (ascending, &next) {
            (true, TokenKind::Lt) => BinaryOp::Lt,
            (true, TokenKind::Le) => BinaryOp::Le,
            (false, TokenKind::Gt) => BinaryOp::Gt,
            (false, TokenKind::Ge) => BinaryOp::Ge,
            _ => return Ok(None),
        };
        self.pos += 1;
        let upper = self.expr(15)?;
        let span = lower.span.to(upper.span);
        Ok(Some(Expr {
            kind: ExprKind::Range {
                lower: Box::new(lower.clone()),
                lower_inclusive: matches!(op1, BinaryOp::Le | BinaryOp::Ge),
                field: field.clone(),
                upper: Box::new(upper),
                upper_inclusive: matches!(op2, BinaryOp::Le | BinaryOp::Ge),
                ascending,
            },
            span,
        }))
    }

    fn prefix(&mut self) -> Result<Expr> {
        let token = self.bump();
        let span = token.span;
        let expr = match token.kind {
            TokenKind::Int(v) => Expr {
                kind: ExprKind::Int(v),
                span,
            },
            TokenKind::Float(v) => Expr {
                kind: ExprKind::Float(v),
                span,
            },
            TokenKind::Bool(v) => Expr {
                kind: ExprKind::Bool(v),
                span,
            },
            TokenKind::Str(s) => Expr {
                kind: ExprKind::Str(s),
                span,
            },
            TokenKind::Minus | TokenKind::Plus | TokenKind::Not | TokenKind::BitNot => {
                let op = match token.kind {
                    TokenKind::Minus => UnaryOp::Neg,
                    TokenKind::Plus => UnaryOp::Plus,
                    TokenKind::Not => UnaryOp::Not,
                    _ => UnaryOp::BitNot,
                };
                let operand = self.expr(UNARY_POWER)?;
                let span = span.to(operand.span);
                return self.postfix(Expr {
                    kind: ExprKind::Unary {
                        op,
                        expr: Box::new(operand),
                    },
                    span,
                });
            }
            TokenKind::LParen => {
                let inner = self.expr(0)?;
                let close = self.expect(TokenKind::RParen, "')'")?;
                Expr {
                    kind: inner.kind,
                    span: span.to(close.span),
                }
            }
            TokenKind::LBracket => {
                let (items, close) = self.comma_list(TokenKind::RBracket, "',' or ']'")?;
                Expr {
                    kind: ExprKind::List(items),
                    span: span.to(close.span),
                }
            }
            TokenKind::LBrace => {
                let name = match self.bump() {
                    Token {
                        kind: TokenKind::Ident(name),
                        ..
                    } => name,
                    other => {
                        return Err(ExprError::new(
                            format!("expected a template name, found {}", describe(&other.kind)),
                            other.span,
                        ))
                    }
                };
                let close = self.expect(TokenKind::RBrace, "'}'")?;
                Expr {
                    kind: ExprKind::Template(name),
                    span: span.to(close.span),
                }
            }
            TokenKind::Exists => {
                let field = self.field_after_keyword("exists")?;
                let span = span.to(field.span);
                Expr {
                    kind: ExprKind::Exists(field),
                    span,
                }
            }
            TokenKind::Ident(name) if self.peek().kind == TokenKind::LParen => {
                self.pos += 1;
                let (args, close) = self.comma_list(TokenKind::RParen, "',' or ')'")?;
                Expr {
                    kind: ExprKind::Call { name, args },
                    span: span.to(close.span),
                }
            }
            TokenKind::Ident(name) => {
                let field = self.path(name, span)?;
                Expr {
                    span: field.span,
                    kind: ExprKind::Field(field),
                }
            }
            TokenKind::Meta => {
                let field = self.path("$meta".to_string(), span)?;
                Expr {
                    span: field.span,
                    kind: ExprKind::Field(field),
                }
            }
            other => {
                return Err(ExprError::new(
                    format!("unexpected {}", describe(&other)),
                    span,
                ));
            }
        };
        self.postfix(expr)
    }

    /// Comma-separated expressions up to `close` (a trailing comma is allowed); returns them
    /// and the closing token.
    fn comma_list(&mut self, close: TokenKind, what: &str) -> Result<(Vec<Expr>, Token)> {
        let mut items = Vec::new();
        while self.peek().kind != close {
            items.push(self.expr(0)?);
            if self.peek().kind == TokenKind::Comma {
                self.pos += 1;
            } else {
                break;
            }
        }
        let end = self.expect(close, what)?;
        Ok((items, end))
    }

    fn field_after_keyword(&mut self, keyword: &str) -> Result<FieldRef> {
        let token = self.bump();
        match token.kind {
            TokenKind::Ident(name) => self.path(name, token.span),
            TokenKind::Meta => self.path("$meta".into(), token.span),
            other => Err(ExprError::new(
                format!("{keyword} expects a field, found {}", describe(&other)),
                token.span,
            )),
        }
    }

    /// `name` followed by any number of `["key"]` / `[index]` steps.
    fn path(&mut self, name: String, span: Span) -> Result<FieldRef> {
        let mut path = Vec::new();
        let mut end = span;
        while self.peek().kind == TokenKind::LBracket {
            self.pos += 1;
            let step = self.bump();
            path.push(match step.kind {
                TokenKind::Str(key) => PathStep::Key(key),
                TokenKind::Int(index) => PathStep::Index(index),
                other => {
                    return Err(ExprError::new(
                        format!(
                            "a path step must be a string key or an integer index, found {}",
                            describe(&other)
                        ),
                        step.span,
                    ))
                }
            });
            end = self.expect(TokenKind::RBracket, "']'")?.span;
        }
        Ok(FieldRef {
            name,
            path,
            span: span.to(end),
        })
    }

    fn postfix(&mut self, expr: Expr) -> Result<Expr> {
        let token = self.peek();
        match token.kind {
            TokenKind::Like => {
                self.pos += 1;
                let pattern = self.bump();
                let TokenKind::Str(pattern_text) = pattern.kind else {
                    return Err(ExprError::new(
                        format!(
                            "like expects a string pattern, found {}",
                            describe(&pattern.kind)
                        ),
                        pattern.span,
                    ));
                };
                let span = expr.span.to(pattern.span);
                self.postfix(Expr {
                    kind: ExprKind::Like {
                        expr: Box::new(expr),
                        pattern: pattern_text,
                    },
                    span,
                })
            }
            TokenKind::IsNull | TokenKind::IsNotNull => {
                self.pos += 1;
                let ExprKind::Field(field) = expr.kind else {
                    return Err(ExprError::new("is null applies to a field", expr.span));
                };
                let span = expr.span.to(token.span);
                Ok(Expr {
                    kind: ExprKind::IsNull {
                        field,
                        negated: token.kind == TokenKind::IsNotNull,
                    },
                    span,
                })
            }
            _ => Ok(expr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering of the tree, to assert structure and precedence.
    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Float(v) => format!("{v:?}"),
            ExprKind::Bool(v) => v.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::List(items) => format!(
                "[{}]",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            ExprKind::Template(n) => format!("{{{n}}}"),
            ExprKind::Field(f) => show_field(f),
            ExprKind::Unary { op, expr } => format!("({op:?} {})", show(expr)),
            ExprKind::Binary { op, lhs, rhs } => format!("({} {op:?} {})", show(lhs), show(rhs)),
            ExprKind::Range {
                lower,
                lower_inclusive,
                field,
                upper,
                upper_inclusive,
                ascending,
            } => format!(
                "range({} {}{} {} {}{})",
                show(lower),
                if *ascending { "<" } else { ">" },
                if *lower_inclusive { "=" } else { "" },
                show_field(field),
                if *ascending { "<" } else { ">" },
                if *upper_inclusive {
                    format!("= {}", show(upper))
                } else {
                    format!(" {}", show(upper))
                }
            ),
            ExprKind::In {
                expr,
                list,
                negated,
            } => format!(
                "({} {}in {})",
                show(expr),
                if *negated { "not " } else { "" },
                show(list)
            ),
            ExprKind::Like { expr, pattern } => format!("({} like {pattern:?})", show(expr)),
            ExprKind::IsNull { field, negated } => format!(
                "({} is {}null)",
                show_field(field),
                if *negated { "not " } else { "" }
            ),
            ExprKind::Exists(f) => format!("exists {}", show_field(f)),
            ExprKind::Call { name, args } => format!(
                "{name}({})",
                args.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    fn show_field(f: &FieldRef) -> String {
        let mut s = f.name.clone();
        for step in &f.path {
            match step {
                PathStep::Key(k) => s.push_str(&format!("[{k:?}]")),
                PathStep::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }

    fn p(input: &str) -> String {
        show(&parse(input).unwrap_or_else(|e| panic!("{input}: {}", e.render(input))))
    }

    #[test]
    fn precedence_follows_the_grammar() {
        assert_eq!(
            p("a > 1 and b < 2 or c == 3"),
            "(((a Gt 1) And (b Lt 2)) Or (c Eq 3))"
        );
        assert_eq!(p("a or b and c"), "(a Or (b And c))");
        assert_eq!(p("age * 2 + 1 > 10"), "(((age Mul 2) Add 1) Gt 10)");
        assert_eq!(p("-2 ** 2"), "(Neg (2 Pow 2))");
        assert_eq!(p("not (a > 1)"), "(Not (a Gt 1))");
        assert_eq!(
            p("a in [1, 2] and b not in ['x']"),
            "((a in [1, 2]) And (b not in [\"x\"]))"
        );
        assert_eq!(p("a + 1 in [2]"), "((a Add 1) in [2])");
        assert_eq!(p("a == 1 != true"), "((a Eq 1) Ne true)");
    }

    #[test]
    fn chained_ranges() {
        assert_eq!(p("10 < age < 20"), "range(10 < age < 20)");
        assert_eq!(p("\"a\" <= s < \"m\""), "range(\"a\" <= s < \"m\")");
        assert_eq!(p("20 >= age > 10"), "range(20 >= age > 10)");
        assert_eq!(p("1 < a > 2"), "((1 Lt a) Gt 2)");
    }

    #[test]
    fn paths_templates_calls_and_postfix() {
        assert_eq!(
            p(r#"meta["a"]["b"][0] == 1"#),
            r#"(meta["a"]["b"][0] Eq 1)"#
        );
        assert_eq!(p(r#"$meta["k"] > 1"#), r#"($meta["k"] Gt 1)"#);
        assert_eq!(
            p("age > {min} and id in {ids}"),
            "((age Gt {min}) And (id in {ids}))"
        );
        assert_eq!(
            p("json_contains(tags, \"x\")"),
            "json_contains(tags, \"x\")"
        );
        assert_eq!(p("array_length(a) == 3"), "(array_length(a) Eq 3)");
        assert_eq!(p("name like \"abc%\""), "(name like \"abc%\")");
        assert_eq!(
            p("x is null or y IS NOT NULL"),
            "((x is null) Or (y is not null))"
        );
        assert_eq!(p("exists meta[\"k\"]"), "exists meta[\"k\"]");
        assert_eq!(p("a in []"), "(a in [])");
        assert_eq!(p("[1, 2,]"), "[1, 2]");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = parse("a > ").unwrap_err();
        assert_eq!(err.span, Span::new(4, 4));
        let err = parse("a > 1 )").unwrap_err();
        assert_eq!(err.span, Span::new(6, 7));
        assert!(parse("(a > 1").is_err());
        assert!(parse("a like 5").is_err());
        assert!(parse("1 is null").is_err());
        assert!(parse("").is_err());
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
        let deep_not = format!("{}a", "not ".repeat(10_000));
        assert!(parse(&deep_not).is_err());
    }
}
