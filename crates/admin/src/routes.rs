//! The admin API's routes: method, path template and the role each needs. `docs/openapi.json`
//! describes exactly these (a test compares them).

use hyper::Method;
use sipprov_credentials::Role;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Health,
    Metrics,
    ListDevices,
    CreateDevice,
    ShowDevice,
    UpdateDevice,
    DeleteDevice,
    Rearm,
    Rotate,
    Disable,
    Enable,
    IssueSecret,
    RemoveSecret,
    Import,
    ListPending,
    EnrolPending,
    Audit,
    Suspicious,
    ListBans,
    RemoveBan,
    CreateToken,
    ListTokens,
    RevokeToken,
    ListFirmware,
    AddFirmware,
    RemoveFirmware,
    FlagFirmware,
    SetTarget,
    ClearTarget,
    FirmwareReport,
    StaleReport,
    RatingsReport,
    MismatchReport,
    RegistrarStatus,
    RegistrarSync,
    Resync,
    CreateUser,
    ListUsers,
    RemoveUser,
    ResetUser,
    SoftphoneLink,
}

/// One route.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) method: Method,
    /// Segments in `{braces}` capture one path segment (percent-decoded).
    pub(crate) path: &'static str,
    /// The least role that may call it; `None`: no token needed.
    pub(crate) role: Option<Role>,
    pub(crate) action: Action,
}

const fn route(method: Method, path: &'static str, role: Option<Role>, action: Action) -> Route {
    Route { method, path, role, action }
}

const AUDITOR: Option<Role> = Some(Role::Auditor);
const OPERATOR: Option<Role> = Some(Role::Operator);

pub(crate) const ROUTES: &[Route] = &[
    route(Method::GET, "/v1/health", None, Action::Health),
    route(Method::GET, "/metrics", AUDITOR, Action::Metrics),
    route(Method::GET, "/v1/devices", AUDITOR, Action::ListDevices),
    route(Method::POST, "/v1/devices", OPERATOR, Action::CreateDevice),
    route(Method::GET, "/v1/devices/{mac}", AUDITOR, Action::ShowDevice),
    route(Method::PATCH, "/v1/devices/{mac}", OPERATOR, Action::UpdateDevice),
    route(Method::DELETE, "/v1/devices/{mac}", OPERATOR, Action::DeleteDevice),
    route(Method::POST, "/v1/devices/{mac}/rearm", OPERATOR, Action::Rearm),
    route(Method::POST, "/v1/devices/{mac}/rotate", OPERATOR, Action::Rotate),
    route(Method::POST, "/v1/devices/{mac}/disable", OPERATOR, Action::Disable),
    route(Method::POST, "/v1/devices/{mac}/enable", OPERATOR, Action::Enable),
    route(Method::POST, "/v1/devices/{mac}/enrolment-secret", OPERATOR, Action::IssueSecret),
    route(Method::DELETE, "/v1/devices/{mac}/enrolment-secret", OPERATOR, Action::RemoveSecret),
    route(Method::POST, "/v1/import", OPERATOR, Action::Import),
    route(Method::GET, "/v1/pending", AUDITOR, Action::ListPending),
    route(Method::POST, "/v1/pending/{mac}/enrol", OPERATOR, Action::EnrolPending),
    route(Method::GET, "/v1/audit", AUDITOR, Action::Audit),
    route(Method::GET, "/v1/audit/suspicious", AUDITOR, Action::Suspicious),
    route(Method::GET, "/v1/bans", AUDITOR, Action::ListBans),
    route(Method::DELETE, "/v1/bans/{key}", OPERATOR, Action::RemoveBan),
    route(Method::POST, "/v1/tokens", Some(Role::Admin), Action::CreateToken),
    route(Method::GET, "/v1/tokens", Some(Role::Admin), Action::ListTokens),
    route(Method::DELETE, "/v1/tokens/{id}", Some(Role::Admin), Action::RevokeToken),
    route(Method::GET, "/v1/firmware", AUDITOR, Action::ListFirmware),
    route(Method::POST, "/v1/firmware", OPERATOR, Action::AddFirmware),
    // Before `/v1/firmware/{sha256}`, which would capture `targets`.
    route(Method::PUT, "/v1/firmware/targets", OPERATOR, Action::SetTarget),
    route(Method::DELETE, "/v1/firmware/targets", OPERATOR, Action::ClearTarget),
    route(Method::DELETE, "/v1/firmware/{sha256}", OPERATOR, Action::RemoveFirmware),
    route(Method::POST, "/v1/firmware/{sha256}/flag", OPERATOR, Action::FlagFirmware),
    route(Method::GET, "/v1/reports/firmware", AUDITOR, Action::FirmwareReport),
    route(Method::GET, "/v1/reports/stale", AUDITOR, Action::StaleReport),
    route(Method::GET, "/v1/reports/ratings", AUDITOR, Action::RatingsReport),
    route(Method::GET, "/v1/reports/mismatch", AUDITOR, Action::MismatchReport),
    route(Method::GET, "/v1/registrar", AUDITOR, Action::RegistrarStatus),
    route(Method::POST, "/v1/registrar/sync", OPERATOR, Action::RegistrarSync),
    route(Method::POST, "/v1/resync", OPERATOR, Action::Resync),
    route(Method::POST, "/v1/users", OPERATOR, Action::CreateUser),
    route(Method::GET, "/v1/users", AUDITOR, Action::ListUsers),
    route(Method::DELETE, "/v1/users/{name}", OPERATOR, Action::RemoveUser),
    route(Method::POST, "/v1/users/{name}/reset", OPERATOR, Action::ResetUser),
    route(Method::POST, "/v1/softphones/{mac}/link", OPERATOR, Action::SoftphoneLink),
];

