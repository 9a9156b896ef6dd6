//! All rules compiled into one matcher. Every literal a rule needs is looked for only in the
//! value its leaf tests: the request target for `cs-uri-stem`/`cs-uri-query` (one pass
//! serves both, they are parts of it), the user agent, the referer, the method, the whole line
//! for keywords. Per value, one Aho-Corasick pass (ASCII case-insensitive, overlapping) finds
//! every literal present; only rules that one of their necessary literals triggers are
//! evaluated, plus the few that have no literal to wait for (a bare `not`, a `cidr`, a `null`,
//! a regex). A leaf whose literal is absent from its value cannot hold, so the prefilter never
//! changes a result, it only skips work, whether the value is a slice of the line or was
//! unescaped from it (a JSON log).
//!
//! Scanning the values rather than the line is what makes the pass cheap: on a combined log
//! the target is a fifth of the line, and the small literal sets of the user agent and the
//! referer are found by a vectorised prefilter rather than a state per byte.

use super::sigma::{in_net, Cond, Leaf, Rule, StrOp, Target, Test};
use crate::access_log::{is_null, Field, Record};
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use std::collections::HashMap;
use std::net::IpAddr;

enum CCond {
    And(Vec<CCond>),
    Or(Vec<CCond>),
    Not(Box<CCond>),
    Leaf { leaf: Leaf, lit: Option<u32> },
}

/// Where a leaf's literal is looked for: the whole line (keywords) or one field. The stem and
/// the query are read inside the target, of which they are parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Region {
    Line,
    Field(Field),
}

impl Region {
    fn of(target: Target) -> Region {
        match target {
            Target::Line => Region::Line,
            Target::Field(Field::UriStem | Field::QueryOnly | Field::Target) => {
                Region::Field(Field::Target)
            }
            Target::Field(f) => Region::Field(f),
        }
    }

    /// The Sigma name of what is scanned.
    fn name(self) -> &'static str {
        match self {
            Region::Line => "keywords",
            Region::Field(f) => match f {
                Field::ClientIp => "c-ip",
                Field::Username => "cs-username",
                Field::Method => "cs-method",
                Field::UriStem | Field::Target | Field::QueryOnly => "cs-uri",
                Field::Status => "sc-status",
                Field::Referer => "cs-referer",
                Field::UserAgent => "cs-user-agent",
                Field::Host => "cs-host",
                Field::Cookie => "cs-cookie",
                Field::Version => "cs-version",
                Field::Bytes => "sc-bytes",
                Field::Unknown => "(a field the logs do not carry)",
            },
        }
    }

    fn value<'a>(self, line: &'a [u8], rec: &'a Record<'_>) -> Option<&'a [u8]> {
        match self {
            Region::Line => Some(line),
            Region::Field(f) => rec.get(f),
        }
    }
}

/// A literal and where it is looked for.
type Literal = (Region, Vec<u8>);

/// One region's literals: a vectorised gate that tells whether any is there, the automaton
/// that finds them all, and, per pattern, its slot in [`Scratch::present`].
struct Pass {
    region: Region,
    gate: Gate,
    ac: AhoCorasick,
    slots: Vec<u32>,
}

/// What tells, faster than the automaton walks a value, that no literal is in it: most values
/// hold none. Teddy (vectorised, at most 64 patterns) is exact where the literals are matched
/// in any ASCII case, so it is given the value or the literals in every case.
enum Gate {
    /// Teddy over every ASCII case form of the literals' first three bytes (`nik`, `Nik`,
    /// `NIK`, …), run on the value as it is: when there are at most 64 such forms (the user
    /// agent's and the referer's literals of the built-in pack).
    Prefixes(aho_corasick::packed::Searcher),
    /// Teddy over the literals, run on a lowercased copy of the value: one for at most 64
    /// literals, none for more in a field (it is short, the automaton does), groups of 64 on
    /// the whole line.
    Lowered(Vec<aho_corasick::packed::Searcher>),
}

