//! GS1's EPCIS 2.0 JSON schema, read from `../shared/epcis-schema` beside the checkout (GS1,
//! Apache-2.0; not copied into the project), as a validator the tests compare documents with.
//! Where that directory is absent the tests that validate fail and name the file they need: a
//! schema check that is skipped would pass without checking anything.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The schema's directory: in `CUSTODIAN_REFERENCE` (the reference data's directory, which
/// `scripts/test.sh` finds beside the checkout or beside the checkout a clone was made from), or
/// in `../shared` beside the checkout. A test that needs it fails, naming the file, when it is
/// not there.
fn schema_dir() -> PathBuf {
    let dir = std::env::var_os("CUSTODIAN_REFERENCE")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
            PathBuf::from,
        )
        .join("epcis-schema");
    let root = dir.join("EPCIS-JSON-Schema-root.json");
    assert!(
        root.exists(),
        "GS1's EPCIS 2.0 JSON schema is missing: {} does not exist. Put GS1's schema files in \
         ../shared/epcis-schema beside the checkout (they are not copied into the project).",
        root.display()
    );
    dir
}

struct LocalSchemas(PathBuf);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let rel = uri
            .as_str()
            .split("/JSON-Schema/")
            .nth(1)
            .ok_or_else(|| format!("no local copy of {}", uri.as_str()))?;
        let rel = rel.split('#').next().unwrap_or(rel);
        Ok(serde_json::from_str(&std::fs::read_to_string(
            self.0.join(rel),
        )?)?)
    }
}

pub fn validator() -> jsonschema::Validator {
    let dir = schema_dir();
    let root: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("EPCIS-JSON-Schema-root.json")).unwrap(),
    )
    .unwrap();
    jsonschema::options()
        .with_retriever(LocalSchemas(dir))
        .should_validate_formats(true)
        .build(&root)
        .unwrap()
}

pub fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}
