//! Keyboard layouts. USB and Bluetooth HID scanners pretend to be keyboards and send key
//! *positions* for a US layout; a host with another layout prints what its own layout has at
//! those positions (`&é"'(-è_çà` for the digits on AZERTY, `y`/`z` swapped on QWERTZ).
//! [`Layout`] maps the garbled characters back; [`crate::host`] guesses the host layout from a
//! burst and holds the policy a device is set to. Dead keys (`^`, `´` on QWERTZ, `^` `¨` on AZERTY)
//! swallow the following key on such hosts: that loss cannot be undone here; set the scanner's
//! keyboard country instead.
//!
//! Assembling key events into scans happens where the keys arrive: in the app's webview
//! (`ui/src/wedge.ts`), which must decide inside each `keydown` handler whether a key reaches
//! a focused field; the text it assembles is read back here, in Rust, by the device facade.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_mapped_back() {
        assert_eq!(Layout::Azerty.us_text("&é\"'(-è_çà"), "1234567890");
        assert_eq!(Layout::Qwertz.us_text("zY"), "yZ");
        // GS and other control characters pass unchanged.
        assert_eq!(Layout::Qwertz.us_text("\u{1d}z"), "\u{1d}y");
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
