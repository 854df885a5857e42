//! Whole-file replacement that a crash cannot leave half done: the server's
//! journal compaction and the load generator's `results.json` both write
//! through [`replace_file`].

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically: a temporary file in the same
/// folder (a rename is atomic only within one filesystem), fsynced, then
/// renamed over `path`, then the folder fsynced. A reader, or a process
/// killed at any moment, sees the old file or the new one, never part of
/// one; the fsync before the rename means that even a machine crash soon
/// after cannot leave the name pointing at data that never reached the
/// disk (an empty file), at the cost of one disk flush per file written.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(path);
    Ok(())
}

/// Fsyncs the folder holding `path`, so a rename in it is durable. Best
/// effort: some filesystems refuse to open or sync a directory.
pub fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_swaps_whole_files_and_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("pushbench-replace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("results.json");
        replace_file(&path, b"old").expect("first");
        replace_file(&path, b"new contents").expect("second");
        assert_eq!(std::fs::read(&path).expect("read"), b"new contents");
        // A rename onto a folder fails: the temporary file is removed.
        let folder = path.with_file_name("a-folder");
        std::fs::create_dir_all(&folder).expect("dir");
        assert!(replace_file(&folder, b"x").is_err());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
