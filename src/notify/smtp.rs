//! A small SMTP client (RFC 5321) for sending notices: one reused connection per worker,
//! STARTTLS or implicit TLS through rustls, AUTH PLAIN/LOGIN only over TLS, and MAIL, RCPT,
//! DATA and the body as separate steps so the journal can record the server's 354.
//!
//! Why not lettre's `SmtpConnection` (lettre still builds the messages): in lettre 0.11.23
//! `SmtpConnection::message_iter` writes the body and then `\r\n.\r\n` in two writes, and lettre
//! never sets `TCP_NODELAY` nor gives access to its socket. Nagle's algorithm then holds the
//! small terminator back until the server's delayed ACK (about 40 ms on Linux) for every
//! message: 21 messages/s on one connection whatever the machine. Here the socket has
//! `TCP_NODELAY` and the dot-stuffed body goes out with its terminator in one write.

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The longest reply line accepted (RFC 5321 allows 512 octets; some servers send more).
const MAX_LINE: usize = 8192;
/// The most lines one reply may have.
const MAX_LINES: usize = 256;

/// A server reply: its code and its text lines (without the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// `250 2.0.0 Ok: queued as …`: the code and every line, on one line.
    pub fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" "))
            .trim()
            .to_string()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// What went wrong in an exchange.
#[derive(Debug)]
pub enum SmtpError {
    /// The server answered, with a code the step does not accept.
    Reply(Reply),
    /// The connection failed: network, timeout, TLS, or a reply that does not parse. The
    /// connection cannot be used any more.
    Broken(String),
}

impl SmtpError {
    /// A 4xx reply: try again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, SmtpError::Reply(r) if (400..500).contains(&r.code))
    }

    /// A 5xx reply: the server will not take it.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Reply(r) if (500..600).contains(&r.code))
    }
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpError::Reply(r) => write!(f, "the server answered {r}"),
            SmtpError::Broken(why) => f.write_str(why),
        }
    }
}

fn broken(what: &str, e: impl fmt::Display) -> SmtpError {
    SmtpError::Broken(format!("{what}: {e}"))
}

/// A login for AUTH. The password is wiped from memory when dropped and never printed.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"…")
            .finish()
    }
}

/// The TLS settings of a run: the system's roots (`rustls-native-certs`, which honours
/// `SSL_CERT_FILE`) plus the certificates of `--ca-file`, with ring. Built once per run.
pub fn tls_config(extra_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(pem) = extra_pem {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--ca-file: not PEM certificates ({e})"))?;
        if certs.is_empty() {
            return Err("--ca-file: holds no PEM certificate".into());
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("--ca-file: a certificate rustls cannot use ({e})"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Only while the TCP stream moves into TLS, or after that failed.
    Gone,
}

fn gone() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "the connection is gone")
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Err(gone()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(gone()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Err(gone()),
        }
    }
}

/// What the server said it supports in its EHLO reply.
#[derive(Debug, Default, Clone)]
pub struct Capabilities {
    pub starttls: bool,
    pub eight_bit_mime: bool,
    /// AUTH mechanisms, upper case.
    pub auth: Vec<String>,
}

impl Capabilities {
    fn parse(reply: &Reply) -> Capabilities {
        let mut c = Capabilities::default();
        // The first line is the server's greeting; each further line one extension.
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(kw) = words.next() else { continue };
            let kw = kw.to_ascii_uppercase();
            match kw.as_str() {
                "STARTTLS" => c.starttls = true,
                "8BITMIME" => c.eight_bit_mime = true,
                "AUTH" => c.auth.extend(words.map(str::to_ascii_uppercase)),
                _ => {
                    // Old servers write `AUTH=PLAIN LOGIN`.
                    if let Some(first) = kw.strip_prefix("AUTH=") {
                        c.auth.push(first.to_string());
                        c.auth.extend(words.map(str::to_ascii_uppercase));
                    }
                }
            }
        }
        c
    }
}

/// How the connection is opened.
pub enum Security<'a> {
    /// Clear text (`--tls none`, or before STARTTLS).
    Plain,
    /// TLS from the first byte (`smtps://`).
    Implicit(&'a Arc<ClientConfig>),
}

/// One SMTP session.
pub struct Client {
    stream: Stream,
    /// Bytes read from the server and not yet consumed.
    rbuf: Vec<u8>,
    host: String,
    hello: String,
    caps: Capabilities,
}

