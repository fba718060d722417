//! The keyboard-wedge assembler: scans rebuilt from key events, told apart from typing, at
//! scanner speed, with GS in all its disguises and through foreign keyboard layouts.
//!
//! Random streams come from a seeded generator; set `CUSTODIAN_SEED` to replay a failure (the
//! seed is printed when an assertion fails).

#![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

use custodian_scanner::wedge::{
    Assembled, Key, KeyEvent, KeyScan, Layout, Suffix, Unterminated, Wedge, WedgeConfig,
    detect_layout,
};
use custodian_scanner::{GS, parse};
#[path = "support/seeded.rs"]
mod seeded;

use proptest::prelude::*;

/// How a scanner sends GS.
#[derive(Clone, Copy, Debug)]
enum GsAs {
    Ctrl,
    AltCode,
    Substitute(char),
}

/// Key events for `text` as a US-layout scanner types it into a host with `layout`, starting
/// at `t` with the given gaps (cycled), then `suffix`. Returns the time of the last event.
fn type_scan(
    events: &mut Vec<KeyEvent>,
    text: &str,
    gs: GsAs,
    layout: Layout,
    gaps: &mut dyn FnMut() -> u64,
    mut t: u64,
    suffix: Option<Key>,
) -> u64 {
    let mut first = true;
    let mut next = |key: Key, events: &mut Vec<KeyEvent>, t: &mut u64| {
        if !first {
            *t += gaps();
        }
        first = false;
        events.push(KeyEvent::new(key, *t));
    };
    for ch in text.chars() {
        if ch == GS {
            match gs {
                GsAs::Ctrl => next(Key::Ctrl(layout.host_char(']').unwrap()), events, &mut t),
                GsAs::AltCode => {
                    next(Key::AltDown, events, &mut t);
                    for d in [0, 0, 2, 9] {
                        next(Key::Numpad(d), events, &mut t);
                    }
                    next(Key::AltUp, events, &mut t);
                }
                GsAs::Substitute(c) => next(Key::Char(c), events, &mut t),
            }
        } else {
            next(Key::Char(layout.host_char(ch).unwrap()), events, &mut t);
        }
    }
    if let Some(key) = suffix {
        next(key, events, &mut t);
    }
    t
}

/// Feeds all events, polling after each one as a UI would, then drains at `end`.
fn run(config: WedgeConfig, events: &[KeyEvent], end: u64) -> Vec<Assembled> {
    let mut wedge = Wedge::new(config);
    let mut out = Vec::new();
    for &event in events {
        wedge.push(event);
        while let Some(a) = wedge.poll(event.at_ms) {
            out.push(a);
        }
    }
    while let Some(a) = wedge.poll(end) {
        out.push(a);
    }
    assert!(!wedge.is_pending());
    out
}

fn texts(out: &[Assembled]) -> Vec<String> {
    out.iter()
        .map(|a| match a {
            Assembled::Scan(s) => format!("scan {}", s.text.replace(GS, "␝")),
            Assembled::Typed(t) => format!("typed {t:?}"),
        })
        .collect()
}

const DM: &str = "010401234500001610L2611A\u{1d}215FNRJRW2M5";

fn scan_at(gs: GsAs, layout: Layout, suffix: Option<Key>) -> Vec<KeyEvent> {
    let mut events = Vec::new();
    type_scan(&mut events, DM, gs, layout, &mut || 3, 1_000, suffix);
    events
}

#[test]
fn gs_as_ctrl_alt_code_or_substitute() {
    let expected = vec![format!("scan {}", DM.replace(GS, "␝"))];
    let config = WedgeConfig::default();
    for gs in [GsAs::Ctrl, GsAs::AltCode] {
        let events = scan_at(gs, Layout::Us, Some(Key::Enter));
        assert_eq!(
            texts(&run(config.clone(), &events, 5_000)),
            expected,
            "{gs:?}"
        );
    }
    let config = WedgeConfig {
        gs_substitute: Some('\u{e01d}'),
        ..WedgeConfig::default()
    };
    let events = scan_at(GsAs::Substitute('\u{e01d}'), Layout::Us, Some(Key::Enter));
    assert_eq!(texts(&run(config, &events, 5_000)), expected);
}

