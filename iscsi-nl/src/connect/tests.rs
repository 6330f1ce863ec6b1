//! The driver against tiny TCP servers in threads on 127.0.0.1: the simulated target of the
//! login tests, and servers speaking a few canned PDUs. No root needed.

use std::net::TcpListener;
use std::thread::{self, JoinHandle};

use super::*;
use crate::login::StatusError;
use crate::login::sim::SimTarget;
use crate::pdu::{LoginResponse, LogoutResponse, TextResponse};

const INI: &str = "iqn.2024-01.org.example:ini";
const TGT: &str = "iqn.2024-01.org.example:disk";
const ISID: [u8; 6] = [0x80, 0x12, 0x34, 0x56, 0, 1];
const TIMEOUT: Duration = Duration::from_secs(5);

/// Listens on a free port of 127.0.0.1 and hands the first `conns` connections, one after
/// the other, to `serve` with their index. Returns the `host:port`.
fn server(
    conns: usize,
    mut serve: impl FnMut(usize, TcpStream) + Send + 'static,
) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        for i in 0..conns {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            serve(i, stream);
        }
    });
    (addr, handle)
}

/// Reads one PDU on the server's side (no digests, 8192-byte segments).
fn read(stream: &mut TcpStream) -> Result<Pdu, Error> {
    recv(stream, &Framer::default())
}

/// Writes one PDU on the server's side.
fn write(stream: &mut TcpStream, pdu: &Pdu) {
    send(stream, &Framer::default(), pdu).unwrap();
}

/// Serves a login with the simulated target, then answers SendTargets and a logout, until
/// the initiator hangs up.
fn sim_session(mut stream: TcpStream, target: &mut SimTarget) {
    while let Ok(pdu) = read(&mut stream) {
        let answer = match &pdu {
            Pdu::LoginRequest(_) => target.handle(&pdu),
            Pdu::TextRequest(req) => Pdu::TextResponse(TextResponse {
                final_: true,
                itt: req.itt,
                ttt: RESERVED_TAG,
                stat_sn: req.exp_stat_sn,
                exp_cmd_sn: req.cmd_sn.wrapping_add(1),
                max_cmd_sn: req.cmd_sn.wrapping_add(32),
                data: format!("TargetName={TGT}\0TargetAddress=127.0.0.1:3260,1\0").into_bytes(),
                ..TextResponse::default()
            }),
            Pdu::LogoutRequest(req) => Pdu::LogoutResponse(LogoutResponse {
                itt: req.itt,
                stat_sn: req.exp_stat_sn,
                exp_cmd_sn: req.cmd_sn,
                max_cmd_sn: req.cmd_sn.wrapping_add(32),
                time2wait: 2,
                ..LogoutResponse::default()
            }),
            other => panic!("unexpected {other:?}"),
        };
        write(&mut stream, &answer);
    }
}

/// Serves one connection with the simulated target `target` (see [`sim_session`]).
fn sim_server(mut target: SimTarget) -> (String, JoinHandle<()>) {
    server(1, move |_, s| sim_session(s, &mut target))
}

/// Serves one connection: answers its first Login Request with this status.
fn status_server(class: u8, detail: u8) -> (String, JoinHandle<()>) {
    server(1, move |_, mut s| {
        let req = read(&mut s).unwrap();
        write(&mut s, &status(&req, class, detail));
    })
}

/// Connects to `addr` and logs in to [`TGT`] as [`INI`] with [`ISID`], the defaults otherwise.
fn log_in(addr: &str) -> Result<LoggedIn, Error> {
    login(connect(addr, TIMEOUT).unwrap(), LoginConfig::normal(INI, ISID, TGT))
}

/// A Login Response to `req` with this status and no text.
fn status(req: &Pdu, class: u8, detail: u8) -> Pdu {
    let Pdu::LoginRequest(req) = req else {
        panic!("expected a Login Request, got {req:?}");
    };
    Pdu::LoginResponse(LoginResponse {
        csg: req.csg,
        nsg: req.nsg,
        isid: req.isid,
        itt: req.itt,
        status_class: class,
        status_detail: detail,
        ..LoginResponse::default()
    })
}

#[test]
fn login_and_logout() {
    let (addr, server) = sim_server(SimTarget::new(TGT));
    let mut logged_in = log_in(&addr).unwrap();
    assert_eq!(logged_in.session.tsih, 0x1234);
    assert_eq!(logged_in.session.isid, ISID);
    assert_eq!(logged_in.session.params.max_burst_length, 131072);
    logout(&mut logged_in).unwrap();
    assert_eq!(logged_in.session.next_itt, 2);
    let (stream, session) = logged_in.into_parts();
    assert_eq!(session.tsih, 0x1234);
    drop(stream);
    server.join().unwrap();
}