/// The compiled rules, shared read-only by every parsing thread.
pub struct Matcher {
    conds: Vec<CCond>,
    passes: Vec<Pass>,
    lit_rules: Vec<Vec<u32>>,
    always: Vec<u32>,
    /// Per rule, the literals that trigger it (`None`: evaluated on every request), as
    /// (region, text), for [`Matcher::triggers`].
    triggers: Vec<Option<Vec<Literal>>>,
}

/// What makes the matcher evaluate a rule on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Only requests where one of these literals is in its value: (field, literal, lowercase),
    /// the field named as in Sigma (`cs-uri` for the target, of which `cs-uri-stem` and
    /// `cs-uri-query` are parts; `keywords` for the whole line).
    Literals(Vec<(&'static str, String)>),
    /// Every request: the rule can match without any literal being present (a `not`, a `cidr`,
    /// a `null`, a regex with no fixed part).
    Every,
}

impl Trigger {
    /// Whether the rule is in practice evaluated on most requests: triggered by a literal of
    /// the status or the protocol (`200`, `HTTP/1.1`), by the method `GET` or `HEAD`, or by
    /// none.
    pub fn on_most_requests(&self) -> bool {
        match self {
            Trigger::Every => true,
            Trigger::Literals(v) => v.iter().any(|(f, l)| match *f {
                "sc-status" | "cs-version" => true,
                "cs-method" => is_common_method(l.as_bytes()),
                _ => false,
            }),
        }
    }
}

/// Per-thread scratch space, so matching allocates nothing per line.
#[derive(Default)]
pub struct Scratch {
    present: Vec<bool>,
    touched: Vec<u32>,
    mark: Vec<u32>,
    gen: u32,
    cand: Vec<u32>,
    /// The value being gated, lowercased.
    lower: Vec<u8>,
}

impl Matcher {
    pub fn new(rules: &[Rule]) -> Matcher {
        let mut lits: HashMap<(Region, Vec<u8>), u32> = HashMap::new();
        let mut lit_list: Vec<(Region, Vec<u8>)> = Vec::new();
        let mut conds = Vec::new();
        for r in rules {
            conds.push(compile(&r.cond, &mut lits, &mut lit_list));
        }
        // Only the literals that trigger a rule are looked for: a common literal that some
        // selective one beside it makes redundant (`GET` next to `/.git/`) would only slow
        // the scan down.
        let mut trigger: Vec<Option<u32>> = vec![None; lit_list.len()];
        let mut slot_lits: Vec<u32> = Vec::new();
        let mut lit_rules: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        let mut triggers = Vec::new();
        for (i, c) in conds.iter().enumerate() {
            let needed = need(c, &lit_list);
            triggers.push(needed.as_ref().map(|ls| {
                ls.iter()
                    .map(|&l| lit_list[l as usize].clone())
                    .collect::<Vec<_>>()
            }));
            match needed {
                Some(ls) => {
                    for l in ls {
                        let a = *trigger[l as usize].get_or_insert_with(|| {
                            slot_lits.push(l);
                            lit_rules.push(Vec::new());
                            (slot_lits.len() - 1) as u32
                        });
                        if !lit_rules[a as usize].contains(&(i as u32)) {
                            lit_rules[a as usize].push(i as u32);
                        }
                    }
                }
                None => always.push(i as u32),
            }
        }
        for c in &mut conds {
            remap(c, &trigger);
        }
        // One automaton per region, its patterns in slot order (deterministic).
        let mut by_region: std::collections::BTreeMap<Region, (Vec<&[u8]>, Vec<u32>)> =
            Default::default();
        for (slot, &l) in slot_lits.iter().enumerate() {
            let (region, text) = &lit_list[l as usize];
            let e = by_region.entry(*region).or_default();
            e.0.push(text);
            e.1.push(slot as u32);
        }
        let passes = by_region
            .into_iter()
            .map(|(region, (patterns, slots))| Pass {
                region,
                gate: gate(region, &patterns),
                ac: automaton(&patterns),
                slots,
            })
            .collect();
        Matcher {
            conds,
            passes,
            lit_rules,
            always,
            triggers,
        }
    }

    /// Every rule evaluated in full, no literal looked for first: what [`Matcher::matches`]
    /// must always agree with.
    #[cfg(test)]
    pub(crate) fn matches_unfiltered(&self, line: &[u8], rec: &Record<'_>) -> Vec<u32> {
        let ctx = Ctx {
            line,
            rec,
            present: &[],
            filter: false,
        };
        (0..self.conds.len() as u32)
            .filter(|&r| eval(&self.conds[r as usize], &ctx))
            .collect()
    }

    /// Per rule (in the order given to [`Matcher::new`]), what makes it evaluated.
    pub fn triggers(&self) -> Vec<Trigger> {
        self.triggers
            .iter()
            .map(|t| match t {
                None => Trigger::Every,
                Some(v) => {
                    let mut v: Vec<(&'static str, String)> = v
                        .iter()
                        .map(|(r, text)| (r.name(), String::from_utf8_lossy(text).into_owned()))
                        .collect();
                    v.sort();
                    v.dedup();
                    Trigger::Literals(v)
                }
            })
            .collect()
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            present: vec![false; self.lit_rules.len()],
            mark: vec![0; self.conds.len()],
            ..Scratch::default()
        }
    }

    /// The indices (into the rules given to [`Matcher::new`]) of the rules the record
    /// matches, in ascending order, appended to `out`.
    pub fn matches(&self, line: &[u8], rec: &Record<'_>, s: &mut Scratch, out: &mut Vec<u32>) {
        for &t in &s.touched {
            s.present[t as usize] = false;
        }
        s.touched.clear();
        s.cand.clear();
        s.gen = s.gen.wrapping_add(1);
        if s.gen == 0 {
            s.mark.iter_mut().for_each(|m| *m = 0);
            s.gen = 1;
        }
        for pass in &self.passes {
            let Some(value) = pass.region.value(line, rec) else {
                continue;
            };
            match &pass.gate {
                Gate::Prefixes(g) => {
                    if g.find(value).is_none() {
                        continue;
                    }
                }
                Gate::Lowered(gates) if !gates.is_empty() => {
                    s.lower.clear();
                    s.lower.extend_from_slice(value);
                    s.lower.make_ascii_lowercase();
                    if !gates.iter().any(|g| g.find(&s.lower).is_some()) {
                        continue;
                    }
                }
                Gate::Lowered(_) => {}
            }
            // One call per match and one at the end, rather than an iterator built per value,
            // whose set-up showed in the profile: most values are short, with no match.
            let input = aho_corasick::Input::new(value);
            let mut at = aho_corasick::automaton::OverlappingState::start();
            loop {
                pass.ac.find_overlapping(input.clone(), &mut at);
                let Some(m) = at.get_match() else { break };
                let l = pass.slots[m.pattern().as_usize()] as usize;
                if s.present[l] {
                    continue;
                }
                s.present[l] = true;
                s.touched.push(l as u32);
                for &r in &self.lit_rules[l] {
                    if s.mark[r as usize] != s.gen {
                        s.mark[r as usize] = s.gen;
                        s.cand.push(r);
                    }
                }
            }
        }
        let ctx = Ctx {
            line,
            rec,
            present: &s.present,
            filter: true,
        };
        s.cand.extend_from_slice(&self.always);
        s.cand.sort_unstable();
        for &r in &s.cand {
            if eval(&self.conds[r as usize], &ctx) {
                out.push(r);
            }
        }
    }
}

/// The gate of a region's literals (lowercase already, see `compile`): their prefixes in every
/// case when there are at most 64 such, else [`lowered_gates`].
fn gate(region: Region, patterns: &[&[u8]]) -> Gate {
    let mut forms: std::collections::BTreeSet<Vec<u8>> = Default::default();
    for p in patterns {
        let mut these = vec![Vec::new()];
        for &b in &p[..p.len().min(3)] {
            let cases: &[u8] = if b.is_ascii_lowercase() {
                &[b, b.to_ascii_uppercase()]
            } else {
                &[b]
            };
            these = these
                .iter()
                .flat_map(|f| {
                    cases.iter().map(move |&c| {
                        let mut f = f.clone();
                        f.push(c);
                        f
                    })
                })
                .collect();
        }
        forms.extend(these);
        if forms.len() > 64 {
            return Gate::Lowered(lowered_gates(region, patterns));
        }
    }
    match aho_corasick::packed::Searcher::new(forms.iter()) {
        Some(g) if !forms.is_empty() => Gate::Prefixes(g),
        _ => Gate::Lowered(lowered_gates(region, patterns)),
    }
}

/// The Teddy gates of a region's literals (lowercase already, see `compile`): one for at most
/// 64, none for more in a field, groups of at most 64 in the whole line. Empty when Teddy
/// cannot run here (no SSSE3/AVX2): the automaton alone then answers.
fn lowered_gates(region: Region, patterns: &[&[u8]]) -> Vec<aho_corasick::packed::Searcher> {
    const TEDDY_MAX: usize = 64;
    let groups = patterns.len().div_ceil(TEDDY_MAX);
    if groups > 1 && region != Region::Line {
        return Vec::new();
    }
    let per = patterns.len().div_ceil(groups.max(1));
    let gates: Option<Vec<_>> = patterns
        .chunks(per.max(1))
        .map(|g| aho_corasick::packed::Searcher::new(g.iter()))
        .collect();
    gates.unwrap_or_default()
}

/// An ASCII case-insensitive automaton for overlapping search: a DFA (a state per byte, no
/// failure transitions to follow), else the default when the DFA would be too big.
fn automaton(patterns: &[&[u8]]) -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .or_else(|_| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(patterns)
        })
        .expect("literal automaton")
}

