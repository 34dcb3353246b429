//! `cargo xtask lambda [--arm64] [--package P --bin B]`: the Lambda zips of the relay and of the
//! Socless tutorial endpoint (or of any relay's Lambda binary), built for Amazon Linux 2023
//! (`provided.al2023`) and checked before anyone deploys.
//!
//! The build is `cargo lambda build --release --output-format zip` (cargo-lambda from PyPI,
//! which brings zig: it links against an old glibc without Docker). Each zip lands at
//! `<workspace>/target/lambda/<function>/bootstrap.zip`, the fixed path that
//! `deploy/relay/template.yaml` and `deploy/socless/serverless.yml` point at, also when
//! `CARGO_TARGET_DIR` moves the compiler's output elsewhere. CI's step (`ci_check`) builds
//! them, and the blocklist relay's (a relay on the SDK other than Auth0 Signals), unoptimised
//! ([`Release::Ci`]) into `<target dir>/lambda-ci/` instead, where no deployment picks them
//! up.
//!
//! Then, for each function: the zip holds exactly one file, an executable `bootstrap` whose
//! content is the binary cargo built (`zip` checks its CRC-32 while reading); the binary's ELF
//! machine is the architecture asked for; and the highest `GLIBC_x.y` version it needs (its
//! `.gnu.version_r`, what `readelf -V` shows, read with `object`) is at most AL2023's.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use object::elf::{self, FileHeader64};
use object::read::elf::FileHeader;

use crate::procs::Release;

/// Amazon Linux 2023's glibc: a binary that needs more does not start on `provided.al2023`.
const MAX_GLIBC: GlibcVersion = GlibcVersion(2, 34);

/// One Lambda function's binary: its name (cargo-lambda names the zip's folder after it), its
/// package, and the cargo target flag that selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Function<'a> {
    name: &'a str,
    package: &'a str,
    kind: &'a str,
}

/// What `cargo xtask lambda` builds by default: the ones the deployment files name.
const SHIPPED: [Function<'static>; 2] = [
    Function {
        name: "relay-lambda",
        package: "xdr-relay-lambda",
        kind: "--bin",
    },
    Function {
        name: "tutorial_endpoint",
        package: "socless-events",
        kind: "--example",
    },
];

/// What CI builds besides: the relays on the SDK other than Auth0 Signals, through the same
/// path any new relay takes.
const CI_EXTRA: [Function<'static>; 5] = [
    Function {
        name: "blocklist-relay-lambda",
        package: "xdr-relay-blocklist",
        kind: "--bin",
    },
    Function {
        name: "abuseipdb-relay-lambda",
        package: "xdr-relay-abuseipdb",
        kind: "--bin",
    },
    Function {
        name: "otx-relay-lambda",
        package: "xdr-relay-otx",
        kind: "--bin",
    },
    Function {
        name: "urlscan-relay-lambda",
        package: "xdr-relay-urlscan",
        kind: "--bin",
    },
    // The suite: every relay in one function (deploy/suite/template.yaml).
    Function {
        name: "xdr-relays-lambda",
        package: "xdr-relay-suite",
        kind: "--bin",
    },
];

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Build for Graviton (aarch64) instead of x86_64.
    #[arg(long)]
    arm64: bool,
    /// The package of a relay's Lambda binary to build instead of the default ones (with
    /// --bin), e.g. `xdr-relay-blocklist`.
    #[arg(long, requires = "bin")]
    package: Option<String>,
    /// The Lambda binary of --package, e.g. `blocklist-relay-lambda`.
    #[arg(long, requires = "package")]
    bin: Option<String>,
}

/// What one build produced and what the checks found.
#[derive(Debug)]
struct Packaged {
    name: String,
    zip: PathBuf,
    zip_bytes: u64,
    binary_bytes: u64,
    glibc: GlibcVersion,
}

