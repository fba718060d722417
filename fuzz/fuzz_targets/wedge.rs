//! Any key-event stream under any configuration → the wedge never panics, always drains, and
//! every scan it returns is at least `min_length` characters.
#![no_main]

use arbitrary::Arbitrary;
use custodian_scanner::wedge::{
    Assembled, Key, KeyEvent, Layout, Suffix, Unterminated, Wedge, WedgeConfig,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum FuzzKey {
    Char(char),
    Enter,
    Tab,
    Ctrl(char),
    AltDown,
    Numpad(u8),
    AltUp,
    Other,
}

#[derive(Arbitrary, Debug)]
struct Input {
    prefix: String,
    suffix: u8,
    max_gap_ms: u8,
    min_length: u8,
    unterminated: u8,
    gs_substitute: Option<char>,
    layout: u8,
    events: Vec<(FuzzKey, u16, bool)>,
}

fuzz_target!(|input: Input| {
    let config = WedgeConfig {
        prefix: input.prefix.chars().take(4).collect(),
        suffix: [Suffix::Enter, Suffix::Tab, Suffix::None][usize::from(input.suffix % 3)],
        max_gap_ms: u64::from(input.max_gap_ms),
        min_length: usize::from(input.min_length % 16),
        unterminated: [Unterminated::Scan, Unterminated::Typed, Unterminated::Drop]
            [usize::from(input.unterminated % 3)],
        gs_substitute: input.gs_substitute,
        layout: Layout::ALL[usize::from(input.layout % 3)],
    };
    let min_length = config.min_length;
    let mut wedge = Wedge::new(config);
    let mut t = 1_000_000u64;
    let check = |a: Assembled| {
        if let Assembled::Scan(scan) = a {
            assert!(scan.text.chars().count() >= min_length);
            assert!(scan.first_ms <= scan.last_ms);
        }
    };
    for (key, gap, back) in input.events {
        t = if back { t.saturating_sub(u64::from(gap)) } else { t + u64::from(gap) };
        let key = match key {
            FuzzKey::Char(c) => Key::Char(c),
            FuzzKey::Enter => Key::Enter,
            FuzzKey::Tab => Key::Tab,
            FuzzKey::Ctrl(c) => Key::Ctrl(c),
            FuzzKey::AltDown => Key::AltDown,
            FuzzKey::Numpad(d) => Key::Numpad(d),
            FuzzKey::AltUp => Key::AltUp,
            FuzzKey::Other => Key::Other,
        };
        wedge.push(KeyEvent::new(key, t));
        while let Some(a) = wedge.poll(t) {
            check(a);
        }
    }
    while let Some(a) = wedge.poll(u64::MAX) {
        check(a);
    }
    assert!(!wedge.is_pending());
});
