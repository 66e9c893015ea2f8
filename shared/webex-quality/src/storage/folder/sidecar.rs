//! The folder adapter's files on disk: each object's ETag in a sidecar file beside it, content
//! hashed as it is copied, and writes synced to the disk.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::super::ETag;

pub(super) fn etag_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    path.with_file_name(format!(".{name}.etag"))
}

/// The ETag of an object: its sidecar when it matches, else `None` when there is no object.
pub(super) fn read_etag(path: &Path) -> std::io::Result<Option<ETag>> {
    if !path.exists() {
        return Ok(None);
    }
    match fs::read_to_string(etag_path(path)) {
        Ok(text) => Ok(Some(ETag(text.trim().to_owned()))),
        // An object written by hand: hash it.
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Some(content_etag(&fs::read(path)?))),
        Err(e) => Err(e),
    }
}

/// The ETag of content: `"sha256:<hex>"`.
#[must_use]
pub fn content_etag(bytes: &[u8]) -> ETag {
    digest_etag(&Sha256::digest(bytes))
}

fn digest_etag(digest: &[u8]) -> ETag {
    ETag(format!("\"sha256:{}\"", hex::encode(digest)))
}

/// Copies `source` into the new file `output` (synced) in chunks, hashing as it goes: the ETag of
/// the content.
pub(super) fn copy_hashing(source: &Path, mut output: File) -> std::io::Result<ETag> {
    let mut input = File::open(source)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 256 * 1024];
    loop {
        let read = match std::io::Read::read(&mut input, &mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..read]);
        output.write_all(&buffer[..read])?;
    }
    output.sync_all()?;
    Ok(digest_etag(&hasher.finalize()))
}

pub(super) fn write_synced(mut file: File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

pub(super) fn sync_dir(folder: &Path) -> std::io::Result<()> {
    File::open(folder)?.sync_all()
}
