//! The `diff` stage: read both runs → refuse different fingerprint keys → match people and
//! compare → print the summary → write diff.csv, diff.jsonl, diff.json (and, with
//! `affected_only`, affected.jsonl) into `out`.

use super::{Diff, Kind, Run};
use crate::output::{self, CsvOut};
use crate::progress::Progress;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What `diff` compares and where it writes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The older run's affected.jsonl (or its case folder).
    pub old: PathBuf,
    /// The newer run's.
    pub new: PathBuf,
    /// Where diff.csv, diff.jsonl, diff.json go; nothing is written without it.
    pub out: Option<PathBuf>,
    /// Also write the people of these kinds (`added`, `changed`, …) as an affected.jsonl.
    pub affected_only: Vec<String>,
}

/// Compares two runs, prints the summary on stdout and writes the outputs when `out` is set.
pub fn run(args: &Options, ui: &dyn Progress) -> Result<Diff, crate::Error> {
    let old = super::load(&args.old)?;
    let new = super::load(&args.new)?;
    super::check_keys(&old, &new)?;
    for r in [&old, &new] {
        if !r.has_summary {
            ui.warn(&format!(
                "{}: no summary.json beside it: cannot check that both runs used the same fingerprint key (with different keys every card looks changed)",
                r.affected.display()
            ));
        }
    }
    if let Some(out) = &args.out {
        check_out(out, &[&old, &new])?;
    }
    let d = super::compare(&old.people, &new.people);
    print!(
        "{}",
        crate::cards::detect::mask(&summary_text(&old, &new, &d)).0
    );
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).map_err(|e| crate::Error::io(out, e))?;
        write_rows(out, &d)?;
        output::write_json(&out.join("diff.json"), &summary_json(&old, &new, &d))?;
        if !args.affected_only.is_empty() {
            let kinds: BTreeSet<Kind> = args
                .affected_only
                .iter()
                .filter_map(|k| Kind::parse(k))
                .collect();
            let n = write_affected_only(&out.join("affected.jsonl"), &old, &new, &d, &kinds)?;
            ui.say(&format!(
                "skimtrace: {n} people ({}) written to {}",
                args.affected_only.join(", "),
                out.join("affected.jsonl").display()
            ));
        }
        ui.say(&format!("skimtrace: diff written to {}", out.display()));
    }
    Ok(d)
}

/// `--out` must not be a case folder (its affected.jsonl would be replaced) nor either input.
fn check_out(out: &Path, runs: &[&Run]) -> Result<(), crate::Error> {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    for r in runs {
        let folder = r.affected.parent().unwrap_or(Path::new("."));
        if canon(out).is_some() && canon(out) == canon(folder) {
            return Err(crate::Error::usage(format!(
                "--out {}: this is where {} lives; pick another folder",
                out.display(),
                r.affected.display()
            )));
        }
    }
    if out.join("affected.jsonl").exists() && !out.join("diff.json").exists() {
        return Err(crate::Error::usage(format!(
            "--out {}: holds an affected.jsonl that no diff wrote (a case folder?); pick another folder",
            out.display()
        )));
    }
    Ok(())
}

fn summary_text(old: &Run, new: &Run, d: &Diff) -> String {
    let counts = d.counts();
    let fields = d.field_counts();
    let run_line = |what: &str, r: &Run| {
        format!(
            "{what} {} ({} people, window {}, key {})\n",
            r.given.display(),
            r.people.len(),
            r.window_text(),
            r.key_id().unwrap_or("unknown")
        )
    };
    let mut s = run_line("old:", old);
    s.push_str(&run_line("new:", new));
    for k in Kind::ALL {
        s.push_str(&format!("{:<10} {:>6}", k.as_str(), counts[k.as_str()]));
        if k == Kind::Changed {
            let parts: Vec<String> = super::FIELDS
                .iter()
                .map(|f| format!("{f} {}", fields[f]))
                .collect();
            s.push_str(&format!("  ({})", parts.join(", ")));
        }
        s.push('\n');
    }
    s
}

