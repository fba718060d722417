//! EPCIS XML, 2.0 and 1.2, read into the JSON-LD form and written from it. **One reading of
//! EPCIS:** an XML document becomes the JSON-LD document it stands for (the standard's own
//! mapping between the two bindings), which is then checked, kept and judged exactly as a
//! JSON-LD document is; export writes the JSON-LD events back as XML.
//!
//! The mapping: EPCIS elements are unqualified; 1.2's `extension` and `baseExtension` wrappers
//! are read through (an event's 1.2 `extension` holds its 2.0 fields, a 1.2 TransformationEvent
//! sits in an `extension` of the event list). CBV values written as URNs or web URIs of a CBV
//! word (`urn:epcglobal:cbv:bizstep:shipping`, `https://ref.gs1.org/cbv/BizStep-shipping`)
//! become the bare word JSON-LD uses; a sensor report's measurement type `gs1:Temperature`
//! (a qualified name in the GS1 Web Vocabulary) becomes `Temperature`. An element of another
//! namespace is an extension: the key `prefix:name`, the prefix declared in the document's
//! `@context`; its value is its text, or an object of its child elements (one key per name, an
//! array when a name repeats). An extension event type is an element of its own namespace in
//! the event list. A document holds at most [`super::MAX_EVENTS`] events and [`MAX_NODES`]
//! nodes, nested at most [`MAX_DEPTH`] deep; it declares no entities (so nothing expands),
//! and nothing outside the text is ever fetched.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use roxmltree::{Document, Node, ParsingOptions};
use serde_json::{Map, Number, Value, json};

use super::standard::{
    BIZ_STEPS, BIZ_TRANSACTION_TYPES, COMPONENTS, DISPOSITIONS, ERROR_REASONS, EVENT_TYPES,
    MEASUREMENT_TYPES, SOURCE_DEST_TYPES,
};
use super::{CONTEXT, ImportError, err};

/// The largest EPCIS XML document imported, in bytes: the same events take about a third more
/// bytes as XML than as JSON-LD ([`super::MAX_DOCUMENT_BYTES`]), so a document of
/// [`super::MAX_EVENTS`] events fits in either.
pub const MAX_DOCUMENT_BYTES: usize = 64 << 20;

/// The most XML nodes (elements, attributes' owners, text) one document may make: a full
/// document of [`super::MAX_EVENTS`] events of a few dozen nodes each.
pub const MAX_NODES: u32 = 8_000_000;

/// The deepest nesting of elements read. An EPCIS event is a few levels deep (document,
/// body, list, event, sensor element, report); extensions nest a few more. Every step after
/// parsing (reading, checking, storing, dropping the value) recurses over the nesting, so it
/// is bounded here, as JSON's is by its parser (128).
pub const MAX_DEPTH: usize = 64;

const EPCIS_2: &str = "urn:epcglobal:epcis:xsd:2";
const GS1_VOC: &str = "https://gs1.org/voc/";

/// CBV namespaces of each vocabulary: the URN of 1.2 and the web URI of 2.0.
const CBV_FORMS: &[(&str, &str, &[&str])] = &[
    (
        "urn:epcglobal:cbv:bizstep:",
        "https://ref.gs1.org/cbv/BizStep-",
        BIZ_STEPS,
    ),
    (
        "urn:epcglobal:cbv:disp:",
        "https://ref.gs1.org/cbv/Disp-",
        DISPOSITIONS,
    ),
    (
        "urn:epcglobal:cbv:btt:",
        "https://ref.gs1.org/cbv/BTT-",
        BIZ_TRANSACTION_TYPES,
    ),
    (
        "urn:epcglobal:cbv:sdt:",
        "https://ref.gs1.org/cbv/SDT-",
        SOURCE_DEST_TYPES,
    ),
    (
        "urn:epcglobal:cbv:er:",
        "https://ref.gs1.org/cbv/ER-",
        ERROR_REASONS,
    ),
];

/// Which vocabulary a field's value is from (the index into [`CBV_FORMS`]).
#[derive(Clone, Copy)]
enum Vocab {
    BizStep = 0,
    Disposition = 1,
    Transaction = 2,
    SourceDest = 3,
    ErrorReason = 4,
}

/// The bare CBV word of `value`, when it names one in either of its URI forms.
fn bare(value: &str, vocab: Vocab) -> String {
    let (urn, web, words) = CBV_FORMS[vocab as usize];
    for prefix in [urn, web] {
        if let Some(word) = value.strip_prefix(prefix)
            && words.contains(&word)
        {
            return word.to_string();
        }
    }
    value.to_string()
}

/// A CBV word as the URN both XML versions read (a value of one's own vocabulary as it is).
fn urn(value: &str, vocab: Vocab) -> String {
    let (urn, _, words) = CBV_FORMS[vocab as usize];
    if words.contains(&value) {
        format!("{urn}{value}")
    } else {
        value.to_string()
    }
}

