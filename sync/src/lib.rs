//! Sync between a handheld and its hub, and the device facade built on it: [`Device`], whose
//! methods are what a person does with the device ([`actions`]) and its syncs ([`device`]).
//!
//! The key design decision: events and working documents travel differently. Immutable events
//! move by cursor-based have/want exchange in bounded, zstd-compressed batches, idempotent by
//! content id; the small Automerge documents people edit concurrently move by Automerge's own
//! sync protocol, with per-peer state persisted after every round. Everything goes over
//! request/response HTTPS ([`transport`]) that trusts only the hub certificate pinned at
//! enrollment, and every request is signed by the device's own key ([`identity`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), custodian_sync::Error> {
//! let device = custodian_sync::Device::open(std::path::Path::new("/tmp/device"))?;
//! let report = device.sync().await?;
//! println!("{} events up, {} down, {} new flags", report.uploaded, report.downloaded, report.new_flags.len());
//! # Ok(()) }
//! ```

pub mod actions;
pub mod device;
pub mod docsync;
pub mod identity;
pub mod link;
pub mod protocol;
pub mod session;
pub mod transport;

pub use actions::{Closed, Shipped, Taken};
pub use device::{Device, Status};
pub use link::{Link, LinkState};
pub use session::{ExtractUpdate, Session, SyncReport};

/// Errors of enrolling and syncing. The ledger is never left half-written by any of them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Ledger(#[from] custodian_ledger::Error),
    #[error(transparent)]
    Protocol(#[from] protocol::Error),
    /// The hub could not be reached: the device keeps working offline and syncs later.
    #[error("hub unreachable, working offline: {0}")]
    Unreachable(String),
    /// The hub answered but refused the request.
    #[error("hub refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The hub's identity or the device's own could not be established.
    #[error("trust: {0}")]
    Trust(String),
    /// The enrollment token is not usable.
    #[error("{0}")]
    Token(#[from] identity::TokenError),
    #[error(
        "this device is not enrolled: run `custodian enroll --data DIR TOKEN` with a token from the hub"
    )]
    NotEnrolled,
    #[error("this device is already enrolled; use a fresh data directory to enroll it again")]
    AlreadyEnrolled,
}

impl Error {
    /// Whether trying again later may succeed (the link or the hub failed), as opposed to a
    /// refusal or a local problem that would fail the same way.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Refused { status, .. } => *status >= 500,
            Error::Protocol(protocol::Error::Malformed(_)) => true,
            _ => false,
        }
    }
}
