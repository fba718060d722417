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
    if detail.contains("certificate") || detail.contains("UnknownIssuer") || detail.contains("tls")
    {
        Error::Trust(format!(
            "{base} did not present the pinned hub certificate ({detail})"
        ))
    } else {
        Error::Unreachable(format!("{base}: {detail}"))
    }
}
