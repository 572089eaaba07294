//! Named parameters in SQL scripts: `${name}` is replaced by the value given with
//! `--param name=value`; `${name:-default}` falls back to `default`. A parameter with neither a
//! value nor a default is an error naming it and the line it is on — never an empty string.
//!
//! ```sql
//! -- 01_bars.sql
//! SELECT symbol, time_bucket(INTERVAL '${bar_width:-1 minute}', ts) AS bucket, ...
//! WHERE ts >= TIMESTAMP '${start}' AND ts < TIMESTAMP '${end}'
//! ```

use std::collections::BTreeMap;

use datafusion::common::{DataFusionError, Result};

/// Parses `NAME=VALUE` (as given to `--param`).
pub fn parse_assignment(text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((name, value)) if is_name(name) => Ok((name.to_string(), value.to_string())),
        _ => Err(DataFusionError::Plan(format!(
            "--param expects NAME=VALUE with NAME made of letters, digits and _, got '{text}'"
        ))),
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Replaces every `${name}` / `${name:-default}` in `sql`, in the SQL text and its string
/// literals but not in its comments (`-- ...`, `/* ... */`), which are kept as written: a
/// comment that mentions `${bar_width}` needs no value. `source` names the script in errors.
pub fn substitute(sql: &str, params: &BTreeMap<String, String>, source: &str) -> Result<String> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    // `sql[..copied]` is in `out` already; `i` is where the scan is.
    let (mut copied, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let next = bytes.get(i + 1).copied();
        match (quote, bytes[i], next) {
            // A doubled quote ('it''s') closes the literal and opens it again.
            (Some(q), b, _) if b == q => (quote, i) = (None, i + 1),
            (None, b @ (b'\'' | b'"'), _) => (quote, i) = (Some(b), i + 1),
            (None, b'-', Some(b'-')) => i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n),
            (None, b'/', Some(b'*')) => i = block_comment_end(sql, i),
            (_, b'$', Some(b'{')) => {
                out.push_str(&sql[copied..i]);
                let line = sql[..i].matches('\n').count() + 1;
                let after = &sql[i + 2..];
                let Some(end) = after.find('}') else {
                    return Err(DataFusionError::Plan(format!(
                        "{source}:{line}: unterminated parameter: '${{' without a closing '}}'"
                    )));
                };
                out.push_str(value(&after[..end], params, source, line)?);
                i += 2 + end + 1;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// The value of the parameter `body` (`name` or `name:-default`) names, on `line` of `source`.
fn value<'a>(
    body: &'a str,
    params: &'a BTreeMap<String, String>,
    source: &str,
    line: usize,
) -> Result<&'a str> {
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    if !is_name(name) {
        return Err(DataFusionError::Plan(format!(
            "{source}:{line}: '${{{body}}}' is not a parameter (names are letters, digits and _)"
        )));
    }
    match (params.get(name), default) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default),
        (None, None) => Err(DataFusionError::Plan(format!(
            "{source}:{line}: missing parameter '{name}': pass --param {name}=VALUE"
        ))),
    }
}

/// Where the block comment opening at `start` (`/*`) ends: after its `*/`, counting nested
/// comments as DataFusion's SQL parser does; the end of `sql` if it never closes (the parser
/// reports that).
fn block_comment_end(sql: &str, start: usize) -> usize {
    let bytes = sql.as_bytes();
    let (mut depth, mut i) = (0usize, start);
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => (depth, i) = (depth + 1, i + 2),
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn replaces_values_and_defaults() -> Result<()> {
        let p = params(&[("width", "9 minutes")]);
        let sql = "SELECT '${width}', '${start:-2024-01-02}' -- $notaparam {x}";
        assert_eq!(
            substitute(sql, &p, "q.sql")?,
            "SELECT '9 minutes', '2024-01-02' -- $notaparam {x}"
        );
        Ok(())
    }

    #[test]
    fn missing_parameter_names_itself_and_its_line() {
        let err = substitute("SELECT 1;\nSELECT ${symbols}", &params(&[]), "bars.sql").unwrap_err();
        assert!(
            err.to_string()
                .contains("bars.sql:2: missing parameter 'symbols': pass --param symbols=VALUE"),
            "{err}"
        );
    }

    #[test]
    fn comments_are_kept_as_written() -> Result<()> {
        let p = params(&[("y", "2")]);
        let sql = "-- uses ${bar_width}\nSELECT ${y} /* not ${x} /* nested ${x} */ still ${x} */, \
                   '-- ${y}', 'it''s ${y}' -- ${z}";
        assert_eq!(
            substitute(sql, &p, "q.sql")?,
            "-- uses ${bar_width}\nSELECT 2 /* not ${x} /* nested ${x} */ still ${x} */, \
             '-- 2', 'it''s 2' -- ${z}"
        );
        // An unclosed comment runs to the end; the SQL parser reports it.
        assert_eq!(
            substitute("SELECT 1 /* ${x}", &p, "q.sql")?,
            "SELECT 1 /* ${x}"
        );
        // A parameter's line counts the lines of the comments before it.
        let err = substitute("/* a\nb */\n-- c\nSELECT ${missing}", &p, "q.sql").unwrap_err();
        assert!(
            err.to_string()
                .contains("q.sql:4: missing parameter 'missing'"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn malformed_parameters_are_errors() {
        assert!(substitute("${oops", &params(&[]), "f").is_err());
        assert!(substitute("${1x}", &params(&[]), "f").is_err());
        assert!(parse_assignment("novalue").is_err());
        assert_eq!(
            parse_assignment("a_1=x=y").unwrap(),
            ("a_1".to_string(), "x=y".to_string())
        );
    }
}
