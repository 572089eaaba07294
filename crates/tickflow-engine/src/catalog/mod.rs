//! The catalog that outlives a session: every `CREATE EXTERNAL TABLE`, `CREATE VIEW` (and
//! `--table NAME=PATH`) is recorded in a JSON file, and the next REPL or script sees the same
//! tables and views. `DROP TABLE` / `DROP VIEW` forget one.
//!
//! Where the file is, first match wins:
//! 1. `--catalog FILE` or the `TICKFLOW_CATALOG` environment variable;
//! 2. `.tickflow/catalog.json` in the current directory, if a `.tickflow` directory exists there
//!    (a project catalog: `mkdir .tickflow` to start one);
//! 3. `tickflow/catalog.json` in the user's config directory (`~/.config/tickflow/` on Linux).
//!
//! The rules:
//! - **Whole definitions.** Each entry is one canonical statement with every clause (columns,
//!   `PARTITIONED BY`, `WITH ORDER`, `OPTIONS`, ...) and the name as one SQL identifier
//!   ([`definition`]); a relative local `LOCATION` is recorded absolute.
//! - **Data, not a script.** Opening a catalog parses every entry; an entry that is not exactly
//!   one `CREATE EXTERNAL TABLE` or `CREATE VIEW` of its own name is an error naming the file and
//!   the entry, and nothing of the catalog runs.
//! - **Scripts rerun.** A `CREATE` equal to the recorded definition of its name does nothing; a
//!   different one is an error naming the catalog file, the recorded definition and the ways out
//!   (`OR REPLACE`, `IF NOT EXISTS`, `DROP`, `--catalog`). `OR REPLACE` replaces it.
//! - **Start-up costs nothing per table.** Entries are registered when a query first names them
//!   ([`lazy`]).
//!
//! The file is rewritten atomically (a temporary file renamed over it): a crash never leaves
//! half a catalog.

pub mod definition;
pub mod lazy;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result, TableReference, plan_err};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{ObjectType, Statement as SqlStatement};
use serde::{Deserialize, Serialize};

pub use definition::{Definition, Kind};
use definition::{entry_error, table_reference};
use lazy::LazySchema;

/// One entry of the file: the name as SQL, what it is, and its statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredEntry {
    name: String,
    kind: StoredKind,
    sql: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StoredKind {
    Table,
    View,
}

/// An entry of a catalog written before views were kept (`{"tables": [{"name", "ddl"}]}`): read,
/// checked like any entry, and written back in the current form.
#[derive(Debug, Clone, Deserialize)]
struct OldEntry {
    name: String,
    ddl: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CatalogFile {
    #[serde(default)]
    entries: Vec<StoredEntry>,
    #[serde(default, skip_serializing)]
    tables: Vec<OldEntry>,
}

/// What to do with a statement before it runs ([`Catalog::prepare`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Run it (and [`Catalog::record`] it after it succeeds).
    Run,
    /// Nothing to run: the catalog already has it (or it was only catalogued, as a `DROP` of a
    /// table no query has touched yet). The reason is for people.
    Done(String),
}

/// The persistent catalog, bound to its file.
#[derive(Debug)]
pub struct Catalog {
    path: PathBuf,
    entries: Vec<Definition>,
    /// The session's default schema, once [`Catalog::attach`]ed.
    lazy: Option<Arc<LazySchema>>,
    /// The session's default catalog and schema, to compare names fully resolved.
    defaults: (String, String),
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

