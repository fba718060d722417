//! The hub: the manufacturer's serial registry and the other end of every device's sync.
//!
//! It issues signed serials ([`registry`]), enrolls devices, takes their events and working
//! documents over HTTPS ([`exchange`], [`server`]), reconciles custody across all partners and
//! raises flags ([`reconcile`]) that flow back to the organisations concerned. It runs the same
//! `custodian-ledger` rules and storage code as the handheld, over everyone's data.
//!
//! The key design decision: the hub is the only creator of shared Automerge documents (manifest
//! working states, flags), and devices only edit them; events are stored once by content id, so
//! every upload is idempotent and each flag is raised once per fact.

pub mod access;
pub mod accounts;
pub mod api;
pub mod audit;
pub mod catalog;
mod changes;
pub mod demo;
pub mod exchange;
pub mod flags;
pub mod listing;
pub mod manage;
pub mod pg;
pub mod quarantine;
pub mod reconcile;
pub mod registry;
pub mod reports;
pub mod repository;
pub mod round;
pub mod server;
pub mod subscriptions;
pub mod tls;
pub mod transfer;
pub mod verify;

pub use registry::Registry;

/// The device id under which the hub records its own events (issuance, demo shipments) and
/// moves flags itself.
pub const HUB_DEVICE: &str = "hub";

/// Errors of the hub, each mapped to an HTTP status by [`server`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// 400: the request is malformed or asks for something impossible.
    #[error("{0}")]
    BadRequest(String),
    /// 401: the caller's identity is unknown, revoked, or its signature is wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the caller may not do this (writing as another organisation).
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0} not found")]
    NotFound(String),
    /// 409: the request contradicts what is stored (a name taken, an id with other content).
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 503: the registry's database cannot be reached now (a PostgreSQL server restarting);
    /// answered with Retry-After, logged.
    #[error("the registry is unavailable: {0}")]
    Unavailable(String),
    /// 500: logged in full, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for HubError {
    fn from(e: rusqlite::Error) -> HubError {
        HubError::Internal(format!("registry storage: {e}"))
    }
}

impl From<custodian_ledger::sql::SqlError> for HubError {
    fn from(e: custodian_ledger::sql::SqlError) -> HubError {
        if e.is_unavailable() {
            HubError::Unavailable(e.to_string())
        } else if e.is_invalid_text() {
            HubError::BadRequest("a text holds a character no text may hold (NUL)".into())
        } else {
            HubError::Internal(format!("registry storage: {e}"))
        }
    }
}

impl From<custodian_ledger::Error> for HubError {
    fn from(e: custodian_ledger::Error) -> HubError {
        match e {
            custodian_ledger::Error::Invalid(m) => HubError::BadRequest(m),
            custodian_ledger::Error::NotFound(m) => HubError::NotFound(m),
            custodian_ledger::Error::Sql(e) => HubError::from(e),
            other => HubError::Internal(other.to_string()),
        }
    }
}
