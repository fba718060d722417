//! `custodian hub account` and `custodian hub audit`: the manufacturer's API accounts and the
//! audit trail, administered on the hub's own machine. The commands act as the operating-system
//! user running them (`cli:<user>`), with an administrator's rights, and every change they make
//! is on the audit trail like one made through the API.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use custodian_hub::accounts::{Caller, Kind, NewAccount, Role, Rotation};
use custodian_hub::audit::Filter;

use crate::hub::HubData;
use crate::{Output, print_json};

#[derive(Subcommand)]
pub(crate) enum AccountCommand {
    /// Creates an account; a service account's first API key is printed, once.
    Create {
        #[command(flatten)]
        data: HubData,
        /// Its name: letters, digits, '.', '-', '_', '@'.
        id: String,
        /// service (a system, with API keys) or user (a person, with a password).
        #[arg(long, value_parser = ["service", "user"])]
        kind: String,
        /// administrator, quality, brand_protection, service, integration or partner.
        #[arg(long)]
        role: String,
        /// The organisation it acts for.
        #[arg(long)]
        org: String,
        /// Read a user's password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Every account.
    List {
        #[command(flatten)]
        data: HubData,
        #[command(flatten)]
        out: Output,
    },
    /// A new API key for a service account, printed once.
    Key {
        #[command(flatten)]
        data: HubData,
        id: String,
        /// Stop the account's other keys after this many seconds (0: at once).
        #[arg(long)]
        retire_others_after: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// Revokes one key or session of an account at once.
    Revoke {
        #[command(flatten)]
        data: HubData,
        id: String,
        /// The key's id (`account list` does not show secrets; the key's id is the part
        /// between `cust_` and the next `_`).
        key: String,
    },
    /// Disables an account: all its keys and sessions are refused from now on.
    Disable {
        #[command(flatten)]
        data: HubData,
        id: String,
    },
}

/// Who runs the command: the operating-system user, as an administrator.
pub(crate) fn caller() -> Caller {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Caller::command_line(&user, "")
}

pub(crate) fn run_account(command: AccountCommand) -> Result<()> {
    let now = chrono::Utc::now();
    match command {
        AccountCommand::Create {
            data,
            id,
            kind,
            role,
            org,
            password_stdin,
            out,
        } => {
            let kind = if kind == "user" {
                Kind::User
            } else {
                Kind::Service
            };
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from standard input")?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            if kind == Kind::User && password.is_none() {
                bail!("a user needs a password: give it on standard input with --password-stdin");
            }
            let created = data.registry()?.create_account(
                &caller(),
                &NewAccount {
                    id,
                    kind,
                    role: Role::parse(&role)?,
                    org,
                    password,
                },
                now,
            )?;
            if out.json {
                return print_json(&created);
            }
            outln!(
                "created {} ({:?}, {}, for {})",
                created.account.id,
                created.account.kind,
                created.account.role.as_str(),
                created.account.org
            );
            if let Some(key) = created.key {
                outln!("API key (shown once): {}", key.token);
            }
            Ok(())
        }
        AccountCommand::List { data, out } => {
            let accounts = data.registry()?.accounts(&caller())?;
            if out.json {
                return print_json(&accounts);
            }
            for a in accounts {
                outln!(
                    "{}\t{:?}\t{}\t{}\t{}",
                    a.id,
                    a.kind,
                    a.role.as_str(),
                    a.org,
                    a.disabled_at
                        .map_or_else(|| "active".to_string(), |d| format!("disabled {d}"))
                );
            }
            Ok(())
        }
        AccountCommand::Key {
            data,
            id,
            retire_others_after,
            out,
        } => {
            let issued = data.registry()?.new_key(
                &caller(),
                &id,
                &Rotation {
                    retire_others_after_seconds: retire_others_after,
                },
                now,
            )?;
            if out.json {
                return print_json(&issued);
            }
            outln!("API key (shown once): {}", issued.token);
            Ok(())
        }
        AccountCommand::Revoke { data, id, key } => {
            data.registry()?.revoke_key(&caller(), &id, &key, now)?;
            outln!("revoked {key} of {id}");
            Ok(())
        }
        AccountCommand::Disable { data, id } => {
            data.registry()?.disable_account(&caller(), &id, now)?;
            outln!("disabled {id}");
            Ok(())
        }
    }
}

/// `custodian hub audit`: the trail, one JSON line per entry with --json.
pub(crate) fn run_audit(data: &HubData, filter: &Filter, out: Output) -> Result<()> {
    let entries = data.registry()?.audit(&caller(), filter)?;
    for e in entries {
        if out.json {
            print_json(&e)?;
        } else {
            outln!(
                "{}\t{}\t{} ({})\tfrom {}\t{}\t{}\t{}",
                e.seq,
                e.at,
                e.actor,
                e.role,
                e.origin,
                e.action,
                e.target,
                e.detail
            );
        }
    }
    Ok(())
}
