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

use crate::Session;
use crate::print::{Format, write_output};

/// `tickflow sql`: run statements from the command line or a file.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run (several statements separated by ;)
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        conflicts_with = "files"
    )]
    pub command: Option<String>,
    /// SQL script to run; repeat to run several in order in one session (tables one creates are
    /// seen by the next). `${name}` in a script is replaced by --param name=VALUE
    /// (`${name:-default}` has a default). Without -c or -f, statements are read from stdin
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
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

impl Default for SqlArgs {
    /// No statements yet, results printed as tables.
    fn default() -> Self {
        SqlArgs {
            command: None,
            files: Vec::new(),
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

/// Plans and runs one statement, records catalog changes, and returns its result.
pub async fn execute(session: &mut Session, statement: &Statement) -> Result<Vec<RecordBatch>> {
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
    session.catalog.record(statement)?;
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
    let scripts: Vec<(String, String)> = match (&args.command, args.files.as_slice()) {
        (Some(sql), _) => vec![(sql.clone(), "-c".to_string())],
        (None, []) => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            vec![(text, "stdin".to_string())]
        }
        (None, files) => files
            .iter()
            .map(|file| {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    DataFusionError::Plan(format!("cannot read {}: {e}", file.display()))
                })?;
                Ok((text, file.display().to_string()))
            })
            .collect::<Result<_>>()?,
    };
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

/// `--table NAME=PATH`: registers (or re-registers) a Parquet or CSV table and records it.
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
    let ddl = if lower.ends_with(".csv") || lower.ends_with(".csv.gz") {
        format!(
            "CREATE EXTERNAL TABLE \"{name}\" STORED AS CSV LOCATION '{location}' \
             OPTIONS ('format.has_header' 'true')"
        )
    } else {
        format!("CREATE EXTERNAL TABLE \"{name}\" STORED AS PARQUET LOCATION '{location}'")
    };
    session.ctx.deregister_table(name)?;
    for statement in parse_statements(&ddl)? {
        execute(session, &statement).await?;
    }
    Ok(())
}

/// One line for a user: the error's message, without a backtrace.
pub fn clean_error(e: &DataFusionError) -> String {
    tickflow_cluster::readable_error(e.strip_backtrace().trim())
}