fn compile(
    c: &Cond,
    lits: &mut HashMap<(Region, Vec<u8>), u32>,
    list: &mut Vec<(Region, Vec<u8>)>,
) -> CCond {
    match c {
        Cond::And(v) => CCond::And(v.iter().map(|x| compile(x, lits, list)).collect()),
        Cond::Or(v) => CCond::Or(v.iter().map(|x| compile(x, lits, list)).collect()),
        Cond::Not(x) => CCond::Not(Box::new(compile(x, lits, list))),
        Cond::Leaf(leaf) => {
            let lit = leaf.literal().map(|l| {
                let key = (Region::of(leaf.target), l.to_ascii_lowercase());
                *lits.entry(key.clone()).or_insert_with(|| {
                    list.push(key);
                    (list.len() - 1) as u32
                })
            });
            CCond::Leaf {
                leaf: leaf.clone(),
                lit,
            }
        }
    }
}

/// Literals of which at least one must be in its value for the condition to hold; `None`
/// when it can hold without any. Of the alternatives an `and` offers, the one likely to trigger
/// least and cost least to look for is kept (see [`trigger_score`]), then the smallest set.
fn need(c: &CCond, lits: &[(Region, Vec<u8>)]) -> Option<Vec<u32>> {
    match c {
        CCond::Leaf { lit, .. } => lit.map(|l| vec![l]),
        CCond::Not(_) => None,
        CCond::And(v) => v
            .iter()
            .filter_map(|x| need(x, lits))
            .max_by_key(|set| (trigger_score(set, lits), std::cmp::Reverse(set.len()))),
        CCond::Or(v) => {
            let mut all = Vec::new();
            for x in v {
                all.extend(need(x, lits)?);
            }
            Some(all)
        }
    }
}

