//! Checks the AI table against GS1's Barcode Syntax Dictionary, read at test time from
//! `shared/gs1/gs1-syntax-dictionary.txt` beside the workspace (or in `$CUSTODIAN_REFERENCE`).
//!
//! For every AI the dictionary lists, the table must know it and agree on the predefined-length
//! flag, the Digital Link attribute flag, every component (character set, length, optional,
//! linters in order), the Digital Link primary key and its qualifiers, and the `req` and `ex`
//! pairing rules. The table must list no AI the dictionary does not. There is no exclusion list.
//! Without the dictionary the test fails and names the file it needs: a check that is skipped
//! would pass without checking anything. The file is read from beside the checkout, never
//! copied into the project.

#![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

use std::collections::BTreeSet;
use std::path::PathBuf;

use custodian_scanner::ApplicationIdentifier;

/// `CUSTODIAN_REFERENCE` (the reference data's directory, which `scripts/test.sh` finds beside
/// the checkout or beside the checkout a clone was made from), or `../shared` beside this one.
fn dictionary_path() -> PathBuf {
    std::env::var_os("CUSTODIAN_REFERENCE")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
            PathBuf::from,
        )
        .join("gs1/gs1-syntax-dictionary.txt")
}

/// One component as the dictionary writes it: `N14,csum,gcppos2`, `[X..17]`, `[N3],iso3166`.
#[derive(Debug, PartialEq, Eq)]
struct Spec {
    charset: char,
    min: usize,
    max: usize,
    optional: bool,
    linters: Vec<String>,
}

fn spec(token: &str) -> Spec {
    let (optional, rest) = match token.strip_prefix('[') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let mut parts = rest.split(',');
    let head = parts.next().unwrap().trim_end_matches(']');
    let charset = head.chars().next().unwrap();
    let length = &head[1..];
    let (min, max) = match length.strip_prefix("..") {
        Some(max) => (1, max.parse().unwrap()),
        None => {
            let n = length.parse().unwrap();
            (n, n)
        }
    };
    Spec {
        charset,
        min,
        max,
        optional,
        linters: parts.map(str::to_owned).collect(),
    }
}

/// A pairing rule as a set of alternatives, each a set of AIs or patterns.
fn rule(text: Option<&str>) -> BTreeSet<BTreeSet<String>> {
    text.map(|t| {
        t.split(',')
            .map(|group| group.split('+').map(str::to_owned).collect())
            .collect()
    })
    .unwrap_or_default()
}

struct Entry {
    line: usize,
    first: String,
    last: String,
    flags: String,
    specs: Vec<Spec>,
    req: Option<String>,
    ex: Option<String>,
    dlpkey: Option<Vec<Vec<String>>>,
}

fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut tokens = line.split_whitespace().peekable();
        let ais = tokens.next().unwrap();
        let (first, last) = ais.split_once('-').unwrap_or((ais, ais));
        let flags = match tokens.peek() {
            Some(t) if !t.chars().any(|c| c.is_ascii_alphanumeric()) => {
                tokens.next().unwrap().to_owned()
            }
            _ => String::new(),
        };
        let mut entry = Entry {
            line: n + 1,
            first: first.to_owned(),
            last: last.to_owned(),
            flags,
            specs: Vec::new(),
            req: None,
            ex: None,
            dlpkey: None,
        };
        for token in tokens {
            if let Some(req) = token.strip_prefix("req=") {
                assert!(entry.req.is_none(), "line {}: repeated req", n + 1);
                entry.req = Some(req.to_owned());
            } else if let Some(ex) = token.strip_prefix("ex=") {
                assert!(entry.ex.is_none(), "line {}: repeated ex", n + 1);
                entry.ex = Some(ex.to_owned());
            } else if token == "dlpkey" {
                entry.dlpkey = Some(Vec::new());
            } else if let Some(keys) = token.strip_prefix("dlpkey=") {
                entry.dlpkey = Some(
                    keys.split('|')
                        .map(|alt| alt.split(',').map(str::to_owned).collect())
                        .collect(),
                );
            } else if token.contains('=') {
                panic!("line {}: attribute {token} is not modelled", n + 1);
            } else {
                entry.specs.push(spec(token));
            }
        }
        out.push(entry);
    }
    out
}

fn compare(entry: &Entry, code: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(ai) = ApplicationIdentifier::lookup(code) else {
        return vec![format!("AI {code} (line {}): not in the table", entry.line)];
    };
    let mut differ = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            problems.push(format!(
                "AI {code} (line {}): {what}: table {ours}, dictionary {theirs}",
                entry.line
            ));
        }
    };
    differ(
        "predefined length",
        ai.is_predefined_length().to_string(),
        entry.flags.contains('*').to_string(),
    );
    differ(
        "Digital Link attribute",
        ai.is_digital_link_attribute().to_string(),
        entry.flags.contains('?').to_string(),
    );
    let ours: Vec<Spec> = ai
        .components()
        .iter()
        .map(|c| Spec {
            charset: c.charset().letter(),
            min: c.min(),
            max: c.max(),
            optional: c.is_optional(),
            linters: c.linters().map(str::to_owned).collect(),
        })
        .collect();
    differ(
        "components",
        format!("{ours:?}"),
        format!("{:?}", entry.specs),
    );
    differ(
        "primary key",
        ai.is_primary_key().to_string(),
        entry.dlpkey.is_some().to_string(),
    );
    let qualifiers: Vec<Vec<String>> = ai
        .qualifiers()
        .iter()
        .map(|alt| alt.iter().map(|q| (*q).to_owned()).collect())
        .collect();
    differ(
        "key qualifiers",
        format!("{qualifiers:?}"),
        format!("{:?}", entry.dlpkey.clone().unwrap_or_default()),
    );
    differ(
        "req",
        format!("{:?}", rule(ai.requires())),
        format!("{:?}", rule(entry.req.as_deref())),
    );
    differ(
        "ex",
        format!("{:?}", rule(ai.excludes())),
        format!("{:?}", rule(entry.ex.as_deref())),
    );
    problems
}

#[test]
fn the_ai_table_agrees_with_the_syntax_dictionary() {
    let path = dictionary_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "GS1's Barcode Syntax Dictionary is missing: {} could not be read ({e}). Put \
             gs1-syntax-dictionary.txt in ../shared/gs1 beside the checkout (it is not copied \
             into the project); the AI table is checked against it.",
            path.display()
        )
    });
    let entries = entries(&text);
    assert!(entries.len() > 200, "only {} entries read", entries.len());

    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    let mut linters = BTreeSet::new();
    for entry in &entries {
        linters.extend(entry.specs.iter().flat_map(|s| s.linters.iter().cloned()));
        let width = entry.first.len();
        let first: usize = entry.first.parse().unwrap();
        let last: usize = entry.last.parse().unwrap();
        for n in first..=last {
            let code = format!("{n:0width$}");
            problems.extend(compare(entry, &code));
            listed.insert(code);
        }
    }
    for ai in ApplicationIdentifier::all() {
        if !listed.contains(ai.code()) {
            problems.push(format!(
                "AI {}: in the table, not in the dictionary",
                ai.code()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} disagreements:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // Every linter the dictionary names is one the table runs somewhere.
    let ours: BTreeSet<String> = ApplicationIdentifier::all()
        .flat_map(|ai| {
            ai.components()
                .iter()
                .flat_map(|c| c.linters())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let missing: Vec<&String> = linters.difference(&ours).collect();
    assert!(missing.is_empty(), "linters not implemented: {missing:?}");
}
