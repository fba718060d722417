//! Property tests: every formatter round-trips through `parse`, and no input makes the parser
//! panic or report a position outside the input.

#![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

use base64::Engine as _;
use custodian_scanner::{
    Element, Form, GS, Gtin, Identity, ProprietaryFormat, SerialPattern, bracketed, check_digit,
    digital_link, element_string, parse, parse_with,
};
#[path = "support/seeded.rs"]
mod seeded;

use proptest::prelude::*;
use proptest::{collection, option, sample};

const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn digits(len: impl Into<collection::SizeRange>) -> impl Strategy<Value = String> {
    collection::vec(0..10u8, len).prop_map(|d| d.iter().map(|d| char::from(b'0' + d)).collect())
}

/// Digits followed by their GS1 check digit.
fn with_check_digit(payload: usize) -> impl Strategy<Value = String> {
    digits(payload).prop_map(|p| format!("{p}{}", check_digit(&p)))
}

fn cset82(max: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = CSET82.chars().collect();
    collection::vec(sample::select(chars), 1..=max).prop_map(|c| c.into_iter().collect())
}

fn date() -> impl Strategy<Value = String> {
    (0..100u32, 1..=12u32, 0..=28u32).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

fn signature() -> impl Strategy<Value = (Vec<u8>, String)> {
    collection::vec(any::<u8>(), 1..=60).prop_map(|bytes| {
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        (bytes, text)
    })
}

/// A valid set of elements with a GTIN (so that no element string is a bare run of GTIN
/// length), in any order.
fn elements() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        with_check_digit(13),
        option::of(cset82(20)),
        option::of(cset82(20)),
        option::of(date()),
        option::of(date()),
        option::of(digits(6)),
        option::of(signature()),
        option::of(cset82(30)),
        option::of(cset82(90)),
        option::of(digits(1..=8)),
        option::of(with_check_digit(17)),
    )
        .prop_map(
            |(gtin, serial, lot, expiry, made, weight, sig, extra, internal, count, sscc)| {
                // A signature needs a serial (AI 8030 requires 01 with 21).
                let sig = sig.filter(|_| serial.is_some());
                let optional = [
                    ("21", serial),
                    ("10", lot),
                    ("17", expiry),
                    ("11", made),
                    ("3103", weight),
                    ("8030", sig.map(|(_, text)| text)),
                    ("240", extra),
                    ("91", internal),
                    ("30", count),
                    ("00", sscc),
                ];
                let mut out = vec![("01".to_owned(), gtin)];
                out.extend(
                    optional
                        .into_iter()
                        .filter_map(|(ai, v)| Some((ai.to_owned(), v?))),
                );
                out
            },
        )
        .prop_shuffle()
}

fn refs(elements: &[(String, String)]) -> Vec<(&str, &str)> {
    elements
        .iter()
        .map(|(a, v)| (a.as_str(), v.as_str()))
        .collect()
}

fn owned(elements: &[(String, String)]) -> Vec<Element> {
    elements
        .iter()
        .map(|(ai, value)| Element {
            ai: ai.clone().into(),
            value: value.clone(),
        })
        .collect()
}

