//! Tauri commands: three-line adapters from IPC to the device facade. Errors cross IPC as one
//! serialisable `{ kind, message }`; the UI branches on `kind`, never on the message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use custodian_ledger::{
    ClaimRecorded, Flag, History, LoggedScan, Manifest, Picking, Recorded, ReturnOutcome, Step,
    Verdict,
};
use custodian_scanner::HostLayout;
use custodian_sync::{Device, Link, LinkState, Shipped};
use serde::Serialize;
use tauri::State;

/// How often the app syncs in the background when enrolled.
const SYNC_EVERY: Duration = Duration::from_secs(20);

/// The app's state: the device, and what the last sync attempt said about the link.
#[derive(Clone)]
pub struct AppState {
    device: Arc<Device>,
    link: Arc<Mutex<Link>>,
}

impl AppState {
    pub fn new(device: Arc<Device>) -> AppState {
        AppState {
            device,
            link: Arc::new(Mutex::new(Link::default())),
        }
    }

    fn set_link(&self, result: &Result<custodian_sync::SyncReport, custodian_sync::Error>) {
        *self
            .link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Link::after(result);
    }
}

/// The one error type that crosses IPC.
#[derive(Debug, Serialize)]
pub struct ApiError {
    /// `not_enrolled`, `offline`, `refused`, `invalid`, `not_found`, `camera`, `internal`.
    pub kind: &'static str,
    pub message: String,
}

impl From<custodian_ledger::Error> for ApiError {
    fn from(e: custodian_ledger::Error) -> ApiError {
        use custodian_ledger::Error as E;
        let kind = match &e {
            E::NotEnrolled => "not_enrolled",
            E::NotFound(_) => "not_found",
            E::Invalid(_) => "invalid",
            _ => "internal",
        };
        ApiError {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<custodian_sync::Error> for ApiError {
    fn from(e: custodian_sync::Error) -> ApiError {
        use custodian_sync::Error as E;
        match e {
            E::Ledger(l) => l.into(),
            E::NotEnrolled => ApiError {
                kind: "not_enrolled",
                message: e.to_string(),
            },
            E::Unreachable(_) => ApiError {
                kind: "offline",
                message: e.to_string(),
            },
            E::Refused { .. } | E::Trust(_) => ApiError {
                kind: "refused",
                message: e.to_string(),
            },
            E::Token(_) | E::AlreadyEnrolled => ApiError {
                kind: "invalid",
                message: e.to_string(),
            },
            other => ApiError {
                kind: "internal",
                message: other.to_string(),
            },
        }
    }
}

fn invalid(message: String) -> ApiError {
    ApiError {
        kind: "invalid",
        message,
    }
}

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Local::now().fixed_offset()
}

/// Runs ledger work off the main thread (a sync may hold the ledger for a moment; the window
/// must not freeze meanwhile).
async fn on_ledger<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Device) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let device = state.device.clone();
    tauri::async_runtime::spawn_blocking(move || f(&device))
        .await
        .map_err(|e| ApiError {
            kind: "internal",
            message: format!("ledger worker failed: {e}"),
        })?
}

#[derive(Serialize)]
pub struct AppStatus {
    #[serde(flatten)]
    device: custodian_sync::Status,
    link: Link,
}

impl AppStatus {
    pub fn new(device: custodian_sync::Status, link: Link) -> AppStatus {
        AppStatus { device, link }
    }
}

#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> Result<AppStatus, ApiError> {
    let link = state
        .link
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let device = on_ledger(&state, |d| Ok(d.status()?)).await?;
    Ok(AppStatus::new(device, link))
}

#[tauri::command]
pub async fn enroll(
    state: State<'_, AppState>,
    token: String,
) -> Result<custodian_sync::Status, ApiError> {
    let status = state.device.enroll(&token, "handheld").await?;
    // Enrollment ran a first sync: the hub answered.
    *state
        .link
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Link {
        state: LinkState::Online,
        detail: None,
    };
    Ok(status)
}

