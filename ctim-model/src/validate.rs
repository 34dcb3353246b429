//! Checks serde cannot express: string lengths, id shapes, time order, priority range,
//! kill-chain phases, observable types outside CTIM's list. Every problem is reported.

use std::fmt;

use crate::{
    ExternalReference, Id, KillChainPhase, Observable, ObservedTime, Timestamp, ValidTime,
};

/// CTIM's `ShortString`: at most 1024 characters.
pub(crate) const SHORT: usize = crate::SHORT_STRING;
/// CTIM's `MedString`: at most 2048 characters.
pub(crate) const MED: usize = crate::MED_STRING;
/// CTIM's `LongString` and `Markdown`: at most 5000 characters.
pub(crate) const LONG: usize = crate::LONG_STRING;

/// One thing wrong with an entity: where (a field path such as `observables[1].type`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The path of the field, e.g. `valid_time` or `targets[0].observed_time`.
    pub field: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A string longer than CTIM allows (counted in characters).
    TooLong {
        /// CTIM's limit.
        max: usize,
        /// The string's length.
        len: usize,
    },
    /// An id that is neither the long nor the transient form.
    InvalidId,
    /// An id of another entity type than the one it is on.
    WrongIdKind {
        /// The type the entity has.
        expected: &'static str,
        /// The type the id names.
        found: String,
    },
    /// A time range that ends before it starts.
    EndBeforeStart,
    /// A judgement priority above 100.
    PriorityOutOfRange(u8),
    /// An observable type outside CTIM 1.3.28's list (read leniently).
    UnknownObservableType(String),
    /// A kill-chain phase that breaks CTIM's rules for kill chains.
    KillChainPhase(&'static str),
    /// A data table whose `row_count` is not the number of rows.
    RowCountMismatch {
        /// The `row_count` given.
        row_count: u64,
        /// The number of rows.
        rows: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        match &self.kind {
            ProblemKind::TooLong { max, len } => {
                write!(f, "{field}: {len} characters, at most {max} allowed")
            }
            ProblemKind::InvalidId => write!(
                f,
                "{field}: not a CTIM id (https://…/ctia/<type>/<type>-<uuid> or transient:…)"
            ),
            ProblemKind::WrongIdKind { expected, found } => {
                write!(f, "{field}: names a {found}, expected a {expected}")
            }
            ProblemKind::EndBeforeStart => write!(f, "{field}: end_time is before start_time"),
            ProblemKind::PriorityOutOfRange(p) => write!(f, "{field}: {p} is not in 0..=100"),
            ProblemKind::UnknownObservableType(t) => {
                write!(f, "{field}: observable type {t:?} is not in CTIM 1.3.28")
            }
            ProblemKind::KillChainPhase(why) => write!(f, "{field}: {why}"),
            ProblemKind::RowCountMismatch { row_count, rows } => {
                write!(
                    f,
                    "{field}: row_count is {row_count} but there are {rows} rows"
                )
            }
        }
    }
}

/// Every problem `validate()` found; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} CTIM problem(s): {}", .0.len(), join(.0))]
pub struct Problems(Vec<Problem>);

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Problems {
    /// The problems, in field order.
    #[must_use]
    pub fn as_slice(&self) -> &[Problem] {
        &self.0
    }

    /// The problems, owned.
    #[must_use]
    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }
}

/// Collects problems while an entity walks its fields.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    pub(crate) fn finish(self) -> Result<(), Problems> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(self.problems))
        }
    }

    pub(crate) fn report(&mut self, field: impl Into<String>, kind: ProblemKind) {
        self.problems.push(Problem {
            field: field.into(),
            kind,
        });
    }

    pub(crate) fn text(&mut self, field: &str, value: &str, max: usize) {
        // Byte length bounds character count from above: skip the count for short strings.
        if value.len() > max {
            let len = value.chars().count();
            if len > max {
                self.report(field, ProblemKind::TooLong { max, len });
            }
        }
    }

    pub(crate) fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.text(field, value, max);
        }
    }

    pub(crate) fn texts<T: AsRef<str>>(&mut self, field: &str, values: &[T], max: usize) {
        for (i, value) in values.iter().enumerate() {
            self.text(&format!("{field}[{i}]"), value.as_ref(), max);
        }
    }

    /// An entity's own id: valid, and naming this entity type when it names one.
    pub(crate) fn own_id(&mut self, id: &Id, expected: &'static str) {
        if !id.is_valid() {
            self.report("id", ProblemKind::InvalidId);
        } else if let Some(found) = id.kind().filter(|kind| *kind != expected) {
            let found = found.to_owned();
            self.report("id", ProblemKind::WrongIdKind { expected, found });
        }
    }

    /// A reference to another entity: any valid id.
    pub(crate) fn reference(&mut self, field: &str, id: &Id) {
        if !id.is_valid() {
            self.report(field, ProblemKind::InvalidId);
        }
    }

    pub(crate) fn observable(&mut self, field: &str, observable: &Observable) {
        if !observable.kind.is_known() {
            let kind = ProblemKind::UnknownObservableType(observable.kind.as_str().to_owned());
            self.report(format!("{field}.type"), kind);
        }
    }

    pub(crate) fn observables(&mut self, field: &str, observables: &[Observable]) {
        for (i, observable) in observables.iter().enumerate() {
            self.observable(&format!("{field}[{i}]"), observable);
        }
    }

    fn order(&mut self, field: &str, start: Option<Timestamp>, end: Option<Timestamp>) {
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            self.report(field, ProblemKind::EndBeforeStart);
        }
    }

    pub(crate) fn valid_time(&mut self, field: &str, time: &ValidTime) {
        self.order(field, time.start_time, time.end_time);
    }

    pub(crate) fn observed_time(&mut self, field: &str, time: &ObservedTime) {
        self.order(field, Some(time.start_time), time.end_time);
    }

    pub(crate) fn external_references(&mut self, references: &[ExternalReference]) {
        for (i, reference) in references.iter().enumerate() {
            let field = format!("external_references[{i}]");
            self.text(&format!("{field}.source_name"), &reference.source_name, MED);
            let description = reference.description.as_deref();
            self.opt_text(&format!("{field}.description"), description, LONG);
        }
    }

    pub(crate) fn kill_chain_phases(&mut self, phases: &[KillChainPhase]) {
        for (i, phase) in phases.iter().enumerate() {
            let field = format!("kill_chain_phases[{i}]");
            if let Some(why) = kill_chain_problem(phase) {
                self.report(field, ProblemKind::KillChainPhase(why));
            }
        }
    }
}

fn kill_chain_problem(phase: &KillChainPhase) -> Option<&'static str> {
    let name = &*phase.phase_name;
    if phase.kill_chain_name.is_empty() {
        Some("kill_chain_name is empty")
    } else if name.is_empty() {
        Some("phase_name is empty")
    } else if name
        .chars()
        .any(|c| c.is_uppercase() || c == ' ' || c == '_')
    {
        Some("phase_name should be lowercase with hyphens between words")
    } else if phase.kill_chain_name == KillChainPhase::LOCKHEED_MARTIN
        && !KillChainPhase::LOCKHEED_MARTIN_PHASES.contains(&name)
    {
        Some("not a phase of the lockheed-martin-cyber-kill-chain")
    } else {
        None
    }
}
