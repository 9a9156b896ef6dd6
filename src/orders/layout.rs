//! Which column holds what: header synonyms, platform presets, and the error that lists what was
//! found when neither fits.
//!
//! Headers are matched after [`crate::text::header_key`] (NFKC, lower case, spaces, `_`, `-` and
//! `.` dropped). Presets are detected by a subset of their columns, never by header equality:
//! platforms add and rename columns between versions. The preset headers are the real ones
//! (EC-CUBE 4 `dtb_csv.csv`, EC-CUBE 2 `insert_data.sql`, Shopify's "Export orders", the
//! WooCommerce "Advanced Order Export" plugin's defaults, Magento 2's `sales_order_grid.xml`).

use crate::text::header_key;
use std::collections::BTreeMap;

/// A field the tool reads from an order export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    OrderId,
    /// A second order id used where the first is empty (EC-CUBE 4: 注文番号, else 注文ID).
    OrderIdFallback,
    OrderedAt,
    Email,
    LoginId,
    Name,
    FamilyName,
    GivenName,
    CardNumber,
    CardBrand,
    PaymentMethod,
    Status,
    Amount,
    Currency,
    Region,
    Country,
    Locale,
    /// A session id or checkout token, to tie checkout submissions in the logs to orders.
    Session,
    /// The buyer's phone number (the contact desk searches by it).
    Phone,
    /// The second and third parts of a phone number split over three columns (EC-CUBE 2's
    /// 電話番号1–3); read only where a preset or `[orders.columns]` names them.
    Phone2,
    Phone3,
}

impl Field {
    pub const ALL: [Field; 21] = [
        Field::OrderId,
        Field::OrderIdFallback,
        Field::OrderedAt,
        Field::Email,
        Field::LoginId,
        Field::Name,
        Field::FamilyName,
        Field::GivenName,
        Field::CardNumber,
        Field::CardBrand,
        Field::PaymentMethod,
        Field::Status,
        Field::Amount,
        Field::Currency,
        Field::Region,
        Field::Country,
        Field::Locale,
        Field::Session,
        Field::Phone,
        Field::Phone2,
        Field::Phone3,
    ];

