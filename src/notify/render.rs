//! Filling the templates: one [`Notice`] per customer from a minijinja template set.
//!
//! Template sets live under `<campaign>/<locale>/` (`notice/ja/subject.txt.j2`, `body.txt.j2`,
//! optional `body.html.j2`). The built-in sets for `ja` and `en` are embedded in the binary;
//! `skimtrace templates init DIR` writes them out for counsel to edit, `--templates DIR` reads
//! them back. Legal wording lives in the templates, never in code.
//!
//! Why values are formatted here and not in the template: dates (`2020年4月27日` /
//! `April 27, 2020`), the window text and the cards must come from the same data that decided
//! who is affected, and minijinja's date filters are in flux. The templates get strings.
//!
//! Undefined variables are errors (`UndefinedBehavior::Strict`): a notice must never go out
//! with an empty field. HTML templates (`.html.j2`) are auto-escaped, so a customer named
//! `<script>` is shown as text; values are never evaluated as template code.

use super::input::Recipient;
use super::settings::{ContactConfig, NotifyConfig};
use super::Error;
use jiff::civil::Date;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::path::Path;

/// The built-in templates, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "notice/ja/subject.txt.j2",
        include_str!("templates/notice/ja/subject.txt.j2"),
    ),
    (
        "notice/ja/body.txt.j2",
        include_str!("templates/notice/ja/body.txt.j2"),
    ),
    (
        "notice/ja/body.html.j2",
        include_str!("templates/notice/ja/body.html.j2"),
    ),
    (
        "notice/en/subject.txt.j2",
        include_str!("templates/notice/en/subject.txt.j2"),
    ),
    (
        "notice/en/body.txt.j2",
        include_str!("templates/notice/en/body.txt.j2"),
    ),
    (
        "notice/en/body.html.j2",
        include_str!("templates/notice/en/body.html.j2"),
    ),
    (
        "preliminary/ja/subject.txt.j2",
        include_str!("templates/preliminary/ja/subject.txt.j2"),
    ),
    (
        "preliminary/ja/body.txt.j2",
        include_str!("templates/preliminary/ja/body.txt.j2"),
    ),
    (
        "preliminary/en/subject.txt.j2",
        include_str!("templates/preliminary/en/subject.txt.j2"),
    ),
    (
        "preliminary/en/body.txt.j2",
        include_str!("templates/preliminary/en/body.txt.j2"),
    ),
    (
        "correction/ja/subject.txt.j2",
        include_str!("templates/correction/ja/subject.txt.j2"),
    ),
    (
        "correction/ja/body.txt.j2",
        include_str!("templates/correction/ja/body.txt.j2"),
    ),
    (
        "correction/en/subject.txt.j2",
        include_str!("templates/correction/en/subject.txt.j2"),
    ),
    (
        "correction/en/body.txt.j2",
        include_str!("templates/correction/en/body.txt.j2"),
    ),
];

/// The campaigns with built-in templates, in the order a case sends them.
pub const BUILTIN_CAMPAIGNS: &[&str] = &["preliminary", "notice", "correction"];

/// What a campaign's templates may use. The variables that only make sense in one wave are
/// left out of the others, so a template that uses them fails the check (strict undefined)
/// instead of sending a wrong statement:
/// - `preliminary` (the warning while the investigation runs) has no `window`: the period is
///   not known yet;
/// - `correction` (to someone told before who is not affected after all) has the final
///   `window` and `orders`, but no `cards`, `exposed`, `exposed_text`, `password_exposed`,
///   `security_code_exposed` or `reissue_free`: nothing of theirs was exposed;
/// - `notice` and any campaign of your own (`--templates DIR`) have everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wave {
    Preliminary,
    Notice,
    Correction,
}

impl Wave {
    /// The wave of a campaign name; names other than `preliminary` and `correction` get every
    /// variable.
    pub fn of(campaign: &str) -> Wave {
        match campaign {
            "preliminary" => Wave::Preliminary,
            "correction" => Wave::Correction,
            _ => Wave::Notice,
        }
    }
}

