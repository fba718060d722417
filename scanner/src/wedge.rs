//! Keyboard-wedge assembly: USB and Bluetooth HID scanners pretend to be keyboards, so a scan
//! arrives as a burst of key events. [`Wedge`] turns timestamped [`KeyEvent`]s back into whole
//! scans, and hands slow keys (a person typing) back as [`Assembled::Typed`] text for the UI to
//! pass through.
//!
//! How a burst is told from typing: keys closer together than [`WedgeConfig::max_gap_ms`] form
//! one burst; a burst of at least [`WedgeConfig::min_length`] characters is a scan, anything
//! shorter is typing. A configured suffix (Enter, Tab) ends a scan at once, which is what keeps
//! back-to-back scans apart at 30 scans/s, where the pause between two scans is shorter than the
//! gap; without a suffix a burst ends when the gap passes ([`Wedge::poll`]). A configured prefix
//! also starts a new scan when it appears inside a burst.
//!
//! GS (ASCII 29, FNC1) cannot be typed, so scanners send it as Ctrl+], as an Alt+numpad code
//! (Alt held, 0 0 2 9 on the numpad, Alt released) or as a substitute character configured in
//! the scanner ([`WedgeConfig::gs_substitute`]); all three come out as [`crate::GS`].
//!
//! A scanner sends key *positions* for a US layout; a host with another layout prints what its
//! own layout has at those positions (`&é"'(-è_çà` for the digits on AZERTY, `y`/`z` swapped on
//! QWERTZ). [`Layout`] maps the garbled characters back and [`detect_layout`] guesses the host
//! layout from one burst by asking which mapping makes it parse as GS1. Dead keys (`^`, `´` on
//! QWERTZ, `^` `¨` on AZERTY) swallow the following key on such hosts: that loss cannot be
//! undone here; set the scanner's keyboard country instead.
//!
//! The wedge reads no clock: timestamps come with the events, and [`Wedge::poll`] takes "now".

use std::collections::VecDeque;

use crate::GS;

/// One key press as the host reported it (a `keydown` in a webview).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// What was pressed.
    pub key: Key,
    /// When, in milliseconds on any monotonic clock (only differences matter).
    pub at_ms: u64,
}

impl KeyEvent {
    /// A key event at `at_ms`.
    pub fn new(key: Key, at_ms: u64) -> Self {
        KeyEvent { key, at_ms }
    }
}

/// The keys a wedge scanner produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A key that produced this character in the host's layout (`event.key` of length 1).
    /// `'\r'`, `'\n'` count as [`Key::Enter`], `'\t'` as [`Key::Tab`].
    Char(char),
    /// Enter / Return.
    Enter,
    /// Tab.
    Tab,
    /// A control chord, Ctrl plus this character (`event.key` with `ctrlKey`): Ctrl+] is GS,
    /// in general Ctrl+`@`…`_` give ASCII 0–31. Other chords are ignored.
    Ctrl(char),
    /// Alt pressed: numpad digits that follow are a character code until [`Key::AltUp`].
    AltDown,
    /// A numpad digit (0–9): part of an Alt code while Alt is held, otherwise the digit.
    Numpad(u8),
    /// Alt released: ends an Alt+numpad code (decimal, taken as Latin-1; `0029` is GS).
    AltUp,
    /// A key that produces no text (Shift, arrows, function keys): ignored, and not counted
    /// for timing either.
    Other,
}

/// What ends a scan, as configured in the scanner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Suffix {
    /// The scanner sends Enter after each scan (the factory default of most scanners).
    #[default]
    Enter,
    /// The scanner sends Tab.
    Tab,
    /// No suffix: a burst ends when no key follows within [`WedgeConfig::max_gap_ms`].
    None,
}

/// What to do with a fast burst that ended by timeout rather than by the configured suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Unterminated {
    /// Report it as a scan with [`KeyScan::terminated`] false (the default: a scan that lost
    /// its suffix is still a scan, and the parser will judge it).
    #[default]
    Scan,
    /// Hand it back as typed text.
    Typed,
    /// Drop it.
    Drop,
}

