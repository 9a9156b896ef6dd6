//! The `evidence` stage: web access logs in, evidence and the window check out.
//!
//! In order: the case's `[logs]` with the options over it → the format and the rules (checked
//! before any log is opened) → scan every file ([`scan`], parallel, streaming) → the hits in
//! time order → check them against the window, find log gaps ([`check`]) → write
//! evidence.jsonl, evidence.csv, timeline.csv, rejected_lines.csv, checkouts.csv and the
//! evidence keys of summary.json ([`write`]) → warnings, then one line of counts.

use super::hits;
use super::parquet::EventWriter;
use super::Error as StageError;
use super::{check, scan, write, Input, LogsConfig, ScanOptions, DEFAULT_CHECKOUT_PATHS};
use crate::access_log::open::rotation_order;
use crate::case::Case;
use crate::error::Result;
use crate::output;
use crate::progress::Progress;
use crate::rules::assemble::{active_rules, line_format, RuleOptions};
use crate::rules::Matcher;
use std::path::{Path, PathBuf};

/// What `evidence` is asked to do beyond the case: each field is a command-line option and
/// wins over the matching `[logs]` key.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Log files, globs or folders, relative to the current folder; replace `[logs] paths`.
    pub logs: Vec<String>,
    /// `auto`, `combined`, `common`, `nginx`, `vhost_combined`, `json`.
    pub format: Option<String>,
    /// A custom Apache `LogFormat` or nginx `log_format` string.
    pub log_format: Option<String>,
    pub rules: RuleOptions,
    /// Regexes that make a POST a checkout submission; replace `[logs] checkout_paths`.
    pub checkout_paths: Vec<String>,
    /// Also write every parsed request to this Parquet file.
    pub emit_events: Option<PathBuf>,
    /// Hits found elsewhere (a SIEM export) to read in with the log's own.
    pub hits: Vec<PathBuf>,
    /// Write into an output folder that is not empty.
    pub force: bool,
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Output {
    pub out: PathBuf,
    pub evidence_requests: usize,
    pub warnings: Vec<String>,
    /// 0, or 1 when a file could not be read (the others were).
    pub exit_code: u8,
    /// The logs read, for the manifest.
    pub inputs: Vec<crate::manifest::Input>,
}

