//! Tidy: what humans forget. Every source file starts with a `//!` module doc, and no debugging
//! leftovers or ignored tests slip in.

use std::fs;
use std::path::Path;

fn rust_files(directory: &Path, files: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(directory)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn tidy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    assert!(files.len() >= 5);
    let banned = [
        concat!("db", "g!("),
        concat!("to", "do!("),
        concat!("#[ig", "nore"),
    ];
    for path in files {
        let text = fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("//!"),
            "{} does not start with a //! doc",
            path.display()
        );
        for word in banned {
            assert!(!text.contains(word), "{} contains {word}", path.display());
        }
    }
}
