//! The committed fixtures under `tests/data/` are exactly what the generator makes.
//!
//! Regenerate with `SIPPROV_WRITE_FIXTURES=1 cargo test -p sipprov-identity --test fixtures`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

#[test]
fn committed_fixtures_match_the_generator() {
    let fixtures = support::fixtures::generate();
    let write = std::env::var_os("SIPPROV_WRITE_FIXTURES").is_some();
    let mut stale = Vec::new();
    for fixture in &fixtures {
        let path = support::data_dir().join(&fixture.path);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &fixture.pem).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(fixture.pem.as_str()) {
            stale.push(fixture.path.clone());
        }
    }
    assert!(stale.is_empty(), "fixtures differ from the generator (regenerate, see this file's docs): {stale:?}");
}

#[test]
fn the_generator_is_deterministic() {
    let first: Vec<String> = support::fixtures::generate().into_iter().map(|f| f.pem).collect();
    let second: Vec<String> = support::fixtures::generate().into_iter().map(|f| f.pem).collect();
    assert_eq!(first, second);
}
