//! `seq`, the column that keeps source order, unique across every run into one directory.
//!
//! `seq` is a non-negative `BIGINT` (63 bits) made of three fields, high to low:
//!
//! ```text
//!  62          50 49                32 31                               0
//! +--------------+--------------------+----------------------------------+
//! | run (13 bits)| file (18 bits)     | line (32 bits)                   |
//! +--------------+--------------------+----------------------------------+
//! ```
//!
//! * `run`: the run's number in the output directory, from the manifest's `next_run` (the
//!   first run into a directory is 0): 8,192 runs.
//! * `file`: the source's position in the sorted list of the run's sources: 262,144 files.
//! * `line`: the record's 1-based line in its file: 4,294,967,295 lines.
//!
//! Within a file `seq` grows with the line, so `ohlc(ts, price, seq)` breaks ties of equal `ts`
//! the way the file did; a later run's rows come after an earlier run's. A value that does not
//! fit its field is an error naming it, never a wrap into the next field.

use crate::error::{Error, Result};

/// Bits of the line field.
pub const LINE_BITS: u32 = 32;
/// Bits of the file field.
pub const FILE_BITS: u32 = 18;
/// Bits of the run field.
pub const RUN_BITS: u32 = 13;

/// The largest line number.
pub const MAX_LINE: u64 = (1 << LINE_BITS) - 1;
/// The number of files one run may have.
pub const MAX_FILES: u64 = 1 << FILE_BITS;
/// The number of runs one directory may have.
pub const MAX_RUNS: u64 = 1 << RUN_BITS;

/// The `seq` of one source file of one run: `seq_of(line)` gives each row's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqBase {
    run: u64,
    file: u64,
}

impl SeqBase {
    /// The numbering of file `file` of run `run`; an error when either does not fit its field.
    pub fn new(run: u64, file: u64) -> Result<Self> {
        if run >= MAX_RUNS {
            return Err(Error::invalid(format!(
                "run number {run} does not fit seq's {RUN_BITS}-bit run field (at most {MAX_RUNS} runs into one directory): ingest into a new directory"
            )));
        }
        if file >= MAX_FILES {
            return Err(Error::invalid(format!(
                "source file number {file} does not fit seq's {FILE_BITS}-bit file field (at most {MAX_FILES} source files per run): ingest the sources in several runs"
            )));
        }
        Ok(Self { run, file })
    }

    /// The `seq` of line `line` (1-based) of the file `display`.
    pub fn seq_of(&self, line: u64, display: &str) -> Result<i64> {
        if line > MAX_LINE {
            return Err(Error::invalid(format!(
                "{display}:{line}: the file has more than {MAX_LINE} lines, which seq's {LINE_BITS}-bit line field cannot number: split the file"
            )));
        }
        let seq = (self.run << (FILE_BITS + LINE_BITS)) | (self.file << LINE_BITS) | line;
        i64::try_from(seq).map_err(|_| Error::internal(format!("seq {seq} exceeds BIGINT")))
    }

    /// The run and file a `seq` was made of, and its line.
    pub fn decode(seq: i64) -> (u64, u64, u64) {
        let s = seq as u64;
        (
            s >> (FILE_BITS + LINE_BITS),
            (s >> LINE_BITS) & (MAX_FILES - 1),
            s & MAX_LINE,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap_and_overflow_is_an_error() {
        assert_eq!(RUN_BITS + FILE_BITS + LINE_BITS, 63);
        let base = SeqBase::new(MAX_RUNS - 1, MAX_FILES - 1).expect("fits");
        let top = base.seq_of(MAX_LINE, "f").expect("fits");
        assert_eq!(top, i64::MAX);
        assert_eq!(
            SeqBase::decode(top),
            (MAX_RUNS - 1, MAX_FILES - 1, MAX_LINE)
        );
        let s = SeqBase::new(5, 7)
            .expect("fits")
            .seq_of(9, "f")
            .expect("fits");
        assert_eq!(SeqBase::decode(s), (5, 7, 9));
        // Later runs sort after earlier ones, whatever their files and lines.
        let a = SeqBase::new(1, MAX_FILES - 1).expect("fits");
        let b = SeqBase::new(2, 0).expect("fits");
        assert!(a.seq_of(MAX_LINE, "f").expect("fits") < b.seq_of(1, "f").expect("fits"));
        let e = SeqBase::new(MAX_RUNS, 0).expect_err("run overflows");
        assert!(e.to_string().contains("run field"), "{e}");
        let e = SeqBase::new(0, MAX_FILES).expect_err("file overflows");
        assert!(e.to_string().contains("several runs"), "{e}");
        let e = SeqBase::new(0, 0)
            .expect("fits")
            .seq_of(MAX_LINE + 1, "x.csv")
            .expect_err("line overflows");
        assert!(e.to_string().starts_with("x.csv:4294967296:"), "{e}");
    }
}
