//! Time buckets: the bucket arithmetic ([`bucket`]) and every function built on it.
//!
//! `time_bucket` (scalar) gives a row's bucket; `time_buckets` (scalar) and `time_bucket`
//! (table) give every bucket meeting a range; `session_buckets` (table) only those meeting a
//! calendar's sessions. All of them align buckets with the same [`bucket::Grid`], so a bar and
//! the grid it is joined to always agree.

pub mod bucket;
pub mod session_buckets;
pub mod time_bucket;
pub mod time_bucket_table;
pub mod time_buckets;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::ScalarUDF;

/// The scalar `time_bucket` as a [`ScalarUDF`].
pub fn time_bucket_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(time_bucket::TimeBucket::new()))
}

/// `time_buckets` (the list of buckets meeting a range) as a [`ScalarUDF`].
pub fn time_buckets_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(time_buckets::TimeBuckets::new()))
}

/// The scalar bucket functions.
pub fn udfs() -> Vec<Arc<ScalarUDF>> {
    vec![time_bucket_udf(), time_buckets_udf()]
}

/// The bucket table functions, with their SQL names.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![
        (
            time_bucket_table::NAME,
            Arc::new(time_bucket_table::TimeBucketTable) as _,
        ),
        (
            session_buckets::NAME,
            Arc::new(session_buckets::SessionBuckets) as _,
        ),
    ]
}
