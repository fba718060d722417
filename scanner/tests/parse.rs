//! Data-driven tests of `parse`: one line per case, raw input → the scan rendered in brackets, or
//! the exact error message with its position.
//!
//! In inputs, `␝` stands for the GS separator (ASCII 29) so that cases stay readable.

#![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

use std::fmt::Write as _;

use custodian_scanner::{GS, parse};

#[track_caller]
fn check(input: &str, expected: &str) {
    let raw = input.replace('␝', &GS.to_string());
    let actual = match parse(&raw) {
        Ok(scan) => {
            let mut out = format!("{:?}", scan.form);
            if let Some(symbology) = &scan.symbology {
                write!(out, " {}", symbology.aim).unwrap();
            }
            out.push(' ');
            for element in &scan.elements {
                write!(out, "({}){}", element.ai, element.value).unwrap();
            }
            out
        }
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(actual, expected, "input: {input:?}");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn element_strings() {
    check("]d201095060001343521726123110ABC123␝21XYZ", "ElementString ]d2 (01)09506000134352(17)261231(10)ABC123(21)XYZ");
    check("]C1␝00037612345000000014", "ElementString ]C1 (00)037612345000000014");
    check("]Q3010950600013435221ABC", "ElementString ]Q3 (01)09506000134352(21)ABC");
    check("]e00109506000134352", "ElementString ]e0 (01)09506000134352");
    check("\u{feff}]d2010950600013435221ABC\r\n", "ElementString ]d2 (01)09506000134352(21)ABC");
    check("]d2010950600013435221ABC\t", "ElementString ]d2 (01)09506000134352(21)ABC");
    check("␝0109506000134352", "ElementString (01)09506000134352");
    check("010950600013435221ABC␝", "ElementString (01)09506000134352(21)ABC");
    // A GS after a predefined-length value is tolerated.
    check("]d20109506000134352␝17261231", "ElementString ]d2 (01)09506000134352(17)261231");
    check("]d2010950600013435231030012343103001234", "ElementString ]d2 (01)09506000134352(3103)001234");
    check("]d2010950600013435231030012343103001235", "error: AI 3103 appears twice with different values (position 29)");
    check("]d20109506000134352310300123417261231", "ElementString ]d2 (01)09506000134352(3103)001234(17)261231");
    check("]d2010950600013435210ABC␝10ABC", "ElementString ]d2 (01)09506000134352(10)ABC");
    check("]d2010950600013435210ABC␝10ABD", "error: AI 10 appears twice with different values (position 25)");
    check("]d2010950600013435217261200", "ElementString ]d2 (01)09506000134352(17)261200");
    check("]d201095060001343528030AQID_v8", "ElementString ]d2 (01)09506000134352(8030)AQID_v8");
    check("]d201095060001343528030AQID_v8=", "ElementString ]d2 (01)09506000134352(8030)AQID_v8=");
    check("]d2414950600000000825412", "ElementString ]d2 (414)9506000000008(254)12");
    check("]d20109506000134352800106000500019011", "ElementString ]d2 (01)09506000134352(8001)06000500019011");
    check("]d22539506000000008ABC", "ElementString ]d2 (253)9506000000008ABC");
    check("]d2800309506000000008X1", "ElementString ]d2 (8003)09506000000008X1");
    check("]d28006095060001343520102", "ElementString ]d2 (8006)095060001343520102");
    check("]d2700326123123597006260228", "ElementString ]d2 (7003)2612312359(7006)260228");
    check("]d28008261231235959", "ElementString ]d2 (8008)261231235959");
    check("]d28010AB-#/12␝801112", "ElementString ]d2 (8010)AB-#/12(8011)12");
    check("]d29912345678901234567890", "ElementString ]d2 (99)12345678901234567890");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn separators() {
    // A value shorter than the maximum swallows what follows: nothing can tell them apart.
    check("]d2010950600013435210ABC21XYZ", "ElementString ]d2 (01)09506000134352(10)ABC21XYZ");
    // At its maximum length a value ends by itself.
    check("]d2010950600013435210ABCDEFGHIJKLMNOPQRST21XYZ", "ElementString ]d2 (01)09506000134352(10)ABCDEFGHIJKLMNOPQRST(21)XYZ");
    check("]d2010950600013435210ABCDEFGHIJKLMNOPQRSTUVWXY", "error: AI 10 must be followed by a GS separator or end (position 41)");
    check("]d2700195060001343521", "error: AI 7001 must be followed by a GS separator or end (position 20)");
    check("]d27001950600013435221ABC", "ElementString ]d2 (7001)9506000134352(21)ABC");
    check("]d2010950600013435221ABC␝␝10X", "error: expected an AI, found '\\u{1d}' (position 25)");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn element_string_errors() {
    check("", "error: empty scan (position 0)");
    check("\r\n", "error: empty scan (position 0)");
    check("]d2", "error: empty scan (position 3)");
    check("]d2\r\n", "error: empty scan (position 3)");
    check("]x", "error: \"]x\" is not an AIM symbology identifier (position 0)");
    check("]d", "error: \"]d\" is not an AIM symbology identifier (position 0)");
    check("]d1HELLO", "error: ]d1 is not a GS1 symbology and the data is not a Digital Link URI or a GTIN (position 3)");
    check("]d20109506000134353", "error: GTIN check digit 3, expected 2 (position 18)");
    check("]d201095060001343", "error: AI 01 needs 14 digits, got 12 (position 5)");
    check("]d201095060001343␝21ABC", "error: AI 01 needs 14 digits, got 12 (position 5)");
    check("]d20109506A00134352", "error: AI 01: character 'A' is not a digit (position 10)");
    check("]d201095060001343é", "error: AI 01: character 'é' is not a digit (position 17)");
    check("]d2010950600013435é", "error: AI 01: character 'é' is not a digit (position 18)");
    check("010950600013435221AB~", "error: AI 21: character '~' is not allowed (position 20)");
    check("]d2010950600013435221Aé", "error: AI 21: character 'é' is not allowed (position 22)");
    check("]d2010950600013435217261331", "error: AI 17: month 13 is not a month (position 23)");
    check("]d2010950600013435217260031", "error: AI 17: month 00 is not a month (position 23)");
    check("]d2010950600013435217260230", "error: AI 17: day 30 is not a day of 2026-02 (position 25)");
    check("]d2010950600013435217240229", "ElementString ]d2 (01)09506000134352(17)240229");
    check("]d2010950600013435217250229", "error: AI 17: day 29 is not a day of 2025-02 (position 25)");
    check("]d2010950600013435211991232", "error: AI 11: day 32 is not a day of 1999-12 (position 25)");
    check("]d201095060001343527006260200", "error: AI 7006: day 00 is not a day of 2026-02 (position 27)");
    check("]d201095060001343527003261231240", "error: AI 7003 needs 10 digits, got 9 (position 23)");
    check("]d2010950600013435270032612312400", "error: AI 7003: hour 24 is out of range (position 29)");
    check("]d2010950600013435270032612312360", "error: AI 7003: minute 60 is out of range (position 31)");
    check("]d2010950600013435223612", "error: unknown AI 236 (position 19)");
    check("]d201095060001343520412", "error: unknown AI 04 (position 19)");
    check("]d201095060001343523106123456", "error: unknown AI 3106 (position 19)");
    check("]d201095060001343521", "error: unknown AI 1 (position 19)");
    check("]d20109506000134352AB", "error: expected an AI, found 'A' (position 19)");
    check("]d200037612345000000015", "error: SSCC check digit 5, expected 4 (position 22)");
    check("]d24109506000000009", "error: GLN check digit 9, expected 8 (position 18)");
    check("]d2254ABC", "error: AI 254 needs AI 414 in the same scan (position 3)");
    check("]d28003009506000000008", "error: GRAI check digit 0, expected 2 (position 20)");
    check("]d2800319506000000008", "error: AI 8003: digit 1 must be 0 (position 7)");
    check("]d28006095060001343520302", "error: AI 8006: piece 03 of 02 is not a piece of the total (position 21)");
    check("]d201095060001343528001060005000190111", "error: AI 8001 must be followed by a GS separator or end (position 37)");
    check("]d20109506000134352800106000500019051", "error: AI 8001: winding direction 5 must be 0, 1 or 9 (position 35)");
    check("]d20109506000134352800100000500019011", "error: AI 8001: 0000 must not be zero (position 23)");
    check("]d28010ab", "error: AI 8010: character 'a' is not allowed (position 7)");
    check("]d201095060001343528030AQ+D", "error: AI 8030: character '+' is not allowed (position 25)");
    check("]d201095060001343528030AQ=D", "error: AI 8030: not valid base64url ('=' is only allowed at the end) (position 25)");
    check("]d201095060001343528030A", "error: AI 8030: not valid base64url (impossible length) (position 24)");
    check("]d201095060001343528030AQID_v9", "error: AI 8030: not valid base64url (last character has extra bits) (position 29)");
    check("]d2010950600013435210", "error: AI 10 needs 1 to 20 characters, got 0 (position 21)");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn plain_gtins() {
    check("4006381333931", "PlainGtin (01)04006381333931");
    check("96385074", "PlainGtin (01)00000096385074");
    check("036000291452", "PlainGtin (01)00036000291452");
    check("09506000134352", "PlainGtin (01)09506000134352");
    check("4006381333931\r\n", "PlainGtin (01)04006381333931");
    check("]E04006381333931", "PlainGtin ]E0 (01)04006381333931");
    check("]E496385074", "PlainGtin ]E4 (01)00000096385074");
    check("]I110950600013436", "PlainGtin ]I1 (01)10950600013436");
    check("]C009506000134352", "PlainGtin ]C0 (01)09506000134352");
    check("4006381333932", "error: GTIN check digit 2, expected 1 (position 12)");
    check("]E0123", "error: GTIN needs 8, 12, 13 or 14 digits, got 3 (position 3)");
    check("]E0400638133393A", "error: GTIN: character 'A' is not a digit (position 15)");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn bracketed() {
    check("(01)09506000134352(21)ABC", "Bracketed (01)09506000134352(21)ABC");
    check("(01)09506000134352(10)A\\(B)(21)1", "Bracketed (01)09506000134352(10)A(B)(21)1");
    check("(17)261231", "Bracketed (17)261231");
    check("(414)9506000000008(254)A1", "Bracketed (414)9506000000008(254)A1");
    check("]Q1(01)09506000134352", "Bracketed ]Q1 (01)09506000134352");
    check("(01)09506000134352(999)1", "error: unknown AI 999 (position 19)");
    check("(01)09506000134352(99x)1", "error: unknown AI 99x (position 19)");
    check("(01)0950600013435", "error: AI 01 needs 14 digits, got 13 (position 4)");
    check("(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU", "error: AI 10 needs 1 to 20 characters, got 21 (position 22)");
    check("(01", "error: expected ')' (position 3)");
    check("()1", "error: expected an AI, found ')' (position 1)");
    check("(01)09506000134352 (21)A", "error: AI 01 needs 14 digits, got 15 (position 4)");
    check("(01)09506000134352(21)A~B", "error: AI 21: character '~' is not allowed (position 23)");
    check("(01)09506000134352(21)A\\B", "error: AI 21: character '\\\\' is not allowed (position 23)");
    check("(01)09506000134352(21)A\\(~", "error: AI 21: character '~' is not allowed (position 25)");
    check("(10)ABC(10)ABD", "error: AI 10 appears twice with different values (position 7)");
    check("(254)A1", "error: AI 254 needs AI 414 in the same scan (position 0)");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn digital_links() {
    check("https://example.com/01/09506000134352/21/ABC?17=261231", "DigitalLink (01)09506000134352(21)ABC(17)261231");
    check("https://id.gs1.org/01/09506000134352", "DigitalLink (01)09506000134352");
    check("HTTP://EXAMPLE.COM/01/9506000134352", "DigitalLink (01)09506000134352");
    check("https://example.com/01/96385074/", "DigitalLink (01)00000096385074");
    check("https://example.com/shop/dl/01/09506000134352/10/L1/21/S%2F1?linkType=gs1:pip&10=L1", "DigitalLink (01)09506000134352(10)L1(21)S/1");
    check("https://example.com/01/09506000134352/22/V/21/A", "DigitalLink (01)09506000134352(22)V(21)A");
    check("https://example.com/01/09506000134352/235/T1", "DigitalLink (01)09506000134352(235)T1");
    check("https://example.com/01/01/09506000134352", "DigitalLink (01)09506000134352");
    check("https://example.com/00/037612345000000014", "DigitalLink (00)037612345000000014");
    check("https://example.com/414/9506000000008/254/A1", "DigitalLink (414)9506000000008(254)A1");
    check("https://example.com/8003/09506000000008X1", "DigitalLink (8003)09506000000008X1");
    check("https://example.com/01/09506000134352/21/ABC?8030=AQID_v8", "DigitalLink (01)09506000134352(21)ABC(8030)AQID_v8");
    check("https://example.com/01/09506000134352/21/ABC?99=X&&17=261231#frag", "DigitalLink (01)09506000134352(21)ABC(99)X(17)261231");
    check("]Q1https://example.com/01/09506000134352/21/ABC", "DigitalLink ]Q1 (01)09506000134352(21)ABC");
    check("https://example.com/01/09506000134352/21/ABC?21=ABC", "error: AI 21 cannot be a Digital Link query attribute (position 45)");
    check("https://example.com/01/09506000134352/21/ABC?10=L&10=M", "error: AI 10 appears twice with different values (position 50)");
    check("https://example.com/01/09506000134352/21/A/10/L", "error: AI 10 cannot follow AI 21 in a Digital Link path (position 43)");
    check("https://example.com/01/09506000134352/22/V/235/T", "error: AI 235 cannot follow AI 22 in a Digital Link path (position 43)");
    check("https://example.com/01/09506000134352/17/261231", "error: AI 17 is not a key qualifier of AI 01 (position 38)");
    check("https://example.com/00/037612345000000014/21/A", "error: AI 21 is not a key qualifier of AI 00 (position 42)");
    check("https://example.com/01/09506000134353", "error: GTIN check digit 3, expected 2 (position 36)");
    check("https://example.com/01/9506000134353", "error: GTIN check digit 3, expected 2 (position 35)");
    check("https://example.com/01/0950600013435", "error: GTIN check digit 5, expected 9 (position 35)");
    check("https://example.com/01/09506000134", "error: AI 01 needs 14 digits, got 11 (position 23)");
    check("https://example.com/01/09506000134352?17=261331", "error: AI 17: month 13 is not a month (position 43)");
    check("https://example.com/01/09506000134352?999=1", "error: unknown AI 999 (position 38)");
    check("https://example.com/01/09506000134352/21/A%7E", "error: AI 21: character '~' is not allowed (position 42)");
    check("https://example.com/01/09506000134352/21/A%7", "error: invalid percent-encoding (position 42)");
    check("https://example.com/01/09506000134352/21/A%+1", "error: invalid percent-encoding (position 42)");
    check("https://example.com/01/09506000134352/21/%C3%A9", "error: AI 21: character 'é' is not allowed (position 41)");
    check("https://example.com/01/09506000134352/21/%FF", "error: percent-decoded text is not UTF-8 (position 41)");
    check("https://example.com/01/09506000134352/21/", "error: AI 21 needs 1 to 20 characters, got 0 (position 41)");
    check("https://example.com/products/123", "error: Digital Link URI has no primary key AI in its path (compressed URIs are not supported) (position 19)");
    check("https://example.com", "error: Digital Link URI has no primary key AI in its path (compressed URIs are not supported) (position 19)");
    check("https://example.com/AQID_v8AQID_v8", "error: Digital Link URI has no primary key AI in its path (compressed URIs are not supported) (position 19)");
    check("https:///01/09506000134352", "error: Digital Link URI has no domain (position 8)");
    check("]d1https://example.com/01/09506000134352", "DigitalLink ]d1 (01)09506000134352");
}

#[test]
fn accessors() {
    let scan = parse(&format!(
        "]d2010950600013435217260200{GS}10L1{GS}21ABC{GS}8030AQID_v8"
    ))
    .unwrap();
    assert_eq!(scan.gtin().unwrap().as_str(), "09506000134352");
    assert_eq!(scan.serial(), Some("ABC"));
    assert_eq!(scan.lot(), Some("L1"));
    assert_eq!(scan.expiry().unwrap().to_string(), "2026-02-28");
    assert_eq!(scan.signature(), Some(&[1, 2, 3, 0xfe, 0xff][..]));
    assert_eq!(scan.get("17"), Some("260200"));
    assert_eq!(scan.get("99"), None);
    assert_eq!(scan.sscc(), None);
    let symbology = scan.symbology.as_ref().unwrap();
    assert!(symbology.gs1);
    assert_eq!(symbology.carrier, custodian_scanner::Carrier::DataMatrix);

    assert_eq!(
        parse("(11)991231").unwrap().date("11").unwrap().to_string(),
        "1999-12-31"
    );
    assert_eq!(
        parse("(11)500101").unwrap().date("11").unwrap().to_string(),
        "2050-01-01"
    );
    assert_eq!(
        parse("(11)510101").unwrap().date("11").unwrap().to_string(),
        "1951-01-01"
    );
}

#[test]
fn identities() {
    use custodian_scanner::Identity;
    let identity = |raw: &str| match parse(raw).unwrap().identity() {
        None => "none".to_owned(),
        Some(Identity::Unit { gtin, serial }) => format!("unit {gtin} {serial}"),
        Some(Identity::Logistic(sscc)) => format!("logistic {sscc}"),
        Some(Identity::Product(gtin)) => format!("product {gtin}"),
    };
    assert_eq!(identity("(01)09506000134352(21)A"), "unit 09506000134352 A");
    assert_eq!(
        identity("(00)037612345000000014(01)09506000134352(21)A"),
        "unit 09506000134352 A"
    );
    assert_eq!(
        identity("(00)037612345000000014(01)09506000134352"),
        "logistic 037612345000000014"
    );
    assert_eq!(
        identity("(00)037612345000000014"),
        "logistic 037612345000000014"
    );
    assert_eq!(identity("96385074"), "product 00000096385074");
    assert_eq!(identity("(10)L1"), "none");
    assert_eq!(identity("(02)09506000134352(37)10"), "none");
}
