//! An error with its sources on one line, for messages people read: transport and object store
//! errors keep their cause ("connection refused") in `source()`, not in their own text.

/// `e` and its sources on one line ("transport error: connection refused"); a source whose text
/// is already in the line is not repeated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
