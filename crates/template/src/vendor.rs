//! The phone vendors sipprov knows by name.

use std::fmt;
use std::str::FromStr;

use crate::TemplateError;

/// A maker of SIP phones, ATAs or softphones.
///
/// Eight of them have a [`VendorProfile`](crate::VendorProfile) (request paths, templates,
/// hardening policy); the others are only recognised in User-Agents, for firmware reports and
/// diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Vendor {
    /// Yealink T4x/T5x/CP/VP/W phones.
    Yealink,
    /// Polycom / Poly VVX, SoundPoint IP, Trio.
    Polycom,
    /// Cisco SPA and MPP (3PCC) phones. Enterprise (CUCM) firmware is not provisioned.
    Cisco,
    /// Snom D-series.
    Snom,
    /// Grandstream GXP/GRP/HT.
    Grandstream,
    /// Fanvil X-series.
    Fanvil,
    /// Gigaset Nx70 DECT bases (N670, N870).
    Gigaset,
    /// The Linphone softphone.
    Linphone,
    /// Aastra / Mitel 67xx/68xx.
    Mitel,
    /// Alcatel-Lucent Enterprise and Alcatel business phones.
    Alcatel,
    /// AudioCodes IP phones.
    AudioCodes,
    /// Avaya J100 and 9600 SIP phones.
    Avaya,
    /// Htek UC phones.
    Htek,
    /// Panasonic KX-UT/KX-HDV/KX-TGP.
    Panasonic,
    /// Linksys SPA phones and PAP ATAs (before Cisco's rebranding).
    Linksys,
    /// Technicolor / Thomson ST phones.
    Technicolor,
    /// Patton SmartNode gateways and ATAs.
    Patton,
    /// Flyingvoice phones and ATAs.
    Flyingvoice,
    /// Digium / Sangoma D-series.
    Digium,
    /// AVM FRITZ!Box routers and FRITZ!Fon handsets.
    Avm,
    /// Eltex TAU gateways.
    Eltex,
    /// Unify (Siemens) OpenStage and CP desk phones.
    Unify,
    /// The Jitsi softphone.
    Jitsi,
    /// CounterPath X-Lite, X-PRO and Bria softphones.
    CounterPath,
    /// Axis network speakers and door stations.
    Axis,
    /// The MicroSIP softphone.
    MicroSip,
    /// LG-Nortel IP phones.
    LgNortel,
    /// The Zoiper softphone.
    Zoiper,
    /// Pingtel phones.
    Pingtel,
    /// Obihai ATAs and phones.
    Obihai,
    /// Algo paging and alerting devices.
    Algo,
    /// Valcom paging devices.
    Valcom,
    /// The SJphone softphone.
    SjLabs,
    /// Palmmicro PA168 phones.
    Palmmicro,
    /// The Nero SIPPS softphone.
    Nero,
    /// Microsoft Windows Messenger (RTC).
    Microsoft,
    /// Konftel IP DECT systems.
    Konftel,
    /// The Ekiga softphone.
    Ekiga,
    /// Crestron Mercury conference devices.
    Crestron,
    /// 64characters' Telephone for macOS.
    SixtyFourCharacters,
    /// Acrobits' softphones: Groundwire, Cloud Softphone.
    Acrobits,
}

impl Vendor {
    /// Every vendor, in a stable order.
    pub const ALL: [Vendor; 41] = [
        Vendor::Yealink,
        Vendor::Polycom,
        Vendor::Cisco,
        Vendor::Snom,
        Vendor::Grandstream,
        Vendor::Fanvil,
        Vendor::Gigaset,
        Vendor::Linphone,
        Vendor::Mitel,
        Vendor::Alcatel,
        Vendor::AudioCodes,
        Vendor::Avaya,
        Vendor::Htek,
        Vendor::Panasonic,
        Vendor::Linksys,
        Vendor::Technicolor,
        Vendor::Patton,
        Vendor::Flyingvoice,
        Vendor::Digium,
        Vendor::Avm,
        Vendor::Eltex,
        Vendor::Unify,
        Vendor::Jitsi,
        Vendor::CounterPath,
        Vendor::Axis,
        Vendor::MicroSip,
        Vendor::LgNortel,
        Vendor::Zoiper,
        Vendor::Pingtel,
        Vendor::Obihai,
        Vendor::Algo,
        Vendor::Valcom,
        Vendor::SjLabs,
        Vendor::Palmmicro,
        Vendor::Nero,
        Vendor::Microsoft,
        Vendor::Konftel,
        Vendor::Ekiga,
        Vendor::Crestron,
        Vendor::SixtyFourCharacters,
        Vendor::Acrobits,
    ];

