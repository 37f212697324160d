//! The templates compiled into the crate, one per file sipprov serves.

use std::collections::BTreeMap;

/// `(name, source)` of every shipped template. The name is `<vendor>/<file>`, the path under
/// `templates/` in this crate and under an operator's override directory.
pub(super) const SHIPPED: &[(&str, &str)] = &[
    ("yealink/device.cfg", include_str!("../../templates/yealink/device.cfg")),
    ("polycom/master.cfg", include_str!("../../templates/polycom/master.cfg")),
    ("polycom/master-device.cfg", include_str!("../../templates/polycom/master-device.cfg")),
    ("polycom/device.cfg", include_str!("../../templates/polycom/device.cfg")),
    ("cisco/common.xml", include_str!("../../templates/cisco/common.xml")),
    ("cisco/device.xml", include_str!("../../templates/cisco/device.xml")),
    ("snom/device.xml", include_str!("../../templates/snom/device.xml")),
    ("grandstream/device.xml", include_str!("../../templates/grandstream/device.xml")),
    ("fanvil/device.cfg", include_str!("../../templates/fanvil/device.cfg")),
    ("gigaset/device.xml", include_str!("../../templates/gigaset/device.xml")),
    ("linphone/device.xml", include_str!("../../templates/linphone/device.xml")),
    ("acrobits/account.xml", include_str!("../../templates/acrobits/account.xml")),
    ("zoiper/account.xml", include_str!("../../templates/zoiper/account.xml")),
];

/// The shipped templates as `name -> (source, origin)`.
pub(super) fn sources() -> BTreeMap<&'static str, (String, String)> {
    SHIPPED.iter().map(|(name, source)| (*name, ((*source).to_owned(), format!("{name} (shipped)")))).collect()
}