    /// The name used in `[orders.columns]` and in messages.
    pub fn key(self) -> &'static str {
        match self {
            Field::OrderId => "order_id",
            Field::OrderIdFallback => "order_id_fallback",
            Field::OrderedAt => "ordered_at",
            Field::Email => "email",
            Field::LoginId => "login_id",
            Field::Name => "name",
            Field::FamilyName => "family_name",
            Field::GivenName => "given_name",
            Field::CardNumber => "card_number",
            Field::CardBrand => "card_brand",
            Field::PaymentMethod => "payment_method",
            Field::Status => "status",
            Field::Amount => "amount",
            Field::Currency => "currency",
            Field::Region => "region",
            Field::Country => "country",
            Field::Locale => "locale",
            Field::Session => "session",
            Field::Phone => "phone",
            Field::Phone2 => "phone_2",
            Field::Phone3 => "phone_3",
        }
    }

    pub fn from_key(k: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.key() == k)
    }

    /// Header synonyms, already in [`header_key`] form.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Field::OrderId => &[
                "orderid",
                "ordernumber",
                "orderno",
                "order#",
                "order",
                "incrementid",
                "注文番号",
                "注文id",
                "受注番号",
                "受注id",
                "注文no",
            ],
            Field::OrderIdFallback => &[],
            Field::OrderedAt => &[
                "orderedat",
                "orderdate",
                "createdat",
                "created",
                "createddate",
                "date",
                "purchasedate",
                "orderdatetime",
                "orderedon",
                "datetime",
                "timestamp",
                "注文日時",
                "受注日",
                "注文日",
                "受注日時",
                "購入日時",
                "決済日時",
                "購入日",
            ],
            Field::Email => &[
                "email",
                "emailaddress",
                "mail",
                "mailaddress",
                "customeremail",
                "billingemail",
                "email(billing)",
                "メールアドレス",
                "メール",
                "eメール",
                "eメールアドレス",
            ],
            Field::LoginId => &[
                "loginid",
                "login",
                "customerid",
                "userid",
                "memberid",
                "accountid",
                "username",
                "customeruserid",
                "会員id",
                "ログインid",
                "顧客id",
                "会員番号",
                "顧客番号",
            ],
            Field::Name => &[
                "cardholder",
                "cardholdername",
                "cardname",
                "nameoncard",
                "billingname",
                "billtoname",
                "customername",
                "name",
                "fullname",
                "お名前",
                "氏名",
                "カード名義",
                "カード名義人",
                "名義人",
                "購入者名",
                "注文者名",
            ],
            Field::FamilyName => &[
                "lastname",
                "familyname",
                "surname",
                "lastname(billing)",
                "お名前(姓)",
                "姓",
            ],
            Field::GivenName => &[
                "firstname",
                "givenname",
                "firstname(billing)",
                "お名前(名)",
                "名",
            ],
            Field::CardNumber => &[
                "cardnumber",
                "ccnumber",
                "creditcardnumber",
                "pan",
                "cardno",
                "maskedcard",
                "maskedcardnumber",
                "カード番号",
                "クレジットカード番号",
            ],
            Field::CardBrand => &[
                "cardbrand",
                "cardtype",
                "brand",
                "cardcompany",
                "カードブランド",
                "カード会社",
                "カード種別",
                "カード種類",
            ],
            Field::PaymentMethod => &[
                "paymentmethod",
                "payment",
                "paymentmethodtitle",
                "paymenttype",
                "paymentgateway",
                "支払方法",
                "支払い方法",
                "支払方法(名称)",
                "決済方法",
                "お支払い方法",
                "お支払方法",
                "決済手段",
            ],
            Field::Status => &[
                "status",
                "orderstatus",
                "financialstatus",
                "paymentstatus",
                "対応状況",
                "対応状況(名称)",
                "ステータス",
                "決済状況",
                "注文状況",
                "決済ステータス",
            ],
            Field::Amount => &[
                "amount",
                "total",
                "grandtotal",
                "ordertotal",
                "ordertotalamount",
                "grandtotal(purchased)",
                "合計",
                "支払合計",
                "お支払い合計",
                "金額",
                "決済金額",
                "合計金額",
            ],
            Field::Currency => &["currency", "currencycode", "通貨"],
            Field::Region => &[
                "region",
                "state",
                "province",
                "prefecture",
                "billingprovince",
                "billingstate",
                "billingprovincename",
                "statecode(billing)",
                "都道府県",
                "都道府県(名称)",
            ],
            Field::Country => &[
                "country",
                "billingcountry",
                "countrycode",
                "countrycode(billing)",
                "国",
            ],
            Field::Locale => &["locale", "language", "lang", "言語"],
            Field::Session => &[
                "session",
                "sessionid",
                "checkouttoken",
                "carttoken",
                "セッションid",
            ],
            Field::Phone => &[
                "billingphone",
                "phone(billing)",
                "phone",
                "phonenumber",
                "telephone",
                "tel",
                "customerphone",
                "電話番号",
                "電話",
            ],
            Field::Phone2 | Field::Phone3 => &[],
        }
    }
}

/// How personal names are put together from family and given name columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOrder {
    /// `山田 太郎`
    FamilyFirst,
    /// `Taro Yamada`
    GivenFirst,
}

