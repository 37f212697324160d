//! Headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`): the
//! browser of the portal tests. Plain HTTP to a `chromedriver` on loopback.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A `chromedriver` and one headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    /// Starts `chromedriver` on a free port and a headless session whose profile lives in
    /// `profile`; `None` (said loudly) when Chromium or its driver is missing outside CI.
    pub fn start(profile: &Path) -> Option<Self> {
        let missing: Vec<_> = ["chromium", "chromedriver"]
            .into_iter()
            .filter(|tool| Command::new(tool).arg("--version").output().is_err())
            .collect();
        if !missing.is_empty() {
            assert!(std::env::var_os("CI").is_none(), "{missing:?} required in CI (.ci/run installs them)");
            eprintln!("SKIPPED: {missing:?} not found; install Debian's chromium and chromium-driver to run this test");
            return None;
        }
        let port = super::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=900,1300", format!("--user-data-dir={}", profile.display())],
            },
        }}});
        let mut browser = Self { driver, base, session: String::new() };
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"].as_str().expect("a WebDriver session").to_owned();
        Some(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let mut response = match (method, body) {
            ("GET", _) => ureq::get(&url).call(),
            ("DELETE", _) => ureq::delete(&url).call(),
            (_, body) => ureq::post(&url).send_json(body.unwrap_or_else(|| json!({}))),
        }?;
        let value: Value = response.body_mut().read_json()?;
        Ok(value["value"].clone())
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Loads `url`.
    pub fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The page's HTML.
    pub fn source(&self) -> String {
        self.session_call("GET", "/source", None).as_str().unwrap_or_default().to_owned()
    }

    /// The page once it contains `needle` (waiting up to 10 s: a click's page may still be loading).
    pub fn page_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = self.source();
            if page.contains(needle) {
                return page;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in {page}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element `css` selects (the first), waiting up to 10 s for a page to load it.
    pub fn find(&self, css: &str) -> String {
        let path = format!("/session/{}/element", self.session);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.try_call("POST", &path, Some(json!({ "using": "css selector", "value": css })));
            if let Some(element) = found.ok().and_then(|found| found[ELEMENT].as_str().map(str::to_owned)) {
                return element;
            }
            assert!(Instant::now() < deadline, "no element {css} in {}", self.source());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` into the element `css` selects.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.session_call("POST", &format!("/element/{element}/value"), Some(json!({ "text": text })));
    }

    /// Clicks the element `css` selects.
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.session_call("POST", &format!("/element/{element}/click"), None);
    }

    /// The visible text of the element `css` selects.
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.session_call("GET", &format!("/element/{element}/text"), None).as_str().unwrap_or_default().to_owned()
    }

    /// The cookie `name` the browser holds for the current page's site, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.session_call("GET", "/cookie", None);
        cookies.as_array()?.iter().find(|c| c["name"] == name).and_then(|c| c["value"].as_str()).map(str::to_owned)
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let encoded = self.session_call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap_or_default()).expect("a PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
