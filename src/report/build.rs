//! From the case folder's figures to the report's sections, in the order a reader needs them:
//! the key figures, the charts, the notification thresholds, the items of Japan's APPI breach
//! report, the window check and the reconciliation of every input row.
//!
//! Every number comes from [`CaseData`] (summary.json and the files beside it) and carries the
//! summary.json key it came from. Where only a person can say something (the cause as the
//! forensic investigation finds it, the publication, the measures), the report says "to be
//! completed" rather than guessing.

use super::data::CaseData;
use super::doc::{Cell, Doc, Table};
use super::svg::{self, Bin, TimeChart};
use super::{Context, Threshold};
use serde_json::Value;

/// Builds the document; also returns the warnings worth printing (figures that disagree).
pub fn build(data: &CaseData, ctx: &Context) -> (Doc, Vec<String>) {
    let mut doc = Doc::default();
    let mut warnings = Vec::new();
    let name = data.text("incident.name").unwrap_or("Incident");
    doc.title = format!("Incident report: {name}");
    intro(&mut doc, data, ctx);
    key_figures(&mut doc, data);
    orders_per_month(&mut doc, data, &mut warnings);
    hits_per_day(&mut doc, data);
    categories(&mut doc, data);
    thresholds(&mut doc, data, ctx);
    appi(&mut doc, data, ctx);
    window_check(&mut doc, data);
    notifications(&mut doc, data);
    reconciliation(&mut doc, data);
    let w: Vec<String> = strings(data.get("warnings"));
    if !w.is_empty() {
        doc.h2("Warnings from the run");
        doc.list(w);
    }
    (doc, warnings)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn window_text(data: &CaseData) -> String {
    match (data.text("window.first_day"), data.text("window.last_day")) {
        (Some(a), Some(b)) => format!(
            "{a} to {b} (inclusive, {})",
            data.text("window.timezone").unwrap_or("UTC")
        ),
        _ => "(no window in summary.json)".into(),
    }
}

fn intro(doc: &mut Doc, data: &CaseData, ctx: &Context) {
    let mut facts = vec![
        format!(
            "Incident id: {}",
            data.text("incident.id").unwrap_or("case")
        ),
        format!("Compromise window: {}", window_text(data)),
    ];
    if let Some(c) = data.text("incident.company").or(ctx.company.as_deref()) {
        facts.push(format!("Company: {c}"));
    }
    if let Some(s) = &ctx.shop {
        facts.push(format!("Shop: {s}"));
    }
    if let Some(d) = &ctx.discovered {
        facts.push(format!("Discovered: {d}"));
    }
    facts.push(format!(
        "Produced by: {}",
        data.text("tool").unwrap_or("skimtrace")
    ));
    doc.list(facts);
    doc.p("Every figure in this report is read from the case folder's summary.json and the files beside it (orders.csv, evidence.jsonl, notices/index.csv), so it equals what the run counted. This report gives no legal advice: which laws apply, which thresholds are met and what must be reported are for counsel to decide.");
}

fn key_figures(doc: &mut Doc, data: &CaseData) {
    doc.h2("Key figures");
    let mut rows = Vec::new();
    let mut add = |label: &str, key: &str| {
        if let Some(v) = data.get(key) {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => return,
                other => other.to_string(),
            };
            rows.push(vec![
                Cell::text(label),
                Cell::figure(text, key),
                Cell::code(key),
            ]);
        }
    };
    add("Customers affected", "customers_affected");
    add(
        "… without any contact (postal follow-up)",
        "customers_without_contact",
    );
    add("… with a login id only", "customers_login_only");
    add("Cards affected (distinct)", "cards_affected");
    add("Cards shared by several people", "cards_shared");
    add("Card orders in the window", "orders_in_window");
    add("First affected order or charge", "first_affected_at");
    add("Last affected order or charge", "last_affected_at");
    add("Order rows read", "rows_read");
    add("Payment rows read", "payments.rows_read");
    add(
        "In-window card orders without a payment row",
        "orders_without_payment",
    );
    add("Log lines read", "evidence.totals.lines_read");
    add("Matching requests", "evidence.totals.evidence_requests");
    add(
        "… inside the window",
        "evidence.totals.evidence_requests_in_window",
    );
    add("Window check", "window_check.status");
    doc.table(&["figure", "value", "summary.json key"], rows);
}

