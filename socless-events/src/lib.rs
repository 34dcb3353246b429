//! Socless `create_events` for Rust event endpoints.
//!
//! **What it is:** a faithful, safer port of the Socless (socless_python 1.5) `create_events`:
//! it validates `event_details` (with the original's error texts), deduplicates each event by
//! its md5 dedup hash, writes the events, dedup and results table items exactly as the original
//! does, and starts one playbook execution per event with the input Socless playbooks expect.
//! It runs on DynamoDB and Step Functions ([`AwsStore`], [`AwsLauncher`]; feature `aws`) or,
//! with no AWS account, on one local SQLite file ([`LocalStore`], [`LocalLauncher`]; feature
//! `local`).
//!
//! Safer than the original: the whole batch is validated before any write, dedup claims are
//! conditional writes (two concurrent invocations produce one original), floats are stored as
//! DynamoDB numbers, and a partial failure still returns every event and report (and a failed
//! start is noted on its results item). Input that DynamoDB or Step Functions would refuse
//! part-way (too deep, too large, a bad state machine name) is refused up front, and the AWS
//! clients retry and time out as an explicit [`AwsClientPolicy`] says.
//!
//! **What it is not:** not a playbook engine (the local launcher records starts and can POST
//! them to a webhook), not the rest of Socless (integrations, `SetInvestigationStatus`
//! lambdas), and nothing to do with the relay crates of this workspace.
//!
//! # Features
//!
//! | feature | what it brings | default |
//! |---|---|---|
//! | `aws` | [`AwsStore`] (DynamoDB), [`AwsLauncher`] (Step Functions), [`AwsClientPolicy`] and its `DEFAULT_*` settings; the AWS SDK (`aws-config`, `aws-sdk-dynamodb`, `aws-sdk-sfn`) and Tokio's timer (the SDK's runtime already) | yes |
//! | `local` | [`LocalStore`], [`LocalLauncher`] (with its webhook), [`LocalExecution`]; `rusqlite` (bundled SQLite), `reqwest` | yes |
//! | `cli` | the `socless-create-events` binary; `clap`, and enables `aws` and `local` | yes |
//!
//! With no feature (`default-features = false`) the core remains: validation ([`EventBatch`]),
//! [`dedup_hash`], [`EventCreator`], the [`EventStore`] and [`PlaybookLauncher`] traits (bring
//! your own backend), the model, [`Error`], [`StateMachineArns`] and [`auth`]. A library user
//! who needs one backend only can write
//! `socless-events = { version = "0.1", default-features = false, features = ["aws"] }`.
//!
//! # Example
//!
//! With the `local` feature:
//!
//! ```
//! # #[cfg(feature = "local")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use socless_events::{EventCreator, LocalLauncher, LocalStore, StateMachineArns};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let path = std::env::temp_dir().join(format!("socless-doc-{}.sqlite", std::process::id()));
//! let creator = EventCreator::new(
//!     LocalStore::open(&path)?,
//!     LocalLauncher::open(&path)?,
//!     StateMachineArns::new("us-east-1", "123456789012")?,
//! );
//! let output = creator
//!     .create_events(&serde_json::json!({
//!         "event_type": "Suspicious Login",
//!         "playbook": "InvestigateLogin",
//!         "details": [{"username": "ubalogun", "ip": "113.63.125.3"}],
//!         "dedup_keys": ["username"],
//!     }))
//!     .await?;
//! assert_eq!(output.events.len(), 1);
//! assert_eq!(
//!     output.execution_reports[0].statemachinearn,
//!     "arn:aws:states:us-east-1:123456789012:stateMachine:InvestigateLogin"
//! );
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "local"))]
//! # fn main() {}
//! ```
//!
// The backends' links resolve only when their feature is on; otherwise they point at the
// feature table above.
#![cfg_attr(
    feature = "aws",
    doc = "[`AwsStore`]: crate::AwsStore\n[`AwsLauncher`]: crate::AwsLauncher\n[`AwsClientPolicy`]: crate::AwsClientPolicy"
)]
#![cfg_attr(
    not(feature = "aws"),
    doc = "[`AwsStore`]: crate#features\n[`AwsLauncher`]: crate#features\n[`AwsClientPolicy`]: crate#features"
)]
#![cfg_attr(
    feature = "local",
    doc = "[`LocalStore`]: crate::LocalStore\n[`LocalLauncher`]: crate::LocalLauncher\n[`LocalExecution`]: crate::LocalExecution"
)]
#![cfg_attr(
    not(feature = "local"),
    doc = "[`LocalStore`]: crate#features\n[`LocalLauncher`]: crate#features\n[`LocalExecution`]: crate#features"
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod arn;
pub mod auth;
#[cfg(feature = "aws")]
mod aws;
mod backend;
mod batch;
mod create;
mod error;
#[cfg(feature = "lambda")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda")))]
pub mod lambda;
#[cfg(feature = "local")]
mod local;
mod model;
#[cfg(feature = "aws")]
mod policy;

pub use arn::{LOCAL_ACCOUNT_ID, LOCAL_REGION, REGION_ENV, StateMachineArns, partition_for_region};
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub use aws::{AwsLauncher, AwsStore};
/// The AWS SDK's configuration loader, re-exported so that `AwsStore::new` and
/// `AwsLauncher::new` need no dependency of your own: `socless_events::aws_config::load_defaults`.
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub use aws_config;
pub use backend::{
    DEDUP_TABLE_ENV, EVENTS_TABLE_ENV, EventStore, PlaybookLauncher, RESULTS_TABLE_ENV, TableNames,
};
pub use batch::{EventBatch, MAX_NESTING, dedup_hash};
pub use create::{DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MARGIN, EventCreator};
pub use error::{
    BoxError, Error, InvalidEvent, LaunchError, LaunchErrorKind, StorageError, StorageErrorKind,
};
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub use local::{DedupMapping, LocalContents, LocalExecution, LocalLauncher, LocalStore};
pub use model::{
    CreateEventsOutput, CreatedEvent, EventItem, EventMetadata, ExecutionReport, InitialEvent,
    JsonObject, MAX_PLAYBOOK_INPUT_BYTES, PlaybookArtifacts, PlaybookInput, ResultsItem, Status,
};
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub use policy::{
    AwsClientPolicy, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_INITIAL_BACKOFF,
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BACKOFF, DEFAULT_OPERATION_TIMEOUT,
};

/// The README's Rust snippets, compiled as doctests (the first endpoint, the library example).
#[cfg(all(doctest, feature = "lambda"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
