//! From the case folder's figures to the report's sections, in the order a reader needs them:
//! the key figures, the charts, the notification thresholds, the items of Japan's APPI breach
//! report, the window check and the reconciliation of every input row.
//!
//! Every number comes from [`CaseData`] (summary.json and the files beside it) and carries the
//! summary.json key it came from. Where only a person can say something (the cause as the
//! forensic investigation finds it, the publication, the measures), the report says "to be
//! completed" rather than guessing.
//!
//! Every heading, label and note is given in both languages ([`Lang::t`]); the PPC items are in
//! Japanese in either report, as the PPC's form is filed.

use super::data::CaseData;
use super::deadlines::Deadline;
use super::doc::{Cell, Doc, Table};
use super::lang::Lang;
use super::svg::{self, Bin, TimeChart};
use super::{Context, Threshold};
use serde_json::Value;

/// Builds the document; also returns the warnings worth printing (figures that disagree).
pub fn build(data: &CaseData, ctx: &Context, deadlines: &[Deadline]) -> (Doc, Vec<String>) {
    let l = ctx.lang;
    let mut doc = Doc {
        lang: l,
        ..Doc::default()
    };
    let mut warnings = Vec::new();
    let name = data
        .text("incident.name")
        .unwrap_or(l.t("Incident", "インシデント"));
    doc.title = format!("{}{name}", l.t("Incident report: ", "インシデント報告書："));
    intro(&mut doc, data, ctx);
    key_figures(&mut doc, data);
    deadlines_section(&mut doc, ctx, deadlines);
    orders_per_month(&mut doc, data, &mut warnings);
    hits_per_day(&mut doc, data);
    categories(&mut doc, data);
    thresholds(&mut doc, data, ctx);
    doc.h2(l.t(
        "APPI breach report to the PPC (個人情報保護委員会への報告)",
        "個人情報保護委員会への報告（漏えい等報告）",
    ));
    doc.p(l.t(
        "The items of the report to the Personal Information Protection Commission (APPI art. 26; PPC rules art. 8(1)), in Japanese as the PPC's form is filed, for pasting as they are; the same text is in ppc-report.md. Filled from the case where the data exists; （要記入） marks what only a person can say. The preliminary report (速報) carries what is known so far.",
        "個人情報の保護に関する法律第26条、同法施行規則第8条第1項の報告事項です。個人情報保護委員会の報告フォームにそのまま貼り付けられます（同じ内容を ppc-report.md にも出力しています）。事案のデータから分かる事項は記入済みです。（要記入）の箇所は担当者が記入してください。速報は、その時点で把握している内容で報告します。",
    ));
    ppc_items(&mut doc, data, ctx, 3);
    window_check(&mut doc, data);
    notifications(&mut doc, data);
    reconciliation(&mut doc, data);
    let w: Vec<String> = strings(data.get("warnings"));
    if !w.is_empty() {
        doc.h2(l.t("Warnings from the run", "実行時の警告"));
        doc.list(w);
    }
    (doc, warnings)
}

