//! `ohlc(ts, price [, seq])`: open, high, low and close of a bar in one pass, as a struct.
//!
//! open/close are the prices at the smallest/largest `(ts, seq)`. Trades often share a timestamp
//! (exchange clocks tick in micro- or milliseconds), so the optional `seq` — the tape's sequence
//! number, or tickflow ingest's `seq` column — breaks the tie, and with it the result is the same
//! under any partitioning, batch size, local or distributed. Without `seq`, a tie on `ts` goes to
//! the row seen first (open) / last (close) within a partition, like pandas' `first`/`last` on a
//! time-ordered frame; across partitions an exact tie is then resolved arbitrarily.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, Int64Array, PrimitiveArray, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    ArrowNativeTypeOp, DataType, Decimal128Type, Field, FieldRef, Fields, Float32Type, Float64Type,
    Int32Type, Int64Type,
};
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{AggregateUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::aggregate::accumulate::{GroupKernel, KernelVisitor, kernel_accumulators};
use crate::args::{Arg, check_arity};

const NAME: &str = "ohlc";
const TS: Arg = Arg::new(NAME, 1, "ts");
const PRICE: Arg = Arg::new(NAME, 2, "price");
const SEQ: Arg = Arg::new(NAME, 3, "seq");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Open, high, low and close of a group of trades, as a struct \
`{open, high, low, close}` of the price's type. open and close are the prices at the smallest \
and largest `(ts, seq)`; rows with a NULL ts or price are skipped (a NULL seq sorts before every \
other seq); no rows gives NULL. With `seq` the result is the same under any partitioning; \
without it a tie on ts goes to the first (open) / last (close) row seen. high and low order NaN \
above every number, as DataFusion's max and min do. Take the fields with `ohlc(...)['open']`.",
    syntax_example = "ohlc(ts, price [, seq])",
    sql_example = r#"```sql
> SELECT ohlc(ts, price, seq) AS bar FROM (VALUES (TIMESTAMP '2024-01-02 09:30:00', 187.10, 2), (TIMESTAMP '2024-01-02 09:30:00', 187.25, 1), (TIMESTAMP '2024-01-02 09:30:30', 186.95, 3), (TIMESTAMP '2024-01-02 09:30:59', 187.20, 4)) AS trades(ts, price, seq);
+---------------------------------------------------------+
| bar                                                     |
+---------------------------------------------------------+
| {open: 187.25, high: 187.25, low: 186.95, close: 187.2} |
+---------------------------------------------------------+
> SELECT bar['open'] AS open, bar['close'] AS close FROM (SELECT ohlc(ts, price) AS bar FROM (VALUES (TIMESTAMP '2024-01-02 09:30:00', 10.0), (TIMESTAMP '2024-01-02 09:30:05', 10.5)) AS trades(ts, price));
+------+-------+
| open | close |
+------+-------+
| 10.0 | 10.5  |
+------+-------+
```"#,
    argument(
        name = "ts",
        description = "Event time: a TIMESTAMP of any unit and time zone, or an integer."
    ),
    argument(
        name = "price",
        description = "Trade price: DOUBLE, FLOAT, BIGINT, INT or DECIMAL; the result fields have this type."
    ),
    argument(
        name = "seq",
        description = "Optional integer tie-breaker for equal ts (the tape's sequence number)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Ohlc {
    signature: Signature,
}

impl Default for Ohlc {
    fn default() -> Self {
        Self::new()
    }
}

impl Ohlc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The result struct's fields for a price type.
pub fn ohlc_fields(price: &DataType) -> Fields {
    ["open", "high", "low", "close"]
        .into_iter()
        .map(|name| Field::new(name, price.clone(), true))
        .collect()
}

/// Picks the kernel for the price type and builds an accumulator of it.
fn kernel<V: KernelVisitor>(args: &AccumulatorArgs, make: V) -> Result<V::Output> {
    let price = args.expr_fields[1].data_type();
    Ok(match price {
        DataType::Float64 => make.visit(OhlcKernel::<Float64Type>::new(price)),
        DataType::Float32 => make.visit(OhlcKernel::<Float32Type>::new(price)),
        DataType::Int64 => make.visit(OhlcKernel::<Int64Type>::new(price)),
        DataType::Int32 => make.visit(OhlcKernel::<Int32Type>::new(price)),
        DataType::Decimal128(_, _) => make.visit(OhlcKernel::<Decimal128Type>::new(price)),
        other => return internal_err!("{NAME}: unexpected price type {other}"),
    })
}

impl AggregateUDFImpl for Ohlc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 2, 3, "ohlc(ts, price [, seq])")?;
        let mut types = vec![
            TS.coerce_event_time(&arg_types[0])?,
            PRICE.coerce_numeric(&arg_types[1], true)?,
        ];
        if let Some(seq) = arg_types.get(2) {
            types.push(SEQ.coerce_integer(seq)?);
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(ohlc_fields(&arg_types[1])))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let price = args.input_fields[1].data_type();
        let field = |suffix: &str, dt: &DataType| {
            Arc::new(Field::new(
                format_state_name(args.name, suffix),
                dt.clone(),
                true,
            ))
        };
        Ok(vec![
            field("open_ts", &DataType::Int64),
            field("open_seq", &DataType::Int64),
            field("open", price),
            field("high", price),
            field("low", price),
            field("close_ts", &DataType::Int64),
            field("close_seq", &DataType::Int64),
            field("close", price),
        ])
    }

    kernel_accumulators!();
}

/// The OHLC kernel for one price type.
#[derive(Debug)]
struct OhlcKernel<T: ArrowPrimitiveType> {
    /// The price type (carries a decimal's precision and scale).
    price_type: DataType,
    _price: std::marker::PhantomData<T>,
}

impl<T: ArrowPrimitiveType> OhlcKernel<T> {
    fn new(price_type: &DataType) -> Self {
        Self {
            price_type: price_type.clone(),
            _price: std::marker::PhantomData,
        }
    }
}

/// The order of rows: `(ts, seq)`; without a seq column every seq is 0.
type Key = (i64, i64);

/// A NULL seq sorts before every other seq.
const NULL_SEQ: i64 = i64::MIN;

#[derive(Debug, Default, Clone, Copy)]
struct Bar<N> {
    /// false until the first row: the other fields are meaningless until then.
    seen: bool,
    open_key: Key,
    open: N,
    high: N,
    low: N,
    close_key: Key,
    close: N,
}

impl<N: ArrowNativeTypeOp> Bar<N> {
    /// Adds a bar made of one row or of many (a partial state): `first`/`last` are its open and
    /// close keys. Ties go to the bar already held for open and to the newcomer for close, which
    /// is arrival order.
    #[inline]
    fn add(&mut self, first: Key, open: N, high: N, low: N, last: Key, close: N) {
        if !self.seen {
            *self = Bar {
                seen: true,
                open_key: first,
                open,
                high,
                low,
                close_key: last,
                close,
            };
            return;
        }
        if first < self.open_key {
            self.open_key = first;
            self.open = open;
        }
        if high.is_gt(self.high) {
            self.high = high;
        }
        if low.is_lt(self.low) {
            self.low = low;
        }
        if last >= self.close_key {
            self.close_key = last;
            self.close = close;
        }
    }
}

/// Columns of one input batch.
struct Rows<'a, T: ArrowPrimitiveType> {
    ts: Int64Array,
    price: &'a PrimitiveArray<T>,
    seq: Option<&'a Int64Array>,
}

/// Columns of one partial-state batch (see `state_fields`).
struct Partials<'a, T: ArrowPrimitiveType> {
    open_ts: &'a Int64Array,
    open_seq: &'a Int64Array,
    open: &'a PrimitiveArray<T>,
    high: &'a PrimitiveArray<T>,
    low: &'a PrimitiveArray<T>,
    close_ts: &'a Int64Array,
    close_seq: &'a Int64Array,
    close: &'a PrimitiveArray<T>,
}

impl<T> GroupKernel for OhlcKernel<T>
where
    T: ArrowPrimitiveType + std::fmt::Debug + Send + Sync,
    T::Native: ArrowNativeTypeOp + Default + Send + Sync,
{
    type State = Bar<T::Native>;
    type Input<'a> = Rows<'a, T>;
    type Partial<'a> = Partials<'a, T>;
    const REQUIRED: usize = 2;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Rows<'a, T>> {
        // Timestamps of any unit are i64 underneath: reinterpreting them is free.
        let ts = cast(&values[0], &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .clone();
        Ok(Rows {
            ts,
            price: values[1].as_primitive::<T>(),
            seq: values.get(2).map(|s| s.as_primitive::<Int64Type>()),
        })
    }

    #[inline]
    fn update(&self, bar: &mut Self::State, rows: &Rows<'_, T>, row: usize) -> Result<()> {
        let seq = match rows.seq {
            None => 0,
            Some(seq) if seq.is_null(row) => NULL_SEQ,
            Some(seq) => seq.value(row),
        };
        let key = (rows.ts.value(row), seq);
        let price = rows.price.value(row);
        bar.add(key, price, price, price, key, price);
        Ok(())
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Partials<'a, T>> {
        let int = |i: usize| states[i].as_primitive::<Int64Type>();
        let price = |i: usize| states[i].as_primitive::<T>();
        Ok(Partials {
            open_ts: int(0),
            open_seq: int(1),
            open: price(2),
            high: price(3),
            low: price(4),
            close_ts: int(5),
            close_seq: int(6),
            close: price(7),
        })
    }

    fn merge(&self, bar: &mut Self::State, p: &Partials<'_, T>, row: usize) -> Result<()> {
        if p.open_ts.is_valid(row) {
            bar.add(
                (p.open_ts.value(row), p.open_seq.value(row)),
                p.open.value(row),
                p.high.value(row),
                p.low.value(row),
                (p.close_ts.value(row), p.close_seq.value(row)),
                p.close.value(row),
            );
        }
        Ok(())
    }

    fn state(&self, bars: &[Self::State]) -> Result<Vec<ArrayRef>> {
        let int = |f: fn(&Bar<T::Native>) -> i64| -> ArrayRef {
            Arc::new(Int64Array::from_iter(
                bars.iter().map(|b| b.seen.then(|| f(b))),
            ))
        };
        Ok(vec![
            int(|b| b.open_key.0),
            int(|b| b.open_key.1),
            self.prices(bars, |b| b.open)?,
            self.prices(bars, |b| b.high)?,
            self.prices(bars, |b| b.low)?,
            int(|b| b.close_key.0),
            int(|b| b.close_key.1),
            self.prices(bars, |b| b.close)?,
        ])
    }

    fn evaluate(&self, bars: &[Self::State]) -> Result<ArrayRef> {
        let columns = vec![
            self.prices(bars, |b| b.open)?,
            self.prices(bars, |b| b.high)?,
            self.prices(bars, |b| b.low)?,
            self.prices(bars, |b| b.close)?,
        ];
        let nulls = NullBuffer::from_iter(bars.iter().map(|b| b.seen));
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        Ok(Arc::new(StructArray::try_new(
            ohlc_fields(&self.price_type),
            columns,
            nulls,
        )?))
    }
}

impl<T> OhlcKernel<T>
where
    T: ArrowPrimitiveType,
    T::Native: ArrowNativeTypeOp,
{
    /// One price column of the bars, NULL where a bar saw no rows.
    fn prices(
        &self,
        bars: &[Bar<T::Native>],
        f: fn(&Bar<T::Native>) -> T::Native,
    ) -> Result<ArrayRef> {
        let values = PrimitiveArray::<T>::from_iter(bars.iter().map(|b| b.seen.then(|| f(b))))
            .with_data_type(self.price_type.clone());
        Ok(Arc::new(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{AggTester, f64s, i64s};
    use datafusion::arrow::array::{Decimal128Array, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::TimeUnit;

    fn tester(types: Vec<DataType>) -> AggTester {
        AggTester::new(Arc::new(Ohlc::new().into()), types)
    }

    #[test]
    fn open_close_follow_ts_not_arrival() -> Result<()> {
        let t = tester(vec![DataType::Int64, DataType::Float64]);
        let ts = i64s(&[Some(30), Some(10), Some(20), Some(40), Some(5)]);
        let price = f64s(&[Some(3.0), Some(1.0), Some(5.0), Some(0.5), Some(9.0)]);
        t.check_all_paths(
            &[ts, price],
            &[0, 0, 0, 0, 1],
            &[
                "{open: 1.0, high: 5.0, low: 0.5, close: 0.5}",
                "{open: 9.0, high: 9.0, low: 9.0, close: 9.0}",
            ],
        )
    }

    #[test]
    fn null_ts_or_price_rows_are_skipped_and_empty_groups_are_null() -> Result<()> {
        let t = tester(vec![DataType::Int64, DataType::Float64]);
        let ts = i64s(&[Some(1), None, Some(3), Some(4)]);
        let price = f64s(&[Some(2.0), Some(100.0), None, Some(1.0)]);
        t.check_all_paths(
            &[ts, price],
            &[0, 0, 0, 1],
            &[
                "{open: 2.0, high: 2.0, low: 2.0, close: 2.0}",
                "{open: 1.0, high: 1.0, low: 1.0, close: 1.0}",
            ],
        )?;
        let ts = i64s(&[None, Some(1)]);
        let price = f64s(&[Some(1.0), None]);
        t.check_all_paths(&[ts, price], &[0, 2], &["NULL", "NULL", "NULL"])
    }

    #[test]
    fn seq_breaks_ties_on_ts_whatever_the_arrival_order() -> Result<()> {
        let t = tester(vec![DataType::Int64, DataType::Float64, DataType::Int64]);
        // All at ts 7: open is seq 1 (price 10), close is seq 9 (price 30), in any order.
        let ts = i64s(&[Some(7); 4]);
        let price = f64s(&[Some(20.0), Some(30.0), Some(10.0), Some(25.0)]);
        let seq = i64s(&[Some(5), Some(9), Some(1), Some(6)]);
        t.check_all_paths(
            &[ts, price, seq],
            &[0; 4],
            &["{open: 10.0, high: 30.0, low: 10.0, close: 30.0}"],
        )
    }

    #[test]
    fn null_seq_sorts_first() -> Result<()> {
        let t = tester(vec![DataType::Int64, DataType::Float64, DataType::Int64]);
        let ts = i64s(&[Some(7), Some(7)]);
        let price = f64s(&[Some(1.0), Some(2.0)]);
        let seq = i64s(&[Some(i64::MIN + 1), None]);
        t.check_all_paths(
            &[ts, price, seq],
            &[0, 0],
            &["{open: 2.0, high: 2.0, low: 1.0, close: 1.0}"],
        )
    }

    #[test]
    fn without_seq_a_tie_goes_to_arrival_order() -> Result<()> {
        // One accumulator, one batch: open is the first row at the smallest ts, close the last
        // row at the largest (pandas' first/last on a time-ordered frame).
        let t = tester(vec![DataType::Int64, DataType::Float64]);
        let ts = i64s(&[Some(1), Some(1), Some(2), Some(2)]);
        let price = f64s(&[Some(10.0), Some(11.0), Some(12.0), Some(13.0)]);
        let result = t.groups_result(&[ts.clone(), price.clone()], &[0; 4], 1)?;
        assert_eq!(
            crate::test_util::show(result.as_ref(), 0),
            "{open: 10.0, high: 13.0, low: 10.0, close: 13.0}"
        );
        let value = t.accumulator_result(&[ts, price])?;
        assert_eq!(
            value.to_string(),
            "{open:10.0,high:13.0,low:10.0,close:13.0}"
        );
        Ok(())
    }

    #[test]
    fn nan_is_the_highest_price() -> Result<()> {
        let t = tester(vec![DataType::Int64, DataType::Float64]);
        let ts = i64s(&[Some(1), Some(2), Some(3)]);
        let price = f64s(&[Some(2.0), Some(f64::NAN), Some(1.0)]);
        t.check_all_paths(
            &[ts, price],
            &[0; 3],
            &["{open: 2.0, high: NaN, low: 1.0, close: 1.0}"],
        )
    }

    #[test]
    fn decimal_prices_and_timestamps_keep_their_types() -> Result<()> {
        let ts_type = DataType::Timestamp(TimeUnit::Millisecond, Some("America/New_York".into()));
        let t = tester(vec![ts_type, DataType::Decimal128(12, 4)]);
        let ts: ArrayRef = Arc::new(
            TimestampMillisecondArray::from(vec![2_000, 1_000, 3_000])
                .with_timezone("America/New_York"),
        );
        let price: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1_872_500, 1_871_000, 1_870_000])
                .with_precision_and_scale(12, 4)?,
        );
        t.check_all_paths(
            &[ts, price],
            &[0; 3],
            &["{open: 187.1000, high: 187.2500, low: 187.0000, close: 187.0000}"],
        )
    }

    #[test]
    fn coercion_errors_name_the_argument() {
        let o = Ohlc::new();
        let err = o
            .coerce_types(&[DataType::Utf8, DataType::Float64])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("ohlc: argument 1 (ts) must be a TIMESTAMP or an integer, got Utf8"),
            "{err}"
        );
        let err = o
            .coerce_types(&[DataType::Int64, DataType::Boolean])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("ohlc: argument 2 (price) must be a number"),
            "{err}"
        );
        let err = o
            .coerce_types(&[DataType::Int64, DataType::Float64, DataType::Float64])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("ohlc: argument 3 (seq) must be an integer"),
            "{err}"
        );
        let err = o.coerce_types(&[DataType::Int64]).unwrap_err();
        assert!(
            err.to_string()
                .contains("ohlc: expected ohlc(ts, price [, seq]), got 1 argument(s)"),
            "{err}"
        );
    }
}