/// Scans the case's access logs, checks the window against what they show and writes the
/// evidence outputs into the case folder. Per-file read failures are warnings (exit code 1),
/// not errors: the other files are still read.
pub fn run(case: &Case, args: &Options, ui: &dyn Progress) -> Result<Output> {
    let cfg = &case.config;
    let window = case.window()?.clone();
    let logs: LogsConfig = cfg.logs();
    let hits_files = hits::files(&args.hits)?;
    // What the logs' folders hold that is not read, for the warnings.
    let mut passed_over = Vec::new();
    let inputs = if hits_files.is_empty() || !args.logs.is_empty() || !logs.paths.is_empty() {
        log_inputs(&args.logs, cfg, &logs, &mut passed_over)?
    } else {
        Vec::new()
    };
    let format = line_format(
        args.format.as_deref().or(logs.format.as_deref()),
        args.log_format.as_deref().or(logs.log_format.as_deref()),
    )?;
    let set = active_rules(cfg, &logs, &args.rules)?;
    if set.rules.is_empty() {
        return Err(StageError::NoRules.into());
    }
    let (checkout_paths, checkout) = checkout_set(&args.checkout_paths, &logs)?;
    let min_level = logs
        .indicator_min_level
        .clone()
        .unwrap_or_else(|| "high".into());
    if !check::LEVELS.contains(&min_level.as_str()) {
        return Err(StageError::IndicatorLevel { level: min_level }.into());
    }
    let out = case.out.clone();
    output::prepare_dir(&out, args.force)?;

    let builtin = set
        .rules
        .iter()
        .filter(|r| r.source.starts_with("builtin:"))
        .count();
    ui.say(&format!(
        "skimtrace: {} rules active ({} built-in), {} skipped; reading {} log files",
        set.rules.len(),
        builtin,
        set.skipped.len(),
        inputs.len()
    ));
    let matcher = Matcher::new(&set.rules);
    let events = match &args.emit_events {
        Some(p) => Some(EventWriter::start(
            p,
            inputs.iter().map(|i| i.display.clone()).collect(),
        )?),
        None => None,
    };
    let opts = ScanOptions {
        matcher: &matcher,
        format: format.as_ref(),
        window: &window,
        checkout: Some(&checkout),
        events: events.as_ref().map(EventWriter::sender),
        reject_samples: logs.reject_samples.unwrap_or(100),
        progress: logs_bar(ui, &inputs),
    };
    let mut results = scan::scan_all(&inputs, &opts);
    if let Some(pb) = &opts.progress {
        pb.finish_and_clear();
    }
    drop(opts);
    let emitted = match (events, &args.emit_events) {
        (Some(w), Some(p)) => Some((w.finish()?, p)),
        _ => None,
    };

    let mut sources: Vec<String> = inputs.iter().map(|i| i.display.clone()).collect();
    // The hits move out of the files' results (kept for their counts): one copy in memory,
    // and none made at all when one file holds them.
    let mut hits: Vec<scan::Hit> = Vec::new();
    for f in results.iter_mut().filter_map(|r| r.as_mut().ok()) {
        if hits.is_empty() {
            hits = std::mem::take(&mut f.hits);
        } else {
            hits.append(&mut f.hits);
        }
    }
    let ok: Vec<(usize, &scan::FileResult)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|f| (i, f)))
        .collect();
    // Every line read is parsed or malformed: nothing is dropped silently.
    for (i, f) in &ok {
        if f.lines != f.parsed + f.malformed {
            return Err(StageError::Unreconciled {
                file: inputs[*i].display.clone(),
                lines: f.lines,
                parsed: f.parsed,
                malformed: f.malformed,
            }
            .into());
        }
    }
    let imported = hits::import(
        &hits_files,
        &logs.hits.clone().unwrap_or_default(),
        &set.rules,
        window.tz.as_ref(),
        &mut sources,
        &mut hits,
    )?;
    let origins: Vec<String> = std::iter::once("local".to_string())
        .chain(hits_files.iter().map(|f| f.display.clone()))
        .collect();
    // (file, line, origin) is unique per hit: an unstable sort gives the same order without
    // the stable sort's buffer of half the hits.
    hits.sort_unstable_by_key(|h| (h.time, h.file, h.line, h.origin));
    let spans = check::spans(&hits, set.rules.len());
    let findings = check::findings(&set.rules, &spans, &window, &min_level, &sources);
    let ok_refs: Vec<&scan::FileResult> = ok.iter().map(|(_, f)| *f).collect();
    // With `--hits` alone no log was read: which days the logs miss is unknown, not "all".
    let gaps = if inputs.is_empty() {
        Vec::new()
    } else {
        check::gaps(&ok_refs, &window)
    };
    let fields_missing = match &format {
        Some(f) => set.fields_missing(f),
        None => Vec::new(),
    };
    if !fields_missing.is_empty() {
        ui.say(&format!(
            "skimtrace: {} rules use fields the {} format does not carry (see summary.json, or `skimtrace rules check`)",
            fields_missing.len(),
            format.as_ref().map(|f| f.name.as_str()).unwrap_or("auto")
        ));
    }

    write::evidence(&out, &hits, &set.rules, &sources, &origins, &window)?;
    write::timeline(&out, &ok_refs, &hits, &set.rules, &window)?;
    write::rejects(&out, &ok, &sources, &imported)?;
    write::checkouts(&out, &ok_refs, &sources, &window)?;
    let summary = write::summary(&write::SummaryInput {
        window: &window,
        inputs: &inputs,
        results: &results,
        rules: &set.rules,
        builtin,
        skipped: &set.skipped,
        hits: &hits,
        spans: &spans,
        findings: &findings,
        gaps: &gaps,
        min_level: &min_level,
        fields_missing: &fields_missing,
        checkout_paths: &checkout_paths,
        sources: &sources,
    });
    let mut summary = summary;
    if let Some(serde_json::Value::Object(e)) = summary.evidence.as_mut() {
        e.insert(
            "imported_hits".into(),
            serde_json::to_value(&imported).unwrap_or_default(),
        );
        e.insert("requests_known".into(), (!inputs.is_empty()).into());
        // What the logs' folders or patterns showed but could not be read, kept with the
        // evidence (the key is there only when something was).
        if !passed_over.is_empty() {
            e.insert("inputs_not_read".into(), passed_over.clone().into());
        }
    }
    crate::summary::merge_write_typed(&out, &summary)?;

    // Tell the user: what was not read, per-file problems, then the window check.
    let mut warnings = passed_over;
    let mut exit_code = 0;
    for (input, r) in inputs.iter().zip(&results) {
        match r {
            Err(e) => {
                warnings.push(format!("{}: {e}", input.display));
                exit_code = 1;
            }
            Ok(f) => {
                if let Some(e) = &f.read_error {
                    warnings.push(format!(
                        "{}: reading stopped after line {}: {e}",
                        input.display, f.lines
                    ));
                    exit_code = 1;
                }
                if let Some(w) = cards_warning(&f.cards) {
                    warnings.push(format!("{}: {w}", input.display));
                }
                if f.lines > 0 && f.parsed == 0 {
                    warnings.push(format!(
                        "{}: no line parsed as {} ({} malformed); pass --format or --log-format",
                        input.display, f.format, f.malformed
                    ));
                }
            }
        }
    }
    for f in &imported {
        let total: u64 = f.card_numbers_masked.values().sum();
        if total > 0 {
            let mut by = Vec::new();
            for (col, n) in &f.card_numbers_masked {
                by.push(format!("{n} in {col}"));
            }
            warnings.push(format!(
                "{}: {total} card numbers in the hits ({}); masked in every output (summary.json evidence.imported_hits[].card_numbers_masked)",
                f.file,
                by.join(", ")
            ));
        }
    }
    for f in imported.iter().filter(|f| f.rejected > 0) {
        let first = &f.rejects[0];
        warnings.push(format!(
            "{}: {} of {} rows rejected (rejected_lines.csv), the first at line {}: {}",
            f.file, f.rejected, f.rows, first.line, first.reason
        ));
    }
    warnings.extend(findings.iter().map(|f| f.message.clone()));
    warnings.extend(gaps.iter().map(check::Gap::message));
    for w in &warnings {
        ui.warn(w);
    }
    let (lines, parsed, malformed) = ok.iter().fold((0, 0, 0), |a, (_, f)| {
        (a.0 + f.lines, a.1 + f.parsed, a.2 + f.malformed)
    });
    ui.say(&format!(
        "skimtrace: {lines} lines read, {parsed} parsed, {malformed} malformed (rejected_lines.csv); {} matching requests, {} in the window; wrote {}",
        hits.len(),
        hits.iter().filter(|h| window.contains(h.time)).count(),
        out.display()
    ));
    if let Some((stats, p)) = emitted {
        ui.say(&format!(
            "skimtrace: wrote {} events in {} row groups to {}",
            stats.rows,
            stats.row_groups,
            p.display()
        ));
    }
    Ok(Output {
        out,
        evidence_requests: hits.len(),
        warnings,
        exit_code,
        inputs: inputs
            .into_iter()
            .map(|i| crate::manifest::Input {
                path: i.path,
                shown: i.display,
                role: "logs",
            })
            .collect(),
    })
}