/// A platform preset: the real headers of its export and the platform's conventions.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: &'static str,
    /// Headers that must all be present for auto-detection.
    detect: &'static [&'static str],
    /// Field → exact header (first occurrence is used; duplicates elsewhere are accepted).
    columns: &'static [(Field, &'static str)],
    pub guest_ids: &'static [&'static str],
    pub currency: Option<&'static str>,
    pub country: Option<&'static str>,
    pub name_order: NameOrder,
    /// Status ids the platform writes as numbers, with their names.
    pub status_names: &'static [(&'static str, &'static str)],
    /// Advice printed when a needed column is missing.
    pub advice: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "ec-cube4",
        detect: &["注文ID", "注文番号", "受注日", "支払方法(名称)", "対応状況(名称)"],
        columns: &[
            (Field::OrderId, "注文番号"),
            (Field::OrderIdFallback, "注文ID"),
            (Field::OrderedAt, "受注日"),
            (Field::Email, "メールアドレス"),
            (Field::LoginId, "会員ID"),
            (Field::FamilyName, "お名前(姓)"),
            (Field::GivenName, "お名前(名)"),
            (Field::PaymentMethod, "支払方法(名称)"),
            (Field::Status, "対応状況(名称)"),
            (Field::Amount, "支払合計"),
            (Field::Region, "都道府県(名称)"),
            (Field::Phone, "TEL"),
        ],
        guest_ids: &[],
        currency: Some("JPY"),
        country: Some("JP"),
        name_order: NameOrder::FamilyFirst,
        status_names: &[],
        advice: "export the 受注CSV from 受注管理 → 受注一覧 → CSVダウンロード",
    },
    Preset {
        name: "ec-cube2",
        detect: &["注文番号", "会員ID", "支払い方法", "対応状況", "注文日時"],
        columns: &[
            (Field::OrderId, "注文番号"),
            (Field::OrderedAt, "注文日時"),
            (Field::Email, "メールアドレス"),
            (Field::LoginId, "会員ID"),
            (Field::FamilyName, "お名前(姓)"),
            (Field::GivenName, "お名前(名)"),
            (Field::PaymentMethod, "支払い方法"),
            (Field::Status, "対応状況"),
            (Field::Amount, "お支払い合計"),
            (Field::Region, "都道府県"),
            (Field::Phone, "電話番号1"),
            (Field::Phone2, "電話番号2"),
            (Field::Phone3, "電話番号3"),
        ],
        // EC-CUBE 2 writes 0 for orders placed without a membership.
        guest_ids: &["0"],
        currency: Some("JPY"),
        country: Some("JP"),
        name_order: NameOrder::FamilyFirst,
        // mtb_order_status of EC-CUBE 2.
        status_names: &[
            ("1", "新規受付"),
            ("2", "入金待ち"),
            ("3", "キャンセル"),
            ("4", "取り寄せ中"),
            ("5", "発送済み"),
            ("6", "入金済み"),
            ("7", "決済処理中"),
        ],
        advice: "export the 受注CSV from 受注管理 → 受注管理 → CSV ダウンロード",
    },
    Preset {
        name: "shopify",
        detect: &["Name", "Email", "Financial Status", "Created at", "Lineitem name"],
        columns: &[
            (Field::OrderId, "Name"),
            (Field::OrderedAt, "Created at"),
            (Field::Email, "Email"),
            (Field::Name, "Billing Name"),
            (Field::PaymentMethod, "Payment Method"),
            (Field::Status, "Financial Status"),
            (Field::Amount, "Total"),
            (Field::Currency, "Currency"),
            (Field::Region, "Billing Province"),
            (Field::Country, "Billing Country"),
            (Field::Phone, "Billing Phone"),
        ],
        guest_ids: &[],
        currency: None,
        country: None,
        name_order: NameOrder::GivenFirst,
        status_names: &[],
        advice: "export from Orders → Export → \"All orders\", \"CSV for Excel, Numbers, or other spreadsheet programs\"",
    },
    Preset {
        name: "woocommerce",
        detect: &["Order Number", "Order Date", "Email (Billing)"],
        columns: &[
            (Field::OrderId, "Order Number"),
            (Field::OrderedAt, "Order Date"),
            (Field::Email, "Email (Billing)"),
            (Field::LoginId, "Customer User ID"),
            (Field::FamilyName, "Last Name (Billing)"),
            (Field::GivenName, "First Name (Billing)"),
            (Field::PaymentMethod, "Payment Method Title"),
            (Field::Status, "Order Status"),
            (Field::Amount, "Order Total Amount"),
            (Field::Currency, "Order Currency"),
            (Field::Region, "State Code (Billing)"),
            (Field::Country, "Country Code (Billing)"),
            (Field::Phone, "Phone (Billing)"),
        ],
        guest_ids: &["0"],
        currency: None,
        country: None,
        name_order: NameOrder::GivenFirst,
        status_names: &[],
        advice: "export with the \"Advanced Order Export For WooCommerce\" plugin and keep \"Email (Billing)\" and \"Payment Method Title\" checked",
    },
    Preset {
        name: "magento2",
        detect: &["ID", "Purchase Point", "Purchase Date", "Bill-to Name", "Grand Total (Purchased)"],
        columns: &[
            (Field::OrderId, "ID"),
            (Field::OrderedAt, "Purchase Date"),
            (Field::Email, "Customer Email"),
            (Field::Name, "Bill-to Name"),
            (Field::PaymentMethod, "Payment Method"),
            (Field::Status, "Status"),
            (Field::Amount, "Grand Total (Purchased)"),
        ],
        guest_ids: &[],
        currency: None,
        country: None,
        name_order: NameOrder::GivenFirst,
        status_names: &[],
        advice: "in Sales → Orders, enable the \"Customer Email\" and \"Payment Method\" columns of the grid (Columns menu) before Export → CSV",
    },
];

