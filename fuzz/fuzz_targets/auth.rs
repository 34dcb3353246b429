//! Any bytes as an `Authorization` header, alone and after `Bearer `: checked as every
//! authenticated route does, without a panic, and never accepted (a fuzzer cannot forge an
//! HS256 signature).
#![no_main]

use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use xdr_relay_core::SecretKey;

fn secret() -> &'static SecretKey {
    static SECRET: OnceLock<SecretKey> = OnceLock::new();
    SECRET.get_or_init(|| SecretKey::new("a fuzzing secret, never a real one").unwrap())
}

fn check(value: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value);
    assert!(xdr_relay_core::bench_support::verify(&headers, secret()).is_err());
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&[b"Bearer ".as_slice(), data].concat());
});
