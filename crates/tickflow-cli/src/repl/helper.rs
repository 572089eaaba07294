//! The line editor's helper: Enter ends input only at a complete statement, and Tab completes
//! SQL keywords, table, column and function names, backslash commands, and file names after
//! `\i` and `\o`.

use std::collections::BTreeSet;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::commands::COMMANDS;
use super::statements::is_complete;

/// Names the completer offers besides keywords; refreshed from the session after statements.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Names {
    pub tables: BTreeSet<String>,
    pub columns: BTreeSet<String>,
    pub functions: BTreeSet<String>,
}

impl Names {
    /// Every table (bare in the default schema, qualified elsewhere) and column, from
    /// `information_schema`, and every registered function. A failing lookup leaves names out:
    /// completion is a convenience and never an error.
    pub async fn of(ctx: &SessionContext) -> Names {
        let mut names = Names::default();
        let state = ctx.state();
        let options = &state.config_options().catalog;
        let tables = rows(
            ctx,
            "SELECT table_catalog, table_schema, table_name FROM information_schema.tables",
        )
        .await;
        for row in tables {
            let [catalog, schema, table] = row.as_slice() else {
                continue;
            };
            names.tables.insert(if *catalog != options.default_catalog {
                format!("{catalog}.{schema}.{table}")
            } else if *schema != options.default_schema {
                format!("{schema}.{table}")
            } else {
                table.clone()
            });
        }
        let columns = rows(
            ctx,
            "SELECT DISTINCT column_name FROM information_schema.columns \
             WHERE table_schema <> 'information_schema'",
        )
        .await;
        names.columns.extend(columns.into_iter().flatten());
        names
            .functions
            .extend(state.scalar_functions().keys().cloned());
        names
            .functions
            .extend(state.aggregate_functions().keys().cloned());
        names
            .functions
            .extend(state.window_functions().keys().cloned());
        names
            .functions
            .extend(state.table_functions().keys().cloned());
        names.functions.extend(
            tickflow_plan::documented_functions()
                .into_iter()
                .map(|(name, _, _)| name),
        );
        names
    }
}

/// The rows of a query, every value as text (NULL as empty); no rows if it fails.
async fn rows(ctx: &SessionContext, sql: &str) -> Vec<Vec<String>> {
    let Ok(batches) = async { ctx.sql(sql).await?.collect().await }.await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for batch in batches {
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .filter_map(|c| cast(c, &DataType::Utf8).ok())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| c.as_string::<i32>().value(row).to_string())
                    .collect(),
            );
        }
    }
    out
}

/// The REPL's rustyline helper.
pub struct ReplHelper {
    /// Validate multi-line input (only when a person types: piped input is cut by the REPL).
    pub validate: bool,
    pub names: Names,
    files: FilenameCompleter,
}

impl std::fmt::Debug for ReplHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplHelper")
            .field("validate", &self.validate)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl ReplHelper {
    pub fn new(validate: bool) -> ReplHelper {
        ReplHelper {
            validate,
            names: Names::default(),
            files: FilenameCompleter::new(),
        }
    }

    /// Candidates for the word ending at `pos` in `line` (which holds the whole input so far).
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '\\'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let trimmed = before.trim_start();
        if trimmed.starts_with('\\') && !trimmed.contains(char::is_whitespace) {
            let found = COMMANDS
                .iter()
                .map(|(name, _)| name.split_whitespace().next().unwrap_or(name))
                .filter(|name| name.starts_with(word))
                .map(str::to_string)
                .collect::<BTreeSet<_>>();
            return (start, found.into_iter().collect());
        }
        if trimmed.starts_with("\\d") {
            return (start, prefixed(self.names.tables.iter(), word));
        }
        if word.is_empty() {
            return (start, Vec::new());
        }
        let lower = word.to_ascii_lowercase();
        let mut found: BTreeSet<String> = BTreeSet::new();
        found.extend(prefixed(self.names.tables.iter(), word));
        found.extend(prefixed(self.names.columns.iter(), word));
        found.extend(prefixed(self.names.functions.iter(), word));
        // Keywords in the case the user types them in.
        let lowercase = word.chars().all(|c| !c.is_ascii_uppercase());
        for keyword in ALL_KEYWORDS {
            if keyword.to_ascii_lowercase().starts_with(&lower) {
                found.insert(if lowercase {
                    keyword.to_ascii_lowercase()
                } else {
                    (*keyword).to_string()
                });
            }
        }
        (start, found.into_iter().collect())
    }
}

