//! Files queried by path (`SELECT .. FROM '/data/trades/'`) on the scheduler, for SQL text sent
//! over Flight SQL.
//!
//! A local session answers a path in FROM through DataFusion's URL tables
//! (`SessionContext::enable_url_table`); a `tickflow --cluster` client does the same before it
//! ships the plan. Flight SQL clients send SQL *text*, which the scheduler plans in the session
//! Ballista builds from [`crate::roles::scheduler_session`]: a `SessionState`, which Ballista
//! wraps in a context of its own. `enable_url_table` needs that context (its factory reads the
//! state back through a weak reference to it), so it cannot be used there; without it the path
//! is looked up as a table name (`table 'datafusion.public./tmp/..' not found`).
//!
//! [`with_path_tables`] gives the scheduler's state the same catalog wrapper
//! (`DynamicFileCatalog`) with a factory that holds the state as the session was built, and
//! resolves a path exactly as DataFusion's `DynamicListTableFactory` does: the format from the
//! extension, hive partition columns from the directory names (`date=2024-01-02/`), the schema
//! inferred from the files. The state held is the session's as built: its object stores share
//! their settings with the session (`SET s3.…` later in the session applies), while a DataFusion
//! setting changed later (`SET datafusion.catalog.has_header`) does not reach paths; a
//! `CREATE EXTERNAL TABLE` with `OPTIONS` is the way to read such files (the README says so).
//!
//! **What a client may read.** Over Flight SQL, `CREATE EXTERNAL TABLE t .. LOCATION 'any path'`
//! already runs on the scheduler (DDL is planned and run there) and reads whatever the
//! scheduler's object stores reach. A path in FROM reads through the same object store registry
//! and file formats, so it reaches exactly the locations `CREATE EXTERNAL TABLE` does and no
//! other: it is shorthand for creating the table and selecting from it. Restricting one must
//! restrict the other (issue 21); both go through the session's runtime object stores.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{DynamicFileCatalog, TableProvider, UrlTableFactory};
use datafusion::common::Result;
use datafusion::datasource::listing::{
    ListingTable, ListingTableConfig, ListingTableConfigExt, ListingTableUrl,
};
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;

/// `state` with files queryable by path, as in a local session.
pub fn with_path_tables(state: SessionState) -> SessionState {
    // The factory keeps the state as it is now, whose catalog list is the plain one: the
    // wrapped list below refers to the factory, so the factory must not refer back to it.
    let factory = Arc::new(PathTableFactory {
        state: state.clone(),
    });
    let catalogs = Arc::new(DynamicFileCatalog::new(
        Arc::clone(state.catalog_list()),
        factory,
    ));
    SessionStateBuilder::new_from_existing(state)
        .with_catalog_list(catalogs)
        .build()
}

/// Builds a listing table for a path named in FROM.
///
/// The steps are DataFusion 55's `DynamicListTableFactory::try_new`, which a local session
/// uses, over a state held here instead of read back from a `SessionContext`: a path that is
/// not a file or directory of a known format is not a table (`None`), so the name is reported
/// as an unknown table; a path that is one but cannot be read is an error naming why.
#[derive(Debug)]
struct PathTableFactory {
    /// The session's state when it was built: its object stores, file formats and options.
    state: SessionState,
}

#[async_trait]
impl UrlTableFactory for PathTableFactory {
    async fn try_new(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Ok(table_url) = ListingTableUrl::parse(url) else {
            return Ok(None);
        };
        let state = &self.state;
        match ListingTableConfig::new(table_url)
            .infer_options(state)
            .await
        {
            Ok(config) => {
                let config = config
                    .infer_partitions_from_path(state)
                    .await?
                    .infer_schema(state)
                    .await?;
                ListingTable::try_new(config)
                    .map(|table| Some(Arc::new(table) as Arc<dyn TableProvider>))
            }
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::{scheduler_session, session_config};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    /// The scheduler's session, wrapped in a context as Ballista wraps it for Flight SQL.
    fn scheduler_context() -> Result<SessionContext> {
        Ok(SessionContext::new_with_state(scheduler_session(
            session_config(),
            None,
        )?))
    }

    #[tokio::test]
    async fn the_scheduler_plans_a_query_by_path_with_partition_columns() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let part = dir.path().join("date=2024-01-02");
        std::fs::create_dir_all(&part)?;
        std::fs::write(part.join("t.csv"), "symbol,price\nA,1.5\nB,2.5\n")?;
        let ctx = scheduler_context()?;
        let sql = format!(
            "SELECT symbol, price, date, arrow_typeof(date) AS t FROM '{}/' ORDER BY symbol",
            dir.path().display()
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        assert_eq!(
            pretty_format_batches(&batches)?.to_string(),
            "+--------+-------+------------+--------------------------+\n\
             | symbol | price | date       | t                        |\n\
             +--------+-------+------------+--------------------------+\n\
             | A      | 1.5   | 2024-01-02 | Dictionary(UInt16, Utf8) |\n\
             | B      | 2.5   | 2024-01-02 | Dictionary(UInt16, Utf8) |\n\
             +--------+-------+------------+--------------------------+"
        );
        Ok(())
    }

    #[tokio::test]
    async fn an_unknown_name_is_still_an_unknown_table() -> Result<()> {
        let ctx = scheduler_context()?;
        let err = ctx
            .sql("SELECT * FROM no_such_table")
            .await
            .expect_err("no such table");
        assert!(
            err.to_string()
                .contains("table 'datafusion.public.no_such_table' not found"),
            "{err}"
        );
        Ok(())
    }
}
