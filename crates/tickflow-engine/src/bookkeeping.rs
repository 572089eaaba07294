//! Names read back from tickflow's own bookkeeping files (the ingest manifest and publication
//! journal, the watch checkpoint), checked before they are used as paths.
//!
//! Ingest removes and moves `OUT/NAME` for names its manifest and journal list; watch publishes
//! to `OUT/NAME` for names its checkpoint lists. Those files live in the output directory, where
//! anyone who can write the table can edit them: an absolute name or one with `..` would make
//! tickflow delete or overwrite files outside the table (issue 21). tickflow only ever writes
//! plain relative names there, so any other is refused, naming the file it came from.

use std::path::{Component, Path};

use crate::error::{Error, Result};

/// Checks that `name`, read from the bookkeeping file `file`, is a relative path that stays
/// inside the directory it is joined to: no root, no drive, no `..`, not empty.
pub fn relative_inside(file: &str, name: &str) -> Result<()> {
    let path = Path::new(name);
    let plain = !name.is_empty()
        && !name.starts_with(['/', '\\'])
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if plain {
        Ok(())
    } else {
        Err(refused(file, name))
    }
}

/// Checks that `name`, read from `file`, is one plain file name (no directory part).
pub fn file_name(file: &str, name: &str) -> Result<()> {
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) if !name.contains(['/', '\\']) => Ok(()),
        _ => Err(refused(file, name)),
    }
}

fn refused(file: &str, name: &str) -> Error {
    Error::invalid(format!(
        "{file}: the entry '{name}' is not a path inside the output directory (absolute, or \
         with '..'); tickflow never writes such entries, so the file was edited: refusing to \
         touch that path. Fix or remove {file}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_pass() {
        for ok in ["a.parquet", "date=2024-01-02/a.parquet", "./x/y"] {
            assert!(relative_inside("m.json", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "\\\\server\\share",
        ] {
            let err = relative_inside("m.json", bad).expect_err(bad).to_string();
            assert!(err.contains("m.json") && err.contains(bad), "{err}");
        }
        assert!(file_name("c.json", "state-3.arrow").is_ok());
        for bad in ["", "..", "a/b", "/x", "../state"] {
            assert!(file_name("c.json", bad).is_err(), "{bad}");
        }
    }
}
