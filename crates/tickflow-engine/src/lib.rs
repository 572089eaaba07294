//! tickflow's engine: the one session builder for every role ([`session`]), the persistent table
//! catalog, SQL script parameters, object storage, ingest, incremental bars (`watch`) and the
//! synthetic market. Ballista is not here: tickflow-cluster builds on this crate. The map of the
//! whole project is `ARCHITECTURE.md`.

pub mod bars;
pub mod bookkeeping;
pub mod catalog;
pub mod error;
pub mod error_chain;
pub mod r#gen; // `gen` is a reserved keyword in edition 2024
pub mod ingest;
pub mod params;
pub mod session;
pub mod storage;
pub mod table_lock;
pub mod url_tables;
pub mod watch;

pub use catalog::Catalog;
pub use error::Error;
pub use r#gen::{GenFormat, GenOptions, GenSummary, generate};
pub use session::{Engine, EngineConfig, Role, local_context, session_state};
