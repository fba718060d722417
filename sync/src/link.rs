//! What the last sync says of the link to the hub, in the words the app's status line and the
//! CLI both use.

use serde::{Deserialize, Serialize};

use crate::{Error, SyncReport};

/// Whether the hub can be reached and will talk to this device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// No sync has been tried yet.
    #[default]
    Unknown,
    Online,
    /// The hub cannot be reached: a normal state; the device works on and syncs later.
    Offline,
    /// The hub refused this device (revoked), or something other than the pinned hub answered:
    /// trying again will not mend it, and the person must know.
    Refused,
}

/// The link as the last sync attempt left it, with what a person should read about it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub state: LinkState,
    pub detail: Option<String>,
}

impl Link {
    /// The link after a sync attempt that ended in `result`.
    pub fn after(result: &Result<SyncReport, Error>) -> Link {
        match result {
            Ok(report) => Link {
                state: LinkState::Online,
                detail: report.left(),
            },
            Err(e) if !e.is_transient() => Link {
                state: LinkState::Refused,
                detail: Some(e.to_string()),
            },
            Err(e) => Link {
                state: LinkState::Offline,
                detail: Some(e.to_string()),
            },
        }
    }
}

impl SyncReport {
    /// What a sync that stopped short left, in words; `None` when it converged.
    pub fn left(&self) -> Option<String> {
        (!self.converged).then(|| {
            format!(
                "still catching up: {} events wait to go to the hub{}",
                self.waiting,
                if self.hub_has_more {
                    ", and the hub has more to send"
                } else {
                    ""
                }
            )
        })
    }

    /// Whether the sync moved anything a person would want to hear of: events either way,
    /// flags, or a new registry extract.
    pub fn moved(&self) -> bool {
        self.uploaded + self.downloaded > 0
            || !self.new_flags.is_empty()
            || !self.moved_flags.is_empty()
            || self.extract != crate::ExtractUpdate::Unchanged
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]
mod tests {
    use super::*;

    #[test]
    fn the_link_says_online_offline_or_refused_and_what_is_left() {
        let done = SyncReport {
            converged: true,
            ..SyncReport::default()
        };
        assert_eq!(
            Link::after(&Ok(done)),
            Link {
                state: LinkState::Online,
                detail: None
            }
        );
        let short = SyncReport {
            converged: false,
            waiting: 120,
            hub_has_more: true,
            ..SyncReport::default()
        };
        assert_eq!(
            Link::after(&Ok(short)).detail.as_deref(),
            Some(
                "still catching up: 120 events wait to go to the hub, and the hub has more to send"
            )
        );
        let offline = Link::after(&Err(Error::Unreachable("connection refused".into())));
        assert_eq!(offline.state, LinkState::Offline);
        let refused = Link::after(&Err(Error::Refused {
            status: 403,
            message: "device revoked".into(),
        }));
        assert_eq!(refused.state, LinkState::Refused);
        assert!(refused.detail.unwrap().contains("device revoked"));
        assert_eq!(
            serde_json::to_value(LinkState::Refused).unwrap(),
            serde_json::json!("refused")
        );
    }
}