/// How the scanner is set up, and how to tell it from a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WedgeConfig {
    /// Characters the scanner sends before each scan (empty: none). When set, a burst that
    /// does not start with it is typing, and the prefix is stripped from scans.
    pub prefix: String,
    /// The key the scanner sends after each scan.
    pub suffix: Suffix,
    /// The longest pause between two keys of one burst. Scanners type a character every
    /// 1–10 ms; people rarely type two keys within 35 ms. Raise it for Bluetooth scanners that
    /// deliver keys in batches.
    pub max_gap_ms: u64,
    /// The fewest characters (prefix excluded) that make a burst a scan; shorter bursts are
    /// typing. 8 is the shortest GS1 carrier (EAN-8).
    pub min_length: usize,
    /// Bursts that end without the suffix.
    pub unterminated: Unterminated,
    /// A character the scanner sends in place of GS (e.g. a private-use character, or a
    /// printable one such as `~` when the host cannot take control keys).
    pub gs_substitute: Option<char>,
    /// The host's keyboard layout, whose characters are mapped back to what the scanner meant.
    pub layout: Layout,
}

impl Default for WedgeConfig {
    fn default() -> Self {
        WedgeConfig {
            prefix: String::new(),
            suffix: Suffix::Enter,
            max_gap_ms: 35,
            min_length: 8,
            unterminated: Unterminated::Scan,
            gs_substitute: None,
            layout: Layout::Us,
        }
    }
}

/// One scan assembled from keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyScan {
    /// The scan text, prefix and suffix removed, GS as [`crate::GS`], layout mapped back.
    /// Feed it to [`crate::parse`].
    pub text: String,
    /// Timestamp of the first key.
    pub first_ms: u64,
    /// Timestamp of the last key (the suffix, if any).
    pub last_ms: u64,
    /// True if the configured suffix ended the scan, false if a timeout or a prefix did.
    pub terminated: bool,
}

/// What the wedge hands back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assembled {
    /// A scanner burst.
    Scan(KeyScan),
    /// Keys a person typed, as the host's layout produced them (not mapped back), Enter as
    /// `'\n'` and Tab as `'\t'`: for the UI to pass through to whatever has the focus.
    Typed(String),
}

/// Assembles key events into scans. Feed it with [`Wedge::push`], drain it with
/// [`Wedge::poll`].
///
/// ```
/// use custodian_scanner::wedge::{Assembled, Key, KeyEvent, Wedge, WedgeConfig};
///
/// let mut wedge = Wedge::new(WedgeConfig::default());
/// let mut t = 1_000;
/// for ch in "0109506000134352".chars() {
///     wedge.push(KeyEvent::new(Key::Char(ch), t));
///     t += 2;
/// }
/// wedge.push(KeyEvent::new(Key::Ctrl(']'), t));
/// for ch in "21ABC".chars() {
///     t += 2;
///     wedge.push(KeyEvent::new(Key::Char(ch), t));
/// }
/// wedge.push(KeyEvent::new(Key::Enter, t + 2));
/// let Some(Assembled::Scan(scan)) = wedge.poll(t + 2) else { panic!() };
/// assert_eq!(scan.text, "0109506000134352\u{1d}21ABC");
/// ```
#[derive(Clone, Debug)]
pub struct Wedge {
    config: WedgeConfig,
    /// The current burst as the scanner meant it (layout mapped back, GS restored).
    meant: String,
    /// The current burst as the host typed it, for pass-through if it turns out to be typing.
    raw: String,
    /// Characters in the current burst.
    chars: usize,
    first_ms: u64,
    /// Timestamp of the last key of the current burst; `None` when no burst is open.
    last_ms: Option<u64>,
    /// The Alt+numpad code being entered: `Some((code, digits))` while Alt is held.
    alt: Option<(u32, u8)>,
    ready: VecDeque<Assembled>,
}

