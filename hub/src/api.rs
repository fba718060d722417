//! The manufacturer's API: the EPCIS 2.0 REST binding under `/epcis` and the hub's own
//! management API under `/api/v1`, both described by one OpenAPI document generated from the
//! handlers and types here (`GET /api/v1/openapi.json`), so the description cannot drift from
//! what the hub answers.
//!
//! Every handler is thin: it authenticates the caller ([`Caller`], a bearer API key or session
//! token), asks [`Caller::require`] whether its role may do this, and hands the work to the
//! module that owns the concept ([`crate::repository`], [`crate::accounts`], [`crate::audit`])
//! on a blocking thread. A change and its audit entry are written in one transaction.
//!
//! Errors are RFC 7807 problem documents (`application/problem+json`) whose `type` is the
//! EPCIS exception the binding names.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::OpenApi;

use crate::accounts::{
    Account, AccountDetail, Action, Caller, Created, Credential, Issued, Kind, NewAccount, Role,
    Rotation,
};
use crate::audit::{self, Entry};
use crate::repository::{self, CaptureJob, Resource};
use crate::{HubError, Registry};

/// The EPCIS and CBV versions this repository speaks.
pub const EPCIS_VERSION: &str = "2.0.0";
pub const CBV_VERSION: &str = "2.0.0";
/// The largest body of a management call (accounts, sign-in).
const MAX_API_BODY: usize = 64 * 1024;

/// An error as the API answers it: an RFC 7807 problem document.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// The EPCIS exception (`epcisException:ValidationException`, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Where the error is: a JSON path into a captured document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// A [`HubError`] answered as a problem document; or a capture refused, with the path of its
/// first error as the problem's `instance`.
pub enum ApiError {
    Hub(HubError),
    /// A capture refused, as its job would report it.
    Capture(repository::CaptureError),
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> ApiError {
        ApiError::Hub(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = match self {
            ApiError::Hub(e) => e,
            ApiError::Capture(c) => {
                let status =
                    StatusCode::from_u16(c.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return problem(
                    status,
                    Problem {
                        kind: c.kind,
                        title: c.title,
                        status: status.as_u16(),
                        instance: Some(c.instance),
                    },
                );
            }
        };
        let (status, kind) = match &e {
            HubError::BadRequest(m) if m.starts_with("QueryParameterException") => (
                StatusCode::BAD_REQUEST,
                "epcisException:QueryParameterException",
            ),
            HubError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "epcisException:ValidationException",
            ),
            HubError::Unauthorized(_) => {
                (StatusCode::UNAUTHORIZED, "epcisException:SecurityException")
            }
            HubError::Forbidden(_) => (StatusCode::FORBIDDEN, "epcisException:SecurityException"),
            HubError::NotFound(_) => (
                StatusCode::NOT_FOUND,
                "epcisException:NoSuchResourceException",
            ),
            HubError::Conflict(_) => (StatusCode::CONFLICT, "epcisException:ValidationException"),
            HubError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "epcisException:CaptureLimitExceededException",
            ),
            HubError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "epcisException:ImplementationException",
            ),
            HubError::Internal(detail) => {
                eprintln!("hub: internal error: {detail}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "epcisException:ImplementationException",
                )
            }
        };
        let title = match &e {
            HubError::Internal(_) => "internal error; see the hub's log".to_string(),
            HubError::Unavailable(_) => {
                "the registry is unavailable for a moment; try again".to_string()
            }
            other => other.to_string(),
        };
        problem(
            status,
            Problem {
                kind: kind.into(),
                title,
                status: status.as_u16(),
                instance: None,
            },
        )
    }
}

fn problem(status: StatusCode, p: Problem) -> Response {
    let mut r = (status, Json(p)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    r
}

type ApiResult<T> = Result<T, ApiError>;

/// Shared state of the API's handlers.
#[derive(Clone)]
pub struct ApiState {
    registry: Arc<Registry>,
    /// Sign-in attempts per client address: a password is checked with Argon2 (deliberately
    /// slow), so guessing is held to [`SIGN_IN_LIMIT`] — and so is the CPU a caller can spend.
    sign_ins: Arc<crate::verify::RateLimiter>,
}

/// Sign-ins a second per client address once a burst of 5 is spent (per hub process).
pub const SIGN_IN_LIMIT: crate::verify::RateLimit = crate::verify::RateLimit {
    per_second: 0.5,
    burst: 5.0,
};

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Internal(format!("worker failed: {e}")))?
        .map_err(ApiError::Hub)
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Caller, ApiError> {
        let origin = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_or_else(|_| "unknown".to_string(), |c| c.0.ip().to_string());
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let Some(token) = token else {
            return Err(HubError::Unauthorized(
                "send an API key or session token as Authorization: Bearer <token>".into(),
            )
            .into());
        };
        let registry = state.registry.clone();
        blocking(move || registry.authenticate(&token, &origin, Utc::now())).await
    }
}

