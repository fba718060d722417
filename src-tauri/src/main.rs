//! The Custodian handheld app: a Tauri window over the device facade.
//!
//! This crate is a thin shell: [`commands`] deserialises, calls `custodian_sync::Device` and
//! maps errors; the screens are in `ui/`. The ledger lives in the data directory named by
//! `CUSTODIAN_DATA`, else `$XDG_DATA_HOME/custodian`, else `~/.local/share/custodian`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod camera;
mod commands;
#[cfg(test)]
mod front_ends;
#[cfg(test)]
mod ipc_fixtures;

use std::path::PathBuf;
use std::sync::Arc;

use custodian_sync::Device;

/// Where the device ledger lives.
fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CUSTODIAN_DATA") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("custodian");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/custodian")
}

/// The app on `builder`: its state, the camera, and every command the screens invoke.
fn app<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    state: commands::AppState,
) -> tauri::Builder<R> {
    builder
        .manage(state)
        .manage(camera::CameraControl::default())
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::enroll,
            commands::sync_now,
            commands::manifests,
            commands::manifest,
            commands::scan,
            commands::close_manifest,
            commands::flags,
            commands::flag_units,
            commands::flag_lifecycle,
            commands::history,
            commands::recent_scans,
            commands::find_manifest,
            commands::register_warranty,
            commands::claim_warranty,
            commands::record_repair,
            commands::report_counterfeit,
            commands::return_unit,
            commands::quarantine,
            commands::release,
            commands::move_flag,
            commands::orders,
            commands::close_order,
            camera::cameras,
            camera::camera_start,
            camera::camera_stop,
        ])
}

fn main() {
    let dir = data_dir();
    let device = match Device::open(&dir) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            eprintln!(
                "custodian-app: cannot open the ledger in {}: {e}",
                dir.display()
            );
            std::process::exit(1);
        }
    };
    let state = commands::AppState::new(device);
    let background = state.clone();
    let result = app(tauri::Builder::default(), state)
        .setup(move |_app| {
            tauri::async_runtime::spawn(commands::sync_in_background(background));
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(e) = result {
        eprintln!("custodian-app: {e}");
        std::process::exit(1);
    }
}
