//! `cargo xtask lambda [--arm64]`: the Lambda zips of the relay and of the Socless tutorial
//! endpoint, built for Amazon Linux 2023 (`provided.al2023`) and checked before anyone deploys.
//!
//! The build is `cargo lambda build --release --output-format zip` (cargo-lambda from PyPI,
//! which brings zig: it links against an old glibc without Docker). Each zip lands at
//! `<workspace>/target/lambda/<function>/bootstrap.zip`, the fixed path that
//! `deploy/relay/template.yaml` and `deploy/socless/serverless.yml` point at, also when
//! `CARGO_TARGET_DIR` moves the compiler's output elsewhere.
//!
//! Then, for each function:
//! - the zip must hold exactly one file, an executable `bootstrap`, whose CRC-32 and size are
//!   those of the binary cargo built (so the checks below are about what gets deployed);
//! - the binary's ELF machine must match the architecture asked for;
//! - the highest `GLIBC_x.y` version it needs, read from its version-needed entries
//!   (`.gnu.version_r`, what `readelf -V` shows), must be at most 2.34, AL2023's glibc.
//!   The ELF is parsed here in safe Rust rather than with binutils, so the check runs on a
//!   machine with only the Rust toolchain and Python.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Amazon Linux 2023's glibc: a binary that needs more does not start on `provided.al2023`.
const MAX_GLIBC: GlibcVersion = GlibcVersion(2, 34);

/// The cargo profile the zips are built with: the workspace's size-minded `release` (LTO, one
/// codegen unit, stripped, panic=abort) at opt-level 3. "z"/"s" make the relay's zip a third
/// smaller, which Lambda neither bills nor much notices; deploy/README.md has the numbers.
const PROFILE: &str = "release";

/// One Lambda function: which cargo target it is and the folder its zip goes to.
struct Function {
    /// The folder under `target/lambda/` (cargo-lambda names it after the binary).
    name: &'static str,
    package: &'static str,
    kind: TargetKind,
}

#[derive(Clone, Copy)]
enum TargetKind {
    Bin,
    Example,
}

const FUNCTIONS: [Function; 2] = [
    Function {
        name: "relay-lambda",
        package: "xdr-relay-lambda",
        kind: TargetKind::Bin,
    },
    Function {
        name: "tutorial_endpoint",
        package: "socless-events",
        kind: TargetKind::Example,
    },
];

/// The CPU the zips are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The ELF `e_machine` of binaries for this CPU.
    fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Arm64 => 183,
        }
    }

    /// The name the SAM template's `Architecture` parameter uses.
    fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// What one build produced and what the checks found.
#[derive(Debug)]
pub(crate) struct Packaged {
    name: &'static str,
    zip: PathBuf,
    zip_bytes: u64,
    binary_bytes: u64,
    glibc: GlibcVersion,
}

impl fmt::Display for Packaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}\n  zip {}, bootstrap {}, needs GLIBC_{} (AL2023 has {MAX_GLIBC})",
            self.name,
            self.zip.display(),
            human_size(self.zip_bytes),
            human_size(self.binary_bytes),
            self.glibc,
        )
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let arch = parse_args(args)?;
    let packaged = build_and_check(arch)?;
    println!("\n== lambda zips ({}) ==", arch.lambda_name());
    for p in &packaged {
        println!("{p}");
    }
    Ok(())
}

/// The CI step: builds both x86_64 zips and checks them; the summary line on success.
pub(crate) fn ci_check() -> Result<String, String> {
    let packaged = build_and_check(Arch::X86_64)?;
    Ok(packaged
        .iter()
        .map(|p| format!("{} {} GLIBC_{}", p.name, human_size(p.zip_bytes), p.glibc))
        .collect::<Vec<_>>()
        .join(", "))
}

