//! `custodian hub`: the registry service and its administration.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use custodian_hub::registry::IssueOptions;
use custodian_hub::verify::RateLimit;

use crate::{Output, now, print_chain, print_json, runtime, shutdown_signal};

/// Where a hub command finds the hub: its directory, and its registry when that is kept
/// elsewhere.
#[derive(clap::Args, Clone)]
pub(crate) struct HubData {
    /// The hub's directory: its TLS identity, the URL it listens on, and (without --store) its
    /// registry.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Where the registry is kept, when not in DIR: a PostgreSQL database
    /// (postgres://USER@HOST/DB), or `sqlite:DIR`. `hub serve` records it in DIR for the other
    /// hub commands.
    #[arg(long, env = "CUSTODIAN_STORE")]
    pub(crate) store: Option<String>,
}

impl HubData {
    /// --store, else where `hub serve --store` last recorded in DIR, else DIR.
    fn at(&self) -> Result<custodian_hub::registry::StoreAt> {
        Ok(match &self.store {
            Some(store) => custodian_hub::registry::StoreAt::parse(store),
            None => custodian_hub::server::recorded_store(&self.data)?
                .unwrap_or_else(|| custodian_hub::registry::StoreAt::Sqlite(self.data.clone())),
        })
    }

    /// Opens the registry.
    pub(crate) fn registry(&self) -> Result<custodian_hub::Registry> {
        Ok(custodian_hub::Registry::open_at(&self.at()?)?)
    }
}

