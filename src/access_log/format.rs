//! Log formats compiled once into a line parser.
//!
//! A format is a list of literals and fields. Parsing walks the line once: a literal must be
//! there byte for byte; a field runs to the next literal's first byte (see [`super::find`]), or,
//! when it sits between double quotes, to the next quote not escaped by a backslash. Named
//! presets are themselves compiled from their `LogFormat` strings, so custom formats take the
//! same fast path. JSON lines (nginx `escape=json`) are parsed with serde_json and their keys
//! mapped to fields.

use super::{find, time, Record};
use jiff::Timestamp;
use std::borrow::Cow;

/// Where a logged value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Ip,
    User,
    /// `%t`: `[17/May/2015:10:05:03 +0000]`, brackets included.
    TimeBracketed,
    /// `$time_local`: the same without brackets.
    TimeClf,
    TimeIso,
    TimeEpoch,
    Request,
    Method,
    /// The whole target (`$request_uri`).
    Target,
    /// The path alone (`%U`, `$uri`).
    Path,
    /// The query alone (`%q`, `$args`).
    Query,
    Protocol,
    Status,
    Bytes,
    Referer,
    UserAgent,
    Host,
    Cookie,
    Session,
    /// Carried by the format, not used.
    Skip,
}

#[derive(Debug, Clone)]
enum Token {
    Lit(Vec<u8>),
    Field { slot: Slot, quoted: bool },
}

/// Why a line did not parse. Short and fixed, so rejects can be counted by reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError(pub String);

/// A compiled format.
#[derive(Debug, Clone)]
pub struct LineFormat {
    pub name: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Template(Vec<Token>),
    Json(JsonKeys),
}

/// JSON key → field, for JSON-lines logs.
#[derive(Debug, Clone)]
struct JsonKeys(Vec<(String, Slot)>);

impl Default for JsonKeys {
    fn default() -> Self {
        let mut v = Vec::new();
        for (keys, slot) in [
            (
                &[
                    "remote_addr",
                    "client_ip",
                    "clientip",
                    "ip",
                    "c-ip",
                    "remote_ip",
                ][..],
                Slot::Ip,
            ),
            (&["remote_user", "user", "cs-username"][..], Slot::User),
            (
                &[
                    "time_local",
                    "time_iso8601",
                    "@timestamp",
                    "timestamp",
                    "time",
                    "msec",
                ][..],
                Slot::TimeClf,
            ),
            (&["request"][..], Slot::Request),
            (&["request_method", "method"][..], Slot::Method),
            (&["request_uri", "uri_full", "url"][..], Slot::Target),
            (&["uri", "path"][..], Slot::Path),
            (&["args", "query_string", "query"][..], Slot::Query),
            (&["server_protocol", "protocol"][..], Slot::Protocol),
            (&["status", "sc-status"][..], Slot::Status),
            (&["body_bytes_sent", "bytes_sent", "bytes"][..], Slot::Bytes),
            (
                &["http_referer", "http_referrer", "referer", "referrer"][..],
                Slot::Referer,
            ),
            (
                &["http_user_agent", "user_agent", "agent"][..],
                Slot::UserAgent,
            ),
            (&["host", "http_host", "server_name"][..], Slot::Host),
            (&["http_cookie", "cookie"][..], Slot::Cookie),
        ] {
            for k in keys {
                v.push((k.to_string(), slot));
            }
        }
        JsonKeys(v)
    }
}

/// Apache's and nginx's combined format (they are the same on the wire).
pub const COMBINED: &str = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#;
pub const COMMON: &str = r#"%h %l %u %t "%r" %>s %b"#;
pub const VHOST_COMBINED: &str = r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#;

/// The names `--format` accepts.
pub const NAMES: &[&str] = &[
    "auto",
    "combined",
    "common",
    "nginx",
    "vhost_combined",
    "json",
];