/// `ppc-report.md`: the PPC report alone, in Japanese, with its deadlines, for pasting into the
/// PPC's form.
pub fn ppc_report(data: &CaseData, ctx: &Context, deadlines: &[Deadline]) -> Doc {
    let mut doc = Doc {
        lang: Lang::Ja,
        title: "個人情報保護委員会への報告（漏えい等報告）".into(),
        ..Doc::default()
    };
    let name = data.text("incident.name").unwrap_or("インシデント");
    doc.p(format!(
        "事案：{name}（{}）。個人情報の保護に関する法律第26条、同法施行規則第8条第1項の報告事項を、事案のデータから記入したものです。（要記入）の箇所は担当者が記入してください。本書は法的助言ではありません。",
        data.text("incident.id").unwrap_or("case")
    ));
    let ctx_ja = Context {
        lang: Lang::Ja,
        ..ctx.clone()
    };
    // The PPC's own two reports only: other jurisdictions' deadlines are not the PPC's business.
    let ppc: Vec<Deadline> = deadlines
        .iter()
        .filter(|d| d.id.starts_with("ppc_"))
        .cloned()
        .collect();
    deadlines_section(&mut doc, &ctx_ja, &ppc);
    ppc_items(&mut doc, data, ctx, 2);
    doc
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn window_text(data: &CaseData, l: Lang) -> String {
    let tz = data.text("window.timezone").unwrap_or("UTC");
    match (data.text("window.first_day"), data.text("window.last_day")) {
        (Some(a), Some(b)) => match l {
            Lang::En => format!("{a} to {b} (inclusive, {tz})"),
            Lang::Ja => format!("{}（両日を含む、{tz}）", l.span(a, b)),
        },
        _ => l
            .t(
                "(no window in summary.json)",
                "（summary.json に期間がありません）",
            )
            .into(),
    }
}

fn intro(doc: &mut Doc, data: &CaseData, ctx: &Context) {
    let l = ctx.lang;
    let mut facts = vec![
        format!(
            "{}{}",
            l.t("Incident id: ", "事案ID："),
            data.text("incident.id").unwrap_or("case")
        ),
        format!(
            "{}{}",
            l.t("Compromise window: ", "漏えいのおそれがある期間："),
            window_text(data, l)
        ),
    ];
    if let Some(c) = data.text("incident.company").or(ctx.company.as_deref()) {
        facts.push(format!("{}{c}", l.t("Company: ", "事業者：")));
    }
    if let Some(s) = &ctx.shop {
        facts.push(format!("{}{s}", l.t("Shop: ", "サイト：")));
    }
    if let Some(d) = &ctx.discovered {
        facts.push(format!("{}{}", l.t("Discovered: ", "発覚日："), l.date(d)));
    }
    facts.push(format!(
        "{}{}",
        l.t("Produced by: ", "作成ツール："),
        data.text("tool").unwrap_or("skimtrace")
    ));
    doc.list(facts);
    doc.p(l.t("Every figure in this report is read from the case folder's summary.json and the files beside it (orders.csv, evidence.jsonl, notices/index.csv), so it equals what the run counted. This report gives no legal advice: which laws apply, which thresholds are met and what must be reported are for counsel to decide.",
        "本報告書の数値はすべて、事案フォルダの summary.json とその隣のファイル（orders.csv、evidence.jsonl、notices/index.csv）から読み取ったもので、実行時の集計と一致します。本報告書は法的助言ではありません。適用される法令、基準への該当、報告すべき事項の判断は弁護士が行ってください。"));
}

/// The deadlines table: each report, the day it counts from, its due date and where it stands
/// today.
fn deadlines_section(doc: &mut Doc, ctx: &Context, deadlines: &[Deadline]) {
    let l = doc.lang;
    doc.h2(l.t("Reporting deadlines", "報告期限"));
    let today = ctx
        .today
        .map(|d| l.date(&d.to_string()))
        .unwrap_or_default();
    if ctx.discovered_date.is_none() {
        doc.todo(l.t(
            "the date the company learned of the breach: set [incident] discovered = \"YYYY-MM-DD\" in incident.toml; the PPC's deadlines run from it",
            "漏えい等を知った日（発覚日）：incident.toml の [incident] discovered = \"YYYY-MM-DD\" に記入してください。個人情報保護委員会への報告期限はこの日から数えます。",
        ));
    }
    if deadlines.is_empty() {
        return;
    }
    let rows = deadlines
        .iter()
        .enumerate()
        .map(|(i, d)| {
            vec![
                Cell::text(l.t(&d.label_en, &d.label_ja)),
                Cell::text(l.t(&d.rule, &d.rule_ja)),
                Cell::text(l.date(&d.from.to_string())),
                Cell::figure_shown(
                    d.due,
                    format!("deadlines.rows.{i}.due"),
                    l.date(&d.due.to_string()),
                ),
                Cell::text(d.status.text(l, d.done)),
            ]
        })
        .collect();
    doc.table(
        &[
            l.t("report", "報告"),
            l.t("rule", "根拠"),
            l.t("counted from", "起算日"),
            l.t("due", "期限"),
            &match l {
                Lang::En => format!("status on {today}"),
                Lang::Ja => format!("状況（{today}現在）"),
            },
        ],
        rows,
    );
    doc.p(l.t(
        "Calendar days, the day counted from not included; a date on a weekend or holiday is not moved, so the date shown is never later than the law's. The preliminary report is due \"promptly\", which the PPC's guidelines put at about 3–5 days: the 5th day is shown. \"Today\" is the run's date (SOURCE_DATE_EPOCH when set). Counsel confirms every date: this is no legal advice.",
        "期間は暦日で数え、起算日は算入しません。土日・祝日による期限の繰り下げは行っていないため、表示の期限は法令上の期限より後になることはありません。速報は「速やかに」（ガイドライン上おおむね3～5日以内）とされているため、5日目を期限として表示しています。状況は本書の作成日現在のものです。期限は必ず弁護士が確認してください（法的助言ではありません）。",
    ));
}

fn key_figures(doc: &mut Doc, data: &CaseData) {
    let l = doc.lang;
    doc.h2(l.t("Key figures", "主な数値"));
    let mut rows = Vec::new();
    let mut add = |label: (&str, &str), key: &str| {
        let label = l.t(label.0, label.1);
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
    add(("Customers affected", "対象のお客様"), "customers_affected");
    add(
        (
            "… without any contact (postal follow-up)",
            "… 連絡先のないお客様（郵送等で対応）",
        ),
        "customers_without_contact",
    );
    add(
        ("… with a login id only", "… ログインIDのみのお客様"),
        "customers_login_only",
    );
    add(
        ("Cards affected (distinct)", "対象のカード（重複除く）"),
        "cards_affected",
    );
    add(
        ("Cards shared by several people", "複数の人が使ったカード"),
        "cards_shared",
    );
    add(
        ("Card orders in the window", "期間内のカード決済の注文"),
        "orders_in_window",
    );
    add(
        ("First affected order or charge", "最初の対象注文・決済"),
        "first_affected_at",
    );
    add(
        ("Last affected order or charge", "最後の対象注文・決済"),
        "last_affected_at",
    );
    add(("Order rows read", "読み込んだ注文行"), "rows_read");
    add(
        ("Payment rows read", "読み込んだ決済行"),
        "payments.rows_read",
    );
    add(
        (
            "In-window card orders without a payment row",
            "決済行のない期間内カード注文",
        ),
        "orders_without_payment",
    );
    add(
        ("Log lines read", "読み込んだログ行"),
        "evidence.totals.lines_read",
    );
    add(
        ("Matching requests", "該当リクエスト"),
        "evidence.totals.evidence_requests",
    );
    add(
        ("… inside the window", "… うち期間内"),
        "evidence.totals.evidence_requests_in_window",
    );
    add(("Window check", "期間の検証"), "window_check.status");
    doc.table(
        &[
            l.t("figure", "項目"),
            l.t("value", "値"),
            l.t("summary.json key", "summary.json のキー"),
        ],
        rows,
    );
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
    let l = doc.lang;
    doc.h2(l.t("Affected orders per month", "月別の対象注文"));
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
        title: l
            .t(
                "Card orders in the window, per month (local time)",
                "期間内のカード決済の注文（月別、現地時間）",
            )
            .into(),
        shade: span(
            &labels,
            first.get(..7).unwrap_or(""),
            last.get(..7).unwrap_or(""),
        ),
        bins,
        shade_label: format!(
            "{}{}",
            l.t("compromise window ", "漏えいのおそれがある期間 "),
            l.span(first, last)
        ),
        markers: Vec::new(),
        series: [l.t("card orders", "カード決済の注文").into(), String::new()],
    };
    let mut rows: Vec<Vec<Cell>> = months
        .iter()
        .map(|(m, n)| vec![Cell::text(m), Cell::text(n.to_string())])
        .collect();
    rows.push(vec![
        Cell::text(l.t("total", "合計")),
        Cell::figure(total, "orders_in_window"),
    ]);
    doc.blocks.push(super::doc::Block::Chart {
        svg: svg::time_chart(&chart),
        table: Table {
            header: vec![
                l.t("month", "月").into(),
                l.t("card orders", "カード決済の注文").into(),
            ],
            rows,
        },
    });
    if total != expected {
        let w = format!("orders.csv holds {total} orders but summary.json says orders_in_window = {expected}: the case folder was changed after the run; re-run `skimtrace run --force`");
        doc.p(format!("{}{w}", l.t("Warning: ", "警告：")));
        warnings.push(w);
    }
    doc.p(l.t("Declined attempts and charges that never became an order are affected too (the card was typed into the skimmed page); they appear in payments.csv, not in this chart.",
        "承認されなかった決済や注文に至らなかった決済も対象です（改ざんされたページにカード情報が入力されたため）。これらはこのグラフではなく payments.csv に含まれます。"));
}

fn hits_per_day(doc: &mut Doc, data: &CaseData) {
    let Some(days) = &data.hit_days else {
        return;
    };
    let l = doc.lang;
    doc.h2(l.t("Indicator hits per day", "日別の攻撃の痕跡"));
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
            markers.push((
                i,
                format!("{}{}", l.t("first indicator ", "最初の痕跡 "), l.date(f)),
            ));
        }
    }
    if let Some(l) = &last_hit {
        if let Some(i) = labels.iter().position(|x| x == l) {
            markers.push((
                i,
                format!(
                    "{}{}",
                    doc.lang.t("last indicator ", "最後の痕跡 "),
                    doc.lang.date(l)
                ),
            ));
        }
    }
    let chart = TimeChart {
        title: l
            .t(
                "Matching requests in the access logs, per day (local time)",
                "アクセスログ上の該当リクエスト（日別、現地時間）",
            )
            .into(),
        shade: span(&labels, first, last),
        bins,
        shade_label: format!(
            "{}{}",
            l.t("compromise window ", "漏えいのおそれがある期間 "),
            l.span(first, last)
        ),
        markers,
        series: [
            l.t("indicator hits", "攻撃の痕跡").into(),
            l.t("other matching requests", "その他の該当リクエスト")
                .into(),
        ],
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
        Cell::text(l.t("total matching requests", "該当リクエストの合計")),
        Cell::text(""),
        Cell::figure(total, "evidence.totals.evidence_requests"),
    ]);
    doc.blocks.push(super::doc::Block::Chart {
        svg: svg::time_chart(&chart),
        table: Table {
            header: vec![
                l.t("day", "日").into(),
                l.t("indicator hits", "攻撃の痕跡").into(),
                l.t("other matching requests", "その他の該当リクエスト")
                    .into(),
            ],
            rows,
        },
    });
    if let (Some(e), Some(l)) = (earliest, latest) {
        let level = data
            .text("window_check.indicator_min_level")
            .unwrap_or("high");
        doc.p(match doc.lang {
            Lang::En => format!("First indicator: {e}; last indicator: {l} (rules of level {level} and above, and IOC lists, count as indicators)."),
            Lang::Ja => format!(
                "最初の痕跡：{}、最後の痕跡：{}（レベル {level} 以上のルールと IOC リストに該当したものを痕跡としています）。",
                Lang::Ja.time(e),
                Lang::Ja.time(l)
            ),
        });
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
    let customers = doc.lang.t("customers", "お客様");
    let bars: Vec<(String, u64)> = items.iter().map(|(l, n, _)| (l.clone(), *n)).collect();
    let rows = items
        .into_iter()
        .map(|(l, n, key)| vec![Cell::text(l), Cell::figure(n, key)])
        .collect();
    doc.blocks.push(super::doc::Block::Chart {
        svg: svg::bar_chart(title, &bars),
        table: Table {
            header: vec![what.into(), customers.into()],
            rows,
        },
    });
}

