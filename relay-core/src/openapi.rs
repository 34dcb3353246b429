//! The relay's OpenAPI 3.1 document: every route, its request body and its answers, with the
//! CTIM parts taken from `ctim-model`'s own schemas so the two cannot disagree. The provider
//! contributes its name, its observable types and its credential fields.
//!
//! Served at `GET /openapi.json` only when [`RelayConfig::openapi`](crate::RelayConfig::openapi)
//! is on. The Auth0 Signals relay's is checked in at the repository root as `openapi.json` (a
//! test fails when the two drift, another when the router and the document disagree about a
//! route). The dashboard tiles' shapes come from the types of [`crate::tiles`] (schemars) the
//! same way.

use ctim_model::ObservableType;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use crate::provider::ProviderInfo;
use crate::tiles::{Period, Tile, TileData};

/// Where components live in the document; CTIM's `#/$defs/X` references are moved here.
const COMPONENTS: &str = "#/components/schemas/";

/// The OpenAPI 3.1 document of a relay backed by the provider `info` describes (what
/// [`router_for`](crate::router_for) serves): every route is relay-core's; the provider's name,
/// observable types, credential fields, response actions and tiles fill in the descriptions.
///
/// ```
/// use xdr_relay_core::ctim_model::ObservableType;
/// let info = xdr_relay_core::ProviderInfo::new("Example Intel", "1.0.0", [ObservableType::Domain]);
/// let doc = xdr_relay_core::openapi_for(&info);
/// assert_eq!(doc["info"]["title"], "Example Intel relay for Cisco Threat Response");
/// ```
#[must_use]
pub fn openapi_for(info: &ProviderInfo) -> Value {
    let mut schemas = schemas_of::<ctim_model::ObserveBundle>("ObserveBundle");
    schemas.extend(tile_schemas());
    schemas.extend(relay_schemas(info));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{} relay for Cisco Threat Response", info.name),
            "version": info.version,
            "description": "The Threat Response relay API. Every route also answers with a \
                trailing slash. Relay errors are HTTP 200 with `errors` (and `data` when some \
                was gathered); an unknown path is a JSON 404, a wrong method a JSON 405, and a \
                request the relay failed to answer (a bug) a JSON 500 with the code `unknown`. \
                Every answer carries `X-Request-Id`: the caller's, when it is 1 to 128 \
                printable ASCII characters without spaces, else one the relay made; the \
                relay's log lines of the request carry it too.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"},
        },
        "paths": paths(info),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "jwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": token_description(info),
                },
            },
        },
    })
}

/// What the token carries: the provider's credential fields.
fn token_description(info: &ProviderInfo) -> String {
    let fields: Vec<String> = info
        .credentials
        .iter()
        .map(|f| {
            let optional = if f.required { "" } else { " (optional)" };
            format!("{} as `{}`{optional}", f.description, f.name)
        })
        .collect();
    if fields.is_empty() {
        "HS256, signed with the relay's SECRET_KEY.".to_owned()
    } else {
        format!(
            "HS256, signed with the relay's SECRET_KEY; the payload carries {}.",
            fields.join(", ")
        )
    }
}

/// The provider's observable types, as the summary of `/deliberate/observables` names them.
fn type_names(types: &[ObservableType]) -> String {
    let names: Vec<String> = types
        .iter()
        .map(|t| match t {
            ObservableType::Ip => "IP addresses".to_owned(),
            ObservableType::Ipv6 => "IPv6 addresses".to_owned(),
            other => format!("`{}`", other.as_str()),
        })
        .collect();
    names.join(", ")
}

/// Which values are looked up, for the description of the request body.
fn looked_up(types: &[ObservableType]) -> String {
    let values: Vec<String> = types
        .iter()
        .map(|t| match t {
            ObservableType::Ip => "`ip` values that parse as an address".to_owned(),
            ObservableType::Ipv6 => "`ipv6` values that parse as an IPv6 address".to_owned(),
            other => format!("`{}` values", other.as_str()),
        })
        .collect();
    if values.is_empty() {
        "nothing is looked up".to_owned()
    } else {
        format!("only {} are looked up", values.join(", "))
    }
}