impl LineFormat {
    /// A named format (`combined`, `common`, `nginx`, `vhost_combined`, `json`). `auto` is
    /// decided per file by [`LineFormat::sniff`].
    pub fn named(name: &str) -> Result<LineFormat, String> {
        let f = match name.trim().to_ascii_lowercase().as_str() {
            "combined" | "nginx" | "nginx_combined" | "apache" => {
                LineFormat::apache(COMBINED)?
            }
            "common" | "clf" => LineFormat::apache(COMMON)?,
            "vhost_combined" => LineFormat::apache(VHOST_COMBINED)?,
            "json" | "jsonl" | "ndjson" => LineFormat {
                name: "json".into(),
                kind: Kind::Json(JsonKeys::default()),
            },
            other => {
                return Err(format!(
                    "unknown log format {other:?}; known: {}, or pass --log-format with an Apache LogFormat or nginx log_format string",
                    NAMES.join(", ")
                ))
            }
        };
        Ok(LineFormat {
            name: name.trim().to_ascii_lowercase(),
            ..f
        })
    }

    /// A custom format string: an Apache `LogFormat` (with `%` directives) or an nginx
    /// `log_format` (with `$variables`), either bare or as the whole config directive.
    pub fn custom(spec: &str) -> Result<LineFormat, String> {
        let s = spec.trim();
        if s.starts_with("log_format") || (s.contains('$') && !has_percent_directive(s)) {
            LineFormat::nginx(s)
        } else {
            LineFormat::apache(s)
        }
    }

