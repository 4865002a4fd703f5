//! Atomic writes: a temporary sibling, synced, renamed over the target.

use super::{ck, io_err};
use crate::error::Result;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically: to a temporary sibling, synced, then renamed over
/// `path` (and the directory synced), so `path` holds either its old content or all of
/// `bytes`, whatever happens (kill -9, a full disk).
///
/// The temporary is named `.<file name>.tmp-<pid>-<nanos>-<n>`: unique even when a later
/// process gets the PID of a killed one (PID 1 in every container), and retried under a
/// new name if it exists anyway. Temporaries of `path` left by another process (a writer
/// killed mid-write) are removed first: one process writes a given path at a time.
///
/// # Errors
/// [`NnError::Io`](crate::NnError::Io) when the file cannot be written; the temporary is
/// removed then and `path` is untouched.
///
/// ```
/// use recur_nn::checkpoint::write_atomic;
/// let path = std::env::temp_dir().join(format!("recur_doc_atomic_{}.txt", std::process::id()));
/// write_atomic(&path, b"step,loss\n")?;
/// assert_eq!(std::fs::read(&path)?, b"step,loss\n");
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let path = path.as_ref();
    let Some(file_name) = path.file_name() else {
        return Err(ck(&path.display().to_string(), "not a file path"));
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // This process's part of the name: the PID alone repeats across containers and reboots.
    let token = TOKEN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    });
    let stem = format!(".{}.tmp-", file_name.to_string_lossy());
    remove_stale_temporaries(dir, &stem, token);
    let written = (|| -> std::io::Result<()> {
        let (tmp, mut f) = loop {
            let tmp = dir.join(format!(
                "{stem}{token}-{}",
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let r = (|| {
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)
        })();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    })();
    written.map_err(|e| io_err(path, e))?;
    // Make the rename itself durable (best effort: not every platform can sync a directory).
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes `dir/<stem>*` files not written by this process (`token`): temporaries of a
/// writer that was killed before its rename. Best effort.
fn remove_stale_temporaries(dir: &Path, stem: &str, token: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(rest) = name.strip_prefix(stem)
            && !rest.starts_with(&format!("{token}-"))
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(e.path());
        }
    }
}
