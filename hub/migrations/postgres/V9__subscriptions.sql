-- Named EPCIS queries (subscriptions.rs): their parameters, and whose events they may select.
CREATE TABLE queries (
    name       TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    partner    BIGINT NOT NULL,
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
    after_seq       BIGINT NOT NULL,
    last_notified_at TEXT,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    leased_by       TEXT,
    leased_until    BIGINT
);
CREATE INDEX subscriptions_by_query ON subscriptions (query);
