//! The app offers a flag's moves from the lifecycle the ledger enforces: `ui/src/flag-lifecycle.json`
//! is that lifecycle as the app's `flag_lifecycle` command returns it, and the UI's tests read it.
//! A change to the rules or to the fields fails here until the file is written anew (the
//! message shows what it must hold).

use custodian_ledger::docs::{FlagStatus, flag_lifecycle};

#[test]
fn the_ui_fixture_is_the_lifecycle_the_ledger_enforces() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/flag-lifecycle.json");
    let want = format!(
        "{}\n",
        serde_json::to_string_pretty(&flag_lifecycle()).unwrap()
    );
    let held = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(held, want, "{} must hold:\n{want}", path.display());
}

#[test]
fn moves_go_forward_and_closing_or_escalating_needs_a_note() {
    let steps = flag_lifecycle();
    assert_eq!(steps.len(), FlagStatus::ALL.len());
    for step in &steps {
        assert!(step.moves.iter().all(|m| *m > step.status), "{step:?}");
    }
    let closed = steps.last().unwrap();
    assert_eq!(closed.status, FlagStatus::Closed);
    assert!(closed.moves.is_empty(), "closed is the end");
    let noted: Vec<FlagStatus> = steps
        .iter()
        .filter(|s| s.needs_note)
        .map(|s| s.status)
        .collect();
    assert_eq!(noted, [FlagStatus::Escalated, FlagStatus::Closed]);
}
