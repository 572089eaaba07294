//! Where statements end in REPL input: at a `;` outside quotes and comments.
//!
//! The REPL's line editor asks [`is_complete`] whether Enter ends the input, and the REPL cuts
//! complete input into statements with [`split`], so one bad statement on a line does not stop
//! the others. Quotes: `'...'` (with `''` inside), `"..."` (with `""`); comments: `-- ...` to the
//! end of the line and `/* ... */` (nested, as DataFusion's parser reads them).

/// Complete input cut into statements (their text, without the `;`), and the text after the last
/// `;` (only whitespace and comments when the input is complete).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split<'a> {
    /// Statements with something other than whitespace and comments in them.
    pub statements: Vec<&'a str>,
    /// The text after the last statement's `;`.
    pub rest: &'a str,
    /// Whether `rest` holds anything besides whitespace and comments.
    pub rest_is_significant: bool,
    /// Whether the input ends inside a quote or a block comment.
    pub open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    Single,
    Double,
    LineComment,
    Block(usize),
}

/// Cuts `input` at every `;` outside quotes and comments.
pub fn split(input: &str) -> Split<'_> {
    let bytes = input.as_bytes();
    let mut out = Split::default();
    let mut state = State::Normal;
    let mut start = 0;
    let mut significant = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        match state {
            State::Normal => match c {
                b';' => {
                    if significant {
                        out.statements.push(&input[start..i]);
                    }
                    start = i + 1;
                    significant = false;
                }
                b'\'' => {
                    state = State::Single;
                    significant = true;
                }
                b'"' => {
                    state = State::Double;
                    significant = true;
                }
                b'-' if next == Some(b'-') => {
                    state = State::LineComment;
                    i += 1;
                }
                b'/' if next == Some(b'*') => {
                    state = State::Block(1);
                    i += 1;
                }
                c if c.is_ascii_whitespace() => {}
                _ => significant = true,
            },
            State::Single | State::Double => {
                let quote = if state == State::Single { b'\'' } else { b'"' };
                if c == quote {
                    if next == Some(quote) {
                        i += 1; // a doubled quote stands for itself
                    } else {
                        state = State::Normal;
                    }
                }
            }
            State::LineComment => {
                if c == b'\n' {
                    state = State::Normal;
                }
            }
            State::Block(depth) => {
                if c == b'*' && next == Some(b'/') {
                    state = if depth == 1 {
                        State::Normal
                    } else {
                        State::Block(depth - 1)
                    };
                    i += 1;
                } else if c == b'/' && next == Some(b'*') {
                    state = State::Block(depth + 1);
                    i += 1;
                }
            }
        }
        i += 1;
    }
    out.rest = &input[start.min(input.len())..];
    out.rest_is_significant = significant;
    out.open = matches!(state, State::Single | State::Double | State::Block(_));
    out
}

/// Whether Enter ends the input: it is empty, a backslash command, or ends with a `;` outside
/// quotes and comments (whitespace and comments may follow it).
pub fn is_complete(input: &str) -> bool {
    let trimmed = input.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('\\') {
        return true;
    }
    let split = split(input);
    !split.open && !split.rest_is_significant && !split.statements.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_at_semicolon() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1;  \n"));
        assert!(is_complete("SELECT 1\n+ 1 AS two;"));
        assert!(is_complete("SELECT 1; SELECT 2;"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT 1\n+ 1 AS two"));
        assert!(!is_complete("SELECT 1; SELECT 2"));
    }

    #[test]
    fn empty_and_backslash_commands_are_complete() {
        assert!(is_complete(""));
        assert!(is_complete("   \n"));
        assert!(is_complete("\\d"));
        assert!(is_complete("  \\df vwap"));
        assert!(is_complete("\\q"));
    }

    #[test]
    fn semicolons_inside_quotes_do_not_end() {
        assert!(!is_complete("SELECT 'a;"));
        assert!(!is_complete("SELECT 'a;b"));
        assert!(is_complete("SELECT 'a;b';"));
        assert!(!is_complete("SELECT 'it''s;"));
        assert!(is_complete("SELECT 'it''s;';"));
        assert!(!is_complete("SELECT \"a;b"));
        assert!(is_complete("SELECT 1 AS \"a;b\";"));
        assert!(is_complete("SELECT 1 AS \"say \"\"hi;\"\"\";"));
        // a quote of the other kind inside a string does not close it
        assert!(!is_complete("SELECT 'a\";"));
        assert!(is_complete("SELECT 'a\"';"));
    }

    #[test]
    fn comments() {
        assert!(!is_complete("SELECT 1 -- the end;"));
        assert!(is_complete("SELECT 1; -- the end"));
        assert!(is_complete("SELECT 1; /* the end */"));
        assert!(!is_complete("SELECT 1 /* ; */"));
        assert!(!is_complete("SELECT 1; /* not closed"));
        assert!(!is_complete(
            "SELECT 1 /* a /* nested ; */ still comment ; */"
        ));
        assert!(is_complete("SELECT 1 /* a /* nested */ */;"));
        assert!(is_complete("-- a comment line\nSELECT 1;"));
        assert!(!is_complete("-- only a comment"));
        // `--` inside a string is not a comment
        assert!(is_complete("SELECT '--';"));
        // a `-` or `/` alone is not a comment
        assert!(is_complete("SELECT 2 - 1 / 1;"));
    }

    #[test]
    fn split_into_statements() {
        let s = split("SELECT 1; SELECT ';' AS x;\n-- done\n");
        assert_eq!(s.statements, vec!["SELECT 1", " SELECT ';' AS x"]);
        assert!(!s.rest_is_significant);
        assert!(!s.open);

        let s = split("SELECT 1;; ; SELECT 2");
        assert_eq!(s.statements, vec!["SELECT 1"]);
        assert_eq!(s.rest, " SELECT 2");
        assert!(s.rest_is_significant);

        // comment-only pieces are not statements
        let s = split("/* x */; -- y\n;");
        assert!(s.statements.is_empty());
    }

    #[test]
    fn multibyte_text() {
        assert!(is_complete("SELECT 'é;ü' AS \"ñ\";"));
        assert_eq!(split("SELECT 'é';").statements, vec!["SELECT 'é'"]);
    }
}
