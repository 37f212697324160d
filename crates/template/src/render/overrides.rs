//! Loading an operator's template overrides from a directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::TemplateError;

/// Replaces entries of `sources` (name -> (source, origin)) with the files under `dir`, laid out
/// as `dir/<vendor>/<file>`. Every file must replace a shipped template.
pub(super) fn apply(dir: &Path, sources: &mut BTreeMap<&'static str, (String, String)>) -> Result<(), TemplateError> {
    for vendor_dir in entries(dir)? {
        let vendor_name = file_name(&vendor_dir)?;
        if !vendor_dir.is_dir() {
            return Err(refused(&vendor_dir, "expected a directory named after a vendor, e.g. yealink/"));
        }
        for file in entries(&vendor_dir)? {
            let name = format!("{vendor_name}/{}", file_name(&file)?);
            let Some((&shipped_name, _)) = sources.get_key_value(name.as_str()) else {
                let known: Vec<&str> = sources.keys().copied().collect();
                return Err(refused(&file, &format!("replaces no shipped template (they are: {})", known.join(", "))));
            };
            let source = fs::read_to_string(&file).map_err(|e| refused(&file, &e.to_string()))?;
            sources.insert(shipped_name, (source, file.display().to_string()));
        }
    }
    Ok(())
}

/// The entries of `dir` not starting with `.`, sorted so errors are reproducible.
fn entries(dir: &Path) -> Result<Vec<std::path::PathBuf>, TemplateError> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| refused(dir, &e.to_string()))? {
        let path = entry.map_err(|e| refused(dir, &e.to_string()))?.path();
        if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> Result<String, TemplateError> {
    path.file_name().and_then(|n| n.to_str()).map(str::to_owned).ok_or_else(|| refused(path, "the name is not UTF-8"))
}

fn refused(path: &Path, detail: &str) -> TemplateError {
    TemplateError::Override { path: path.display().to_string(), detail: detail.to_owned() }
}
