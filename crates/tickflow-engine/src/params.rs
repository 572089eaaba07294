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

/// Replaces every `${name}` / `${name:-default}` in `sql`. `source` names the script in errors.
pub fn substitute(sql: &str, params: &BTreeMap<String, String>, source: &str) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let line = sql[..sql.len() - rest.len() + start].matches('\n').count() + 1;
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(DataFusionError::Plan(format!(
                "{source}:{line}: unterminated parameter: '${{' without a closing '}}'"
            )));
        };
        let body = &after[..end];
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
            (Some(value), _) => out.push_str(value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(DataFusionError::Plan(format!(
                    "{source}:{line}: missing parameter '{name}': pass --param {name}=VALUE"
                )));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
