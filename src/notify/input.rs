//! Reading `affected.jsonl`: one customer per line, as `affected` wrote it.
//!
//! Only the fields a notice needs are read; unknown fields are ignored so that later versions of
//! `affected` can add fields without breaking notices. The card's `masked` form (BIN + last 4) is
//! deliberately not read: customer-facing text shows the brand and the last 4 digits only.

use super::Error;
use serde::Deserialize;
use std::io::BufRead;
use std::path::Path;

/// One affected customer, as far as a notice is concerned.
#[derive(Debug, Clone, Deserialize)]
pub struct Recipient {
    pub customer_id: String,
    #[serde(default)]
    pub name: String,
    /// The notification address, when the customer has one.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub login_ids: Vec<String>,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub cards: Vec<RecipientCard>,
    #[serde(default)]
    pub order_count: usize,
    #[serde(default)]
    pub first_order_at: String,
    #[serde(default)]
    pub last_order_at: String,
    #[serde(default)]
    pub contact: String,
}

impl Recipient {
    /// Masks every card number in the text a notice may show (name, logins, card fields), in
    /// any written form, after the NFKC normalisation a template or a mail reader may apply:
    /// an `affected.jsonl` made elsewhere, or edited, is not trusted to be masked. The address
    /// is checked, not changed: one that holds a card number goes to `no_email.csv`.
    fn mask_card_numbers(&mut self) {
        let m = |s: &mut String| {
            if let (std::borrow::Cow::Owned(t), _) = crate::cards::detect::mask(s) {
                *s = t;
            }
            let n = crate::text::nfkc_lower(s);
            if crate::cards::holds_card(n.as_bytes()) {
                *s = crate::cards::detect::mask(&n).0.into_owned();
            }
        };
        m(&mut self.name);
        for l in &mut self.login_ids {
            m(l);
        }
        for c in &mut self.cards {
            m(&mut c.brand);
            m(&mut c.last4);
        }
    }
}

/// A card as a notice may show it: brand and last 4, nothing else.
#[derive(Debug, Clone, Deserialize)]
pub struct RecipientCard {
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub last4: String,
}

/// Reads every customer of `affected.jsonl`. A line that does not parse stops the run with its
/// file and line number (a truncated file must not silently drop customers).
pub fn read_affected(path: &Path) -> Result<Vec<Recipient>, crate::Error> {
    let f = std::fs::File::open(path).map_err(|e| crate::Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| crate::Error::io(path, e))?;
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
            }
            .into());
        }
        r.mask_card_numbers();
        out.push(r);
    }
    let mut seen = std::collections::HashSet::new();
    for r in &out {
        if !seen.insert(r.customer_id.as_str()) {
            return Err(Error::Affected {
                path: path.to_path_buf(),
                line: 0,
                message: format!("customer {} appears twice", r.customer_id),
            }
            .into());
        }
    }
    Ok(out)
}
