//! Keyboard layouts. USB and Bluetooth HID scanners pretend to be keyboards and send key
//! *positions* for a US layout; a host with another layout prints what its own layout has at
//! those positions (`&é"'(-è_çà` for the digits on AZERTY, `y`/`z` swapped on QWERTZ).
//! [`Layout`] maps the garbled characters back, [`detect_layout`] guesses the host layout from
//! one burst by asking which mapping makes it parse as GS1, and [`HostLayout`] is the policy a
//! device is set to (a layout, or `auto`). Dead keys (`^`, `´` on QWERTZ, `^` `¨` on AZERTY)
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
    fn layouts_are_mapped_back() {
        assert_eq!(Layout::Azerty.us_text("&é\"'(-è_çà"), "1234567890");
        assert_eq!(Layout::Qwertz.us_text("zY"), "yZ");
        // GS and other control characters pass unchanged.
        assert_eq!(Layout::Qwertz.us_text("\u{1d}z"), "\u{1d}y");
    }

    #[test]
    fn detect_layout_finds_the_host_layout() {
        let garble = |layout: Layout, text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c == crate::GS {
                        c
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
