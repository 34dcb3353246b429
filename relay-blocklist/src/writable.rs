//! The writable list: adding an address to a list file, atomically, for the response action.
//!
//! The file is never written in place: the new text goes to a temporary file in the same
//! folder (so the rename stays on one file system), which is synced and renamed over the list;
//! then the folder is synced, so the rename itself survives a crash. A reader (a reload, an
//! editor, `cat`) sees the old file or the new one, never half of one. The new text is parsed
//! before anything is written: a file that no longer parses is left as it was.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use xdr_relay_core::ctim_model::Timestamp;

use crate::blocklist::{Blocklist, LoadError, name_of};

/// Why an address could not be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// The file is not one of the relay's lists.
    #[error("{0}: not one of the relay's lists (BLOCKLIST_FILES)")]
    NotAList(String),
    /// The file cannot be read, or does not parse (it is left as it was).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The new file cannot be written or put in place (the list is left as it was).
    #[error("{path}: cannot write the list: {source}")]
    Write {
        /// The file written (the temporary file, or the list).
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The addition was interrupted (its task panicked or was cancelled).
    #[error("the addition was interrupted")]
    Interrupted,
}

/// What an addition did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The list's name.
    pub list: String,
    /// Whether the address is new to the file (`false`: it was there already, nothing was
    /// written).
    pub new: bool,
}

/// Appends `ip` to the list file `path` (a line `ip # added through Cisco XDR, <now>`) unless
/// the list already holds it, and returns the list as the file now has it.
pub(crate) fn append(
    path: &Path,
    ip: IpAddr,
    now: Timestamp,
) -> Result<(Blocklist, Added), AddError> {
    let origin = path.display().to_string();
    let name = name_of(path);
    let mut text = fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: origin.clone(),
        source,
    })?;
    let list = Blocklist::parse(&name, &origin, &text)?;
    if list.contains(ip) {
        let added = Added {
            list: name,
            new: false,
        };
        return Ok((list, added));
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = writeln!(text, "{ip} # added through Cisco XDR, {now}");
    let list = Blocklist::parse(&name, &origin, &text)?;
    replace(path, text.as_bytes())?;
    let added = Added {
        list: list.name.clone(),
        new: true,
    };
    Ok((list, added))
}

/// Replaces the file at `path` with `bytes`, atomically (see the module's docs), keeping its
/// permissions. A symbolic link is followed: the file it names is replaced.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), AddError> {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let folder = target
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let temporary = folder.join(temporary_name(&target));
    let written = write_synced(&temporary, bytes, &target).and_then(|()| {
        fs::rename(&temporary, &target).map_err(|source| AddError::Write {
            path: target.display().to_string(),
            source,
        })
    });
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
        return written;
    }
    // The rename is in the folder's entries: sync them too (not possible everywhere, e.g. on
    // Windows, where the rename is already durable enough for this).
    if let Ok(folder) = File::open(&folder) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// `.<file>.<pid>.<n>.tmp`: hidden, and unique in this process and among processes.
fn temporary_name(target: &Path) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let file = target
        .file_name()
        .map_or_else(|| "list".into(), |name| name.to_string_lossy());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(".{file}.{}.{n}.tmp", std::process::id())
}

/// Writes `bytes` to a new file at `path` with the permissions of `like`, and syncs it.
fn write_synced(path: &Path, bytes: &[u8], like: &Path) -> Result<(), AddError> {
    let error = |source| AddError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(error)?;
    if let Ok(metadata) = fs::metadata(like) {
        file.set_permissions(metadata.permissions())
            .map_err(error)?;
    }
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Folder(PathBuf);

    impl Folder {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("blocklist-writable-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn now() -> Timestamp {
        Timestamp::parse("2024-05-01T12:00:00Z").unwrap()
    }

    #[test]
    fn an_address_is_appended_once_and_nothing_else_is_left() {
        let folder = Folder::new("append");
        let path = folder.0.join("mine.netset");
        fs::write(&path, "# mine\n192.0.2.0/25").unwrap();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let (list, added) = append(&path, ip, now()).unwrap();
        assert_eq!(
            added,
            Added {
                list: "mine".into(),
                new: true
            }
        );
        assert!(list.contains(ip));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "# mine\n192.0.2.0/25\n198.51.100.7 # added through Cisco XDR, 2024-05-01T12:00:00.000Z\n"
        );
        // Again, or an address a network already holds: nothing is written.
        let before = fs::read_to_string(&path).unwrap();
        for again in ["198.51.100.7", "192.0.2.9"] {
            let (_, added) = append(&path, again.parse().unwrap(), now()).unwrap();
            assert!(!added.new, "{again}");
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), before);
        let v6: IpAddr = "2001:db8::7".parse().unwrap();
        let (list, _) = append(&path, v6, now()).unwrap();
        assert!(list.contains(v6) && list.entries == 3);
        assert_eq!(folder.entries(), ["mine.netset"]);
    }

    #[cfg(unix)]
    #[test]
    fn permissions_and_links_are_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let folder = Folder::new("links");
        let real = folder.0.join("real.txt");
        fs::write(&real, "192.0.2.1\n").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = folder.0.join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        append(&link, "192.0.2.2".parse().unwrap(), now()).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::read_to_string(&real).unwrap().contains("192.0.2.2 #"));
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(folder.entries(), ["link.txt", "real.txt"]);
    }

    #[test]
    fn a_file_that_does_not_parse_or_is_missing_is_left_alone() {
        let folder = Folder::new("bad");
        let path = folder.0.join("bad.netset");
        fs::write(&path, "192.0.2.1\nnot an address\n").unwrap();
        let error = append(&path, "198.51.100.1".parse().unwrap(), now()).unwrap_err();
        assert!(error.to_string().contains("bad.netset:2"), "{error}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "192.0.2.1\nnot an address\n"
        );
        let missing = folder.0.join("missing.netset");
        let error = append(&missing, "198.51.100.1".parse().unwrap(), now()).unwrap_err();
        assert!(
            error.to_string().contains("cannot read the list"),
            "{error}"
        );
        assert_eq!(folder.entries(), ["bad.netset"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_that_cannot_be_written_leaves_no_trace() {
        use std::os::unix::fs::PermissionsExt as _;
        let folder = Folder::new("readonly");
        let path = folder.0.join("ro.netset");
        fs::write(&path, "192.0.2.1\n").unwrap();
        fs::set_permissions(&folder.0, fs::Permissions::from_mode(0o500)).unwrap();
        let result = append(&path, "198.51.100.1".parse().unwrap(), now());
        fs::set_permissions(&folder.0, fs::Permissions::from_mode(0o700)).unwrap();
        // As root the folder stays writable: then the address is simply added.
        match result {
            Err(AddError::Write { .. }) => {
                assert_eq!(fs::read_to_string(&path).unwrap(), "192.0.2.1\n");
            }
            Ok((_, added)) => assert!(added.new),
            Err(other) => panic!("{other}"),
        }
        assert_eq!(folder.entries(), ["ro.netset"]);
    }
}
