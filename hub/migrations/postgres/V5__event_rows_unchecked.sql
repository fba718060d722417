-- The rows that find an event (by what it names, packs, declares and belongs to) are written in
-- the transaction that writes the event, by the hub alone, and events are never deleted: the
-- foreign keys to events (seq) checked what cannot happen, one trigger per row, and that check
-- was half the cost of writing a round's rows.
ALTER TABLE event_epcs DROP CONSTRAINT IF EXISTS event_epcs_seq_fkey;
ALTER TABLE containment DROP CONSTRAINT IF EXISTS containment_seq_fkey;
ALTER TABLE event_transactions DROP CONSTRAINT IF EXISTS event_transactions_seq_fkey;
ALTER TABLE declarations DROP CONSTRAINT IF EXISTS declarations_seq_fkey;
