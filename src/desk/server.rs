//! The desk's web server: sign-in, search, sign-out, over HTTP on loopback or HTTPS elsewhere.
//!
//! Why axum on tokio: it is the most used and maintained Rust web stack (hyper underneath, the
//! tokio project's own framework), needs no code generation or macros beyond plain functions,
//! and runs on the rustls the crate already builds with for TLS. The pages are rendered here
//! with minijinja (auto-escaped HTML) and carry no script at all, so the Content Security
//! Policy forbids every script and any resource from elsewhere: the desk works offline in any
//! browser.
//!
//! Security, in the order a request meets it:
//! - every response carries the security headers ([`headers`]): CSP, no framing, no sniffing,
//!   no referrer to other sites, `Cache-Control: no-store` (a result page names a person);
//! - sessions are random 256-bit ids in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` and
//!   `__Host-` over TLS), idle after 30 minutes, ended after 12 hours;
//! - every form carries a CSRF token bound to the session (sign-in: to a pre-session cookie),
//!   compared in constant time, and a cross-site `Origin` or `Sec-Fetch-Site` is refused;
//! - each operator has a search budget per minute; the journal line is written and fsynced
//!   before any answer is shown;
//! - sign-in failures are limited per minute for the whole desk;
//! - the finished page goes through the card-number detector before it leaves, as a last
//!   guard.

use super::index::{Found, Index, Key, KeyKind, Notice, Person};
use super::journal::{self, Journal};
use super::operators::{self, Operators};
use crate::cards::{detect, FingerprintKey};
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IDLE: Duration = Duration::from_secs(30 * 60);
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Failed sign-ins per minute, for the whole desk, before it answers 429.
const SIGNIN_FAILURES: usize = 10;
/// People shown for one search at most.
pub const LIMIT: usize = 20;

/// Facts about the case shown on every page and used by the answer scripts.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CaseInfo {
    pub name: String,
    pub company: String,
    pub window: String,
    pub window_start: String,
    pub window_end: String,
    pub people: usize,
    pub campaigns: String,
    pub built_at: String,
}

struct Session {
    operator: String,
    csrf: String,
    created: Instant,
    last: Instant,
}

/// The running desk: the index, the journal, the sessions.
pub struct Desk {
    index: Index,
    key: FingerprintKey,
    case: CaseInfo,
    journal: Mutex<Journal>,
    operators: PathBuf,
    sessions: Mutex<HashMap<String, Session>>,
    searches: Mutex<HashMap<String, VecDeque<Instant>>>,
    signin_failures: Mutex<VecDeque<Instant>>,
    pages: minijinja::Environment<'static>,
    answers: minijinja::Environment<'static>,
    secure: bool,
    rate: usize,
    loopback: bool,
}

/// How the desk is set up.
pub struct Settings {
    pub operators: PathBuf,
    /// Searches per operator per minute.
    pub rate_per_minute: usize,
    /// Served over TLS: cookies get `Secure` and `__Host-`, and HSTS is sent.
    pub secure: bool,
    /// Bound to a loopback address: only loopback host names are answered.
    pub loopback: bool,
}

const PAGES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("search.html", include_str!("templates/search.html")),
    ("result.html", include_str!("templates/result.html")),
    ("message.html", include_str!("templates/message.html")),
];

const CSS: &str = include_str!("templates/desk.css");

/// The built-in answer scripts, by template name.
pub const ANSWERS: &[(&str, &str)] = &[
    (
        "desk/ja/answer.found.txt.j2",
        include_str!("templates/desk/ja/answer.found.txt.j2"),
    ),
    (
        "desk/ja/answer.not_found.txt.j2",
        include_str!("templates/desk/ja/answer.not_found.txt.j2"),
    ),
    (
        "desk/en/answer.found.txt.j2",
        include_str!("templates/desk/en/answer.found.txt.j2"),
    ),
    (
        "desk/en/answer.not_found.txt.j2",
        include_str!("templates/desk/en/answer.not_found.txt.j2"),
    ),
];

fn template_error(name: &str, e: minijinja::Error) -> crate::Error {
    crate::notify::Error::Template {
        name: name.to_string(),
        message: format!("{e:#}"),
    }
    .into()
}

