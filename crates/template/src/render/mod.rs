//! Rendering config files from templates, escaped for their format.
//!
//! A [`Renderer`] is built once at start-up from the templates shipped in this crate, each of
//! which may be replaced by a file of the same name in an operator's override directory. Every
//! template is compiled and checked then, so a broken override stops the start with its file
//! and line rather than failing the first phone that asks.
//!
//! The template language is minijinja without includes, imports, macros or global functions:
//! one template is one file, readable top to bottom. Undefined variables are errors (strict
//! mode), every render has a fuel budget, and every `{{ value }}` goes through a formatter that
//! escapes it for the file's format (or refuses it): there is no `|safe`.

mod context;
mod overrides;
mod shipped;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};

pub use context::Device;

use crate::format::{key_value, xml};
use crate::{FileKind, Format, LayeredSettings, ProfileFile, TemplateError, profiles};

/// The work one render may do: about this many template instructions, or 64 times as many
/// bytes of output. Shipped templates need a few hundred; the budget stops a runaway loop in
/// an override from holding a worker.
pub const FUEL: u64 = 20_000;

/// Renders vendor config files; built once, shared by every request.
///
/// ```
/// use sipprov_template::{AccountSettings, Device, Layer, LayeredSettings, Renderer, Secrets, Vendor, recognise_route};
///
/// let renderer = Renderer::shipped()?;
/// let mut settings = LayeredSettings::new();
/// settings.set(Layer::Global, "provisioning_url", "https://prov.example.net")?;
/// let account = AccountSettings::new("1001", "u-1001", "Reception", "sip.example.net");
/// let route = recognise_route("/0004f28b54f4-sipprov.cfg", None);
/// let file = route.file_for(Vendor::Polycom).unwrap();
/// let device = Device { firmware: None,
///     mac: route.mac().unwrap(),
///     model: None,
///     accounts: std::slice::from_ref(&account),
///     keys: &[],
///     settings: &settings,
///     secrets: Secrets { sip_passwords: &[(1, "s3cret<&>")], admin_password: Some("Xq7-per-device") },
/// };
/// let config = renderer.render_device(file, &device)?;
/// assert!(config.contains(r#"reg.1.auth.password="s3cret&lt;&amp;&gt;""#));
///
/// // Without the password the key is left out, so the phone keeps the one it has.
/// let later = Device { secrets: Secrets { sip_passwords: &[], ..device.secrets }, ..device };
/// assert!(!renderer.render_device(file, &later)?.contains("reg.1.auth.password"));
/// # Ok::<(), sipprov_template::TemplateError>(())
/// ```
#[derive(Debug)]
pub struct Renderer {
    key_value: Environment<'static>,
    xml: Environment<'static>,
    templates: BTreeMap<&'static str, Loaded>,
}

/// What start-up learnt about one template.
#[derive(Debug)]
struct Loaded {
    format: Format,
    /// The dotted variable paths it refers to, checked against the format before each render.
    referenced: context::References,
    /// Whether it uses the one-account names (`account.*`, `secrets.sip_password`): only then
    /// does a render give it the first account under them too.
    one_account: bool,
    /// Whether it refers to `secrets`, `accounts` or `account` in any way: what may write a
    /// secret.
    may_carry_secrets: bool,
    /// Where it came from: `shipped` or the override's path, for error messages.
    origin: String,
}

impl Renderer {
    /// A renderer with the templates shipped in this crate.
    pub fn shipped() -> Result<Renderer, TemplateError> {
        Self::build(shipped::sources())
    }

    /// A renderer whose templates are the shipped ones, each replaced by the file of the same
    /// name under `dir` if there is one (`dir/yealink/device.cfg` replaces `yealink/device.cfg`).
    ///
    /// A file under `dir` that replaces no shipped template, is not UTF-8, does not compile, or
    /// uses a variable its kind of file is not given, is an error naming the file (and line).
    /// Names starting with `.` are skipped.
    pub fn with_overrides(dir: &Path) -> Result<Renderer, TemplateError> {
        let mut sources = shipped::sources();
        overrides::apply(dir, &mut sources)?;
        Self::build(sources)
    }