    /// Opens the catalog at `path` (a missing file is an empty catalog) and checks every entry.
    pub fn open(path: impl Into<PathBuf>) -> Result<Catalog> {
        let path = path.into();
        let file: CatalogFile = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                DataFusionError::Plan(format!(
                    "catalog {}: not a tickflow catalog ({e}); fix or remove the file",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CatalogFile::default(),
            Err(e) => return plan_err!("catalog {}: {e}", path.display()),
        };
        let mut entries: Vec<Definition> = Vec::new();
        for (i, entry) in file.entries.iter().enumerate() {
            let definition =
                Definition::parse(&entry.sql).map_err(|e| entry_error(&path, i, &entry.name, e))?;
            let kind = match entry.kind {
                StoredKind::Table => Kind::Table,
                StoredKind::View => Kind::View,
            };
            if definition.sql_name() != entry.name || definition.kind != kind {
                return Err(entry_error(
                    &path,
                    i,
                    &entry.name,
                    format!(
                        "it is recorded as {} {} but its statement defines {} {}",
                        kind.noun(),
                        entry.name,
                        definition.kind.noun(),
                        definition.sql_name()
                    ),
                ));
            }
            entries.push(definition);
        }
        let offset = file.entries.len();
        for (i, old) in file.tables.iter().enumerate() {
            let definition = Definition::parse(&old.ddl)
                .map_err(|e| entry_error(&path, offset + i, &old.name, e))?;
            if definition.kind != Kind::Table {
                return Err(entry_error(
                    &path,
                    offset + i,
                    &old.name,
                    "an entry of \"tables\" must be a CREATE EXTERNAL TABLE",
                ));
            }
            entries.retain(|e| e.name != definition.name);
            entries.push(definition);
        }
        Ok(Catalog {
            path,
            entries,
            lazy: None,
            defaults: ("datafusion".to_string(), "public".to_string()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[Definition] {
        &self.entries
    }

    /// Makes the catalog's tables and views part of `ctx`: those of the default schema are
    /// registered when a query first names them; others (`research.bars`) now, each failure a
    /// warning that does not stop the others.
    pub async fn attach(&mut self, ctx: &SessionContext) -> Result<Vec<String>> {
        let options = ctx.state().config_options().catalog.clone();
        self.defaults = (options.default_catalog, options.default_schema);
        let (catalog_name, schema_name) = &self.defaults;
        let Some(inner) = ctx
            .catalog(catalog_name)
            .and_then(|c| c.schema(schema_name).map(|s| (c, s)))
        else {
            return plan_err!("the session has no default schema {catalog_name}.{schema_name}");
        };
        let (catalog, schema) = inner;
        let (deferred, now): (Vec<Definition>, Vec<Definition>) = self
            .entries
            .iter()
            .cloned()
            .partition(|d| self.is_default_schema(&d.name));
        let lazy = Arc::new(LazySchema::new(schema, deferred, ctx, self.path.clone()));
        catalog.register_schema(schema_name, lazy.clone())?;
        self.lazy = Some(lazy);
        let mut warnings = Vec::new();
        for definition in now {
            if let Err(e) = async { ctx.sql(&definition.sql).await?.collect().await }.await {
                warnings.push(format!(
                    "{} {} from catalog {} is not available: {e}",
                    definition.kind.noun(),
                    definition.sql_name(),
                    self.path.display()
                ));
            }
        }
        Ok(warnings)
    }

    fn is_default_schema(&self, name: &TableReference) -> bool {
        let (catalog, schema) = &self.defaults;
        name.catalog().is_none_or(|c| c == catalog) && name.schema().is_none_or(|s| s == schema)
    }

    fn same_name(&self, a: &TableReference, b: &TableReference) -> bool {
        let (catalog, schema) = &self.defaults;
        a.clone().resolve(catalog, schema) == b.clone().resolve(catalog, schema)
    }

    fn recorded(&self, name: &TableReference) -> Option<&Definition> {
        self.entries.iter().find(|e| self.same_name(&e.name, name))
    }

    /// Decides, before `statement` runs, what the catalog makes of it: a `CREATE` equal to the
    /// recorded definition has nothing to do, a different one is refused (unless `OR REPLACE` or
    /// `IF NOT EXISTS` say what to do), a `DROP` of a table no query touched yet is done here.
    pub fn prepare(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        cwd: &Path,
    ) -> Result<Prepared> {
        if let Some(new) = Definition::from_statement(statement, cwd)? {
            let Some(old) = self.recorded(&new.name) else {
                return Ok(Prepared::Run);
            };
            let (or_replace, if_not_exists) = create_flags(statement);
            if old.sql == new.sql {
                // Outside the default schema the entry was registered at start-up, or failed to.
                if self.is_default_schema(&new.name) || ctx.table_exist(new.name.clone())? {
                    return Ok(Prepared::Done(format!(
                        "{} {} is in the catalog with this definition",
                        new.kind.noun(),
                        new.sql_name()
                    )));
                }
                return Ok(Prepared::Run);
            }
            if or_replace {
                // Replacing a table no query has touched must not list its old files.
                if let Some(lazy) = &self.lazy
                    && self.is_default_schema(&old.name)
                {
                    lazy.forget(old.name.table());
                }
                return Ok(Prepared::Run);
            }
            if if_not_exists {
                return Ok(Prepared::Done(format!(
                    "{} {} exists (IF NOT EXISTS): the catalog keeps its definition",
                    old.kind.noun(),
                    old.sql_name()
                )));
            }
            let noun = old.kind.noun();
            let name = old.sql_name();
            let drop = match old.kind {
                Kind::Table => "DROP TABLE",
                Kind::View => "DROP VIEW",
            };
            return plan_err!(
                "{noun} {name} is already in the catalog {} with another definition (recorded: {}; new: {}). \
                 Ways out: CREATE OR REPLACE ... to replace it; IF NOT EXISTS to keep the recorded one; \
                 {drop} {name} first; or another catalog (--catalog FILE, or TICKFLOW_CATALOG)",
                self.path.display(),
                old.sql,
                new.sql
            );
        }
        if let Some((kind, names)) = drop_names(statement)? {
            let Some(lazy) = &self.lazy else {
                return Ok(Prepared::Run);
            };
            let mut forgotten = Vec::new();
            for name in &names {
                let Some(old) = self.recorded(name) else {
                    return Ok(Prepared::Run);
                };
                if old.kind != kind {
                    return plan_err!(
                        "{} is a {}, not a {}: use DROP {} {}",
                        old.sql_name(),
                        old.kind.noun(),
                        kind.noun(),
                        old.kind.noun().to_uppercase(),
                        old.sql_name()
                    );
                }
                if !self.is_default_schema(name) || !lazy.is_pending(name.table()) {
                    return Ok(Prepared::Run);
                }
                forgotten.push(name.clone());
            }
            for name in &forgotten {
                lazy.forget(name.table());
            }
            return Ok(Prepared::Done(format!(
                "dropped {}",
                forgotten
                    .iter()
                    .map(|n| n.to_quoted_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Prepared::Run)
    }

    /// Records the effect of a statement that ran (or that [`Catalog::prepare`] did): a
    /// definition is remembered (replacing one of the same name), a `DROP` forgotten. Returns
    /// whether the catalog changed (and was saved).
    pub fn record(&mut self, statement: &Statement, cwd: &Path) -> Result<bool> {
        let Some(new) = Definition::from_statement(statement, cwd)? else {
            if drop_names(statement)?.is_none() {
                return Ok(false);
            }
            return self.update(statement, None);
        };
        self.update(statement, Some(new))
    }

    /// [`Catalog::record`]'s read-modify-write, under the catalog's lock and on the file as it
    /// is now: another process may have recorded a table since this one opened it (its entry
    /// was lost when the old entries were written back).
    fn update(&mut self, statement: &Statement, new: Option<Definition>) -> Result<bool> {
        let _lock = self.lock()?;
        if let Ok(now) = Catalog::open(self.path.clone()) {
            self.entries = now.entries;
        }
        if let Some(new) = new {
            let (_, if_not_exists) = create_flags(statement);
            match self
                .entries
                .iter()
                .position(|e| self.same_name(&e.name, &new.name))
            {
                Some(_) if if_not_exists => return Ok(false),
                Some(i) if self.entries[i] == new => return Ok(false),
                Some(i) => self.entries[i] = new,
                None => self.entries.push(new),
            }
        } else if let Some((_, names)) = drop_names(statement)? {
            let before = self.entries.len();
            let entries = std::mem::take(&mut self.entries);
            self.entries = entries
                .into_iter()
                .filter(|e| !names.iter().any(|n| self.same_name(&e.name, n)))
                .collect();
            if self.entries.len() == before {
                return Ok(false);
            }
        } else {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    /// The lock of the catalog file (`FILE.lock`), held for the few milliseconds of an update;
    /// waits up to 10 s for another process's update to finish.
    fn lock(&self) -> Result<crate::table_lock::TableLock> {
        let path = self.path.with_extension("json.lock");
        let what = format!("catalog {}", self.path.display());
        let mut tries = 0;
        loop {
            match crate::table_lock::TableLock::acquire(&path, &what) {
                Ok(lock) => return Ok(lock),
                Err(crate::Error::Invalid(_)) if tries < 1000 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
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
            entries: self
                .entries
                .iter()
                .map(|d| StoredEntry {
                    name: d.sql_name(),
                    kind: match d.kind {
                        Kind::Table => StoredKind::Table,
                        Kind::View => StoredKind::View,
                    },
                    sql: d.sql.clone(),
                })
                .collect(),
            tables: Vec::new(),
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

/// `(OR REPLACE, IF NOT EXISTS)` of a `CREATE`.
fn create_flags(statement: &Statement) -> (bool, bool) {
    match statement {
        Statement::CreateExternalTable(c) => (c.or_replace, c.if_not_exists),
        Statement::Statement(s) => match s.as_ref() {
            SqlStatement::CreateView(v) => (v.or_replace || v.or_alter, v.if_not_exists),
            _ => (false, false),
        },
        _ => (false, false),
    }
}

/// The names a `DROP TABLE` / `DROP VIEW` drops.
fn drop_names(statement: &Statement) -> Result<Option<(Kind, Vec<TableReference>)>> {
    let Statement::Statement(s) = statement else {
        return Ok(None);
    };
    let SqlStatement::Drop {
        object_type, names, ..
    } = s.as_ref()
    else {
        return Ok(None);
    };
    let kind = match object_type {
        ObjectType::Table => Kind::Table,
        ObjectType::View => Kind::View,
        _ => return Ok(None),
    };
    let names = names.iter().map(table_reference).collect::<Result<_>>()?;
    Ok(Some((kind, names)))
}

#[cfg(test)]
mod tests;