#[test]
fn discovery_lists_targets() {
    let (addr, server) = sim_server(SimTarget::new(TGT));
    let targets = discover(&addr, INI, None, TIMEOUT).unwrap();
    assert_eq!(
        targets,
        vec![DiscoveredTarget { name: TGT.into(), addresses: vec![("127.0.0.1".into(), 3260, 1)] }]
    );
    server.join().unwrap();
}

#[test]
fn chap_login() {
    let creds = Credentials::new("ini-user", "ini-secret-0123");
    let mut target = SimTarget::new(TGT);
    target.chap = Some(creds.clone());
    let (addr, server) = sim_server(target);
    let mut cfg = LoginConfig::normal(INI, ISID, TGT);
    cfg.chap = Some(creds);
    let logged_in = login(connect(&addr, TIMEOUT).unwrap(), cfg).unwrap();
    assert_eq!(logged_in.session.params.auth_method, "CHAP");
    drop(logged_in);
    server.join().unwrap();
}

#[test]
fn rejected_login_is_a_clean_error() {
    let (addr, server) = status_server(2, 1);
    let err = log_in(&addr).unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::Status(StatusError::AuthenticationFailed))),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "login failed: authentication failed");
    server.join().unwrap();
}

#[test]
fn unknown_target() {
    let (addr, server) = status_server(2, 3);
    let err = log_in(&addr).unwrap_err();
    assert_eq!(err.to_string(), "login failed: target not found");
    server.join().unwrap();
}

#[test]
fn hang_up_mid_login_is_closed() {
    let (addr, server) = server(1, |_, mut s| {
        read(&mut s).unwrap();
    });
    let err = log_in(&addr).unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    server.join().unwrap();
}

#[test]
fn hang_up_mid_pdu_is_closed() {
    let (addr, server) = server(1, |_, mut s| {
        let req = read(&mut s).unwrap();
        let wire = status(&req, 0, 0).encode(crate::pdu::Digests::NONE).unwrap();
        s.write_all(wire.get(..30).unwrap()).unwrap();
    });
    let err = log_in(&addr).unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    server.join().unwrap();
}

#[test]
fn redirection_is_followed() {
    let (there, final_server) = sim_server(SimTarget::new(TGT));
    let mut mover = SimTarget::new(TGT);
    mover.redirect = Some((1, there));
    let (here, first_server) = sim_server(mover);
    let logged_in = log_in(&here).unwrap();
    assert_eq!(logged_in.session.tsih, 0x1234);
    drop(logged_in);
    first_server.join().unwrap();
    final_server.join().unwrap();
}

#[test]
fn endless_redirection_is_bounded() {
    let conns = MAX_REDIRECTS as usize + 1;
    let (addr, server) = server(conns, |_, mut s| {
        let here = s.local_addr().unwrap().to_string();
        let req = read(&mut s).unwrap();
        let Pdu::LoginResponse(mut r) = status(&req, 1, 2) else { unreachable!() };
        r.data = format!("TargetAddress={here},1\0").into_bytes();
        write(&mut s, &Pdu::LoginResponse(r));
    });
    let err = log_in(&addr).unwrap_err();
    assert!(matches!(err, Error::TooManyRedirects(MAX_REDIRECTS)), "{err:?}");
    server.join().unwrap();
}

#[test]
fn silent_target_times_out() {
    let (addr, server) = server(1, |_, mut s| {
        read(&mut s).unwrap();
        // Wait for the initiator to give up and hang up.
        assert!(matches!(read(&mut s), Err(Error::Closed)));
    });
    let stream = connect(&addr, Duration::from_millis(200)).unwrap();
    let err = login(stream, LoginConfig::normal(INI, ISID, TGT)).unwrap_err();
    let Error::Io(e) = &err else { panic!("{err:?}") };
    assert!(matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut), "{e:?}");
    drop(err);
    server.join().unwrap();
}

#[test]
fn oversized_segment_is_refused_unread() {
    let (addr, server) = server(1, |_, mut s| {
        let req = read(&mut s).unwrap();
        let mut wire = status(&req, 0, 0).encode(crate::pdu::Digests::NONE).unwrap();
        // DataSegmentLength 1 MiB, with none of the data sent.
        wire.splice(5..8, [0x10, 0, 0]);
        s.write_all(&wire).unwrap();
        let _ = read(&mut s);
    });
    let err = log_in(&addr).unwrap_err();
    assert!(matches!(err, Error::Pdu(PduError::DataSegmentTooLong { .. })), "{err:?}");
    server.join().unwrap();
}

#[test]
fn bad_portal_address() {
    let err = connect("[::1", TIMEOUT).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn random_isids_are_of_the_random_type() {
    let a = random_isid().unwrap();
    assert_eq!(a[0] & 0xc0, 0x80);
    assert_eq!(a[3..], [0, 0, 0]);
}
