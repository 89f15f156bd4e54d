//! Paths written into files that outlive the directory they were made in (saved plans,
//! generated plans): stored relative to the file that names them, so they work from any
//! working directory and in any checkout.

use std::path::{Component, Path, PathBuf};

/// `path` made absolute against the working directory, with `.` and `..` resolved by name
/// (symbolic links are not followed: the files may not exist yet). An empty path, the folder of
/// a bare file name, is the working directory.
pub fn normalized(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to the directory `from`.
pub fn relative(path: &Path, from: &Path) -> PathBuf {
    let path = normalized(path);
    let from = normalized(from);
    let path: Vec<Component> = path.components().collect();
    let from: Vec<Component> = from.components().collect();
    let common = path.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &path[common..] {
        out.push(part.as_os_str());
    }
    out
}

/// The directory a file is in (`.` for a bare file name).
pub fn parent(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` through a synced temporary file beside it and a rename: a reader
/// (or a crash) sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = tempfile::NamedTempFile::new_in(parent(path))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Why relinker cannot write the file `path`, if it cannot: it is a directory, or its folder
/// does not exist. Checked before any work, so a typo costs nothing.
pub fn output_file_problem(path: &Path) -> Option<String> {
    if path.is_dir() {
        return Some(format!("`{}` is a directory; name a file", path.display()));
    }
    let folder = parent(path);
    (!folder.is_dir()).then(|| format!("folder `{}` does not exist", folder.display()))
}

/// Why relinker cannot write files into the folder `path`, if it cannot: something else is
/// there, or the folder it would be made in does not exist.
pub fn output_dir_problem(path: &Path) -> Option<String> {
    if path.exists() && !path.is_dir() {
        return Some(format!(
            "`{}` exists and is not a directory",
            path.display()
        ));
    }
    let folder = parent(path);
    (!path.exists() && !folder.is_dir())
        .then(|| format!("folder `{}` does not exist", folder.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        for (path, from, expected) in [
            ("/a/b/fixtures/x.yaml", "/a/b/out", "../fixtures/x.yaml"),
            ("/a/b/out/s.txt", "/a/b/out", "s.txt"),
            ("/a/b/./ops/../ops/x.yaml", "/a/b/ops", "x.yaml"),
            ("/a/x.yaml", "/a/b/c", "../../x.yaml"),
        ] {
            assert_eq!(
                relative(Path::new(path), Path::new(from)),
                PathBuf::from(expected),
                "{path} from {from}"
            );
        }
        // The folder of a bare file name is the working directory.
        assert_eq!(
            relative(Path::new("copy.yaml"), Path::new("")),
            PathBuf::from("copy.yaml")
        );
        assert_eq!(parent(Path::new("x.json")), Path::new("."));
        assert_eq!(parent(Path::new("ops/x.json")), Path::new("ops"));
    }
}
