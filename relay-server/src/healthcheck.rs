//! `healthcheck`: asks a running relay's `/watchdog` whether it answers, for a container's
//! health check (the image has no shell and no curl, so the relay checks itself).
//!
//! One HTTP/1.1 `GET /watchdog` with a `Health-Check` header (without it `/watchdog` answers
//! an error by design) over a plain TCP connection, to the address the server listens on:
//! `--listen`, else `RELAY_LISTEN`, else the server's default, with an unspecified address
//! (`0.0.0.0`, `::`) asked on loopback. Exit status 0 only on `200`; anything else is said on
//! stderr and exits 1.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// The header's value, echoed back in the answer's `data`.
const PROBE: &str = "relay-healthcheck";

/// At most this much of the answer is read: the status line is all that is checked.
const MAX_ANSWER: u64 = 16 * 1024;

/// The subcommand's arguments.
pub(crate) fn command() -> clap::Command {
    clap::Command::new("healthcheck")
        .about(
            "Exit 0 when the relay on --listen / RELAY_LISTEN answers /watchdog (a container's \
             health check).",
        )
        .arg(
            clap::Arg::new("listen")
                .long("listen")
                .value_name("ADDRESS")
                .help(
                    "Address of the relay to check: the one it listens on. Default: \
                     RELAY_LISTEN, else 127.0.0.1:8080; 0.0.0.0 and :: are asked on loopback.",
                ),
        )
        .arg(
            clap::Arg::new("timeout")
                .long("timeout")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64))
                .default_value("2")
                .help("Seconds to wait for the connection and for the answer, each."),
        )
}

/// The subcommand of the command `name`: success when healthy, else the reason on stderr and
/// exit status 1.
pub(crate) fn exit(name: &str, args: &clap::ArgMatches) -> std::process::ExitCode {
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{name} healthcheck: {message}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Checks the relay; `Ok` when `/watchdog` answered 200, else why not.
fn run(args: &clap::ArgMatches) -> Result<(), String> {
    let env = |name: &str| std::env::var(name).ok();
    let flag = args.get_one::<String>("listen").map(String::as_str);
    let address = target(flag, env)?;
    let seconds = args.get_one::<u64>("timeout").copied().unwrap_or(2);
    let timeout = Duration::from_secs(seconds.max(1));
    let status = watchdog(address, timeout)?;
    if status == 200 {
        Ok(())
    } else {
        Err(format!("http://{address}/watchdog answered {status}"))
    }
}

/// The address to ask: the server's own (the flag over `RELAY_LISTEN` over the default, parsed
/// as the server parses it), with an unspecified IP replaced by loopback.
fn target(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<SocketAddr, String> {
    let flag = flag.map(str::to_owned);
    let settings = xdr_relay_core::Settings::new(move |name| match name {
        "RELAY_LISTEN" => flag.clone().or_else(|| env(name)),
        _ => env(name),
    });
    let mut address = crate::settings::listen(&settings)?;
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => address.set_ip(Ipv4Addr::LOCALHOST.into()),
        IpAddr::V6(ip) if ip.is_unspecified() => address.set_ip(Ipv6Addr::LOCALHOST.into()),
        _ => {}
    }
    Ok(address)
}

/// One `GET /watchdog`; the answer's status code.
fn watchdog(address: SocketAddr, timeout: Duration) -> Result<u16, String> {
    let url = format!("http://{address}/watchdog");
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let io = |e: std::io::Error| format!("{url}: {e}");
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = format!(
        "GET /watchdog HTTP/1.1\r\nHost: {address}\r\nHealth-Check: {PROBE}\r\n\
         User-Agent: relay-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(|e| format!("{url}: no answer: {e}"))?;
    status_code(&answer).ok_or_else(|| {
        let start = String::from_utf8_lossy(&answer[..answer.len().min(80)]).into_owned();
        format!("{url}: not an HTTP answer: {start:?}")
    })
}

/// The status code of an HTTP/1.x answer's status line.
fn status_code(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    words.next().filter(|v| v.starts_with("HTTP/1."))?;
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn asks_the_address_the_server_listens_on() {
        let at = |flag, vars| target(flag, env(vars)).map(|a| a.to_string());
        assert_eq!(at(None, &[]).unwrap(), "127.0.0.1:8080");
        let listen = &[("RELAY_LISTEN", "0.0.0.0:9000")];
        assert_eq!(at(None, listen).unwrap(), "127.0.0.1:9000");
        assert_eq!(at(Some("[::]:7000"), listen).unwrap(), "[::1]:7000");
        assert_eq!(at(Some("10.1.2.3:80"), &[]).unwrap(), "10.1.2.3:80");
        let bad = at(Some("localhost"), &[]).unwrap_err();
        assert!(bad.contains("RELAY_LISTEN"), "{bad}");
    }

    #[test]
    fn reads_the_status_line() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 503 Nope\r\n"), Some(503));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b""), None);
    }

    /// A one-shot server answering `answer`; returns its address and what it was sent.
    fn serve_once(answer: &'static str) -> (SocketAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer.as_bytes()).unwrap();
            String::from_utf8(request).unwrap()
        });
        (address, handle)
    }

    #[test]
    fn sends_the_health_check_header_and_reads_the_status() {
        let (address, server) = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(watchdog(address, Duration::from_secs(5)), Ok(200));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /watchdog HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains(&format!("Health-Check: {PROBE}\r\n")));

        let (address, server) = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(watchdog(address, Duration::from_secs(5)), Ok(503));
        server.join().unwrap();

        let (address, server) = serve_once("garbage\r\n\r\n");
        let error = watchdog(address, Duration::from_secs(5)).unwrap_err();
        assert!(error.contains("not an HTTP answer"), "{error}");
        server.join().unwrap();
    }

    #[test]
    fn nothing_listening_is_an_error_naming_the_address() {
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let error = watchdog(address, Duration::from_secs(5)).unwrap_err();
        assert!(
            error.contains(&format!("cannot connect to http://{address}/")),
            "{error}"
        );
    }
}