/// The answer scripts: the built-in ones, each replaced by `DIR/desk/<locale>/answer.*.j2`
/// where `templates` holds one. Every script is rendered once with sample values at start, so
/// a broken edit stops the desk before a caller hears it.
pub fn answer_templates(
    templates: Option<&std::path::Path>,
) -> crate::Result<minijinja::Environment<'static>> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for (name, src) in ANSWERS {
        let text = match templates.map(|d| d.join(name)) {
            Some(p) if p.is_file() => {
                std::fs::read_to_string(&p).map_err(|e| crate::Error::io(&p, e))?
            }
            _ => src.to_string(),
        };
        env.add_template_owned(name.to_string(), text)
            .map_err(|e| template_error(name, e))?;
    }
    if let Some(d) = templates {
        if !d.join("desk").is_dir() {
            return Err(crate::Error::usage(format!(
                "--templates {}: no desk/ folder in it; write the built-in scripts out with `skimtrace desk OUT --write-templates {}` and edit {}/desk/<locale>/answer.*.j2",
                d.display(),
                d.display(),
                d.display()
            )));
        }
    }
    let sample = sample_context();
    for (name, _) in ANSWERS {
        env.get_template(name)
            .and_then(|t| t.render(&sample))
            .map_err(|e| template_error(name, e))?;
    }
    Ok(env)
}

fn sample_context() -> minijinja::Value {
    minijinja::context! {
        name => "Sample Name", cards => vec!["VISA ****1111"], order_count => 2,
        first_order => "2021-01-01", last_order => "2021-02-01", window_start => "2020-04-27",
        window_end => "2021-12-22", company => "Company", shop => "Shop", postal => true,
        people => 1, searched => "e-mail address",
        notices => vec![minijinja::context! { campaign => "notice", campaign_label => "notice", status => "accepted", date => "2022-08-18" }],
    }
}

impl Desk {
    pub fn new(
        index: Index,
        key: FingerprintKey,
        mut case: CaseInfo,
        journal: Journal,
        answers: minijinja::Environment<'static>,
        settings: Settings,
    ) -> crate::Result<Desk> {
        let mut pages = minijinja::Environment::new();
        for (name, src) in PAGES {
            pages
                .add_template(name, src)
                .map_err(|e| template_error(name, e))?;
        }
        case.people = index.len();
        case.campaigns = index.campaigns.join(", ");
        Ok(Desk {
            index,
            key,
            case,
            journal: Mutex::new(journal),
            operators: settings.operators,
            sessions: Mutex::new(HashMap::new()),
            searches: Mutex::new(HashMap::new()),
            signin_failures: Mutex::new(VecDeque::new()),
            pages,
            answers,
            secure: settings.secure,
            rate: settings.rate_per_minute,
            loopback: settings.loopback,
        })
    }