#[test]
fn suffix_tab_and_no_suffix() {
    let tab = WedgeConfig {
        suffix: Suffix::Tab,
        ..WedgeConfig::default()
    };
    let events = scan_at(GsAs::Ctrl, Layout::Us, Some(Key::Tab));
    let out = run(tab, &events, 5_000);
    assert!(matches!(
        &out[..],
        [Assembled::Scan(KeyScan {
            terminated: true,
            ..
        })]
    ));

    let none = WedgeConfig {
        suffix: Suffix::None,
        ..WedgeConfig::default()
    };
    let events = scan_at(GsAs::Ctrl, Layout::Us, None);
    let last = events.last().unwrap().at_ms;
    let mut wedge = Wedge::new(none);
    for &e in &events {
        wedge.push(e);
    }
    // Not finished until the gap has passed.
    assert_eq!(wedge.poll(last + 35), None);
    let Some(Assembled::Scan(scan)) = wedge.poll(last + 36) else {
        panic!("no scan")
    };
    assert_eq!((scan.text.as_str(), scan.terminated), (DM, false));
    assert_eq!((scan.first_ms, scan.last_ms), (1_000, last));
}

#[test]
fn unterminated_policies() {
    let events = scan_at(GsAs::Ctrl, Layout::Us, None);
    let with = |unterminated| WedgeConfig {
        unterminated,
        ..WedgeConfig::default()
    };
    let out = run(with(Unterminated::Scan), &events, 9_000);
    assert!(matches!(
        &out[..],
        [Assembled::Scan(KeyScan {
            terminated: false,
            ..
        })]
    ));
    let out = run(with(Unterminated::Typed), &events, 9_000);
    assert_eq!(out, vec![Assembled::Typed(DM.to_owned())]);
    assert!(run(with(Unterminated::Drop), &events, 9_000).is_empty());
}

#[test]
fn a_person_typing_is_passed_through() {
    // 120 ms between keys: typing, not a scan, Enter included.
    let events: Vec<KeyEvent> = "hello\n"
        .chars()
        .enumerate()
        .map(|(i, c)| KeyEvent::new(Key::Char(c), 120 * i as u64))
        .collect();
    let typed: String = run(WedgeConfig::default(), &events, 10_000)
        .into_iter()
        .map(|a| match a {
            Assembled::Typed(t) => t,
            Assembled::Scan(s) => panic!("scan {s:?}"),
        })
        .collect();
    assert_eq!(typed, "hello\n");
    // A short fast burst (key rollover) is still typing.
    let burst: Vec<KeyEvent> = "abc"
        .chars()
        .enumerate()
        .map(|(i, c)| KeyEvent::new(Key::Char(c), 10 * i as u64))
        .collect();
    assert_eq!(
        run(WedgeConfig::default(), &burst, 1_000),
        vec![Assembled::Typed("abc".into())]
    );
}

#[test]
fn typing_then_scan_then_typing() {
    let mut events = vec![
        KeyEvent::new(Key::Char('x'), 0),
        KeyEvent::new(Key::Enter, 200),
    ];
    let end = type_scan(
        &mut events,
        DM,
        GsAs::Ctrl,
        Layout::Us,
        &mut || 2,
        500,
        Some(Key::Enter),
    );
    events.push(KeyEvent::new(Key::Char('y'), end + 300));
    assert_eq!(
        texts(&run(WedgeConfig::default(), &events, end + 1_000)),
        [
            "typed \"x\"",
            "typed \"\\n\"",
            "scan 010401234500001610L2611A␝215FNRJRW2M5",
            "typed \"y\""
        ]
    );
}

