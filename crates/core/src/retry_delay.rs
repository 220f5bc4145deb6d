//! The `Upstash-Retry-Delay` expression (spec §4.2, §7): a small arithmetic
//! expression that evaluates to the number of **milliseconds** to wait before the
//! next retry, e.g. `1000 * (1 + retried)` or `max(1000, pow(2, retried) * 100)`.
//!
//! The expression is parsed once, when the message is published, so that a typo is
//! a 400 for the publisher instead of a surprise at retry time; the parsed tree is
//! kept next to the original text, which is what `GET` endpoints show back
//! (`retryDelayExpression`) and what is persisted (serde uses the text only).
//!
//! Grammar (whitespace allowed between tokens):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := ('-' | '+') unary | primary
//! primary := number | 'retried' | name '(' expr (',' expr)* ')' | '(' expr ')'
//! number  := digits ('.' digits)? | '.' digits
//! ```
//!
//! `retried` is the number of retries already made: 0 before the first retry.
//! Functions: `pow(x, y)`, `exp sqrt abs floor ceil round` (one argument each;
//! `round` rounds half away from zero like Go's `math.Round`), `min` and `max`
//! (two or more arguments). Names are case-sensitive, as in the upstream Go server.
//!
//! Hostile input is bounded: the text may be at most [`MAX_SOURCE_LEN`] bytes and
//! parentheses, function calls and unary signs may nest at most [`MAX_DEPTH`]
//! deep, so neither parsing nor evaluating (both recursive) can exhaust the stack.
//! Evaluation uses `f64` and never fails: see [`RetryDelay::delay_ms`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{InputError, InputResult};

/// Longest accepted expression, in bytes. Real expressions are a few dozen
/// characters; the limit only keeps hostile input cheap.
pub const MAX_SOURCE_LEN: usize = 1024;

/// Deepest accepted nesting of parentheses, function calls and unary signs.
pub const MAX_DEPTH: usize = 64;

/// Largest delay [`RetryDelay::delay_ms`] returns: one year, in milliseconds. Larger
/// results (including `+inf`, e.g. from `1 / 0` or `exp(1000)`) are clamped to it,
/// so that adding the delay to a timestamp can never overflow.
pub const MAX_RETRY_DELAY_MS: u64 = 86_400_000 * 365;

/// The header named in error messages by [`RetryDelay::parse`].
const HEADER: &str = "Upstash-Retry-Delay";

/// What every error message says a valid value looks like.
const EXPECTED: &str = "expected a math expression in milliseconds using numbers, `retried`, \
     + - * /, parentheses and pow exp sqrt abs floor ceil round min max, \
     like `1000 * (1 + retried)` or `pow(2, retried) * 1000`";

/// A parsed retry-delay expression. Compare, clone and serialize it freely: it is
/// the source text plus its syntax tree.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryDelay {
    source: String,
    ast: Expr,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Number(f64),
    Retried,
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Pow,
    Exp,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Round,
    Min,
    Max,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "pow" => Func::Pow,
            "exp" => Func::Exp,
            "sqrt" => Func::Sqrt,
            "abs" => Func::Abs,
            "floor" => Func::Floor,
            "ceil" => Func::Ceil,
            "round" => Func::Round,
            "min" => Func::Min,
            "max" => Func::Max,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Func::Pow => "pow",
            Func::Exp => "exp",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Round => "round",
            Func::Min => "min",
            Func::Max => "max",
        }
    }

    /// Checks the argument count, returning a description of the expected count
    /// when it is wrong.
    fn check_arity(self, count: usize) -> Result<(), &'static str> {
        match self {
            Func::Pow if count != 2 => Err("exactly 2 arguments"),
            Func::Min | Func::Max if count < 2 => Err("at least 2 arguments"),
            Func::Exp | Func::Sqrt | Func::Abs | Func::Floor | Func::Ceil | Func::Round
                if count != 1 =>
            {
                Err("exactly 1 argument")
            }
            _ => Ok(()),
        }
    }
}

impl RetryDelay {
    /// Parses an `Upstash-Retry-Delay` value. Errors name that header; use
    /// [`RetryDelay::parse_for_header`] for `Upstash-Callback-Retry-Delay` and
    /// friends. Surrounding whitespace is trimmed and not kept in [`Self::source`].
    pub fn parse(source: &str) -> InputResult<Self> {
        Self::parse_for_header(HEADER, source)
    }

