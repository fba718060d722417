-- A hub process takes several of a client's tokens at once (a lease) and spends them without
-- asking again (verify.rs, RateLimiter): the statement says how many it was granted.
ALTER TABLE rate_limits ADD COLUMN granted DOUBLE PRECISION NOT NULL DEFAULT 0;
