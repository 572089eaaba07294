//! Column types: `--schema 'name TYPE, ...'`, inference from the data, and the exact conversion
//! of a field's text to its type.
//!
//! **Inference** (a column without a `--schema` type, over every value of the run; empty values
//! are nulls): whole numbers without leading zeros → `BIGINT`; other plain decimals with at most 4
//! decimal places and 14 integer digits → `DECIMAL(18,4)`; more decimal places →
//! `DECIMAL(38,s)`; anything else (text, `007`, `1e5`) → `VARCHAR`, the text as it was. A
//! volume is *integral*: `524.0` is the integer 524, so it stays `BIGINT` unless some volume has
//! a nonzero fraction. Nothing is rounded: a value a type cannot hold exactly is never
//! converted to it.

use std::fmt;

use datafusion::arrow::datatypes::{DataType, TimeUnit};

use crate::error::{Error, Result};

/// The type of an ingested column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int64,
    /// Decimal128(precision, scale).
    Decimal(u8, i8),
    Float64,
    Utf8,
    /// Only for the timestamp column a shape derives (`--schema 'ts TIMESTAMP, ...'` names it).
    Timestamp,
}

impl ColType {
    pub fn arrow(self) -> DataType {
        match self {
            Self::Int64 => DataType::Int64,
            Self::Decimal(p, s) => DataType::Decimal128(p, s),
            Self::Float64 => DataType::Float64,
            Self::Utf8 => DataType::Utf8,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        }
    }

    /// `BIGINT`, `DECIMAL(18,4)`, `DOUBLE`, `VARCHAR`, `TIMESTAMP`, ...
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_uppercase();
        let t = t.replace(' ', "");
        Ok(match t.as_str() {
            "BIGINT" | "INT" | "INTEGER" | "INT64" | "LONG" => Self::Int64,
            "DOUBLE" | "FLOAT" | "FLOAT64" | "REAL" | "DOUBLEPRECISION" => Self::Float64,
            "VARCHAR" | "TEXT" | "STRING" | "UTF8" | "CHAR" => Self::Utf8,
            "TIMESTAMP" | "DATETIME" | "DATE" => Self::Timestamp,
            "DECIMAL" | "NUMERIC" => Self::Decimal(18, 4),
            _ => {
                let args = t
                    .strip_prefix("DECIMAL(")
                    .or_else(|| t.strip_prefix("NUMERIC("))
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| {
                        format!(
                            "unknown type '{}' (BIGINT, DECIMAL(p,s), DOUBLE, VARCHAR, TIMESTAMP)",
                            text.trim()
                        )
                    })?;
                let (p, s) = args.split_once(',').unwrap_or((args, "0"));
                let p: u8 = p
                    .parse()
                    .map_err(|_| format!("bad precision in '{text}'"))?;
                let s: i8 = s.parse().map_err(|_| format!("bad scale in '{text}'"))?;
                if !(1..=38).contains(&p) || s < 0 || s as u8 > p {
                    return Err(format!(
                        "'{}': DECIMAL needs 1 <= precision <= 38 and 0 <= scale <= precision",
                        text.trim()
                    ));
                }
                Self::Decimal(p, s)
            }
        })
    }
}

impl fmt::Display for ColType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int64 => f.write_str("BIGINT"),
            Self::Decimal(p, s) => write!(f, "DECIMAL({p},{s})"),
            Self::Float64 => f.write_str("DOUBLE"),
            Self::Utf8 => f.write_str("VARCHAR"),
            Self::Timestamp => f.write_str("TIMESTAMP"),
        }
    }
}

/// A column name as ingest writes it: trimmed, lower case, every character other than a letter,
/// digit or `_` replaced by `_` (`Adj Close` → `adj_close`).
pub fn normalize(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `--schema 'name TYPE, name TYPE, ...'` → (normalized name, type), in order.
pub fn parse_schema(spec: &str) -> Result<Vec<(String, ColType)>> {
    let bad = |m: String| Error::invalid(format!("--schema: {m}"));
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in spec.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&spec[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&spec[start..]);
    let mut out: Vec<(String, ColType)> = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (name, ty) = part
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(format!("'{part}' is not 'name TYPE'")))?;
        let name = normalize(name.trim_matches('"'));
        let ty = ColType::parse(ty).map_err(|e| bad(format!("column '{name}': {e}")))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(bad(format!("column '{name}' is named twice")));
        }
        out.push((name, ty));
    }
    if out.is_empty() {
        return Err(bad("no columns".into()));
    }
    Ok(out)
}

