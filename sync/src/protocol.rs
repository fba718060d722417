//! The sync wire format (version 1) and the pure parts of the exchange.
//!
//! One sync is a series of request/response rounds over plain HTTPS POSTs, so it survives
//! proxies and links that drop long connections. Each round the device uploads a bounded batch
//! of its new events (from a persisted cursor), asks for the hub's events after its download
//! cursor, and exchanges at most one Automerge sync message per working document each way, none
//! for a document that changed on neither side ([`crate::docsync`]). Events are idempotent by
//! content id, so a round replayed after a cut stores nothing twice.
//!
//! The registry extract travels by version: the device says which it holds, and the hub answers
//! with nothing when it is current, with the changes since ([`ExtractDelta`]) when the device
//! takes deltas, or with the whole extract.
//!
//! Bodies are JSON compressed with zstd. **API Boundary:** changing these types changes the wire
//! format: bump [`PROTOCOL_VERSION`]. A field that an older peer may ignore and that defaults
//! when missing (as `extract_deltas` and `extract_delta`) keeps the version: an older device
//! never asks for deltas, so it keeps receiving the whole extract.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use custodian_ledger::extract::ExtractDelta;
use custodian_ledger::{Event, RegistryExtract};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub const PROTOCOL_VERSION: u32 = 1;

/// The largest body either side accepts (compressed), and the most events in one batch.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
pub const MAX_EVENTS_PER_ROUND: usize = 10_000;
/// The most bytes of events' JSON one answer carries (it carries one event, however large,
/// past it): ten thousand shipments of a thousand units each are half a gigabyte, past what
/// either limit above lets a device read, so an answer holds fewer. A quarter of the
/// decompressed limit leaves room for the rest of the answer, and events' JSON compresses
/// well below half (their identifiers are the least compressible part).
pub const MAX_ANSWER_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// One Automerge sync message for one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMessage {
    pub doc: String,
    /// The encoded `automerge::sync::Message`, base64.
    pub message: String,
}

impl DocMessage {
    pub fn new(doc: &str, message: automerge::sync::Message) -> DocMessage {
        DocMessage {
            doc: doc.to_string(),
            message: STANDARD.encode(message.encode()),
        }
    }

    pub fn decode(&self) -> Result<automerge::sync::Message, Error> {
        let bytes = STANDARD.decode(&self.message).map_err(|e| {
            Error::Malformed(format!("document {}: message is not base64: {e}", self.doc))
        })?;
        automerge::sync::Message::decode(&bytes).map_err(|e| {
            Error::Malformed(format!(
                "document {}: not an Automerge sync message: {e}",
                self.doc
            ))
        })
    }
}

/// Device → hub. `U` is how the request holds its uploaded events: decoded (the hub reads
/// them), or as the device stores them ([`Stored`]), which encode to the same JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest<U = Event> {
    pub v: u32,
    /// Events recorded on the device, oldest first.
    pub upload: Vec<U>,
    /// The device-side sequence number of the last uploaded event (its upload cursor once acked).
    pub upload_through: i64,
    /// The hub-side cursor after which the device wants events.
    pub download_after: i64,
    /// The registry extract version the device holds (0: none).
    pub extract_version: u64,
    /// The device can apply an [`ExtractDelta`] (older devices only take the whole extract).
    #[serde(default)]
    pub extract_deltas: bool,
    /// Documents the device holds (so the hub only introduces the ones it lacks).
    pub known_docs: Vec<String>,
    pub docs: Vec<DocMessage>,
    /// The most events the device wants in the answer, below [`MAX_EVENTS_PER_ROUND`]: smaller
    /// rounds suit a link that drops long transfers. Missing (older devices): the full round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_limit: Option<usize>,
    /// The hub-side cursor after which the device wants the units its organisation's flags list
    /// (missing, from older devices: they are sent none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_units_after: Option<i64>,
    /// The device's upload cursor: its events up to this sequence number the hub acknowledged
    /// (missing, from older devices: the hub does not check it; see
    /// [`SyncResponse::upload_from`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_after: Option<i64>,
    /// The counter of the last request whose answer the device applied. Above the last one the
    /// hub holds as answered, it tells the hub that its registry was restored from a backup
    /// taken before that answer: what the hub then knew of the device's documents is gone with
    /// it, and it asks about each afresh. Missing (older devices): the hub does not check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<u64>,
}

/// An event as a device stores it: its JSON, which is the event's JSON.
pub type Stored = Box<serde_json::value::RawValue>;

impl<U> SyncRequest<U> {
    /// How many events the answer to this request may carry: what the device asked for, never
    /// less than one nor more than [`MAX_EVENTS_PER_ROUND`].
    pub fn download_limit(&self) -> usize {
        self.download_limit
            .unwrap_or(MAX_EVENTS_PER_ROUND)
            .clamp(1, MAX_EVENTS_PER_ROUND)
    }
}