fn paths(info: &ProviderInfo) -> Value {
    let observables = |summary: &str, data: Value| json!({"post": operation(summary, true, Some(ref_to("Observables")), data)});
    let (respond, trigger) = if info.responds {
        (
            observables(
                "Response actions for the supported observables.",
                json!({"type": "array", "items": response_action()}),
            ),
            json!({"post": operation(
                "Triggers a response action of `/respond/observables`.",
                true, Some(trigger_body()), trigger_data(),
            )}),
        )
    } else {
        (
            observables(
                "Response actions: this module has none.",
                json!({"type": "array", "maxItems": 0}),
            ),
            json!({"post": operation(
                "Triggers a response action: there are none, so it always fails.",
                true, Some(json!({})), json!({"$ref": format!("{COMPONENTS}TriggerData")}),
            )}),
        )
    };
    json!({
        "/health": {"post": operation(
            &format!("Checks the caller's credentials with {}.", info.name),
            true, None, json!({"$ref": format!("{COMPONENTS}HealthData")}),
        )},
        "/deliberate/observables": observables(
            &format!("Verdicts for the supported observables ({}).", type_names(&info.observable_types)),
            ref_to("ObserveBundle"),
        ),
        "/observe/observables": observables(
            "Verdicts, judgements, sightings, indicators and relationships.",
            ref_to("ObserveBundle"),
        ),
        "/refer/observables": if info.refers {
            observables(
                &format!("Links to {} for each supported observable.", info.name),
                json!({"type": "array", "items": ref_to("ReferLink")}),
            )
        } else {
            observables("Links: this module has none.", json!({"type": "array", "maxItems": 0}))
        },
        "/respond/observables": respond,
        "/respond/trigger": trigger,
        "/tiles": tiles_list(info),
        "/tiles/tile": {"post": tile_operation(info)},
        "/tiles/tile-data": {"post": tile_data_operation(info)},
        "/version": {
            "get": version_operation(),
            "post": version_operation(),
        },
        "/watchdog": {
            "get": watchdog_operation(),
            "post": watchdog_operation(),
        },
        "/openapi.json": {"get": {
            "summary": "This document (served only when the relay's configuration enables it).",
            "responses": {"200": {
                "description": "The OpenAPI document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }},
        }},
    })
}

/// `/tiles`: the tiles, or none; the body is optional and ignored.
fn tiles_list(info: &ProviderInfo) -> Value {
    let (summary, data) = if info.tiles.is_empty() {
        (
            "Dashboard tiles: this module has none.".to_owned(),
            json!({"type": "array", "maxItems": 0}),
        )
    } else {
        (
            format!("The dashboard tiles of {}.", info.name),
            json!({"type": "array", "items": ref_to("Tile")}),
        )
    };
    let mut op = operation(&summary, true, None, data);
    op["requestBody"] = json!({
        "required": false,
        "description": "Ignored (Threat Response sends `{}` or nothing).",
        "content": {"application/json": {"schema": {}}},
    });
    json!({"post": op})
}

/// `tiles` as the descriptions list them: `` `id` (type: period, ...) ``.
fn tile_list(info: &ProviderInfo) -> String {
    let tiles: Vec<String> = info
        .tiles
        .iter()
        .map(|t| {
            let periods: Vec<&str> = t.periods.iter().map(|p| p.as_str()).collect();
            format!("`{}` ({}: {})", t.id, t.kind, periods.join(", "))
        })
        .collect();
    tiles.join(", ")
}

/// `/tiles/tile`.
fn tile_operation(info: &ProviderInfo) -> Value {
    if info.tiles.is_empty() {
        return operation(
            "A dashboard tile's description: this module has none, so `{}` once the body is \
             valid.",
            true,
            Some(ref_to("TileRequest")),
            json!({"type": "object", "maxProperties": 0}),
        );
    }
    let mut op = operation(
        "A dashboard tile's description; an unknown `tile_id` is `invalid argument`.",
        true,
        Some(ref_to("TileRequest")),
        ref_to("Tile"),
    );
    op["description"] = format!("The tiles: {}.", tile_list(info)).into();
    op
}

/// `/tiles/tile-data`.
fn tile_data_operation(info: &ProviderInfo) -> Value {
    if info.tiles.is_empty() {
        return operation(
            "A dashboard tile's data: this module has none, so `{}` once the body is valid.",
            true,
            Some(ref_to("TileDataRequest")),
            json!({"type": "object", "maxProperties": 0}),
        );
    }
    let mut op = operation(
        "A dashboard tile's data for a period; an unknown `tile_id`, or a period the tile does \
         not offer, is `invalid argument`.",
        true,
        Some(ref_to("TileDataRequest")),
        ref_to("TileData"),
    );
    op["description"] = format!(
        "The tiles and their periods: {}. The keys beside `data` depend on the tile's type.",
        tile_list(info)
    )
    .into();
    op
}

fn ref_to(name: &str) -> Value {
    json!({"$ref": format!("{COMPONENTS}{name}")})
}

/// A relay operation: optionally authenticated, optionally with a JSON body, answering the
/// envelope around `data`.
fn operation(summary: &str, authenticated: bool, body: Option<Value>, data: Value) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), summary.into());
    if authenticated {
        op.insert("security".into(), json!([{"jwt": []}]));
    }
    if let Some(schema) = body {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema}}}),
        );
    }
    op.insert("responses".into(), envelope_response(data));
    Value::Object(op)
}