fn parse_args(args: &[String]) -> Result<Arch, String> {
    match args {
        [] => Ok(Arch::X86_64),
        [flag] if flag == "--arm64" => Ok(Arch::Arm64),
        _ => Err(format!(
            "`lambda` takes only `--arm64` (got `{}`)",
            args.join(" ")
        )),
    }
}

fn build_and_check(arch: Arch) -> Result<Vec<Packaged>, String> {
    // cargo-lambda and zig come from PyPI: run cargo with the tools' environment on PATH.
    let path = crate::tools::ensure(&[crate::tools::Tool::CargoLambda])?.path;
    ensure_cargo_lambda(&path)?;
    let lambda_dir = lambda_dir(&crate::workspace_root()?);
    let mut packaged = Vec::new();
    for function in &FUNCTIONS {
        build(function, arch, &lambda_dir, &path)?;
        packaged.push(check(function, arch, &lambda_dir)?);
    }
    Ok(packaged)
}

/// Where the zips go: `<workspace>/target/lambda`, the deployment files' fixed path.
pub(crate) fn lambda_dir(workspace_root: &Path) -> PathBuf {
    workspace_root.join("target").join("lambda")
}

fn ensure_cargo_lambda(path: &std::ffi::OsStr) -> Result<(), String> {
    let works = crate::cargo_command()
        .args(["lambda", "--version"])
        .env("PATH", path)
        .output()
        .is_ok_and(|out| out.status.success());
    if works {
        Ok(())
    } else {
        Err(
            "`cargo lambda --version` failed although cargo-lambda is installed in the tools' \
             environment: remove <target dir>/py-tools to reinstall it"
                .to_owned(),
        )
    }
}

