//! `cargo xtask image [--package P --bin B]`: a relay's container image (by default
//! `relay-server`'s), from `deploy/container/Containerfile`.
//!
//! 1. builds the relay's binary for `x86_64-unknown-linux-musl` with the release profile (a
//!    static binary: checked, no ELF interpreter and no shared library needed);
//! 2. prepares the build context under `<target dir>/image/context`: the binary, the build
//!    machine's CA bundle, an `/etc/passwd` and `/etc/group` naming the non-root user, and the
//!    Containerfile; the image is `FROM scratch`, so nothing is pulled;
//! 3. builds it with the first engine that works (docker when its daemon answers, podman,
//!    buildah), in Docker's format so that `HEALTHCHECK` is kept, and prints its size.
//!
//! The CI step (`ci_check`) builds with buildah, then `testkit check-image` runs the image's own
//! entrypoint, user and environment with `buildah run` against a stand-in of its upstream, and
//! asks `/version`, `/watchdog` (also through the image's `HEALTHCHECK` command) and `/health`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _};
use serde_json::Value;

use crate::procs::Release;

/// The target of the image's binary: static with musl, installable with rustup.
const TARGET: &str = "x86_64-unknown-linux-musl";
/// The relay the image holds by default: relay-server's package and binary.
const DEFAULT_PACKAGE: &str = "xdr-relay-server";
const DEFAULT_BIN: &str = "relay-server";
/// The workspace's version, which `relay-server` reports on `/version` (xtask shares it).
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The CA bundle copied into the image, as Debian's `ca-certificates` package writes it.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The image's non-root user (and group): the numeric id `USER` names in the Containerfile.
const USER_ID: u32 = 65532;
/// The engines tried, in order.
const ENGINES: [Engine; 3] = [Engine::Docker, Engine::Podman, Engine::Buildah];

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Build with this engine instead of the first that works (docker, podman, buildah).
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    /// The image's tag. Default: `<package>:<version>`, e.g. `xdr-relay-server:0.1.0`.
    #[arg(long)]
    tag: Option<String>,
    /// The package of the relay to put in the image (with --bin). Default xdr-relay-server.
    #[arg(long, requires = "bin", conflicts_with = "check")]
    package: Option<String>,
    /// The relay's binary in --package: a command of `xdr_relay_server::main_for`.
    #[arg(long, requires = "package")]
    bin: Option<String>,
    /// What `cargo xtask ci` does: build with buildah, then run the image against the Signals
    /// stand-in and ask /version, /watchdog, its HEALTHCHECK and /health.
    #[arg(long, conflicts_with_all = ["engine", "tag"])]
    check: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Engine {
    Docker,
    Podman,
    Buildah,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

impl Engine {
    fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Buildah => "buildah",
        }
    }

    /// The engine's command with its global options. buildah keeps its images on `vfs`, which
    /// needs no overlay support or daemon, and the image is one small layer.
    fn command(self) -> Command {
        let mut command = Command::new(self.program());
        if self == Engine::Buildah {
            command.args(["--storage-driver", "vfs"]);
        }
        command
    }

    /// Whether the engine can build here: docker needs its daemon (`docker info`), the others
    /// only their command; why not when it cannot.
    fn probe(self) -> Result<(), String> {
        let probe = if self == Engine::Docker {
            "info"
        } else {
            "version"
        };
        let mut command = self.command();
        command.arg(probe);
        crate::procs::output(&mut command).map(drop)
    }

    fn works(self) -> bool {
        self.probe().is_ok()
    }

    /// The full id of the image `tag` names, if any.
    fn image_id(self, tag: &str) -> Option<String> {
        let mut images = self.command();
        images.args(["images", "--quiet", "--no-trunc", tag]);
        let printed = crate::procs::output(&mut images).ok()?;
        printed
            .lines()
            .next()
            .map(str::to_owned)
            .filter(|id| !id.is_empty())
    }

    /// The image's size in bytes: its layers unpacked, as `docker images` counts them (for
    /// buildah, the layers and the config its stored manifest lists).
    fn image_size(self, tag: &str) -> Result<u64, String> {
        let mut command = self.command();
        command.args(["image", "inspect", tag]);
        if self == Engine::Buildah {
            command = self.command();
            command.args(["inspect", "--type", "image", tag]);
        }
        let printed = crate::procs::output(&mut command)?;
        let parsed: Value = serde_json::from_str(&printed)
            .map_err(|e| format!("{self} printed no JSON about {tag}: {e}"))?;
        let size = match self {
            Engine::Docker | Engine::Podman => parsed[0]["Size"].as_u64(),
            Engine::Buildah => parsed["Manifest"].as_str().and_then(manifest_size),
        };
        size.ok_or_else(|| format!("{self} reported no size for {tag}"))
    }
}

