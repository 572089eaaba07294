//! [`RowsFrame`]: a `ROWS BETWEEN .. AND ..` frame as the row range of each row of a partition,
//! computed exactly as DataFusion's `WindowFrameContext::calculate_range_rows` does, so the
//! ranges (and therefore the order in which rows enter and leave the frame) are the same.

use std::ops::Range;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{WindowFrame, WindowFrameBound, WindowFrameUnits};

/// Where a frame starts, relative to the current row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// `UNBOUNDED PRECEDING`: the partition's first row.
    Unbounded,
    /// `n PRECEDING` (`CURRENT ROW` is `0 PRECEDING`).
    Preceding(usize),
    /// `n FOLLOWING`.
    Following(usize),
}

/// Where a frame ends (inclusive), relative to the current row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// `n PRECEDING`.
    Preceding(usize),
    /// `n FOLLOWING` (`CURRENT ROW` is `0 FOLLOWING`).
    Following(usize),
}

/// A `ROWS` frame with a bounded end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowsFrame {
    pub(crate) start: Start,
    pub(crate) end: End,
}

impl RowsFrame {
    /// The frame of `frame`, if it is a `ROWS` frame whose end is bounded; `None` otherwise
    /// (`RANGE`/`GROUPS` frames, `UNBOUNDED FOLLOWING`, or bounds that are not row counts).
    pub(crate) fn of(frame: &WindowFrame) -> Option<Self> {
        if frame.units != WindowFrameUnits::Rows {
            return None;
        }
        let count = |value: &ScalarValue| match value {
            ScalarValue::UInt64(Some(n)) => usize::try_from(*n).ok(),
            _ => None,
        };
        let start = match &frame.start_bound {
            WindowFrameBound::Preceding(ScalarValue::UInt64(None)) => Start::Unbounded,
            WindowFrameBound::Preceding(n) => Start::Preceding(count(n)?),
            WindowFrameBound::CurrentRow => Start::Preceding(0),
            WindowFrameBound::Following(n) => Start::Following(count(n)?),
        };
        let end = match &frame.end_bound {
            WindowFrameBound::Preceding(n) => End::Preceding(count(n)?),
            WindowFrameBound::CurrentRow => End::Following(0),
            WindowFrameBound::Following(n) => End::Following(count(n)?),
        };
        // A frame whose start lies after its end is refused by DataFusion's planner; refuse it
        // here too rather than compute something for it.
        let ordered = match (start, end) {
            (Start::Unbounded, _) => true,
            (Start::Preceding(s), End::Preceding(e)) => s >= e,
            (Start::Preceding(_), End::Following(_)) => true,
            (Start::Following(_), End::Preceding(_)) => false,
            (Start::Following(s), End::Following(e)) => s <= e,
        };
        ordered.then_some(Self { start, end })
    }

    /// How many rows after the current one its frame reaches: a row's value is known once this
    /// many more rows of its partition have arrived, or the partition has ended.
    pub(crate) fn lookahead(&self) -> usize {
        match self.end {
            End::Preceding(_) => 0,
            End::Following(n) => n,
        }
    }

    /// The rows of the frame of row `idx` of a partition of which `length` rows are known
    /// (DataFusion's `calculate_range_rows`).
    pub(crate) fn range(&self, idx: usize, length: usize) -> Range<usize> {
        let start = match self.start {
            Start::Unbounded => 0,
            Start::Preceding(n) => idx.saturating_sub(n),
            Start::Following(n) => idx.saturating_add(n).min(length),
        };
        let end = match self.end {
            End::Preceding(n) => {
                if idx >= n {
                    idx - n + 1
                } else {
                    0
                }
            }
            End::Following(n) => idx.saturating_add(n).saturating_add(1).min(length),
        };
        start..end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::WindowFrame;

    fn rows(start: WindowFrameBound, end: WindowFrameBound) -> WindowFrame {
        WindowFrame::new_bounds(WindowFrameUnits::Rows, start, end)
    }

    #[test]
    fn frames_are_read_from_their_bounds() {
        let n = |v: u64| ScalarValue::UInt64(Some(v));
        let frame = RowsFrame::of(&rows(
            WindowFrameBound::Preceding(n(19)),
            WindowFrameBound::CurrentRow,
        ))
        .expect("a rows frame");
        assert_eq!(frame.start, Start::Preceding(19));
        assert_eq!(frame.end, End::Following(0));
        assert_eq!(frame.range(0, 5), 0..1);
        assert_eq!(frame.range(25, 30), 6..26);

        let frame = RowsFrame::of(&rows(
            WindowFrameBound::Following(n(1)),
            WindowFrameBound::Following(n(3)),
        ))
        .expect("a rows frame");
        assert_eq!(frame.lookahead(), 3);
        assert_eq!(frame.range(8, 10), 9..10);
        assert_eq!(frame.range(9, 10), 10..10);

        let frame = RowsFrame::of(&rows(
            WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
            WindowFrameBound::Preceding(n(2)),
        ))
        .expect("a rows frame");
        assert_eq!(frame.start, Start::Unbounded);
        assert_eq!(frame.range(1, 10), 0..0);
        assert_eq!(frame.range(2, 10), 0..1);
    }

    #[test]
    fn other_frames_are_refused() {
        let n = |v: u64| ScalarValue::UInt64(Some(v));
        assert!(
            RowsFrame::of(&rows(
                WindowFrameBound::Preceding(n(1)),
                WindowFrameBound::Following(ScalarValue::UInt64(None)),
            ))
            .is_none()
        );
        let range = WindowFrame::new_bounds(
            WindowFrameUnits::Range,
            WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
            WindowFrameBound::CurrentRow,
        );
        assert!(RowsFrame::of(&range).is_none());
    }
}
