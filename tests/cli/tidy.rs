//! Tidy checks as tests (after rust-analyzer's): every source file opens with a `//!` note of
//! what it owns, and nothing left over from debugging ships.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_says_what_it_owns_and_carries_no_debugging_leftovers() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} has no //! header",
            file.display()
        );
        for leftover in ["dbg!(", "todo!(", "unimplemented!("] {
            assert!(
                !text.contains(leftover),
                "{} contains {leftover}",
                file.display()
            );
        }
    }
}
