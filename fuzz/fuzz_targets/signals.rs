//! Any bytes as Auth0 Signals answers: the first part an IP report, the rest list metadata.
//! Decoding fails cleanly or succeeds; mapping what decodes never panics and serialises.
//! The mapping is reached through the unstable `bench` feature: through the router it would
//! need an upstream server per input.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use signals_client::{IpReport, ListMetadata};
use xdr_relay_core::bench;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (report, rest) = data.split_at(split);
    let Ok(report) = IpReport::from_json(report) else {
        return;
    };
    let metadata = ListMetadata::from_json(rest.get(1..).unwrap_or_default())
        .ok()
        .map(Arc::new);
    let limit = usize::from(data.first().copied().unwrap_or(0) % 8);
    let data = bench::observe(
        &[
            ("192.0.2.1".to_owned(), report),
            ("2001:db8::1".to_owned(), IpReport::default()),
        ],
        limit,
        |_, _| metadata.clone(),
    );
    let json = bench::envelope_json(&data);
    assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
});
