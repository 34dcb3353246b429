//! Socless `create_events` for Rust event endpoints.
//!
//! **What it is:** validation, deduplication, event records and playbook starts, on DynamoDB and
//! Step Functions or on an embedded local store.
//! **What it is not:** not a playbook engine and nothing to do with the relay.
//!
//! ```
//! assert_eq!(socless_events::EVENTS_TABLE_ENV, "SOCLESS_EVENTS_TABLE");
//! ```
#![forbid(unsafe_code)]

/// Environment variable naming the events table.
pub const EVENTS_TABLE_ENV: &str = "SOCLESS_EVENTS_TABLE";

#[cfg(test)]
mod tests {
    #[test]
    fn table_env_is_socless_prefixed() {
        assert!(super::EVENTS_TABLE_ENV.starts_with("SOCLESS_"));
    }
}