fn categories(doc: &mut Doc, data: &CaseData) {
    let l = doc.lang;
    doc.h2(l.t("Customers by card brand", "カードブランド別のお客様"));
    category_chart(
        doc,
        l.t(
            "Customers with a card of each brand",
            "各ブランドのカードをお使いのお客様",
        ),
        l.t("brand", "ブランド"),
        ranked(data, "by_brand", Some("customers")),
    );
    doc.p(l.t("A customer with cards of two brands counts under both. Card counts per brand are in summary.json (by_brand.*.cards), for the acquirer.",
        "2つのブランドのカードをお使いのお客様は両方に数えています。ブランド別のカード枚数は、アクワイアラ向けに summary.json（by_brand.*.cards）にあります。"));
    doc.h2(l.t("Customers by country and region", "国・地域別のお客様"));
    category_chart(
        doc,
        l.t("Customers per country", "国別のお客様"),
        l.t("country", "国"),
        ranked(data, "by_country", None),
    );
    category_chart(
        doc,
        l.t(
            "Customers per region (country/region as the orders wrote it)",
            "地域別のお客様（注文データの国／地域の表記のまま）",
        ),
        l.t("country/region", "国／地域"),
        ranked(data, "by_region", None),
    );
}

/// Customers a threshold's jurisdiction counts: its country, narrowed to its regions.
pub(crate) fn jurisdiction_count(data: &CaseData, t: &Threshold) -> (u64, Option<String>) {
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
    let l = doc.lang;
    doc.h2(l.t(
        "Notification thresholds by jurisdiction",
        "法域別の通知基準",
    ));
    doc.p(l.t("The thresholds below come from the case's config ([report] thresholds in incident.toml), not from the tool. skimtrace gives no legal advice: counsel decides which laws apply and what the counts mean. Customers are placed by the country and region their orders name.",
        "以下の基準は本ツールではなく事案の設定（incident.toml の [report] thresholds）によるものです。skimtrace は法的助言を行いません。適用される法令と人数の意味は弁護士が判断してください。お客様は注文データの国・地域で分類しています。"));
    if ctx.report.thresholds.is_empty() {
        doc.todo(l.t("no thresholds are configured: add [report] thresholds = [{ jurisdiction = \"…\", country = \"…\", region = \"…\", min = …, note = \"…\" }] to incident.toml",
            "基準が設定されていません。incident.toml に [report] thresholds = [{ jurisdiction = \"…\", country = \"…\", region = \"…\", min = …, note = \"…\" }] を追加してください"));
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
                Cell::text(if n >= t.min {
                    l.t("reached", "該当")
                } else {
                    l.t("not reached", "非該当")
                }),
                Cell::text(t.note.clone().unwrap_or_default()),
            ]
        })
        .collect();
    doc.table(
        &[
            l.t("jurisdiction", "法域"),
            l.t("country / region", "国／地域"),
            l.t("customers", "お客様"),
            l.t("threshold (at least)", "基準（以上）"),
            l.t("status", "判定"),
            l.t("note", "注記"),
        ],
        rows,
    );
}

