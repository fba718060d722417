//! The registry on PostgreSQL: reaching the server, and saying what went wrong there.

use postgres::{Client, Config, NoTls};

use crate::HubError;

/// Opens a connection to the PostgreSQL registry at `url` (`postgres://…` or
/// `postgresql://…`, or a libpq key=value string).
pub fn connect(url: &str) -> Result<Client, HubError> {
    let config: Config = url
        .parse()
        .map_err(|e| HubError::BadRequest(format!("{}: {e}", redacted(url))))?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(HubError::BadRequest(format!(
            "{}: sslmode=require: the hub reaches PostgreSQL over a local socket or a trusted network, without TLS",
            redacted(url)
        )));
    }
    config
        .connect(NoTls)
        .map_err(|e| failure(&redacted(url), &e))
}

/// `url` without its password, to name a database in messages.
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_string(),
        },
        None => "the PostgreSQL registry".to_string(),
    }
}

/// A PostgreSQL error as the operator needs it: where, what, and the server's own words (the
/// client's error says only "db error" without them).
pub fn failure(place: &str, e: &postgres::Error) -> HubError {
    let mut text = format!("{place}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    HubError::Internal(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_named_without_its_password() {
        assert_eq!(
            redacted("postgres://hub:s3cret@db.example:5432/registry"),
            "postgres://hub@db.example:5432/registry"
        );
        assert_eq!(
            redacted("postgresql://db.example/registry"),
            "postgresql://db.example/registry"
        );
        assert_eq!(
            redacted("host=/run/postgresql password=x"),
            "the PostgreSQL registry"
        );
    }
}
