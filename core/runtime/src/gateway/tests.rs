//! Loopback-only tests of the local CA and the gateway.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::any;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const ID: &str = "ab12cd34";
const HOST: &str = "ab12cd34.heroa.localhost";

/// Answers every request with a `key=value` line summary of what it received.
async fn echo(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let summary = format!(
        "method={method}\nuri={uri}\nhost={}\nx-custom={}\nx-forwarded-for={}\nx-forwarded-proto={}\nx-forwarded-host={}\nproxy-authorization={}\nx-drop-me={}\nbody-len={}\nbody={}\n",
        h("host"),
        h("x-custom"),
        h("x-forwarded-for"),
        h("x-forwarded-proto"),
        h("x-forwarded-host"),
        h("proxy-authorization"),
        h("x-drop-me"),
        body.len(),
        if body.len() <= 64 {
            String::from_utf8_lossy(&body).into_owned()
        } else {
            "<large>".into()
        },
    );
    (
        [("x-upstream", "echo"), ("content-type", "text/plain")],
        summary,
    )
}

async fn start_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/", any(echo))
        .route("/{*rest}", any(echo))
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn parse_summary(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn start_gateway(ca: LocalCa, with_http: bool) -> Gateway {
    let mut options = GatewayOptions::new(ca);
    if with_http {
        options.http_addr = Some("127.0.0.1:0".parse().unwrap());
    }
    Gateway::start(options).await.unwrap()
}

/// A client that trusts only `ca` and sends `host` to `addr` without DNS.
fn client_trusting(ca_pem: &str, host: &str, addr: SocketAddr) -> reqwest::Client {
    client_builder_trusting(ca_pem, host, addr).build().unwrap()
}

fn client_builder_trusting(ca_pem: &str, host: &str, addr: SocketAddr) -> reqwest::ClientBuilder {
    let cert = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([cert])
        .resolve(host, addr)
        .timeout(Duration::from_secs(20))
}

fn plain_client(host: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .resolve(host, addr)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn json_error(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body = resp.text().await.unwrap();
    // Tiny extraction without a JSON dependency: {"error":{"kind":"…","message":"…"}}
    let kind = body
        .split("\"kind\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    assert!(body.starts_with("{\"error\":{\"kind\":"), "{body}");
    (status, kind, body)
}

#[tokio::test]
async fn https_proxy_passes_request_and_response_through() {
    let upstream = start_upstream().await;
    let ca = LocalCa::generate().unwrap();
    let gw = start_gateway(ca.clone(), false).await;
    assert_eq!(gw.set_route(HOST, Route::Backend(upstream)), None);
    let url = gw.url_for(ID);
    assert_eq!(url, format!("https://{HOST}:{}", gw.https_addr().port()));

    // HTTP/1.1 and HTTP/2 (ALPN) clients.
    for http1_only in [true, false] {
        let mut builder = client_builder_trusting(ca.ca_pem(), HOST, gw.https_addr());
        if http1_only {
            builder = builder.http1_only();
        }
        let client = builder.build().unwrap();
        let resp = client
            .put(format!("{url}/some/path?x=1&y=two"))
            .header("x-custom", "hello")
            .header("x-forwarded-for", "6.6.6.6")
            .header("proxy-authorization", "Basic c2VjcmV0")
            .header("connection", "x-drop-me")
            .header("x-drop-me", "1")
            .body("the body")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let expected_version = if http1_only {
            reqwest::Version::HTTP_11
        } else {
            reqwest::Version::HTTP_2
        };
        assert_eq!(resp.version(), expected_version);
        assert_eq!(resp.headers().get("x-upstream").unwrap(), "echo");
        let seen = parse_summary(&resp.text().await.unwrap());
        assert_eq!(seen["method"], "PUT");
        assert_eq!(seen["uri"], "/some/path?x=1&y=two");
        assert_eq!(seen["x-custom"], "hello");
        assert_eq!(seen["body"], "the body");
        assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
        assert_eq!(seen["x-forwarded-proto"], "https");
        assert!(seen["x-forwarded-host"].starts_with(HOST), "{seen:?}");
        assert!(seen["host"].starts_with(HOST), "{seen:?}");
        assert_eq!(seen["proxy-authorization"], "-");
        if http1_only {
            // Connection-named headers are hop-by-hop (HTTP/2 has no Connection header).
            assert_eq!(seen["x-drop-me"], "-");
        }
    }

    // A large body both ways (1 MiB up; the echo reports its length).
    let client = client_trusting(ca.ca_pem(), HOST, gw.https_addr());
    let big = vec![b'z'; 1024 * 1024];
    let resp = client
        .post(format!("{url}/upload"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = parse_summary(&resp.text().await.unwrap());
    assert_eq!(seen["body-len"], "1048576");
    gw.shutdown().await;
}

#[tokio::test]
async fn host_matching_ignores_case_and_port() {
    let upstream = start_upstream().await;
    let ca = LocalCa::generate().unwrap();
    let gw = start_gateway(ca.clone(), false).await;
    gw.set_route("AB12CD34.Heroa.Localhost:443", Route::Backend(upstream));
    assert_eq!(gw.route(HOST), Some(Route::Backend(upstream)));
    let mixed = "Ab12Cd34.HEROA.localhost";
    let client = client_trusting(ca.ca_pem(), mixed, gw.https_addr());
    let resp = client
        .get(format!("https://{mixed}:{}/", gw.https_addr().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(gw.remove_route(HOST), Some(Route::Backend(upstream)));
    assert_eq!(gw.route(HOST), None);
    gw.shutdown().await;
}

#[tokio::test]
async fn client_without_the_ca_fails_the_handshake() {
    let upstream = start_upstream().await;
    let gw = start_gateway(LocalCa::generate().unwrap(), false).await;
    gw.set_route(HOST, Route::Backend(upstream));
    let other_ca = LocalCa::generate().unwrap();
    let client = client_trusting(other_ca.ca_pem(), HOST, gw.https_addr());
    let err = client.get(gw.url_for(ID)).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let chain = format!("{err:?}");
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("certificate"),
        "{chain}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn foreign_sni_gets_no_certificate_for_that_name() {
    let ca = LocalCa::generate().unwrap();
    let gw = start_gateway(ca.clone(), false).await;
    let foreign = "example.com";
    let client = client_trusting(ca.ca_pem(), foreign, gw.https_addr());
    let err = client
        .get(format!("https://{foreign}:{}/", gw.https_addr().port()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");
    gw.shutdown().await;
}

#[tokio::test]
async fn routed_host_outside_the_domain_gets_a_certificate() {
    let upstream = start_upstream().await;
    let ca = LocalCa::generate().unwrap();
    let gw = start_gateway(ca.clone(), false).await;
    let custom = "app.example.test";
    gw.set_route(custom, Route::Backend(upstream));
    let client = client_trusting(ca.ca_pem(), custom, gw.https_addr());
    let resp = client
        .get(format!("https://{custom}:{}/", gw.https_addr().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    gw.shutdown().await;
}

#[tokio::test]
async fn plain_http_listener_serves_routes_when_enabled() {
    let upstream = start_upstream().await;
    let ca = LocalCa::generate().unwrap();
    let gw = start_gateway(ca, true).await;
    gw.set_route(HOST, Route::Backend(upstream));
    let http_addr = gw.http_addr().unwrap();
    let url = gw.http_url_for(ID).unwrap();
    assert_eq!(url, format!("http://{HOST}:{}", http_addr.port()));
    let resp = plain_client(HOST, http_addr)
        .post(format!("{url}/p?q=1"))
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = parse_summary(&resp.text().await.unwrap());
    assert_eq!(seen["uri"], "/p?q=1");
    assert_eq!(seen["body"], "plain");
    assert_eq!(seen["x-forwarded-proto"], "http");
    gw.shutdown().await;

    let no_http = start_gateway(LocalCa::generate().unwrap(), false).await;
    assert_eq!(no_http.http_addr(), None);
    assert_eq!(no_http.http_url_for(ID), None);
    no_http.shutdown().await;
}

#[tokio::test]
async fn gone_unknown_and_unreachable_routes() {
    let ca = LocalCa::generate().unwrap();
    let gw = start_gateway(ca.clone(), false).await;
    let port = gw.https_addr().port();

    gw.set_route(HOST, Route::gone("deployment ab12cd34 expired"));
    let client = client_trusting(ca.ca_pem(), HOST, gw.https_addr());
    let resp = client.get(gw.url_for(ID)).send().await.unwrap();
    let (status, kind, body) = json_error(resp).await;
    assert_eq!((status, kind.as_str()), (410, "gone"));
    assert!(body.contains("deployment ab12cd34 expired"), "{body}");

    let unknown = "nobody.heroa.localhost";
    let client = client_trusting(ca.ca_pem(), unknown, gw.https_addr());
    let resp = client
        .get(format!("https://{unknown}:{port}/x"))
        .send()
        .await
        .unwrap();
    let (status, kind, body) = json_error(resp).await;
    assert_eq!((status, kind.as_str()), (404, "not_found"));
    assert!(body.contains(unknown), "{body}");

    // A port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = "down.heroa.localhost";
    gw.set_route(down, Route::Backend(dead));
    let client = client_trusting(ca.ca_pem(), down, gw.https_addr());
    let resp = client
        .get(format!("https://{down}:{port}/"))
        .send()
        .await
        .unwrap();
    let (status, kind, _) = json_error(resp).await;
    assert_eq!((status, kind.as_str()), (502, "bad_gateway"));
    gw.shutdown().await;
}

/// Reads from `stream` until `needle` has been seen; returns everything read.
async fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(needle.len()).any(|w| w == needle) {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("timed out reading")
            .unwrap();
        assert!(
            n > 0,
            "EOF before {:?}: {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    buf
}

#[tokio::test]
async fn bodies_stream_in_both_directions() {
    // Raw upstream: reads the head and the first body chunk, reports it, answers with a
    // first chunk, then waits for the test's go-ahead before the rest.
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let (saw_first_tx, saw_first_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut s, _) = upstream.accept().await.unwrap();
        read_until(&mut s, b"first-up").await;
        saw_first_tx.send(()).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n9\r\nfirst-dn\n\r\n")
            .await
            .unwrap();
        go_rx.await.unwrap();
        read_until(&mut s, b"0\r\n\r\n").await;
        s.write_all(b"9\r\nsecond-dn\r\n0\r\n\r\n").await.unwrap();
    });

    let gw = start_gateway(LocalCa::generate().unwrap(), true).await;
    gw.set_route(HOST, Route::Backend(upstream_addr));
    let mut client = TcpStream::connect(gw.http_addr().unwrap()).await.unwrap();
    client
        .write_all(
            format!("POST /s HTTP/1.1\r\nHost: {HOST}\r\ntransfer-encoding: chunked\r\n\r\n8\r\nfirst-up\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    // The upstream sees the first request chunk while the request is still open...
    tokio::time::timeout(Duration::from_secs(10), saw_first_rx)
        .await
        .unwrap()
        .unwrap();
    // ...and the client sees the first response chunk before the response is complete.
    let head = read_until(&mut client, b"first-dn").await;
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    client.write_all(b"0\r\n\r\n").await.unwrap();
    go_tx.send(()).unwrap();
    read_until(&mut client, b"second-dn").await;
    drop(client);
    gw.shutdown().await;
}

#[tokio::test]
async fn upgrade_requests_are_tunnelled() {
    // Raw upstream that switches to an echo protocol.
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = upstream.accept().await.unwrap();
        let head = read_until(&mut s, b"\r\n\r\n").await;
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(head.contains("upgrade: echo"), "{head}");
        s.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = [0u8; 1024];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await.unwrap();
        }
    });

    let gw = start_gateway(LocalCa::generate().unwrap(), true).await;
    gw.set_route(HOST, Route::Backend(upstream_addr));
    let mut client = TcpStream::connect(gw.http_addr().unwrap()).await.unwrap();
    client
        .write_all(
            format!(
                "GET /ws HTTP/1.1\r\nHost: {HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = read_until(&mut client, b"\r\n\r\n").await;
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    client.write_all(b"ping-through-tunnel").await.unwrap();
    read_until(&mut client, b"ping-through-tunnel").await;
    gw.shutdown().await;
}

#[tokio::test]
async fn connect_is_refused() {
    let gw = start_gateway(LocalCa::generate().unwrap(), true).await;
    gw.set_route(HOST, Route::Backend("127.0.0.1:9".parse().unwrap()));
    let mut client = TcpStream::connect(gw.http_addr().unwrap()).await.unwrap();
    client
        .write_all(format!("CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_until(&mut client, b"\r\n\r\n").await;
    assert!(
        head.starts_with(b"HTTP/1.1 405"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_the_port() {
    let gw = start_gateway(LocalCa::generate().unwrap(), true).await;
    let addr = gw.https_addr();
    gw.shutdown().await;
    // The listener is closed: connecting fails (or binding the port again works).
    assert!(TcpStream::connect(addr).await.is_err() || TcpListener::bind(addr).await.is_ok());
}

#[test]
fn ca_is_persisted_and_reloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join("ca");
    let created = LocalCa::load_or_create(&dir).unwrap();
    assert_eq!(created.dir(), Some(dir.as_path()));
    assert_eq!(created.cert_path(), Some(dir.join(CA_CERT_FILE)));
    let on_disk = std::fs::read_to_string(dir.join(CA_CERT_FILE)).unwrap();
    assert_eq!(on_disk, created.ca_pem());
    assert!(created.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));

    let reloaded = LocalCa::load_or_create(&dir).unwrap();
    assert_eq!(reloaded.ca_pem(), created.ca_pem());
    // The validity read back from the certificate is the one it was created with.
    assert_eq!(
        reloaded.not_after(),
        created.not_after().replace_nanosecond(0).unwrap()
    );
    let ttl = created.not_after() - time::OffsetDateTime::now_utc();
    assert!(ttl > time::Duration::days(CA_VALIDITY_DAYS - 1), "{ttl}");
    assert_eq!(reloaded.ca_der(), created.ca_der());
    let loaded = LocalCa::load(&dir).unwrap();
    assert_eq!(loaded.ca_pem(), created.ca_pem());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir), 0o700);
        // A loosened key file is tightened on load.
        std::fs::set_permissions(
            dir.join(CA_KEY_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        LocalCa::load(&dir).unwrap();
        assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);
    }
    // No temporary files are left behind.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [CA_KEY_FILE, CA_CERT_FILE]);

    // save() never overwrites.
    let other = LocalCa::generate().unwrap();
    assert!(matches!(
        other.save(&dir),
        Err(GatewayError::AlreadyExists(_))
    ));
    assert_eq!(LocalCa::load(&dir).unwrap().ca_pem(), created.ca_pem());
}

#[tokio::test]
async fn reloaded_ca_serves_certificates_trusted_by_the_exported_pem() {
    let tmp = tempfile::tempdir().unwrap();
    let exported = LocalCa::load_or_create(tmp.path())
        .unwrap()
        .ca_pem()
        .to_owned();
    let upstream = start_upstream().await;
    let gw = start_gateway(LocalCa::load(tmp.path()).unwrap(), false).await;
    gw.set_route(HOST, Route::Backend(upstream));
    let resp = client_trusting(&exported, HOST, gw.https_addr())
        .get(gw.url_for(ID))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    gw.shutdown().await;
}

#[test]
fn inconsistent_ca_directories_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let a = LocalCa::load_or_create(tmp.path().join("a")).unwrap();
    let b = LocalCa::load_or_create(tmp.path().join("b")).unwrap();

    // Only the certificate: refuse rather than overwrite.
    let only_cert = tmp.path().join("only-cert");
    std::fs::create_dir(&only_cert).unwrap();
    std::fs::write(only_cert.join(CA_CERT_FILE), a.ca_pem()).unwrap();
    let err = LocalCa::load_or_create(&only_cert).unwrap_err();
    assert_eq!(err.kind(), "invalid_ca", "{err}");

    // Certificate of one CA with the key of another.
    let mixed = tmp.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::write(mixed.join(CA_CERT_FILE), a.ca_pem()).unwrap();
    std::fs::copy(
        tmp.path().join("b").join(CA_KEY_FILE),
        mixed.join(CA_KEY_FILE),
    )
    .unwrap();
    let err = LocalCa::load(&mixed).unwrap_err();
    assert_eq!(err.kind(), "invalid_ca", "{err}");
    drop(b);

    // A leaf certificate is not a CA.
    let leaf = a.issue("leaf.heroa.localhost").unwrap();
    let err = LocalCa::from_pem(leaf.cert_pem(), &leaf.key_pem()).unwrap_err();
    assert_eq!(err.kind(), "invalid_ca", "{err}");

    // An expired CA (e.g. an old directory) is refused at load time.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(400);
    params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let expired = params.self_signed(&key).unwrap();
    let err = LocalCa::from_pem(&expired.pem(), &key.serialize_pem()).unwrap_err();
    assert_eq!(err.kind(), "invalid_ca", "{err}");
    assert!(err.to_string().contains("expired"), "{err}");

    // Validity past 2049 is encoded as GeneralizedTime (UTCTime before): both are read.
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::macros::datetime!(2060-01-02 03:04:05 UTC);
    let long_lived = params.self_signed(&key).unwrap();
    let ca = LocalCa::from_pem(&long_lived.pem(), &key.serialize_pem()).unwrap();
    assert_eq!(
        ca.not_after(),
        time::macros::datetime!(2060-01-02 03:04:05 UTC)
    );

    assert_eq!(
        LocalCa::from_pem("garbage", "garbage").unwrap_err().kind(),
        "invalid_ca"
    );
}

#[test]
fn debug_output_has_no_key_material() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(tmp.path()).unwrap();
    let key_pem = std::fs::read_to_string(tmp.path().join(CA_KEY_FILE)).unwrap();
    assert!(key_pem.contains("PRIVATE KEY"));
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();

    let debug = format!("{ca:?} {ca:#?}");
    assert!(!debug.contains("PRIVATE"), "{debug}");
    assert!(!debug.contains(&key_body[..40]), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");

    let leaf = ca.issue(HOST).unwrap();
    let leaf_key: String = leaf
        .key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let debug = format!("{leaf:?} {leaf:#?}");
    assert!(!debug.contains(&leaf_key[..40]), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}

#[tokio::test]
async fn issued_certificates_verify_against_the_ca() {
    use rustls::pki_types::ServerName;
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    let ca = LocalCa::generate().unwrap();
    let provider = Arc::new(ca::provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der().clone()).unwrap();
    let client_config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );

    // Handshake between a server presenting `cert` and a client asking for `name`.
    let handshake = |cert: &IssuedCert, name: &'static str| {
        let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert_der().clone()], cert.key_der())
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(server_config));
        let connector = TlsConnector::from(client_config.clone());
        async move {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn(async move { acceptor.accept(server_io).await.map(|_| ()) });
            let client = connector
                .connect(ServerName::try_from(name).unwrap(), client_io)
                .await
                .map(|_| ());
            let _ = server.await;
            client
        }
    };

    let wildcard = ca.issue_wildcard("Heroa.Localhost.").unwrap();
    assert_eq!(wildcard.names(), ["*.heroa.localhost", "heroa.localhost"]);
    let ttl = wildcard.not_after() - time::OffsetDateTime::now_utc();
    assert!(
        ttl > time::Duration::days(LEAF_VALIDITY_DAYS - 1)
            && ttl <= time::Duration::days(LEAF_VALIDITY_DAYS)
    );
    handshake(&wildcard, "anything.heroa.localhost")
        .await
        .unwrap();
    handshake(&wildcard, "heroa.localhost").await.unwrap();
    assert!(handshake(&wildcard, "a.b.heroa.localhost").await.is_err());
    assert!(handshake(&wildcard, "example.com").await.is_err());

    let exact = ca.issue(HOST).unwrap();
    handshake(&exact, HOST).await.unwrap();
    assert!(handshake(&exact, "other.heroa.localhost").await.is_err());

    let multi = ca.issue_for(&["a.test", "b.test"]).unwrap();
    handshake(&multi, "b.test").await.unwrap();

    // A certificate from another CA is rejected.
    let stranger = LocalCa::generate().unwrap().issue(HOST).unwrap();
    assert!(handshake(&stranger, HOST).await.is_err());

    for bad in ["", "bad host", "-x.test", "a..b", "*.", "é.test"] {
        assert!(ca.issue(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn host_normalization() {
    assert_eq!(
        normalize_host("Ab.Heroa.Localhost:8443").as_deref(),
        Some("ab.heroa.localhost")
    );
    assert_eq!(
        normalize_host("ab.heroa.localhost.").as_deref(),
        Some("ab.heroa.localhost")
    );
    assert_eq!(normalize_host("[::1]:80").as_deref(), Some("[::1]"));
    assert_eq!(
        normalize_host("127.0.0.1:8080").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(normalize_host(":80"), None);
    assert_eq!(normalize_host(""), None);
}

#[tokio::test]
async fn url_for_omits_the_default_port_and_rejects_bad_domains() {
    let ca = LocalCa::generate().unwrap();
    let gw = start_gateway(ca.clone(), false).await;
    assert_eq!(gw.host_for("AB12"), "ab12.heroa.localhost");
    assert_eq!(gw.domain(), DEFAULT_DOMAIN);
    gw.shutdown().await;
    assert_eq!(server_url_for_port_443(), "https://x.heroa.localhost");

    let mut options = GatewayOptions::new(ca);
    options.domain = "not a domain".into();
    let err = Gateway::start(options).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_host");
}

fn server_url_for_port_443() -> String {
    server::url("https", "x.heroa.localhost", 443, 443)
}
