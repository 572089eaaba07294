//! What the catalog keeps of a table or view: its name as one SQL identifier and its whole
//! definition as one canonical statement.
//!
//! DataFusion's own `Display` of `CREATE EXTERNAL TABLE` leaves out the columns, `PARTITIONED
//! BY`, `OPTIONS`, `UNBOUNDED` and all but the first `WITH ORDER`: a catalog that kept that text
//! answered a later session with another table (a `|`-delimited headerless CSV became one column
//! with the header dropped). [`render_external_table`] writes every field, and a test checks that
//! parsing the text gives back the same statement. `IF NOT EXISTS` and `OR REPLACE` say how a
//! definition was made, not what it is, so they are left out: two definitions are equal when
//! their canonical texts are.

use std::path::Path;

use datafusion::common::{Result, TableReference, plan_datafusion_err, plan_err};
use datafusion::sql::parser::{CreateExternalTable, DFParser, Statement};
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{ObjectName, Statement as SqlStatement, Value};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// A table (`CREATE EXTERNAL TABLE`) or a view (`CREATE VIEW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Table,
    View,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Table => "table",
            Kind::View => "view",
        }
    }
}

/// One catalog entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The name as DataFusion resolves it (identifiers normalized: `Trades` and `trades` are one
    /// table, `"Trades"` another).
    pub name: TableReference,
    pub kind: Kind,
    /// The canonical statement, without `IF NOT EXISTS` / `OR REPLACE`.
    pub sql: String,
}