    /// The names of all templates, e.g. `yealink/device.cfg`.
    pub fn template_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.templates.keys().copied()
    }

    /// The template source shipped under `name`, for operators starting an override.
    pub fn shipped_source(name: &str) -> Option<&'static str> {
        shipped::SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, source)| *source)
    }

    fn build(sources: BTreeMap<&'static str, (String, String)>) -> Result<Renderer, TemplateError> {
        let mut renderer = Renderer {
            key_value: environment(Format::KeyValue)?,
            xml: environment(Format::Xml)?,
            templates: BTreeMap::new(),
        };
        for (name, (source, origin)) in sources {
            let (format, kind) = template_use(name)?;
            let env = match format {
                Format::KeyValue => &mut renderer.key_value,
                _ => &mut renderer.xml,
            };
            let invalid = |e: &Error| TemplateError::InvalidTemplate {
                template: origin.clone(),
                line: e.line(),
                detail: e.detail().map_or_else(|| e.kind().to_string(), str::to_owned),
            };
            env.add_template_owned(name, source).map_err(|e| invalid(&e))?;
            let template = env.get_template(name).map_err(|e| invalid(&e))?;
            let allowed = if kind == FileKind::Device { context::DEVICE_VARIABLES } else { context::COMMON_VARIABLES };
            let mut referenced: Vec<String> = template.undeclared_variables(true).into_iter().collect();
            referenced.sort();
            // Judged on the names as written, before they are refined to the fields used.
            let may_carry_secrets =
                referenced.iter().any(|r| matches!(r.split('.').next(), Some("secrets" | "accounts" | "account")));
            let referenced = context::account_fields_used(referenced, &source_of(&renderer, format, name));
            if let Some(stray) = referenced.iter().find(|r| !allowed.contains(&r.split('.').next().unwrap_or(r))) {
                return Err(TemplateError::InvalidTemplate {
                    template: origin,
                    line: None,
                    detail: format!(
                        "uses {stray:?}, which a {} file is not given (it may use: {})",
                        kind.name(),
                        allowed.join(", ")
                    ),
                });
            }
            let one_account = referenced
                .iter()
                .any(|r| r == "account" || r.starts_with("account.") || r == "secrets" || r == "secrets.sip_password");
            let referenced = context::References::new(&referenced);
            renderer.templates.insert(name, Loaded { format, referenced, one_account, may_carry_secrets, origin });
        }
        Ok(renderer)
    }

    /// Whether `file`'s template can write a secret: it refers to secrets or accounts (where
    /// account passwords are). A device file that cannot (Polycom's per-device master file)
    /// is served without delivering anything, so fetching it never starts the grace window.
    pub fn may_carry_secrets(&self, file: &ProfileFile) -> bool {
        file.template.and_then(|name| self.templates.get(name)).is_some_and(|loaded| loaded.may_carry_secrets)
    }

    /// Renders a device's own file. `file` must be a [`FileKind::Device`] file with a template.
    pub fn render_device(&self, file: &ProfileFile, device: &Device<'_>) -> Result<String, TemplateError> {
        self.render(file, FileKind::Device, |loaded| {
            context::Fields::device(device, loaded.one_account, &loaded.referenced)
        })
    }

    /// Renders a file every phone fetches, from settings alone: no account, MAC or secret can
    /// reach it. `file` must be a [`FileKind::Common`] file with a template.
    pub fn render_common(&self, file: &ProfileFile, settings: &LayeredSettings) -> Result<String, TemplateError> {
        self.render(file, FileKind::Common, |loaded| context::Fields::common(settings, &loaded.referenced))
    }

    /// Renders `file` with the fields `fields` gives for its template.
    fn render<'a>(
        &self,
        file: &ProfileFile,
        kind: FileKind,
        fields: impl FnOnce(&Loaded) -> context::Fields<'a>,
    ) -> Result<String, TemplateError> {
        let not_renderable =
            |detail| TemplateError::NotRenderable { vendor: file.vendor, pattern: file.pattern, detail };
        let Some(name) = file.template else {
            return Err(not_renderable("sipprov recognises this file but does not serve it"));
        };
        if file.kind != kind {
            return Err(not_renderable(if kind == FileKind::Device {
                "not a device file"
            } else {
                "not a common file"
            }));
        }
        let Some(loaded) = self.templates.get(name) else {
            return Err(not_renderable("its template is missing"));
        };
        let fields = fields(loaded);
        fields.check(loaded.format, &loaded.referenced)?;
        let env = if loaded.format == Format::KeyValue { &self.key_value } else { &self.xml };
        let failed = |e: Error| TemplateError::Render {
            template: loaded.origin.clone(),
            line: e.line(),
            detail: e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
        };
        let template = env.get_template(name).map_err(failed)?;
        template.render(fields.to_value()).map_err(failed)
    }
}