/// Reads an EPCIS XML document (2.0 or 1.2; an `EPCISDocument` or an `EPCISQueryDocument`) into
/// the JSON-LD document it stands for.
///
/// # Errors
///
/// Text that is not well-formed XML (with its line and column), or XML that is not an EPCIS
/// document, with the path of the element at fault.
pub fn read(text: &str) -> Result<Value, ImportError> {
    // A DOCTYPE is read (GS1's own examples carry `<!DOCTYPE project>`); entity declarations
    // are refused by `prescan`, and roxmltree fetches nothing from outside.
    let options = ParsingOptions {
        allow_dtd: true,
        nodes_limit: MAX_NODES,
    };
    prescan(text)?;
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| err("$", format!("not well-formed XML: {e}")))?;
    let root = doc.root_element();
    let kind = root.tag_name().name();
    if kind != "EPCISDocument" && kind != "EPCISQueryDocument" {
        return Err(err(
            "$",
            format!("<{kind}> is not an EPCIS document (EPCISDocument or EPCISQueryDocument)"),
        ));
    }
    let body = child(root, "EPCISBody").ok_or_else(|| err(kind, "has no EPCISBody"))?;
    let list = find_event_list(body).ok_or_else(|| err("EPCISBody", "has no EventList"))?;
    let mut reader = Reader::default();
    let mut events = Vec::new();
    for (i, e) in elements(list).enumerate() {
        // 1.2 wraps its TransformationEvent (and any later type) in an extension element.
        if e.tag_name().namespace().is_none() && e.tag_name().name() == "extension" {
            for inner in elements(e) {
                events.push(reader.event(inner, &format!("EventList/extension[{i}]"))?);
            }
        } else {
            events.push(reader.event(e, &format!("EventList/{}[{i}]", e.tag_name().name()))?);
        }
        if events.len() > super::MAX_EVENTS {
            return Err(err(
                "EventList",
                format!("more than {} events: split it", super::MAX_EVENTS),
            ));
        }
    }
    let mut context = vec![json!(CONTEXT)];
    if !reader.prefixes.is_empty() {
        let m: Map<String, Value> = reader
            .prefixes
            .iter()
            .map(|(p, ns)| (p.clone(), json!(ns)))
            .collect();
        context.push(Value::Object(m));
    }
    let created = root
        .attribute("creationDate")
        .map_or_else(|| json!("1970-01-01T00:00:00Z"), |d| json!(d.trim()));
    let mut out = json!({
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": { "eventList": events },
    });
    if kind == "EPCISQueryDocument" {
        let name = descendant(body, "queryName").map_or("", |n| n.text().unwrap_or("").trim());
        let events = out["epcisBody"]["eventList"].take();
        out["type"] = json!("EPCISQueryDocument");
        out["epcisBody"] = json!({ "queryResults": { "queryName": name, "resultsBody": { "eventList": events } } });
    }
    Ok(out)
}

/// Refuses, before the parser sees it, what would make any later step recurse without bound:
/// elements nested deeper than [`MAX_DEPTH`], and entity declarations (whose markup would nest
/// where this scan cannot see). One pass over the bytes; tags, comments, processing
/// instructions, CDATA and the DOCTYPE are each skipped whole, quotes included.
fn prescan(text: &str) -> Result<(), ImportError> {
    let b = text.as_bytes();
    let find = |from: usize, pat: &[u8]| {
        b[from.min(b.len())..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map_or(b.len(), |p| from + p + pat.len())
    };
    let (mut i, mut depth) = (0usize, 0usize);
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = find(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = find(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = find(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            // The DOCTYPE, with its internal subset in brackets.
            let (mut j, mut brackets, mut quote) = (i + 2, 0usize, 0u8);
            while j < b.len() {
                let c = b[j];
                if quote != 0 {
                    if c == quote {
                        quote = 0;
                    }
                } else if c == b'"' || c == b'\'' {
                    quote = c;
                } else if c == b'[' {
                    brackets += 1;
                } else if c == b']' {
                    brackets = brackets.saturating_sub(1);
                } else if c == b'<' && b[j..].starts_with(b"<!ENTITY") {
                    return Err(err(
                        "$",
                        "declares entities: EPCIS documents are read without entity declarations",
                    ));
                } else if c == b'>' && brackets == 0 {
                    break;
                }
                j += 1;
            }
            i = j + 1;
        } else {
            let closing = rest.starts_with(b"</");
            let (mut j, mut quote) = (i + 1, 0u8);
            while j < b.len() {
                let c = b[j];
                if quote != 0 {
                    if c == quote {
                        quote = 0;
                    }
                } else if c == b'"' || c == b'\'' {
                    quote = c;
                } else if c == b'>' {
                    break;
                }
                j += 1;
            }
            if closing {
                depth = depth.saturating_sub(1);
            } else if j < b.len() && b[j - 1] != b'/' {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(err(
                        "$",
                        format!("elements nested more than {MAX_DEPTH} deep: no EPCIS document is"),
                    ));
                }
            }
            i = j + 1;
        }
    }
    Ok(())
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(Node::is_element)
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    elements(n).find(|c| c.tag_name().name() == name)
}

fn descendant<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.descendants()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn find_event_list<'a, 'i>(body: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    descendant(body, "EventList")
}

fn text(n: Node<'_, '_>) -> String {
    n.text().unwrap_or("").trim().to_string()
}

/// A decimal's text as a JSON number (an integer when it is one).
fn number(s: &str, path: &str) -> Result<Value, ImportError> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Ok(json!(i));
    }
    s.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| err(path, format!("{s:?} is not a number")))
}

