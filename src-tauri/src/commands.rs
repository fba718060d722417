//! Tauri commands: three-line adapters from IPC to the device facade. Errors cross IPC as one
//! serialisable `{ kind, message }`; the UI branches on `kind`, never on the message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use custodian_ledger::{
    ClaimRecorded, Flag, History, LoggedScan, Manifest, Picking, Recorded, ReturnOutcome, Step,
    Verdict,
};
use custodian_scanner::Layout;
use custodian_sync::Device;
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

#[derive(Clone, Debug, Default, Serialize)]
pub struct Link {
    /// `unknown` until the first attempt, then `online`, `offline` (the hub cannot be reached) or
    /// `refused` (the hub refused this device, or something other than the pinned hub answered).
    pub state: String,
    pub detail: Option<String>,
}

impl AppState {
    pub fn new(device: Arc<Device>) -> AppState {
        AppState {
            device,
            link: Arc::new(Mutex::new(Link {
                state: "unknown".into(),
                detail: None,
            })),
        }
    }

    fn set_link(&self, result: &Result<custodian_sync::SyncReport, custodian_sync::Error>) {
        let link = match result {
            Ok(report) if !report.converged => Link {
                state: "online".into(),
                detail: Some(format!(
                    "still catching up: {} events wait to go to the hub{}",
                    report.waiting,
                    if report.hub_has_more {
                        " and the hub has more to send"
                    } else {
                        ""
                    }
                )),
            },
            Ok(_) => Link {
                state: "online".into(),
                detail: None,
            },
            // The hub answered and said no (this device was revoked), or the answer did not come
            // from the pinned hub: retrying will not help, and the person must know.
            Err(e) if !e.is_transient() => Link {
                state: "refused".into(),
                detail: Some(e.to_string()),
            },
            Err(e) => Link {
                state: "offline".into(),
                detail: Some(e.to_string()),
            },
        };
        *self
            .link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = link;
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

#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> Result<AppStatus, ApiError> {
    let link = state
        .link
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let device = on_ledger(&state, |d| Ok(d.status()?)).await?;
    Ok(AppStatus { device, link })
}

#[tauri::command]
pub async fn enroll(
    state: State<'_, AppState>,
    token: String,
) -> Result<custodian_sync::Status, ApiError> {
    let status = state.device.enroll(&token, "handheld").await?;
    state.set_link(&Ok(custodian_sync::SyncReport::default()));
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
    on_ledger(&state, |d| Ok(d.reader().manifests()?)).await
}

#[tauri::command]
pub async fn manifest(state: State<'_, AppState>, id: String) -> Result<Manifest, ApiError> {
    on_ledger(&state, move |d| Ok(d.reader().manifest(&id)?)).await
}

/// What a scanner set to a US keyboard meant, when the host has another layout: `us` (as
/// typed), `qwertz`, `azerty`, or `auto` (mapped back only when the text as typed is not a
/// valid code and exactly the first layout that makes it one is taken).
fn unscramble(raw: String, layout: Option<&str>) -> Result<String, ApiError> {
    let layout = match layout.unwrap_or("us") {
        "us" => return Ok(raw),
        "qwertz" => Layout::Qwertz,
        "azerty" => Layout::Azerty,
        "auto" => {
            if custodian_scanner::parse(&raw).is_ok() {
                return Ok(raw);
            }
            match custodian_scanner::detect_layout(&raw) {
                Some(l) => l,
                None => return Ok(raw),
            }
        }
        other => {
            return Err(ApiError {
                kind: "invalid",
                message: format!("unknown keyboard layout {other:?}: us, qwertz, azerty or auto"),
            });
        }
    };
    Ok(layout.us_text(&raw))
}

#[tauri::command]
pub async fn scan(
    state: State<'_, AppState>,
    raw: String,
    step: String,
    manifest: Option<String>,
    layout: Option<String>,
) -> Result<Verdict, ApiError> {
    let step = Step::parse(&step).ok_or_else(|| ApiError {
        kind: "invalid",
        message: format!("unknown step {step:?}"),
    })?;
    let raw = unscramble(raw, layout.as_deref())?;
    on_ledger(&state, move |d| {
        Ok(d.ledger().scan(&raw, step, manifest.as_deref(), now())?)
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
    on_ledger(&state, move |d| {
        let ledger = d.reader();
        let history = match ledger.history(&code, now()) {
            Ok(h) => h,
            Err(custodian_ledger::Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        for link in history.custody.chain.iter().rev() {
            if link.step != "shipping" {
                continue;
            }
            let Some(asn) = &link.transaction else {
                continue;
            };
            match ledger.manifest(asn) {
                Ok(m) if m.status != "closed" => return Ok(Some(m.id)),
                Ok(_) | Err(custodian_ledger::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    })
    .await
}

#[tauri::command]
pub async fn close_manifest(state: State<'_, AppState>, id: String) -> Result<Manifest, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.ledger().close_manifest(&id, now())?)
    })
    .await
}

#[tauri::command]
pub async fn flags(state: State<'_, AppState>) -> Result<Vec<Flag>, ApiError> {
    on_ledger(&state, |d| Ok(d.reader().flags()?)).await
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
    on_ledger(&state, move |d| Ok(d.reader().flag_units(&id)?)).await
}

#[tauri::command]
pub async fn set_flag_status(
    state: State<'_, AppState>,
    id: String,
    status: String,
) -> Result<(), ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.ledger().set_flag_status(&id, &status)?)
    })
    .await
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
        let note = note.filter(|n| !n.trim().is_empty());
        Ok(d.ledger().move_flag(&id, &status, note.as_deref(), now())?)
    })
    .await
}

