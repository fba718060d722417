//! The table: one row per line of the GS1 Barcode Syntax Dictionary (see the parent module),
//! with the component shorthands the rows are written in.

use super::*;

/// Flag `*`: predefined length, no GS separator after the value.
pub(super) const PREDEFINED: u8 = 1;
/// Flag `?`: allowed as a Digital Link query attribute.
pub(super) const DL_ATTRIBUTE: u8 = 2;
const BOTH: u8 = PREDEFINED | DL_ATTRIBUTE;
const ATTR: u8 = DL_ATTRIBUTE;

/// One row of the table: a code or a range of codes of equal length sharing one definition.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Definition {
    pub(super) first: &'static str,
    pub(super) last: &'static str,
    pub(super) flags: u8,
    pub(super) components: &'static [Component],
    /// `Some` for Digital Link primary keys, with their alternative qualifier sequences.
    pub(super) key: Option<&'static [&'static [&'static str]]>,
    /// Required AIs, GS1 notation (see [`ApplicationIdentifier::requires`]).
    pub(super) req: Option<&'static str>,
    /// The shortest and the longest value, from the components.
    pub(super) min: u16,
    pub(super) max: u16,
    /// Excluded AIs, GS1 notation (see [`ApplicationIdentifier::excludes`]).
    pub(super) ex: Option<&'static str>,
    pub(super) title: &'static str,
}

