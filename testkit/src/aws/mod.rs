//! A local AWS for socless-events' tests and benches: moto (the reference for how AWS behaves),
//! an in-memory stand-in for the calls socless-events makes (fast and parallel, for load), and a
//! proxy that adds a network's latency in front of either.

pub mod latency;
#[cfg(feature = "aws")]
pub mod moto;
pub mod standin;
