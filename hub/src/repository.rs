//! The hub as an EPCIS 2.0 repository: events captured from the manufacturer's systems (and
//! its partners' repositories) kept exactly as they came, queried with the standard
//! parameters, and — for those the verdict engine judges — reconciled and flagged exactly as
//! a handheld's scans are.
//!
//! Reading a document is the ledger's ([`custodian_ledger::epcis::read`]): the same check
//! against EPCIS 2.0, the same judging. What the hub adds is storage by event id with the
//! columns the standard queries select on, the caller's right to speak for its organisation,
//! and whose events each caller may read ([`Scope`]).
//!
//! **Invariant:** a partner's query selects only events its own organisation captured (the
//! `org` column), whatever else it asks; the restriction is part of every statement here, not
//! a filter applied afterwards.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use custodian_ledger::epcis::{self, ImportError};
use custodian_ledger::sql::{AsDb, Batched, Cell, ToCell, params};
use custodian_ledger::{Event, Recorder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::HubError;
use crate::accounts::{Caller, Scope};
use crate::flags::FlagDocs;

/// The EPCIS 2.0 JSON-LD context every document the repository writes names.
pub const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// The most events a page of a query holds, and the default.
pub const MAX_PER_PAGE: usize = 1000;
pub const DEFAULT_PER_PAGE: usize = 30;
/// The most values one query parameter may list.
pub const MAX_VALUES: usize = 100;

/// How many events a document may hold, and how large it may be, as the capture interface
/// announces them (`GS1-EPCIS-Capture-Limit`, `GS1-EPCIS-Capture-File-Size-Limit`).
pub use custodian_ledger::epcis::{MAX_DOCUMENT_BYTES, MAX_EVENTS};

/// What a capture stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Captured {
    /// Events stored (new).
    pub stored: usize,
    /// Events held before (the same id and content), stored nothing.
    pub repeated: usize,
    /// Events the verdict engine judged and reconciled.
    pub judged: usize,
    /// Flags the judged events raised.
    pub flags: usize,
    /// The ids of the document's events, in its order.
    pub ids: Vec<String>,
}

/// An error of a capture: the path of the event (or document part) at fault and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaptureError {
    /// An EPCIS exception type: `epcisException:ValidationException`,
    /// `epcisException:CaptureLimitExceededException`, `epcisException:SecurityException`…
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// The JSON path of the first error.
    pub instance: String,
}

impl CaptureError {
    fn from_hub(e: &HubError, path: &str) -> CaptureError {
        let (kind, status) = match e {
            HubError::Forbidden(_) => ("epcisException:SecurityException", 403),
            HubError::Conflict(_) => ("epcisException:ValidationException", 409),
            HubError::BadRequest(_) | HubError::NotFound(_) => {
                ("epcisException:ValidationException", 400)
            }
            HubError::TooLarge(_) => ("epcisException:CaptureLimitExceededException", 413),
            HubError::Unavailable(detail) => {
                eprintln!("hub: registry unavailable during a capture: {detail}");
                ("epcisException:ImplementationException", 503)
            }
            other => {
                eprintln!("hub: capture failed: {other}");
                ("epcisException:ImplementationException", 500)
            }
        };
        CaptureError {
            kind: kind.into(),
            title: match e {
                HubError::Internal(_) => "internal error; see the hub's log".into(),
                HubError::Unavailable(_) => {
                    "the registry is unavailable for a moment; try again".into()
                }
                other => other.to_string(),
            },
            status,
            instance: path.into(),
        }
    }

    fn from_import(e: &ImportError) -> CaptureError {
        CaptureError {
            kind: "epcisException:ValidationException".into(),
            title: e.message.clone(),
            status: 400,
            instance: e.path.clone(),
        }
    }
}

/// A capture's failure: refused whole, with the first error.
#[derive(Debug)]
pub struct Refused(pub CaptureError, pub HubError);

impl From<HubError> for Refused {
    fn from(e: HubError) -> Refused {
        Refused(CaptureError::from_hub(&e, "$"), e)
    }
}

/// Reads a capture's body: JSON-LD, or EPCIS XML (2.0 or 1.2) when it starts with `<`.
pub fn parse_body(body: &[u8]) -> Result<Value, Refused> {
    if body.len() > MAX_DOCUMENT_BYTES * 2 {
        return Err(HubError::TooLarge(format!(
            "a capture is at most {} MiB",
            (MAX_DOCUMENT_BYTES * 2) >> 20
        ))
        .into());
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| HubError::BadRequest(format!("the body is not UTF-8: {e}")))?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        return epcis::xml::read(trimmed).map_err(|e| {
            let c = CaptureError::from_import(&e);
            Refused(c, HubError::BadRequest(e.to_string()))
        });
    }
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(HubError::TooLarge(format!(
            "a JSON-LD capture is at most {} MiB",
            MAX_DOCUMENT_BYTES >> 20
        ))
        .into());
    }
    serde_json::from_str(trimmed)
        .map_err(|e| HubError::BadRequest(format!("the body is not JSON: {e}")).into())
}