/// What the values of a column look like, for inference; merged over the files of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Non-empty values seen.
    pub values: u64,
    /// Some value is not a plain decimal number.
    pub text: bool,
    /// Some value has a decimal point.
    pub point: bool,
    /// Some number has a leading zero (`007`): only text keeps it.
    pub leading_zero: bool,
    /// Most decimal places of a value (trailing zeros not counted).
    pub scale: u8,
    /// Most integer digits of a value (leading zeros not counted).
    pub int_digits: u8,
}

impl Stats {
    pub fn observe(&mut self, s: &str) {
        let t = s.trim();
        if t.is_empty() {
            return;
        }
        self.values += 1;
        match number_parts(t) {
            Some((int, frac)) => {
                self.point |= t.contains('.');
                let significant = int.trim_start_matches('0');
                self.leading_zero |= int.len() > 1 && int.starts_with('0');
                self.int_digits = self.int_digits.max(clamp(significant.len()));
                self.scale = self.scale.max(clamp(frac.trim_end_matches('0').len()));
            }
            None => self.text = true,
        }
    }

    pub fn merge(&mut self, o: &Stats) {
        self.values += o.values;
        self.text |= o.text;
        self.point |= o.point;
        self.leading_zero |= o.leading_zero;
        self.scale = self.scale.max(o.scale);
        self.int_digits = self.int_digits.max(o.int_digits);
    }

    /// The type inferred for these values (see the module doc); `integral`: a volume.
    pub fn infer(&self, integral: bool) -> ColType {
        if integral {
            if self.scale == 0 && self.int_digits <= 18 {
                return ColType::Int64;
            }
        } else if self.values == 0 || self.text || self.leading_zero {
            return ColType::Utf8;
        } else if !self.point && self.int_digits <= 18 {
            return ColType::Int64;
        }
        if self.scale <= 4 && self.int_digits <= 14 {
            return ColType::Decimal(18, 4);
        }
        let scale = self.scale.max(4);
        if u32::from(self.int_digits) + u32::from(scale) <= 38 {
            return ColType::Decimal(38, scale as i8);
        }
        if integral {
            ColType::Float64
        } else {
            ColType::Utf8
        }
    }

    /// Whether `ty` holds every value seen exactly (`DOUBLE`: every number, as the user asked).
    pub fn fits(&self, ty: ColType, integral: bool) -> bool {
        if self.values == 0 {
            return true;
        }
        let numbers = !self.text && (integral || !self.leading_zero);
        match ty {
            ColType::Utf8 => !integral,
            ColType::Timestamp => false,
            ColType::Float64 => numbers,
            ColType::Int64 => {
                numbers
                    && self.int_digits <= 18
                    && if integral {
                        self.scale == 0
                    } else {
                        !self.point
                    }
            }
            ColType::Decimal(p, s) => {
                numbers
                    && i16::from(self.scale) <= i16::from(s)
                    && i16::from(self.int_digits) <= i16::from(p) - i16::from(s)
            }
        }
    }
}

fn clamp(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// Whether `t` is a plain decimal number `[+-]digits[.digits]`.
pub fn is_number(t: &str) -> bool {
    number_parts(t.trim()).is_some()
}

/// (integer digits, fraction digits) of a plain decimal number `[+-]digits[.digits]`.
fn number_parts(t: &str) -> Option<(&str, &str)> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let ok = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c.is_ascii_digit());
    ok.then_some((int, frac))
}

/// Why a text is not a value of a decimal type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaledErr {
    Empty,
    NotNumber,
    Range,
    Scale,
}

