//! Tauri's build step, pointed at the configuration at the workspace root.

fn main() {
    // The built UI is embedded at compile time: rebuild when it changes.
    println!("cargo::rerun-if-changed=../ui/dist");
    if let Err(e) =
        tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
    {
        println!("cargo::error=tauri build step failed: {e:#}");
    }
}
