//! The REPL's backslash commands: parsing a command line, the help text, and the `\df` function
//! reference (rendered from the same `#[user_doc]` documentation as the README).

use std::path::PathBuf;

use tickflow_functions::time::time_bucket_table::TimeBucketTable;

use crate::print::Format;

/// Every command with its one-line help, in the order `\?` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "\\d [NAME]",
        "list tables; with NAME, the columns and types of that table",
    ),
    ("\\dt", "list tables"),
    (
        "\\df [PATTERN]",
        "tickflow's functions with description, syntax and example; PATTERN keeps the names \
         containing it (or matching it, with * and ?)",
    ),
    (
        "\\timing [on|off]",
        "print the time each statement takes (toggles)",
    ),
    ("\\format [table|csv|json]", "how results are printed"),
    (
        "\\cache [clear]",
        "the local cache of remote (s3://, az://, gs://) objects: size, hits, misses; clear \
         empties it",
    ),
    (
        "\\o [FILE]",
        "send results to FILE; \\o alone: back to the screen",
    ),
    ("\\i FILE", "run the statements and commands in FILE"),
    ("\\q", "quit (Ctrl-D does too)"),
    ("\\?", "this help"),
];

/// A parsed backslash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    ListTables,
    Describe(String),
    Functions(Option<String>),
    Timing(Option<bool>),
    Cache { clear: bool },
    Format(Option<Format>),
    Output(Option<PathBuf>),
    Include(PathBuf),
    Quit,
    Help,
}

/// Parses a line starting with `\`; the error is a message for the user.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (name, arg) = match line.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, unquote(arg.trim())),
        None => (line, ""),
    };
    let arg = (!arg.is_empty()).then_some(arg);
    Ok(match (name, arg) {
        ("\\d", None) | ("\\dt", None) => Command::ListTables,
        ("\\d", Some(table)) => Command::Describe(table.to_string()),
        ("\\df", pattern) => Command::Functions(pattern.map(str::to_string)),
        ("\\timing", None) => Command::Timing(None),
        ("\\timing", Some(arg)) => match arg.to_ascii_lowercase().as_str() {
            "on" => Command::Timing(Some(true)),
            "off" => Command::Timing(Some(false)),
            _ => return Err(format!("\\timing expects on or off, got '{arg}'")),
        },
        ("\\cache", None) => Command::Cache { clear: false },
        ("\\cache", Some(arg)) if arg.eq_ignore_ascii_case("clear") => {
            Command::Cache { clear: true }
        }
        ("\\cache", Some(arg)) => {
            return Err(format!("\\cache takes nothing or clear, got '{arg}'"));
        }
        ("\\format", None) => Command::Format(None),
        ("\\format", Some(arg)) => match arg.to_ascii_lowercase().as_str() {
            "table" => Command::Format(Some(Format::Table)),
            "csv" => Command::Format(Some(Format::Csv)),
            "json" => Command::Format(Some(Format::Json)),
            _ => {
                return Err(format!(
                    "\\format expects table, csv or json, got '{arg}' (Parquet: COPY (query) TO \
                     'file.parquet', or `tickflow sql --output`)"
                ));
            }
        },
        ("\\o", file) => Command::Output(file.map(PathBuf::from)),
        ("\\i", Some(file)) => Command::Include(PathBuf::from(file)),
        ("\\i", None) => return Err("\\i expects a file: \\i FILE".to_string()),
        ("\\q" | "\\quit", None) => Command::Quit,
        ("\\?" | "\\h" | "\\help", _) => Command::Help,
        ("\\dt" | "\\q" | "\\quit", Some(_)) => {
            return Err(format!("{name} takes no argument; \\? lists the commands"));
        }
        _ => return Err(format!("unknown command {name}; \\? lists the commands")),
    })
}