/// The columns a stored event is selected on.
struct Columns {
    id: String,
    /// The id is the event's CBV hash id: an event held under it is this event.
    by_content: bool,
    declared: bool,
    event_type: String,
    action: Option<String>,
    event_time: i64,
    biz_step: Option<String>,
    disposition: Option<String>,
    read_point: Option<String>,
    biz_location: Option<String>,
    /// (identifier, role) pairs.
    epcs: Vec<(String, &'static str)>,
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn id_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(|x| x.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The form identifiers are stored and matched in: a unit's or logistic unit's Digital Link on
/// `id.gs1.org` whatever form it came in (an EPC URN, another domain), anything else as it came.
pub fn identifier_key(s: &str) -> String {
    match epcis::tracked_epc(s) {
        Ok(Some(epc)) => epc.uri(),
        _ => s.to_string(),
    }
}

/// The id an event is stored under: its `eventID`, or for one that comes without, its CBV 2.0
/// event hash id (`ni:///sha-256;…?ver=CBV2.0`, as GS1's algorithm makes it from the event and
/// the document's `context`): the same event captured again, from any system, has the same id.
/// With it, whether the id stands for the event's content: a hash id the algorithm gives this
/// event, so that another event under it is the same event written otherwise.
fn event_id(event: &Value, context: Option<&Value>, canonical: &str) -> (String, bool) {
    let given = text_of(event, "eventID");
    if let Some(id) = &given
        && !id.ends_with(&format!("?ver={}", epcis::HASH_ID_VERSION))
    {
        return (id.clone(), false);
    }
    match (given, epcis::event_hash_id(event, context)) {
        (Some(id), Ok(hash)) => {
            let by_content = id == hash;
            (id, by_content)
        }
        (Some(id), Err(_)) => (id, false),
        (None, Ok(hash)) => (hash, true),
        // Only for what the check lets through and the algorithm cannot read (none is known):
        // the content's own digest, still the same for the same text.
        (None, Err(_)) => (
            format!(
                "ni:///sha-256;{}",
                hex::encode(Sha256::digest(canonical.as_bytes()))
            ),
            false,
        ),
    }
}

fn columns(
    event: &Value,
    context: Option<&Value>,
    canonical: &str,
    path: &str,
) -> Result<Columns, HubError> {
    let time = text_of(event, "eventTime").unwrap_or_default();
    let event_time = DateTime::parse_from_rfc3339(&time)
        .map_err(|e| HubError::BadRequest(format!("{path}.eventTime: {e}")))?
        .timestamp_millis();
    let mut epcs = Vec::new();
    let mut list = |key: &str, role: &'static str| {
        if let Some(items) = event.get(key).and_then(Value::as_array) {
            for item in items {
                if let Some(s) = item.as_str() {
                    epcs.push((identifier_key(s), role));
                }
            }
        }
    };
    list("epcList", "epc");
    list("childEPCs", "epc");
    list("inputEPCList", "input");
    list("outputEPCList", "output");
    let mut classes = |key: &str, role: &'static str| {
        if let Some(items) = event.get(key).and_then(Value::as_array) {
            for item in items {
                if let Some(s) = item.get("epcClass").and_then(Value::as_str) {
                    epcs.push((s.to_string(), role));
                }
            }
        }
    };
    classes("quantityList", "class");
    classes("childQuantityList", "class");
    classes("inputQuantityList", "input_class");
    classes("outputQuantityList", "output_class");
    if let Some(parent) = event.get("parentID").and_then(Value::as_str) {
        epcs.push((identifier_key(parent), "parent"));
    }
    epcs.sort_unstable();
    epcs.dedup();
    let (id, by_content) = event_id(event, context, canonical);
    Ok(Columns {
        id,
        by_content,
        declared: event.get("errorDeclaration").is_some(),
        event_type: text_of(event, "type").unwrap_or_default(),
        action: text_of(event, "action"),
        event_time,
        biz_step: text_of(event, "bizStep"),
        disposition: text_of(event, "disposition"),
        read_point: id_of(event, "readPoint"),
        biz_location: id_of(event, "bizLocation"),
        epcs,
    })
}

/// The recorder of events a caller captures that do not say who recorded them: the caller's
/// organisation, its site, and the account.
fn recorder(conn: impl AsDb, caller: &Caller) -> Result<Recorder, HubError> {
    let conn = conn.db();
    let site: Option<String> = conn.query_opt(
        "SELECT id FROM sites WHERE org = ?1 ORDER BY id LIMIT 1",
        params![caller.org],
        |r| r.get(0),
    )?;
    Ok(Recorder {
        org: caller.org.clone(),
        site: site.unwrap_or_else(|| "main".into()),
        device: format!("api:{}", caller.account),
    })
}

/// A document read and checked, ready to store: what needs no store, done before the store is
/// taken (a capture's costliest part runs while another capture is storing).
pub struct Prepared {
    imported: epcis::Imported,
    /// Each kept event's columns and path, in the document's order.
    columns: Vec<(Columns, String)>,
}

/// The events of a document as its check lists them, with each one's path.
fn event_values(doc: &Value) -> Vec<(&Value, String)> {
    let (list, prefix) = match doc.get("type").and_then(Value::as_str) {
        Some("EPCISQueryDocument") => (
            doc.pointer("/epcisBody/queryResults/resultsBody/eventList"),
            "epcisBody.queryResults.resultsBody.eventList",
        ),
        Some("EPCISDocument") => (doc.pointer("/epcisBody/eventList"), "epcisBody.eventList"),
        _ => return vec![(doc, "$".to_string())],
    };
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (v, format!("{prefix}[{i}]")))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads `doc` (an EPCIS document, query document or single event) as `fallback` would have
/// recorded the events that do not say who did: checked against EPCIS 2.0, judged, and each
/// event's columns worked out. Needs no store.
///
/// # Errors
///
/// The first error, with its path.
pub fn prepare(doc: &Value, fallback: &Recorder, now: DateTime<Utc>) -> Result<Prepared, Refused> {
    let imported = epcis::read(doc, fallback, now.fixed_offset()).map_err(|e| {
        Refused(
            CaptureError::from_import(&e),
            HubError::BadRequest(e.to_string()),
        )
    })?;
    let values = event_values(doc);
    let context = match doc.get("type").and_then(Value::as_str) {
        Some("EPCISDocument" | "EPCISQueryDocument") => doc.get("@context"),
        _ => None,
    };
    if values.len() != imported.kept.len() {
        return Err(HubError::Internal(format!(
            "{} events read from a document of {}",
            imported.kept.len(),
            values.len()
        ))
        .into());
    }
    let columns = values
        .into_iter()
        .zip(&imported.kept)
        .map(|((value, path), (text, _))| {
            columns(value, context, text, &path)
                .map(|c| (c, path.clone()))
                .map_err(|e| Refused(CaptureError::from_hub(&e, &path), e))
        })
        .collect::<Result<_, _>>()?;
    Ok(Prepared { imported, columns })
}

/// Captures `doc` for `caller` inside the transaction `conn` is in ([`prepare`], then
/// [`store`]).
///
/// # Errors
///
/// As [`prepare`] and [`store`].
pub fn capture(
    conn: impl AsDb,
    caller: &Caller,
    doc: &Value,
    now: DateTime<Utc>,
) -> Result<Captured, Refused> {
    let conn = conn.db();
    let prepared = prepare(doc, &recorder(conn, caller)?, now)?;
    store(conn, caller, &prepared, now)
}

/// Stores a prepared document for `caller`, all or nothing, inside the transaction `conn` is
/// in: every event as it came under its id, and those the verdict engine judges reconciled.
///
/// # Errors
///
/// The first error, with its path: an event claims to be recorded by another organisation, an
/// event id is held with other content.
pub fn store(
    conn: impl AsDb,
    caller: &Caller,
    prepared: &Prepared,
    now: DateTime<Utc>,
) -> Result<Captured, Refused> {
    let conn = conn.db();
    let imported = &prepared.imported;
    let record_time = now.timestamp_millis();
    let mut out = Captured::default();
    let mut flags = FlagDocs::new();
    static EPCS: Batched = Batched {
        sql: "INSERT INTO captured_epcs (epc, role, seq) VALUES (?1, ?2, ?3)",
        types: &["text", "text", "int8"],
    };
    for ((text, judged), (c, path)) in imported.kept.iter().zip(&prepared.columns) {
        let refuse = |e: HubError| Refused(CaptureError::from_hub(&e, path), e);
        let judged: Option<&Event> = judged.and_then(|j| imported.events.get(j));
        if let Some(e) = judged
            && e.recorded_by().org != caller.org
        {
            return Err(refuse(HubError::Forbidden(format!(
                "{path}: recorded by {}, but {} captures for {}",
                e.recorded_by().org,
                caller.account,
                caller.org
            ))));
        }
        let seq: Option<i64> = conn
            .query_opt(
                "INSERT INTO captured_events (id, declared, org, event_type, action, event_time, record_time,
                     biz_step, disposition, read_point, biz_location, judged, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (id, declared) DO NOTHING RETURNING seq",
                params![
                    c.id,
                    c.declared,
                    caller.org,
                    c.event_type,
                    c.action,
                    c.event_time,
                    record_time,
                    c.biz_step,
                    c.disposition,
                    c.read_point,
                    c.biz_location,
                    judged.map(|e| e.id.0.as_str()),
                    text
                ],
                |r| r.get(0),
            )
            .map_err(|e| refuse(e.into()))?;
        let Some(seq) = seq else {
            // Held already: the same event again stores nothing; other content is a conflict.
            let held: Option<(String, String)> = conn
                .query_opt(
                    "SELECT body, org FROM captured_events WHERE id = ?1 AND declared = ?2",
                    params![c.id, c.declared],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(|e| refuse(e.into()))?;
            if held.is_some_and(|(body, org)| (c.by_content || body == *text) && org == caller.org)
            {
                out.repeated += 1;
                out.ids.push(c.id.clone());
                continue;
            }
            return Err(refuse(HubError::Conflict(format!(
                "{path}: event {} is held already with other content",
                c.id
            ))));
        };
        for (epc, role) in &c.epcs {
            conn.insert_later(&EPCS, params![epc, role, seq])
                .map_err(|e| refuse(e.into()))?;
        }
        if let Some(e) = judged {
            let raised = crate::reconcile::record(conn, &mut flags, e, now).map_err(refuse)?;
            out.judged += 1;
            out.flags += raised.map_or(0, |f| f.len());
        }
        out.stored += 1;
        out.ids.push(c.id.clone());
    }
    flags.write(conn)?;
    Ok(out)
}

/// The standard query parameters the repository answers (EPCIS 2.0 §8.2.7.1, as the REST
/// binding names them). Lists are `|`-separated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct Query {
    /// Event types, `|`-separated (`ObjectEvent|AggregationEvent`).
    pub eventType: Option<String>,
    /// Events at or after this time (RFC 3339).
    pub GE_eventTime: Option<String>,
    /// Events before this time (RFC 3339).
    pub LT_eventTime: Option<String>,
    /// Events recorded at or after this time (RFC 3339).
    pub GE_recordTime: Option<String>,
    /// Events recorded before this time (RFC 3339).
    pub LT_recordTime: Option<String>,
    /// Actions, `|`-separated: ADD, OBSERVE, DELETE.
    pub EQ_action: Option<String>,
    /// Business steps, `|`-separated (bare CBV words or URIs).
    pub EQ_bizStep: Option<String>,
    /// Dispositions, `|`-separated.
    pub EQ_disposition: Option<String>,
    /// Read points, `|`-separated.
    pub EQ_readPoint: Option<String>,
    /// Business locations, `|`-separated.
    pub EQ_bizLocation: Option<String>,
    /// Events whose epcList or childEPCs names one of these, `|`-separated.
    pub MATCH_epc: Option<String>,
    /// Events whose parentID is one of these.
    pub MATCH_parentID: Option<String>,
    /// Events whose inputEPCList names one of these.
    pub MATCH_inputEPC: Option<String>,
    /// Events whose outputEPCList names one of these.
    pub MATCH_outputEPC: Option<String>,
    /// Events naming one of these anywhere (EPCs, parent, inputs, outputs).
    pub MATCH_anyEPC: Option<String>,
    /// Events whose quantity lists name one of these classes.
    pub MATCH_epcClass: Option<String>,
    /// Events with one of these ids.
    pub EQ_eventID: Option<String>,
    /// Events that are (true) or are not (false) error declarations.
    pub EXISTS_errorDeclaration: Option<String>,
    /// The most events a page holds (1 to 1000; default 30).
    pub perPage: Option<usize>,
    /// Where a previous page left off.
    pub nextPageToken: Option<String>,
}

/// A page of query results: the events (each with its `recordTime`) and, when there are more,
/// the token of the next page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub events: Vec<Value>,
    pub next: Option<String>,
}