/// The router of the API, over `registry`.
pub fn router(registry: Arc<Registry>) -> Router {
    let state = ApiState {
        registry,
        sign_ins: Arc::new(crate::verify::RateLimiter::new(SIGN_IN_LIMIT)),
    };
    let epcis = Router::new()
        .route("/epcis", get(top_level).options(discovery))
        .route("/epcis/", get(top_level).options(discovery))
        .route(
            "/epcis/capture",
            post(capture).get(capture_jobs).options(discovery),
        )
        .route("/epcis/capture/{id}", get(capture_job).options(discovery))
        .route(
            "/epcis/events",
            get(events).post(capture_event).options(discovery),
        )
        .route("/epcis/events/{id}", get(event).options(discovery))
        .route(
            "/epcis/queries",
            get(list_queries).post(define_query).options(discovery),
        )
        .route(
            "/epcis/queries/{name}",
            get(get_query).delete(delete_query).options(discovery),
        )
        .route(
            "/epcis/queries/{name}/events",
            get(query_events).options(discovery),
        )
        .route(
            "/epcis/queries/{name}/subscriptions",
            get(list_subscriptions).post(subscribe).options(discovery),
        )
        .route(
            "/epcis/queries/{name}/subscriptions/{id}",
            axum::routing::delete(unsubscribe).options(discovery),
        )
        .route("/epcis/{resource}", get(resource_list).options(discovery))
        .route(
            "/epcis/{resource}/{value}",
            get(resource_item).options(discovery),
        )
        .route(
            "/epcis/{resource}/{value}/events",
            get(resource_events).options(discovery),
        )
        .layer(DefaultBodyLimit::max(repository::MAX_DOCUMENT_BYTES * 2))
        .layer(axum::middleware::from_fn(versions))
        .layer(axum::middleware::map_response(as_problem));
    let api = Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/sessions", post(sign_in))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/accounts", get(list_accounts).post(create_account))
        .route("/api/v1/accounts/{id}", get(get_account))
        .route("/api/v1/accounts/{id}/disable", post(disable_account))
        .route("/api/v1/accounts/{id}/keys", post(new_key))
        .route(
            "/api/v1/accounts/{id}/keys/{key}",
            axum::routing::delete(revoke_key),
        )
        .route("/api/v1/audit", get(read_audit))
        .route("/api/v1/products", get(products))
        .route("/api/v1/partners", get(partners))
        .route("/api/v1/recalls", post(publish_recall))
        .route("/api/v1/recalls/withdraw", post(withdraw_recall))
        .route("/api/v1/alerts", get(alerts).post(list_alert))
        .route("/api/v1/alerts/clear", post(clear_alert))
        .route("/api/v1/flags", get(flags))
        .route("/api/v1/units/{code}/history", get(history))
        .layer(DefaultBodyLimit::max(MAX_API_BODY))
        .layer(axum::middleware::map_response(as_problem));
    epcis.merge(api).with_state(state)
}

/// Every error the API answers is a problem document, whoever made it: the handlers' own, and
/// the framework's refusals (a body or query string that does not parse, a method a route does
/// not take, a body over its limit) which come as plain text. A body that is JSON but not what
/// the operation takes (422) or is not JSON at all (415) is a bad request like any other.
async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let status = match status {
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            StatusCode::BAD_REQUEST
        }
        other => other,
    };
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let title = String::from_utf8_lossy(&text).trim().to_string();
    let title = if title.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        title
    };
    let kind = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
            "epcisException:NoSuchResourceException"
        }
        StatusCode::PAYLOAD_TOO_LARGE => "epcisException:CaptureLimitExceededException",
        s if s.is_server_error() => "epcisException:ImplementationException",
        _ => "epcisException:ValidationException",
    };
    let mut answer = problem(
        status,
        Problem {
            kind: kind.into(),
            title,
            status: status.as_u16(),
            instance: None,
        },
    );
    // Headers the refusal carried (Allow on a 405) stay.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// Answers every EPCIS call with the versions this repository speaks, and refuses (406) a
