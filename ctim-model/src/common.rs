//! Small objects several entities share.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Bound, Text};

/// A pointer to information outside CTIM (a report, a database entry, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ExternalReference {
    /// The system, registry or organisation that defines the reference.
    #[schemars(length(max = 2048))]
    pub source_name: Text,
    /// A description (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5000))]
    pub description: Option<Text>,
    /// An identifier for the referenced content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Text>,
    /// Hashes of the content at `url`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Text>,
    /// A URL of the external resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Text>,
}

impl ExternalReference {
    /// A reference with only its source name.
    pub fn new(source_name: impl Into<Text>) -> ExternalReference {
        ExternalReference {
            source_name: source_name.into(),
            description: None,
            external_id: None,
            hashes: Vec::new(),
            url: None,
        }
    }

    /// This reference with `source_name` and `description` clipped to their CTIM bounds
    /// ([`Bound::Med`], [`Bound::Long`]), as the entity builders add references.
    ///
    /// ```
    /// use ctim_model::ExternalReference;
    ///
    /// let mut reference = ExternalReference::new("Shodan");
    /// reference.description = Some("y".repeat(6000).into());
    /// let clipped = reference.clipped();
    /// assert_eq!(clipped.source_name, "Shodan");
    /// assert_eq!(clipped.description.map(|d| d.chars().count()), Some(5000));
    /// ```
    #[must_use]
    pub fn clipped(mut self) -> ExternalReference {
        self.source_name = Bound::Med.clip(self.source_name);
        self.description = self.description.map(|d| Bound::Long.clip(d));
        self
    }
}

/// A phase of a kill chain. CTIM recommends `lockheed-martin-cyber-kill-chain` and its seven
/// phases ([`KillChainPhase::LOCKHEED_MARTIN_PHASES`]); `validate()` checks those phases and
/// the naming convention (lowercase, hyphens as separators).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KillChainPhase {
    /// The name of the kill chain.
    pub kill_chain_name: Text,
    /// The name of the phase.
    pub phase_name: Text,
}

impl KillChainPhase {
    /// A phase of any kill chain, named as the chain names it.
    #[must_use]
    pub fn new(kill_chain_name: impl Into<Text>, phase_name: impl Into<Text>) -> Self {
        Self {
            kill_chain_name: kill_chain_name.into(),
            phase_name: phase_name.into(),
        }
    }

    /// The kill chain CTIM recommends.
    pub const LOCKHEED_MARTIN: &'static str = "lockheed-martin-cyber-kill-chain";

    /// The phases of [`KillChainPhase::LOCKHEED_MARTIN`].
    pub const LOCKHEED_MARTIN_PHASES: [&'static str; 7] = [
        "reconnaissance",
        "weaponization",
        "delivery",
        "exploitation",
        "installation",
        "command-and-control",
        "actions-on-objective",
    ];

    /// A phase of the Lockheed Martin cyber kill chain, e.g. `"delivery"`.
    pub fn lockheed_martin(phase_name: impl Into<Text>) -> KillChainPhase {
        KillChainPhase {
            kill_chain_name: KillChainPhase::LOCKHEED_MARTIN.into(),
            phase_name: phase_name.into(),
        }
    }
}
