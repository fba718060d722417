//! Issuance: drawing serials, signing them (AI 8030) and commissioning them, in key order.

use super::*;
use custodian_ledger::sql::Batched;

/// Characters of generated serials: unambiguous upper-case letters and digits.
pub(super) const SERIAL_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Characters in a generated serial: 50 random bits.
pub(super) const SERIAL_LEN: usize = 10;

/// Serials per commissioning event.
pub const COMMISSIONING_BATCH: usize = 10_000;

/// Serials per transaction of an issuance (a whole number of commissioning batches).
pub const SERIALS_PER_TRANSACTION: usize = 20 * COMMISSIONING_BATCH;

/// A generated serial, as ASCII bytes; byte order is SQLite's text order.
type SerialText = [u8; SERIAL_LEN];

pub(super) fn draw_serial(rng: &mut impl RngCore) -> SerialText {
    let mut serial = [0; SERIAL_LEN];
    for c in &mut serial {
        *c = SERIAL_ALPHABET[rng.gen_range(0..SERIAL_ALPHABET.len())];
    }
    serial
}

pub(super) fn serial_str(serial: &SerialText) -> &str {
    std::str::from_utf8(serial).expect("serials are drawn from an ASCII alphabet")
}

/// The AI 8030 signature of a serial: Ed25519 over [`extract::signed_payload`], base64url.
pub(super) fn sign(issuer: &SigningKey, gtin: &str, serial: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        issuer
            .sign(&extract::signed_payload(gtin, serial))
            .to_bytes(),
    )
}

/// The labels of an issued serial.
pub(super) fn label(
    resolver: &str,
    gtin: &Gtin,
    serial: &str,
    lot: Option<&str>,
    expiry: Option<&str>,
    signature: &str,
) -> IssuedSerial {
    let mut ais: Vec<(&str, &str)> = vec![("01", gtin.as_str())];
    if let Some(e) = expiry {
        ais.push(("17", e));
    }
    if let Some(l) = lot {
        ais.push(("10", l));
    }
    ais.push(("21", serial));
    ais.push(("8030", signature));
    let query: Vec<(&str, &str)> = ais
        .iter()
        .filter(|(ai, _)| !matches!(*ai, "01" | "21"))
        .copied()
        .collect();
    IssuedSerial {
        gtin: gtin.to_string(),
        serial: serial.to_string(),
        lot: lot.map(str::to_string),
        expiry: expiry.map(str::to_string),
        element_string: custodian_scanner::element_string(&ais),
        bracketed: custodian_scanner::bracketed(&ais),
        digital_link: custodian_scanner::digital_link(resolver, gtin, Some(serial), &query),
    }
}

/// A serial as issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedSerial {
    pub gtin: String,
    pub serial: String,
    pub lot: Option<String>,
    pub expiry: Option<String>,
    /// The element string a label carries (GS = ASCII 29 before each following AI after a
    /// variable-length one), with the AI 8030 signature.
    pub element_string: String,
    pub bracketed: String,
    pub digital_link: String,
}

/// What an issuance did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssueSummary {
    pub issued: usize,
    pub commissioning_events: usize,
    pub transactions: usize,
    /// Threads that signed serials.
    pub signing_threads: usize,
}

/// What `issue` needs besides the GTIN and count.
#[derive(Clone, Debug, Default)]
pub struct IssueOptions {
    pub lot: Option<String>,
    /// `YYMMDD`.
    pub expiry: Option<String>,
    pub markets: Vec<String>,
    pub facility: String,
    pub line: String,
}

impl Registry {
    /// Issues `count` signed serials of `gtin` and records their commissioning. Returns them in
    /// the order `rng` drew them. The work is divided as in [`Registry::issue_bulk`]; an issuance
    /// of up to [`SERIALS_PER_TRANSACTION`] serials is one transaction.
    pub fn issue(
        &self,
        gtin: &str,
        count: usize,
        options: &IssueOptions,
        at: DateTime<FixedOffset>,
        rng: &mut impl RngCore,
    ) -> Result<Vec<IssuedSerial>, HubError> {
        let mut issued = Vec::with_capacity(count);
        self.issue_core(
            gtin,
            count,
            options,
            at,
            rng,
            Some(&mut issued),
            &mut |_| {},
        )?;
        issued.sort_by_key(|(drawn, _)| *drawn);
        Ok(issued.into_iter().map(|(_, s)| s).collect())
    }

