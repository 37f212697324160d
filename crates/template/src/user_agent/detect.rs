//! Which vendor a User-Agent names: by name anywhere in it, by a model family that names no
//! vendor, or, for a model-shaped first word, by its MAC's vendor prefix.

use sipprov_identity::Mac;

use super::tokens::{is_version, starts_with_ignore_case};
use crate::Vendor;

/// Names that identify a vendor wherever they appear (ASCII case ignored), in the order they
/// are tried: a phone's own name before a brand it mentions (`TANDBERG/529 ... Cisco-RoomKit`).
const NAMES: &[(&str, Vendor)] = &[
    ("yealink", Vendor::Yealink),
    ("polycom", Vendor::Polycom),
    ("polyedge", Vendor::Polycom),
    ("grandstream", Vendor::Grandstream),
    ("snom", Vendor::Snom),
    ("fanvil", Vendor::Fanvil),
    ("gigaset", Vendor::Gigaset),
    ("aastra", Vendor::Mitel),
    ("mitel", Vendor::Mitel),
    ("linphone", Vendor::Linphone),
    ("alcatel", Vendor::Alcatel),
    ("audiocodes", Vendor::AudioCodes),
    ("audc-", Vendor::AudioCodes),
    ("avaya", Vendor::Avaya),
    ("htek", Vendor::Htek),
    ("panasonic", Vendor::Panasonic),
    ("thomson", Vendor::Technicolor),
    ("technicolor", Vendor::Technicolor),
    ("smartnode", Vendor::Patton),
    ("patton", Vendor::Patton),
    ("flyingvoice", Vendor::Flyingvoice),
    ("digium", Vendor::Digium),
    ("sangoma", Vendor::Digium),
    ("linksys", Vendor::Linksys),
    ("sipura", Vendor::Linksys),
    ("tandberg", Vendor::Cisco),
    ("cisco", Vendor::Cisco),
    ("fritz!", Vendor::Avm),
    ("openstage", Vendor::Unify),
    ("desk_phone_ip", Vendor::Unify),
    ("jitsi", Vendor::Jitsi),
    ("x-lite", Vendor::CounterPath),
    ("x-pro", Vendor::CounterPath),
    ("counterpath", Vendor::CounterPath),
    ("microsip", Vendor::MicroSip),
    ("lg-nortel", Vendor::LgNortel),
    ("zoiper", Vendor::Zoiper),
    ("pingtel", Vendor::Pingtel),
    ("obihai", Vendor::Obihai),
    ("valcom", Vendor::Valcom),
    ("sjphone", Vendor::SjLabs),
    ("nero sipps", Vendor::Nero),
    ("ekiga", Vendor::Ekiga),
];

/// First words that name a vendor by a product family of its own (no vendor name in the UA):
/// the whole word.
const WHOLE_FIRST_WORDS: &[(&str, Vendor)] = &[("ALE", Vendor::Alcatel), ("AXIS", Vendor::Axis), ("AVM", Vendor::Avm)];

/// The same, by how the first word starts.
const FIRST_WORDS: &[(&str, Vendor)] = &[
    ("TAU-", Vendor::Eltex),
    ("Algo-", Vendor::Algo),
    ("CSCO/", Vendor::Cisco),
    ("MP-1", Vendor::AudioCodes),
    ("MP202", Vendor::AudioCodes),
    ("Sip-Gateway/", Vendor::AudioCodes),
    ("IPDECT/", Vendor::Konftel),
    ("MERCURY-", Vendor::Crestron),
    ("PA168", Vendor::Palmmicro),
    ("RTC/", Vendor::Microsoft),
    ("OBi", Vendor::Obihai),
    ("Maxwell", Vendor::Gigaset),
];

/// The vendor a User-Agent names, if any.
pub(super) fn vendor(text: &str, words: &[&str], mac: Option<Mac>) -> Option<Vendor> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, vendor)) = NAMES.iter().find(|(name, _)| lower.contains(name)) {
        return Some(*vendor);
    }
    let first = *words.first()?;
    let whole = WHOLE_FIRST_WORDS.iter().find(|(word, _)| first == *word);
    if let Some((_, vendor)) = whole.or_else(|| FIRST_WORDS.iter().find(|(word, _)| first.starts_with(word))) {
        return Some(*vendor);
    }
    let version_second = words.get(1).is_some_and(|word| is_version(word));
    match first {
        // macOS's Telephone and Zoiper's terse form: a bare name and a version.
        "Telephone" if version_second => return Some(Vendor::SixtyFourCharacters),
        "Z" if version_second => return Some(Vendor::Zoiper),
        _ => {}
    }
    if gigaset_model(first) && text.contains('/') {
        return Some(Vendor::Gigaset);
    }
    // A first word shaped like a model (`W52P`, `VP530P`) with a MAC whose prefix names the
    // vendor: DECT and video phone families that leave the vendor out.
    if model_shaped(first) {
        return mac.and_then(|mac| Vendor::from_oui(mac.oui()));
    }
    None
}

/// Gigaset's DECT families that name only the model: `N510`, `N720-DM-PRO/...`, `C530A`, `DX800A/...`.
fn gigaset_model(first: &str) -> bool {
    let model = first.split('/').next().unwrap_or(first);
    let digits_after = |prefix: &str| {
        model.strip_prefix(prefix).is_some_and(|rest| {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            digits == 3
        })
    };
    digits_after("N") || digits_after("C") || digits_after("DX")
}

/// Upper-case letters then digits, then letters: a model name, not a program's name.
fn model_shaped(word: &str) -> bool {
    let letters = word.chars().take_while(char::is_ascii_uppercase).count();
    let rest = &word[letters..];
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    (1..=3).contains(&letters)
        && digits >= 2
        && rest[digits..].chars().all(|c| c.is_ascii_alphanumeric())
        && !starts_with_ignore_case(word, "http")
}
