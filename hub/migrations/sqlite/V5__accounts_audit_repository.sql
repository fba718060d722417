-- Who may call the manufacturer's API (accounts.rs): service accounts for systems and users for
-- people, each with one role and the organisation it acts for.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('service', 'user')),
    role       TEXT NOT NULL,
    org        TEXT NOT NULL REFERENCES orgs (id),
    -- A user's password as an Argon2id PHC string; NULL for a service account.
    password   TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT
);
-- An account's secrets: a service account's API keys, a user's sessions. Only the secret's
-- SHA-256 is kept.
CREATE TABLE credentials (
    id         TEXT PRIMARY KEY,
    account    TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL CHECK (kind IN ('key', 'session')),
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE INDEX credentials_by_account ON credentials (account);
-- Every change made through the API or the CLI (audit.rs): append-only.
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    role   TEXT NOT NULL,
    origin TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail cannot be altered'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail cannot be altered'); END;
-- The EPCIS repository (repository.rs): every event captured through the EPCIS REST binding,
-- as it came (canonical JSON), with the columns its standard queries select on.
CREATE TABLE captured_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL,
    -- 1 for an error declaration: the erroneous event's content again, under its id.
    declared     INTEGER NOT NULL,
    org          TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    action       TEXT,
    event_time   INTEGER NOT NULL,
    record_time  INTEGER NOT NULL,
    biz_step     TEXT,
    disposition  TEXT,
    read_point   TEXT,
    biz_location TEXT,
    judged       TEXT,
    body         TEXT NOT NULL,
    UNIQUE (id, declared)
);
CREATE INDEX captured_events_by_time ON captured_events (event_time, seq);
CREATE INDEX captured_events_by_org ON captured_events (org, seq);
-- Every identifier an event names, and as what (`epc`: epcList or childEPCs, `parent`,
-- `input`, `output`, `class`, `input_class`, `output_class`), for the MATCH_ parameters.
CREATE TABLE captured_epcs (
    epc  TEXT NOT NULL,
    role TEXT NOT NULL,
    seq  INTEGER NOT NULL REFERENCES captured_events (seq),
    PRIMARY KEY (epc, seq, role)
) WITHOUT ROWID;
-- Capture jobs: a document captured in bulk, its status and errors.
CREATE TABLE capture_jobs (
    id          TEXT PRIMARY KEY,
    org         TEXT NOT NULL,
    account     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    running     INTEGER NOT NULL,
    success     INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    errors      TEXT NOT NULL
);
