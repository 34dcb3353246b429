//! The Threat Response / XDR module type of a relay, derived from its [`ProviderInfo`]: what
//! an administrator registers so that XDR can call the relay.
//!
//! One rule links a module type to the token the relay reads, and it lives here: each
//! `configuration_spec` entry is keyed [`CONFIGURATION_PREFIX`] + the claim's name
//! ([`configuration_key`]), and XDR signs the value an administrator enters as the claim
//! without the prefix (`custom_key` arrives as `key`). The same goes for the `properties` key
//! `custom_jwks_host`, which arrives as `jwks_host`.

use ctim_model::ObservableType;
use serde::Serialize;
use serde_json::Value;

use crate::credentials::{CredentialKind, ENTITIES_LIMIT};
use crate::provider::{EntityKind, ProviderInfo};

/// The prefix of every `configuration_spec` key whose value XDR signs into the token: the
/// claim is the key without it.
pub const CONFIGURATION_PREFIX: &str = "custom_";

/// The `configuration_spec` key of the token claim `claim` (`key` → `custom_key`).
///
/// ```
/// assert_eq!(xdr_relay_core::configuration_key("key"), "custom_key");
/// ```
#[must_use]
pub fn configuration_key(claim: &str) -> String {
    format!("{CONFIGURATION_PREFIX}{claim}")
}

/// How XDR authenticates to the relay, as the module type says: the configuration tokens it
/// signs, with the relay's `AUTH_TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModuleAuth<'a> {
    /// HS256 configuration tokens signed with the relay's `SECRET_KEY`
    /// (`AUTH_TYPE=secret-key`): the module type carries the key as
    /// `configuration-token-key`. `None` writes the placeholder `<SECRET_KEY>` there, for the
    /// administrator to replace when registering it.
    SecretKey {
        /// The `SECRET_KEY`, or `None` for the placeholder.
        key: Option<&'a str>,
    },
    /// RS256 configuration tokens verified against the region's published keys
    /// (`AUTH_TYPE=jwks`), with the key server XDR names in the token.
    Jwks {
        /// The region's key server, e.g. `visibility.amp.cisco.com` (US), written as
        /// `custom_jwks_host`.
        jwks_host: &'a str,
    },
}

/// The placeholder written for the `SECRET_KEY` when the module type is printed without it.
pub const SECRET_KEY_PLACEHOLDER: &str = "<SECRET_KEY>";

/// A Threat Response / XDR module type: what [`module_type`] derives from a relay's
/// [`ProviderInfo`]. It serialises with Cisco's field names, in the order of Cisco's Module
/// Maker (`title`, `default_name`, ..., `properties`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModuleType {
    /// The module type's title: the provider's name.
    pub title: String,
    /// The name a new module gets: the provider's name.
    pub default_name: String,
    /// One line: the name and the relay's version.
    pub short_description: String,
    /// The provider's [description](ProviderInfo::description).
    pub description: String,
    /// Links shown beside the module type (none).
    pub external_references: Vec<Value>,
    /// The fields an administrator fills in; XDR signs each into the token without the
    /// [`CONFIGURATION_PREFIX`].
    pub configuration_spec: Vec<ConfigurationField>,
    /// What the relay answers.
    pub capabilities: Vec<Capability>,
    /// Where the relay is and how XDR authenticates to it.
    pub properties: ModuleProperties,
}

/// One `configuration_spec` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConfigurationField {
    /// `custom_` + the claim's name.
    pub key: String,
    /// `api_key`, `string`, `integer` or `boolean` ([`CredentialKind::spec_type`]).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The form's label.
    pub label: String,
    /// One sentence.
    pub tooltip: String,
    /// Whether the module cannot be saved without it.
    pub required: bool,
}

/// One `capabilities` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Capability {
    /// `health`, `deliberate`, `observe`, `refer`, `respond` or `tiles`.
    pub id: &'static str,
    /// One sentence.
    pub description: String,
}

/// The `properties` of a module type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModuleProperties {
    /// The relay's public URL.
    pub url: String,
    /// The relay API's routes XDR may call.
    #[serde(rename = "supported-apis")]
    pub supported_apis: Vec<&'static str>,
    /// `configuration-token`.
    #[serde(rename = "auth-type")]
    pub auth_type: &'static str,
    /// `HS256` (secret-key mode) or `RS256` (jwks mode).
    #[serde(rename = "configuration-token-alg")]
    pub token_alg: &'static str,
    /// The tokens' audience: the relay's public URL, which the relay checks in jwks mode.
    #[serde(rename = "configuration-token-audience")]
    pub audience: String,
    /// Secret-key mode: the `SECRET_KEY` XDR signs with (or [`SECRET_KEY_PLACEHOLDER`]).
    #[serde(
        rename = "configuration-token-key",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_key: Option<String>,
    /// Jwks mode: the region's key server, which XDR names in the token as `jwks_host`.
    #[serde(rename = "custom_jwks_host", skip_serializing_if = "Option::is_none")]
    pub jwks_host: Option<String>,
}

