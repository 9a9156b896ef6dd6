//! What is kept of an order (and of any other affected entry), compactly, and the counts and
//! reports that describe a file.

use crate::cards::{Brand, CardInput, FingerprintKey};
use foldhash::HashMap;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// The class of a record (and of its order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    InWindow,
    OutOfWindow,
    NotCard,
    Rejected,
}

/// What is known of a card: of a gateway charge, or of an order while it is read (an order
/// record keeps it as [`CardRef`] gives it back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    pub brand: Brand,
    /// The case's mask format (`411111******1111`); its last 4 characters are the last 4
    /// digits. Empty when no number was given.
    pub masked: Box<str>,
    /// Keyed fingerprint (HMAC-SHA256) of the full PAN, raw; `None` when only a masked number
    /// was available.
    pub fingerprint: Option<[u8; 32]>,
    pub check: CardCheck,
    /// Expiry as `MM/YYYY`, where an export gives it (payment gateways do).
    pub expiry: Option<Box<str>>,
}

/// A card borrowed from where it is kept: a [`CardInfo`], or an order record (whose mask and
/// expiry sit among its texts, so that a kept order holds no allocation of its card's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardRef<'a> {
    pub brand: Brand,
    /// As [`CardInfo::masked`].
    pub masked: &'a str,
    pub fingerprint: Option<&'a [u8; 32]>,
    pub check: CardCheck,
    pub expiry: Option<&'a str>,
}

/// Tells cards apart: the keyed fingerprint where there is one, else brand + mask (which can
/// only tell cards of one person apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CardIdentity {
    Fingerprint([u8; 32]),
    Mask(Brand, Box<str>),
}

impl CardInfo {
    /// The card, borrowed.
    pub fn as_ref(&self) -> CardRef<'_> {
        CardRef {
            brand: self.brand,
            masked: &self.masked,
            fingerprint: self.fingerprint.as_ref(),
            check: self.check,
            expiry: self.expiry.as_deref(),
        }
    }

    pub fn identity(&self) -> CardIdentity {
        self.as_ref().identity()
    }

    /// The last 4 digits (empty when the number is unknown).
    pub fn last4(&self) -> &str {
        last4(&self.masked)
    }
}

impl<'a> CardRef<'a> {
    pub fn identity(&self) -> CardIdentity {
        match self.fingerprint {
            Some(f) => CardIdentity::Fingerprint(*f),
            None => CardIdentity::Mask(self.brand, self.masked.into()),
        }
    }

    /// The last 4 digits (empty when the number is unknown).
    pub fn last4(&self) -> &'a str {
        last4(self.masked)
    }

    /// The fingerprint as written in outputs (lower-case base32).
    pub fn fingerprint_text(&self) -> Option<String> {
        self.fingerprint.map(|f| crate::cards::base32_lower(f))
    }

    /// `VISA ****1111`: what a customer-facing text may show.
    pub fn display(&self) -> String {
        // An unknown brand reads "CARD ****1111", not "UNKNOWN ****1111", in a notice.
        let brand = match self.brand {
            Brand::Unknown => "CARD",
            b => b.label(),
        };
        let last4 = self.last4();
        if last4.is_empty() {
            format!("{brand} (number not available)")
        } else {
            format!("{brand} ****{last4}")
        }
    }
}

/// The last 4 characters of a mask when they are digits, else empty.
fn last4(m: &str) -> &str {
    if m.len() >= 4
        && m.is_char_boundary(m.len() - 4)
        && m[m.len() - 4..].bytes().all(|b| b.is_ascii_digit())
    {
        &m[m.len() - 4..]
    } else {
        ""
    }
}

/// What an order record keeps of its card beside its texts (35 bytes, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CardCore {
    brand: Brand,
    check: CardCheck,
    fingerprint: Option<[u8; 32]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardCheck {
    /// A full number that passes Luhn.
    Valid,
    /// A full number that fails Luhn: kept (the customer typed it) and flagged.
    Invalid,
    /// Only a masked number was in the export.
    Masked,
    /// The card cell held something that is not a card number.
    Unreadable,
    /// No card number in the export.
    None,
    /// Brand and last 4 from the payment gateway's export (the full number is not known).
    Gateway,
}

