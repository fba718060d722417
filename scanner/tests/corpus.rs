//! Runs the element-string corpus in `fixtures/corpus/element-strings.tsv`: one input per line
//! (escaped), and either the parse rendered as `Form [aim] (ai)value…` (then ` | ` and each note,
//! if the parser repaired the text or found another reading) or `error: ` and the exact message
//! with its position.
//!
//! To re-bless after an intended change, run with `UPDATE_CORPUS=1` and review the diff.

#![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

use std::fmt::Write as _;
use std::path::PathBuf;

use custodian_scanner::parse;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/corpus/element-strings.tsv")
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).unwrap()));
            }
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("bad escape \\{other:?} in {s:?}"),
        }
    }
    out
}

fn render(raw: &str) -> String {
    match parse(raw) {
        Ok(scan) => {
            let mut out = format!("{:?}", scan.form);
            if let Some(symbology) = &scan.symbology {
                write!(out, " {}", symbology.aim).unwrap();
            }
            out.push(' ');
            for element in &scan.elements {
                write!(out, "({}){}", element.ai, element.value).unwrap();
            }
            for note in scan.notes() {
                write!(out, " | {note}").unwrap();
            }
            out
        }
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn element_string_corpus() {
    let text = std::fs::read_to_string(path()).unwrap();
    let update = std::env::var_os("UPDATE_CORPUS").is_some();
    let mut blessed = String::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            blessed.push_str(line);
            blessed.push('\n');
            continue;
        }
        let (input, expected) = line.split_once('\t').unwrap_or((line, ""));
        let actual = render(&unescape(input));
        cases += 1;
        if actual != expected {
            failures.push(format!(
                "line {}: {input}\n  expected: {expected}\n  actual:   {actual}",
                n + 1
            ));
        }
        writeln!(blessed, "{input}\t{actual}").unwrap();
    }
    if update {
        std::fs::write(path(), blessed).unwrap();
        return;
    }
    assert!(cases >= 50, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