#[tauri::command]
pub async fn sync_now(state: State<'_, AppState>) -> Result<custodian_sync::SyncReport, ApiError> {
    let result = state.device.sync().await;
    state.set_link(&result);
    Ok(result?)
}

#[tauri::command]
pub async fn manifests(state: State<'_, AppState>) -> Result<Vec<Manifest>, ApiError> {
    on_ledger(&state, |d| Ok(d.manifests()?)).await
}

#[tauri::command]
pub async fn manifest(state: State<'_, AppState>, id: String) -> Result<Manifest, ApiError> {
    on_ledger(&state, move |d| Ok(d.manifest(&id)?)).await
}

/// Records a scan. `layout` is the host keyboard layout setting (`us`, `qwertz`, `azerty` or
/// `auto`; see [`custodian_scanner::HostLayout`]).
#[tauri::command]
pub async fn scan(
    state: State<'_, AppState>,
    raw: String,
    step: String,
    manifest: Option<String>,
    layout: Option<String>,
) -> Result<Verdict, ApiError> {
    let step = Step::parse(&step).ok_or_else(|| invalid(format!("unknown step {step:?}")))?;
    let layout: HostLayout = layout
        .as_deref()
        .unwrap_or("us")
        .parse()
        .map_err(|e: custodian_scanner::UnknownLayout| invalid(e.to_string()))?;
    on_ledger(&state, move |d| {
        Ok(d.scan(&raw, step, manifest.as_deref(), layout, now())?)
    })
    .await
}

/// The open manifest a scanned logistic unit (or unit) was shipped under, so scanning a
/// pallet's SSCC picks its ASN. `None` when the ledger knows no open shipment of it.
#[tauri::command]
pub async fn find_manifest(
    state: State<'_, AppState>,
    code: String,
) -> Result<Option<String>, ApiError> {
    on_ledger(&state, move |d| Ok(d.open_manifest_of(&code, now())?)).await
}

#[tauri::command]
pub async fn close_manifest(state: State<'_, AppState>, id: String) -> Result<Manifest, ApiError> {
    on_ledger(&state, move |d| Ok(d.close_manifest(&id, now())?)).await
}

#[tauri::command]
pub async fn flags(state: State<'_, AppState>) -> Result<Vec<Flag>, ApiError> {
    on_ledger(&state, |d| Ok(d.flags()?)).await
}

/// The flag lifecycle the ledger enforces: where a flag may move from each status, and which
/// moves need a note. The flags screen offers its moves from this, not from a copy of its own.
#[tauri::command]
pub fn flag_lifecycle() -> Vec<custodian_ledger::docs::LifecycleStep> {
    custodian_ledger::docs::flag_lifecycle()
}

/// The units a flag lists (a flag stands for one cause and lists its units), as far as the hub
/// has sent them.
#[tauri::command]
pub async fn flag_units(
    state: State<'_, AppState>,
    id: String,
) -> Result<Vec<custodian_ledger::docs::FlagUnit>, ApiError> {
    on_ledger(&state, move |d| Ok(d.flag_units(&id)?)).await
}

/// Moves a flag along its lifecycle as this device, with the note that says why (required
/// to escalate or close).
#[tauri::command]
pub async fn move_flag(
    state: State<'_, AppState>,
    id: String,
    status: String,
    note: Option<String>,
) -> Result<Flag, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.move_flag(&id, &status, note.as_deref(), now())?)
    })
    .await
}

/// Outbound orders held by this device, with what has been picked.
#[tauri::command]
pub async fn orders(state: State<'_, AppState>) -> Result<Vec<Picking>, ApiError> {
    on_ledger(&state, |d| Ok(d.orders()?)).await
}

/// Closes an order: what was picked ships, and the outbound manifest (EPCIS 2.0) is written to
/// `outbound/ORDER.epcis.json` in the data directory.
#[tauri::command]
pub async fn close_order(state: State<'_, AppState>, id: String) -> Result<Shipped, ApiError> {
    on_ledger(&state, move |d| Ok(d.close_order(&id, now())?)).await
}

