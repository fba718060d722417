//! What a scanner typed into a host, read back: [`detect_layout`] guesses the host's keyboard
//! layout from one burst by asking which mapping ([`Layout`]) makes it parse as GS1, and
//! [`HostLayout`] is the policy a device is set to (a layout, or `auto`), which the device
//! facade applies to every scan of the app and the CLI.

use crate::layout::Layout;

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
}
