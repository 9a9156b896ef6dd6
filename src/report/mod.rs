//! The case report: `report.html` (one self-contained page with inline SVG charts) and
//! `report.md` (the same figures as Markdown), written into the case folder.
//!
//! The stages, in the order data moves through them:
//! - [`data`] reads the case folder's figures (summary.json, orders.csv, evidence.jsonl, the
//!   notices' index and journal);
//! - [`build`] lays them out as sections of a [`doc::Doc`];
//! - [`svg`] draws the charts;
//! - [`html`] and [`md`] write the same document twice.
//!
//! Output is deterministic: no wall-clock time, no random ids, sorted keys; the same case folder
//! gives the same bytes.

pub mod build;
pub mod data;
pub mod doc;
pub mod html;
pub mod md;
pub mod svg;

use crate::config::Config;
use crate::error::Result;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const HTML_FILE: &str = "report.html";
pub const MD_FILE: &str = "report.md";

/// `[report]` in incident.toml.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
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
}

impl Context {
    /// Reads the parts of the config the report uses; without a config, an empty context.
    pub fn from_config(cfg: Option<&Config>) -> Result<Context> {
        let Some(cfg) = cfg else {
            return Ok(Context::default());
        };
        let report: ReportConfig = cfg.section(&cfg.report, "report")?;
        let contact = ["name", "phone", "hours", "email", "url"]
            .iter()
            .filter_map(|k| {
                cfg.contact
                    .as_ref()
                    .and_then(|t| t.get(*k))
                    .and_then(|v| v.as_str())
                    .map(|v| (k.to_string(), v.to_string()))
            })
            .collect();
        Ok(Context {
            company: cfg.incident.company.clone(),
            shop: cfg.incident.shop.clone(),
            discovered: cfg.incident.discovered.clone(),
            exposed: cfg.incident.exposed.clone(),
            contact,
            report,
        })
    }
}

/// What [`write`] produced.
pub struct Written {
    pub html: PathBuf,
    pub md: PathBuf,
    /// Figures that disagree with each other (a case folder changed after the run).
    pub warnings: Vec<String>,
}

/// Reads the case folder `dir` and writes report.html and report.md into it.
pub fn write(dir: &Path, ctx: &Context) -> Result<Written> {
    let data = data::CaseData::load(dir)?;
    let (doc, warnings) = build::build(&data, ctx);
    let html_path = dir.join(HTML_FILE);
    let md_path = dir.join(MD_FILE);
    crate::output::write_file(&html_path, html::render(&doc).as_bytes())?;
    crate::output::write_file(&md_path, md::render(&doc).as_bytes())?;
    Ok(Written {
        html: html_path,
        md: md_path,
        warnings,
    })
}