fn list_param(name: &str, value: &Option<String>) -> Result<Option<Vec<String>>, HubError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let items: Vec<String> = value
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if items.is_empty() {
        return Err(HubError::BadRequest(format!(
            "QueryParameterException: {name} names nothing"
        )));
    }
    if items.iter().any(|i| i.contains('\0')) {
        return Err(HubError::BadRequest(format!(
            "QueryParameterException: {name} holds a NUL character"
        )));
    }
    if items.len() > MAX_VALUES || value.len() > 64 * 1024 {
        return Err(HubError::BadRequest(format!(
            "QueryParameterException: {name} lists more than {MAX_VALUES} values"
        )));
    }
    Ok(Some(items))
}

fn time_param(name: &str, value: &Option<String>) -> Result<Option<i64>, HubError> {
    value
        .as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.timestamp_millis())
                .map_err(|e| {
                    HubError::BadRequest(format!(
                        "QueryParameterException: {name} is not an RFC 3339 time ({e})"
                    ))
                })
        })
        .transpose()
}

/// A bare CBV word for `https://ref.gs1.org/cbv/BizStep-shipping`, `urn:epcglobal:cbv:bizstep:shipping`
/// and `shipping` alike; anything else as given.
fn cbv_word(s: &str, vocabulary: &str) -> String {
    let web = format!("https://ref.gs1.org/cbv/{vocabulary}-");
    let urn = format!("urn:epcglobal:cbv:{}:", vocabulary.to_ascii_lowercase());
    s.strip_prefix(&web)
        .or_else(|| s.strip_prefix(&urn))
        .unwrap_or(s)
        .to_string()
}

