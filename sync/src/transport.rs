//! The HTTPS transport: reqwest over rustls, trusting only the hub's pinned certificate
//! authority (no system or built-in roots), with signed requests.

use std::time::Duration;

use crate::Error;

/// A connection to one hub.
#[derive(Clone, Debug)]
pub struct HubClient {
    client: reqwest::Client,
    base: String,
}

impl HubClient {
    /// A client that trusts `ca_der` and nothing else.
    pub fn pinned(base: &str, ca_der: &[u8]) -> Result<HubClient, Error> {
        let ca = reqwest::Certificate::from_der(ca_der).map_err(|e| {
            Error::Trust(format!(
                "the hub certificate in the token is not valid: {e}"
            ))
        })?;
        let client = reqwest::Client::builder()
            .tls_certs_only([ca])
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Trust(format!("cannot set up TLS: {e}")))?;
        Ok(HubClient {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// POSTs `body` to `path` with the given headers; returns the response body of a 2xx answer.
    pub async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Result<Vec<u8>, Error> {
        let mut req = self.client.post(format!("{}{path}", self.base)).body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let resp = req.send().await.map_err(|e| classify(&self.base, &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| classify(&self.base, &e))?;
        if !status.is_success() {
            let message = String::from_utf8_lossy(&bytes).trim().to_string();
            return Err(Error::Refused {
                status: status.as_u16(),
                message,
            });
        }
        Ok(bytes.to_vec())
    }
}

fn classify(base: &str, e: &reqwest::Error) -> Error {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    classify_detail(base, detail)
}

/// A failure is about trust only when the hub's certificate was checked and refused. A link cut
/// during the TLS handshake (`tls handshake eof`, a reset) is a transient failure like any
/// other cut connection, to be retried, and never reported as a certificate problem.
fn classify_detail(base: &str, detail: String) -> Error {
    let refused_certificate = [
        "certificate",
        "UnknownIssuer",
        "NotValidForName",
        "BadSignature",
    ]
    .iter()
    .any(|needle| detail.contains(needle));
    if refused_certificate {
        Error::Trust(format!(
            "{base} did not present the pinned hub certificate ({detail})"
        ))
    } else {
        Error::Unreachable(format!("{base}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_certificate_is_a_trust_failure() {
        let check = |detail: &str, trust: bool| {
            let e = classify_detail("https://hub", detail.to_string());
            assert_eq!(matches!(e, Error::Trust(_)), trust, "{detail}: {e}");
            assert_eq!(e.is_transient(), !trust, "{detail}: {e}");
        };
        check(
            "error sending request: client error (Connect): tls handshake eof",
            false,
        );
        check(
            "error sending request: client error (Connect): Connection reset by peer (os error 104)",
            false,
        );
        check(
            "error sending request: connection closed before message completed",
            false,
        );
        check(
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer",
            true,
        );
        check(
            "client error (Connect): invalid peer certificate: NotValidForName",
            true,
        );
    }
}
