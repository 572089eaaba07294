//! Arbitrary text as the value of every flag of every subcommand (found from clap's own
//! description, so a flag added later is covered too), through clap's value parsers and the
//! checks each subcommand makes before it starts (ingest's options, watch's time zone, `sql`'s
//! `--param`): a value or an error, never a panic.

use clap::{CommandFactory, Parser};
use proptest::prelude::*;
use proptest::string::string_regex;

use super::{Cli, Command};

/// Each subcommand with the arguments it needs besides the flag under test.
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("sql", &[]),
    ("gen", &["--out", "out"]),
    ("ingest", &["in.csv", "--out", "out"]),
    ("watch", &["incoming", "--out", "out"]),
    ("demo", &[]),
];

/// `--name` of every flag of `sub` that takes a value, the global ones included.
fn value_flags(sub: &str) -> Vec<String> {
    let cli = Cli::command();
    let globals = cli.get_arguments().cloned().collect::<Vec<_>>();
    let Some(command) = cli.find_subcommand(sub) else {
        return Vec::new();
    };
    command
        .get_arguments()
        .chain(globals.iter())
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

/// Any string, or one made of the pieces flag values are made of.
fn value() -> impl Strategy<Value = String> {
    let near_miss = string_regex(
        "[ +-]?[0-9]{0,22}(\\.[0-9]{0,12})?([eE][+-]?[0-9]{1,4})? ?\
         (ms|s|m|h|K|M|B|%|minutes?|days?|months?|)",
    )
    .expect("regex");
    let words = string_regex(
        "(date|month|none|symbol|,|raise|latest|shift-forward|DECIMAL\\(|\\)|[0-9]{1,3}|BIGINT|\
         =|\\$\\{|America/New_York|Etc/GMT\\+14|\\\\t|[a-z]{1,3}| ){0,8}",
    )
    .expect("regex");
    prop_oneof![any::<String>(), near_miss, words]
}

/// The checks a subcommand makes after clap and before any work.
fn checks_before_work(cli: Cli) {
    match cli.command {
        Some(Command::Ingest(args)) => {
            let _ = args.options();
        }
        Some(Command::Watch(args)) => {
            let _ = crate::ingest::source_tz::<chrono_tz::Tz>(&args.source_tz);
        }
        Some(Command::Sql(args)) => {
            for p in &args.params {
                let _ = tickflow_engine::params::parse_assignment(p);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_flag_takes_any_text_without_panicking(v in value()) {
        for (sub, needs) in SUBCOMMANDS {
            let flags = value_flags(sub);
            prop_assert!(!flags.is_empty() || *sub == "demo", "{sub} has flags");
            for flag in flags {
                let mut argv = vec!["tickflow".to_string(), (*sub).to_string()];
                argv.extend(needs.iter().map(|s| (*s).to_string()));
                argv.push(format!("{flag}={v}"));
                if let Ok(cli) = Cli::try_parse_from(&argv) {
                    checks_before_work(cli);
                }
            }
        }
    }
}

#[test]
fn huge_durations_are_refused_by_clap_naming_the_flag() {
    // Once `Duration::from_secs_f64` panicked on these.
    for flag in ["--interval", "--allowed-lateness"] {
        for v in ["1e20", "1e20s", "-1", "inf", "NaN"] {
            let argv = [
                "tickflow",
                "watch",
                "in",
                "--out",
                "o",
                &format!("{flag}={v}"),
            ];
            let err = match Cli::try_parse_from(argv) {
                Ok(_) => panic!("{flag}={v} was taken"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(flag) && err.contains(v), "{err}");
        }
    }
    let argv = ["tickflow", "watch", "in", "--out", "o", "--interval=0.5"];
    match Cli::try_parse_from(argv).map(|c| c.command) {
        Ok(Some(Command::Watch(w))) => {
            assert_eq!(w.interval, std::time::Duration::from_millis(500));
        }
        other => panic!("{other:?}"),
    }
}
