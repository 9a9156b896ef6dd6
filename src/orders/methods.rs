//! Which payment methods are card payments typed into the shop's own checkout page.
//!
//! Matching is case-insensitive, NFKC, and ignores surrounding spaces. A rule matches a method
//! equal to it or starting with it followed by a non-alphanumeric character, so `credit card`
//! matches `Credit Card (Stripe)` and `manual` matches `manual + Razorpay`. A rule written
//! `/…/` is a regular expression. User rules are tried before the built-in ones, card rules
//! before not-card rules. A method in neither list counts as not card and is listed in the
//! summary with its row count, so a user sees what was left out.

use crate::text::nfkc_lower;
use regex::Regex;

/// Card by default: methods and gateways that take the card on the shop's page.
const CARD: &[&str] = &[
    "credit_card",
    "credit card",
    "creditcard",
    "card",
    "debit card",
    "debit_card",
    "クレジットカード",
    "クレジットカード決済",
    "クレジット決済",
    "カード決済",
    "クレジット",
    "shopify payments",
    "stripe",
    "braintree",
    "square",
    "pay.jp",
    "payjp",
    "gmo-pg",
    "gmo pg",
];

/// Not card by default.
const NOT_CARD: &[&str] = &[
    "bank transfer",
    "bank_transfer",
    "bacs",
    "direct bank transfer",
    "wire transfer",
    "cheque",
    "check payments",
    "cash on delivery",
    "cash on delivery (cod)",
    "cod",
    "cash",
    "paypal",
    "amazon pay",
    "amazon_pay",
    "gift card",
    "gift_card",
    "store credit",
    "manual",
    "free",
    "銀行振込",
    "銀行振り込み",
    "郵便振替",
    "代金引換",
    "代引き",
    "代引",
    "コンビニ決済",
    "コンビニ払い",
    "コンビニ支払い",
    "後払い",
    "後払い決済",
    "ポイント",
    "ポイント払い",
    "paypay",
    "楽天ペイ",
    "d払い",
    "au pay",
    "キャリア決済",
    "convenience store",
];

enum Rule {
    Text(String),
    Re(Regex),
}

impl Rule {
    fn parse(s: &str) -> Result<Rule, String> {
        let t = s.trim();
        if t.len() >= 2 && t.starts_with('/') && t.ends_with('/') {
            let pat = &t[1..t.len() - 1];
            let re = Regex::new(&format!("(?i){pat}"))
                .map_err(|e| format!("payment-method regex {t:?}: {e}"))?;
            Ok(Rule::Re(re))
        } else {
            Ok(Rule::Text(nfkc_lower(t)))
        }
    }

    fn matches(&self, norm: &str, raw: &str) -> bool {
        match self {
            Rule::Re(re) => re.is_match(raw.trim()),
            Rule::Text(t) => {
                norm == t
                    || (norm.starts_with(t.as_str())
                        && norm[t.len()..]
                            .chars()
                            .next()
                            .is_some_and(|c| !c.is_alphanumeric()))
            }
        }
    }
}

/// How a method was classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodClass {
    Card,
    /// A known non-card method.
    NotCard,
    /// In neither list: not card, and listed in the summary.
    Unknown,
}

pub struct MethodRules {
    user_card: Vec<Rule>,
    user_not_card: Vec<Rule>,
    card: Vec<Rule>,
    not_card: Vec<Rule>,
}

impl MethodRules {
    pub fn new(card: &[String], not_card: &[String]) -> Result<MethodRules, String> {
        let parse = |v: &[String]| {
            v.iter()
                .map(|s| Rule::parse(s))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(MethodRules {
            user_card: parse(card)?,
            user_not_card: parse(not_card)?,
            card: CARD.iter().map(|s| Rule::Text(nfkc_lower(s))).collect(),
            not_card: NOT_CARD.iter().map(|s| Rule::Text(nfkc_lower(s))).collect(),
        })
    }

    pub fn classify(&self, method: &str) -> MethodClass {
        let norm = nfkc_lower(method.trim());
        let norm = norm.trim();
        let any = |rules: &[Rule]| rules.iter().any(|r| r.matches(norm, method));
        if any(&self.user_card) {
            MethodClass::Card
        } else if any(&self.user_not_card) {
            MethodClass::NotCard
        } else if any(&self.card) {
            MethodClass::Card
        } else if any(&self.not_card) {
            MethodClass::NotCard
        } else {
            MethodClass::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let r = MethodRules::new(&[], &[]).unwrap();
        for m in [
            "credit_card",
            "Credit Card",
            "Credit Card (Stripe)",
            "クレジットカード",
            "クレジットカード決済",
            " カード決済 ",
            "Shopify Payments",
            "stripe",
            "ＣＲＥＤＩＴ ＣＡＲＤ",
        ] {
            assert_eq!(r.classify(m), MethodClass::Card, "{m}");
        }
        for m in [
            "銀行振込",
            "Cash on Delivery (COD)",
            "manual + Razorpay",
            "PayPal",
            "代金引換",
        ] {
            assert_eq!(r.classify(m), MethodClass::NotCard, "{m}");
        }
        assert_eq!(r.classify("Bitcoin"), MethodClass::Unknown);
        assert_eq!(r.classify("cardboard"), MethodClass::Unknown);
    }

    #[test]
    fn user_rules_win() {
        let r = MethodRules::new(&["/^paypal/".into()], &["stripe".into()]).unwrap();
        assert_eq!(r.classify("PayPal"), MethodClass::Card);
        assert_eq!(r.classify("Stripe"), MethodClass::NotCard);
        assert!(MethodRules::new(&["/(/".into()], &[]).is_err());
    }
}
