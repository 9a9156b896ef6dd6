//! The case report: `report.html` (one self-contained page with inline SVG charts) and
//! `report.md` (the same figures as Markdown), written into the case folder.
//!
//! The stages, in the order data moves through them:
//! - [`data`] reads the case folder's figures (summary.json, orders.csv, evidence.jsonl, the
//!   notices' index and journal);
//! - [`build`] lays them out as sections of a [`doc::Doc`];
//! - [`svg`] draws the charts;
//! - [`html`] and [`md`] write the same document twice;
//! - [`deadlines`] dates the regulators' reports and says where each stands today;
//! - [`lang`] holds the two languages (`en`, `ja`) the report is written in.
//!
//! Besides report.html and report.md, `ppc-report.md` holds the PPC report alone, in Japanese,
//! ready to paste into the PPC's form.
//!
//! Output is deterministic: no random ids, sorted keys, and "today" (for the deadlines) is the
//! run's clock, which SOURCE_DATE_EPOCH pins; the same case folder and epoch give the same bytes.

pub mod build;
pub mod data;
pub mod deadlines;
pub mod doc;
pub mod html;
pub mod lang;
pub mod md;
pub mod svg;

use crate::config::Config;
use crate::error::Result;
use jiff::civil::Date;
use lang::Lang;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const HTML_FILE: &str = "report.html";
pub const MD_FILE: &str = "report.md";
/// The PPC report alone, in Japanese, for pasting into the PPC's form.
pub const PPC_FILE: &str = "ppc-report.md";

/// `[report]` in incident.toml.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// `ja` or `en`; default `[incident] default_locale`, else `en`.
    #[serde(default)]
    pub language: Option<String>,
    /// Notification thresholds per jurisdiction, shown against the case's counts.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
}

/// One jurisdiction's threshold: the customers placed in `country` (and, when given, one of
/// the regions) are compared with `min`. The tool only counts; the note says what the number
/// means, in the words of whoever wrote the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// A name for the row (`US-CA`, `JP`).
    pub jurisdiction: String,
    /// ISO 3166-1 alpha-2, as the orders write it (compared without case).
    pub country: String,
    /// A region (state, prefecture) as the orders write it.
    #[serde(default)]
    pub region: Option<String>,
    /// More spellings of the region (`["岡山県", "JP-33"]`): exports differ.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Reached when the count is at least this (`> 500` is `min = 501`).
    pub min: u64,
    #[serde(default)]
    pub note: Option<String>,
    /// Days the jurisdiction gives to notify once the threshold is reached (`30`): adds a row
    /// to the deadlines table.
    #[serde(default)]
    pub deadline_days: Option<u32>,
    /// What `deadline_days` counts from: `discovered` (the default) or a date (`2022-06-28`, the
    /// day an investigation confirmed the breach, where the law counts from that).
    #[serde(default)]
    pub from: Option<String>,
    /// When that notification was made (a date), once it was.
    #[serde(default)]
    pub reported: Option<String>,
}

/// What the report takes from the config besides the case folder.
#[derive(Debug, Default, Clone)]
pub struct Context {
    pub company: Option<String>,
    pub shop: Option<String>,
    pub discovered: Option<String>,
    pub exposed: Vec<String>,
    /// `[contact]` as (key, value), in a fixed order.
    pub contact: Vec<(String, String)>,
    pub report: ReportConfig,
    /// The language of report.html and report.md.
    pub lang: Lang,
    /// `discovered`, `reported_preliminary` and `reported_final` as dates.
    pub discovered_date: Option<Date>,
    pub preliminary_done: Option<Date>,
    pub final_done: Option<Date>,
    /// "Today" in the case's time zone, for the deadlines' status.
    pub today: Option<Date>,
}

/// A date setting, or a config error that names the key and shows the form.
fn date_setting(cfg: &Config, key: &str, value: Option<&str>) -> Result<Option<Date>> {
    let Some(v) = value else {
        return Ok(None);
    };
    // A datetime is accepted: its date part is the day (the PPC counts days).
    v.get(..10)
        .unwrap_or(v)
        .parse::<Date>()
        .map(Some)
        .map_err(|_| {
            let name = key.rsplit('.').next().unwrap_or(key);
            cfg.error(format!(
                "{key} = {v:?}: not a date; expected YYYY-MM-DD, e.g. {name} = \"2021-12-07\""
            ))
        })
}

