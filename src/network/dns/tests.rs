//! The responder on real loopback sockets, queried with hickory-built
//! messages; upstreams are in-process sockets with canned behaviour.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

type Table = fn(&str) -> Vec<IpAddr>;

/// The network: `db` on both families, `web` an alias of three
/// containers, `v4only` without IPv6, `crowd` forty containers.
fn table(name: &str) -> Vec<IpAddr> {
    let ips: &[&str] = match name {
        "db" => &["10.89.0.5", "fd00::5"],
        // Unsorted on purpose: the responder sorts before rotating.
        "web" => &["10.89.0.12", "10.89.0.10", "fd00::10", "10.89.0.11"],
        "v4only" => &["10.89.0.7"],
        "crowd" => return (1..=40).map(|i| IpAddr::from([10, 89, 1, i])).collect(),
        _ => &[],
    };
    ips.iter().map(|ip| ip.parse().unwrap()).collect()
}

const DOMAIN: &str = "dns.burrow";
/// Long enough that a client never gives up before the server answers.
const CLIENT_WAIT: Duration = Duration::from_secs(10);

fn responder(upstreams: Vec<SocketAddr>) -> Responder<Table> {
    Responder::new(table as Table, Some(DOMAIN), upstreams).unwrap()
}

/// A responder serving UDP and TCP on 127.0.0.1 ephemeral ports until dropped.
struct Server {
    udp: SocketAddr,
    tcp: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<()>>>,
}

impl Server {
    fn start(responder: Responder<Table>) -> Server {
        let responder = Arc::new(responder);
        let stop = Arc::new(AtomicBool::new(false));
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (udp, tcp) = (socket.local_addr().unwrap(), listener.local_addr().unwrap());
        let (r, s) = (responder.clone(), stop.clone());
        let udp_thread = thread::spawn(move || serve_udp(socket, &r, &s));
        let (r, s) = (responder, stop.clone());
        let tcp_thread = thread::spawn(move || serve_tcp(listener, &r, &s));
        Server { udp, tcp, stop, threads: vec![udp_thread, tcp_thread] }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let result = thread.join().expect("a serving loop panicked");
            if !std::thread::panicking() {
                result.expect("a serving loop failed");
            }
        }
    }
}

fn query_message(id: u16, name: &str, qtype: RecordType) -> Message {
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    message
}

fn query(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
    query_message(id, name, qtype).to_vec().unwrap()
}

fn client() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
    socket
}

fn receive(socket: &UdpSocket) -> Message {
    let mut buf = [0u8; 65535];
    let len = socket.recv(&mut buf).expect("no answer from the responder");
    Message::from_vec(&buf[..len]).unwrap()
}

fn ask_udp(server: SocketAddr, packet: &[u8]) -> Message {
    let socket = client();
    socket.send_to(packet, server).unwrap();
    receive(&socket)
}

fn addresses(message: &Message) -> Vec<IpAddr> {
    message
        .answers()
        .iter()
        .map(|r| match r.data() {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            other => panic!("unexpected record {other:?}"),
        })
        .collect()
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|ip| ip.parse().unwrap()).collect()
}

#[test]
fn a_record_for_a_container_name() {
    let server = Server::start(responder(vec![]));
    let answer = ask_udp(server.udp, &query(0x1234, "db", RecordType::A));
    assert_eq!(answer.id(), 0x1234);
    assert_eq!(answer.message_type(), MessageType::Response);
    assert_eq!(answer.response_code(), ResponseCode::NoError);
    assert!(answer.authoritative());
    assert!(answer.recursion_desired());
    let db = Name::from_ascii("db.").unwrap();
    assert_eq!(answer.queries(), [Query::query(db.clone(), RecordType::A)]);
    assert_eq!(addresses(&answer), ips(&["10.89.0.5"]));
    assert!(answer.answers().iter().all(|r| r.ttl() == TTL && r.name() == &db));
}

#[test]
fn aaaa_record_for_a_container_name() {
    let server = Server::start(responder(vec![]));
    let answer = ask_udp(server.udp, &query(7, "db", RecordType::AAAA));
    assert_eq!(answer.response_code(), ResponseCode::NoError);
    assert_eq!(addresses(&answer), ips(&["fd00::5"]));
}