impl CardCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            CardCheck::Valid => "valid",
            CardCheck::Invalid => "invalid",
            CardCheck::Masked => "masked",
            CardCheck::Unreadable => "unreadable",
            CardCheck::None => "none",
            CardCheck::Gateway => "gateway",
        }
    }
}

/// An in-window card order. Kept compact (one per in-window order): text that repeats across
/// orders (status, currency, region, country, locale) is interned in [`Strings`], the five
/// together ([`Facets`]), and the
/// record's own texts, its card's mask and expiry among them, share one allocation ([`Texts`]).
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub kind: EntryKind,
    /// Index into [`super::Ingest::files`].
    pub file: u32,
    pub line: u64,
    /// The instant ([`OrderRecord::at`]) as its seconds and nanoseconds: 12 bytes, where a
    /// `Timestamp` takes 16 and the record 8 more (its size is a multiple of 8).
    secs: i64,
    nanos: i32,
    /// Status, currency, region, country and locale ([`Strings::facets`] gives them).
    pub facets: FacetsId,
    /// The card's brand, check and fingerprint ([`OrderRecord::card`] gives the whole card).
    card: Option<CardCore>,
    texts: Texts,
}

/// The texts of a record, for [`OrderRecord::new`]; `None` and empty differ only for the
/// optional ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextsOf<'a> {
    pub order_id: &'a str,
    /// What identifies an entry that is not an order: the charge id of a payment, the log line
    /// of a checkout. Empty for orders.
    pub entry_ref: &'a str,
    /// The order's session id (for tying checkout submissions in the logs to orders).
    pub session: Option<&'a str>,
    pub amount: &'a str,
    /// Normalised e-mail (the notification address form).
    pub email: Option<&'a str>,
    /// Normalised login/customer id.
    pub login: Option<&'a str>,
    pub name: &'a str,
    /// The phone number as written (EC-CUBE 2's three parts joined with `-`).
    pub phone: Option<&'a str>,
}

/// The texts of one record in one allocation: 10 fat pointers and up to 10 allocations of a
/// few bytes each were about 230 bytes per kept order, more than the rest of the record.
///
/// Where each text ends takes 2 bytes when the texts fit in 64 KiB (every real export row):
/// 18 bytes a record less than 4-byte ends. A record whose texts are longer ([`LONG`]) keeps
/// its ends at the front of `buf` instead, as [`LONG_END`] hex digits each, so that nothing is
/// ever cut.
#[derive(Clone, Default, PartialEq, Eq)]
struct Texts {
    buf: Box<str>,
    /// Where each text but the last ends in `buf` (it starts where the one before ends; the
    /// last ends with `buf`); unused when [`LONG`].
    ends: [u16; TEXTS - 1],
    /// Bit `i`: the optional text `i` is there; bit [`LONG`]: the ends are in `buf`.
    present: u16,
}

/// The bit of [`Texts::present`] that marks texts longer than 64 KiB.
const LONG: u16 = 1 << 15;
/// Hex digits per end at the front of a long record's `buf` (4 GiB at most: no export row
/// comes near; a longer record's ends stop at 4 GiB rather than wrap).
const LONG_END: usize = 8;
const LONG_HEADER: usize = LONG_END * (TEXTS - 1);

const ORDER_ID: usize = 0;
const ENTRY_REF: usize = 1;
const SESSION: usize = 2;
const AMOUNT: usize = 3;
const EMAIL: usize = 4;
const LOGIN: usize = 5;
const NAME: usize = 6;
const PHONE: usize = 7;
/// The card's mask and expiry.
const MASKED: usize = 8;
const EXPIRY: usize = 9;
const TEXTS: usize = 10;

