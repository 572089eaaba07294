//! The columns of a file: which input column is the symbol, the timestamp, each price, the
//! volume, ... for each [`Shape`], by header name (or the shape's fixed order without a
//! header), and the columns the shape does not know, which are kept as they are named.

use super::parse::{FieldErr, PRICE, ParseOptions, Shape};
use super::records::Record;
use super::schema::{ColType, normalize};

/// What an output column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A positive DECIMAL(18,4) price (`adj_close` may be empty).
    Price,
    /// A trade size: a non-negative BIGINT.
    Size,
    /// A bar's volume: non-negative, BIGINT or DECIMAL as the run decides.
    Volume,
    /// Text kept as it is (`exchange`, `conditions`).
    Text,
    /// The file's own sequence number, BIGINT.
    SourceSeq,
    /// `seq`, derived from the file index and line.
    Seq,
    /// A column the shape does not know: typed by `--schema` or inferred.
    Extra,
}

/// One output column after `symbol` and `ts`.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    /// Field of the input record (`None`: derived, or a missing optional column, null).
    pub index: Option<usize>,
    pub name: String,
    pub role: Role,
    /// `None`: decided for the run, or inferred.
    pub ty: Option<ColType>,
}

impl Col {
    pub fn nullable(&self) -> bool {
        match self.role {
            Role::Text | Role::SourceSeq | Role::Extra => true,
            Role::Price => self.name == "adj_close",
            Role::Size | Role::Volume | Role::Seq => false,
        }
    }
}

/// The columns of a file.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Fields every record must have.
    pub fields: usize,
    /// The input columns' names (normalized).
    pub names: Vec<String>,
    /// The symbol field (`None`: from the file name).
    pub symbol: Option<usize>,
    /// A timestamp field, or a date and a time field.
    pub ts: Option<usize>,
    pub date: Option<usize>,
    pub time: Option<usize>,
    pub cols: Vec<Col>,
    /// Indices into `cols` of open, high, low, close (bars are checked to agree).
    pub ohlc: Option<[usize; 4]>,
}

/// Names the columns always written take; an input column of such a name that is not that
/// column is an error (`date` is the partition).
const RESERVED: [&str; 4] = ["symbol", "ts", "seq", "date"];

