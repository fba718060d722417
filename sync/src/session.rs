//! One sync as a state machine with no network, clock or randomness: it builds each round's
//! request from the ledger and applies the hub's answer to it, and the transport
//! ([`crate::Device::sync`]) carries the bytes between them, signing each request. So the
//! rounds can be driven and tested without a hub: an answer replayed, a round cut off, a hub
//! that pages, a sync of more rounds than any limit.
//!
//! A round uploads a bounded batch of local events from the upload cursor, downloads the hub's
//! events for this organisation from the download cursor, and exchanges Automerge sync
//! messages for the documents that changed on either side ([`crate::docsync`]). Cursors and
//! document sync states are persisted in the ledger after every answered round, so a round
//! that is never answered is sent again by the next session and stores nothing twice.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use automerge::sync::{State, SyncDoc};
use chrono::{DateTime, Utc};
use custodian_ledger::{Flag, FlagStatus, Ledger};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::docsync;
use crate::protocol::{
    self, DocMessage, MAX_EVENTS_PER_ROUND, PROTOCOL_VERSION, Stored, SyncRequest, SyncResponse,
};

pub(crate) const KV_UPLOAD_CURSOR: &str = "sync.upload_cursor";
const KV_DOWNLOAD_CURSOR: &str = "sync.download_cursor";
const KV_FLAG_UNITS_CURSOR: &str = "sync.flag_units_cursor";
/// The counter of the last request whose answer was applied ([`SyncRequest::answered`]).
pub(crate) const KV_ANSWERED: &str = "sync.answered";
pub(crate) const KV_LAST_SYNC: &str = "sync.last";
const KV_CLOCK_OFFSET: &str = "sync.clock_offset_ms";
/// The peer name under which the device keeps its per-document sync state with the hub.
const HUB_PEER: &str = "hub";
/// A sync goes on for as many rounds as events keep moving (a device back from a month offline
/// uploads and downloads everything in one sync). It stops, unfinished, after this many rounds
/// in a row that moved no event: documents that will not converge, or a hub that says it has
/// more and sends nothing.
pub const MAX_IDLE_ROUNDS: usize = 64;

/// What one sync moved.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncReport {
    pub rounds: usize,
    pub uploaded: usize,
    /// Of the uploaded events, how many were new to the hub.
    pub stored_by_hub: usize,
    pub downloaded: usize,
    /// Document sync messages received from the hub.
    pub documents: usize,
    /// Document sync messages sent to the hub. An idle sync sends and receives none.
    #[serde(default)]
    pub documents_sent: usize,
    pub bytes_sent: usize,
    pub bytes_received: usize,
    /// Flags that arrived with this sync.
    pub new_flags: Vec<Flag>,
    /// Flags held before whose status this sync changed: another device of the organisation,
    /// or the hub, moved them.
    #[serde(default)]
    pub moved_flags: Vec<Flag>,
    /// The device clock minus the hub clock, in milliseconds (positive: the device is ahead).
    pub clock_offset_ms: i64,
    /// How the registry extract came.
    #[serde(default)]
    pub extract: ExtractUpdate,
    /// The registry extract version held after the sync.
    #[serde(default)]
    pub extract_version: u64,
    /// Attempts that failed transiently before this one succeeded ([`Device::sync_with_retry`]).
    #[serde(default)]
    pub retries: u32,
    /// Both sides have everything the sync began with: every event recorded before it went up,
    /// the hub had nothing more to send and every document converged. A sync that stopped short
    /// says so here and in `waiting`.
    #[serde(default)]
    pub converged: bool,
    /// Events recorded here that the hub has not acknowledged yet, after this sync: those of a
    /// sync that stopped short, and scans taken while it ran (they go with the next).
    #[serde(default)]
    pub waiting: usize,
    /// The hub said it had more events for this device when the sync stopped.
    #[serde(default)]
    pub hub_has_more: bool,
    /// Each round's time from sending its request to holding its answer applied, in seconds
    /// (what a fleet benchmark ranks); not part of the printed report.
    #[serde(skip)]
    pub round_seconds: Vec<f64>,
}

/// How a sync brought the registry extract.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractUpdate {
    /// The device's extract was current.
    #[default]
    Unchanged,
    /// The changes since the version held.
    Delta,
    /// The whole extract.
    Whole,
}