#[test]
fn known_name_without_that_type_is_noerror_and_empty() {
    let server = Server::start(responder(vec![]));
    for qtype in [RecordType::AAAA, RecordType::MX, RecordType::TXT] {
        let answer = ask_udp(server.udp, &query(9, "v4only", qtype));
        assert_eq!(answer.response_code(), ResponseCode::NoError, "{qtype}");
        assert!(answer.answers().is_empty(), "{qtype}");
    }
}

#[test]
fn shared_alias_answers_all_addresses_in_turn() {
    let server = Server::start(responder(vec![]));
    let sorted = ips(&["10.89.0.10", "10.89.0.11", "10.89.0.12"]);
    let mut firsts = Vec::new();
    for id in 0..6 {
        let answer = ask_udp(server.udp, &query(id, "web", RecordType::A));
        let mut got = addresses(&answer);
        firsts.push(got[0]);
        // An AAAA query in between (as getaddrinfo sends) keeps its own turn.
        assert_eq!(addresses(&ask_udp(server.udp, &query(id, "web", RecordType::AAAA))), ips(&["fd00::10"]));
        got.sort();
        assert_eq!(got, sorted);
    }
    let expected: Vec<IpAddr> = sorted.iter().chain(sorted.iter()).copied().collect();
    assert_eq!(firsts, expected);
}

#[test]
fn names_are_case_insensitive_with_or_without_domain_and_dot() {
    let server = Server::start(responder(vec![]));
    for name in ["DB", "Db.", "db.dns.burrow", "DB.DNS.Burrow.", "db."] {
        let answer = ask_udp(server.udp, &query(1, name, RecordType::A));
        assert_eq!(answer.response_code(), ResponseCode::NoError, "{name}");
        assert_eq!(addresses(&answer), ips(&["10.89.0.5"]), "{name}");
        // The answer carries the name as asked (on the wire, always with its dot).
        assert_eq!(answer.answers()[0].name().to_ascii(), format!("{}.", name.trim_end_matches('.')));
    }
}

#[test]
fn unknown_name_under_the_network_domain_is_nxdomain() {
    // With an upstream, to show the name is not forwarded either.
    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = Server::start(responder(vec![upstream.local_addr().unwrap()]));
    for name in ["nothere.dns.burrow", "dns.burrow."] {
        let answer = ask_udp(server.udp, &query(3, name, RecordType::A));
        assert_eq!(answer.response_code(), ResponseCode::NXDomain, "{name}");
        assert!(answer.authoritative());
    }
}

/// A fake upstream that answers one query with 192.0.2.1 for its name and
/// returns the bytes it received.
fn canned_upstream() -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
    let addr = socket.local_addr().unwrap();
    let thread = thread::spawn(move || {
        let mut buf = [0u8; 65535];
        let (len, peer) = socket.recv_from(&mut buf).unwrap();
        let received = buf[..len].to_vec();
        socket.send_to(&canned_answer(&received), peer).unwrap();
        received
    });
    (addr, thread)
}

fn canned_answer(query: &[u8]) -> Vec<u8> {
    let query = Message::from_vec(query).unwrap();
    let mut answer = Message::error_msg(query.id(), OpCode::Query, ResponseCode::NoError);
    answer.add_queries(query.queries().iter().cloned());
    let name = query.queries()[0].name().clone();
    answer.add_answer(Record::from_rdata(name, 300, RData::from(IpAddr::from([192, 0, 2, 1]))));
    answer.to_vec().unwrap()
}

#[test]
fn outside_name_is_forwarded_as_is_and_relayed_with_its_id() {
    let (upstream, fake) = canned_upstream();
    let server = Server::start(responder(vec![upstream]));
    let mut sent = query_message(0xbeef, "example.org", RecordType::A);
    sent.set_edns(Edns::new());
    let sent = sent.to_vec().unwrap();
    let answer = ask_udp(server.udp, &sent);
    assert_eq!(fake.join().unwrap(), sent);
    assert_eq!(answer.id(), 0xbeef);
    assert_eq!(addresses(&answer), ips(&["192.0.2.1"]));
    assert_eq!(answer.answers()[0].ttl(), 300);
}

#[test]
fn other_query_types_of_outside_names_are_forwarded() {
    let (upstream, fake) = canned_upstream();
    let server = Server::start(responder(vec![upstream]));
    let sent = query(42, "example.org", RecordType::MX);
    let answer = ask_udp(server.udp, &sent);
    assert_eq!(fake.join().unwrap(), sent);
    assert_eq!(answer.id(), 42);
}