/// How a request's path and method matched.
pub(crate) enum Matched {
    /// The route, with the captured segment if its template has one.
    Route(&'static Route, Option<String>),
    /// The path exists, with other methods.
    WrongMethod,
    NotFound,
}

/// Finds the route for `method` and `path`.
pub(crate) fn find(method: &Method, path: &str) -> Matched {
    let mut path_known = false;
    for route in ROUTES {
        let Some(captured) = match_path(route.path, path) else { continue };
        if route.method == method {
            return Matched::Route(route, captured);
        }
        path_known = true;
    }
    if path_known { Matched::WrongMethod } else { Matched::NotFound }
}

/// `Some(capture)` when `path` fits `template`.
fn match_path(template: &str, path: &str) -> Option<Option<String>> {
    let mut template_segments = template.split('/');
    let mut path_segments = path.split('/');
    let mut captured = None;
    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return Some(captured),
            (Some(t), Some(p)) if t.starts_with('{') => {
                let decoded = percent_decode(p)?;
                if decoded.is_empty() {
                    return None;
                }
                captured = Some(decoded);
            }
            (Some(t), Some(p)) if t == p => {}
            _ => return None,
        }
    }
}

/// Decodes `%XX` escapes (and `+` as a space, for query strings when `plus` holds); `None` for
/// a malformed escape or a result that is not UTF-8.
pub(crate) fn percent_decode_with(text: &str, plus_is_space: bool) -> Option<String> {
    // The crate passes a malformed escape through as it is; here it is refused, so no two
    // spellings of a path or parameter mean the same thing.
    let malformed = text
        .split('%')
        .skip(1)
        .any(|rest| !rest.get(..2).is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())));
    if malformed {
        return None;
    }
    let spaced;
    let text = if plus_is_space {
        spaced = text.replace('+', " ");
        spaced.as_str()
    } else {
        text
    };
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(|decoded| decoded.into_owned())
}

fn percent_decode(text: &str) -> Option<String> {
    percent_decode_with(text, false)
}

/// The most items one page of a list returns.
const MAX_PAGE: usize = 1000;

/// A `limit` query parameter: 1 to [`MAX_PAGE`].
pub(crate) fn parse_limit(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        _ => Err(format!("limit must be 1 to {MAX_PAGE}")),
    }
}

/// The query string's `name=value` pairs, decoded; malformed pairs are an error naming them.
pub(crate) fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let Some(query) = query else { return Ok(Vec::new()) };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (percent_decode_with(name, true), percent_decode_with(value, true)) {
                (Some(name), Some(value)) => Ok((name, value)),
                _ => Err(format!(
                    "query parameter {:?} is not validly encoded",
                    pair.chars().take(40).collect::<String>()
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // test code: failing loudly is the point

    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn paths_match_templates_and_capture_one_segment() {
        let Matched::Route(route, Some(mac)) = find(&Method::POST, "/v1/devices/00%3A15%3A65%3A00%3A00%3A01/rearm")
        else {
            panic!("no match")
        };
        assert_eq!(route.action, Action::Rearm);
        assert_eq!(mac, "00:15:65:00:00:01");
        let Matched::Route(route, Some(key)) = find(&Method::DELETE, "/v1/bans/2001%3Adb8%3A%3A%2F64") else {
            panic!("no match")
        };
        assert_eq!((route.action, key.as_str()), (Action::RemoveBan, "2001:db8::/64"));
        assert!(matches!(find(&Method::PUT, "/v1/devices"), Matched::WrongMethod));
        assert!(matches!(find(&Method::GET, "/v1/devices/"), Matched::NotFound));
        assert!(matches!(find(&Method::GET, "/v1/devices/a/b"), Matched::NotFound));
        assert!(matches!(find(&Method::GET, "/v1/devices/%zz"), Matched::NotFound));
        assert!(matches!(find(&Method::GET, "/"), Matched::NotFound));
    }

    #[test]
    fn queries_decode() {
        let pairs = query_pairs(Some("since=24h&site=Leeds+HQ&kind=key-mismatch&mac=00%3A15")).unwrap();
        assert_eq!(pairs[1], ("site".to_owned(), "Leeds HQ".to_owned()));
        assert_eq!(pairs[3], ("mac".to_owned(), "00:15".to_owned()));
        assert!(query_pairs(Some("a=%4")).is_err());
        assert!(query_pairs(Some("a=%+1")).is_err(), "a sign is not a hex digit");
    }

    /// `docs/openapi.json` must describe exactly the routes served, with the role each needs.
    #[test]
    fn the_openapi_document_describes_exactly_these_routes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let text = std::fs::read_to_string(path).unwrap();
        let document: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
        let mut documented = BTreeSet::new();
        for (path, operations) in document["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let role = operation["x-sipprov-role"].as_str().map(str::to_owned);
                documented.insert((method.to_uppercase(), path.clone(), role));
            }
        }
        let served: BTreeSet<_> = ROUTES
            .iter()
            .map(|r| (r.method.as_str().to_owned(), r.path.to_owned(), r.role.map(|role| role.name().to_owned())))
            .collect();
        let missing: Vec<_> = served.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&served).collect();
        assert!(missing.is_empty() && extra.is_empty(), "undocumented: {missing:?}\ndocumented, not served: {extra:?}");
    }
}
