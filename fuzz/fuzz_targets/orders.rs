//! Order ingest: any bytes as an order export. Whatever they hold, every record ends in exactly
//! one class (the counts reconcile) and no rejected record shows a full card number.
#![no_main]
use libfuzzer_sys::fuzz_target;
use skimtrace::cards::{find_card_runs, FingerprintKey, KeySource};
use skimtrace::orders::methods::MethodRules;
use skimtrace::orders::{Ingest, IngestOptions, InputFile, Rejected};
use skimtrace::window::Window;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("skimtrace-fuzz-orders-{}.csv", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let window = Window::parse("2020-04-27..2021-12-22", Some("Asia/Tokyo")).unwrap();
    let methods = MethodRules::new(&[], &[]).unwrap();
    let key = FingerprintKey::new(b"fuzz-key-0123456789abcdef0123456".to_vec(), KeySource::Env);
    let opts = IngestOptions {
        window: &window,
        methods: &methods,
        exclude_statuses: Vec::new(),
        key: &key,
        margin: None,
        fetch: None,
        default_country: None,
        progress: None,
    };
    for preset in ["auto", "generic"] {
        let mut settings = skimtrace::config::InputSettings::default();
        settings.preset = Some(preset.into());
        let input = InputFile {
            path: path.clone(),
            display: "fuzz.csv".into(),
            settings,
        };
        let mut ingest = Ingest::new();
        let mut rejects: Vec<Rejected> = Vec::new();
        if ingest.read_file(&input, &opts, &mut rejects).is_ok() {
            let t = ingest.totals();
            assert!(t.reconciles(), "{t:?}");
            assert_eq!(t.rejected, rejects.len() as u64);
            for r in &rejects {
                assert!(find_card_runs(&r.record).is_empty(), "a card number in a rejected record");
            }
        }
    }
});
