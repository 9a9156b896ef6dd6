//! The Sigma subset: enough of the specification to load every `category: webserver` rule of
//! SigmaHQ (see `inputs.md` §3.5). A rule's `detection` becomes a tree of [`Cond`]s whose leaves
//! are [`Leaf`] tests on one field (or on the whole line, for keywords).
//!
//! Supported: keyword lists (with modifiers, `'|all': [...]`); field selections (maps, and lists
//! of maps); the modifiers `contains`, `startswith`, `endswith`, `re`, `all`, `cidr`, `cased`,
//! `exists`; glob wildcards `*` and `?` with `\` escapes in plain values; `null`; numbers;
//! conditions with `and`, `or`, `not`, parentheses, `1 of X*`, `all of X*`, `1 of them`,
//! `all of them`. String matching ignores ASCII case unless `cased`; `re` is case-sensitive
//! unless the pattern says otherwise (Sigma's rules).

use crate::access_log::Field;
use std::collections::BTreeMap;
use std::net::IpAddr;
use yaml_rust2::Yaml;

/// Why a rule cannot be used. `Skip` is a rule meant for something else (another log source);
/// `Unsupported` and `Invalid` are rules this engine cannot run as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    OtherSource(String),
    Unsupported(String),
    Invalid(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::OtherSource(s) => write!(f, "not a web-server access-log rule ({s})"),
            Problem::Unsupported(s) => write!(f, "unsupported Sigma construct: {s}"),
            Problem::Invalid(s) => write!(f, "invalid rule: {s}"),
        }
    }
}

/// A loaded rule, before compilation into the matcher.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub level: String,
    pub status: String,
    pub tags: Vec<String>,
    pub description: String,
    /// Where it came from (`builtin:php-in-static-folder.yml` or a path).
    pub source: String,
    pub cond: Cond,
    /// The rule's YAML as loaded (`rules export` writes it unchanged); `None` for rules built
    /// from IOC lists.
    pub yaml: Option<String>,
}

/// A boolean tree over leaves.
#[derive(Debug, Clone)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Leaf(Leaf),
}

/// Where a leaf looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The whole raw line (Sigma keywords).
    Line,
    Field(Field),
}

/// One test on one value.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub target: Target,
    pub test: Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    Eq,
    Contains,
    Starts,
    Ends,
}

#[derive(Debug, Clone)]
pub enum Test {
    /// A plain string comparison; the needle is ASCII-lowercased unless `cased`.
    Str {
        op: StrOp,
        needle: Vec<u8>,
        cased: bool,
    },
    /// A value with wildcards, compiled to an anchored (or, for keywords, unanchored) regex;
    /// `literal` is its longest wildcard-free piece, for the prefilter.
    Glob {
        re: regex::bytes::Regex,
        literal: Vec<u8>,
    },
    Regex(regex::bytes::Regex),
    Cidr(Vec<(IpAddr, u8)>),
    /// Sigma `null`: absent, empty or `-`.
    Null,
    /// A domain in the field, on label boundaries (IOC lists).
    Domain(Vec<u8>),
}

impl Leaf {
    /// The lowercase string that must appear in the raw line for this leaf to hold, when the
    /// line is verbatim (see `Record::verbatim`).
    pub fn literal(&self) -> Option<&[u8]> {
        let l: &[u8] = match &self.test {
            Test::Str { needle, .. } => needle,
            Test::Glob { literal, .. } => literal,
            Test::Domain(d) => d,
            _ => return None,
        };
        (!l.is_empty()).then_some(l)
    }
}

fn unsupported(s: impl Into<String>) -> Problem {
    Problem::Unsupported(s.into())
}

fn invalid(s: impl Into<String>) -> Problem {
    Problem::Invalid(s.into())
}

fn get<'a>(doc: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    match doc {
        Yaml::Hash(h) => h.get(&Yaml::String(key.to_string())),
        _ => None,
    }
}