#[derive(Default)]
struct Reader {
    /// Each extension namespace by the prefix its keys are written with.
    prefixes: BTreeMap<String, String>,
}

impl Reader {
    /// The JSON-LD key of an element or attribute of namespace `ns`: `prefix:name`.
    fn key(&mut self, node: Node<'_, '_>, ns: &str, name: &str) -> String {
        let declared = node.lookup_prefix(ns).filter(|p| !p.is_empty());
        let wanted = declared.map_or_else(|| "ext".to_string(), str::to_string);
        // One prefix names one namespace: a prefix that names another here gets a number.
        let mut prefix = wanted.clone();
        let mut n = 1;
        while let Some(other) = self.prefixes.get(&prefix) {
            if other == ns {
                break;
            }
            n += 1;
            prefix = format!("{wanted}{n}");
        }
        self.prefixes.insert(prefix.clone(), ns.to_string());
        format!("{prefix}:{name}")
    }

    /// Adds extension element `e` (of namespace `ns`) to `m` as `prefix:name`.
    fn push_extension(&mut self, m: &mut Map<String, Value>, e: Node<'_, '_>, ns: &str) {
        let key = self.key(e, ns, e.tag_name().name());
        let v = self.extension_value(e);
        push(m, key, v);
    }

    /// An extension element's value: its text, or an object of its children.
    fn extension_value(&mut self, e: Node<'_, '_>) -> Value {
        if elements(e).next().is_none() {
            return json!(text(e));
        }
        let mut m = Map::new();
        for c in elements(e) {
            let key = match c.tag_name().namespace() {
                Some(ns) => self.key(c, ns, c.tag_name().name()),
                None => c.tag_name().name().to_string(),
            };
            let v = self.extension_value(c);
            push(&mut m, key, v);
        }
        Value::Object(m)
    }

    fn event(&mut self, e: Node<'_, '_>, path: &str) -> Result<Value, ImportError> {
        let name = e.tag_name().name();
        let kind = match e.tag_name().namespace() {
            None => name.to_string(),
            Some(ns) if ns == EPCIS_2 || ns.starts_with("urn:epcglobal:epcis:xsd:") => {
                name.to_string()
            }
            // An extension event: its type is its element's expanded name.
            Some(ns) => format!("{ns}{name}"),
        };
        let mut m = Map::new();
        m.insert("type".into(), json!(kind));
        let standard = EVENT_TYPES.contains(&kind.as_str());
        self.fields(e, &mut m, path, standard)?;
        Ok(Value::Object(m))
    }

