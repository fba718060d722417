//! Enrollment: one-time tokens, the devices they enroll, and revocation.

use super::*;

/// The public reason of an alert a partner's report raised: the reporter and their note are
/// for the channel partners' devices, not for anyone who verifies a code.
/// The longest device name a device may give itself at enrollment.
pub const MAX_DEVICE_NAME: usize = 100;

/// A device as enrolled.
#[derive(Clone, Debug)]
pub struct DeviceRecord {
    pub id: String,
    pub org: String,
    pub site: String,
    pub public_key: String,
    pub revoked: bool,
    pub counter: u64,
    /// The device's last upload the hub acknowledged (its upload cursor as the hub knows it).
    pub acked_through: Option<i64>,
    /// The download cursor the hub last answered the device with.
    pub served_through: Option<i64>,
    /// The flag-units cursor the hub last answered the device with.
    pub flag_units_served: Option<i64>,
}

impl Registry {
    /// Creates a one-time enrollment token for a device of `org` at `site`, valid for `hours`.
    pub fn create_token(
        &self,
        org: &str,
        site: &str,
        hub_url: &str,
        ca_der: &[u8],
        hours: i64,
    ) -> Result<String, HubError> {
        self.create_token_at(
            org,
            site,
            hub_url,
            ca_der,
            chrono::Duration::hours(hours),
            Utc::now(),
        )
    }

    /// Creates a one-time enrollment token at `now`, valid for `valid_for`. The token carries
    /// its expiry, so a device refuses an expired one before it reaches the hub; the hub
    /// refuses it too ([`Registry::enroll_at`]).
    pub fn create_token_at(
        &self,
        org: &str,
        site: &str,
        hub_url: &str,
        ca_der: &[u8],
        valid_for: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<String, HubError> {
        if valid_for <= chrono::Duration::zero() {
            return Err(HubError::BadRequest(
                "a token must be valid for some time: give a positive duration".into(),
            ));
        }
        let guard = self.conn()?;
        let conn = guard.db();
        let org_known: i64 =
            conn.query_row("SELECT count(*) FROM orgs WHERE id = ?1", [org], |r| {
                r.get(0)
            })?;
        if org_known == 0 {
            return Err(HubError::BadRequest(format!(
                "organisation {org:?} is not registered"
            )));
        }
        let site_known: i64 = conn.query_row(
            "SELECT count(*) FROM sites WHERE org = ?1 AND id = ?2",
            [org, site],
            |r| r.get(0),
        )?;
        if site_known == 0 {
            return Err(HubError::BadRequest(format!(
                "site {site:?} is not a site of {org}"
            )));
        }
        let mut secret = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let expires = now
            .checked_add_signed(valid_for)
            .ok_or_else(|| HubError::BadRequest("the token's validity is too long".into()))?;
        conn.execute(
            "INSERT INTO tokens (secret_hash, org, site, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                custodian_sync::identity::secret_hash(&secret),
                org,
                site,
                expires.to_rfc3339()
            ],
        )?;
        Ok(custodian_sync::identity::EnrollmentToken {
            hub: hub_url.to_string(),
            ca: STANDARD.encode(ca_der),
            org: org.to_string(),
            site: site.to_string(),
            secret,
            expires: Some(expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
        .encode())
    }

    /// Redeems a token for a new device identity.
    pub fn enroll(
        &self,
        secret: &str,
        public_key: &str,
        name: &str,
    ) -> Result<DeviceRecord, HubError> {
        self.enroll_at(secret, public_key, name, Utc::now())
    }

    /// Redeems a token at `now`: refused when unknown, used, or expired.
    pub fn enroll_at(
        &self,
        secret: &str,
        public_key: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<DeviceRecord, HubError> {
        if name.chars().count() > MAX_DEVICE_NAME || name.chars().any(char::is_control) {
            return Err(HubError::BadRequest(format!(
                "the device name must be at most {MAX_DEVICE_NAME} printable characters"
            )));
        }
        let key = STANDARD.decode(public_key).ok().filter(|k| k.len() == 32);
        if key.is_none() {
            return Err(HubError::BadRequest(
                "public_key must be a base64 Ed25519 key of 32 bytes".into(),
            ));
        }
        let guard = self.conn()?;
        let conn = guard.db();
        let tx = conn.transaction()?;
        let hash = custodian_sync::identity::secret_hash(secret);
        let row: Option<(String, String, String, Option<String>)> = tx
            .query_row(
                "SELECT org, site, expires_at, used_by FROM tokens WHERE secret_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (org, site, expires, used_by) =
            row.ok_or_else(|| HubError::Unauthorized("unknown enrollment token".into()))?;
        if used_by.is_some() {
            return Err(HubError::Unauthorized(
                "this enrollment token was already used: ask the hub for a new one".into(),
            ));
        }
        if DateTime::parse_from_rfc3339(&expires).map_or(true, |t| t <= now) {
            return Err(HubError::Unauthorized(format!(
                "this enrollment token expired at {expires}: ask the hub for a new one"
            )));
        }
        let mut id_bytes = [0u8; 9];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        let id = format!("dev-{}", hex::encode(id_bytes));
        tx.execute(
            "INSERT INTO devices (id, org, site, public_key, name, enrolled_at, revoked, counter) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0)",
            params![id, org, site, public_key, name, now.to_rfc3339()],
        )?;
        tx.execute(
            "UPDATE tokens SET used_by = ?1 WHERE secret_hash = ?2",
            params![id, hash],
        )?;
        tx.commit()?;
        Ok(DeviceRecord {
            id,
            org,
            site,
            public_key: public_key.to_string(),
            revoked: false,
            counter: 0,
            acked_through: None,
            served_through: None,
            flag_units_served: None,
        })
    }

    pub fn revoke(&self, device: &str) -> Result<(), HubError> {
        let n = self
            .conn()?
            .db()
            .execute("UPDATE devices SET revoked = 1 WHERE id = ?1", [device])?;
        if n == 0 {
            return Err(HubError::NotFound(format!("device {device}")));
        }
        Ok(())
    }

    pub(crate) fn device(conn: impl AsDb, id: &str) -> Result<Option<DeviceRecord>, HubError> {
        let conn = conn.db();
        Ok(conn
            .query_row(
                "SELECT id, org, site, public_key, revoked, counter, acked_through, served_through,
                        flag_units_served
                 FROM devices WHERE id = ?1",
                [id],
                |r| {
                    Ok(DeviceRecord {
                        id: r.get(0)?,
                        org: r.get(1)?,
                        site: r.get(2)?,
                        public_key: r.get(3)?,
                        revoked: r.get(4)?,
                        counter: r.get::<_, i64>(5)?.try_into().unwrap_or(0),
                        acked_through: r.get(6)?,
                        served_through: r.get(7)?,
                        flag_units_served: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }
}
