//! Named EPCIS queries and their subscriptions, delivered by webhook: each subscriber's
//! endpoint is sent, as an `EPCISQueryDocument`, the events captured since it last
//! acknowledged one, signed with its token.
//!
//! - **Signed:** `GS1-Signature: sha256=<hex>`, the HMAC-SHA-256 of the body under the
//!   subscription's `signatureToken`, when it has one.
//! - **Retried with backoff:** a delivery the endpoint does not answer 2xx (or does not answer
//!   within [`DELIVERY_TIMEOUT`]) is tried again after 1 s, 2 s, 4 s… up to [`MAX_BACKOFF`].
//! - **Never twice once acknowledged:** a subscription's cursor (`after_seq`) moves past a
//!   delivery only when its endpoint acknowledged it, in one statement that also checks the
//!   cursor and the lease are still what the delivery started from. Hub processes sharing a
//!   store take a subscription's delivery in turn (a lease of [`LEASE`]), so one batch is in
//!   flight at a time. A delivery acknowledged but not recorded (the hub stopped in between) is
//!   sent again: at least once until acknowledged, never after.
//!
//! A query runs in the scope of the account that defined it: a partner's selects only its own
//! organisation's events, whoever later subscribes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use custodian_ledger::sql::{AsDb, params};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::accounts::{Action, Caller, Scope};
use crate::repository::{self, Query};
use crate::{HubError, Registry, audit};

/// The most events one delivery carries.
pub const BATCH: usize = 1000;
/// How long a subscriber's endpoint has to answer a delivery.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between tries of a delivery.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a hub process holds a subscription's delivery.
pub const LEASE: Duration = Duration::from_secs(60);
/// The longest destination URL and signature token taken.
const MAX_DEST_CHARS: usize = 2048;
const MAX_TOKEN_CHARS: usize = 256;
const MAX_NAME_CHARS: usize = 128;

/// A named query, as `POST /queries` takes it: its parameters as the REST binding writes them
/// (lists as arrays).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamedQuery {
    /// Its name: 1 to 128 letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The query's parameters (`eventType`, `EQ_bizStep`, `MATCH_epc`, …), each a string or a
    /// list of strings.
    #[schema(value_type = Object)]
    pub query: Value,
}

/// A subscription request: where to send the events, and the token to sign them with.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscription {
    /// The subscriber's endpoint: an `https://` URL.
    pub dest: String,
    /// A secret of the subscriber's, which signs each delivery (`GS1-Signature`).
    pub signature_token: Option<String>,
    /// Must be `true`: events are sent as they are captured.
    pub stream: bool,
    /// Send the events recorded since then too (RFC 3339); without it, only those captured
    /// after the subscription.
    pub initial_record_time: Option<String>,
}

/// A subscription as the API shows it (never its token).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(rename = "subscriptionID")]
    pub subscription_id: String,
    pub dest: String,
    pub stream: bool,
    pub created_at: String,
    /// The last time the subscriber acknowledged a delivery.
    pub last_notified_at: Option<String>,
}

fn check_name(name: &str) -> Result<(), HubError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(HubError::BadRequest(format!(
            "a query's name is 1 to {MAX_NAME_CHARS} letters, digits, '-', '_' or '.'"
        )))
    }
}

