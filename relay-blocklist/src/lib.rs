//! A complete Cisco Threat Response / XDR relay on local blocklist files, built on
//! [`xdr_relay_core`]: the model a new relay copies.
//!
//! **What it is:** a [`Provider`](xdr_relay_core::Provider) over FireHOL netsets and Spamhaus
//! DROP lists (one IPv4 or IPv6 address or CIDR network per line, `#` and `;` comments), with
//! no network besides its listener: a listed address is Malicious, with a judgement, a
//! sighting and an indicator per list that holds it. It has a dashboard ([`dashboard`]: the
//! lists and their matches per hour or day, counted in memory) and, when
//! `BLOCKLIST_WRITABLE_LIST` names one of its lists, a response action that adds an address
//! to that list's file ([`writable`]: atomically; the next lookup sees it). Its [`app`] declares
//! its settings (`BLOCKLIST_FILES`, `--list`; `BLOCKLIST_WRITABLE_LIST`, `--writable-list`,
//! off by default) and reloads the lists on SIGHUP. The commands
//! `blocklist-relay` (`xdr_relay_server::main_for`: serve, jwt, module-type, healthcheck) and
//! `blocklist-relay-lambda` (`xdr_relay_lambda::run_for`) ship it, each in a few lines.
//! **What it is not:** a threat-intelligence feed: the lists are yours, and it links no Auth0
//! Signals client.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("blocklist-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let list = dir.join("mine.netset");
//! std::fs::write(&list, "# my list\n192.0.2.0/24\n")?;
//! let path = list.to_string_lossy().into_owned();
//! let settings = xdr_relay_core::Settings::new(move |name| {
//!     (name == "BLOCKLIST_FILES").then(|| path.clone())
//! });
//! let provider = xdr_relay_blocklist::app().build(&settings)?;
//! assert_eq!(provider.lists().loaded().entries, 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocklist;
pub mod dashboard;
mod provider;
pub mod writable;

use std::path::PathBuf;
use std::sync::Arc;

use xdr_relay_core::{App, ConfigError, EnvVar};

pub use provider::{ADD_ACTION, BlocklistProvider, Blocklists, Loaded, info};

/// The blocklist files: repeat `--list`, or separate them with commas in the variable.
pub const BLOCKLIST_FILES: EnvVar = EnvVar::new(
    "BLOCKLIST_FILES",
    "list",
    "FILE",
    "A blocklist file; repeat for several (the variable: comma-separated). One IPv4/IPv6 \
     address or CIDR network per line, `#` and `;` start comments. Named after the file \
     (`firehol_level1.netset` is `firehol_level1`). Reloaded on SIGHUP. Required.",
)
.multiple();

/// The list `/respond/trigger` may add addresses to: off unless set.
pub const BLOCKLIST_WRITABLE_LIST: EnvVar = EnvVar::new(
    "BLOCKLIST_WRITABLE_LIST",
    "writable-list",
    "FILE",
    "One of the --list files, written exactly as there, that an analyst may add addresses to \
     from Cisco XDR (the response action \"Add to <list>\"): each is appended to the file, \
     which is replaced atomically, and the next lookup sees it. Default: none (no response \
     action is offered).",
);

/// The relay as the adapters ship it: its info, its settings `BLOCKLIST_FILES` and
/// `BLOCKLIST_WRITABLE_LIST`, the lists loaded when it is built (a bad line stops the relay,
/// naming its file and line; so does a writable list that is not one of them), and, on the
/// self-hosted server, a reload on every SIGHUP (a bad line then leaves the lists in use, and
/// is logged).
#[must_use]
pub fn app() -> App<BlocklistProvider> {
    App::new(info(), |settings| {
        let files: Vec<PathBuf> = settings
            .list(&BLOCKLIST_FILES)
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if files.is_empty() {
            return Err(ConfigError::new(
                "BLOCKLIST_FILES is not set: name at least one list (--list FILE)",
            ));
        }
        let lists = Blocklists::load(files).map_err(|e| ConfigError::new(e.to_string()))?;
        log_loaded("blocklists loaded", lists.loaded());
        let provider = BlocklistProvider::new(Arc::new(lists));
        match settings.value(&BLOCKLIST_WRITABLE_LIST) {
            None => Ok(provider),
            Some(path) => {
                tracing::info!(list = %path, "analysts may add addresses to this list");
                provider
                    .writable(PathBuf::from(path))
                    .map_err(|e| ConfigError::new(format!("BLOCKLIST_WRITABLE_LIST: {e}")))
            }
        }
    })
    .settings([BLOCKLIST_FILES, BLOCKLIST_WRITABLE_LIST])
    .on_serve(|provider: Arc<BlocklistProvider>| reload_on_sighup(Arc::clone(provider.lists())))
}

fn log_loaded(message: &'static str, loaded: Loaded) {
    tracing::info!(
        lists = loaded.lists,
        entries = loaded.entries,
        ranges = loaded.ranges,
        bytes = loaded.bytes,
        "{message}"
    );
}

/// Loads the lists again on every SIGHUP until the server stops; a failed load is logged and
/// changes nothing.
async fn reload_on_sighup(lists: Arc<Blocklists>) {
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            while hangups.recv().await.is_some() {
                reload(&lists);
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP: the lists will not be reloaded");
        }
    }
    #[cfg(not(unix))]
    let _ = lists;
}

/// One reload, logged.
pub fn reload(lists: &Blocklists) {
    match lists.reload() {
        Ok(loaded) => log_loaded("blocklists reloaded", loaded),
        Err(error) => {
            tracing::error!(%error, "blocklists not reloaded: the lists in use stay");
        }
    }
}