/// The module type of the relay described by `info`, served at `url` (its `RELAY_URL`: the
/// tokens' audience), with `auth`.
///
/// `configuration_spec` has one entry per [credential field](ProviderInfo::credentials)
/// (key [`configuration_key`], type from its [`CredentialKind`], label, tooltip, required)
/// and the optional `custom_CTR_ENTITIES_LIMIT` every relay reads; `capabilities` and
/// `properties.supported-apis` list `health` and `observe`, `deliberate` when the provider
/// [returns](ProviderInfo::returns) verdicts, `refer` and `respond` when it offers them, and
/// `tiles` (`tiles`, `tiles/tile`, `tiles/tile-data`) when it has
/// [tiles](ProviderInfo::tiles). Each capability's words come from the info: `health` "Checks
/// the credentials with …" (or, with no credential fields, "Checks that … answers."),
/// `observe` the kinds it returns; [`ProviderInfo::capability_text`] replaces any of them.
///
/// ```
/// use xdr_relay_core::ctim_model::ObservableType;
/// use xdr_relay_core::{CredentialField, CredentialKind, ModuleAuth, ProviderInfo, module_type};
///
/// let info = ProviderInfo::new("Example Intel", "1.0.0", [ObservableType::Ip])
///     .credential(CredentialField::required("key", CredentialKind::ApiKey, "the Example Intel API key").label("API Key"));
/// let auth = ModuleAuth::Jwks { jwks_host: "visibility.amp.cisco.com" };
/// let module = serde_json::to_value(module_type(&info, "https://relay.example.com", auth))?;
/// assert_eq!(module["configuration_spec"][0]["key"], "custom_key");
/// assert_eq!(module["configuration_spec"][0]["type"], "api_key");
/// assert_eq!(module["properties"]["custom_jwks_host"], "visibility.amp.cisco.com");
/// assert_eq!(module["properties"]["supported-apis"][0], "health");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn module_type(info: &ProviderInfo, url: &str, auth: ModuleAuth<'_>) -> ModuleType {
    let name = &info.name;
    let mut spec: Vec<ConfigurationField> = info
        .credentials
        .iter()
        .map(|field| ConfigurationField {
            key: configuration_key(&field.name),
            kind: field.kind.spec_type(),
            label: field.form_label().to_owned(),
            tooltip: sentence(&field.description),
            required: field.required,
        })
        .collect();
    spec.push(ConfigurationField {
        key: configuration_key(ENTITIES_LIMIT),
        kind: CredentialKind::PositiveInteger.spec_type(),
        label: "Entities Limit".to_owned(),
        tooltip: "The most judgements and sightings per observable (default: the relay's \
                  CTR_ENTITIES_LIMIT, 100 unless set)."
            .to_owned(),
        required: false,
    });

    let types = type_list(&info.observable_types);
    let health = if info.credentials.is_empty() {
        format!("Checks that {name} answers.")
    } else {
        format!("Checks the credentials with {name}.")
    };
    let verdicts = info.returns.contains(&EntityKind::Verdict);
    let mut capabilities = vec![capability("health", health)];
    let mut apis = vec!["health"];
    if verdicts {
        capabilities.push(capability(
            "deliberate",
            format!("Verdicts on {types} from {name}."),
        ));
        apis.push("deliberate/observables");
    }
    capabilities.push(capability(
        "observe",
        format!("{} on {types} from {name}.", entity_list(&info.returns)),
    ));
    apis.push("observe/observables");
    if info.refers {
        capabilities.push(capability("refer", format!("Links to {name} for {types}.")));
        apis.push("refer/observables");
    }
    if info.responds {
        capabilities.push(capability(
            "respond",
            format!("Response actions in {name} for {types}."),
        ));
        apis.extend(["respond/observables", "respond/trigger"]);
    }
    if !info.tiles.is_empty() {
        capabilities.push(capability("tiles", format!("Dashboard tiles from {name}.")));
        apis.extend(["tiles", "tiles/tile", "tiles/tile-data"]);
    }

    for (id, text) in &info.capability_texts {
        if let Some(capability) = capabilities.iter_mut().find(|c| c.id == id.as_ref()) {
            capability.description = text.to_string();
        }
    }

    let (token_alg, token_key, jwks_host) = match auth {
        ModuleAuth::SecretKey { key } => (
            "HS256",
            Some(key.unwrap_or(SECRET_KEY_PLACEHOLDER).to_owned()),
            None,
        ),
        ModuleAuth::Jwks { jwks_host } => ("RS256", None, Some(jwks_host.to_owned())),
    };
    ModuleType {
        title: name.to_string(),
        default_name: name.to_string(),
        short_description: format!("{name} relay for Cisco XDR, version {}.", info.version),
        description: info.description.to_string(),
        external_references: Vec::new(),
        configuration_spec: spec,
        capabilities,
        properties: ModuleProperties {
            url: url.to_owned(),
            supported_apis: apis,
            auth_type: "configuration-token",
            token_alg,
            audience: url.to_owned(),
            token_key,
            jwks_host,
        },
    }
}

