//! Which column of a gateway export holds what: Stripe's two real layouts (detected by their
//! columns), header synonyms for other gateways, and `[payments.columns]`.

use crate::text::header_key;
use std::collections::BTreeMap;

/// A field of a gateway export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PField {
    ChargeId,
    ChargeIdFallback,
    CreatedAt,
    Status,
    Amount,
    Currency,
    CardBrand,
    Last4,
    ExpiryMonth,
    ExpiryYear,
    Fingerprint,
    CustomerEmail,
    CustomerName,
    DeclineReason,
    OrderRef,
    /// Where Stripe keeps the reference when `Client Reference ID` is empty.
    Description,
    Country,
}

impl PField {
    const ALL: [PField; 17] = [
        PField::ChargeId,
        PField::ChargeIdFallback,
        PField::CreatedAt,
        PField::Status,
        PField::Amount,
        PField::Currency,
        PField::CardBrand,
        PField::Last4,
        PField::ExpiryMonth,
        PField::ExpiryYear,
        PField::Fingerprint,
        PField::CustomerEmail,
        PField::CustomerName,
        PField::DeclineReason,
        PField::OrderRef,
        PField::Description,
        PField::Country,
    ];

    pub fn key(self) -> &'static str {
        match self {
            PField::ChargeId => "charge_id",
            PField::ChargeIdFallback => "charge_id_fallback",
            PField::CreatedAt => "created_at",
            PField::Status => "status",
            PField::Amount => "amount",
            PField::Currency => "currency",
            PField::CardBrand => "card_brand",
            PField::Last4 => "last4",
            PField::ExpiryMonth => "expiry_month",
            PField::ExpiryYear => "expiry_year",
            PField::Fingerprint => "fingerprint",
            PField::CustomerEmail => "customer_email",
            PField::CustomerName => "customer_name",
            PField::DeclineReason => "decline_reason",
            PField::OrderRef => "order_ref",
            PField::Description => "description",
            PField::Country => "country",
        }
    }

    /// Header synonyms (in [`header_key`] form) for exports without a preset.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            PField::ChargeId => &[
                "chargeid",
                "id",
                "transactionid",
                "paymentid",
                "取引id",
                "決済id",
            ],
            PField::ChargeIdFallback => &["paymentintentid"],
            PField::CreatedAt => &[
                "createddate(utc)",
                "created(utc)",
                "created",
                "createdat",
                "date",
                "決済日時",
                "取引日時",
                "処理日時",
                "売上日時",
            ],
            PField::Status => &[
                "status",
                "決済ステータス",
                "ステータス",
                "処理結果",
                "取引状態",
            ],
            PField::Amount => &["amount", "金額", "決済金額", "利用金額", "取引金額"],
            PField::Currency => &["currency", "通貨"],
            PField::CardBrand => &[
                "cardbrand",
                "brand",
                "カードブランド",
                "カード会社",
                "カード種別",
            ],
            PField::Last4 => &[
                "cardlast4",
                "last4",
                "カード番号下4桁",
                "下4桁",
                "カード番号",
            ],
            PField::ExpiryMonth => &["cardexpmonth", "expmonth", "有効期限(月)"],
            PField::ExpiryYear => &["cardexpyear", "expyear", "有効期限(年)"],
            PField::Fingerprint => &["cardfingerprint", "fingerprint"],
            PField::CustomerEmail => &["customeremail", "email", "メールアドレス"],
            PField::CustomerName => &[
                "cardname",
                "cardholder",
                "cardholdername",
                "カード名義",
                "名義人",
            ],
            PField::DeclineReason => &["declinereason", "エラー内容", "エラー理由"],
            PField::OrderRef => &[
                "clientreferenceid",
                "orderid",
                "orderref",
                "orderreference",
                "オーダーid",
                "注文番号",
                "注文id",
                "orderid(metadata)",
                "order_id(metadata)",
            ],
            PField::Description => &["description"],
            PField::Country => &["cardissuecountry", "cardaddresscountry", "country"],
        }
    }
}

/// A layout of a gateway export.
#[derive(Debug, Clone)]
pub(super) struct PLayout {
    pub(super) cols: BTreeMap<PField, usize>,
    pub(super) preset: &'static str,
    pub(super) security_code_cols: Vec<usize>,
    /// How many columns the header has (a record of another width is malformed).
    pub(super) width: usize,
}

impl PLayout {
    pub(super) fn col(&self, f: PField) -> Option<usize> {
        self.cols.get(&f).copied()
    }
}