    fn cookie_name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_string()
        }
    }

    fn set_cookie(&self, base: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut c = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie_name(base)
        );
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(a) = max_age {
            c.push_str(&format!("; Max-Age={a}"));
        }
        HeaderValue::from_str(&c).expect("cookie values are base32")
    }

    /// The signed-in session's operator and CSRF token, touching it; `None` when there is no
    /// live session (or its operator was removed).
    fn session(&self, headers: &HeaderMap) -> Option<(String, String, String)> {
        let id = cookie(headers, &self.cookie_name("desk"))?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, s| now - s.last < IDLE && now - s.created < LIFETIME);
        let s = sessions.get_mut(&id)?;
        let op = s.operator.clone();
        let still = Operators::load(&self.operators)
            .map(|o| o.has(&op))
            .unwrap_or(false);
        if !still {
            sessions.remove(&id);
            return None;
        }
        s.last = now;
        Some((id, op, s.csrf.clone()))
    }

    fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        self.render_status(StatusCode::OK, name, ctx)
    }

    fn render_status(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
        let base = minijinja::context! { case => ser(&self.case) };
        let ctx = minijinja::context! { ..ctx, ..base };
        match self.pages.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => {
                // The last guard: nothing that reads as a card number leaves the desk.
                let html = detect::mask(&html).0.into_owned();
                (
                    status,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    html,
                )
                    .into_response()
            }
            Err(e) => {
                tracing::error!("page {name}: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered",
                )
                    .into_response()
            }
        }
    }

    fn message(&self, status: StatusCode, title: &str, message: &str) -> Response {
        self.render_status(
            status,
            "message.html",
            minijinja::context! { title, message },
        )
    }

    fn signin_page(&self, status: StatusCode, error: Option<&str>) -> Response {
        let pre = operators::random_token();
        let mut r = self.render_status(
            status,
            "signin.html",
            minijinja::context! { csrf => &pre, error },
        );
        r.headers_mut().append(
            header::SET_COOKIE,
            self.set_cookie("desk-pre", &pre, Some(3600)),
        );
        r
    }

    fn search_page(
        &self,
        status: StatusCode,
        operator: &str,
        csrf: &str,
        error: Option<&str>,
        kind: &str,
    ) -> Response {
        self.render_status(
            status,
            "search.html",
            minijinja::context! {
                operator, csrf, error, kind, kinds => kinds(),
                recent => ser(self.recent(operator)),
            },
        )
    }

    fn recent(&self, operator: &str) -> Vec<journal::Line> {
        self.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recent(operator)
    }

    /// Whether the operator may search now (and counts the search when so).
    fn allow_search(&self, operator: &str) -> bool {
        let mut m = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        let q = m.entry(operator.to_string()).or_default();
        let now = Instant::now();
        while q
            .front()
            .is_some_and(|t| now - *t >= Duration::from_secs(60))
        {
            q.pop_front();
        }
        if q.len() >= self.rate {
            return false;
        }
        q.push_back(now);
        true
    }

    /// The answer script for what a search found.
    fn answer(&self, found: &Found<'_>, key: &Key, lang: &str) -> Result<String, String> {
        let locale = match lang {
            "ja" | "en" => lang.to_string(),
            _ => found
                .people
                .first()
                .map(|p| {
                    if p.locale.starts_with("en") {
                        "en"
                    } else {
                        "ja"
                    }
                })
                .unwrap_or("ja")
                .to_string(),
        };
        let ja = locale == "ja";
        let notice_ctx = |n: &Notice| {
            minijinja::context! {
                campaign => &n.campaign,
                campaign_label => campaign_label(&n.campaign, ja),
                status => &n.status,
                date => n.time.get(..10).unwrap_or_default(),
            }
        };
        let (name, ctx) = if let Some(p) = found.people.first() {
            let notices: Vec<minijinja::Value> = p.notices.iter().map(notice_ctx).collect();
            (
                format!("desk/{locale}/answer.found.txt.j2"),
                minijinja::context! {
                    name => &p.name,
                    cards => p.cards.iter().map(|c| format!("{} ****{}", c.brand, c.last4)).collect::<Vec<_>>(),
                    order_count => p.order_ids.len(),
                    first_order => p.first_order_at.get(..10).unwrap_or_default(),
                    last_order => p.last_order_at.get(..10).unwrap_or_default(),
                    postal => p.contact != "email" || !p.no_email.is_empty(),
                    people => found.people.len(),
                    notices,
                    searched => key_label(key.kind, ja),
                },
            )
        } else {
            let notices: Vec<minijinja::Value> =
                found.other_notices.iter().map(|n| notice_ctx(n)).collect();
            (
                format!("desk/{locale}/answer.not_found.txt.j2"),
                minijinja::context! {
                    notices, people => 0, searched => key_label(key.kind, ja),
                },
            )
        };
        let ctx = minijinja::context! {
            ..ctx,
            ..minijinja::context! {
                window_start => &self.case.window_start, window_end => &self.case.window_end,
                company => &self.case.company, shop => &self.case.name,
            }
        };
        self.answers
            .get_template(&name)
            .and_then(|t| t.render(ctx))
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("template {name}: {e:#}"))
    }
}

fn campaign_label(campaign: &str, ja: bool) -> String {
    match (campaign, ja) {
        ("preliminary", true) => "注意喚起のご連絡".into(),
        ("notice", true) => "お詫びとお知らせ".into(),
        ("correction", true) => "訂正のご連絡".into(),
        ("preliminary", false) => "preliminary warning".into(),
        ("notice", false) => "notice".into(),
        ("correction", false) => "correction".into(),
        (c, _) => c.to_string(),
    }
}

fn key_label(kind: KeyKind, ja: bool) -> &'static str {
    match (kind, ja) {
        (KeyKind::Email, true) => "メールアドレス",
        (KeyKind::Phone, true) => "電話番号",
        (KeyKind::Order, true) => "ご注文番号",
        (KeyKind::Charge, true) => "決済番号",
        (KeyKind::NameLast4, true) => "お名前とカード番号の下4桁",
        (KeyKind::Email, false) => "e-mail address",
        (KeyKind::Phone, false) => "phone number",
        (KeyKind::Order, false) => "order number",
        (KeyKind::Charge, false) => "charge id",
        (KeyKind::NameLast4, false) => "name and last 4 digits of the card",
    }
}

fn kinds() -> Vec<minijinja::Value> {
    KeyKind::ALL
        .iter()
        .map(|k| {
            let label = match k {
                KeyKind::Email => "e-mail address",
                KeyKind::Phone => "phone number",
                KeyKind::Order => "order number",
                KeyKind::Charge => "charge id (gateway)",
                KeyKind::NameLast4 => "name + last 4 of the card",
            };
            minijinja::context! { value => k.as_str(), label }
        })
        .collect()
}

