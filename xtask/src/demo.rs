//! `cargo xtask demo`: both products end to end, on local stand-ins, with nothing but Rust.
//!
//! 1. builds `relay-server`, the Socless tutorial endpoint and `testkit`;
//! 2. runs `testkit demo`, which starts the Auth0 Signals stand-in (`testkit::signals`) on
//!    127.0.0.1, makes a fresh SECRET_KEY and JWT with `relay-server jwt`, starts
//!    `relay-server` against the stand-in and calls health, deliberate, observe, refer, then
//!    sends the tutorial's sample alert to the event endpoint on the embedded Socless store.
//!
//! Every process it starts is killed when it ends, also on failure or Ctrl-C.

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Print every answer in full, as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    println!("==> building relay-server and the Socless tutorial endpoint");
    crate::procs::build(
        false,
        &["-p", "socless-events", "--example", "tutorial_endpoint"],
    )?;
    let bin = crate::procs::build(false, &["-p", "xdr-relay-server", "--bin", "relay-server"])?;
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