/// Stripe's payments export, both layouts: detected by `Card Last4` + `Card Brand` +
/// (`Created (UTC)` or `Created date (UTC)`).
const STRIPE: &[(PField, &str)] = &[
    (PField::ChargeId, "id"),
    (PField::ChargeIdFallback, "PaymentIntent ID"),
    (PField::CreatedAt, "Created date (UTC)"),
    (PField::CreatedAt, "Created (UTC)"),
    (PField::Status, "Status"),
    (PField::Amount, "Amount"),
    (PField::Currency, "Currency"),
    (PField::CardBrand, "Card Brand"),
    (PField::Last4, "Card Last4"),
    (PField::ExpiryMonth, "Card Exp Month"),
    (PField::ExpiryYear, "Card Exp Year"),
    (PField::Fingerprint, "Card Fingerprint"),
    (PField::CustomerEmail, "Customer Email"),
    (PField::CustomerName, "Card Name"),
    (PField::DeclineReason, "Decline Reason"),
    (PField::OrderRef, "Client Reference ID"),
    (PField::Description, "Description"),
    (PField::Country, "Card Issue Country"),
];

pub(super) fn resolve(
    headers: &[String],
    preset: Option<&str>,
    mapping: &BTreeMap<String, String>,
) -> std::result::Result<PLayout, String> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let find = |name: &str| {
        let k = header_key(name);
        keys.iter().position(|h| *h == k)
    };
    let stripe_detected = find("Card Last4").is_some()
        && find("Card Brand").is_some()
        && (find("Created (UTC)").is_some() || find("Created date (UTC)").is_some());
    let use_stripe = match preset.map(str::trim) {
        None | Some("") | Some("auto") => stripe_detected,
        Some("stripe") => true,
        Some("generic") => false,
        Some(other) => {
            return Err(format!(
                "unknown payments preset {other:?}; known: auto, stripe, generic"
            ))
        }
    };
    let mut cols: BTreeMap<PField, usize> = BTreeMap::new();
    if use_stripe {
        for (f, h) in STRIPE {
            if let Some(i) = find(h) {
                cols.entry(*f).or_insert(i);
            }
        }
        // A metadata column holding the order id, when Client Reference ID is absent.
        if let std::collections::btree_map::Entry::Vacant(e) = cols.entry(PField::OrderRef) {
            if let Some(i) = keys
                .iter()
                .position(|k| k.ends_with("(metadata)") && k.contains("order"))
            {
                e.insert(i);
            }
        }
    } else {
        for f in PField::ALL {
            let syn = f.synonyms();
            if let Some(i) = syn.iter().find_map(|s| keys.iter().position(|k| k == s)) {
                if !cols.values().any(|&c| c == i) {
                    cols.insert(f, i);
                }
            }
        }
    }
    for (k, h) in mapping {
        let f = PField::ALL
            .iter()
            .copied()
            .find(|f| f.key() == k)
            .ok_or_else(|| {
                format!(
                    "[payments.columns] names an unknown field {k:?}; fields: {}",
                    PField::ALL
                        .iter()
                        .map(|f| f.key())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let i = find(h).ok_or_else(|| {
            format!("[payments.columns] {k} = {h:?}, but the file has no such header; headers found: {}", list(headers))
        })?;
        cols.insert(f, i);
    }
    let security_code_cols: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| crate::cards::is_security_code_header(h))
        .map(|(i, _)| i)
        .collect();
    cols.retain(|_, c| !security_code_cols.contains(c));
    let mut missing = Vec::new();
    if !cols.contains_key(&PField::CreatedAt) {
        missing.push("created_at");
    }
    if !cols.contains_key(&PField::Last4)
        && !cols.contains_key(&PField::CardBrand)
        && !cols.contains_key(&PField::Fingerprint)
    {
        missing.push("card data (last4, card_brand or fingerprint)");
    }
    if !missing.is_empty() {
        return Err(format!(
            "cannot map the payment export's columns: missing {}; headers found: {}. Map them with [payments.columns] (e.g. created_at = \"決済日時\", last4 = \"カード番号\"), or pick --payments-preset stripe",
            missing.join(", "),
            list(headers)
        ));
    }
    Ok(PLayout {
        cols,
        preset: if use_stripe { "stripe" } else { "generic" },
        security_code_cols,
        width: headers.len(),
    })
}

fn list(headers: &[String]) -> String {
    headers
        .iter()
        .take(40)
        .map(|h| format!("{:?}", crate::cards::detect::mask(h).0))
        .collect::<Vec<_>>()
        .join(", ")
}
