-- Named EPCIS queries (subscriptions.rs): their parameters, and whose events they may select.
CREATE TABLE queries (
    name       TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    partner    INTEGER NOT NULL,
    account    TEXT NOT NULL,
    query      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Subscriptions to a named query, delivered by webhook: the captured events after `after_seq`
-- are yet to be acknowledged by the subscriber.
CREATE TABLE subscriptions (
    id              TEXT PRIMARY KEY,
    query           TEXT NOT NULL REFERENCES queries (name),
    account         TEXT NOT NULL,
    dest            TEXT NOT NULL,
    token           TEXT,
    created_at      TEXT NOT NULL,
    after_seq       INTEGER NOT NULL,
    last_notified_at TEXT,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    leased_by       TEXT,
    leased_until    INTEGER
);
CREATE INDEX subscriptions_by_query ON subscriptions (query);