/// Hub → device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub v: u32,
    /// How many uploaded events were new to the hub.
    pub stored: usize,
    /// Events for the device's organisation and site, oldest first.
    pub events: Vec<Event>,
    /// The device's new download cursor.
    pub download_cursor: i64,
    /// More events are waiting: ask again.
    pub more: bool,
    pub docs: Vec<DocMessage>,
    /// A newer registry extract, whole, when the device's is out of date and no delta serves.
    pub extract: Option<RegistryExtract>,
    /// The changes from the device's extract version to the hub's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract_delta: Option<ExtractDelta>,
    /// Flags this round's upload raised for the device's own organisation. Flags it raised for
    /// other organisations (the manufacturer, the holder on record) are left out on purpose: the
    /// device never receives them, and the count would tell it about other organisations'
    /// flags.
    pub flags_raised: usize,
    /// The hub's clock (RFC 3339), for measuring the device's clock offset.
    pub hub_time: String,
    /// Units listed by the organisation's flags, or accounted for, since the device's cursor,
    /// oldest change first (a flag stands for a cause and lists its units beside the flags
    /// document, which holds only their counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flag_units: Vec<custodian_ledger::docs::FlagUnit>,
    /// The device's new flag-unit cursor.
    #[serde(default)]
    pub flag_units_cursor: i64,
    /// More listed units are waiting: ask again.
    #[serde(default)]
    pub flag_units_more: bool,
    /// The hub no longer holds events it acknowledged to this device (its registry was
    /// restored from a backup taken before them): the device's upload cursor goes back to
    /// this, the last the hub knows it acknowledged, and the events after it go again. The
    /// round's upload was not stored: events are reconciled in the order they happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_from: Option<i64>,
}

/// Errors of encoding and decoding the wire format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body could not be decoded: not zstd, not JSON of the expected shape, wrong version.
    #[error("malformed sync message: {0}")]
    Malformed(String),
    /// The body exceeds [`MAX_BODY_BYTES`].
    #[error("sync message of {0} bytes exceeds the limit of {MAX_BODY_BYTES}")]
    TooLarge(usize),
}

/// Serialises and compresses a message.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let json = serde_json::to_vec(message).expect("sync messages always serialise");
    zstd::bulk::compress(&json, 3).expect("zstd compression of an in-memory buffer does not fail")
}

/// Decompresses and deserialises a message, refusing oversized bodies and other versions.
pub fn decode<T: DeserializeOwned + Versioned>(body: &[u8]) -> Result<T, Error> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::TooLarge(body.len()));
    }
    let json = zstd::bulk::decompress(body, MAX_BODY_BYTES * 8)
        .map_err(|e| Error::Malformed(format!("not a zstd body within the size limit: {e}")))?;
    let message: T = serde_json::from_slice(&json).map_err(|e| Error::Malformed(e.to_string()))?;
    if message.version() != PROTOCOL_VERSION {
        return Err(Error::Malformed(format!(
            "protocol version {} is not supported (this side speaks {PROTOCOL_VERSION})",
            message.version()
        )));
    }
    Ok(message)
}

/// As [`decode`] for a device's request, its uploaded events decoded on up to `threads`
/// threads: a round carries up to [`MAX_EVENTS_PER_ROUND`] events, and decoding them is a
/// good part of the hub's work on the round. An event that does not decode is named by its
/// place in the upload.
pub fn decode_request(body: &[u8], threads: usize) -> Result<SyncRequest, Error> {
    /// Below this many events a round is decoded on the calling thread alone.
    const PER_THREAD: usize = 256;
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::TooLarge(body.len()));
    }
    let json = zstd::bulk::decompress(body, MAX_BODY_BYTES * 8)
        .map_err(|e| Error::Malformed(format!("not a zstd body within the size limit: {e}")))?;
    let raw: SyncRequest<&serde_json::value::RawValue> =
        serde_json::from_slice(&json).map_err(|e| Error::Malformed(e.to_string()))?;
    if raw.v != PROTOCOL_VERSION {
        return Err(Error::Malformed(format!(
            "protocol version {} is not supported (this side speaks {PROTOCOL_VERSION})",
            raw.v
        )));
    }
    let per_thread = raw.upload.len().div_ceil(threads.max(1)).max(PER_THREAD);
    let decode_part = |first: usize, part: &[&serde_json::value::RawValue]| {
        part.iter()
            .enumerate()
            .map(|(i, e)| {
                serde_json::from_str::<Event>(e.get())
                    .map_err(|err| Error::Malformed(format!("upload[{}]: {err}", first + i)))
            })
            .collect::<Result<Vec<Event>, Error>>()
    };
    let mut parts = raw.upload.chunks(per_thread).enumerate();
    let upload = match parts.len() {
        0 => Vec::new(),
        1 => decode_part(0, &raw.upload)?,
        _ => std::thread::scope(|scope| {
            let (_, first) = parts.next().unwrap_or((0, &[]));
            let others: Vec<_> = parts
                .map(|(k, part)| scope.spawn(move || decode_part(k * per_thread, part)))
                .collect();
            let mut upload = decode_part(0, first)?;
            for other in others {
                let part = other.join().map_err(|_| {
                    Error::Malformed("decoding the uploaded events failed".into())
                })??;
                upload.extend(part);
            }
            Ok::<_, Error>(upload)
        })?,
    };
    Ok(SyncRequest {
        v: raw.v,
        upload,
        upload_through: raw.upload_through,
        download_after: raw.download_after,
        extract_version: raw.extract_version,
        extract_deltas: raw.extract_deltas,
        known_docs: raw.known_docs,
        docs: raw.docs,
        download_limit: raw.download_limit,
        flag_units_after: raw.flag_units_after,
        upload_after: raw.upload_after,
        answered: raw.answered,
    })
}

