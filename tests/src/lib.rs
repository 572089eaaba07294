//! Shared test support; the tests themselves live in `tests/*.rs`.

pub mod cli;
pub mod cluster;
pub mod object_servers;
