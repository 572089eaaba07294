//! tickflow's engine: the one place a DataFusion session is assembled (DESIGN.md), the persistent
//! table catalog, SQL script parameters, CSV ingest and synthetic data.

pub mod catalog;
pub mod params;
pub mod session;

pub use catalog::Catalog;
pub use session::{EngineConfig, local_context};
