//! A strict reader of the Prometheus text exposition format (0.0.4), for tests: what a scraper
//! would accept, and more (declared types, unit suffixes, complete histograms, no duplicates).

use std::collections::{BTreeMap, HashMap, HashSet};

/// One sample: its name, labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A scrape: each family's type and every sample.
#[derive(Debug, Default)]
pub struct Scrape {
    pub types: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the sample `name` with exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.samples.iter().find(|s| s.name == name && s.labels == labels).map(|s| s.value)
    }

    /// Every sample of `name`.
    pub fn all(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

/// Parses `text`, failing with the line and the reason on anything a strict scraper refuses.
pub fn parse(text: &str) -> Result<Scrape, String> {
    let mut scrape = Scrape::default();
    let mut helped = HashSet::new();
    let mut seen = HashSet::new();
    if !text.ends_with('\n') {
        return Err("the exposition does not end with a line break".into());
    }
    for (number, line) in text.lines().enumerate() {
        let fail = |why: &str| Err(format!("line {}: {why}: {line:?}", number + 1));
        if line.is_empty() {
            return fail("an empty line");
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if !valid_name(name) || help.trim().is_empty() || !helped.insert(name.to_owned()) {
                return fail("a HELP without a valid name and text, or a second one");
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let Some((name, kind)) = rest.split_once(' ') else { return fail("a TYPE without a type") };
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return fail("an unknown type");
            }
            if scrape.types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return fail("a second TYPE for one family");
            }
            if kind == "counter" && !name.ends_with("_total") {
                return fail("a counter whose name does not end in _total");
            }
            if !helped.contains(name) {
                return fail("a TYPE before its HELP");
            }
            continue;
        }
        if line.starts_with('#') {
            return fail("a comment that is neither HELP nor TYPE");
        }
        let sample = sample(line).map_err(|why| format!("line {}: {why}: {line:?}", number + 1))?;
        let family = family_of(&sample.name, &scrape.types);
        let Some(kind) = family.and_then(|family| scrape.types.get(family)) else {
            return fail("a sample of a family without a TYPE");
        };
        if kind == "counter" && sample.value < 0.0 {
            return fail("a negative counter");
        }
        let key = (sample.name.clone(), sample.labels.clone().into_iter().collect::<Vec<_>>());
        if !seen.insert(key) {
            return fail("a duplicate series");
        }
        scrape.samples.push(sample);
    }
    check_histograms(&scrape)?;
    Ok(scrape)
}

/// The family a sample belongs to: its own name, or a histogram's name without the suffix.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|family| types.get(*family).is_some_and(|kind| kind == "histogram" || kind == "summary"))
}

/// A series' labels but `le`, in order.
type Labels = Vec<(String, String)>;

/// Every histogram: buckets rising with `le`, ending in `+Inf`, which equals `_count`.
fn check_histograms(scrape: &Scrape) -> Result<(), String> {
    for (family, _) in scrape.types.iter().filter(|(_, kind)| *kind == "histogram") {
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for bucket in scrape.all(&format!("{family}_bucket")) {
            let mut labels = bucket.labels.clone();
            let le = labels.remove("le").ok_or_else(|| format!("{family}: a bucket without le"))?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().map_err(|_| format!("{family}: le {le}"))? };
            series.entry(labels.into_iter().collect()).or_default().push((le, bucket.value));
        }
        if series.is_empty() {
            return Err(format!("{family}: a histogram without buckets"));
        }
        for (labels, buckets) in series {
            let by_le = buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            if !by_le || buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
                return Err(format!("{family}{labels:?}: buckets not rising to +Inf"));
            }
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let count = scrape.value(&format!("{family}_count"), &labels);
            if count != buckets.last().map(|b| b.1) || scrape.value(&format!("{family}_sum"), &labels).is_none() {
                return Err(format!("{family}{labels:?}: _count is not the +Inf bucket, or no _sum"));
            }
        }
    }
    Ok(())
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err("an invalid metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let bytes = inner.as_bytes();
        let mut at = 0;
        loop {
            if bytes.get(at) == Some(&b'}') {
                rest = &inner[at + 1..];
                break;
            }
            let eq = inner[at..].find("=\"").ok_or("a label without =\"")? + at;
            let key = &inner[at..eq];
            if !valid_label(key) {
                return Err(format!("an invalid label name {key:?}"));
            }
            let mut value = String::new();
            at = eq + 2;
            loop {
                match bytes.get(at) {
                    None => return Err("a label value not closed".into()),
                    Some(b'\\') => {
                        match bytes.get(at + 1) {
                            Some(b'\\') => value.push('\\'),
                            Some(b'"') => value.push('"'),
                            Some(b'n') => value.push('\n'),
                            _ => return Err("an invalid escape in a label value".into()),
                        }
                        at += 2;
                    }
                    Some(b'"') => break,
                    Some(_) => {
                        let c = inner[at..].chars().next().ok_or("a label value not closed")?;
                        value.push(c);
                        at += c.len_utf8();
                    }
                }
            }
            if labels.insert(key.to_owned(), value).is_some() {
                return Err("a label given twice".into());
            }
            at += 1;
            match bytes.get(at) {
                Some(b',') => at += 1,
                Some(b'}') => {}
                _ => return Err("labels not separated by a comma".into()),
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = value.split(' ').next().unwrap_or_default();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse::<f64>().map_err(|_| format!("a value that is not a number: {number:?}"))?,
    };
    Ok(Sample { name: name.to_owned(), labels, value })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