/// One sync in progress.
#[derive(Debug)]
pub struct Session {
    /// Document sync states, for this session only: decoded from the persisted ones when a
    /// document first needs one, saved after every answered round.
    states: BTreeMap<String, State>,
    report: SyncReport,
    hub_has_more: bool,
    idle_rounds: usize,
    /// What this sync uploads: the events recorded before it began. Scans taken meanwhile go
    /// with the next sync, or a scanner busier than the link would keep one sync from ending.
    upload_until: i64,
    /// Rounds carry fewer events when a round's body would exceed the limit, or when the hub
    /// refuses one as too large (a hub from before rounds of this size takes fewer).
    round_events: usize,
    /// The request sent and not answered yet.
    in_flight: Option<SyncRequest<Stored>>,
    /// Each flag's status when the sync began, to tell new and moved flags at the end.
    flags_before: BTreeMap<String, FlagStatus>,
}

impl Session {
    /// Begins a sync of `ledger` in rounds of at most `round_events` events each way.
    pub fn begin(ledger: &Ledger, round_events: usize) -> Result<Session, Error> {
        Ok(Session {
            states: BTreeMap::new(),
            report: SyncReport::default(),
            hub_has_more: false,
            idle_rounds: 0,
            upload_until: ledger.last_seq()?,
            round_events: round_events.clamp(1, MAX_EVENTS_PER_ROUND),
            in_flight: None,
            flags_before: ledger
                .flags()
                .unwrap_or_default()
                .into_iter()
                .map(|f| (f.id, f.status))
                .collect(),
        })
    }

    /// The next round's request, encoded; `None` when the sync is over: converged (nothing to
    /// upload, no document needs a message, the hub has no more), or [`MAX_IDLE_ROUNDS`] rounds
    /// in a row moved nothing. A request left unanswered is replaced by this one.
    pub fn next_request(&mut self, ledger: &Ledger) -> Result<Option<Vec<u8>>, Error> {
        loop {
            let request = build_request(
                ledger,
                &mut self.states,
                self.round_events,
                self.upload_until,
            )?;
            if self.report.rounds > 0
                && request.upload.is_empty()
                && request.docs.is_empty()
                && !self.hub_has_more
            {
                self.report.converged = true;
                return Ok(None);
            }
            if self.idle_rounds == MAX_IDLE_ROUNDS {
                return Ok(None);
            }
            let body = protocol::encode(&request);
            if body.len() > protocol::MAX_BODY_BYTES && request.upload.len() > 1 {
                self.round_events = request.upload.len() / 2;
                // The documents' messages go again with the smaller round: from the states
                // as the last answered round left them.
                self.states.clear();
                continue;
            }
            self.report.rounds += 1;
            self.report.bytes_sent += body.len();
            self.in_flight = Some(request);
            return Ok(Some(body));
        }
    }

    /// Whether the request in flight can go again smaller (it carries more than one event),
    /// after the hub refused it as too large.
    pub fn can_shrink(&self) -> bool {
        self.in_flight.as_ref().is_some_and(|r| r.upload.len() > 1)
    }

    /// Halves the rounds after the hub refused the request in flight as too large; the next
    /// request carries the same events' first half.
    pub fn shrink(&mut self) {
        if let Some(request) = self.in_flight.take() {
            self.round_events = (request.upload.len() / 2).max(1);
            self.states.clear();
        }
    }

    /// Applies the hub's `answer` to the request in flight; `now` is the device's clock, for
    /// the clock offset. An answer with no request in flight (a replay) is refused.
    pub fn answered(
        &mut self,
        ledger: &mut Ledger,
        answer: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let request = self.in_flight.take().ok_or_else(|| {
            Error::Protocol(protocol::Error::Malformed(
                "an answer came with no request waiting for one".into(),
            ))
        })?;
        let response: SyncResponse = protocol::decode(answer)?;
        let report = &mut self.report;
        report.bytes_received += answer.len();
        self.hub_has_more = response.more || response.flag_units_more;
        if response.extract.is_some() {
            report.extract = ExtractUpdate::Whole;
        } else if response.extract_delta.is_some() && report.extract != ExtractUpdate::Whole {
            report.extract = ExtractUpdate::Delta;
        }
        report.uploaded += request.upload.len();
        report.stored_by_hub += response.stored;
        report.downloaded += response.events.len();
        report.documents += response.docs.len();
        report.documents_sent += request.docs.len();
        if let Ok(hub_time) = DateTime::parse_from_rfc3339(&response.hub_time) {
            report.clock_offset_ms = (now - hub_time.to_utc()).num_milliseconds();
        }
        let moved = !request.upload.is_empty()
            || response.download_cursor != request.download_after
            || Some(response.flag_units_cursor) != request.flag_units_after;
        self.idle_rounds = if moved { 0 } else { self.idle_rounds + 1 };
        apply_response(ledger, &request, response, &mut self.states)
    }

