//! Ships an in-memory table (what `CREATE TABLE t AS SELECT ..` makes in the client) inside a
//! plan, as Arrow IPC, so later queries on `t` run on the cluster too.
//!
//! DataFusion's plan serialization has no encoding for `MemTable`, so without this a cluster
//! session could create such a table and then never read it. The data travels with each plan
//! that reads it, so the size limit is Ballista's gRPC message size (16 MB by default:
//! `SET ballista.client.grpc_max_message_size` on the client and
//! `--grpc-server-max-decoding-message-size` on the scheduler raise it). Larger intermediate
//! results belong in Parquet: `COPY (..) TO 'dir/' STORED AS PARQUET` and `CREATE EXTERNAL TABLE`.
//!
//! Format: the magic [`MAGIC`], then per partition a little-endian u64 length and an Arrow IPC
//! stream of that length.

use std::io::Cursor;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::common::{DataFusionError, Result, exec_err};

/// Marks a buffer written by [`encode`] (tickflow memory table, format 1).
pub const MAGIC: &[u8; 8] = b"TFMEMT01";

/// Appends `table`'s partitions to `buf`.
pub fn encode(table: &MemTable, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(MAGIC);
    let schema = datafusion::catalog::TableProvider::schema(table);
    for partition in &table.batches {
        let Ok(batches) = partition.try_read() else {
            return exec_err!("an in-memory table is being written to; retry the query");
        };
        let mut writer = StreamWriter::try_new(Vec::new(), &schema)?;
        for batch in batches.iter() {
            writer.write(batch)?;
        }
        let bytes = writer.into_inner()?;
        buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        buf.extend_from_slice(&bytes);
    }
    Ok(())
}

/// Whether `buf` was written by [`encode`].
pub fn is_encoded(buf: &[u8]) -> bool {
    buf.starts_with(MAGIC)
}

/// The table [`encode`] wrote into `buf`, with the schema the plan declares.
pub fn decode(buf: &[u8], schema: SchemaRef) -> Result<MemTable> {
    let corrupt = |what: &str| DataFusionError::Internal(format!("memory table in plan: {what}"));
    let mut rest = buf
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| corrupt("no magic"))?;
    let mut partitions: Vec<Vec<RecordBatch>> = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_at_checked(8)
            .ok_or_else(|| corrupt("truncated length"))?;
        let len = u64::from_le_bytes(len.try_into().map_err(|_| corrupt("length"))?);
        let len = usize::try_from(len).map_err(|_| corrupt("length"))?;
        let (stream, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| corrupt("truncated data"))?;
        let reader = StreamReader::try_new(Cursor::new(stream), None)?;
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
        // Batches carry the IPC schema; the plan's (with its field names and metadata) wins.
        let batches = batches
            .into_iter()
            .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        partitions.push(batches);
        rest = tail;
    }
    if partitions.is_empty() {
        partitions.push(Vec::new());
    }
    MemTable::try_new(schema, partitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[tokio::test]
    async fn round_trip_keeps_partitions_and_rows() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = |from: i64| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(vec![from, from + 1])),
                    Arc::new(StringArray::from(vec![Some("x"), None])),
                ],
            )
        };
        let table = MemTable::try_new(
            schema.clone(),
            vec![vec![batch(0)?, batch(2)?], vec![], vec![batch(9)?]],
        )?;
        let mut buf = Vec::new();
        encode(&table, &mut buf)?;
        assert!(is_encoded(&buf));
        let back = decode(&buf, schema.clone())?;
        assert_eq!(back.batches.len(), 3);
        let rows: Vec<usize> = back
            .batches
            .iter()
            .map(|p| {
                p.try_read()
                    .map(|b| b.iter().map(|b| b.num_rows()).sum())
                    .unwrap_or(0)
            })
            .collect();
        assert_eq!(rows, vec![4, 0, 2]);

        // A truncated buffer is an error, not a panic.
        let err = decode(&buf[..buf.len() - 3], schema).expect_err("truncated");
        assert!(err.to_string().contains("memory table"), "{err}");
        Ok(())
    }
}