impl Texts {
    fn new(t: &TextsOf, card: Option<&CardInfo>) -> Texts {
        let expiry = card.and_then(|c| c.expiry.as_deref());
        let parts: [(&str, bool); TEXTS] = [
            (t.order_id, true),
            (t.entry_ref, true),
            (t.session.unwrap_or(""), t.session.is_some()),
            (t.amount, true),
            (t.email.unwrap_or(""), t.email.is_some()),
            (t.login.unwrap_or(""), t.login.is_some()),
            (t.name, true),
            (t.phone.unwrap_or(""), t.phone.is_some()),
            (card.map_or("", |c| &c.masked), card.is_some()),
            (expiry.unwrap_or(""), expiry.is_some()),
        ];
        let total: usize = parts.iter().map(|p| p.0.len()).sum();
        let long = total > usize::from(u16::MAX);
        let mut buf = String::with_capacity(total + if long { LONG_HEADER } else { 0 });
        let mut ends = [0u16; TEXTS - 1];
        let mut present = 0u16;
        let mut end = 0usize;
        for (i, (text, there)) in parts.iter().enumerate() {
            end += text.len();
            if let Some(e) = ends.get_mut(i) {
                if long {
                    use std::fmt::Write as _;
                    let e = u32::try_from(end).unwrap_or(u32::MAX);
                    let _ = write!(buf, "{e:08x}");
                } else {
                    *e = end as u16;
                }
            }
            present |= u16::from(*there) << i;
        }
        for (text, _) in &parts {
            buf.push_str(text);
        }
        if long {
            present |= LONG;
        }
        Texts {
            buf: buf.into_boxed_str(),
            ends,
            present,
        }
    }

    /// Where text `i` ends (`i` < 9), from the start of the texts.
    fn end(&self, i: usize) -> usize {
        if self.present & LONG == 0 {
            return usize::from(self.ends[i]);
        }
        self.buf
            .get(i * LONG_END..(i + 1) * LONG_END)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .map_or(0, |e| e as usize)
    }

    fn get(&self, i: usize) -> &str {
        let base = if self.present & LONG != 0 {
            LONG_HEADER
        } else {
            0
        };
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        let end = if i < TEXTS - 1 {
            self.end(i)
        } else {
            self.buf.len().saturating_sub(base)
        };
        self.buf.get(base + start..base + end).unwrap_or("")
    }

    fn opt(&self, i: usize) -> Option<&str> {
        (self.present & (1 << i) != 0).then(|| self.get(i))
    }

    fn of(&self) -> TextsOf<'_> {
        TextsOf {
            order_id: self.get(ORDER_ID),
            entry_ref: self.get(ENTRY_REF),
            session: self.opt(SESSION),
            amount: self.get(AMOUNT),
            email: self.opt(EMAIL),
            login: self.opt(LOGIN),
            name: self.get(NAME),
            phone: self.opt(PHONE),
        }
    }
}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.of().fmt(f)
    }
}

impl OrderRecord {
    /// A record with these texts and card.
    pub fn new(
        kind: EntryKind,
        file: u32,
        line: u64,
        at: Timestamp,
        facets: FacetsId,
        texts: &TextsOf,
        card: Option<&CardInfo>,
    ) -> OrderRecord {
        OrderRecord {
            kind,
            file,
            line,
            secs: at.as_second(),
            nanos: at.subsec_nanosecond(),
            facets,
            card: card.map(|c| CardCore {
                brand: c.brand,
                check: c.check,
                fingerprint: c.fingerprint,
            }),
            texts: Texts::new(texts, card),
        }
    }

    /// When the order was placed (or the charge made, the checkout submitted).
    pub fn at(&self) -> Timestamp {
        // Built from a `Timestamp`, so always in its range.
        Timestamp::new(self.secs, self.nanos).unwrap_or(Timestamp::MIN)
    }

    pub fn set_at(&mut self, at: Timestamp) {
        self.secs = at.as_second();
        self.nanos = at.subsec_nanosecond();
    }

