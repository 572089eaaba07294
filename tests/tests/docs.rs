//! The documentation is executable: every SQL example in the functions' docs and in README.md
//! must print exactly what it shows, and README's function reference must be the one rendered
//! from the functions' docs.
//!
//! After changing a function's docs, refresh README with:
//! `TICKFLOW_BLESS=1 cargo test -p tickflow-tests --test docs`

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::Result;

const START: &str = "<!-- function-reference:start (generated from the functions' docs; see tests/tests/docs.rs) -->";
const END: &str = "<!-- function-reference:end -->";

fn readme_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")
}

/// Statements (`> ` lines) of every ```sql block, each with the output shown after it.
fn examples(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut current: Option<(String, Vec<String>)> = None;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            if let Some((sql, expected)) = current.take() {
                out.push((sql, expected.join("\n")));
            }
            in_block = !in_block && line.trim() == "```sql";
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(sql) = line.strip_prefix("> ") {
            if let Some((sql, expected)) = current.take() {
                out.push((sql, expected.join("\n")));
            }
            current = Some((sql.to_string(), Vec::new()));
        } else if let Some((_, expected)) = current.as_mut()
            && !line.starts_with("--")
            && !line.trim().is_empty()
        {
            expected.push(line.trim_end().to_string());
        }
    }
    out
}

async fn check_examples(markdown: &str, source: &str) -> Result<usize> {
    let ctx = tickflow_plan::session_context(datafusion::prelude::SessionConfig::new())?;
    let examples = examples(markdown);
    for (sql, expected) in &examples {
        let batches = ctx.sql(sql).await?.collect().await?;
        if expected.is_empty() {
            continue;
        }
        let got = pretty_format_batches(&batches)?.to_string();
        assert_eq!(
            got.trim(),
            expected.trim(),
            "{source}: the example `{sql}` prints something else"
        );
    }
    Ok(examples.len())
}

#[tokio::test]
async fn function_doc_examples_print_what_they_show() -> Result<()> {
    let reference = tickflow_plan::reference_markdown();
    let n = check_examples(&reference, "function docs").await?;
    // Every function documents at least one example.
    let functions = tickflow_plan::documented_functions().len() + 1;
    assert!(
        n >= functions,
        "only {n} examples for {functions} functions"
    );
    Ok(())
}

#[tokio::test]
async fn readme_examples_print_what_they_show() -> Result<()> {
    let readme = std::fs::read_to_string(readme_path())?;
    let n = check_examples(&readme, "README.md").await?;
    assert!(n > 0, "README.md has no SQL examples");
    Ok(())
}

#[test]
fn readme_function_reference_is_current() -> Result<()> {
    let path = readme_path();
    let readme = std::fs::read_to_string(&path)?;
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the markers {START} ... {END}");
    };
    let current = &readme[start + START.len()..end];
    let rendered = format!("\n{}\n", tickflow_plan::reference_markdown().trim());
    if current != rendered {
        if std::env::var_os("TICKFLOW_BLESS").is_some() {
            let updated = format!("{}{START}{rendered}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, updated)?;
        } else {
            panic!(
                "README.md's function reference is out of date; refresh it with \
                 TICKFLOW_BLESS=1 cargo test -p tickflow-tests --test docs"
            );
        }
    }
    Ok(())
}