proptest! {
    #![proptest_config(seeded::seeded(256))]

    #[test]
    fn element_strings_round_trip(elements in elements(), prefix in sample::select(vec!["", "]d2", "]C1", "]Q3", "\u{1d}", "]d2\u{1d}"])) {
        element_string_round_trips(&elements, prefix)?;
    }

    #[test]
    fn bracketed_round_trips(elements in elements()) {
        bracketed_round_trip(&elements)?;
    }

    #[test]
    fn digital_links_round_trip(
        gtin in with_check_digit(13),
        serial in option::of(cset82(20)),
        lot in option::of(cset82(20)),
        expiry in option::of(date()),
        sig in option::of(signature()),
        domain in sample::select(vec!["example.com", "https://id.gs1.org", "http://a.example/dl/", "HTTPS://X.Y"]),
    ) {
        digital_link_round_trips(&gtin, serial, lot, expiry, sig, domain)?;
    }

    #[test]
    fn plain_gtins_round_trip(payload in sample::select(vec![7usize, 11, 12, 13]), seed in digits(13)) {
        let short = &seed[..payload];
        let raw = format!("{short}{}", check_digit(short));
        let scan = parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
        prop_assert_eq!(scan.form, Form::PlainGtin);
        prop_assert_eq!(scan.gtin().map(|g| g.as_str().to_owned()), Some(format!("{raw:0>14}")));
    }

    #[test]
    fn any_text_never_panics(raw in any::<String>()) {
        check_outcome(&raw)?;
    }

    #[test]
    fn gs_stand_ins_read_as_gs(
        elements in elements(),
        stand_in in sample::select(vec!["{GS}", "[GS]", "^]", "\\x1d", "\\u001d", "\u{241d}", "\u{e01d}", "{FNC1}"]),
        doubled in any::<bool>(),
    ) {
        let separator = if doubled { format!("{stand_in}{GS}") } else { stand_in.to_owned() };
        let data = element_string(&refs(&elements)).replace(GS, &separator);
        let raw = format!("]d2{data}");
        let scan = parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
        prop_assert_eq!(&scan.elements, &owned(&elements));
        prop_assert_eq!(scan.is_recovered(), data.contains(stand_in), "{:?}", scan.notes());
        for note in scan.notes() {
            prop_assert!(note.position() < raw.len());
        }
    }

    #[test]
    fn serial_patterns_read_what_they_describe(
        parts in collection::vec((sample::select(vec!["\\d", "[A-Z]", "[A-F0-9]", "X", "-", "\\(", "[a-z_]"]), 1..=4u8, 0..=3u8), 1..6),
        seed in any::<u64>(),
        group in any::<bool>(),
    ) {
        // Build a pattern and a text it matches: each part is a class with a count.
        let mut pattern = String::new();
        let mut text = String::new();
        let mut state = seed;
        for (i, (class, min, extra)) in parts.iter().enumerate() {
            if group && i == 0 { pattern.push('('); }
            pattern.push_str(&format!("{class}{{{min},{}}}", min + extra));
            let members: Vec<char> = match *class {
                "\\d" => ('0'..='9').collect(),
                "[A-Z]" => ('A'..='Z').collect(),
                "[A-F0-9]" => ('A'..='F').chain('0'..='9').collect(),
                "[a-z_]" => ('a'..='z').chain(['_']).collect(),
                "\\(" => vec!['('],
                other => other.chars().collect(),
            };
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let count = usize::from(*min) + usize::try_from(state >> 62).unwrap() % (usize::from(*extra) + 1);
            for _ in 0..count {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push(members[usize::try_from(state >> 33).unwrap() % members.len()]);
            }
            if group && i == 0 { pattern.push(')'); }
        }
        let parsed = SerialPattern::parse(&pattern).map_err(|e| TestCaseError::fail(format!("{pattern}: {e}")))?;
        prop_assert_eq!(parsed.as_str(), pattern.as_str());
        let serial = parsed.serial_of(&text);
        prop_assert!(serial.is_some(), "{} does not match {:?}", pattern, text);
        if !group {
            prop_assert_eq!(serial, Some(text.as_str()));
        }
        // Through the parser, as the one declared product. A GS1 reading of the same text wins.
        let formats = [ProprietaryFormat { product: "P1".into(), pattern: parsed }];
        match parse_with(&text, &formats) {
            Ok(scan) if scan.form == Form::Proprietary => {
                prop_assert_eq!(scan.identity(), Some(Identity::Proprietary { product: "P1".into(), serial: serial.unwrap_or_default().to_owned() }));
            }
            Ok(scan) => prop_assert!(scan.is_ambiguous()),
            Err(e) => prop_assert!(false, "{:?}: {}", text, e),
        }
        // A character no class allows never matches.
        let spoiled = format!("{text}~");
        prop_assert!(formats[0].pattern.serial_of(&spoiled).is_none());
    }

    #[test]
    fn any_pattern_and_text_never_panic(pattern in "[-\\\\()\\[\\]{},0-9A-Za-z]{0,24}", text in any::<String>()) {
        if let Ok(pattern) = SerialPattern::parse(&pattern) {
            let formats = [ProprietaryFormat { product: "P".into(), pattern }];
            let _ = formats[0].pattern.serial_of(&text);
            match parse_with(&text, &formats) {
                Ok(scan) => prop_assert!(scan.identity().is_some() || scan.form != Form::Proprietary),
                Err(e) => prop_assert!(e.position <= text.len()),
            }
        }
    }

    #[test]
    fn scanner_like_text_never_panics(parts in collection::vec(sample::select(FRAGMENTS.to_vec()), 0..24)) {
        check_outcome(&parts.concat())?;
    }
}

/// Pieces of real scans, so that random text gets past the first check often.
const FRAGMENTS: &[&str] = &[
    "]d2",
    "]Q1",
    "]E0",
    "]C1",
    "]",
    "\u{feff}",
    "\r\n",
    "\u{1d}",
    "(",
    ")",
    "\\(",
    "01",
    "09506000134352",
    "9506000134352",
    "10",
    "17",
    "261231",
    "260200",
    "21",
    "ABC",
    "00",
    "037612345000000014",
    "414",
    "9506000000008",
    "254",
    "8030",
    "AQID_v8",
    "=",
    "3103",
    "8001",
    "7003",
    "99",
    "0",
    "1",
    "2",
    "9",
    "https://e.com",
    "/",
    "?",
    "&",
    "%",
    "%C3",
    "%A9",
    "é",
    "~",
    "#",
    " ",
    "8003",
    "235",
    "22",
    "8006",
    "{GS}",
    "<GS>",
    "^]",
    "\u{241d}",
    "4330",
    "-",
    "8013",
    "1987654Ad4X4bL5ttr2310c2K",
    "422",
    "276",
    "8110",
    "012345612345611110123",
];