/// An exposed item as the PPC's form names it.
fn exposed_label(item: &str) -> String {
    let l = match item {
        "card_holder" => "クレジットカード名義人名",
        "card_number" => "クレジットカード番号",
        "expiry" => "クレジットカード有効期限",
        "security_code" => "セキュリティコード",
        "login_id" => "ログインID",
        "password" => "パスワード",
        "email" => "メールアドレス",
        "address" => "住所",
        "phone" => "電話番号",
        "name" => "氏名",
        other => other,
    };
    l.to_string()
}

/// A campaign's name as a reader says it.
fn campaign_ja(name: &str) -> String {
    match name {
        "notice" => "お詫びとお知らせ（本通知）".into(),
        "preliminary" => "事前のご連絡（速報的な連絡）".into(),
        "correction" => "訂正のお知らせ".into(),
        other => format!("「{other}」"),
    }
}

/// The nine items of the PPC report (PPC rules art. 8(1)), in Japanese, each filled from the
/// case where it knows it and marked （要記入） where only a person can say it. `level` is the
/// heading level of the items (3 under the report's section, 2 in ppc-report.md).
fn ppc_items(doc: &mut Doc, data: &CaseData, ctx: &Context, level: u8) {
    use super::doc::Block;
    let ja = Lang::Ja;
    let h = |doc: &mut Doc, t: &str| doc.blocks.push(Block::Heading(level, t.to_string()));
    let window = window_text(data, ja);
    let exposed: Vec<String> = if ctx.exposed.is_empty() {
        strings(data.get("incident.exposed"))
    } else {
        ctx.exposed.clone()
    };

    h(doc, "1. 概要");
    let company = data
        .text("incident.company")
        .or(ctx.company.as_deref())
        .map(|c| format!("{c}が運営する"))
        .unwrap_or_default();
    let shop = ctx
        .shop
        .as_deref()
        .map(|s| format!("「{s}」"))
        .unwrap_or_else(|| "当社のオンラインショップ".into());
    let mut overview = format!(
        "{company}{shop}において、第三者による不正アクセスにより決済画面が改ざんされ、{window}の期間に決済画面で入力されたクレジットカード情報等が漏えいした可能性があります。"
    );
    if let Some(d) = &ctx.discovered {
        overview.push_str(&format!("{}に本件を認識しました。", ja.date(d)));
    }
    doc.p(overview);
    doc.todo_ja("発覚の経緯（警察、カード会社、決済代行会社等からの連絡）と、これまでの対応の日付");

    h(
        doc,
        "2. 漏えい等が発生し、又は発生したおそれがある個人データの項目",
    );
    if exposed.is_empty() {
        doc.todo_ja(
            "攻撃者が読み取れた情報の項目（incident.toml の [incident] exposed に設定できます）",
        );
    } else {
        doc.list(exposed.iter().map(|e| exposed_label(e)).collect());
    }

    h(
        doc,
        "3. 漏えい等が発生し、又は発生したおそれがある個人データに係る本人の数",
    );
    doc.table(
        &["項目", "数"],
        vec![
            vec![
                Cell::text("本人の数（対象のお客様）"),
                Cell::figure(data.count("customers_affected"), "customers_affected"),
            ],
            vec![
                Cell::text("クレジットカードの数（重複除く）"),
                Cell::figure(data.count("cards_affected"), "cards_affected"),
            ],
        ],
    );
    doc.p(format!(
        "最大{}名。追加の注文データやログの分析により変わる可能性があるため、現時点で把握している数として報告します。",
        data.count("customers_affected")
    ));

    h(doc, "4. 原因");
    let mut cause = String::from(
        "第三者による不正アクセスにより、決済画面が改ざんされたことによるものと考えられます。",
    );
    if let Some(t) = data.text("window_check.earliest_indicator.time") {
        let what = data
            .text("window_check.earliest_indicator.title")
            .unwrap_or("検知ルール");
        let source = data
            .text("window_check.earliest_indicator.source")
            .map(|s| format!("、{s}"))
            .unwrap_or_default();
        cause.push_str(&format!(
            "アクセスログ上、最も早い攻撃の痕跡は{}です（{what}{source}）。",
            ja.time(t)
        ));
    }
    doc.p(cause);
    doc.todo_ja("フォレンジック調査（PFI）により判明した原因：悪用された脆弱性と、決済画面が改ざんされた方法");

    h(doc, "5. 二次被害又はそのおそれの有無及びその内容");
    if exposed.iter().any(|e| e == "card_number") {
        doc.p("クレジットカード番号等が漏えいしたおそれがあり、クレジットカードの不正利用による財産的被害が生じるおそれがあります。");
    }
    doc.todo_ja("カード会社から報告された不正利用の有無と件数");

    h(doc, "6. 本人への対応の実施状況");
    let mut items = Vec::new();
    for c in &data.campaigns {
        let name = campaign_ja(&c.name);
        let sent = match (&c.first_sent, &c.last_sent) {
            (Some(a), Some(b)) if a.get(..10) == b.get(..10) => {
                format!("{}に送信", ja.date(a.get(..10).unwrap_or(a)))
            }
            (Some(a), Some(b)) => format!(
                "{}から{}にかけて送信",
                ja.date(a.get(..10).unwrap_or(a)),
                ja.date(b.get(..10).unwrap_or(b))
            ),
            _ => "未送信".into(),
        };
        if c.first_sent.is_some() {
            items.push(format!(
                "{name}：{sent}。メール送信済み{}名（送信保留{}名、送信失敗{}名、結果不明{}名）。現在の対象者のうち未通知{}名。",
                c.accepted, c.deferred, c.failed, c.unknown, c.not_in_campaign
            ));
        } else {
            items.push(format!(
                "{name}：{sent}（通知文{}通を作成済み）。",
                c.rendered
            ));
        }
    }
    if let Some(p) = data.notices.as_ref().and_then(|n| n.no_email) {
        items.push(format!(
            "メールアドレスが使用できないお客様{p}名には、郵送等で通知します。"
        ));
    }
    if items.is_empty() {
        doc.p("本人への通知は未実施です。");
    } else {
        doc.list(items);
    }
    doc.todo_ja("郵送による通知の日付、お問い合わせ窓口の開設日、その他の対応（電話等）");

    h(doc, "7. 公表の実施状況");
    doc.todo_ja("公表の有無、公表日と公表の方法（自社ウェブサイト等）");

    h(doc, "8. 再発防止のための措置");
    doc.todo_ja("実施済み及び実施予定の措置（例：決済方法をリンク型・リダイレクト型に変更、サイトの再構築）");

    h(doc, "9. その他参考となる事項");
    let labels = [
        ("name", "お問い合わせ窓口"),
        ("phone", "電話番号"),
        ("hours", "受付時間"),
        ("email", "メールアドレス"),
        ("url", "ウェブサイト"),
    ];
    if !ctx.contact.is_empty() {
        doc.list(
            ctx.contact
                .iter()
                .map(|(k, v)| {
                    let label = labels
                        .iter()
                        .find(|(key, _)| key == k)
                        .map_or(k.as_str(), |(_, l)| l);
                    format!("{label}：{v}")
                })
                .collect(),
        );
    }
    doc.todo_ja("警察への届出、カード会社・決済代行会社への報告、その他委員会に伝えるべき事項");
}

