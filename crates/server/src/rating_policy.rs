//! The lowest ITSPA rating a device may be provisioned with: 5 (its own factory certificate)
//! or 4 (an enrolment secret over TLS). Rules name a vendor, a model and a site, each optional;
//! the most specific rule that fits a device decides. Without one, a vendor whose factory CA is
//! trusted here needs 5 (its phones have certificates: a secret would only weaken them), any
//! other vendor 4.

use std::collections::BTreeSet;

use sipprov_credentials::DeviceProfile;

/// One rule: the devices it covers (each field optional), and their minimum rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRule {
    /// The inventory's vendor, e.g. `grandstream`.
    pub vendor: Option<String>,
    /// The inventory's model, e.g. `HT801`.
    pub model: Option<String>,
    /// The inventory's site.
    pub site: Option<String>,
    /// 4 or 5.
    pub min_rating: u8,
}

/// The rules, and the vendors whose factory certificates this deployment trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RatingPolicy {
    /// The rules, in any order.
    pub rules: Vec<RatingRule>,
    /// Vendors with a `[[trust]]` anchor: their phones need 5 unless a rule says otherwise.
    pub certificate_vendors: BTreeSet<String>,
}

impl RatingPolicy {
    /// The minimum rating for a device with `profile`.
    pub fn minimum(&self, profile: &DeviceProfile) -> u8 {
        let same = |rule: &Option<String>, value: &Option<String>| {
            rule.as_ref().is_none_or(|rule| value.as_ref().is_some_and(|value| rule.eq_ignore_ascii_case(value)))
        };
        let fits = |rule: &&RatingRule| {
            same(&rule.vendor, &profile.vendor) && same(&rule.model, &profile.model) && same(&rule.site, &profile.site)
        };
        // Specificity: a site is the narrowest, then a model, then a vendor.
        let specificity = |rule: &&RatingRule| (rule.site.is_some(), rule.model.is_some(), rule.vendor.is_some());
        if let Some(rule) = self.rules.iter().filter(fits).max_by_key(specificity) {
            return rule.min_rating;
        }
        let trusted = profile.vendor.as_ref().is_some_and(|vendor| self.certificate_vendors.contains(vendor));
        if trusted { 5 } else { 4 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(vendor: &str, model: &str, site: &str) -> DeviceProfile {
        DeviceProfile {
            vendor: Some(vendor.into()),
            model: Some(model.into()),
            site: Some(site.into()),
            ..DeviceProfile::default()
        }
    }

    #[test]
    fn the_most_specific_rule_decides_else_the_trusted_vendors_need_certificates() {
        let rule = |vendor: Option<&str>, model: Option<&str>, site: Option<&str>, min_rating| RatingRule {
            vendor: vendor.map(Into::into),
            model: model.map(Into::into),
            site: site.map(Into::into),
            min_rating,
        };
        let policy = RatingPolicy {
            rules: vec![
                rule(Some("grandstream"), None, None, 4),
                rule(Some("grandstream"), Some("GXP2170"), None, 5),
                rule(None, None, Some("vault"), 5),
            ],
            certificate_vendors: ["grandstream".to_owned(), "yealink".to_owned()].into(),
        };
        assert_eq!(policy.minimum(&profile("grandstream", "HT801", "leeds")), 4);
        assert_eq!(policy.minimum(&profile("grandstream", "gxp2170", "leeds")), 5);
        assert_eq!(policy.minimum(&profile("grandstream", "HT801", "vault")), 5, "a site rule is the narrowest");
        assert_eq!(policy.minimum(&profile("yealink", "T54W", "leeds")), 5, "a trusted vendor needs its certificate");
        assert_eq!(policy.minimum(&profile("gigaset", "N670", "leeds")), 4, "a vendor without one may use a secret");
        assert_eq!(policy.minimum(&DeviceProfile::default()), 4);
    }
}
