//! Running SQL text: parameters substituted, split into statements, each planned and run, its
//! result printed, and table registrations recorded in the catalog.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::sql::parser::{DFParser, Statement};

use tickflow_engine::catalog::Prepared;

use crate::Session;
use crate::print::{Format, write_output};

/// `tickflow sql`: run statements from the command line or a file.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run (several statements separated by ;); repeatable, and combinable with -f: every
    /// -c and -f runs in the order given, in one session
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub commands: Vec<String>,
    /// SQL script to run; repeat to run several in order in one session (tables one creates are
    /// seen by the next). `${name}` in a script is replaced by --param name=VALUE
    /// (`${name:-default}` has a default; comments are left as written). Without -c or -f,
    /// statements are read from stdin
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The order of the -c and -f arguments on the command line (from clap's indices, see
    /// `SqlArgs::set_order`); empty: every -c, then every -f.
    #[arg(skip)]
    pub order: Vec<Script>,
    /// A script parameter; repeatable
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// How results are printed (or written with --output)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the last statement's result to FILE (csv, json or parquet, from --format or the
    /// file's extension) instead of printing it; written atomically
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the time each statement took
    #[arg(long)]
    pub timing: bool,
}

/// One -c or -f of `tickflow sql`, by its position among the -c's or the -f's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Command(usize),
    File(usize),
}

impl SqlArgs {
    /// Records the command-line order of the -c and -f arguments (clap keeps each list in order,
    /// but not how the two interleave).
    pub fn set_order(&mut self, matches: &clap::ArgMatches) {
        let positions = |id: &str| -> Vec<usize> {
            matches
                .indices_of(id)
                .map(|i| i.collect())
                .unwrap_or_default()
        };
        let mut order: Vec<(usize, Script)> = (positions("commands").into_iter().enumerate())
            .map(|(i, at)| (at, Script::Command(i)))
            .chain(
                positions("files")
                    .into_iter()
                    .enumerate()
                    .map(|(i, at)| (at, Script::File(i))),
            )
            .collect();
        order.sort_by_key(|(at, _)| *at);
        self.order = order.into_iter().map(|(_, script)| script).collect();
    }
}

impl Default for SqlArgs {
    /// No statements yet, results printed as tables.
    fn default() -> Self {
        SqlArgs {
            commands: Vec::new(),
            files: Vec::new(),
            order: Vec::new(),
            params: Vec::new(),
            format: Format::Table,
            output: None,
            timing: false,
        }
    }
}

/// Splits SQL text into statements with DataFusion's parser.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>> {
    Ok(DFParser::parse_sql(sql)?.into_iter().collect())
}

/// Plans and runs one statement, records catalog changes, and returns its result. A definition
/// the catalog already has (a script run again) does nothing; see `tickflow_engine::catalog`.
pub async fn execute(session: &mut Session, statement: &Statement) -> Result<Vec<RecordBatch>> {
    let cwd = std::env::current_dir()?;
    if let Prepared::Done(why) = session.catalog.prepare(statement, &session.ctx, &cwd)? {
        tracing::debug!("{why}");
        session.catalog.record(statement, &cwd)?;
        return Ok(Vec::new());
    }
    let plan = session
        .ctx
        .state()
        .statement_to_plan(statement.clone())
        .await?;
    let batches = session
        .ctx
        .execute_logical_plan(plan)
        .await?
        .collect()
        .await?;
    session.catalog.record(statement, &cwd)?;
    Ok(batches)
}

