//! Turning upstream bytes into values and error text: JSON decoding into the model, and the
//! short, key-free excerpts of upstream text that errors carry. Shared by the client (live
//! answers) and the model's `from_json` (answers read without HTTP), so both decode alike.

use crate::error::Error;
use crate::key::ApiKey;

/// The longest upstream text kept in an error.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// The body as text with every occurrence of the key replaced, before anything is cut, so
/// no part of the key can survive in an excerpt.
pub(crate) fn redacted_text(body: &[u8], key: &ApiKey) -> String {
    let text = String::from_utf8_lossy(body);
    let key = String::from_utf8_lossy(key.as_bytes());
    if text.contains(key.as_ref()) {
        text.replace(key.as_ref(), "[redacted]")
    } else {
        text.into_owned()
    }
}

/// At most [`EXCERPT_CHARS`] characters of `text`, trimmed, `…` marking a cut.
pub(crate) fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// Decodes a successful body; a failure message never holds the key.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &'static str,
    key: Option<&ApiKey>,
) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        let message = match key {
            Some(key) => redacted_text(message.as_bytes(), key),
            None => message,
        };
        Error::Decode {
            what,
            message: excerpt(&message),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_excerpt(input: &str, expected: &str) {
        assert_eq!(excerpt(input), expected);
    }

    #[test]
    fn excerpts_are_bounded_on_char_boundaries() {
        check_excerpt("  short \n", "short");
        check_excerpt(&"a".repeat(200), &"a".repeat(200));
        check_excerpt(&"a".repeat(201), &format!("{}…", "a".repeat(200)));
        check_excerpt(&"é".repeat(300), &format!("{}…", "é".repeat(200)));
    }

    #[test]
    fn decode_errors_never_hold_the_key() {
        let key = ApiKey::new("k3y").unwrap();
        let error = decode::<u32>(b"k3y", "IP report", Some(&key)).unwrap_err();
        assert!(!error.to_string().contains("k3y"), "{error}");
    }
}