    /// The card of the record's own export (a gateway's cards are in
    /// [`crate::payments::Attached`]).
    pub fn card(&self) -> Option<CardRef<'_>> {
        self.card.as_ref().map(|c| CardRef {
            brand: c.brand,
            masked: self.texts.get(MASKED),
            fingerprint: c.fingerprint.as_ref(),
            check: c.check,
            expiry: self.texts.opt(EXPIRY),
        })
    }

    /// Forgets the record's card (its texts stay in the allocation, unread).
    pub fn clear_card(&mut self) {
        self.card = None;
        self.texts.present &= !((1 << MASKED) | (1 << EXPIRY));
    }

    /// Every text of the record at once.
    pub fn texts(&self) -> TextsOf<'_> {
        self.texts.of()
    }

    pub fn order_id(&self) -> &str {
        self.texts.get(ORDER_ID)
    }

    /// What identifies an entry that is not an order: the charge id of a payment, the log line
    /// of a checkout. Empty for orders.
    pub fn entry_ref(&self) -> &str {
        self.texts.get(ENTRY_REF)
    }

    /// The order's session id (for tying checkout submissions in the logs to orders).
    pub fn session(&self) -> Option<&str> {
        self.texts.opt(SESSION)
    }

    pub fn amount(&self) -> &str {
        self.texts.get(AMOUNT)
    }

    /// Reads the record and the first and last bytes of its texts, and nothing else: a
    /// writer that goes through the records in another order than they are stored calls it
    /// for a block of them first, so that their cache misses overlap instead of each stalling
    /// the formatting in turn (see [`crate::affected`]'s writers).
    pub fn warm(&self) -> u8 {
        let b = self.texts.buf.as_bytes();
        let ends = b.first().zip(b.last()).map_or(0, |(f, l)| f ^ l);
        std::hint::black_box(ends ^ self.kind as u8)
    }

    /// Normalised e-mail (the notification address form).
    pub fn email(&self) -> Option<&str> {
        self.texts.opt(EMAIL)
    }

    /// Normalised login/customer id.
    pub fn login(&self) -> Option<&str> {
        self.texts.opt(LOGIN)
    }

    pub fn name(&self) -> &str {
        self.texts.get(NAME)
    }

    /// The phone number as written (EC-CUBE 2's three parts joined with `-`).
    pub fn phone(&self) -> Option<&str> {
        self.texts.opt(PHONE)
    }
}

/// The kinds, brands and checks in the order of their byte in [`OrderRecord::encode`].
const KINDS: [EntryKind; 4] = [
    EntryKind::Order,
    EntryKind::Payment,
    EntryKind::PaymentForOrder,
    EntryKind::Checkout,
];
const BRANDS: [Brand; 9] = [
    Brand::Visa,
    Brand::Mastercard,
    Brand::Amex,
    Brand::Jcb,
    Brand::Diners,
    Brand::Discover,
    Brand::UnionPay,
    Brand::DiscoverUnionPay,
    Brand::Unknown,
];
const CHECKS: [CardCheck; 6] = [
    CardCheck::Valid,
    CardCheck::Invalid,
    CardCheck::Masked,
    CardCheck::Unreadable,
    CardCheck::None,
    CardCheck::Gateway,
];

fn byte_of<T: PartialEq>(all: &[T], v: &T) -> u8 {
    all.iter().position(|x| x == v).unwrap_or(0) as u8
}

