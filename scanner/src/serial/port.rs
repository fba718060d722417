//! Reading scans from a serial port (feature `serial`): the I/O edge of [`super::Lines`].
//!
//! **This module does I/O**, which the rest of the crate does not: it opens a port with the
//! `serialport` crate and blocks reading it. It is compiled only with the `serial` feature. It
//! holds no logic of its own beyond sorting the operating system's errors into the
//! [`SerialError`]s a person can act on; the framing is the pure [`super::Lines`].
//!
//! Ports are named by path (`/dev/ttyACM0` for a USB CDC scanner, `/dev/rfcomm0` for a bound
//! Bluetooth SPP link, `COM3` on Windows) and opened exclusively, so two programs never split
//! one scanner's stream. The baud rate matters only for real UARTs; USB CDC and Bluetooth
//! ignore it.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::Duration;

use super::{LineConfig, LineError, Lines};

/// How long one read waits before it looks again; reads only end early on data or failure.
const POLL: Duration = Duration::from_millis(500);

/// Why a serial port gave no scan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SerialError {
    /// The port does not exist.
    #[error(
        "no serial port {path}: plug the scanner in (USB) or pair and bind it (Bluetooth, e.g. `rfcomm bind`), and check the path (/dev/ttyACM0, /dev/ttyUSB0, /dev/rfcomm0, COM3)"
    )]
    Absent {
        /// The path given.
        path: String,
    },
    /// Another program holds the port.
    #[error(
        "serial port {path} is in use by another program: close it (a terminal, ModemManager, another scan session) and try again"
    )]
    Busy {
        /// The path given.
        path: String,
    },
    /// The user may not open the port.
    #[error(
        "no permission to open serial port {path}: add the user to the group that owns it (dialout on Debian and Ubuntu) and log in again"
    )]
    Denied {
        /// The path given.
        path: String,
    },
    /// The port exists but could not be set up (an unsupported baud rate…).
    #[error(
        "cannot open serial port {path} at {baud} baud: {reason}; check the port and the baud rate"
    )]
    Open {
        /// The path given.
        path: String,
        /// The baud rate asked for.
        baud: u32,
        /// What the operating system said.
        reason: String,
    },
    /// Reading failed after the port was open: the scanner was unplugged, switched off or went
    /// out of Bluetooth range. Every complete scan read before was delivered.
    #[error(
        "the scanner on {path} was disconnected ({reason}){}: reconnect it and start scanning again",
        fragment.as_ref().map(|f| format!("; its last, unterminated input {f:?} was not taken, scan it again")).unwrap_or_default()
    )]
    Unplugged {
        /// The path given.
        path: String,
        /// What the operating system said.
        reason: String,
        /// The start of a scan that was cut off by the disconnection, if any.
        fragment: Option<String>,
    },
    /// One line was not a scan; reading goes on.
    #[error("{path}: {source}")]
    Line {
        /// The path given.
        path: String,
        /// Why the line was not taken.
        source: LineError,
    },
}

impl SerialError {
    /// Whether the port can give more scans after this error (only a bad line leaves it open).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, SerialError::Line { .. })
    }
}

/// An open serial port that yields scans. As an iterator it blocks until the next scan, and
/// ends after the first fatal error (see [`SerialError::is_fatal`]).
pub struct SerialScanner {
    port: Box<dyn serialport::SerialPort>,
    path: String,
    lines: Lines,
    ready: VecDeque<Result<String, LineError>>,
    ended: bool,
}

