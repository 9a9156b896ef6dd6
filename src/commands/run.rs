//! `skimtrace run`: the whole case into one case folder.
//!
//! Stages, in order: load and check the config → decide the case folder once (empty, or
//! `--force`: what earlier runs wrote is removed, anything else refused, the previous manifest
//! moves to manifest.prev.json; see [`clear_previous`]) → evidence (when `[logs]` is
//! configured) → affected → notify (render only) → report → manifest → one summary on stderr.
//!
//! Each stage is the command of the same name, called with the case folder already decided
//! (so `--force` is passed on: the later stages must write into the folder the earlier ones
//! filled). A stage that fails stops the run and says which; the folder then has no manifest,
//! which `verify` reports.

use super::common::{self, Ui};
use super::{affected, evidence, notify};
use crate::cli::{AffectedArgs, EvidenceArgs, NotifyArgs, RunArgs};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::manifest::{self, Clock, Manifest, Stage};
use crate::output;
use crate::report::data::lookup;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The headline counts copied into the manifest (summary.json keys).
const COUNTS: &[&str] = &[
    "customers_affected",
    "customers_without_contact",
    "cards_affected",
    "orders_in_window",
    "rows_read",
    "in_window",
    "out_of_window",
    "not_card",
    "rejected",
    "payments.rows_read",
    "orders_without_payment",
    "evidence.totals.lines_read",
    "evidence.totals.evidence_requests",
    "evidence.totals.evidence_requests_in_window",
];

pub fn run(args: &RunArgs, ui: &Ui) -> Result<u8> {
    let config_path = args.case.config.clone().ok_or_else(|| {
        Error::usage("run needs the case's config: pass --config incident.toml (create one with `skimtrace init DIR`)")
    })?;
    let case = common::open_case(&args.case, None)?;
    case.window()?;
    let cfg = &case.config;
    let clock = Clock::from_env()?;
    let out = case.out.clone();
    if !args.case.force && out.join(manifest::FILE).exists() {
        return Err(Error::usage(format!(
            "{}: already holds a case (manifest.json); pass --force to run again into it (the current manifest is kept as manifest.prev.json), or pick another --out",
            out.display()
        )));
    }
    // Held until the run ends, before anything in the folder is touched: a `notify --send`
    // or another run working in it stops this one at once (and the other way round).
    let _lock = crate::notify::lock::CaseLock::acquire(&out, "run")?;
    output::prepare_dir(&out, args.case.force)?;
    let record = clear_previous(&out)?;

    let mut case = args.case.clone();
    case.out = Some(out.clone());
    case.force = true;
    let mut stages: Vec<Stage> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut warnings = 0usize;
    let mut exit = 0u8;
    let timed = |t: Instant| (!clock.pinned).then(|| t.elapsed().as_millis() as u64);

    // 1. evidence
    let t = Instant::now();
    if cfg.logs.is_none() {
        stages.push(skipped("evidence", "no [logs] in the config"));
    } else {
        header(ui, 1, "evidence");
        let ev = stage("evidence", &out, || {
            evidence::run(
                &EvidenceArgs {
                    case: case.clone(),
                    ..EvidenceArgs::default()
                },
                ui,
            )
        })?;
        warnings += ev.warnings.len();
        exit = exit.max(ev.exit_code);
        stages.push(done("evidence", ev.exit_code, timed(t)));
        lines.push(format!(
            "evidence: {} matching requests",
            ev.evidence_requests
        ));
    }

    // 2. affected
    let t = Instant::now();
    let has_orders = !cfg.orders.paths.is_empty() || !cfg.orders.inputs.is_empty();
    if !has_orders {
        stages.push(skipped("affected", "no [orders] paths in the config"));
    } else {
        header(ui, 2, "affected");
        let af = stage("affected", &out, || {
            affected::run(
                &AffectedArgs {
                    case: case.clone(),
                    key_file: args.key_file.clone(),
                    ..AffectedArgs::default()
                },
                ui,
            )
        })?;
        warnings += af.warnings.len();
        stages.push(done("affected", 0, timed(t)));
    }

    // 3. notify (render only)
    let t = Instant::now();
    if cfg.notify.is_none() {
        stages.push(skipped("notify", "no [notify] in the config"));
    } else if !has_orders {
        stages.push(skipped(
            "notify",
            "no affected customers (affected was skipped)",
        ));
    } else {
        header(ui, 3, "notify (render only)");
        record.note_dir("notices")?;
        let templates = args.templates.clone().or_else(|| {
            let d = cfg.base_dir.join("templates");
            d.is_dir().then_some(d)
        });
        let code = stage("notify", &out, || {
            notify::run(
                &NotifyArgs {
                    case: case.clone(),
                    affected: Some(out.join("affected.jsonl")),
                    templates: templates.clone(),
                    // The formal notice: the case folder's renders are that campaign's.
                    campaign: "notice".to_string(),
                    ..NotifyArgs::default()
                },
                ui,
            )
        })?;
        exit = exit.max(code);
        stages.push(done("notify", code, timed(t)));
        if let Some(d) = &templates {
            lines.push(format!("notify: templates from {}", d.display()));
        }
    }

    // 4. report
    let t = Instant::now();
    header(ui, 4, "report");
    let ctx = crate::report::Context::from_config(Some(cfg), &clock)?;
    let written = stage("report", &out, || crate::report::write(&out, &ctx))?;
    for w in &written.warnings {
        ui.warn(w);
    }
    lines.extend(crate::report::deadline_lines(&written.deadlines));
    warnings += written.warnings.len();
    stages.push(done("report", 0, timed(t)));

    // 5. manifest
    header(ui, 5, "manifest");
    let summary = crate::summary::read(&out).unwrap_or_default();
    let m = Manifest {
        manifest_version: manifest::VERSION,
        tool: format!("skimtrace {}", env!("CARGO_PKG_VERSION")),
        incident_id: cfg.incident_id(),
        config: Some(config_entry(&config_path, cfg, args)?),
        inputs: manifest::inputs(&input_files(cfg, &summary))?,
        outputs: manifest::entries(&out, &written_files(&out, &record)?)?,
        counts: counts(&summary, &out),
        timing: manifest::Timing {
            generated_at: clock.at.to_string(),
            source: if clock.pinned {
                "SOURCE_DATE_EPOCH".into()
            } else {
                "clock".into()
            },
            stages,
        },
    };
    manifest::write(&out, &m)?;
    record.finish()?;

    final_summary(ui, &out, &m, &lines, warnings);
    Ok(exit)
}