fn summary_json(old: &Run, new: &Run, d: &Diff) -> serde_json::Value {
    json!({
        "tool": concat!("skimtrace ", env!("CARGO_PKG_VERSION")),
        "old": old.info(),
        "new": new.info(),
        "counts": d.counts(),
        "changed_fields": d.field_counts(),
    })
}

fn write_rows(out: &Path, d: &Diff) -> Result<(), crate::Error> {
    let mut csv = CsvOut::create(
        &out.join("diff.csv"),
        &[
            "kind",
            "fields",
            "old_customer_ids",
            "new_customer_ids",
            "link",
            "name",
            "email",
        ],
    )?;
    for r in &d.rows {
        csv.row([
            r.kind.as_str(),
            &r.fields.join("; "),
            &r.old_customer_ids.join("; "),
            &r.new_customer_ids.join("; "),
            &r.link,
            &crate::text::scrub_controls(&r.name),
            &r.email,
        ])?;
    }
    csv.commit()?;
    output::write_jsonl(&out.join("diff.jsonl"), &d.rows)
}

/// Writes the people of `kinds`: removed ones as in OLD, the others as in NEW, each line as
/// `affected` wrote it, sorted by customer id (as `affected` sorts). Returns how many.
fn write_affected_only(
    path: &Path,
    old: &Run,
    new: &Run,
    d: &Diff,
    kinds: &BTreeSet<Kind>,
) -> Result<usize, crate::Error> {
    // One look-up per person: a search of the whole run per id was quadratic in the people.
    fn index(r: &Run) -> std::collections::HashMap<&str, usize> {
        // Reversed, so the first line of an id is the one kept.
        r.people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.customer_id.as_str(), i))
            .rev()
            .collect()
    }
    let (old_index, new_index) = (index(old), index(new));
    let mut picked: std::collections::BTreeMap<String, String> = Default::default();
    for row in d.rows.iter().filter(|r| kinds.contains(&r.kind)) {
        let (run, index, ids) = match row.kind {
            Kind::Removed => (old, &old_index, &row.old_customer_ids),
            _ => (new, &new_index, &row.new_customer_ids),
        };
        for id in ids {
            if let Some(&i) = index.get(id.as_str()) {
                picked
                    .entry(id.clone())
                    .or_insert_with(|| masked_line(&run.lines[i]));
            }
        }
    }
    let mut bytes = Vec::new();
    for l in picked.values() {
        bytes.extend_from_slice(l.as_bytes());
        bytes.push(b'\n');
    }
    output::write_file(path, &bytes)?;
    Ok(picked.len())
}

/// A line of an `affected.jsonl` as it is, unless it holds a card number, as written or in a
/// string once its JSON escapes are read (`\u0034`): then the value written again through the
/// masking JSON writer. A run's own lines never hold one; a file made or edited by hand may.
fn masked_line(line: &str) -> String {
    fn holds(v: &serde_json::Value) -> bool {
        use crate::cards::detect::holds_card;
        match v {
            serde_json::Value::String(s) => holds_card(s.as_bytes()),
            serde_json::Value::Array(a) => a.iter().any(holds),
            serde_json::Value::Object(o) => {
                o.iter().any(|(k, v)| holds_card(k.as_bytes()) || holds(v))
            }
            _ => false,
        }
    }
    let value: Option<serde_json::Value> = serde_json::from_str(line).ok();
    let card = crate::cards::detect::holds_card(line.as_bytes());
    match value {
        Some(v) if card || holds(&v) => {
            let mut buf = Vec::new();
            match output::to_json_writer(&mut buf, &v, false) {
                Ok(()) => String::from_utf8(buf).expect("JSON is UTF-8"),
                Err(_) => crate::cards::detect::mask(line).0.into_owned(),
            }
        }
        _ => crate::cards::detect::mask(line).0.into_owned(),
    }
}