fn window_check(doc: &mut Doc, data: &CaseData) {
    let l = doc.lang;
    doc.h2(l.t("Window check", "期間の検証"));
    let Some(status) = data.text("window_check.status") else {
        doc.p(l.t("The access logs were not analysed (no [logs] in incident.toml, or `skimtrace evidence` was not run): the window rests on the declared dates alone.",
            "アクセスログは分析されていません（incident.toml に [logs] がないか、`skimtrace evidence` を実行していません）。期間は設定された日付のみに基づいています。"));
        return;
    };
    let mut rows = vec![vec![
        Cell::text(l.t("status", "結果")),
        Cell::figure(status, "window_check.status"),
    ]];
    for (label, key) in [
        (
            l.t("earliest indicator", "最初の痕跡"),
            "window_check.earliest_indicator.time",
        ),
        (
            l.t("latest indicator", "最後の痕跡"),
            "window_check.latest_indicator.time",
        ),
    ] {
        if let Some(t) = data.text(key) {
            rows.push(vec![Cell::text(label), Cell::figure(t, key)]);
        }
    }
    doc.table(&["", l.t("value", "値")], rows);
    doc.list(strings(data.get("window_check.warnings")));
}

/// Per campaign: when it ran, whom it reached, and how its list compares with the current one
/// (people it reached who are no longer affected may be owed a correction; people now affected
/// whom it never reached still need it).
fn notifications(doc: &mut Doc, data: &CaseData) {
    if data.campaigns.is_empty() {
        return;
    }
    let l = doc.lang;
    doc.h2(l.t("Notifications", "本人への通知"));
    doc.p(l.t("Each campaign (preliminary warning, formal notice, correction…) with what its journal and its rendered list say, compared with the current affected list of this folder.",
        "通知の種類（事前のご連絡、本通知、訂正など）ごとに、送信記録と作成済みの通知文の内容を、このフォルダの現在の対象者一覧と比べたものです。"));
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
                    (Some(a), Some(b)) => format!("{a}{}{b}", l.t(" to ", "～")),
                    _ => l.t("not sent", "未送信").to_string(),
                }),
                Cell::text(c.still_affected.to_string()),
                Cell::text(c.no_longer_affected.to_string()),
                Cell::text(c.not_in_campaign.to_string()),
            ]
        })
        .collect();
    doc.table(
        &[
            l.t("campaign", "通知"),
            l.t("rendered", "作成"),
            l.t("accepted", "送信済み"),
            l.t("deferred / failed / unknown", "保留／失敗／不明"),
            l.t("sent", "送信日時"),
            l.t("still affected", "現在も対象"),
            l.t("no longer affected", "対象外になった"),
            l.t("affected, not reached", "対象だが未通知"),
        ],
        rows,
    );
}

