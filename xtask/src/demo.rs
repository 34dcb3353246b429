//! `cargo xtask demo`: both products end to end, on local stand-ins, with nothing but Rust.
//!
//! 1. builds `xdr-relays` (the relay suite), the AbuseIPDB stand-in, the Socless tutorial
//!    endpoint and `testkit`;
//! 2. runs `testkit demo`, which starts every relay's local stand-in on 127.0.0.1 (Auth0
//!    Signals', AbuseIPDB's, a blocklist file), makes a fresh SECRET_KEY and each relay's JWT
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
    println!("==> building xdr-relays, the AbuseIPDB stand-in and the Socless tutorial endpoint");
    crate::procs::build(
        false,
        &["-p", "socless-events", "--example", "tutorial_endpoint"],
    )?;
    crate::procs::build(
        false,
        &["-p", "xdr-relay-abuseipdb", "--example", "standin"],
    )?;
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