/// The page token: where the page left off, and a digest of the query it belongs to, so a
/// token is not used with other parameters.
fn token(after: i64, digest: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{after}.{digest}"))
}

fn digest(q: &Query) -> String {
    let mut q = q.clone();
    q.nextPageToken = None;
    let text = format!("{q:?}");
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// Events as `q` selects, for a caller whose reach is `scope`, a page at a time in the order
/// they were captured.
pub fn query(conn: impl AsDb, scope: &Scope, q: &Query) -> Result<Page, HubError> {
    let conn = conn.db();
    let per_page = q.perPage.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(HubError::BadRequest(format!(
            "QueryParameterException: perPage is 1 to {MAX_PER_PAGE}"
        )));
    }
    let digest = digest(q);
    let after = match &q.nextPageToken {
        None => 0,
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                let (after, d) = s.split_once('.')?;
                (d == digest).then(|| after.parse::<i64>().ok()).flatten()
            })
            .ok_or_else(|| {
                HubError::BadRequest(
                    "QueryParameterException: nextPageToken is not one this query gave".into(),
                )
            })?,
    };
    let (rows, more) = select(conn, scope, q, after, per_page)?;
    let mut events = Vec::with_capacity(per_page);
    let mut last = after;
    for (seq, event) in rows {
        events.push(event);
        last = seq;
    }
    Ok(Page {
        events,
        next: more.then(|| token(last, &digest)),
    })
}