/// The bytes a Docker or OCI manifest lists: its config and every layer.
fn manifest_size(manifest: &str) -> Option<u64> {
    let manifest: Value = serde_json::from_str(manifest).ok()?;
    let layers = manifest["layers"].as_array()?.iter();
    let layers: Option<u64> = layers.map(|layer| layer["size"].as_u64()).sum();
    Some(layers? + manifest["config"]["size"].as_u64()?)
}

/// What `build` made.
#[derive(Debug)]
struct Built {
    engine: Engine,
    tag: String,
    image_bytes: u64,
    binary_bytes: u64,
}

impl fmt::Display for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): image {}, static binary {}",
            self.tag,
            self.engine,
            mib(self.image_bytes),
            mib(self.binary_bytes)
        )
    }
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    if args.check {
        let checked = ci_check()?;
        println!("\n== image ==\n{checked}");
        return Ok(());
    }
    let engine = match args.engine {
        Some(engine) => match engine.probe() {
            Ok(()) => engine,
            Err(e) => {
                return Err(format!(
                    "{engine} does not work here ({e}): {}",
                    install_hint()
                ));
            }
        },
        None => ENGINES
            .into_iter()
            .find(|engine| engine.works())
            .ok_or_else(|| format!("no container engine found: {}", install_hint()))?,
    };
    let relay = Relay {
        package: args.package.as_deref().unwrap_or(DEFAULT_PACKAGE),
        bin: args.bin.as_deref().unwrap_or(DEFAULT_BIN),
    };
    let tag = args
        .tag
        .clone()
        .unwrap_or_else(|| default_tag(relay.package));
    let built = build(engine, &tag, relay, Release::Shipped)?;
    println!("\n== image ==\n{built}");
    let runner = match engine {
        Engine::Buildah => "docker",
        engine => engine.program(),
    };
    if engine == Engine::Buildah {
        println!(
            "buildah keeps it in its own store: `buildah push {tag} docker-daemon:{tag}` hands it \
             to Docker, `buildah push {tag} docker://<registry>/{tag}` to a registry"
        );
    }
    println!("run it: `{runner} run -e SECRET_KEY=... -p 8080:8080 {tag}` (deploy/README.md)");
    Ok(())
}

/// The CI step: builds with buildah (missing is a failure, not a skip) from CI's release build
/// ([`Release::Ci`]), then runs the image and asks it (`testkit check-image`); the summary line
/// on success.
pub(crate) fn ci_check() -> Result<String, String> {
    let engine = Engine::Buildah;
    if let Err(e) = engine.probe() {
        return Err(format!(
            "buildah does not work here ({e}): `apt-get install buildah` (.ci/run installs it)"
        ));
    }
    let bin = crate::target_dir()?.join(TARGET).join("release");
    let testkit = crate::testkit::build(false)?;
    let mut found = Vec::new();
    for (relay, upstream, mount) in [
        (
            Relay {
                package: DEFAULT_PACKAGE,
                bin: DEFAULT_BIN,
            },
            "signals",
            None,
        ),
        (
            Relay {
                package: "xdr-relay-abuseipdb",
                bin: "abuseipdb-relay",
            },
            "abuseipdb",
            None,
        ),
        // The suite, its AbuseIPDB mount asked.
        (
            Relay {
                package: "xdr-relay-suite",
                bin: "xdr-relays",
            },
            "abuseipdb",
            Some("abuseipdb"),
        ),
        (
            Relay {
                package: "xdr-relay-otx",
                bin: "otx-relay",
            },
            "otx",
            None,
        ),
        (
            Relay {
                package: "xdr-relay-urlscan",
                bin: "urlscan-relay",
            },
            "urlscan",
            None,
        ),
    ] {
        // Its own tag: CI's unoptimised build never takes the name of the image users ship.
        let tag = format!("{}-ci", default_tag(relay.package));
        let built = build(engine, &tag, relay, Release::Ci)?;
        let user = format!("{USER_ID}:{USER_ID}");
        let mut words: Vec<std::ffi::OsString> = ["check-image", "--tag", &tag, "--user", &user]
            .into_iter()
            .chain(["--version", VERSION, "--upstream", upstream, "--relay-bin"])
            .map(Into::into)
            .collect();
        words.push(bin.join(relay.bin).into_os_string());
        if let Some(mount) = mount {
            words.extend(["--mount".into(), mount.into()]);
        }
        if let Some(package) = match upstream {
            "abuseipdb" => Some("xdr-relay-abuseipdb"),
            "otx" => Some("xdr-relay-otx"),
            "urlscan" => Some("xdr-relay-urlscan"),
            _ => None,
        } {
            // The relay's stand-in: its `standin` example, a process.
            let examples = crate::procs::build(false, &["-p", package, "--example", "standin"])?;
            words.push("--standin".into());
            words.push(examples.join("examples").join("standin").into_os_string());
        }
        let checked = crate::testkit::run(&testkit, &words)?;
        found.push(format!("{built}; {checked}"));
    }
    Ok(found.join("\n"))
}

