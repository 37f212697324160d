//! The threat model (`docs/threats.md`) and the ITSPA compliance matrix
//! (`docs/itspa-compliance.md`) prove each row by naming tests. A renamed or deleted test must
//! not leave a row pointing at nothing: every `file.rs::function` they name is a function in
//! that file, and every `fuzz:<target>` a fuzz target.
#![allow(clippy::unwrap_used, clippy::panic)] // test code: failing loudly is the point

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The file a document names: from the repository root, or under `crates/` or `bins/` (the
/// compliance matrix leaves those out).
fn resolve(path: &str) -> Option<PathBuf> {
    ["", "crates/", "bins/"].iter().map(|prefix| repository().join(format!("{prefix}{path}"))).find(|p| p.is_file())
}

/// Every `path.rs::function` a document names in backticks; `::function` alone continues the
/// last file named.
fn cited_tests(text: &str) -> Vec<(String, String)> {
    let mut cited = Vec::new();
    let mut last_file = String::new();
    for quoted in text.split('`').skip(1).step_by(2) {
        let Some((file, function)) = quoted.split_once("::") else { continue };
        if !function.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || function.is_empty() {
            continue;
        }
        if file.ends_with(".rs") {
            last_file = file.to_owned();
        } else if !file.is_empty() {
            continue;
        }
        cited.push((last_file.clone(), function.to_owned()));
    }
    cited
}

#[test]
fn every_test_the_threat_model_and_the_compliance_matrix_name_exists() {
    let mut checked = 0;
    for document in ["docs/threats.md", "docs/itspa-compliance.md", "docs/reliability.md"] {
        let text = std::fs::read_to_string(repository().join(document)).unwrap();
        for (file, function) in cited_tests(&text) {
            let path = resolve(&file).unwrap_or_else(|| panic!("{document} names {file}, which does not exist"));
            let source = std::fs::read_to_string(&path).unwrap();
            assert!(
                source.contains(&format!("fn {function}(")),
                "{document} names {file}::{function}, which is not a function there"
            );
            checked += 1;
        }
        let targets = text.split("`fuzz:").skip(1).filter_map(|rest| rest.split('`').next());
        // `fuzz:<target>` is how the documents explain the form.
        for target in targets.filter(|target| !target.starts_with('<')) {
            let path = repository().join(format!("fuzz/fuzz_targets/{target}.rs"));
            assert!(path.is_file(), "{document} names fuzz target {target}, which does not exist");
        }
    }
    assert!(checked > 150, "the documents name {checked} tests: the reader lost track of them");
}