impl std::fmt::Debug for SerialScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialScanner")
            .field("path", &self.path)
            .field("pending", &self.lines.pending())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl SerialScanner {
    /// Opens the port at `path` with `baud` (8 data bits, no parity, one stop bit, no flow
    /// control, DTR raised as USB CDC scanners expect) for exclusive use.
    ///
    /// # Errors
    ///
    /// [`SerialError::Absent`], [`SerialError::Busy`], [`SerialError::Denied`] or
    /// [`SerialError::Open`].
    pub fn open(path: &str, baud: u32, config: LineConfig) -> Result<SerialScanner, SerialError> {
        let port = serialport::new(path, baud)
            .timeout(POLL)
            .dtr_on_open(true)
            .open()
            .map_err(|e| open_error(path, baud, &e))?;
        Ok(SerialScanner {
            port,
            path: path.to_owned(),
            lines: Lines::new(config),
            ready: VecDeque::new(),
            ended: false,
        })
    }

    /// The path the port was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The next scan, waiting for it as long as it takes; `None` after a fatal error.
    ///
    /// # Errors
    ///
    /// [`SerialError::Line`] for a line that was not a scan (reading goes on), or
    /// [`SerialError::Unplugged`] when the port fails (reading ends).
    pub fn next_scan(&mut self) -> Option<Result<String, SerialError>> {
        let mut buf = [0u8; 512];
        loop {
            // Complete scans go out before any error that follows them.
            if let Some(item) = self.ready.pop_front() {
                return Some(item.map_err(|source| SerialError::Line {
                    path: self.path.clone(),
                    source,
                }));
            }
            if self.ended {
                return None;
            }
            match self.port.read(&mut buf) {
                Ok(0) => return Some(Err(self.unplugged("end of stream".to_owned()))),
                Ok(n) => self.ready.extend(self.lines.push(&buf[..n])),
                Err(e) if is_transient(&e) => {}
                Err(e) => return Some(Err(self.unplugged(e.to_string()))),
            }
        }
    }

    fn unplugged(&mut self, reason: String) -> SerialError {
        self.ended = true;
        SerialError::Unplugged {
            path: self.path.clone(),
            reason,
            fragment: self.lines.finish(),
        }
    }
}

impl Iterator for SerialScanner {
    type Item = Result<String, SerialError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_scan()
    }
}

/// No data yet, or a signal: read again.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn open_error(path: &str, baud: u32, e: &serialport::Error) -> SerialError {
    let path = path.to_owned();
    match e.kind() {
        serialport::ErrorKind::Io(io::ErrorKind::NotFound) => SerialError::Absent { path },
        // EBUSY, or the exclusive lock another opener holds.
        serialport::ErrorKind::NoDevice => SerialError::Busy { path },
        serialport::ErrorKind::Io(io::ErrorKind::PermissionDenied) => SerialError::Denied { path },
        // ENXIO/ENODEV: a device node whose hardware is gone (an unbound rfcomm, a ttyS
        // without a UART).
        _ if e.description.starts_with("No such device") => SerialError::Absent { path },
        _ => SerialError::Open {
            path,
            baud,
            reason: e.description.clone(),
        },
    }
}

