//! How many SIP accounts a vendor's devices hold, per model where it is known.

/// A vendor's account limits: what its template can render and what its models hold.
#[derive(Debug, Clone, Copy)]
pub struct Lines {
    /// The most accounts a device of this vendor may have when its model is not known (or not
    /// listed): what the vendor's template renders for its usual devices.
    pub most: u16,
    /// Known models by name prefix, compared without case (`T54W`, `HT81`), with the accounts
    /// each holds. The longest matching prefix wins.
    pub models: &'static [(&'static str, u16)],
}

impl Lines {
    /// The most accounts a device of `model` may have.
    ///
    /// ```
    /// use sipprov_template::Vendor;
    ///
    /// let lines = Vendor::Grandstream.profile().unwrap().lines;
    /// assert_eq!(lines.for_model(Some("HT812")), 2);
    /// assert_eq!(lines.for_model(Some("ht818")), 8);
    /// assert_eq!(lines.for_model(None), lines.most);
    /// ```
    pub fn for_model(&self, model: Option<&str>) -> u16 {
        let Some(model) = model else { return self.most };
        let model = model.to_ascii_uppercase();
        self.models
            .iter()
            .filter(|(prefix, _)| model.starts_with(&prefix.to_ascii_uppercase()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(self.most, |(_, lines)| *lines)
    }
}