    /// Ends the sync at `now`: what it moved, what still waits, and the flags it brought.
    pub fn finish(mut self, ledger: &Ledger, now: DateTime<Utc>) -> Result<SyncReport, Error> {
        let report = &mut self.report;
        report.hub_has_more = self.hub_has_more;
        report.waiting = ledger.local_events_after_count(cursor(ledger, KV_UPLOAD_CURSOR)?)?;
        ledger.kv_set(KV_LAST_SYNC, &now.to_rfc3339())?;
        ledger.kv_set(KV_CLOCK_OFFSET, &report.clock_offset_ms.to_string())?;
        report.extract_version = ledger.extract()?.map_or(0, |x| x.version);
        for flag in ledger.flags().unwrap_or_default() {
            match self.flags_before.get(&flag.id) {
                None => report.new_flags.push(flag),
                Some(status) if *status != flag.status => report.moved_flags.push(flag),
                Some(_) => {}
            }
        }
        Ok(self.report)
    }
}

pub(crate) fn cursor(ledger: &Ledger, key: &str) -> Result<i64, Error> {
    Ok(ledger
        .kv_get(key)?
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

fn state_for<'a>(
    ledger: &Ledger,
    states: &'a mut std::collections::BTreeMap<String, State>,
    doc: &str,
) -> Result<&'a mut State, Error> {
    if !states.contains_key(doc) {
        let state = match ledger.sync_state(doc, HUB_PEER)? {
            Some(bytes) => State::decode(&bytes).unwrap_or_else(|_| State::new()),
            None => State::new(),
        };
        states.insert(doc.to_string(), state);
    }
    Ok(states.get_mut(doc).expect("inserted above"))
}

fn build_request(
    ledger: &Ledger,
    states: &mut std::collections::BTreeMap<String, State>,
    round_events: usize,
    upload_until: i64,
) -> Result<SyncRequest<Stored>, Error> {
    let upload_cursor = cursor(ledger, KV_UPLOAD_CURSOR)?;
    let mut batch = ledger.local_events_after_as_stored(upload_cursor, round_events)?;
    batch.retain(|(seq, _)| *seq <= upload_until);
    let upload_through = batch.last().map_or(upload_cursor, |(seq, _)| *seq);
    let known_docs = ledger.doc_ids()?;
    let mut docs = Vec::new();
    for id in &known_docs {
        let Some(mut doc) = ledger.doc(id)? else {
            continue;
        };
        let state = state_for(ledger, states, id)?;
        // A document the hub is known to hold as it is here sends nothing until the hub
        // speaks (see `docsync`): an idle sync carries no document message.
        if let Some(message) = docsync::opening(&mut doc, state) {
            docs.push(DocMessage::new(id, message));
        }
    }
    Ok(SyncRequest {
        v: PROTOCOL_VERSION,
        upload: batch.into_iter().map(|(_, e)| e).collect(),
        upload_through,
        download_after: cursor(ledger, KV_DOWNLOAD_CURSOR)?,
        extract_version: ledger.extract()?.map_or(0, |x| x.version),
        extract_deltas: true,
        known_docs,
        docs,
        download_limit: (round_events < MAX_EVENTS_PER_ROUND).then_some(round_events),
        flag_units_after: Some(cursor(ledger, KV_FLAG_UNITS_CURSOR)?),
        upload_after: Some(upload_cursor),
        answered: ledger.kv_get(KV_ANSWERED)?.and_then(|c| c.parse().ok()),
    })
}