/// Real ports: a pseudo-terminal pair stands in for the cable. The test writes to the master
/// end as a scanner would; the scanner under test opens the slave end by its path.
#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::io::Write;
    use std::thread;

    use serialport::{SerialPort, TTYPort};

    use super::*;

    /// A pty pair; the returned slave handle keeps the slave side alive while the test opens
    /// it again by path.
    fn cable() -> (TTYPort, TTYPort, String) {
        let (master, slave) = TTYPort::pair().unwrap();
        let path = slave.name().unwrap();
        (master, slave, path)
    }

    fn open(path: &str) -> SerialScanner {
        SerialScanner::open(path, 9600, LineConfig::default()).unwrap()
    }

    #[test]
    fn scans_written_in_odd_pieces_arrive_whole_and_in_order() {
        let (mut master, _slave, path) = cable();
        let mut scanner = open(&path);
        assert_eq!(scanner.path(), path);
        let scans: Vec<String> = (0..200)
            .map(|i| format!("]d2010950600013435221SER{i:04}\u{1d}10LOT{}", i % 7))
            .collect();
        let stream: Vec<u8> = scans
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let end: &[u8] = [&b"\r\n"[..], b"\r", b"\n"][i % 3];
                let pad: &[u8] = if i % 5 == 0 { b"\0\0\0" } else { b"" };
                [s.as_bytes(), end, pad].concat()
            })
            .collect();
        let writer = thread::spawn(move || {
            // Pieces of 1 to 37 bytes, so scans and CR LF pairs are cut everywhere.
            let mut rest = &stream[..];
            let mut size = 1;
            while !rest.is_empty() {
                let (piece, tail) = rest.split_at(size.min(rest.len()));
                master.write_all(piece).unwrap();
                master.flush().unwrap();
                rest = tail;
                size = size % 37 + 1;
                if size % 9 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            master
        });
        let got: Vec<String> = scanner.by_ref().take(200).map(Result::unwrap).collect();
        assert_eq!(got, scans);
        drop(writer.join().unwrap());
        let end = scanner.next().unwrap().unwrap_err();
        assert!(
            matches!(&end, SerialError::Unplugged { fragment: None, .. }),
            "{end:?}"
        );
        assert!(end.is_fatal());
        assert!(scanner.next().is_none());
    }

    #[test]
    fn unplugging_mid_scan_keeps_the_complete_scans_and_names_the_cut_one() {
        let (mut master, _slave, path) = cable();
        let mut scanner = open(&path);
        master.write_all(b"0109506000134352\r\n(00)").unwrap();
        master.write_all(b"106141411234567897\r\n]d20109").unwrap();
        master.flush().unwrap();
        // Let both writes land before the first read, so one read holds the cut scan too (a
        // hangup discards what was not read yet, as pulling a cable loses the bytes in flight).
        thread::sleep(Duration::from_millis(200));
        assert_eq!(scanner.next().unwrap().unwrap(), "0109506000134352");
        assert_eq!(scanner.next().unwrap().unwrap(), "(00)106141411234567897");
        drop(master);
        let error = scanner.next().unwrap().unwrap_err();
        assert!(
            matches!(&error, SerialError::Unplugged { fragment: Some(f), .. } if f == "]d20109"),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("the scanner on {path} was disconnected (")),
            "{message}"
        );
        assert!(
            message.ends_with(
                "; its last, unterminated input \"]d20109\" was not taken, scan it again: reconnect it and start scanning again"
            ),
            "{message}"
        );
        assert!(scanner.next().is_none());
    }

    #[test]
    fn a_bad_line_is_reported_and_reading_goes_on() {
        let (mut master, _slave, path) = cable();
        let mut scanner = SerialScanner::open(
            &path,
            115_200,
            LineConfig {
                max_len: 24,
                ..LineConfig::default()
            },
        )
        .unwrap();
        master
            .write_all(b"0109506000134352\r\n0123456789012345678901234567890123456789\r\n(00)106141411234567897\r\n")
            .unwrap();
        assert_eq!(scanner.next().unwrap().unwrap(), "0109506000134352");
        let error = scanner.next().unwrap().unwrap_err();
        assert!(!error.is_fatal());
        assert!(
            error
                .to_string()
                .starts_with(&format!("{path}: a line longer than 24 bytes")),
            "{error}"
        );
        assert_eq!(scanner.next().unwrap().unwrap(), "(00)106141411234567897");
    }

    #[test]
    fn a_port_in_use_is_busy() {
        let (_master, _slave, path) = cable();
        let _first = open(&path);
        let error = SerialScanner::open(&path, 9600, LineConfig::default()).unwrap_err();
        assert!(
            matches!(&error, SerialError::Busy { path: p } if *p == path),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "serial port {path} is in use by another program: close it (a terminal, ModemManager, another scan session) and try again"
            )
        );
    }

    #[test]
    fn an_absent_port_says_what_to_check() {
        let error =
            SerialScanner::open("/dev/ttyACM-absent", 9600, LineConfig::default()).unwrap_err();
        assert!(matches!(error, SerialError::Absent { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with("no serial port /dev/ttyACM-absent: plug the scanner in"),
            "{error}"
        );
    }
}
