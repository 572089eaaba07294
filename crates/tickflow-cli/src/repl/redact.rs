//! Secret values taken out of what the REPL writes to its history file.
//!
//! `SET s3.secret_access_key = '...'` typed at the prompt would otherwise sit in clear in
//! `~/.config/tickflow/history` for as long as the file lives. The statement runs as typed;
//! the history keeps it with the value replaced by `'<redacted>'`, for settings and table
//! `OPTIONS` whose name says they hold a secret.

use std::sync::LazyLock;

use regex::Regex;

/// Parts of a setting's name that mark its value as a secret.
const SECRET: &str = r"[A-Za-z0-9_.]*(?:secret|password|token|account_key|private_key|credential|sas_key)[A-Za-z0-9_.]*";

/// A quoted SQL string or a bare word.
const VALUE: &str = r#"(?:'(?:[^']|'')*'|"(?:[^"]|"")*"|[^\s;]+)"#;

static SET: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"(?i)(\bSET\s+{SECRET}\s*(?:=|\bTO\b)\s*){VALUE}")).ok());

/// An `OPTIONS ('key' 'value')` pair: the value quoted (secrets are strings).
static OPTION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"(?i)('{SECRET}'\s+)'(?:[^']|'')*'")).ok());

/// `input` with the values of secret settings and options replaced by `'<redacted>'`.
pub fn redact(input: &str) -> String {
    let mut out = input.to_string();
    for re in [&*SET, &*OPTION].into_iter().flatten() {
        out = re.replace_all(&out, "${1}'<redacted>'").into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact("SET s3.secret_access_key = 'abc''d';"),
            "SET s3.secret_access_key = '<redacted>';"
        );
        assert_eq!(
            redact("set azure.account_key TO xyz"),
            "set azure.account_key TO '<redacted>'"
        );
        assert_eq!(
            redact("SET s3.session_token='t'; SELECT 1"),
            "SET s3.session_token='<redacted>'; SELECT 1"
        );
        assert_eq!(
            redact(
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/' \
                 OPTIONS ('aws.secret_access_key' 'k', 'aws.region' 'us-east-1')"
            ),
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/' \
             OPTIONS ('aws.secret_access_key' '<redacted>', 'aws.region' 'us-east-1')"
        );
        for kept in [
            "SET s3.region = 'us-east-1'",
            "SET s3.access_key_id = 'AKIA'",
            "SELECT 'secret' AS password",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }
}
