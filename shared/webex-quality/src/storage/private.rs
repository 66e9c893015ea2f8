//! Files and folders only their owner can read: the data folder (tokens, the database), the
//! collector's and site-builder's working folders and what they create in them. Folders are made
//! `0700` and files `0600` on Unix, whatever the process's umask; elsewhere the platform's defaults
//! apply.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `path` and any missing parents, each new one readable by its owner only. A folder that
/// already exists keeps its permissions.
///
/// # Errors
/// The file system's.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(path)
    }
}

/// Options that create a file readable and writable by its owner only (the mode applies when the
/// file is created; add `create`, `truncate` and the rest as needed).
#[must_use]
pub fn file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates (or truncates) `path` for writing, readable by its owner only when it is new.
///
/// # Errors
/// The file system's.
pub fn create_file(path: &Path) -> io::Result<File> {
    file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// A new file in `dir` (created when missing) named `<stem>-<random><suffix>`, for reading and
/// writing, readable by its owner only. Where the system allows it (Unix), its name is removed as
/// soon as it is open: the process keeps using it, and one that crashes or is stopped (a Lambda
/// timeout, where `/tmp` outlives the invocation) leaves nothing behind. Returns the file and its
/// name while it has one (to remove when done with it, elsewhere).
///
/// # Errors
/// The file system's.
pub fn create_nameless(
    dir: &Path,
    (stem, suffix): (&str, &str),
) -> io::Result<(File, Option<std::path::PathBuf>)> {
    create_dir_all(dir)?;
    let path = dir.join(format!("{stem}-{}{suffix}", uuid::Uuid::new_v4().simple()));
    let file = file_options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    if cfg!(unix) {
        std::fs::remove_file(&path)?;
        return Ok((file, None));
    }
    Ok((file, Some(path)))
}

/// Narrows an existing folder to its owner (`0700`) when others can read or enter it; says whether
/// it did. A folder owned by someone else (where `chmod` is refused) is left as it is.
///
/// # Errors
/// The file system's, other than a refused `chmod`.
pub fn narrow_dir(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 == 0 {
            return Ok(false);
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(false),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(false)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_the_owners_alone_whatever_the_umask() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("root");
        let nested = root.join("a").join("b");
        create_dir_all(&nested).unwrap();
        for folder in [&root, &root.join("a"), &nested] {
            assert_eq!(mode(folder), 0o700, "{}", folder.display());
        }
        let file = nested.join("tokens.json");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);

        let open = root.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(narrow_dir(&open).unwrap());
        assert_eq!(mode(&open), 0o700);
        assert!(!narrow_dir(&open).unwrap(), "already narrow");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