    /// Issues `count` signed serials of `gtin` without handing back their labels: the way to
    /// issue millions ([`Registry::issued_after`] pages through them later). `progress` hears
    /// the running total after each commissioning batch.
    ///
    /// `rng` draws every serial first (a duplicate is drawn again); they are then written in key
    /// order, so the serials table and the EPC index grow at their ends instead of at random
    /// pages. Each serial is signed with the issuer key, on all cores, while the previous
    /// batches are written. Every [`COMMISSIONING_BATCH`] serials are one commissioning event,
    /// and a transaction holds [`SERIALS_PER_TRANSACTION`], so a failure leaves whole batches
    /// issued and the rest not.
    pub fn issue_bulk(
        &self,
        gtin: &str,
        count: usize,
        options: &IssueOptions,
        at: DateTime<FixedOffset>,
        rng: &mut impl RngCore,
        progress: &mut dyn FnMut(usize),
    ) -> Result<IssueSummary, HubError> {
        self.issue_core(gtin, count, options, at, rng, None, progress)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the issuance's inputs plus where its labels and progress go"
    )]
    pub(super) fn issue_core(
        &self,
        gtin: &str,
        count: usize,
        options: &IssueOptions,
        at: DateTime<FixedOffset>,
        rng: &mut impl RngCore,
        mut labels: Option<&mut Vec<(usize, IssuedSerial)>>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<IssueSummary, HubError> {
        let gtin = Gtin::parse(gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        if let Some(expiry) = &options.expiry {
            custodian_scanner::parse(&format!("(01){gtin}(17){expiry}"))
                .map_err(|e| HubError::BadRequest(format!("expiry {expiry}: {e}")))?;
        }
        let resolver = self.resolver()?;
        let guard = self.conn()?;
        let conn = guard.db();
        if !crate::catalog::is_product(conn, gtin.as_str())? {
            return Err(HubError::BadRequest(format!(
                "GTIN {gtin} is not a registered product: register it first"
            )));
        }
        let maker = Self::manufacturer(conn)?;
        let site = Self::first_site(conn, &maker.id)?;

        // Draw every serial, then order them by key; a serial drawn twice is drawn again. The
        // sort moves (serial, draw index) pairs, which keeps it sequential in memory.
        if u32::try_from(count).is_err() {
            return Err(HubError::BadRequest(format!(
                "an issuance holds at most {} serials: split it",
                u32::MAX
            )));
        }
        let mut drawn: Vec<SerialText> = (0..count).map(|_| draw_serial(rng)).collect();
        let order: Vec<usize> = loop {
            let mut keyed: Vec<(SerialText, u32)> = drawn.iter().copied().zip(0..).collect();
            keyed.sort_unstable();
            let again: Vec<u32> = keyed
                .windows(2)
                .filter(|w| w[0].0 == w[1].0)
                .map(|w| w[1].1)
                .collect();
            if again.is_empty() {
                break keyed.into_iter().map(|(_, i)| i as usize).collect();
            }
            for i in again {
                drawn[i as usize] = draw_serial(rng);
            }
        };

        let batches: Vec<&[usize]> = order.chunks(COMMISSIONING_BATCH).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, batches.len().max(1));
        let issuer = &self.issuer;
        let drawn = &drawn;
        let order = &order;
        let batches = &batches;
        let code = gtin.as_str();
        let markets = options.markets.join(",");
        let issued_at = at.to_rfc3339();
        std::thread::scope(|scope| -> Result<IssueSummary, HubError> {
            // Signer `t` signs batches t, t + threads, …; the writer takes them back in order.
            let mut signed = Vec::with_capacity(threads);
            for t in 0..threads {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<String>>(2);
                signed.push(rx);
                scope.spawn(move || {
                    for batch in batches.iter().skip(t).step_by(threads) {
                        let signatures = batch
                            .iter()
                            .map(|&i| sign(issuer, code, serial_str(&drawn[i])))
                            .collect();
                        if tx.send(signatures).is_err() {
                            return; // the writer stopped on an error
                        }
                    }
                });
            }
            let mut summary = IssueSummary {
                issued: 0,
                commissioning_events: 0,
                transactions: 0,
                signing_threads: threads,
            };
            let mut redrawn = std::collections::HashSet::new();
            let per_transaction = SERIALS_PER_TRANSACTION / COMMISSIONING_BATCH;
            for (group_index, group) in batches.chunks(per_transaction).enumerate() {
                let tx = conn.transaction()?;
                let mut flags = crate::flags::FlagDocs::new();
                {
                    for (k, batch) in group.iter().enumerate() {
                        let index = group_index * per_transaction + k;
                        let signatures = signed[index % threads].recv().map_err(|_| {
                            HubError::Internal("a signing thread stopped early".into())
                        })?;
                        let mut members: Vec<(usize, String, String)> = batch
                            .iter()
                            .zip(signatures)
                            .map(|(&i, signature)| {
                                (i, serial_str(&drawn[i]).to_string(), signature)
                            })
                            .collect();
                        // Serials an earlier issuance holds are drawn again: one that is
                        // neither issued nor drawn. The writer lock is held, so nothing is
                        // issued between this look and the insert.
                        let taken = issued_among(*tx, code, members.iter().map(|m| m.1.as_str()))?;
                        for member in members.iter_mut().filter(|m| taken.contains(&m.1)) {
                            let fresh = loop {
                                let c = draw_serial(rng);
                                if order.binary_search_by_key(&c, |&j| drawn[j]).is_err()
                                    && redrawn.insert(c)
                                    && issued_among(*tx, code, [serial_str(&c)])?.is_empty()
                                {
                                    break c;
                                }
                            };
                            member.1 = serial_str(&fresh).to_string();
                            member.2 = sign(issuer, code, &member.1);
                        }
                        // Written together (one statement per few thousand rows on PostgreSQL).
                        for (_, serial, signature) in &members {
                            tx.insert_later(
                                &SERIAL_ROW,
                                params![
                                    code,
                                    serial,
                                    options.lot,
                                    options.expiry,
                                    markets,
                                    options.facility,
                                    options.line,
                                    issued_at,
                                    signature
                                ],
                            )?;
                        }
                        // The event lists its serials in the order they were drawn.
                        members.sort_unstable_by_key(|m| m.0);
                        let event = Event::new(EventBody {
                            event_type: EventType::ObjectEvent,
                            action: Action::Add,
                            biz_step: BizStep::Commissioning,
                            disposition: Some(Disposition::Active),
                            event_time: at,
                            epcs: members
                                .iter()
                                .map(|(_, serial, _)| Epc::Unit {
                                    gtin: gtin.clone(),
                                    serial: serial.clone(),
                                })
                                .collect(),
                            parent: None,
                            biz_transactions: Vec::new(),
                            source: None,
                            destination: None,
                            recorder: Recorder {
                                org: maker.id.clone(),
                                site: site.clone(),
                                device: HUB_DEVICE.into(),
                            },
                            extension: Default::default(),
                        });
                        crate::reconcile::record(&tx, &mut flags, &event, at.to_utc())?;
                        if let Some(out) = labels.as_deref_mut() {
                            out.extend(members.into_iter().map(|(i, serial, signature)| {
                                (
                                    i,
                                    label(
                                        &resolver,
                                        &gtin,
                                        &serial,
                                        options.lot.as_deref(),
                                        options.expiry.as_deref(),
                                        &signature,
                                    ),
                                )
                            }));
                        }
                        summary.issued += batch.len();
                        summary.commissioning_events += 1;
                        progress(summary.issued);
                    }
                }
                flags.write(&tx)?;
                tx.commit()?;
                summary.transactions += 1;
                // Each transaction's lookups of serials issued before are planned anew as the
                // table grows.
                crate::pg::keep_statistics(conn);
            }
            Ok(summary)
        })
    }

    /// How many serials of `gtin` were issued.
    pub fn issued_count(&self, gtin: &str) -> Result<u64, HubError> {
        let n: i64 = self.conn()?.db().query_row(
            "SELECT count(*) FROM serials WHERE gtin = ?1",
            [gtin],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` issued serials of `gtin` whose serial sorts after `after`, in serial
    /// order, with their labels: pages through an issuance of any size.
    pub fn issued_after(
        &self,
        gtin: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<IssuedSerial>, HubError> {
        let gtin = Gtin::parse(gtin).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let resolver = self.resolver()?;
        let guard = self.conn()?;
        let conn = guard.db();
        let mut stmt = conn.prepare_cached(
            "SELECT serial, lot, expiry, signature FROM serials
             WHERE gtin = ?1 AND serial > ?2 ORDER BY serial LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![
                gtin.as_str(),
                after,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )?;
        rows.map(|row| {
            let (serial, lot, expiry, signature) = row?;
            Ok(label(
                &resolver,
                &gtin,
                &serial,
                lot.as_deref(),
                expiry.as_deref(),
                &signature,
            ))
        })
        .collect()
    }
}

/// One issued serial's row. No `OR IGNORE`: a serial issued before is drawn again before it
/// gets here ([`issued_among`]), so a conflict is an error, never a serial silently dropped.
static SERIAL_ROW: Batched = Batched {
    sql: "INSERT INTO serials (gtin, serial, lot, expiry, markets, facility, line, issued_at, signature)
          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    types: &["text", "text", "text", "text", "text", "text", "text", "text", "text"],
};

/// Which of `serials` of `gtin` are issued already, in one statement.
fn issued_among<'s>(
    conn: impl AsDb,
    gtin: &str,
    serials: impl IntoIterator<Item = &'s str>,
) -> Result<std::collections::HashSet<String>, HubError> {
    let conn = conn.db();
    let list = serde_json::to_string(&serials.into_iter().collect::<Vec<_>>())
        .map_err(custodian_ledger::Error::from)?;
    let taken = conn
        .prepare_cached(&format!(
            "SELECT j.value FROM {} j WHERE EXISTS (SELECT 1 FROM serials s WHERE s.gtin = ?1 AND s.serial = j.value)",
            conn.json_each("?2")
        ))?
        .query_map(params![gtin, list], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(taken)
}
