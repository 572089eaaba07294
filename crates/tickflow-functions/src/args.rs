//! Argument checking and type coercion shared by the functions.
//!
//! Every error names the function, the argument's position and name, what it accepts and what it
//! got, so a user can fix the SQL without reading the source.

use datafusion::arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType};
use datafusion::common::{DataFusionError, Result, plan_err};

/// One argument of a function call, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub function: &'static str,
    /// 1-based, as users count.
    pub position: usize,
    pub name: &'static str,
}

impl Arg {
    pub const fn new(function: &'static str, position: usize, name: &'static str) -> Self {
        Self {
            function,
            position,
            name,
        }
    }

    /// A plan error about this argument.
    pub fn error(&self, message: impl std::fmt::Display) -> DataFusionError {
        DataFusionError::Plan(format!(
            "{}: argument {} ({}) {message}",
            self.function, self.position, self.name
        ))
    }

    fn wrong_type(&self, expected: &str, got: &DataType) -> DataFusionError {
        self.error(format!("must be {expected}, got {got}"))
    }

    /// A numeric price or volume: floats become Float64 (Float32 is kept when `keep_float32`),
    /// integers Int64 (Int32 when `keep_int32`; UInt64 becomes Decimal128(20, 0) so no value is
    /// lost), decimals Decimal128 of the same precision and scale.
    pub fn coerce_numeric(&self, dt: &DataType, keep_narrow: bool) -> Result<DataType> {
        use DataType::*;
        Ok(match dt {
            Float64 | Null => Float64,
            Float32 if keep_narrow => Float32,
            Float16 | Float32 => Float64,
            Int32 if keep_narrow => Int32,
            Int8 | Int16 | UInt8 | UInt16 if keep_narrow => Int32,
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => Int64,
            UInt64 => Decimal128(20, 0),
            Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) => Decimal128(*p, *s),
            Decimal256(p, s) if *p <= DECIMAL128_MAX_PRECISION => Decimal128(*p, *s),
            other => return Err(self.wrong_type("a number (float, integer or decimal)", other)),
        })
    }

    /// An event time: any TIMESTAMP (kept as is), or an integer count since the epoch (Int64).
    pub fn coerce_event_time(&self, dt: &DataType) -> Result<DataType> {
        use DataType::*;
        Ok(match dt {
            Timestamp(_, _) => dt.clone(),
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => Int64,
            other => return Err(self.wrong_type("a TIMESTAMP or an integer", other)),
        })
    }

    /// An integer tie-breaker (sequence number): Int64.
    pub fn coerce_integer(&self, dt: &DataType) -> Result<DataType> {
        use DataType::*;
        Ok(match dt {
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Null => Int64,
            other => return Err(self.wrong_type("an integer", other)),
        })
    }
}

/// Checks the number of arguments of a call.
pub fn check_arity(
    function: &str,
    arg_types: &[DataType],
    min: usize,
    max: usize,
    usage: &str,
) -> Result<()> {
    let n = arg_types.len();
    if n < min || n > max {
        return plan_err!("{function}: expected {usage}, got {n} argument(s)");
    }
    Ok(())
}

/// `Default` and `new()` for a function whose only field is a user-defined signature: the
/// function checks and coerces its own arguments, so its errors name them.
macro_rules! user_defined_signature {
    ($function:ident) => {
        impl Default for $function {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $function {
            pub fn new() -> Self {
                Self {
                    signature: datafusion::logical_expr::Signature::user_defined(
                        datafusion::logical_expr::Volatility::Immutable,
                    ),
                }
            }
        }
    };
}
pub(crate) use user_defined_signature;
