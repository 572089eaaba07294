//! tickflow's engine: the one place a DataFusion session is assembled (DESIGN.md), the persistent
//! table catalog, SQL script parameters, CSV ingest and synthetic data.

pub mod bars;
pub mod catalog;
pub mod cluster;
pub mod error;
pub mod error_chain;
pub mod r#gen; // `gen` is a reserved keyword in edition 2024
pub mod ingest;
pub mod params;
pub mod session;
pub mod sorted_aggregate;
pub mod storage;
#[cfg(test)]
mod test_tables;
pub mod watch;

pub use catalog::Catalog;
pub use error::Error;
pub use r#gen::{GenFormat, GenOptions, GenSummary, generate};
pub use session::{Engine, EngineConfig, context, local_context};
