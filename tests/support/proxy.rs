//! A fault-injecting TCP proxy on loopback, for sync under a bad link.
//!
//! Each connection draws its fate from a seeded generator: refused, cut after a random number
//! of bytes, stalled, slowed, or passed through. [`FaultyProxy::heal`] makes every later
//! connection pass through. TLS goes through untouched (the proxy sees only bytes).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// What happens to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Refuse,
    CutAfter(usize),
    Stall,
    Slow(u64),
    Pass,
}

/// A small deterministic generator (xorshift64*), so a failing seed replays exactly.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Counters of what the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub refused: AtomicU64,
    pub cut: AtomicU64,
    pub stalled: AtomicU64,
    pub slowed: AtomicU64,
    /// Bytes forwarded device → hub and hub → device (TLS records, as on the wire).
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

pub struct FaultyProxy {
    pub addr: SocketAddr,
    healed: Arc<AtomicBool>,
    pub stats: Arc<Stats>,
}

impl FaultyProxy {
    /// Listens on 127.0.0.1 (a port chosen by the OS) and forwards to `target`.
    pub fn start(target: SocketAddr, seed: u64) -> FaultyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let healed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let (h, st) = (healed.clone(), stats.clone());
        thread::spawn(move || {
            let mut rng = Rng::new(seed);
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                st.connections.fetch_add(1, Ordering::Relaxed);
                let fate = if h.load(Ordering::Relaxed) {
                    Fate::Pass
                } else {
                    match rng.below(6) {
                        0 => Fate::Refuse,
                        1 => Fate::CutAfter(usize::try_from(rng.below(6_000)).unwrap_or(0)),
                        2 => Fate::Stall,
                        3 => Fate::Slow(1 + rng.below(15)),
                        _ => Fate::Pass,
                    }
                };
                let st = st.clone();
                thread::spawn(move || serve(client, target, fate, &st));
            }
        });
        FaultyProxy {
            addr,
            healed,
            stats,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Runs `f` with a good link, then goes back to misbehaving.
    pub fn heal_for<T>(&self, f: impl FnOnce() -> T) -> T {
        self.healed.store(true, Ordering::Relaxed);
        let out = f();
        self.healed.store(false, Ordering::Relaxed);
        out
    }

    /// From now on, every connection passes through.
    pub fn heal(&self) {
        self.healed.store(true, Ordering::Relaxed);
    }
}

fn serve(client: TcpStream, target: SocketAddr, fate: Fate, stats: &Arc<Stats>) {
    match fate {
        Fate::Refuse => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        Fate::Stall => {
            stats.stalled.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(1_500));
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        Fate::CutAfter(_) => {
            stats.cut.fetch_add(1, Ordering::Relaxed);
        }
        Fate::Slow(_) => {
            stats.slowed.fetch_add(1, Ordering::Relaxed);
        }
        Fate::Pass => {}
    }
    let Ok(server) = TcpStream::connect(target) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let budget = Arc::new(AtomicU64::new(match fate {
        Fate::CutAfter(n) => u64::try_from(n).unwrap_or(u64::MAX),
        _ => u64::MAX,
    }));
    let delay = match fate {
        Fate::Slow(ms) => ms,
        _ => 0,
    };
    let (c2, s2) = (client.try_clone(), server.try_clone());
    let (Ok(c2), Ok(s2)) = (c2, s2) else { return };
    let b2 = budget.clone();
    let st = Arc::clone(stats);
    let up = thread::spawn(move || pump(c2, s2, &b2, delay, &st.bytes_up));
    pump(server, client, &budget, delay, &stats.bytes_down);
    let _ = up.join();
}

/// Copies `from` → `to` while the shared byte budget lasts, then cuts both ways; counts what
/// it forwarded into `forwarded`.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    budget: &AtomicU64,
    delay_ms: u64,
    forwarded: &AtomicU64,
) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let left = budget.load(Ordering::Relaxed);
        let allowed = usize::try_from(left.min(n as u64)).unwrap_or(n);
        budget.fetch_sub(allowed as u64, Ordering::Relaxed);
        if delay_ms > 0 {
            thread::sleep(Duration::from_millis(delay_ms));
        }
        if to.write_all(&buf[..allowed]).is_err() {
            break;
        }
        forwarded.fetch_add(allowed as u64, Ordering::Relaxed);
        if allowed < n {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// A TCP load balancer on loopback in front of several hubs: each connection goes to the next
/// backend in turn, and to the one after when that one refuses (a killed hub). TLS passes
/// through untouched, so the hubs must share one identity (one data directory).
pub struct Balancer {
    pub addr: SocketAddr,
    /// Connections each backend took, in the order the backends were given.
    pub taken: Arc<Vec<AtomicU64>>,
}

impl Balancer {
    pub fn start(backends: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("the balancer's address");
        let taken: Arc<Vec<AtomicU64>> =
            Arc::new(backends.iter().map(|_| AtomicU64::new(0)).collect());
        let counts = taken.clone();
        thread::spawn(move || {
            let mut next = 0usize;
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let mut chosen = None;
                for step in 0..backends.len() {
                    let i = (next + step) % backends.len();
                    if let Ok(upstream) =
                        TcpStream::connect_timeout(&backends[i], Duration::from_secs(2))
                    {
                        counts[i].fetch_add(1, Ordering::Relaxed);
                        chosen = Some(upstream);
                        next = i + 1;
                        break;
                    }
                }
                // Every backend refused: the client sees its connection closed.
                let Some(upstream) = chosen else { continue };
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("a socket"),
                        upstream.try_clone().expect("a socket"),
                    ),
                    (upstream, client),
                ] {
                    thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Balancer { addr, taken }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}