#[derive(Subcommand)]
pub(crate) enum HubCommand {
    /// Runs the hub over HTTPS on DIR; prints the URL it listens on.
    Serve {
        #[command(flatten)]
        data: HubData,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Seed the demo data set on first start.
        #[arg(long)]
        demo: bool,
        /// The most events a device may upload in one sync round (1 to 10000): a round is one
        /// transaction, which other devices' rounds wait for. Devices sending more send fewer.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        round_events: u32,
        /// Public verifications a second each client address may make once its burst is spent
        /// (across every hub process on a PostgreSQL store).
        #[arg(long, default_value_t = RateLimit::PUBLIC.per_second, value_parser = positive)]
        public_rate: f64,
        /// Public verifications a client address may make at once before --public-rate applies.
        #[arg(long, default_value_t = RateLimit::PUBLIC.burst, value_parser = positive)]
        public_burst: f64,
        /// A CA certificate (PEM or DER) trusted for query subscribers' webhook endpoints,
        /// beside the system's roots (an in-house CA); may be given more than once.
        #[arg(long)]
        webhook_ca: Vec<PathBuf>,
    },
    /// Prints a one-time enrollment token for a device of ORG at SITE.
    Token {
        #[command(flatten)]
        data: HubData,
        #[arg(long)]
        org: String,
        #[arg(long)]
        site: String,
        /// Hours until the token expires (the older spelling of --valid-for).
        #[arg(long, conflicts_with = "valid_for")]
        hours: Option<i64>,
        /// How long the token stays valid: a number with s, m, h or d (90s, 15m, 24h, 7d).
        /// Default 24h.
        #[arg(long, value_parser = parse_validity)]
        valid_for: Option<chrono::Duration>,
        /// The URL devices reach the hub at, when it differs from where it listens (a proxy,
        /// a public name); defaults to the listening URL.
        #[arg(long)]
        url: Option<String>,
    },
    /// Counts: organisations, products, serials, devices, events, flags.
    Status {
        #[command(flatten)]
        data: HubData,
        #[command(flatten)]
        out: Output,
    },
    /// Issues N signed serials; one JSON line each.
    Issue {
        #[command(flatten)]
        data: HubData,
        #[arg(long)]
        gtin: String,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        lot: Option<String>,
        /// Expiry date, YYMMDD or YYYY-MM-DD.
        #[arg(long)]
        expiry: Option<String>,
        /// Intended markets, ISO 3166 codes separated by commas.
        #[arg(long, value_delimiter = ',')]
        market: Vec<String>,
    },
    /// A unit's custody across all partners.
    History {
        #[command(flatten)]
        data: HubData,
        code: String,
        #[command(flatten)]
        out: Output,
    },
    /// Every flag the hub has raised.
    Flags {
        #[command(flatten)]
        data: HubData,
        #[command(flatten)]
        out: Output,
    },
    /// The units a flag lists (a flag stands for one cause and lists its units), with those
    /// found accounted for and why.
    FlagUnits {
        #[command(flatten)]
        data: HubData,
        #[command(flatten)]
        out: Output,
        /// The flag's id (`custodian hub flags --json` lists them).
        id: String,
    },
    /// Publishes a recall of a GTIN (one lot, or every lot), or withdraws it; devices learn of
    /// it with their next sync.
    Recall {
        #[command(flatten)]
        data: HubData,
        #[arg(long)]
        gtin: String,
        /// The lot recalled; without it, every lot.
        #[arg(long)]
        lot: Option<String>,
        /// Why, in words (required unless --withdraw).
        #[arg(long, required_unless_present = "withdraw")]
        reason: Option<String>,
        /// Withdraw the recall instead.
        #[arg(long)]
        withdraw: bool,
    },
    /// Puts a unit on the counterfeit alert list, or clears it (--clear) once it was found
    /// genuine; devices learn of it with their next sync.
    Alert {
        #[command(flatten)]
        data: HubData,
        /// The unit: element string, bracketed text or Digital Link.
        code: String,
        /// Why, in words (required unless --clear).
        #[arg(long, required_unless_present = "clear")]
        reason: Option<String>,
        /// Take the unit off the list instead.
        #[arg(long)]
        clear: bool,
        /// What the investigation found (required with --clear).
        #[arg(long, required_if_eq("clear", "true"))]
        note: Option<String>,
    },
    /// The counterfeit alert list: each unit, who reported it and when.
    Alerts {
        #[command(flatten)]
        data: HubData,
        #[command(flatten)]
        out: Output,
    },
    /// Revokes a device: its next sync is refused.
    Revoke {
        #[command(flatten)]
        data: HubData,
        device: String,
    },
    /// The manufacturer's API accounts: systems' service accounts and people's users.
    #[command(subcommand)]
    Account(crate::accounts::AccountCommand),
    /// The audit trail: every change made through the API or these commands, oldest first.
    Audit {
        #[command(flatten)]
        data: HubData,
        /// Entries after this one (its seq).
        #[arg(long)]
        after: Option<i64>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only this actor's.
        #[arg(long)]
        actor: Option<String>,
        /// Only this action's (account.create, epcis.capture, …).
        #[arg(long)]
        action: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Writes the demo data set's files (what `serve --demo` seeds) to DIR.
    DemoData {
        #[arg(long)]
        out: PathBuf,
    },
    /// Copies the SQLite registry in DIR (serials and their signatures, events, documents,
    /// devices, tokens, flags, counted verifications) to a PostgreSQL database, then counts and
    /// hashes every table on both sides. Stop the hub first. A copy cut half-way is finished by
    /// running it again; exits non-zero unless every table matches.
    Migrate {
        /// The registry's directory.
        #[arg(long)]
        from: PathBuf,
        /// The database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (or key=value).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        out: Output,
    },
}

/// A certificate from a file, PEM or DER, as DER.
fn read_certificate(path: &std::path::Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    custodian_hub::tls::certificate_der(&bytes)
        .with_context(|| format!("reading {}", path.display()))
}

pub(crate) fn run_hub(command: HubCommand) -> Result<()> {
    match command {
        HubCommand::Account(command) => crate::accounts::run_account(command),
        HubCommand::Audit {
            data,
            after,
            limit,
            actor,
            action,
            out,
        } => crate::accounts::run_audit(
            &data,
            &custodian_hub::audit::Filter {
                after,
                limit: Some(limit),
                actor,
                action,
            },
            out,
        ),
        HubCommand::Serve {
            data,
            listen,
            demo,
            round_events,
            public_rate,
            public_burst,
            webhook_ca,
        } => {
            let webhook_roots = webhook_ca
                .iter()
                .map(|path| read_certificate(path))
                .collect::<Result<Vec<_>>>()?;
            let options = custodian_hub::server::ServeOptions {
                store: data
                    .store
                    .as_deref()
                    .map(custodian_hub::registry::StoreAt::parse),
                data: data.data,
                listen,
                demo,
                public: custodian_hub::verify::PublicOptions {
                    rate: RateLimit {
                        per_second: public_rate,
                        burst: public_burst,
                    },
                    ..Default::default()
                },
                round_events: usize::try_from(round_events).unwrap_or(usize::MAX),
                webhook_roots,
            };
            runtime()?.block_on(async {
                let stop = shutdown_signal()?;
                custodian_hub::server::serve(
                    options,
                    |url| {
                        outln!("custodian hub listening on {url}");
                        let _ = std::io::stdout().flush();
                    },
                    stop,
                )
                .await
            })
        }
        HubCommand::Status { data, out } => {
            let counts = data.registry()?.counts()?;
            if out.json {
                return print_json(&counts);
            }
            // Alphabetically, as the JSON's keys sort.
            let named = serde_json::to_value(counts)?;
            for (k, v) in named.as_object().into_iter().flatten() {
                outln!("{k:<14} {v}");
            }
            Ok(())
        }
        HubCommand::Token {
            data,
            org,
            site,
            hours,
            valid_for,
            url: advertised,
        } => {
            let (url, ca) = custodian_hub::server::hub_address(&data.data)?;
            let url = advertised.unwrap_or(url);
            let registry = data.registry()?;
            let valid_for = valid_for
                .or(hours.map(chrono::Duration::hours))
                .unwrap_or_else(|| chrono::Duration::hours(24));
            outln!(
                "{}",
                registry.create_token_at(&org, &site, &url, &ca, valid_for, chrono::Utc::now())?
            );
            Ok(())
        }
        HubCommand::Recall {
            data,
            gtin,
            lot,
            reason,
            withdraw,
        } => {
            let registry = data.registry()?;
            let which = lot.as_deref().map_or_else(
                || format!("{gtin}, every lot"),
                |l| format!("{gtin} lot {l}"),
            );
            let by = crate::accounts::caller();
            if withdraw {
                registry.withdraw_recall_as(
                    &by,
                    &custodian_hub::manage::RecallKey {
                        gtin: gtin.clone(),
                        lot: lot.clone(),
                    },
                    chrono::Utc::now(),
                )?;
                outln!("withdrew the recall of {which}");
            } else {
                registry.publish_recall(
                    &by,
                    &custodian_hub::manage::RecallRequest {
                        gtin: gtin.clone(),
                        lot: lot.clone(),
                        reason: reason.unwrap_or_default(),
                    },
                    chrono::Utc::now(),
                )?;
                outln!("recalled {which}");
            }
            Ok(())
        }
        HubCommand::Alert {
            data,
            code,
            reason,
            clear,
            note,
        } => {
            let registry = data.registry()?;
            let by = crate::accounts::caller();
            if clear {
                registry.clear_counterfeit(
                    &by,
                    &custodian_hub::manage::AlertRequest {
                        code: code.clone(),
                        reason: note.unwrap_or_default(),
                    },
                    chrono::Utc::now(),
                )?;
                outln!("cleared {code} from the counterfeit alert list");
            } else {
                registry.list_counterfeit(
                    &by,
                    &custodian_hub::manage::AlertRequest {
                        code: code.clone(),
                        reason: reason.unwrap_or_default(),
                    },
                    chrono::Utc::now(),
                )?;
                outln!("put {code} on the counterfeit alert list");
            }
            Ok(())
        }
        HubCommand::Alerts { data, out } => {
            let alerts = data.registry()?.alerts()?;
            if out.json {
                return print_json(&alerts);
            }
            if alerts.is_empty() {
                outln!("no alerts");
            }
            for a in alerts {
                if a.reported_by.is_none() {
                    outln!("{}: {}", a.epc, a.reason);
                } else {
                    outln!("{}: {} report(s)", a.epc, a.reports.len());
                }
                for r in &a.reports {
                    outln!(
                        "  reported by {} at {}: {} ({})",
                        r.reported_by,
                        r.reported_at,
                        r.note,
                        r.event
                    );
                }
            }
            Ok(())
        }
        HubCommand::Issue {
            data,
            gtin,
            count,
            lot,
            expiry,
            market,
        } => {
            if count == 0 {
                bail!("--count must be at least 1");
            }
            let expiry = expiry.map(|e| normalise_date(&e)).transpose()?;
            let registry = data.registry()?;
            let options = IssueOptions {
                lot,
                expiry,
                markets: market,
                facility: "hub".into(),
                line: "cli".into(),
            };
            let issued = registry.issue(&gtin, count, &options, now(), &mut rand::rngs::OsRng)?;
            for s in issued {
                print_json(&s)?;
            }
            Ok(())
        }
        HubCommand::History { data, code, out } => {
            let custody = data.registry()?.custody(&code)?;
            if out.json {
                return print_json(&custody);
            }
            outln!(
                "{}: {:?}, custodian {}",
                custody.epc,
                custody.state,
                custody.custodian.as_deref().unwrap_or("unknown")
            );
            if let Some(q) = &custody.quarantine {
                outln!("{}", q.describe());
            }
            print_chain(&custody.chain);
            Ok(())
        }
        HubCommand::Flags { data, out } => {
            let flags = data.registry()?.flags()?;
            if out.json {
                return print_json(&flags);
            }
            for f in flags {
                outln!(
                    "{} {} [{}, {}] {}",
                    f.raised_at,
                    f.kind,
                    f.org,
                    f.status,
                    f.reason
                );
            }
            Ok(())
        }
        HubCommand::FlagUnits { data, out, id } => {
            let units = data.registry()?.flag_units(&id)?;
            if out.json {
                return print_json(&units);
            }
            for u in units {
                match &u.resolved {
                    Some(why) => outln!("{} accounted for ({why})", u.epc),
                    None => outln!("{} open (listed by {})", u.epc, u.event),
                }
            }
            Ok(())
        }
        HubCommand::Revoke { data, device } => {
            data.registry()?.revoke(&device)?;
            outln!("revoked {device}");
            Ok(())
        }
        HubCommand::Migrate { from, to, out } => {
            let mut last = std::time::Instant::now();
            let moved =
                custodian_hub::transfer::to_postgres(&from, &to, &mut |table, read, added| {
                    // A line a second at most, and every chunk of a table's first: the operator
                    // sees the copy go on.
                    if read as usize <= custodian_hub::transfer::CHUNK
                        || last.elapsed().as_secs() >= 1
                    {
                        last = std::time::Instant::now();
                        eprintln!("{table}: {read} rows read, {added} added");
                    }
                })?;
            let all_match = moved.iter().all(|m| m.matches());
            if out.json {
                print_json(&serde_json::json!({ "tables": moved, "matches": all_match }))?;
            } else {
                outln!(
                    "{:<20} {:>10} {:>10} {:>10}  {:<64}  {}",
                    "table",
                    "source",
                    "copied",
                    "target",
                    "hash (SHA-256 sum of rows)",
                    ""
                );
                for m in &moved {
                    let verdict = if m.matches() { "same" } else { "DIFFERENT" };
                    outln!(
                        "{:<20} {:>10} {:>10} {:>10}  {}  {verdict}",
                        m.table,
                        m.source_rows,
                        m.copied,
                        m.target_rows,
                        m.source_hash
                    );
                    if m.source_hash != m.target_hash {
                        outln!(
                            "{:<20} {:>10} {:>10} {:>10}  {}  (target)",
                            "",
                            "",
                            "",
                            "",
                            m.target_hash
                        );
                    }
                }
            }
            if !all_match {
                bail!(
                    "the target differs from the source: run the migration again, with the hub stopped"
                );
            }
            Ok(())
        }
        HubCommand::DemoData { out } => {
            let scratch = tempdir_in_target()?;
            let registry =
                custodian_hub::Registry::open_with_key(&scratch, custodian_hub::demo::issuer_key)?;
            let data = custodian_hub::demo::seed(&registry)?;
            data.write(&out)?;
            drop(registry);
            let _ = std::fs::remove_dir_all(&scratch);
            outln!("wrote the demo data set to {}", out.display());
            Ok(())
        }
    }
}

/// A validity such as `90s`, `15m`, `24h` or `7d`.
/// A number above zero (a rate or a burst).
fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("{s:?} is not a number above zero")),
    }
}

pub(crate) fn parse_validity(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: give a unit, e.g. 90s, 15m, 24h or 7d"))?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number followed by s, m, h or d"))?;
    if n <= 0 {
        return Err(format!("{s:?}: the validity must be positive"));
    }
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        other => return Err(format!("{s:?}: unknown unit {other:?}; use s, m, h or d")),
    };
    n.checked_mul(seconds)
        .filter(|&secs| secs <= 366 * 86_400)
        .map(chrono::Duration::seconds)
        .ok_or_else(|| format!("{s:?}: a token is valid for at most a year"))
}

/// `YYMMDD` as given, or `YYYY-MM-DD` turned into it.
pub(crate) fn normalise_date(s: &str) -> Result<String> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(s.to_string());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("date {s:?}: use YYMMDD or YYYY-MM-DD"))?;
    Ok(d.format("%y%m%d").to_string())
}

pub(crate) fn tempdir_in_target() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("custodian-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(dir)
}