impl Wedge {
    /// A wedge with this configuration and nothing pending.
    pub fn new(config: WedgeConfig) -> Self {
        Wedge {
            config,
            meant: String::new(),
            raw: String::new(),
            chars: 0,
            first_ms: 0,
            last_ms: None,
            alt: None,
            ready: VecDeque::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &WedgeConfig {
        &self.config
    }

    /// Feeds one key event. Events should come in time order; a timestamp earlier than the
    /// previous one is taken as no gap.
    pub fn push(&mut self, event: KeyEvent) {
        if event.key == Key::Other {
            return;
        }
        if let Some(last) = self.last_ms
            && event.at_ms.saturating_sub(last) > self.config.max_gap_ms
        {
            self.end_burst(false, None);
        }
        let at = event.at_ms;
        match event.key {
            Key::Char('\r' | '\n') | Key::Enter => self.terminator(Suffix::Enter, '\n', at),
            Key::Char('\t') | Key::Tab => self.terminator(Suffix::Tab, '\t', at),
            Key::Char(ch) => self.character(ch, at),
            Key::Ctrl(ch) => {
                let ch = self.config.layout.us_char(ch).to_ascii_uppercase();
                if ('@'..='_').contains(&ch) {
                    self.character(char::from(ch as u8 & 0x1f), at);
                }
            }
            Key::AltDown => {
                self.touch(at);
                self.alt = Some((0, 0));
            }
            Key::Numpad(digit) => match self.alt {
                Some((code, digits)) => {
                    self.touch(at);
                    let code = (code * 10 + u32::from(digit % 10)) % 1000;
                    self.alt = Some((code, digits.saturating_add(1)));
                }
                None => self.character(char::from(b'0' + digit % 10), at),
            },
            Key::AltUp => match self.alt.take() {
                Some((code, digits)) if digits > 0 => {
                    // Alt codes wrap at 256, as Windows does; below 256 they are Latin-1.
                    self.character(char::from((code % 256) as u8), at);
                }
                _ => self.touch(at),
            },
            Key::Other => {}
        }
    }

    /// The next finished scan or typed text, if any. A burst counts as finished when `now_ms`
    /// is more than [`WedgeConfig::max_gap_ms`] after its last key; call this from a timer
    /// (every ~20 ms while a burst is open) and after each [`Wedge::push`], until it returns
    /// `None`.
    pub fn poll(&mut self, now_ms: u64) -> Option<Assembled> {
        if let Some(last) = self.last_ms
            && now_ms.saturating_sub(last) > self.config.max_gap_ms
        {
            self.end_burst(false, None);
        }
        self.ready.pop_front()
    }

    /// True while keys are buffered that [`Wedge::poll`] has not resolved yet.
    pub fn is_pending(&self) -> bool {
        self.last_ms.is_some() || !self.ready.is_empty()
    }

    fn touch(&mut self, at: u64) {
        if self.last_ms.is_none() {
            self.first_ms = at;
        }
        self.last_ms = Some(self.last_ms.map_or(at, |last| last.max(at)));
    }

    fn character(&mut self, ch: char, at: u64) {
        self.touch(at);
        let meant = if Some(ch) == self.config.gs_substitute {
            GS
        } else {
            self.config.layout.us_char(ch)
        };
        self.raw.push(ch);
        self.meant.push(meant);
        self.chars += 1;
        // A prefix inside a burst starts the next scan: the scanner's own framing beats timing.
        let prefix = &self.config.prefix;
        if !prefix.is_empty() && self.meant.len() > prefix.len() && self.meant.ends_with(prefix) {
            let cut = self.meant.len() - prefix.len();
            let raw_cut = self.raw.len() - self.raw_suffix_len(prefix.chars().count());
            let meant_tail = self.meant.split_off(cut);
            let raw_tail = self.raw.split_off(raw_cut);
            self.chars -= meant_tail.chars().count();
            self.end_burst(false, None);
            self.chars = meant_tail.chars().count();
            self.meant = meant_tail;
            self.raw = raw_tail;
            self.first_ms = at;
            self.last_ms = Some(at);
        }
    }

    /// Byte length of the last `n` characters of the raw text.
    fn raw_suffix_len(&self, n: usize) -> usize {
        self.raw.chars().rev().take(n).map(char::len_utf8).sum()
    }

    fn terminator(&mut self, which: Suffix, as_char: char, at: u64) {
        if self.config.suffix == which {
            self.touch(at);
            self.end_burst(true, Some(as_char));
        } else {
            self.character(as_char, at);
        }
    }

    /// Resolves the open burst into a scan or typed text. `suffix` is the terminator that
    /// ended it, given back as text if the burst turns out to be typing.
    fn end_burst(&mut self, terminated: bool, suffix: Option<char>) {
        let Some(last_ms) = self.last_ms.take() else {
            return;
        };
        self.alt = None;
        let mut meant = std::mem::take(&mut self.meant);
        let mut raw = std::mem::take(&mut self.raw);
        let chars = std::mem::take(&mut self.chars);
        let prefix = &self.config.prefix;
        let framed = prefix.is_empty() || meant.starts_with(prefix.as_str());
        let body = chars.saturating_sub(prefix.chars().count());
        let output = if framed && body >= self.config.min_length {
            meant.drain(..prefix.len());
            let scan = Assembled::Scan(KeyScan {
                text: meant,
                first_ms: self.first_ms,
                last_ms,
                terminated,
            });
            match (terminated, self.config.unterminated) {
                (true, _) | (false, Unterminated::Scan) => Some(scan),
                (false, Unterminated::Typed) => Some(Assembled::Typed(raw)),
                (false, Unterminated::Drop) => None,
            }
        } else {
            raw.extend(suffix);
            (!raw.is_empty()).then_some(Assembled::Typed(raw))
        };
        self.ready.extend(output);
    }
}

/// The host keyboard layout a US-configured scanner is typing into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Layout {
    /// US (or any host whose layout matches the scanner's): nothing to undo.
    #[default]
    Us,
    /// German QWERTZ: `y`/`z` swapped, `-` arrives as `ß`, `/` as `-`…
    Qwertz,
    /// French AZERTY: unshifted digits arrive as `&é"'(-è_çà`, `a`/`q` and `z`/`w` swapped…
    Azerty,
}

/// Key positions of the main block, unshifted then shifted, in the same order for every
/// layout: number row, top row, home row, bottom row. `\0` marks a position that types nothing
/// useful (a dead key or no character).
const US: [&str; 8] = [
    "`1234567890-=",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "~!@#$%^&*()_+",
    "QWERTYUIOP{}|",
    "ASDFGHJKL:\"",
    "ZXCVBNM<>?",
];
const QWERTZ: [&str; 8] = [
    "\u{0}1234567890ß\u{0}",
    "qwertzuiopü+#",
    "asdfghjklöä",
    "yxcvbnm,.-",
    "°!\"§$%&/()=?\u{0}",
    "QWERTZUIOPÜ*'",
    "ASDFGHJKLÖÄ",
    "YXCVBNM;:_",
];
const AZERTY: [&str; 8] = [
    "²&é\"'(-è_çà)=",
    "azertyuiop\u{0}$*",
    "qsdfghjklmù",
    "wxcvbn,;:!",
    "\u{0}1234567890°+",
    "AZERTYUIOP\u{0}£µ",
    "QSDFGHJKLM%",
    "WXCVBN?./§",
];

impl Layout {
    /// All layouts, in the order [`detect_layout`] tries them.
    pub const ALL: [Layout; 3] = [Layout::Us, Layout::Qwertz, Layout::Azerty];

