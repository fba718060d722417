//! What EPCIS 2.0 asks of a JSON-LD document and of each of its events, checked in code: the
//! five event types and the extension event, every standard field with its type, the CBV 2.0
//! vocabularies (business steps, dispositions, business transaction, source/destination,
//! error reason, sensor measurement and alert types, components), sensor elements, error
//! declarations, master data, and query documents. Extension fields (keys that are URIs or
//! compact IRIs such as `cust:lot`) are kept as they came, whatever they hold.
//!
//! **Invariant:** a document passes here exactly when it is valid against GS1's EPCIS 2.0 JSON
//! schema (`tests/epcis_standard.rs` holds the two to the same answers on GS1's own example
//! documents, on generated documents of every event type and on mutations of them). The first
//! failure is reported with its JSON path, as every import error is.

use serde_json::{Map, Value};

use super::{ImportError, err};

/// The events a document carries, and the path of its event list.
pub(super) struct Events<'a> {
    pub list: Vec<&'a Value>,
    pub path: &'static str,
}

const DOCUMENT_KEYS: &[&str] = &[
    "@context",
    "id",
    "type",
    "schemaVersion",
    "creationDate",
    "instanceIdentifier",
    "sender",
    "receiver",
    "epcisHeader",
    "epcisBody",
];
const QUERY_DOCUMENT_KEYS: &[&str] = &[
    "@context",
    "id",
    "type",
    "schemaVersion",
    "creationDate",
    "epcisBody",
];

/// The five standard event types.
pub const EVENT_TYPES: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "AssociationEvent",
    "TransactionEvent",
    "TransformationEvent",
];

const COMMON_KEYS: &[&str] = &[
    "@context",
    "type",
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "certificationInfo",
    "errorDeclaration",
];

/// CBV 2.0 business steps, as bare words.
pub const BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
    "sensor_reporting",
    "sampling",
];

/// CBV 2.0 dispositions, as bare words.
pub const DISPOSITIONS: &[&str] = &[
    "active",
    "container_closed",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "no_pedigree_match",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unknown",
    "available",
    "completeness_verified",
    "completeness_inferred",
    "conformant",
    "container_open",
    "mismatch_instance",
    "mismatch_class",
    "mismatch_quantity",
    "needs_replacement",
    "non_conformant",
    "unavailable",
];

/// CBV 2.0 business transaction types.
pub const BIZ_TRANSACTION_TYPES: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
];

/// CBV 2.0 source and destination types.
pub const SOURCE_DEST_TYPES: &[&str] = &["owning_party", "possessing_party", "location"];

/// CBV 2.0 error reasons.
pub const ERROR_REASONS: &[&str] = &["did_not_occur", "incorrect_data"];

const SENSOR_ALERT_TYPES: &[&str] = &["ALARM_CONDITION", "ERROR_CONDITION"];

/// CBV 2.0 components of a sensor reading.
pub const COMPONENTS: &[&str] = &[
    "x",
    "y",
    "z",
    "axial_distance",
    "azimuth",
    "height",
    "spherical_radius",
    "polar_angle",
    "elevation_angle",
    "easting",
    "northing",
    "latitude",
    "longitude",
    "altitude",
];

/// The measurement types of the GS1 Web Vocabulary a sensor report names.
pub const MEASUREMENT_TYPES: &[&str] = &[
    "AbsoluteHumidity",
    "AbsorbedDose",
    "AbsorbedDoseRate",
    "Acceleration",
    "Radioactivity",
    "Altitude",
    "AmountOfSubstance",
    "AmountOfSubstancePerUnitVolume",
    "Angle",
    "AngularAcceleration",
    "AngularMomentum",
    "AngularVelocity",
    "Area",
    "Capacitance",
    "Conductance",
    "Conductivity",
    "Count",
    "Density",
    "Dimensionless",
    "DoseEquivalent",
    "DoseEquivalentRate",
    "DynamicViscosity",
    "ElectricCharge",
    "ElectricCurrent",
    "ElectricCurrentDensity",
    "ElectricFieldStrength",
    "Energy",
    "Exposure",
    "Force",
    "Frequency",
    "Illuminance",
    "Inductance",
    "Irradiance",
    "KinematicViscosity",
    "Length",
    "LinearMomentum",
    "Luminance",
    "LuminousFlux",
    "LuminousIntensity",
    "MagneticFlux",
    "MagneticFluxDensity",
    "MagneticVectorPotential",
    "Mass",
    "MassConcentration",
    "MassFlowRate",
    "MassPerAreaTime",
    "MemoryCapacity",
    "MolalityOfSolute",
    "MolarEnergy",
    "MolarMass",
    "MolarVolume",
    "Power",
    "Pressure",
    "RadiantFlux",
    "RadiantIntensity",
    "RelativeHumidity",
    "Resistance",
    "Resistivity",
    "SolidAngle",
    "SpecificVolume",
    "Speed",
    "SurfaceDensity",
    "SurfaceTension",
    "Temperature",
    "Time",
    "Torque",
    "Voltage",
    "Volume",
    "VolumeFlowRate",
    "VolumeFraction",
    "VolumetricFlux",
    "Wavenumber",
];

