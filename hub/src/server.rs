//! The hub's HTTPS API (axum on rustls): enrollment, sync, public verification, health.
//!
//! Handlers are thin: they hand the body to the registry on a blocking thread, or to the
//! [`Verifier`]'s reader threads (SQLite work never runs on the async executor), and map
//! [`HubError`] to a status with a one-line message.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custodian_sync::identity::{self, EnrollRequest, EnrollResponse, RequestAuth};
use custodian_sync::protocol::MAX_BODY_BYTES;

use crate::verify::{
    CODES_PER_TOKEN, MAX_BATCH_CODES, PublicOptions, RateLimiter, Source, Verifier, read_batch,
};
use crate::{HubError, Registry, demo, exchange, tls};

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let status = match &self {
            HubError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HubError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HubError::Forbidden(_) => StatusCode::FORBIDDEN,
            HubError::NotFound(_) => StatusCode::NOT_FOUND,
            HubError::Conflict(_) => StatusCode::CONFLICT,
            HubError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HubError::Unavailable(detail) => {
                eprintln!("hub: registry unavailable: {detail}");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(
                        axum::http::header::RETRY_AFTER,
                        RETRY_AFTER_SECONDS.to_string(),
                    )],
                    "the registry is unavailable for a moment; try again",
                )
                    .into_response();
            }
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

/// How long a client is asked to wait when the registry's database is unavailable.
const RETRY_AFTER_SECONDS: u64 = 5;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    registry: Arc<Registry>,
    limiter: Arc<RateLimiter>,
    verifier: Arc<Verifier>,
}

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The router over a registry. Public verification is limited per client address as `public`
/// says ([`crate::verify::RateLimit::PUBLIC`] by default) and answered by its own reader
/// threads, which stop when the router is dropped.
pub fn router(registry: Arc<Registry>, public: &PublicOptions) -> Result<Router, HubError> {
    let state = AppState {
        verifier: Arc::new(Verifier::start(registry.clone(), public.readers)?),
        limiter: Arc::new(RateLimiter::for_registry(public.rate, registry.clone())),
        registry,
    };
    Ok(Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route("/v1/enroll", post(enroll))
        .route("/v1/sync", post(sync))
        .route("/verify", get(verify_query))
        .route("/verify/batch", post(verify_batch))
        .route("/verify/{*path}", get(verify_path))
        .route("/01/{*path}", get(resolve_link))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state.clone())
        .merge(crate::api::router(state.registry)))
}

fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "1")],
        "too many verifications from this address; retry in a second",
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct CodeQuery {
    code: String,
}