/// The warning for card numbers found in a log file's lines: how many in all (`raw`, whole
/// lines), and in which columns of the parsed ones.
fn cards_warning(cards: &scan::CardCounts) -> Option<String> {
    let total = cards.get("raw").copied().filter(|&n| n > 0)?;
    let by: Vec<String> = cards
        .iter()
        .filter(|(k, _)| **k != "raw")
        .map(|(k, n)| format!("{n} in {k}"))
        .collect();
    let by = if by.is_empty() {
        String::new()
    } else {
        format!(" ({})", by.join(", "))
    };
    Some(format!(
        "{total} card numbers in the log lines{by}; masked in every output (summary.json evidence.files[].card_numbers_masked)"
    ))
}

/// The checkout submissions inside the window found in the access logs (`--logs`, else
/// `[logs] paths`), for `affected --logs`, and the names of the log files read.
pub fn checkouts_in_window(
    cfg: &crate::config::Config,
    window: &crate::window::Window,
    logs_paths: &[String],
    ui: &dyn Progress,
) -> Result<(Vec<scan::Checkout>, Vec<String>)> {
    let logs: LogsConfig = cfg.logs();
    let mut passed_over = Vec::new();
    let inputs = log_inputs(logs_paths, cfg, &logs, &mut passed_over)?;
    for n in passed_over {
        tracing::warn!("{n}");
    }
    let format = line_format(logs.format.as_deref(), logs.log_format.as_deref())?;
    let set = active_rules(cfg, &logs, &RuleOptions::default())?;
    let (_, checkout) = checkout_set(&[], &logs)?;
    let matcher = Matcher::new(&set.rules);
    let opts = ScanOptions {
        matcher: &matcher,
        format: format.as_ref(),
        window,
        checkout: Some(&checkout),
        events: None,
        reject_samples: 0,
        progress: logs_bar(ui, &inputs),
    };
    let mut checkouts = Vec::new();
    for (i, r) in scan::scan_all(&inputs, &opts).into_iter().enumerate() {
        match r {
            Ok(f) => checkouts.extend(f.checkouts.iter().cloned().map(|mut c| {
                c.file = i;
                c
            })),
            Err(e) => ui.warn(&format!("{}: {e}", inputs[i].display)),
        }
    }
    if let Some(pb) = &opts.progress {
        pb.finish_and_clear();
    }
    Ok((checkouts, inputs.into_iter().map(|i| i.display).collect()))
}