    /// The lowercase name used in configuration, JSON output and template paths.
    pub const fn name(self) -> &'static str {
        match self {
            Vendor::Yealink => "yealink",
            Vendor::Polycom => "polycom",
            Vendor::Cisco => "cisco",
            Vendor::Snom => "snom",
            Vendor::Grandstream => "grandstream",
            Vendor::Fanvil => "fanvil",
            Vendor::Gigaset => "gigaset",
            Vendor::Linphone => "linphone",
            Vendor::Mitel => "mitel",
            Vendor::Alcatel => "alcatel",
            Vendor::AudioCodes => "audiocodes",
            Vendor::Avaya => "avaya",
            Vendor::Htek => "htek",
            Vendor::Panasonic => "panasonic",
            Vendor::Linksys => "linksys",
            Vendor::Technicolor => "technicolor",
            Vendor::Patton => "patton",
            Vendor::Flyingvoice => "flyingvoice",
            Vendor::Digium => "digium",
            Vendor::Avm => "avm",
            Vendor::Eltex => "eltex",
            Vendor::Unify => "unify",
            Vendor::Jitsi => "jitsi",
            Vendor::CounterPath => "counterpath",
            Vendor::Axis => "axis",
            Vendor::MicroSip => "microsip",
            Vendor::LgNortel => "lgnortel",
            Vendor::Zoiper => "zoiper",
            Vendor::Pingtel => "pingtel",
            Vendor::Obihai => "obihai",
            Vendor::Algo => "algo",
            Vendor::Valcom => "valcom",
            Vendor::SjLabs => "sjlabs",
            Vendor::Palmmicro => "palmmicro",
            Vendor::Nero => "nero",
            Vendor::Microsoft => "microsoft",
            Vendor::Konftel => "konftel",
            Vendor::Ekiga => "ekiga",
            Vendor::Crestron => "crestron",
            Vendor::SixtyFourCharacters => "64characters",
            Vendor::Acrobits => "acrobits",
        }
    }
}

/// Vendor prefixes (OUIs) that identify a vendor's phones beyond doubt, for choosing a file
/// format when the device certificate's layout names no vendor (a private CA's CN = MAC).
const OUIS: &[([u8; 3], Vendor)] = &[
    ([0x00, 0x15, 0x65], Vendor::Yealink),
    ([0x80, 0x5e, 0xc0], Vendor::Yealink),
    ([0x00, 0x04, 0xf2], Vendor::Polycom),
    ([0x64, 0x16, 0x7f], Vendor::Polycom),
    ([0x00, 0x04, 0x13], Vendor::Snom),
    ([0x00, 0x0b, 0x82], Vendor::Grandstream),
    ([0xc0, 0x74, 0xad], Vendor::Grandstream),
    ([0x0c, 0x38, 0x3e], Vendor::Fanvil),
    ([0x7c, 0x2f, 0x80], Vendor::Gigaset),
];

impl Vendor {
    /// The vendor whose phones carry MACs with this OUI, if sipprov knows it.
    ///
    /// The MAC must come from a verified certificate: this picks a file *format*, it never
    /// authorizes anything.
    pub fn from_oui(oui: [u8; 3]) -> Option<Vendor> {
        OUIS.iter().find(|(prefix, _)| *prefix == oui).map(|(_, vendor)| *vendor)
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Other names brands also go by.
const ALIASES: [(&str, Vendor); 5] = [
    ("poly", Vendor::Polycom),
    ("aastra", Vendor::Mitel),
    ("thomson", Vendor::Technicolor),
    ("sangoma", Vendor::Digium),
    ("sipura", Vendor::Linksys),
];

impl Vendor {
    /// The vendor `name` names, in any case; `poly`, `aastra`, `thomson`, `sangoma` and `sipura`
    /// are accepted as the names those brands also go by. Allocates nothing, unlike a refused
    /// [`str::parse`]: the server asks this of every request whose certificate names no vendor.
    pub fn from_name(name: &str) -> Option<Vendor> {
        ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
            .map(|(_, vendor)| *vendor)
            .or_else(|| Vendor::ALL.into_iter().find(|vendor| vendor.name().eq_ignore_ascii_case(name)))
    }
}

impl FromStr for Vendor {
    type Err = TemplateError;

    /// [`Vendor::from_name`], with an error naming what was not a vendor.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::from_name(s).ok_or_else(|| TemplateError::UnknownVendor { name: s.chars().take(64).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_any_case() {
        for vendor in Vendor::ALL {
            assert_eq!(vendor.name().parse::<Vendor>(), Ok(vendor));
            assert_eq!(vendor.name().to_ascii_uppercase().parse::<Vendor>(), Ok(vendor));
            assert_eq!(vendor.to_string(), vendor.name());
        }
        assert_eq!("Aastra".parse::<Vendor>(), Ok(Vendor::Mitel));
        assert_eq!("poly".parse::<Vendor>(), Ok(Vendor::Polycom));
        assert!("acme".parse::<Vendor>().is_err());
        assert_eq!(Vendor::from_name("SIPURA"), Some(Vendor::Linksys));
        assert_eq!(Vendor::from_name("yealink-t4x"), None);
        assert_eq!(Vendor::from_name(""), None);
    }
}
