//! The watcher and arriving files: a file still being written is not read short, and a file
//! that changes after it was taken is an error.

use std::io::Write;
use std::time::Duration;

use super::bars::BarDefinition;
use super::{Emit, WatchOptions, Watcher};
use crate::bars::BarWidth;
use crate::error::Result;
use crate::ingest::parse::ParseOptions;

const HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq\n";

fn trades(from: u32, n: u32) -> String {
    (from..from + n)
        .map(|i| format!("2024-01-02,09:30:{:02},AAPL,185.5,100,Q,,{i}\n", i % 60))
        .collect()
}

async fn watcher(dir: &std::path::Path, settle: Duration) -> Result<Watcher> {
    Watcher::open(WatchOptions {
        source: dir.join("incoming").display().to_string(),
        out: dir.join("bars"),
        width: BarWidth::parse("1 minute")?,
        files_per_trigger: 10,
        allowed_lateness: Duration::ZERO,
        parse: ParseOptions {
            source_tz: chrono_tz::UTC,
            ..ParseOptions::default()
        },
        storage: Default::default(),
        bars: BarDefinition::default(),
        emit: Emit::Append,
        settle,
    })
    .await
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open to append");
    f.write_all(text.as_bytes()).expect("append");
}

/// 2,000 trades written, 3,000 more appended while the watcher looks: all 5,000 are taken (once
/// the first 2,000 were, and the rest never).
#[tokio::test]
async fn a_file_still_being_written_is_taken_whole() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).expect("mkdir");
    let file = incoming.join("t1.csv");
    std::fs::write(&file, format!("{HEADER}{}", trades(0, 2000))).expect("write");
    let mut w = watcher(dir.path(), Duration::from_millis(600)).await?;
    let writer = {
        let file = file.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            append(&file, &trades(2000, 3000));
        })
    };
    let summary = w.trigger().await?.expect("the file is taken");
    writer.await.expect("writer");
    assert_eq!((summary.files, summary.rows), (1, 5000));
    assert_eq!(
        w.checkpoint().taken.get("t1.csv").map(|t| t.0),
        Some(std::fs::metadata(&file).expect("meta").len())
    );
    assert!(w.trigger().await?.is_none());
    Ok(())
}

/// A file that grows after it was taken stops the watcher with its name (once ignored, its new
/// trades lost without a word), also after a restart.
#[tokio::test]
async fn a_file_changed_after_it_was_taken_is_an_error() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).expect("mkdir");
    let file = incoming.join("t1.csv");
    std::fs::write(&file, format!("{HEADER}{}", trades(0, 10))).expect("write");
    let mut w = watcher(dir.path(), Duration::from_millis(50)).await?;
    let summary = w.trigger().await?.expect("taken");
    assert_eq!(summary.rows, 10);
    append(&file, &trades(10, 5));
    for restart in [false, true] {
        if restart {
            drop(w);
            w = watcher(dir.path(), Duration::from_millis(50)).await?;
        }
        let err = match w.trigger().await {
            Ok(s) => panic!("took {s:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("t1.csv changed after it was taken"), "{err}");
    }
    Ok(())
}

/// A second watcher on one bar table is refused naming the first (once its recovery deleted
/// the first's pending files); once the first is gone, the table can be watched again.
#[tokio::test]
async fn a_second_watcher_on_one_table_is_refused() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("incoming")).expect("mkdir");
    let first = watcher(dir.path(), Duration::ZERO).await?;
    let err = match watcher(dir.path(), Duration::ZERO).await {
        Ok(_) => panic!("two watchers on one table"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!("in use by process {}", std::process::id())),
        "{err}"
    );
    drop(first);
    watcher(dir.path(), Duration::ZERO).await?;
    Ok(())
}
