//! A rendered notice as RFC 5322 bytes, built with lettre and written with `formatted()`.
//!
//! The output is deterministic: the `Date` is the notice's configured date, the MIME boundary and
//! the `Message-ID` are derived from the incident, campaign and customer. Re-rendering gives
//! byte-identical files (their digests go in `index.csv`), and a resend carries the same
//! Message-ID, so a mailbox or a reviewer recognises it as the same notice.
//!
//! Header safety: names pass through [`super::render::clean_name`] (control characters and
//! direction overrides replaced) before lettre RFC 2047-encodes them; addresses are parsed by
//! lettre and must be plain ASCII, so nothing a customer typed can add a header line.

use super::render::{clean_name, Notice};
use crate::cards::base32_lower;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::time::SystemTime;

/// The fixed parts of every message of a run.
#[derive(Debug, Clone)]
pub struct Sender {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// The `Date` header of every message.
    pub date: SystemTime,
    /// The right-hand side of Message-IDs.
    pub id_domain: String,
    pub incident_id: String,
    pub campaign: String,
}

/// Why a customer cannot get an e-mail (written to `no_email.csv`).
pub fn address_problem(email: Option<&str>) -> Result<Address, &'static str> {
    let e = match email.map(str::trim) {
        None | Some("") => return Err("no address"),
        Some(e) => e,
    };
    if e.chars().any(crate::text::is_unsafe_char) {
        return Err("address holds control characters");
    }
    if !e.is_ascii() {
        // A non-ASCII mailbox needs SMTPUTF8 end to end; many Japanese carriers lack it.
        return Err("address is not ASCII");
    }
    Address::from_str(e).map_err(|_| "address is not valid")
}

/// A mailbox from a config value (`Name <addr>` or `addr`), for `from` and `reply_to`.
pub fn parse_mailbox(s: &str, what: &str) -> Result<Mailbox, super::Error> {
    if s.chars().any(crate::text::is_unsafe_char) {
        return Err(super::Error::Settings(format!(
            "[notify] {what}: holds control characters"
        )));
    }
    Mailbox::from_str(s.trim()).map_err(|e| {
        super::Error::Settings(format!(
            "[notify] {what} = {s:?}: not a mailbox ({e}); write it as \"Name <address@example.com>\""
        ))
    })
}

/// `<campaign.customer.incident@domain>`: stable across attempts, resends and re-renders.
/// A review copy (`--to-override`) gets its own id, so it is never taken for the notice.
pub fn message_id(s: &Sender, customer_id: &str, review: bool) -> String {
    let clean = |v: &str| -> String {
        v.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!(
        "<{}{}.{}.{}@{}>",
        if review { "review." } else { "" },
        clean(&s.campaign),
        clean(customer_id),
        clean(&s.incident_id),
        s.id_domain
    )
}

/// The MIME boundary for a message: base32 (no long digit runs) of a hash of its id.
fn boundary(message_id: &str) -> String {
    let h = Sha256::digest(message_id.as_bytes());
    format!("=_skimtrace_{}", &base32_lower(&h)[..26])
}

/// `X-Skimtrace-Original-To`: the customer's address on a review copy.
#[derive(Debug, Clone)]
struct OriginalTo(String);

impl Header for OriginalTo {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Skimtrace-Original-To")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(OriginalTo(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// One message ready to write or send.
#[derive(Debug, Clone)]
pub struct Built {
    pub message_id: String,
    /// The envelope recipient.
    pub to: Address,
    pub bytes: Vec<u8>,
}

/// Builds the message for one customer. `review_to` sends it to a review inbox instead, with
/// the customer's address in `X-Skimtrace-Original-To`.
pub fn build(
    s: &Sender,
    customer_id: &str,
    name: &str,
    to: &Address,
    notice: &Notice,
    subject_prefix: &str,
    review_to: Option<&Address>,
) -> Result<Built, lettre::error::Error> {
    let name = clean_name(name);
    let customer = Mailbox::new((!name.is_empty()).then_some(name), to.clone());
    let id = message_id(s, customer_id, review_to.is_some());
    let subject = clean_name(&format!("{subject_prefix}{}", notice.subject));
    let mut b = Message::builder()
        .from(s.from.clone())
        .date(s.date)
        .message_id(Some(id.clone()))
        .subject(subject);
    if let Some(r) = &s.reply_to {
        b = b.reply_to(r.clone());
    }
    let envelope_to = match review_to {
        Some(review) => {
            b = b
                .to(Mailbox::new(None, review.clone()))
                .header(OriginalTo(to.to_string()));
            review.clone()
        }
        None => {
            b = b.to(customer);
            to.clone()
        }
    };
    let text = notice.text.clone();
    let msg = match &notice.html {
        Some(html) => b.multipart(
            MultiPart::alternative()
                .boundary(boundary(&id))
                .singlepart(SinglePart::plain(text))
                .singlepart(SinglePart::html(html.clone())),
        ),
        None => b.header(ContentType::TEXT_PLAIN).body(text),
    };
    let msg = msg?;
    Ok(Built {
        message_id: id,
        to: envelope_to,
        bytes: msg.formatted(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(address_problem(Some("a@example.com")).is_ok());
        assert_eq!(address_problem(None).unwrap_err(), "no address");
        assert_eq!(address_problem(Some("  ")).unwrap_err(), "no address");
        assert_eq!(
            address_problem(Some("a@example.com\r\nBcc: x@evil.example")).unwrap_err(),
            "address holds control characters"
        );
        assert_eq!(
            address_problem(Some("not an address")).unwrap_err(),
            "address is not valid"
        );
    }
}
