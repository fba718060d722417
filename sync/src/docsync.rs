//! Automerge's sync protocol as a device and its hub use it across sessions (sans-IO).
//!
//! Both sides persist only what Automerge's [`State::encode`] keeps: the heads both peers are
//! known to hold (`shared_heads`). A state decoded from that knows nothing of the peer's heads,
//! and Automerge answers such a state with a message whatever the documents hold, so taken
//! as it is the protocol spends a message each way on every document at every session, even
//! when nothing changed. The rules here use the persisted heads instead:
//!
//! - A side whose document's heads are the shared heads has nothing the peer lacks, and stays
//!   silent until the peer says something ([`opening`]). The hub, which answers every request,
//!   speaks first for a document that changed since it last knew the device held all of it.
//! - A side that does speak first sends its changes since the shared heads in that first
//!   message ([`offer`]), rather than only its heads and waiting to be asked: one round trip
//!   instead of two.
//! - A message that says the sender knows both sides hold the same changes (its heads are the
//!   receiver's, it brings and asks for nothing, and its bloom filter starts from those very
//!   heads) needs no answer ([`answer`]).
//!
//! An idle sync therefore exchanges no document message at all, and a change made on either
//! side costs one message from it and one acknowledgement back.

use automerge::sync::{BloomFilter, Have, Message, State, SyncDoc};
use automerge::{AutoCommit, AutomergeError, ChangeHash};

/// The first message a side sends about a document this session, if any: nothing when its
/// heads are the heads both sides are known to hold, else its changes since them.
///
/// Once the peer has spoken this session (`state` knows its heads), this is Automerge's own
/// next message.
pub fn opening(doc: &mut AutoCommit, state: &mut State) -> Option<Message> {
    if state.their_heads.is_some() {
        return doc.sync().generate_sync_message(state);
    }
    offer(doc, state)
}

/// Speaks first about a document: `None` when its heads are the shared heads, else a message
/// with the heads, and the changes since the shared heads (the peer is known to hold those
/// heads and everything before them).
pub fn offer(doc: &mut AutoCommit, state: &mut State) -> Option<Message> {
    let heads = doc.get_heads();
    if same_heads(&heads, &state.shared_heads) {
        return None;
    }
    // What the peer is known to hold, as if it had said so: its heads are the shared ones, its
    // (empty) bloom filter starts there, and it needs nothing in particular.
    state.their_heads = Some(state.shared_heads.clone());
    state.their_have = Some(vec![Have {
        last_sync: state.shared_heads.clone(),
        bloom: BloomFilter::default(),
    }]);
    state.their_need = Some(Vec::new());
    doc.sync().generate_sync_message(state)
}

/// Speaks first knowing nothing of what the peer holds (its side of what both held was lost:
/// a registry restored from a backup): the heads, and a Bloom filter of every change, so that
/// the peer answers with what this side lacks. Always a message.
/// `state` starts anew.
pub fn probe(doc: &mut AutoCommit, state: &mut State) -> Option<Message> {
    *state = State::new();
    doc.sync().generate_sync_message(state)
}