/// The regexes that make a POST a checkout submission: `--checkout-path`, else `[logs]
/// checkout_paths`, else the built-in paths of EC-CUBE, Magento and WooCommerce.
fn checkout_set(
    cli: &[String],
    logs: &LogsConfig,
) -> Result<(Vec<String>, regex::bytes::RegexSet)> {
    let paths: Vec<String> = if !cli.is_empty() {
        cli.to_vec()
    } else {
        logs.checkout_paths.clone().unwrap_or_else(|| {
            DEFAULT_CHECKOUT_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
    };
    let set = regex::bytes::RegexSet::new(&paths).map_err(|e| StageError::CheckoutPaths {
        message: e.to_string(),
    })?;
    Ok((paths, set))
}

/// A progress bar over the bytes of the log files, when the user can see one.
fn logs_bar(ui: &dyn Progress, inputs: &[Input]) -> Option<indicatif::ProgressBar> {
    let total = inputs
        .iter()
        .map(|i| std::fs::metadata(&i.path).map(|m| m.len()).unwrap_or(0))
        .sum();
    ui.bytes_bar(total, "logs")
}

/// The log files: `--logs` (relative to the current folder) replaces `[logs] paths`
/// (relative to the config); rotated sets are read oldest first.
fn log_inputs(
    cli: &[String],
    cfg: &crate::config::Config,
    logs: &LogsConfig,
    notes: &mut Vec<String>,
) -> Result<Vec<Input>> {
    let mut files = if !cli.is_empty() {
        crate::input::expand_inputs_noting(cli, Path::new("."), "--logs", notes)?
    } else if !logs.paths.is_empty() {
        crate::input::expand_inputs_noting(&logs.paths, &cfg.base_dir, "[logs] paths", notes)?
    } else {
        return Err(StageError::NoLogs.into());
    };
    rotation_order(&mut files);
    Ok(files
        .into_iter()
        .map(|(path, display)| Input { path, display })
        .collect())
}