impl Definition {
    /// The linear-search rule the index reproduces (checked by a test).
    #[cfg(test)]
    pub(super) fn covers(&self, code: &str) -> bool {
        code.len() == self.first.len() && self.first <= code && code <= self.last
    }
    const fn key(self, qualifiers: &'static [&'static [&'static str]]) -> Self {
        Definition {
            key: Some(qualifiers),
            ..self
        }
    }
    const fn req(self, req: &'static str) -> Self {
        Definition {
            req: Some(req),
            ..self
        }
    }
    const fn ex(self, ex: &'static str) -> Self {
        Definition {
            ex: Some(ex),
            ..self
        }
    }
}

const fn ai(
    code: &'static str,
    flags: u8,
    components: &'static [Component],
    title: &'static str,
) -> Definition {
    range(code, code, flags, components, title)
}

const fn range(
    first: &'static str,
    last: &'static str,
    flags: u8,
    components: &'static [Component],
    title: &'static str,
) -> Definition {
    let (mut min, mut max, mut i) = (0, 0, 0);
    while i < components.len() {
        if !components[i].optional {
            min += components[i].min as u16;
        }
        max += components[i].max as u16;
        i += 1;
    }
    Definition {
        first,
        last,
        flags,
        components,
        key: None,
        req: None,
        ex: None,
        min,
        max,
        title,
    }
}

const GTIN: Component = n(14).with(&[Check::Csum("GTIN"), Check::GcpPos2]);
const GLN: &[Component] = &[n(13).with(&[Check::Csum("GLN"), Check::GcpPos1])];
const GSRN: &[Component] = &[n(18).with(&[Check::Csum("GSRN"), Check::GcpPos1])];
const ITIP: &[Component] = &[GTIN, n(4).with(&[Check::PieceOfTotal])];
/// Measures `31nn`–`36nn`: six digits with an implied decimal point, predefined length.
const MEASURE: &[Component] = &[n(6)];
const DATE: &[Component] = &[n(6).with(&[Check::Date { zero_day: true }])];
const DATE_STRICT: Component = n(6).with(&[Check::Date { zero_day: false }]);
const HHMI: Component = n(4).with(&[Check::HourMinute]);
const COUNTRY: Component = n(3).with(&[Check::Country]);
const COUNTRIES: &[Component] = &[
    COUNTRY,
    COUNTRY.optional(),
    COUNTRY.optional(),
    COUNTRY.optional(),
    COUNTRY.optional(),
];
const CURRENCY: Component = n(3).with(&[Check::Currency]);
const PCENC: &[Check] = &[Check::PercentEncoded];
const TEXT35: &[Component] = &[xv(35).with(PCENC)];
const TEXT70: &[Component] = &[xv(70).with(PCENC)];
const YES_NO: &[Component] = &[n(1).with(&[Check::YesNo])];
const DATE_TIME: &[Component] = &[n(6).with(&[Check::Date { zero_day: true }]), HHMI];
const TEMPERATURE: &[Component] = &[n(6), x(1).with(&[Check::Hyphen]).optional()];
const PROCESSOR: &[Component] = &[n(3).with(&[Check::CountryOr999]), xv(27)];
const CERTIFICATE: &[Component] = &[x(2), xv(28)];
const GMN: &[Check] = &[Check::CsumAlpha, Check::GcpPos1];
const TRADE_ITEM: &str = "01,02,03,8006,8026";
const BUYER: &str = "8017,8018";

#[rustfmt::skip]
pub(super) static TABLE: &[Definition] = &[
    ai("00", BOTH, &[n(18).with(&[Check::Csum("SSCC"), Check::GcpPos2])], "SSCC").key(&[]),
    ai("01", BOTH, &[GTIN], "GTIN").ex("255,37").key(&[&["22", "10", "21"], &["235"]]),
    ai("02", BOTH, &[GTIN], "CONTENT").ex("01,03").req("37"),
    ai("03", PREDEFINED, &[GTIN], "MTO GTIN").ex("01,02,37,235"),
    ai("10", ATTR, &[xv(20)], "BATCH/LOT").req(TRADE_ITEM),
    ai("11", BOTH, DATE, "PROD DATE").req(TRADE_ITEM),
    ai("12", BOTH, DATE, "DUE DATE").req("8020"),
    ai("13", BOTH, DATE, "PACK DATE").req(TRADE_ITEM),
    ai("15", BOTH, DATE, "BEST BEFORE or BEST BY").req(TRADE_ITEM),
    ai("16", BOTH, DATE, "SELL BY").req(TRADE_ITEM),
    ai("17", BOTH, DATE, "USE BY or EXPIRY").req("01,02,03,255,8006,8026"),
    ai("20", BOTH, &[n(2)], "VARIANT").req(TRADE_ITEM),
    ai("21", 0, &[xv(20)], "SERIAL").req("01,03,8006").ex("235"),
    ai("22", 0, &[xv(20)], "CPV").req("01"),
    ai("235", 0, &[xv(28)], "TPX").req("01"),
    ai("240", ATTR, &[xv(30)], "ADDITIONAL ID").req(TRADE_ITEM),
    ai("241", ATTR, &[xv(30)], "CUST. PART No.").req(TRADE_ITEM),
    ai("242", ATTR, &[nv(6)], "MTO VARIANT").req("01,02,8006,8026"),
    ai("243", ATTR, &[xv(20)], "PCN").req("01,03"),
    ai("250", ATTR, &[xv(30)], "SECONDARY SERIAL").req("01+21,03+21,8006+21"),
    ai("251", ATTR, &[xv(30)], "REF. TO SOURCE").req("01,03,8006"),
    ai("253", ATTR, &[n(13).with(&[Check::Csum("GDTI"), Check::GcpPos1]), xv(17).optional()], "GDTI").key(&[]),
    ai("254", 0, &[xv(20)], "GLN EXTENSION COMPONENT").req("414"),
    ai("255", ATTR, &[n(13).with(&[Check::Csum("GCN"), Check::GcpPos1]), nv(12).optional()], "GCN").key(&[]).ex("01,02,415,8006,8020,8026"),
    ai("30", ATTR, &[nv(8)], "VAR. COUNT").req("01,02"),
    range("3100", "3105", BOTH, MEASURE, "NET WEIGHT (kg)").req("01,02").ex("310n"),
    range("3110", "3115", BOTH, MEASURE, "LENGTH (m)").req("01,02").ex("311n"),
    range("3120", "3125", BOTH, MEASURE, "WIDTH (m)").req("01,02").ex("312n"),
    range("3130", "3135", BOTH, MEASURE, "HEIGHT (m)").req("01,02").ex("313n"),
    range("3140", "3145", BOTH, MEASURE, "AREA (m²)").req("01,02").ex("314n"),
    range("3150", "3155", BOTH, MEASURE, "NET VOLUME (l)").req("01,02").ex("315n"),
    range("3160", "3165", BOTH, MEASURE, "NET VOLUME (m³)").req("01,02").ex("316n"),
    range("3200", "3205", BOTH, MEASURE, "NET WEIGHT (lb)").req("01,02").ex("320n"),
    range("3210", "3215", BOTH, MEASURE, "LENGTH (in)").req("01,02").ex("321n"),
    range("3220", "3225", BOTH, MEASURE, "LENGTH (ft)").req("01,02").ex("322n"),
    range("3230", "3235", BOTH, MEASURE, "LENGTH (yd)").req("01,02").ex("323n"),
    range("3240", "3245", BOTH, MEASURE, "WIDTH (in)").req("01,02").ex("324n"),
    range("3250", "3255", BOTH, MEASURE, "WIDTH (ft)").req("01,02").ex("325n"),
    range("3260", "3265", BOTH, MEASURE, "WIDTH (yd)").req("01,02").ex("326n"),
    range("3270", "3275", BOTH, MEASURE, "HEIGHT (in)").req("01,02").ex("327n"),
    range("3280", "3285", BOTH, MEASURE, "HEIGHT (ft)").req("01,02").ex("328n"),
    range("3290", "3295", BOTH, MEASURE, "HEIGHT (yd)").req("01,02").ex("329n"),
    range("3300", "3305", BOTH, MEASURE, "GROSS WEIGHT (kg)").req("00,01").ex("330n"),
    range("3310", "3315", BOTH, MEASURE, "LENGTH (m), log").req("00,01").ex("331n"),
    range("3320", "3325", BOTH, MEASURE, "WIDTH (m), log").req("00,01").ex("332n"),
    range("3330", "3335", BOTH, MEASURE, "HEIGHT (m), log").req("00,01").ex("333n"),
    range("3340", "3345", BOTH, MEASURE, "AREA (m²), log").req("00,01").ex("334n"),
    range("3350", "3355", BOTH, MEASURE, "VOLUME (l), log").req("00,01").ex("335n"),
    range("3360", "3365", BOTH, MEASURE, "VOLUME (m³), log").req("00,01").ex("336n"),
    range("3370", "3375", BOTH, MEASURE, "KG PER m²").req("01").ex("337n"),
    range("3400", "3405", BOTH, MEASURE, "GROSS WEIGHT (lb)").req("00,01").ex("340n"),
    range("3410", "3415", BOTH, MEASURE, "LENGTH (in), log").req("00,01").ex("341n"),
    range("3420", "3425", BOTH, MEASURE, "LENGTH (ft), log").req("00,01").ex("342n"),
    range("3430", "3435", BOTH, MEASURE, "LENGTH (yd), log").req("00,01").ex("343n"),
    range("3440", "3445", BOTH, MEASURE, "WIDTH (in), log").req("00,01").ex("344n"),
    range("3450", "3455", BOTH, MEASURE, "WIDTH (ft), log").req("00,01").ex("345n"),
    range("3460", "3465", BOTH, MEASURE, "WIDTH (yd), log").req("00,01").ex("346n"),
    range("3470", "3475", BOTH, MEASURE, "HEIGHT (in), log").req("00,01").ex("347n"),
    range("3480", "3485", BOTH, MEASURE, "HEIGHT (ft), log").req("00,01").ex("348n"),
    range("3490", "3495", BOTH, MEASURE, "HEIGHT (yd), log").req("00,01").ex("349n"),
    range("3500", "3505", BOTH, MEASURE, "AREA (in²)").req("01,02").ex("350n"),
    range("3510", "3515", BOTH, MEASURE, "AREA (ft²)").req("01,02").ex("351n"),
    range("3520", "3525", BOTH, MEASURE, "AREA (yd²)").req("01,02").ex("352n"),
    range("3530", "3535", BOTH, MEASURE, "AREA (in²), log").req("00,01").ex("353n"),
    range("3540", "3545", BOTH, MEASURE, "AREA (ft²), log").req("00,01").ex("354n"),
    range("3550", "3555", BOTH, MEASURE, "AREA (yd²), log").req("00,01").ex("355n"),
    range("3560", "3565", BOTH, MEASURE, "NET WEIGHT (tr oz)").req("01,02").ex("356n"),
    range("3570", "3575", BOTH, MEASURE, "NET VOLUME (oz)").req("01,02").ex("357n"),
    range("3600", "3605", BOTH, MEASURE, "NET VOLUME (qt (US))").req("01,02").ex("360n"),
    range("3610", "3615", BOTH, MEASURE, "NET VOLUME (gal.)").req("01,02").ex("361n"),
    range("3620", "3625", BOTH, MEASURE, "VOLUME (qt (US)), log").req("00,01").ex("362n"),
    range("3630", "3635", BOTH, MEASURE, "VOLUME (gal (US)), log").req("00,01").ex("363n"),
    range("3640", "3645", BOTH, MEASURE, "NET VOLUME (in³)").req("01,02").ex("364n"),
    range("3650", "3655", BOTH, MEASURE, "NET VOLUME (ft³)").req("01,02").ex("365n"),
    range("3660", "3665", BOTH, MEASURE, "NET VOLUME (yd³)").req("01,02").ex("366n"),
    range("3670", "3675", BOTH, MEASURE, "VOLUME (in³), log").req("00,01").ex("367n"),
    range("3680", "3685", BOTH, MEASURE, "VOLUME (ft³), log").req("00,01").ex("368n"),
    range("3690", "3695", BOTH, MEASURE, "VOLUME (yd³), log").req("00,01").ex("369n"),
    ai("37", ATTR, &[nv(8)], "COUNT").req("00+02,00+8026"),
    range("3900", "3909", ATTR, &[nv(15)], "AMOUNT").req("255,8020").ex("390n,391n,394n,8111"),
    range("3910", "3919", ATTR, &[CURRENCY, nv(15)], "AMOUNT").req("8020").ex("391n"),
    range("3920", "3929", ATTR, &[nv(15)], "PRICE").req("01+30,01+31nn,01+32nn,01+35nn,01+36nn").ex("392n,393n"),
    range("3930", "3939", ATTR, &[CURRENCY, nv(15)], "PRICE").req("30,31nn,32nn,35nn,36nn").ex("393n"),
    range("3940", "3943", ATTR, &[n(4)], "PRCNT OFF").req("255").ex("394n,8111"),
    range("3950", "3955", ATTR, &[n(6)], "PRICE/UoM").req("30,31nn,32nn,35nn,36nn").ex("392n,393n,395n,8005"),
    ai("400", ATTR, &[xv(30)], "ORDER NUMBER"),
    ai("401", ATTR, &[xv(30).with(&[Check::GcpPos1])], "GINC").key(&[]),
    ai("402", ATTR, &[n(17).with(&[Check::Csum("GSIN"), Check::GcpPos1])], "GSIN").key(&[]),
    ai("403", ATTR, &[xv(30)], "ROUTE").req("00"),
    ai("410", BOTH, GLN, "SHIP TO LOC"),
    ai("411", BOTH, GLN, "BILL TO"),
    ai("412", BOTH, GLN, "PURCHASE FROM"),
    ai("413", BOTH, GLN, "SHIP FOR LOC"),
    ai("414", BOTH, GLN, "LOC No.").key(&[&["254"], &["7040"]]),
    ai("415", BOTH, GLN, "PAY TO").req("8020").key(&[&["8020"]]),
    ai("416", BOTH, GLN, "PROD/SERV LOC"),
    ai("417", BOTH, GLN, "PARTY").key(&[&["7040"]]),
    ai("420", ATTR, &[xv(20)], "SHIP TO POST").ex("421"),
    ai("421", ATTR, &[COUNTRY, xv(9)], "SHIP TO POST").ex("4307"),
    ai("422", ATTR, &[COUNTRY], "ORIGIN").req(TRADE_ITEM).ex("426"),
    ai("423", ATTR, COUNTRIES, "COUNTRY - INITIAL PROCESS").req("01,02,03").ex("426"),
    ai("424", ATTR, &[COUNTRY], "COUNTRY - PROCESS").req("01,02,03").ex("426"),
    ai("425", ATTR, COUNTRIES, "COUNTRY - DISASSEMBLY").req("01,02,03").ex("426"),
    ai("426", ATTR, &[COUNTRY], "COUNTRY - FULL PROCESS").req("01,02,03"),
    ai("427", ATTR, &[xv(3)], "ORIGIN SUBDIVISION").req("01+422,02+422,03+422"),
    ai("4300", ATTR, TEXT35, "SHIP TO COMP").req("00"),
    ai("4301", ATTR, TEXT35, "SHIP TO NAME").req("00"),
    ai("4302", ATTR, TEXT70, "SHIP TO ADD1").req("00"),
    ai("4303", ATTR, TEXT70, "SHIP TO ADD2").req("4302"),
    ai("4304", ATTR, TEXT70, "SHIP TO SUB").req("00"),
    ai("4305", ATTR, TEXT70, "SHIP TO LOC").req("00"),
    ai("4306", ATTR, TEXT70, "SHIP TO REG").req("00"),
    ai("4307", ATTR, &[x(2).with(&[Check::CountryAlpha2])], "SHIP TO COUNTRY").req("00"),
    ai("4308", ATTR, &[xv(30)], "SHIP TO PHONE").req("00"),
    ai("4309", ATTR, &[n(10).with(&[Check::Latitude]), n(10).with(&[Check::Longitude])], "SHIP TO GEO").req("00"),
    ai("4310", ATTR, TEXT35, "RTN TO COMP").req("00"),
    ai("4311", ATTR, TEXT35, "RTN TO NAME").req("00"),
    ai("4312", ATTR, TEXT70, "RTN TO ADD1").req("00"),
    ai("4313", ATTR, TEXT70, "RTN TO ADD2").req("4312"),
    ai("4314", ATTR, TEXT70, "RTN TO SUB").req("00"),
    ai("4315", ATTR, TEXT70, "RTN TO LOC").req("00"),
    ai("4316", ATTR, TEXT70, "RTN TO REG").req("00"),
    ai("4317", ATTR, &[x(2).with(&[Check::CountryAlpha2])], "RTN TO COUNTRY").req("00"),
    ai("4318", ATTR, &[xv(20)], "RTN TO POST").req("00"),
    ai("4319", ATTR, &[xv(30)], "RTN TO PHONE").req("00"),
    ai("4320", ATTR, TEXT35, "SRV DESCRIPTION").req("00"),
    ai("4321", ATTR, YES_NO, "DANGEROUS GOODS").req("00"),
    ai("4322", ATTR, YES_NO, "AUTH TO LEAVE").req("00"),
    ai("4323", ATTR, YES_NO, "SIG REQUIRED").req("00"),
    ai("4324", ATTR, DATE_TIME, "NOT BEF DEL DT").req("00"),
    ai("4325", ATTR, DATE_TIME, "NOT AFT DEL DT").req("00"),
    ai("4326", ATTR, &[DATE_STRICT], "REL DATE").req("00"),
    ai("4330", ATTR, TEMPERATURE, "MAX TEMP F.").req("00").ex("4331"),
    ai("4331", ATTR, TEMPERATURE, "MAX TEMP C.").req("00").ex("4330"),
    ai("4332", ATTR, TEMPERATURE, "MIN TEMP F.").req("00").ex("4333"),
    ai("4333", ATTR, TEMPERATURE, "MIN TEMP C.").req("00").ex("4332"),
    ai("7001", ATTR, &[n(13)], "NSN").req("01,02,8006,8026"),
    ai("7002", ATTR, &[xv(30)], "MEAT CUT").req("01,02"),
    ai("7003", ATTR, &[DATE_STRICT, HHMI], "EXPIRY TIME").req("01,02,03"),
    ai("7004", ATTR, &[nv(4)], "ACTIVE POTENCY").req("01+10,03+10"),
    ai("7005", ATTR, &[xv(12)], "CATCH AREA").req("01,02"),
    ai("7006", ATTR, &[DATE_STRICT], "FIRST FREEZE DATE").req("01,02"),
    ai("7007", ATTR, &[DATE_STRICT, DATE_STRICT.optional()], "HARVEST DATE").req("01,02"),
    ai("7008", ATTR, &[xv(3)], "AQUATIC SPECIES").req("01,02"),
    ai("7009", ATTR, &[xv(10)], "FISHING GEAR TYPE").req("01,02"),
    ai("7010", ATTR, &[xv(2)], "PROD METHOD").req("01,02,03"),
    ai("7011", ATTR, &[DATE_STRICT, HHMI.optional()], "TEST BY DATE").req("01,02,03"),
    ai("7020", ATTR, &[xv(20)], "REFURB LOT").req("01+416,03+416,8006+416"),
    ai("7021", ATTR, &[xv(20)], "FUNC STAT").req("01,03,8006"),
    ai("7022", ATTR, &[xv(20)], "REV STAT").req("01+7021,03+7021,8006+7021"),
    ai("7023", ATTR, &[xv(30).with(&[Check::GcpPos1])], "GIAI - ASSEMBLY"),
    range("7030", "7039", ATTR, PROCESSOR, "PROCESSOR").req("01,02"),
    ai("7040", 0, &[n(1), x(1), x(1), x(1).with(&[Check::ImporterIndex])], "UIC+EXT"),
    ai("7041", 0, &[xv(4).with(&[Check::PackageType])], "UFRGT UNIT TYPE").req("00"),
    range("710", "717", ATTR, &[xv(20)], "NHRN").req("01"),
    range("7230", "7239", ATTR, CERTIFICATE, "CERT").req("01,8004"),
    ai("7240", ATTR, &[xv(20)], "PROTOCOL").req("01,8006").ex("03"),
    ai("7241", ATTR, &[n(2).with(&[Check::MediaType])], "AIDC MEDIA TYPE").req(BUYER),
    ai("7242", ATTR, &[xv(25)], "VCN").req(BUYER),
    ai("7250", ATTR, &[n(8).with(&[Check::FullDate])], "DOB").req("8018").ex("7251"),
    ai("7251", ATTR, &[n(8).with(&[Check::FullDate]), HHMI], "DOB TIME").req("8018").ex("7250"),
    ai("7252", ATTR, &[n(1).with(&[Check::Sex])], "BIO SEX").req("8018"),
    ai("7253", ATTR, &[xv(40).with(PCENC)], "FAMILY NAME").req(BUYER).ex("7256,7259"),
    ai("7254", ATTR, &[xv(40).with(PCENC)], "GIVEN NAME").req(BUYER).ex("7256,7259"),
    ai("7255", ATTR, &[xv(10)], "SUFFIX").req(BUYER).ex("7256,7259"),
    ai("7256", ATTR, &[xv(90).with(PCENC)], "FULL NAME").req(BUYER),
    ai("7257", ATTR, TEXT70, "PERSON ADDR").req("8018"),
    ai("7258", ATTR, &[x(3).with(&[Check::PositionInSequence])], "BIRTH SEQUENCE").req("8018+7259"),
    ai("7259", ATTR, &[xv(40).with(PCENC)], "BABY").req("8018").ex("7256"),
    ai("8001", ATTR, &[n(4).with(&[Check::NonZero]), n(5).with(&[Check::NonZero]), n(3).with(&[Check::NonZero]), n(1).with(&[Check::Winding]), n(1)], "DIMENSIONS").req("01"),
    ai("8002", ATTR, &[xv(20)], "CMT No."),
    ai("8003", ATTR, &[n(1).with(&[Check::Zero]), n(13).with(&[Check::Csum("GRAI"), Check::GcpPos1]), xv(16).optional()], "GRAI").key(&[]),
    ai("8004", ATTR, &[xv(30).with(&[Check::GcpPos1])], "GIAI").key(&[&["7040"]]),
    ai("8005", ATTR, &[n(6)], "PRICE PER UNIT").req("01,02"),
    ai("8006", ATTR, ITIP, "ITIP").ex("01,03,37").key(&[&["22", "10", "21"]]),
    ai("8007", ATTR, &[xv(34).with(&[Check::Iban])], "IBAN").req("415"),
    ai("8008", ATTR, &[DATE_STRICT, n(2).with(&[Check::Hour]), n(2).with(&[Check::Minute]).optional(), n(2).with(&[Check::Second]).optional()], "PROD TIME").req("01,02,03"),
    ai("8009", ATTR, &[xv(50)], "OPTSEN").req("00,01,03"),
    ai("8010", ATTR, &[yv(30).with(&[Check::GcpPos1])], "CPID").key(&[&["8011"]]),
    ai("8011", 0, &[nv(12).with(&[Check::NoZeroPrefix])], "CPID SERIAL").req("8010"),
    ai("8012", ATTR, &[xv(20)], "VERSION").req("01,03,8006"),
    ai("8013", ATTR, &[xv(25).with(GMN)], "GMN").key(&[]),
    ai("8014", 0, &[xv(25).with(&[Check::CsumAlpha, Check::GcpPos1, Check::HasNonDigit])], "MUDI").req("01"),
    ai("8017", ATTR, GSRN, "GSRN - PROVIDER").ex("8018").key(&[&["8019"]]),
    ai("8018", ATTR, GSRN, "GSRN - RECIPIENT").ex("8017").key(&[&["8019"]]),
    ai("8019", 0, &[nv(10)], "SRIN").req(BUYER),
    ai("8020", 0, &[xv(25)], "REF No.").req("415"),
    ai("8026", ATTR, ITIP, "ITIP CONTENT").req("37").ex("02,03,8006"),
    ai("8030", ATTR, &[zv(90)], "DIGSIG").req("00,01+21,03+21,253,255,8003,8004,8006+21,8010+8011,8017,8018"),
    ai("8040", 0, &[n(15)], "IMEI").req("01+21"),
    ai("8041", 0, &[n(15)], "IMEI2").req("01+21+8040"),
    ai("8042", 0, &[n(32)], "ESIM").req("01+21+8040"),
    ai("8043", 0, &[n(18), nv(2).optional()], "PSIM").req("01+21+8040"),
    ai("8110", ATTR, &[xv(70).with(&[Check::CouponCode])], "COUPON CODE"),
    ai("8111", ATTR, &[n(4)], "POINTS").req("255"),
    ai("8112", ATTR, &[xv(70).with(&[Check::CouponPositiveOffer])], "POSITIVE OFFER FILE COUPON CODE"),
    ai("8200", 0, &[xv(70)], "PRODUCT URL").req("01"),
    ai("90", ATTR, &[xv(30)], "INTERNAL"),
    range("91", "99", ATTR, &[xv(90)], "INTERNAL"),
];
