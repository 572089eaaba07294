//! Catalog tables registered when a query first touches them.
//!
//! Registering a `CREATE EXTERNAL TABLE` lists its files (to infer the schema), so registering
//! every catalogued table at start-up made `SELECT 1` pay for each of them. [`LazySchema`] wraps
//! the session's default schema: a catalogued name is listed by `SHOW TABLES` and
//! `information_schema` (with its type) at no cost, and its statement runs the first time a query
//! resolves the name. Its errors (files gone, a bad option) then belong to the query that needs
//! the table, not to every command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::common::{Result, exec_err};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;

use super::definition::{Definition, Kind};

/// The default schema with the catalog's not yet registered definitions beside it.
#[derive(Debug)]
pub struct LazySchema {
    inner: Arc<dyn SchemaProvider>,
    /// By the table part of the name, as DataFusion asks for it.
    pending: Mutex<BTreeMap<String, Definition>>,
    /// Names whose statement is running now: a view that reaches itself again finds nothing
    /// instead of looping.
    building: Mutex<BTreeSet<String>>,
    state: Weak<parking_lot::RwLock<SessionState>>,
    catalog_path: PathBuf,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LazySchema {
    pub fn new(
        inner: Arc<dyn SchemaProvider>,
        definitions: Vec<Definition>,
        ctx: &SessionContext,
        catalog_path: PathBuf,
    ) -> Self {
        let pending = definitions
            .into_iter()
            .map(|d| (d.name.table().to_string(), d))
            .collect();
        LazySchema {
            inner,
            pending: Mutex::new(pending),
            building: Mutex::new(BTreeSet::new()),
            state: ctx.state_weak_ref(),
            catalog_path,
        }
    }

    /// Whether `name` is catalogued and not registered yet.
    pub fn is_pending(&self, name: &str) -> bool {
        lock(&self.pending).contains_key(name)
    }

    /// Forgets a not yet registered definition (`DROP TABLE` of it); true if there was one.
    pub fn forget(&self, name: &str) -> bool {
        lock(&self.pending).remove(name).is_some()
    }

    /// Adds a definition to register on first use (replacing one of the same name).
    pub fn defer(&self, definition: Definition) {
        lock(&self.pending).insert(definition.name.table().to_string(), definition);
    }

    /// Runs a pending definition's statement in this session, so the table is registered in
    /// `inner` (through [`SchemaProvider::register_table`] below).
    async fn build(&self, name: &str, definition: &Definition) -> Result<()> {
        lock(&self.building).insert(name.to_string());
        let result = async {
            let state = match self.state.upgrade() {
                Some(state) => state.read().clone(),
                None => return exec_err!("the session of catalog table {name} has ended"),
            };
            // The same catalogs and schemas (the state holds them by Arc), another context: the
            // statement runs as the user's would, without being recorded again.
            SessionContext::new_with_state(state)
                .sql(&definition.sql)
                .await
                .map(|_| ())
        }
        .await;
        lock(&self.building).remove(name);
        result.map_err(|e| {
            e.context(format!(
                "{} {} from catalog {}",
                definition.kind.noun(),
                definition.sql_name(),
                self.catalog_path.display()
            ))
        })
    }
}

#[async_trait]
impl SchemaProvider for LazySchema {
    fn owner_name(&self) -> Option<&str> {
        self.inner.owner_name()
    }

    fn table_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.inner.table_names().into_iter().collect();
        names.extend(lock(&self.pending).keys().cloned());
        names.into_iter().collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = self.inner.table(name).await? {
            return Ok(Some(table));
        }
        // Planning the definition's own CREATE resolves its name: not there yet. (A view that
        // reaches itself again ends the same way: its name is not found.)
        if lock(&self.building).contains(name) {
            return Ok(None);
        }
        let Some(definition) = lock(&self.pending).get(name).cloned() else {
            return Ok(None);
        };
        let built = self.build(name, &definition).await;
        // Another lookup may have registered it meanwhile: that table is as good.
        if let Some(table) = self.inner.table(name).await? {
            lock(&self.pending).remove(name);
            return Ok(Some(table));
        }
        built?;
        exec_err!(
            "{} {} from catalog {} did not register",
            definition.kind.noun(),
            definition.sql_name(),
            self.catalog_path.display()
        )
    }

    async fn table_type(&self, name: &str) -> Result<Option<TableType>> {
        if let Some(definition) = lock(&self.pending).get(name) {
            return Ok(Some(match definition.kind {
                Kind::Table => TableType::Base,
                Kind::View => TableType::View,
            }));
        }
        self.inner.table_type(name).await
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        lock(&self.pending).remove(&name);
        self.inner.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        lock(&self.pending).remove(name);
        self.inner.deregister_table(name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
            || (lock(&self.pending).contains_key(name) && !lock(&self.building).contains(name))
    }
}