impl OrderRecord {
    /// Appends the record to `out` as bytes that [`OrderRecord::decode`] reads back (for the
    /// kept orders spilled to disk while the files are read: see `super::spill`). Not a
    /// format for anything else: it is read back by the same build, in the same run.
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.push(byte_of(&KINDS, &self.kind));
        out.extend_from_slice(&self.file.to_le_bytes());
        out.extend_from_slice(&self.line.to_le_bytes());
        out.extend_from_slice(&self.secs.to_le_bytes());
        out.extend_from_slice(&self.nanos.to_le_bytes());
        out.extend_from_slice(&self.facets.0.to_le_bytes());
        match &self.card {
            None => out.push(0),
            Some(c) => {
                out.push(1 + u8::from(c.fingerprint.is_some()));
                out.push(byte_of(&BRANDS, &c.brand));
                out.push(byte_of(&CHECKS, &c.check));
                if let Some(f) = &c.fingerprint {
                    out.extend_from_slice(f);
                }
            }
        }
        out.extend_from_slice(&self.texts.present.to_le_bytes());
        for e in self.texts.ends {
            out.extend_from_slice(&e.to_le_bytes());
        }
        out.extend_from_slice(&(self.texts.buf.len() as u32).to_le_bytes());
        out.extend_from_slice(self.texts.buf.as_bytes());
    }

    /// Reads back one record [`OrderRecord::encode`] wrote at the start of `buf`, and how many
    /// bytes it took; `None` when `buf` does not start with a whole, well-formed one.
    pub(super) fn decode(buf: &[u8]) -> Option<(OrderRecord, usize)> {
        let mut at = 0;
        let mut take = |n: usize| -> Option<&[u8]> {
            let b = buf.get(at..at + n)?;
            at += n;
            Some(b)
        };
        let kind = *KINDS.get(usize::from(take(1)?[0]))?;
        let file = u32::from_le_bytes(take(4)?.try_into().ok()?);
        let line = u64::from_le_bytes(take(8)?.try_into().ok()?);
        let secs = i64::from_le_bytes(take(8)?.try_into().ok()?);
        let nanos = i32::from_le_bytes(take(4)?.try_into().ok()?);
        // What `at()` will make of them must be a `Timestamp`.
        Timestamp::new(secs, nanos).ok()?;
        let facets = FacetsId(u32::from_le_bytes(take(4)?.try_into().ok()?));
        let card = match take(1)?[0] {
            0 => None,
            tag @ (1 | 2) => {
                let brand = *BRANDS.get(usize::from(take(1)?[0]))?;
                let check = *CHECKS.get(usize::from(take(1)?[0]))?;
                let fingerprint = if tag == 2 {
                    Some(take(32)?.try_into().ok()?)
                } else {
                    None
                };
                Some(CardCore {
                    brand,
                    check,
                    fingerprint,
                })
            }
            _ => return None,
        };
        let present = u16::from_le_bytes(take(2)?.try_into().ok()?);
        let mut ends = [0u16; TEXTS - 1];
        for e in &mut ends {
            *e = u16::from_le_bytes(take(2)?.try_into().ok()?);
        }
        let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let text = std::str::from_utf8(take(len)?).ok()?;
        let record = OrderRecord {
            kind,
            file,
            line,
            secs,
            nanos,
            facets,
            card,
            texts: Texts {
                buf: text.into(),
                ends,
                present,
            },
        };
        Some((record, at))
    }
}

/// The `file` of an entry that no order export holds (a gateway charge, a checkout
/// submission): it indexes nothing in [`super::Ingest::files`]; its `entry_ref` says where it
/// comes from.
pub const NO_FILE: u32 = u32::MAX;

/// What an affected entry is: an in-window order, or a payment-gateway charge in the window
/// (added by [`crate::payments`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A card order inside the window.
    Order,
    /// A charge inside the window that matches no order (typically a declined attempt): the
    /// person is known from the charge itself.
    Payment,
    /// A charge inside the window for an order outside it: the person is the order's.
    PaymentForOrder,
    /// A checkout submission in the access logs, inside the window, that no order matches
    /// (added by `affected --logs`).
    Checkout,
}

/// An interned string: an index into [`Strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(u32);

/// The five texts of a record that repeat across orders, interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Facets {
    pub status: Sym,
    pub currency: Sym,
    pub region: Sym,
    pub country: Sym,
    pub locale: Sym,
}

/// Interned [`Facets`]: an index into [`Strings`]. A record keeps 4 bytes for its five
/// repeated texts instead of 20: the combinations are few (statuses × currencies × regions
/// × countries × locales that occur together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FacetsId(u32);

impl FacetsId {
    /// Stands for texts not interned yet (in a record prepared on another core); never in a
    /// record that leaves the ingest.
    pub(super) const PENDING: FacetsId = FacetsId(u32::MAX);
}

/// Interned text: each distinct value stored once.
#[derive(Debug, Default)]
pub struct Strings {
    list: Vec<Box<str>>,
    index: HashMap<Box<str>, Sym>,
    facets: Vec<Facets>,
    facets_index: HashMap<Facets, FacetsId>,
}

