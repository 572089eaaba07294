//! `--emit complete`: the live view `OUT/_live/`, every bar with the bars still open at their
//! current values, as of the last committed trigger.
//!
//! The closed-bar table (`OUT/*.parquet`) is unchanged. Beside it, each trigger N that closes or
//! updates a bar publishes (after its commit, with its other outputs, see
//! [`super::checkpoint`]):
//!
//! ```text
//! OUT/_live/closed-N.parquet   the bars trigger N closed           _trigger = N, _snapshot NULL
//! OUT/_live/open-N.parquet     the bars trigger N closed, and the  _trigger = N, _snapshot = N
//!                              bars open after it (_open = true)
//! ```
//!
//! every row with the bar table's columns and `_trigger BIGINT`, `_snapshot BIGINT`, `_open
//! BOOLEAN`. The state after trigger V is `open-V` plus every `closed-k` with k < V, so a
//! reader takes the newest snapshot V it lists and those rows ([`LIVE_QUERY`]): one listing,
//! read by one scan. A file published after the listing is not seen; one published during it
//! (a directory listing is not atomic) either way: with `closed-V` seen or not, and `open-V`
//! seen or not, the rows kept are a committed trigger's state, never a bar twice (a bar closed
//! by V is in `open-V` and in `closed-V`, and only the former is kept) and never a mix of two
//! triggers. (This holds while at most one trigger is published during a listing: a listing
//! that missed `closed-V` and saw `open-(V+1)` would lack V's closed bars.) The open values are computed from the very states the checkpoint of
//! trigger V commits, so a restart continues from them. Older snapshots are deleted, keeping
//! the previous one for readers that listed it.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Context, Error, Result};

/// The live view's directory, inside the bar table directory.
pub const LIVE_DIR: &str = "_live";

/// The columns the live view adds to the bar table's.
pub const LIVE_COLUMNS: [&str; 3] = ["_trigger", "_snapshot", "_open"];

/// Every bar as of the last committed trigger, from `'{dir}/_live/'`: `{live}` is replaced by
/// the directory. Its columns are the bar table's (`SELECT *` of the closed table), plus `_open`.
pub const LIVE_QUERY: &str = "SELECT * EXCLUDE (_trigger, _snapshot, _v) FROM (\
SELECT *, max(_snapshot) OVER () AS _v FROM '{live}') \
WHERE _snapshot = _v OR (_snapshot IS NULL AND _trigger < _v)";

/// [`LIVE_QUERY`] over the bar table directory `out`.
pub fn live_query(out: &Path) -> String {
    let live = format!("{}/", out.join(LIVE_DIR).display());
    LIVE_QUERY.replace("{live}", &live.replace('\'', "''"))
}

/// The live view's schema: the bar table's, and the live columns.
pub fn live_schema(bars: &Schema) -> Result<SchemaRef> {
    if let Some(clash) = bars
        .fields()
        .iter()
        .find(|f| LIVE_COLUMNS.contains(&f.name().as_str()))
    {
        return Err(Error::invalid(format!(
            "the bar table has a column {}, which --emit complete adds itself; rename it",
            clash.name()
        )));
    }
    let mut fields: Vec<Field> = bars.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("_trigger", DataType::Int64, false));
    fields.push(Field::new("_snapshot", DataType::Int64, true));
    fields.push(Field::new("_open", DataType::Boolean, false));
    Ok(Arc::new(Schema::new(fields)))
}

/// `bars` with the live columns.
pub fn with_live_columns(
    schema: &SchemaRef,
    bars: &[RecordBatch],
    trigger: u64,
    snapshot: Option<u64>,
    open: bool,
) -> Result<Vec<RecordBatch>> {
    let trigger = i64::try_from(trigger).map_err(|e| Error::internal(e.to_string()))?;
    let snapshot = snapshot
        .map(i64::try_from)
        .transpose()
        .map_err(|e| Error::internal(e.to_string()))?;
    bars.iter()
        .map(|b| {
            let n = b.num_rows();
            let mut columns: Vec<ArrayRef> = b.columns().to_vec();
            columns.push(Arc::new(Int64Array::from(vec![trigger; n])));
            columns.push(Arc::new(Int64Array::from(vec![snapshot; n])));
            columns.push(Arc::new(BooleanArray::from(vec![open; n])));
            RecordBatch::try_new(Arc::clone(schema), columns).context("the live view's rows")
        })
        .collect()
}

/// Deletes the snapshots older than the two newest (`open-N.parquet`): the newest is the live
/// view, the previous one is kept for a reader that listed it just before.
pub fn drop_old_snapshots(live: &Path) {
    let Ok(entries) = fs::read_dir(live) else {
        return;
    };
    let mut snapshots: Vec<(u64, std::path::PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let n = name.strip_prefix("open-")?.strip_suffix(".parquet")?;
            Some((n.parse().ok()?, e.path()))
        })
        .collect();
    snapshots.sort();
    let keep = snapshots.len().saturating_sub(2);
    for (_, path) in &snapshots[..keep] {
        let _ = fs::remove_file(path);
    }
}