/// A serialisable value for a template.
fn ser<T: Serialize>(x: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

/// A cookie's value from the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Equality that takes the same time wherever the first difference is.
fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A POST from another site (a form on a page elsewhere posting to the desk) is refused before
/// its token is even looked at.
fn cross_site(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site")
    {
        return true;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => {
            let o = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            o != Some(host)
        }
        (Some(_), None) => true,
        _ => false,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SigninForm {
    csrf: String,
    token: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchForm {
    csrf: String,
    kind: String,
    q: String,
    last4: String,
    lang: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

async fn index_page(State(d): State<Arc<Desk>>, headers: HeaderMap) -> Response {
    match d.session(&headers) {
        Some((_, op, csrf)) => d.search_page(StatusCode::OK, &op, &csrf, None, "email"),
        None => d.signin_page(StatusCode::OK, None),
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn signin(
    State(d): State<Arc<Desk>>,
    headers: HeaderMap,
    Form(f): Form<SigninForm>,
) -> Response {
    if cross_site(&headers) {
        return d.message(
            StatusCode::FORBIDDEN,
            "Refused",
            "the sign-in came from another site; open the desk's own page and sign in there",
        );
    }
    let pre = cookie(&headers, &d.cookie_name("desk-pre")).unwrap_or_default();
    if !ct_eq(&pre, &f.csrf) {
        return d.signin_page(
            StatusCode::FORBIDDEN,
            Some("the sign-in form expired or did not come from this desk; sign in again on this page"),
        );
    }
    {
        let mut fails = d.signin_failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while fails
            .front()
            .is_some_and(|t| now - *t >= Duration::from_secs(60))
        {
            fails.pop_front();
        }
        if fails.len() >= SIGNIN_FAILURES {
            return d.message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts",
                "too many wrong tokens in the last minute; wait a minute and try again",
            );
        }
    }
    let ops = match Operators::load(&d.operators) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("{e}");
            return d.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in unavailable",
                "the operators file cannot be read; tell the case lead",
            );
        }
    };
    let Some(op) = ops.check(&f.token).map(str::to_string) else {
        d.signin_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Instant::now());
        tracing::warn!("desk: a sign-in with an unknown token was refused");
        return d.signin_page(StatusCode::UNAUTHORIZED, Some("unknown token: check it with the case lead (tokens are shown once, when the operator is added)"));
    };
    let id = operators::random_token();
    let now = Instant::now();
    d.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(
        id.clone(),
        Session {
            operator: op.clone(),
            csrf: operators::random_token(),
            created: now,
            last: now,
        },
    );
    tracing::info!(operator = %op, "desk: signed in");
    let mut r = see_other("/");
    r.headers_mut()
        .append(header::SET_COOKIE, d.set_cookie("desk", &id, None));
    r.headers_mut()
        .append(header::SET_COOKIE, d.set_cookie("desk-pre", "", Some(0)));
    r
}

async fn signout(
    State(d): State<Arc<Desk>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some((id, _, csrf)) = d.session(&headers) {
        if cross_site(&headers) || !ct_eq(&csrf, &f.csrf) {
            return d.message(
                StatusCode::FORBIDDEN,
                "Refused",
                "the form expired or came from another site; reload the desk and try again",
            );
        }
        d.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
    let mut r = see_other("/");
    r.headers_mut()
        .append(header::SET_COOKIE, d.set_cookie("desk", "", Some(0)));
    r
}

async fn search(
    State(d): State<Arc<Desk>>,
    headers: HeaderMap,
    Form(f): Form<SearchForm>,
) -> Response {
    let Some((_, op, csrf)) = d.session(&headers) else {
        return see_other("/");
    };
    if cross_site(&headers) || !ct_eq(&csrf, &f.csrf) {
        return d.message(StatusCode::FORBIDDEN, "Refused", "the form expired or came from another site; reload the desk and search again (nothing was searched)");
    }
    let Some(kind) = KeyKind::parse(&f.kind) else {
        return d.search_page(
            StatusCode::BAD_REQUEST,
            &op,
            &csrf,
            Some("pick what to search by"),
            "email",
        );
    };
    let key = match Key::new(kind, &f.q, &f.last4) {
        Ok(k) => k,
        Err(msg) => {
            return d.search_page(
                StatusCode::BAD_REQUEST,
                &op,
                &csrf,
                Some(&msg),
                kind.as_str(),
            )
        }
    };
    if !d.allow_search(&op) {
        let mut r = d.message(
            StatusCode::TOO_MANY_REQUESTS,
            "Slow down",
            &format!("you have made {} searches in the last minute, the most the desk allows per operator; wait a minute (nothing was searched)", d.rate),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return r;
    }
    let found = d.index.search(&key, LIMIT);
    let line = journal::Line {
        time: crate::notify::journal::now(),
        operator: op.clone(),
        kind: kind.as_str().to_string(),
        key_hash: journal::key_hash(&d.key, &key),
        found: found.people.len(),
    };
    let written = tokio::task::block_in_place(|| {
        d.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(line)
    });
    if let Err(e) = written {
        tracing::error!("{e}");
        return d.message(StatusCode::INTERNAL_SERVER_ERROR, "Not recorded", "the search could not be written to desk.jsonl, so no answer is shown; tell the case lead (disk full? permissions?)");
    }
    let answer = match d.answer(&found, &key, &f.lang) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("{e}");
            format!("(the answer script could not be rendered: {e})")
        }
    };
    let people: Vec<&Person> = found.people.clone();
    d.render(
        "result.html",
        minijinja::context! {
            operator => &op, csrf => &csrf, kind => kind.as_str(), kinds => kinds(),
            kind_label => key_label(kind, false),
            recent => ser(d.recent(&op)),
            people => ser(&people), answer,
            other_notices => ser(&found.other_notices), other_changes => ser(&found.other_changes),
        },
    )
}

async fn not_found(State(d): State<Arc<Desk>>) -> Response {
    d.message(StatusCode::NOT_FOUND, "Not found", "no such page")
}

/// On loopback, a request must name a loopback host. Why: a web page elsewhere can point its
/// own name at 127.0.0.1 (DNS rebinding) and then read the desk's pages as "same origin"; such
/// a request carries that name in `Host` and is refused here.
async fn host_check(
    State(d): State<Arc<Desk>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if d.loopback {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let name = match host.rsplit_once(':') {
            Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => host,
        };
        let ok = matches!(name, "localhost" | "[::1]")
            || name
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !ok {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "this desk answers only at 127.0.0.1 or localhost",
            )
                .into_response();
        }
    }
    next.run(req).await
}

/// The headers every response carries.
async fn headers(State(d): State<Arc<Desk>>, mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` with
    // a form, and the cross-site check needs the real origin. No link leads off the desk.
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
        set(h, "pragma", "no-cache");
    }
    if d.secure {
        set(h, "strict-transport-security", "max-age=31536000");
    }
    r
}

/// The desk's routes.
pub fn router(desk: Arc<Desk>) -> Router {
    Router::new()
        .route("/", get(index_page))
        .route("/desk.css", get(css))
        // Browsers ask for it on their own; an empty answer keeps their consoles clean.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/signin", post(signin))
        .route("/search", post(search))
        .route("/signout", post(signout))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            desk.clone(),
            host_check,
        ))
        .layer(axum::middleware::map_response_with_state(
            desk.clone(),
            headers,
        ))
        .with_state(desk)
}

/// A TLS listener for `axum::serve`: handshakes run in their own tasks (with a timeout), so a
/// slow or silent client never holds up the others.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        std::net::SocketAddr,
    )>,
    local: std::net::SocketAddr,
}

impl TlsListener {
    pub fn new(
        tcp: tokio::net::TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("desk: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::info!("desk: TLS handshake with {addr} failed: {e}"),
                        Err(_) => tracing::info!("desk: TLS handshake with {addr} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The rustls server configuration from PEM files.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> crate::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| crate::Error::Input {
            path: cert.to_path_buf(),
            message: format!("not a PEM certificate chain ({e}); pass the server certificate (and its chain) in PEM"),
        })?;
    if certs.is_empty() {
        return Err(crate::Error::Input {
            path: cert.to_path_buf(),
            message: "no certificate in it; pass the server certificate in PEM".into(),
        });
    }
    let pk = PrivateKeyDer::from_pem_file(key).map_err(|e| crate::Error::Input {
        path: key.to_path_buf(),
        message: format!("not a PEM private key ({e}); pass the certificate's private key in PEM"),
    })?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(certs, pk))
    .map_err(|e| crate::Error::Input {
        path: key.to_path_buf(),
        message: format!(
            "the certificate and key do not make a TLS server ({e}); check they belong together"
        ),
    })?;
    Ok(Arc::new(cfg))
}
