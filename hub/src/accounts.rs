//! Who may call the manufacturer's API, and what each may do: accounts, their roles and
//! their secrets.
//!
//! - A **service account** is a system (the ERP, the MES, a WMS, a partner's EPCIS repository).
//!   It authenticates with an API key, `cust_<id>_<secret>`: the id names the key, the secret
//!   is 256 random bits of which only the SHA-256 is kept. A key can be rotated (a new key; the
//!   old one stops at once or after a grace period) and revoked.
//! - A **user** is a person. Their password is kept as an Argon2id hash; signing in
//!   ([`Accounts::sign_in`]) gives a session token of the same form as an API key, valid for
//!   [`SESSION_HOURS`].
//!
//! Every account has one [`Role`] and acts for one organisation. A partner's account acts for
//! its own organisation (not a manufacturer), and reads only that organisation's data; every
//! other role is the manufacturer's own staff or systems.
//!
//! **Invariant:** what a role may do is decided in one place, [`Role::may`]; every API handler
//! asks it through [`Caller::require`] before anything is read or changed.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use custodian_ledger::sql::{AsDb, OptionalExtension, params};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use serde_json::json;

use crate::{HubError, Registry, audit};

/// How long a user's session lasts.
pub const SESSION_HOURS: i64 = 8;
/// The longest account name.
pub const MAX_ACCOUNT_CHARS: usize = 64;
/// The shortest password a user may have, and the longest (Argon2 hashes any length; a bound
/// keeps a request from costing more than one).
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The longest a credential a caller presents may be (ours are 62 characters).
const MAX_TOKEN_CHARS: usize = 128;

/// What an account does for the manufacturer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accounts, the audit trail, and everything the other roles may do.
    Administrator,
    /// Recalls, and reading histories and flags.
    Quality,
    /// The counterfeit alert list and flags.
    BrandProtection,
    /// Warranty claims and unit histories.
    Service,
    /// The manufacturer's systems: issuance, despatch advice, EPCIS capture and query.
    Integration,
    /// A channel partner: its own organisation's events, through EPCIS query.
    Partner,
}

/// Something an API call does, which a role may or may not be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create, rotate, revoke and disable accounts; read the audit trail.
    ManageAccounts,
    ReadAudit,
    /// Add events to the EPCIS repository.
    Capture,
    /// Read the EPCIS repository (a partner only its own organisation's events).
    Query,
    /// Read flags across partners.
    ReadFlags,
    /// Products and partners master data.
    ReadMasterData,
    /// Publish and withdraw recalls.
    Recall,
    /// The counterfeit alert list: read it, list and clear units.
    Alerts,
    /// Units' histories (custody across partners).
    Histories,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Administrator,
        Role::Quality,
        Role::BrandProtection,
        Role::Service,
        Role::Integration,
        Role::Partner,
    ];

    /// Whether this role may do `action`: the one table of permissions.
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        use Role::*;
        match self {
            Administrator => true,
            Quality => matches!(
                action,
                Query | ReadFlags | ReadMasterData | Recall | Histories
            ),
            BrandProtection => {
                matches!(
                    action,
                    Query | ReadFlags | ReadMasterData | Alerts | Histories
                )
            }
            Service => matches!(action, Query | ReadMasterData | Histories),
            Integration => matches!(action, Capture | Query | ReadMasterData),
            Partner => matches!(action, Query),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Quality => "quality",
            Role::BrandProtection => "brand_protection",
            Role::Service => "service",
            Role::Integration => "integration",
            Role::Partner => "partner",
        }
    }

    pub fn parse(s: &str) -> Result<Role, HubError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                HubError::BadRequest(format!(
                    "no role {s:?}: one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                ))
            })
    }
}

/// A system's or a person's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Service,
    User,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::User => "user",
        }
    }
}

/// An account as the API shows it (never its secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub id: String,
    pub kind: Kind,
    pub role: Role,
    /// The organisation it acts for.
    pub org: String,
    pub created_at: String,
    /// When it was disabled; a disabled account's credentials are refused.
    pub disabled_at: Option<String>,
}

/// Who is calling, once authenticated: an account, or the hub's own command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account's id, or `cli:<user>` for the command line.
    pub account: String,
    pub role: Role,
    pub org: String,
    /// Where the call came from: the client's address, or `cli`.
    pub origin: String,
    /// Whether `org` is a channel partner (not a manufacturer): then the caller reads only
    /// its own organisation's data, whatever its role.
    pub partner: bool,
    /// The credential the call was made with (none for the command line).
    pub credential: Option<String>,
}

