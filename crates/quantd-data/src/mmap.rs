//! Memory-mapping of pack files: the one place quantd-data uses `unsafe`.

use crate::error::{DataError, Result};
use arrow_buffer::Buffer;
use std::path::Path;

/// Maps a file read-only and wraps the mapping in an Arrow [`Buffer`] that keeps it alive.
pub fn map_file(path: &Path) -> Result<Buffer> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io("opening", path, e))?;
    // SAFETY: a mapping is only sound while nobody truncates or rewrites the file. Pack files are
    // immutable by construction: they are written under a temporary name, fsynced, renamed into
    // `packs/<id>/` and never opened for writing again; a pack is only ever deleted as a whole
    // directory, and on Linux unlinking keeps mapped pages valid until the mapping is dropped.
    #[allow(unsafe_code)]
    let map =
        unsafe { memmap2::Mmap::map(&file) }.map_err(|e| DataError::io("mapping", path, e))?;
    Ok(Buffer::from(bytes::Bytes::from_owner(map)))
}
