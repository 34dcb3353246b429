//! CTIM's bounds on strings, in characters, and the one way to cut a text to one of them.

use std::borrow::Cow;

use crate::Text;

/// CTIM's `ShortString`: at most 1024 characters (a title, a judgement's `reason`).
pub const SHORT_STRING: usize = 1024;
/// CTIM's `MedString`: at most 2048 characters (a `source`, a `short_description`).
pub const MED_STRING: usize = 2048;
/// CTIM's `LongString` and `Markdown`: at most 5000 characters (a `description`).
pub const LONG_STRING: usize = 5000;

/// `text` when it has at most `max` characters, else its first `max - 1` characters and `…`
/// (`max` characters in all): how a relay fits an upstream's text into a CTIM field.
///
/// ```
/// use ctim_model::{SHORT_STRING, truncate};
///
/// assert_eq!(truncate("short", SHORT_STRING), "short");
/// assert_eq!(truncate("abcdef", 4), "abc…");
/// assert_eq!(truncate(&"é".repeat(2000), SHORT_STRING).chars().count(), SHORT_STRING);
/// ```
#[must_use]
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    match cut(text, max) {
        Some(cut) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// Where to cut `text` so that it and `…` make `max` characters: `None` when it fits.
fn cut(text: &str, max: usize) -> Option<usize> {
    // Byte length bounds the character count from above.
    if text.len() <= max {
        return None;
    }
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((cut, _)) if text[cut..].chars().nth(1).is_some() => Some(cut),
        _ => None,
    }
}

/// One of CTIM's three bounds on free text, by name: which one a field has is said on the
/// field (and is what `validate()` and the JSON Schemas check).
///
/// [`Bound::clip`] fits a text into it, as the entity builders ([`Judgement::builder`],
/// [`Sighting::builder`], [`Indicator::builder`]) do for every bounded field they set.
///
/// [`Judgement::builder`]: crate::Judgement::builder
/// [`Sighting::builder`]: crate::Sighting::builder
/// [`Indicator::builder`]: crate::Indicator::builder
///
/// ```
/// use ctim_model::{Bound, SHORT_STRING};
///
/// let cves: Vec<String> = (1..=399).map(|n| format!("CVE-2024-{n:05}")).collect();
/// let reason = Bound::Short.clip(format!("Vulnerable to {}", cves.join(", ")));
/// assert_eq!(reason.chars().count(), SHORT_STRING);
/// assert!(reason.ends_with('…'));
///
/// // A text that fits is the same text, not a copy.
/// assert!(matches!(Bound::Med.clip("Shodan InternetDB"), std::borrow::Cow::Borrowed(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Bound {
    /// CTIM's `ShortString`, [`SHORT_STRING`] (1024) characters: titles, a judgement's
    /// `reason`, `language`, an indicator's `producer` and `tags`.
    Short,
    /// CTIM's `MedString`, [`MED_STRING`] (2048) characters: `source`, `short_description`,
    /// an external reference's `source_name`, an indicator's `test_mechanisms`.
    Med,
    /// CTIM's `LongString` and `Markdown`, [`LONG_STRING`] (5000) characters: `description`,
    /// an indicator's `likely_impact`.
    Long,
}

impl Bound {
    /// The most characters a text within this bound has.
    ///
    /// ```
    /// use ctim_model::Bound;
    ///
    /// assert_eq!(Bound::Short.max_chars(), 1024);
    /// assert_eq!(Bound::Med.max_chars(), 2048);
    /// assert_eq!(Bound::Long.max_chars(), 5000);
    /// ```
    #[must_use]
    pub const fn max_chars(self) -> usize {
        match self {
            Bound::Short => SHORT_STRING,
            Bound::Med => MED_STRING,
            Bound::Long => LONG_STRING,
        }
    }

    /// `text` when it is within the bound, else its first `max_chars() - 1` characters and
    /// `…`, as [`truncate`] cuts. Takes what an entity's text field takes (`&'static str`,
    /// `String`, [`Text`]); a fitting text is returned as it came, and a `String` that does
    /// not is cut in place.
    ///
    /// ```
    /// use ctim_model::Bound;
    ///
    /// let title = Bound::Short.clip("x".repeat(3000));
    /// assert_eq!(title.chars().count(), 1024);
    /// assert_eq!(Bound::Short.clip("Open ports"), "Open ports");
    /// ```
    #[must_use]
    pub fn clip(self, text: impl Into<Text>) -> Text {
        let text = text.into();
        let Some(at) = cut(&text, self.max_chars()) else {
            return text;
        };
        let mut owned = text.into_owned();
        owned.truncate(at);
        owned.push('…');
        Cow::Owned(owned)
    }

    /// Whether `text` is within the bound (as `validate()` counts: in characters).
    ///
    /// ```
    /// use ctim_model::Bound;
    ///
    /// assert!(Bound::Short.fits(&"é".repeat(1024)));
    /// assert!(!Bound::Short.fits(&"é".repeat(1025)));
    /// ```
    #[must_use]
    pub fn fits(self, text: &str) -> bool {
        let max = self.max_chars();
        text.len() <= max || text.chars().count() <= max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_cut_to_their_bound_in_characters() {
        assert_eq!(truncate("", 3), "");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        // Multi-byte characters: counted as characters, cut on a boundary.
        assert_eq!(truncate("ééé", 3), "ééé");
        assert_eq!(truncate("éééé", 3), "éé…");
        assert_eq!(
            truncate(&"x".repeat(6000), LONG_STRING).chars().count(),
            5000
        );
        assert!(matches!(truncate("fits", MED_STRING), Cow::Borrowed(_)));
    }

    #[test]
    fn clip_cuts_as_truncate_does_and_keeps_what_fits() {
        for bound in [Bound::Short, Bound::Med, Bound::Long] {
            let max = bound.max_chars();
            for len in [0, 1, max - 1, max, max + 1, 3 * max] {
                for unit in ["a", "é", "🦀"] {
                    let text = unit.repeat(len);
                    let clipped = bound.clip(text.clone());
                    assert_eq!(clipped, truncate(&text, max), "{bound:?} {len} {unit}");
                    assert_eq!(clipped.chars().count(), len.min(max));
                    assert!(bound.fits(&clipped));
                    assert_eq!(bound.fits(&text), len <= max);
                    assert_eq!(clipped.ends_with('…'), len > max);
                }
            }
        }
        assert!(matches!(Bound::Short.clip("fits"), Cow::Borrowed("fits")));
        // `cut` names the byte where `…` goes, or nothing when the text fits.
        assert_eq!(cut("abcdef", 4), Some(3));
        assert_eq!(cut("ééééé", 4), Some(6));
        assert_eq!(cut("abcd", 4), None);
    }
}