/// A compiled template's source text.
fn source_of(renderer: &Renderer, format: Format, name: &str) -> String {
    let env = if format == Format::KeyValue { &renderer.key_value } else { &renderer.xml };
    env.get_template(name).map(|t| t.source().to_owned()).unwrap_or_default()
}

/// The format and kind of the files a template renders, from the profiles and the link formats.
fn template_use(name: &str) -> Result<(Format, FileKind), TemplateError> {
    let link_files = crate::LinkFormat::ALL.into_iter().map(crate::LinkFormat::file);
    profiles()
        .iter()
        .flat_map(|p| p.files.iter())
        .chain(link_files)
        .find(|f| f.template == Some(name))
        .map(|f| (f.format, f.kind))
        .ok_or_else(|| TemplateError::InvalidTemplate {
            template: name.to_owned(),
            line: None,
            detail: "no profile file uses this template".into(),
        })
}

fn environment(format: Format) -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    let syntax = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(true).build();
    env.set_syntax(syntax.map_err(|e| TemplateError::InvalidTemplate {
        template: "(syntax)".into(),
        line: None,
        detail: e.to_string(),
    })?);
    // `{{ account.user_name | sip_user }}` where a template builds a SIP URI itself.
    env.add_filter("sip_user", |value: &str| crate::sip::escape_user(value));
    env.set_formatter(move |out, _state, value| {
        if value.is_undefined() {
            return Err(Error::new(ErrorKind::UndefinedError, "an undefined value cannot be written"));
        }
        let text = text_of(value);
        let written = match format {
            Format::KeyValue => {
                key_value::check_value("(a value computed in the template)", &text).map(|()| out.write_str(&text))
            }
            _ => xml::check_value("(a value computed in the template)", &text)
                .map(|()| out.write_str(&xml::escape(&text))),
        };
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Error::from(ErrorKind::WriteFailure)),
            Err(refused) => Err(Error::new(ErrorKind::InvalidOperation, refused.to_string())),
        }
    });
    Ok(env)
}

/// A value as text. Strings as they are (borrowed: a render writes a few dozen); anything else
/// as minijinja displays it.
fn text_of(value: &Value) -> Cow<'_, str> {
    match value.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_renderer_is_shared_by_every_request() {
        fn shareable<T: Send + Sync>(_: &T) {}
        shareable(&Renderer::shipped().unwrap());
    }

    #[test]
    fn every_template_a_profile_names_is_shipped_and_used_for_one_format_and_kind() {
        let renderer = Renderer::shipped().unwrap();
        let names: Vec<&str> = renderer.template_names().collect();
        let link_files = crate::LinkFormat::ALL.into_iter().map(crate::LinkFormat::file);
        for file in profiles().iter().flat_map(|p| p.files.iter()).chain(link_files) {
            if let Some(name) = file.template {
                assert!(names.contains(&name), "{name} is shipped");
                assert!(name.starts_with(&format!("{}/", file.vendor.name())), "{name} is under its vendor");
                assert_eq!(template_use(name).unwrap(), (file.format, file.kind), "{name}");
            }
        }
        assert_eq!(names.len(), shipped::SHIPPED.len());
    }
}