impl Strings {
    /// Status, currency, region, country and locale, interned together.
    pub fn intern_facets(
        &mut self,
        status: &str,
        currency: &str,
        region: &str,
        country: &str,
        locale: &str,
    ) -> FacetsId {
        let f = Facets {
            status: self.intern(status),
            currency: self.intern(currency),
            region: self.intern(region),
            country: self.intern(country),
            locale: self.intern(locale),
        };
        if let Some(&id) = self.facets_index.get(&f) {
            return id;
        }
        // Four thousand million combinations would be beyond any export this reads.
        let id = FacetsId(u32::try_from(self.facets.len()).expect("fewer than 2^32 facets"));
        self.facets.push(f);
        self.facets_index.insert(f, id);
        id
    }

    /// The texts `id` stands for.
    pub fn facets(&self, id: FacetsId) -> Facets {
        self.facets[id.0 as usize]
    }

    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&k) = self.index.get(s) {
            return k;
        }
        let k = Sym(self.list.len() as u32);
        self.list.push(s.into());
        self.index.insert(s.into(), k);
        k
    }

    pub fn get(&self, k: Sym) -> &str {
        &self.list[k.0 as usize]
    }
}

/// Per-class counts.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub rows_read: u64,
    pub in_window: u64,
    pub out_of_window: u64,
    pub not_card: u64,
    pub rejected: u64,
}

impl Counts {
    pub(super) fn add(&mut self, c: Class) {
        self.rows_read += 1;
        match c {
            Class::InWindow => self.in_window += 1,
            Class::OutOfWindow => self.out_of_window += 1,
            Class::NotCard => self.not_card += 1,
            Class::Rejected => self.rejected += 1,
        }
    }

    /// Whether the four classes add up to the rows read.
    pub fn reconciles(&self) -> bool {
        self.rows_read == self.in_window + self.out_of_window + self.not_card + self.rejected
    }

    pub fn merge(&mut self, o: &Counts) {
        self.rows_read += o.rows_read;
        self.in_window += o.in_window;
        self.out_of_window += o.out_of_window;
        self.not_card += o.not_card;
        self.rejected += o.rejected;
    }
}

/// Distinct orders per class (exports with one record per line item have more records).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct OrderCounts {
    pub orders_in_window: u64,
    pub orders_out_of_window: u64,
    pub orders_not_card: u64,
}

/// What the summary says about one input file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub encoding: String,
    pub encoding_detected: bool,
    /// Why that encoding (given, a BOM, or what the whole file showed).
    pub encoding_reason: String,
    /// Lines with bytes that are not valid in that encoding (read with U+FFFD).
    pub encoding_invalid_lines: u64,
    pub preset: String,
    /// Field → the header it was read from.
    pub columns: BTreeMap<String, String>,
    #[serde(flatten)]
    pub counts: Counts,
    #[serde(flatten)]
    pub orders: OrderCounts,
    pub not_card_excluded_status: u64,
    pub card_numbers_in_text: u64,
    /// Column → card numbers found (and masked) in it, outside the card column.
    pub card_numbers_masked: BTreeMap<String, u64>,
    pub security_code_columns: Vec<String>,
    pub warnings: Vec<String>,
}

/// How rows with one payment method were classified.
#[derive(Debug, Clone, Serialize)]
pub struct MethodTally {
    pub class: &'static str,
    pub rows: u64,
}

/// A rejected record, ready for `rejected.csv` (every card-like run already masked, security
/// codes removed).
#[derive(Debug, Clone)]
pub struct Rejected {
    pub source: String,
    pub reason: String,
    pub record: String,
}