impl Definition {
    /// The definition a statement makes, if it is one the catalog keeps: a non-temporary `CREATE
    /// EXTERNAL TABLE` or `CREATE VIEW`. A relative local `LOCATION` is made absolute against
    /// `cwd`, so the table means the same files in a session started elsewhere.
    pub fn from_statement(statement: &Statement, cwd: &Path) -> Result<Option<Definition>> {
        match statement {
            Statement::CreateExternalTable(create) if !create.temporary => {
                let mut create = create.clone();
                let name = table_reference(&create.name)?;
                create.name = object_name(&name)?;
                create.if_not_exists = false;
                create.or_replace = false;
                for location in &mut create.locations {
                    *location = absolute_location(location, cwd);
                }
                Ok(Some(Definition {
                    name,
                    kind: Kind::Table,
                    sql: render_external_table(&create),
                }))
            }
            Statement::Statement(sql) => match sql.as_ref() {
                SqlStatement::CreateView(view) if !view.temporary && !view.materialized => {
                    let mut view = view.clone();
                    let name = table_reference(&view.name)?;
                    view.name = object_name(&name)?;
                    view.or_replace = false;
                    view.or_alter = false;
                    view.if_not_exists = false;
                    view.name_before_not_exists = false;
                    Ok(Some(Definition {
                        name,
                        kind: Kind::View,
                        sql: SqlStatement::CreateView(view).to_string(),
                    }))
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// A definition read back from a catalog file: exactly one `CREATE EXTERNAL TABLE` or `CREATE
    /// VIEW`, nothing else (a catalog file is data, never a script to run). The error says what
    /// the text is instead.
    pub fn parse(sql: &str) -> Result<Definition> {
        let mut statements = DFParser::parse_sql(sql)?;
        let (Some(statement), None) = (statements.pop_front(), statements.pop_front()) else {
            return plan_err!("it is not one statement");
        };
        match Definition::from_statement(&statement, Path::new("/"))? {
            Some(definition) => Ok(definition),
            None => plan_err!(
                "it is not a CREATE EXTERNAL TABLE or CREATE VIEW statement but: {}",
                first_words(&statement.to_string())
            ),
        }
    }

    /// The name as SQL (`trades`, `"Trades"`, `research.bars`): what the catalog file shows.
    pub fn sql_name(&self) -> String {
        self.name.to_quoted_string()
    }
}

/// A table name as DataFusion resolves it (unquoted identifiers lower-cased).
pub fn table_reference(name: &ObjectName) -> Result<TableReference> {
    object_name_to_table_reference(name.clone(), true)
}

/// A resolved name as the one SQL spelling the catalog keeps (`Trades` is `trades`).
fn object_name(name: &TableReference) -> Result<ObjectName> {
    let quoted = name.to_quoted_string();
    Ok(Parser::new(&GenericDialect {})
        .try_with_sql(&quoted)?
        .parse_object_name(false)?)
}

/// `CREATE [UNBOUNDED] EXTERNAL TABLE` with every field DataFusion's parser fills.
pub fn render_external_table(create: &CreateExternalTable) -> String {
    let mut sql = String::from("CREATE ");
    if create.unbounded {
        sql.push_str("UNBOUNDED ");
    }
    sql.push_str("EXTERNAL TABLE ");
    if create.if_not_exists {
        sql.push_str("IF NOT EXISTS ");
    }
    sql.push_str(&create.name.to_string());
    let elements: Vec<String> = (create.columns.iter().map(ToString::to_string))
        .chain(create.constraints.iter().map(ToString::to_string))
        .collect();
    if !elements.is_empty() {
        sql.push_str(&format!(" ({})", elements.join(", ")));
    }
    sql.push_str(&format!(" STORED AS {}", create.file_type));
    if !create.table_partition_cols.is_empty() {
        sql.push_str(&format!(
            " PARTITIONED BY ({})",
            create.table_partition_cols.join(", ")
        ));
    }
    for ordering in &create.order_exprs {
        let exprs: Vec<String> = ordering.iter().map(ToString::to_string).collect();
        sql.push_str(&format!(" WITH ORDER ({})", exprs.join(", ")));
    }
    let quote = |s: &str| Value::SingleQuotedString(s.to_string()).to_string();
    match create.locations.as_slice() {
        [one] => sql.push_str(&format!(" LOCATION {}", quote(one))),
        many => {
            let many: Vec<String> = many.iter().map(|l| quote(l)).collect();
            sql.push_str(&format!(" LOCATION ({})", many.join(", ")));
        }
    }
    if !create.options.is_empty() {
        let options: Vec<String> = create
            .options
            .iter()
            .map(|(key, value)| format!("{} {value}", quote(key)))
            .collect();
        sql.push_str(&format!(" OPTIONS ({})", options.join(", ")));
    }
    sql
}

/// A local path made absolute; URLs (`s3://...`, `file:///...`) and absolute paths as given.
fn absolute_location(location: &str, cwd: &Path) -> String {
    if location.contains("://") || Path::new(location).is_absolute() {
        return location.to_string();
    }
    let trimmed = location.strip_prefix("./").unwrap_or(location);
    let mut absolute = cwd.join(trimmed).to_string_lossy().into_owned();
    if location.ends_with('/') && !absolute.ends_with('/') {
        absolute.push('/');
    }
    absolute
}

/// The start of a statement, for an error message.
fn first_words(sql: &str) -> String {
    let short: String = sql.chars().take(60).collect();
    if short.len() < sql.len() {
        format!("{short}...")
    } else {
        short
    }
}

/// The error for a catalog entry that does not parse as a definition.
pub fn entry_error(
    catalog: &Path,
    index: usize,
    name: &str,
    e: impl std::fmt::Display,
) -> datafusion::common::DataFusionError {
    plan_datafusion_err!(
        "catalog {}: entry {} ('{name}') is refused: {e}. A catalog holds only CREATE EXTERNAL TABLE and CREATE VIEW statements and nothing of it was run; remove the entry from the file, or use another catalog (--catalog FILE)",
        catalog.display(),
        index + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(sql: &str) -> Statement {
        DFParser::parse_sql(sql)
            .expect("parses")
            .pop_front()
            .expect("one statement")
    }

    fn external(sql: &str) -> CreateExternalTable {
        match statement(sql) {
            Statement::CreateExternalTable(c) => c,
            other => panic!("not a CREATE EXTERNAL TABLE: {other}"),
        }
    }

    /// Parsing the rendered text gives back the same statement, field for field.
    #[test]
    fn external_tables_round_trip_with_every_clause() {
        for sql in [
            "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/d/p.csv' OPTIONS ('format.has_header' 'false', 'format.delimiter' '|')",
            "CREATE EXTERNAL TABLE t (a INT NOT NULL, b VARCHAR, \"Date\" DATE) STORED AS CSV PARTITIONED BY (\"Date\") LOCATION '/d/t/'",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET PARTITIONED BY (date VARCHAR, symbol VARCHAR) LOCATION '/d/t/'",
            "CREATE UNBOUNDED EXTERNAL TABLE s (ts TIMESTAMP, x DOUBLE) STORED AS CSV WITH ORDER (ts ASC NULLS LAST) WITH ORDER (x DESC) LOCATION '/d/s.csv'",
            "CREATE EXTERNAL TABLE m STORED AS PARQUET LOCATION ('/d/a.parquet', '/d/it''s.parquet') OPTIONS (format.pruning true, 'k' 12)",
            "CREATE EXTERNAL TABLE IF NOT EXISTS \"Mixed\".\"Case\" (a INT, PRIMARY KEY (a)) STORED AS CSV LOCATION 's3://b/x/' OPTIONS ('aws.region' 'us-east-1')",
        ] {
            let parsed = external(sql);
            let rendered = render_external_table(&parsed);
            assert_eq!(
                external(&rendered),
                parsed,
                "{sql}\nrendered as\n{rendered}"
            );
        }
    }

    #[test]
    fn definitions_drop_how_they_were_made_and_keep_what_they_are() -> Result<()> {
        let cwd = Path::new("/home/q");
        let a = Definition::from_statement(
            &statement("CREATE EXTERNAL TABLE IF NOT EXISTS Trades STORED AS PARQUET LOCATION 'data/' OPTIONS ('a' 'b')"),
            cwd,
        )?
        .expect("kept");
        let b = Definition::from_statement(
            &statement("CREATE OR REPLACE EXTERNAL TABLE trades STORED AS PARQUET LOCATION '/home/q/data/' OPTIONS ('a' 'b')"),
            cwd,
        )?
        .expect("kept");
        assert_eq!(a, b);
        assert_eq!(a.sql_name(), "trades");
        assert!(a.sql.contains("LOCATION '/home/q/data/'"), "{}", a.sql);
        assert_eq!(Definition::parse(&a.sql)?, a);

        let view = Definition::from_statement(
            &statement("CREATE OR REPLACE VIEW \"Live\" AS SELECT 1 AS x"),
            cwd,
        )?
        .expect("kept");
        assert_eq!(view.kind, Kind::View);
        assert_eq!(view.sql_name(), "\"Live\"");
        assert_eq!(view.sql, "CREATE VIEW \"Live\" AS SELECT 1 AS x");
        assert_eq!(Definition::parse(&view.sql)?, view);
        Ok(())
    }

    #[test]
    fn only_definitions_are_kept_or_read_back() -> Result<()> {
        let cwd = Path::new("/");
        for sql in [
            "SELECT 1",
            "CREATE TEMPORARY VIEW v AS SELECT 1",
            "DROP TABLE t",
        ] {
            assert_eq!(
                Definition::from_statement(&statement(sql), cwd)?,
                None,
                "{sql}"
            );
        }
        for (sql, why) in [
            (
                "COPY (SELECT 1) TO '/tmp/x.csv'",
                "not a CREATE EXTERNAL TABLE",
            ),
            ("CREATE VIEW v AS SELECT 1; SELECT 2", "not one statement"),
            ("CREATE TABLE t AS SELECT 1", "not a CREATE EXTERNAL TABLE"),
            ("not sql at all", "Expected"),
        ] {
            let err = Definition::parse(sql).expect_err(sql).to_string();
            assert!(err.contains(why), "{sql}: {err}");
        }
        Ok(())
    }
}
