//! Splitting a source file into CSV records, each with its byte span and line, resynchronising
//! after a malformed record.
//!
//! A field that starts with `"` is quoted (`""` is a quote inside it) and may hold delimiters and
//! newlines; its closing quote must be followed by the delimiter, the line end or the end of the
//! file. A quote that never closes that way (an unbalanced quote) makes the record malformed: the
//! record is the rest of its first line, and the next record starts on the next line, so a bad
//! quote costs only its own line. Blank lines are skipped; a UTF-8 byte order mark is ignored.

/// One record: its fields, where it is in the file, and whether it is malformed.
#[derive(Debug, Default)]
pub(crate) struct Record {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Byte span in the file, without the line terminator; a quoted newline is inside it.
    pub start: usize,
    pub end: usize,
    /// 1-based line of the record's first byte.
    pub line: u64,
    /// (0-based column, reason) of a record that is not valid CSV; it has no fields.
    pub malformed: Option<(usize, String)>,
}

impl Record {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.buf[start..end])
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        self.malformed = None;
    }
}

/// The records of a file, in order.
pub(crate) struct Records<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
    delimiter: u8,
}

impl<'a> Records<'a> {
    pub fn new(data: &'a [u8], delimiter: u8) -> Self {
        let pos = if data.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        Self {
            data,
            pos,
            line: 1,
            delimiter,
        }
    }

    /// Reads the next record into `rec`; `false` at the end of the file.
    pub fn next_into(&mut self, rec: &mut Record) -> bool {
        let data = self.data;
        let len = data.len();
        loop {
            match data.get(self.pos) {
                None => return false,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                }
                Some(b'\r') if data.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                }
                Some(_) => break,
            }
        }
        rec.clear();
        rec.start = self.pos;
        rec.line = self.line;
        let mut p = self.pos;
        let mut newlines = 0u64;
        loop {
            if data.get(p) == Some(&b'"') {
                let column = rec.ends.len();
                p += 1;
                loop {
                    let Some(q) = data[p..].iter().position(|&c| c == b'"').map(|i| p + i) else {
                        self.malformed(
                            rec,
                            column,
                            "unbalanced quote: the quoted field never closes",
                        );
                        return true;
                    };
                    newlines += data[p..q].iter().filter(|&&c| c == b'\n').count() as u64;
                    rec.buf.extend_from_slice(&data[p..q]);
                    if data.get(q + 1) == Some(&b'"') {
                        rec.buf.push(b'"');
                        p = q + 2;
                    } else {
                        p = q + 1;
                        break;
                    }
                }
                let ok = match data.get(p) {
                    None | Some(b'\n') => true,
                    Some(b'\r') => matches!(data.get(p + 1), None | Some(b'\n')),
                    Some(&c) => c == self.delimiter,
                };
                if !ok {
                    self.malformed(
                        rec,
                        column,
                        "unbalanced quote: a quoted field is followed by more text before the delimiter",
                    );
                    return true;
                }
            } else {
                let s = p;
                while p < len && data[p] != self.delimiter && data[p] != b'\n' {
                    p += 1;
                }
                let mut e = p;
                if e > s && data[e - 1] == b'\r' && (p == len || data[p] == b'\n') {
                    e -= 1;
                }
                rec.buf.extend_from_slice(&data[s..e]);
            }
            rec.ends.push(rec.buf.len());
            if p < len && data[p] == self.delimiter {
                p += 1;
                continue;
            }
            break;
        }
        // `p` is at the line end (after an optional `\r`) or the end of the file.
        let mut end = p;
        if end > rec.start && end <= len && data.get(end) != Some(&b'\r') && data[end - 1] == b'\r'
        {
            end -= 1;
        }
        rec.end = end.min(len);
        let mut next = p;
        if data.get(next) == Some(&b'\r') {
            next += 1;
        }
        if data.get(next) == Some(&b'\n') {
            next += 1;
            newlines += 1;
        }
        self.pos = next.min(len);
        self.line += newlines;
        true
    }

    /// `rec` is malformed: it is the rest of its first line; continue on the next line.
    fn malformed(&mut self, rec: &mut Record, column: usize, reason: &str) {
        let data = self.data;
        let nl = data[rec.start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(data.len(), |i| rec.start + i);
        let mut end = nl;
        if end > rec.start && data[end - 1] == b'\r' {
            end -= 1;
        }
        rec.buf.clear();
        rec.ends.clear();
        rec.end = end;
        rec.malformed = Some((column, reason.to_string()));
        self.pos = (nl + 1).min(data.len());
        self.line += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(u64, String, Vec<String>, bool)> {
        let mut r = Records::new(text.as_bytes(), b',');
        let mut rec = Record::default();
        let mut out = Vec::new();
        while r.next_into(&mut rec) {
            out.push((
                rec.line,
                text[rec.start..rec.end].to_string(),
                rec.iter()
                    .map(|f| String::from_utf8_lossy(f).to_string())
                    .collect(),
                rec.malformed.is_some(),
            ));
        }
        out
    }

    #[test]
    fn quotes_newlines_and_resync() {
        let got = all("a,\"b\nc\",d\r\n\r\n\"x\"\"y\",\ne,\"open,1\nf,2\n\"q\"z,3\ng,4");
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1, "a,\"b\nc\",d");
        assert_eq!(got[0].2, vec!["a", "b\nc", "d"]);
        assert_eq!(
            (got[1].0, got[1].2.clone()),
            (4, vec!["x\"y".into(), String::new()])
        );
        // Unbalanced: its own line only.
        assert_eq!(
            (got[2].0, got[2].1.as_str(), got[2].3),
            (5, "e,\"open,1", true)
        );
        assert_eq!(
            (got[3].0, got[3].2.clone()),
            (6, vec!["f".into(), "2".into()])
        );
        assert_eq!((got[4].0, got[4].3), (7, true));
        assert_eq!(
            (got[5].0, got[5].2.clone()),
            (8, vec!["g".into(), "4".into()])
        );
    }
}