impl Context {
    /// Reads the parts of the config the report uses; without a config, an empty context.
    /// `today` is the run's clock in the case's time zone.
    pub fn from_config(cfg: Option<&Config>, clock: &crate::manifest::Clock) -> Result<Context> {
        let Some(cfg) = cfg else {
            return Ok(Context {
                today: Some(clock.at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()),
                ..Context::default()
            });
        };
        let report: ReportConfig = cfg.report();
        let c = cfg.contact();
        let contact = [
            ("name", c.name),
            ("phone", c.phone),
            ("hours", c.hours),
            ("email", c.email),
            ("url", c.url),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect();
        let lang = match &report.language {
            Some(l) => Lang::parse(l).ok_or_else(|| {
                cfg.error(format!(
                    "[report] language = {l:?}: expected \"ja\" or \"en\", e.g. language = \"ja\""
                ))
            })?,
            None => cfg
                .incident
                .default_locale
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or_default(),
        };
        let tz = match cfg.incident.timezone.as_deref() {
            Some(z) => crate::window::zone(z)?,
            None => jiff::tz::TimeZone::UTC,
        };
        for (i, t) in report.thresholds.iter().enumerate() {
            let key = format!("[report] thresholds[{i}] ({})", t.jurisdiction);
            if let Some(f) = t.from.as_deref().filter(|f| *f != "discovered") {
                date_setting(cfg, &format!("{key} from"), Some(f)).map_err(|_| {
                    cfg.error(format!("{key}: from = {f:?}: expected \"discovered\" or a date YYYY-MM-DD, e.g. from = \"2022-06-28\""))
                })?;
            }
            date_setting(cfg, &format!("{key} reported"), t.reported.as_deref())?;
        }
        Ok(Context {
            company: cfg.incident.company.clone(),
            shop: cfg.incident.shop.clone(),
            discovered: cfg.incident.discovered.clone(),
            exposed: cfg.incident.exposed.clone(),
            contact,
            lang,
            discovered_date: date_setting(
                cfg,
                "incident.discovered",
                cfg.incident.discovered.as_deref(),
            )?,
            preliminary_done: date_setting(
                cfg,
                "incident.reported_preliminary",
                cfg.incident.reported_preliminary.as_deref(),
            )?,
            final_done: date_setting(
                cfg,
                "incident.reported_final",
                cfg.incident.reported_final.as_deref(),
            )?,
            today: Some(clock.at.to_zoned_datetime(tz).date()),
            report,
        })
    }

    /// The deadlines table; `reached` says whether the case reaches a threshold.
    pub fn deadlines(&self, reached: impl Fn(&Threshold) -> bool) -> Vec<deadlines::Deadline> {
        let Some(today) = self.today else {
            return Vec::new();
        };
        let extras: Vec<deadlines::Extra> = self
            .report
            .thresholds
            .iter()
            .filter_map(|t| {
                let days = i64::from(t.deadline_days?);
                let from = match t.from.as_deref() {
                    None | Some("discovered") => self.discovered_date?,
                    Some(d) => d.get(..10).unwrap_or(d).parse().ok()?,
                };
                Some(deadlines::Extra {
                    id: t.jurisdiction.clone(),
                    note: t.note.clone(),
                    from,
                    days,
                    done: t
                        .reported
                        .as_deref()
                        .and_then(|d| d.get(..10).unwrap_or(d).parse().ok()),
                    reached: reached(t),
                })
            })
            .collect();
        deadlines::compute(
            self.discovered_date,
            self.preliminary_done,
            self.final_done,
            &extras,
            today,
        )
    }
}

/// What [`write()`] produced.
pub struct Written {
    pub html: PathBuf,
    pub md: PathBuf,
    pub ppc: PathBuf,
    /// Figures that disagree with each other (a case folder changed after the run).
    pub warnings: Vec<String>,
    /// The deadlines table, as summary.json now holds it.
    pub deadlines: Vec<deadlines::Deadline>,
}

/// Reads the case folder `dir`, adds the deadlines to its summary.json, and writes report.html,
/// report.md and ppc-report.md into it.
pub fn write(dir: &Path, ctx: &Context) -> Result<Written> {
    let mut data = data::CaseData::load(dir)?;
    let deadlines = ctx.deadlines(|t| {
        let (n, _) = build::jurisdiction_count(&data, t);
        n >= t.min
    });
    if let Some(today) = ctx.today {
        let table = deadlines::to_json(&deadlines, today);
        crate::summary::merge_write_typed(
            dir,
            &crate::summary::Summary {
                deadlines: Some(table.clone()),
                ..Default::default()
            },
        )?;
        data.set_deadlines(table);
    }
    let (doc, warnings) = build::build(&data, ctx, &deadlines);
    let ppc = build::ppc_report(&data, ctx, &deadlines);
    let html_path = dir.join(HTML_FILE);
    let md_path = dir.join(MD_FILE);
    let ppc_path = dir.join(PPC_FILE);
    crate::output::write_file(&html_path, html::render(&doc).as_bytes())?;
    crate::output::write_file(&md_path, md::render(&doc).as_bytes())?;
    crate::output::write_file(&ppc_path, md::render(&ppc).as_bytes())?;
    Ok(Written {
        html: html_path,
        md: md_path,
        ppc: ppc_path,
        warnings,
        deadlines,
    })
}

/// The deadlines as the command line prints them, one line each (English, like the rest of the
/// terminal output).
pub fn deadline_lines(rows: &[deadlines::Deadline]) -> Vec<String> {
    rows.iter()
        .map(|d| {
            format!(
                "deadline {}: due {} ({} days from {}): {}",
                d.label_en,
                d.due,
                d.days,
                d.from,
                d.status.text(Lang::En, d.done)
            )
        })
        .collect()
}
