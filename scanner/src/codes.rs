//! Code lists that GS1 values refer to: countries, currencies, AIDC media types and package
//! types. Compact sorted tables, searched by bisection; a value of a list-checked component is
//! valid only if its code is listed here.
//!
//! Sources: ISO 3166-1 (numeric and alpha-2 country codes), ISO 4217 (numeric currency codes),
//! the GS1 General Specifications' AIDC media type values, and UN/ECE Recommendation 21 package
//! type codes as extended by GS1's PackageTypeCode list. Update a list by editing it in order; a
//! test checks the order.

/// True if `code` is an ISO 3166-1 numeric country code (three digits, e.g. `"276"`).
pub(crate) fn is_country_numeric(code: &str) -> bool {
    number(code).is_some_and(|n| COUNTRY_NUMERIC.binary_search(&n).is_ok())
}

/// True if `code` is an ISO 3166-1 alpha-2 country code (e.g. `"DE"`).
pub(crate) fn is_country_alpha2(code: &str) -> bool {
    let bytes = COUNTRY_ALPHA2.as_bytes();
    if code.len() != 2 {
        return false;
    }
    let (mut low, mut high) = (0, bytes.len() / 2);
    while low < high {
        let middle = low + (high - low) / 2;
        match bytes
            .get(2 * middle..2 * middle + 2)
            .map(|pair| pair.cmp(code.as_bytes()))
        {
            Some(std::cmp::Ordering::Less) => low = middle + 1,
            Some(std::cmp::Ordering::Greater) => high = middle,
            Some(std::cmp::Ordering::Equal) => return true,
            None => return false,
        }
    }
    false
}

/// True if `code` is an ISO 4217 numeric currency code (three digits, e.g. `"978"`).
pub(crate) fn is_currency_numeric(code: &str) -> bool {
    number(code).is_some_and(|n| CURRENCY_NUMERIC.binary_search(&n).is_ok())
}

/// True if `code` is an AIDC media type: 01–10 (assigned by ICCBBA), 80–99 (local use).
pub(crate) fn is_media_type(code: &str) -> bool {
    let &[tens, ones] = code.as_bytes() else {
        return false;
    };
    tens.is_ascii_digit()
        && ones.is_ascii_digit()
        && matches!((tens - b'0') * 10 + (ones - b'0'), 1..=10 | 80..=99)
}

/// True if `code` is a package type code (e.g. `"PX"` for pallet, `"CT"` for carton).
pub(crate) fn is_package_type(code: &str) -> bool {
    !code.is_empty() && PACKAGE_TYPES.split(' ').any(|c| c == code)
}

/// The value of exactly three ASCII digits.
fn number(code: &str) -> Option<u16> {
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
        .then(|| code.bytes().fold(0, |n, b| n * 10 + u16::from(b - b'0')))
}

/// ISO 3166-1 numeric country codes, ascending.
const COUNTRY_NUMERIC: &[u16] = &[
    4, 8, 10, 12, 16, 20, 24, 28, 31, 32, 36, 40, 44, 48, 50, 51, 52, 56, 60, 64, 68, 70, 72, 74,
    76, 84, 86, 90, 92, 96, 100, 104, 108, 112, 116, 120, 124, 132, 136, 140, 144, 148, 152, 156,
    158, 162, 166, 170, 174, 175, 178, 180, 184, 188, 191, 192, 196, 203, 204, 208, 212, 214, 218,
    222, 226, 231, 232, 233, 234, 238, 239, 242, 246, 248, 250, 254, 258, 260, 262, 266, 268, 270,
    275, 276, 288, 292, 296, 300, 304, 308, 312, 316, 320, 324, 328, 332, 334, 336, 340, 344, 348,
    352, 356, 360, 364, 368, 372, 376, 380, 384, 388, 392, 398, 400, 404, 408, 410, 414, 417, 418,
    422, 426, 428, 430, 434, 438, 440, 442, 446, 450, 454, 458, 462, 466, 470, 474, 478, 480, 484,
    492, 496, 498, 499, 500, 504, 508, 512, 516, 520, 524, 528, 531, 533, 534, 535, 540, 548, 554,
    558, 562, 566, 570, 574, 578, 580, 581, 583, 584, 585, 586, 591, 598, 600, 604, 608, 612, 616,
    620, 624, 626, 630, 634, 638, 642, 643, 646, 652, 654, 659, 660, 662, 663, 666, 670, 674, 678,
    682, 686, 688, 690, 694, 702, 703, 704, 705, 706, 710, 716, 724, 728, 729, 732, 740, 744, 748,
    752, 756, 760, 762, 764, 768, 772, 776, 780, 784, 788, 792, 795, 796, 798, 800, 804, 807, 818,
    826, 831, 832, 833, 834, 840, 850, 854, 858, 860, 862, 876, 882, 887, 894,
];

/// ISO 3166-1 alpha-2 country codes, ascending, two letters each.
const COUNTRY_ALPHA2: &str = concat!(
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCN",
    "COCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHM",
    "HNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMK",
    "MLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURW",
    "SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVI",
    "VNVUWFWSYEYTZAZMZW",
);