/// The query's parameters as [`Query`] reads them: lists joined by `|`.
fn parameters(query: &Value) -> Result<Query, HubError> {
    let Some(object) = query.as_object() else {
        return Err(HubError::BadRequest(
            "QueryParameterException: query is an object of parameters".into(),
        ));
    };
    let mut flat = Map::new();
    for (key, value) in object {
        if matches!(key.as_str(), "perPage" | "nextPageToken") {
            return Err(HubError::BadRequest(format!(
                "QueryParameterException: {key} pages a query's answer; it is not part of a query"
            )));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(HubError::BadRequest(format!(
                        "QueryParameterException: {key}: {other} is not a string"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join("|"),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(HubError::BadRequest(format!(
                    "QueryParameterException: {key}: {other} is not a string or a list of strings"
                )));
            }
        };
        flat.insert(key.clone(), Value::String(text));
    }
    serde_json::from_value::<QueryParameters>(Value::Object(flat))
        .map(|p| p.0)
        .map_err(|e| HubError::BadRequest(format!("QueryParameterException: {e}")))
}

/// [`Query`] refusing parameters it does not know.
#[derive(Deserialize)]
#[serde(transparent)]
struct QueryParameters(#[serde(deserialize_with = "strict")] Query);

fn strict<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Query, D::Error> {
    let map = Map::<String, Value>::deserialize(d)?;
    const KNOWN: &[&str] = &[
        "eventType",
        "GE_eventTime",
        "LT_eventTime",
        "GE_recordTime",
        "LT_recordTime",
        "EQ_action",
        "EQ_bizStep",
        "EQ_disposition",
        "EQ_readPoint",
        "EQ_bizLocation",
        "MATCH_epc",
        "MATCH_parentID",
        "MATCH_inputEPC",
        "MATCH_outputEPC",
        "MATCH_anyEPC",
        "MATCH_epcClass",
        "EQ_eventID",
        "EXISTS_errorDeclaration",
    ];
    if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(serde::de::Error::custom(format!(
            "{unknown} is not a query parameter this repository answers"
        )));
    }
    serde_json::from_value(Value::Object(map)).map_err(serde::de::Error::custom)
}

fn check_dest(dest: &str) -> Result<(), HubError> {
    let bad = |why: &str| HubError::BadRequest(format!("dest: {why}"));
    if dest.chars().count() > MAX_DEST_CHARS {
        return Err(bad("too long"));
    }
    let url = reqwest::Url::parse(dest).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "https" {
        return Err(bad("events are sent over HTTPS only: an https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.host().is_none() {
        return Err(bad("an https:// URL with a host and no credentials in it"));
    }
    Ok(())
}

fn scope_of(org: &str, partner: bool) -> Scope {
    if partner {
        Scope::Org(org.to_string())
    } else {
        Scope::All
    }
}

/// A named query's owner: its organisation and scope.
fn owner(conn: impl AsDb, name: &str) -> Result<(String, bool, Value), HubError> {
    let row: Option<(String, i64, String)> = conn.db().query_opt(
        "SELECT org, partner, query FROM queries WHERE name = ?1",
        params![name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (org, partner, query) = row.ok_or_else(|| HubError::NotFound(format!("query {name}")))?;
    let query = serde_json::from_str(&query)
        .map_err(|e| HubError::Internal(format!("stored query {name}: {e}")))?;
    Ok((org, partner != 0, query))
}

/// Whether `caller` may see query `name` (defined by `org`): its own organisation's, or any
/// for the manufacturer's accounts.
fn visible(caller: &Caller, org: &str) -> bool {
    match caller.scope() {
        Scope::All => true,
        Scope::Org(own) => own == org,
    }
}

impl Registry {
    /// Defines a named query for `caller`'s organisation (in its scope).
    pub fn define_query(
        &self,
        caller: &Caller,
        q: &NamedQuery,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        caller.require(Action::Query)?;
        check_name(&q.name)?;
        let parsed = parameters(&q.query)?;
        // Refused now, not at its first run: every parameter's value is checked.
        repository::select(&self.conn()?, &caller.scope(), &parsed, i64::MAX, 1)?;
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        let partner = matches!(caller.scope(), Scope::Org(_));
        let n = tx.execute(
            "INSERT INTO queries (name, org, partner, account, query, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (name) DO NOTHING",
            params![
                q.name,
                caller.org,
                partner,
                caller.account,
                q.query.to_string(),
                now.to_rfc3339_opts(SecondsFormat::Secs, true)
            ],
        )?;
        if n == 0 {
            return Err(HubError::Conflict(format!(
                "a query {} exists already",
                q.name
            )));
        }
        audit::append(
            tx.db(),
            caller,
            "query.define",
            &q.name,
            &json!({ "query": q.query }),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The named queries `caller` may see.
    pub fn named_queries(&self, caller: &Caller) -> Result<Vec<NamedQuery>, HubError> {
        caller.require(Action::Query)?;
        let rows: Vec<(String, String, i64, String)> = self.conn()?.db().query_map(
            "SELECT name, org, partner, query FROM queries ORDER BY name",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        Ok(rows
            .into_iter()
            .filter(|(_, org, _, _)| visible(caller, org))
            .map(|(name, _, _, query)| NamedQuery {
                name,
                query: serde_json::from_str(&query).unwrap_or(Value::Null),
            })
            .collect())
    }

    /// One named query, if `caller` may see it; with its parameters parsed and its scope.
    pub fn named_query(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(NamedQuery, Query, Scope), HubError> {
        caller.require(Action::Query)?;
        let (org, partner, query) = owner(&self.conn()?, name)?;
        if !visible(caller, &org) {
            return Err(HubError::NotFound(format!("query {name}")));
        }
        let parsed = parameters(&query)?;
        Ok((
            NamedQuery {
                name: name.to_string(),
                query,
            },
            parsed,
            scope_of(&org, partner),
        ))
    }

    /// Deletes a named query and its subscriptions.
    pub fn delete_query(
        &self,
        caller: &Caller,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        self.named_query(caller, name)?;
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        tx.execute("DELETE FROM subscriptions WHERE query = ?1", params![name])?;
        tx.execute("DELETE FROM queries WHERE name = ?1", params![name])?;
        audit::append(tx.db(), caller, "query.delete", name, &json!({}), now)?;
        tx.commit()?;
        Ok(())
    }

    /// Subscribes `caller` to query `name`: its id.
    pub fn subscribe(
        &self,
        caller: &Caller,
        name: &str,
        s: &NewSubscription,
        now: DateTime<Utc>,
    ) -> Result<Subscription, HubError> {
        let (_, _, _) = self.named_query(caller, name)?;
        if !s.stream {
            return Err(HubError::BadRequest(
                "stream: this repository sends events as they are captured; set stream to true"
                    .into(),
            ));
        }
        check_dest(&s.dest)?;
        if let Some(t) = &s.signature_token
            && (t.is_empty() || t.chars().count() > MAX_TOKEN_CHARS || t.contains('\0'))
        {
            return Err(HubError::BadRequest(format!(
                "signatureToken is 1 to {MAX_TOKEN_CHARS} characters"
            )));
        }
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        let after: i64 = match &s.initial_record_time {
            None => tx.query_row(
                "SELECT COALESCE(max(seq), 0) FROM captured_events",
                params![],
                |r| r.get(0),
            )?,
            Some(t) => {
                let t = DateTime::parse_from_rfc3339(t).map_err(|e| {
                    HubError::BadRequest(format!("initialRecordTime is not an RFC 3339 time: {e}"))
                })?;
                tx.query_row(
                    "SELECT COALESCE(min(seq), (SELECT COALESCE(max(seq), 0) + 1 FROM captured_events)) - 1
                     FROM captured_events WHERE record_time >= ?1",
                    params![t.timestamp_millis()],
                    |r| r.get(0),
                )?
            }
        };
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let id = hex::encode(id);
        let created_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        tx.execute(
            "INSERT INTO subscriptions (id, query, account, dest, token, created_at, after_seq, attempts, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0)",
            params![id, name, caller.account, s.dest, s.signature_token, created_at, after],
        )?;
        audit::append(
            tx.db(),
            caller,
            "subscription.create",
            &id,
            &json!({ "query": name, "dest": s.dest }),
            now,
        )?;
        tx.commit()?;
        Ok(Subscription {
            subscription_id: id,
            dest: s.dest.clone(),
            stream: true,
            created_at,
            last_notified_at: None,
        })
    }

    /// The subscriptions to query `name`.
    pub fn subscriptions(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Vec<Subscription>, HubError> {
        self.named_query(caller, name)?;
        Ok(self.conn()?.db().query_map(
            "SELECT id, dest, created_at, last_notified_at FROM subscriptions WHERE query = ?1 ORDER BY created_at, id",
            params![name],
            |r| {
                Ok(Subscription {
                    subscription_id: r.get(0)?,
                    dest: r.get(1)?,
                    stream: true,
                    created_at: r.get(2)?,
                    last_notified_at: r.get(3)?,
                })
            },
        )?)
    }

    /// Ends a subscription.
    pub fn unsubscribe(
        &self,
        caller: &Caller,
        name: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        self.named_query(caller, name)?;
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        let n = tx.execute(
            "DELETE FROM subscriptions WHERE id = ?1 AND query = ?2",
            params![id, name],
        )?;
        if n == 0 {
            return Err(HubError::NotFound(format!("subscription {id}")));
        }
        audit::append(
            tx.db(),
            caller,
            "subscription.delete",
            id,
            &json!({ "query": name }),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// A delivery taken: the subscription, where it goes, what it carries, and the cursor it moves.
struct Due {
    id: String,
    dest: String,
    token: Option<String>,
    from: i64,
    to: i64,
    body: String,
}

/// The webhook deliveries of every subscription: a task of the hub process, started with the
/// server ([`Deliveries::start`]).
pub struct Deliveries {
    registry: Arc<Registry>,
    client: reqwest::Client,
    /// This process's name on the leases it takes.
    me: String,
    /// The first retry's wait (doubled each try, up to [`MAX_BACKOFF`]).
    backoff: Duration,
}

impl Deliveries {
    /// Deliveries over `registry`, trusting the system's roots and `extra_roots` (DER) for the
    /// subscribers' endpoints; a failed try waits `backoff`, then twice that, and so on.
    pub fn new(
        registry: Arc<Registry>,
        extra_roots: &[Vec<u8>],
        backoff: Duration,
    ) -> Result<Deliveries, HubError> {
        let mut builder = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        for der in extra_roots {
            builder =
                builder.add_root_certificate(reqwest::Certificate::from_der(der).map_err(|e| {
                    HubError::BadRequest(format!("a webhook root certificate: {e}"))
                })?);
        }
        let mut me = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut me);
        Ok(Deliveries {
            registry,
            client: builder
                .build()
                .map_err(|e| HubError::Internal(format!("webhook client: {e}")))?,
            me: hex::encode(me),
            backoff,
        })
    }

    /// Runs the deliveries until the task is dropped: every `every`, each subscription due.
    pub fn start(self, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::new(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.clone().round().await {
                    eprintln!("hub: webhook deliveries: {e}");
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// One round: takes each subscription due, sends what it has not acknowledged, and records
    /// the outcome. Returns how many deliveries were acknowledged.
    pub async fn round(self: Arc<Self>) -> Result<usize, HubError> {
        let this = self.clone();
        let due = tokio::task::spawn_blocking(move || this.take_due(Utc::now()))
            .await
            .map_err(|e| HubError::Internal(format!("worker failed: {e}")))??;
        let mut acknowledged = 0;
        for d in due {
            let mut request = self
                .client
                .post(&d.dest)
                .header("Content-Type", "application/ld+json")
                .header("GS1-EPCIS-Version", crate::api::EPCIS_VERSION)
                .body(d.body.clone());
            if let Some(token) = &d.token {
                request = request.header("GS1-Signature", signature(token, d.body.as_bytes()));
            }
            let ok = matches!(request.send().await, Ok(r) if r.status().is_success());
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.settle(&d, ok, Utc::now()))
                .await
                .map_err(|e| HubError::Internal(format!("worker failed: {e}")))??;
            acknowledged += usize::from(ok);
        }
        Ok(acknowledged)
    }

    /// Leases each subscription due that has events to send, and builds its delivery.
    fn take_due(&self, now: DateTime<Utc>) -> Result<Vec<Due>, HubError> {
        let now_ms = now.timestamp_millis();
        let lease_until = now_ms + LEASE.as_millis() as i64;
        let candidates: Vec<(String, String, Option<String>, i64, String)> =
            self.registry.conn()?.db().query_map(
                "SELECT id, dest, token, after_seq, query FROM subscriptions
                 WHERE next_attempt_at <= ?1 AND (leased_until IS NULL OR leased_until < ?1)
                 ORDER BY next_attempt_at LIMIT 100",
                params![now_ms],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
        let mut due = Vec::new();
        for (id, dest, token, after, name) in candidates {
            let conn = self.registry.conn()?;
            let (org, partner, query) = owner(&conn, &name)?;
            let events = match parameters(&query) {
                Ok(q) => repository::select(&conn, &scope_of(&org, partner), &q, after, BATCH)?.0,
                Err(e) => {
                    eprintln!("hub: query {name} no longer reads: {e}");
                    continue;
                }
            };
            let Some(&(to, _)) = events.last() else {
                continue;
            };
            let leased = conn.db().execute(
                "UPDATE subscriptions SET leased_by = ?2, leased_until = ?3
                 WHERE id = ?1 AND after_seq = ?4 AND (leased_until IS NULL OR leased_until < ?5)",
                params![id, self.me, lease_until, after, now_ms],
            )?;
            if leased == 0 {
                continue;
            }
            let mut doc =
                repository::query_document(events.into_iter().map(|(_, e)| e).collect(), now);
            doc["epcisBody"]["queryResults"]["queryName"] = Value::String(name.clone());
            doc["epcisBody"]["queryResults"]["subscriptionID"] = Value::String(id.clone());
            due.push(Due {
                id,
                dest,
                token,
                from: after,
                to,
                body: doc.to_string(),
            });
        }
        Ok(due)
    }

    /// Records a delivery's outcome: acknowledged, the cursor moves past it (only from where it
    /// started, and only under this process's lease); not, the next try waits longer.
    fn settle(&self, d: &Due, acknowledged: bool, now: DateTime<Utc>) -> Result<(), HubError> {
        let conn = self.registry.conn()?;
        if acknowledged {
            conn.db().execute(
                "UPDATE subscriptions SET after_seq = ?2, attempts = 0, next_attempt_at = 0,
                     last_notified_at = ?3, leased_by = NULL, leased_until = NULL
                 WHERE id = ?1 AND after_seq = ?4 AND leased_by = ?5",
                params![
                    d.id,
                    d.to,
                    now.to_rfc3339_opts(SecondsFormat::Millis, true),
                    d.from,
                    self.me
                ],
            )?;
        } else {
            let attempts: i64 = conn
                .db()
                .query_opt(
                    "SELECT attempts FROM subscriptions WHERE id = ?1",
                    params![d.id],
                    |r| r.get(0),
                )?
                .unwrap_or(0);
            let wait = self
                .backoff
                .saturating_mul(1u32 << attempts.clamp(0, 16))
                .min(MAX_BACKOFF);
            conn.db().execute(
                "UPDATE subscriptions SET attempts = attempts + 1, next_attempt_at = ?2,
                     leased_by = NULL, leased_until = NULL
                 WHERE id = ?1 AND leased_by = ?3",
                params![
                    d.id,
                    now.timestamp_millis() + wait.as_millis() as i64,
                    self.me
                ],
            )?;
        }
        Ok(())
    }
}

/// `GS1-Signature` of `body` under `token`: `sha256=` and the HMAC-SHA-256 in hex.
pub fn signature(token: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