/// How well a set of literals keeps a rule from being evaluated, higher is better. The longer
/// its shortest literal, the fewer false triggers. A literal in a field is cheaper to look for
/// than one in the whole line (a field is a fraction of the line, and a keyword is evaluated
/// over all of it): two bytes longer. A literal in the status or the protocol, or the method
/// `GET` or `HEAD`, triggers on a large share of all requests (`200`, `HTTP/1.1`): the worst
/// choice. Any other method (`POST`, `PUT`) is a few requests in a hundred, where a short
/// extension of the path (`.js`, `.png`) is most of them: scored as a field literal, it wins
/// over those.
fn trigger_score(set: &[u32], lits: &[(Region, Vec<u8>)]) -> usize {
    set.iter()
        .map(|&l| {
            let (region, text) = &lits[l as usize];
            match region {
                Region::Field(Field::Method) if is_common_method(text) => 0,
                Region::Field(Field::Status | Field::Version) => 0,
                Region::Field(_) => text.len().min(8) + 2,
                Region::Line => text.len().min(8),
            }
        })
        .min()
        .unwrap_or(0)
}

/// The methods of most requests, lowercase as literals are kept: `GET` and `HEAD`.
fn is_common_method(text: &[u8]) -> bool {
    matches!(text, b"get" | b"head")
}

