//! `COPY .. TO` on the cluster writes with the session's format settings, as it does locally.
//!
//! A `COPY` statement's plan names its file format with a factory whose options are unset: the
//! physical planner then takes the session's (`SET datafusion.execution.parquet.compression`,
//! tickflow's zstd(1) without dictionaries) and the statement's `OPTIONS (..)` on top. DataFusion
//! 55's protobuf codec writes an unset factory as one holding every default, so on the
//! scheduler the session's settings were ignored: the cluster wrote Parquet with dictionaries
//! and DataFusion's default compression even after `SET .. dictionary_enabled = false`. The
//! client's codec marks a factory whose options are unset ([`mark`]), and the scheduler's
//! restores it unset ([`restore`]), so the session's settings (which Ballista ships with every
//! query) apply.
//!
//! ```sql
//! SET datafusion.execution.parquet.compression = 'snappy';
//! COPY (SELECT * FROM bars) TO 'bars.parquet' STORED AS PARQUET;  -- snappy, on the cluster too
//! ```

use std::sync::Arc;

use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::datasource::file_format::json::JsonFormatFactory;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;

const SESSION_OPTIONS: &[u8] = b"TFSESSIONOPTS01";

/// Writes the mark into `buf` if `factory` leaves its options to the session.
pub(super) fn mark(factory: &Arc<dyn FileFormatFactory>, buf: &mut Vec<u8>) {
    let unset = if let Some(f) = factory.downcast_ref::<ParquetFormatFactory>() {
        f.options.is_none()
    } else if let Some(f) = factory.downcast_ref::<CsvFormatFactory>() {
        f.options.is_none()
    } else if let Some(f) = factory.downcast_ref::<JsonFormatFactory>() {
        f.options.is_none()
    } else {
        false
    };
    if unset {
        buf.extend_from_slice(SESSION_OPTIONS);
    }
}

/// `buf` without the mark, and whether it had one.
pub(super) fn strip(buf: &[u8]) -> (&[u8], bool) {
    match buf.strip_prefix(SESSION_OPTIONS) {
        Some(rest) => (rest, true),
        None => (buf, false),
    }
}

/// `factory` with its options unset again, when it was written with the mark.
pub(super) fn restore(
    factory: Arc<dyn FileFormatFactory>,
    marked: bool,
) -> Arc<dyn FileFormatFactory> {
    if !marked {
        factory
    } else if factory.downcast_ref::<ParquetFormatFactory>().is_some() {
        Arc::new(ParquetFormatFactory::new())
    } else if factory.downcast_ref::<CsvFormatFactory>().is_some() {
        Arc::new(CsvFormatFactory::new())
    } else if factory.downcast_ref::<JsonFormatFactory>().is_some() {
        Arc::new(JsonFormatFactory::new())
    } else {
        factory
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::TickflowLogicalCodec;
    use super::*;
    use datafusion::common::Result;
    use datafusion::config::TableParquetOptions;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::logical_plan::LogicalExtensionCodec;

    fn round_trip(factory: Arc<dyn FileFormatFactory>) -> Result<Arc<dyn FileFormatFactory>> {
        let codec = TickflowLogicalCodec::default();
        let mut buf = vec![];
        codec.try_encode_file_format(&mut buf, factory)?;
        codec.try_decode_file_format(&buf, &SessionContext::new().task_ctx())
    }

    /// An unset factory comes back unset (DataFusion's codec alone returns every default, which
    /// overrides the session's settings); one with options keeps them.
    #[test]
    fn unset_options_stay_unset() -> Result<()> {
        let parquet = round_trip(Arc::new(ParquetFormatFactory::new()))?;
        let parquet = parquet.downcast_ref::<ParquetFormatFactory>().unwrap();
        assert!(parquet.options.is_none());
        let csv = round_trip(Arc::new(CsvFormatFactory::new()))?;
        assert!(
            csv.downcast_ref::<CsvFormatFactory>()
                .unwrap()
                .options
                .is_none()
        );

        let mut options = TableParquetOptions::default();
        options.global.compression = Some("snappy".into());
        let set = round_trip(Arc::new(ParquetFormatFactory::new_with_options(options)))?;
        let set = set.downcast_ref::<ParquetFormatFactory>().unwrap();
        let compression = set.options.as_ref().map(|o| o.global.compression.clone());
        assert_eq!(compression, Some(Some("snappy".into())));
        Ok(())
    }
}