/// The layout of a file of `shape` with header `names` (and its line), or without a header.
pub(crate) fn layout(
    shape: Shape,
    header: Option<(Vec<String>, u64)>,
    first: Option<&Record>,
    opts: &ParseOptions,
) -> Result<Layout, (FieldErr, u64)> {
    let line = header.as_ref().map_or(1, |h| h.1);
    let fail = |column: usize, reason: String| Err((FieldErr::new(column, reason), line));
    let names: Vec<String> = match header {
        Some((names, _)) => names.iter().map(|n| normalize(n)).collect(),
        None if !opts.schema.is_empty() => opts.schema.iter().map(|(n, _)| n.clone()).collect(),
        None => {
            let fixed: &[&str] = match shape {
                Shape::Trades => {
                    let n = first.map_or(7, Record::len);
                    if n >= 8 {
                        &[
                            "date",
                            "time",
                            "symbol",
                            "price",
                            "size",
                            "exchange",
                            "conditions",
                            "seq",
                        ]
                    } else {
                        &[
                            "date",
                            "time",
                            "symbol",
                            "price",
                            "size",
                            "exchange",
                            "conditions",
                        ]
                    }
                }
                Shape::MinuteBars => &["ts", "open", "high", "low", "close", "volume"],
                Shape::Daily => &[
                    "date",
                    "open",
                    "high",
                    "low",
                    "close",
                    "adj_close",
                    "volume",
                ],
                Shape::Csv => {
                    return fail(
                        0,
                        "--shape csv needs a header line or --schema naming the columns in order"
                            .into(),
                    );
                }
            };
            // Fields after the shape's own (in the first record) are kept as column_N.
            let n = first
                .filter(|r| r.malformed.is_none())
                .map_or(0, Record::len);
            let mut names: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
            names.extend((fixed.len()..n).map(|i| format!("column_{}", i + 1)));
            names
        }
    };
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|m| m == n) {
            return fail(
                i,
                format!(
                    "header names column '{n}' twice (columns {} and {})",
                    j + 1,
                    i + 1
                ),
            );
        }
    }
    let listed = names.join(",");
    let mut used = vec![false; names.len()];
    let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(&n.as_str()));

    let symbol_aliases: &[&str] = if shape == Shape::Trades {
        &["symbol", "ticker", "sym"]
    } else {
        &["symbol", "ticker"]
    };
    let symbol = find(symbol_aliases);
    if symbol.is_none() && shape == Shape::Trades && !opts.symbol_from_filename_given {
        return fail(
            0,
            format!(
                "header has no symbol column (expected one of {}; found {listed}); or take it from the file name with --symbol-from-filename",
                symbol_aliases.join(", ")
            ),
        );
    }
    let mut ts;
    let (mut date, mut time) = (None, None);
    match shape {
        Shape::Trades | Shape::MinuteBars => {
            ts = find(&["ts", "timestamp", "datetime"]);
            let d = find(&["date", "trade_date"]);
            let t = find(&["time", "trade_time"]);
            if ts.is_none() {
                match (d, t) {
                    (Some(d), Some(t)) => (date, time) = (Some(d), Some(t)),
                    (Some(d), None) if shape == Shape::MinuteBars => ts = Some(d),
                    _ => {
                        return fail(
                            0,
                            format!(
                                "header needs date and time columns or a ts/timestamp column; found {listed}"
                            ),
                        );
                    }
                }
            }
            // A date and a time beside a timestamp say the same; they are not kept twice.
            for i in [d, t].into_iter().flatten() {
                used[i] = true;
            }
        }
        Shape::Daily => {
            ts = find(&["date", "ts", "timestamp", "datetime"]);
            if ts.is_none() {
                return fail(0, format!("header has no date column; found {listed}"));
            }
        }
        Shape::Csv => {
            ts = match &opts.ts_column {
                Some(c) => {
                    let c = normalize(c);
                    let found = names.iter().position(|n| *n == c);
                    if found.is_none() {
                        return fail(
                            0,
                            format!("--ts-column '{c}': no such column (found {listed})"),
                        );
                    }
                    found
                }
                None => find(&["ts", "timestamp", "datetime", "date", "time"]),
            };
            if ts.is_none() {
                return fail(
                    0,
                    format!("no timestamp column (give --ts-column NAME); found {listed}"),
                );
            }
        }
    }
    for i in [symbol, ts, date, time].into_iter().flatten() {
        used[i] = true;
    }

    let mut cols: Vec<Col> = Vec::new();
    let mut missing = Vec::new();
    let mut add = |cols: &mut Vec<Col>,
                   used: &mut Vec<bool>,
                   name: &str,
                   aliases: &[&str],
                   role: Role,
                   required: bool| {
        let index = names.iter().position(|n| aliases.contains(&n.as_str()));
        if let Some(i) = index {
            used[i] = true;
        } else if required {
            missing.push((name.to_string(), aliases.join(", ")));
        }
        let ty = match role {
            Role::Price => Some(PRICE),
            Role::Size | Role::SourceSeq | Role::Seq => Some(ColType::Int64),
            Role::Text => Some(ColType::Utf8),
            Role::Volume | Role::Extra => None,
        };
        if index.is_some() || !matches!(role, Role::SourceSeq) || shape == Shape::Trades {
            cols.push(Col {
                index,
                name: name.to_string(),
                role,
                ty,
            });
        }
    };
    let seq_aliases: &[&str] = &["seq", "sequence", "seq_num", "sequence_number"];
    let mut ohlc = None;
    match shape {
        Shape::Trades => {
            add(
                &mut cols,
                &mut used,
                "price",
                &["price", "trade_price"],
                Role::Price,
                true,
            );
            add(
                &mut cols,
                &mut used,
                "size",
                &["size", "volume", "qty", "quantity", "trade_volume"],
                Role::Size,
                true,
            );
            add(
                &mut cols,
                &mut used,
                "exchange",
                &["exchange", "ex", "exchange_code"],
                Role::Text,
                false,
            );
            add(
                &mut cols,
                &mut used,
                "conditions",
                &["conditions", "condition", "cond", "sale_condition"],
                Role::Text,
                false,
            );
            add(&mut cols, &mut used, "seq", &[], Role::Seq, false);
            add(
                &mut cols,
                &mut used,
                "source_seq",
                seq_aliases,
                Role::SourceSeq,
                false,
            );
        }
        Shape::MinuteBars | Shape::Daily => {
            for p in ["open", "high", "low", "close"] {
                add(&mut cols, &mut used, p, &[p], Role::Price, true);
            }
            ohlc = Some([0, 1, 2, 3]);
            if shape == Shape::Daily {
                add(
                    &mut cols,
                    &mut used,
                    "adj_close",
                    &["adj_close", "adjclose", "adjusted_close"],
                    Role::Price,
                    false,
                );
            }
            add(
                &mut cols,
                &mut used,
                "volume",
                &["volume", "vol"],
                Role::Volume,
                true,
            );
            add(&mut cols, &mut used, "seq", &[], Role::Seq, false);
            add(
                &mut cols,
                &mut used,
                "source_seq",
                seq_aliases,
                Role::SourceSeq,
                false,
            );
        }
        Shape::Csv => {
            add(&mut cols, &mut used, "seq", &[], Role::Seq, false);
            add(
                &mut cols,
                &mut used,
                "source_seq",
                &["seq"],
                Role::SourceSeq,
                false,
            );
        }
    }
    if let Some((name, aliases)) = missing.first() {
        return fail(
            0,
            format!("header has no {name} column (expected one of {aliases}; found {listed})"),
        );
    }
    for (i, n) in names.iter().enumerate() {
        if used[i] {
            continue;
        }
        if n.is_empty() {
            return fail(i, format!("column {} has no name", i + 1));
        }
        if RESERVED.contains(&n.as_str()) || cols.iter().any(|c| c.name == *n) {
            return fail(
                i,
                format!(
                    "column '{n}' has the name of a column ingest writes itself (symbol, ts, seq, date, {}); rename it in the header or with --schema",
                    cols.iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        cols.push(Col {
            index: Some(i),
            name: n.clone(),
            role: Role::Extra,
            ty: None,
        });
    }
    // Types given with --schema.
    for (name, ty) in &opts.schema {
        // A column other files have (ingest checks that some file of the run has it).
        let Some(i) = names.iter().position(|n| n == name) else {
            continue;
        };
        let col = cols.iter_mut().find(|c| c.index == Some(i));
        let ok = match col {
            None => matches!(ty, ColType::Timestamp | ColType::Utf8),
            Some(c) => match c.role {
                Role::Extra => {
                    c.ty = Some(*ty);
                    *ty != ColType::Timestamp
                }
                Role::Volume => {
                    c.ty = Some(*ty);
                    matches!(ty, ColType::Int64 | ColType::Decimal(..) | ColType::Float64)
                }
                _ => c.ty == Some(*ty),
            },
        };
        if !ok {
            return fail(
                i,
                format!(
                    "--schema gives column '{name}' the type {ty}, which the {} shape does not allow (its type is fixed; volume takes BIGINT, DECIMAL(p,s) or DOUBLE)",
                    shape.name()
                ),
            );
        }
    }
    Ok(Layout {
        fields: names.len(),
        names,
        symbol,
        ts,
        date,
        time,
        cols,
        ohlc,
    })
}
