//! Typed CTIM (Cisco Threat Intelligence Model) entities.
//!
//! **What it is:** serde types for the CTIM entities a Threat Response module emits.
//! **What it is not:** no I/O, no HTTP, nothing about Threat Response relays.
//!
//! ```
//! assert_eq!(ctim_model::CTIM_SCHEMA_VERSION, "1.3.28");
//! ```
#![forbid(unsafe_code)]

/// The CTIM schema version this crate models and emits by default.
pub const CTIM_SCHEMA_VERSION: &str = "1.3.28";

#[cfg(test)]
mod tests {
    #[test]
    fn schema_version_is_semver_like() {
        let parts: Vec<_> = super::CTIM_SCHEMA_VERSION.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()));
    }
}
