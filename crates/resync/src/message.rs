//! The NOTIFY sipprov sends, and reading the responses that come back: every byte from the
//! network is hostile until parsed, and a message that does not parse is ignored.

use crate::Transport;

/// The most bytes one SIP message may have (head and body): anything longer is not a response
/// to a NOTIFY.
pub const MAX_MESSAGE: usize = 16 * 1024;

/// One NOTIFY, as the transaction sends it.
#[derive(Debug, Clone)]
pub struct Notify {
    /// The phone's address of record, `sip:user@domain`: the Request-URI and `To`.
    pub target: String,
    /// Who asks, `sip:provisioning@domain`.
    pub from: String,
    /// The proxy it goes through (`host:port`), named in a loose `Route`.
    pub proxy: String,
    /// How it travels.
    pub transport: Transport,
    /// The `Event` header's value.
    pub event: &'static str,
    /// The Via branch: the transaction's identity (starts with the RFC 3261 magic cookie).
    pub branch: String,
    /// The From tag.
    pub tag: String,
    /// The Call-ID.
    pub call_id: String,
}

impl Notify {
    /// The request's bytes, sent from `local` (`host:port`, for `Via` and `Contact`).
    pub fn to_bytes(&self, local: &str) -> Vec<u8> {
        let transport = self.transport.via_name();
        let route_transport = match self.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        format!(
            "NOTIFY {target} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             Route: <sip:{proxy}{route_transport};lr>\r\n\
             From: <{from}>;tag={tag}\r\n\
             To: <{target}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 NOTIFY\r\n\
             Contact: <sip:provisioning@{local}{route_transport}>\r\n\
             Event: {event}\r\n\
             Subscription-State: terminated;reason=timeout\r\n\
             User-Agent: sipprov/{version}\r\n\
             Content-Length: 0\r\n\r\n",
            target = self.target,
            branch = self.branch,
            proxy = self.proxy,
            from = self.from,
            tag = self.tag,
            call_id = self.call_id,
            event = self.event,
            version = env!("CARGO_PKG_VERSION"),
        )
        .into_bytes()
    }
}

/// A response, as far as a client transaction needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, 100 to 699.
    pub status: u16,
    /// The reason phrase, control characters removed, at most 100 characters.
    pub reason: String,
    /// The branch of the topmost Via.
    pub branch: Option<String>,
    /// The CSeq method.
    pub method: Option<String>,
}

/// How a message's bytes are laid out: the head's length (to the blank line included) and
/// the body's (its `Content-Length`, 0 if absent). `None` until the head is complete; an
/// error if it is not a message this reads.
pub fn frame(bytes: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") else {
        return if bytes.len() > MAX_MESSAGE { Err("no end of the head".into()) } else { Ok(None) };
    };
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| "the head is not UTF-8".to_owned())?;
    let length = match header(head, &["content-length", "l"]).map(str::trim) {
        // 1*DIGIT (RFC 3261 20.14): no sign, no space; too many digits is too long anyway.
        Some(value) if !value.is_empty() && value.len() <= 9 && value.bytes().all(|b| b.is_ascii_digit()) => {
            value.parse::<usize>().map_err(|_| format!("Content-Length {value:?}"))?
        }
        Some(value) => return Err(format!("Content-Length {value:?}")),
        None => 0,
    };
    if end + 4 + length > MAX_MESSAGE {
        return Err("longer than a response to a NOTIFY can be".into());
    }
    Ok(Some((end + 4, length)))
}

/// Reads a response; `None` if `bytes` is not one (a request, garbage).
pub fn parse_response(bytes: &[u8]) -> Option<Response> {
    let (head_length, _) = frame(bytes).ok()??;
    let head = std::str::from_utf8(&bytes[..head_length]).ok()?;
    let start = head.lines().next()?;
    let rest = start.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status: u16 = code.parse().ok().filter(|status| (100..700).contains(status))?;
    let reason = reason.chars().filter(|c| !c.is_control()).take(100).collect();
    let branch = header(head, &["via", "v"]).and_then(|via| {
        let top = via.split(',').next()?;
        top.split(';').skip(1).find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim().eq_ignore_ascii_case("branch").then(|| value.trim().to_owned())
        })
    });
    let method = header(head, &["cseq"]).and_then(|cseq| cseq.split_whitespace().nth(1).map(str::to_owned));
    Some(Response { status, reason, branch, method })
}

/// The value of the first header with one of `names` (long or compact form, any case).
fn header<'a>(head: &'a str, names: &[&str]) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        names.iter().any(|wanted| name.trim().eq_ignore_ascii_case(wanted)).then_some(value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_and_garbage_is_not() {
        let ok =
            b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-a;rport=5070, SIP/2.0/UDP x;branch=b\r\n\
                   CSeq: 1 NOTIFY\r\nl: 2\r\n\r\nhi";
        let response = parse_response(ok).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.branch.as_deref(), Some("z9hG4bK-a"), "the topmost Via's branch");
        assert_eq!(response.method.as_deref(), Some("NOTIFY"));
        assert_eq!(frame(ok).unwrap(), Some((ok.len() - 2, 2)));
        assert_eq!(parse_response(b"NOTIFY sip:x SIP/2.0\r\n\r\n"), None, "a request");
        assert_eq!(parse_response(b"SIP/2.0 999 Big\r\n\r\n"), None);
        assert_eq!(parse_response(b"SIP/2.0 200 OK\r\n"), None, "no end of the head");
        assert!(frame(b"SIP/2.0 200 OK\r\nContent-Length: 99999\r\n\r\n").is_err());
        assert!(frame(b"SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        // Found by the fuzzer: a length near usize::MAX overflowed the bound check.
        assert!(frame(b"SIP/2.0 200 OK\r\nl: \t+000000018446744073709551615\t\r\n\r\nd").is_err());
        assert!(frame(b"SIP/2.0 200 OK\r\nContent-Length: +1\r\n\r\nd").is_err(), "1*DIGIT only");
        assert!(frame(&[b'a'; MAX_MESSAGE + 1]).is_err());
        let weird = parse_response(b"SIP/2.0 489 Bad\x07Event\r\n\r\n").unwrap();
        assert_eq!((weird.status, weird.reason.as_str(), weird.branch), (489, "BadEvent", None));
    }

    #[test]
    fn the_notify_names_the_event_and_the_route() {
        let notify = Notify {
            target: "sip:1001@sip.example.net".into(),
            from: "sip:provisioning@sip.example.net".into(),
            proxy: "127.0.0.1:5060".into(),
            transport: Transport::Tcp,
            event: crate::resync_event(Some("cisco"), true),
            branch: "z9hG4bK-1".into(),
            tag: "t".into(),
            call_id: "c@sipprov".into(),
        };
        let text = String::from_utf8(notify.to_bytes("127.0.0.1:40000")).unwrap();
        assert!(text.starts_with("NOTIFY sip:1001@sip.example.net SIP/2.0\r\n"));
        assert!(text.contains("Via: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK-1;rport\r\n"));
        assert!(text.contains("Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n"));
        assert!(text.contains("Event: reboot_now\r\nSubscription-State: terminated;reason=timeout\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        assert_eq!(frame(text.as_bytes()).unwrap().map(|(head, body)| head + body), Some(text.len()));
    }
}
