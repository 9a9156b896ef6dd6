//! The reporting deadlines of a case and where each stands today.
//!
//! Japan (APPI art. 26; PPC rules art. 8; PPC guidelines (通則編) 3-5-3-3 and 3-5-3-4):
//! - the preliminary report (速報) is due "promptly" after the business learned of the breach,
//!   which the guidelines put at about 3 to 5 days: the table shows the 5th day, the latest date
//!   that reading allows;
//! - the final report (確報) is due within 30 days, or 60 days where the breach was possibly
//!   done for an unlawful purpose (rule 7(3): unauthorised access). A payment-page skimmer is
//!   unauthorised access, so the table shows 60 days.
//!
//! Each `[report] thresholds` row with `deadline_days` adds a row of its own, counted from
//! `discovered` or from the date its `from` gives.
//!
//! Days are calendar days and the day the period starts from is not counted (民法 140条): a
//! breach learned of on 2021-12-07 has its 60th day on 2022-02-05. No date is moved off a
//! weekend or holiday, so the date shown is never later than the law's. "Today" is the run's
//! clock ([`crate::manifest::Clock`], pinned by SOURCE_DATE_EPOCH) in the case's time zone, so
//! the same folder and epoch give the same table.

use jiff::civil::Date;
use serde_json::{json, Value};

/// The 速報's last day: about 3–5 days after discovery (PPC guidelines 3-5-3-3).
pub const PRELIMINARY_DAYS: i64 = 5;
/// The 確報 where the cause is unauthorised access (rule 8(2)); 30 days otherwise.
pub const FINAL_DAYS: i64 = 60;

/// Where a deadline stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not done; `days_left` days until the due date (0: due today).
    Due { days_left: i64 },
    /// Not done and past the due date by `days` days.
    Late { days: i64 },
    /// Done on time.
    Done,
    /// Done, `days` days after the due date.
    DoneLate { days: i64 },
    /// A jurisdiction whose threshold the case does not reach: no deadline runs.
    NotReached,
}

/// One row of the deadlines table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// `ppc_preliminary`, `ppc_final`, or the jurisdiction's name.
    pub id: String,
    pub label_en: String,
    pub label_ja: String,
    /// The rule the due date follows, as the config or this module words it (English,
    /// Japanese; a config's note is used for both).
    pub rule: String,
    pub rule_ja: String,
    pub from: Date,
    pub days: i64,
    pub due: Date,
    pub done: Option<Date>,
    pub status: Status,
}

/// The day `days` calendar days after `from`, the start day not counted.
pub fn due_date(from: Date, days: i64) -> Option<Date> {
    from.checked_add(jiff::Span::new().days(days)).ok()
}

fn days_between(a: Date, b: Date) -> i64 {
    // Civil dates: the span is in whole days.
    a.until(b).map(|s| s.get_days() as i64).unwrap_or(0)
}

/// Where a deadline due on `due` stands on `today`, done on `done` when it was.
pub fn status(due: Date, done: Option<Date>, today: Date) -> Status {
    match done {
        Some(d) if d <= due => Status::Done,
        Some(d) => Status::DoneLate {
            days: days_between(due, d),
        },
        None if today <= due => Status::Due {
            days_left: days_between(today, due),
        },
        None => Status::Late {
            days: days_between(due, today),
        },
    }
}

/// A jurisdiction's deadline as the config gives it.
#[derive(Debug, Clone)]
pub struct Extra {
    pub id: String,
    pub note: Option<String>,
    pub from: Date,
    pub days: i64,
    pub done: Option<Date>,
    /// The case reaches the jurisdiction's threshold.
    pub reached: bool,
}

/// The deadlines of a case: the PPC's two reports (when `discovered` is known), then each
/// jurisdiction's, in the config's order.
pub fn compute(
    discovered: Option<Date>,
    preliminary_done: Option<Date>,
    final_done: Option<Date>,
    extras: &[Extra],
    today: Date,
) -> Vec<Deadline> {
    let mut out = Vec::new();
    if let Some(d) = discovered {
        for (id, en, ja, days, done, rule, rule_ja) in [
            (
                "ppc_preliminary",
                "PPC preliminary report",
                "個人情報保護委員会への速報",
                PRELIMINARY_DAYS,
                preliminary_done,
                "promptly: about 3–5 days (PPC rules art. 8(1); guidelines 3-5-3-3)",
                "速やかに（おおむね3～5日以内）：施行規則第8条第1項、ガイドライン（通則編）3-5-3-3",
            ),
            (
                "ppc_final",
                "PPC final report",
                "個人情報保護委員会への確報",
                FINAL_DAYS,
                final_done,
                "60 days: unauthorised access (PPC rules art. 8(2); 30 days otherwise)",
                "60日以内（不正アクセスによるもの。それ以外は30日以内）：施行規則第8条第2項、ガイドライン（通則編）3-5-3-4",
            ),
        ] {
            if let Some(due) = due_date(d, days) {
                out.push(Deadline {
                    id: id.into(),
                    label_en: en.into(),
                    label_ja: ja.into(),
                    rule: rule.into(),
                    rule_ja: rule_ja.into(),
                    from: d,
                    days,
                    due,
                    done,
                    status: status(due, done, today),
                });
            }
        }
    }
    for e in extras {
        let Some(due) = due_date(e.from, e.days) else {
            continue;
        };
        out.push(Deadline {
            id: e.id.clone(),
            label_en: e.id.clone(),
            label_ja: e.id.clone(),
            rule: e
                .note
                .clone()
                .unwrap_or_else(|| format!("{} days ([report] thresholds)", e.days)),
            rule_ja: e
                .note
                .clone()
                .unwrap_or_else(|| format!("{}日以内（[report] thresholds の設定）", e.days)),
            from: e.from,
            days: e.days,
            due,
            done: e.done,
            status: if e.reached {
                status(due, e.done, today)
            } else {
                Status::NotReached
            },
        });
    }
    out
}

