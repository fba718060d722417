//! Data-driven tests of `parse`: one line per case, raw input → the scan rendered in brackets, or
//! the exact error message with its position.
//!
//! In inputs, `␝` stands for the GS separator (ASCII 29) so that cases stay readable; it is
//! replaced before parsing. A scan's notes follow its elements after ` | `.

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
            for note in scan.notes() {
                write!(out, " | {note}").unwrap();
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
    check("]d2010950600013435221ABC␝8030AQID_v8", "ElementString ]d2 (01)09506000134352(21)ABC(8030)AQID_v8");
    check("]d2010950600013435221ABC␝8030AQID_v8=", "ElementString ]d2 (01)09506000134352(21)ABC(8030)AQID_v8=");
    check("]d2414950600000000825412", "ElementString ]d2 (414)9506000000008(254)12");
    check("]d20109506000134352800106000500019011", "ElementString ]d2 (01)09506000134352(8001)06000500019011");
    check("]d22539506000000008ABC", "ElementString ]d2 (253)9506000000008ABC");
    check("]d2800309506000000008X1", "ElementString ]d2 (8003)09506000000008X1");
    check("]d28006095060001343520102", "ElementString ]d2 (8006)095060001343520102");
    check("]d20109506000134352700326123123597006260228", "ElementString ]d2 (01)09506000134352(7003)2612312359(7006)260228 | missing GS separator after AI 7003 assumed (position 33)");
    check("]d201095060001343528008261231235959", "ElementString ]d2 (01)09506000134352(8008)261231235959");
    check("]d280109506AB-#/12␝801112", "ElementString ]d2 (8010)9506AB-#/12(8011)12");
    check("]d29912345678901234567890", "ElementString ]d2 (99)12345678901234567890 | read as written; the text also reads as (99)12345678(90)1234567890 (position 13)");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn separators() {
    // A value shorter than the maximum swallows what follows, as GS1 reads it; the scan says
    // that a GS there would give another valid reading.
    check("]d2010950600013435210ABC21XYZ", "ElementString ]d2 (01)09506000134352(10)ABC21XYZ | read as written; the text also reads as (01)09506000134352(10)ABC(21)XYZ (position 24)");
    // Past its maximum length a value must have ended: the one valid place is taken, and noted.
    check("]d2010950600013435210ABCDEFGHIJKLMNOPQRST21XYZ", "ElementString ]d2 (01)09506000134352(10)ABCDEFGHIJKLMNOPQRST(21)XYZ | missing GS separator after AI 10 assumed (position 41)");
    check("]d2010950600013435210ABCDEFGHIJKLMNOPQRSTUVWXY", "error: AI 10 must be followed by a GS separator or end (position 41)");
    check("]d2700195060001343521", "error: AI 7001 must be followed by a GS separator or end (position 20)");
    check("]d201095060001343527001950600013435221ABC", "ElementString ]d2 (01)09506000134352(7001)9506000134352(21)ABC | missing GS separator after AI 7001 assumed (position 36)");
    check("]d2010950600013435221ABC␝␝10X", "ElementString ]d2 (01)09506000134352(21)ABC(10)X | repeated GS separator ignored (position 25)");
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
fn pairings() {
    // Requisites, from the Syntax Dictionary's `req`.
    check("(21)ABC", "error: AI 21 needs AI 01, 03 or 8006 in the same scan (position 0)");
    check("(17)261231", "error: AI 17 needs AI 01, 02, 03, 255, 8006 or 8026 in the same scan (position 0)");
    check("]d28008261231235959", "error: AI 8008 needs AI 01, 02 or 03 in the same scan (position 3)");
    check("]d201095060001343528030AQID_v8", "error: AI 8030 needs AI 00, 01 with 21, 03 with 21, 253, 255, 8003, 8004, 8006 with 21, 8010 with 8011, 8017 or 8018 in the same scan (position 19)");
    check("(01)09506000134352(250)X", "error: AI 250 needs AI 01 with 21, 03 with 21 or 8006 with 21 in the same scan (position 18)");
    check("(01)09506000134352(21)A(250)X", "Bracketed (01)09506000134352(21)A(250)X");
    check("(02)09506000134352(37)10", "error: AI 37 needs AI 00 with 02 or 00 with 8026 in the same scan (position 18)");
    check("(00)037612345000000014(02)09506000134352", "error: AI 02 needs AI 37 in the same scan (position 22)");
    check("(00)037612345000000014(3300)001200(403)R1", "Bracketed (00)037612345000000014(3300)001200(403)R1");
    check("(01)09506000134352(3922)1250", "error: AI 3922 needs AI 01 with 30, 01 with 31nn, 01 with 32nn, 01 with 35nn or 01 with 36nn in the same scan (position 18)");
    check("(01)09506000134352(3102)001250(3922)1250", "Bracketed (01)09506000134352(3102)001250(3922)1250");
    // The same as element strings (read without a copy); 3102 meets `31nn`, 3922 needs the 01 too.
    check("]d20109506000134352310200125039221250", "ElementString ]d2 (01)09506000134352(3102)001250(3922)1250");
    check("]d2010950600013435239221250", "error: AI 3922 needs AI 01 with 30, 01 with 31nn, 01 with 32nn, 01 with 35nn or 01 with 36nn in the same scan (position 19)");
    check("]d20109506000134352310200125031030001253922125", "error: AI 3102 and AI 3103 must not appear together (position 29)");
    // A lone SSCC, a plain GTIN and a GTIN alone stay valid.
    check("]C100037612345000000014", "ElementString ]C1 (00)037612345000000014");
    check("]d20109506000134352", "ElementString ]d2 (01)09506000134352");
    // Exclusions, from `ex`: named in scan order, at the later one.
    check("(01)09506000134352(02)09506000134352(37)1", "error: AI 01 and AI 02 must not appear together (position 18)");
    check("(01)09506000134352(3102)001250(3103)000125", "error: AI 3102 and AI 3103 must not appear together (position 30)");
    check("(01)09506000134352(21)A(235)T", "error: AI 21 and AI 235 must not appear together (position 23)");
    check("(00)037612345000000014(4330)001000(4331)000200-", "error: AI 4330 and AI 4331 must not appear together (position 34)");
    check("(8017)950600000000000002(8018)950600000000000002", "error: AI 8017 and AI 8018 must not appear together (position 24)");
    // An AI never excludes itself: a repeat with the same value is one element.
    check("(01)09506000134352(3102)001250(3102)001250", "Bracketed (01)09506000134352(3102)001250");
    // The same rules apply to Digital Link.
    check("https://example.com/01/09506000134352?3102=001250&3103=000125", "error: AI 3102 and AI 3103 must not appear together (position 50)");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn linters() {
    let gtin = "(01)09506000134352";
    let sscc = "(00)037612345000000014";
    let cases: &[(&str, &str)] = &[
        // ISO 3166 numeric, alpha-2, and 999.
        ("(422)276", "(422)276"),
        ("(422)999", "error: AI 422: 999 is not an ISO 3166 country code (position 23)"),
        ("(423)276250040", "(423)276250040"),
        ("(423)276251", "error: AI 423: 251 is not an ISO 3166 country code (position 26)"),
        ("(7030)999ABC", "(7030)999ABC"),
        ("(7030)000ABC", "error: AI 7030: 000 is not an ISO 3166 country code or 999 (position 24)"),
        // ISO 4217 numeric currency codes.
        ("(3102)001250(3932)9781250", "(3102)001250(3932)9781250"),
        ("(3102)001250(3932)9991250", "(3102)001250(3932)9991250"),
        ("(3102)001250(3932)0011250", "error: AI 3932: 001 is not an ISO 4217 currency code (position 36)"),
        // Dimensions, winding.
        ("(8001)06000500019011", "(8001)06000500019011"),
        ("(8001)06000500019051", "error: AI 8001: winding direction 5 must be 0, 1 or 9 (position 36)"),
        ("(8001)00000500019011", "error: AI 8001: 0000 must not be zero (position 24)"),
        // Dates: 8-digit, strict; time.
        ("(7003)2602282359", "(7003)2602282359"),
        ("(7003)2602002359", "error: AI 7003: day 00 is not a day of 2026-02 (position 28)"),
        ("(8008)26022823", "(8008)26022823"),
        ("(8008)2602282360", "error: AI 8008: minute 60 is out of range (position 32)"),
        // Version, PCN, NHRN, certification.
        ("(710)PZN1234(7230)EMXYZ", "(710)PZN1234(7230)EMXYZ"),
        // IMEI family needs a serialised GTIN.
        ("(21)S1(8040)123456789012345(8041)123456789012345", "(21)S1(8040)123456789012345(8041)123456789012345"),
        ("(8040)123456789012345", "error: AI 8040 needs AI 01 with 21 in the same scan (position 18)"),
        // MUDI: check pair, company prefix, a non-digit.
        ("(8014)1987654Ad4X4bL5ttr2310c2K", "(8014)1987654Ad4X4bL5ttr2310c2K"),
        ("(8014)1987654Ad4X4bL5ttr2310cXK", "error: AI 8014: check characters XK, expected 2K (position 47)"),
        ("(8014)A987654Ad4X4bL5ttr2310c2K", "error: AI 8014: check characters 2K, expected 9K (position 47)"),
    ];
    for (input, expected) in cases {
        let expected = expected.strip_prefix('(').map_or_else(|| (*expected).to_owned(), |rest| format!("Bracketed {gtin}({rest}"));
        check(&format!("{gtin}{input}"), &expected);
    }
    check("(8013)1987654Ad4X4bL5ttr2310c2K", "Bracketed (8013)1987654Ad4X4bL5ttr2310c2K");
    check("(8013)1987654Ad4X4bL5ttr2310c2L", "error: AI 8013: check characters 2L, expected 2K (position 29)");
    check("https://example.com/8013/1987654Ad4X4bL5ttr2310c2K", "DigitalLink (8013)1987654Ad4X4bL5ttr2310c2K");
    check("(8004)9506ASSET1", "Bracketed (8004)9506ASSET1");
    check("(8004)95X6ASSET1", "error: AI 8004: 'X' where the GS1 Company Prefix needs a digit (position 8)");
    check("(8010)95", "error: AI 8010: 95 is too short to hold a GS1 Company Prefix (position 6)");
    check("(8010)9506AB(8011)0123", "error: AI 8011: 0123 must not start with 0 (position 18)");
    check("(415)9506000000008(8020)REF1(8007)GB82WEST12345698765432", "Bracketed (415)9506000000008(8020)REF1(8007)GB82WEST12345698765432");
    check("(415)9506000000008(8020)REF1(8007)GB83WEST12345698765432", "error: AI 8007: IBAN check digits 83 do not match its account (position 36)");
    check("(8007)GB82WEST12345698765432", "error: AI 8007 needs AI 415 in the same scan (position 0)");
    // Shipping and return addresses need an SSCC.
    let cases: &[(&str, &str)] = &[
        ("(4307)DE", "(4307)DE"),
        ("(4307)QQ", "error: AI 4307: QQ is not an ISO 3166 alpha-2 country code (position 28)"),
        ("(4301)M%C3%BCller", "(4301)M%C3%BCller"),
        ("(4301)100%", "error: AI 4301: '%' must be followed by two hex digits (position 31)"),
        ("(4309)03190000001214573000", "(4309)03190000001214573000"),
        ("(4309)18000000011214573000", "error: AI 4309: latitude 1800000001 is above 1800000000 (position 28)"),
        ("(4309)03190000003600000001", "error: AI 4309: longitude 3600000001 is above 3600000000 (position 38)"),
        ("(4321)1", "(4321)1"),
        ("(4321)2", "error: AI 4321: 2 must be 0 (no) or 1 (yes) (position 28)"),
        ("(4324)2602280000", "(4324)2602280000"),
        ("(4326)260200", "error: AI 4326: day 00 is not a day of 2026-02 (position 32)"),
        ("(4330)001000-", "(4330)001000-"),
        ("(4330)001000+", "error: AI 4330: '+' must be '-' (position 34)"),
        ("(7041)PX", "(7041)PX"),
        ("(7041)QQQ", "error: AI 7041: QQQ is not a package type code (position 28)"),
    ];
    for (input, expected) in cases {
        let expected = expected.strip_prefix('(').map_or_else(|| (*expected).to_owned(), |rest| format!("Bracketed {sscc}({rest}"));
        check(&format!("{sscc}{input}"), &expected);
    }
    // Personal data under a GSRN.
    check("(8018)950600000000000002(7250)20240229(7252)2", "Bracketed (8018)950600000000000002(7250)20240229(7252)2");
    check("(8018)950600000000000002(7250)20230229", "error: AI 7250: day 29 is not a day of 2023-02 (position 36)");
    check("(8018)950600000000000002(7252)3", "error: AI 7252: sex 3 must be 0, 1, 2 or 9 (ISO/IEC 5218) (position 30)");
    check("(8018)950600000000000002(7259)BABY(7258)1/2", "Bracketed (8018)950600000000000002(7259)BABY(7258)1/2");
    check("(8018)950600000000000002(7259)BABY(7258)3/2", "error: AI 7258: position 3 is after the end 2 (position 40)");
    check("(8017)950600000000000002(7241)01", "Bracketed (8017)950600000000000002(7241)01");
    check("(8017)950600000000000002(7241)11", "error: AI 7241: 11 is not an AIDC media type (01–10, 80–99) (position 30)");
    check("(7040)1AB-", "Bracketed (7040)1AB-");
    check("(7040)1AB+", "error: AI 7040: importer index + must be a letter, a digit, '-' or '_' (position 9)");
    // Coupons.
    check("(8110)012345612345611110123", "Bracketed (8110)012345612345611110123");
    check("(8110)712345678901231", "error: AI 8110: coupon company prefix length indicator 7 must be one of 0, 1, 2, 3, 4, 5, 6 (position 6)");
    check("(8112)001234561234560123456", "Bracketed (8112)001234561234560123456");
    check("(8112)0012345612345601234567", "error: AI 8112: coupon has 1 digits after its last field (position 27)");
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn scanner_mistakes() {
    // GS stand-ins, always unambiguous: each is read as GS and noted.
    check("]d2010950600013435221ABC{GS}10L1", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | \"{GS}\" read as a GS separator (position 24)");
    check("]d2010950600013435221ABC[gs]10L1", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | \"[gs]\" read as a GS separator (position 24)");
    check("]d2010950600013435221ABC^]10L1", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | \"^]\" read as a GS separator (position 24)");
    check("]d2010950600013435221ABC\\x1d10L1", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | \"\\\\x1d\" read as a GS separator (position 24)");
    check("]d2010950600013435221ABC\\u001D10L1", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | \"\\\\u001D\" read as a GS separator (position 24)");
    check("]d2010950600013435221ABC\u{e01d}10L1", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | \"\\u{e01d}\" read as a GS separator (position 24)");
    check("]d2010950600013435221ABC{FNC1}10L1", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | \"{FNC1}\" read as a GS separator (position 24)");
    check("{GS}010950600013435221ABC", "ElementString (01)09506000134352(21)ABC | \"{GS}\" read as a GS separator (position 0)");
    check("^]010950600013435221ABC", "ElementString (01)09506000134352(21)ABC | \"^]\" read as a GS separator (position 0)");
    // `<GS>` is also valid data (set 82). Literal reading first; the stand-in only when the
    // literal reading is not valid.
    check("]d2010950600013435221ABC<GS>10L1", "ElementString ]d2 (01)09506000134352(21)ABC<GS>10L1 | read as written; the text also reads as (01)09506000134352(21)ABC(10)L1 (position 24)");
    check("]d2010950600013435221ABCDEFGHIJKLMNOP<GS>17261231", "ElementString ]d2 (01)09506000134352(21)ABCDEFGHIJKLMNOP(17)261231 | \"<GS>\" read as a GS separator (position 37)");
    // Doubled separators, and line endings and BOM around the data.
    check("]d2010950600013435221ABC␝␝␝10L1␝␝", "ElementString ]d2 (01)09506000134352(21)ABC(10)L1 | repeated GS separator ignored (position 25) | repeated GS separator ignored (position 26) | repeated GS separator ignored (position 32)");
    check("␝␝010950600013435221ABC", "ElementString (01)09506000134352(21)ABC | repeated GS separator ignored (position 1)");
    check("\u{feff}]d2010950600013435221ABC\r\n", "ElementString ]d2 (01)09506000134352(21)ABC");
    check("]d2010950600013435221ABC\r", "ElementString ]d2 (01)09506000134352(21)ABC");
    check("]d2010950600013435221ABC\n", "ElementString ]d2 (01)09506000134352(21)ABC");
    check("]d2010950600013435221ABC\t", "ElementString ]d2 (01)09506000134352(21)ABC");
    // A missing separator. Both readings valid: the literal one is GS1's meaning, and the scan
    // says another exists.
    check("]d2010950600013435221ABC17261231", "ElementString ]d2 (01)09506000134352(21)ABC17261231 | read as written; the text also reads as (01)09506000134352(21)ABC(17)261231 (position 24)");
    // Only a split reading is valid (the literal value is too long, or breaks a pairing rule):
    // it is taken and noted.
    check("]d2010950600013435210ABCDEFGHIJKLMNOPQRST21XYZ", "ElementString ]d2 (01)09506000134352(10)ABCDEFGHIJKLMNOPQRST(21)XYZ | missing GS separator after AI 10 assumed (position 41)");
    check("]d210LOT70109506000134352", "ElementString ]d2 (10)LOT7(01)09506000134352 | missing GS separator after AI 10 assumed (position 9)");
    // Several split readings: an error listing them, never a guess.
    check("]d2010950600013435221ABCDEFGHIJKLMNOPQ1017261231", "error: a GS separator is missing and the scan reads 2 ways: (01)09506000134352(21)ABCDEFGHIJKLMNOPQ(10)17261231 or (01)09506000134352(21)ABCDEFGHIJKLMNOPQ10(17)261231 (position 38)");
    // No split reading: the literal reading's error stands.
    check("]d2010950600013435221AAAAAAAAAAAAAAAAAAAAA", "error: AI 21 must be followed by a GS separator or end (position 41)");
}

#[test]
fn notes_are_exposed() {
    let clean = parse(&format!("]d2010950600013435221ABC{GS}10L1")).unwrap();
    assert!(clean.notes().is_empty());
    assert!(!clean.is_recovered() && !clean.is_ambiguous());
    let repaired = parse("]d2010950600013435221ABC{GS}10L1").unwrap();
    assert!(repaired.is_recovered() && !repaired.is_ambiguous());
    assert_eq!(repaired.notes()[0].position(), 24);
    let symbol = parse("]d2010950600013435221ABC\u{241d}10L1").unwrap();
    assert_eq!(symbol.lot(), Some("L1"));
    assert_eq!(
        symbol.notes()[0].to_string(),
        "\"␝\" read as a GS separator (position 24)"
    );
    let ambiguous = parse("]d2010950600013435221ABC17261231").unwrap();
    assert!(ambiguous.is_ambiguous() && !ambiguous.is_recovered());
    assert_eq!(ambiguous.serial(), Some("ABC17261231"));
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
    check("(01)09506000134352(17)261231", "Bracketed (01)09506000134352(17)261231");
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
        parse("(01)09506000134352(11)991231")
            .unwrap()
            .date("11")
            .unwrap()
            .to_string(),
        "1999-12-31"
    );
    assert_eq!(
        parse("(01)09506000134352(11)500101")
            .unwrap()
            .date("11")
            .unwrap()
            .to_string(),
        "2050-01-01"
    );
    assert_eq!(
        parse("(01)09506000134352(11)510101")
            .unwrap()
            .date("11")
            .unwrap()
            .to_string(),
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
        Some(Identity::Proprietary { product, serial }) => {
            format!("proprietary {product} {serial}")
        }
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
    assert_eq!(identity("(414)9506000000008"), "none");
    assert_eq!(identity("(8003)09506000000008X1"), "none");
    assert_eq!(
        identity("(00)037612345000000014(02)09506000134352(37)10"),
        "logistic 037612345000000014"
    );
}

#[test]
fn proprietary_serials() {
    use custodian_scanner::{ErrorKind, Form, Identity, Note, ProprietaryFormat, parse_with};
    let formats = [
        ProprietaryFormat::new("ACME-DRILL", r"AC-(\d{8})").unwrap(),
        ProprietaryFormat::new("ACME-SAW", r"SAW[A-Z]{2}\d{4,6}").unwrap(),
        ProprietaryFormat::new("BOLT-CO", r"[A-Z]{5}\d{4}").unwrap(),
        ProprietaryFormat::new("LEGACY", r"\d{13}").unwrap(),
    ];
    let read = |raw: &str| parse_with(raw, &formats);

    // Exactly one product's pattern: a proprietary unit, product code + serial.
    let scan = read("AC-00012345\r\n").unwrap();
    assert_eq!(scan.form, Form::Proprietary);
    assert!(scan.elements.is_empty());
    assert_eq!(
        scan.identity(),
        Some(Identity::Proprietary {
            product: "ACME-DRILL".into(),
            serial: "00012345".into()
        })
    );
    // A non-GS1 symbology identifier is recorded and stripped.
    let scan = read("]C0AC-00012345").unwrap();
    assert_eq!(scan.symbology.unwrap().aim, "]C0");
    // Several products: an error naming them.
    let error = read("SAWXY1234").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the scan matches the serial patterns of ACME-SAW and BOLT-CO (position 0)"
    );
    assert!(matches!(error.kind, ErrorKind::AmbiguousProduct { .. }));
    assert_eq!(error.kind.code(), "ambiguous_product");
    // None: the GS1 error, as `parse` gives it.
    assert_eq!(
        read("AC-0001234").unwrap_err(),
        custodian_scanner::parse("AC-0001234").unwrap_err()
    );
    // GS1 comes first; a pattern that also matches is noted.
    let scan = read("4006381333931").unwrap();
    assert_eq!(scan.form, Form::PlainGtin);
    assert_eq!(
        scan.notes(),
        &[Note::AlsoProprietary {
            product: "LEGACY".into()
        }]
    );
    assert!(scan.is_ambiguous());
    // With a GS1 symbology identifier, the data is GS1 and its error stands.
    assert_eq!(
        read("]d2AC-00012345").unwrap_err().to_string(),
        "expected an AI, found 'A' (position 3)"
    );
    // Without formats, `parse_with` is `parse`.
    assert_eq!(
        parse_with("AC-00012345", &[]).unwrap_err(),
        custodian_scanner::parse("AC-00012345").unwrap_err()
    );
}

#[test]
fn long_inputs_stay_bounded() {
    use custodian_scanner::{ProprietaryFormat, parse_with};
    // Past 512 bytes an element string is read as written, without searching for a missing
    // separator: the literal reading's error stands.
    let data = |repeats: usize| {
        format!(
            "]d20109506000134352{}10ABCDEFGHIJKLMNOPQRST21XYZ",
            "91ABC\u{1d}".repeat(repeats)
        )
    };
    assert!(parse(&data(10)).unwrap().is_recovered());
    let long = data(90);
    let at = long.find("21XYZ").unwrap();
    assert_eq!(
        parse(&long).unwrap_err().to_string(),
        format!("AI 10 must be followed by a GS separator or end (position {at})")
    );
    // No pattern matches text longer than any pattern can describe; the GS1 error stands.
    let formats = [ProprietaryFormat::new("P", r"[A-Z]{1,255}").unwrap()];
    let text = "A".repeat(5000);
    assert_eq!(
        parse_with(&text, &formats).unwrap_err(),
        parse(&text).unwrap_err()
    );
}

#[test]
#[rustfmt::skip] // one case per line reads as a table
fn signatures_that_do_not_decode_are_read_without_a_signature() {
    // GS1 text for AI 8030 (its character set, 1 to 90 characters) that is not base64url: the
    // scan is read, the signature reported as not one.
    check("]d2010950600013435221ABC␝8030A", "ElementString ]d2 (01)09506000134352(21)ABC(8030)A | AI 8030 is not a signature (impossible length): treat the code as one whose signature does not verify (position 29)");
    check("]d2010950600013435221ABC␝8030AQID_v9", "ElementString ]d2 (01)09506000134352(21)ABC(8030)AQID_v9 | AI 8030 is not a signature (last character has extra bits): treat the code as one whose signature does not verify (position 29)");
    check("]d2010950600013435221ABC␝8030AQ=D␝10L1", "ElementString ]d2 (01)09506000134352(21)ABC(8030)AQ=D(10)L1 | AI 8030 is not a signature ('=' is only allowed at the end): treat the code as one whose signature does not verify (position 29)");
    check("(01)09506000134352(21)ABC(8030)AQID_v9(10)L1", "Bracketed (01)09506000134352(21)ABC(8030)AQID_v9(10)L1 | AI 8030 is not a signature (last character has extra bits): treat the code as one whose signature does not verify (position 31)");
    check("https://example.com/01/09506000134352/21/ABC?8030=AQID_v9", "DigitalLink (01)09506000134352(21)ABC(8030)AQID_v9 | AI 8030 is not a signature (last character has extra bits): treat the code as one whose signature does not verify (position 50)");
    // A repaired stand-in after the signature keeps its position in the raw text.
    check("]d2010950600013435221ABC␝8030AAAAA{GS}10L1", "ElementString ]d2 (01)09506000134352(21)ABC(8030)AAAAA(10)L1 | \"{GS}\" read as a GS separator (position 34) | AI 8030 is not a signature (impossible length): treat the code as one whose signature does not verify (position 29)");
    // Still refused: characters outside AI 8030's set, more than 90 characters, and a scan
    // that is wrong for other reasons as well.
    check("]d2010950600013435221ABC␝8030AQ+D", "error: AI 8030: character '+' is not allowed (position 31)");
    check(&format!("]d2010950600013435221ABC␝8030{}", "A".repeat(93)), "error: AI 8030 must be followed by a GS separator or end (position 119)");
    check("]d201095060001343528030A", "error: AI 8030: not valid base64url (impossible length) (position 24)");
}

#[test]
fn a_signature_that_does_not_decode_leaves_the_scan_without_one() {
    let scan = parse(&format!("]d2010950600013435221ABC{GS}8030AQID_v9")).unwrap();
    assert_eq!(scan.get("8030"), Some("AQID_v9"));
    assert_eq!(scan.signature(), None);
    assert_eq!(scan.serial(), Some("ABC"));
    let signed = parse(&format!("]d2010950600013435221ABC{GS}8030AQID_v8")).unwrap();
    assert_eq!(signed.signature(), Some(&[1, 2, 3, 254, 255][..]));
}

#[test]
fn dates_of_every_yymmdd_ai() {
    let scan = parse(&format!(
        "]d201095060001343521125013113260300152612311626063017271231{GS}21ABC"
    ))
    .unwrap();
    // AI 12, a payment's due date, comes with the invoicing party and the payment slip.
    let due = parse(&format!("]C141595060001343528020ABC123{GS}12260228")).unwrap();
    assert_eq!(due.date("12").unwrap().to_string(), "2026-02-28");
    for (ai, date) in [
        ("11", "2025-01-31"),
        ("13", "2026-03-31"),
        ("15", "2026-12-31"),
        ("16", "2026-06-30"),
        ("17", "2027-12-31"),
    ] {
        assert_eq!(scan.date(ai).unwrap().to_string(), date, "AI {ai}");
    }
    assert_eq!(scan.expiry(), scan.date("17"));
}

/// What a US-layout scanner's `us` text becomes on a host with `layout`.
fn typed_on(layout: custodian_scanner::Layout, us: &str) -> String {
    us.chars().map(|c| layout.host_char(c).unwrap()).collect()
}

#[test]
fn text_typed_into_another_keyboard_layout_is_refused_with_the_setting() {
    use custodian_scanner::{ErrorKind, Layout};
    let us = format!("]d2010950600013435221XYZ-1{GS}10L1");
    for (layout, name, setting) in [
        (Layout::Azerty, "French AZERTY", "--layout azerty"),
        (Layout::Qwertz, "German QWERTZ", "--layout qwertz"),
    ] {
        let typed = typed_on(layout, &us);
        assert_ne!(typed, us);
        let error = parse(&typed).unwrap_err();
        assert!(
            matches!(error.kind, ErrorKind::KeyboardLayout { .. }),
            "{layout:?}: {error}"
        );
        assert_eq!(error.kind.code(), "keyboard_layout");
        let message = error.to_string();
        assert!(message.contains(name), "{message}");
        assert!(message.contains(setting), "{message}");
        assert!(
            message.contains("(01)09506000134352(21)XYZ-1(10)L1"),
            "{message}"
        );
        // Mapped back, as the app's wedge and `custodian parse --layout` do, it reads.
        assert_eq!(
            parse(&layout.us_text(&typed)).unwrap().serial(),
            Some("XYZ-1")
        );
    }
    // A bad check digit that no layout explains keeps its own error.
    assert_eq!(
        parse("0104012345000013").unwrap_err().kind.code(),
        "check_digit"
    );
}