fn envelope_response(data: Value) -> Value {
    json!({"200": {
        "description": "`data`, `errors`, or both (errors keep the data already gathered).",
        "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"data": data, "errors": ref_to("Errors")},
            "additionalProperties": false,
            "anyOf": [{"required": ["data"]}, {"required": ["errors"]}],
        }}},
    }})
}

fn version_operation() -> Value {
    json!({
        "summary": "The relay's version; needs no token.",
        "responses": {"200": {
            "description": "The version.",
            "content": {"application/json": {"schema": ref_to("Version")}},
        }},
    })
}

fn watchdog_operation() -> Value {
    let mut op = operation(
        "Liveness: echoes the Health-Check header; needs no token, calls nothing upstream.",
        false,
        None,
        json!({"type": "string"}),
    );
    op["parameters"] = json!([{
        "name": "Health-Check",
        "in": "header",
        "required": false,
        "schema": {"type": "string"},
        "description": "Echoed as `data`; without it the answer is `health check failed`.",
    }]);
    op
}

/// One `/respond/observables` action (a provider's [`ResponseAction`](crate::ResponseAction)).
fn response_action() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "categories": {"type": "array", "items": {"type": "string"}},
            "query-params": {"type": "object"},
        },
        "required": ["id", "title", "description", "categories", "query-params"],
        "additionalProperties": false,
    })
}

/// The body of `/respond/trigger` when the provider has actions.
fn trigger_body() -> Value {
    json!({
        "type": "object",
        "properties": {
            "action-id": {"type": "string", "minLength": 1},
            "observable_type": {"type": "string", "minLength": 1},
            "observable_value": {"type": "string", "minLength": 1},
        },
        "required": ["action-id", "observable_type", "observable_value"],
    })
}

/// The answer of `/respond/trigger` when the provider has actions.
fn trigger_data() -> Value {
    json!({
        "type": "object",
        "properties": {"status": {"enum": ["success", "failure"]}},
        "required": ["status"],
        "additionalProperties": false,
    })
}