fn build(
    function: &Function,
    arch: Arch,
    lambda_dir: &Path,
    path: &std::ffi::OsStr,
) -> Result<(), String> {
    let mut command = crate::cargo_command();
    command
        .env("PATH", path)
        // `--release` rather than `--profile release`: only then does cargo-lambda add its
        // release flags (`-C target-cpu=haswell` on x86_64, which every Lambda CPU has).
        .args(["lambda", "build", "--release", "--output-format", "zip"])
        .arg("--lambda-dir")
        .arg(lambda_dir)
        .args(["--target", arch.triple(), "--package", function.package]);
    match function.kind {
        TargetKind::Bin => command.args(["--bin", function.name]),
        TargetKind::Example => command.args(["--example", function.name]),
    };
    println!(
        "\n== lambda: cargo lambda build {} ({}) ==",
        function.name,
        arch.triple()
    );
    let started = Instant::now();
    run_status(&mut command)?;
    println!(
        "built {} in {:.1}s",
        function.name,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_status(command: &mut Command) -> Result<(), String> {
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{command:?}` failed ({status})")),
        Err(e) => Err(format!("could not start `{command:?}`: {e}")),
    }
}

/// Where cargo left the binary that went into the zip.
fn binary_path(function: &Function, arch: Arch) -> Result<PathBuf, String> {
    let dir = crate::target_dir()?.join(arch.triple()).join(PROFILE);
    Ok(match function.kind {
        TargetKind::Bin => dir.join(function.name),
        TargetKind::Example => dir.join("examples").join(function.name),
    })
}

fn check(function: &Function, arch: Arch, lambda_dir: &Path) -> Result<Packaged, String> {
    let zip = lambda_dir.join(function.name).join("bootstrap.zip");
    let zip_data = read(&zip)?;
    let entry = bootstrap_entry(&zip_data).map_err(|e| format!("{}: {e}", zip.display()))?;
    let binary = binary_path(function, arch)?;
    let binary_data = read(&binary)?;
    if entry.size != binary_data.len() as u64 || entry.crc32 != crc32(&binary_data) {
        return Err(format!(
            "{}: its bootstrap is not {} (size or CRC-32 differ): stale build?",
            zip.display(),
            binary.display()
        ));
    }
    let elf = Elf::parse(&binary_data).map_err(|e| format!("{}: {e}", binary.display()))?;
    if elf.machine != arch.elf_machine() {
        return Err(format!(
            "{}: ELF machine {} is not {}",
            binary.display(),
            elf.machine,
            arch.lambda_name()
        ));
    }
    let glibc = max_allowed_glibc(&elf).map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(Packaged {
        name: function.name,
        zip,
        zip_bytes: zip_data.len() as u64,
        binary_bytes: binary_data.len() as u64,
        glibc,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Checks a built Lambda binary (an ELF file) for AL2023: returns its highest `GLIBC_`
/// version need, e.g. `GLIBC_2.28`, or an error when it needs more than 2.34 or is not a
/// dynamically linked 64-bit little-endian ELF.
#[cfg(test)]
pub(crate) fn check_glibc(binary: &Path) -> Result<String, String> {
    let data = read(binary)?;
    let elf = Elf::parse(&data).map_err(|e| format!("{}: {e}", binary.display()))?;
    max_allowed_glibc(&elf)
        .map(|v| format!("GLIBC_{v}"))
        .map_err(|e| format!("{}: {e}", binary.display()))
}

fn max_allowed_glibc(elf: &Elf) -> Result<GlibcVersion, String> {
    let highest = elf.highest_glibc().ok_or_else(|| {
        "needs no GLIBC_ version: not a glibc binary, not what cargo-lambda builds".to_owned()
    })?;
    if highest > MAX_GLIBC {
        return Err(format!(
            "needs GLIBC_{highest}, Amazon Linux 2023 has {MAX_GLIBC}: build with cargo-lambda (zig) rather than plain cargo"
        ));
    }
    Ok(highest)
}

fn human_size(bytes: u64) -> String {
    // Exact below 2^53 bytes, far above any Lambda zip.
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.2} MiB ({bytes} B)")
}

/// A glibc symbol version: `GLIBC_2.34` is `(2, 34)`; `GLIBC_2.2.5` compares as `(2, 2)`
/// plus a patch level that no glibc check needs, since 2.2.5 < 2.3 either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GlibcVersion(u32, u32);

impl GlibcVersion {
    /// `GLIBC_2.34` → `(2, 34)`; other names (`GLIBC_PRIVATE`, `GCC_3.0`) → `None`.
    fn parse(name: &str) -> Option<Self> {
        let mut parts = name.strip_prefix("GLIBC_")?.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Self(major, minor))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

// ---- ELF: just enough of the 64-bit little-endian format to read version needs ----

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

/// The parts of an ELF file the checks need.
#[derive(Debug, PartialEq, Eq)]
struct Elf {
    machine: u16,
    /// `(library, version)` pairs from `.gnu.version_r`, e.g. `("libc.so.6", "GLIBC_2.34")`.
    version_needs: Vec<(String, String)>,
}

impl Elf {
    fn parse(data: &[u8]) -> Result<Self, String> {
        if data.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err("not an ELF file".into());
        }
        if data.get(4..6) != Some([2, 1].as_slice()) {
            return Err("not a 64-bit little-endian ELF file".into());
        }
        let machine = u16_at(data, 0, 18)?;
        let section_offset = u64_at(data, 0, 0x28)?;
        let section_size = u64::from(u16_at(data, 0, 0x3a)?);
        let sections = u16_at(data, 0, 0x3c)?;
        let section = |index: u64| -> Result<Section, String> {
            let at = index
                .checked_mul(section_size)
                .and_then(|o| o.checked_add(section_offset))
                .ok_or("section header offset overflows")?;
            Section::read(data, at)
        };
        let mut version_needs = Vec::new();
        for index in 0..u64::from(sections) {
            let header = section(index)?;
            if header.kind == SHT_GNU_VERNEED {
                let strings = section(u64::from(header.link))?;
                read_version_needs(data, &header, &strings, &mut version_needs)?;
            }
        }
        Ok(Self {
            machine,
            version_needs,
        })
    }

    fn highest_glibc(&self) -> Option<GlibcVersion> {
        self.version_needs
            .iter()
            .filter_map(|(_, version)| GlibcVersion::parse(version))
            .max()
    }
}

/// A section header: only the fields used here.
struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    /// For `.gnu.version_r`: how many `Elf64_Verneed` entries it has.
    info: u32,
}

impl Section {
    fn read(data: &[u8], at: u64) -> Result<Self, String> {
        Ok(Self {
            kind: u32_at(data, at, 4)?,
            offset: u64_at(data, at, 24)?,
            size: u64_at(data, at, 32)?,
            link: u32_at(data, at, 40)?,
            info: u32_at(data, at, 44)?,
        })
    }

    /// The NUL-terminated string at `index` in this string table.
    fn string(&self, data: &[u8], index: u32) -> Result<String, String> {
        if u64::from(index) >= self.size {
            return Err(format!("string index {index} is past its table"));
        }
        let start = to_usize(offset(self.offset, u64::from(index))?)?;
        let end = to_usize(offset(self.offset, self.size)?)?;
        let bytes = data
            .get(start..end)
            .ok_or("string table is past the file")?;
        let string = bytes
            .split(|&b| b == 0)
            .next()
            .filter(|s| s.len() < bytes.len())
            .ok_or("unterminated string")?;
        Ok(String::from_utf8_lossy(string).into_owned())
    }
}

/// Walks the `Elf64_Verneed` list (one per library) and each one's `Elf64_Vernaux` list (one
/// per version needed), bounded by the counts the file declares so a loop cannot cycle.
fn read_version_needs(
    data: &[u8],
    needs: &Section,
    strings: &Section,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    let mut need_at = needs.offset;
    for _ in 0..needs.info {
        let count = u16_at(data, need_at, 2)?;
        let library = strings.string(data, u32_at(data, need_at, 4)?)?;
        let mut aux_at = offset(need_at, u64::from(u32_at(data, need_at, 8)?))?;
        for _ in 0..count {
            let version = strings.string(data, u32_at(data, aux_at, 8)?)?;
            out.push((library.clone(), version));
            aux_at = offset(aux_at, u64::from(u32_at(data, aux_at, 12)?))?;
        }
        let next = u32_at(data, need_at, 12)?;
        if next == 0 {
            break;
        }
        need_at = offset(need_at, u64::from(next))?;
    }
    Ok(())
}

/// `base + delta`, or an error for offsets no real file has.
fn offset(base: u64, delta: u64) -> Result<u64, String> {
    base.checked_add(delta)
        .ok_or_else(|| format!("offset {base} + {delta} overflows"))
}

fn to_usize(value: u64) -> Result<usize, String> {
    usize::try_from(value).map_err(|_| format!("offset {value} does not fit in memory"))
}

/// The `N` bytes at `base + delta`.
fn bytes_at<const N: usize>(data: &[u8], base: u64, delta: u64) -> Result<[u8; N], String> {
    let start = to_usize(offset(base, delta)?)?;
    start
        .checked_add(N)
        .and_then(|end| data.get(start..end))
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("truncated file: {N} bytes at offset {start} are missing"))
}

fn u16_at(data: &[u8], base: u64, delta: u64) -> Result<u16, String> {
    bytes_at(data, base, delta).map(u16::from_le_bytes)
}

fn u32_at(data: &[u8], base: u64, delta: u64) -> Result<u32, String> {
    bytes_at(data, base, delta).map(u32::from_le_bytes)
}

fn u64_at(data: &[u8], base: u64, delta: u64) -> Result<u64, String> {
    bytes_at(data, base, delta).map(u64::from_le_bytes)
}

// ---- zip: the central directory, enough to see what Lambda will unpack ----

/// The one file of a Lambda zip.
#[derive(Debug, PartialEq, Eq)]
struct ZipEntry {
    crc32: u32,
    size: u64,
}

/// The `bootstrap` entry of a Lambda zip, which must be its only file and executable.
fn bootstrap_entry(zip: &[u8]) -> Result<ZipEntry, String> {
    // The end-of-central-directory record is the last 22 bytes, unless a comment follows it.
    let end = (0..=zip.len().saturating_sub(22))
        .rev()
        .find(|&at| zip.get(at..at + 4) == Some(b"PK\x05\x06".as_slice()))
        .ok_or("not a zip file (no end of central directory)")?;
    let end = end as u64;
    let entries = u16_at(zip, end, 10)?;
    if entries != 1 {
        return Err(format!(
            "has {entries} entries; Lambda wants just `bootstrap`"
        ));
    }
    let at = u64::from(u32_at(zip, end, 16)?);
    if bytes_at::<4>(zip, at, 0)? != *b"PK\x01\x02" {
        return Err("central directory not found where the zip says".into());
    }
    let made_by_unix = u16_at(zip, at, 4)? >> 8 == 3;
    let name_len = usize::from(u16_at(zip, at, 28)?);
    let name_at = to_usize(offset(at, 46)?)?;
    let name = name_at
        .checked_add(name_len)
        .and_then(|end| zip.get(name_at..end))
        .ok_or("truncated zip entry name")?;
    if name != b"bootstrap" {
        return Err(format!(
            "its entry is `{}`, not `bootstrap` at the root",
            String::from_utf8_lossy(name)
        ));
    }
    let mode = u32_at(zip, at, 38)? >> 16;
    if !made_by_unix || mode & 0o111 == 0 {
        return Err(format!(
            "`bootstrap` is not executable (mode {mode:o}): Lambda could not start it"
        ));
    }
    Ok(ZipEntry {
        crc32: u32_at(zip, at, 16)?,
        size: u64::from(u32_at(zip, at, 24)?),
    })
}

/// CRC-32 (IEEE, as zip uses), bit by bit: a few milliseconds for a Lambda binary.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- builders of small, valid files, so every case says exactly what it changes ----

    /// A 64-bit little-endian ELF with a `.dynstr` and a `.gnu.version_r` listing `needs`
    /// (library → versions), as a linker writes them.
    fn elf(machine: u16, needs: &[(&str, &[&str])]) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut intern = |s: &str| {
            let at = strings.len() as u32;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            at
        };
        let mut verneed = Vec::new();
        for (i, (library, versions)) in needs.iter().enumerate() {
            let file = intern(library);
            let size = 16 + 16 * versions.len() as u32;
            let next = if i + 1 == needs.len() { 0 } else { size };
            verneed.extend_from_slice(&1u16.to_le_bytes());
            verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes());
            verneed.extend_from_slice(&file.to_le_bytes());
            verneed.extend_from_slice(&16u32.to_le_bytes());
            verneed.extend_from_slice(&next.to_le_bytes());
            for (j, version) in versions.iter().enumerate() {
                let name = intern(version);
                let next = if j + 1 == versions.len() { 0u32 } else { 16 };
                verneed.extend_from_slice(&0u32.to_le_bytes()); // hash: unused here
                verneed.extend_from_slice(&0u16.to_le_bytes());
                verneed.extend_from_slice(&0u16.to_le_bytes());
                verneed.extend_from_slice(&name.to_le_bytes());
                verneed.extend_from_slice(&next.to_le_bytes());
            }
        }
        let strings_at = 64u64;
        let verneed_at = strings_at + strings.len() as u64;
        let sections_at = verneed_at + verneed.len() as u64;
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[18..20].copy_from_slice(&machine.to_le_bytes());
        out[0x28..0x30].copy_from_slice(&sections_at.to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        out.extend_from_slice(&strings);
        out.extend_from_slice(&verneed);
        let section = |kind: u32, offset: u64, size: u64, link: u32, info: u32| {
            let mut s = vec![0u8; 64];
            s[4..8].copy_from_slice(&kind.to_le_bytes());
            s[24..32].copy_from_slice(&offset.to_le_bytes());
            s[32..40].copy_from_slice(&size.to_le_bytes());
            s[40..44].copy_from_slice(&link.to_le_bytes());
            s[44..48].copy_from_slice(&info.to_le_bytes());
            s
        };
        out.extend(section(0, 0, 0, 0, 0));
        out.extend(section(3, strings_at, strings.len() as u64, 0, 0));
        out.extend(section(
            SHT_GNU_VERNEED,
            verneed_at,
            verneed.len() as u64,
            1,
            needs.len() as u32,
        ));
        out
    }

    /// A zip of stored (uncompressed) files made on Unix with the given modes.
    fn zip(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, mode, data) in files {
            let at = out.len() as u32;
            let crc = crc32(data);
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 8]);
            central.extend_from_slice(&(mode << 16).to_le_bytes());
            central.extend_from_slice(&at.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let central_at = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&central_at.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    // ---- glibc versions ----

    fn check_version(name: &str, expected: Option<(u32, u32)>) {
        assert_eq!(
            GlibcVersion::parse(name),
            expected.map(|(a, b)| GlibcVersion(a, b)),
            "{name}"
        );
    }

    #[test]
    fn glibc_version_names() {
        check_version("GLIBC_2.34", Some((2, 34)));
        check_version("GLIBC_2.2.5", Some((2, 2)));
        check_version("GLIBC_2.3", Some((2, 3)));
        check_version("GLIBC_PRIVATE", None);
        check_version("GCC_3.0", None);
        check_version("GLIBC_2", None);
        check_version("", None);
        // Numeric, not lexical: 2.34 is above 2.4.
        assert!(GlibcVersion(2, 34) > GlibcVersion(2, 4));
    }

    // ---- ELF version needs ----

    fn check_highest(needs: &[(&str, &[&str])], expected: Result<&str, &str>) {
        let parsed = Elf::parse(&elf(62, needs)).unwrap();
        let got = max_allowed_glibc(&parsed).map(|v| v.to_string());
        match expected {
            Ok(version) => assert_eq!(got, Ok(version.to_owned()), "{needs:?}"),
            Err(fragment) => {
                let error = got.unwrap_err();
                assert!(error.contains(fragment), "{needs:?}: {error}");
            }
        }
    }

    #[test]
    fn highest_glibc_need_decides() {
        let libc = "libc.so.6";
        check_highest(&[(libc, &["GLIBC_2.2.5", "GLIBC_2.28"])], Ok("2.28"));
        check_highest(&[(libc, &["GLIBC_2.34"])], Ok("2.34"));
        check_highest(
            &[
                ("libgcc_s.so.1", &["GCC_3.0", "GCC_4.2.0"]),
                (libc, &["GLIBC_2.17", "GLIBC_2.3.4"]),
                ("libm.so.6", &["GLIBC_2.29"]),
            ],
            Ok("2.29"),
        );
        check_highest(&[(libc, &["GLIBC_2.2.5", "GLIBC_2.35"])], Err("GLIBC_2.35"));
        check_highest(
            &[(libc, &["GLIBC_2.39"])],
            Err("Amazon Linux 2023 has 2.34"),
        );
        check_highest(
            &[("libgcc_s.so.1", &["GCC_3.0"])],
            Err("not a glibc binary"),
        );
        check_highest(&[], Err("not a glibc binary"));
    }

    #[test]
    fn version_needs_keep_their_library() {
        let parsed = Elf::parse(&elf(
            183,
            &[
                ("libgcc_s.so.1", &["GCC_3.0"]),
                ("libc.so.6", &["GLIBC_2.17"]),
            ],
        ))
        .unwrap();
        assert_eq!(parsed.machine, 183);
        let pairs: Vec<(&str, &str)> = parsed
            .version_needs
            .iter()
            .map(|(l, v)| (l.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("libgcc_s.so.1", "GCC_3.0"), ("libc.so.6", "GLIBC_2.17")]
        );
    }

    fn check_not_parsed(data: &[u8], fragment: &str) {
        let error = Elf::parse(data).unwrap_err();
        assert!(error.contains(fragment), "{error}");
    }

    #[test]
    fn malformed_elf_files_are_errors_not_panics() {
        let good = elf(62, &[("libc.so.6", &["GLIBC_2.28"])]);
        check_not_parsed(b"", "not an ELF");
        check_not_parsed(b"#!/bin/sh\n", "not an ELF");
        let mut elf32 = good.clone();
        elf32[4] = 1;
        check_not_parsed(&elf32, "64-bit little-endian");
        check_not_parsed(&good[..40], "truncated");
        check_not_parsed(&good[..good.len() - 20], "truncated");
        // A string index past the string table.
        let mut bad_index = good.clone();
        let verneed_at = 64 + "\0libc.so.6\0GLIBC_2.28\0".len();
        bad_index[verneed_at + 4..verneed_at + 8].copy_from_slice(&999u32.to_le_bytes());
        check_not_parsed(&bad_index, "past its table");
        // A section header offset near u64::MAX must not overflow.
        let mut far = good;
        far[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Elf::parse(&far).is_err());
    }

    #[test]
    fn this_test_binary_needs_some_glibc() {
        // Built by the host toolchain for linux-gnu: it must show libc version needs.
        let me = std::env::current_exe().unwrap();
        let version = check_glibc(&me);
        match version {
            Ok(v) => assert!(v.starts_with("GLIBC_2."), "{v}"),
            // A host newer than AL2023 links this test binary against its own glibc.
            Err(e) => assert!(e.contains("Amazon Linux 2023 has 2.34"), "{e}"),
        }
    }

    // ---- zips ----

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    fn check_zip(files: &[(&str, u32, &[u8])], expected: Result<(), &str>) {
        let got = bootstrap_entry(&zip(files));
        match expected {
            Ok(()) => {
                let data = files[0].2;
                assert_eq!(
                    got,
                    Ok(ZipEntry {
                        crc32: crc32(data),
                        size: data.len() as u64
                    })
                );
            }
            Err(fragment) => {
                let error = got.unwrap_err();
                assert!(error.contains(fragment), "{files:?}: {error}");
            }
        }
    }

    #[test]
    fn a_lambda_zip_holds_one_executable_bootstrap() {
        let exe = 0o100_755;
        check_zip(&[("bootstrap", exe, b"\x7fELF...")], Ok(()));
        check_zip(&[("bootstrap", 0o100_700, b"x")], Ok(()));
        check_zip(&[("bootstrap", 0o100_644, b"x")], Err("not executable"));
        check_zip(&[("relay-lambda", exe, b"x")], Err("not `bootstrap`"));
        check_zip(&[("dir/bootstrap", exe, b"x")], Err("not `bootstrap`"));
        check_zip(
            &[("bootstrap", exe, b"x"), ("README", 0o100_644, b"y")],
            Err("2 entries"),
        );
        check_zip(&[], Err("0 entries"));
    }

    #[test]
    fn not_a_zip_is_an_error() {
        for data in [&b""[..], b"PK", b"not a zip at all, just text"] {
            let error = bootstrap_entry(data).unwrap_err();
            assert!(error.contains("not a zip"), "{error}");
        }
        let mut truncated = zip(&[("bootstrap", 0o100_755, b"x")]);
        truncated.drain(..10);
        assert!(bootstrap_entry(&truncated).is_err());
    }

    // ---- the command line ----

    #[test]
    fn arguments() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_args(&args(&[])), Ok(Arch::X86_64));
        assert_eq!(parse_args(&args(&["--arm64"])), Ok(Arch::Arm64));
        assert!(parse_args(&args(&["--arm"])).is_err());
        assert!(parse_args(&args(&["--arm64", "--arm64"])).is_err());
    }
}