/// client that asks for versions it does not.
async fn versions(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let refused = {
        let asks = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
        };
        let wrong = |v: Option<String>, ours: &str| v.is_some_and(|v| v != ours);
        wrong(asks("GS1-EPCIS-Version"), EPCIS_VERSION)
            || wrong(asks("GS1-CBV-Version"), CBV_VERSION)
            || asks("GS1-EPCIS-Min").is_some_and(|v| v.as_str() > EPCIS_VERSION)
            || asks("GS1-EPCIS-Max").is_some_and(|v| v.as_str() < EPCIS_VERSION)
            || asks("GS1-CBV-Min").is_some_and(|v| v.as_str() > CBV_VERSION)
            || asks("GS1-CBV-Max").is_some_and(|v| v.as_str() < CBV_VERSION)
    };
    let mut response = if refused {
        problem(
            StatusCode::NOT_ACCEPTABLE,
            Problem {
                kind: "epcisException:VersionException".into(),
                title: format!(
                    "this repository speaks EPCIS {EPCIS_VERSION} and CBV {CBV_VERSION}"
                ),
                status: 406,
                instance: None,
            },
        )
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    for (name, value) in [
        ("GS1-EPCIS-Version", EPCIS_VERSION),
        ("GS1-CBV-Version", CBV_VERSION),
        ("GS1-EPCIS-Min", EPCIS_VERSION),
        ("GS1-EPCIS-Max", EPCIS_VERSION),
        ("GS1-CBV-Min", CBV_VERSION),
        ("GS1-CBV-Max", CBV_VERSION),
        ("GS1-Extensions", ""),
        ("GS1-Vendor-Version", env!("CARGO_PKG_VERSION")),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `OPTIONS` on any EPCIS resource: what it allows and the capture limits.
async fn discovery(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let allow = if path == "/epcis/capture"
        || path == "/epcis/events"
        || path == "/epcis/queries"
        || (path.starts_with("/epcis/queries/") && path.ends_with("/subscriptions"))
    {
        "OPTIONS, GET, POST"
    } else if path.starts_with("/epcis/queries/") && path.matches('/').count() == 3 {
        "OPTIONS, GET, DELETE"
    } else if path.starts_with("/epcis/queries/") && path.contains("/subscriptions/") {
        "OPTIONS, DELETE"
    } else {
        "OPTIONS, GET"
    };
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(allow));
    h.insert(
        "GS1-EPCIS-Capture-Limit",
        HeaderValue::from(repository::MAX_EVENTS as u64),
    );
    h.insert(
        "GS1-EPCIS-Capture-File-Size-Limit",
        HeaderValue::from(repository::MAX_DOCUMENT_BYTES as u64),
    );
    h.insert(
        "GS1-Capture-Error-Behaviour",
        HeaderValue::from_static("rollback"),
    );
    h.insert(
        "GS1-Query-Min-Record-Time",
        HeaderValue::from_static("2000-01-01T00:00:00Z"),
    );
    r
}

/// The top-level resources.
#[utoipa::path(get, path = "/epcis/", tag = "EPCIS",
    responses((status = 200, description = "The top-level resources", body = [String]),
        (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn top_level(caller: Caller) -> ApiResult<Json<Vec<&'static str>>> {
    caller.require(Action::Query)?;
    Ok(Json(vec![
        "events",
        "eventTypes",
        "epcs",
        "bizSteps",
        "bizLocations",
        "readPoints",
        "dispositions",
        "capture",
    ]))
}

fn capture_behaviour(headers: &HeaderMap) -> Result<(), HubError> {
    match headers
        .get("GS1-Capture-Error-Behaviour")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None | Some("rollback") => Ok(()),
        Some(other) => Err(HubError::BadRequest(format!(
            "GS1-Capture-Error-Behaviour {other:?}: this repository captures a document whole or not at all (rollback)"
        ))),
    }
}

/// What `/capture` takes, in outline: an EPCIS 2.0 document. Its full rules are GS1's EPCIS
/// 2.0 JSON schema and the CBV, which the repository checks (`custodian_ledger::epcis`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
struct CaptureDocument {
    #[serde(rename = "@context")]
    #[schema(value_type = Object)]
    context: Value,
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^EPCIS(Query)?Document$")]
    kind: String,
    #[schema(value_type = String, pattern = "^2\\.0$")]
    schemaVersion: String,
    #[schema(value_type = String, format = DateTime)]
    creationDate: String,
    #[schema(value_type = Object)]
    epcisBody: Value,
}

/// What `POST /events` takes, in outline: one EPCIS 2.0 event with its `@context`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
struct SingleEvent {
    #[serde(rename = "@context")]
    #[schema(value_type = Object)]
    context: Value,
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^(Object|Aggregation|Association|Transaction|Transformation)Event$")]
    kind: String,
    #[schema(value_type = String, format = DateTime)]
    eventTime: String,
    #[schema(value_type = String, pattern = "^[+-]([01][0-9]|2[0-3]):[0-5][0-9]$")]
    eventTimeZoneOffset: String,
}

/// Captures an EPCIS document (JSON-LD or XML) as a capture job: `202` with the job's URL in
/// `Location`; the job says when it has finished and whether it stored the document.
#[utoipa::path(post, path = "/epcis/capture", tag = "EPCIS",
    request_body(content = CaptureDocument, description = "An EPCISDocument or EPCISQueryDocument (JSON-LD, or EPCIS XML 2.0 or 1.2)",
        content_type = "application/ld+json"),
    responses((status = 202, description = "Accepted; the job is at Location",
            headers(("Location" = String, description = "The capture job's URL"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem)),
    security(("bearer" = [])))]
async fn capture(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Action::Capture)?;
    capture_behaviour(&headers)?;
    let doc = repository::parse_body(&body).map_err(|r| r.1)?;
    // Only a document (or query document) goes through /capture; a single event is POSTed to
    // /events.
    if !matches!(
        doc.get("type").and_then(Value::as_str),
        Some("EPCISDocument" | "EPCISQueryDocument")
    ) {
        return Err(HubError::BadRequest(
            "$.type: /capture takes an EPCISDocument or EPCISQueryDocument; POST one event to /events"
                .into(),
        )
        .into());
    }
    // Receiving reads the document whole: checked against EPCIS 2.0 and judged (a refusal is
    // 400 with the first error's path, stores nothing and opens no job); the job stores it.
    let registry = state.registry.clone();
    let who = caller.clone();
    let (prepared, id) = tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let prepared = registry
            .prepare_capture(&who, &doc, now)
            .map_err(|r| ApiError::Capture(r.0))?;
        drop(doc);
        let conn = registry.conn()?;
        let id = repository::open_job(&conn, &who, now)?;
        Ok::<_, ApiError>((prepared, id))
    })
    .await
    .map_err(|e| HubError::Internal(format!("worker failed: {e}")))??;
    let registry = state.registry.clone();
    let job = id.clone();
    tokio::task::spawn_blocking(move || run_job(&registry, &caller, &job, &prepared));
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/epcis/capture/{id}"))],
    )
        .into_response())
}

/// Stores a capture job's document and closes the job, whatever happens.
fn run_job(registry: &Registry, caller: &Caller, job: &str, prepared: &repository::Prepared) {
    let outcome = registry
        .store_capture(
            caller,
            prepared,
            "epcis.capture",
            &format!("capture/{job}"),
            Utc::now(),
        )
        .map(|c| c.stored + c.repeated)
        .map_err(|r| r.0);
    let closed = registry
        .conn()
        .and_then(|conn| repository::finish_job(&conn, job, outcome, Utc::now()));
    if let Err(e) = closed {
        eprintln!("hub: capture job {job} could not be closed: {e}");
    }
}

