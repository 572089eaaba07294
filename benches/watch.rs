//! The cost of one `tickflow watch` trigger against the history behind it: a trigger over one
//! new file (2,000 trades of 50 symbols, a minute of trading) after 10, 100 and 400 committed
//! triggers, and over 4 new files after 100. The time should follow the new data (4 files cost
//! more than 1) and stay flat as the history grows: a trigger reads only the new files and the
//! open buckets' states (about one per symbol), never the bars already written.
//!
//! Each measured trigger starts from a copy of the bar table with exactly that history (the copy
//! and the watcher's recovery are not timed).
//!
//! `cargo bench -p tickflow-benches --bench watch`

use std::path::{Path, PathBuf};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickflow_engine::ingest::ParseOptions;
use tickflow_engine::watch::{WatchOptions, Watcher};

const SYMBOLS: usize = 50;
const TRADES_PER_FILE: usize = 2_000;
const HISTORIES: [usize; 3] = [10, 100, 400];

/// File `i`: the trades of minute `i` after 09:30 on 2024-03-04 (New York), in time order.
fn trade_file(i: usize, rng: &mut SmallRng) -> String {
    let mut out = String::from("date,time,symbol,price,size,exchange,conditions,seq\n");
    let minute = 9 * 60 + 30 + i;
    for k in 0..TRADES_PER_FILE {
        let micros = k * 60_000_000 / TRADES_PER_FILE;
        let symbol = format!("S{:03}", rng.random_range(0..SYMBOLS));
        let price = 100.0 + rng.random_range(-500..500) as f64 / 100.0;
        out.push_str(&format!(
            "2024-03-04,{:02}:{:02}:{:02}.{:06},{symbol},{price:.2},{},Q,,{k}\n",
            minute / 60 % 24,
            minute % 60,
            micros / 1_000_000,
            micros % 1_000_000,
            rng.random_range(1..500)
        ));
    }
    out
}

fn options(source: &Path, out: &Path, files_per_trigger: usize) -> WatchOptions {
    WatchOptions {
        source: source.display().to_string(),
        out: out.to_path_buf(),
        width: "1 minute".parse().expect("a bar width"),
        files_per_trigger,
        allowed_lateness: std::time::Duration::ZERO,
        parse: ParseOptions::default(),
        storage: Default::default(),
        bars: Default::default(),
        emit: Default::default(),
        // The files are whole before a trigger runs: the second listing follows at once.
        settle: std::time::Duration::ZERO,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("incoming");
    std::fs::create_dir_all(&source).expect("source");
    let mut rng = SmallRng::seed_from_u64(9);
    let last = HISTORIES[HISTORIES.len() - 1] + 4;
    for i in 0..last {
        std::fs::write(
            source.join(format!("trades_{i:05}.csv")),
            trade_file(i, &mut rng),
        )
        .expect("write a trade file");
    }
    // A bar table with each history, built one trigger per file (only the files up to it are
    // visible to it: a source directory of its own).
    let mut snapshots: Vec<(usize, PathBuf, PathBuf)> = Vec::new();
    for &history in &HISTORIES {
        let src = dir.path().join(format!("src-{history}"));
        std::fs::create_dir_all(&src).expect("src");
        for i in 0..history {
            let name = format!("trades_{i:05}.csv");
            std::fs::copy(source.join(&name), src.join(&name)).expect("copy a file");
        }
        let out = dir.path().join(format!("bars-{history}"));
        rt.block_on(async {
            let mut watcher = Watcher::open(options(&src, &out, 1)).await.expect("open");
            while watcher.trigger().await.expect("trigger").is_some() {}
        });
        for i in history..history + 4 {
            let name = format!("trades_{i:05}.csv");
            std::fs::copy(source.join(&name), src.join(&name)).expect("copy a file");
        }
        snapshots.push((history, src, out));
    }

    let mut group = c.benchmark_group("watch_trigger");
    group.sample_size(10);
    let mut run = |name: String, src: &Path, out: &Path, files: usize| {
        let mut n = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    n += 1;
                    let copy = dir
                        .path()
                        .join(format!("run-{n}-{}", out.display().to_string().len()));
                    let _ = std::fs::remove_dir_all(&copy);
                    copy_dir(out, &copy);
                    rt.block_on(Watcher::open(options(src, &copy, files)))
                        .expect("open")
                },
                |mut watcher| {
                    let done = rt.block_on(watcher.trigger()).expect("trigger");
                    assert!(done.is_some_and(|s| s.files == files));
                },
                BatchSize::PerIteration,
            );
        });
    };
    for (history, src, out) in &snapshots {
        run(
            format!("1 new file, history {history} triggers"),
            src,
            out,
            1,
        );
    }
    let (history, src, out) = &snapshots[1];
    run(
        format!("4 new files, history {history} triggers"),
        src,
        out,
        4,
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