fn apply_response(
    ledger: &mut Ledger,
    request: &SyncRequest<Stored>,
    response: SyncResponse,
    states: &mut std::collections::BTreeMap<String, State>,
) -> Result<(), Error> {
    // The hub stored the upload (idempotently) before answering: advance the cursor; or it
    // lost what it had acknowledged (a restored registry): go back to what it holds.
    let upload_cursor = response.upload_from.unwrap_or(request.upload_through);
    ledger.kv_set(KV_UPLOAD_CURSOR, &upload_cursor.to_string())?;
    ledger.store_shared_events(&response.events)?;
    ledger.kv_set(KV_DOWNLOAD_CURSOR, &response.download_cursor.to_string())?;
    ledger.store_flag_units(&response.flag_units)?;
    ledger.kv_set(
        KV_FLAG_UNITS_CURSOR,
        &response.flag_units_cursor.to_string(),
    )?;
    if let Some(extract) = &response.extract {
        ledger.set_extract(extract)?;
    }
    if let Some(delta) = &response.extract_delta
        && let Some(mut extract) = ledger.extract()?
    {
        if extract.apply(delta).is_err() {
            // The delta does not fit what is held (the extract changed under this sync): keep
            // judging by what is held, and ask for the whole extract next time.
            extract.version = 0;
        }
        ledger.set_extract(&extract)?;
    }
    for m in &response.docs {
        let message = m.decode()?;
        let mut doc = ledger.doc(&m.doc)?.unwrap_or_else(AutoCommit::new);
        let state = state_for(ledger, states, &m.doc)?;
        doc.sync()
            .receive_sync_message(state, message)
            .map_err(custodian_ledger::Error::from)?;
        let encoded = state.encode();
        ledger.save_doc(&m.doc, &mut doc)?;
        ledger.save_sync_state(&m.doc, HUB_PEER, &encoded)?;
    }
    for (id, state) in states.iter() {
        ledger.save_sync_state(id, HUB_PEER, &state.encode())?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]
mod tests {
    use std::collections::VecDeque;

    use custodian_ledger::{Event, Recorder, Step};
    use custodian_scanner::{check_digit, element_string};

    use super::*;

    fn at(i: usize) -> chrono::DateTime<chrono::FixedOffset> {
        chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00+01:00").unwrap()
            + chrono::Duration::seconds(i64::try_from(i).unwrap())
    }

    fn ledger(dir: &std::path::Path, device: &str, scans: usize) -> Ledger {
        let mut l = Ledger::open(&dir.join(device)).unwrap();
        l.set_recorder(&Recorder {
            org: "dist-a".into(),
            site: "dc".into(),
            device: device.into(),
        })
        .unwrap();
        let d = "0401234500001";
        let gtin = format!("{d}{}", check_digit(d));
        for i in 0..scans {
            let code = element_string(&[("01", &gtin), ("21", &format!("{device}-{i}"))]);
            l.scan(&code, Step::Inspecting, None, at(i)).unwrap();
        }
        l
    }

    /// A hub reduced to what a round needs: it takes every upload and pages out `events`,
    /// at most what the device asks for in each answer.
    struct Hub {
        events: VecDeque<Event>,
        sent: i64,
        /// Says it has more, with nothing to send (a hub that pages wrongly).
        stuck: bool,
        uploads: Vec<Vec<String>>,
    }

    impl Hub {
        fn new(events: Vec<Event>) -> Hub {
            Hub {
                events: events.into(),
                sent: 0,
                stuck: false,
                uploads: Vec::new(),
            }
        }

        fn answer(&mut self, body: &[u8]) -> Vec<u8> {
            let request: SyncRequest = protocol::decode(body).unwrap();
            self.uploads
                .push(request.upload.iter().map(|e| e.id.0.clone()).collect());
            let n = request.download_limit().min(self.events.len());
            let events: Vec<Event> = self.events.drain(..n).collect();
            self.sent += i64::try_from(events.len()).unwrap();
            protocol::encode(&SyncResponse {
                v: PROTOCOL_VERSION,
                stored: request.upload.len(),
                events,
                download_cursor: self.sent,
                more: self.stuck || !self.events.is_empty(),
                docs: Vec::new(),
                extract: None,
                extract_delta: None,
                flags_raised: 0,
                hub_time: "2026-11-02T09:00:00Z".into(),
                flag_units: Vec::new(),
                flag_units_cursor: request.flag_units_after.unwrap_or(0),
                flag_units_more: false,
                upload_from: None,
            })
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-02T09:00:01Z".parse().unwrap()
    }

    /// Drives `session` against `hub` to its end.
    fn run(mut session: Session, device: &mut Ledger, hub: &mut Hub) -> SyncReport {
        while let Some(body) = session.next_request(device).unwrap() {
            let answer = hub.answer(&body);
            session.answered(device, &answer, now()).unwrap();
        }
        session.finish(device, now()).unwrap()
    }

    /// An upload goes as the events are stored, without decoding them; the hub reads the very
    /// events the device recorded, in order.
    #[test]
    fn an_upload_carries_the_events_as_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let device = ledger(tmp.path(), "dev", 25);
        let recorded: Vec<Event> = device
            .local_events_after(0, 1_000)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut session = Session::begin(&device, 10).unwrap();
        let body = session.next_request(&device).unwrap().unwrap();
        let request: SyncRequest = protocol::decode(&body).unwrap();
        assert_eq!(request.upload, recorded[..10]);
        assert_eq!(request.upload_after, Some(0));
    }

    #[test]
    fn a_sync_longer_than_the_idle_limit_moves_everything_in_one_session() {
        let tmp = tempfile::tempdir().unwrap();
        let peer = ledger(tmp.path(), "peer", 90);
        let theirs: Vec<Event> = peer
            .local_events_after(0, 1_000)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut device = ledger(tmp.path(), "dev", 70);
        let mut hub = Hub::new(theirs);
        // One event each way per round: 90 rounds, more than MAX_IDLE_ROUNDS.
        let report = run(Session::begin(&device, 1).unwrap(), &mut device, &mut hub);
        assert!(report.converged, "{report:?}");
        assert_eq!((report.uploaded, report.downloaded), (70, 90));
        assert!(report.rounds > MAX_IDLE_ROUNDS, "{}", report.rounds);
        assert_eq!(report.waiting, 0);
        assert_eq!(device.event_count().unwrap(), 160);
        assert_eq!(report.clock_offset_ms, 1_000);
        // Each uploaded event went once.
        let mut sent: Vec<String> = hub.uploads.concat();
        let n = sent.len();
        sent.sort();
        sent.dedup();
        assert_eq!((n, sent.len()), (70, 70));
    }

    #[test]
    fn a_round_never_answered_goes_again_in_the_next_session() {
        let tmp = tempfile::tempdir().unwrap();
        let mut device = ledger(tmp.path(), "dev", 5);
        let mut hub = Hub::new(Vec::new());
        let mut cut = Session::begin(&device, 3).unwrap();
        let lost = cut.next_request(&device).unwrap().unwrap();
        let lost: SyncRequest = protocol::decode(&lost).unwrap();
        drop(cut);
        let report = run(Session::begin(&device, 3).unwrap(), &mut device, &mut hub);
        assert!(report.converged);
        assert_eq!(report.uploaded, 5);
        let first: Vec<String> = lost.upload.iter().map(|e| e.id.0.clone()).collect();
        assert_eq!(hub.uploads[0], first);
        assert_eq!(hub.uploads.concat().len(), 5);
    }

    #[test]
    fn a_replayed_answer_is_refused_and_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let peer = ledger(tmp.path(), "peer", 3);
        let theirs: Vec<Event> = peer
            .local_events_after(0, 10)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut device = ledger(tmp.path(), "dev", 2);
        let mut hub = Hub::new(theirs);
        let mut session = Session::begin(&device, 10).unwrap();
        let body = session.next_request(&device).unwrap().unwrap();
        let answer = hub.answer(&body);
        session.answered(&mut device, &answer, now()).unwrap();
        let held = device.event_count().unwrap();
        let cursor_after = cursor(&device, KV_DOWNLOAD_CURSOR).unwrap();
        assert!(session.answered(&mut device, &answer, now()).is_err());
        assert_eq!(device.event_count().unwrap(), held);
        assert_eq!(cursor(&device, KV_DOWNLOAD_CURSOR).unwrap(), cursor_after);
        assert_eq!(held, 5);
    }

    #[test]
    fn a_hub_that_says_more_and_sends_nothing_ends_the_sync_unfinished() {
        let tmp = tempfile::tempdir().unwrap();
        let mut device = ledger(tmp.path(), "dev", 1);
        let mut hub = Hub::new(Vec::new());
        hub.stuck = true;
        let report = run(Session::begin(&device, 10).unwrap(), &mut device, &mut hub);
        assert!(!report.converged);
        assert!(report.hub_has_more);
        // The round that uploaded moved something; then MAX_IDLE_ROUNDS rounds moved nothing.
        assert_eq!(report.rounds, MAX_IDLE_ROUNDS + 1);
        assert_eq!(
            report.left().unwrap(),
            "still catching up: 0 events wait to go to the hub, and the hub has more to send"
        );
    }

    #[test]
    fn a_round_refused_as_too_large_goes_again_halved() {
        let tmp = tempfile::tempdir().unwrap();
        let mut device = ledger(tmp.path(), "dev", 8);
        let mut hub = Hub::new(Vec::new());
        let mut session = Session::begin(&device, 8).unwrap();
        let body = session.next_request(&device).unwrap().unwrap();
        let first: SyncRequest = protocol::decode(&body).unwrap();
        assert_eq!(first.upload.len(), 8);
        assert!(session.can_shrink());
        session.shrink();
        let report = run(session, &mut device, &mut hub);
        assert!(report.converged);
        assert_eq!(hub.uploads[0].len(), 4);
        assert_eq!(hub.uploads.concat().len(), 8);
    }
}
