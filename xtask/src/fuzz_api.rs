//! `cargo xtask fuzz-api`: Schemathesis against the real relay-server and the Auth0 Signals
//! stand-in on 127.0.0.1, driven by the relay's own OpenAPI document.
//!
//! Checks: no 5xx (`not_a_server_error`) and every answer conforms to the document
//! (`response_schema_conformance`), for valid and invalid inputs, with a real JWT. Bounded in
//! examples per operation and in time, so CI can afford it. xtask installs Schemathesis and
//! builds relay-server; `testkit fuzz-api` runs the relay and the stand-in, and `st` against
//! them.

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Test cases per operation.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..))]
    max_examples: u32,
    /// Schemathesis's own time budget; the process is killed a minute after it.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    max_seconds: u64,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let bin = crate::procs::build(false, &["-p", "xdr-relay-server", "--bin", "relay-server"])?;
    let testkit = crate::testkit::build(false)?;
    let tools = crate::tools::ensure(&[crate::tools::Tool::SCHEMATHESIS])?;
    let report_dir = crate::target_dir()?.join("schemathesis");
    let (examples, seconds) = (args.max_examples.to_string(), args.max_seconds.to_string());
    let words: [&std::ffi::OsStr; 11] = [
        "fuzz-api".as_ref(),
        "--bin".as_ref(),
        bin.as_os_str(),
        "--path".as_ref(),
        &tools.path,
        "--report-dir".as_ref(),
        report_dir.as_os_str(),
        "--max-examples".as_ref(),
        examples.as_ref(),
        "--max-seconds".as_ref(),
        seconds.as_ref(),
    ];
    crate::testkit::run(&testkit, &words).map(drop)
}
