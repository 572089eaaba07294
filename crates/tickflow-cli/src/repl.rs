//! The interactive REPL: `tickflow` with no subcommand.
//!
//! Statements end at `;` and may span lines; backslash commands (`\?` lists them) take one line.
//! Each statement runs on its own: an error prints `error: ...` and the REPL goes on. Ctrl-C
//! cancels the running query (or clears the line being typed); Ctrl-D quits. History persists in
//! `$TICKFLOW_HISTORY`, else `tickflow/history` in the config directory, with the values of
//! secret settings (`SET s3.secret_access_key = ..`) redacted ([`redact`]).
//!
//! With stdin not a terminal (a pipe or file) the REPL reads it line by line, prints no prompt or
//! banner, so stdout holds only results, and exits 0 at the end of input; a last statement
//! without `;` still runs.

mod commands;
mod helper;
mod redact;
mod statements;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tickflow_engine::Engine;

use datafusion::common::{DataFusionError, Result};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::Session;
use crate::exec::{clean_error, execute, parse_statements};
use crate::print::{Format, print_batches};
use commands::Command;
use helper::{Names, ReplHelper};

const PROMPT: &str = "tickflow> ";
const CONTINUATION: &str = "      -> ";
/// How deep `\i` may nest (a file including itself stops here).
const MAX_INCLUDE_DEPTH: usize = 16;

/// What the REPL does after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The input failed (its error is printed); `\i` stops the file there.
    Failed,
    Quit,
}

/// Where results go: the screen, or a file after `\o FILE`.
#[derive(Debug)]
enum Output {
    Stdout,
    File(BufWriter<File>),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Stdout => std::io::stdout().write(buf),
            Output::File(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout => std::io::stdout().flush(),
            Output::File(file) => file.flush(),
        }
    }
}

/// The REPL's state besides the line editor.
#[derive(Debug)]
struct Repl<'a> {
    session: &'a mut Session,
    format: Format,
    timing: bool,
    output: Output,
    include_depth: usize,
}

/// The history file: `$TICKFLOW_HISTORY`, else `tickflow/history` in the config directory.
pub fn history_path() -> Option<PathBuf> {
    match std::env::var_os("TICKFLOW_HISTORY") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => dirs::config_dir().map(|dir| dir.join("tickflow").join("history")),
    }
}

/// Runs the REPL until `\q`, Ctrl-D or the end of input.
pub async fn run(session: &mut Session) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    listen_for_interrupts();
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)
        .and_then(|c| c.max_history_size(10_000))
        .map_err(readline_error)?
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ReplHelper, FileHistory> =
        Editor::with_config(config).map_err(readline_error)?;
    editor.set_helper(Some(ReplHelper::new(interactive)));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is a first run.
        let _ = editor.load_history(path);
    }
    let mut history_warned = false;

    let mut repl = Repl {
        session,
        format: Format::Table,
        timing: false,
        output: Output::Stdout,
        include_depth: 0,
    };
    if interactive {
        let engine = match &repl.session.engine {
            Engine::Local => String::new(),
            Engine::Standalone => " on an in-process Ballista scheduler and executor".to_string(),
            Engine::Cluster(url) => format!(" on the Ballista cluster at {url}"),
        };
        println!(
            "tickflow {}{engine}: SQL over market data. \\? for help, \\q to quit.",
            env!("CARGO_PKG_VERSION")
        );
        refresh_names(&mut editor, repl.session).await;
    }

    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            PROMPT
        } else {
            CONTINUATION
        };
        match editor.readline(prompt) {
            Ok(line) => {
                let Some(input) = take_input(&mut buffer, &line) else {
                    continue;
                };
                if let Some(path) = &history {
                    // Secret values never reach the history file (`redact`).
                    let saved = editor
                        .add_history_entry(redact::redact(input.trim_end()))
                        .and_then(|_| append_history(&mut editor, path));
                    if let Err(e) = saved
                        && !history_warned
                    {
                        eprintln!("warning: cannot save history to {}: {e}", path.display());
                        history_warned = true;
                    }
                }
                let flow = repl.run_input(&input).await;
                if interactive {
                    refresh_names(&mut editor, repl.session).await;
                }
                if flow == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => {
                if statements::split(&buffer).statements.is_empty()
                    && !statements::split(&buffer).rest_is_significant
                {
                    break;
                }
                // The end of input ends the last statement, `;` or not.
                let input = std::mem::take(&mut buffer);
                repl.run_input(&input).await;
                break;
            }
            Err(e) => return Err(readline_error(e)),
        }
    }
    repl.output.flush()?;
    Ok(())
}

