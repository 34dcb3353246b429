//! Writes a [`Disposition`] as CTIM's `disposition` + `disposition_name` pair and reads the
//! pair back, rejecting one whose halves disagree. Used with `#[serde(flatten, with = ...)]`.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Disposition;

#[derive(Serialize)]
struct PairOut {
    disposition: u8,
    disposition_name: &'static str,
}

pub(crate) fn serialize<S: Serializer>(
    value: &Disposition,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    PairOut {
        disposition: value.number(),
        disposition_name: value.name(),
    }
    .serialize(serializer)
}

fn combine<E: serde::de::Error>(number: u64, name: Option<&str>) -> Result<Disposition, E> {
    let disposition = Disposition::from_number(number)
        .ok_or_else(|| E::custom(format_args!("disposition {number} is not one of 1..=5")))?;
    match name {
        Some(name) if name != disposition.name() => Err(E::custom(format_args!(
            "disposition {number} is {:?}, but disposition_name is {name:?}",
            disposition.name()
        ))),
        _ => Ok(disposition),
    }
}

/// The pair where `disposition_name` is required (Judgement).
pub(crate) mod required {
    pub(crate) use super::serialize;
    use super::{Deserialize, Deserializer, Disposition, JsonSchema};

    #[derive(Deserialize, JsonSchema)]
    pub(crate) struct Pair {
        disposition: super::Number,
        disposition_name: super::Name,
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Disposition, D::Error> {
        let pair = Pair::deserialize(deserializer)?;
        super::combine(pair.disposition.0, Some(pair.disposition_name.0.as_str()))
    }
}

/// The pair where `disposition_name` may be absent (Verdict); it is always written.
pub(crate) mod optional {
    pub(crate) use super::serialize;
    use super::{Deserialize, Deserializer, Disposition, JsonSchema};

    #[derive(Deserialize, JsonSchema)]
    pub(crate) struct Pair {
        disposition: super::Number,
        #[serde(default)]
        disposition_name: Option<super::Name>,
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Disposition, D::Error> {
        let pair = Pair::deserialize(deserializer)?;
        super::combine(
            pair.disposition.0,
            pair.disposition_name.as_ref().map(|n| n.0.as_str()),
        )
    }
}

/// The number as read; its schema is CTIM's `enum [1, 2, 3, 4, 5]`.
#[derive(Deserialize)]
#[serde(transparent)]
struct Number(u64);

impl JsonSchema for Number {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DispositionNumber".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "integer", "enum": [1, 2, 3, 4, 5] })
    }
}

/// The name as read; its schema is CTIM's five names.
#[derive(Deserialize)]
#[serde(transparent)]
struct Name(String);

impl JsonSchema for Name {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DispositionName".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["Clean", "Malicious", "Suspicious", "Common", "Unknown"],
        })
    }
}