/// The events `q`'s selection parameters select (its paging left aside) that were captured
/// after `after` (a `seq`), in capture order, at most `limit`, each with its `seq`; and whether
/// more follow.
///
/// # Errors
///
/// A parameter that is not valid (400, `QueryParameterException`).
pub fn select(
    conn: impl AsDb,
    scope: &Scope,
    q: &Query,
    after: i64,
    limit: usize,
) -> Result<(Vec<(i64, Value)>, bool), HubError> {
    let conn = conn.db();
    // Clauses and their parameters, built together; each list is one JSON parameter.
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    // Parameters are numbered: text ones first (?1…), then integers after them.
    let mut text_clause = |clauses: &mut Vec<String>, sql: &dyn Fn(&str) -> String, v: String| {
        values.push(v);
        clauses.push(sql(&format!("?{}", values.len())));
    };
    if let Scope::Org(org) = scope {
        text_clause(&mut clauses, &|p| format!("e.org = {p}"), org.clone());
    }
    let each = |p: &str| conn.json_each(p);
    let lists: [(&str, &Option<String>, &str, Option<&str>); 7] = [
        ("eventType", &q.eventType, "e.event_type", None),
        ("EQ_action", &q.EQ_action, "e.action", None),
        ("EQ_bizStep", &q.EQ_bizStep, "e.biz_step", Some("BizStep")),
        (
            "EQ_disposition",
            &q.EQ_disposition,
            "e.disposition",
            Some("Disp"),
        ),
        ("EQ_readPoint", &q.EQ_readPoint, "e.read_point", None),
        ("EQ_bizLocation", &q.EQ_bizLocation, "e.biz_location", None),
        ("EQ_eventID", &q.EQ_eventID, "e.id", None),
    ];
    for (name, value, column, vocabulary) in lists {
        if let Some(items) = list_param(name, value)? {
            let items: Vec<String> = match vocabulary {
                Some(v) => items.iter().map(|s| cbv_word(s, v)).collect(),
                None => items,
            };
            if name == "EQ_action"
                && let Some(bad) = items
                    .iter()
                    .find(|a| !["ADD", "OBSERVE", "DELETE"].contains(&a.as_str()))
            {
                return Err(HubError::BadRequest(format!(
                    "QueryParameterException: EQ_action {bad:?} is not ADD, OBSERVE or DELETE"
                )));
            }
            text_clause(
                &mut clauses,
                &|p| format!("{column} IN (SELECT value FROM {} AS j)", each(p)),
                json!(items).to_string(),
            );
        }
    }
    let matches: [(&str, &Option<String>, &[&str]); 6] = [
        ("MATCH_epc", &q.MATCH_epc, &["epc"]),
        ("MATCH_parentID", &q.MATCH_parentID, &["parent"]),
        ("MATCH_inputEPC", &q.MATCH_inputEPC, &["input"]),
        ("MATCH_outputEPC", &q.MATCH_outputEPC, &["output"]),
        (
            "MATCH_anyEPC",
            &q.MATCH_anyEPC,
            &["epc", "parent", "input", "output"],
        ),
        ("MATCH_epcClass", &q.MATCH_epcClass, &["class"]),
    ];
    for (name, value, roles) in matches {
        if let Some(items) = list_param(name, value)? {
            let items: Vec<String> = items.iter().map(|s| identifier_key(s)).collect();
            let roles = roles
                .iter()
                .map(|r| format!("'{r}'"))
                .collect::<Vec<_>>()
                .join(", ");
            text_clause(
                &mut clauses,
                &|p| {
                    format!(
                        "e.seq IN (SELECT seq FROM captured_epcs WHERE epc IN (SELECT value FROM {} AS j) AND role IN ({roles}))",
                        each(p)
                    )
                },
                json!(items).to_string(),
            );
        }
    }
    match q.EXISTS_errorDeclaration.as_deref() {
        None => {}
        Some("true" | "") => clauses.push("e.declared = 1".into()),
        Some("false") => clauses.push("e.declared = 0".into()),
        Some(other) => {
            return Err(HubError::BadRequest(format!(
                "QueryParameterException: EXISTS_errorDeclaration is true or false, not {other:?}"
            )));
        }
    }
    let n_text = values.len();
    let mut int_clause = |sql: &str, v: i64| {
        ints.push(v);
        clauses.push(sql.replace("?", &format!("?{}", n_text + ints.len())));
    };
    int_clause("e.seq > ?", after);
    for (name, value, sql) in [
        ("GE_eventTime", &q.GE_eventTime, "e.event_time >= ?"),
        ("LT_eventTime", &q.LT_eventTime, "e.event_time < ?"),
        ("GE_recordTime", &q.GE_recordTime, "e.record_time >= ?"),
        ("LT_recordTime", &q.LT_recordTime, "e.record_time < ?"),
    ] {
        if let Some(t) = time_param(name, value)? {
            int_clause(sql, t);
        }
    }
    int_clause("1 = ?", 1);
    let sql = format!(
        "SELECT e.seq, e.body, e.record_time FROM captured_events e WHERE {} ORDER BY e.seq LIMIT {}",
        clauses.join(" AND "),
        limit as i64 + 1
    );
    let mut cells: Vec<Cell<'_>> = values.iter().map(|v| Cell::Text(v)).collect();
    cells.extend(ints.iter().map(|v| Cell::Int(*v)));
    let refs: Vec<&dyn ToCell> = cells.iter().map(|c| c as &dyn ToCell).collect();
    let rows: Vec<(i64, String, i64)> = conn.query_map(&sql, refs.as_slice(), |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    let more = rows.len() > limit;
    let events = rows
        .into_iter()
        .take(limit)
        .map(|(seq, body, record_time)| Ok((seq, with_record_time(&body, record_time)?)))
        .collect::<Result<_, HubError>>()?;
    Ok((events, more))
}

fn with_record_time(body: &str, record_time: i64) -> Result<Value, HubError> {
    let mut v: Value = serde_json::from_str(body)
        .map_err(|e| HubError::Internal(format!("a stored event is not JSON: {e}")))?;
    if let (Some(m), Some(t)) = (
        v.as_object_mut(),
        DateTime::from_timestamp_millis(record_time),
    ) {
        m.insert(
            "recordTime".into(),
            t.to_rfc3339_opts(SecondsFormat::Millis, true).into(),
        );
    }
    Ok(v)
}

/// One event by its id, if the caller may read it: its error declaration when there is one
/// (the event as declared erroneous), else the event itself.
pub fn event(conn: impl AsDb, scope: &Scope, id: &str) -> Result<Value, HubError> {
    let conn = conn.db();
    if id.contains('\0') {
        return Err(HubError::NotFound(format!("event {id:?}")));
    }
    let org = match scope {
        Scope::All => None,
        Scope::Org(org) => Some(org.as_str()),
    };
    let row: Option<(String, i64)> = conn.query_opt(
        "SELECT body, record_time FROM captured_events WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR org = ?2)
             ORDER BY declared DESC LIMIT 1",
        params![id, org],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (body, record_time) = row.ok_or_else(|| HubError::NotFound(format!("event {id}")))?;
    with_record_time(&body, record_time)
}

/// The query document the REST binding answers with: `events` as a SimpleEventQuery's results.
pub fn query_document(events: Vec<Value>, created: DateTime<Utc>) -> Value {
    json!({
        "@context": [CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created.to_rfc3339_opts(SecondsFormat::Millis, true),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": { "eventList": events }
            }
        }
    })
}

/// The distinct values of a top-level resource (`event_type`, `biz_step`, `disposition`,
/// `read_point`, `biz_location`, or the identifiers), as the caller may see them, a page at a
/// time: (values, whether there are more).
pub fn resources(
    conn: impl AsDb,
    scope: &Scope,
    resource: Resource,
    after: Option<&str>,
    per_page: usize,
) -> Result<(Vec<String>, bool), HubError> {
    let conn = conn.db();
    let org = match scope {
        Scope::All => None,
        Scope::Org(org) => Some(org.as_str()),
    };
    let (column, from) = match resource {
        Resource::EventTypes => ("e.event_type", "captured_events e"),
        Resource::BizSteps => ("e.biz_step", "captured_events e"),
        Resource::Dispositions => ("e.disposition", "captured_events e"),
        Resource::ReadPoints => ("e.read_point", "captured_events e"),
        Resource::BizLocations => ("e.biz_location", "captured_events e"),
        Resource::Epcs => (
            "x.epc",
            "captured_epcs x JOIN captured_events e ON e.seq = x.seq",
        ),
    };
    let sql = format!(
        "SELECT DISTINCT {column} FROM {from} WHERE {column} IS NOT NULL AND {column} > ?1
         AND (CAST(?2 AS TEXT) IS NULL OR e.org = ?2) ORDER BY {column} LIMIT ?3"
    );
    let mut values: Vec<String> = conn.query_map(
        &sql,
        params![after.unwrap_or(""), org, per_page as i64 + 1],
        |r| r.get(0),
    )?;
    let more = values.len() > per_page;
    values.truncate(per_page);
    Ok((values, more))
}

/// The top-level resources of the REST binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    EventTypes,
    Epcs,
    BizSteps,
    BizLocations,
    ReadPoints,
    Dispositions,
}

