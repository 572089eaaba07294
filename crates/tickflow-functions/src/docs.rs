//! The function reference, rendered from each function's `#[user_doc]` documentation.
//!
//! One source of truth: the README's reference section is this output, with the plan
//! extensions' functions (`tickflow_plan::reference_markdown`; a test keeps them equal), and every SQL example in it is executed by a test and must print what it shows.

use datafusion::logical_expr::Documentation;

use crate::calendar::trading_days::TradingDays;
use crate::time::session_buckets::SessionBuckets;
use crate::{all_udafs, all_udfs, all_udwfs, time::time_bucket_table::TimeBucketTable};

/// `(name, kind, documentation)` of every documented function, in reference order.
pub fn documented_functions() -> Vec<(String, &'static str, Documentation)> {
    let mut out = Vec::new();
    for udaf in all_udafs() {
        if let Some(doc) = udaf.documentation() {
            out.push((udaf.name().to_string(), "aggregate", doc.clone()));
        }
    }
    for udf in all_udfs() {
        if let Some(doc) = udf.documentation() {
            out.push((udf.name().to_string(), "scalar", doc.clone()));
        }
    }
    for udwf in all_udwfs() {
        if let Some(doc) = udwf.documentation() {
            out.push((udwf.name().to_string(), "window", doc.clone()));
        }
    }
    out
}

/// The whole reference as Markdown: `functions` (this crate's [`documented_functions`], with
/// any others an application documents beside them) and this crate's table functions.
pub fn reference_markdown(functions: Vec<(String, &'static str, Documentation)>) -> String {
    let mut md = String::new();
    for (name, kind, doc) in functions {
        md.push_str(&format!("### `{name}` ({kind})\n\n"));
        md.push_str(&format!("```sql\n{}\n```\n\n", doc.syntax_example));
        md.push_str(&format!("{}\n\n", doc.description));
        if let Some(args) = &doc.arguments {
            md.push_str("| argument | |\n|---|---|\n");
            for (arg, text) in args {
                md.push_str(&format!("| `{arg}` | {} |\n", text.replace('\n', " ")));
            }
            md.push('\n');
        }
        if let Some(example) = &doc.sql_example {
            md.push_str(example.trim());
            md.push_str("\n\n");
        }
    }
    md.push_str("### `time_bucket` (table)\n\n");
    md.push_str(
        "```sql\nSELECT * FROM time_bucket(width, start, end [, origin | timezone])\n```\n\n",
    );
    md.push_str(TimeBucketTable::DOC);
    md.push_str("\n\n");
    md.push_str(TimeBucketTable::SQL_EXAMPLE.trim());
    md.push('\n');
    for (signature, doc, example) in [
        (
            "SELECT * FROM trading_days(start, end [, calendar])",
            TradingDays::DOC,
            TradingDays::SQL_EXAMPLE,
        ),
        (
            "SELECT * FROM session_buckets(width, start, end [, calendar])",
            SessionBuckets::DOC,
            SessionBuckets::SQL_EXAMPLE,
        ),
    ] {
        let name = signature["SELECT * FROM ".len()..]
            .split('(')
            .next()
            .unwrap_or_default();
        md.push_str(&format!(
            "\n### `{name}` (table)\n\n```sql\n{signature}\n```\n\n{doc}\n\n"
        ));
        md.push_str(example.trim());
        md.push('\n');
    }
    md
}
