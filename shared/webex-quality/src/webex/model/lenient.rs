//! The lenient readers behind the views' fields: each takes whatever JSON value Webex sent and keeps
//! what the field can use (a string, a number, a time, a list of objects, a metric array), never
//! failing the parse, straight from the bytes with no JSON tree in between.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// Any JSON value, reduced to what a lenient field can use: a number, a string, or something else
/// (skipped without building it). The quick reader (`fast.rs`) hands its numbers and strings to
/// the same conversions.
pub(super) enum Scalar<'de> {
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(std::borrow::Cow<'de, str>),
    Other,
}

impl Scalar<'_> {
    /// What a metric array keeps of it: a number that is not negative (Webex's `-1` is "no data").
    pub(super) fn measure(&self) -> Option<f64> {
        self.number().filter(|n| *n >= 0.0)
    }

    /// Ints, floats and numeric strings; anything else is `None`.
    pub(super) fn number(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        match self {
            Self::Int(v) => Some(*v as f64),
            Self::Uint(v) => Some(*v as f64),
            Self::Float(v) => Some(*v).filter(|v| v.is_finite()),
            Self::Str(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            Self::Other => None,
        }
    }
}

/// Visitor methods that answer `$value` for every scalar (bool, number, string, null): for lenient
/// containers, to which a scalar is simply "nothing".
macro_rules! scalars_give {
    ($value:expr) => {
        fn visit_bool<Ex>(self, _: bool) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_i64<Ex>(self, _: i64) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_u64<Ex>(self, _: u64) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_f64<Ex>(self, _: f64) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_str<Ex>(self, _: &str) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_unit<Ex>(self) -> Result<Self::Value, Ex> {
            Ok($value)
        }
    };
}

/// Skips every element of a sequence or entry of a map.
fn skip_seq<'de, A: serde::de::SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map
        .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
        .is_some()
    {}
    Ok(())
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Uint(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(std::borrow::Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Scalar::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Scalar::Other)
            }
        }
        d.deserialize_any(Visitor)
    }
}

pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Str(s) => Some(s.into_owned()),
        Scalar::Int(v) => Some(v.to_string()),
        Scalar::Uint(v) => Some(v.to_string()),
        Scalar::Float(v) => serde_json::Number::from_f64(v).map(|n| n.to_string()),
        Scalar::Other => None,
    })
}

pub(super) fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Scalar::deserialize(d)?.number())
}

pub(super) fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Str(s) => time_text(&s),
        _ => None,
    })
}

/// A time field's text: RFC 3339, spaces around it ignored.
pub(super) fn time_text(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A list read element by element: `Some` for each element that `E` keeps.
struct Lenient<E>(Vec<E>);

/// One element of a list of objects: `None` when it is not an object.
struct Object<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| Object(Some(t)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Object(None))
            }
            scalars_give!(Object(None));
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

impl<'de, E: Deserialize<'de>> Deserialize<'de> for Lenient<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<E>(std::marker::PhantomData<E>);
        impl<'de, E: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<E> {
            type Value = Lenient<E>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                // serde_json gives no size hint; lists of sessions and segments are short.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                while let Some(element) = seq.next_element::<E>()? {
                    out.push(element);
                }
                Ok(Lenient(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Lenient(Vec::new()))
            }
            scalars_give!(Lenient(Vec::new()));
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

thread_local! {
    /// Where [`series`] reads an array before copying it out at its length: one allocation per
    /// array instead of a vector grown from a guess (metric arrays were a tenth of a render's
    /// allocations).
    static SERIES_SCRATCH: std::cell::Cell<Vec<Option<f64>>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A metric array: negatives (Webex's `-1`), nulls and non-numbers are "no data".
pub(super) fn series<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Option<f64>>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<Option<f64>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            // Taken, not borrowed: nothing can observe the scratch half-filled.
            let mut scratch = SERIES_SCRATCH.take();
            scratch.clear();
            let read = (|| {
                while let Some(Measure(value)) = seq.next_element::<Measure>()? {
                    scratch.push(value);
                }
                Ok(scratch.as_slice().to_vec())
            })();
            SERIES_SCRATCH.set(scratch);
            read
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            skip_map(map).map(|()| Vec::new())
        }
        scalars_give!(Vec::new());
    }
    d.deserialize_any(Visitor)
}

/// One interval's value of a metric array.
struct Measure(Option<f64>);

impl<'de> Deserialize<'de> for Measure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Its own visitor: metric arrays are most of a page, and numbers need no `Scalar`.
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Measure;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Measure(None))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Measure(Scalar::Int(v).measure()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Measure(Scalar::Uint(v).measure()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Measure(Scalar::Float(v).measure()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Measure(
                    Scalar::Str(std::borrow::Cow::Borrowed(v)).measure(),
                ))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Measure(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Measure(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Measure(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Measure(None))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A list of objects; elements that are not objects are skipped.
pub(super) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Lenient::<Object<T>>::deserialize(d)?
        .0
        .into_iter()
        .filter_map(|o| o.0)
        .collect())
}