fn as_str(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses one rule document. `source` names it in errors.
pub fn parse_rule(text: &str, source: &str) -> Result<Rule, (Option<String>, Problem)> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text)
        .map_err(|e| (None, invalid(format!("YAML: {e}"))))?;
    let doc = match docs.as_slice() {
        [d] => d,
        [] => return Err((None, invalid("empty file"))),
        _ => {
            return Err((
                None,
                unsupported("several YAML documents in one file (rule collections)"),
            ))
        }
    };
    let title = get(doc, "title").and_then(as_str);
    let name = title.clone();
    let fail = |p: Problem| (name.clone(), p);
    if get(doc, "correlation").is_some() {
        return Err(fail(unsupported("correlation rules")));
    }
    let logsource = get(doc, "logsource").ok_or_else(|| fail(invalid("no logsource")))?;
    let category = get(logsource, "category").and_then(as_str);
    if category.as_deref() != Some("webserver") {
        let mut parts = Vec::new();
        for k in ["category", "product", "service"] {
            if let Some(v) = get(logsource, k).and_then(as_str) {
                parts.push(format!("{k}: {v}"));
            }
        }
        return Err(fail(Problem::OtherSource(if parts.is_empty() {
            "no logsource category".into()
        } else {
            parts.join(", ")
        })));
    }
    let id = get(doc, "id")
        .and_then(as_str)
        .ok_or_else(|| fail(invalid("no id")))?;
    let title = title.ok_or_else(|| fail(invalid("no title")))?;
    let detection = get(doc, "detection").ok_or_else(|| fail(invalid("no detection")))?;
    let Yaml::Hash(det) = detection else {
        return Err(fail(invalid("detection is not a map")));
    };
    let mut selections: BTreeMap<String, Cond> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut condition: Option<Vec<String>> = None;
    for (k, v) in det {
        let key = as_str(k).ok_or_else(|| fail(invalid("a detection key is not a string")))?;
        if key == "condition" {
            condition = Some(match v {
                Yaml::Array(a) => a.iter().filter_map(as_str).collect(),
                other => {
                    vec![as_str(other).ok_or_else(|| fail(invalid("condition is not a string")))?]
                }
            });
            continue;
        }
        if key == "timeframe" {
            return Err(fail(unsupported("timeframe")));
        }
        let c = selection(v).map_err(|p| fail(with_ctx(p, &key)))?;
        order.push(key.clone());
        selections.insert(key, c);
    }
    let condition = condition.ok_or_else(|| fail(invalid("detection has no condition")))?;
    let mut alts = Vec::new();
    for c in &condition {
        alts.push(parse_condition(c, &selections, &order).map_err(&fail)?);
    }
    let cond = if alts.len() == 1 {
        alts.pop().expect("one")
    } else {
        Cond::Or(alts)
    };
    Ok(Rule {
        id,
        title,
        level: get(doc, "level").and_then(as_str).unwrap_or_default(),
        status: get(doc, "status").and_then(as_str).unwrap_or_default(),
        tags: match get(doc, "tags") {
            Some(Yaml::Array(a)) => a.iter().filter_map(as_str).collect(),
            _ => Vec::new(),
        },
        description: get(doc, "description")
            .and_then(as_str)
            .unwrap_or_default()
            .trim()
            .to_string(),
        source: source.to_string(),
        cond,
        yaml: Some(text.to_string()),
    })
}

fn with_ctx(p: Problem, key: &str) -> Problem {
    match p {
        Problem::Unsupported(s) => Problem::Unsupported(format!("{s} (in {key})")),
        Problem::Invalid(s) => Problem::Invalid(format!("{s} (in {key})")),
        o => o,
    }
}

/// A named selection: a map (fields AND-ed), a list of maps (OR), or a keyword list.
fn selection(v: &Yaml) -> Result<Cond, Problem> {
    match v {
        Yaml::Hash(h) => {
            let mut parts = Vec::new();
            for (k, val) in h {
                let key = as_str(k).ok_or_else(|| invalid("a field name is not a string"))?;
                parts.push(field_match(&key, val)?);
            }
            Ok(Cond::And(parts))
        }
        Yaml::Array(a) => {
            if a.iter().all(|x| matches!(x, Yaml::Hash(_))) && !a.is_empty() {
                Ok(Cond::Or(a.iter().map(selection).collect::<Result<_, _>>()?))
            } else {
                // Keywords: OR over the raw line.
                field_match("", v)
            }
        }
        Yaml::String(_) | Yaml::Integer(_) | Yaml::Real(_) => field_match("", v),
        _ => Err(invalid("a selection must be a map or a list")),
    }
}

