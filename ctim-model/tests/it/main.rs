//! Integration tests of ctim-model against CTIM's reference data (the repository's `testdata/ctim`).

// Helpers outside `#[test]` functions panic too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod builders;
mod lenient;
mod negative;
mod oracle;
mod props;
mod roundtrip;
mod support;