impl Status {
    /// The machine word summary.json carries.
    pub fn word(self) -> &'static str {
        match self {
            Status::Due { .. } => "due",
            Status::Late { .. } => "late",
            Status::Done => "done",
            Status::DoneLate { .. } => "done_late",
            Status::NotReached => "not_reached",
        }
    }

    /// The status as a reader says it.
    pub fn text(self, lang: super::lang::Lang, done: Option<Date>) -> String {
        use super::lang::Lang;
        let on = done.map(|d| lang.date(&d.to_string())).unwrap_or_default();
        match (lang, self) {
            (Lang::En, Status::Due { days_left: 0 }) => "due today".into(),
            (Lang::En, Status::Due { days_left }) => format!("due in {days_left} days"),
            (Lang::En, Status::Late { days }) => format!("late by {days} days"),
            (Lang::En, Status::Done) => format!("done on {on}"),
            (Lang::En, Status::DoneLate { days }) => format!("done on {on}, {days} days late"),
            (Lang::En, Status::NotReached) => "threshold not reached".into(),
            (Lang::Ja, Status::Due { days_left: 0 }) => "本日期限".into(),
            (Lang::Ja, Status::Due { days_left }) => format!("期限まであと{days_left}日"),
            (Lang::Ja, Status::Late { days }) => format!("期限超過（{days}日）"),
            (Lang::Ja, Status::Done) => format!("{on}に報告済み"),
            (Lang::Ja, Status::DoneLate { days }) => {
                format!("{on}に報告済み（期限から{days}日遅れ）")
            }
            (Lang::Ja, Status::NotReached) => "基準に達せず".into(),
        }
    }
}

/// The table as summary.json's `deadlines` holds it.
pub fn to_json(rows: &[Deadline], today: Date) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|d| {
            let (days_left, days_late) = match d.status {
                Status::Due { days_left } => (Some(days_left), None),
                Status::Late { days } | Status::DoneLate { days } => (None, Some(days)),
                _ => (None, None),
            };
            json!({
                "id": d.id,
                "report": d.label_en,
                "rule": d.rule,
                "from": d.from.to_string(),
                "days": d.days,
                "due": d.due.to_string(),
                "done": d.done.map(|x| x.to_string()),
                "status": d.status.word(),
                "days_left": days_left,
                "days_late": days_late,
            })
        })
        .collect();
    json!({ "today": today.to_string(), "rows": rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_start_day_is_not_counted_and_month_ends_roll_over() {
        assert_eq!(due_date(date(2021, 12, 7), 60), Some(date(2022, 2, 5)));
        // Discovered on the last day of a month: the 30th day is in the month after next.
        assert_eq!(due_date(date(2021, 1, 31), 30), Some(date(2021, 3, 2)));
        assert_eq!(due_date(date(2021, 1, 31), 5), Some(date(2021, 2, 5)));
        // A leap year's February.
        assert_eq!(due_date(date(2024, 1, 31), 30), Some(date(2024, 3, 1)));
        // Across a year's end.
        assert_eq!(due_date(date(2021, 12, 31), 5), Some(date(2022, 1, 5)));
    }

    #[test]
    fn status_on_each_side_of_the_due_date() {
        let due = date(2022, 2, 5);
        assert_eq!(
            status(due, None, date(2022, 2, 3)),
            Status::Due { days_left: 2 }
        );
        assert_eq!(status(due, None, due), Status::Due { days_left: 0 });
        assert_eq!(
            status(due, None, date(2022, 2, 6)),
            Status::Late { days: 1 }
        );
        assert_eq!(status(due, Some(due), date(2022, 8, 18)), Status::Done);
        // A final report filed late stays late, however much later today is.
        assert_eq!(
            status(due, Some(date(2022, 7, 11)), date(2022, 8, 18)),
            Status::DoneLate { days: 156 }
        );
    }

    #[test]
    fn the_ppc_reports_and_a_jurisdiction() {
        let rows = compute(
            Some(date(2021, 12, 7)),
            Some(date(2021, 12, 10)),
            Some(date(2022, 7, 11)),
            &[
                Extra {
                    id: "US-TX".into(),
                    note: None,
                    from: date(2021, 12, 7),
                    days: 30,
                    done: None,
                    reached: true,
                },
                Extra {
                    id: "US-FL".into(),
                    note: None,
                    from: date(2021, 12, 7),
                    days: 30,
                    done: None,
                    reached: false,
                },
            ],
            date(2022, 8, 18),
        );
        let got: Vec<(&str, String, Status)> = rows
            .iter()
            .map(|d| (d.id.as_str(), d.due.to_string(), d.status))
            .collect();
        assert_eq!(
            got,
            [
                ("ppc_preliminary", "2021-12-12".into(), Status::Done),
                (
                    "ppc_final",
                    "2022-02-05".into(),
                    Status::DoneLate { days: 156 }
                ),
                ("US-TX", "2022-01-06".into(), Status::Late { days: 224 }),
                ("US-FL", "2022-01-06".into(), Status::NotReached),
            ]
        );
        // No discovered date: no PPC rows (nothing to count from).
        assert!(compute(None, None, None, &[], date(2022, 8, 18)).is_empty());
    }
}
