//! What several test files share.

pub mod epcis_schema;