#[tauri::command]
pub async fn history(state: State<'_, AppState>, code: String) -> Result<History, ApiError> {
    on_ledger(&state, move |d| Ok(d.history(&code, now())?)).await
}

#[tauri::command]
pub async fn recent_scans(
    state: State<'_, AppState>,
    limit: Option<usize>,
) -> Result<Vec<LoggedScan>, ApiError> {
    on_ledger(&state, move |d| Ok(d.recent_scans(limit.unwrap_or(20))?)).await
}

#[tauri::command]
pub async fn register_warranty(
    state: State<'_, AppState>,
    code: String,
    owner: String,
) -> Result<Recorded, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.register_warranty(&code, &owner, now())?)
    })
    .await
}

#[tauri::command]
pub async fn claim_warranty(
    state: State<'_, AppState>,
    code: String,
    defect: String,
    note: Option<String>,
) -> Result<ClaimRecorded, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.claim_warranty(&code, &defect, note.as_deref(), now())?)
    })
    .await
}

#[tauri::command]
pub async fn record_repair(
    state: State<'_, AppState>,
    code: String,
    parts_in: Vec<String>,
    parts_out: Vec<String>,
    order: Option<String>,
) -> Result<Recorded, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.record_repair(&code, &parts_in, &parts_out, order.as_deref(), now())?)
    })
    .await
}

/// Reports a unit counterfeit with a note and, when `photo` is set and the camera has shown
/// a frame, that frame as its photo (kept as `photos/SHA256.jpg` in the data directory; the
/// event records its name and hash).
#[tauri::command]
pub async fn report_counterfeit(
    state: State<'_, AppState>,
    camera: State<'_, crate::camera::CameraControl>,
    code: String,
    note: String,
    photo: Option<bool>,
) -> Result<Recorded, ApiError> {
    let jpeg = if photo.unwrap_or(false) {
        Some(camera.last_frame().ok_or_else(|| ApiError {
            kind: "camera",
            message: "no camera frame to attach: open the camera first".into(),
        })?)
    } else {
        None
    };
    on_ledger(&state, move |d| {
        Ok(d.report_counterfeit(&code, &note, jpeg.as_deref(), now())?)
    })
    .await
}

#[tauri::command]
pub async fn return_unit(
    state: State<'_, AppState>,
    code: String,
    outcome: String,
) -> Result<Recorded, ApiError> {
    let outcome = ReturnOutcome::parse(&outcome).ok_or_else(|| {
        invalid(format!(
            "a return is refurbished or scrapped, not {outcome:?}"
        ))
    })?;
    on_ledger(&state, move |d| Ok(d.return_unit(&code, outcome, now())?)).await
}

/// Puts a unit in quarantine for `reason` (required).
#[tauri::command]
pub async fn quarantine(
    state: State<'_, AppState>,
    code: String,
    reason: String,
) -> Result<Recorded, ApiError> {
    on_ledger(&state, move |d| Ok(d.quarantine(&code, &reason, now())?)).await
}

/// Releases a unit from quarantine with a `note` (required) of what was found.
#[tauri::command]
pub async fn release(
    state: State<'_, AppState>,
    code: String,
    note: String,
) -> Result<Recorded, ApiError> {
    on_ledger(&state, move |d| Ok(d.release(&code, &note, now())?)).await
}

/// Syncs whenever enrolled, every [`SYNC_EVERY`]; an unreachable hub is normal (offline).
pub async fn sync_in_background(state: AppState) {
    loop {
        let enrolled = on_ledger(&state, |d| Ok(d.status()?))
            .await
            .is_ok_and(|s| s.enrolled);
        if enrolled {
            let result = state.device.sync().await;
            state.set_link(&result);
        }
        tokio::time::sleep(SYNC_EVERY).await;
    }
}