/// Whose events a caller may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every organisation's (the manufacturer's staff and systems).
    All,
    /// One organisation's only (a partner).
    Org(String),
}

impl Caller {
    /// The hub's command line, run by the operating-system user `user` on the hub's machine:
    /// it may do anything (it can read the database anyway), and what it changes is audited.
    pub fn command_line(user: &str, org: &str) -> Caller {
        Caller {
            account: format!("cli:{user}"),
            role: Role::Administrator,
            org: org.to_string(),
            origin: "cli".to_string(),
            partner: false,
            credential: None,
        }
    }

    /// Refuses (403) an action the caller's role does not allow.
    pub fn require(&self, action: Action) -> Result<(), HubError> {
        if self.role.may(action) {
            Ok(())
        } else {
            Err(HubError::Forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    /// Refuses a change that would cut off the credential this call is made with: an
    /// administrator does not lock itself out by mistake (or a stolen key's holder lock out the
    /// administrator by revoking its own way in first).
    fn not_own(&self, account: &str, credential: Option<&str>) -> Result<(), HubError> {
        let own_account = self.account == account;
        let own_credential = credential.is_some() && credential == self.credential.as_deref();
        if own_account && (credential.is_none() || own_credential) {
            return Err(HubError::Conflict(
                "this would cut off the credential the request is made with: use another administrator's".into(),
            ));
        }
        Ok(())
    }

    /// Whose data the caller may read.
    pub fn scope(&self) -> Scope {
        if self.partner || self.role == Role::Partner {
            Scope::Org(self.org.clone())
        } else {
            Scope::All
        }
    }
}

/// A new secret, shown once: the API key or session token, and its id.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Issued {
    /// The credential's id (the part of the token that names it).
    pub id: String,
    /// The whole token, to send as `Authorization: Bearer <token>`. Not kept by the hub.
    pub token: String,
    pub expires_at: Option<String>,
}

fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks an account name: 1 to [`MAX_ACCOUNT_CHARS`] of letters, digits, `.`, `-`, `_`, `@`.
pub fn check_name(id: &str) -> Result<(), HubError> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_ACCOUNT_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        && !id.starts_with("cli:");
    if ok {
        Ok(())
    } else {
        Err(HubError::BadRequest(format!(
            "an account name is 1 to {MAX_ACCOUNT_CHARS} letters, digits, '.', '-', '_' or '@'"
        )))
    }
}

fn hash_password(password: &str) -> Result<String, HubError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(HubError::BadRequest(format!(
            "a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| HubError::Internal(format!("password salt: {e}")))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| HubError::Internal(format!("password hash: {e}")))?
        .to_string())
}

/// Creates an account of `kind` with `role` for `org`; a user gets `password`. A channel
/// partner's accounts have the partner role, or integration (its own systems capturing its
/// events); a manufacturer's have any role but partner.
pub fn create(
    conn: impl AsDb,
    id: &str,
    kind: Kind,
    role: Role,
    org: &str,
    password: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Account, HubError> {
    let conn = conn.db();
    check_name(id)?;
    let org_role: Option<String> = conn
        .query_row("SELECT role FROM orgs WHERE id = ?1", params![org], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(org_role) = org_role else {
        return Err(HubError::BadRequest(format!("no organisation {org:?}")));
    };
    let manufacturer = org_role == "manufacturer";
    if manufacturer && role == Role::Partner {
        return Err(HubError::BadRequest(format!(
            "{org} is a manufacturer: a partner account is for a channel partner"
        )));
    }
    if !manufacturer && !matches!(role, Role::Partner | Role::Integration) {
        return Err(HubError::BadRequest(format!(
            "{org} is a channel partner: its accounts are partner or integration accounts, and reach only its own data"
        )));
    }
    let password = match (kind, password) {
        (Kind::User, Some(p)) => Some(hash_password(p)?),
        (Kind::User, None) => {
            return Err(HubError::BadRequest("a user needs a password".into()));
        }
        (Kind::Service, Some(_)) => {
            return Err(HubError::BadRequest(
                "a service account has API keys, not a password".into(),
            ));
        }
        (Kind::Service, None) => None,
    };
    let created_at = now_text(now);
    let n = conn.execute(
        "INSERT INTO accounts (id, kind, role, org, password, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO NOTHING",
        params![id, kind.as_str(), role.as_str(), org, password, created_at],
    )?;
    if n == 0 {
        return Err(HubError::Conflict(format!(
            "an account {id:?} exists already"
        )));
    }
    Ok(Account {
        id: id.to_string(),
        kind,
        role,
        org: org.to_string(),
        created_at,
        disabled_at: None,
    })
}

fn read_account(
    r: &custodian_ledger::sql::Row<'_>,
) -> Result<Account, custodian_ledger::sql::SqlError> {
    let kind: String = r.get(1)?;
    let role: String = r.get(2)?;
    Ok(Account {
        id: r.get(0)?,
        kind: if kind == "user" {
            Kind::User
        } else {
            Kind::Service
        },
        // Written only from [`Role::as_str`]; an unknown one reads as the least privileged.
        role: Role::parse(&role).unwrap_or(Role::Partner),
        org: r.get(3)?,
        created_at: r.get(4)?,
        disabled_at: r.get(5)?,
    })
}

/// Every account, by name.
pub fn list(conn: impl AsDb) -> Result<Vec<Account>, HubError> {
    let conn = conn.db();
    Ok(conn.query_map(
        "SELECT id, kind, role, org, created_at, disabled_at FROM accounts ORDER BY id",
        params![],
        read_account,
    )?)
}

/// One account.
pub fn get(conn: impl AsDb, id: &str) -> Result<Account, HubError> {
    let conn = conn.db();
    conn.query_row(
        "SELECT id, kind, role, org, created_at, disabled_at FROM accounts WHERE id = ?1",
        params![id],
        read_account,
    )
    .optional()?
    .ok_or_else(|| HubError::NotFound(format!("account {id:?}")))
}

/// A new credential of `kind` for `account`, valid until `expires` (for ever: `None`).
fn issue(
    conn: impl AsDb,
    account: &str,
    kind: &str,
    expires: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Issued, HubError> {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let expires_at = expires.map(now_text);
    conn.db().execute(
        "INSERT INTO credentials (id, account, kind, secret_sha256, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, account, kind, sha256_hex(&secret), now_text(now), expires_at],
    )?;
    Ok(Issued {
        token: format!("cust_{id}_{secret}"),
        id,
        expires_at,
    })
}

/// A new API key for service account `account`. With `retire_after`, its other keys stop
/// then (a rotation's grace period: `Duration::zero()` stops them at once); without, they stay.
pub fn new_key(
    conn: impl AsDb,
    account: &str,
    retire_after: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<Issued, HubError> {
    let conn = conn.db();
    let a = get(conn, account)?;
    if a.kind != Kind::Service {
        return Err(HubError::BadRequest(format!(
            "{account} is a user: users sign in with their password"
        )));
    }
    if a.disabled_at.is_some() {
        return Err(HubError::BadRequest(format!("{account} is disabled")));
    }
    if let Some(grace) = retire_after {
        let until = now_text(now + grace);
        conn.execute(
            "UPDATE credentials SET expires_at = ?2
             WHERE account = ?1 AND kind = 'key' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
            params![account, until],
        )?;
    }
    issue(conn, account, "key", None, now)
}

/// Revokes credential `id` of `account` at once. Revoking one revoked before changes nothing.
pub fn revoke(
    conn: impl AsDb,
    account: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), HubError> {
    let conn = conn.db();
    let n = conn.execute(
        "UPDATE credentials SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND account = ?2",
        params![id, account, now_text(now)],
    )?;
    if n == 0 {
        return Err(HubError::NotFound(format!("credential {id} of {account}")));
    }
    Ok(())
}

/// Disables an account: every credential it has is refused from now on.
pub fn disable(conn: impl AsDb, account: &str, now: DateTime<Utc>) -> Result<(), HubError> {
    let conn = conn.db();
    let n = conn.execute(
        "UPDATE accounts SET disabled_at = COALESCE(disabled_at, ?2) WHERE id = ?1",
        params![account, now_text(now)],
    )?;
    if n == 0 {
        return Err(HubError::NotFound(format!("account {account:?}")));
    }
    Ok(())
}

/// Signs a user in with their password: a session token valid for [`SESSION_HOURS`]. A wrong
/// name or password are refused alike.
pub fn sign_in(
    conn: impl AsDb,
    account: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Issued, HubError> {
    let conn = conn.db();
    let refused = || HubError::Unauthorized("unknown account or wrong password".into());
    if password.chars().count() > MAX_PASSWORD_CHARS || account.chars().count() > MAX_ACCOUNT_CHARS
    {
        return Err(refused());
    }
    let row: Option<(Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT password, disabled_at FROM accounts WHERE id = ?1 AND kind = 'user'",
            params![account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((Some(hash), None)) = row else {
        return Err(refused());
    };
    let parsed = PasswordHash::new(&hash)
        .map_err(|e| HubError::Internal(format!("stored password hash of {account}: {e}")))?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| refused())?;
    issue(
        conn,
        account,
        "session",
        Some(now + Duration::hours(SESSION_HOURS)),
        now,
    )
}

/// The caller a bearer token (an API key or a session) stands for, calling from `origin`.
/// Every failure is the same 401: unknown, malformed, wrong, expired or revoked tokens and
/// disabled accounts are not told apart.
pub fn authenticate(
    conn: impl AsDb,
    token: &str,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<Caller, HubError> {
    let conn = conn.db();
    let refused = || HubError::Unauthorized("a valid API key or session token is needed".into());
    if token.len() > MAX_TOKEN_CHARS {
        return Err(refused());
    }
    let Some((id, secret)) = token
        .strip_prefix("cust_")
        .and_then(|rest| rest.split_once('_'))
    else {
        return Err(refused());
    };
    type Found = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        Option<String>,
        String,
    );
    let row: Option<Found> = conn
        .prepare_cached(
            "SELECT c.secret_sha256, c.account, c.expires_at, c.revoked_at, a.role, a.org, a.disabled_at, o.role
             FROM credentials c JOIN accounts a ON a.id = c.account JOIN orgs o ON o.id = a.org
             WHERE c.id = ?1",
        )?
        .query_row(params![id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })
        .optional()?;
    let Some((stored, account, expires_at, revoked_at, role, org, disabled_at, org_role)) = row
    else {
        return Err(refused());
    };
    let presented = sha256_hex(secret);
    // Compared without an early exit, though both sides are digests of a secret.
    let same = stored.len() == presented.len()
        && stored
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    let now = now_text(now);
    let live = revoked_at.is_none()
        && disabled_at.is_none()
        && expires_at.is_none_or(|e| e.as_str() > now.as_str());
    if !same || !live {
        return Err(refused());
    }
    Ok(Caller {
        account,
        role: Role::parse(&role)?,
        org,
        origin: origin.to_string(),
        partner: org_role != "manufacturer",
        credential: Some(id.to_string()),
    })
}

/// A credential as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Credential {
    pub id: String,
    pub kind: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// An account's credentials, newest first.
pub fn credentials(conn: impl AsDb, account: &str) -> Result<Vec<Credential>, HubError> {
    let conn = conn.db();
    get(conn, account)?;
    Ok(conn.query_map(
        "SELECT id, kind, created_at, expires_at, revoked_at FROM credentials WHERE account = ?1 ORDER BY created_at DESC, id",
        params![account],
        |r| {
            Ok(Credential {
                id: r.get(0)?,
                kind: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        },
    )?)
}

/// A new account.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    /// Its name: 1 to 64 letters, digits, `.`, `-`, `_` or `@`.
    pub id: String,
    pub kind: Kind,
    pub role: Role,
    /// The organisation it acts for.
    pub org: String,
    /// A user's password (12 to 256 characters); none for a service account.
    pub password: Option<String>,
}

/// An account created, with a service account's first API key (shown once).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Created {
    pub account: Account,
    pub key: Option<Issued>,
}

/// An account and its credentials.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountDetail {
    pub account: Account,
    pub credentials: Vec<Credential>,
}

/// A key rotation: how long the account's other keys keep working.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rotation {
    /// Seconds until the account's other keys stop (0: at once); absent: they keep working.
    pub retire_others_after_seconds: Option<u32>,
}

/// The account operations as the API and the command line both call them: each checks the
/// caller's role, and writes the change and its audit entry in one transaction.
impl Registry {
    fn audited<T>(
        &self,
        f: impl FnOnce(custodian_ledger::sql::Db<'_>) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let guard = self.conn()?;
        let tx = guard.db().transaction()?;
        let out = f(tx.db())?;
        tx.commit()?;
        Ok(out)
    }

    /// The caller a bearer token stands for ([`authenticate`]).
    pub fn authenticate(
        &self,
        token: &str,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<Caller, HubError> {
        authenticate(&self.conn()?, token, origin, now)
    }

    /// Signs a user in ([`sign_in`]); the session is on record.
    pub fn sign_in(
        &self,
        account: &str,
        password: &str,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<Issued, HubError> {
        self.audited(|tx| {
            let issued = sign_in(tx, account, password, now)?;
            // The session's own token says who signed in, as any later call would learn it.
            let caller = authenticate(tx, &issued.token, origin, now)?;
            audit::append(tx, &caller, "session.create", &issued.id, &json!({}), now)?;
            Ok(issued)
        })
    }

    /// Every account.
    pub fn accounts(&self, caller: &Caller) -> Result<Vec<Account>, HubError> {
        caller.require(Action::ManageAccounts)?;
        list(&self.conn()?)
    }

    /// One account and its credentials.
    pub fn account(&self, caller: &Caller, id: &str) -> Result<AccountDetail, HubError> {
        caller.require(Action::ManageAccounts)?;
        let conn = self.conn()?;
        Ok(AccountDetail {
            account: get(&conn, id)?,
            credentials: credentials(&conn, id)?,
        })
    }

    /// Creates an account ([`create`]); a service account gets its first API key.
    pub fn create_account(
        &self,
        caller: &Caller,
        req: &NewAccount,
        now: DateTime<Utc>,
    ) -> Result<Created, HubError> {
        caller.require(Action::ManageAccounts)?;
        self.audited(|tx| {
            let account = create(
                tx,
                &req.id,
                req.kind,
                req.role,
                &req.org,
                req.password.as_deref(),
                now,
            )?;
            let key = match account.kind {
                Kind::Service => Some(new_key(tx, &account.id, None, now)?),
                Kind::User => None,
            };
            audit::append(
                tx,
                caller,
                "account.create",
                &account.id,
                &json!({ "kind": account.kind, "role": account.role, "org": account.org,
                         "key": key.as_ref().map(|k| &k.id) }),
                now,
            )?;
            Ok(Created { account, key })
        })
    }

    /// A new API key for service account `id` ([`new_key`]).
    pub fn new_key(
        &self,
        caller: &Caller,
        id: &str,
        rotation: &Rotation,
        now: DateTime<Utc>,
    ) -> Result<Issued, HubError> {
        caller.require(Action::ManageAccounts)?;
        if rotation.retire_others_after_seconds.is_some() {
            caller.not_own(id, None)?;
        }
        self.audited(|tx| {
            let grace = rotation
                .retire_others_after_seconds
                .map(|s| Duration::seconds(i64::from(s)));
            let issued = new_key(tx, id, grace, now)?;
            audit::append(
                tx,
                caller,
                "account.key.create",
                id,
                &json!({ "key": issued.id, "retire_others_after_seconds": rotation.retire_others_after_seconds }),
                now,
            )?;
            Ok(issued)
        })
    }

    /// Revokes credential `key` of account `id` ([`revoke`]).
    pub fn revoke_key(
        &self,
        caller: &Caller,
        id: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        caller.require(Action::ManageAccounts)?;
        caller.not_own(id, Some(key))?;
        self.audited(|tx| {
            revoke(tx, id, key, now)?;
            audit::append(
                tx,
                caller,
                "account.key.revoke",
                id,
                &json!({ "key": key }),
                now,
            )
        })
    }

    /// Disables account `id` ([`disable`]).
    pub fn disable_account(
        &self,
        caller: &Caller,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        caller.require(Action::ManageAccounts)?;
        caller.not_own(id, None)?;
        self.audited(|tx| {
            disable(tx, id, now)?;
            audit::append(tx, caller, "account.disable", id, &json!({}), now)
        })
    }

    /// The audit trail as `filter` selects it.
    pub fn audit(
        &self,
        caller: &Caller,
        filter: &audit::Filter,
    ) -> Result<Vec<audit::Entry>, HubError> {
        caller.require(Action::ReadAudit)?;
        audit::read(&self.conn()?, filter)
    }
}
