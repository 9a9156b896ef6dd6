//! Web access logs: one parsed request per line, with the W3C field names Sigma's `webserver`
//! rules use (see `inputs.md` §3.6 and the README).
//!
//! - [`mod@format`] compiles a log format (Apache `LogFormat`, nginx `log_format`, a named preset,
//!   JSON lines) once into a parser that splits a line with `memchr`, borrowing from the line;
//! - [`time`] parses the timestamps by hand;
//! - [`written`] writes log text as the evidence outputs hold it (`\xHH` for bytes that are
//!   not UTF-8, card numbers masked before any cut);
//! - [`open`] opens plain or gzip'd files (by magic bytes), orders rotated sets oldest first
//!   and cuts a file into chunks of whole lines for parallel parsing.
//!
//! A [`Record`] borrows from the line: nothing is allocated per line unless a field carries the
//! log's own escapes (`\"`, `\\`, `\xhh`), which are undone into an owned copy.

mod find;
pub mod format;
pub mod open;
pub mod time;
pub mod written;

use jiff::Timestamp;
use std::borrow::Cow;

/// A field value as logged (escapes undone). `None` when the format does not carry the field.
pub type Value<'a> = Option<Cow<'a, [u8]>>;

/// The fields of one request, named after what they hold.
#[derive(Debug, Default, Clone)]
pub struct Record<'a> {
    pub time: Option<Timestamp>,
    pub ip: Value<'a>,
    pub user: Value<'a>,
    pub method: Value<'a>,
    /// The request target as logged: path, `?`, query.
    pub target: Value<'a>,
    pub protocol: Value<'a>,
    pub status: Value<'a>,
    pub bytes: Value<'a>,
    pub referer: Value<'a>,
    pub user_agent: Value<'a>,
    pub host: Value<'a>,
    pub cookie: Value<'a>,
    /// A session or user value named in a custom format (`%{NAME}C`, `$cookie_NAME`).
    pub session: Value<'a>,
    /// Path and query logged apart (`%U`/`%q`, `$uri`/`$args`), joined into `target` at the end.
    pub(crate) path_part: Value<'a>,
    pub(crate) query_part: Value<'a>,
    /// Set by parsers whose owned values are still verbatim copies of line bytes (a JSON
    /// line without escapes).
    pub(crate) copies_are_verbatim: bool,
    /// Set when the target was joined from a path and a query logged apart.
    pub(crate) joined: bool,
}

/// The W3C / Sigma field names this tool maps (`inputs.md` §3.6), plus the proxy aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    ClientIp,
    Username,
    Method,
    /// `cs-uri-stem`: the path alone.
    UriStem,
    /// `cs-uri-query`, `cs-uri`, `c-uri`: the whole request target (SigmaHQ's usage).
    Target,
    /// `c-uri-query`: the query alone (after `?`).
    QueryOnly,
    Status,
    Referer,
    UserAgent,
    Host,
    Cookie,
    Version,
    Bytes,
    /// A field name this tool does not map (e.g. `cs-content-type`): always absent.
    Unknown,
}

impl Field {
    /// Maps a Sigma field name (case-insensitive).
    pub fn from_sigma(name: &str) -> Field {
        match name.to_ascii_lowercase().as_str() {
            "c-ip" | "src_ip" | "clientip" => Field::ClientIp,
            "cs-username" => Field::Username,
            "cs-method" => Field::Method,
            "cs-uri-stem" | "c-uri-stem" => Field::UriStem,
            "cs-uri-query" | "cs-uri" | "c-uri" => Field::Target,
            "c-uri-query" => Field::QueryOnly,
            "sc-status" => Field::Status,
            "cs-referer" | "cs-referrer" | "cs(referer)" => Field::Referer,
            "cs-user-agent" | "c-useragent" | "cs(user-agent)" => Field::UserAgent,
            "cs-host" | "cs(host)" => Field::Host,
            "cs-cookie" | "cs(cookie)" => Field::Cookie,
            "cs-version" => Field::Version,
            "sc-bytes" => Field::Bytes,
            _ => Field::Unknown,
        }
    }
}

impl<'a> Record<'a> {
    /// The value Sigma sees for a field, as logged. `None` when absent.
    pub fn get(&self, f: Field) -> Option<&[u8]> {
        let v = match f {
            Field::ClientIp => &self.ip,
            Field::Username => &self.user,
            Field::Method => &self.method,
            Field::UriStem => return self.path(),
            Field::Target => &self.target,
            Field::QueryOnly => return self.query(),
            Field::Status => &self.status,
            Field::Referer => &self.referer,
            Field::UserAgent => &self.user_agent,
            Field::Host => &self.host,
            Field::Cookie => &self.cookie,
            Field::Version => &self.protocol,
            Field::Bytes => &self.bytes,
            Field::Unknown => return None,
        };
        v.as_deref()
    }