    /// An event's child elements into `m`, reading through 1.2's extension wrappers.
    fn fields(
        &mut self,
        e: Node<'_, '_>,
        m: &mut Map<String, Value>,
        path: &str,
        standard: bool,
    ) -> Result<(), ImportError> {
        for c in elements(e) {
            let name = c.tag_name().name();
            let p = format!("{path}/{name}");
            if let Some(ns) = c.tag_name().namespace() {
                self.push_extension(m, c, ns);
                continue;
            }
            let value = match name {
                "extension" | "baseExtension" => {
                    self.fields(c, m, &p, standard)?;
                    continue;
                }
                "eventTime"
                | "recordTime"
                | "eventTimeZoneOffset"
                | "eventID"
                | "parentID"
                | "transformationID"
                | "action" => json!(text(c)),
                "certificationInfo" => {
                    // Repeated, it is a list.
                    let v = json!(text(c));
                    match m.get_mut("certificationInfo") {
                        Some(Value::Array(list)) => list.push(v),
                        Some(first) => *first = json!([first.take(), v]),
                        None => {
                            m.insert("certificationInfo".into(), v);
                        }
                    }
                    continue;
                }
                "bizStep" => json!(bare(&text(c), Vocab::BizStep)),
                "disposition" => json!(bare(&text(c), Vocab::Disposition)),
                "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
                    Value::Array(elements(c).map(|x| json!(text(x))).collect())
                }
                "quantityList" | "childQuantityList" | "inputQuantityList"
                | "outputQuantityList" => {
                    let mut list = Vec::new();
                    for (i, q) in elements(c).enumerate() {
                        let qp = format!("{p}/quantityElement[{i}]");
                        let mut qm = Map::new();
                        for f in elements(q) {
                            // `xsi:nil` or empty: not given.
                            if text(f).is_empty() && elements(f).next().is_none() {
                                continue;
                            }
                            let v = match f.tag_name().name() {
                                "quantity" => number(&text(f), &format!("{qp}/quantity"))?,
                                _ => json!(text(f)),
                            };
                            qm.insert(f.tag_name().name().to_string(), v);
                        }
                        list.push(Value::Object(qm));
                    }
                    Value::Array(list)
                }
                "persistentDisposition" => {
                    let mut pm = Map::new();
                    for f in elements(c) {
                        let v = json!(bare(&text(f), Vocab::Disposition));
                        match pm
                            .entry(f.tag_name().name().to_string())
                            .or_insert_with(|| json!([]))
                        {
                            Value::Array(list) => list.push(v),
                            _ => unreachable!("inserted as an array"),
                        }
                    }
                    Value::Object(pm)
                }
                "readPoint" | "bizLocation" => {
                    let mut pm = Map::new();
                    self.fields_of_place(c, &mut pm);
                    Value::Object(pm)
                }
                "bizTransactionList" => Value::Array(
                    elements(c)
                        .map(|t| {
                            let mut tm = Map::new();
                            if let Some(kind) = t.attribute("type") {
                                tm.insert(
                                    "type".into(),
                                    json!(bare(kind.trim(), Vocab::Transaction)),
                                );
                            }
                            tm.insert("bizTransaction".into(), json!(text(t)));
                            Value::Object(tm)
                        })
                        .collect(),
                ),
                "sourceList" | "destinationList" => {
                    let key = if name == "sourceList" {
                        "source"
                    } else {
                        "destination"
                    };
                    Value::Array(
                        elements(c)
                            .map(|s| {
                                let mut sm = Map::new();
                                if let Some(kind) = s.attribute("type") {
                                    sm.insert(
                                        "type".into(),
                                        json!(bare(kind.trim(), Vocab::SourceDest)),
                                    );
                                }
                                sm.insert(key.into(), json!(text(s)));
                                Value::Object(sm)
                            })
                            .collect(),
                    )
                }
                "sensorElementList" => {
                    let mut list = Vec::new();
                    for (i, s) in elements(c).enumerate() {
                        list.push(self.sensor_element(s, &format!("{p}/sensorElement[{i}]"))?);
                    }
                    Value::Array(list)
                }
                "ilmd" => {
                    let mut im = Map::new();
                    self.fields_of_place(c, &mut im);
                    Value::Object(im)
                }
                "errorDeclaration" => {
                    let mut dm = Map::new();
                    for f in elements(c) {
                        let fname = f.tag_name().name();
                        if let Some(ns) = f.tag_name().namespace() {
                            self.push_extension(&mut dm, f, ns);
                            continue;
                        }
                        let v = match fname {
                            "reason" => json!(bare(&text(f), Vocab::ErrorReason)),
                            "correctiveEventIDs" => {
                                Value::Array(elements(f).map(|x| json!(text(x))).collect())
                            }
                            "extension" => {
                                for x in elements(f) {
                                    if let Some(ns) = x.tag_name().namespace() {
                                        self.push_extension(&mut dm, x, ns);
                                    }
                                }
                                continue;
                            }
                            _ => json!(text(f)),
                        };
                        dm.insert(fname.to_string(), v);
                    }
                    Value::Object(dm)
                }
                other if !standard => {
                    let v = self.extension_value(c);
                    push(m, other.to_string(), v);
                    continue;
                }
                other => {
                    // A field EPCIS does not have: kept under its name, for the check to name.
                    m.insert(other.to_string(), json!(text(c)));
                    continue;
                }
            };
            m.insert(name.to_string(), value);
        }
        Ok(())
    }

    /// A place (`readPoint`, `bizLocation`) or `ilmd`: its `id` and its extension elements.
    fn fields_of_place(&mut self, c: Node<'_, '_>, m: &mut Map<String, Value>) {
        for f in elements(c) {
            match f.tag_name().namespace() {
                Some(ns) => self.push_extension(m, f, ns),
                None if f.tag_name().name() == "extension" => self.fields_of_place(f, m),
                None => {
                    let v = self.extension_value(f);
                    push(m, f.tag_name().name().to_string(), v);
                }
            }
        }
    }

    fn sensor_element(&mut self, s: Node<'_, '_>, path: &str) -> Result<Value, ImportError> {
        let mut sm = Map::new();
        let mut reports = Vec::new();
        for f in elements(s) {
            match (f.tag_name().namespace(), f.tag_name().name()) {
                (None, "sensorMetadata") => {
                    sm.insert("sensorMetadata".into(), self.attributes(f, path)?);
                }
                (None, "sensorReport") => {
                    reports.push(self.attributes(f, &format!("{path}/sensorReport"))?);
                }
                (Some(ns), _) => self.push_extension(&mut sm, f, ns),
                (None, other) => {
                    let v = self.extension_value(f);
                    sm.insert(other.to_string(), v);
                }
            }
        }
        sm.insert("sensorReport".into(), Value::Array(reports));
        Ok(Value::Object(sm))
    }

    /// A sensor element's metadata or report: its attributes as fields.
    fn attributes(&mut self, f: Node<'_, '_>, path: &str) -> Result<Value, ImportError> {
        let mut m = Map::new();
        for a in f.attributes() {
            let name = a.name();
            let value = a.value().trim();
            let key = match a.namespace() {
                Some(ns) => self.key(f, ns, name),
                None => name.to_string(),
            };
            let v = match name {
                _ if a.namespace().is_some() => json!(value),
                "type" | "exception" | "component" => json!(self.web_term(f, value)),
                "value" | "minValue" | "maxValue" | "meanValue" | "sDev" | "percRank"
                | "percValue" => number(value, &format!("{path}@{name}"))?,
                "booleanValue" => match value {
                    "true" | "1" => json!(true),
                    "false" | "0" => json!(false),
                    other => json!(other),
                },
                _ => json!(value),
            };
            m.insert(key, v);
        }
        Ok(Value::Object(m))
    }

    /// A qualified name of the GS1 Web Vocabulary or the CBV (`gs1:Temperature`,
    /// `cbv:Comp-latitude`) as JSON-LD writes it: the bare term where there is one.
    fn web_term(&self, node: Node<'_, '_>, value: &str) -> String {
        let expanded = match value.split_once(':') {
            Some((prefix, local)) if !local.starts_with("//") => {
                match node.lookup_namespace_uri(Some(prefix)) {
                    Some(ns) => format!("{ns}{local}"),
                    // The vocabularies' usual prefixes, used without being declared.
                    None if prefix == "gs1" => format!("{GS1_VOC}{local}"),
                    None if prefix == "cbv" => format!("https://ref.gs1.org/cbv/{local}"),
                    None => value.to_string(),
                }
            }
            _ => value.to_string(),
        };
        let known = |term: &str| {
            MEASUREMENT_TYPES.contains(&term)
                || matches!(term, "ALARM_CONDITION" | "ERROR_CONDITION")
                || COMPONENTS.contains(&term)
        };
        for prefix in [GS1_VOC, "https://ref.gs1.org/cbv/Comp-"] {
            if let Some(term) = expanded.strip_prefix(prefix)
                && known(term)
            {
                return term.to_string();
            }
        }
        expanded
    }
}

