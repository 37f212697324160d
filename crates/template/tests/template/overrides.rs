//! Operator overrides, start-up checks, and the limits every render runs under.

use std::path::Path;

use sipprov_template::{Layer, LayeredSettings, Renderer, TemplateError, Vendor, recognise_route};

use crate::fixtures;

fn write(dir: &Path, name: &str, source: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, source).unwrap();
}

fn renderer_with(name: &str, source: &str) -> Result<Renderer, TemplateError> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), name, source);
    Renderer::with_overrides(dir.path())
}

fn render_yealink(renderer: &Renderer) -> Result<String, TemplateError> {
    let (account, settings) = (fixtures::account(), fixtures::settings());
    let device = fixtures::device(Vendor::Yealink, &account, &settings, false);
    renderer.render_device(fixtures::device_file(Vendor::Yealink), &device)
}

#[test]
fn an_override_replaces_the_shipped_template_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "yealink/device.cfg", "#!version:1.0.0.1\naccount.1.label = {{ account.display_name }}\n");
    write(dir.path(), ".editor-swap", "ignored");
    write(dir.path(), "yealink/.device.cfg.swp", "ignored");
    let renderer = Renderer::with_overrides(dir.path()).unwrap();
    assert_eq!(render_yealink(&renderer).unwrap(), "#!version:1.0.0.1\naccount.1.label = Front desk\n");
    // The others are still the shipped ones.
    assert_eq!(renderer.template_names().count(), Renderer::shipped().unwrap().template_names().count());
}

#[test]
fn a_broken_override_stops_the_start_naming_file_and_line() {
    let err =
        renderer_with("polycom/device.cfg", "<polycomConfig>\n<reg a=\"{{ account.user_name }\"/>\n</polycomConfig>\n")
            .unwrap_err();
    let TemplateError::InvalidTemplate { template, line, .. } = &err else { panic!("{err:?}") };
    assert!(template.ends_with("polycom/device.cfg"), "{template}");
    assert_eq!(*line, Some(2));
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn an_override_must_replace_a_shipped_template() {
    for name in ["yealink/y000000000000.cfg", "acme/device.cfg", "device.cfg"] {
        let err = renderer_with(name, "x").unwrap_err();
        assert!(
            matches!(&err, TemplateError::Override { path, .. } if path.contains(name.split('/').next().unwrap())),
            "{name}: {err:?}"
        );
    }
    let missing = Renderer::with_overrides(Path::new("/nonexistent/sipprov-templates")).unwrap_err();
    assert!(matches!(missing, TemplateError::Override { .. }), "{missing:?}");
}

#[test]
fn templates_may_use_only_what_their_kind_of_file_is_given() {
    // A common file never sees an account, a MAC or a secret.
    for leak in ["{{ secrets.admin_password }}", "{{ account.user_name }}", "{{ mac }}"] {
        let err =
            renderer_with("cisco/common.xml", &format!("<flat-profile><x>{leak}</x></flat-profile>")).unwrap_err();
        assert!(err.to_string().contains("a common file is not given"), "{leak}: {err}");
    }
    // Global functions (range, namespace, debug, ...) and unknown names are refused at start-up.
    for stray in ["{{ range(3) }}", "{{ debug() }}", "{{ secret }}", "{% for x in namespace() %}{% endfor %}"] {
        let err = renderer_with("yealink/device.cfg", &format!("#!version:1.0.0.1\nx = {stray}\n")).unwrap_err();
        assert!(matches!(err, TemplateError::InvalidTemplate { .. }), "{stray}: {err:?}");
    }
    // One file is one template: no includes, imports or macros.
    for multi in ["{% include \"yealink/device.cfg\" %}", "{% import \"x\" as y %}", "{% macro m() %}{% endmacro %}"] {
        assert!(renderer_with("yealink/device.cfg", &format!("#!version:1.0.0.1\n{multi}\n")).is_err(), "{multi}");
    }
}

#[test]
fn an_undefined_value_is_an_error_naming_template_and_line() {
    let renderer =
        renderer_with("yealink/device.cfg", "#!version:1.0.0.1\n\nx = {{ settings.not_set_anywhere }}\n").unwrap();
    let err = render_yealink(&renderer).unwrap_err();
    let TemplateError::Render { template, line, .. } = &err else { panic!("{err:?}") };
    assert!(template.ends_with("yealink/device.cfg"), "{template}");
    assert_eq!(*line, Some(3));
    // `is defined` is how a template asks.
    let renderer =
        renderer_with("yealink/device.cfg", "#!version:1.0.0.1\n{% if settings.x is defined %}x = 1\n{% endif %}")
            .unwrap();
    assert_eq!(render_yealink(&renderer).unwrap(), "#!version:1.0.0.1\n");
}

#[test]
fn a_runaway_template_runs_out_of_fuel() {
    let renderer =
        renderer_with("yealink/device.cfg", "#!version:1.0.0.1\n{% for c in \"x\" * 10000000 %}a{% endfor %}\n")
            .unwrap();
    let err = render_yealink(&renderer).unwrap_err();
    assert!(err.to_string().contains("fuel"), "{err}");
}

#[test]
fn safe_and_computed_values_are_escaped_or_refused_too() {
    let account = sipprov_template::AccountSettings { display_name: "<b>&".into(), ..fixtures::account() };
    let settings = fixtures::settings();
    let renderer = renderer_with(
        "cisco/device.xml",
        "<flat-profile><A>{{ account.display_name|safe }}</A><B>{{ account.display_name ~ \"<\" }}</B></flat-profile>",
    )
    .unwrap();
    let device = fixtures::device(Vendor::Cisco, &account, &settings, false);
    let text = renderer.render_device(fixtures::device_file(Vendor::Cisco), &device).unwrap();
    assert_eq!(text, "<flat-profile><A>&lt;b&gt;&amp;</A><B>&lt;b&gt;&amp;&lt;</B></flat-profile>");
    // A line break made inside a template is refused by the formatter.
    let renderer =
        renderer_with("yealink/device.cfg", "#!version:1.0.0.1\nx = {{ account.user_name ~ \"\\n\" }}\n").unwrap();
    let err = render_yealink(&renderer).unwrap_err();
    assert!(err.to_string().contains("control character U+000A"), "{err}");
}

#[test]
fn the_nearest_settings_layer_reaches_the_file() {
    let renderer = Renderer::shipped().unwrap();
    let account = fixtures::account();
    let mut settings = LayeredSettings::new();
    settings.set(Layer::Global, "provisioning_url", "https://global.example.net").unwrap();
    settings.set(Layer::Global, "ntp_server", "global.ntp").unwrap();
    settings.set(Layer::Vendor, "ntp_server", "vendor.ntp").unwrap();
    settings.set(Layer::Model, "ntp_server", "model.ntp").unwrap();
    settings.set(Layer::Site, "provisioning_url", "https://site.example.net").unwrap();
    settings.set(Layer::Device, "ntp_server", "device.ntp").unwrap();
    let device = fixtures::device(Vendor::Yealink, &account, &settings, false);
    let text = renderer.render_device(fixtures::device_file(Vendor::Yealink), &device).unwrap();
    assert!(text.contains("local_time.ntp_server1 = device.ntp\n"), "{text}");
    assert!(text.contains("static.auto_provision.server.url = https://site.example.net\n"), "{text}");
}

#[test]
fn only_renderable_files_of_the_right_kind_render() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    let device = fixtures::device(Vendor::Polycom, &account, &settings, false);
    // Polycom's device licence file is recognised, not served.
    let route = recognise_route("/0004f28b54f4-license.cfg", None);
    let err = renderer.render_device(route.file_for(Vendor::Polycom).unwrap(), &device).unwrap_err();
    assert!(matches!(err, TemplateError::NotRenderable { .. }), "{err:?}");
    // A device file cannot be rendered as a common file (it would get no secrets, but also no account).
    let err = renderer.render_common(fixtures::device_file(Vendor::Polycom), &settings).unwrap_err();
    assert!(matches!(err, TemplateError::NotRenderable { .. }), "{err:?}");
    let master = recognise_route("/000000000000.cfg", None);
    let err = renderer.render_device(master.file_for(Vendor::Polycom).unwrap(), &device).unwrap_err();
    assert!(matches!(err, TemplateError::NotRenderable { .. }), "{err:?}");
}

