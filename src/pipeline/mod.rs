//! `skimtrace run`: the whole case into one case folder, as a chain of the stages.
//!
//! In order: check the case → decide the case folder once (empty, or `force`: what earlier
//! runs wrote is removed, anything else refused, the previous manifest moves to
//! manifest.prev.json; see [`folder::clear_previous`]) → [`crate::evidence::run`] (when
//! `[logs]` is configured) → [`crate::affected::run`] → [`crate::notify::run`] (render only)
//! → [`crate::report::write`] → manifest → one summary.
//!
//! Each stage is called with the case folder already decided (so `force` is passed on: the
//! later stages must write into the folder the earlier ones filled). A stage that fails stops
//! the run and says which; the folder then has no manifest, which `verify` reports.

mod entries;
pub mod folder;

use crate::case::Case;
use crate::error::{Error, Result};
use crate::manifest::{self, Clock, Manifest, Stage};
use crate::progress::Progress;
use crate::{affected, evidence, notify, output};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `run` needs beyond the case.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The config file as the user named it (the manifest records it so).
    pub config_path: PathBuf,
    /// The settings the command line gave over the config (`incident.window` → value), for
    /// the manifest.
    pub overrides: BTreeMap<String, String>,
    /// Notice templates instead of the built-in ones (else `templates/` beside the config).
    pub templates: Option<PathBuf>,
    /// Run again into a folder that holds a case.
    pub force: bool,
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Output {
    pub out: PathBuf,
    /// 0, or 1 when a stage finished with failures (a log that could not be read).
    pub exit_code: u8,
}

/// Runs every stage the config names into one case folder and writes its manifest.
pub fn run(case: &Case, args: &Options, ui: &dyn Progress) -> Result<Output> {
    case.window()?;
    let cfg = &case.config;
    let clock = Clock::from_env()?;
    let out = case.out.clone();
    if !args.force && out.join(manifest::FILE).exists() {
        return Err(Error::usage(format!(
            "{}: already holds a case (manifest.json); pass --force to run again into it (the current manifest is kept as manifest.prev.json), or pick another --out",
            out.display()
        )));
    }
    // Held until the run ends, before anything in the folder is touched: a `notify --send`
    // or another run working in it stops this one at once (and the other way round).
    let _lock = crate::notify::lock::CaseLock::acquire(&out, "run")?;
    output::prepare_dir(&out, args.force)?;
    let record = folder::clear_previous(&out)?;

    let mut stages: Vec<Stage> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut warnings = 0usize;
    let mut exit = 0u8;
    // Every file a stage read, as the stages name them (orders, payments, logs).
    let mut log_inputs = Vec::new();
    let mut export_inputs = Vec::new();
    let timed = |t: Instant| (!clock.pinned).then(|| t.elapsed().as_millis() as u64);

    // 1. evidence
    let t = Instant::now();
    if cfg.logs.is_none() {
        stages.push(skipped("evidence", "no [logs] in the config"));
    } else {
        header(ui, 1, "evidence");
        let ev = stage(ui, "evidence", &out, || {
            evidence::run(
                case,
                &evidence::Options {
                    force: true,
                    ..evidence::Options::default()
                },
                ui,
            )
        })?;
        warnings += ev.warnings.len();
        exit = exit.max(ev.exit_code);
        log_inputs = ev.inputs.clone();
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
        let af = stage(ui, "affected", &out, || {
            affected::run(
                case,
                &affected::Options {
                    force: true,
                    ..affected::Options::default()
                },
                ui,
            )
        })?;
        warnings += af.warnings.len();
        export_inputs = af.inputs;
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
        let code = stage(ui, "notify", &out, || {
            notify::run(
                case,
                &notify::Options {
                    affected: out.join("affected.jsonl"),
                    templates: templates.clone(),
                    // The formal notice: the case folder's renders are that campaign's.
                    campaign: "notice".to_string(),
                    force: true,
                    ..notify::Options::default()
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
    let written = stage(ui, "report", &out, || crate::report::write(&out, &ctx))?;
    for w in &written.warnings {
        ui.warn(w);
    }
    lines.extend(crate::report::deadline_lines(&written.deadlines));
    warnings += written.warnings.len();
    stages.push(done("report", 0, timed(t)));

    // 5. manifest
    header(ui, 5, "manifest");
    let summary = crate::summary::load(&out)?;
    let m = Manifest {
        manifest_version: manifest::VERSION,
        tool: format!("skimtrace {}", env!("CARGO_PKG_VERSION")),
        incident_id: cfg.incident_id(),
        config: Some(entries::config_entry(
            &args.config_path,
            cfg,
            &args.overrides,
        )?),
        inputs: manifest::inputs(&[export_inputs, log_inputs].concat())?,
        outputs: manifest::entries(&out, &folder::written_files(&out, &record)?)?,
        counts: entries::counts(&summary, &out),
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
    Ok(Output {
        out,
        exit_code: exit,
    })
}

fn header(ui: &dyn Progress, n: u8, name: &str) {
    ui.say(&format!("skimtrace: [{n}/5] {name}"));
}

/// Runs one stage; on failure, says which stage stopped and what the folder holds.
fn stage<T>(ui: &dyn Progress, name: &str, out: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    f().inspect_err(|_| {
        ui.tell(&format!(
            "skimtrace: the {name} stage failed; {} holds the stages before it and no manifest: fix the problem below and run again with --force",
            out.display()
        ));
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

fn final_summary(ui: &dyn Progress, out: &Path, m: &Manifest, lines: &[String], warnings: usize) {
    let c = |k: &str| {
        m.counts
            .get(k)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into())
    };
    ui.say("");
    ui.say(&format!("skimtrace: case folder {}", out.display()));
    for s in &m.timing.stages {
        ui.say(&format!("  {:<9} {}", s.stage, s.status));
    }
    ui.say(&format!(
        "  customers affected {}, cards {}, card orders in the window {}, notices rendered {} (not sent)",
        c("customers_affected"),
        c("cards_affected"),
        c("orders_in_window"),
        c("notices_rendered")
    ));
    for l in lines {
        ui.say(&format!("  {l}"));
    }
    if warnings > 0 {
        ui.say(&format!(
            "  {warnings} warning(s), printed above and kept in summary.json"
        ));
    }
    ui.say(&format!(
        "  read {}; check the folder later with `skimtrace verify {}`",
        out.join(crate::report::HTML_FILE).display(),
        out.display()
    ));
    ui.say(&format!(
        "  manifest.json lists {} files and {} inputs",
        m.outputs.len(),
        m.inputs.len()
    ));
}
