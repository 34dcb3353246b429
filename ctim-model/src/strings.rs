//! CTIM's bounds on strings, in characters, and the one way to cut a text to one of them.

use std::borrow::Cow;

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
    // Byte length bounds the character count from above.
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((cut, _)) if text[cut..].chars().nth(1).is_some() => {
            Cow::Owned(format!("{}…", &text[..cut]))
        }
        _ => Cow::Borrowed(text),
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
}
