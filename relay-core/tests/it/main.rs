//! The relay end to end: `relay_core::router` through `tower::ServiceExt::oneshot` against a
//! wiremock upstream on 127.0.0.1.

mod auth;
mod body;
mod common;
mod mapping;
mod oracle;
mod original;
mod routes;
mod upstream;