    fn table(self) -> &'static [&'static str; 8] {
        match self {
            Layout::Us => &US,
            Layout::Qwertz => &QWERTZ,
            Layout::Azerty => &AZERTY,
        }
    }

    /// What a US-layout scanner meant when this host printed `host`. Characters outside the
    /// main key block (GS, other control characters, anything unmapped) pass unchanged.
    pub fn us_char(self, host: char) -> char {
        if self == Layout::Us || host == '\0' {
            return host;
        }
        for (row, us_row) in self.table().iter().zip(US) {
            if let Some(i) = row.chars().position(|c| c == host) {
                return us_row.chars().nth(i).unwrap_or(host);
            }
        }
        host
    }

    /// What this host prints when a US-layout scanner types `us`: the garbling that
    /// [`Layout::us_char`] undoes (for tests and simulations). `None` if the host cannot show
    /// it (a dead key sits at that position).
    pub fn host_char(self, us: char) -> Option<char> {
        if self == Layout::Us {
            return Some(us);
        }
        for (row, us_row) in self.table().iter().zip(US) {
            if let Some(i) = us_row.chars().position(|c| c == us) {
                return row.chars().nth(i).filter(|&c| c != '\0');
            }
        }
        Some(us)
    }

    /// The layout's name in messages: `German QWERTZ`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Us => "US",
            Layout::Qwertz => "German QWERTZ",
            Layout::Azerty => "French AZERTY",
        }
    }

    /// The settings that read a US-layout scanner's text correctly on a host with this layout.
    pub fn setting(self) -> &'static str {
        match self {
            Layout::Us => "no setting is needed",
            Layout::Qwertz => {
                "set \"Keyboard layout of this device\" to German QWERTZ in the app's scanner \
                 settings (custodian parse --layout qwertz), or set the scanner to the host's \
                 keyboard layout"
            }
            Layout::Azerty => {
                "set \"Keyboard layout of this device\" to French AZERTY in the app's scanner \
                 settings (custodian parse --layout azerty), or set the scanner to the host's \
                 keyboard layout"
            }
        }
    }

    /// Maps a whole burst back with [`Layout::us_char`].
    pub fn us_text(self, host: &str) -> String {
        host.chars().map(|c| self.us_char(c)).collect()
    }
}