/// Receives `message` and returns the answer to send back: `None` when the message showed
/// that the sender already knows both sides hold the same changes.
pub fn answer(
    doc: &mut AutoCommit,
    state: &mut State,
    message: Message,
) -> Result<Option<Message>, AutomergeError> {
    // The sender's bloom filter starts from its shared heads: when those are its heads, and it
    // brings and asks for nothing, it knows we hold what it holds.
    let quiet = message.changes.is_empty()
        && message.need.is_empty()
        && message
            .have
            .first()
            .is_some_and(|h| same_heads(&h.last_sync, &message.heads));
    let their_heads = message.heads.clone();
    doc.sync().receive_sync_message(state, message)?;
    if quiet && same_heads(&doc.get_heads(), &their_heads) {
        return Ok(None);
    }
    Ok(doc.sync().generate_sync_message(state))
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};

    /// One side of a pair of replicas that keeps only the encoded state between sessions.
    struct Side {
        doc: AutoCommit,
        persisted: Vec<u8>,
    }

    impl Side {
        fn new(doc: AutoCommit) -> Side {
            Side {
                doc,
                persisted: State::new().encode(),
            }
        }
    }

    /// One session as a device runs it with its hub: the device opens, the hub answers what it
    /// hears and offers what it did not hear about, until neither speaks. Returns the messages
    /// and their bytes, device to hub and back.
    fn session(device: &mut Side, hub: &mut Side) -> (usize, usize, usize) {
        let mut ds = State::decode(&device.persisted).unwrap();
        let mut hs = State::decode(&hub.persisted).unwrap();
        let (mut up, mut down, mut bytes) = (0, 0, 0);
        let mut outgoing = opening(&mut device.doc, &mut ds);
        for _ in 0..10 {
            // The hub loads its state from what it persisted, every round.
            hs = State::decode(&hs.encode()).unwrap();
            let reply = match outgoing.take() {
                Some(m) => {
                    up += 1;
                    bytes += m.clone().encode().len();
                    answer(&mut hub.doc, &mut hs, m).unwrap()
                }
                None => offer(&mut hub.doc, &mut hs),
            };
            let heard = reply.is_some();
            if let Some(m) = reply {
                down += 1;
                bytes += m.clone().encode().len();
                device.doc.sync().receive_sync_message(&mut ds, m).unwrap();
            }
            outgoing = opening(&mut device.doc, &mut ds);
            if !heard && outgoing.is_none() {
                break;
            }
        }
        device.persisted = ds.encode();
        hub.persisted = hs.encode();
        (up, down, bytes)
    }

    fn text(doc: &AutoCommit, key: &str) -> Option<String> {
        doc.get(ROOT, key)
            .unwrap()
            .and_then(|(v, _)| v.into_string().ok())
    }

    #[test]
    fn an_idle_session_exchanges_nothing_and_a_change_costs_one_message_each_way() {
        let mut original = AutoCommit::new();
        original.put(ROOT, "kind", "flags").unwrap();
        original.commit();
        let mut hub = Side::new(original);
        let mut device = Side::new(AutoCommit::new());

        // First contact: the hub offers the whole document, the device acknowledges it.
        let (up, down, _) = session(&mut device, &mut hub);
        assert_eq!((up, down), (1, 1));
        assert_eq!(text(&device.doc, "kind").as_deref(), Some("flags"));

        // Idle: nothing either way.
        assert_eq!(session(&mut device, &mut hub), (0, 0, 0));

        // A change on the device: it sends it, the hub acknowledges.
        device.doc.put(ROOT, "moved", "by device").unwrap();
        device.doc.commit();
        let (up, down, _) = session(&mut device, &mut hub);
        assert_eq!((up, down), (1, 1));
        assert_eq!(text(&hub.doc, "moved").as_deref(), Some("by device"));
        assert_eq!(session(&mut device, &mut hub), (0, 0, 0));

        // A change on the hub: it offers it, the device acknowledges.
        hub.doc.put(ROOT, "raised", "by hub").unwrap();
        hub.doc.commit();
        let (up, down, _) = session(&mut device, &mut hub);
        assert_eq!((up, down), (1, 1));
        assert_eq!(text(&device.doc, "raised").as_deref(), Some("by hub"));
        assert_eq!(session(&mut device, &mut hub), (0, 0, 0));

        // Changes on both sides at once converge, and then the sessions go quiet again.
        hub.doc.put(ROOT, "a", "hub").unwrap();
        hub.doc.commit();
        device.doc.put(ROOT, "b", "device").unwrap();
        device.doc.commit();
        session(&mut device, &mut hub);
        assert_eq!(device.doc.get_heads(), hub.doc.get_heads());
        assert_eq!(text(&device.doc, "a").as_deref(), Some("hub"));
        assert_eq!(text(&hub.doc, "b").as_deref(), Some("device"));
        assert_eq!(session(&mut device, &mut hub), (0, 0, 0));
    }

    #[test]
    fn a_lost_acknowledgement_is_made_good_next_session() {
        let mut original = AutoCommit::new();
        original.put(ROOT, "kind", "flags").unwrap();
        original.commit();
        let mut hub = Side::new(original);
        let mut device = Side::new(AutoCommit::new());
        session(&mut device, &mut hub);

        // The hub's change reaches the device, but the device's acknowledgement is lost: the
        // hub still believes the device lacks it.
        hub.doc.put(ROOT, "raised", "by hub").unwrap();
        hub.doc.commit();
        let mut hs = State::decode(&hub.persisted).unwrap();
        let offered = offer(&mut hub.doc, &mut hs).unwrap();
        let mut ds = State::decode(&device.persisted).unwrap();
        device
            .doc
            .sync()
            .receive_sync_message(&mut ds, offered)
            .unwrap();
        device.persisted = ds.encode();
        hub.persisted = hs.encode();

        // The next session offers again; the device settles it, and then all is quiet.
        let (up, down, _) = session(&mut device, &mut hub);
        assert_eq!((up, down), (1, 1));
        assert_eq!(device.doc.get_heads(), hub.doc.get_heads());
        assert_eq!(session(&mut device, &mut hub), (0, 0, 0));
    }
}
