//! Data-driven tests of the key types (`Gtin`, `Sscc`, `Gln`), their serde form, `check_digit`
//! and the public view of the AI table.

#![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

use custodian_scanner::{ApplicationIdentifier, Gln, Gtin, Identity, Sscc, check_digit};

#[track_caller]
fn check<T: ToString, E: ToString>(result: Result<T, E>, expected: &str) {
    let actual = match result {
        Ok(value) => value.to_string(),
        Err(e) => format!("error: {}", e.to_string()),
    };
    assert_eq!(actual, expected);
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn gtins() {
    check(Gtin::parse("09506000134352"), "09506000134352");
    check(Gtin::parse("9506000134352"), "09506000134352");
    check(Gtin::parse("036000291452"), "00036000291452");
    check(Gtin::parse("96385074"), "00000096385074");
    check(Gtin::parse("10950600013436"), "10950600013436");
    check(Gtin::parse("09506000134353"), "error: GTIN check digit 3, expected 2 (position 13)");
    check(Gtin::parse("0950600013435"), "error: GTIN check digit 5, expected 9 (position 12)");
    check(Gtin::parse("123"), "error: GTIN needs 8, 12, 13 or 14 digits, got 3 (position 0)");
    check(Gtin::parse(""), "error: GTIN needs 8, 12, 13 or 14 digits, got 0 (position 0)");
    check(Gtin::parse("095060001343520"), "error: GTIN needs 8, 12, 13 or 14 digits, got 15 (position 0)");
    check(Gtin::parse("0950600013435A"), "error: GTIN: character 'A' is not a digit (position 13)");
    check(Gtin::parse(" 9506000134352"), "error: GTIN: character ' ' is not a digit (position 0)");
    check(Gtin::parse("9506000134352²"), "error: GTIN: character '²' is not a digit (position 13)");
    check("09506000134352".parse::<Gtin>(), "09506000134352");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn ssccs_and_glns() {
    check(Sscc::parse("037612345000000014"), "037612345000000014");
    check(Sscc::parse("37612345000000014"), "error: SSCC needs 18 digits, got 17 (position 0)");
    check(Sscc::parse("037612345000000015"), "error: SSCC check digit 5, expected 4 (position 17)");
    check(Sscc::parse("03761234500000001X"), "error: SSCC: character 'X' is not a digit (position 17)");
    check(Gln::parse("9506000000008"), "9506000000008");
    check(Gln::parse("9506000000009"), "error: GLN check digit 9, expected 8 (position 12)");
    check(Gln::parse("09506000000008"), "error: GLN needs 13 digits, got 14 (position 0)");
}

#[test]
fn serde_is_a_validated_string() {
    let gtin = Gtin::parse("9506000134352").unwrap();
    assert_eq!(serde_json::to_string(&gtin).unwrap(), r#""09506000134352""#);
    check(
        serde_json::from_str::<Gtin>(r#""9506000134352""#),
        "09506000134352",
    );
    check(
        serde_json::from_str::<Gtin>(r#""9506000134353""#),
        "error: GTIN check digit 3, expected 2 (position 12)",
    );
    check(
        serde_json::from_str::<Gtin>("9506000134352"),
        "error: invalid type: integer `9506000134352`, expected a string at line 1 column 13",
    );
    check(
        serde_json::from_str::<Sscc>(r#""037612345000000014""#),
        "037612345000000014",
    );
    check(
        serde_json::from_str::<Gln>(r#""9506000000009""#),
        "error: GLN check digit 9, expected 8 (position 12)",
    );

    let unit = Identity::Unit {
        gtin,
        serial: "A1".to_owned(),
    };
    let json = serde_json::to_string(&unit).unwrap();
    assert_eq!(json, r#"{"Unit":{"gtin":"09506000134352","serial":"A1"}}"#);
    assert_eq!(serde_json::from_str::<Identity>(&json).unwrap(), unit);
}

#[test]
fn check_digits() {
    assert_eq!(check_digit("0950600013435"), 2);
    assert_eq!(check_digit("400638133393"), 1);
    assert_eq!(check_digit("9638507"), 4);
    assert_eq!(check_digit("03761234500000001"), 4);
    assert_eq!(check_digit("950600000000"), 8);
    assert_eq!(check_digit(""), 0);
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn application_identifiers() {
    let describe = |code: &str| match ApplicationIdentifier::lookup(code) {
        None => "unknown".to_owned(),
        Some(ai) => format!(
            "{} {:?} {:?} predefined={} numeric={} dl_attribute={} key={:?}",
            ai,
            ai.title(),
            ai.length(),
            ai.is_predefined_length(),
            ai.is_numeric(),
            ai.is_digital_link_attribute(),
            ai.qualifiers(),
        ),
    };
    let cases = [
        (
            "01",
            r#"01 "GTIN" (14, 14) predefined=true numeric=true dl_attribute=true key=[["22", "10", "21"], ["235"]]"#,
        ),
        (
            "21",
            r#"21 "SERIAL" (1, 20) predefined=false numeric=false dl_attribute=false key=[]"#,
        ),
        (
            "3103",
            r#"3103 "NET WEIGHT (kg)" (6, 6) predefined=true numeric=true dl_attribute=true key=[]"#,
        ),
        (
            "8003",
            r#"8003 "GRAI" (14, 30) predefined=false numeric=false dl_attribute=true key=[]"#,
        ),
        (
            "8030",
            r#"8030 "DIGSIG" (1, 90) predefined=false numeric=false dl_attribute=true key=[]"#,
        ),
        (
            "95",
            r#"95 "INTERNAL" (1, 90) predefined=false numeric=false dl_attribute=true key=[]"#,
        ),
        ("3106", "unknown"),
        ("1", "unknown"),
        ("", "unknown"),
        ("01234", "unknown"),
    ];
    for (code, expected) in cases {
        assert_eq!(describe(code), expected, "{code}");
    }

    let validate = |code: &str, value: &str| {
        code.parse::<ApplicationIdentifier>()
            .and_then(|ai| ai.validate(value))
    };
    check(validate("17", "261231").map(|()| "ok"), "ok");
    check(validate("17", "261331").map(|()| "ok"), "error: AI 17: month 13 is not a month (position 2)");
    check(validate("414", "9506000000008").map(|()| "ok"), "ok");
    check(validate("04", "1").map(|()| "ok"), "error: unknown AI 04 (position 0)");

    let error = validate("01", "123").unwrap_err();
    assert_eq!(error.kind.code(), "length");
    assert_eq!(error.position, 0);
}