/// Names accepted for `--preset` (aliases included).
pub fn preset_by_name(name: &str) -> Option<&'static Preset> {
    let n = name.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    let canonical = match n.as_str() {
        "eccube4" | "ec-cube-4" | "eccube-4" | "ec-cube4" => "ec-cube4",
        "eccube2" | "ec-cube-2" | "eccube-2" | "ec-cube2" => "ec-cube2",
        "magento" | "magento-2" | "magento2" => "magento2",
        "woo" | "woocommerce" | "wc" => "woocommerce",
        "shopify" => "shopify",
        other => other,
    };
    PRESETS.iter().find(|p| p.name == canonical)
}

/// The resolved layout of one file.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Column index per field.
    pub cols: BTreeMap<Field, usize>,
    /// Columns holding security codes: never read, never written.
    pub security_code_cols: Vec<usize>,
    pub preset: Option<&'static Preset>,
    pub name_order: NameOrder,
    pub headers: Vec<String>,
    /// Warnings about the header (duplicates of names the tool does not read).
    pub warnings: Vec<String>,
}

impl Layout {
    pub fn col(&self, f: Field) -> Option<usize> {
        self.cols.get(&f).copied()
    }
    pub fn preset_name(&self) -> &'static str {
        self.preset.map(|p| p.name).unwrap_or("generic")
    }
}

/// Why a layout could not be resolved. The message lists what was found and what was expected.
#[derive(Debug)]
pub struct LayoutError(pub String);