fn recon_row(data: &CaseData, base: &str, cols: &[&str], l: Lang) -> Vec<Cell> {
    let mut row = vec![Cell::code(
        data.text(&format!("{base}.path"))
            .or(data.text(&format!("{base}.file")))
            .unwrap_or(l.t("(total)", "（合計）")),
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
    row.push(Cell::text(if first == sum {
        l.t("yes", "一致")
    } else {
        l.t("NO", "不一致")
    }));
    row
}

fn reconciliation(doc: &mut Doc, data: &CaseData) {
    let l = doc.lang;
    doc.h2(l.t("Reconciliation of every input row", "全入力行の照合"));
    doc.p(l.t("Every row read ends in exactly one class; a row is rejected only when it is malformed or its time cannot be read (rejected.csv gives file:line and the reason).",
        "読み込んだ行はすべて、いずれか1つの分類に入ります。行を除外するのは、形式が不正か日時を読み取れない場合だけです（rejected.csv にファイル:行と理由があります）。"));
    let n_files = |key: &str| data.get(key).and_then(Value::as_array).map_or(0, Vec::len);
    let cols = [
        "rows_read",
        "in_window",
        "out_of_window",
        "not_card",
        "rejected",
    ];
    let mut rows: Vec<Vec<Cell>> = (0..n_files("files"))
        .map(|i| recon_row(data, &format!("files.{i}"), &cols, l))
        .collect();
    if !rows.is_empty() {
        let mut total = vec![Cell::text(l.t("total", "合計"))];
        let mut sum = 0;
        for (i, c) in cols.iter().enumerate() {
            let n = data.count(c);
            if i > 0 {
                sum += n;
            }
            total.push(Cell::figure(n, *c));
        }
        total.push(Cell::text(if data.count("rows_read") == sum {
            l.t("yes", "一致")
        } else {
            l.t("NO", "不一致")
        }));
        rows.push(total);
        doc.h3(l.t("Order exports", "注文データ"));
        doc.table(
            &[
                l.t("file", "ファイル"),
                l.t("rows read", "読込行"),
                l.t("in window", "期間内"),
                l.t("out of window", "期間外"),
                l.t("not card", "カード以外"),
                l.t("rejected", "除外"),
                l.t("reconciles", "照合"),
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
        .map(|i| recon_row(data, &format!("payments.files.{i}"), &pcols, l))
        .collect();
    if !rows.is_empty() {
        rows.push(recon_row(data, "payments", &pcols, l));
        doc.h3(l.t("Payment exports", "決済データ"));
        doc.table(
            &[
                l.t("file", "ファイル"),
                l.t("rows read", "読込行"),
                l.t("matched", "注文と照合"),
                l.t("unmatched in window", "期間内・照合なし"),
                l.t("out of window", "期間外"),
                l.t("not card", "カード以外"),
                l.t("rejected", "除外"),
                l.t("reconciles", "照合"),
            ],
            rows,
        );
        doc.p(format!(
            "{}{}{}",
            l.t(
                "In-window card orders that no charge joined (orders_without_payment): ",
                "決済と照合できなかった期間内のカード注文（orders_without_payment）："
            ),
            data.count("orders_without_payment"),
            l.t(".", "件。")
        ));
    }
    let lcols = ["lines_read", "parsed", "malformed"];
    let mut rows: Vec<Vec<Cell>> = (0..n_files("evidence.files"))
        .map(|i| recon_row(data, &format!("evidence.files.{i}"), &lcols, l))
        .collect();
    if !rows.is_empty() {
        rows.push(recon_row(data, "evidence.totals", &lcols, l));
        doc.h3(l.t("Access logs", "アクセスログ"));
        doc.table(
            &[
                l.t("file", "ファイル"),
                l.t("lines read", "読込行"),
                l.t("parsed", "解析"),
                l.t("malformed", "形式不正"),
                l.t("reconciles", "照合"),
            ],
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