/// Names starting with `word`, ignoring ASCII case.
fn prefixed<'a>(names: impl Iterator<Item = &'a String>, word: &str) -> Vec<String> {
    let lower = word.to_ascii_lowercase();
    names
        .filter(|name| name.to_ascii_lowercase().starts_with(&lower))
        .cloned()
        .collect()
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let trimmed = line.trim_start();
        if (trimmed.starts_with("\\i ") || trimmed.starts_with("\\o ")) && pos > 3 {
            return self.files.complete(line, pos, ctx);
        }
        let (start, names) = self.candidates(line, pos);
        let pairs = names
            .into_iter()
            .map(|name| Pair {
                display: name.clone(),
                replacement: name,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        if !self.validate || is_complete(ctx.input()) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        let mut helper = ReplHelper::new(true);
        helper.names.tables.insert("trades".into());
        helper.names.columns.insert("price".into());
        helper.names.columns.insert("symbol".into());
        helper.names.functions.insert("vwap".into());
        helper.names.functions.insert("time_bucket".into());
        helper
    }

    #[test]
    fn completes_names_and_keywords() {
        let h = helper();
        assert_eq!(h.candidates("SELECT vw", 9), (7, vec!["vwap".to_string()]));
        let (start, found) = h.candidates("SELECT pri", 10);
        assert_eq!(start, 7);
        assert!(found.contains(&"price".to_string()));
        assert!(found.contains(&"primary".to_string()));
        assert!(!found.contains(&"symbol".to_string()));
        let (start, found) = h.candidates("select * FROM tra", 17);
        assert_eq!(start, 14);
        assert!(found.contains(&"trades".to_string()));
        assert!(found.contains(&"transaction".to_string()));
        let (_, found) = h.candidates("sel", 3);
        assert!(found.contains(&"select".to_string()));
        let (_, found) = h.candidates("SEL", 3);
        assert!(found.contains(&"SELECT".to_string()));
        assert_eq!(h.candidates("SELECT ", 7), (7, vec![]));
    }

    #[test]
    fn completes_commands_and_tables_after_d() {
        let h = helper();
        let (start, found) = h.candidates("\\d", 2);
        assert_eq!(start, 0);
        assert_eq!(found, vec!["\\d", "\\df", "\\dt"]);
        assert_eq!(h.candidates("\\d tr", 5), (3, vec!["trades".to_string()]));
    }

    #[test]
    fn validates_only_when_asked() {
        assert!(helper().validate);
        assert!(!ReplHelper::new(false).validate);
    }

    #[tokio::test]
    async fn names_come_from_the_session() -> datafusion::common::Result<()> {
        let ctx = tickflow_engine::local_context(&tickflow_engine::EngineConfig::default())?;
        ctx.sql("CREATE TABLE t AS VALUES (1, 'a')")
            .await?
            .collect()
            .await?;
        let names = Names::of(&ctx).await;
        assert!(names.tables.contains("t"));
        assert!(names.tables.contains("information_schema.tables"));
        assert!(names.columns.contains("column1"));
        for f in [
            "vwap",
            "ohlc",
            "bar_std",
            "total_volume",
            "time_bucket",
            "sum",
        ] {
            assert!(names.functions.contains(f), "{f}");
        }
        Ok(())
    }
}
