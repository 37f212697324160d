//! The portal's HTML, rendered server-side by minijinja with HTML auto-escaping: pages work
//! without JavaScript, and nothing a user or the inventory holds can become markup.

use minijinja::{Environment, Value};

/// The page templates, compiled into the binary.
const TEMPLATES: [(&str, &str); 10] = [
    ("layout.html", include_str!("../templates/layout.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("activate.html", include_str!("../templates/activate.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("revealed.html", include_str!("../templates/revealed.html")),
    ("link.html", include_str!("../templates/link.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("code.html", include_str!("../templates/code.html")),
    ("totp.html", include_str!("../templates/totp.html")),
];

/// The style sheet every page links.
pub(crate) const STYLE: &str = include_str!("../templates/style.css");

/// The compiled pages.
pub(crate) struct Pages {
    env: Environment<'static>,
    brand: String,
}

impl Pages {
    /// Compiles the templates; `brand` names the service in every page's title and header.
    pub(crate) fn new(brand: &str) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        // `.html` names: minijinja escapes every value for HTML. Each page is its own part of
        // the layout (no `extends`: the engine is built without multi-template support).
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env, brand: brand.to_owned() })
    }

    /// Renders page `name` with `context` (merged with the brand) inside the layout; a
    /// template error becomes a plain page saying so (and is logged), never a panic.
    pub(crate) fn render(&self, name: &str, context: Value) -> String {
        let context = minijinja::context! { brand => self.brand.as_str(), ..context };
        let render = |name: &str, context: Value| self.env.get_template(name).and_then(|t| t.render(context));
        // The page's own part first, then the layout around it (already escaped: inserted whole).
        let page = render(name, context.clone())
            .and_then(|main| render("layout.html", minijinja::context! { main => main, ..context }));
        match page {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(page = name, error = %e, "portal page cannot be rendered");
                "<!doctype html><title>Error</title><p>This page cannot be shown. Please try again later.</p>".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_renders_and_escapes_what_it_is_given() {
        let pages = Pages::new("Example Telecom").unwrap();
        let hostile = "<script>alert(1)</script>";
        let page = pages.render(
            "login.html",
            minijinja::context! { title => "Log in", name => hostile, form_token => "t", user => Value::UNDEFINED },
        );
        assert!(page.contains("Example Telecom") && page.contains("<form method=\"post\" action=\"/login\""));
        assert!(!page.contains(hostile) && page.contains("&lt;script&gt;"), "{page}");
        for name in [
            "activate.html",
            "home.html",
            "confirm.html",
            "revealed.html",
            "link.html",
            "message.html",
            "code.html",
            "totp.html",
        ] {
            let page = pages.render(name, minijinja::context! { title => "t" });
            assert!(page.starts_with("<!doctype html>") && page.contains("<main>"), "{name}: {page}");
        }
    }
}
