//! The table catalog that outlives a session: every `CREATE EXTERNAL TABLE` (and `--table
//! NAME=PATH`) is recorded in a JSON file and replayed when the next REPL or script starts, so
//! all of them see the same tables. `DROP TABLE` forgets one.
//!
//! Where the file is, first match wins:
//! 1. `--catalog FILE` or the `TICKFLOW_CATALOG` environment variable;
//! 2. `.tickflow/catalog.json` in the current directory, if a `.tickflow` directory exists there
//!    (a project catalog: `mkdir .tickflow` to start one);
//! 3. `tickflow/catalog.json` in the user's config directory (`~/.config/tickflow/` on Linux).
//!
//! The file holds the DDL of each table, so it can be read and edited by hand. It is rewritten
//! atomically (a temporary file renamed over it): a crash never leaves half a catalog.

use std::path::{Path, PathBuf};

use datafusion::common::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{ObjectType, Statement as SqlStatement};
use serde::{Deserialize, Serialize};

/// One registered table: its name and the statement that registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub ddl: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CatalogFile {
    tables: Vec<Entry>,
}

/// The persistent catalog, bound to its file.
#[derive(Debug)]
pub struct Catalog {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl Catalog {
    /// The catalog file to use when none is given explicitly (see the module docs).
    pub fn default_path() -> PathBuf {
        let project = Path::new(".tickflow");
        if project.is_dir() {
            return project.join("catalog.json");
        }
        dirs::config_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("tickflow")
            .join("catalog.json")
    }

    /// Opens the catalog at `path`; a missing file is an empty catalog.
    pub fn open(path: impl Into<PathBuf>) -> Result<Catalog> {
        let path = path.into();
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: CatalogFile = serde_json::from_str(&text).map_err(|e| {
                    DataFusionError::Plan(format!(
                        "catalog {}: not a tickflow catalog ({e}); fix or remove the file",
                        path.display()
                    ))
                })?;
                file.tables
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(DataFusionError::Plan(format!(
                    "catalog {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(Catalog { path, entries })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Registers every recorded table on `ctx`. A table that no longer registers (its files were
    /// removed, say) does not stop the others: its error is returned as a warning.
    pub async fn restore(&self, ctx: &SessionContext) -> Vec<String> {
        let mut warnings = Vec::new();
        for entry in &self.entries {
            if let Err(e) = async { ctx.sql(&entry.ddl).await?.collect().await }.await {
                warnings.push(format!(
                    "table {} from catalog {} is not available: {e}",
                    entry.name,
                    self.path.display()
                ));
            }
        }
        warnings
    }

    /// Records the effect of a statement that ran successfully: a `CREATE EXTERNAL TABLE` is
    /// remembered (replacing a table of the same name), a `DROP TABLE` forgotten. Returns whether
    /// the catalog changed (and was saved).
    pub fn record(&mut self, statement: &Statement) -> Result<bool> {
        match statement {
            Statement::CreateExternalTable(create) => {
                let name = create.name.to_string();
                self.upsert(Entry {
                    name,
                    ddl: statement.to_string(),
                });
            }
            Statement::Statement(sql) => match sql.as_ref() {
                SqlStatement::Drop {
                    object_type: ObjectType::Table,
                    names,
                    ..
                } => {
                    let before = self.entries.len();
                    let dropped: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                    self.entries.retain(|e| !dropped.contains(&e.name));
                    if self.entries.len() == before {
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            },
            _ => return Ok(false),
        }
        self.save()?;
        Ok(true)
    }

    fn upsert(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.name == entry.name) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// Writes the catalog atomically: a temporary file in the same directory, renamed over it.
    fn save(&self) -> Result<()> {
        let fail = |e: std::io::Error| {
            DataFusionError::Execution(format!("cannot write catalog {}: {e}", self.path.display()))
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = CatalogFile {
            tables: self.entries.clone(),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| DataFusionError::Execution(format!("catalog: {e}")))?;
        let tmp = self
            .path
            .with_extension(format!("json.tmp-{}", std::process::id()));
        std::fs::write(&tmp, text + "\n").map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn statement(sql: &str) -> Statement {
        DFParser::parse_sql(sql)
            .expect("parses")
            .pop_front()
            .expect("one statement")
    }

    #[tokio::test]
    async fn records_replays_and_forgets_tables() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "a,b\n1,2\n")?;
        let path = dir.path().join("sub").join("catalog.json");

        let mut catalog = Catalog::open(&path)?;
        let create = format!(
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
            csv.display()
        );
        assert!(catalog.record(&statement(&create))?);
        assert!(!catalog.record(&statement("SELECT 1"))?);

        // A new process sees the table.
        let reopened = Catalog::open(&path)?;
        assert_eq!(reopened.entries().len(), 1);
        let ctx = SessionContext::new();
        assert!(reopened.restore(&ctx).await.is_empty());
        let rows = ctx.sql("SELECT a + b AS s FROM t").await?.collect().await?;
        assert_eq!(rows[0].num_rows(), 1);

        let mut catalog = reopened;
        assert!(catalog.record(&statement("DROP TABLE t"))?);
        assert!(Catalog::open(&path)?.entries().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_table_is_a_warning_not_a_failure() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("catalog.json");
        let mut catalog = Catalog::open(&path)?;
        catalog.record(&statement("CREATE EXTERNAL TABLE gone STORED AS PARQUET LOCATION '/nonexistent/tickflow/x.parquet'"))?;
        let warnings = catalog.restore(&SessionContext::new()).await;
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("table gone from catalog"),
            "{warnings:?}"
        );
        Ok(())
    }

    #[test]
    fn a_corrupt_catalog_is_a_clear_error() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("catalog.json");
        std::fs::write(&path, "{not json")?;
        let err = Catalog::open(&path).unwrap_err().to_string();
        assert!(err.contains("not a tickflow catalog"), "{err}");
        Ok(())
    }
}
