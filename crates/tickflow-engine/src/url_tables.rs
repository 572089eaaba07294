//! Files and objects queried by path (`SELECT * FROM 's3://desk/trades.parquet'`), as
//! DataFusion's `SessionContext::enable_url_table` gives them, with one difference: a name with
//! a URL scheme (`s3://`, `az://`, `gs://`, `http://`, `file://`) that cannot be read is an error
//! naming the URL and why. DataFusion's factory answers every failure with "no such table", so
//! an unreachable endpoint or a wrong credential read as `table 's3://…' not found`.
//!
//! A plain name that is no file (`trades`, a typo) is still not a table: the planner goes on and
//! reports an unknown table, as before.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use datafusion::catalog::{DynamicFileCatalog, TableProvider, UrlTableFactory};
use datafusion::common::{Result, plan_datafusion_err};
use datafusion::datasource::listing::{
    ListingTable, ListingTableConfig, ListingTableConfigExt, ListingTableUrl,
};
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;

/// `ctx` with files and objects queryable by path.
pub fn enable_url_tables(ctx: SessionContext) -> SessionContext {
    let factory = Arc::new(UrlTables::default());
    let catalogs = Arc::new(DynamicFileCatalog::new(
        Arc::clone(ctx.state_ref().read().catalog_list()),
        Arc::clone(&factory) as Arc<dyn UrlTableFactory>,
    ));
    let session_id = ctx.session_id();
    let ctx: SessionContext = ctx
        .into_state_builder()
        .with_session_id(session_id)
        .with_catalog_list(catalogs)
        .build()
        .into();
    // The factory reads the session back when a query names a path (so `SET s3.…` made later
    // applies); a weak reference, as the session holds the factory.
    let _ = factory.session.set(ctx.state_weak_ref());
    ctx
}

/// The steps of DataFusion 55's `DynamicListTableFactory::try_new`, keeping the error of a URL.
#[derive(Debug, Default)]
struct UrlTables {
    session: OnceLock<Weak<parking_lot::RwLock<SessionState>>>,
}

#[async_trait]
impl UrlTableFactory for UrlTables {
    async fn try_new(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Ok(table_url) = ListingTableUrl::parse(url) else {
            return Ok(None);
        };
        let state = self
            .session
            .get()
            .and_then(Weak::upgrade)
            .map(|state| state.read().clone())
            .ok_or_else(|| plan_datafusion_err!("the session of '{url}' has ended"))?;
        match ListingTableConfig::new(table_url)
            .infer_options(&state)
            .await
        {
            Ok(config) => {
                let config = config
                    .infer_partitions_from_path(&state)
                    .await?
                    .infer_schema(&state)
                    .await?;
                ListingTable::try_new(config)
                    .map(|table| Some(Arc::new(table) as Arc<dyn TableProvider>))
            }
            Err(e) if url.contains("://") => Err(e.context(format!("cannot read '{url}'"))),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::session::{EngineConfig, local_context};

    /// Once `table 'datafusion.public.s3://…' not found`; now the URL and the store's error.
    #[tokio::test]
    async fn an_unreachable_store_is_an_error_naming_the_url() -> datafusion::common::Result<()> {
        let ctx = local_context(&EngineConfig::default())?;
        for set in [
            "SET s3.endpoint = 'http://127.0.0.1:9'",
            "SET s3.allow_http = 'true'",
            "SET s3.access_key_id = 'k'",
            "SET s3.secret_access_key = 's'",
            "SET s3.region = 'us-east-1'",
            "SET storage.max_retries = '0'",
            "SET storage.retry_timeout = '1s'",
            "SET cache.enabled = 'off'",
        ] {
            ctx.sql(set).await?;
        }
        let err = match ctx.sql("SELECT * FROM 's3://desk/trades.parquet'").await {
            Ok(_) => panic!("planned a query of an unreachable store"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("cannot read 's3://desk/trades.parquet'"),
            "{err}"
        );
        assert!(!err.contains("not found"), "{err}");
        // A name that is neither a URL nor a file is still an unknown table.
        let err = match ctx.sql("SELECT * FROM 'no_such_table'").await {
            Ok(_) => panic!("found no_such_table"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("not found"), "{err}");
        // A file by path still works.
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("t.csv");
        std::fs::write(&file, "a,b\n1,2\n")?;
        let rows = ctx
            .sql(&format!("SELECT a + b AS s FROM '{}'", file.display()))
            .await?
            .collect()
            .await?;
        assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        Ok(())
    }
}