/// `field|mod1|mod2: value(s)`; an empty field name means keywords.
fn field_match(key: &str, val: &Yaml) -> Result<Cond, Problem> {
    let mut parts = key.split('|');
    let fname = parts.next().unwrap_or("");
    let target = if fname.is_empty() {
        Target::Line
    } else {
        Target::Field(Field::from_sigma(fname))
    };
    let (mut op, mut all, mut cased, mut re, mut cidr, mut exists) =
        (StrOp::Eq, false, false, false, false, false);
    let mut re_flags = String::new();
    for m in parts {
        match m {
            "contains" => op = StrOp::Contains,
            "startswith" => op = StrOp::Starts,
            "endswith" => op = StrOp::Ends,
            "all" => all = true,
            "cased" => cased = true,
            "re" => re = true,
            "cidr" => cidr = true,
            "exists" => exists = true,
            "i" | "m" | "s" if re => re_flags.push_str(m),
            other => return Err(unsupported(format!("modifier {other:?}"))),
        }
    }
    if target == Target::Line && op == StrOp::Eq {
        op = StrOp::Contains; // keywords match anywhere in the line
    }
    let values: Vec<&Yaml> = match val {
        Yaml::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    if values.is_empty() {
        return Err(invalid("an empty value list"));
    }
    let mut leaves = Vec::new();
    for v in values {
        if exists {
            let want = matches!(v, Yaml::Boolean(true));
            let null = Cond::Leaf(Leaf {
                target,
                test: Test::Null,
            });
            leaves.push(if want {
                Cond::Not(Box::new(null))
            } else {
                null
            });
            continue;
        }
        if matches!(v, Yaml::Null) {
            leaves.push(Cond::Leaf(Leaf {
                target,
                test: Test::Null,
            }));
            continue;
        }
        let s = as_str(v).ok_or_else(|| invalid("a value is neither a string nor a number"))?;
        let test = if re {
            let pattern = if re_flags.is_empty() {
                s.clone()
            } else {
                format!("(?{re_flags}){s}")
            };
            let r = regex::bytes::Regex::new(&pattern)
                .map_err(|e| invalid(format!("bad regex {s:?}: {}", first_line(&e.to_string()))))?;
            Test::Regex(r)
        } else if cidr {
            Test::Cidr(vec![
                parse_cidr(&s).ok_or_else(|| invalid(format!("bad CIDR {s:?}")))?
            ])
        } else {
            string_test(&s, op, cased, target == Target::Line)?
        };
        leaves.push(Cond::Leaf(Leaf { target, test }));
    }
    Ok(if leaves.len() == 1 {
        leaves.pop().expect("one")
    } else if all {
        Cond::And(leaves)
    } else {
        Cond::Or(leaves)
    })
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

/// A plain value: glob pieces when it has unescaped `*`/`?`, else a string comparison.
fn string_test(s: &str, op: StrOp, cased: bool, unanchored: bool) -> Result<Test, Problem> {
    // Split into literal runs and wildcards, undoing `\*`, `\?`, `\\`.
    enum P {
        Lit(String),
        Star,
        One,
    }
    let mut pieces: Vec<P> = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars().peekable();
    let mut wild = false;
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.peek() {
                Some('*' | '?' | '\\') => cur.push(it.next().expect("peeked")),
                _ => cur.push('\\'),
            },
            '*' | '?' => {
                wild = true;
                if !cur.is_empty() {
                    pieces.push(P::Lit(std::mem::take(&mut cur)));
                }
                pieces.push(if c == '*' { P::Star } else { P::One });
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        pieces.push(P::Lit(cur));
    }
    let fold = |x: &str| -> Vec<u8> {
        if cased {
            x.as_bytes().to_vec()
        } else {
            x.to_ascii_lowercase().into_bytes()
        }
    };
    if !wild {
        let lit = pieces
            .into_iter()
            .map(|p| match p {
                P::Lit(l) => l,
                _ => String::new(),
            })
            .collect::<String>();
        return Ok(Test::Str {
            op,
            needle: fold(&lit),
            cased,
        });
    }
    let mut re = String::from(if cased { "(?s-u)" } else { "(?is-u)" });
    let anchored_start = !unanchored && matches!(op, StrOp::Eq | StrOp::Starts);
    let anchored_end = !unanchored && matches!(op, StrOp::Eq | StrOp::Ends);
    if anchored_start {
        re.push('^');
    }
    let mut literal = String::new();
    for p in &pieces {
        match p {
            P::Lit(l) => {
                for b in l.bytes() {
                    if b.is_ascii() {
                        re.push_str(&regex::escape(&(b as char).to_string()));
                    } else {
                        re.push_str(&format!("\\x{b:02X}"));
                    }
                }
                if l.len() > literal.len() {
                    literal = l.clone();
                }
            }
            P::Star => re.push_str(".*"),
            P::One => re.push('.'),
        }
    }
    if anchored_end {
        re.push('$');
    }
    let r =
        regex::bytes::Regex::new(&re).map_err(|e| invalid(format!("wildcard value {s:?}: {e}")))?;
    Ok(Test::Glob {
        re: r,
        literal: fold(&literal),
    })
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare address.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let s = s.trim();
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let p = p.unwrap_or(max);
    (p <= max).then_some((ip, p))
}

/// Whether `ip` lies in `net/prefix`.
pub fn in_net(ip: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

// ---- conditions ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    And,
    Or,
    Not,
    Open,
    Close,
    OneOf,
    AllOf,
}

fn lex(s: &str) -> Result<Vec<Tok>, Problem> {
    let mut out = Vec::new();
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let lw = w.to_ascii_lowercase();
        let t = match lw.as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "(" => Tok::Open,
            ")" => Tok::Close,
            "1" | "any" | "all"
                if words.get(i + 1).map(|x| x.to_ascii_lowercase()) == Some("of".into()) =>
            {
                i += 1;
                if lw == "all" {
                    Tok::AllOf
                } else {
                    Tok::OneOf
                }
            }
            "|" => return Err(unsupported("aggregations (| count() …) in conditions")),
            "near" => return Err(unsupported("near in conditions")),
            _ if lw.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                return Err(unsupported(format!("{w} of … (only 1 of and all of)")))
            }
            _ => Tok::Ident(w.to_string()),
        };
        out.push(t);
        i += 1;
    }
    Ok(out)
}

