//! Tokens of Milvus's filter language (`internal/parser/planparserv2/Plan.g4`).
//!
//! Keywords come in the spellings Milvus accepts: all lower case or all upper case
//! (`and`/`AND`/`&&`, `or`/`OR`/`||`, `not`/`NOT`/`!`, `in`/`IN`, `like`/`LIKE`,
//! `exists`/`EXISTS`, `is null`/`IS NULL`, `is not null`/`IS NOT NULL`), booleans also
//! capitalized (`True`). Integers are decimal, hexadecimal (`0x`), octal (leading `0`) or
//! binary (`0b`); floats have a fraction and/or an exponent. Strings take single or double
//! quotes with Go/C escapes; like Milvus (which unquotes with Go's rules) `\%` is an invalid
//! escape: a LIKE pattern writes a literal `%` as `\\%`.

use crate::{ExprError, Result, Span};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    Ident(String),
    /// `$meta`, the dynamic field.
    Meta,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Pow,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    BitNot,
    And,
    Or,
    Not,
    In,
    Like,
    IsNull,
    IsNotNull,
    Exists,
    Eof,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `input` into tokens, ending with [`TokenKind::Eof`].
pub fn tokenize(input: &str) -> Result<Vec<Token>> {
    let mut lexer = Lexer {
        input,
        bytes: input.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
    }

    fn run(&mut self) -> Result<()> {
        while let Some(b) = self.peek(0) {
            let start = self.pos;
            if b.is_ascii_whitespace() {
                self.pos += 1;
                continue;
            }
            if is_ident_start(b) {
                self.word(start);
                continue;
            }
            if b.is_ascii_digit() || (b == b'.' && self.peek(1).is_some_and(|c| c.is_ascii_digit()))
            {
                self.number(start)?;
                continue;
            }
            if b == b'"' || b == b'\'' {
                self.string(start, b)?;
                continue;
            }
            if b == b'$' {
                let rest = self.input.get(start..).unwrap_or_default();
                if rest.starts_with("$meta")
                    && !self
                        .bytes
                        .get(start + 5)
                        .copied()
                        .is_some_and(is_ident_char)
                {
                    self.pos += 5;
                    self.push(TokenKind::Meta, start);
                    continue;
                }
            }
            let two = (b, self.peek(1).unwrap_or(0));
            let (kind, len) = match two {
                (b'<', b'=') => (TokenKind::Le, 2),
                (b'>', b'=') => (TokenKind::Ge, 2),
                (b'=', b'=') => (TokenKind::Eq, 2),
                (b'!', b'=') => (TokenKind::Ne, 2),
                (b'<', b'<') => (TokenKind::Shl, 2),
                (b'>', b'>') => (TokenKind::Shr, 2),
                (b'*', b'*') => (TokenKind::Pow, 2),
                (b'&', b'&') => (TokenKind::And, 2),
                (b'|', b'|') => (TokenKind::Or, 2),
                (b'<', _) => (TokenKind::Lt, 1),
                (b'>', _) => (TokenKind::Gt, 1),
                (b'+', _) => (TokenKind::Plus, 1),
                (b'-', _) => (TokenKind::Minus, 1),
                (b'*', _) => (TokenKind::Star, 1),
                (b'/', _) => (TokenKind::Slash, 1),
                (b'%', _) => (TokenKind::Percent, 1),
                (b'&', _) => (TokenKind::BitAnd, 1),
                (b'|', _) => (TokenKind::BitOr, 1),
                (b'^', _) => (TokenKind::BitXor, 1),
                (b'~', _) => (TokenKind::BitNot, 1),
                (b'!', _) => (TokenKind::Not, 1),
                (b'(', _) => (TokenKind::LParen, 1),
                (b')', _) => (TokenKind::RParen, 1),
                (b'[', _) => (TokenKind::LBracket, 1),
                (b']', _) => (TokenKind::RBracket, 1),
                (b'{', _) => (TokenKind::LBrace, 1),
                (b'}', _) => (TokenKind::RBrace, 1),
                (b',', _) => (TokenKind::Comma, 1),
                _ => {
                    let ch = self
                        .input
                        .get(start..)
                        .and_then(|s| s.chars().next())
                        .unwrap_or('?');
                    return Err(ExprError::new(
                        format!("unexpected character {ch:?}"),
                        Span::new(start, start + ch.len_utf8()),
                    ));
                }
            };
            self.pos += len;
            self.push(kind, start);
        }
        let end = self.pos;
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::new(end, end),
        });
        Ok(())
    }

    fn word(&mut self, start: usize) {
        while self.peek(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        let word = self.input.get(start..self.pos).unwrap_or_default();
        let kind = match word {
            "and" | "AND" => TokenKind::And,
            "or" | "OR" => TokenKind::Or,
            "not" | "NOT" => TokenKind::Not,
            "in" | "IN" => TokenKind::In,
            "like" | "LIKE" => TokenKind::Like,
            "exists" | "EXISTS" => TokenKind::Exists,
            "true" | "True" | "TRUE" => TokenKind::Bool(true),
            "false" | "False" | "FALSE" => TokenKind::Bool(false),
            "is" | "IS" => {
                if let Some(kind) = self.is_null(word == "IS") {
                    kind
                } else {
                    TokenKind::Ident(word.to_string())
                }
            }
            _ => TokenKind::Ident(word.to_string()),
        };
        self.push(kind, start);
    }

    /// After `is`/`IS`: `null` or `not null` in the same case, separated by whitespace.
    fn is_null(&mut self, upper: bool) -> Option<TokenKind> {
        let save = self.pos;
        let mut words = Vec::new();
        for _ in 0..2 {
            // Milvus's tokens are `is null` / `is not null` with exactly one space.
            if self.peek(0) != Some(b' ') || self.peek(1) == Some(b' ') {
                break;
            }
            self.pos += 1;
            let w_start = self.pos;
            while self.peek(0).is_some_and(is_ident_char) {
                self.pos += 1;
            }
            let w = self.input.get(w_start..self.pos).unwrap_or_default();
            words.push(w);
            let (null, not) = if upper {
                ("NULL", "NOT")
            } else {
                ("null", "not")
            };
            if w == null {
                return Some(if words.len() == 1 {
                    TokenKind::IsNull
                } else {
                    TokenKind::IsNotNull
                });
            }
            if w != not || words.len() > 1 {
                break;
            }
        }
        self.pos = save;
        None
    }

    fn number(&mut self, start: usize) -> Result<()> {
        let rest = self.input.get(start..).unwrap_or_default();
        let radix = if rest.starts_with("0x") || rest.starts_with("0X") {
            Some(16)
        } else if rest.starts_with("0b") || rest.starts_with("0B") {
            Some(2)
        } else {
            None
        };
        if let Some(radix) = radix {
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek(0).is_some_and(|b| b.is_ascii_alphanumeric()) {
                self.pos += 1;
            }
            let digits = self.input.get(digits_start..self.pos).unwrap_or_default();
            let value = i64::from_str_radix(digits, radix).map_err(|_| {
                ExprError::new(
                    format!("invalid integer literal {:?}", self.slice(start)),
                    self.span(start),
                )
            })?;
            self.push(TokenKind::Int(value), start);
            return Ok(());
        }
        let mut is_float = false;
        while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.peek(0) == Some(b'.') {
            is_float = true;
            self.pos += 1;
            while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                is_float = true;
                self.pos += 1 + sign;
                while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
        if self.peek(0).is_some_and(is_ident_start) {
            while self.peek(0).is_some_and(is_ident_char) {
                self.pos += 1;
            }
            return Err(ExprError::new(
                format!("invalid number literal {:?}", self.slice(start)),
                self.span(start),
            ));
        }
        let text = self.slice(start);
        let kind = if is_float {
            TokenKind::Float(text.parse().map_err(|_| {
                ExprError::new(format!("invalid float literal {text:?}"), self.span(start))
            })?)
        } else if text.len() > 1 && text.starts_with('0') {
            TokenKind::Int(i64::from_str_radix(&text[1..], 8).map_err(|_| {
                ExprError::new(format!("invalid octal literal {text:?}"), self.span(start))
            })?)
        } else {
            TokenKind::Int(text.parse().map_err(|_| {
                ExprError::new(
                    format!("integer literal {text} is out of the int64 range"),
                    self.span(start),
                )
            })?)
        };
        self.push(kind, start);
        Ok(())
    }

    fn string(&mut self, start: usize, quote: u8) -> Result<()> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(b) = self.peek(0) else {
                return Err(ExprError::new(
                    "unterminated string literal",
                    self.span(start),
                ));
            };
            if b == quote {
                self.pos += 1;
                break;
            }
            if b == b'\\' {
                let esc = self.peek(1).ok_or_else(|| {
                    ExprError::new("unterminated string literal", self.span(start))
                })?;
                let ch = match esc {
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    b'0' => '\0',
                    b'\\' => '\\',
                    b'\'' => '\'',
                    b'"' => '"',
                    b'u' => {
                        let hex = self
                            .input
                            .get(self.pos + 2..self.pos + 6)
                            .unwrap_or_default();
                        let c = u32::from_str_radix(hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                ExprError::new(
                                    "invalid \\u escape",
                                    Span::new(self.pos, self.pos + 2),
                                )
                            })?;
                        self.pos += 6;
                        out.push(c);
                        continue;
                    }
                    other => {
                        return Err(ExprError::new(
                            format!("invalid escape sequence \\{}", other as char),
                            Span::new(self.pos, self.pos + 2),
                        ))
                    }
                };
                out.push(ch);
                self.pos += 2;
                continue;
            }
            let ch = self
                .input
                .get(self.pos..)
                .and_then(|s| s.chars().next())
                .unwrap_or('\u{fffd}');
            out.push(ch);
            self.pos += ch.len_utf8();
        }
        self.push(TokenKind::Str(out), start);
        Ok(())
    }

    fn slice(&self, start: usize) -> &str {
        self.input.get(start..self.pos).unwrap_or_default()
    }

    fn span(&self, start: usize) -> Span {
        Span::new(start, self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn keywords_in_milvus_spellings() {
        use TokenKind::*;
        assert_eq!(
            kinds("a and b AND c && d"),
            vec![
                Ident("a".into()),
                And,
                Ident("b".into()),
                And,
                Ident("c".into()),
                And,
                Ident("d".into()),
                Eof
            ]
        );
        assert_eq!(kinds("x is null"), vec![Ident("x".into()), IsNull, Eof]);
        assert_eq!(
            kinds("x IS NOT NULL"),
            vec![Ident("x".into()), IsNotNull, Eof]
        );
        assert_eq!(
            kinds("x is NULL"),
            vec![
                Ident("x".into()),
                Ident("is".into()),
                Ident("NULL".into()),
                Eof
            ]
        );
        assert_eq!(kinds("True FALSE"), vec![Bool(true), Bool(false), Eof]);
        assert_eq!(kinds("And"), vec![Ident("And".into()), Eof]);
    }

    #[test]
    fn numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds("10 0x1F 017 0b101 1.5 2e3 .5 1E-2"),
            vec![
                Int(10),
                Int(31),
                Int(15),
                Int(5),
                Float(1.5),
                Float(2000.0),
                Float(0.5),
                Float(0.01),
                Eof
            ]
        );
        assert!(tokenize("9223372036854775808").is_err());
        assert!(tokenize("12abc").is_err());
    }

    #[test]
    fn strings_and_spans() {
        let tokens = tokenize(r#"s == "a\"b" or t == 'c\'d\n'"#).unwrap();
        assert_eq!(tokens[2].kind, TokenKind::Str("a\"b".into()));
        assert_eq!(tokens[2].span, Span::new(5, 11));
        assert_eq!(tokens[6].kind, TokenKind::Str("c'd\n".into()));
        assert_eq!(
            tokenize(r#""ab\\%c""#).unwrap()[0].kind,
            TokenKind::Str(r"ab\%c".into())
        );
        assert!(tokenize(r#""ab\%c""#).is_err(), "Go unquoting rejects \\%");
        let err = tokenize("a == \"open").unwrap_err();
        assert_eq!(err.span.start, 5);
        assert!(tokenize("a # b").is_err());
        assert_eq!(kinds("$meta[\"k\"]")[0], TokenKind::Meta);
    }
}