/// Whatever the input, parsing returns; errors point inside the input; a successful scan
/// re-formats to text that parses to the same elements.
fn element_string_round_trips(
    elements: &[(String, String)],
    prefix: &str,
) -> Result<(), TestCaseError> {
    let raw = format!("{prefix}{}\r\n", element_string(&refs(elements)));
    let scan = parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
    prop_assert_eq!(scan.form, Form::ElementString);
    prop_assert_eq!(scan.elements, owned(elements));
    Ok(())
}

fn bracketed_round_trip(elements: &[(String, String)]) -> Result<(), TestCaseError> {
    let raw = bracketed(&refs(elements));
    let scan = parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
    prop_assert_eq!(scan.form, Form::Bracketed);
    prop_assert_eq!(scan.elements, owned(elements));
    Ok(())
}

fn digital_link_round_trips(
    gtin: &str,
    serial: Option<String>,
    lot: Option<String>,
    expiry: Option<String>,
    sig: Option<(Vec<u8>, String)>,
    domain: &str,
) -> Result<(), TestCaseError> {
    let gtin = Gtin::parse(gtin).map_err(|e| TestCaseError::fail(e.to_string()))?;
    // A signature needs a serial (AI 8030 requires 01 with 21).
    let sig = sig.filter(|_| serial.is_some());
    let query: Vec<(&str, &str)> = [
        ("10", lot.as_deref()),
        ("17", expiry.as_deref()),
        ("8030", sig.as_ref().map(|s| s.1.as_str())),
    ]
    .into_iter()
    .filter_map(|(ai, v)| Some((ai, v?)))
    .collect();
    let raw = digital_link(domain, &gtin, serial.as_deref(), &query);
    let scan = parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
    prop_assert_eq!(scan.form, Form::DigitalLink);
    prop_assert_eq!(scan.gtin(), Some(&gtin));
    prop_assert_eq!(scan.serial(), serial.as_deref());
    prop_assert_eq!(scan.lot(), lot.as_deref());
    prop_assert_eq!(scan.get("17"), expiry.as_deref());
    prop_assert_eq!(scan.signature(), sig.as_ref().map(|s| s.0.as_slice()));
    prop_assert_eq!(
        scan.elements.len(),
        1 + usize::from(serial.is_some()) + query.len()
    );
    Ok(())
}

/// The inputs the round-trip properties once shrank a failure to (a one-byte signature, "AA",
/// after an all-zero GTIN, without the serial AI 8030 requires; the generators now add one),
/// kept as ordinary cases with their serial now that the properties run from a fixed seed.
#[test]
fn cases_that_once_failed_round_trip() {
    let pair = |ai: &str, v: &str| (ai.to_string(), v.to_string());
    for elements in [
        [
            pair("01", "00000000000000"),
            pair("21", "S1"),
            pair("8030", "AA"),
        ],
        [
            pair("01", "00000000000000"),
            pair("8030", "AA"),
            pair("21", "S1"),
        ],
    ] {
        for prefix in ["", "]d2", "]C1", "]Q3", "\u{1d}", "]d2\u{1d}"] {
            element_string_round_trips(&elements, prefix).unwrap();
        }
        bracketed_round_trip(&elements).unwrap();
    }
    digital_link_round_trips(
        "00000000000000",
        None,
        None,
        None,
        Some((vec![0], "AA".into())),
        "example.com",
    )
    .unwrap();
    digital_link_round_trips(
        "00000000000000",
        Some("S1".into()),
        None,
        None,
        Some((vec![0], "AA".into())),
        "example.com",
    )
    .unwrap();
}

fn check_outcome(raw: &str) -> Result<(), TestCaseError> {
    match parse(raw) {
        Err(e) => {
            prop_assert!(e.position <= raw.len(), "{raw:?}: {e}");
            prop_assert!(!e.to_string().is_empty());
        }
        Ok(scan) => {
            let pairs: Vec<(&str, &str)> = scan
                .elements
                .iter()
                .map(|e| (&*e.ai, e.value.as_str()))
                .collect();
            let again = parse(&bracketed(&pairs)).map_err(|e| {
                TestCaseError::fail(format!("{raw:?} → {:?}: {e}", bracketed(&pairs)))
            })?;
            prop_assert_eq!(&again.elements, &scan.elements);
            let again = parse(&format!("]d2{GS}{}", element_string(&pairs)))
                .map_err(|e| TestCaseError::fail(format!("{raw:?} → element string: {e}")))?;
            prop_assert_eq!(&again.elements, &scan.elements);
        }
    }
    Ok(())
}

/// Every property test generates the same cases on every run: two runners from the shared
/// configuration draw the same values.
#[test]
fn the_properties_run_from_a_fixed_seed() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let draw = || {
        let mut runner = TestRunner::new(seeded::seeded(8));
        (0..8)
            .map(|_| any::<u64>().new_tree(&mut runner).unwrap().current())
            .collect::<Vec<u64>>()
    };
    assert_eq!(draw(), draw());
    assert!(seeded::seeded(8).failure_persistence.is_none());
}