    /// The path: the target up to `?`.
    pub fn path(&self) -> Option<&[u8]> {
        let t = self.target.as_deref()?;
        Some(match memchr::memchr(b'?', t) {
            Some(i) => &t[..i],
            None => t,
        })
    }

    /// The query after `?` (empty for a bare `?`), `None` without one.
    pub fn query(&self) -> Option<&[u8]> {
        let t = self.target.as_deref()?;
        memchr::memchr(b'?', t).map(|i| &t[i + 1..])
    }

    /// Whether every field is a verbatim slice of the line (no escape undone, nothing joined):
    /// then a string found in a field is also found in the raw line, which lets the rule
    /// matcher skip rules whose literals the line lacks.
    pub fn verbatim(&self) -> bool {
        if self.joined {
            return false;
        }
        if self.copies_are_verbatim {
            return true;
        }
        [
            &self.ip,
            &self.user,
            &self.method,
            &self.target,
            &self.protocol,
            &self.status,
            &self.bytes,
            &self.referer,
            &self.user_agent,
            &self.host,
            &self.cookie,
            &self.session,
        ]
        .iter()
        .all(|v| !matches!(v, Some(Cow::Owned(_))))
    }

    /// Splits `"GET /p?q HTTP/1.1"` into method, target and protocol.
    pub(crate) fn set_request(&mut self, r: Cow<'a, [u8]>) {
        if r.as_ref() == b"-" || r.is_empty() {
            return;
        }
        match r {
            Cow::Borrowed(b) => {
                let (m, t, p) = split_request(b);
                self.method = m.map(Cow::Borrowed);
                self.target = t.map(Cow::Borrowed);
                self.protocol = p.map(Cow::Borrowed);
            }
            Cow::Owned(o) => {
                let (m, t, p) = split_request(&o);
                self.method = m.map(|x| Cow::Owned(x.to_vec()));
                self.target = t.map(|x| Cow::Owned(x.to_vec()));
                self.protocol = p.map(|x| Cow::Owned(x.to_vec()));
            }
        }
    }

    /// Joins a path and query logged apart into the target.
    pub(crate) fn finish(&mut self) {
        if self.target.is_none() {
            if let Some(p) = self.path_part.take() {
                let mut t = p.into_owned();
                if let Some(q) = self.query_part.take() {
                    let q = q.strip_prefix(b"?").unwrap_or(&q);
                    if !q.is_empty() && q != b"-" {
                        t.push(b'?');
                        t.extend_from_slice(q);
                    }
                }
                self.target = Some(Cow::Owned(t));
                self.joined = true;
            }
        }
    }
}

/// Method, target and protocol of a request line.
type RequestParts<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a [u8]>);

fn split_request(b: &[u8]) -> RequestParts<'_> {
    let Some(sp) = find::byte(b' ', b) else {
        return (None, Some(b), None);
    };
    let method = &b[..sp];
    let rest = &b[sp + 1..];
    match memchr::memrchr(b' ', rest) {
        Some(i) if rest[i + 1..].starts_with(b"HTTP/") => {
            (Some(method), Some(&rest[..i]), Some(&rest[i + 1..]))
        }
        _ => (Some(method), Some(rest), None),
    }
}

/// `-`, empty or absent: Sigma's `null`.
pub fn is_null(v: Option<&[u8]>) -> bool {
    matches!(v, None | Some(b"") | Some(b"-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_split() {
        let mut r = Record::default();
        r.set_request(Cow::Borrowed(b"GET /a/b.php?x=1&y HTTP/1.1"));
        assert_eq!(r.get(Field::Method), Some(&b"GET"[..]));
        assert_eq!(r.get(Field::UriStem), Some(&b"/a/b.php"[..]));
        assert_eq!(r.get(Field::Target), Some(&b"/a/b.php?x=1&y"[..]));
        assert_eq!(r.get(Field::QueryOnly), Some(&b"x=1&y"[..]));
        assert_eq!(r.get(Field::Version), Some(&b"HTTP/1.1"[..]));
        let mut r = Record::default();
        r.set_request(Cow::Borrowed(b"GET /x? HTTP/1.0"));
        assert_eq!(r.get(Field::QueryOnly), Some(&b""[..]));
        let mut r = Record::default();
        r.set_request(Cow::Borrowed(b"-"));
        assert!(r.get(Field::Method).is_none());
        assert!(is_null(r.get(Field::Target)));
    }
}