/// The exposed-item keys `incident.exposed` may hold, with their `ja` and `en` wording.
pub const EXPOSED_ITEMS: &[(&str, &str, &str)] = &[
    ("card_holder", "カード名義人名", "cardholder name"),
    ("card_number", "クレジットカード番号", "card number"),
    ("expiry", "カード有効期限", "card expiration date"),
    ("security_code", "セキュリティコード", "card security code"),
    ("login_id", "ログインID", "login ID"),
    ("password", "パスワード", "password"),
    ("email", "メールアドレス", "email address"),
    ("address", "住所", "postal address"),
    ("phone", "電話番号", "phone number"),
    ("name", "氏名", "name"),
];

/// A rendered notice, before it becomes a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub locale: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// A compiled set of templates (built-in or from a folder); compiled once per run.
pub struct Templates {
    env: Environment<'static>,
    names: Vec<String>,
    source: String,
}

impl Templates {
    /// The built-in `ja` and `en` templates.
    pub fn builtin() -> Result<Templates, Error> {
        let mut t = Templates::empty("built-in templates".into());
        for (name, src) in BUILTIN {
            t.add(name.to_string(), src.to_string())?;
        }
        Ok(t)
    }

    /// Every `*.j2` file under `dir`, named by its path relative to `dir`.
    pub fn from_dir(dir: &Path) -> Result<Templates, super::Error> {
        if !dir.is_dir() {
            return Err(super::Error::Usage(format!(
                "--templates {}: not a folder; create one with `skimtrace templates init {}`",
                dir.display(),
                dir.display()
            )));
        }
        let mut t = Templates::empty(dir.display().to_string());
        let mut files = Vec::new();
        collect_j2(dir, dir, &mut files)?;
        files.sort();
        for (name, path) in files {
            let src = std::fs::read_to_string(&path).map_err(|e| super::Error::io(&path, e))?;
            t.add(name, src)?;
        }
        Ok(t)
    }

    fn empty(source: String) -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Every value a template prints passes through the card detector: a notice never shows
        // a card number, whatever field (or config value) it came from.
        env.set_formatter(|out, state, value| {
            if let Some(s) = value.as_str() {
                if let (std::borrow::Cow::Owned(m), _) = crate::cards::detect::mask(s) {
                    return minijinja::escape_formatter(out, state, &minijinja::Value::from(m));
                }
            }
            minijinja::escape_formatter(out, state, value)
        });
        // Block tags on lines of their own leave no blank lines behind, and a body keeps its
        // final newline: templates then read like the notice they produce.
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("default delimiters are valid"),
        );
        Templates {
            env,
            names: Vec::new(),
            source,
        }
    }

    fn add(&mut self, name: String, src: String) -> Result<(), Error> {
        self.env
            .add_template_owned(name.clone(), src)
            .map_err(|e| template_error(&name, &e))?;
        self.names.push(name);
        Ok(())
    }

    /// The locales that have a complete set (subject and body) for `campaign`.
    pub fn locales(&self, campaign: &str) -> Vec<String> {
        let prefix = format!("{campaign}/");
        let mut out: Vec<String> = self
            .names
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix))
            .filter_map(|rest| rest.strip_suffix("/subject.txt.j2"))
            .filter(|loc| self.has(&format!("{campaign}/{loc}/body.txt.j2")))
            .map(str::to_string)
            .collect();
        out.sort();
        out
    }

    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The locale whose templates serve a customer who asked for `wanted`: the same locale,
    /// else its language (`en-US` → `en`), else `fallback`, else `en`, else any.
    pub fn pick_locale(&self, campaign: &str, wanted: &str, fallback: &str) -> Option<String> {
        pick_from(&self.locales(campaign), wanted, fallback).map(str::to_string)
    }

    /// Checks that `campaign` has at least one template set.
    pub fn require(&self, campaign: &str) -> Result<(), Error> {
        if self.locales(campaign).is_empty() {
            return Err(Error::Settings(format!(
                "{}: no templates for campaign {campaign:?} (expected {campaign}/<locale>/subject.txt.j2 and body.txt.j2); built-in campaigns are {}: write them out with `skimtrace templates init DIR`, add {campaign}/ja and {campaign}/en there, and pass --templates DIR",
                self.source,
                BUILTIN_CAMPAIGNS.join(", ")
            )));
        }
        Ok(())
    }

    /// Renders one customer's notice in `locale`.
    pub fn render(&self, campaign: &str, locale: &str, ctx: &Context) -> Result<Notice, Error> {
        let value = minijinja::Value::from(minijinja::value::Serde(ctx));
        let one = |part: &str| -> Result<String, Error> {
            let name = format!("{campaign}/{locale}/{part}");
            let t = self
                .env
                .get_template(&name)
                .map_err(|e| template_error(&name, &e))?;
            t.render(value.clone())
                .map_err(|e| template_error(&name, &e))
        };
        let subject = one("subject.txt.j2")?;
        let text = one("body.txt.j2")?;
        let html_name = format!("{campaign}/{locale}/body.html.j2");
        let html = if self.has(&html_name) {
            Some(one("body.html.j2")?)
        } else {
            None
        };
        Ok(Notice {
            locale: locale.to_string(),
            subject: subject.trim().to_string(),
            text,
            html,
        })
    }
}