/// Outbound orders held by this device, with what has been picked.
#[tauri::command]
pub async fn orders(state: State<'_, AppState>) -> Result<Vec<Picking>, ApiError> {
    on_ledger(&state, |d| Ok(d.reader().orders()?)).await
}

/// What closing an order shipped, and where its outbound manifest was written.
#[derive(Serialize)]
pub struct Shipped {
    order: Picking,
    manifest_file: String,
}

/// Closes an order: what was picked ships, and the outbound manifest (EPCIS 2.0) is written to
/// `outbound/ORDER.epcis.json` in the data directory.
#[tauri::command]
pub async fn close_order(state: State<'_, AppState>, id: String) -> Result<Shipped, ApiError> {
    on_ledger(&state, move |d| {
        let mut ledger = d.ledger();
        let (order, manifest) = ledger.close_order(&id, now())?;
        let dir = ledger.dir().join("outbound");
        let file = dir.join(format!("{}.epcis.json", id.replace(['/', '\\'], "_")));
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| ApiError {
            kind: "internal",
            message: format!("order {id} shipped, but its manifest: {e}"),
        })?;
        let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, bytes));
        written.map_err(|e| ApiError {
            kind: "internal",
            message: format!("order {id} shipped, but writing {}: {e}", file.display()),
        })?;
        Ok(Shipped {
            order,
            manifest_file: file.display().to_string(),
        })
    })
    .await
}

#[tauri::command]
pub async fn history(state: State<'_, AppState>, code: String) -> Result<History, ApiError> {
    on_ledger(&state, move |d| Ok(d.reader().history(&code, now())?)).await
}

#[tauri::command]
pub async fn recent_scans(
    state: State<'_, AppState>,
    limit: Option<usize>,
) -> Result<Vec<LoggedScan>, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.reader().recent_scans(limit.unwrap_or(20))?)
    })
    .await
}

#[tauri::command]
pub async fn register_warranty(
    state: State<'_, AppState>,
    code: String,
    owner: String,
) -> Result<Recorded, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.ledger().register_warranty(&code, &owner, now())?)
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
        let note = note.filter(|n| !n.trim().is_empty());
        Ok(d.ledger()
            .claim_warranty(&code, &defect, note.as_deref(), now())?)
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
        let order = order.filter(|o| !o.trim().is_empty());
        Ok(d.ledger()
            .record_repair(&code, &parts_in, &parts_out, order.as_deref(), now())?)
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
        let mut ledger = d.ledger();
        let photo = match jpeg {
            Some(bytes) => {
                let hash = hex_sha256(&bytes);
                let dir = ledger.dir().join("photos");
                let name = format!("{hash}.jpg");
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(dir.join(&name), &bytes))
                    .map_err(|e| ApiError {
                        kind: "internal",
                        message: format!("keeping the photo in {}: {e}", dir.display()),
                    })?;
                let reference = custodian_ledger::event::Text::parse(&format!("photos/{name}"))
                    .map_err(|e| ApiError {
                        kind: "internal",
                        message: e,
                    })?;
                Some(custodian_ledger::event::Photo::of_bytes(reference, &bytes))
            }
            None => None,
        };
        Ok(ledger.report_counterfeit(&code, &note, photo, now())?)
    })
    .await
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tauri::command]
pub async fn return_unit(
    state: State<'_, AppState>,
    code: String,
    outcome: String,
) -> Result<Recorded, ApiError> {
    let outcome = ReturnOutcome::parse(&outcome).ok_or_else(|| ApiError {
        kind: "invalid",
        message: format!("a return is refurbished or scrapped, not {outcome:?}"),
    })?;
    on_ledger(&state, move |d| {
        Ok(d.ledger().return_unit(&code, outcome, now())?)
    })
    .await
}

/// Puts a unit in quarantine for `reason` (required).
#[tauri::command]
pub async fn quarantine(
    state: State<'_, AppState>,
    code: String,
    reason: String,
) -> Result<Recorded, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.ledger().quarantine(&code, &reason, now())?)
    })
    .await
}

/// Releases a unit from quarantine with a `note` (required) of what was found.
#[tauri::command]
pub async fn release(
    state: State<'_, AppState>,
    code: String,
    note: String,
) -> Result<Recorded, ApiError> {
    on_ledger(&state, move |d| {
        Ok(d.ledger().release(&code, &note, now())?)
    })
    .await
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