    /// Compiles an Apache `LogFormat` string (`%h %l %u %t \"%r\" %>s %b …`).
    pub fn apache(spec: &str) -> Result<LineFormat, String> {
        let mut s = spec.trim();
        if let Some(rest) = s.strip_prefix("LogFormat") {
            // `LogFormat "…" nickname`: take the quoted part.
            let rest = rest.trim_start();
            let inner = rest
                .strip_prefix('"')
                .and_then(|r| find_unescaped_quote(r.as_bytes()).map(|i| &r[..i]))
                .ok_or("LogFormat directive without a quoted format string")?;
            s = inner;
        }
        let text = unescape_conf(s);
        let b = text.as_bytes();
        let mut tokens: Vec<Token> = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            i += 1;
            if b.get(i) == Some(&b'%') {
                lit.push(b'%');
                i += 1;
                continue;
            }
            // Conditions and redirect markers: `%400,501{…}i`, `%!200a`, `%>s`, `%<s`.
            while i < b.len() && matches!(b[i], b'0'..=b'9' | b',' | b'!' | b'<' | b'>') {
                i += 1;
            }
            let mut arg = None;
            if b.get(i) == Some(&b'{') {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'}')
                    .ok_or("unclosed %{ in LogFormat")?;
                arg = Some(String::from_utf8_lossy(&b[i + 1..i + end]).to_ascii_lowercase());
                i += end + 1;
            }
            let Some(&d) = b.get(i) else {
                return Err("LogFormat ends with a lone %".into());
            };
            i += 1;
            let slot = match (d, arg.as_deref()) {
                (b'h' | b'a', _) => Slot::Ip,
                (b'u', _) => Slot::User,
                (b't', None) => Slot::TimeBracketed,
                (b't', Some("sec")) => Slot::TimeEpoch,
                (b't', Some(f)) => {
                    return Err(format!(
                        "%{{{f}}}t: custom time formats are not supported; log %t or %{{sec}}t"
                    ))
                }
                (b'r', _) => Slot::Request,
                (b'm', _) => Slot::Method,
                (b'U', _) => Slot::Path,
                (b'q', _) => Slot::Query,
                (b'H', _) => Slot::Protocol,
                (b's', _) => Slot::Status,
                (b'b' | b'B' | b'O', _) => Slot::Bytes,
                (b'i', Some("referer") | Some("referrer")) => Slot::Referer,
                (b'i', Some("user-agent")) => Slot::UserAgent,
                (b'i', Some("host")) => Slot::Host,
                (b'v' | b'V', _) => Slot::Host,
                (b'i', Some("cookie")) => Slot::Cookie,
                (b'C', Some(_)) => Slot::Session,
                (
                    b'A' | b'D' | b'e' | b'f' | b'i' | b'k' | b'l' | b'L' | b'n' | b'o' | b'p'
                    | b'P' | b'R' | b'T' | b'X' | b'I' | b'S' | b'^' | b'C',
                    _,
                ) => Slot::Skip,
                (other, _) => {
                    return Err(format!("unknown LogFormat directive %{}", other as char))
                }
            };
            push_field(&mut tokens, &mut lit, slot)?;
        }
        if !lit.is_empty() {
            tokens.push(Token::Lit(lit));
        }
        finish_template("custom", tokens)
    }

    /// Compiles an nginx `log_format` (`$remote_addr - $remote_user [$time_local] …`), bare or
    /// as the directive with its `'…'` pieces. An `escape=json` format that writes a JSON
    /// object becomes a JSON-lines format with its own keys.
    pub fn nginx(spec: &str) -> Result<LineFormat, String> {
        let s = spec.trim();
        let text = if s.starts_with("log_format") {
            // Concatenate the quoted pieces; the name and escape= come before them.
            let mut out = String::new();
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\'' || c == '"' {
                    for d in chars.by_ref() {
                        if d == c {
                            break;
                        }
                        out.push(d);
                    }
                }
            }
            if out.is_empty() {
                return Err("log_format directive without a quoted format".into());
            }
            out
        } else {
            s.to_string()
        };
        if text.trim_start().starts_with('{') {
            return json_from_template(&text);
        }
        let b = text.as_bytes();
        let mut tokens = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            i += 1;
            let (name, next) = if b.get(i) == Some(&b'{') {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'}')
                    .ok_or("unclosed ${ in log_format")?;
                (&b[i + 1..i + end], i + end + 1)
            } else {
                let n = b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                (&b[i..i + n], i + n)
            };
            if name.is_empty() {
                lit.push(b'$');
                continue;
            }
            i = next;
            let slot = nginx_slot(&String::from_utf8_lossy(name));
            push_field(&mut tokens, &mut lit, slot)?;
        }
        if !lit.is_empty() {
            tokens.push(Token::Lit(lit));
        }
        finish_template("custom", tokens)
    }

    /// Picks a format for a file from its first lines: JSON when they start with `{`, else
    /// combined when most of them parse as combined, else common. `None` when nothing fits.
    pub fn sniff(sample: &[u8]) -> Option<LineFormat> {
        let lines: Vec<&[u8]> = sample
            .split(|&c| c == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.trim_ascii().is_empty())
            .take(50)
            .collect();
        if lines.is_empty() {
            return None;
        }
        if lines[0].trim_ascii_start().starts_with(b"{") {
            return LineFormat::named("json").ok();
        }
        for name in ["combined", "vhost_combined", "common"] {
            let f = LineFormat::named(name).ok()?;
            let ok = lines.iter().filter(|l| f.parse(l).is_ok()).count();
            if ok * 2 > lines.len() {
                return Some(f);
            }
        }
        None
    }

    /// Which fields the format carries (for `rules check`: rules needing others never match).
    pub fn carries(&self, f: super::Field) -> bool {
        use super::Field as F;
        let Kind::Template(tokens) = &self.kind else {
            return f != F::Unknown;
        };
        let has = |s: &[Slot]| {
            tokens
                .iter()
                .any(|t| matches!(t, Token::Field { slot, .. } if s.contains(slot)))
        };
        match f {
            F::ClientIp => has(&[Slot::Ip]),
            F::Username => has(&[Slot::User]),
            F::Method => has(&[Slot::Request, Slot::Method]),
            F::UriStem | F::Target | F::QueryOnly => {
                has(&[Slot::Request, Slot::Target, Slot::Path])
            }
            F::Version => has(&[Slot::Request, Slot::Protocol]),
            F::Status => has(&[Slot::Status]),
            F::Referer => has(&[Slot::Referer]),
            F::UserAgent => has(&[Slot::UserAgent]),
            F::Host => has(&[Slot::Host]),
            F::Cookie => has(&[Slot::Cookie]),
            F::Bytes => has(&[Slot::Bytes]),
            F::Unknown => false,
        }
    }

    /// Parses one line (without its line terminator).
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Record<'a>, LineError> {
        match &self.kind {
            Kind::Template(tokens) => parse_template(tokens, line),
            Kind::Json(keys) => parse_json(keys, line),
        }
    }
}

