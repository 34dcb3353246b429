//! `cargo xtask soak [--seconds N]`: a bounded run of mixed traffic, errors included, against
//! the real relay-server and the Auth0 Signals stand-in on loopback (`testkit soak`, on a
//! debug relay-server built here).
//!
//! Passes when there was no 5xx, no panic in the server's log, and its resident memory after
//! the run is within 4 MiB of what it was after warm-up.

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// How long the measured run lasts, after the warm-up.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let bin = crate::procs::build(false, &["-p", "xdr-relay-server", "--bin", "relay-server"])?;
    let testkit = crate::testkit::build(false)?;
    let seconds = args.seconds.to_string();
    let words = ["soak".as_ref(), "--bin".as_ref(), bin.as_os_str()];
    let words = words
        .into_iter()
        .chain(["--seconds".as_ref(), seconds.as_ref()]);
    crate::testkit::run(&testkit, &words.collect::<Vec<&std::ffi::OsStr>>()).map(drop)
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments() {
        let seconds = |args: &[&str]| {
            crate::task_args::<super::Args>(args)
                .map(|a| a.seconds)
                .ok()
        };
        assert_eq!(seconds(&[]), Some(60));
        assert_eq!(seconds(&["--seconds", "20"]), Some(20));
        for bad in [&["--seconds", "0"][..], &["--seconds"], &["--minutes", "1"]] {
            assert_eq!(seconds(bad), None, "{bad:?}");
        }
    }
}