#[test]
fn silent_upstream_means_servfail() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = Server::start(responder(vec![silent.local_addr().unwrap()]).with_timeout(Duration::from_millis(300)));
    let answer = ask_udp(server.udp, &query(77, "example.org", RecordType::A));
    assert_eq!(answer.id(), 77);
    assert_eq!(answer.response_code(), ResponseCode::ServFail);
    assert!(answer.answers().is_empty());
}

#[test]
fn next_upstream_is_tried_when_the_first_is_silent() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (upstream, fake) = canned_upstream();
    // Two seconds each: the silent one costs its share, the other has
    // plenty to answer even on a loaded machine.
    let server = Server::start(responder(vec![silent.local_addr().unwrap(), upstream]).with_timeout(Duration::from_secs(4)));
    let answer = ask_udp(server.udp, &query(78, "example.org", RecordType::A));
    fake.join().unwrap();
    assert_eq!(answer.response_code(), ResponseCode::NoError);
    assert_eq!(addresses(&answer), ips(&["192.0.2.1"]));
}

#[test]
fn internal_network_refuses_outside_names_and_still_answers_its_own() {
    let server = Server::start(responder(vec![]));
    let answer = ask_udp(server.udp, &query(5, "example.org", RecordType::A));
    assert_eq!(answer.response_code(), ResponseCode::Refused);
    assert!(!answer.recursion_available());
    let answer = ask_udp(server.udp, &query(6, "db", RecordType::A));
    assert_eq!(addresses(&answer), ips(&["10.89.0.5"]));
}

#[test]
fn malformed_packets_are_ignored_and_the_next_query_answered() {
    let server = Server::start(responder(vec![]));
    let socket = client();
    let mut response = query_message(1, "db", RecordType::A);
    response.set_message_type(MessageType::Response);
    // Empty, shorter than a header, a question whose label runs past the
    // end, and a response rather than a query.
    let cut: &[u8] = &[0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, b'a'];
    let garbage: [&[u8]; 4] = [&[], &[0xff; 3], cut, &response.to_vec().unwrap()];
    for packet in garbage {
        socket.send_to(packet, server.udp).unwrap();
    }
    socket.send_to(&query(0x4242, "db", RecordType::A), server.udp).unwrap();
    // Loopback UDP keeps order and the loop is sequential: had any garbage
    // been answered, that answer would come first.
    let answer = receive(&socket);
    assert_eq!(answer.id(), 0x4242);
    assert_eq!(addresses(&answer), ips(&["10.89.0.5"]));
}

fn write_framed(stream: &mut TcpStream, packet: &[u8]) {
    stream.write_all(&frame(packet).unwrap()).unwrap();
}

fn read_framed(stream: &mut TcpStream) -> Message {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body).unwrap();
    Message::from_vec(&body).unwrap()
}

#[test]
fn tcp_answers_pipelined_and_split_queries() {
    let server = Server::start(responder(vec![]));
    let mut stream = TcpStream::connect(server.tcp).unwrap();
    stream.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
    // Two queries in one write, and garbage between them that is skipped.
    let mut both = frame(&query(1, "db", RecordType::A)).unwrap();
    both.extend(frame(&[0xff; 5]).unwrap());
    both.extend(frame(&query(2, "db", RecordType::AAAA)).unwrap());
    stream.write_all(&both).unwrap();
    let first = read_framed(&mut stream);
    let second = read_framed(&mut stream);
    assert_eq!((first.id(), addresses(&first)), (1, ips(&["10.89.0.5"])));
    assert_eq!((second.id(), addresses(&second)), (2, ips(&["fd00::5"])));
    // One query dribbled a few bytes at a time.
    for piece in frame(&query(3, "v4only", RecordType::A)).unwrap().chunks(3) {
        stream.write_all(piece).unwrap();
        stream.flush().unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    let third = read_framed(&mut stream);
    assert_eq!((third.id(), addresses(&third)), (3, ips(&["10.89.0.7"])));
}

#[test]
fn tcp_query_for_an_outside_name_goes_upstream_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap();
    let fake = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
        let received = read_framed(&mut conn).to_vec().unwrap();
        write_framed(&mut conn, &canned_answer(&received));
        received
    });
    let server = Server::start(responder(vec![upstream]));
    let mut stream = TcpStream::connect(server.tcp).unwrap();
    stream.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
    let sent = query(0x5150, "example.org", RecordType::A);
    write_framed(&mut stream, &sent);
    let answer = read_framed(&mut stream);
    assert_eq!(fake.join().unwrap(), sent);
    assert_eq!(answer.id(), 0x5150);
    assert_eq!(addresses(&answer), ips(&["192.0.2.1"]));
}

