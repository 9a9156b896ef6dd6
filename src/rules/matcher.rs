//! All rules compiled into one matcher. Per line, one Aho-Corasick pass (ASCII
//! case-insensitive, overlapping) finds every rule literal present in the raw line; only rules
//! that one of their necessary literals triggers are evaluated, plus the few that have no
//! literal to wait for (a bare `not`, a `cidr`, a `null`, a regex). A line whose fields were
//! unescaped or joined is not a verbatim copy of its fields, so for it every rule is evaluated
//! in full: the prefilter never changes a result, it only skips work.

use super::sigma::{in_net, Cond, Leaf, Rule, StrOp, Target, Test};
use crate::access_log::{is_null, Record};
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use std::collections::HashMap;
use std::net::IpAddr;

enum CCond {
    And(Vec<CCond>),
    Or(Vec<CCond>),
    Not(Box<CCond>),
    Leaf { leaf: Leaf, lit: Option<u32> },
}

/// The compiled rules, shared read-only by every parsing thread.
pub struct Matcher {
    conds: Vec<CCond>,
    ac: Option<AhoCorasick>,
    lit_rules: Vec<Vec<u32>>,
    always: Vec<u32>,
}

/// Per-thread scratch space, so matching allocates nothing per line.
#[derive(Default)]
pub struct Scratch {
    present: Vec<bool>,
    touched: Vec<u32>,
    mark: Vec<u32>,
    gen: u32,
    cand: Vec<u32>,
}

impl Matcher {
    pub fn new(rules: &[Rule]) -> Matcher {
        let mut lits: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut lit_list: Vec<Vec<u8>> = Vec::new();
        let mut conds = Vec::new();
        for r in rules {
            conds.push(compile(&r.cond, &mut lits, &mut lit_list));
        }
        // Only the literals that trigger a rule go into the automaton: a common literal that
        // some selective one beside it makes redundant (`GET` next to `/.git/`) would only
        // slow the scan down.
        let mut trigger: Vec<Option<u32>> = vec![None; lit_list.len()];
        let mut ac_lits: Vec<Vec<u8>> = Vec::new();
        let mut lit_rules: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        for (i, c) in conds.iter().enumerate() {
            match need(c, &lit_list) {
                Some(ls) => {
                    for l in ls {
                        let a = *trigger[l as usize].get_or_insert_with(|| {
                            ac_lits.push(lit_list[l as usize].clone());
                            lit_rules.push(Vec::new());
                            (ac_lits.len() - 1) as u32
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
        let ac = (!ac_lits.is_empty()).then(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&ac_lits)
                .or_else(|_| {
                    AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        .build(&ac_lits)
                })
                .expect("literal automaton")
        });
        Matcher {
            conds,
            ac,
            lit_rules,
            always,
        }
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
        let verbatim = rec.verbatim();
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(line) {
                let l = m.pattern().as_usize();
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
            verbatim,
        };
        if verbatim {
            s.cand.extend_from_slice(&self.always);
            s.cand.sort_unstable();
            for &r in &s.cand {
                if eval(&self.conds[r as usize], &ctx) {
                    out.push(r);
                }
            }
        } else {
            for (r, c) in self.conds.iter().enumerate() {
                if eval(c, &ctx) {
                    out.push(r as u32);
                }
            }
        }
    }
}

fn compile(c: &Cond, lits: &mut HashMap<Vec<u8>, u32>, list: &mut Vec<Vec<u8>>) -> CCond {
    match c {
        Cond::And(v) => CCond::And(v.iter().map(|x| compile(x, lits, list)).collect()),
        Cond::Or(v) => CCond::Or(v.iter().map(|x| compile(x, lits, list)).collect()),
        Cond::Not(x) => CCond::Not(Box::new(compile(x, lits, list))),
        Cond::Leaf(leaf) => {
            let lit = leaf.literal().map(|l| {
                let key = l.to_ascii_lowercase();
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

/// Literals of which at least one must be in the line for the condition to hold; `None`
/// when it can hold without any. Of the alternatives an `and` offers, the most selective is
/// kept: the one whose shortest literal is longest (fewest false triggers), then the smallest.
fn need(c: &CCond, lits: &[Vec<u8>]) -> Option<Vec<u32>> {
    match c {
        CCond::Leaf { lit, .. } => lit.map(|l| vec![l]),
        CCond::Not(_) => None,
        CCond::And(v) => v.iter().filter_map(|x| need(x, lits)).max_by_key(|set| {
            let shortest = set
                .iter()
                .map(|&l| lits[l as usize].len())
                .min()
                .unwrap_or(0);
            (shortest.min(8), std::cmp::Reverse(set.len()))
        }),
        CCond::Or(v) => {
            let mut all = Vec::new();
            for x in v {
                all.extend(need(x, lits)?);
            }
            Some(all)
        }
    }
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
    verbatim: bool,
}

fn eval(c: &CCond, ctx: &Ctx<'_, '_>) -> bool {
    match c {
        CCond::And(v) => v.iter().all(|x| eval(x, ctx)),
        CCond::Or(v) => v.iter().any(|x| eval(x, ctx)),
        CCond::Not(x) => !eval(x, ctx),
        CCond::Leaf { leaf, lit } => {
            if ctx.verbatim {
                if let Some(l) = lit {
                    if !ctx.present[*l as usize] {
                        return false;
                    }
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
