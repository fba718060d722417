//! The hub's HTTPS API (axum on rustls): enrollment, sync, health.
//!
//! Handlers are thin: they hand the body to the registry on a blocking thread (SQLite work never
//! runs on the async executor) and map [`HubError`] to a status with a one-line message.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custodian_sync::identity::{self, EnrollRequest, EnrollResponse};
use custodian_sync::protocol::MAX_BODY_BYTES;

use crate::{HubError, Registry, demo, exchange, tls};

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let status = match &self {
            HubError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HubError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HubError::Forbidden(_) => StatusCode::FORBIDDEN,
            HubError::NotFound(_) => StatusCode::NOT_FOUND,
            HubError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HubError::Internal(detail) => {
                eprintln!("hub: internal error: {detail}");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the hub's log",
                )
                    .into_response();
            }
        };
        (status, self.to_string()).into_response()
    }
}

/// The router over a registry.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/v1/enroll", post(enroll))
        .route("/v1/sync", post(sync))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(registry)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Internal(format!("worker failed: {e}")))?
}

async fn enroll(
    State(registry): State<Arc<Registry>>,
    body: Bytes,
) -> Result<Json<EnrollResponse>, HubError> {
    let request: EnrollRequest = serde_json::from_slice(&body)
        .map_err(|e| HubError::BadRequest(format!("enrollment request: {e}")))?;
    let device =
        blocking(move || registry.enroll(&request.secret, &request.public_key, &request.name))
            .await?;
    Ok(Json(EnrollResponse {
        device: device.id,
        org: device.org,
        site: device.site,
    }))
}

fn header(headers: &HeaderMap, name: &str) -> Result<String, HubError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| {
            HubError::Unauthorized(format!(
                "missing header {name}: requests must be signed by an enrolled device"
            ))
        })
}

async fn sync(
    State(registry): State<Arc<Registry>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Vec<u8>, HubError> {
    let device = header(&headers, identity::HEADER_DEVICE)?;
    let counter: u64 = header(&headers, identity::HEADER_COUNTER)?
        .parse()
        .map_err(|_| {
            HubError::Unauthorized(format!("{} must be a number", identity::HEADER_COUNTER))
        })?;
    let signature = header(&headers, identity::HEADER_SIGNATURE)?;
    blocking(move || exchange::handle(&registry, &device, counter, &signature, &body)).await
}

/// How to run a hub.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub data: PathBuf,
    pub listen: SocketAddr,
    /// Seed the demo data set if the registry is empty.
    pub demo: bool,
}

/// Opens the registry in `data`, seeding the demo data set when asked and the registry is new.
pub fn open_registry(data: &std::path::Path, demo: bool) -> Result<Registry> {
    let registry = if demo {
        Registry::open_with_key(data, demo::issuer_key)?
    } else {
        Registry::open(data)?
    };
    if demo && crate::registry::current_extract(&registry)?.orgs.is_empty() {
        demo::seed(&registry).context("seeding the demo data")?;
    }
    Ok(registry)
}

/// Runs the hub until `shutdown` resolves. Calls `ready` with the URL once it accepts connections.
pub async fn serve(
    options: ServeOptions,
    ready: impl FnOnce(&str),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let registry = Arc::new(open_registry(&options.data, options.demo)?);
    let listener = std::net::TcpListener::bind(options.listen)
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let material = tls::load_or_create(&options.data, &[addr.ip()])?;
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        material.cert_pem.into_bytes(),
        material.key_pem.into_bytes(),
    )
    .await
    .context("loading the hub's TLS certificate")?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let url = if addr.is_ipv6() {
        format!("https://[{host}]:{}", addr.port())
    } else {
        format!("https://{host}:{}", addr.port())
    };
    std::fs::write(options.data.join("hub.url"), &url).context("writing hub.url")?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config)
        .handle(handle.clone())
        .serve(router(registry).into_make_service());
    ready(&url);
    tokio::select! {
        result = server => result.context("hub server stopped")?,
        () = shutdown => handle.graceful_shutdown(Some(std::time::Duration::from_secs(5))),
    }
    Ok(())
}

/// The URL a running (or last run) hub listens on, and its CA certificate, for tokens.
pub fn hub_address(data: &std::path::Path) -> Result<(String, Vec<u8>)> {
    let url = std::fs::read_to_string(data.join("hub.url")).with_context(|| {
        format!(
            "no hub has run on {} yet: start it with `custodian hub serve --data {}`",
            data.display(),
            data.display()
        )
    })?;
    let ca = std::fs::read(data.join("tls").join("ca.der"))
        .context("the hub's CA certificate is missing")?;
    Ok((url.trim().to_string(), ca))
}
