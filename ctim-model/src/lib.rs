//! Typed CTIM (Cisco Threat Intelligence Model) entities, exact to the wire format.
//!
//! **What it is:** serde types, with JSON Schemas, for the CTIM 1.3.28 entities a Threat
//! Response module emits: [`Verdict`], [`Judgement`], [`Sighting`], [`Indicator`] and
//! [`Relationship`], every type they use, and the [`Docs`] / [`ObserveBundle`] envelopes.
//! Constructors take the required fields; builders ([`Judgement::builder`],
//! [`Sighting::builder`], [`Indicator::builder`]) set the rest by name, with documented
//! defaults, and clip every text to its CTIM bound ([`Bound`]), so what they build validates
//! whatever an upstream sent. Optional fields are omitted from JSON when unset (CTIM has no
//! `null`); closed vocabularies are enums with CTIM's exact strings; a [`Disposition`] writes
//! its number and name together so they always agree; `validate()` reports what serde cannot
//! check.
//!
//! **What it is not:** no I/O, no HTTP, no Threat Response relay logic, and no CTIA client.
//!
//! ```
//! use ctim_model::{
//!     Confidence, Disposition, Judgement, Observable, ObservableType, ObserveBundle,
//!     ObservedTime, Severity, Sighting, ValidTime, Verdict,
//! };
//! use time::Duration;
//!
//! let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
//! let judgement = Judgement::builder(ip.clone(), Disposition::Malicious, "Example feed")
//!     .confidence(Confidence::High)
//!     .severity(Severity::Medium)
//!     .valid_time(ValidTime::from_now(Duration::days(7)))
//!     .reason("Found on the example blocklist")
//!     .build();
//! let sighting = Sighting::builder(ObservedTime::now())
//!     .observable(ip)
//!     .source("Example feed")
//!     .title("Found on the example blocklist")
//!     .build();
//!
//! let mut bundle = ObserveBundle::default();
//! bundle.verdicts.push(Verdict::from_judgement(&judgement));
//! bundle.judgements.push(judgement);
//! bundle.sightings.push(sighting);
//!
//! let json = serde_json::to_string(&bundle).unwrap();
//! let back: ObserveBundle = serde_json::from_str(&json).unwrap();
//! assert_eq!(back, bundle);
//! ```
//!
//! Reading is strict by default (plain serde): unknown fields and unknown observable types
//! are rejected, as CTIA rejects them. [`from_str_lenient`] drops unknown fields and keeps
//! unknown observable types, for consumers of CTIM from other producers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod vocab_macros;

mod common;
mod disposition_pair;
mod envelope;
mod error;
mod id;
mod indicator;
mod judgement;
mod observable;
mod read;
mod relationship;
pub mod schema;
mod sighting;
mod strings;
mod times;
mod validate;
mod verdict;
mod vocab;

pub use common::{ExternalReference, KillChainPhase};
pub use envelope::{Docs, ObserveBundle};
pub use error::Error;
pub use id::Id;
pub use indicator::{
    CompositeIndicatorExpression, Indicator, IndicatorBuilder, JudgementSpecification,
    OpenIocSpecification, RelatedJudgement, SiocSpecification, SnortSpecification, Specification,
    ThreatBrainSpecification,
};
pub use judgement::{Judgement, JudgementBuilder};
pub use observable::{Observable, ObservableType};
pub use read::{from_str, from_str_lenient, from_value_lenient};
pub use relationship::Relationship;
pub use sighting::{
    ColumnDefinition, IdentitySpecification, ObservedRelation, SensorCoordinates, Sighting,
    SightingBuilder, SightingDataTable,
};
pub use strings::{Bound, LONG_STRING, MED_STRING, SHORT_STRING, truncate};
pub use times::{ObservedTime, Timestamp, ValidTime};
pub use validate::{Problem, ProblemKind, Problems};
pub use verdict::Verdict;
pub use vocab::{
    BooleanOperator, ColumnType, Confidence, Disposition, IndicatorType, ObservedRelationType,
    RelationshipType, Resolution, Sensor, Severity, Tlp,
};

/// The `time` crate, whose `Duration` and `OffsetDateTime` this crate's API takes and gives
/// (e.g. [`ValidTime::from_now`]), re-exported so that a user needs no dependency of its own
/// at the same version.
///
/// ```
/// use ctim_model::{ValidTime, time::Duration};
///
/// let week = ValidTime::from_now(Duration::weeks(1));
/// assert!(week.end_time > week.start_time);
/// ```
pub use time;

/// The code of README.md, compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The CTIM schema version this crate models; new entities carry it in `schema_version`.
pub const CTIM_SCHEMA_VERSION: &str = "1.3.28";

/// Free text in an entity. A `Cow` so that fixed texts (`"Found on blocklist"`) cost no
/// allocation; build one from a `&'static str` or a `String` with `.into()`.
pub type Text = std::borrow::Cow<'static, str>;
