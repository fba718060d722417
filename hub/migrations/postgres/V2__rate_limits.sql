-- Public verification's rate limit, one token bucket per client (an address, an IPv6 /64),
-- shared by every hub process on this database (verify.rs, RateLimiter). Unlogged: a bucket is
-- worth nothing after a crash, and its writes, one per verification, skip the log.
CREATE UNLOGGED TABLE rate_limits (
    client  BYTEA PRIMARY KEY,
    tokens  DOUBLE PRECISION NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    allowed BOOLEAN NOT NULL
);