/// Messages that carry a protocol version.
pub trait Versioned {
    fn version(&self) -> u32;
}

impl Versioned for SyncRequest {
    fn version(&self) -> u32 {
        self.v
    }
}

impl Versioned for SyncResponse {
    fn version(&self) -> u32 {
        self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let req = SyncRequest {
            v: PROTOCOL_VERSION,
            upload: vec![],
            upload_through: 3,
            download_after: 7,
            extract_version: 1,
            extract_deltas: true,
            known_docs: vec!["flags/a".into()],
            docs: vec![],
            download_limit: None,
            flag_units_after: None,
            upload_after: None,
            answered: None,
        };
        let bytes = encode(&req);
        assert_eq!(decode::<SyncRequest>(&bytes).unwrap(), req);
        assert!(matches!(
            decode::<SyncRequest>(b"garbage"),
            Err(Error::Malformed(_))
        ));
        let other = SyncRequest { v: 99, ..req };
        let err = decode::<SyncRequest>(&encode(&other))
            .unwrap_err()
            .to_string();
        assert!(err.contains("protocol version 99"), "{err}");
        assert!(matches!(
            decode::<SyncRequest>(&vec![0u8; MAX_BODY_BYTES + 1]),
            Err(Error::TooLarge(_))
        ));
    }

    fn request_of<U>(upload: Vec<U>) -> SyncRequest<U> {
        SyncRequest {
            v: PROTOCOL_VERSION,
            upload,
            upload_through: 1_000,
            download_after: 7,
            extract_version: 1,
            extract_deltas: true,
            known_docs: vec!["flags/a".into()],
            docs: vec![],
            download_limit: Some(500),
            flag_units_after: Some(3),
            upload_after: Some(0),
            answered: Some(4),
        }
    }

    /// A round of 1,000 scans, each of another unit a minute apart.
    fn scans() -> Vec<Event> {
        use custodian_ledger::event::{Action, BizStep, EventType, Extension};
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00+01:00").unwrap();
        (0..1_000)
            .map(|i| {
                Event::new(custodian_ledger::EventBody {
                    event_type: EventType::ObjectEvent,
                    action: Action::Observe,
                    biz_step: BizStep::Receiving,
                    disposition: None,
                    event_time: start + chrono::Duration::minutes(i),
                    epcs: vec![
                        custodian_ledger::Epc::parse(&format!(
                            "https://id.gs1.org/01/09506000134352/21/U{i}"
                        ))
                        .unwrap(),
                    ],
                    parent: None,
                    biz_transactions: vec![],
                    source: None,
                    destination: None,
                    recorder: custodian_ledger::Recorder {
                        org: "o".into(),
                        site: "s".into(),
                        device: "d".into(),
                    },
                    extension: Extension::default(),
                })
            })
            .collect()
    }

    #[test]
    fn a_request_decoded_on_several_threads_is_the_request_in_order() {
        let request = request_of(scans());
        let body = encode(&request);
        for threads in [1, 2, 3, 4] {
            assert_eq!(
                decode_request(&body, threads).unwrap(),
                request,
                "{threads}"
            );
        }
        assert_eq!(
            decode_request(&encode(&request_of(Vec::<Event>::new())), 2)
                .unwrap()
                .upload,
            []
        );
        let other = SyncRequest {
            v: 99,
            ..request_of(Vec::<Event>::new())
        };
        let err = decode_request(&encode(&other), 2).unwrap_err().to_string();
        assert!(err.contains("protocol version 99"), "{err}");
        assert!(matches!(
            decode_request(&vec![0u8; MAX_BODY_BYTES + 1], 2),
            Err(Error::TooLarge(_))
        ));
        assert!(matches!(
            decode_request(b"garbage", 2),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn an_event_that_does_not_decode_is_named_by_its_place_in_the_upload() {
        let mut upload: Vec<serde_json::Value> = scans()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        upload[700].as_object_mut().unwrap().remove("id");
        let body = encode(&request_of(upload));
        for threads in [1, 2, 4] {
            let err = decode_request(&body, threads).unwrap_err().to_string();
            assert!(
                err.contains("upload[700]: missing field `id`"),
                "{threads}: {err}"
            );
        }
    }
}