fn header(ui: &Ui, n: u8, name: &str) {
    ui.say(format!("skimtrace: [{n}/5] {name}"));
}

/// Runs one stage; on failure, says which stage stopped and what the folder holds.
fn stage<T>(name: &str, out: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    f().inspect_err(|_| {
        eprintln!(
            "skimtrace: the {name} stage failed; {} holds the stages before it and no manifest: fix the problem below and run again with --force",
            out.display()
        );
    })
}

fn skipped(name: &str, why: &str) -> Stage {
    Stage {
        stage: name.into(),
        status: format!("skipped: {why}"),
        millis: None,
    }
}

fn done(name: &str, code: u8, millis: Option<u64>) -> Stage {
    Stage {
        stage: name.into(),
        status: if code == 0 {
            "done".into()
        } else {
            "done with failures (exit 1)".into()
        },
        millis,
    }
}

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
fn clear_previous(out: &Path) -> Result<output::RunRecord> {
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
fn written_files(out: &Path, record: &output::RunRecord) -> Result<Vec<String>> {
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

fn config_entry(path: &Path, cfg: &Config, args: &RunArgs) -> Result<manifest::ConfigEntry> {
    let text = cfg.raw.clone().unwrap_or_default();
    let mut overrides = std::collections::BTreeMap::new();
    if let Some(w) = &args.case.window {
        overrides.insert("incident.window".to_string(), w.clone());
    }
    if let Some(tz) = &args.case.tz {
        overrides.insert("incident.timezone".to_string(), tz.clone());
    }
    Ok(manifest::ConfigEntry {
        path: path.to_string_lossy().replace('\\', "/"),
        size: text.len() as u64,
        sha256: crate::digest::sri_of(text.as_bytes()),
        overrides,
        text,
    })
}

/// The files the stages read, as summary.json names them (relative to the config's folder).
fn input_files(cfg: &Config, summary: &Map<String, Value>) -> Vec<(PathBuf, String, &'static str)> {
    let mut out = Vec::new();
    for (key, field, role) in [
        ("files", "path", "orders"),
        ("payments.files", "path", "payments"),
        ("evidence.files", "file", "logs"),
    ] {
        for f in lookup(summary, key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(shown) = f.get(field).and_then(Value::as_str) {
                out.push((cfg.base_dir.join(shown), shown.to_string(), role));
            }
        }
    }
    out
}

fn csv_rows(path: &Path) -> Option<u64> {
    let mut r = csv::Reader::from_path(path).ok()?;
    Some(r.records().count() as u64)
}

fn counts(summary: &Map<String, Value>, out: &Path) -> Map<String, Value> {
    let mut m = Map::new();
    for k in COUNTS {
        if let Some(v) = lookup(summary, k) {
            m.insert(k.to_string(), v.clone());
        }
    }
    if let Some(n) = csv_rows(&out.join("notices").join("index.csv")) {
        m.insert("notices_rendered".into(), n.into());
    }
    if let Some(n) = csv_rows(&out.join("no_email.csv")) {
        m.insert("customers_without_email".into(), n.into());
    }
    m
}

fn final_summary(ui: &Ui, out: &Path, m: &Manifest, lines: &[String], warnings: usize) {
    let c = |k: &str| {
        m.counts
            .get(k)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into())
    };
    ui.say(String::new());
    ui.say(format!("skimtrace: case folder {}", out.display()));
    for s in &m.timing.stages {
        ui.say(format!("  {:<9} {}", s.stage, s.status));
    }
    ui.say(format!(
        "  customers affected {}, cards {}, card orders in the window {}, notices rendered {} (not sent)",
        c("customers_affected"),
        c("cards_affected"),
        c("orders_in_window"),
        c("notices_rendered")
    ));
    for l in lines {
        ui.say(format!("  {l}"));
    }
    if warnings > 0 {
        ui.say(format!(
            "  {warnings} warning(s), printed above and kept in summary.json"
        ));
    }
    ui.say(format!(
        "  read {}; check the folder later with `skimtrace verify {}`",
        out.join(crate::report::HTML_FILE).display(),
        out.display()
    ));
    ui.say(format!(
        "  manifest.json lists {} files and {} inputs",
        m.outputs.len(),
        m.inputs.len()
    ));
}
