//! `cargo xtask demo`: both products end to end, on local stand-ins, with nothing but Rust.
//!
//! 1. builds `xdr-relays` (the relay suite), the AbuseIPDB, OTX and urlscan.io stand-ins, the Socless
//!    tutorial endpoint and `testkit`;
//! 2. runs `testkit demo`, which starts every relay's local stand-in on 127.0.0.1 (Auth0
//!    Signals', AbuseIPDB's, OTX's, urlscan.io's, a blocklist file), makes a fresh SECRET_KEY and each relay's JWT
//!    with `xdr-relays jwt --relay NAME`, starts `xdr-relays` against them and calls each
//!    relay's health, observe and refer under its mount, then sends the tutorial's sample
//!    alert to the event endpoint on the embedded Socless store; within a bound on its time.
//!
//! Every process it starts is killed when it ends, also on failure or Ctrl-C.

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Print every answer in full, as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    println!("==> building xdr-relays, the relays' stand-ins and the Socless tutorial endpoint");
    crate::procs::build(
        false,
        &["-p", "socless-events", "--example", "tutorial_endpoint"],
    )?;
    // Each networked relay's stand-in is its crate's `standin` example: one file name, so each
    // is copied to a name of its own before the next is built.
    for (package, name) in [
        ("xdr-relay-abuseipdb", "abuseipdb-standin"),
        ("xdr-relay-otx", "otx-standin"),
        ("xdr-relay-urlscan", "urlscan-standin"),
    ] {
        let examples =
            crate::procs::build(false, &["-p", package, "--example", "standin"])?.join("examples");
        std::fs::copy(examples.join("standin"), examples.join(name))
            .map_err(|e| format!("cannot copy {package}'s stand-in to {name}: {e}"))?;
    }
    let bin = crate::procs::build(false, &["-p", "xdr-relay-suite", "--bin", "xdr-relays"])?;
    let testkit = crate::testkit::build(false)?;
    let alert =
        crate::workspace_root()?.join("socless-events/examples/data/investigate_login_alert.json");
    let mut words = vec!["demo".into(), "--bin".into(), bin.into_os_string()];
    words.extend(["--alert".into(), alert.into_os_string()]);
    if args.json {
        words.push("--json".into());
    }
    crate::testkit::run(&testkit, &words).map(drop)
}