impl Client {
    /// Connects (with `TCP_NODELAY` and read/write timeouts), reads the greeting and says EHLO.
    pub fn connect(
        host: &str,
        port: u16,
        timeout: Duration,
        security: Security,
        hello: &str,
    ) -> Result<Client, SmtpError> {
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| broken("cannot resolve the host", e))?;
        let mut last = None;
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| match last {
            Some(e) => broken("cannot connect", e),
            None => SmtpError::Broken("the host has no address".into()),
        })?;
        // Without it every message waits for the server's delayed ACK (see the module docs).
        tcp.set_nodelay(true)
            .map_err(|e| broken("TCP_NODELAY", e))?;
        tcp.set_read_timeout(Some(timeout))
            .and_then(|_| tcp.set_write_timeout(Some(timeout)))
            .map_err(|e| broken("socket timeouts", e))?;
        let stream = match security {
            Security::Plain => Stream::Plain(tcp),
            Security::Implicit(cfg) => Stream::Tls(Box::new(tls_stream(cfg, host, tcp)?)),
        };
        let mut c = Client {
            stream,
            rbuf: Vec::with_capacity(1024),
            host: host.to_string(),
            hello: hello.to_string(),
            caps: Capabilities::default(),
        };
        let greeting = c.read_reply()?;
        if greeting.code != 220 {
            return Err(SmtpError::Reply(greeting));
        }
        c.ehlo()?;
        Ok(c)
    }

    fn ehlo(&mut self) -> Result<(), SmtpError> {
        let r = self.command(&format!("EHLO {}", self.hello), |c| c == 250)?;
        self.caps = Capabilities::parse(&r);
        Ok(())
    }

    /// The extensions of the last EHLO.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    pub fn is_encrypted(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// STARTTLS, the handshake (the certificate checked against `host`), and EHLO again.
    pub fn starttls(&mut self, cfg: &Arc<ClientConfig>) -> Result<(), SmtpError> {
        self.command("STARTTLS", |c| c == 220)?;
        if !self.rbuf.is_empty() {
            // Anything sent before the handshake could be injected by a man in the middle.
            return Err(SmtpError::Broken(
                "the server sent data after its STARTTLS reply, before the handshake".into(),
            ));
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(SmtpError::Broken(
                "STARTTLS on a connection that is already encrypted".into(),
            ));
        };
        self.stream = Stream::Tls(Box::new(tls_stream(cfg, &self.host, tcp)?));
        self.ehlo()
    }

    /// AUTH PLAIN (preferred) or LOGIN; refused on a connection that is not encrypted.
    pub fn auth(&mut self, cred: &Credentials) -> Result<(), SmtpError> {
        if !self.is_encrypted() {
            return Err(SmtpError::Broken(
                "refusing to send credentials over a connection that is not encrypted".into(),
            ));
        }
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let has = |m: &str| self.caps.auth.iter().any(|a| a == m);
        if has("PLAIN") {
            let mut raw = Zeroizing::new(Vec::new());
            raw.push(0);
            raw.extend_from_slice(cred.user.as_bytes());
            raw.push(0);
            raw.extend_from_slice(cred.password.as_bytes());
            let line = Zeroizing::new(format!("AUTH PLAIN {}", b64(&raw)));
            self.command(&line, |c| c == 235)?;
        } else if has("LOGIN") {
            self.command("AUTH LOGIN", |c| c == 334)?;
            self.command(&b64(cred.user.as_bytes()), |c| c == 334)?;
            let line = Zeroizing::new(b64(cred.password.as_bytes()));
            self.command(&line, |c| c == 235)?;
        } else {
            return Err(SmtpError::Broken(
                "the server offers no PLAIN or LOGIN authentication".into(),
            ));
        }
        Ok(())
    }

    /// `MAIL FROM:<from>`, with `BODY=8BITMIME` when asked and offered.
    pub fn mail(&mut self, from: &str, eight_bit: bool) -> Result<Reply, SmtpError> {
        let body = if eight_bit && self.caps.eight_bit_mime {
            " BODY=8BITMIME"
        } else {
            ""
        };
        self.command(&format!("MAIL FROM:<{from}>{body}"), |c| c == 250)
    }

    /// `RCPT TO:<to>`.
    pub fn rcpt(&mut self, to: &str) -> Result<Reply, SmtpError> {
        self.command(&format!("RCPT TO:<{to}>"), |c| c == 250 || c == 251)
    }

    /// `DATA`; `Ok` once the server answered 354.
    pub fn data(&mut self) -> Result<Reply, SmtpError> {
        self.command("DATA", |c| c == 354)
    }

    /// The message after a 354: dot-stuffed, followed by `CRLF.CRLF`, in one write; then the
    /// server's final reply.
    pub fn body(&mut self, message: &[u8]) -> Result<Reply, SmtpError> {
        let wire = dot_stuff(message);
        self.stream
            .write_all(&wire)
            .and_then(|_| self.stream.flush())
            .map_err(|e| broken("sending the message", e))?;
        let r = self.read_reply()?;
        if r.code == 250 {
            Ok(r)
        } else {
            Err(SmtpError::Reply(r))
        }
    }

    /// `RSET`: ends a failed transaction so the connection can carry the next message.
    pub fn rset(&mut self) -> Result<Reply, SmtpError> {
        self.command("RSET", |c| c == 250)
    }

    /// `QUIT` and a TLS close; errors do not matter any more.
    pub fn quit(mut self) {
        let _ = self.command("QUIT", |c| c == 221);
        if let Stream::Tls(s) = &mut self.stream {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
    }

    /// Sends one command line and reads the reply; a code `ok` does not accept is an error.
    fn command(&mut self, line: &str, ok: impl Fn(u16) -> bool) -> Result<Reply, SmtpError> {
        let mut buf = Zeroizing::new(Vec::with_capacity(line.len() + 2));
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\r\n");
        let verb = line.split(' ').next().unwrap_or("");
        self.stream
            .write_all(&buf)
            .and_then(|_| self.stream.flush())
            .map_err(|e| broken(&format!("sending {verb}"), e))?;
        let r = self.read_reply()?;
        if ok(r.code) {
            Ok(r)
        } else {
            Err(SmtpError::Reply(r))
        }
    }

    /// One reply: lines `NNN-text` up to the last `NNN text`, all with the same code.
    fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        let mut lines = Vec::new();
        let mut code = None;
        loop {
            let line = self.read_line()?;
            let bad = || {
                SmtpError::Broken(format!(
                    "the server's reply does not parse: {:?}",
                    crate::text::scrub_controls(&String::from_utf8_lossy(&line))
                ))
            };
            if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            let n: u16 = std::str::from_utf8(&line[..3])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?;
            if *code.get_or_insert(n) != n {
                return Err(bad());
            }
            let more = match line.get(3) {
                None | Some(b' ') => false,
                Some(b'-') => true,
                Some(_) => return Err(bad()),
            };
            let text = line.get(4..).unwrap_or_default();
            lines.push(crate::text::scrub_controls(&String::from_utf8_lossy(text)));
            if !more {
                return Ok(Reply { code: n, lines });
            }
            if lines.len() >= MAX_LINES {
                return Err(SmtpError::Broken("the server's reply is too long".into()));
            }
        }
    }

    /// One line without its CRLF (a bare LF is accepted).
    fn read_line(&mut self) -> Result<Vec<u8>, SmtpError> {
        let mut searched = 0;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.rbuf[searched..]) {
                let end = searched + i;
                let mut line: Vec<u8> = self.rbuf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            searched = self.rbuf.len();
            if searched > MAX_LINE {
                return Err(SmtpError::Broken("a reply line is too long".into()));
            }
            let mut chunk = [0u8; 4096];
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => return Err(SmtpError::Broken("the server closed the connection".into())),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(broken("reading the reply", e)),
            };
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn tls_stream(
    cfg: &Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<StreamOwned<ClientConnection, TcpStream>, SmtpError> {
    let name =
        ServerName::try_from(host.to_string()).map_err(|e| broken("not a TLS server name", e))?;
    let conn = ClientConnection::new(Arc::clone(cfg), name).map_err(|e| broken("TLS", e))?;
    let mut s = StreamOwned::new(conn, tcp);
    // Handshake now, so a bad certificate is reported as such and not as a failed EHLO.
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| broken("TLS handshake", e))?;
    }
    Ok(s)
}