/// Adds a line to the input being collected; returns the input once it is complete (a
/// statement ending in `;`, or a backslash command on a line of its own).
fn take_input(buffer: &mut String, line: &str) -> Option<String> {
    if buffer.is_empty() {
        if line.trim().is_empty() {
            return None;
        }
        if line.trim_start().starts_with('\\') {
            return Some(line.trim().to_string());
        }
    }
    buffer.push_str(line);
    buffer.push('\n');
    statements::is_complete(buffer).then(|| std::mem::take(buffer))
}

impl Repl<'_> {
    /// Runs a complete input: a backslash command, or statements each run on its own.
    async fn run_input(&mut self, input: &str) -> Flow {
        if input.trim_start().starts_with('\\') {
            return match commands::parse(input) {
                Ok(command) => self.run_command(command).await,
                Err(message) => {
                    eprintln!("error: {message}");
                    Flow::Failed
                }
            };
        }
        let split = statements::split(input);
        let mut flow = Flow::Continue;
        let rest = split.rest_is_significant.then_some(split.rest);
        for sql in split.statements.into_iter().chain(rest) {
            if let Err(e) = self.run_sql(sql).await {
                eprintln!("error: {}", clean_error(&e));
                flow = Flow::Failed;
            }
        }
        flow
    }

    /// Plans, runs and prints one statement; Ctrl-C cancels it.
    async fn run_sql(&mut self, sql: &str) -> Result<()> {
        for statement in parse_statements(sql)? {
            let started = Instant::now();
            let batches = tokio::select! {
                result = execute(self.session, &statement) => result?,
                _ = tokio::signal::ctrl_c() => {
                    return Err(DataFusionError::Execution(
                        "query cancelled (Ctrl-C)".to_string(),
                    ));
                }
            };
            print_batches(&batches, self.format, &mut self.output)?;
            self.output.flush()?;
            if self.timing {
                eprintln!("Elapsed {:.3} s", started.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }

    async fn run_command(&mut self, command: Command) -> Flow {
        let result = match command {
            Command::Quit => return Flow::Quit,
            Command::Help => {
                print!("{}", commands::help());
                Ok(())
            }
            Command::ListTables => self.list_tables().await.map_err(|e| clean_error(&e)),
            Command::Describe(name) => self.describe(&name).await,
            Command::Functions(pattern) => {
                let text = commands::functions(pattern.as_deref());
                self.output
                    .write_all(text.as_bytes())
                    .and_then(|_| self.output.flush())
                    .map_err(|e| e.to_string())
            }
            Command::Timing(on) => {
                self.timing = on.unwrap_or(!self.timing);
                eprintln!("Timing is {}.", if self.timing { "on" } else { "off" });
                Ok(())
            }
            Command::Cache { clear } => {
                let mut text = if clear {
                    tickflow_engine::storage::clear_caches()
                } else {
                    tickflow_engine::storage::cache_report()
                };
                if !matches!(self.session.engine, Engine::Local) {
                    text.push_str(
                        "(this is the client's cache; the executors keep their own and log its \
                         counters)\n",
                    );
                }
                self.output
                    .write_all(text.as_bytes())
                    .and_then(|_| self.output.flush())
                    .map_err(|e| e.to_string())
            }
            Command::Format(format) => {
                if let Some(format) = format {
                    self.format = format;
                }
                eprintln!("Output format is {}.", format_name(self.format));
                Ok(())
            }
            Command::Output(path) => self.set_output(path),
            Command::Include(path) => return self.include(&path).await,
        };
        match result {
            Ok(()) => Flow::Continue,
            Err(message) => {
                eprintln!("error: {message}");
                Flow::Failed
            }
        }
    }

    /// `\d`, `\dt`.
    async fn list_tables(&mut self) -> Result<()> {
        let batches = self
            .session
            .ctx
            .sql(
                "SELECT table_schema AS schema, table_name AS name, table_type AS type \
                 FROM information_schema.tables WHERE table_schema <> 'information_schema' \
                 ORDER BY table_schema, table_name",
            )
            .await?
            .collect()
            .await?;
        if batches.iter().all(|b| b.num_rows() == 0) {
            eprintln!(
                "No tables. Register one with CREATE EXTERNAL TABLE name STORED AS PARQUET \
                 LOCATION 'path' (or `tickflow --table name=path`)."
            );
            return Ok(());
        }
        print_batches(&batches, self.format, &mut self.output)?;
        Ok(self.output.flush()?)
    }

    /// `\d NAME`: `table`, `schema.table` or `catalog.schema.table`.
    async fn describe(&mut self, name: &str) -> std::result::Result<(), String> {
        let parts: Vec<&str> = name.split('.').collect();
        let (catalog, schema, table) = match parts.as_slice() {
            [table] => (None, None, *table),
            [schema, table] => (None, Some(*schema), *table),
            [catalog, schema, table] => (Some(*catalog), Some(*schema), *table),
            _ => {
                return Err(format!(
                    "'{name}' is not a table name (table, schema.table or catalog.schema.table)"
                ));
            }
        };
        let options = self.session.ctx.copied_config();
        let options = &options.options().catalog;
        let catalog = catalog.unwrap_or(&options.default_catalog).to_string();
        let schema = schema.unwrap_or(&options.default_schema).to_string();
        // Unquoted SQL names are lower case: `\d Trades` finds `trades` too.
        let mut tables = vec![table.to_string()];
        if table.to_lowercase() != table {
            tables.push(table.to_lowercase());
        }
        for table in tables {
            let sql = format!(
                "SELECT column_name AS column, data_type AS type, is_nullable AS nullable \
                 FROM information_schema.columns \
                 WHERE table_catalog = {} AND table_schema = {} AND table_name = {} \
                 ORDER BY ordinal_position",
                quote(&catalog),
                quote(&schema),
                quote(&table)
            );
            let batches = async { self.session.ctx.sql(&sql).await?.collect().await }
                .await
                .map_err(|e| clean_error(&e))?;
            if batches.iter().any(|b| b.num_rows() > 0) {
                return print_batches(&batches, self.format, &mut self.output)
                    .and_then(|()| Ok(self.output.flush()?))
                    .map_err(|e| clean_error(&e));
            }
        }
        Err(format!("no table named '{name}'; \\d lists the tables"))
    }

    /// `\o [FILE]`.
    fn set_output(&mut self, path: Option<PathBuf>) -> std::result::Result<(), String> {
        self.output.flush().map_err(|e| e.to_string())?;
        self.output = match path {
            None => {
                eprintln!("Output goes to the screen.");
                Output::Stdout
            }
            Some(path) => {
                let file = File::create(&path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("Output goes to {}.", path.display());
                Output::File(BufWriter::new(file))
            }
        };
        Ok(())
    }

    /// `\i FILE`: its statements and commands, as if typed; stops at the first error.
    async fn include(&mut self, path: &Path) -> Flow {
        if self.include_depth >= MAX_INCLUDE_DEPTH {
            eprintln!(
                "error: \\i {}: files include each other more than {MAX_INCLUDE_DEPTH} deep",
                path.display()
            );
            return Flow::Failed;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return Flow::Failed;
            }
        };
        self.include_depth += 1;
        let flow = Box::pin(self.run_script(path, &text)).await;
        self.include_depth -= 1;
        flow
    }

    async fn run_script(&mut self, path: &Path, text: &str) -> Flow {
        let mut buffer = String::new();
        for (number, line) in text.lines().enumerate() {
            let Some(input) = take_input(&mut buffer, line) else {
                continue;
            };
            match self.run_input(&input).await {
                Flow::Continue => {}
                Flow::Failed => {
                    eprintln!("{}:{}: stopped at this error", path.display(), number + 1);
                    return Flow::Failed;
                }
                Flow::Quit => return Flow::Quit,
            }
        }
        if buffer.trim().is_empty() {
            return Flow::Continue;
        }
        let flow = self.run_input(&buffer).await;
        if flow == Flow::Failed {
            eprintln!("{}: stopped at this error", path.display());
        }
        flow
    }
}

/// Registers the process's SIGINT handler now, so Ctrl-C never kills the REPL (a query
/// listens for it with `tokio::signal::ctrl_c`; at the prompt the line editor reads it as a key).
fn listen_for_interrupts() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Err(e) = signal(SignalKind::interrupt()) {
            eprintln!("warning: Ctrl-C will not cancel queries: {e}");
        }
    }
}