    /// Like [`RetryDelay::parse`], naming `header` in error messages.
    pub fn parse_for_header(header: &str, source: &str) -> InputResult<Self> {
        let source = source.trim();
        if source.len() > MAX_SOURCE_LEN {
            return Err(InputError::new(format!(
                "invalid {header}: the expression is {} bytes long, the limit is \
                 {MAX_SOURCE_LEN}; {EXPECTED}",
                source.len()
            )));
        }
        let mut parser = Parser {
            src: source,
            bytes: source.as_bytes(),
            pos: 0,
            depth: 0,
        };
        let parsed = parser.parse_all();
        match parsed {
            Ok(ast) => Ok(RetryDelay {
                source: source.to_string(),
                ast,
            }),
            Err(reason) => Err(InputError::new(format!(
                "invalid {header} {source:?}: {reason}; {EXPECTED}"
            ))),
        }
    }

    /// The expression text as accepted (trimmed), for showing it back to users.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Milliseconds to wait before the next retry, given `retried` = retries
    /// already made (0 before the first retry).
    ///
    /// Arithmetic is `f64`, so nothing here can fail or panic; odd results are
    /// mapped to something schedulable instead: NaN (e.g. `sqrt(-1)`, `0 / 0`) and
    /// negative values become 0 (retry immediately), values above
    /// [`MAX_RETRY_DELAY_MS`] (including infinity) become that cap, and fractions
    /// are rounded down.
    pub fn delay_ms(&self, retried: u32) -> u64 {
        let value = eval(&self.ast, f64::from(retried));
        if value.is_nan() || value <= 0.0 {
            0
        } else if value >= MAX_RETRY_DELAY_MS as f64 {
            MAX_RETRY_DELAY_MS
        } else {
            // In range (0, cap): the cast truncates, i.e. rounds down.
            value as u64
        }
    }
}

impl fmt::Display for RetryDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for RetryDelay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for RetryDelay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        RetryDelay::parse(&source).map_err(serde::de::Error::custom)
    }
}

fn eval(expr: &Expr, retried: f64) -> f64 {
    match expr {
        Expr::Number(n) => *n,
        Expr::Retried => retried,
        Expr::Neg(inner) => -eval(inner, retried),
        Expr::Binary(op, lhs, rhs) => {
            let (a, b) = (eval(lhs, retried), eval(rhs, retried));
            match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
            }
        }
        Expr::Call(func, args) => {
            // Arity was checked by the parser; a missing argument would read as NaN
            // (and so a 0 ms delay) rather than panic.
            let arg = |i: usize| args.get(i).map_or(f64::NAN, |a| eval(a, retried));
            match func {
                Func::Pow => arg(0).powf(arg(1)),
                Func::Exp => arg(0).exp(),
                Func::Sqrt => arg(0).sqrt(),
                Func::Abs => arg(0).abs(),
                Func::Floor => arg(0).floor(),
                Func::Ceil => arg(0).ceil(),
                Func::Round => arg(0).round(),
                // f64::min/max ignore a NaN operand unless both are NaN.
                Func::Min => args
                    .iter()
                    .map(|a| eval(a, retried))
                    .fold(f64::INFINITY, f64::min),
                Func::Max => args
                    .iter()
                    .map(|a| eval(a, retried))
                    .fold(f64::NEG_INFINITY, f64::max),
            }
        }
    }
}

