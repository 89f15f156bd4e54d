//! The container image's recipe stays in step with the build: the Dockerfile copies every file
//! the build reads, runs relinker as a user without privileges, and keeps state at `/state` as
//! docs/scheduled-offboarding.md's CronJob expects. (Building the image needs a Docker daemon;
//! this checks what can drift without one.)

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dockerfile() -> String {
    std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile at the root")
}

/// The sources of the build stage's `COPY` lines (not `COPY --from`).
fn copied() -> Vec<PathBuf> {
    dockerfile()
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|rest| !rest.starts_with("--from"))
        .flat_map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            words[..words.len() - 1]
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn is_copied(path: &Path, copied: &[PathBuf]) -> bool {
    let relative = path.strip_prefix(root()).unwrap_or(path);
    copied.iter().any(|c| relative.starts_with(c))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_image_build_copies_everything_the_build_reads() {
    let copied = copied();
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(
            copied.iter().any(|c| c == Path::new(needed)),
            "the Dockerfile copies {needed}: {copied:?}"
        );
    }
    // Files the binary embeds.
    let mut sources = Vec::new();
    rust_files(&root().join("src"), &mut sources);
    let mut embedded = 0;
    for source in &sources {
        let text = std::fs::read_to_string(source).unwrap();
        for part in text.split("include_str!(\"").skip(1) {
            let relative = part.split('"').next().unwrap();
            let file = source.parent().unwrap().join(relative);
            let file = std::path::absolute(&file).unwrap();
            assert!(file.is_file(), "{} embeds {relative}", source.display());
            assert!(
                is_copied(&normalize(&file), &copied),
                "{} embeds {}, which the Dockerfile does not copy",
                source.display(),
                file.display()
            );
            embedded += 1;
        }
    }
    assert!(embedded >= 6, "the fixtures and example plans are embedded");
    // Targets the manifest names must exist for cargo to read it.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for bench in manifest.split("[[bench]]\nname = \"").skip(1) {
        let name = bench.split('"').next().unwrap();
        let file = root().join("benches").join(format!("{name}.rs"));
        assert!(file.is_file());
        assert!(is_copied(&file, &copied), "bench {name} is not copied");
    }
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn the_image_runs_unprivileged_with_state_at_slash_state() {
    let text = dockerfile();
    let runtime = text.rsplit_once("\nFROM ").expect("a multi-stage build").1;
    assert!(
        runtime.contains("USER 10001"),
        "the runtime stage runs as a user without privileges"
    );
    assert!(runtime.contains("ENV RELINKER_STATE_DIR=/state"));
    assert!(runtime.contains("VOLUME [\"/state\"]"));
    assert!(runtime.contains("ca-certificates"), "TLS roots for rustls");
    assert!(
        !runtime.contains("cargo"),
        "the toolchain stays in the build stage"
    );
    // The CronJob in the docs keeps its runs in PostgreSQL, the URL from a Secret, and says
    // what the image's /state volume is for without one.
    let docs = std::fs::read_to_string(root().join("docs/scheduled-offboarding.md")).unwrap();
    assert!(
        docs.contains("- name: RELINKER_STATE"),
        "the CronJob names the database"
    );
    assert!(docs.contains("secretKeyRef"), "its URL comes from a Secret");
    assert!(docs.contains("`/state`"), "the volume alternative is named");
    assert!(
        docs.contains("docker build -t"),
        "the docs say how to build it"
    );
}

/// The shipped binary (the image builds `--release`) carries no debug info: the release
/// profile strips it, and nothing turns it back on (docs/performance.md has the sizes).
#[test]
fn the_shipped_binary_is_built_without_debug_info() {
    assert!(
        dockerfile().contains("cargo build --release"),
        "the image builds the release profile"
    );
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let release: Vec<&str> = manifest
        .split("\n[")
        .find(|section| section.starts_with("profile.release]"))
        .expect("a [profile.release] section")
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    assert!(release.contains(&"strip = \"debuginfo\""), "{release:?}");
    assert!(release.contains(&"debug = false"), "{release:?}");
}

/// Every base image is pinned by digest (a tag can be moved to other bytes), with its tag kept
/// for people.
#[test]
fn every_base_image_is_pinned_by_digest() {
    let froms: Vec<String> = dockerfile()
        .lines()
        .filter_map(|line| line.strip_prefix("FROM "))
        .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    for image in froms {
        let (tagged, digest) = image
            .split_once("@sha256:")
            .unwrap_or_else(|| panic!("`{image}` is not pinned by digest"));
        assert!(tagged.contains(':'), "`{image}` keeps its tag for people");
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "`{image}`: a digest is 64 hex digits"
        );
    }
}