/// Months `YYYY-MM` from `a` to `b` inclusive.
fn months_between(a: &str, b: &str) -> Vec<String> {
    let parse = |s: &str| -> Option<(i32, i32)> {
        Some((s.get(..4)?.parse().ok()?, s.get(5..7)?.parse().ok()?))
    };
    let (Some((mut y, mut m)), Some((y1, m1))) = (parse(a), parse(b)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while (y, m) <= (y1, m1) && out.len() < 1200 {
        out.push(format!("{y:04}-{m:02}"));
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    out
}

/// `YYYY-MM` of the month `by` months from the one `s` starts with; `s` when unreadable.
fn shift_month(s: &str, by: i32) -> String {
    let parsed = s
        .get(..4)
        .and_then(|y| y.parse::<i32>().ok())
        .zip(s.get(5..7).and_then(|m| m.parse::<i32>().ok()));
    match parsed {
        Some((y, m)) => {
            let n = y * 12 + (m - 1) + by;
            format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1)
        }
        None => s.to_string(),
    }
}

/// Days `YYYY-MM-DD` from `a` to `b` inclusive.
fn days_between(a: &str, b: &str) -> Vec<String> {
    let (Ok(mut d), Ok(end)) = (
        a.parse::<jiff::civil::Date>(),
        b.parse::<jiff::civil::Date>(),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while d <= end && out.len() < 20_000 {
        out.push(d.to_string());
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}

fn span<'a>(labels: &[String], from: &'a str, to: &'a str) -> Option<(usize, usize)> {
    let a = labels.iter().position(|l| l.as_str() >= from)?;
    let b = labels.iter().rposition(|l| l.as_str() <= to)?;
    (a <= b).then_some((a, b))
}

fn orders_per_month(doc: &mut Doc, data: &CaseData, warnings: &mut Vec<String>) {
    let Some(months) = &data.months else {
        return;
    };
    doc.h2("Affected orders per month");
    let first = data.text("window.first_day").unwrap_or("");
    let last = data.text("window.last_day").unwrap_or("");
    let lo = months
        .keys()
        .next()
        .map(String::as_str)
        .into_iter()
        .chain((!first.is_empty()).then_some(first))
        .min()
        .unwrap_or("")
        .to_string();
    let hi = months
        .keys()
        .next_back()
        .map(String::as_str)
        .into_iter()
        .chain((!last.is_empty()).then_some(last))
        .max()
        .unwrap_or("")
        .to_string();
    // One month either side, so the shaded window shows where it starts and ends.
    let labels = months_between(&shift_month(&lo, -1), &shift_month(&hi, 1));
    let bins: Vec<Bin> = labels
        .iter()
        .map(|m| Bin {
            label: m.clone(),
            values: [months.get(m).copied().unwrap_or(0), 0],
        })
        .collect();
    let total: u64 = months.values().sum();
    let expected = data.count("orders_in_window");
    let chart = TimeChart {
        title: "Card orders in the window, per month (local time)".into(),
        shade: span(
            &labels,
            first.get(..7).unwrap_or(""),
            last.get(..7).unwrap_or(""),
        ),
        bins,
        shade_label: format!("compromise window {first} to {last}"),
        markers: Vec::new(),
        series: ["card orders".into(), String::new()],
    };
    let mut rows: Vec<Vec<Cell>> = months
        .iter()
        .map(|(m, n)| vec![Cell::text(m), Cell::text(n.to_string())])
        .collect();
    rows.push(vec![
        Cell::text("total"),
        Cell::figure(total, "orders_in_window"),
    ]);
    doc.blocks.push(super::doc::Block::Chart {
        svg: svg::time_chart(&chart),
        table: Table {
            header: vec!["month".into(), "card orders".into()],
            rows,
        },
    });
    if total != expected {
        let w = format!("orders.csv holds {total} orders but summary.json says orders_in_window = {expected}: the case folder was changed after the run; re-run `skimtrace run --force`");
        doc.p(format!("Warning: {w}"));
        warnings.push(w);
    }
    doc.p("Declined attempts and charges that never became an order are affected too (the card was typed into the skimmed page); they appear in payments.csv, not in this chart.");
}

fn hits_per_day(doc: &mut Doc, data: &CaseData) {
    let Some(days) = &data.hit_days else {
        return;
    };
    doc.h2("Indicator hits per day");
    let first = data.text("window.first_day").unwrap_or("");
    let last = data.text("window.last_day").unwrap_or("");
    let earliest = data.text("window_check.earliest_indicator.time");
    let latest = data.text("window_check.latest_indicator.time");
    let first_hit = earliest
        .map(|t| t.get(..10).unwrap_or(t).to_string())
        .or_else(|| days.keys().next().cloned());
    let last_hit = latest
        .map(|t| t.get(..10).unwrap_or(t).to_string())
        .or_else(|| days.keys().next_back().cloned());
    let lo = [days.keys().next().map(String::as_str), Some(first)]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .min()
        .unwrap_or("")
        .to_string();
    let hi = [days.keys().next_back().map(String::as_str), Some(last)]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .max()
        .unwrap_or("")
        .to_string();
    let labels = days_between(&lo, &hi);
    let bins: Vec<Bin> = labels
        .iter()
        .map(|d| {
            let (a, b) = days.get(d).copied().unwrap_or((0, 0));
            Bin {
                label: d.clone(),
                values: [a, b],
            }
        })
        .collect();
    let mut markers = Vec::new();
    if let Some(f) = &first_hit {
        if let Some(i) = labels.iter().position(|l| l == f) {
            markers.push((i, format!("first indicator {f}")));
        }
    }
    if let Some(l) = &last_hit {
        if let Some(i) = labels.iter().position(|x| x == l) {
            markers.push((i, format!("last indicator {l}")));
        }
    }
    let chart = TimeChart {
        title: "Matching requests in the access logs, per day (local time)".into(),
        shade: span(&labels, first, last),
        bins,
        shade_label: format!("compromise window {first} to {last}"),
        markers,
        series: ["indicator hits".into(), "other matching requests".into()],
    };
    let mut rows: Vec<Vec<Cell>> = days
        .iter()
        .map(|(d, (a, b))| {
            vec![
                Cell::text(d),
                Cell::text(a.to_string()),
                Cell::text(b.to_string()),
            ]
        })
        .collect();
    let total: u64 = days.values().map(|(a, b)| a + b).sum();
    rows.push(vec![
        Cell::text("total matching requests"),
        Cell::text(""),
        Cell::figure(total, "evidence.totals.evidence_requests"),
    ]);
    doc.blocks.push(super::doc::Block::Chart {
        svg: svg::time_chart(&chart),
        table: Table {
            header: vec![
                "day".into(),
                "indicator hits".into(),
                "other matching requests".into(),
            ],
            rows,
        },
    });
    if let (Some(e), Some(l)) = (earliest, latest) {
        doc.p(format!("First indicator: {e}; last indicator: {l} (rules of level {} and above, and IOC lists, count as indicators).", data.text("window_check.indicator_min_level").unwrap_or("high")));
    }
}

/// (label, value, key) of a summary.json object, largest first, then by label.
fn ranked(data: &CaseData, key: &str, inner: Option<&str>) -> Vec<(String, u64, String)> {
    let mut v: Vec<(String, u64, String)> = data
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let (n, path) = match inner {
                Some(i) => (
                    v.get(i).and_then(Value::as_u64).unwrap_or(0),
                    format!("{key}.{k}.{i}"),
                ),
                None => (v.as_u64().unwrap_or(0), format!("{key}.{k}")),
            };
            (k.clone(), n, path)
        })
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn category_chart(doc: &mut Doc, title: &str, what: &str, items: Vec<(String, u64, String)>) {
    let bars: Vec<(String, u64)> = items.iter().map(|(l, n, _)| (l.clone(), *n)).collect();
    let rows = items
        .into_iter()
        .map(|(l, n, key)| vec![Cell::text(l), Cell::figure(n, key)])
        .collect();
    doc.blocks.push(super::doc::Block::Chart {
        svg: svg::bar_chart(title, &bars),
        table: Table {
            header: vec![what.into(), "customers".into()],
            rows,
        },
    });
}

fn categories(doc: &mut Doc, data: &CaseData) {
    doc.h2("Customers by card brand");
    category_chart(
        doc,
        "Customers with a card of each brand",
        "brand",
        ranked(data, "by_brand", Some("customers")),
    );
    doc.p("A customer with cards of two brands counts under both. Card counts per brand are in summary.json (by_brand.*.cards), for the acquirer.");
    doc.h2("Customers by country and region");
    category_chart(
        doc,
        "Customers per country",
        "country",
        ranked(data, "by_country", None),
    );
    category_chart(
        doc,
        "Customers per region (country/region as the orders wrote it)",
        "country/region",
        ranked(data, "by_region", None),
    );
}

/// Customers a threshold's jurisdiction counts: its country, narrowed to its regions.
fn jurisdiction_count(data: &CaseData, t: &Threshold) -> (u64, Option<String>) {
    let regions: Vec<&str> = t
        .region
        .iter()
        .map(String::as_str)
        .chain(t.regions.iter().map(String::as_str))
        .collect();
    if regions.is_empty() {
        let key = data
            .get("by_country")
            .and_then(Value::as_object)
            .and_then(|m| {
                m.keys()
                    .find(|k| k.eq_ignore_ascii_case(&t.country))
                    .cloned()
            });
        return match key {
            Some(k) => (
                data.count(&format!("by_country.{k}")),
                Some(format!("by_country.{k}")),
            ),
            None => (0, None),
        };
    }
    let mut n = 0;
    let mut keys = Vec::new();
    for (k, v) in data
        .get("by_region")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some((c, r)) = k.split_once('/') else {
            continue;
        };
        if c.eq_ignore_ascii_case(&t.country) && regions.iter().any(|x| x.eq_ignore_ascii_case(r)) {
            n += v.as_u64().unwrap_or(0);
            keys.push(format!("by_region.{k}"));
        }
    }
    // A figure keyed to summary.json only when it is one value there.
    (n, (keys.len() == 1).then(|| keys.remove(0)))
}

