//! Public verification: "is this unit genuine?" for anyone holding a code, by GS1 Digital Link
//! resolution or `GET /verify/…`. It never reveals custody. Each client is rate limited, and
//! every query counts toward the serial's verification velocity: a genuine unit is verified a
//! handful of times in its life, a cloned code hundreds of times.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use chrono::Utc;
use custodian_ledger::Epc;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::HubError;
use crate::registry::Registry;

/// Verifications of one serial in 24 hours above which the hub raises a velocity flag.
pub const VELOCITY_THRESHOLD: i64 = 25;

/// What the public learns about a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// `genuine`, `unknown_serial` (never issued: counterfeit), `unknown_product`, `recalled`,
    /// `reported_counterfeit`.
    pub status: String,
    pub genuine: bool,
    pub gtin: String,
    pub serial: String,
    pub product: Option<String>,
    pub lot: Option<String>,
    pub message: String,
}

/// Verifies `code` (anything a scanner reads), recording the query for the velocity check.
pub fn verify(registry: &Registry, code: &str) -> Result<Verification, HubError> {
    let scan = custodian_scanner::parse(code).map_err(|e| HubError::BadRequest(e.to_string()))?;
    let Some(Epc::Unit { gtin, serial }) = scan.identity().as_ref().and_then(Epc::from_identity)
    else {
        return Err(HubError::BadRequest(
            "verification needs a serialised unit (GTIN and serial)".into(),
        ));
    };
    let conn = registry.conn();
    let product: Option<String> = conn
        .query_row(
            "SELECT name FROM products WHERE gtin = ?1",
            [gtin.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    let issued: Option<Option<String>> = conn
        .query_row(
            "SELECT lot FROM serials WHERE gtin = ?1 AND serial = ?2",
            [gtin.as_str(), serial.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    let epc = Epc::Unit {
        gtin: gtin.clone(),
        serial: serial.clone(),
    };
    let alert: Option<String> = conn
        .query_row(
            "SELECT reason FROM alerts WHERE epc = ?1",
            [epc.uri()],
            |r| r.get(0),
        )
        .optional()?;
    let lot = issued.clone().flatten();
    let recall: Option<String> = conn
        .query_row(
            "SELECT reason FROM recalls WHERE gtin = ?1 AND (lot IS NULL OR lot = ?2) LIMIT 1",
            params![gtin.as_str(), lot],
            |r| r.get(0),
        )
        .optional()?;
    let (status, genuine, message) = match (&product, &issued, &alert, &recall) {
        (None, _, _, _) => (
            "unknown_product",
            false,
            format!("GTIN {gtin} is not a product of this registry"),
        ),
        (Some(_), None, _, _) => (
            "unknown_serial",
            false,
            format!("serial {serial} was never issued for GTIN {gtin}: counterfeit"),
        ),
        (Some(_), Some(_), Some(reason), _) => (
            "reported_counterfeit",
            false,
            format!("this code is on the counterfeit alert list: {reason}"),
        ),
        (Some(_), Some(_), None, Some(reason)) => {
            ("recalled", true, format!("genuine, but recalled: {reason}"))
        }
        (Some(p), Some(_), None, None) => ("genuine", true, format!("genuine {p}")),
    };
    drop(conn);
    if issued.is_some() {
        record_query(registry, &epc)?;
    }
    Ok(Verification {
        status: status.into(),
        genuine,
        gtin: gtin.to_string(),
        serial,
        product,
        lot,
        message: message.to_string(),
    })
}

/// Counts the query and raises a velocity flag (once per serial per day) past the threshold.
fn record_query(registry: &Registry, epc: &Epc) -> Result<(), HubError> {
    let conn = registry.conn();
    let day = Utc::now().format("%Y-%m-%d").to_string();
    conn.execute(
        "INSERT INTO verifications (epc, day, count) VALUES (?1, ?2, 1)
         ON CONFLICT(epc, day) DO UPDATE SET count = count + 1",
        params![epc.uri(), day],
    )?;
    let count: i64 = conn.query_row(
        "SELECT count FROM verifications WHERE epc = ?1 AND day = ?2",
        params![epc.uri(), day],
        |r| r.get(0),
    )?;
    if count == VELOCITY_THRESHOLD + 1 {
        let maker: String = conn
            .query_row(
                "SELECT id FROM orgs WHERE role = 'manufacturer' ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_else(|| "manufacturer".into());
        let reason = format!(
            "{} was verified more than {VELOCITY_THRESHOLD} times on {day}: a genuine unit is not; its code may be cloned",
            epc.label()
        );
        crate::reconcile::raise_fact(
            &conn,
            "velocity",
            epc,
            &format!("{maker}/{day}"),
            &maker,
            reason,
            Utc::now(),
        )?;
    }
    Ok(())
}

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client` at `now`; `false` when the client must slow down.
    pub fn allow(&self, client: IpAddr, now: Instant) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, (tokens, at)| {
                *tokens < self.burst || now.duration_since(*at).as_secs() < 60
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(2.0, 3.0);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow(ip, t0)));
        assert!(!limiter.allow(ip, t0));
        assert!(limiter.allow(ip, t0 + std::time::Duration::from_millis(500)));
        assert!(!limiter.allow(ip, t0 + std::time::Duration::from_millis(500)));
        assert!(
            limiter.allow("127.0.0.2".parse().unwrap(), t0),
            "buckets are per client"
        );
    }
}