impl fmt::Display for Packaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (zip, bin) = (human_size(self.zip_bytes), human_size(self.binary_bytes));
        write!(
            f,
            "{}: {}\n  zip {zip}, bootstrap {bin}, ",
            self.name,
            self.zip.display()
        )?;
        write!(f, "needs GLIBC_{} (AL2023 has {MAX_GLIBC})", self.glibc)
    }
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let chosen = match (&args.package, &args.bin) {
        (Some(package), Some(name)) => vec![Function {
            name,
            package,
            kind: "--bin",
        }],
        _ => SHIPPED.to_vec(),
    };
    let packaged = build_and_check(&chosen, args.arm64, Release::Shipped)?;
    println!(
        "\n== lambda zips ({}) ==",
        if args.arm64 { "arm64" } else { "x86_64" }
    );
    for p in &packaged {
        println!("{p}");
    }
    Ok(())
}

/// The CI step: builds the x86_64 zips (CI's release build, [`Release::Ci`]) and checks them;
/// the summary line on success.
pub(crate) fn ci_check() -> Result<String, String> {
    let functions: Vec<Function<'_>> = SHIPPED.into_iter().chain(CI_EXTRA).collect();
    let packaged = build_and_check(&functions, false, Release::Ci)?;
    let found = packaged
        .iter()
        .map(|p| format!("{} {} GLIBC_{}", p.name, human_size(p.zip_bytes), p.glibc));
    Ok(found.collect::<Vec<_>>().join(", "))
}