struct CondParser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    sel: &'a BTreeMap<String, Cond>,
    order: &'a [String],
}

/// Parses a condition with the usual precedence: `not` over `and` over `or`.
fn parse_condition(
    s: &str,
    sel: &BTreeMap<String, Cond>,
    order: &[String],
) -> Result<Cond, Problem> {
    let mut p = CondParser {
        toks: lex(s)?,
        pos: 0,
        sel,
        order,
    };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(invalid(format!(
            "condition {s:?}: unexpected {:?}",
            p.toks[p.pos]
        )));
    }
    Ok(c)
}

impl CondParser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Cond, Problem> {
        let mut v = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.pop().expect("one")
        } else {
            Cond::Or(v)
        })
    }

    fn and(&mut self) -> Result<Cond, Problem> {
        let mut v = vec![self.unary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            v.push(self.unary()?);
        }
        Ok(if v.len() == 1 {
            v.pop().expect("one")
        } else {
            Cond::And(v)
        })
    }

    fn unary(&mut self) -> Result<Cond, Problem> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Cond::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let c = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(invalid("unbalanced parentheses in condition"));
                }
                self.pos += 1;
                Ok(c)
            }
            Some(t @ (Tok::OneOf | Tok::AllOf)) => {
                self.pos += 1;
                let Some(Tok::Ident(pat)) = self.toks.get(self.pos).cloned() else {
                    return Err(invalid("`of` must be followed by a name pattern or `them`"));
                };
                self.pos += 1;
                let names: Vec<&String> = if pat == "them" {
                    self.order.iter().filter(|n| !n.starts_with('_')).collect()
                } else {
                    self.order.iter().filter(|n| name_glob(&pat, n)).collect()
                };
                if names.is_empty() {
                    return Err(invalid(format!(
                        "condition names {pat:?} but no selection matches it"
                    )));
                }
                let v: Vec<Cond> = names.iter().map(|n| self.sel[*n].clone()).collect();
                Ok(if t == Tok::AllOf {
                    Cond::And(v)
                } else {
                    Cond::Or(v)
                })
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                self.sel.get(&name).cloned().ok_or_else(|| {
                    invalid(format!(
                        "condition names {name:?}, which is not in detection"
                    ))
                })
            }
            Some(t) => Err(invalid(format!("unexpected {t:?} in condition"))),
            None => Err(invalid("condition ends too early")),
        }
    }
}

/// `selection_*` against a selection name (`*` any run, `?` one character).
fn name_glob(pat: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pat.as_bytes(), name.as_bytes())
}