/// The order the XML schema gives an event type's fields (extensions come after them).
fn xml_order(kind: &str) -> Vec<&'static str> {
    let mut order = vec![
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "errorDeclaration",
        "certificationInfo",
    ];
    order.extend_from_slice(super::standard::type_fields(kind));
    order
}

/// Adds `key: v` to `m`, making an array when the key repeats.
fn push(m: &mut Map<String, Value>, key: String, v: Value) {
    match m.get_mut(&key) {
        Some(Value::Array(list)) => list.push(v),
        Some(first) => *first = json!([first.take(), v]),
        None => {
            m.insert(key, v);
        }
    }
}

/// The EPCIS XML versions written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// EPCIS 2.0 XML.
    V2_0,
    /// EPCIS 1.2 XML, which most trading partners in pharmaceuticals still exchange: the fields
    /// 1.1 added in each event's `extension`, the event id and error declaration in its
    /// `baseExtension`, a TransformationEvent in an `extension` of the event list.
    V1_2,
}

/// Writes a JSON-LD EPCIS document (as the ledger exports it, or any valid one) as EPCIS 2.0
/// XML: the same events, each field in the element the XML binding gives it, extension
/// fields as elements of their namespaces.
///
/// # Errors
///
/// The first event with an extension field whose name no XML element can have (JSON-LD
/// takes any text as a key), with its path: nothing is left out silently.
pub fn write(doc: &Value) -> Result<String, ImportError> {
    write_as(doc, Version::V2_0)
}

/// Whether `s` can name an XML element or attribute without a prefix (an NCName).
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// What 1.2 has no element for: an AssociationEvent, sensor data, a persistent disposition,
/// certification info.
const NOT_IN_1_2: &[&str] = &[
    "sensorElementList",
    "persistentDisposition",
    "certificationInfo",
];