fn has_percent_directive(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'%' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'>' | b'{')))
}

fn nginx_slot(name: &str) -> Slot {
    match name {
        "remote_addr" | "realip_remote_addr" | "binary_remote_addr" => Slot::Ip,
        "remote_user" => Slot::User,
        "time_local" => Slot::TimeClf,
        "time_iso8601" => Slot::TimeIso,
        "msec" => Slot::TimeEpoch,
        "request" => Slot::Request,
        "request_method" => Slot::Method,
        "request_uri" => Slot::Target,
        "uri" | "document_uri" => Slot::Path,
        "args" | "query_string" => Slot::Query,
        "server_protocol" => Slot::Protocol,
        "status" => Slot::Status,
        "body_bytes_sent" | "bytes_sent" => Slot::Bytes,
        "http_referer" => Slot::Referer,
        "http_user_agent" => Slot::UserAgent,
        "host" | "http_host" | "server_name" => Slot::Host,
        "http_cookie" => Slot::Cookie,
        n if n.starts_with("cookie_") => Slot::Session,
        _ => Slot::Skip,
    }
}

/// `\"` → `"`, `\\` → `\`, `\t`, `\n` as httpd.conf reads a quoted string.
fn unescape_conf(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn push_field(tokens: &mut Vec<Token>, lit: &mut Vec<u8>, slot: Slot) -> Result<(), String> {
    let quoted = lit.last() == Some(&b'"');
    if !lit.is_empty() {
        tokens.push(Token::Lit(std::mem::take(lit)));
    } else if matches!(tokens.last(), Some(Token::Field { .. })) {
        return Err("two fields with nothing between them cannot be told apart".into());
    }
    tokens.push(Token::Field { slot, quoted });
    Ok(())
}

fn finish_template(name: &str, tokens: Vec<Token>) -> Result<LineFormat, String> {
    let has_time = tokens.iter().any(|t| {
        matches!(
            t,
            Token::Field {
                slot: Slot::TimeBracketed | Slot::TimeClf | Slot::TimeIso | Slot::TimeEpoch,
                ..
            }
        )
    });
    if !has_time {
        return Err(
            "the format has no time field (%t, $time_local, $time_iso8601 or $msec)".into(),
        );
    }
    // A quoted field must be closed by a literal starting with `"`.
    let mut out = tokens;
    for i in 0..out.len() {
        if let Token::Field { quoted, .. } = &mut out[i].clone() {
            let closes = matches!(out.get(i + 1), Some(Token::Lit(l)) if l.first() == Some(&b'"'));
            if *quoted && !closes {
                if let Token::Field { quoted, .. } = &mut out[i] {
                    *quoted = false;
                }
            }
        }
    }
    Ok(LineFormat {
        name: name.into(),
        kind: Kind::Template(out),
    })
}

/// Finds the first `"` not escaped by an odd number of backslashes.
fn find_unescaped_quote(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'"', &b[from..]) {
        let at = from + i;
        let slashes = b[..at].iter().rev().take_while(|&&c| c == b'\\').count();
        if slashes % 2 == 0 {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Undoes Apache/nginx escaping (`\"`, `\\`, `\xhh`) when there is any.
fn unescape(v: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', v).is_none() {
        return Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' && i + 1 < v.len() {
            match v[i + 1] {
                b'"' | b'\\' => {
                    out.push(v[i + 1]);
                    i += 2;
                    continue;
                }
                b'x' if i + 3 < v.len() => {
                    if let (Some(h), Some(l)) = (hex(v[i + 2]), hex(v[i + 3])) {
                        out.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(v[i]);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn slot_name(s: Slot) -> &'static str {
    match s {
        Slot::Ip => "client address",
        Slot::User => "user",
        Slot::TimeBracketed | Slot::TimeClf | Slot::TimeIso | Slot::TimeEpoch => "time",
        Slot::Request => "request line",
        Slot::Method => "method",
        Slot::Target | Slot::Path => "path",
        Slot::Query => "query",
        Slot::Protocol => "protocol",
        Slot::Status => "status",
        Slot::Bytes => "bytes",
        Slot::Referer => "referer",
        Slot::UserAgent => "user agent",
        Slot::Host => "host",
        Slot::Cookie => "cookie",
        Slot::Session => "session",
        Slot::Skip => "field",
    }
}

fn err(s: impl Into<String>) -> LineError {
    LineError(s.into())
}

fn parse_template<'a>(tokens: &[Token], line: &'a [u8]) -> Result<Record<'a>, LineError> {
    if line.is_empty() {
        return Err(err("empty line"));
    }
    let mut rec = Record::default();
    let mut pos = 0usize;
    for (i, tok) in tokens.iter().enumerate() {
        match tok {
            Token::Lit(l) => {
                if !find::starts_with(&line[pos..], l) {
                    return Err(err(format!(
                        "expected {:?} at column {}",
                        String::from_utf8_lossy(l),
                        pos + 1
                    )));
                }
                pos += l.len();
            }
            Token::Field { slot, quoted } => {
                let rest = &line[pos..];
                // Whether the value holds a backslash, so may carry escapes to undo.
                let mut escaped = false;
                let end = if *quoted {
                    let unterminated = || err(format!("unterminated quoted {}", slot_name(*slot)));
                    // Most values hold no backslash: their first quote ends them.
                    match find::byte2(b'"', b'\\', rest) {
                        Some(q) if rest[q] == b'"' => q,
                        Some(_) => {
                            escaped = true;
                            find_unescaped_quote(rest).ok_or_else(unterminated)?
                        }
                        None => return Err(unterminated()),
                    }
                } else if *slot == Slot::TimeBracketed {
                    if rest.first() != Some(&b'[') {
                        return Err(err(format!("expected [time] at column {}", pos + 1)));
                    }
                    find::byte(b']', rest)
                        .map(|e| e + 1)
                        .ok_or_else(|| err("unterminated [time]"))?
                } else {
                    match tokens.get(i + 1) {
                        Some(Token::Lit(l)) => find::byte(l[0], rest).ok_or_else(|| {
                            err(format!("line ends inside the {}", slot_name(*slot)))
                        })?,
                        _ => rest.len(),
                    }
                };
                let raw = &rest[..end];
                pos += end;
                store(&mut rec, *slot, raw, escaped)?;
            }
        }
    }
    // Fields appended after the format's end (e.g. combinedio's %I %O) are tolerated.
    if pos < line.len() && line[pos] != b' ' && line[pos] != b'\t' {
        return Err(err(format!("unexpected text at column {}", pos + 1)));
    }
    if rec.time.is_none() {
        return Err(err("no time"));
    }
    rec.finish();
    Ok(rec)
}

/// Puts a value in its field. `escaped`: a quoted value that holds a backslash, whose escapes
/// are undone.
fn store<'a>(
    rec: &mut Record<'a>,
    slot: Slot,
    raw: &'a [u8],
    escaped: bool,
) -> Result<(), LineError> {
    let val = || {
        if escaped {
            unescape(raw)
        } else {
            Cow::Borrowed(raw)
        }
    };
    match slot {
        Slot::TimeBracketed => {
            let inner = &raw[1..raw.len() - 1];
            rec.time = Some(time::parse_clf(inner).ok_or_else(|| bad_time(inner))?);
        }
        Slot::TimeClf => rec.time = Some(time::parse_clf(raw).ok_or_else(|| bad_time(raw))?),
        Slot::TimeIso => rec.time = Some(time::parse_iso(raw).ok_or_else(|| bad_time(raw))?),
        Slot::TimeEpoch => rec.time = Some(time::parse_epoch(raw).ok_or_else(|| bad_time(raw))?),
        Slot::Ip => rec.ip = Some(val()),
        Slot::User => rec.user = Some(val()),
        Slot::Request => rec.set_request(val()),
        Slot::Method => rec.method = Some(val()),
        Slot::Target => rec.target = Some(val()),
        Slot::Path => rec.path_part = Some(val()),
        Slot::Query => rec.query_part = Some(val()),
        Slot::Protocol => rec.protocol = Some(val()),
        Slot::Status => {
            if !raw.iter().all(u8::is_ascii_digit) || raw.is_empty() {
                return Err(err(format!(
                    "status \"{}\" is not a number",
                    quote(raw, 20)
                )));
            }
            rec.status = Some(Cow::Borrowed(raw));
        }
        Slot::Bytes => rec.bytes = Some(val()),
        Slot::Referer => rec.referer = Some(val()),
        Slot::UserAgent => rec.user_agent = Some(val()),
        Slot::Host => rec.host = Some(val()),
        Slot::Cookie => rec.cookie = Some(val()),
        Slot::Session => rec.session = Some(val()),
        Slot::Skip => {}
    }
    Ok(())
}

fn bad_time(raw: &[u8]) -> LineError {
    err(format!("cannot read time \"{}\"", quote(raw, 40)))
}

/// At most `max` bytes of logged text for an error message: masked before it is cut, bytes
/// that are not UTF-8 as `\xHH` (see [`super::written`]).
fn quote(raw: &[u8], max: usize) -> String {
    super::written::excerpt(raw, super::written::Form::Value, max).0
}

fn json_from_template(text: &str) -> Result<LineFormat, String> {
    // `"key":"$var"` or `"key":$var` pairs name the keys.
    let re = regex::Regex::new(r#""([^"]+)"\s*:\s*"?\$\{?([A-Za-z0-9_]+)"#).expect("valid regex");
    let mut keys = Vec::new();
    for c in re.captures_iter(text) {
        let mut slot = nginx_slot(&c[2]);
        if matches!(slot, Slot::TimeIso | Slot::TimeEpoch) {
            slot = Slot::TimeClf; // JSON times are parsed by parse_any.
        }
        if slot != Slot::Skip {
            keys.push((c[1].to_string(), slot));
        }
    }
    if !keys.iter().any(|(_, s)| *s == Slot::TimeClf) {
        return Err("the JSON log_format has no time variable".into());
    }
    Ok(LineFormat {
        name: "custom-json".into(),
        kind: Kind::Json(JsonKeys(keys)),
    })
}

fn parse_json<'a>(keys: &JsonKeys, line: &'a [u8]) -> Result<Record<'a>, LineError> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Err(err("empty line"));
    }
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(line).map_err(|e| err(format!("not a JSON object: {e}")))?;
    let mut rec = Record::default();
    let mut time: Option<Timestamp> = None;
    for (key, slot) in &keys.0 {
        let Some(v) = map.get(key) else { continue };
        let bytes: Vec<u8> = match v {
            serde_json::Value::String(s) => s.clone().into_bytes(),
            serde_json::Value::Number(n) => n.to_string().into_bytes(),
            serde_json::Value::Null => continue,
            other => other.to_string().into_bytes(),
        };
        if *slot == Slot::TimeClf {
            if time.is_none() {
                time = Some(time::parse_any(&bytes).ok_or_else(|| bad_time(&bytes))?);
            }
            continue;
        }
        let already = match slot {
            Slot::Ip => rec.ip.is_some(),
            Slot::Referer => rec.referer.is_some(),
            Slot::UserAgent => rec.user_agent.is_some(),
            _ => false,
        };
        if already {
            continue;
        }
        if *slot == Slot::Status {
            if !bytes.iter().all(u8::is_ascii_digit) || bytes.is_empty() {
                return Err(err("status is not a number"));
            }
            rec.status = Some(Cow::Owned(bytes));
            continue;
        }
        let v = Cow::Owned(bytes);
        match slot {
            Slot::Request => rec.set_request(v),
            Slot::Ip => rec.ip = Some(v),
            Slot::User => rec.user = Some(v),
            Slot::Method => rec.method = Some(v),
            Slot::Target => rec.target = Some(v),
            Slot::Path => rec.path_part = Some(v),
            Slot::Query => rec.query_part = Some(v),
            Slot::Protocol => rec.protocol = Some(v),
            Slot::Bytes => rec.bytes = Some(v),
            Slot::Referer => rec.referer = Some(v),
            Slot::UserAgent => rec.user_agent = Some(v),
            Slot::Host => rec.host = Some(v),
            Slot::Cookie => rec.cookie = Some(v),
            Slot::Session => rec.session = Some(v),
            _ => {}
        }
    }
    rec.time = Some(time.ok_or_else(|| err("no time field in the JSON object"))?);
    // Without a backslash, every JSON string value is a verbatim copy of line bytes (numbers
    // are written back as serde_json read them, which is how they are logged).
    rec.copies_are_verbatim = memchr::memchr(b'\\', line).is_none();
    rec.finish();
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::super::Field;
    use super::*;

    fn s(v: Option<&[u8]>) -> Option<String> {
        v.map(|b| String::from_utf8_lossy(b).into_owned())
    }

    #[test]
    fn combined_with_escapes_and_ipv6() {
        let f = LineFormat::named("combined").unwrap();
        let line = br#"2001:db8::1 - - [02/Mar/2020:04:11:09 +0900] "GET /a?q=\"x\"\\y HTTP/1.1" 200 - "-" "Mozilla \x41 \"q\"""#;
        let r = f.parse(line).unwrap();
        assert_eq!(s(r.get(Field::ClientIp)).unwrap(), "2001:db8::1");
        assert_eq!(s(r.get(Field::Target)).unwrap(), r#"/a?q="x"\y"#);
        assert_eq!(s(r.get(Field::UserAgent)).unwrap(), r#"Mozilla A "q""#);
        assert_eq!(s(r.get(Field::Referer)).unwrap(), "-");
        assert_eq!(s(r.get(Field::Bytes)).unwrap(), "-");
        assert!(!r.verbatim());
        assert_eq!(
            r.time.unwrap(),
            "2020-03-01T19:11:09Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn truncated_and_garbage_lines_are_errors() {
        let f = LineFormat::named("combined").unwrap();
        let e = f
            .parse(br#"1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (trunc"#)
            .unwrap_err();
        assert_eq!(e.0, "unterminated quoted user agent");
        assert!(f.parse(b"").is_err());
        assert!(f.parse(b"hello world").is_err());
        assert!(f
            .parse(br#"1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" abc 5 "-" "x""#)
            .is_err());
    }

    #[test]
    fn custom_apache_and_nginx() {
        let a = LineFormat::custom(
            r#"LogFormat "%a %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %{PHPSESSID}C" skim"#,
        )
        .unwrap();
        let r = a
            .parse(br#"10.0.0.1 - bob [22/Dec/2021:23:59:59 +0900] "POST /shopping/confirm HTTP/1.1" 302 0 "https://shop.example/cart" "UA" 1234 abc123"#)
            .unwrap();
        assert_eq!(s(r.get(Field::Username)).unwrap(), "bob");
        assert_eq!(s(r.session.as_deref()).unwrap(), "abc123");
        let n = LineFormat::custom(
            "log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '\n  '$status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$http_host\" $request_time';",
        )
        .unwrap();
        let r = n
            .parse(br#"10.0.0.2 - - [01/May/2020:10:00:00 +0900] "GET /js/x.php HTTP/1.1" 200 10 "-" "curl/7" "shop.example" 0.001"#)
            .unwrap();
        assert_eq!(s(r.get(Field::Host)).unwrap(), "shop.example");
        assert_eq!(s(r.get(Field::UriStem)).unwrap(), "/js/x.php");
        let iso =
            LineFormat::custom("$remote_addr $time_iso8601 $request_method $uri $args $status")
                .unwrap();
        let r = iso
            .parse(b"10.0.0.3 2021-01-01T00:00:00+09:00 GET /a.php cmd=id 200")
            .unwrap();
        assert_eq!(s(r.get(Field::Target)).unwrap(), "/a.php?cmd=id");
        assert!(LineFormat::custom("%h %Z").is_err());
        assert!(LineFormat::custom("%h %u").is_err()); // no time
    }

    #[test]
    fn json_lines_and_sniffing() {
        let j = LineFormat::named("json").unwrap();
        let r = j
            .parse(br#"{"time_local":"22/Dec/2021:10:00:00 +0900","remote_addr":"1.2.3.4","request":"GET /.env HTTP/1.1","status":"404","http_referrer":"","http_user_agent":"x"}"#)
            .unwrap();
        assert_eq!(s(r.get(Field::UriStem)).unwrap(), "/.env");
        assert_eq!(s(r.get(Field::Status)).unwrap(), "404");
        assert!(j.parse(b"{").is_err());
        let nj = LineFormat::custom(r#"log_format j escape=json '{"t":"$time_iso8601","ip":"$remote_addr","st":$status,"r":"$request"}';"#).unwrap();
        let r = nj
            .parse(br#"{"t":"2021-12-22T10:00:00+09:00","ip":"1.2.3.4","st":200,"r":"GET /x HTTP/1.1"}"#)
            .unwrap();
        assert_eq!(s(r.get(Field::Status)).unwrap(), "200");
        assert_eq!(
            LineFormat::sniff(
                b"1.1.1.1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1\n"
            )
            .unwrap()
            .name,
            "common"
        );
        assert_eq!(LineFormat::sniff(b"{\"a\":1}\n").unwrap().name, "json");
        assert!(LineFormat::sniff(b"garbage\n").is_none());
    }
}

#[cfg(test)]
mod properties {
    use super::super::Field;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // No regression files: a failing input could hold a card-like number, and none may
        // be committed.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the bytes, parsing returns a record or a reason; it never panics.
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            for f in [
                LineFormat::named("combined").unwrap(),
                LineFormat::named("common").unwrap(),
                LineFormat::named("json").unwrap(),
                LineFormat::custom("$remote_addr [$time_local] $request_method $uri $args $status").unwrap(),
            ] {
                let _ = f.parse(&bytes);
            }
        }

        /// A combined line with any target, referer and agent (quotes and backslashes escaped
        /// as Apache does) gives those values back.
        #[test]
        fn combined_round_trips(
            target in "/[!-~]{0,60}",
            referer in "[ -~]{0,60}",
            agent in "[ -~]{0,80}",
        ) {
            let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
            let line = format!(
                "192.0.2.1 - - [01/May/2020:10:00:00 +0900] \"GET {} HTTP/1.1\" 200 5 \"{}\" \"{}\"",
                esc(&target), esc(&referer), esc(&agent)
            );
            let f = LineFormat::named("combined").unwrap();
            let r = f.parse(line.as_bytes()).unwrap();
            prop_assert_eq!(r.get(Field::UserAgent), Some(agent.as_bytes()));
            prop_assert_eq!(r.get(Field::Referer), Some(referer.as_bytes()));
            prop_assert_eq!(r.get(Field::Target), Some(target.as_bytes()));
        }
    }
}