fn default_tag(package: &str) -> String {
    format!("{package}:{VERSION}")
}

/// The relay an image holds: the package and the binary (a `main_for` command) to build.
#[derive(Debug, Clone, Copy)]
struct Relay<'a> {
    package: &'a str,
    bin: &'a str,
}

fn install_hint() -> String {
    let engines = ENGINES.map(Engine::program).join(", ");
    format!(
        "install one of {engines} (Debian and Ubuntu: `apt-get install buildah`, which needs no \
         daemon), or start the Docker daemon"
    )
}

/// The static binary, the context, the image; `engine` is known to work.
fn build(engine: Engine, tag: &str, relay: Relay<'_>, release: Release) -> Result<Built, String> {
    let binary = static_binary(relay, release)?;
    let binary_bytes = std::fs::metadata(&binary)
        .map_err(|e| format!("cannot read {}: {e}", binary.display()))?
        .len();
    let context = context(&binary, relay.bin)?;
    println!("\n== image: {engine} build {tag} ==");
    let mut command = engine.command();
    command.arg("build");
    if engine != Engine::Docker {
        // OCI, these engines' default, has no HEALTHCHECK; Docker's format keeps it.
        command.args(["--format", "docker"]);
    }
    if engine == Engine::Buildah {
        // Without a daemon, as root or in a user namespace; the Containerfile runs nothing.
        command.args(["--isolation", "chroot"]);
    }
    command
        .args(["--build-arg", &format!("VERSION={VERSION}")])
        .args(["--build-arg", &format!("PACKAGE={}", relay.package)])
        .args(["--build-arg", &format!("BIN={}", relay.bin)])
        .args(["--tag", tag, "--file"])
        .arg(context.join("Containerfile"))
        .arg(&context);
    let previous = engine.image_id(tag);
    crate::procs::status(&mut command)?;
    // The image this tag named before is now untagged: removed, so that builds do not pile
    // up in the engine's store (kept when a container still uses it).
    if let Some(previous) = previous.filter(|id| engine.image_id(tag).as_ref() != Some(id)) {
        let mut rmi = engine.command();
        let _ = crate::procs::output(rmi.args(["rmi", &previous]));
    }
    let image_bytes = engine.image_size(tag)?;
    Ok(Built {
        engine,
        tag: tag.to_owned(),
        image_bytes,
        binary_bytes,
    })
}

/// Builds the relay's musl release binary and checks it is static; its path.
fn static_binary(relay: Relay<'_>, release: Release) -> Result<PathBuf, String> {
    check_toolchain()?;
    let Relay { package, bin } = relay;
    println!("\n== image: cargo build --release --target {TARGET} -p {package} --bin {bin} ==");
    let build = [
        "build",
        "--release",
        "--locked",
        "--target",
        TARGET,
        "-p",
        package,
        "--bin",
        bin,
    ];
    crate::procs::cargo_with(&build, None, release.env())?;
    let binary = crate::target_dir()?.join(TARGET).join("release").join(bin);
    let data =
        std::fs::read(&binary).map_err(|e| format!("cannot read {}: {e}", binary.display()))?;
    check_static(&data, elf::EM_X86_64).map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(binary)
}

