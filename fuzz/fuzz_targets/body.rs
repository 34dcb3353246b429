//! Any bytes as a request body: parsed and filtered as every observable route does, without
//! a panic; an error is always `invalid argument`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Err(e) = xdr_relay_core::bench_support::parse(body) {
        assert_eq!(e.code(), "invalid argument");
    }
});
