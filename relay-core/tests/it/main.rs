//! The relay end to end: `relay_core::router` through `tower::ServiceExt::oneshot` against a
//! wiremock upstream on 127.0.0.1.

mod common;
mod oracle;
mod original;
mod mapping;
mod upstream;
mod auth;
mod body;