#[test]
fn a_template_that_walks_or_looks_up_settings_sees_every_one() {
    // A render gives a template only the settings it names; these use the map as a whole.
    let mut settings = fixtures::settings();
    settings.set(Layer::Model, "language", "German").unwrap();
    settings.set(Layer::Device, "ntp_server", "ntp.desk.example.net").unwrap();
    let account = fixtures::account();
    let device = fixtures::device(Vendor::Yealink, &account, &settings, false);
    let file = fixtures::device_file(Vendor::Yealink);
    let walk = "{% for name, value in settings|items %}{{ name }}={{ value }}\n{% endfor %}";
    let lookup =
        "{% set name = 'lang' ~ 'uage' %}{{ settings.ntp_server }} {{ settings[name] }} {{ settings|length }}\n";
    let walked = renderer_with("yealink/device.cfg", walk).unwrap().render_device(file, &device).unwrap();
    assert_eq!(
        walked, "language=German\nntp_server=ntp.desk.example.net\nprovisioning_url=https://prov.example.net\n",
        "every setting, each from its nearest layer"
    );
    let looked_up = renderer_with("yealink/device.cfg", lookup).unwrap().render_device(file, &device).unwrap();
    assert_eq!(looked_up, "ntp.desk.example.net German 3\n");
    // Named one by one, each is the nearest layer's; one that is not set stays undefined.
    let named = "{{ settings.ntp_server }} {{ settings.language }} {{ settings.firmware_url is defined }}\n";
    let rendered = renderer_with("yealink/device.cfg", named).unwrap().render_device(file, &device).unwrap();
    assert_eq!(rendered, "ntp.desk.example.net German False\n");
}