/// Reads the card cell (and the brand cell) of an in-window order.
pub fn card_info(raw: &str, brand_raw: &str, key: &FingerprintKey) -> Option<CardInfo> {
    let brand_col = Brand::from_name(brand_raw);
    match CardInput::parse(raw) {
        Some(CardInput::Full(pan)) => {
            let mut brand = pan.brand();
            if brand == Brand::Unknown {
                brand = brand_col.unwrap_or(Brand::Unknown);
            }
            Some(CardInfo {
                brand,
                masked: pan.masked().into_boxed_str(),
                fingerprint: Some(pan.fingerprint_raw(key)),
                check: if pan.luhn_ok() {
                    CardCheck::Valid
                } else {
                    CardCheck::Invalid
                },
                expiry: None,
            })
        }
        Some(CardInput::Masked { lead, last4, len }) => {
            let mut brand = if lead.is_empty() {
                Brand::Unknown
            } else {
                Brand::from_iin(&lead)
            };
            if brand == Brand::Unknown {
                brand = brand_col.unwrap_or(Brand::Unknown);
            }
            let allowed = len.saturating_sub(10).min(6);
            let lead: String = lead.chars().take(allowed).collect();
            let stars = len.saturating_sub(lead.len() + 4);
            Some(CardInfo {
                brand,
                masked: format!("{lead}{}{last4}", "*".repeat(stars)).into_boxed_str(),
                fingerprint: None,
                check: CardCheck::Masked,
                expiry: None,
            })
        }
        Some(CardInput::Unreadable) => Some(CardInfo {
            brand: brand_col.unwrap_or(Brand::Unknown),
            masked: "".into(),
            fingerprint: None,
            check: CardCheck::Unreadable,
            expiry: None,
        }),
        None => brand_col.map(|brand| CardInfo {
            brand,
            masked: "".into(),
            fingerprint: None,
            check: CardCheck::None,
            expiry: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order with these texts and card (file 0, line 2, at the epoch, facets 0).
    fn order(given: &TextsOf, card: Option<&CardInfo>) -> OrderRecord {
        OrderRecord::new(
            EntryKind::Order,
            0,
            2,
            Timestamp::UNIX_EPOCH,
            FacetsId(0),
            given,
            card,
        )
    }

    /// Each text comes back as given, an empty optional text apart from a missing one, the
    /// card's mask and expiry among them, in one allocation of exactly the texts' bytes.
    #[test]
    fn a_records_texts_come_back_as_given() {
        let given = TextsOf {
            order_id: "#1001",
            entry_ref: "",
            session: Some(""),
            amount: "1,200",
            email: Some("a@example.jp"),
            login: None,
            name: "山田 太郎",
            phone: Some("03-1234-5678"),
        };
        let card = CardInfo {
            brand: Brand::Visa,
            masked: "411111******1111".into(),
            fingerprint: Some([7; 32]),
            check: CardCheck::Valid,
            expiry: Some("12/2027".into()),
        };
        let mut o = order(&given, Some(&card));
        assert_eq!(o.card(), Some(card.as_ref()));
        assert_eq!(format!("{:?}", o.texts()), format!("{given:?}"));
        assert_eq!(
            (o.order_id(), o.entry_ref(), o.session(), o.amount()),
            ("#1001", "", Some(""), "1,200")
        );
        assert_eq!(
            (o.email(), o.login(), o.name(), o.phone()),
            (
                Some("a@example.jp"),
                None,
                "山田 太郎",
                Some("03-1234-5678")
            )
        );
        assert_eq!(
            o.texts.buf.len(),
            "#10011,200a@example.jp山田 太郎03-1234-5678411111******111112/2027".len()
        );
        // A card without a number or expiry: an empty mask, no expiry, the other texts as
        // they were.
        let bare = CardInfo {
            brand: Brand::Jcb,
            masked: "".into(),
            fingerprint: None,
            check: CardCheck::None,
            expiry: None,
        };
        let b = order(&given, Some(&bare));
        assert_eq!(b.card(), Some(bare.as_ref()));
        assert_eq!(format!("{:?}", b.texts()), format!("{given:?}"));
        o.clear_card();
        assert_eq!(o.card(), None);
        assert_eq!(format!("{:?}", o.texts()), format!("{given:?}"));
        let none = OrderRecord::new(
            EntryKind::Checkout,
            NO_FILE,
            0,
            Timestamp::UNIX_EPOCH,
            FacetsId(0),
            &TextsOf::default(),
            None,
        );
        assert_eq!(
            (
                none.session(),
                none.email(),
                none.login(),
                none.phone(),
                none.name()
            ),
            (None, None, None, None, "")
        );
        assert_eq!(none.card(), None);
    }

    /// Texts longer than 64 KiB in all (the ends then sit in the allocation) come back whole,
    /// at every place: each text long in turn, and all of them long at once.
    #[test]
    fn long_texts_come_back_whole() {
        let big = |c: char, n: usize| c.to_string().repeat(n);
        let card = CardInfo {
            brand: Brand::Visa,
            masked: big('*', 70_000).into(),
            fingerprint: None,
            check: CardCheck::Masked,
            expiry: Some(big('9', 70_000).into()),
        };
        let texts: Vec<String> = (0..8)
            .map(|i| format!("t{i}-") + &big('名', 25_000))
            .collect();
        for long in 0..9 {
            let t = |i: usize| {
                if i == long || long == 8 {
                    texts[i].as_str()
                } else {
                    "x"
                }
            };
            let given = TextsOf {
                order_id: t(0),
                entry_ref: t(1),
                session: Some(t(2)),
                amount: t(3),
                email: Some(t(4)),
                login: None,
                name: t(6),
                phone: Some(t(7)),
            };
            let mut o = order(&given, Some(&card));
            assert!(o.texts.present & LONG != 0, "{long}");
            assert_eq!(format!("{:?}", o.texts()), format!("{given:?}"), "{long}");
            assert_eq!(o.card(), Some(card.as_ref()));
            o.clear_card();
            assert_eq!(o.card(), None);
            assert_eq!(o.name(), t(6));
        }
        // Just below and at the 64 KiB line.
        for n in [65_535 - 12, 65_535 - 11, 65_535 - 10] {
            let name = big('a', n);
            let given = TextsOf {
                order_id: "#1",
                amount: "100",
                email: Some("a@b.jp"),
                name: &name,
                ..TextsOf::default()
            };
            let o = order(&given, None);
            // "#1", "100", "a@b.jp": 11 bytes beside the name.
            assert_eq!(o.texts.present & LONG != 0, n + 11 > 65_535, "{n}");
            assert_eq!(format!("{:?}", o.texts()), format!("{given:?}"), "{n}");
        }
    }

    /// A kept record stays at 104 bytes beside its one allocation (300,000 in-window card
    /// orders of a mid-size case are 31 MB of records): a field that grows it shows here.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_kept_record_is_104_bytes() {
        assert_eq!(std::mem::size_of::<OrderRecord>(), 104);
        assert_eq!(std::mem::size_of::<Texts>(), 40);
        assert_eq!(std::mem::size_of::<Option<CardCore>>(), 35);
    }

    /// Five texts interned together come back as given; the same five are one id, and a
    /// combination that differs in any one of them (or in their places) is another.
    #[test]
    fn facets_come_back_and_repeat_as_one_id() {
        let mut s = Strings::default();
        let a = s.intern_facets("paid", "JPY", "東京都", "JP", "ja");
        assert_eq!(s.intern_facets("paid", "JPY", "東京都", "JP", "ja"), a);
        let f = s.facets(a);
        let texts = [f.status, f.currency, f.region, f.country, f.locale].map(|k| s.get(k));
        assert_eq!(texts, ["paid", "JPY", "東京都", "JP", "ja"]);
        let others = [
            s.intern_facets("declined", "JPY", "東京都", "JP", "ja"),
            s.intern_facets("paid", "USD", "東京都", "JP", "ja"),
            s.intern_facets("paid", "JPY", "大阪府", "JP", "ja"),
            s.intern_facets("paid", "JPY", "東京都", "US", "ja"),
            s.intern_facets("paid", "JPY", "東京都", "JP", "en"),
            s.intern_facets("JPY", "paid", "東京都", "JP", "ja"),
        ];
        for (i, o) in others.iter().enumerate() {
            assert_ne!(*o, a);
            assert!(others[..i].iter().all(|p| p != o));
        }
        assert_eq!(s.facets.len(), 7);
    }
}