/// Writes a JSON-LD EPCIS document as EPCIS XML of `version`.
///
/// # Errors
///
/// For 1.2, the first event that holds what 1.2 cannot say (an AssociationEvent, sensor data,
/// a persistent disposition, certification info); for either, the first with a field whose
/// name no XML element can have. Each with its path: nothing is left out silently.
pub fn write_as(doc: &Value, version: Version) -> Result<String, ImportError> {
    let mut w = Writer {
        version,
        ..Writer::default()
    };
    let base = prefixes_of(doc.get("@context"));
    let (events, path) = match doc["epcisBody"].get("eventList") {
        Some(list) => (
            list.as_array().cloned().unwrap_or_default(),
            "epcisBody.eventList",
        ),
        None => match doc["epcisBody"]["queryResults"]["resultsBody"].get("eventList") {
            Some(list) => (
                list.as_array().cloned().unwrap_or_default(),
                "epcisBody.queryResults.resultsBody.eventList",
            ),
            None => (vec![doc.clone()], "$"),
        },
    };
    let mut body = String::new();
    for (i, e) in events.iter().enumerate() {
        if version == Version::V1_2 {
            let at = if path == "$" {
                "$".to_string()
            } else {
                format!("{path}[{i}]")
            };
            if e["type"] == "AssociationEvent" {
                return Err(err(
                    &at,
                    "an AssociationEvent, which EPCIS 1.2 does not have: export as EPCIS 2.0",
                ));
            }
            if let Some(field) = NOT_IN_1_2.iter().find(|f| e.get(**f).is_some()) {
                return Err(err(
                    &format!("{at}.{field}"),
                    "EPCIS 1.2 has no such field: export as EPCIS 2.0",
                ));
            }
        }
        let mut p = base.clone();
        p.extend(prefixes_of(e.get("@context")));
        w.event(e, &p, &mut body);
        if let Some(key) = w.bad.take() {
            let at = if path == "$" {
                "$".to_string()
            } else {
                format!("{path}[{i}]")
            };
            return Err(err(
                &at,
                format!(
                    "holds a field named {key:?}, which no XML element can be named: this event can be exported as JSON-LD only"
                ),
            ));
        }
    }
    let (ns, schema_version) = match version {
        Version::V2_0 => (EPCIS_2, "2.0"),
        Version::V1_2 => ("urn:epcglobal:epcis:xsd:1", "1.2"),
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let created = doc["creationDate"]
        .as_str()
        .unwrap_or("1970-01-01T00:00:00Z");
    let _ = write!(
        out,
        "<epcis:EPCISDocument xmlns:epcis=\"{ns}\" xmlns:gs1=\"{GS1_VOC}\""
    );
    for (ns, prefix) in &w.namespaces {
        let _ = write!(out, " xmlns:{prefix}=\"{}\"", escape(ns));
    }
    let _ = write!(
        out,
        " schemaVersion=\"{schema_version}\" creationDate=\"{}\">\n<EPCISBody>\n<EventList>\n{body}</EventList>\n</EPCISBody>\n</epcis:EPCISDocument>\n",
        escape(created)
    );
    Ok(out)
}

/// The prefixes a JSON-LD `@context` declares.
fn prefixes_of(context: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let items = match context {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    for item in items {
        if let Value::Object(m) = item {
            for (k, v) in m {
                if let Some(s) = v.as_str() {
                    out.insert(k.clone(), s.to_string());
                }
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

struct Writer {
    /// Each extension namespace and the prefix it is declared with.
    namespaces: BTreeMap<String, String>,
    version: Version,
    /// The first field name met that no XML element can have (JSON-LD keys are any text).
    bad: Option<String>,
}

impl Default for Writer {
    fn default() -> Writer {
        Writer {
            namespaces: BTreeMap::new(),
            version: Version::V2_0,
            bad: None,
        }
    }
}

impl Writer {
    /// The qualified element name of an extension key (`prefix:name` or a full IRI).
    fn qname(&mut self, key: &str, prefixes: &BTreeMap<String, String>) -> String {
        let (ns, local) = match key.split_once(':') {
            Some((p, local)) if prefixes.contains_key(p) => {
                (prefixes[p].clone(), local.to_string())
            }
            _ => match key.rfind(['/', '#', ':']) {
                Some(i) => (key[..=i].to_string(), key[i + 1..].to_string()),
                None => return key.to_string(),
            },
        };
        if !is_ncname(&local) {
            self.bad.get_or_insert_with(|| key.to_string());
        }
        let next = self.namespaces.len() + 1;
        let wanted = key
            .split_once(':')
            .map(|(p, _)| p)
            .filter(|p| prefixes.contains_key(*p) && !p.starts_with("xml") && is_ncname(p))
            .map(str::to_string);
        let prefix = self.namespaces.get(&ns).cloned().unwrap_or_else(|| {
            let taken =
                |p: &str| self.namespaces.values().any(|x| x == p) || p == "epcis" || p == "gs1";
            match wanted {
                Some(p) if !taken(&p) => p,
                _ => format!("ns{next}"),
            }
        });
        self.namespaces.insert(ns, prefix.clone());
        format!("{prefix}:{local}")
    }

    fn extension(&mut self, key: &str, v: &Value, p: &BTreeMap<String, String>, out: &mut String) {
        let name = if key.contains(':') {
            self.qname(key, p)
        } else {
            if !is_ncname(key) {
                self.bad.get_or_insert_with(|| key.to_string());
            }
            key.to_string()
        };
        match v {
            Value::Array(items) => {
                for item in items {
                    self.extension(key, item, p, out);
                }
            }
            // A JSON-LD value object is its value.
            Value::Object(m) if m.contains_key("@value") => {
                self.extension(key, &m["@value"], p, out);
            }
            Value::Object(m) => {
                let _ = write!(out, "<{name}>");
                for (k, x) in m.iter().filter(|(k, _)| !k.starts_with('@')) {
                    self.extension(k, x, p, out);
                }
                let _ = writeln!(out, "</{name}>");
            }
            other => {
                let _ = writeln!(out, "<{name}>{}</{name}>", escape(&scalar(other)));
            }
        }
    }

    fn list(out: &mut String, name: &str, item: &str, v: &Value) {
        let _ = write!(out, "<{name}>");
        for x in v.as_array().into_iter().flatten() {
            let _ = write!(out, "<{item}>{}</{item}>", escape(&scalar(x)));
        }
        let _ = writeln!(out, "</{name}>");
    }

    fn event(&mut self, e: &Value, p: &BTreeMap<String, String>, out: &mut String) {
        let Some(m) = e.as_object() else {
            return;
        };
        let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
        let name = if EVENT_TYPES.contains(&kind) {
            kind.to_string()
        } else {
            self.qname(kind, &BTreeMap::new())
        };
        // 1.2 writes its TransformationEvent in an extension of the event list.
        let wrapped = self.version == Version::V1_2 && kind == "TransformationEvent";
        if wrapped {
            out.push_str("<extension>");
        }
        let _ = writeln!(out, "<{name}>");
        let order = xml_order(kind);
        let mut keys: Vec<&String> = m
            .keys()
            .filter(|k| *k != "type" && *k != "@context")
            .collect();
        keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
        if self.version == Version::V1_2 {
            // eventID and errorDeclaration in baseExtension after the times; the fields 1.1
            // added in extension after the 1.0 ones, before any vendor's.
            let base = ["eventID", "errorDeclaration"];
            let added: &[&str] = match kind {
                "ObjectEvent" => &["quantityList", "sourceList", "destinationList", "ilmd"],
                "AggregationEvent" => &["childQuantityList", "sourceList", "destinationList"],
                "TransactionEvent" => &["quantityList", "sourceList", "destinationList"],
                _ => &[],
            };
            let times = ["eventTime", "recordTime", "eventTimeZoneOffset"];
            for k in keys.iter().filter(|k| times.contains(&k.as_str())) {
                self.field(k, &m[k.as_str()], p, out);
            }
            if keys.iter().any(|k| base.contains(&k.as_str())) {
                out.push_str("<baseExtension>");
                for k in keys.iter().filter(|k| base.contains(&k.as_str())) {
                    self.field(k, &m[k.as_str()], p, out);
                }
                out.push_str("</baseExtension>\n");
            }
            let standard = |k: &str| order.contains(&k);
            for k in keys.iter().filter(|k| {
                standard(k)
                    && !times.contains(&k.as_str())
                    && !base.contains(&k.as_str())
                    && !added.contains(&k.as_str())
            }) {
                self.field(k, &m[k.as_str()], p, out);
            }
            if keys.iter().any(|k| added.contains(&k.as_str())) {
                out.push_str("<extension>");
                for k in keys.iter().filter(|k| added.contains(&k.as_str())) {
                    self.field(k, &m[k.as_str()], p, out);
                }
                out.push_str("</extension>\n");
            }
            for k in keys.iter().filter(|k| !standard(k)) {
                self.field(k, &m[k.as_str()], p, out);
            }
        } else {
            for k in keys {
                self.field(k, &m[k], p, out);
            }
        }
        let _ = writeln!(out, "</{name}>");
        if wrapped {
            out.push_str("</extension>\n");
        }
    }

    /// One field of an event, as its element.
    fn field(&mut self, k: &str, v: &Value, p: &BTreeMap<String, String>, out: &mut String) {
        match k {
            "eventTime"
            | "recordTime"
            | "eventTimeZoneOffset"
            | "eventID"
            | "parentID"
            | "transformationID"
            | "action" => {
                let _ = writeln!(out, "<{k}>{}</{k}>", escape(&scalar(v)));
            }
            "certificationInfo" => {
                let items = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
                for x in items {
                    let _ = writeln!(
                        out,
                        "<certificationInfo>{}</certificationInfo>",
                        escape(&scalar(&x))
                    );
                }
            }
            "bizStep" => {
                let _ = writeln!(
                    out,
                    "<bizStep>{}</bizStep>",
                    escape(&urn(&scalar(v), Vocab::BizStep))
                );
            }
            "disposition" => {
                let _ = writeln!(
                    out,
                    "<disposition>{}</disposition>",
                    escape(&urn(&scalar(v), Vocab::Disposition))
                );
            }
            "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
                Self::list(out, k, "epc", v);
            }
            "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
                let _ = write!(out, "<{k}>");
                for q in v.as_array().into_iter().flatten() {
                    out.push_str("<quantityElement>");
                    for f in ["epcClass", "quantity", "uom"] {
                        if let Some(x) = q.get(f) {
                            let _ = write!(out, "<{f}>{}</{f}>", escape(&scalar(x)));
                        }
                    }
                    out.push_str("</quantityElement>");
                }
                let _ = writeln!(out, "</{k}>");
            }
            "persistentDisposition" => {
                out.push_str("<persistentDisposition>");
                for f in ["set", "unset"] {
                    for x in v.get(f).and_then(Value::as_array).into_iter().flatten() {
                        let _ = write!(
                            out,
                            "<{f}>{}</{f}>",
                            escape(&urn(&scalar(x), Vocab::Disposition))
                        );
                    }
                }
                out.push_str("</persistentDisposition>\n");
            }
            "readPoint" | "bizLocation" | "ilmd" => {
                let _ = write!(out, "<{k}>");
                for (f, x) in v.as_object().into_iter().flatten() {
                    if f == "id" {
                        let _ = write!(out, "<id>{}</id>", escape(&scalar(x)));
                    } else {
                        self.extension(f, x, p, out);
                    }
                }
                let _ = writeln!(out, "</{k}>");
            }
            "bizTransactionList" | "sourceList" | "destinationList" => {
                let (item, vocab) = match k {
                    "bizTransactionList" => ("bizTransaction", Vocab::Transaction),
                    "sourceList" => ("source", Vocab::SourceDest),
                    _ => ("destination", Vocab::SourceDest),
                };
                let _ = write!(out, "<{k}>");
                for t in v.as_array().into_iter().flatten() {
                    let _ = write!(out, "<{item}");
                    if let Some(kind) = t.get("type") {
                        let _ = write!(out, " type=\"{}\"", escape(&urn(&scalar(kind), vocab)));
                    }
                    let _ = write!(out, ">{}</{item}>", escape(&scalar(&t[item])));
                }
                let _ = writeln!(out, "</{k}>");
            }
            "sensorElementList" => {
                out.push_str("<sensorElementList>\n");
                for s in v.as_array().into_iter().flatten() {
                    out.push_str("<sensorElement>");
                    if let Some(meta) = s.get("sensorMetadata") {
                        self.attributed(out, "sensorMetadata", meta, p);
                    }
                    for r in s
                        .get("sensorReport")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        self.attributed(out, "sensorReport", r, p);
                    }
                    for (f, x) in s.as_object().into_iter().flatten() {
                        if f != "sensorMetadata" && f != "sensorReport" {
                            self.extension(f, x, p, out);
                        }
                    }
                    out.push_str("</sensorElement>\n");
                }
                out.push_str("</sensorElementList>\n");
            }
            "errorDeclaration" => {
                out.push_str("<errorDeclaration>");
                for (f, x) in v.as_object().into_iter().flatten() {
                    match f.as_str() {
                        "declarationTime" => {
                            let _ = write!(
                                out,
                                "<declarationTime>{}</declarationTime>",
                                escape(&scalar(x))
                            );
                        }
                        "reason" => {
                            let _ = write!(
                                out,
                                "<reason>{}</reason>",
                                escape(&urn(&scalar(x), Vocab::ErrorReason))
                            );
                        }
                        "correctiveEventIDs" => Self::list(out, f, "correctiveEventID", x),
                        _ => self.extension(f, x, p, out),
                    }
                }
                out.push_str("</errorDeclaration>\n");
            }
            _ => self.extension(k, v, p, out),
        }
    }

    /// A sensor element's metadata or report: fields as attributes, measurement types and
    /// alerts as GS1 Web Vocabulary names.
    fn attributed(
        &mut self,
        out: &mut String,
        name: &str,
        v: &Value,
        p: &BTreeMap<String, String>,
    ) {
        let _ = write!(out, "<{name}");
        for (f, x) in v.as_object().into_iter().flatten() {
            let value = scalar(x);
            let value = match f.as_str() {
                "type" | "exception"
                    if MEASUREMENT_TYPES.contains(&value.as_str())
                        || value == "ALARM_CONDITION"
                        || value == "ERROR_CONDITION" =>
                {
                    format!("gs1:{value}")
                }
                "component" if !value.contains(':') => {
                    format!("https://ref.gs1.org/cbv/Comp-{value}")
                }
                _ => value,
            };
            let attr = if f.contains(':') {
                self.qname(f, p)
            } else {
                if !is_ncname(f) {
                    self.bad.get_or_insert_with(|| f.clone());
                }
                f.clone()
            };
            let _ = write!(out, " {attr}=\"{}\"", escape(&value));
        }
        out.push_str("/>");
    }
}