async fn public_verify(state: AppState, client: SocketAddr, code: String) -> Response {
    if !state.limiter.admit(client.ip(), 1.0).await {
        return too_many();
    }
    match state
        .verifier
        .verify(&code, Source::address(client.ip()))
        .await
    {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /verify/batch`: a shipment manifest's codes, answered per code. Every
/// [`CODES_PER_TOKEN`] codes cost one request of the client's rate limit.
async fn verify_batch(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    // The largest batch one address may send at once: its burst of requests.
    let burst_codes = (state.limiter.burst().max(0.0) as usize)
        .saturating_mul(CODES_PER_TOKEN)
        .min(MAX_BATCH_CODES);
    let codes = match read_batch(&body, burst_codes) {
        Ok(codes) => codes,
        Err(e) => return e.into_response(),
    };
    let n = codes.len();
    let cost = n.div_ceil(CODES_PER_TOKEN) as f64;
    if !state.limiter.admit(client.ip(), cost).await {
        return too_many();
    }
    match state
        .verifier
        .verify_batch(codes, Source::address(client.ip()))
        .await
    {
        Ok(report) => Json(report).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /verify?code=…` with anything a scanner reads (URL-encoded).
async fn verify_query(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Query(q): Query<CodeQuery>,
) -> Response {
    public_verify(state, client, q.code).await
}

/// `GET /verify/01/{gtin}/21/{serial}…`: a Digital Link path under /verify.
async fn verify_path(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    uri: Uri,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or(uri.path(), |p| p.as_str())
        .trim_start_matches("/verify");
    public_verify(state, client, format!("https://resolver{path}")).await
}

/// GS1 Digital Link resolution: `GET /01/{gtin}/21/{serial}?…` on this hub's domain.
async fn resolve_link(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    uri: Uri,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or(uri.path(), |p| p.as_str())
        .to_string();
    public_verify(state, client, format!("https://resolver{path}")).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Internal(format!("worker failed: {e}")))?
}

async fn enroll(
    State(AppState { registry, .. }): State<AppState>,
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
        .ok_or_else(|| exchange::refused("", &format!("missing or unreadable header {name}")))
}

async fn sync(
    State(AppState { registry, .. }): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Vec<u8>, HubError> {
    let number = |name: &str| -> Result<i64, HubError> {
        header(&headers, name)?
            .parse()
            .map_err(|_| exchange::refused("", &format!("{name} is not a number")))
    };
    let auth = RequestAuth {
        device: header(&headers, identity::HEADER_DEVICE)?,
        counter: u64::try_from(number(identity::HEADER_COUNTER)?).map_err(|_| {
            exchange::refused("", &format!("{} is negative", identity::HEADER_COUNTER))
        })?,
        clock_ms: number(identity::HEADER_CLOCK)?,
        signature: header(&headers, identity::HEADER_SIGNATURE)?,
    };
    blocking(move || exchange::handle(&registry, &auth, &body)).await
}

/// How to run a hub.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The hub's directory: its TLS identity, the URL it listens on, and (unless `store` says
    /// otherwise) its registry.
    pub data: PathBuf,
    /// Where the registry is kept when not in `data` (a PostgreSQL database).
    pub store: Option<crate::registry::StoreAt>,
    pub listen: SocketAddr,
    /// Seed the demo data set if the registry is empty.
    pub demo: bool,
    /// Public verification: its rate limit per client and its reader threads.
    pub public: PublicOptions,
    /// The most events a device may upload in one sync round ([`Registry::set_round_events`]).
    pub round_events: usize,
    /// Certificates (DER) trusted for subscribers' webhook endpoints beside the system's roots.
    pub webhook_roots: Vec<Vec<u8>>,
}

/// Opens the registry in `data`, seeding the demo data set when asked and the registry is new.
pub fn open_registry(data: &std::path::Path, demo: bool) -> Result<Registry> {
    open_registry_at(&crate::registry::StoreAt::Sqlite(data.to_path_buf()), demo)
}

/// Opens the registry kept at `at`, seeding the demo data set when asked and the registry is
/// new.
pub fn open_registry_at(at: &crate::registry::StoreAt, demo: bool) -> Result<Registry> {
    let registry = if demo {
        Registry::open_at_with_key(at, demo::issuer_key)?
    } else {
        Registry::open_at(at)?
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
    let at = match &options.store {
        Some(at) => {
            record_store(&options.data, at)?;
            at.clone()
        }
        None => recorded_store(&options.data)?
            .unwrap_or_else(|| crate::registry::StoreAt::Sqlite(options.data.clone())),
    };
    // The registry is opened, and the verifier started, on a thread that may block (a
    // PostgreSQL store's client blocks).
    let (demo, public, round_events) = (options.demo, options.public.clone(), options.round_events);
    let (app, registry) =
        tokio::task::spawn_blocking(move || -> Result<(Router, Arc<Registry>)> {
            let registry = Arc::new(open_registry_at(&at, demo)?);
            registry.set_round_events(round_events);
            Ok((router(registry.clone(), &public)?, registry))
        })
        .await
        .context("opening the registry")??;
    // Query subscriptions' webhooks, delivered while the server runs.
    let deliveries = crate::subscriptions::Deliveries::new(
        registry,
        &options.webhook_roots,
        std::time::Duration::from_secs(1),
    )?
    .start(std::time::Duration::from_millis(500));
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
        .serve(app.into_make_service_with_connect_info::<SocketAddr>());
    ready(&url);
    tokio::select! {
        result = server => result.context("hub server stopped")?,
        () = shutdown => handle.graceful_shutdown(Some(std::time::Duration::from_secs(5))),
    }
    deliveries.abort();
    Ok(())
}

/// The file in a hub's directory that says where its registry is kept, when not there.
const STORE_FILE: &str = "store";

/// Where `hub serve --store` last said the registry of the hub in `data` is kept.
pub fn recorded_store(data: &std::path::Path) -> Result<Option<crate::registry::StoreAt>> {
    match std::fs::read_to_string(data.join(STORE_FILE)) {
        Ok(text) => Ok(Some(crate::registry::StoreAt::parse(text.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", data.join(STORE_FILE).display())),
    }
}

/// Records in `data` where its hub's registry is kept, readable by its owner alone (a URL may
/// carry a password).
fn record_store(data: &std::path::Path, at: &crate::registry::StoreAt) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let text = match at {
        crate::registry::StoreAt::Postgres(url) => url.clone(),
        crate::registry::StoreAt::Sqlite(dir) => format!("sqlite:{}", dir.display()),
    };
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let path = data.join(STORE_FILE);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("writing {}", path.display()))?;
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