/// [`Templates::pick_locale`] among locales listed beforehand (`have`, from
/// [`Templates::locales`]), for a caller that picks for many customers.
pub fn pick_from<'h>(have: &'h [String], wanted: &str, fallback: &str) -> Option<&'h str> {
    let wanted = wanted.trim().to_ascii_lowercase().replace('_', "-");
    let lang = wanted.split('-').next().unwrap_or("");
    let found = [wanted.as_str(), lang, fallback, "en"]
        .into_iter()
        .find_map(|c| have.iter().find(|h| *h == c));
    found.or_else(|| have.first()).map(String::as_str)
}

fn collect_j2(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<(), super::Error> {
    for e in std::fs::read_dir(dir).map_err(|e| super::Error::io(dir, e))? {
        let p = e.map_err(|e| super::Error::io(dir, e))?.path();
        if p.is_dir() {
            collect_j2(root, &p, out)?;
        } else if p.extension().is_some_and(|x| x == "j2") {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            out.push((rel.to_string_lossy().replace('\\', "/"), p));
        }
    }
    Ok(())
}

fn template_error(name: &str, e: &minijinja::Error) -> Error {
    // minijinja's Display names the kind and detail; add the line where it knows one.
    let mut message = e.to_string();
    if let Some(line) = e.line() {
        if !message.contains(&format!(":{line}")) {
            message = format!("line {line}: {message}");
        }
    }
    Error::Template {
        name: name.to_string(),
        message,
    }
}

/// Everything a template may use. Every key is always present (possibly empty or `none`), so
/// strict undefined only fires on a real typo.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub campaign: String,
    pub locale: String,
    pub customer: CustomerCtx,
    /// Not in `correction` (see [`Wave`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards: Option<Vec<CardCtx>>,
    pub orders: OrdersCtx,
    pub incident: IncidentCtx,
    /// Not in `preliminary`: the window is not final yet (see [`Wave`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowCtx>,
    /// When the company learned of the compromise, formatted; `none` when not configured.
    pub discovered: Option<String>,
    /// The exposed items, localised, in the config's order. Not in `correction`, like the
    /// four below.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed: Option<Vec<String>>,
    /// The same joined (`、` / `, `).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_exposed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_code_exposed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reissue_free: Option<bool>,
    pub contact: ContactConfig,
    /// The notice's date, formatted.
    pub notice_date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerCtx {
    pub id: String,
    /// The name with control characters removed; may be empty.
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardCtx {
    pub brand: String,
    pub last4: String,
    /// `VISA（下4桁 1111）` / `Visa ending in 1111`.
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrdersCtx {
    pub count: usize,
    pub first: String,
    pub last: String,
    /// One date, or `first～last` / `first to last`.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentCtx {
    pub id: String,
    pub name: String,
    pub company: String,
    pub shop: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowCtx {
    pub start: String,
    pub end: String,
    /// `2020年4月27日～2021年12月22日` / `April 27, 2020 to December 22, 2021`.
    pub text: String,
}

/// What is the same for every customer of a run: the incident, window and config.
#[derive(Debug, Clone)]
pub struct Case {
    pub campaign: String,
    pub incident: IncidentCtx,
    pub first_day: Date,
    pub last_day: Date,
    pub discovered: Option<Date>,
    /// Keys of `incident.exposed`, validated.
    pub exposed: Vec<String>,
    pub notify: NotifyConfig,
    pub contact: ContactConfig,
    pub notice_date: Date,
}

impl Case {
    /// Validates `incident.exposed` keys; an unknown one is a config error naming the list.
    pub fn check_exposed(items: &[String]) -> Result<(), Error> {
        for it in items {
            if !EXPOSED_ITEMS.iter().any(|(k, _, _)| k == it) {
                let known: Vec<&str> = EXPOSED_ITEMS.iter().map(|(k, _, _)| *k).collect();
                return Err(Error::Settings(format!(
                    "incident.exposed: unknown item {it:?}; use any of {}",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The parts of the template values that are the same for every customer in `locale`
    /// (window, dates, exposed items), formatted once per run and locale.
    pub fn fixed(&self, locale: &str) -> LocaleFixed {
        let ja = is_ja(locale);
        let exposed: Vec<String> = self
            .exposed
            .iter()
            .filter_map(|k| EXPOSED_ITEMS.iter().find(|(key, _, _)| key == k))
            .map(|(_, j, e)| if ja { j } else { e }.to_string())
            .collect();
        LocaleFixed {
            window: WindowCtx {
                start: format_date(self.first_day, locale),
                end: format_date(self.last_day, locale),
                text: range_text(self.first_day, self.last_day, locale),
            },
            discovered: self.discovered.map(|d| format_date(d, locale)),
            exposed_text: exposed.join(if ja { "、" } else { ", " }),
            exposed,
            notice_date: format_date(self.notice_date, locale),
        }
    }

    /// The template values for one customer in `locale`.
    pub fn context(&self, r: &Recipient, locale: &str) -> Context {
        self.context_with(r, locale, &self.fixed(locale))
    }

    /// The template values for one customer in `locale`, with that locale's [`Case::fixed`]
    /// parts computed beforehand.
    pub fn context_with(&self, r: &Recipient, locale: &str, fixed: &LocaleFixed) -> Context {
        let first = order_date(&r.first_order_at);
        let last = order_date(&r.last_order_at);
        let fmt_opt = |d: Option<Date>| d.map(|d| format_date(d, locale)).unwrap_or_default();
        let orders_text = match (first, last) {
            (Some(a), Some(b)) if a != b => range_text(a, b, locale),
            (Some(a), _) | (None, Some(a)) => format_date(a, locale),
            (None, None) => String::new(),
        };
        let wave = Wave::of(&self.campaign);
        let exposure = wave != Wave::Correction;
        Context {
            campaign: self.campaign.clone(),
            locale: locale.to_string(),
            customer: CustomerCtx {
                id: r.customer_id.clone(),
                name: clean_name(&r.name),
                email: r.email.clone(),
            },
            cards: keep(
                exposure,
                r.cards
                    .iter()
                    .map(|c| card_ctx(&c.brand, &c.last4, locale))
                    .collect(),
            ),
            orders: OrdersCtx {
                count: r.order_count,
                first: fmt_opt(first),
                last: fmt_opt(last),
                text: orders_text,
            },
            incident: self.incident.clone(),
            window: (wave != Wave::Preliminary).then(|| fixed.window.clone()),
            discovered: fixed.discovered.clone(),
            exposed_text: keep(exposure, fixed.exposed_text.clone()),
            exposed: keep(exposure, fixed.exposed.clone()),
            password_exposed: keep(
                exposure,
                self.exposed
                    .iter()
                    .any(|k| k == "password" || k == "login_id"),
            ),
            security_code_exposed: keep(
                exposure,
                self.exposed.iter().any(|k| k == "security_code"),
            ),
            reissue_free: keep(exposure, self.notify.reissue_free),
            contact: self.contact.clone(),
            notice_date: fixed.notice_date.clone(),
        }
    }
}

/// What [`Case::fixed`] formats once per locale.
#[derive(Debug, Clone)]
pub struct LocaleFixed {
    pub window: WindowCtx,
    pub discovered: Option<String>,
    pub exposed: Vec<String>,
    pub exposed_text: String,
    pub notice_date: String,
}

/// `Some(v)` when the wave has the variable.
fn keep<T>(yes: bool, v: T) -> Option<T> {
    yes.then_some(v)
}

fn is_ja(locale: &str) -> bool {
    locale == "ja" || locale.starts_with("ja-")
}

/// A name as it may appear in a notice and a header: control characters and direction
/// overrides replaced, whitespace runs collapsed, and masked again: a line separator
/// (U+2028) between two halves of a card number becomes a space that joins them.
pub fn clean_name(name: &str) -> String {
    crate::cards::detect::mask_string(
        crate::text::scrub_controls(name)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// `2020年4月27日` for `ja`, `April 27, 2020` otherwise.
pub fn format_date(d: Date, locale: &str) -> String {
    if is_ja(locale) {
        format!("{}年{}月{}日", d.year(), d.month(), d.day())
    } else {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        format!(
            "{} {}, {}",
            MONTHS[(d.month() - 1) as usize],
            d.day(),
            d.year()
        )
    }
}

/// `A～B` for `ja`, `A to B` otherwise.
pub fn range_text(a: Date, b: Date, locale: &str) -> String {
    if is_ja(locale) {
        format!("{}～{}", format_date(a, locale), format_date(b, locale))
    } else {
        format!("{} to {}", format_date(a, locale), format_date(b, locale))
    }
}

/// The local date of an `affected.jsonl` timestamp (written in the shop's zone, with its
/// offset, so the date part is already the local date).
fn order_date(ts: &str) -> Option<Date> {
    ts.get(..10)?.parse().ok()
}

fn card_ctx(brand: &str, last4: &str, locale: &str) -> CardCtx {
    let shown = match brand {
        "VISA" => "Visa",
        "MASTERCARD" => "Mastercard",
        "AMEX" => "American Express",
        "JCB" => "JCB",
        "DINERS" => "Diners Club",
        "DISCOVER" => "Discover",
        "UNIONPAY" => "UnionPay",
        "DISCOVER/UNIONPAY" => "Discover/UnionPay",
        _ => "",
    };
    // Only four digits ever reach a notice, whatever the input held.
    let last4: String = if last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()) {
        last4.to_string()
    } else {
        String::new()
    };
    let label = match (is_ja(locale), shown.is_empty(), last4.is_empty()) {
        (true, false, false) => format!("{shown}（下4桁 {last4}）"),
        (true, true, false) => format!("クレジットカード（下4桁 {last4}）"),
        (true, false, true) => format!("{shown}（番号不明）"),
        (true, true, true) => "クレジットカード（番号不明）".to_string(),
        (false, false, false) => format!("{shown} card ending in {last4}"),
        (false, true, false) => format!("Card ending in {last4}"),
        (false, false, true) => format!("{shown} card"),
        (false, true, true) => "Payment card".to_string(),
    };
    CardCtx {
        brand: shown.to_string(),
        last4,
        label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Halves of a card number split by a line separator, a next-line or a carriage return
    /// (no separator of a card number) were joined by the collapsing into one with a space,
    /// and the check then refused every customer's notice: the cleaned name is masked.
    #[test]
    fn a_cleaned_name_never_joins_a_card_number() {
        for c in ['\u{2028}', '\u{85}', '\r', '\u{2029}'] {
            let name = clean_name(&format!("Sato {}{c}{}", "45320192", "73641232"));
            assert_eq!(name, "Sato 453201** ****1232", "{c:?}");
        }
    }

    #[test]
    fn dates_per_locale() {
        let a: Date = "2020-04-27".parse().unwrap();
        let b: Date = "2021-12-22".parse().unwrap();
        assert_eq!(range_text(a, b, "ja"), "2020年4月27日～2021年12月22日");
        assert_eq!(
            range_text(a, b, "en"),
            "April 27, 2020 to December 22, 2021"
        );
    }

    #[test]
    fn cards_show_brand_and_last4_only() {
        assert_eq!(card_ctx("VISA", "1111", "ja").label, "Visa（下4桁 1111）");
        assert_eq!(
            card_ctx("JCB", "0000", "en").label,
            "JCB card ending in 0000"
        );
        // A malformed last4 (more digits) never reaches the text.
        assert_eq!(card_ctx("VISA", "41111111", "en").label, "Visa card");
    }

    #[test]
    fn undefined_variables_are_errors() {
        let mut t = Templates::empty("test".into());
        t.add("notice/xx/subject.txt.j2".into(), "{{ nope }}".into())
            .unwrap();
        t.add("notice/xx/body.txt.j2".into(), "x".into()).unwrap();
        let e = t.render("notice", "xx", &test_context()).unwrap_err();
        assert!(e.to_string().contains("undefined"), "{e}");
    }

    #[test]
    fn builtins_render_both_locales() {
        let t = Templates::builtin().unwrap();
        assert_eq!(t.locales("notice"), vec!["en", "ja"]);
        for loc in ["ja", "en"] {
            let n = t.render("notice", loc, &test_context()).unwrap();
            assert!(!n.subject.is_empty());
            assert!(n.html.is_some());
        }
        assert_eq!(
            t.pick_locale("notice", "en-US", "ja").as_deref(),
            Some("en")
        );
        assert_eq!(t.pick_locale("notice", "fr", "ja").as_deref(), Some("ja"));
    }

    #[test]
    fn each_wave_has_its_own_variables_and_builtins_render() {
        let t = Templates::builtin().unwrap();
        for campaign in BUILTIN_CAMPAIGNS {
            assert_eq!(t.locales(campaign), vec!["en", "ja"], "{campaign}");
            for loc in ["ja", "en"] {
                let n = t
                    .render(campaign, loc, &wave_context(campaign, loc))
                    .unwrap();
                assert!(!n.subject.is_empty(), "{campaign}/{loc}");
            }
        }
        // The window is not final in a preliminary warning: using it is an error there.
        let mut t = Templates::empty("test".into());
        for c in ["preliminary", "notice", "correction"] {
            t.add(format!("{c}/xx/subject.txt.j2"), "{{ window.text }}".into())
                .unwrap();
            t.add(format!("{c}/xx/body.txt.j2"), "x".into()).unwrap();
        }
        let e = t
            .render("preliminary", "xx", &wave_context("preliminary", "xx"))
            .unwrap_err();
        assert!(e.to_string().contains("undefined"), "{e}");
        assert!(t
            .render("notice", "xx", &wave_context("notice", "xx"))
            .is_ok());
        assert!(t
            .render("correction", "xx", &wave_context("correction", "xx"))
            .is_ok());
        // Nothing of theirs was exposed: a correction has no cards.
        let mut t = Templates::empty("test".into());
        t.add("correction/xx/subject.txt.j2".into(), "{{ cards }}".into())
            .unwrap();
        t.add("correction/xx/body.txt.j2".into(), "x".into())
            .unwrap();
        assert!(t
            .render("correction", "xx", &wave_context("correction", "xx"))
            .is_err());
    }

    fn wave_context(campaign: &str, locale: &str) -> Context {
        let case = Case {
            campaign: campaign.into(),
            ..test_case()
        };
        let r: Recipient = serde_json::from_str(
            r#"{"customer_id":"c-1","name":"A","email":"a@example.com","cards":[{"brand":"VISA","last4":"1111"}],"order_count":1,"first_order_at":"2021-03-01T10:00:00+09:00","last_order_at":"2021-03-01T10:00:00+09:00"}"#,
        )
        .unwrap();
        case.context(&r, locale)
    }

    fn test_case() -> Case {
        Case {
            campaign: "notice".into(),
            incident: IncidentCtx {
                id: "t".into(),
                name: "t".into(),
                company: "Co".into(),
                shop: "Shop".into(),
            },
            first_day: "2020-04-27".parse().unwrap(),
            last_day: "2021-12-22".parse().unwrap(),
            discovered: None,
            exposed: vec!["card_number".into(), "password".into()],
            notify: NotifyConfig::default(),
            contact: ContactConfig::default(),
            notice_date: "2022-08-18".parse().unwrap(),
        }
    }

    pub(crate) fn test_context() -> Context {
        let case = test_case();
        let r: Recipient = serde_json::from_str(
            r#"{"customer_id":"c-1","name":"<b>{{ 7*7 }}</b>","email":"a@example.com","cards":[{"brand":"VISA","last4":"1111"}],"order_count":1,"first_order_at":"2021-03-01T10:00:00+09:00","last_order_at":"2021-03-01T10:00:00+09:00"}"#,
        )
        .unwrap();
        case.context(&r, "ja")
    }
}
