//! The case folder of a whole run: cleared of what earlier runs wrote before any stage writes
//! ([`clear_previous`]), and the files this run wrote listed for the manifest
//! ([`written_files`]).

use crate::error::{Error, Result};
use crate::{manifest, output};
use std::path::Path;

/// Clears the case folder for this run, before any stage writes, and starts the run's record
/// ([`output::RUN_RECORD`]).
///
/// The files the tool wrote before are the outputs listed by `manifest.json`, by
/// `manifest.prev.json` (a run killed after moving the manifest aside, or while removing what
/// it lists, leaves only that one) and by the record of a run that did not finish. They are
/// removed, so the folder holds this run's files only: a stage now skipped, or a customer no
/// longer affected, leaves nothing stale behind, however often a run was killed. Journals
/// ([`manifest::is_journal`]) are never removed: they are the record of what was sent.
///
/// Anything else is refused before anything is touched, naming it: a file the tool did not
/// write (it would otherwise be listed in the new manifest as this run's), a symbolic link or a
/// special file anywhere in the folder (a link would make the stages write, or the clean-up
/// remove, outside the folder). The notify records ([`manifest::is_record`]) are kept as they
/// are and not listed.
///
/// Order, so a kill at any point leaves enough for the next run: the new record naming every
/// file to remove is written first, then manifest.json becomes manifest.prev.json, then the
/// files go.
pub fn clear_previous(out: &Path) -> Result<output::RunRecord> {
    let mut owned_files = std::collections::BTreeSet::new();
    let mut owned_dirs = Vec::new();
    for name in [manifest::FILE, manifest::PREV_FILE] {
        if manifest::metadata_below(out, name).is_ok_and(|m| m.is_file()) {
            // An unreadable manifest lists nothing: its files are then refused, not guessed.
            if let Ok(m) = manifest::read_named(out, name) {
                owned_files.extend(m.outputs.into_iter().map(|e| e.path));
            }
        }
    }
    for p in output::read_run_record(out)?.unwrap_or_default() {
        match p.strip_suffix('/') {
            Some(dir) => owned_dirs.push(format!("{dir}/")),
            None => {
                owned_files.insert(p);
            }
        }
    }
    let owned = |rel: &str| {
        owned_files.contains(rel)
            || owned_dirs.iter().any(|d| {
                rel.strip_prefix(d.as_str())
                    .is_some_and(|name| !name.contains('/'))
            })
    };
    let staging = |top: &str| top.starts_with(".notices") && top.ends_with(".tmp");
    let mut foreign = Vec::new();
    let mut remove = Vec::new();
    let mut staging_dirs = Vec::new();
    for (rel, node) in manifest::walk(out)? {
        let top = rel.split('/').next().unwrap_or_default();
        if staging(top) && node == manifest::Node::Dir && rel == top {
            // A rendering killed before its notices moved into place.
            staging_dirs.push(rel);
            continue;
        }
        if staging(top) && rel != top {
            continue; // removed with its folder (links inside are removed, not followed)
        }
        match node {
            manifest::Node::Dir => {}
            manifest::Node::Link => foreign.push(format!("{rel} (a symbolic link)")),
            manifest::Node::Special => foreign.push(format!("{rel} (a special file)")),
            manifest::Node::File => {
                if [manifest::FILE, manifest::PREV_FILE, output::RUN_RECORD].contains(&rel.as_str())
                {
                    continue;
                }
                if owned(&rel) && !manifest::is_journal(&rel) {
                    remove.push(rel);
                } else if !owned(&rel) && !manifest::is_record(&rel) {
                    foreign.push(rel);
                }
            }
        }
    }
    if !foreign.is_empty() {
        let n = foreign.len();
        let shown: Vec<String> = foreign.into_iter().take(10).collect();
        let more = if n > shown.len() {
            format!(" and {} more", n - shown.len())
        } else {
            String::new()
        };
        return Err(Error::usage(format!(
            "{}: holds {n} entr{} skimtrace did not write: {}{more}; skimtrace neither follows, removes nor lists what it did not write: move them out of the case folder (or pick another --out) and run again",
            out.display(),
            if n == 1 { "y" } else { "ies" },
            shown.join(", ")
        )));
    }
    let record = output::RunRecord::begin(out, &remove)?;
    let cur = out.join(manifest::FILE);
    if manifest::metadata_below(out, manifest::FILE).is_ok() {
        let prev = out.join(manifest::PREV_FILE);
        std::fs::rename(&cur, &prev).map_err(|e| Error::io(&prev, e))?;
    }
    let mut parents = std::collections::BTreeSet::new();
    for rel in &remove {
        let path = out.join(rel);
        if manifest::metadata_below(out, rel).is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
        if let Some((dir, _)) = rel.rsplit_once('/') {
            parents.insert(dir.to_string());
        }
    }
    for dir in staging_dirs {
        let path = out.join(&dir);
        std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
    }
    // Folders the removed files leave empty go too (deepest first), as an uninterrupted run
    // into an empty folder would not have them. A folder still holding anything stays.
    for dir in parents.iter().rev() {
        if manifest::metadata_below(out, dir).is_ok_and(|m| m.is_dir()) {
            let _ = std::fs::remove_dir(out.join(dir));
        }
    }
    Ok(record)
}

/// The files this run wrote, as the manifest lists them: what the run record holds (every file
/// of a folder recorded whole), as long as it is still a regular file, plus manifest.prev.json.
/// Files that appeared in the folder any other way are not this run's and are not listed.
pub fn written_files(out: &Path, record: &output::RunRecord) -> Result<Vec<String>> {
    let mut files = std::collections::BTreeSet::new();
    let is_file = |rel: &str| manifest::metadata_below(out, rel).is_ok_and(|m| m.is_file());
    for w in record.written() {
        if let Some(dir) = w.strip_suffix('/') {
            if manifest::metadata_below(out, dir).is_ok_and(|m| m.is_dir()) {
                for (rel, node) in manifest::walk(&out.join(dir))? {
                    if node == manifest::Node::File && !rel.contains('/') {
                        files.insert(format!("{dir}/{rel}"));
                    }
                }
            }
        } else if w != manifest::FILE && is_file(&w) {
            files.insert(w);
        }
    }
    if is_file(manifest::PREV_FILE) {
        files.insert(manifest::PREV_FILE.to_string());
    }
    Ok(files.into_iter().collect())
}