/// A capture job: a document captured in bulk, as the REST binding reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureJob {
    #[serde(rename = "captureID")]
    pub capture_id: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub running: bool,
    pub success: bool,
    /// Always `rollback`: a document is stored whole or not at all.
    pub capture_error_behaviour: String,
    pub errors: Vec<CaptureError>,
}

/// Opens a capture job for `caller`; [`finish_job`] closes it.
pub fn open_job(conn: impl AsDb, caller: &Caller, now: DateTime<Utc>) -> Result<String, HubError> {
    let mut id = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
    let id = hex::encode(id);
    conn.db().execute(
        "INSERT INTO capture_jobs (id, org, account, created_at, running, success, events, errors)
         VALUES (?1, ?2, ?3, ?4, 1, 1, 0, '[]')",
        params![
            id,
            caller.org,
            caller.account,
            now.to_rfc3339_opts(SecondsFormat::Millis, true)
        ],
    )?;
    Ok(id)
}

/// Closes capture job `id`: its events, or its error.
pub fn finish_job(
    conn: impl AsDb,
    id: &str,
    outcome: Result<usize, CaptureError>,
    now: DateTime<Utc>,
) -> Result<(), HubError> {
    let (success, events, errors) = match outcome {
        Ok(n) => (true, n, Vec::new()),
        Err(e) => (false, 0, vec![e]),
    };
    conn.db().execute(
        "UPDATE capture_jobs SET running = 0, success = ?2, events = ?3, errors = ?4, finished_at = ?5 WHERE id = ?1",
        params![
            id,
            success,
            events,
            serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into()),
            now.to_rfc3339_opts(SecondsFormat::Millis, true)
        ],
    )?;
    Ok(())
}

