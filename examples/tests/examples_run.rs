//! Every example runs and prints what it promises.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::process::Command;

fn run(exe: &str, args: &[&str]) -> String {
    let output = Command::new(exe).args(args).output().unwrap();
    assert!(output.status.success(), "{exe}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn identify_certificate_reads_the_mac() {
    let out = run(env!("CARGO_BIN_EXE_identify_certificate"), &[]);
    assert!(out.starts_with("mac 0004f28b54f4 (vendor polycom, rule polycom)\n"), "{out}");
}

#[test]
fn render_config_renders_and_refuses_injection() {
    let out = run(env!("CARGO_BIN_EXE_render_config"), &["/001565AABBCC.cfg", "yealink"]);
    assert!(out.contains("is the yealink device file {mac}.cfg of 001565aabbcc"), "{out}");
    assert!(out.contains("account.1.password = example-password\n"), "{out}");
    assert!(out.contains("hardening findings: 0\n"), "{out}");
    assert!(out.contains("account.2.password = example-password-2\n"), "{out}");
    assert!(out.contains("account.2.sip_server.1.address = hunt.example.net\n"), "{out}");
    assert!(out.contains("refused: field accounts.1.display_name"), "{out}");
    let polycom = run(env!("CARGO_BIN_EXE_render_config"), &["/0004f28b54f4-sipprov.cfg", "polycom"]);
    assert!(polycom.contains("reg.1.auth.password=\"example-password\""), "{polycom}");
    assert!(polycom.contains("reg.2.address=\"2000\""), "{polycom}");
    let unknown = run(env!("CARGO_BIN_EXE_render_config"), &["/../etc/passwd"]);
    assert_eq!(unknown, "\"/../etc/passwd\" is not a yealink device file\n");
}

#[test]
fn lifecycle_with_own_store_walks_issued_delivered_purged() {
    let out = run(env!("CARGO_BIN_EXE_lifecycle_with_own_store"), &[]);
    assert_eq!(
        out,
        "first fetch: issued -> delivered, password served\n\
         retry after 60 s: delivered -> delivered, password served\n\
         fetch after the grace: delivered -> purged, no password\n\
         poll a day later: purged -> purged, no password\n\
         journal:\n  \
         001565000001 delivered\n  \
         001565000001 key-pinned\n  \
         001565000001 delivered\n  \
         001565000001 purged\n"
    );
}

#[test]
fn postgres_store_delivers_once_across_two_nodes() {
    let Some(database) =
        sipprov_store_postgres::TestDatabase::for_test("postgres_store_delivers_once_across_two_nodes")
    else {
        return;
    };
    let out = run(env!("CARGO_BIN_EXE_postgres_store"), &[database.url()]);
    assert!(out.contains("node A served the password: true\nnode B served the password: true\n"), "{out}");
    assert!(out.contains("first deliveries audited: 1, keys pinned: 1\n"), "{out}");
    assert!(out.ends_with("node B after the grace: password served: false\nstate: purged\n"), "{out}");
}

#[test]
fn mount_admin_api_enrols_a_two_port_ata_and_shows_it() {
    let out = run(env!("CARGO_BIN_EXE_mount_admin_api"), &[]);
    assert!(out.starts_with("enrol: HTTP/1.1 201 Created\nshow: HTTP/1.1 200 OK\n"), "{out}");
    assert!(out.contains(r#""user_name": "2002""#) && out.contains(r#""display_name": "Fax""#), "{out}");
}

#[test]
fn embed_server_serves_a_phone_over_mutual_tls() {
    let out = run(env!("CARGO_BIN_EXE_embed_server"), &[]);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("cache-control: no-store\r\n"), "{out}");
    assert!(out.contains("account.1.password = "), "{out}");
}

#[test]
fn firmware_rollout_stages_a_share_then_everyone() {
    let out = run(env!("CARGO_BIN_EXE_firmware_rollout"), &[]);
    assert!(out.starts_with("registered yealink 96.86.0.100 as sha256 "), "{out}");
    // The share is chosen by MAC hash: the same 13 of these 200 MACs on every run.
    assert!(
        out.ends_with(
            "10 % roll-out: 13 of 200 configs name the image\n\
             behind their target: 13 (only those the roll-out reached)\n\
             after the first wave: compliant 13, behind 0\n\
             everyone: 200 of 200 configs name the image\n\
             behind their target: 187\n"
        ),
        "{out}"
    );
}

#[test]
fn registrar_outbox_holds_changes_while_the_registrar_is_down() {
    let out = run(env!("CARGO_BIN_EXE_registrar_outbox"), &[]);
    assert_eq!(
        out,
        "enrolled 001565000001: 2 changes queued\n\
         directory down: 0 pushed, 2 still queued\n\
         directory back: 2 pushed\n  \
         sp-1001: HA1 of 32 hex digits, never the password\n  \
         sp-1002: HA1 of 32 hex digits, never the password\n\
         deleted 001565000001: 2 pushed\n\
         directory users left: 0\n"
    );
}

#[test]
fn resync_phone_reports_what_the_proxy_answered() {
    let proxy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    let answering = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        let (n, from) = proxy.recv_from(&mut buffer).unwrap();
        let request = String::from_utf8_lossy(&buffer[..n]).into_owned();
        let via = request.lines().find(|line| line.starts_with("Via:")).unwrap().to_owned();
        let answer = format!("SIP/2.0 489 Bad Event\r\n{via}\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n");
        proxy.send_to(answer.as_bytes(), from).unwrap();
        request
    });
    let out = run(
        env!("CARGO_BIN_EXE_resync_phone"),
        &[&format!("127.0.0.1:{port}"), "sip:1001@sip.example.net", "grandstream"],
    );
    assert_eq!(
        out,
        format!(
            "NOTIFY sip:1001@sip.example.net with Event: resync through 127.0.0.1:{port}\n\
             sip:1001@sip.example.net: not-supported (status 489)\n"
        )
    );
    assert!(answering.join().unwrap().contains("\r\nEvent: resync\r\n"));
}

#[test]
fn softphone_portal_delivers_a_link_once() {
    let out = run(env!("CARGO_BIN_EXE_softphone_portal"), &[]);
    assert!(out.starts_with("activated: true\nfirst fetch: HTTP/1.1 200 OK\n"), "{out}");
    assert!(out.contains(r#"<entry name="username" overwrite="true">3001</entry>"#), "{out}");
    assert!(
        out.contains(r#"<entry name="passwd" overwrite="true">"#)
            && !out.contains("passwd\" overwrite=\"true\"></entry>"),
        "{out}"
    );
    assert!(out.ends_with("second fetch: HTTP/1.1 404 Not Found\n"), "{out}");
}