async fn refresh_names(editor: &mut Editor<ReplHelper, FileHistory>, session: &Session) {
    let names = Names::of(&session.ctx).await;
    if let Some(helper) = editor.helper_mut() {
        helper.names = names;
    }
}

fn append_history(
    editor: &mut Editor<ReplHelper, FileHistory>,
    path: &Path,
) -> rustyline::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    editor.append_history(path)
}

fn readline_error(e: ReadlineError) -> DataFusionError {
    DataFusionError::Execution(format!("line editor: {e}"))
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Table => "table",
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Parquet => "parquet",
    }
}

/// A SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_taken_when_complete() {
        let mut buffer = String::new();
        assert_eq!(take_input(&mut buffer, ""), None);
        assert_eq!(take_input(&mut buffer, "SELECT 1"), None);
        assert_eq!(
            take_input(&mut buffer, "+ 1 AS two;"),
            Some("SELECT 1\n+ 1 AS two;\n".to_string())
        );
        assert!(buffer.is_empty());
        assert_eq!(
            take_input(&mut buffer, "  \\d t "),
            Some("\\d t".to_string())
        );
        // inside a statement, a line starting with \ is SQL text
        assert_eq!(take_input(&mut buffer, "SELECT '"), None);
        assert_eq!(
            take_input(&mut buffer, "\\';"),
            Some("SELECT '\n\\';\n".to_string())
        );
    }

    #[test]
    fn quotes_literals() {
        assert_eq!(quote("it's"), "'it''s'");
    }
}