/// A plain decimal number → its value scaled by 10^`scale`, exactly: more decimal places than
/// `scale` (other than trailing zeros), or more than `precision - scale` integer digits, is an
/// error, never a rounding.
pub fn parse_scaled(s: &str, precision: u8, scale: i8) -> Result<i128, ScaledErr> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ScaledErr::Empty);
    }
    let neg = t.starts_with('-');
    let (int, frac) = number_parts(t).ok_or(ScaledErr::NotNumber)?;
    let int = int.trim_start_matches('0');
    let scale = scale.max(0) as usize;
    if int.len() + scale > precision as usize {
        return Err(ScaledErr::Range);
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > scale {
        return Err(ScaledErr::Scale);
    }
    let mut v: i128 = 0;
    for c in int.bytes() {
        v = v * 10 + i128::from(c - b'0');
    }
    for i in 0..scale {
        let d = frac.as_bytes().get(i).map_or(0, |c| c - b'0');
        v = v * 10 + i128::from(d);
    }
    Ok(if neg { -v } else { v })
}

/// A typed value of one field, before it is appended (a row is appended only when every field
/// of it is good).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    Null,
    I64(i64),
    I128(i128),
    F64(f64),
    /// The text of the record's field with this index.
    Str(usize),
}

/// `text` (field `index` of its record) as a value of `ty`; `Err(why)` completes
/// "`name 'text' why`". `integral`: `524.0` is an integer (volumes).
pub(crate) fn convert(
    ty: ColType,
    text: &str,
    index: usize,
    integral: bool,
) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    match ty {
        ColType::Utf8 | ColType::Timestamp => Ok(Value::Str(index)),
        ColType::Int64 => {
            if integral {
                match parse_scaled(t, 38, 0) {
                    Ok(v) => i64::try_from(v)
                        .map(Value::I64)
                        .map_err(|_| "is out of range for BIGINT".to_string()),
                    Err(ScaledErr::Scale) => Err("is not an integer (the column is BIGINT)".into()),
                    Err(_) => Err("is not a number".into()),
                }
            } else {
                t.parse::<i64>()
                    .map(Value::I64)
                    .map_err(|_| "is not an integer (the column is BIGINT)".to_string())
            }
        }
        ColType::Decimal(p, s) => parse_scaled(t, p, s).map(Value::I128).map_err(|e| match e {
            ScaledErr::Empty => "is empty".to_string(),
            ScaledErr::NotNumber => "is not a number".to_string(),
            ScaledErr::Range => format!("is out of range for {ty}"),
            ScaledErr::Scale => format!("has more than {s} decimal places (the column is {ty})"),
        }),
        ColType::Float64 => match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Value::F64(v)),
            _ => Err("is not a number".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str], integral: bool) -> ColType {
        let mut s = Stats::default();
        for v in values {
            s.observe(v);
        }
        s.infer(integral)
    }

    #[test]
    fn inference() {
        assert_eq!(infer(&["1", "", "-20"], false), ColType::Int64);
        assert_eq!(infer(&["1", "2.5"], false), ColType::Decimal(18, 4));
        assert_eq!(infer(&["1.123456"], false), ColType::Decimal(38, 6));
        assert_eq!(infer(&["1", "x"], false), ColType::Utf8);
        assert_eq!(infer(&["007"], false), ColType::Utf8);
        assert_eq!(infer(&["1.0"], false), ColType::Decimal(18, 4));
        assert_eq!(infer(&["524.0", "3"], true), ColType::Int64);
        assert_eq!(infer(&["524.0", "100.9"], true), ColType::Decimal(18, 4));
        assert_eq!(infer(&[], false), ColType::Utf8);
    }

    #[test]
    fn schema_text() {
        let s = parse_schema("eventtype VARCHAR, Volume decimal(20, 2),x double").expect("ok");
        assert_eq!(
            s,
            vec![
                ("eventtype".into(), ColType::Utf8),
                ("volume".into(), ColType::Decimal(20, 2)),
                ("x".into(), ColType::Float64)
            ]
        );
        assert!(parse_schema("a BLOB").is_err());
        assert!(parse_schema("a INT, a INT").is_err());
        assert_eq!(
            convert(ColType::Int64, "524.0", 0, true),
            Ok(Value::I64(524))
        );
        assert!(convert(ColType::Int64, "100.9", 0, true).is_err());
        assert_eq!(
            convert(ColType::Decimal(18, 4), "100.9", 0, true),
            Ok(Value::I128(1_009_000))
        );
    }
}
