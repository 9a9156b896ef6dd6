//! Reading `affected.jsonl`: one customer per line, as `affected` wrote it.
//!
//! The record is [`crate::customers::Customer`], read tolerantly (missing fields default,
//! unknown ones are ignored), so later versions of `affected` can add fields without breaking
//! notices. A notice's context takes the brand and last 4 of a card, never its `masked` form:
//! customer-facing text shows the brand and the last 4 digits only.

use super::Error;
use std::io::BufRead;
use std::path::Path;

/// One affected customer, as a notice reads it: the one record of `affected.jsonl`. The
/// card's `masked` form (BIN + last 4) is there but never shown: customer-facing text shows the
/// brand and the last 4 digits only.
pub use crate::customers::Customer as Recipient;
/// A card of a [`Recipient`].
pub use crate::customers::CustomerCard as RecipientCard;

/// Masks every card number in the text a notice may show (name, logins, card fields), in
/// any written form, after the NFKC normalisation a template or a mail reader may apply:
/// an `affected.jsonl` made elsewhere, or edited, is not trusted to be masked. The address
/// is checked, not changed: one that holds a card number goes to `no_email.csv`.
fn mask_card_numbers(r: &mut Recipient) {
    let m = |s: &mut String| {
        if let (std::borrow::Cow::Owned(t), _) = crate::cards::detect::mask(s) {
            *s = t;
        }
        let n = crate::text::nfkc_lower(s);
        if crate::cards::holds_card(n.as_bytes()) {
            *s = crate::cards::detect::mask(&n).0.into_owned();
        }
    };
    m(&mut r.name);
    for l in &mut r.login_ids {
        m(l);
    }
    for c in &mut r.cards {
        m(&mut c.brand);
        m(&mut c.last4);
    }
}

/// Reads every customer of `affected.jsonl`. A line that does not parse stops the run with its
/// file and line number (a truncated file must not silently drop customers).
pub fn read_affected(path: &Path) -> Result<Vec<Recipient>, super::Error> {
    let f = std::fs::File::open(path).map_err(|e| super::Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| super::Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut r: Recipient = serde_json::from_str(&line).map_err(|e| Error::Affected {
            path: path.to_path_buf(),
            line: i + 1,
            // serde_json's message names the field, never the value.
            message: format!("not a customer record: {e}"),
        })?;
        if r.customer_id.trim().is_empty() {
            return Err(Error::Affected {
                path: path.to_path_buf(),
                line: i + 1,
                message: "customer_id is empty".into(),
            });
        }
        mask_card_numbers(&mut r);
        out.push(r);
    }
    let mut seen = std::collections::HashSet::new();
    for r in &out {
        if !seen.insert(r.customer_id.as_str()) {
            return Err(Error::Affected {
                path: path.to_path_buf(),
                line: 0,
                message: format!("customer {} appears twice", r.customer_id),
            });
        }
    }
    Ok(out)
}