/// The relay's own shapes: the request body, the error envelope and the small answers.
fn relay_schemas(info: &ProviderInfo) -> Map<String, Value> {
    let schemas = json!({
        "Observables": {
            "description": format!(
                "The observables to look up. Extra keys and any `type` are accepted; {}. At \
                 most 1000 (configurable) in a body of at most 1 MiB (configurable).",
                looked_up(&info.observable_types),
            ),
            "type": "array",
            "items": ref_to("RequestObservable"),
        },
        "RequestObservable": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "value": {"type": "string", "minLength": 1},
            },
            "required": ["type", "value"],
        },
        "Errors": {
            "type": "array",
            "minItems": 1,
            "items": ref_to("Error"),
        },
        "Error": {
            "type": "object",
            "properties": {
                "type": {"const": "fatal"},
                "code": {"enum": [
                    "authorization error", "invalid argument", "permission denied",
                    "too many requests", "service unavailable", "unknown",
                    "health check failed", "not found", "method not allowed",
                ]},
                "message": {"type": "string"},
            },
            "required": ["type", "code", "message"],
            "additionalProperties": false,
        },
        "ReferLink": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "categories": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["id", "title", "description", "url", "categories"],
            "additionalProperties": false,
        },
        "TileRequest": {
            "description": "The body of `/tiles/tile`; other keys are ignored.",
            "type": "object",
            "properties": {"tile_id": {"type": "string", "minLength": 1}},
            "required": ["tile_id"],
        },
        "TileDataRequest": {
            "description": "The body of `/tiles/tile-data`; other keys are ignored.",
            "type": "object",
            "properties": {
                "tile_id": {"type": "string", "minLength": 1},
                "period": ref_to("Period"),
            },
            "required": ["tile_id", "period"],
        },
        "HealthData": {
            "type": "object",
            "properties": {"status": {"const": "ok"}},
            "required": ["status"],
            "additionalProperties": false,
        },
        "TriggerData": {
            "type": "object",
            "properties": {"status": {"const": "failure"}},
            "required": ["status"],
            "additionalProperties": false,
        },
        "Version": {
            "type": "object",
            "properties": {"version": {"type": "string"}},
            "required": ["version"],
            "additionalProperties": false,
        },
    });
    match schemas {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The dashboard tiles' shapes: [`Tile`], [`TileData`] and the [`Period`] of a request.
fn tile_schemas() -> Map<String, Value> {
    let mut schemas = schemas_of::<Tile>("Tile");
    schemas.extend(schemas_of::<TileData>("TileData"));
    schemas.extend(schemas_of::<Period>("Period"));
    schemas
}

/// The schema of `T` as `name` and every definition it uses (generated as ctim-model's
/// schemas are), with references moved to components.
fn schemas_of<T: JsonSchema>(name: &str) -> Map<String, Value> {
    let mut root = ctim_model::schema::for_type::<T>();
    rewrite_refs(&mut root);
    let mut schemas = Map::new();
    if let Value::Object(object) = &mut root {
        object.remove("$schema");
        if let Some(Value::Object(defs)) = object.remove("$defs") {
            schemas.extend(defs);
        }
    }
    schemas.insert(name.into(), root);
    schemas
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(target) if key == "$ref" => {
                        if let Some(name) = target.strip_prefix("#/$defs/") {
                            *target = format!("{COMPONENTS}{name}");
                        }
                    }
                    _ => rewrite_refs(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of the document, as the component name it points at.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(target)) => out.push(target.clone()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// The document of a provider that offers every optional route.
    fn document() -> Value {
        let info = ProviderInfo::new("Test", "1.0.0", [ObservableType::Ip])
            .refers()
            .responds()
            .tile(Tile::new("t", crate::tiles::TileType::Markdown, "T"));
        openapi_for(&info)
    }

    /// The CTIM schemas, the tiles' and the relay's own share one namespace: a name two of
    /// them use must mean the same schema (`ObservableType`).
    #[test]
    fn no_component_takes_anothers_name() {
        let info = ProviderInfo::new("Test", "1.0.0", [ObservableType::Ip]);
        let parts = [
            schemas_of::<ctim_model::ObserveBundle>("ObserveBundle"),
            tile_schemas(),
            relay_schemas(&info),
        ];
        for (i, a) in parts.iter().enumerate() {
            for b in &parts[i + 1..] {
                for (name, schema) in a {
                    if let Some(other) = b.get(name) {
                        assert_eq!(schema, other, "{name}");
                    }
                }
            }
        }
        let tiles = tile_schemas();
        for name in ["Tile", "TileData", "Period", "Metric", "Bar", "TimeRange"] {
            assert!(tiles.contains_key(name), "{name}");
        }
    }

    #[test]
    fn every_reference_resolves_to_a_component() {
        let doc = document();
        let mut targets = Vec::new();
        refs(&doc, &mut targets);
        assert!(targets.len() > 20, "{targets:?}");
        for target in targets {
            let name = target
                .strip_prefix(COMPONENTS)
                .unwrap_or_else(|| panic!("{target} is not a component reference"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{target} does not resolve"
            );
        }
    }

    #[test]
    fn the_ctim_parts_are_ctim_models_schemas() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for name in [
            "Verdict",
            "Judgement",
            "Sighting",
            "Indicator",
            "Relationship",
        ] {
            assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
        }
        assert_eq!(schemas["ObserveBundle"]["title"], "ObserveBundle");
        assert!(schemas["ObserveBundle"].get("$defs").is_none());
    }
}