fn capability(id: &'static str, description: String) -> Capability {
    Capability { id, description }
}

/// `Verdicts, judgements and sightings`.
fn entity_list(kinds: &[EntityKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|kind| kind.plural()).collect();
    let list = match names.split_last() {
        None => "No entities".to_owned(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    };
    let mut chars = list.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `ip, ipv6 and domain observables`.
fn type_list(types: &[ObservableType]) -> String {
    let names: Vec<&str> = types.iter().map(ObservableType::as_str).collect();
    match names.split_last() {
        None => "no observables".to_owned(),
        Some((last, [])) => format!("{last} observables"),
        Some((last, rest)) => format!("{} and {last} observables", rest.join(", ")),
    }
}

/// `the API key` → `The API key.`
fn sentence(phrase: &str) -> String {
    let mut chars = phrase.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut text: String = first.to_uppercase().chain(chars).collect();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::credentials::CredentialField;

    fn json(module: ModuleType) -> Value {
        serde_json::to_value(module).unwrap()
    }

    #[test]
    fn the_keys_come_in_module_makers_order() {
        let module = module_type(&info(), "https://r", ModuleAuth::SecretKey { key: None });
        let text = serde_json::to_string(&module).unwrap();
        let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap();
        let order = [
            "title",
            "default_name",
            "short_description",
            "description",
            "external_references",
            "configuration_spec",
            "capabilities",
            "properties",
        ];
        for pair in order.windows(2) {
            assert!(at(pair[0]) < at(pair[1]), "{pair:?} in {text}");
        }
    }

    fn info() -> ProviderInfo {
        ProviderInfo::new(
            "AbuseIPDB",
            "2.1.0",
            [ObservableType::Ip, ObservableType::Ipv6],
        )
        .credential(
            CredentialField::required("key", CredentialKind::ApiKey, "the AbuseIPDB API key")
                .label("API Key"),
        )
        .refers()
    }

    /// The shape of Cisco's published module types (tr-05 relays: AbuseIPDB 2.0.7,
    /// urlscan.io): keys, `configuration_spec` entries, capabilities, properties.
    #[test]
    fn a_configuration_token_module_type_has_ciscos_shape() {
        let module = json(module_type(
            &info(),
            "https://relay.example.com",
            ModuleAuth::Jwks {
                jwks_host: "visibility.eu.amp.cisco.com",
            },
        ));
        let keys: Vec<&str> = module
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "title",
            "default_name",
            "short_description",
            "description",
            "external_references",
            "configuration_spec",
            "capabilities",
            "properties",
        ] {
            assert!(keys.contains(&key), "{key}");
        }
        assert_eq!(
            module["configuration_spec"],
            json!([
                {"key": "custom_key", "type": "api_key", "label": "API Key",
                 "tooltip": "The AbuseIPDB API key.", "required": true},
                {"key": "custom_CTR_ENTITIES_LIMIT", "type": "integer", "label": "Entities Limit",
                 "tooltip": "The most judgements and sightings per observable (default: the relay's CTR_ENTITIES_LIMIT, 100 unless set).",
                 "required": false},
            ])
        );
        let ids: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
        assert_eq!(ids, ["health", "deliberate", "observe", "refer"]);
        assert_eq!(
            module["properties"],
            json!({
                "url": "https://relay.example.com",
                "supported-apis": ["health", "deliberate/observables", "observe/observables", "refer/observables"],
                "auth-type": "configuration-token",
                "configuration-token-alg": "RS256",
                "configuration-token-audience": "https://relay.example.com",
                "custom_jwks_host": "visibility.eu.amp.cisco.com",
            })
        );
        assert_eq!(
            module["capabilities"][1]["description"],
            "Verdicts on ip and ipv6 observables from AbuseIPDB."
        );
    }

    #[test]
    fn a_secret_key_module_type_carries_the_key_or_a_placeholder() {
        let url = "https://relay.example.com";
        let placeholder = json(module_type(
            &info(),
            url,
            ModuleAuth::SecretKey { key: None },
        ));
        assert_eq!(
            placeholder["properties"]["configuration-token-alg"],
            "HS256"
        );
        assert_eq!(
            placeholder["properties"]["configuration-token-key"],
            SECRET_KEY_PLACEHOLDER
        );
        assert!(placeholder["properties"].get("custom_jwks_host").is_none());
        let key = module_type(
            &info(),
            url,
            ModuleAuth::SecretKey {
                key: Some("s3cr3t"),
            },
        );
        assert_eq!(key.properties.token_key.as_deref(), Some("s3cr3t"));
    }

    #[test]
    fn the_words_follow_what_the_provider_declares() {
        let words = |info: &ProviderInfo| -> Vec<(String, String)> {
            module_type(info, "https://r", ModuleAuth::SecretKey { key: None })
                .capabilities
                .into_iter()
                .map(|c| (c.id.to_owned(), c.description))
                .collect()
        };
        let keyless = ProviderInfo::new("InternetDB", "1.0.0", [ObservableType::Ip])
            .returns([EntityKind::Verdict, EntityKind::Judgement]);
        assert_eq!(
            words(&keyless),
            [
                ("health".into(), "Checks that InternetDB answers.".into()),
                (
                    "deliberate".into(),
                    "Verdicts on ip observables from InternetDB.".into()
                ),
                (
                    "observe".into(),
                    "Verdicts and judgements on ip observables from InternetDB.".into()
                ),
            ]
        );
        let sightings = ProviderInfo::new("Pulses", "1.0.0", [ObservableType::Ip])
            .credential(crate::CredentialField::required(
                "key",
                CredentialKind::ApiKey,
                "the key",
            ))
            .returns([EntityKind::Sighting])
            .refers()
            .capability_text("refer", "Pulse searches.")
            .capability_text("no such capability", "ignored");
        let module = module_type(&sightings, "https://r", ModuleAuth::SecretKey { key: None });
        assert_eq!(
            module.properties.supported_apis,
            ["health", "observe/observables", "refer/observables"]
        );
        assert_eq!(
            words(&sightings),
            [
                (
                    "health".into(),
                    "Checks the credentials with Pulses.".into()
                ),
                (
                    "observe".into(),
                    "Sightings on ip observables from Pulses.".into()
                ),
                ("refer".into(), "Pulse searches.".into()),
            ]
        );
    }

    #[test]
    fn capabilities_follow_what_the_provider_offers() {
        let plain = ProviderInfo::new("Plain", "1.0.0", [ObservableType::Domain]);
        let module = json(module_type(
            &plain,
            "https://r",
            ModuleAuth::SecretKey { key: None },
        ));
        assert_eq!(
            module["properties"]["supported-apis"],
            json!(["health", "deliberate/observables", "observe/observables"])
        );
        let responds = plain.responds();
        let module = json(module_type(
            &responds,
            "https://r",
            ModuleAuth::SecretKey { key: None },
        ));
        let apis = module["properties"]["supported-apis"].as_array().unwrap();
        assert!(apis.contains(&json!("respond/trigger")));
        assert!(!apis.contains(&json!("tiles")));
        assert_eq!(module["capabilities"][3]["id"], "respond");

        let tiles = responds.tile(crate::tiles::Tile::new(
            "t",
            crate::tiles::TileType::Markdown,
            "T",
        ));
        let module = json(module_type(
            &tiles,
            "https://r",
            ModuleAuth::SecretKey { key: None },
        ));
        assert_eq!(
            module["properties"]["supported-apis"],
            json!([
                "health",
                "deliberate/observables",
                "observe/observables",
                "respond/observables",
                "respond/trigger",
                "tiles",
                "tiles/tile",
                "tiles/tile-data"
            ])
        );
        assert_eq!(
            module["capabilities"][4],
            json!({"id": "tiles", "description": "Dashboard tiles from Plain."})
        );
    }

    #[test]
    fn wording_helpers() {
        assert_eq!(type_list(&[]), "no observables");
        assert_eq!(type_list(&[ObservableType::Ip]), "ip observables");
        assert_eq!(
            type_list(&[
                ObservableType::Ip,
                ObservableType::Ipv6,
                ObservableType::Domain
            ]),
            "ip, ipv6 and domain observables"
        );
        assert_eq!(sentence("the key"), "The key.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