fn thresholds(doc: &mut Doc, data: &CaseData, ctx: &Context) {
    doc.h2("Notification thresholds by jurisdiction");
    doc.p("The thresholds below come from the case's config ([report] thresholds in incident.toml), not from the tool. skimtrace gives no legal advice: counsel decides which laws apply and what the counts mean. Customers are placed by the country and region their orders name.");
    if ctx.report.thresholds.is_empty() {
        doc.todo("no thresholds are configured: add [report] thresholds = [{ jurisdiction = \"…\", country = \"…\", region = \"…\", min = …, note = \"…\" }] to incident.toml");
        return;
    }
    let rows = ctx
        .report
        .thresholds
        .iter()
        .map(|t| {
            let (n, key) = jurisdiction_count(data, t);
            let mut place = t.country.clone();
            let regions: Vec<&String> = t.region.iter().chain(&t.regions).collect();
            if !regions.is_empty() {
                place.push_str(&format!(
                    " / {}",
                    regions
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let count = match key {
                Some(k) => Cell::figure(n, k),
                None => Cell::text(n.to_string()),
            };
            vec![
                Cell::text(&t.jurisdiction),
                Cell::text(place),
                count,
                Cell::text(t.min.to_string()),
                Cell::text(if n >= t.min { "reached" } else { "not reached" }),
                Cell::text(t.note.clone().unwrap_or_default()),
            ]
        })
        .collect();
    doc.table(
        &[
            "jurisdiction",
            "country / region",
            "customers",
            "threshold (at least)",
            "status",
            "note",
        ],
        rows,
    );
}

fn exposed_label(item: &str) -> String {
    let l = match item {
        "card_holder" => "card holder name (カード名義人名)",
        "card_number" => "card number (クレジットカード番号)",
        "expiry" => "expiry date (有効期限)",
        "security_code" => "security code (セキュリティコード)",
        "login_id" => "login id (ログインID)",
        "password" => "password (パスワード)",
        "email" => "e-mail address (メールアドレス)",
        "address" => "postal address (住所)",
        "phone" => "phone number (電話番号)",
        "name" => "name (氏名)",
        other => other,
    };
    l.to_string()
}

fn appi(doc: &mut Doc, data: &CaseData, ctx: &Context) {
    doc.h2("APPI breach report to the PPC (個人情報保護委員会への報告)");
    doc.p("Laid out along the items of the report to the Personal Information Protection Commission (APPI art. 26; PPC rules art. 8(1)), for pasting into the PPC's form. Filled from the case where the data exists; the rest is marked to be completed. The preliminary report (速報) carries what is known so far.");

    doc.h3("1. Overview (概要)");
    let shop = ctx.shop.clone().unwrap_or_else(|| "the shop".into());
    doc.p(format!(
        "Card data typed into the checkout of {shop} may have been taken by a tampered payment page during the compromise window {}.{}",
        window_text(data),
        ctx.discovered
            .as_ref()
            .map(|d| format!(" The company learned of it on {d}."))
            .unwrap_or_default()
    ));
    doc.todo("how the compromise was found and by whom (police, card company, payment provider), and the dates of the reports made so far");

    doc.h3("2. Personal data items involved (漏えい等が発生し、又は発生したおそれがある個人データの項目)");
    let exposed: Vec<String> = if ctx.exposed.is_empty() {
        strings(data.get("incident.exposed"))
    } else {
        ctx.exposed.clone()
    };
    if exposed.is_empty() {
        doc.todo(
            "the data items the attacker could read (set [incident] exposed in incident.toml)",
        );
    } else {
        doc.list(exposed.iter().map(|e| exposed_label(e)).collect());
    }

    doc.h3("3. Number of people (本人の数)");
    doc.table(
        &["figure", "value"],
        vec![
            vec![
                Cell::text("people (customers affected)"),
                Cell::figure(data.count("customers_affected"), "customers_affected"),
            ],
            vec![
                Cell::text("cards"),
                Cell::figure(data.count("cards_affected"), "cards_affected"),
            ],
        ],
    );
    doc.p("The count may still change (late exports, log analysis): report it as the number known so far (最大〇〇名).");

    doc.h3("4. Cause (原因)");
    if let Some(t) = data.text("window_check.earliest_indicator.time") {
        doc.p(format!(
            "The access logs show the earliest indicator at {t} ({}, {}).",
            data.text("window_check.earliest_indicator.title")
                .unwrap_or("a rule"),
            data.text("window_check.earliest_indicator.source")
                .unwrap_or("")
        ));
    }
    doc.todo("the cause as the forensic investigation (PFI) establishes it: the vulnerability used and how the payment page was changed");

    doc.h3("5. Secondary harm or its risk (二次被害又はそのおそれの有無及びその内容)");
    if exposed.iter().any(|e| e == "card_number") {
        doc.p("Card numbers were exposed: the cards may be used fraudulently (financial loss).");
    }
    doc.todo("fraudulent use reported by the card companies so far");

    doc.h3("6. Response to the people affected (本人への対応の実施状況)");
    match &data.notices {
        Some(n) => {
            let mut items = Vec::new();
            if let Some(r) = n.rendered {
                items.push(format!("notices rendered (notices/index.csv): {r}"));
            }
            if let Some(p) = n.no_email {
                items.push(format!("customers without a usable e-mail address, to reach by post (no_email.csv): {p}"));
            }
            match n.accepted {
                Some(a) => items.push(format!(
                    "notices accepted by the mail server (sent.jsonl): {a}"
                )),
                None => items.push(
                    "notices sent: none yet (no sent.jsonl; send with `skimtrace notify --send`)"
                        .into(),
                ),
            }
            doc.list(items);
        }
        None => doc.p("No notices were rendered yet (run `skimtrace notify`)."),
    }
    doc.todo("the inquiry desk's opening date, and any other contact (post, phone)");

    doc.h3("7. Publication (公表の実施状況)");
    doc.todo("whether and when the incident was published, and where");

    doc.h3("8. Measures to prevent recurrence (再発防止のための措置)");
    doc.todo("the measures taken and planned (e.g. the payment method changed to a link/redirect type, the site rebuilt)");

    doc.h3("9. Other reference items (その他参考となる事項)");
    if !ctx.contact.is_empty() {
        doc.list(
            ctx.contact
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect(),
        );
    }
    doc.todo("police report, the card companies and payment provider informed, and anything else the PPC should know");
}

fn window_check(doc: &mut Doc, data: &CaseData) {
    doc.h2("Window check");
    let Some(status) = data.text("window_check.status") else {
        doc.p("The access logs were not analysed (no [logs] in incident.toml, or `skimtrace evidence` was not run): the window rests on the declared dates alone.");
        return;
    };
    let mut rows = vec![vec![
        Cell::text("status"),
        Cell::figure(status, "window_check.status"),
    ]];
    for (label, key) in [
        ("earliest indicator", "window_check.earliest_indicator.time"),
        ("latest indicator", "window_check.latest_indicator.time"),
    ] {
        if let Some(t) = data.text(key) {
            rows.push(vec![Cell::text(label), Cell::figure(t, key)]);
        }
    }
    doc.table(&["", "value"], rows);
    doc.list(strings(data.get("window_check.warnings")));
}

/// Per campaign: when it ran, whom it reached, and how its list compares with the current one
/// (people it reached who are no longer affected may be owed a correction; people now affected
/// whom it never reached still need it).
fn notifications(doc: &mut Doc, data: &CaseData) {
    if data.campaigns.is_empty() {
        return;
    }
    doc.h2("Notifications");
    doc.p("Each campaign (preliminary warning, formal notice, correction…) with what its journal and its rendered list say, compared with the current affected list of this folder.");
    let rows = data
        .campaigns
        .iter()
        .map(|c| {
            vec![
                Cell::code(&c.name),
                Cell::text(c.rendered.to_string()),
                Cell::text(c.accepted.to_string()),
                Cell::text(format!("{} / {} / {}", c.deferred, c.failed, c.unknown)),
                Cell::text(match (&c.first_sent, &c.last_sent) {
                    (Some(a), Some(b)) if a == b => a.clone(),
                    (Some(a), Some(b)) => format!("{a} to {b}"),
                    _ => "not sent".to_string(),
                }),
                Cell::text(c.still_affected.to_string()),
                Cell::text(c.no_longer_affected.to_string()),
                Cell::text(c.not_in_campaign.to_string()),
            ]
        })
        .collect();
    doc.table(
        &[
            "campaign",
            "rendered",
            "accepted",
            "deferred / failed / unknown",
            "sent",
            "still affected",
            "no longer affected",
            "affected, not reached",
        ],
        rows,
    );
}

fn recon_row(data: &CaseData, base: &str, cols: &[&str]) -> Vec<Cell> {
    let mut row = vec![Cell::code(
        data.text(&format!("{base}.path"))
            .or(data.text(&format!("{base}.file")))
            .unwrap_or("(total)"),
    )];
    let mut sum = 0;
    for (i, c) in cols.iter().enumerate() {
        let key = format!("{base}.{c}");
        let n = data.count(&key);
        if i > 0 {
            sum += n;
        }
        row.push(Cell::figure(n, key));
    }
    let first = data.count(&format!("{base}.{}", cols[0]));
    row.push(Cell::text(if first == sum { "yes" } else { "NO" }));
    row
}

fn reconciliation(doc: &mut Doc, data: &CaseData) {
    doc.h2("Reconciliation of every input row");
    doc.p("Every row read ends in exactly one class; a row is rejected only when it is malformed or its time cannot be read (rejected.csv gives file:line and the reason).");
    let n_files = |key: &str| data.get(key).and_then(Value::as_array).map_or(0, Vec::len);
    let cols = [
        "rows_read",
        "in_window",
        "out_of_window",
        "not_card",
        "rejected",
    ];
    let mut rows: Vec<Vec<Cell>> = (0..n_files("files"))
        .map(|i| recon_row(data, &format!("files.{i}"), &cols))
        .collect();
    if !rows.is_empty() {
        let mut total = vec![Cell::text("total")];
        let mut sum = 0;
        for (i, c) in cols.iter().enumerate() {
            let n = data.count(c);
            if i > 0 {
                sum += n;
            }
            total.push(Cell::figure(n, *c));
        }
        total.push(Cell::text(if data.count("rows_read") == sum {
            "yes"
        } else {
            "NO"
        }));
        rows.push(total);
        doc.h3("Order exports");
        doc.table(
            &[
                "file",
                "rows read",
                "in window",
                "out of window",
                "not card",
                "rejected",
                "reconciles",
            ],
            rows,
        );
    }
    let pcols = [
        "rows_read",
        "matched",
        "unmatched_in_window",
        "out_of_window",
        "not_card",
        "rejected",
    ];
    let mut rows: Vec<Vec<Cell>> = (0..n_files("payments.files"))
        .map(|i| recon_row(data, &format!("payments.files.{i}"), &pcols))
        .collect();
    if !rows.is_empty() {
        rows.push(recon_row(data, "payments", &pcols));
        doc.h3("Payment exports");
        doc.table(
            &[
                "file",
                "rows read",
                "matched",
                "unmatched in window",
                "out of window",
                "not card",
                "rejected",
                "reconciles",
            ],
            rows,
        );
        doc.p(format!(
            "In-window card orders that no charge joined (orders_without_payment): {}.",
            data.count("orders_without_payment")
        ));
    }
    let lcols = ["lines_read", "parsed", "malformed"];
    let mut rows: Vec<Vec<Cell>> = (0..n_files("evidence.files"))
        .map(|i| recon_row(data, &format!("evidence.files.{i}"), &lcols))
        .collect();
    if !rows.is_empty() {
        rows.push(recon_row(data, "evidence.totals", &lcols));
        doc.h3("Access logs");
        doc.table(
            &["file", "lines read", "parsed", "malformed", "reconciles"],
            rows,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_and_day_ranges() {
        assert_eq!(
            months_between("2020-11-03", "2021-02"),
            ["2020-11", "2020-12", "2021-01", "2021-02"]
        );
        assert_eq!(
            days_between("2020-02-28", "2020-03-01"),
            ["2020-02-28", "2020-02-29", "2020-03-01"]
        );
        assert!(months_between("x", "2021-01").is_empty());
        assert_eq!(shift_month("2020-01-15", -1), "2019-12");
        assert_eq!(shift_month("2021-12", 1), "2022-01");
    }
}
