//! Which `Event` makes a phone of each vendor fetch its configuration again.
//!
//! From the vendors' guides where they say (Yealink T5, Snom `checksync_action`, Gigaset's
//! provisioning wiki, Cisco's MPP guide, Digium's D-series docs) and otherwise from what the
//! provisioning systems that drive these phones send (Wazo's provd plugins, FusionPBX's
//! `event_notify`, Asterisk's `pjsip_notify.conf` sample); `docs/registrars.md` lists the
//! sources and where they disagree.

/// The `Event` header for a phone of `vendor` (as sipprov's templates name vendors): fetch
/// the configuration without rebooting, or with a reboot if `reboot`. Where a vendor has one
/// event for both, it gets that one either way. An unknown vendor gets `check-sync`, the event
/// most phones understand.
pub fn resync_event(vendor: Option<&str>, reboot: bool) -> &'static str {
    match (vendor.unwrap_or_default(), reboot) {
        // `reboot=false` is honoured by Yealink only with sip.notify_reboot_enable = 0 (the
        // template sets it); Snom, Avaya J100 and Gigaset read the parameter as given.
        ("yealink" | "snom" | "avaya" | "gigaset", false) => "check-sync;reboot=false",
        ("yealink" | "snom" | "avaya" | "gigaset", true) => "check-sync;reboot=true",
        // SPA and MPP firmware (`Resync_From_SIP`, on by default).
        ("cisco" | "linksys", false) => "resync",
        ("cisco" | "linksys", true) => "reboot_now",
        // Grandstream and Htek re-sync on `resync` without rebooting (Wazo sends check-sync).
        ("grandstream" | "htek", false) => "resync",
        // Polycom and Digium read only `check-sync` (whether they reboot is their setting).
        ("polycom" | "digium", _) => "check-sync",
        (_, false) => "check-sync",
        (_, true) => "check-sync;reboot=true",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_vendor_gets_its_event() {
        assert_eq!(resync_event(Some("yealink"), false), "check-sync;reboot=false");
        assert_eq!(resync_event(Some("yealink"), true), "check-sync;reboot=true");
        assert_eq!(resync_event(Some("cisco"), false), "resync");
        assert_eq!(resync_event(Some("cisco"), true), "reboot_now");
        assert_eq!(resync_event(Some("grandstream"), false), "resync");
        assert_eq!(resync_event(Some("grandstream"), true), "check-sync;reboot=true");
        assert_eq!(resync_event(Some("polycom"), true), "check-sync");
        assert_eq!(resync_event(Some("fanvil"), false), "check-sync");
        assert_eq!(resync_event(None, false), "check-sync");
    }
}