/// Which host layout makes `burst` (text as the host received it) parse as a valid scan: the
/// first of [`Layout::ALL`] whose mapping [`crate::parse`] accepts, `None` if none does.
///
/// A heuristic: text that no layout changes (digits on QWERTZ, say) is reported as
/// [`Layout::Us`], and a burst can parse under two layouts (a serial with `y` in it), so decide
/// on a few scans, not one, before changing the configuration.
pub fn detect_layout(burst: &str) -> Option<Layout> {
    Layout::ALL
        .into_iter()
        .find(|layout| crate::parse::parse_gs1(&layout.us_text(burst)).is_ok())
}

/// How text a US-configured scanner typed into a host is read back: under the layout the device
/// is set to, or `Auto`: left as typed when it already parses, else mapped back under the first
/// layout that makes it parse ([`detect_layout`]), else left as typed (so its verdict says
/// what is wrong with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostLayout {
    Fixed(Layout),
    Auto,
}

impl Default for HostLayout {
    fn default() -> HostLayout {
        HostLayout::Fixed(Layout::Us)
    }
}

/// A layout name that is not one of `us`, `qwertz` (`de`), `azerty` (`fr`) or `auto`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown keyboard layout {0:?}: us, qwertz, azerty or auto")]
pub struct UnknownLayout(pub String);

impl std::str::FromStr for HostLayout {
    type Err = UnknownLayout;

    fn from_str(name: &str) -> Result<HostLayout, UnknownLayout> {
        Ok(match name {
            "us" => HostLayout::Fixed(Layout::Us),
            "qwertz" | "de" => HostLayout::Fixed(Layout::Qwertz),
            "azerty" | "fr" => HostLayout::Fixed(Layout::Azerty),
            "auto" => HostLayout::Auto,
            other => return Err(UnknownLayout(other.to_string())),
        })
    }
}

impl HostLayout {
    /// What the scanner meant by `typed`.
    pub fn us_text(self, typed: &str) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            HostLayout::Fixed(Layout::Us) => Cow::Borrowed(typed),
            HostLayout::Fixed(layout) => Cow::Owned(layout.us_text(typed)),
            HostLayout::Auto => {
                if crate::parse(typed).is_ok() {
                    return Cow::Borrowed(typed);
                }
                match detect_layout(typed) {
                    Some(layout) => Cow::Owned(layout.us_text(typed)),
                    None => Cow::Borrowed(typed),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_layout_is_named_and_auto_maps_back_only_what_does_not_parse() {
        assert_eq!("de".parse(), Ok(HostLayout::Fixed(Layout::Qwertz)));
        assert_eq!("auto".parse(), Ok(HostLayout::Auto));
        assert_eq!(
            "dvorak".parse::<HostLayout>(),
            Err(UnknownLayout("dvorak".into()))
        );
        // A Digital Link URI as a French host prints it: digits and `/` garbled.
        let meant = "https://id.example.com/01/04012345000016/21/ABC123";
        let typed: String = meant
            .chars()
            .map(|c| Layout::Azerty.host_char(c).unwrap())
            .collect();
        assert_ne!(typed, meant);
        assert_eq!(
            HostLayout::Fixed(Layout::Us).us_text(&typed),
            typed.as_str()
        );
        assert_eq!(HostLayout::Fixed(Layout::Azerty).us_text(&typed), meant);
        assert_eq!(HostLayout::Auto.us_text(&typed), meant);
        // Text that parses as typed is left alone.
        assert_eq!(HostLayout::Auto.us_text(meant), meant);
        // Text no layout makes valid stays as typed, so its verdict can say what is wrong.
        assert_eq!(HostLayout::Auto.us_text("not a code"), "not a code");
    }

    #[test]
    fn tables_line_up() {
        for layout in Layout::ALL {
            for (row, us_row) in layout.table().iter().zip(US) {
                assert_eq!(
                    row.chars().count(),
                    us_row.chars().count(),
                    "{layout:?} {row}"
                );
            }
            // Every printable the host can type maps back to exactly one US character.
            for us_row in US {
                for us in us_row.chars() {
                    if let Some(host) = layout.host_char(us) {
                        assert_eq!(layout.us_char(host), us, "{layout:?} {us:?}");
                    }
                }
            }
        }
    }
}