/// Recursive-descent parser over the bytes of the source. Every token is ASCII, so
/// a non-ASCII byte is always an "unexpected character" and `pos` always stays on a
/// char boundary. Errors are plain reasons; the caller adds header and value.
struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn parse_all(&mut self) -> Result<Expr, String> {
        if self.bytes.is_empty() {
            return Err("the expression is empty".into());
        }
        let expr = self.expr()?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(format!("unexpected {}", self.here()));
        }
        Ok(expr)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut lhs = self.term()?;
        loop {
            let op = match self.peek() {
                Some(b'+') => BinOp::Add,
                Some(b'-') => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.term()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(b'*') => BinOp::Mul,
                Some(b'/') => BinOp::Div,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(sign @ (b'-' | b'+')) => {
                self.pos += 1;
                self.descend()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(if sign == b'-' {
                    Expr::Neg(Box::new(inner))
                } else {
                    inner
                })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            None => Err(format!(
                "unexpected end of expression at character {}; expected a number, \
                 `retried`, a function call or `(`",
                self.char_index()
            )),
            Some(b'(') => {
                self.pos += 1;
                self.descend()?;
                let inner = self.expr()?;
                self.expect_close("`)` to close `(`")?;
                self.depth -= 1;
                Ok(inner)
            }
            Some(b) if b.is_ascii_digit() || b == b'.' => self.number(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => self.identifier(),
            Some(_) => Err(format!(
                "unexpected {}; expected a number, `retried`, a function call or `(`",
                self.here()
            )),
        }
    }

    fn number(&mut self) -> Result<Expr, String> {
        let start = self.pos;
        let int_digits = self.digits();
        let mut frac_digits = 0;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            frac_digits = self.digits();
            if frac_digits == 0 {
                return Err(format!(
                    "a decimal point must be followed by digits at character {}",
                    self.char_index()
                ));
            }
        }
        if int_digits == 0 && frac_digits == 0 {
            return Err(format!("unexpected {}", self.here_at(start)));
        }
        if self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b'.')
        {
            return Err(format!(
                "unexpected {} right after a number",
                self.here_at(self.pos)
            ));
        }
        // The slice is `digits[.digits]`, which Rust's f64 parser always accepts;
        // a huge literal parses as infinity and is clamped by `delay_ms`.
        self.src[start..self.pos]
            .parse::<f64>()
            .map(Expr::Number)
            .map_err(|_| format!("invalid number {:?}", &self.src[start..self.pos]))
    }

    fn identifier(&mut self) -> Result<Expr, String> {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.pos += 1;
        }
        let name = &self.src[start..self.pos];
        let is_call = self.peek() == Some(b'(');
        if !is_call {
            if name == "retried" {
                return Ok(Expr::Retried);
            }
            return Err(if Func::from_name(name).is_some() {
                format!("function `{name}` must be called with arguments in parentheses")
            } else {
                format!("unknown variable `{name}` (the only variable is `retried`)")
            });
        }
        let Some(func) = Func::from_name(name) else {
            return Err(format!(
                "unknown function `{name}` (functions are pow, exp, sqrt, abs, floor, \
                 ceil, round, min and max)"
            ));
        };
        self.pos += 1; // the `(`
        self.descend()?;
        let mut args = vec![self.expr()?];
        while self.peek() == Some(b',') {
            self.pos += 1;
            args.push(self.expr()?);
        }
        self.expect_close("`,` or `)` in the arguments of a function call")?;
        self.depth -= 1;
        func.check_arity(args.len()).map_err(|expected| {
            format!("`{}` takes {expected}, got {}", func.name(), args.len())
        })?;
        Ok(Expr::Call(func, args))
    }

    fn expect_close(&mut self, what: &str) -> Result<(), String> {
        if self.peek() == Some(b')') {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {what}, found {}", self.here()))
        }
    }

    /// Enters one nesting level, refusing to go deeper than [`MAX_DEPTH`].
    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(format!(
                "the expression nests more than {MAX_DEPTH} levels deep"
            ))
        } else {
            Ok(())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn skip_ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, without consuming it.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    /// 1-based character index of `pos`, for error messages.
    fn char_index_at(&self, pos: usize) -> usize {
        self.src.get(..pos).map_or(0, |s| s.chars().count()) + 1
    }

    fn char_index(&self) -> usize {
        self.char_index_at(self.pos)
    }

    fn here(&self) -> String {
        self.here_at(self.pos)
    }

    /// `"x" at character 5`, or `end of expression`.
    fn here_at(&self, pos: usize) -> String {
        match self.src.get(pos..).and_then(|rest| rest.chars().next()) {
            Some(c) => format!(
                "{:?} at character {}",
                c.to_string(),
                self.char_index_at(pos)
            ),
            None => "end of expression".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(source: &str) -> RetryDelay {
        match RetryDelay::parse(source) {
            Ok(delay) => delay,
            Err(e) => panic!("{source:?} should parse: {e}"),
        }
    }

    fn delay(source: &str, retried: u32) -> u64 {
        parse(source).delay_ms(retried)
    }

    fn err(source: &str) -> String {
        match RetryDelay::parse(source) {
            Ok(d) => panic!("{source:?} should fail, got {d:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn spec_examples() {
        assert_eq!(delay("1000", 0), 1000);
        assert_eq!(delay("1000", 7), 1000);
        assert_eq!(delay("1000 * (1 + retried)", 2), 3000);
        assert_eq!(delay("1000 * (1 + retried)", 0), 1000);
        assert_eq!(delay("pow(2, retried) * 1000", 0), 1000);
        assert_eq!(delay("pow(2, retried) * 1000", 3), 8000);
        assert_eq!(delay("max(1000, pow(2, retried) * 100)", 0), 1000);
        assert_eq!(delay("max(1000, pow(2, retried) * 100)", 5), 3200);
    }

    #[test]
    fn precedence_associativity_and_unary_minus() {
        assert_eq!(delay("1 + 2 * 3", 0), 7);
        assert_eq!(delay("(1 + 2) * 3", 0), 9);
        assert_eq!(delay("100 - 10 - 10", 0), 80);
        assert_eq!(delay("1000 / 10 / 2", 0), 50);
        assert_eq!(delay("-(-5)", 0), 5);
        assert_eq!(delay("10 - -5", 0), 15);
        assert_eq!(delay("+7", 0), 7);
        assert_eq!(delay("2 * -3 + 10", 0), 4);
    }

    #[test]
    fn every_function() {
        assert_eq!(delay("exp(0) * 1000", 0), 1000);
        assert_eq!(delay("sqrt(16)", 0), 4);
        assert_eq!(delay("abs(-12)", 0), 12);
        assert_eq!(delay("floor(2.9)", 0), 2);
        assert_eq!(delay("ceil(2.1)", 0), 3);
        assert_eq!(delay("round(2.5)", 0), 3);
        assert_eq!(delay("round(2.4)", 0), 2);
        assert_eq!(delay("min(5, 3, 9)", 0), 3);
        assert_eq!(delay("max(5, 3, 9, retried)", 20), 20);
        assert_eq!(delay("min(retried, 2)", 10), 2);
    }

    #[test]
    fn decimals_and_whitespace() {
        assert_eq!(delay("1.5 * 1000", 0), 1500);
        assert_eq!(delay(".5 * 1000", 0), 500);
        assert_eq!(delay("\t1000*(1+retried) ", 1), 2000);
        assert_eq!(delay("999.9", 0), 999);
    }

    #[test]
    fn odd_results_are_clamped() {
        assert_eq!(delay("-1000", 0), 0);
        assert_eq!(delay("sqrt(-1)", 0), 0);
        assert_eq!(delay("0 / 0", 0), 0);
        assert_eq!(delay("1 / 0", 0), MAX_RETRY_DELAY_MS);
        assert_eq!(delay("-1 / 0", 0), 0);
        assert_eq!(delay("exp(100000)", 0), MAX_RETRY_DELAY_MS);
        assert_eq!(delay("pow(2, retried)", u32::MAX), MAX_RETRY_DELAY_MS);
        assert_eq!(
            delay("99999999999999999999999999999", 0),
            MAX_RETRY_DELAY_MS
        );
        assert_eq!(MAX_RETRY_DELAY_MS, 31_536_000_000);
    }

    #[test]
    fn source_is_kept_trimmed() {
        let parsed = parse("  pow(2, retried) * 1000 ");
        assert_eq!(parsed.source(), "pow(2, retried) * 1000");
        assert_eq!(parsed.to_string(), "pow(2, retried) * 1000");
    }

    #[test]
    fn syntax_errors() {
        assert!(err("1000 +").contains("unexpected end of expression"));
        assert!(err("foo").contains("unknown variable `foo`"));
        assert!(err("foo(1)").contains("unknown function `foo`"));
        assert!(err("pow(2)").contains("`pow` takes exactly 2 arguments, got 1"));
        assert!(err("pow(1, 2, 3)").contains("got 3"));
        assert!(err("max(1)").contains("at least 2 arguments"));
        assert!(err("sqrt(1, 2)").contains("exactly 1 argument"));
        assert!(err("pow").contains("must be called"));
        assert!(err("").contains("empty"));
        assert!(err("   ").contains("empty"));
        assert!(err("(1 + 2").contains("expected `)`"));
        assert!(err("1 + 2)").contains("unexpected \")\""));
        assert!(err("1 2").contains("unexpected \"2\""));
        assert!(err("1.").contains("decimal point"));
        assert!(err("1.2.3").contains("right after a number"));
        assert!(err("2retried").contains("right after a number"));
        assert!(err("1e3").contains("right after a number"));
        assert!(err("2 ^ 3").contains("unexpected \"^\""));
        assert!(err("pow(2,)").contains("unexpected \")\""));
        assert!(err("max()").contains("unexpected \")\""));
        assert!(err("Retried").contains("unknown variable `Retried`"));
        assert!(err("1 + é").contains("unexpected \"é\" at character 5"));
        assert!(err("*").contains("unexpected \"*\" at character 1"));
    }

    #[test]
    fn error_message_names_header_and_valid_shape() {
        let message = err("1000 +");
        assert!(
            message.starts_with("invalid Upstash-Retry-Delay \"1000 +\": "),
            "{message}"
        );
        assert!(message.contains("1000 * (1 + retried)"), "{message}");

        let callback = RetryDelay::parse_for_header("Upstash-Callback-Retry-Delay", "x")
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(callback.starts_with("invalid Upstash-Callback-Retry-Delay \"x\""));
    }

    #[test]
    fn limits_on_length_and_depth() {
        let long = format!("1{}", " + 1".repeat(MAX_SOURCE_LEN));
        assert!(err(&long).contains("the limit is 1024"));

        let ok_depth = format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(delay(&ok_depth, 0), 1);
        let too_deep = format!(
            "{}1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(err(&too_deep).contains("nests more than 64"));
        assert!(err(&"-".repeat(1000)).contains("nests more than 64"));
        assert!(err(&"abs(".repeat(200)).contains("nests more than 64"));

        // The longest flat chain the length limit allows parses and evaluates.
        let chain = format!("1{}", "+1".repeat((MAX_SOURCE_LEN - 1) / 2));
        assert_eq!(delay(&chain, 0), 512);
    }

    #[test]
    fn serde_uses_the_source_text() {
        let parsed = parse("pow(2, retried) * 1000");
        let json = serde_json::to_string(&parsed).unwrap_or_default();
        assert_eq!(json, "\"pow(2, retried) * 1000\"");
        let back: RetryDelay = serde_json::from_str(&json)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, parsed);

        let bad = serde_json::from_str::<RetryDelay>("\"1000 +\"");
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("unexpected end of expression"),
            "{message}"
        );
        assert!(serde_json::from_str::<RetryDelay>("42").is_err());
    }

    proptest! {
        #[test]
        fn random_strings_never_panic(s in any::<String>(), retried in any::<u32>()) {
            if let Ok(parsed) = RetryDelay::parse(&s) {
                let ms = parsed.delay_ms(retried);
                prop_assert!(ms <= MAX_RETRY_DELAY_MS);
            }
        }

        #[test]
        fn expression_like_strings_never_panic(
            s in "[0-9retidpowmaxsqrflcbun(),.+*/ -]{0,80}",
            retried in any::<u32>(),
        ) {
            if let Ok(parsed) = RetryDelay::parse(&s) {
                prop_assert!(parsed.delay_ms(retried) <= MAX_RETRY_DELAY_MS);
            }
        }

        #[test]
        fn integer_literals_evaluate_to_themselves(n in 0u64..=1_000_000_000) {
            prop_assert_eq!(RetryDelay::parse(&n.to_string()).map(|d| d.delay_ms(3)), Ok(n));
        }

        #[test]
        fn linear_backoff_matches(a in 0u32..100_000, retried in 0u32..1000) {
            let parsed = RetryDelay::parse(&format!("{a} * (1 + retried)"));
            prop_assert_eq!(parsed.map(|d| d.delay_ms(retried)), Ok(u64::from(a) * (1 + u64::from(retried))));
        }
    }
}
