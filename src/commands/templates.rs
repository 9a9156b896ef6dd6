//! `skimtrace templates init DIR`: writes the built-in notice templates out for editing.

use super::common::Ui;
use crate::cli::{TemplatesAction, TemplatesArgs};
use crate::error::{Error, Result};
use std::path::Path;

pub fn run(args: &TemplatesArgs, ui: &Ui) -> Result<()> {
    match &args.action {
        TemplatesAction::Init { dir, force } => {
            let n = write_builtin(dir, *force)?;
            ui.say(format!(
                "skimtrace: wrote {n} templates to {}; use them with `skimtrace notify --templates {}`",
                dir.display(),
                dir.display()
            ));
            Ok(())
        }
    }
}

/// Writes the built-in templates into `dir` (created when missing); refuses to overwrite one
/// unless `force`. Returns the number of files written. Also used by `skimtrace init`.
pub fn write_builtin(dir: &Path, force: bool) -> Result<usize> {
    let files = crate::notify::render::BUILTIN;
    if !force {
        if let Some((name, _)) = files.iter().find(|(n, _)| dir.join(n).exists()) {
            return Err(Error::usage(format!(
                "{}: already exists; pass --force to overwrite the templates in {}",
                dir.join(name).display(),
                dir.display()
            )));
        }
    }
    for (name, src) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        crate::output::write_file(&path, src.as_bytes())?;
    }
    Ok(files.len())
}