/// Runs every statement of `sql`, printing each result (or writing the last to `output`).
pub async fn run_sql_text(session: &mut Session, sql: &str, args: &SqlArgs) -> Result<()> {
    let statements = parse_statements(sql)?;
    let last = statements.len().saturating_sub(1);
    let mut stdout = std::io::stdout().lock();
    for (i, statement) in statements.iter().enumerate() {
        let started = Instant::now();
        let batches = execute(session, statement).await?;
        match (&args.output, i == last) {
            (Some(path), true) => {
                write_output(&batches, path, args.format)?;
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                eprintln!("wrote {rows} row(s) to {}", path.display());
            }
            _ => {
                crate::print::print_batches(&batches, args.format, &mut stdout)?;
                stdout.flush()?;
            }
        }
        if args.timing {
            eprintln!("Elapsed {:.3} s", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// `tickflow sql`.
pub async fn run_sql_command(session: &mut Session, args: SqlArgs) -> Result<()> {
    let params = args
        .params
        .iter()
        .map(|p| tickflow_engine::params::parse_assignment(p))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let order = if args.order.is_empty() {
        (0..args.commands.len())
            .map(Script::Command)
            .chain((0..args.files.len()).map(Script::File))
            .collect()
    } else {
        args.order.clone()
    };
    let mut scripts: Vec<(String, String)> = Vec::new();
    for script in order {
        scripts.push(match script {
            Script::Command(i) => {
                let label = if args.commands.len() == 1 {
                    "-c".to_string()
                } else {
                    format!("-c #{}", i + 1)
                };
                (args.commands[i].clone(), label)
            }
            Script::File(i) => {
                let file = &args.files[i];
                let text = std::fs::read_to_string(file).map_err(|e| {
                    DataFusionError::Plan(format!("cannot read {}: {e}", file.display()))
                })?;
                (text, file.display().to_string())
            }
        });
    }
    if scripts.is_empty() {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        scripts.push((text, "stdin".to_string()));
    }
    // Substitute every script before running any: a missing parameter fails before any work.
    let scripts = scripts
        .iter()
        .map(|(text, source)| tickflow_engine::params::substitute(text, &params, source))
        .collect::<Result<Vec<_>>>()?;
    for sql in &scripts {
        run_sql_text(session, sql, &args).await?;
    }
    Ok(())
}

/// `--table NAME=PATH`: registers a Parquet or CSV table and records it, replacing a table of
/// that name with another definition (the same one does nothing). NAME is a SQL name, as in
/// `DROP TABLE NAME`; one that is not an identifier (`my-table`) is quoted.
pub async fn register_table_arg(session: &mut Session, arg: &str) -> Result<()> {
    let Some((name, path)) = arg.split_once('=') else {
        return plan_err!("--table expects NAME=PATH, got '{arg}'");
    };
    let lower = path.to_ascii_lowercase();
    let is_dir = std::path::Path::new(path).is_dir();
    let location = if is_dir && !path.ends_with('/') {
        format!("{path}/")
    } else {
        path.to_string()
    };
    let location = location.replace('\'', "''");
    let name = sql_name(name);
    // A compressed CSV names its compression (DataFusion does not look at the extension: a
    // `.csv.gz` read as plain text was a UTF-8 error).
    let compression = [
        (".csv.gz", "gzip"),
        (".csv.zst", "zstd"),
        (".csv.bz2", "bzip2"),
        (".csv.xz", "xz"),
    ]
    .into_iter()
    .find(|(ext, _)| lower.ends_with(ext));
    let ddl = if let Some((_, codec)) = compression {
        format!(
            "CREATE OR REPLACE EXTERNAL TABLE {name} STORED AS CSV LOCATION '{location}' \
             OPTIONS ('format.has_header' 'true', 'format.compression' '{codec}')"
        )
    } else if lower.ends_with(".csv") {
        format!(
            "CREATE OR REPLACE EXTERNAL TABLE {name} STORED AS CSV LOCATION '{location}' \
             OPTIONS ('format.has_header' 'true')"
        )
    } else {
        format!("CREATE OR REPLACE EXTERNAL TABLE {name} STORED AS PARQUET LOCATION '{location}'")
    };
    for statement in parse_statements(&ddl)? {
        execute(session, &statement).await?;
    }
    Ok(())
}

/// `name` as SQL: as written when it parses as a (possibly qualified) table name, else quoted.
fn sql_name(name: &str) -> String {
    use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser, tokenizer::Token};
    let parses = Parser::new(&GenericDialect {})
        .try_with_sql(name)
        .and_then(|mut p| {
            let object = p.parse_object_name(false)?;
            Ok(p.peek_token().token == Token::EOF && !object.0.is_empty())
        })
        .unwrap_or(false);
    if parses {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// One line for a user: the error's message, without a backtrace.
pub fn clean_error(e: &DataFusionError) -> String {
    tickflow_cluster::readable_error(e.strip_backtrace().trim())
}