/// A file name may be quoted (to hold spaces).
fn unquote(arg: &str) -> &str {
    for quote in ['\'', '"'] {
        if let Some(inner) = arg
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    arg
}

/// `\?`.
pub fn help() -> String {
    let width = COMMANDS.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut out = String::from(
        "SQL statements end with ; and may span lines. Tab completes keywords, tables, columns \
         and functions.\n",
    );
    for (command, text) in COMMANDS {
        out.push_str(&format!("  {command:width$}  {text}\n"));
    }
    out.push_str(
        "Ctrl-C cancels the running query (or clears the line); Ctrl-D quits. History is kept in \
         $TICKFLOW_HISTORY or the config directory (tickflow/history).\n",
    );
    out
}

/// `\df [PATTERN]`: tickflow's functions, or a message when none matches.
pub fn functions(pattern: Option<&str>) -> String {
    let mut out = String::new();
    let mut matched = 0;
    for (name, kind, doc) in tickflow_plan::documented_functions() {
        if !name_matches(&name, pattern) {
            continue;
        }
        matched += 1;
        let arguments = doc.arguments.as_deref().unwrap_or_default();
        let width = arguments.iter().map(|(a, _)| a.len()).max().unwrap_or(0);
        out.push_str(&format!("{name} ({kind})\n"));
        out.push_str(&indent(doc.description.trim(), 4));
        out.push_str(&format!("    syntax: {}\n", doc.syntax_example));
        if !arguments.is_empty() {
            out.push_str("    arguments:\n");
            for (arg, text) in arguments {
                out.push_str(&format!(
                    "      {arg:width$}  {}\n",
                    text.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
            }
        }
        if let Some(example) = &doc.sql_example {
            out.push_str("    example:\n");
            out.push_str(&indent(&strip_fences(example), 6));
        }
        out.push('\n');
    }
    if name_matches("time_bucket", pattern) {
        matched += 1;
        out.push_str("time_bucket (table)\n");
        out.push_str(&indent(TimeBucketTable::DOC, 4));
        out.push_str(
            "    syntax: SELECT * FROM time_bucket(width, start, end [, origin | timezone])\n",
        );
        out.push_str("    example:\n");
        out.push_str(&indent(&strip_fences(TimeBucketTable::SQL_EXAMPLE), 6));
        out.push('\n');
    }
    match (matched, pattern) {
        (0, Some(p)) => format!(
            "no tickflow function matches '{p}'; \\df lists them all; DataFusion's built-ins: \
             SELECT DISTINCT routine_name FROM information_schema.routines WHERE routine_name \
             LIKE '%{p}%'\n"
        ),
        (_, None) => {
            out.push_str(
                "DataFusion's built-in functions: SHOW FUNCTIONS (SHOW FUNCTIONS LIKE 'name' for \
                 one)\n",
            );
            out
        }
        _ => out,
    }
}

/// Whether a function name matches a `\df` pattern: a case-insensitive substring, or with `*`
/// (any text) and `?` (one character) a whole-name match.
pub fn name_matches(name: &str, pattern: Option<&str>) -> bool {
    let Some(pattern) = pattern else {
        return true;
    };
    let name = name.to_lowercase();
    let pattern = pattern.to_lowercase();
    if pattern.contains(['*', '?']) {
        let name: Vec<char> = name.chars().collect();
        let pattern: Vec<char> = pattern.chars().collect();
        glob(&name, &pattern)
    } else {
        name.contains(&pattern)
    }
}

fn glob(name: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| glob(&name[i..], rest)),
        Some((p, rest)) => match name.split_first() {
            Some((c, name)) => (*p == '?' || p == c) && glob(name, rest),
            None => false,
        },
    }
}

/// The text of a Markdown example without its ```sql fences.
fn strip_fences(example: &str) -> String {
    example
        .trim()
        .lines()
        .filter(|line| !line.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|line| format!("{:by$}{line}\n", ""))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse("\\d"), Ok(Command::ListTables));
        assert_eq!(parse("\\dt"), Ok(Command::ListTables));
        assert_eq!(
            parse("\\d  trades "),
            Ok(Command::Describe("trades".into()))
        );
        assert_eq!(parse("\\df"), Ok(Command::Functions(None)));
        assert_eq!(
            parse("\\df vw*"),
            Ok(Command::Functions(Some("vw*".into())))
        );
        assert_eq!(parse("\\timing"), Ok(Command::Timing(None)));
        assert_eq!(parse("\\cache"), Ok(Command::Cache { clear: false }));
        assert_eq!(parse("\\cache clear"), Ok(Command::Cache { clear: true }));
        assert!(parse("\\cache all").is_err());
        assert_eq!(parse("\\timing off"), Ok(Command::Timing(Some(false))));
        assert_eq!(
            parse("\\format csv"),
            Ok(Command::Format(Some(Format::Csv)))
        );
        assert_eq!(parse("\\format"), Ok(Command::Format(None)));
        assert_eq!(parse("\\o"), Ok(Command::Output(None)));
        assert_eq!(
            parse("\\o 'my out.csv'"),
            Ok(Command::Output(Some("my out.csv".into())))
        );
        assert_eq!(parse("\\i a.sql"), Ok(Command::Include("a.sql".into())));
        assert_eq!(parse("\\q"), Ok(Command::Quit));
        assert_eq!(parse("\\?"), Ok(Command::Help));
    }

    #[test]
    fn bad_commands_say_why() {
        assert!(parse("\\x").unwrap_err().contains("unknown command \\x"));
        assert!(
            parse("\\format parquet")
                .unwrap_err()
                .contains("table, csv or json")
        );
        assert!(parse("\\timing maybe").unwrap_err().contains("on or off"));
        assert!(parse("\\i").unwrap_err().contains("expects a file"));
        assert!(parse("\\q now").unwrap_err().contains("no argument"));
    }

    #[test]
    fn patterns() {
        assert!(name_matches("vwap", None));
        assert!(name_matches("vwap", Some("VW")));
        assert!(name_matches("total_volume", Some("vol")));
        assert!(!name_matches("vwap", Some("ohlc")));
        assert!(name_matches("time_bucket", Some("time_*")));
        assert!(!name_matches("time_bucket", Some("bucket*")));
        assert!(name_matches("ohlc", Some("o?lc")));
    }

    #[test]
    fn functions_reference() {
        let all = functions(None);
        for name in [
            "ohlc",
            "vwap",
            "bar_std",
            "total_volume",
            "time_bucket (table)",
        ] {
            assert!(all.contains(name), "{name} missing from:\n{all}");
        }
        let vwap = functions(Some("vwap"));
        assert!(vwap.starts_with("vwap (aggregate)\n"), "{vwap}");
        assert!(vwap.contains("syntax: vwap("), "{vwap}");
        assert!(vwap.contains("example:"), "{vwap}");
        assert!(!vwap.contains("```"), "{vwap}");
        assert!(!vwap.contains("ohlc ("), "{vwap}");
        assert!(functions(Some("nothing_like_it")).starts_with("no tickflow function matches"));
    }

    #[test]
    fn help_lists_every_command() {
        let help = help();
        for (command, _) in COMMANDS {
            assert!(help.contains(command));
        }
    }
}
