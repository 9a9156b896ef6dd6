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

/// The longest address SMTP carries: a path is at most 256 octets with its angle brackets
/// (RFC 5321 §4.5.3.1.3).
const MAX_ADDRESS: usize = 254;

/// Why a customer cannot get an e-mail (written to `no_email.csv`), or the address to send to.
///
/// Every address accepted here is one the message builder takes and gives back unchanged: an
/// address that passed a looser check and failed only when the message was built used to stop
/// the whole batch for one customer. So the last step asks lettre itself, by building a
/// minimal message to the address (see [`builder_takes`]). The forms named before it are the
/// ones known to fail there, given their own reason for the postal follow-up list.
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
    if e.len() > MAX_ADDRESS {
        return Err("address is longer than 254 characters");
    }
    if crate::cards::holds_card(e.as_bytes()) || e.contains("****") {
        // A card number (or its mask, as `affected` writes it) as a mailbox: sending would
        // put it on the wire, and the masked spelling reaches nobody.
        return Err("address holds a card number");
    }
    let a = Address::from_str(e).map_err(|_| "address is not valid")?;
    if a.domain().starts_with('[') {
        // lettre's address check takes `[127.0.0.1]`, its header parser does not.
        return Err("address has an IP-literal domain ([…])");
    }
    if a.user().starts_with('"') {
        // Some fail to build; the others come back unquoted (`"a"@x` as `a@x`), a second
        // spelling of one mailbox that exactly once per address would not recognise.
        return Err("address has a quoted local part (\"…\")");
    }
    if !builder_takes(&a) {
        return Err("the message builder cannot take the address");
    }
    Ok(a)
}

/// Whether lettre builds a message to `a` whose envelope recipient is `a` as written. lettre
/// writes the `To` header and reads the envelope back from it, so an address its header parser
/// refuses fails the build, and one it reads differently would be sent to another spelling.
/// Display names cannot change this (they are quoted or RFC 2047-encoded), so the probe has
/// none.
fn builder_takes(a: &Address) -> bool {
    let probe = Message::builder()
        .from(Mailbox::new(None, a.clone()))
        .to(Mailbox::new(None, a.clone()))
        .body(String::new());
    matches!(probe, Ok(m) if m.envelope().to() == std::slice::from_ref(a))
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

/// The longest display name put in `To`, in characters.
const MAX_HEADER_NAME: usize = 100;

/// The customer's name as the `To` display name: cut to [`MAX_HEADER_NAME`] characters with a
/// final `…`. lettre folds a header only between words and inside encoded words, so a long
/// ASCII name without spaces (2,000 `X`s in an export) gave a line longer than RFC 5322 allows,
/// and the check stopped the batch for every customer. The `…` makes lettre encode the name,
/// and encoded words fold. The body still greets the customer by the whole name.
///
/// The cut is masked again: cutting a long run of digits that is no card number (20 digits)
/// can leave one that is (its first 16).
fn header_name(name: &str) -> String {
    if name.chars().count() <= MAX_HEADER_NAME {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(MAX_HEADER_NAME - 1).collect();
    cut.truncate(cut.trim_end().len());
    let mut cut = crate::cards::detect::mask_string(cut);
    cut.push('…');
    cut
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
    let name = header_name(&clean_name(name));
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

    /// A long name whose cut falls inside a 20-digit run (no card number) would leave the
    /// run's first 16 digits, a card number: the cut is masked.
    #[test]
    fn a_cut_name_is_masked_again() {
        let pan = ["4111", "1111", "1111", "1111"].concat();
        let name = format!("{}{pan}2345 Tanaka", "N".repeat(MAX_HEADER_NAME - 1 - 16));
        assert_eq!(
            crate::cards::detect::mask(&name).1,
            0,
            "no card number before the cut"
        );
        let cut = header_name(&name);
        assert!(!cut.contains(&pan), "{cut}");
        assert!(cut.ends_with("411111******1111…"), "{cut}");
    }

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

    /// A minimal message to `addr` as [`build`] makes it: whether it builds.
    fn builds(addr: &str) -> bool {
        let s = Sender {
            from: "Shop <notice@shop.example>".parse().unwrap(),
            reply_to: None,
            date: SystemTime::UNIX_EPOCH,
            id_domain: "shop.example".into(),
            incident_id: "i".into(),
            campaign: "notice".into(),
        };
        let notice = Notice {
            locale: "en".into(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
        };
        let to = Address::new_dangerous(
            &addr[..addr.rfind('@').unwrap()],
            &addr[addr.rfind('@').unwrap() + 1..],
        );
        build(&s, "c-1", "Name", &to, &notice, "", None).is_ok()
    }

    /// Addresses lettre's address check takes and its message builder refuses (or reads back
    /// as another spelling): each is a reason in no_email.csv, never a batch problem.
    #[test]
    fn addresses_the_builder_refuses_are_no_email() {
        for (addr, reason) in [
            ("h15@[127.0.0.1]", "address has an IP-literal domain ([…])"),
            ("h@[::1]", "address has an IP-literal domain ([…])"),
            (
                "h@[IPv6:2001:db8::1]",
                "address has an IP-literal domain ([…])",
            ),
            ("a@[300.1.1.1]", "address has an IP-literal domain ([…])"),
            (
                "\"a b\"@example.com",
                "address has a quoted local part (\"…\")",
            ),
            (
                "\"a@b\"@example.com",
                "address has a quoted local part (\"…\")",
            ),
            (
                "\"a\"@example.com",
                "address has a quoted local part (\"…\")",
            ),
        ] {
            assert!(
                Address::from_str(addr).is_ok(),
                "lettre's check takes {addr}"
            );
            assert_eq!(address_problem(Some(addr)).unwrap_err(), reason, "{addr}");
        }
        // The reason is right: these do fail to build.
        for addr in ["h15@[127.0.0.1]", "h@[::1]", "\"a b\"@example.com"] {
            assert!(!builds(addr), "{addr} builds after all");
        }
        let label = "b".repeat(60);
        let long = format!("{}@{label}.{label}.{label}.example", "a".repeat(64));
        assert!(Address::from_str(&long).is_ok());
        assert_eq!(
            address_problem(Some(&long)).unwrap_err(),
            "address is longer than 254 characters"
        );
    }

    /// Every address the check accepts builds, and is the envelope recipient as written.
    #[test]
    fn every_accepted_address_builds() {
        for addr in [
            "a@example.com",
            "a!#$%&'*+/=?^_`{|}~@example.com",
            "=?utf-8?q?x?=@example.com",
            "a@xn--bcher-kva.example",
            "a@localhost",
            "h@127.0.0.1",
            &format!("{}@example.com", "a".repeat(64)),
        ] {
            let a = address_problem(Some(addr)).unwrap_or_else(|e| panic!("{addr}: {e}"));
            assert_eq!(a.to_string(), addr);
            assert!(builds(addr), "{addr}");
        }
    }
}