fn read_job(r: &custodian_ledger::sql::Row<'_>) -> custodian_ledger::sql::Result<CaptureJob> {
    let errors: String = r.get(5)?;
    Ok(CaptureJob {
        capture_id: r.get(0)?,
        created_at: r.get(1)?,
        finished_at: r.get(2)?,
        running: r.get::<_, i64>(3)? != 0,
        success: r.get::<_, i64>(4)? != 0,
        capture_error_behaviour: "rollback".into(),
        errors: serde_json::from_str(&errors).unwrap_or_default(),
    })
}

/// A capture job, if the caller's organisation opened it (or the caller reads all).
pub fn job(conn: impl AsDb, scope: &Scope, id: &str) -> Result<CaptureJob, HubError> {
    if id.contains('\0') {
        return Err(HubError::NotFound(format!("capture job {id:?}")));
    }
    let org = match scope {
        Scope::All => None,
        Scope::Org(org) => Some(org.as_str()),
    };
    conn.db()
        .query_opt(
            "SELECT id, created_at, finished_at, running, success, errors FROM capture_jobs
             WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR org = ?2)",
            params![id, org],
            read_job,
        )?
        .ok_or_else(|| HubError::NotFound(format!("capture job {id}")))
}

/// Capture jobs, newest first, a page at a time after job `after`.
pub fn jobs(
    conn: impl AsDb,
    scope: &Scope,
    after: Option<&str>,
    per_page: usize,
) -> Result<(Vec<CaptureJob>, bool), HubError> {
    let org = match scope {
        Scope::All => None,
        Scope::Org(org) => Some(org.as_str()),
    };
    let mut jobs = conn.db().query_map(
        "SELECT id, created_at, finished_at, running, success, errors FROM capture_jobs
         WHERE (CAST(?1 AS TEXT) IS NULL OR org = ?1) AND id > ?2 ORDER BY id LIMIT ?3",
        params![org, after.unwrap_or(""), per_page as i64 + 1],
        read_job,
    )?;
    let more = jobs.len() > per_page;
    jobs.truncate(per_page);
    Ok((jobs, more))
}