#[test]
fn prefix_frames_scans_without_suffix() {
    let config = WedgeConfig {
        prefix: "@@".to_owned(),
        suffix: Suffix::None,
        ..WedgeConfig::default()
    };
    // Two prefixed scans back to back with no pause: the second prefix splits them.
    let mut events = Vec::new();
    let t = type_scan(
        &mut events,
        &format!("@@{DM}"),
        GsAs::Ctrl,
        Layout::Us,
        &mut || 2,
        0,
        None,
    );
    type_scan(
        &mut events,
        &format!("@@{DM}"),
        GsAs::Ctrl,
        Layout::Us,
        &mut || 2,
        t + 2,
        None,
    );
    let out = texts(&run(config.clone(), &events, 10_000));
    assert_eq!(out, vec![format!("scan {}", DM.replace(GS, "␝")); 2]);
    // A fast burst without the prefix is not a scan.
    let events = scan_at(GsAs::Ctrl, Layout::Us, None);
    assert!(matches!(
        &run(config, &events, 10_000)[..],
        [Assembled::Typed(_)]
    ));
}

#[test]
fn layouts_are_mapped_back() {
    for layout in Layout::ALL {
        let config = WedgeConfig {
            layout,
            ..WedgeConfig::default()
        };
        for gs in [GsAs::Ctrl, GsAs::AltCode] {
            let events = scan_at(gs, layout, Some(Key::Enter));
            let out = run(config.clone(), &events, 5_000);
            assert_eq!(
                texts(&out),
                [format!("scan {}", DM.replace(GS, "␝"))],
                "{layout:?} {gs:?}"
            );
        }
    }
    assert_eq!(Layout::Azerty.us_text("&é\"'(-è_çà"), "1234567890");
    assert_eq!(Layout::Qwertz.us_text("zY"), "yZ");
}

#[test]
fn detect_layout_finds_the_host_layout() {
    let garble = |layout: Layout, text: &str| -> String {
        text.chars()
            .map(|c| {
                if c == GS {
                    GS
                } else {
                    layout.host_char(c).unwrap()
                }
            })
            .collect()
    };
    // AZERTY: digits become &é"'(-è_çà, only the right mapping parses.
    let scan = "]d2010401234500001610L2611A\u{1d}21ZY5QAM";
    assert_eq!(
        detect_layout(&garble(Layout::Azerty, scan)),
        Some(Layout::Azerty)
    );
    // QWERTZ: ']' arrives as '+', so the AIM identifier only parses when mapped back.
    assert_eq!(
        detect_layout(&garble(Layout::Qwertz, scan)),
        Some(Layout::Qwertz)
    );
    assert_eq!(detect_layout(scan), Some(Layout::Us));
    assert_eq!(detect_layout("not a scan"), None);
}

/// SplitMix64, seeded from `CUSTODIAN_SEED` or a fixed default.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("CUSTODIAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c0_ffee)
}

#[test]
fn three_hundred_scans_at_thirty_per_second() {
    let seed = seed();
    let mut rng = Rng(seed);
    let serials = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/demo/serials.jsonl"
    ))
    .unwrap();
    let mut expected = Vec::new();
    let mut events = Vec::new();
    let mut t = 10_000u64;
    for (i, line) in serials.lines().take(300).enumerate() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let gtin = row["gtin"].as_str().unwrap();
        let serial = row["serial"].as_str().unwrap();
        // GTIN + serial, as a GS1-128 or a DataMatrix without signature would carry it.
        let text = format!(
            "]d201{gtin}21{serial}{GS}10{}",
            row["lot"].as_str().unwrap()
        );
        let gs = [GsAs::Ctrl, GsAs::AltCode][i % 2];
        // A USB HID scanner types a key every 0-1 ms, sometimes several with one timestamp.
        let mut gaps = || rng.below(2);
        let start = t;
        let end = type_scan(
            &mut events,
            &text,
            gs,
            Layout::Us,
            &mut gaps,
            t,
            Some(Key::Enter),
        );
        expected.push(text);
        // Next trigger pull 33 ms after this one started: the pause between scans is far below
        // the 35 ms gap, so only the Enter suffix keeps them apart.
        t = (start + 33).max(end + 1 + rng.below(3));
    }
    let out = run(WedgeConfig::default(), &events, t + 1_000);
    let scans: Vec<String> = out
        .iter()
        .map(|a| match a {
            Assembled::Scan(s) => s.text.clone(),
            Assembled::Typed(t) => panic!("typed {t:?} (CUSTODIAN_SEED={seed})"),
        })
        .collect();
    assert_eq!(scans.len(), 300, "CUSTODIAN_SEED={seed}");
    assert_eq!(scans, expected, "CUSTODIAN_SEED={seed}");
    let elapsed = t - 10_000;
    assert!(elapsed <= 300 * 34, "{elapsed} ms for 300 scans");
    for scan in &scans {
        parse(scan).unwrap();
    }
}

