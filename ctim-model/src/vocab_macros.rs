//! Macros that generate the vocabulary enums, so every vocabulary has the same shape: the
//! variants, their exact CTIM strings, `as_str`, `Display` and `Serialize`.

/// An enum over known CTIM strings plus `Other(String)`, which keeps any other string losslessly.
/// `Deserialize` and `JsonSchema` are left to the caller: open vocabularies accept anything,
/// the observable type accepts unknown strings only when reading leniently.
macro_rules! vocabulary_with_other {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant,)*
            /// A string this version of the vocabulary does not know, kept as it was read.
            /// Build values with [`parse`](Self::parse), which never puts a known string here.
            Other(String),
        }

        impl $name {
            /// Every string this vocabulary knows, in CTIM's order.
            pub const KNOWN: &'static [&'static str] = &[$($text),*];

            /// The exact CTIM string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(other) => other,
                }
            }

            /// The known variant for `text`, if there is one.
            #[must_use]
            pub fn known(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// The known variant for `text`, or `Other(text)`.
            #[must_use]
            pub fn parse(text: &str) -> Self {
                Self::known(text).unwrap_or_else(|| Self::Other(text.to_owned()))
            }

            /// `true` unless this is [`Other`](Self::Other).
            #[must_use]
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = ::core::convert::Infallible;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(text))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// An open vocabulary: known strings become variants, any other string becomes `Other`, and
/// the JSON Schema is a plain string (CTIA accepts any string there).
macro_rules! open_vocabulary {
    ($(#[$meta:meta])* $name:ident { $($body:tt)* }) => {
        vocabulary_with_other! { $(#[$meta])* $name { $($body)* } }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok(Self::known(&text).unwrap_or(Self::Other(text)))
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({ "type": "string" })
            }
        }
    };
}

/// The `type` field of an entity: a zero-sized value that writes `$text` and reads only `$text`.
macro_rules! type_tag {
    ($name:ident, $text:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub(crate) struct $name;

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($text)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str($crate::vocab_macros::Exact($text)).map(|()| $name)
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({ "type": "string", "const": $text })
            }
        }
    };
}

/// A visitor that accepts exactly one string.
pub(crate) struct Exact(pub(crate) &'static str);

impl serde::de::Visitor<'_> for Exact {
    type Value = ();

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "the string {:?}", self.0)
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<(), E> {
        if value == self.0 {
            Ok(())
        } else {
            Err(E::invalid_value(serde::de::Unexpected::Str(value), &self))
        }
    }
}