/// Whether an event naming `epc` is held at all (for `/epcs/{epc}`).
pub fn names(conn: impl AsDb, scope: &Scope, epc: &str) -> Result<bool, HubError> {
    let org = match scope {
        Scope::All => None,
        Scope::Org(org) => Some(org.as_str()),
    };
    Ok(conn
        .db()
        .query_opt(
            "SELECT 1 FROM captured_epcs x JOIN captured_events e ON e.seq = x.seq
             WHERE x.epc = ?1 AND (CAST(?2 AS TEXT) IS NULL OR e.org = ?2) LIMIT 1",
            params![identifier_key(epc), org],
            |r| r.get::<_, i64>(0),
        )?
        .is_some())
}

/// Captures as the API and the command line both do: `doc` stored whole in one transaction
/// with its audit entry (`action` on `target`), or nothing and the first error.
impl crate::Registry {
    /// How many events the repository holds.
    pub fn captured_events(&self) -> Result<usize, HubError> {
        let n: i64 = self.conn()?.db().query_row(
            "SELECT count(*) FROM captured_events",
            params![],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub fn capture(
        &self,
        caller: &Caller,
        doc: &Value,
        action: &str,
        target: &str,
        now: DateTime<Utc>,
    ) -> Result<Captured, Refused> {
        let prepared = self.prepare_capture(caller, doc, now)?;
        self.store_capture(caller, &prepared, action, target, now)
    }

    /// Reads and judges `doc` for `caller` ([`prepare`]) without holding the store: another
    /// capture stores meanwhile.
    pub fn prepare_capture(
        &self,
        caller: &Caller,
        doc: &Value,
        now: DateTime<Utc>,
    ) -> Result<Prepared, Refused> {
        caller.require(crate::accounts::Action::Capture)?;
        let fallback = recorder(&self.conn()?, caller)?;
        prepare(doc, &fallback, now)
    }

    /// Stores a prepared document ([`store`]) with its audit entry, in one transaction.
    pub fn store_capture(
        &self,
        caller: &Caller,
        prepared: &Prepared,
        action: &str,
        target: &str,
        now: DateTime<Utc>,
    ) -> Result<Captured, Refused> {
        caller.require(crate::accounts::Action::Capture)?;
        let guard = self.conn()?;
        let tx = guard.db().transaction().map_err(HubError::from)?;
        let captured = store(tx.db(), caller, prepared, now)?;
        let target = if target.is_empty() {
            captured.ids.first().map_or("", String::as_str)
        } else {
            target
        };
        crate::audit::append(
            tx.db(),
            caller,
            action,
            target,
            &json!({ "stored": captured.stored, "repeated": captured.repeated,
                     "judged": captured.judged, "flags": captured.flags }),
            now,
        )?;
        tx.commit().map_err(HubError::from)?;
        Ok(captured)
    }
}