/// Paging of collections: `perPage` and `nextPageToken`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
struct Paging {
    /// The most items a page holds (1 to 1000; default 30).
    perPage: Option<usize>,
    /// Where the previous page left off.
    nextPageToken: Option<String>,
}

impl Paging {
    fn per_page(&self) -> Result<usize, HubError> {
        let n = self.perPage.unwrap_or(repository::DEFAULT_PER_PAGE);
        if (1..=repository::MAX_PER_PAGE).contains(&n) {
            Ok(n)
        } else {
            Err(HubError::BadRequest(format!(
                "QueryParameterException: perPage is 1 to {}",
                repository::MAX_PER_PAGE
            )))
        }
    }
}

fn next_link(path: &str, token: &str, per_page: usize) -> String {
    format!(
        "<{path}?perPage={per_page}&nextPageToken={}>; rel=\"next\"",
        percent(token)
    )
}

fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Capture jobs of the caller's organisation (all of them for the manufacturer's staff).
#[utoipa::path(get, path = "/epcis/capture", tag = "EPCIS", params(Paging),
    responses((status = 200, body = [CaptureJob]), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn capture_jobs(
    State(state): State<ApiState>,
    caller: Caller,
    Query(paging): Query<Paging>,
) -> ApiResult<Response> {
    caller.require(Action::Capture)?;
    let per_page = paging.per_page()?;
    let registry = state.registry.clone();
    let scope = caller.scope();
    let after = paging.nextPageToken.clone();
    let (jobs, more) = blocking(move || {
        let conn = registry.conn()?;
        repository::jobs(&conn, &scope, after.as_deref(), per_page)
    })
    .await?;
    let next = more
        .then(|| jobs.last().map(|j| j.capture_id.clone()))
        .flatten();
    let mut r = Json(jobs).into_response();
    if let Some(next) = next
        && let Ok(v) = HeaderValue::from_str(&next_link("/epcis/capture", &next, per_page))
    {
        r.headers_mut().insert(header::LINK, v);
    }
    Ok(r)
}

/// One capture job.
#[utoipa::path(get, path = "/epcis/capture/{id}", tag = "EPCIS",
    params(("id" = String, Path, description = "The capture job's id")),
    responses((status = 200, body = CaptureJob), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn capture_job(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CaptureJob>> {
    caller.require(Action::Capture)?;
    let registry = state.registry.clone();
    // A partner's job is its own: another organisation's job is not found.
    let scope = caller.scope();
    Ok(Json(
        blocking(move || {
            let conn = registry.conn()?;
            repository::job(&conn, &scope, &id)
        })
        .await?,
    ))
}

/// Captures one event (with its `@context`) at once: `201` with its URL in `Location`.
#[utoipa::path(post, path = "/epcis/events", tag = "EPCIS",
    request_body(content = SingleEvent, description = "One EPCIS event with its @context",
        content_type = "application/ld+json"),
    responses((status = 201, description = "Stored; the event is at Location",
            headers(("Location" = String, description = "The event's URL"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
async fn capture_event(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Action::Capture)?;
    let doc = repository::parse_body(&body).map_err(|r| r.1)?;
    if matches!(
        doc.get("type").and_then(Value::as_str),
        Some("EPCISDocument" | "EPCISQueryDocument")
    ) {
        return Err(HubError::BadRequest(
            "$.type: /events takes one event; POST a document to /capture".into(),
        )
        .into());
    }
    let registry = state.registry.clone();
    let captured = tokio::task::spawn_blocking(move || {
        registry
            .capture(&caller, &doc, "epcis.event", "", Utc::now())
            .map_err(|r| ApiError::Capture(r.0))
    })
    .await
    .map_err(|e| HubError::Internal(format!("worker failed: {e}")))??;
    let id = captured.ids.first().cloned().unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/epcis/events/{}", percent(&id)))],
    )
        .into_response())
}

async fn run_query(
    state: &ApiState,
    caller: &Caller,
    q: repository::Query,
    path: &str,
) -> ApiResult<Response> {
    caller.require(Action::Query)?;
    let registry = state.registry.clone();
    let scope = caller.scope();
    let per_page = q.perPage.unwrap_or(repository::DEFAULT_PER_PAGE);
    let page = blocking(move || {
        let conn = registry.conn()?;
        repository::query(&conn, &scope, &q)
    })
    .await?;
    let mut r = Json(repository::query_document(page.events, Utc::now())).into_response();
    if let Some(next) = page.next
        && let Ok(v) = HeaderValue::from_str(&next_link(path, &next, per_page))
    {
        r.headers_mut().insert(header::LINK, v);
    }
    Ok(r)
}

/// Events as the standard query parameters select them (a partner: its own organisation's
/// only), a page at a time; the next page's URL is in `Link`.
#[utoipa::path(get, path = "/epcis/events", tag = "EPCIS", params(repository::Query),
    responses((status = 200, description = "An EPCISQueryDocument", body = Object,
            headers(("Link" = String, description = "The next page, rel=\"next\""))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn events(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Query<repository::Query>,
) -> ApiResult<Response> {
    run_query(&state, &caller, q, "/epcis/events").await
}

/// One event by its id.
#[utoipa::path(get, path = "/epcis/events/{id}", tag = "EPCIS",
    params(("id" = String, Path, description = "The event's id (URL-encoded)")),
    responses((status = 200, description = "The event", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn event(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Action::Query)?;
    let registry = state.registry.clone();
    let scope = caller.scope();
    Ok(Json(
        blocking(move || {
            let conn = registry.conn()?;
            repository::event(&conn, &scope, &id)
        })
        .await?,
    ))
}

/// The top-level resources with values of their own.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code, non_camel_case_types)]
enum ResourceName {
    eventTypes,
    epcs,
    bizSteps,
    bizLocations,
    readPoints,
    dispositions,
}

fn resource_of(name: &str) -> Result<Resource, HubError> {
    Ok(match name {
        "eventTypes" => Resource::EventTypes,
        "epcs" => Resource::Epcs,
        "bizSteps" => Resource::BizSteps,
        "bizLocations" => Resource::BizLocations,
        "readPoints" => Resource::ReadPoints,
        "dispositions" => Resource::Dispositions,
        other => return Err(HubError::NotFound(format!("resource /epcis/{other}"))),
    })
}

/// A top-level resource's values (event types, EPCs, business steps, business locations, read
/// points, dispositions) in the events the caller may read.
#[utoipa::path(get, path = "/epcis/{resource}", tag = "EPCIS",
    params(("resource" = ResourceName, Path, description = "eventTypes, epcs, bizSteps, bizLocations, readPoints or dispositions"), Paging),
    responses((status = 200, body = [String]), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn resource_list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(resource): Path<String>,
    Query(paging): Query<Paging>,
) -> ApiResult<Response> {
    caller.require(Action::Query)?;
    let kind = resource_of(&resource)?;
    let per_page = paging.per_page()?;
    let registry = state.registry.clone();
    let scope = caller.scope();
    let after = paging.nextPageToken.clone();
    let (values, more) = blocking(move || {
        let conn = registry.conn()?;
        repository::resources(&conn, &scope, kind, after.as_deref(), per_page)
    })
    .await?;
    let next = more.then(|| values.last().cloned()).flatten();
    let mut r = Json(values).into_response();
    if let Some(next) = next
        && let Ok(v) =
            HeaderValue::from_str(&next_link(&format!("/epcis/{resource}"), &next, per_page))
    {
        r.headers_mut().insert(header::LINK, v);
    }
    Ok(r)
}

/// One value of a top-level resource: what can be asked of it.
#[utoipa::path(get, path = "/epcis/{resource}/{value}", tag = "EPCIS",
    params(("resource" = ResourceName, Path, description = "eventTypes, epcs, bizSteps, bizLocations, readPoints or dispositions"),
        ("value" = String, Path, description = "The value (URL-encoded)")),
    responses((status = 200, body = [String]), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn resource_item(
    State(state): State<ApiState>,
    caller: Caller,
    Path((resource, value)): Path<(String, String)>,
) -> ApiResult<Json<Vec<&'static str>>> {
    caller.require(Action::Query)?;
    let kind = resource_of(&resource)?;
    let q = resource_query(kind, &value, 1);
    let registry = state.registry.clone();
    let scope = caller.scope();
    let held = blocking(move || {
        let conn = registry.conn()?;
        Ok(!repository::query(&conn, &scope, &q)?.events.is_empty())
    })
    .await?;
    if !held {
        return Err(HubError::NotFound(format!("{resource}/{value}")).into());
    }
    Ok(Json(vec!["events"]))
}

fn resource_query(kind: Resource, value: &str, per_page: usize) -> repository::Query {
    let v = Some(value.replace('|', "%7C"));
    let mut q = repository::Query {
        perPage: Some(per_page),
        ..Default::default()
    };
    match kind {
        Resource::EventTypes => q.eventType = v,
        Resource::Epcs => q.MATCH_anyEPC = v,
        Resource::BizSteps => q.EQ_bizStep = v,
        Resource::BizLocations => q.EQ_bizLocation = v,
        Resource::ReadPoints => q.EQ_readPoint = v,
        Resource::Dispositions => q.EQ_disposition = v,
    }
    q
}

/// The events of one value of a top-level resource (a partner: its own organisation's only).
#[utoipa::path(get, path = "/epcis/{resource}/{value}/events", tag = "EPCIS",
    params(("resource" = ResourceName, Path, description = "eventTypes, epcs, bizSteps, bizLocations, readPoints or dispositions"),
        ("value" = String, Path, description = "The value (URL-encoded)"), Paging),
    responses((status = 200, description = "An EPCISQueryDocument", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn resource_events(
    State(state): State<ApiState>,
    caller: Caller,
    Path((resource, value)): Path<(String, String)>,
    Query(paging): Query<Paging>,
) -> ApiResult<Response> {
    let kind = resource_of(&resource)?;
    let mut q = resource_query(kind, &value, paging.per_page()?);
    q.nextPageToken = paging.nextPageToken;
    let path = format!("/epcis/{resource}/{}/events", percent(&value));
    run_query(&state, &caller, q, &path).await
}

/// The OpenAPI description of this API, generated from the code.
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ApiDoc::document(),
    )
        .into_response()
}

/// Signing in: a user's name and password.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    pub account: String,
    pub password: String,
}

/// Signs a user in: a session token for `Authorization: Bearer`.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "Accounts", request_body = SignIn,
    responses((status = 201, body = Issued), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 429, description = "Too many sign-ins from this address; retry after Retry-After seconds", body = Problem)))]
async fn sign_in(
    State(state): State<ApiState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Json(req): Json<SignIn>,
) -> ApiResult<Response> {
    if !state.sign_ins.admit(client.ip(), 1.0).await {
        let mut r = problem(
            StatusCode::TOO_MANY_REQUESTS,
            Problem {
                kind: "epcisException:SecurityException".into(),
                title: "too many sign-ins from this address; wait a moment".into(),
                status: 429,
                instance: None,
            },
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        return Ok(r);
    }
    let registry = state.registry.clone();
    let issued = blocking(move || {
        registry.sign_in(
            &req.account,
            &req.password,
            &client.ip().to_string(),
            Utc::now(),
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// Who the caller is.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub account: String,
    pub role: Role,
    pub org: String,
}

/// The account the request's credential stands for.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "Accounts",
    responses((status = 200, body = WhoAmI), (status = 401, body = Problem)),
    security(("bearer" = [])))]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        account: caller.account,
        role: caller.role,
        org: caller.org,
    })
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "Accounts",
    responses((status = 200, body = [Account]), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_accounts(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Account>>> {
    let registry = state.registry.clone();
    Ok(Json(blocking(move || registry.accounts(&caller)).await?))
}

/// Creates an account; a service account gets its first API key.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "Accounts", request_body = NewAccount,
    responses((status = 201, body = Created), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
async fn create_account(
    State(state): State<ApiState>,
    caller: Caller,
    Json(req): Json<NewAccount>,
) -> ApiResult<Response> {
    let registry = state.registry.clone();
    let created = blocking(move || registry.create_account(&caller, &req, Utc::now())).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// One account and its credentials (never their secrets).
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "Accounts",
    params(("id" = String, Path, description = "The account's name")),
    responses((status = 200, body = AccountDetail), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_account(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountDetail>> {
    let registry = state.registry.clone();
    Ok(Json(
        blocking(move || registry.account(&caller, &id)).await?,
    ))
}

/// Disables an account: its keys and sessions are refused from now on.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/disable", tag = "Accounts",
    params(("id" = String, Path, description = "The account's name")),
    responses((status = 204, description = "Disabled"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "The caller's own account", body = Problem)),
    security(("bearer" = [])))]
async fn disable_account(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let registry = state.registry.clone();
    blocking(move || registry.disable_account(&caller, &id, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new API key for a service account (shown once); optionally retires its others.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/keys", tag = "Accounts", request_body = Rotation,
    params(("id" = String, Path, description = "The account's name")),
    responses((status = 201, body = Issued), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Retiring the keys of the caller's own account", body = Problem)),
    security(("bearer" = [])))]
async fn new_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(rotation): Json<Rotation>,
) -> ApiResult<Response> {
    let registry = state.registry.clone();
    let issued = blocking(move || registry.new_key(&caller, &id, &rotation, Utc::now())).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// Revokes one of an account's keys or sessions at once.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/keys/{key}", tag = "Accounts",
    params(("id" = String, Path, description = "The account's name"),
        ("key" = String, Path, description = "The credential's id")),
    responses((status = 204, description = "Revoked"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "The credential the request is made with", body = Problem)),
    security(("bearer" = [])))]
async fn revoke_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let registry = state.registry.clone();
    blocking(move || registry.revoke_key(&caller, &id, &key, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit trail, oldest first, a page at a time (`after` the last `seq` read).
#[utoipa::path(get, path = "/api/v1/audit", tag = "Audit", params(audit::Filter),
    responses((status = 200, body = [Entry]), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn read_audit(
    State(state): State<ApiState>,
    caller: Caller,
    Query(filter): Query<audit::Filter>,
) -> ApiResult<Json<Vec<Entry>>> {
    let registry = state.registry.clone();
    Ok(Json(
        blocking(move || registry.audit(&caller, &filter)).await?,
    ))
}

/// Reads a JSON body; a body that is not what the operation takes is the caller's error.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, HubError> {
    serde_json::from_slice(bytes).map_err(|e| HubError::BadRequest(format!("the body: {e}")))
}

/// A change the JSON body `T` asks for, made by `f` on a blocking thread: 204 once done.
async fn change<T: serde::de::DeserializeOwned + Send + 'static>(
    state: &ApiState,
    bytes: &[u8],
    f: impl FnOnce(&Registry, T, chrono::DateTime<Utc>) -> Result<(), HubError> + Send + 'static,
) -> ApiResult<StatusCode> {
    let request: T = body(bytes)?;
    let registry = state.registry.clone();
    blocking(move || f(&registry, request, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `f` reads on a blocking thread, as JSON.
async fn read<T: Serialize + Send + 'static>(
    state: &ApiState,
    f: impl FnOnce(&Registry) -> Result<T, HubError> + Send + 'static,
) -> ApiResult<Json<Value>> {
    let registry = state.registry.clone();
    let value = blocking(move || f(&registry)).await?;
    Ok(Json(
        serde_json::to_value(value).map_err(|e| HubError::Internal(e.to_string()))?,
    ))
}

/// The products the registry knows.
#[utoipa::path(get, path = "/api/v1/products", tag = "Master data",
    responses((status = 200, description = "Each product: GTIN, name, warranty, markets, claim threshold", body = [Object]),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn products(State(state): State<ApiState>, caller: Caller) -> ApiResult<Json<Value>> {
    read(&state, move |r| Ok(r.master_data(&caller)?.0)).await
}

/// The organisations of the channel: the manufacturer and its partners.
#[utoipa::path(get, path = "/api/v1/partners", tag = "Master data",
    responses((status = 200, description = "Each organisation: id, name, role, market, GLN", body = [Object]),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn partners(State(state): State<ApiState>, caller: Caller) -> ApiResult<Json<Value>> {
    read(&state, move |r| Ok(r.master_data(&caller)?.1)).await
}

/// Publishes a recall of a GTIN (one lot, or every lot); devices learn of it on their next sync.
#[utoipa::path(post, path = "/api/v1/recalls", tag = "Quality", request_body = crate::manage::RecallRequest,
    responses((status = 204, description = "Published"), (status = 400, body = Problem),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn publish_recall(
    State(state): State<ApiState>,
    caller: Caller,
    bytes: Bytes,
) -> ApiResult<StatusCode> {
    change(&state, &bytes, move |r, req, now| {
        r.publish_recall(&caller, &req, now)
    })
    .await
}

/// Withdraws a recall.
#[utoipa::path(post, path = "/api/v1/recalls/withdraw", tag = "Quality", request_body = crate::manage::RecallKey,
    responses((status = 204, description = "Withdrawn"), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn withdraw_recall(
    State(state): State<ApiState>,
    caller: Caller,
    bytes: Bytes,
) -> ApiResult<StatusCode> {
    change(&state, &bytes, move |r, req, now| {
        r.withdraw_recall_as(&caller, &req, now)
    })
    .await
}

/// The counterfeit alert list: each unit, why, and who reported it.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "Brand protection",
    responses((status = 200, description = "The alert list", body = [Object]), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn alerts(State(state): State<ApiState>, caller: Caller) -> ApiResult<Json<Value>> {
    read(&state, move |r| r.alert_list(&caller)).await
}

/// Lists a unit as counterfeit; the organisation it is on its way to is flagged at once.
#[utoipa::path(post, path = "/api/v1/alerts", tag = "Brand protection", request_body = crate::manage::AlertRequest,
    responses((status = 204, description = "Listed"), (status = 400, body = Problem),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_alert(
    State(state): State<ApiState>,
    caller: Caller,
    bytes: Bytes,
) -> ApiResult<StatusCode> {
    change(&state, &bytes, move |r, req, now| {
        r.list_counterfeit(&caller, &req, now)
    })
    .await
}

/// Takes a unit off the alert list: the investigation found it genuine (`reason`: what it found).
#[utoipa::path(post, path = "/api/v1/alerts/clear", tag = "Brand protection", request_body = crate::manage::AlertRequest,
    responses((status = 204, description = "Cleared"), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn clear_alert(
    State(state): State<ApiState>,
    caller: Caller,
    bytes: Bytes,
) -> ApiResult<StatusCode> {
    change(&state, &bytes, move |r, req, now| {
        r.clear_counterfeit(&caller, &req, now)
    })
    .await
}

/// Every flag raised, across every partner.
#[utoipa::path(get, path = "/api/v1/flags", tag = "Brand protection",
    responses((status = 200, description = "The flags, each with its organisation, kind, unit, reason and status", body = [Object]),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn flags(State(state): State<ApiState>, caller: Caller) -> ApiResult<Json<Value>> {
    read(&state, move |r| r.flag_list(&caller)).await
}

/// A unit's custody across all partners: every event that names it, in order, and where it is.
#[utoipa::path(get, path = "/api/v1/units/{code}/history", tag = "Service",
    params(("code" = String, Path, description = "The unit: element string, bracketed text or Digital Link (URL-encoded)")),
    responses((status = 200, description = "The unit's custody", body = Object), (status = 400, body = Problem),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn history(
    State(state): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    read(&state, move |r| r.unit_history(&caller, &code)).await
}

use crate::subscriptions::{NamedQuery, NewSubscription, Subscription};

/// Defines a named query (its parameters as the standard query's), in the caller's scope: a
/// partner's selects only its own organisation's events.
#[utoipa::path(post, path = "/epcis/queries", tag = "EPCIS", request_body = NamedQuery,
    responses((status = 201, description = "Defined; it is at Location",
            headers(("Location" = String, description = "The query's URL"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
async fn define_query(
    State(state): State<ApiState>,
    caller: Caller,
    bytes: Bytes,
) -> ApiResult<Response> {
    let q: NamedQuery = body(&bytes)?;
    let name = q.name.clone();
    let registry = state.registry.clone();
    blocking(move || registry.define_query(&caller, &q, Utc::now())).await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/epcis/queries/{}", percent(&name)),
        )],
    )
        .into_response())
}

/// The named queries the caller may see.
#[utoipa::path(get, path = "/epcis/queries", tag = "EPCIS",
    responses((status = 200, body = [NamedQuery]), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_queries(State(state): State<ApiState>, caller: Caller) -> ApiResult<Json<Value>> {
    read(&state, move |r| r.named_queries(&caller)).await
}

/// One named query.
#[utoipa::path(get, path = "/epcis/queries/{name}", tag = "EPCIS",
    params(("name" = String, Path, description = "The query's name")),
    responses((status = 200, body = NamedQuery), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_query(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    read(&state, move |r| Ok(r.named_query(&caller, &name)?.0)).await
}

/// Deletes a named query and its subscriptions.
#[utoipa::path(delete, path = "/epcis/queries/{name}", tag = "EPCIS",
    params(("name" = String, Path, description = "The query's name")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn delete_query(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let registry = state.registry.clone();
    blocking(move || registry.delete_query(&caller, &name, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A named query's events, a page at a time.
#[utoipa::path(get, path = "/epcis/queries/{name}/events", tag = "EPCIS",
    params(("name" = String, Path, description = "The query's name"), Paging),
    responses((status = 200, description = "An EPCISQueryDocument", body = Object),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn query_events(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(paging): Query<Paging>,
) -> ApiResult<Response> {
    caller.require(Action::Query)?;
    let per_page = paging.per_page()?;
    let registry = state.registry.clone();
    let who = caller.clone();
    let asked = name.clone();
    let (mut q, scope) = blocking(move || {
        let (_, q, scope) = registry.named_query(&who, &asked)?;
        Ok((q, scope))
    })
    .await?;
    q.perPage = Some(per_page);
    q.nextPageToken = paging.nextPageToken;
    let registry = state.registry.clone();
    let page = blocking(move || repository::query(&registry.conn()?, &scope, &q)).await?;
    let mut doc = repository::query_document(page.events, Utc::now());
    doc["epcisBody"]["queryResults"]["queryName"] = Value::String(name.clone());
    let mut r = Json(doc).into_response();
    if let Some(next) = page.next
        && let Ok(v) = HeaderValue::from_str(&next_link(
            &format!("/epcis/queries/{}/events", percent(&name)),
            &next,
            per_page,
        ))
    {
        r.headers_mut().insert(header::LINK, v);
    }
    Ok(r)
}

/// Subscribes to a named query: the events captured from now on (or since
/// `initialRecordTime`) are sent to `dest`, signed with `signatureToken`, until acknowledged.
#[utoipa::path(post, path = "/epcis/queries/{name}/subscriptions", tag = "EPCIS",
    params(("name" = String, Path, description = "The query's name")),
    request_body = NewSubscription,
    responses((status = 201, body = Subscription), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn subscribe(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let s: NewSubscription = body(&bytes)?;
    let registry = state.registry.clone();
    let made = blocking(move || registry.subscribe(&caller, &name, &s, Utc::now())).await?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// A named query's subscriptions.
#[utoipa::path(get, path = "/epcis/queries/{name}/subscriptions", tag = "EPCIS",
    params(("name" = String, Path, description = "The query's name")),
    responses((status = 200, body = [Subscription]), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn list_subscriptions(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    read(&state, move |r| r.subscriptions(&caller, &name)).await
}

/// Ends a subscription.
#[utoipa::path(delete, path = "/epcis/queries/{name}/subscriptions/{id}", tag = "EPCIS",
    params(("name" = String, Path, description = "The query's name"),
        ("id" = String, Path, description = "The subscription's id")),
    responses((status = 204, description = "Ended"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn unsubscribe(
    State(state): State<ApiState>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let registry = state.registry.clone();
    blocking(move || registry.unsubscribe(&caller, &name, &id, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

struct Security;

impl utoipa::Modify for Security {
    /// The bearer scheme; and the error answers every operation may give, as what they are:
    /// problem documents (`application/problem+json`), 401 wherever a credential is needed,
    /// 503 while the store is unreachable, and 406 for a version the EPCIS binding does not
    /// speak.
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let epcis = path.starts_with("/epcis");
            for op in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.put.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let secured = op.security.is_some();
                let responses = &mut op.responses.responses;
                for (code, response) in responses.iter_mut() {
                    if code.starts_with('4') || code.starts_with('5') {
                        let description = match response {
                            RefOr::T(r) => r.description.clone(),
                            RefOr::Ref(_) => String::new(),
                        };
                        *response = RefOr::T(problem(&description));
                    }
                }
                let mut add = |code: &str, description: &str| {
                    responses
                        .entry(code.to_string())
                        .or_insert_with(|| RefOr::T(problem(description)));
                };
                if secured {
                    add("401", "No valid API key or session token");
                }
                add("503", "The registry's store is unreachable for a moment");
                if epcis {
                    add(
                        "406",
                        "An EPCIS or CBV version this repository does not speak",
                    );
                }
            }
        }
    }
}

/// The API's OpenAPI description, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Custodian hub: the manufacturer's API",
        description = "The EPCIS 2.0 REST binding (/epcis) and the hub's management API (/api/v1). Every call but signing in needs a bearer token: a service account's API key or a user's session. Each role may do what its description says; a partner reads only its own organisation's events."),
    paths(top_level, capture, capture_jobs, capture_job, capture_event, events, event,
        resource_list, resource_item, resource_events, sign_in, whoami, list_accounts,
        create_account, get_account, disable_account, new_key, revoke_key, read_audit, products,
        partners, publish_recall, withdraw_recall, alerts, list_alert, clear_alert, flags, history,
        define_query, list_queries, get_query, delete_query, query_events, subscribe,
        list_subscriptions, unsubscribe),
    components(schemas(Problem, ResourceName, CaptureDocument, SingleEvent, CaptureJob, repository::CaptureError, Account, Kind, Role, Issued,
        Credential, Entry, SignIn, WhoAmI, NewAccount, Created, AccountDetail, Rotation,
        crate::manage::RecallRequest, crate::manage::RecallKey, crate::manage::AlertRequest,
        NamedQuery, NewSubscription, Subscription)),
    modifiers(&Security)
)]
pub struct ApiDoc;

impl ApiDoc {
    /// The description as JSON text.
    pub fn document() -> String {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