/// Whether `s` is an absolute URI (RFC 3986), as EPCIS requires of identifiers.
pub fn is_uri(s: &str) -> bool {
    fluent_uri::Uri::parse(s).is_ok()
}

/// Whether `s` is an RFC 3339 date-time.
fn is_time(s: &str) -> bool {
    matches!(s.as_bytes().get(10), Some(b'T' | b't'))
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ImportError> {
    v.as_object().ok_or_else(|| err(path, "not a JSON object"))
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, ImportError> {
    v.as_array().ok_or_else(|| err(path, "not an array"))
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, ImportError> {
    v.as_str().ok_or_else(|| err(path, "not a string"))
}

fn uri(v: &Value, path: &str) -> Result<(), ImportError> {
    let s = string(v, path)?;
    if is_uri(s) {
        Ok(())
    } else {
        Err(err(path, format!("{s:?} is not a URI")))
    }
}

fn time(v: &Value, path: &str) -> Result<(), ImportError> {
    let s = string(v, path)?;
    if is_time(s) {
        Ok(())
    } else {
        Err(err(path, format!("{s:?} is not an RFC 3339 date-time")))
    }
}

fn number(v: &Value, path: &str) -> Result<(), ImportError> {
    if v.is_number() {
        Ok(())
    } else {
        Err(err(path, "not a number"))
    }
}

fn required(m: &Map<String, Value>, path: &str, keys: &[&str]) -> Result<(), ImportError> {
    match keys.iter().find(|k| !m.contains_key(**k)) {
        Some(k) => Err(err(&at(path, k), "missing")),
        None => Ok(()),
    }
}

/// Every key is one of `known` or a URI (an extension, e.g. `cust:lot`).
fn keys(m: &Map<String, Value>, path: &str, known: &[&[&str]]) -> Result<(), ImportError> {
    for k in m.keys() {
        if !known.iter().any(|list| list.contains(&k.as_str())) && !is_uri(k) {
            return Err(err(
                &at(path, k),
                "is neither a field of this element nor an extension (a URI or a prefixed name, e.g. cust:note)",
            ));
        }
    }
    Ok(())
}

/// Only `known` keys.
fn only(m: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), ImportError> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(err(
            &at(path, k),
            format!("is not a field here (only {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A CBV word from `words`, or a URI outside the CBV's own namespaces (`forbidden`).
fn vocabulary(
    v: &Value,
    path: &str,
    words: &[&str],
    what: &str,
    forbidden: &[&str],
) -> Result<(), ImportError> {
    let s = string(v, path)?;
    if words.contains(&s) {
        return Ok(());
    }
    if is_uri(s) && !forbidden.iter().any(|p| s.starts_with(p)) {
        return Ok(());
    }
    let message = if forbidden == WEB_VOC {
        format!(
            "{s:?} is not a {what}: a term of the GS1 Web Vocabulary's list (e.g. {:?}) or a URI of your own vocabulary",
            words[0]
        )
    } else {
        format!(
            "{s:?} is not a {what}: a CBV 2.0 word (e.g. {:?}) or a URI of your own vocabulary (a CBV URN is written as its bare word in JSON-LD)",
            words[0]
        )
    };
    Err(err(path, message))
}

const CBV_NAMESPACES: &[&str] = &[
    "urn:epcglobal:cbv",
    "http://ns.gs1.org/cbv/",
    "https://ns.gs1.org/cbv/",
];
const WEB_VOC: &[&str] = &[
    "http://gs1.org/voc/",
    "https://gs1.org/voc/",
    "http://www.gs1.org/voc/",
    "https://www.gs1.org/voc/",
];

fn context(v: &Value, path: &str) -> Result<(), ImportError> {
    let item = |v: &Value, p: &str| -> Result<(), ImportError> {
        match v {
            Value::String(_) => uri(v, p),
            Value::Object(_) => Ok(()),
            _ => Err(err(p, "neither a URI nor an object")),
        }
    };
    match v {
        Value::Array(list) => {
            for (i, x) in list.iter().enumerate() {
                if list[..i].contains(x) {
                    return Err(err(&format!("{path}[{i}]"), "repeats an earlier item"));
                }
                item(x, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => item(v, path),
    }
}

fn uri_list(v: &Value, path: &str, min: usize, unique: bool) -> Result<usize, ImportError> {
    let list = array(v, path)?;
    for (i, x) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        uri(x, &p)?;
        if unique && list[..i].contains(x) {
            return Err(err(&p, "repeats an earlier item"));
        }
    }
    if list.len() < min {
        return Err(err(path, format!("empty: at least {min} item here")));
    }
    Ok(list.len())
}

fn quantity_list(v: &Value, path: &str, min: usize) -> Result<(), ImportError> {
    let list = array(v, path)?;
    for (i, q) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let m = object(q, &p)?;
        only(m, &p, &["epcClass", "quantity", "uom"])?;
        required(m, &p, &["epcClass"])?;
        uri(&m["epcClass"], &at(&p, "epcClass"))?;
        if let Some(n) = m.get("quantity") {
            number(n, &at(&p, "quantity"))?;
        }
        if let Some(u) = m.get("uom") {
            let up = at(&p, "uom");
            let s = string(u, &up)?;
            if !(2..=3).contains(&s.len())
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Err(err(
                    &up,
                    format!("{s:?} is not a UN/CEFACT unit code (2 or 3 capitals or digits)"),
                ));
            }
        }
    }
    if list.len() < min {
        return Err(err(path, "empty: at least one quantity here"));
    }
    Ok(())
}

fn biz_transactions(v: &Value, path: &str, min: usize) -> Result<(), ImportError> {
    let list = array(v, path)?;
    for (i, t) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let m = object(t, &p)?;
        only(m, &p, &["type", "bizTransaction"])?;
        required(m, &p, &["bizTransaction"])?;
        if let Some(kind) = m.get("type") {
            vocabulary(
                kind,
                &at(&p, "type"),
                BIZ_TRANSACTION_TYPES,
                "business transaction type",
                CBV_NAMESPACES,
            )?;
        }
        uri(&m["bizTransaction"], &at(&p, "bizTransaction"))?;
    }
    if list.len() < min {
        return Err(err(
            path,
            "empty: a transaction event names its transactions",
        ));
    }
    Ok(())
}

fn parties(v: &Value, path: &str, key: &str) -> Result<(), ImportError> {
    for (i, s) in array(v, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let m = object(s, &p)?;
        only(m, &p, &["type", key])?;
        required(m, &p, &["type", key])?;
        vocabulary(
            &m["type"],
            &at(&p, "type"),
            SOURCE_DEST_TYPES,
            "source or destination type",
            CBV_NAMESPACES,
        )?;
        uri(&m[key], &at(&p, key))?;
    }
    Ok(())
}

fn place(v: &Value, path: &str) -> Result<(), ImportError> {
    let m = object(v, path)?;
    required(m, path, &["id"])?;
    uri(&m["id"], &at(path, "id"))
}

fn persistent_disposition(v: &Value, path: &str) -> Result<(), ImportError> {
    let m = object(v, path)?;
    only(m, path, &["set", "unset"])?;
    if m.is_empty() {
        return Err(err(path, "names neither set nor unset"));
    }
    for key in ["set", "unset"] {
        if let Some(list) = m.get(key) {
            let p = at(path, key);
            let items = array(list, &p)?;
            for (i, d) in items.iter().enumerate() {
                let ip = format!("{p}[{i}]");
                vocabulary(d, &ip, DISPOSITIONS, "disposition", CBV_NAMESPACES)?;
                if items[..i].contains(d) {
                    return Err(err(&ip, "repeats an earlier item"));
                }
            }
            if items.is_empty() {
                return Err(err(&p, "empty: at least one disposition here"));
            }
        }
    }
    Ok(())
}

const SENSOR_METADATA_KEYS: &[&str] = &[
    "time",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "startTime",
    "endTime",
    "dataProcessingMethod",
    "bizRules",
];
const SENSOR_REPORT_KEYS: &[&str] = &[
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
    "time",
    "microorganism",
    "chemicalSubstance",
    "coordinateReferenceSystem",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
];

fn sensor_elements(v: &Value, path: &str, min: usize) -> Result<(), ImportError> {
    let list = array(v, path)?;
    for (i, s) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let m = object(s, &p)?;
        keys(m, &p, &[&["sensorMetadata", "sensorReport"]])?;
        required(m, &p, &["sensorReport"])?;
        if let Some(meta) = m.get("sensorMetadata") {
            let mp = at(&p, "sensorMetadata");
            let mm = object(meta, &mp)?;
            keys(mm, &mp, &[SENSOR_METADATA_KEYS])?;
            for (k, x) in mm {
                let kp = at(&mp, k);
                match k.as_str() {
                    "time" | "startTime" | "endTime" => time(x, &kp)?,
                    k if SENSOR_METADATA_KEYS.contains(&k) => uri(x, &kp)?,
                    _ => {}
                }
            }
        }
        let rp = at(&p, "sensorReport");
        let reports = array(&m["sensorReport"], &rp)?;
        for (j, r) in reports.iter().enumerate() {
            sensor_report(r, &format!("{rp}[{j}]"))?;
        }
        if reports.is_empty() {
            return Err(err(&rp, "empty: a sensor element has at least one report"));
        }
    }
    if list.len() < min {
        return Err(err(path, "empty: at least one sensor element here"));
    }
    Ok(())
}

fn sensor_report(v: &Value, path: &str) -> Result<(), ImportError> {
    let m = object(v, path)?;
    keys(m, path, &[SENSOR_REPORT_KEYS])?;
    required(m, path, &["type"])?;
    for (k, x) in m {
        let p = at(path, k);
        match k.as_str() {
            "type" => vocabulary(x, &p, MEASUREMENT_TYPES, "measurement type", WEB_VOC)?,
            "exception" => vocabulary(x, &p, SENSOR_ALERT_TYPES, "sensor alert type", WEB_VOC)?,
            "component" => vocabulary(x, &p, COMPONENTS, "component", CBV_NAMESPACES)?,
            "time" => time(x, &p)?,
            "value" | "minValue" | "maxValue" | "meanValue" | "sDev" | "percRank" | "percValue" => {
                number(x, &p)?
            }
            "stringValue" | "uom" => {
                string(x, &p)?;
            }
            "booleanValue" if !x.is_boolean() => {
                return Err(err(&p, "not true or false"));
            }
            "booleanValue" => {}
            "hexBinaryValue" => {
                let s = string(x, &p)?;
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err(&p, format!("{s:?} is not hexadecimal")));
                }
            }
            k if SENSOR_REPORT_KEYS.contains(&k) => uri(x, &p)?,
            _ => {}
        }
    }
    Ok(())
}

fn error_declaration(v: &Value, path: &str) -> Result<(), ImportError> {
    let m = object(v, path)?;
    keys(
        m,
        path,
        &[&["declarationTime", "reason", "correctiveEventIDs"]],
    )?;
    required(m, path, &["declarationTime"])?;
    time(&m["declarationTime"], &at(path, "declarationTime"))?;
    if let Some(r) = m.get("reason") {
        vocabulary(
            r,
            &at(path, "reason"),
            ERROR_REASONS,
            "error reason",
            CBV_NAMESPACES,
        )?;
    }
    if let Some(ids) = m.get("correctiveEventIDs") {
        uri_list(ids, &at(path, "correctiveEventIDs"), 0, false)?;
    }
    Ok(())
}

/// The fields one event type has beyond the common ones, in the order the XML binding writes
/// them.
pub(super) fn type_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "ObjectEvent" => &[
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
            "ilmd",
        ],
        "AggregationEvent" => &[
            "parentID",
            "childEPCs",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "childQuantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        ],
        "AssociationEvent" => &[
            "parentID",
            "childEPCs",
            "childQuantityList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        ],
        "TransactionEvent" => &[
            "bizTransactionList",
            "parentID",
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        ],
        "TransformationEvent" => &[
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
            "ilmd",
        ],
        _ => &[],
    }
}

/// Checks one event as EPCIS 2.0 defines it: a standard event type, or an extension event
/// whose type is a URI.
pub(super) fn check_event(v: &Value, path: &str) -> Result<(), ImportError> {
    let m = object(v, path)?;
    required(m, path, &["type"])?;
    let kind = string(&m["type"], &at(path, "type"))?;
    let standard = EVENT_TYPES.contains(&kind);
    // The fields every event has.
    if let Some(c) = m.get("@context") {
        context(c, &at(path, "@context"))?;
    }
    required(m, path, &["eventTime", "eventTimeZoneOffset"])?;
    time(&m["eventTime"], &at(path, "eventTime"))?;
    if let Some(t) = m.get("recordTime") {
        time(t, &at(path, "recordTime"))?;
    }
    let offset_path = at(path, "eventTimeZoneOffset");
    let offset = string(&m["eventTimeZoneOffset"], &offset_path)?;
    if !is_offset(offset) {
        return Err(err(
            &offset_path,
            format!("{offset:?} is not a time zone offset from -13:59 to +14:00 (e.g. +01:00)"),
        ));
    }
    if let Some(id) = m.get("eventID") {
        uri(id, &at(path, "eventID"))?;
    }
    if let Some(c) = m.get("certificationInfo") {
        let p = at(path, "certificationInfo");
        if c.is_array() {
            uri_list(c, &p, 0, false)?;
        } else {
            uri(c, &p)?;
        }
    }
    if let Some(d) = m.get("errorDeclaration") {
        error_declaration(d, &at(path, "errorDeclaration"))?;
    }
    if !standard {
        if !is_uri(kind) {
            return Err(err(
                &at(path, "type"),
                format!(
                    "{kind:?} is neither an EPCIS event type ({}) nor the URI of an extension event type",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        return Ok(());
    }
    keys(m, path, &[COMMON_KEYS, type_fields(kind)])?;
    let needs: &[&str] = match kind {
        "TransformationEvent" => &[],
        "TransactionEvent" => &["bizTransactionList", "action"],
        "AssociationEvent" => &["action", "parentID"],
        _ => &["action"],
    };
    required(m, path, needs)?;
    let action = match m.get("action") {
        Some(a) => {
            let p = at(path, "action");
            let s = string(a, &p)?;
            if !matches!(s, "ADD" | "OBSERVE" | "DELETE") {
                return Err(err(&p, format!("{s:?} is not ADD, OBSERVE or DELETE")));
            }
            Some(s)
        }
        None => None,
    };
    for (k, x) in m {
        let p = at(path, k);
        match k.as_str() {
            "epcList" => {
                uri_list(x, &p, 0, kind == "ObjectEvent")?;
            }
            "childEPCs" => {
                uri_list(x, &p, 0, false)?;
            }
            "inputEPCList" | "outputEPCList" => {
                uri_list(x, &p, 0, true)?;
            }
            "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
                quantity_list(x, &p, 0)?;
            }
            "parentID" | "transformationID" => uri(x, &p)?,
            "bizStep" => vocabulary(x, &p, BIZ_STEPS, "business step", CBV_NAMESPACES)?,
            "disposition" => vocabulary(x, &p, DISPOSITIONS, "disposition", CBV_NAMESPACES)?,
            "persistentDisposition" => persistent_disposition(x, &p)?,
            "readPoint" | "bizLocation" => place(x, &p)?,
            "bizTransactionList" => {
                biz_transactions(x, &p, usize::from(kind == "TransactionEvent"))?;
            }
            "sourceList" => parties(x, &p, "source")?,
            "destinationList" => parties(x, &p, "destination")?,
            "sensorElementList" => sensor_elements(x, &p, 0)?,
            "ilmd" => {
                let il = object(x, &p)?;
                if let Some(bad) = il.keys().find(|k| !is_uri(k)) {
                    return Err(err(
                        &at(&p, bad),
                        "an ilmd field is named by a URI or a prefixed name (e.g. cbvmda:lotNumber)",
                    ));
                }
            }
            _ => {}
        }
    }
    let non_empty = |k: &str| {
        m.get(k)
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
    };
    match kind {
        "ObjectEvent" => {
            let sensed = non_empty("sensorElementList") && m.contains_key("readPoint");
            if !(m.contains_key("epcList") || non_empty("quantityList") || sensed) {
                return Err(err(
                    path,
                    "an ObjectEvent names what it is about: an epcList, a quantityList, or sensor data with its readPoint",
                ));
            }
            if m.contains_key("ilmd") && action != Some("ADD") {
                return Err(err(
                    &at(path, "ilmd"),
                    "instance/lot master data belongs to an ObjectEvent that adds (action ADD)",
                ));
            }
        }
        "AggregationEvent" | "AssociationEvent" => {
            if !(non_empty("childEPCs")
                || non_empty("childQuantityList")
                || action == Some("DELETE"))
            {
                return Err(err(
                    path,
                    "names no children: childEPCs or childQuantityList (only a DELETE may name none)",
                ));
            }
        }
        "TransactionEvent" => {
            if !(m.contains_key("epcList") || non_empty("quantityList") || action == Some("DELETE"))
            {
                return Err(err(
                    path,
                    "a TransactionEvent names what it is about: an epcList or a quantityList (only a DELETE may name none)",
                ));
            }
        }
        _ => {
            let input = non_empty("inputEPCList") || non_empty("inputQuantityList");
            let output = non_empty("outputEPCList") || non_empty("outputQuantityList");
            if !(input && output) && !((input || output) && m.contains_key("transformationID")) {
                return Err(err(
                    path,
                    "a TransformationEvent names its inputs and outputs, or one of them with a transformationID",
                ));
            }
        }
    }
    Ok(())
}

/// `+hh:mm` or `-hh:mm`, from 00:00 to 13:59 or 14:00.
fn is_offset(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        std::str::from_utf8(&b[r.clone()])
            .ok()
            .filter(|d| d.bytes().all(|x| x.is_ascii_digit()))?
            .parse()
            .ok()
    };
    match (digits(1..3), digits(4..6)) {
        (Some(h), Some(m)) => (h <= 13 && m <= 59) || (h == 14 && m == 0),
        _ => false,
    }
}

fn vocabulary_list(v: &Value, path: &str) -> Result<(), ImportError> {
    for (i, voc) in array(v, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let m = object(voc, &p)?;
        required(m, &p, &["type"])?;
        uri(&m["type"], &at(&p, "type"))?;
        let Some(elements) = m.get("vocabularyElementList") else {
            continue;
        };
        let ep = at(&p, "vocabularyElementList");
        for (j, e) in array(elements, &ep)?.iter().enumerate() {
            let ep = format!("{ep}[{j}]");
            let em = object(e, &ep)?;
            required(em, &ep, &["id"])?;
            uri(&em["id"], &at(&ep, "id"))?;
            if let Some(attrs) = em.get("attributes") {
                let ap = at(&ep, "attributes");
                for (k, a) in array(attrs, &ap)?.iter().enumerate() {
                    let ap = format!("{ap}[{k}]");
                    let am = object(a, &ap)?;
                    required(am, &ap, &["id"])?;
                    uri(&am["id"], &at(&ap, "id"))?;
                    if let Some(x) = am.get("attribute")
                        && !(x.is_number() || x.is_string() || x.is_object())
                    {
                        return Err(err(
                            &at(&ap, "attribute"),
                            "neither a number, a string nor an object",
                        ));
                    }
                }
            }
            if let Some(children) = em.get("children") {
                uri_list(children, &at(&ep, "children"), 0, false)?;
            }
        }
    }
    Ok(())
}

fn version(v: &Value, path: &str) -> Result<(), ImportError> {
    let s = string(v, path)?;
    let ok = !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(err(path, format!("{s:?} is not a version (e.g. \"2.0\")")));
    }
    if !s.starts_with("2.") && s != "2" {
        return Err(err(path, format!("{s:?}: only EPCIS 2.x is read here")));
    }
    Ok(())
}

/// Checks a document: an `EPCISDocument`, an `EPCISQueryDocument`, or one event with its
/// `@context` (what a capture of a single event sends). Returns its events, each still to be
/// checked with [`check_event`].
pub(super) fn check_document(doc: &Value) -> Result<Events<'_>, ImportError> {
    let m = doc
        .as_object()
        .ok_or_else(|| err("$", "not a JSON object"))?;
    let kind = match m.get("type") {
        None => {
            return Err(err(
                "type",
                "missing: an EPCIS document has \"type\": \"EPCISDocument\"",
            ));
        }
        Some(t) => string(t, "type")?,
    };
    match kind {
        "EPCISDocument" => {
            keys(m, "", &[DOCUMENT_KEYS])?;
            required(
                m,
                "",
                &[
                    "@context",
                    "type",
                    "schemaVersion",
                    "creationDate",
                    "epcisBody",
                ],
            )?;
            context(&m["@context"], "@context")?;
            if let Some(id) = m.get("id") {
                uri(id, "id")?;
            }
            version(&m["schemaVersion"], "schemaVersion")?;
            time(&m["creationDate"], "creationDate")?;
            for k in ["instanceIdentifier", "sender", "receiver"] {
                if let Some(x) = m.get(k) {
                    string(x, k)?;
                }
            }
            if let Some(h) = m.get("epcisHeader") {
                let hm = object(h, "epcisHeader")?;
                keys(hm, "epcisHeader", &[&["epcisMasterData"]])?;
                if let Some(md) = hm.get("epcisMasterData") {
                    let p = "epcisHeader.epcisMasterData";
                    if let Some(list) = object(md, p)?.get("vocabularyList") {
                        vocabulary_list(list, &at(p, "vocabularyList"))?;
                    }
                }
            }
            let body = object(&m["epcisBody"], "epcisBody")?;
            required(body, "epcisBody", &["eventList"])?;
            let list = array(&body["eventList"], "epcisBody.eventList")?;
            Ok(Events {
                list: list.iter().collect(),
                path: "epcisBody.eventList",
            })
        }
        "EPCISQueryDocument" => {
            keys(m, "", &[QUERY_DOCUMENT_KEYS])?;
            required(m, "", &["@context", "type", "epcisBody"])?;
            context(&m["@context"], "@context")?;
            if let Some(id) = m.get("id") {
                uri(id, "id")?;
            }
            if let Some(v) = m.get("schemaVersion") {
                version(v, "schemaVersion")?;
            }
            if let Some(t) = m.get("creationDate") {
                time(t, "creationDate")?;
            }
            let body = object(&m["epcisBody"], "epcisBody")?;
            keys(body, "epcisBody", &[&["queryResults"]])?;
            required(body, "epcisBody", &["queryResults"])?;
            let p = "epcisBody.queryResults";
            let results = object(&body["queryResults"], p)?;
            keys(
                results,
                p,
                &[&["queryName", "subscriptionID", "resultsBody"]],
            )?;
            required(results, p, &["queryName", "resultsBody"])?;
            string(&results["queryName"], &at(p, "queryName"))?;
            if let Some(s) = results.get("subscriptionID") {
                string(s, &at(p, "subscriptionID"))?;
            }
            let bp = "epcisBody.queryResults.resultsBody";
            let rb = object(&results["resultsBody"], bp)?;
            keys(rb, bp, &[&["eventList", "vocabularyList"]])?;
            required(rb, bp, &["eventList"])?;
            if let Some(v) = rb.get("vocabularyList") {
                vocabulary_list(v, &at(bp, "vocabularyList"))?;
            }
            let list = array(
                &rb["eventList"],
                "epcisBody.queryResults.resultsBody.eventList",
            )?;
            Ok(Events {
                list: list.iter().collect(),
                path: "epcisBody.queryResults.resultsBody.eventList",
            })
        }
        _ => {
            // One event on its own, with its context.
            required(m, "", &["@context"])?;
            if !EVENT_TYPES.contains(&kind) && !is_uri(kind) {
                return Err(err(
                    "type",
                    format!(
                        "{kind:?} is neither an EPCIS document (EPCISDocument, EPCISQueryDocument) nor an event type"
                    ),
                ));
            }
            Ok(Events {
                list: vec![doc],
                path: "$",
            })
        }
    }
}
