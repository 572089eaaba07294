//! The engine's error: what ingest and the watcher return.
//!
//! Every message is one line a user can act on: it names the file (and line and column), the
//! object or the option to fix, and keeps its cause in `source()`
//! ([`crate::error_chain::error_chain`] prints both). Value parsers (storage options, bar
//! widths, the CLI's flags) return [`InvalidValue`], the reason alone, for the caller to prefix
//! with the option's name.
//!
//! The parts of the engine that plug into DataFusion (the session, storage options and stores,
//! plan nodes, script parameters) and the generator return [`DataFusionError`], as DataFusion's
//! traits require; such an error met inside ingest or the watcher is kept whole
//! ([`Error::DataFusion`]). `From<Error> for DataFusionError` below is the one place an engine
//! error becomes a DataFusion one (the CLI's `?`).

use std::fmt::Display;

use datafusion::common::DataFusionError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A cause of any type, kept for [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record of a source file that is not a valid trade or bar: `file:line:column: reason`.
    #[error("{file}:{line}:{column}: {reason}")]
    Record {
        file: String,
        line: u64,
        /// 1-based.
        column: usize,
        reason: String,
    },
    /// A local file or directory that cannot be read or written; `what` names it.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A request to object storage that failed; `what` names the location.
    #[error("{what}: {source}")]
    Store {
        what: String,
        source: object_store::Error,
    },
    /// File contents that cannot be decoded or encoded (Parquet, Arrow IPC, CSV, JSON); `what`
    /// names the file and what it should have been.
    #[error("{what}: {source}")]
    Format { what: String, source: BoxError },
    /// Input or options that cannot be used as given; the message names them and says why.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// A broken invariant (a worker thread that panicked, a column of the wrong type).
    #[error("{0}")]
    Internal(String),
    /// Planning or running a query.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// Why a value (of an option, a flag, a setting) is refused, without the option's name: whoever
/// reads the option adds it (`cache.max_size: '5 parsecs': unknown unit ...`,
/// `--allowed-lateness: ...`). Value parsers return it, as `str::parse` returns `ParseIntError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl Error {
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(InvalidValue(message.into()))
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }

    pub fn format(what: impl Display, source: impl Into<BoxError>) -> Error {
        Error::Format {
            what: what.to_string(),
            source: source.into(),
        }
    }
}

impl From<Error> for DataFusionError {
    /// A DataFusion error comes back as it was; any other keeps its message as an execution
    /// error (the kind of error the engine's callers have always printed).
    fn from(e: Error) -> DataFusionError {
        match e {
            Error::DataFusion(e) => e,
            other => DataFusionError::Execution(other.to_string()),
        }
    }
}

/// `.context(what)`: an I/O or object store error with the file or location it happened at.
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|source| Error::Io {
            what: what.to_string(),
            source,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, object_store::Error> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|source| Error::Store {
            what: what.to_string(),
            source,
        })
    }
}

/// Decoding and encoding errors are [`Error::Format`].
macro_rules! format_context {
    ($($source:ty),*) => {$(
        impl<T> Context<T> for std::result::Result<T, $source> {
            fn context(self, what: impl Display) -> Result<T> {
                self.map_err(|source| Error::format(what, source))
            }
        }
    )*};
}

format_context!(
    datafusion::arrow::error::ArrowError,
    datafusion::parquet::errors::ParquetError,
    serde_json::Error,
    csv::Error
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_place_and_keep_the_cause() {
        let e = Error::Record {
            file: "t.csv".into(),
            line: 3,
            column: 4,
            reason: "price 'x' is not a number".into(),
        };
        assert_eq!(e.to_string(), "t.csv:3:4: price 'x' is not a number");
        let e = std::fs::read("/nonexistent/x")
            .context("/nonexistent/x")
            .expect_err("no such file");
        assert!(e.to_string().starts_with("/nonexistent/x: "), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        let df: DataFusionError = Error::invalid("--x: bad").into();
        assert_eq!(df.to_string(), "Execution error: --x: bad");
        let df: DataFusionError = Error::from(DataFusionError::Plan("p".into())).into();
        assert_eq!(df.to_string(), "Error during planning: p");
    }
}