fn arb_key() -> impl Strategy<Value = Key> {
    prop_oneof![
        any::<char>().prop_map(Key::Char),
        Just(Key::Enter),
        Just(Key::Tab),
        any::<char>().prop_map(Key::Ctrl),
        Just(Key::AltDown),
        any::<u8>().prop_map(Key::Numpad),
        Just(Key::AltUp),
        Just(Key::Other),
    ]
}

fn arb_config() -> impl Strategy<Value = WedgeConfig> {
    (
        "[@#]{0,3}",
        prop_oneof![Just(Suffix::Enter), Just(Suffix::Tab), Just(Suffix::None)],
        0u64..100,
        0usize..12,
        prop_oneof![
            Just(Unterminated::Scan),
            Just(Unterminated::Typed),
            Just(Unterminated::Drop)
        ],
        proptest::option::of(any::<char>()),
        prop_oneof![Just(Layout::Us), Just(Layout::Qwertz), Just(Layout::Azerty)],
    )
        .prop_map(
            |(prefix, suffix, max_gap_ms, min_length, unterminated, gs_substitute, layout)| {
                WedgeConfig {
                    prefix,
                    suffix,
                    max_gap_ms,
                    min_length,
                    unterminated,
                    gs_substitute,
                    layout,
                }
            },
        )
}

proptest! {
    #![proptest_config(seeded::seeded(256))]

    #[test]
    fn any_event_stream_is_safe(
        config in arb_config(),
        events in proptest::collection::vec((arb_key(), 0u64..200, any::<bool>()), 0..200),
    ) {
        let mut wedge = Wedge::new(config);
        let mut t = 0u64;
        for (key, gap, backwards) in events {
            // Clocks can step back; the wedge must not care.
            t = if backwards { t.saturating_sub(gap) } else { t + gap };
            wedge.push(KeyEvent::new(key, t));
            while wedge.poll(t).is_some() {}
        }
        while wedge.poll(u64::MAX).is_some() {}
        prop_assert!(!wedge.is_pending());
    }

    #[test]
    fn a_scan_with_realistic_gaps_comes_back_exactly(
        body in "[0-9A-Za-z!%&'()*+,./:;<=>?_\\-\"\u{1d}]{8,80}",
        gaps in proptest::collection::vec(0u64..=35, 1..40),
        gs_choice in 0usize..3,
        layout in prop_oneof![Just(Layout::Us), Just(Layout::Qwertz), Just(Layout::Azerty)],
        suffix in prop_oneof![Just(Suffix::Enter), Just(Suffix::Tab), Just(Suffix::None)],
    ) {
        // Characters the host layout cannot type (dead keys) are not sent by such a scanner.
        prop_assume!(body.chars().all(|c| c == GS || layout.host_char(c).is_some()));
        let gs = [GsAs::Ctrl, GsAs::AltCode, GsAs::Substitute('\u{e01d}')][gs_choice];
        let config = WedgeConfig {
            suffix,
            gs_substitute: Some('\u{e01d}'),
            layout,
            ..WedgeConfig::default()
        };
        let key = match suffix {
            Suffix::Enter => Some(Key::Enter),
            Suffix::Tab => Some(Key::Tab),
            Suffix::None => None,
        };
        let mut i = 0;
        let mut next_gap = || { i += 1; gaps[i % gaps.len()] };
        let mut events = Vec::new();
        let end = type_scan(&mut events, &body, gs, layout, &mut next_gap, 5, key);
        let out = run(config, &events, end + 1_000);
        prop_assert_eq!(out.len(), 1, "{:?}", out);
        let Assembled::Scan(scan) = &out[0] else { panic!("{out:?}") };
        prop_assert_eq!(&scan.text, &body);
        prop_assert_eq!(scan.terminated, key.is_some());
    }
}