#[test]
fn large_udp_answers_are_truncated_and_whole_over_tcp() {
    let responder = responder(vec![]);
    let packet = query(8, "crowd", RecordType::A);
    let Action::Reply(udp) = responder.decide(&packet, Transport::Udp) else { panic!("no udp reply") };
    let udp = Message::from_vec(&udp).unwrap();
    assert!(udp.truncated());
    assert!(udp.answers().is_empty());
    let Action::Reply(tcp) = responder.decide(&packet, Transport::Tcp) else { panic!("no tcp reply") };
    let tcp = Message::from_vec(&tcp).unwrap();
    assert!(!tcp.truncated());
    assert_eq!(tcp.answers().len(), 40);
    // With EDNS the client's larger buffer is used and the answer fits.
    let mut edns = query_message(9, "crowd", RecordType::A);
    let mut opt = Edns::new();
    opt.set_max_payload(4096);
    edns.set_edns(opt);
    let Action::Reply(big) = responder.decide(&edns.to_vec().unwrap(), Transport::Udp) else { panic!("no reply") };
    let big = Message::from_vec(&big).unwrap();
    assert!(!big.truncated());
    assert_eq!(big.answers().len(), 40);
    assert!(big.extensions().is_some());
}

#[test]
fn other_opcodes_and_question_counts() {
    let responder = responder(vec![]);
    let code = |message: &Message| match responder.decide(&message.to_vec().unwrap(), Transport::Udp) {
        Action::Reply(bytes) => Message::from_vec(&bytes).unwrap().response_code(),
        other => panic!("{other:?}"),
    };
    let mut notify = query_message(1, "db", RecordType::A);
    notify.set_op_code(OpCode::Notify);
    assert_eq!(code(&notify), ResponseCode::NotImp);
    let mut two = query_message(2, "db", RecordType::A);
    two.add_query(Query::query(Name::from_ascii("web").unwrap(), RecordType::A));
    assert_eq!(code(&two), ResponseCode::FormErr);
    let mut none = query_message(3, "db", RecordType::A);
    none.queries_mut().clear();
    assert_eq!(code(&none), ResponseCode::FormErr);
}

#[test]
fn search_domain_is_checked_and_normalized() {
    assert!(matches!(Responder::new(table as Table, Some("bad domain"), vec![]), Err(Error::Domain { .. })));
    assert!(matches!(Responder::new(table as Table, Some("."), vec![]), Err(Error::Domain { .. })));
    assert!(matches!(Responder::new(table as Table, Some(""), vec![]), Err(Error::Domain { .. })));
    let responder = Responder::new(table as Table, Some("Dns.Burrow."), vec![]).unwrap();
    assert_eq!(responder.domain.as_deref(), Some("dns.burrow"));
    let answer = responder.decide(&query(1, "db.DNS.burrow", RecordType::A), Transport::Udp);
    let Action::Reply(bytes) = answer else { panic!("{answer:?}") };
    assert_eq!(addresses(&Message::from_vec(&bytes).unwrap()), ips(&["10.89.0.5"]));
}

/// xorshift64*: a fixed, dependency-free sequence for the fuzz test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_packets_never_panic() {
    let responder = responder(vec!["192.0.2.53:53".parse().unwrap()]);
    let seeds = [query(1, "db", RecordType::A), query(2, "web.dns.burrow", RecordType::AAAA), query(3, "example.org", RecordType::MX)];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for i in 0..10_000 {
        // Half pure noise, half valid queries with a few bytes changed, so
        // that the decision code behind the parser gets exercised too.
        let packet: Vec<u8> = if i % 2 == 0 {
            (0..rng.below(600)).map(|_| rng.next() as u8).collect()
        } else {
            let mut p = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(2) {
                let at = rng.below(p.len());
                p[at] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                p.truncate(rng.below(p.len() + 1));
            }
            p
        };
        let transport = if i % 3 == 0 { Transport::Tcp } else { Transport::Udp };
        if responder.decide(&packet, transport) != Action::Drop {
            parsed += 1;
        }
    }
    // The mutated half must reach the decision code, or the test proves little.
    assert!(parsed > 1000, "only {parsed} packets got past the parser");
}