/// The DATA section on the wire: a `.` that starts a line is doubled (RFC 5321 §4.5.2), and
/// `CRLF.CRLF` ends it (as lettre's codec does: lines start after CRLF).
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut line_start = true;
    let mut after_cr = false;
    for &b in message {
        if b == b'.' && line_start {
            out.push(b'.');
        }
        out.push(b);
        line_start = after_cr && b == b'\n';
        after_cr = b == b'\r';
    }
    out.extend_from_slice(b"\r\n.\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_at_line_starts_are_doubled_and_the_end_is_marked() {
        assert_eq!(
            dot_stuff(b".a\r\n.b\r\nc.d\r\n"),
            b"..a\r\n..b\r\nc.d\r\n\r\n.\r\n"
        );
        // A bare LF does not start a line (lettre's codec did the same).
        assert_eq!(dot_stuff(b"a\n.b"), b"a\n.b\r\n.\r\n");
        assert_eq!(dot_stuff(b"\r\n.\r\n"), b"\r\n..\r\n\r\n.\r\n");
    }

    #[test]
    fn ehlo_capabilities() {
        let r = Reply {
            code: 250,
            lines: vec![
                "mail.example".into(),
                "PIPELINING".into(),
                "8BITMIME".into(),
                "AUTH LOGIN plain".into(),
                "starttls".into(),
            ],
        };
        let c = Capabilities::parse(&r);
        assert!(c.starttls && c.eight_bit_mime);
        assert_eq!(c.auth, ["LOGIN", "PLAIN"]);
    }

    /// A scripted server on loopback: answers each line it reads with the next reply.
    fn server(
        script: Vec<(&'static str, &'static str)>,
    ) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            s.write_all(b"220 test ESMTP\r\n").unwrap();
            let mut buf = [0u8; 65536];
            for (until, reply) in script {
                while !String::from_utf8_lossy(&got).ends_with(until) {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        return got;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                s.write_all(reply.as_bytes()).unwrap();
            }
            got
        });
        (port, h)
    }

    /// A client over clear text to the scripted server on `port`.
    fn plain_client(port: u16) -> Client {
        Client::connect(
            "127.0.0.1",
            port,
            Duration::from_secs(5),
            Security::Plain,
            "client.example",
        )
        .unwrap()
    }

    #[test]
    fn a_transaction_with_multiline_replies_and_a_4xx() {
        let (port, h) = server(vec![
            ("\r\n", "250-test\r\n250-8BITMIME\r\n250 SIZE 100\r\n"),
            ("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n", "250 ok\r\n"),
            (
                "RCPT TO:<b@example.com>\r\n",
                "451-4.3.0 try\r\n451 4.3.0 later\r\n",
            ),
            ("RSET\r\n", "250 ok\r\n"),
            ("MAIL FROM:<a@example.com>\r\n", "250 ok\r\n"),
            ("RCPT TO:<b@example.com>\r\n", "250 ok\r\n"),
            ("DATA\r\n", "354 go\r\n"),
            ("\r\n.\r\n", "250 2.0.0 queued\r\n"),
            ("QUIT\r\n", "221 bye\r\n"),
        ]);
        let mut c = plain_client(port);
        assert!(c.capabilities().eight_bit_mime && !c.capabilities().starttls);
        c.mail("a@example.com", true).unwrap();
        let e = c.rcpt("b@example.com").unwrap_err();
        assert!(e.is_transient() && !e.is_permanent());
        assert_eq!(
            e.to_string(),
            "the server answered 451 4.3.0 try 4.3.0 later"
        );
        c.rset().unwrap();
        c.mail("a@example.com", false).unwrap();
        c.rcpt("b@example.com").unwrap();
        assert_eq!(c.data().unwrap().code, 354);
        let r = c.body(b"Subject: x\r\n\r\n.hidden\r\n").unwrap();
        assert_eq!(r.text(), "250 2.0.0 queued");
        c.quit();
        let got = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(got.starts_with("EHLO client.example\r\n"), "{got}");
        assert!(
            got.contains("\r\n\r\n..hidden\r\n\r\n.\r\nQUIT\r\n"),
            "{got}"
        );
    }

    #[test]
    fn credentials_never_go_over_clear_text() {
        let (port, h) = server(vec![("\r\n", "250-test\r\n250 AUTH PLAIN LOGIN\r\n")]);
        let mut c = plain_client(port);
        let cred = Credentials {
            user: "u".into(),
            password: Zeroizing::new("secret".into()),
        };
        assert!(c.auth(&cred).is_err());
        assert!(!format!("{cred:?}").contains("secret"));
        drop(c);
        let got = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(!got.contains("AUTH"), "{got}");
    }

    #[test]
    fn a_closed_connection_is_broken_not_a_reply() {
        let (port, h) = server(vec![("\r\n", "250 test\r\n")]);
        let mut c = plain_client(port);
        h.join().unwrap();
        let e = c.mail("a@example.com", false).unwrap_err();
        assert!(matches!(e, SmtpError::Broken(_)), "{e}");
        assert!(!e.is_transient() && !e.is_permanent());
    }
}