/// Resolves the columns of a header row.
///
/// `preset`: `None` or `auto` detects; `generic` uses synonyms only. `mapping` (field → header
/// name) wins over both. `waive` names required fields the user knows are absent.
pub fn resolve(
    headers: &[String],
    preset: Option<&str>,
    mapping: &BTreeMap<String, String>,
    waive: &[String],
) -> Result<Layout, LayoutError> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let find_exact = |name: &str| -> Option<usize> {
        let k = header_key(name);
        keys.iter().position(|h| *h == k)
    };
    let preset: Option<&'static Preset> = match preset.map(str::trim) {
        None | Some("") | Some("auto") => PRESETS
            .iter()
            .find(|p| p.detect.iter().all(|h| find_exact(h).is_some())),
        Some("generic") => None,
        Some(name) => Some(preset_by_name(name).ok_or_else(|| {
            LayoutError(format!(
                "unknown preset {name:?}; known presets: auto, generic, {}",
                PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?),
    };

    let mut cols: BTreeMap<Field, usize> = BTreeMap::new();
    let mut warnings = Vec::new();
    if let Some(p) = preset {
        for (f, h) in p.columns {
            if let Some(i) = find_exact(h) {
                cols.entry(*f).or_insert(i);
            }
        }
    }
    // Synonyms fill what the preset left open (or everything, without a preset).
    for f in Field::ALL {
        if cols.contains_key(&f) {
            continue;
        }
        // Fields a preset deliberately maps elsewhere are not guessed (e.g. Shopify's `Id`).
        let syn = f.synonyms();
        let hits: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| syn.contains(&k.as_str()))
            .map(|(i, _)| i)
            .collect();
        // Prefer the synonym listed first.
        let best = syn
            .iter()
            .find_map(|s| hits.iter().copied().find(|&i| keys[i] == *s));
        if let Some(i) = best {
            if cols.values().any(|&c| c == i) {
                continue;
            }
            if preset.is_none() {
                let same: Vec<usize> = keys
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k == keys[i])
                    .map(|(j, _)| j)
                    .collect();
                if same.len() > 1 {
                    return Err(LayoutError(format!(
                        "the header {:?} appears more than once (columns {}) and the tool reads it as {}; name the column to use with [orders.columns] {} = \"...\" or pick a --preset",
                        headers[i],
                        same.iter().map(|j| (j + 1).to_string()).collect::<Vec<_>>().join(" and "),
                        f.key(),
                        f.key()
                    )));
                }
            }
            cols.insert(f, i);
        }
    }
    // Explicit mapping wins.
    for (k, h) in mapping {
        let f = Field::from_key(k).ok_or_else(|| {
            LayoutError(format!(
                "[orders.columns] names an unknown field {k:?}; fields: {}",
                Field::ALL
                    .iter()
                    .map(|f| f.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let i = find_exact(h).ok_or_else(|| {
            LayoutError(format!(
                "[orders.columns] {k} = {h:?}, but the file has no such header; headers found: {}",
                list(headers)
            ))
        })?;
        cols.insert(f, i);
    }
    let security_code_cols: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| crate::cards::is_security_code_header(h))
        .map(|(i, _)| i)
        .collect();
    for i in &security_code_cols {
        cols.retain(|_, c| c != i);
    }

    // Duplicate headers that the tool does not read: a warning.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for k in &keys {
        *seen.entry(k.as_str()).or_default() += 1;
    }
    for (k, n) in seen {
        if n > 1 && !k.is_empty() {
            let read = keys
                .iter()
                .enumerate()
                .any(|(i, kk)| kk == k && cols.values().any(|&c| c == i));
            if !read || preset.is_some() {
                warnings.push(format!("the header {k:?} appears {n} times"));
            }
        }
    }

    // Required fields.
    let waived = |f: &str| waive.iter().any(|w| w == f);
    let advice = preset
        .map(|p| format!(" ({}: {})", p.name, p.advice))
        .unwrap_or_default();
    let mut missing = Vec::new();
    if !cols.contains_key(&Field::OrderedAt) && !waived("ordered_at") {
        missing.push("an order date (ordered_at: \"Order Date\", \"Created at\", \"受注日\", \"注文日時\" …)".to_string());
    }
    if !cols.contains_key(&Field::OrderId)
        && !cols.contains_key(&Field::OrderIdFallback)
        && !waived("order_id")
    {
        missing.push(
            "an order id (order_id: \"Order ID\", \"Order Number\", \"注文番号\" …)".to_string(),
        );
    }
    if !cols.contains_key(&Field::Email) && !cols.contains_key(&Field::LoginId) && !waived("email")
    {
        missing.push("an e-mail or login id (email: \"Email\", \"メールアドレス\" …; login_id: \"Customer ID\", \"会員ID\" …)".to_string());
    }
    if !cols.contains_key(&Field::PaymentMethod)
        && !cols.contains_key(&Field::CardNumber)
        && !waived("payment_method")
    {
        missing.push("a payment method or card number (payment_method: \"Payment Method\", \"支払方法\" …; card_number: \"Card Number\", \"カード番号\" …)".to_string());
    }
    if !missing.is_empty() {
        return Err(LayoutError(format!(
            "cannot map the columns{}{advice}: missing {}; headers found: {}. Map them with [orders.columns] (e.g. email = \"Mail\"), pick a --preset ({}), or waive a field you know is absent with [orders] waive = [\"email\"]",
            preset.map(|p| format!(" as {}", p.name)).unwrap_or_default(),
            missing.join("; "),
            list(headers),
            PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        )));
    }

    let name_order = preset.map(|p| p.name_order).unwrap_or_else(|| {
        // Japanese headers put the family name first.
        match cols.get(&Field::FamilyName) {
            Some(&i) if !headers[i].is_ascii() => NameOrder::FamilyFirst,
            _ => NameOrder::GivenFirst,
        }
    });
    Ok(Layout {
        cols,
        security_code_cols,
        preset,
        name_order,
        headers: headers.to_vec(),
        warnings,
    })
}

fn list(headers: &[String]) -> String {
    // A headerless export's "headers" are its first row: card numbers masked.
    let shown: Vec<String> = headers
        .iter()
        .take(40)
        .map(|h| format!("{:?}", crate::cards::detect::mask(h).0))
        .collect();
    let more = if headers.len() > 40 {
        format!(" … ({} in all)", headers.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Prefecture names by JIS X 0401 code, for exports that write the code (EC-CUBE 2's `都道府県`).
pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    const EC_CUBE4: &str = "注文ID,注文番号,会員ID,お名前(姓),お名前(名),お名前(セイ),お名前(メイ),会社名,郵便番号,都道府県(ID),都道府県(名称),住所1,住所2,メールアドレス,TEL,性別(ID),性別(名称),職業(ID),職業(名称),誕生日,ショップ用メモ欄,小計,値引き,送料,税金,合計,支払合計,対応状況(ID),対応状況(名称),支払方法(ID),支払方法(名称),受注日,入金日,注文詳細ID,商品ID,商品規格ID,商品名,商品コード,規格名1,規格名2,規格分類名1,規格分類名2,価格,個数,税率,税率ルール(ID),明細区分(ID),明細区分(名称),出荷ID,配送先_お名前(姓),配送先_お名前(名),配送先_お名前(セイ),配送先_お名前(メイ),配送先_会社名,配送先_郵便番号,配送先_都道府県(ID),配送先_都道府県(名称),配送先_住所1,配送先_住所2,配送先_TEL,配送業者(ID),配送業者(名称),お届け時間ID,お届け時間(名称),お届け希望日,送料,発送日,出荷伝票番号,配達用メモ,出荷メール送信日";
    const SHOPIFY: &str = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,Payment References";
    const EC_CUBE2: &str = "注文番号,会員ID,要望等,お名前(姓),お名前(名),お名前(フリガナ・姓),お名前(フリガナ名),会社名,メールアドレス,電話番号1,電話番号2,電話番号3,FAX1,FAX2,FAX3,郵便番号1,郵便番号2,都道府県,住所1,住所2,性別,生年月日,職種,小計,値引き,送料,手数料,使用ポイント,加算ポイント,税金,合計,お支払い合計,配送業者ID,支払い方法,SHOPメモ,対応状況,注文日時,更新日時,発送完了日時,端末種別ID,配送情報ID";
    const MAGENTO_DEFAULT: &str = "ID,Purchase Point,Purchase Date,Bill-to Name,Ship-to Name,Grand Total (Base),Grand Total (Purchased),Status";

    #[test]
    fn real_headers_detect_their_preset() {
        let l = resolve(&h(EC_CUBE4), None, &BTreeMap::new(), &[]).unwrap();
        assert_eq!(l.preset_name(), "ec-cube4");
        assert_eq!(l.col(Field::OrderId), Some(1));
        assert_eq!(l.col(Field::Email), Some(13));
        assert!(
            l.warnings.iter().any(|w| w.contains("送料")),
            "{:?}",
            l.warnings
        );
        let l = resolve(&h(SHOPIFY), None, &BTreeMap::new(), &[]).unwrap();
        assert_eq!(l.preset_name(), "shopify");
        assert_eq!(l.col(Field::OrderId), Some(0));
        let l = resolve(&h(EC_CUBE2), None, &BTreeMap::new(), &[]).unwrap();
        assert_eq!(l.preset_name(), "ec-cube2");
    }

    #[test]
    fn magento_default_grid_says_what_to_enable() {
        let e = resolve(&h(MAGENTO_DEFAULT), None, &BTreeMap::new(), &[]).unwrap_err();
        assert!(e.0.contains("Customer Email"), "{}", e.0);
        assert!(e.0.contains("magento2"), "{}", e.0);
    }

    #[test]
    fn unknown_layout_lists_headers_and_expectations() {
        let e = resolve(&h("foo,bar,baz"), None, &BTreeMap::new(), &[]).unwrap_err();
        assert!(e.0.contains("\"foo\""), "{}", e.0);
        assert!(e.0.contains("ordered_at"), "{}", e.0);
    }

    #[test]
    fn duplicates_of_read_fields_are_errors_without_preset() {
        let e = resolve(
            &h("order id,date,email,email,payment method"),
            None,
            &BTreeMap::new(),
            &[],
        )
        .unwrap_err();
        assert!(e.0.contains("columns 3 and 4"), "{}", e.0);
    }

    #[test]
    fn security_code_columns_are_never_mapped() {
        let l = resolve(
            &h("Order ID,Date,Email,Card Number,CVV"),
            None,
            &BTreeMap::new(),
            &[],
        )
        .unwrap();
        assert_eq!(l.security_code_cols, vec![4]);
        assert!(!l.cols.values().any(|&c| c == 4));
    }

    #[test]
    fn mapping_wins() {
        let mut m = BTreeMap::new();
        m.insert("email".to_string(), "Kontakt".to_string());
        let l = resolve(&h("Order ID,Date,Kontakt,Payment Method"), None, &m, &[]).unwrap();
        assert_eq!(l.col(Field::Email), Some(2));
    }
}
