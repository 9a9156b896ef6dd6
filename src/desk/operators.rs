//! Desk operators and their sign-in tokens.
//!
//! `skimtrace desk OUT --add-operator NAME` makes a random token, prints it once and stores only
//! its SHA-256 digest. Why a plain digest and not a slow password hash: the token is 256 random
//! bits, not something a person chose, so there is nothing to guess and a digest cannot be
//! reversed. Adding a name again replaces its token (a lost or leaked token is rotated that
//! way); `--remove-operator NAME` revokes one. The server reads the file at each sign-in and
//! each search, so a revoked operator is out at once, without a restart.
//!
//! Where the file lives: outside the case folder by default (`OUT.desk-operators.json` beside
//! it), because the case folder is a closed room whose files the manifest accounts for, and
//! an operator list is not case evidence. `--operators FILE` puts it elsewhere.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    /// `sha256-<base64>` of the token.
    pub token_sha256: String,
    pub added: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Operators {
    pub operators: Vec<Operator>,
}

/// The default operators file of a case folder: `OUT.desk-operators.json` beside it (the
/// folder's real path first, so `desk .` never puts it inside the case folder).
pub fn default_path(case: &Path) -> PathBuf {
    let case = &case.canonicalize().unwrap_or_else(|_| case.to_path_buf());
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "case".into());
    case.with_file_name(format!("{name}.desk-operators.json"))
}

fn digest(token: &str) -> String {
    use base64::Engine;
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(token.as_bytes()))
    )
}

/// A fresh random value in lower-case base32 (digits 2–7 only, so it never looks like a card
/// number to a scanner).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    crate::cards::base32_lower(&b)
}

/// Names that can appear in a journal line and on a page as they are: short, plain, and no
/// card number (a name is written as it is, to the operators file and every journal line).
pub fn check_name(name: &str) -> Result<()> {
    if crate::cards::detect::holds_card(name.as_bytes()) {
        let shown = crate::cards::detect::mask(name).0;
        return Err(Error::usage(format!(
            "--add-operator {shown:?}: an operator name may not hold a card number; use a name, e.g. sato or desk-01"
        )));
    }
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--add-operator {name:?}: use letters, digits, '-', '_' and '.' (at most 40), e.g. sato or desk-01"
        )))
    }
}

impl Operators {
    /// Reads the file; a missing file has no operators.
    pub fn load(path: &Path) -> Result<Operators> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Input {
                path: path.to_path_buf(),
                message: format!("not an operators file ({e}); add operators with `skimtrace desk OUT --add-operator NAME`"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Operators::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// The operator a token belongs to.
    pub fn check(&self, token: &str) -> Option<&str> {
        let token = token.trim();
        if token.is_empty() {
            return None;
        }
        let d = digest(token);
        // Digests of 256-bit random tokens: comparing them leaks nothing worth timing.
        self.operators
            .iter()
            .find(|o| o.token_sha256 == d)
            .map(|o| o.name.as_str())
    }

    /// Whether `name` is still an operator (a removed one is signed out at the next request).
    pub fn has(&self, name: &str) -> bool {
        self.operators.iter().any(|o| o.name == name)
    }

    /// Adds `name` (replacing its token if it exists) and returns the new token.
    pub fn add(&mut self, name: &str) -> Result<String> {
        check_name(name)?;
        let token = random_token();
        self.operators.retain(|o| o.name != name);
        self.operators.push(Operator {
            name: name.to_string(),
            token_sha256: digest(&token),
            added: crate::notify::journal::now(),
        });
        self.operators.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(token)
    }

    /// Removes `name`; `false` when there was no such operator.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.operators.len();
        self.operators.retain(|o| o.name != name);
        before != self.operators.len()
    }

    /// Writes the file owner-only, through a temporary file renamed into place.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| Error::io(path, e.into()))?;
        text.push(b'\n');
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(Error::usage(format!(
                    "{}: the folder for the operators file does not exist; create it or pass --operators FILE",
                    parent.display()
                )));
            }
        }
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = crate::output::private_file(&tmp)?;
            f.write_all(&text)
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_rotated_by_adding_again() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ops.json");
        let mut ops = Operators::default();
        let t1 = ops.add("sato").unwrap();
        ops.save(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(!text.contains(&t1), "the token itself is never stored");
        let mut ops = Operators::load(&p).unwrap();
        assert_eq!(ops.check(&t1), Some("sato"));
        assert_eq!(ops.check("nope"), None);
        let t2 = ops.add("sato").unwrap();
        assert_eq!(ops.check(&t1), None);
        assert_eq!(ops.check(&t2), Some("sato"));
        assert!(ops.remove("sato"));
        assert_eq!(ops.check(&t2), None);
        assert!(check_name("a b").is_err());
    }

    /// A card number typed as an operator's name (`--add-operator 4111…`) would be written
    /// as it is to the operators file and every journal line: it is refused, and the refusal
    /// shows it masked.
    #[test]
    fn a_card_number_is_no_operator_name() {
        let pan = ["4111", "1111", "1111", "1111"].concat();
        for name in [
            pan.clone(),
            format!("desk-{pan}"),
            ["4111", "1111", "1111", "1111"].join("."),
        ] {
            let e = check_name(&name).unwrap_err().to_string();
            assert!(!e.contains(&name) && e.contains("****"), "{e}");
            let mut ops = Operators::default();
            assert!(ops.add(&name).is_err());
        }
        assert!(check_name("desk-0123").is_ok());
    }
}