/// Points each leaf at its literal's slot in the automaton, or at none when the literal is
/// not scanned for (the leaf is then always evaluated in full).
fn remap(c: &mut CCond, trigger: &[Option<u32>]) {
    match c {
        CCond::And(v) | CCond::Or(v) => v.iter_mut().for_each(|x| remap(x, trigger)),
        CCond::Not(x) => remap(x, trigger),
        CCond::Leaf { lit, .. } => *lit = lit.and_then(|l| trigger[l as usize]),
    }
}

struct Ctx<'a, 'r> {
    line: &'a [u8],
    rec: &'a Record<'r>,
    present: &'a [bool],
    /// Whether an absent literal settles a leaf (false only to check the prefilter in tests).
    filter: bool,
}

fn eval(c: &CCond, ctx: &Ctx<'_, '_>) -> bool {
    match c {
        CCond::And(v) => v.iter().all(|x| eval(x, ctx)),
        CCond::Or(v) => v.iter().any(|x| eval(x, ctx)),
        CCond::Not(x) => !eval(x, ctx),
        CCond::Leaf { leaf, lit } => {
            if let Some(l) = lit {
                if ctx.filter && !ctx.present[*l as usize] {
                    return false;
                }
            }
            leaf_holds(leaf, ctx.line, ctx.rec)
        }
    }
}

/// Whether one leaf holds for a record (`line` is the raw line, for keywords).
pub fn leaf_holds(leaf: &Leaf, line: &[u8], rec: &Record<'_>) -> bool {
    let v = match leaf.target {
        Target::Line => Some(line),
        Target::Field(f) => rec.get(f),
    };
    if let Test::Null = leaf.test {
        return is_null(v);
    }
    let Some(v) = v else { return false };
    match &leaf.test {
        Test::Str { op, needle, cased } => str_test(*op, v, needle, *cased),
        Test::Glob { re, .. } | Test::Regex(re) => re.is_match(v),
        Test::Cidr(nets) => match parse_ip(v) {
            Some(ip) => nets.iter().any(|n| in_net(ip, *n)),
            None => false,
        },
        Test::Domain(d) => has_domain(v, d),
        Test::Null => unreachable!("handled above"),
    }
}

fn str_test(op: StrOp, v: &[u8], needle: &[u8], cased: bool) -> bool {
    let eq = |a: &[u8], b: &[u8]| {
        if cased {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    match op {
        StrOp::Eq => eq(v, needle),
        StrOp::Starts => v.len() >= needle.len() && eq(&v[..needle.len()], needle),
        StrOp::Ends => v.len() >= needle.len() && eq(&v[v.len() - needle.len()..], needle),
        StrOp::Contains => {
            if cased {
                memchr::memmem::find(v, needle).is_some()
            } else {
                find_ci(v, needle).is_some()
            }
        }
    }
}

/// Finds an ASCII-lowercase needle in a haystack of any case.
pub fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some(&first) = needle.first() else {
        return Some(0);
    };
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        let at = i + memchr::memchr2(lo, up, &hay[i..hay.len() - needle.len() + 1])?;
        if hay[at..at + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// A domain at label boundaries: `evil.example` in `https://cdn.evil.example/x`, not in
/// `notevil.example` or `evil.example.org`.
fn has_domain(v: &[u8], d: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = find_ci(&v[from..], d) {
        let at = from + p;
        let before = at.checked_sub(1).map(|i| v[i]);
        let after = v.get(at + d.len()).copied();
        let label = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
        if !before.is_some_and(label) && !after.is_some_and(|c| label(c) || c == b'.') {
            return true;
        }
        from = at + 1;
    }
    false
}

fn parse_ip(v: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.trim().trim_start_matches('[');
    let s = s.split(']').next().unwrap_or(s);
    s.parse().ok()
}