/// ISO 4217 numeric currency codes, ascending.
const CURRENCY_NUMERIC: &[u16] = &[
    8, 12, 32, 36, 44, 48, 50, 51, 52, 60, 64, 68, 72, 84, 90, 96, 104, 108, 116, 124, 132, 136,
    144, 152, 156, 170, 174, 188, 191, 192, 203, 208, 214, 222, 230, 232, 238, 242, 262, 270, 292,
    320, 324, 328, 332, 340, 344, 348, 352, 356, 360, 364, 368, 376, 388, 392, 398, 400, 404, 408,
    410, 414, 417, 418, 422, 426, 430, 434, 446, 454, 458, 462, 480, 484, 496, 498, 504, 512, 516,
    524, 532, 533, 548, 554, 558, 566, 578, 586, 590, 598, 600, 604, 608, 634, 643, 646, 654, 682,
    690, 694, 702, 704, 706, 710, 728, 748, 752, 756, 760, 764, 776, 780, 784, 788, 800, 807, 818,
    826, 834, 840, 858, 860, 882, 886, 901, 925, 926, 927, 928, 929, 930, 931, 932, 933, 934, 936,
    938, 940, 941, 943, 944, 946, 947, 948, 949, 950, 951, 952, 953, 955, 956, 957, 958, 959, 960,
    961, 962, 963, 964, 965, 967, 968, 969, 970, 971, 972, 973, 975, 976, 977, 978, 979, 980, 981,
    984, 985, 986, 990, 994, 997, 999,
];

/// Package type codes: UN/ECE Recommendation 21 with GS1's additions (PackageTypeCode),
/// space-separated, ascending.
const PACKAGE_TYPES: &str = concat!(
    "1A 1B 1D 1F 1G 1W 200 201 202 203 204 205 206 210 211 212 2C 3A 3H 43 44 4A 4B 4C 4D 4F 4G ",
    "4H 5H 5L 5M 6H 6P 7A 7B 8 8A 8B 8C 9 AA AB AC AD AF AG AH AI AJ AL AM AP APE AT AV B4 BB BC ",
    "BD BE BF BG BGE BH BI BJ BK BL BM BME BN BO BP BQ BR BRI BS BT BU BV BW BX BY BZ CA CB CBL ",
    "CC CCE CD CE CF CG CH CI CJ CK CL CM CN CO CP CQ CR CS CT CU CV CW CX CY CZ DA DB DC DG DH ",
    "DI DJ DK DL DM DN DP DPE DR DS DT DU DV DW DX DY E1 E2 E3 EC ED EE EF EG EH EI EN FB FC FD ",
    "FE FI FL FO FOB FP FPE FR FT FW FX GB GI GL GR GU GY GZ HA HB HC HG HN HR IA IB IC ID IE IF ",
    "IG IH IK IL IN IZ JB JC JG JR JT JY KG KI LAB LE LG LT LU LV LZ MA MB MC ME MPE MR MS MT MW ",
    "MX NA NE NF NG NS NT NU NV OA OB OC OD OE OF OK OPE OT OU P2 PA PAE PB PC PD PE PF PG PH PI ",
    "PJ PK PL PLP PN PO POP PP PPE PR PT PU PUE PV PX PY PZ QA QB QC QD QF QG QH QJ QK QL QM QN ",
    "QP QQ QR QS RB1 RB2 RB3 RCB RD RG RJ RK RL RO RT RZ S1 SA SB SC SD SE SEC SH SI SK SL SM SO ",
    "SP SS ST STL SU SV SW SX SY SZ T1 TB TC TD TE TEV TG THE TI TK TL TN TO TR TRE TS TT TTE TU ",
    "TV TW TWE TY TZ UC UN UUE VA VG VI VK VL VN VO VP VQ VR VS VY WA WB WC WD WF WG WH WJ WK WL ",
    "WM WN WP WQ WR WRP WS WT WU WV WW WX WY WZ X11 X12 X15 X16 X17 X18 X19 X20 X3 XA XB XC XD XF ",
    "XG XH XJ XK YA YB YC YD YF YG YH YJ YK YL YM YN YP YQ YR YS YT YV YW YX YY YZ ZA ZB ZC ZD ZF ",
    "ZG ZH ZJ ZK ZL ZM ZN ZP ZQ ZR ZS ZT ZU ZV ZW ZX ZY ZZ",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_without_duplicates() {
        assert!(COUNTRY_NUMERIC.windows(2).all(|w| w[0] < w[1]));
        assert!(CURRENCY_NUMERIC.windows(2).all(|w| w[0] < w[1]));
        let alpha2: Vec<&[u8]> = COUNTRY_ALPHA2.as_bytes().chunks(2).collect();
        assert!(COUNTRY_ALPHA2.len().is_multiple_of(2));
        assert!(alpha2.windows(2).all(|w| w[0] < w[1]));
        let packages: Vec<&str> = PACKAGE_TYPES.split(' ').collect();
        assert!(
            packages.windows(2).all(|w| w[0] < w[1]),
            "package types out of order"
        );
        assert!(packages.iter().all(|c| (1..=3).contains(&c.len())));
    }

    #[test]
    fn lookups() {
        assert!(is_country_numeric("276"));
        assert!(is_country_numeric("004"));
        assert!(!is_country_numeric("000"));
        assert!(!is_country_numeric("999"));
        assert!(!is_country_numeric("27"));
        assert!(is_country_alpha2("DE"));
        assert!(is_country_alpha2("ZW"));
        assert!(!is_country_alpha2("XX"));
        assert!(!is_country_alpha2("de"));
        assert!(!is_country_alpha2("D"));
        assert!(is_currency_numeric("978"));
        assert!(is_currency_numeric("840"));
        assert!(!is_currency_numeric("000"));
        assert!(is_media_type("01"));
        assert!(is_media_type("10"));
        assert!(!is_media_type("11"));
        assert!(!is_media_type("00"));
        assert!(is_media_type("99"));
        assert!(is_package_type("PX"));
        assert!(is_package_type("8"));
        assert!(is_package_type("RB1"));
        assert!(!is_package_type(""));
        assert!(!is_package_type("P"));
        assert!(!is_package_type("PX "));
    }
}
