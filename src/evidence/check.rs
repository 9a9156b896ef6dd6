//! The window check. The declared window decides who is notified; the logs can contradict it.
//! A rule whose first hit is before the window start means the compromise may have begun
//! earlier (people who paid then are missing from the list); a last hit after the window end
//! means it may have lasted longer. Only rules at or above a level (default `high`) and IOC
//! rules count as indicators: scanners and login attempts happen every day on every shop and
//! say nothing about the window. Days inside the window without a single log line are gaps the
//! evidence cannot speak for.

use super::scan::{FileResult, Hit};
use crate::rules::Rule;
use crate::window::Window;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeSet;

/// Rule levels from least to most severe.
pub const LEVELS: &[&str] = &["informational", "low", "medium", "high", "critical"];

/// The rank of a Sigma level (unknown levels rank lowest).
pub fn level_rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .unwrap_or(0)
}

/// Whether a rule counts as an indicator of the compromise for the window check.
pub fn is_indicator(rule: &Rule, min_level: &str) -> bool {
    rule.source == "ioc" || level_rank(&rule.level) >= level_rank(min_level)
}

/// First and last hit of one rule.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub first: (Timestamp, usize, u64),
    pub last: (Timestamp, usize, u64),
    pub hits: u64,
}

/// First and last hit per rule (by rule index), from hits in time order.
pub fn spans(hits: &[Hit], n_rules: usize) -> Vec<Option<Span>> {
    let mut out: Vec<Option<Span>> = vec![None; n_rules];
    for h in hits {
        for r in h.rules() {
            let at = (h.time, h.file as usize, h.line);
            match &mut out[r as usize] {
                Some(s) => {
                    s.last = at;
                    s.hits += 1;
                }
                slot @ None => {
                    *slot = Some(Span {
                        first: at,
                        last: at,
                        hits: 1,
                    })
                }
            }
        }
    }
    out
}

/// A warning about the window, with its facts for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub title: String,
    pub level: String,
    pub kind: &'static str,
    pub time: String,
    pub source: String,
    pub days: i64,
    pub message: String,
}

/// Findings for indicators outside the window, in rule order.
pub fn findings(
    rules: &[Rule],
    spans: &[Option<Span>],
    window: &Window,
    min_level: &str,
    sources: &[String],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let Some(s) = spans[i] else { continue };
        if !is_indicator(r, min_level) {
            continue;
        }
        let src = |(_, f, l): (Timestamp, usize, u64)| format!("{}:{l}", sources[f]);
        if s.first.0 < window.start {
            let days = window.days_before_start(s.first.0);
            out.push(Finding {
                rule: r.id.clone(),
                title: r.title.clone(),
                level: r.level.clone(),
                kind: "before_start",
                time: window.format(s.first.0),
                source: src(s.first),
                days,
                message: format!(
                    "rule {} ({}) first matched {}, {} before the declared window start ({})",
                    r.id,
                    r.title,
                    window.format(s.first.0),
                    days_text(days),
                    src(s.first)
                ),
            });
        }
        if s.last.0 >= window.end {
            let days = window.days_after_end(s.last.0);
            out.push(Finding {
                rule: r.id.clone(),
                title: r.title.clone(),
                level: r.level.clone(),
                kind: "after_end",
                time: window.format(s.last.0),
                source: src(s.last),
                days,
                message: format!(
                    "rule {} ({}) last matched {}, {} after the declared window end ({})",
                    r.id,
                    r.title,
                    window.format(s.last.0),
                    days_text(days),
                    src(s.last)
                ),
            });
        }
    }
    out
}

fn days_text(d: i64) -> String {
    match d {
        0 => "the same day, just".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

/// A run of days inside the window with no log line at all.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gap {
    pub from: String,
    pub to: String,
    pub days: i64,
}

/// The days of the window no file has a line for, as runs.
pub fn gaps(files: &[&FileResult], window: &Window) -> Vec<Gap> {
    let covered: BTreeSet<Date> = files.iter().flat_map(|f| f.days.keys().copied()).collect();
    let mut out = Vec::new();
    let (first, last) = (window.first_day(), window.last_day());
    let mut d = first;
    let mut run: Option<(Date, Date)> = None;
    loop {
        if covered.contains(&d) {
            if let Some((a, b)) = run.take() {
                out.push(gap(a, b));
            }
        } else {
            run = Some(match run {
                Some((a, _)) => (a, d),
                None => (d, d),
            });
        }
        if d >= last {
            break;
        }
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    if let Some((a, b)) = run {
        out.push(gap(a, b));
    }
    out
}

fn gap(a: Date, b: Date) -> Gap {
    Gap {
        from: a.to_string(),
        to: b.to_string(),
        days: a.until(b).map(|s| s.get_days() as i64 + 1).unwrap_or(1),
    }
}

impl Gap {
    pub fn message(&self) -> String {
        if self.days == 1 {
            format!("no log lines on {} (inside the window)", self.from)
        } else {
            format!(
                "no log lines from {} to {} ({} days inside the window)",
                self.from, self.to, self.days
            )
        }
    }
}