fn build_and_check(
    functions: &[Function<'_>],
    arm64: bool,
    release: Release,
) -> Result<Vec<Packaged>, String> {
    // The CPU every Lambda host of the architecture has: what cargo-lambda's release flags name.
    let (triple, machine, cpu) = match arm64 {
        false => ("x86_64-unknown-linux-gnu", elf::EM_X86_64, "haswell"),
        true => ("aarch64-unknown-linux-gnu", elf::EM_AARCH64, "neoverse-n1"),
    };
    // cargo-lambda and zig come from PyPI: run cargo with the tools' environment on PATH.
    let path = crate::tools::ensure(&[crate::tools::Tool::CARGO_LAMBDA])?.path;
    let lambda_dir = match release {
        // The deployment files' fixed path, whatever CARGO_TARGET_DIR says.
        Release::Shipped => crate::workspace_root()?.join("target").join("lambda"),
        // Never where a deployment (or the bench's size figure) would pick them up.
        Release::Ci => crate::target_dir()?.join("lambda-ci"),
    };
    let out_dir = crate::target_dir()?.join(triple).join("release");
    let mut packaged = Vec::new();
    for &Function {
        name,
        package,
        kind,
    } in functions
    {
        println!("\n== lambda: cargo lambda build {name} ({triple}) ==");
        let lambda_dir = lambda_dir.to_string_lossy();
        // cargo-lambda's release flags add `panic = "abort"` to the profile, which would end the
        // function's process on a panic instead of the one request (relay-core catches the
        // unwind and answers 500; relay-server refuses to build without it): they are turned
        // off, and their one other flag, the Lambda hosts' CPU, given here.
        let rustflags = format!(r#"build.rustflags=["-C", "target-cpu={cpu}"]"#);
        let args = [
            "lambda",
            "build",
            "--release",
            "--disable-optimizations",
            "--config",
            &rustflags,
            "--output-format",
            "zip",
            "--lambda-dir",
        ];
        let target = ["--target", triple, "--package", package, kind, name];
        let args = [&args[..], &[&*lambda_dir], &target].concat();
        crate::procs::cargo_with(&args, Some(&path), release.env())?;
        let dir = if kind == "--example" {
            out_dir.join("examples")
        } else {
            out_dir.clone()
        };
        let zip = Path::new(&*lambda_dir).join(name).join("bootstrap.zip");
        packaged.push(check(name, &zip, &dir.join(name), machine)?);
    }
    Ok(packaged)
}

fn check(name: &str, zip: &Path, binary: &Path, machine: elf::Machine) -> Result<Packaged, String> {
    let zip_data = read(zip)?;
    let binary_data = read(binary)?;
    let bootstrap = bootstrap(&zip_data).map_err(|e| format!("{}: {e}", zip.display()))?;
    if bootstrap != binary_data {
        let (zip, binary) = (zip.display(), binary.display());
        return Err(format!(
            "{zip}: its bootstrap is not {binary}: stale build?"
        ));
    }
    let glibc =
        check_elf(&binary_data, machine).map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(Packaged {
        name: name.to_owned(),
        zip: zip.to_path_buf(),
        zip_bytes: zip_data.len() as u64,
        binary_bytes: binary_data.len() as u64,
        glibc,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The content of a Lambda zip's `bootstrap`, which must be its only file and executable.
fn bootstrap(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data))
        .map_err(|e| format!("not a zip file: {e}"))?;
    if archive.len() != 1 {
        let n = archive.len();
        return Err(format!("has {n} entries; Lambda wants just `bootstrap`"));
    }
    let mut entry = archive
        .by_index(0)
        .map_err(|e| format!("unreadable entry: {e}"))?;
    let name = entry
        .name()
        .map_err(|e| format!("unreadable entry name: {e}"))?;
    if name != "bootstrap" {
        return Err(format!(
            "its entry is `{name}`, not `bootstrap` at the root"
        ));
    }
    let mode = entry.unix_mode().unwrap_or(0);
    if mode & 0o111 == 0 {
        return Err(format!(
            "`bootstrap` is not executable (mode {mode:o}): Lambda could not start it"
        ));
    }
    let mut content = Vec::new();
    // Fails when the content does not match the entry's CRC-32.
    entry
        .read_to_end(&mut content)
        .map_err(|e| format!("cannot unpack `bootstrap`: {e}"))?;
    Ok(content)
}

/// The header of a 64-bit ELF file for `machine`, and its byte order (the Lambda binaries'
/// check and the container image's).
pub(crate) fn elf_header(
    data: &[u8],
    machine: elf::Machine,
) -> Result<(&FileHeader64<object::Endianness>, object::Endianness), String> {
    let header = FileHeader64::<object::Endianness>::parse(data).map_err(not_elf)?;
    let endian = header.endian().map_err(not_elf)?;
    if header.e_machine(endian) != machine {
        return Err(format!(
            "ELF machine {:?} is not {machine:?}",
            header.e_machine(endian)
        ));
    }
    Ok((header, endian))
}

pub(crate) fn not_elf(e: object::Error) -> String {
    format!("not a 64-bit ELF file: {e}")
}

/// Checks a Lambda binary: 64-bit ELF for `machine`, highest `GLIBC_` need within AL2023's.
fn check_elf(data: &[u8], machine: elf::Machine) -> Result<GlibcVersion, String> {
    let fail = not_elf;
    let (header, endian) = elf_header(data, machine)?;
    let sections = header.sections(endian, data).map_err(fail)?;
    let mut highest = None;
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data).map_err(fail)? {
        let strings = sections.strings(endian, data, link).map_err(fail)?;
        while let Some((_, mut versions)) = needs.next().map_err(fail)? {
            while let Some(version) = versions.next().map_err(fail)? {
                let name = version.name(endian, strings).map_err(fail)?;
                highest = highest.max(GlibcVersion::parse(&String::from_utf8_lossy(name)));
            }
        }
    }
    match highest {
        None => {
            Err("needs no GLIBC_ version: not a glibc binary, not what cargo-lambda builds".into())
        }
        Some(v) if v > MAX_GLIBC => Err(format!(
            "needs GLIBC_{v}, Amazon Linux 2023 has {MAX_GLIBC}: build with cargo-lambda (zig) rather than plain cargo"
        )),
        Some(v) => Ok(v),
    }
}

fn human_size(bytes: u64) -> String {
    format!("{:.2} MiB ({bytes} B)", bytes as f64 / (1024.0 * 1024.0))
}

/// A glibc symbol version: `GLIBC_2.34` is `(2, 34)`; `GLIBC_2.2.5` compares as `(2, 2)`
/// since no check needs the patch level (2.2.5 < 2.3 either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GlibcVersion(u32, u32);

impl GlibcVersion {
    /// `GLIBC_2.34` → `(2, 34)`; other names (`GLIBC_PRIVATE`, `GCC_3.0`) → `None`.
    fn parse(name: &str) -> Option<Self> {
        let mut parts = name.strip_prefix("GLIBC_")?.split('.');
        Some(Self(
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
        ))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn glibc_version_names() {
        let parse = |name| GlibcVersion::parse(name).map(|v| (v.0, v.1));
        assert_eq!(parse("GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse("GLIBC_2.2.5"), Some((2, 2)));
        for other in ["GLIBC_PRIVATE", "GCC_3.0", "GLIBC_2", ""] {
            assert_eq!(parse(other), None, "{other}");
        }
        // Numeric, not lexical: 2.34 is above 2.4.
        assert!(GlibcVersion(2, 34) > GlibcVersion(2, 4));
    }

    #[test]
    fn this_test_binary_is_checked_like_a_lambda_binary() {
        // Built by the host toolchain for linux-gnu: it must show libc version needs.
        let me = read(&std::env::current_exe().unwrap()).unwrap();
        let machine = if cfg!(target_arch = "x86_64") {
            elf::EM_X86_64
        } else {
            elf::EM_AARCH64
        };
        match check_elf(&me, machine) {
            Ok(v) => assert!(v >= GlibcVersion(2, 2), "{v}"),
            // A host newer than AL2023 links this test binary against its own glibc.
            Err(e) => assert!(e.contains("Amazon Linux 2023 has 2.34"), "{e}"),
        }
        let other = if machine == elf::EM_X86_64 {
            elf::EM_AARCH64
        } else {
            elf::EM_X86_64
        };
        assert!(check_elf(&me, other).unwrap_err().contains("ELF machine"));
        assert!(
            check_elf(b"#!/bin/sh\n", machine)
                .unwrap_err()
                .contains("not a 64-bit ELF")
        );
    }

    /// A zip of stored files made on Unix with the given modes.
    fn zip(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, mode, data) in files {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .unix_permissions(*mode);
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn check_zip(files: &[(&str, u32, &[u8])], expected: Result<&[u8], &str>) {
        match (bootstrap(&zip(files)), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{files:?}: {e}"),
            (got, _) => panic!("{files:?}: {got:?}"),
        }
    }

    #[test]
    fn a_lambda_zip_holds_one_executable_bootstrap() {
        let exe = 0o755;
        check_zip(&[("bootstrap", exe, b"\x7fELF...")], Ok(b"\x7fELF..."));
        check_zip(&[("bootstrap", 0o700, b"x")], Ok(b"x"));
        check_zip(&[("bootstrap", 0o644, b"x")], Err("not executable"));
        check_zip(&[("relay-lambda", exe, b"x")], Err("not `bootstrap`"));
        check_zip(&[("dir/bootstrap", exe, b"x")], Err("not `bootstrap`"));
        let two: &[(&str, u32, &[u8])] = &[("bootstrap", exe, b"x"), ("README", 0o644, b"y")];
        check_zip(two, Err("2 entries"));
        check_zip(&[], Err("0 entries"));
        assert!(
            bootstrap(b"not a zip at all")
                .unwrap_err()
                .contains("not a zip")
        );
    }

    #[test]
    fn a_corrupt_bootstrap_is_an_error() {
        let mut data = zip(&[("bootstrap", 0o755, b"the binary")]);
        let at = data.windows(10).position(|w| w == b"the binary").unwrap();
        data[at] = b'T';
        assert!(bootstrap(&data).unwrap_err().contains("cannot unpack"));
    }
}