/// The musl target's standard library (rustup) and a musl C compiler (for aws-lc-sys and
/// libmimalloc-sys), each with what to install when missing.
fn check_toolchain() -> Result<(), String> {
    let mut rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    let sysroot = crate::procs::output(rustc.args(["--print", "sysroot"]))?;
    let std_lib = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib");
    if !std_lib.is_dir() {
        return Err(format!(
            "the {TARGET} target is not installed: `rustup target add {TARGET}`"
        ));
    }
    // What the `cc` crate looks for, in its order, unless CC_<target> names a compiler.
    let compilers = ["x86_64-linux-musl-gcc", "musl-gcc"];
    let chosen = std::env::var_os("CC_x86_64_unknown_linux_musl").is_some();
    if !chosen && !compilers.iter().any(|c| on_path(c)) {
        return Err(format!(
            "no musl C compiler ({}) for aws-lc-sys and mimalloc: `apt-get install musl-tools` \
             (Debian, Ubuntu), or set CC_x86_64_unknown_linux_musl",
            compilers.join(" or ")
        ));
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A static 64-bit ELF executable for `machine`: no interpreter (`PT_INTERP`), no shared
/// library needed (`DT_NEEDED`); a static PIE's own `PT_DYNAMIC` (relocations only) is fine.
fn check_static(data: &[u8], machine: elf::Machine) -> Result<(), String> {
    let fail = crate::lambda::not_elf;
    let (header, endian) = crate::lambda::elf_header(data, machine)?;
    for segment in header.program_headers(endian, data).map_err(fail)? {
        if segment.p_type(endian) == elf::PT_INTERP {
            return Err("has an ELF interpreter: dynamically linked, not static".into());
        }
        let entries = segment.dynamic(endian, data).map_err(fail)?;
        if entries.is_some_and(|e| e.iter().any(|d| d.tag(endian) == elf::DT_NEEDED)) {
            return Err("needs shared libraries (DT_NEEDED): not static".into());
        }
    }
    Ok(())
}

/// `<target dir>/image/context`, made afresh: what the Containerfile copies (the binary under
/// its own name `bin`, which the build argument `BIN` names).
fn context(binary: &Path, bin: &str) -> Result<PathBuf, String> {
    let context = crate::target_dir()?.join("image").join("context");
    let shown = context.display();
    if context.exists() {
        std::fs::remove_dir_all(&context).map_err(|e| format!("cannot clear {shown}: {e}"))?;
    }
    std::fs::create_dir_all(&context).map_err(|e| format!("cannot create {shown}: {e}"))?;
    let containerfile = crate::workspace_root()?.join("deploy/container/Containerfile");
    copy(&containerfile, &context.join("Containerfile"))?;
    copy(binary, &context.join(bin))?;
    let bundle = std::fs::read_to_string(CA_BUNDLE).map_err(|e| {
        format!(
            "cannot read the CA bundle {CA_BUNDLE} ({e}): `apt-get install ca-certificates` \
             (Debian, Ubuntu)"
        )
    })?;
    if !bundle.contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("{CA_BUNDLE} holds no PEM certificate"));
    }
    write(&context.join("ca-certificates.crt"), &bundle)?;
    let (passwd, group) = accounts();
    write(&context.join("passwd"), &passwd)?;
    write(&context.join("group"), &group)?;
    Ok(context)
}

/// `/etc/passwd` and `/etc/group` of the image: root (whose files these are) and `relay`, the
/// user the relay runs as. No home, no shell: the image has neither.
fn accounts() -> (String, String) {
    let id = USER_ID;
    let passwd =
        format!("root:x:0:0:root:/:/sbin/nologin\nrelay:x:{id}:{id}:relay:/:/sbin/nologin\n");
    let group = format!("root:x:0:\nrelay:x:{id}:\n");
    (passwd, group)
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB ({bytes} B)", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_dynamically_linked_test_binary_is_not_static() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let machine = if cfg!(target_arch = "x86_64") {
            elf::EM_X86_64
        } else {
            elf::EM_AARCH64
        };
        if cfg!(target_env = "gnu") {
            let error = check_static(&me, machine).unwrap_err();
            assert!(error.contains("not static"), "{error}");
        }
        let other = if machine == elf::EM_X86_64 {
            elf::EM_AARCH64
        } else {
            elf::EM_X86_64
        };
        assert!(
            check_static(&me, other)
                .unwrap_err()
                .contains("ELF machine")
        );
        let script = check_static(b"#!/bin/sh\n", machine).unwrap_err();
        assert!(script.contains("not a 64-bit ELF"), "{script}");
    }

    #[test]
    fn a_manifest_size_counts_the_config_and_every_layer() {
        let manifest = r#"{"schemaVersion":2,"config":{"size":3906},
            "layers":[{"size":8881664},{"size":10}]}"#;
        assert_eq!(manifest_size(manifest), Some(3906 + 8_881_664 + 10));
        assert_eq!(manifest_size(r#"{"layers":[{"size":"big"}]}"#), None);
        assert_eq!(manifest_size("not json"), None);
    }

    #[test]
    fn the_accounts_name_the_user_of_the_containerfile() {
        let (passwd, group) = accounts();
        let containerfile = include_str!("../../deploy/container/Containerfile");
        assert!(containerfile.contains(&format!("\nUSER {USER_ID}:{USER_ID}\n")));
        assert!(passwd.contains(&format!("\nrelay:x:{USER_ID}:{USER_ID}:")));
        assert!(group.contains(&format!("\nrelay:x:{USER_ID}:\n")));
        assert!(passwd.ends_with('\n') && group.ends_with('\n'));
    }
}
