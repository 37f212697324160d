//! Each vendor's rendered file against its peers' reference configs: read back with the
//! vendor's reader (quick-xml for the XML formats, not sipprov's writer), the file has the
//! reference's root element and every key the reference uses for the same settings.
//!
//! The key names are facts taken from the references named beside each list (docs/vendors/
//! has every key with its line); the reference files themselves are not copied here.

use sipprov_template::{AccountSettings, Renderer, Srtp, Transport, Vendor};

use crate::fixtures;

/// The keys a reference config writes for an account with a password, an outbound proxy and a
/// transport, an admin password, the provisioning URL and NTP.
fn reference_keys(vendor: Vendor) -> &'static [&'static str] {
    match vendor {
        // wazo-provd-plugins plugins/wazo_yealink/v87/templates/base.tpl (2321a3f3).
        Vendor::Yealink => &[
            "account.1.enable",
            "account.1.label",
            "account.1.display_name",
            "account.1.auth_name",
            "account.1.user_name",
            "account.1.password",
            "account.1.sip_server.1.address",
            "account.1.sip_server.1.transport_type",
            "static.security.user_password",
            "static.auto_provision.server.url",
            "local_time.ntp_server1",
        ],
        // wazo_polycom/common/templates/base.tpl (2321a3f3); FusionPBX polycom/5.x/{$mac}.cfg (c7a00dcb).
        Vendor::Polycom => &[
            "reg.1.address",
            "reg.1.auth.userId",
            "reg.1.auth.password",
            "reg.1.displayName",
            "reg.1.label",
            "reg.1.server.1.address",
            "reg.1.server.1.transport",
            "reg.1.outboundProxy.address",
            "device.set",
            "device.auth.localAdminPassword.set",
            "device.auth.localAdminPassword",
            "device.prov.serverName.set",
            "device.prov.serverName",
            "device.sec.TLS.prov.strictCertCommonNameValidation.set",
            "device.sec.TLS.prov.strictCertCommonNameValidation",
            "tcpIpApp.sntp.address.overrideDHCP",
            "tcpIpApp.sntp.address",
        ],
        // FusionPBX cisco/8841/{$mac}.xml (c7a00dcb); wazo_cisco_sip/v12_0_7/templates/base.tpl.
        Vendor::Cisco => &[
            "Line_Enable_1_",
            "Display_Name_1_",
            "User_ID_1_",
            "Auth_ID_1_",
            "Password_1_",
            "Proxy_1_",
            "SIP_Transport_1_",
            "Outbound_Proxy_1_",
            "Admin_Password",
            "Enable_Web_Server",
            "Provision_Enable",
            "Profile_Rule",
            "Primary_NTP_Server",
        ],
        // wazo_snom/common/templates/base.tpl (2321a3f3); Snom's fwd_all_enabled and dnd_mode pages.
        Vendor::Snom => &[
            "user_active[1]",
            "user_realname[1]",
            "user_name[1]",
            "user_pname[1]",
            "user_pass[1]",
            "user_host[1]",
            "user_outbound[1]",
            "fwd_all_enabled[1]",
            "dnd_mode[1]",
            "admin_mode_password",
            "http_user",
            "http_pass",
            "setting_server",
            "ntp_server",
        ],
        // FusionPBX grandstream/gxp21xx/{$mac}.xml, Grandstream's own template (c7a00dcb).
        Vendor::Grandstream => {
            &["P271", "P270", "P47", "P48", "P35", "P36", "P34", "P3", "P130", "P2347", "P2", "P212", "P237", "P30"]
        }
        // wazo_fanvil/common/templates/base-new.tpl (2321a3f3); FusionPBX fanvil/x6u/{$mac}.cfg.
        Vendor::Fanvil => &[
            "Version",
            "sip.line[1].PhoneNumber",
            "sip.line[1].DisplayName",
            "sip.line[1].RegisterAddr",
            "sip.line[1].RegisterPort",
            "sip.line[1].RegisterUser",
            "sip.line[1].RegisterPswd",
            "sip.line[1].EnableReg",
            "sip.line[1].ProxyAddr",
            "sip.line[1].Transport",
            "web.account[1].Name",
            "web.account[1].Password",
            "web.account[1].Level",
            "ap.FlashServerIP",
            "ap.FlashFileName",
            "ap.FlashProtocol",
        ],
        // wazo_gigaset/Nx70_83_v2_65_0/templates/base.tpl (2321a3f3).
        Vendor::Gigaset => &[
            "WebUIAccounts.1.Password",
            "Provisioning.global.ProvisioningServer",
            "SipProvider.0.Domain",
            "SipProvider.0.ProxyServerAddress",
            "SipProvider.0.ProxyServerPort",
            "SipProvider.0.RegServerAddress",
            "SipProvider.0.RegServerPort",
            "SipProvider.0.OutboundProxyAddress",
            "SipProvider.0.TransportProtocol",
            "SipProvider.0.UseSIPS",
            "SipAccount.00001.ProviderId",
            "SipAccount.00001.AuthName",
            "SipAccount.00001.AuthPassword",
            "SipAccount.00001.UserName",
            "SipAccount.00001.DisplayName",
        ],
        // liblinphone account-params.cpp, auth-info.cpp, linphonecore.c (9896e6c9).
        Vendor::Linphone => &[
            "misc.config-uri",
            "sip.verify_server_certs",
            "sip.verify_server_cn",
            "proxy_0.reg_proxy",
            "proxy_0.reg_route",
            "proxy_0.reg_identity",
            "proxy_0.reg_sendregister",
            "auth_info_0.username",
            "auth_info_0.userid",
            "auth_info_0.passwd",
            "auth_info_0.domain",
        ],
        _ => &[],
    }
}

#[test]
fn every_vendors_file_has_its_references_keys() {
    let renderer = Renderer::shipped().unwrap();
    let settings = fixtures::settings();
    let account = AccountSettings {
        transport: Some(Transport::Tls),
        srtp: Some(Srtp::Optional),
        outbound_proxy: Some("proxy.example.net:5061".into()),
        ..fixtures::account()
    };
    for vendor in fixtures::vendors() {
        let keys = reference_keys(vendor);
        assert!(!keys.is_empty(), "{vendor}: no reference keys listed");
        let device = fixtures::device(vendor, &account, &settings, true);
        let config = renderer.render_device(fixtures::device_file(vendor), &device).unwrap();
        let read = (vendor.profile().unwrap().read)(&config).unwrap_or_else(|e| panic!("{vendor}: {e}"));
        let missing: Vec<&&str> = keys.iter().filter(|key| !read.iter().any(|(k, _)| k == *key)).collect();
        assert!(missing.is_empty(), "{vendor}: the reference's {missing:?} are not in\n{config}");
    }
}
