//! A row of an export, serialized straight into CSV cells: its field names and each field's text,
//! as JSON would write the value (numbers as JSON numbers, no data as an empty cell), without a JSON
//! tree per row in between (building one per session was a twentieth of a full render).

use serde::Serialize;
use serde::ser::{self, Impossible};

/// Why a row could not be made into cells.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct CellError(String);

impl ser::Error for CellError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// The cells of `row` (a struct, or a map such as a struct with a flattened part) into `cells`,
/// and its field names into `names` when given. `text` turns a string field into its cell (the
/// exports defuse formulas there). Anything else than a struct or map gives no cells.
pub(super) fn row_cells<T: Serialize>(
    row: &T,
    names: Option<&mut Vec<String>>,
    cells: &mut Vec<String>,
    text: fn(&str) -> String,
) -> Result<(), CellError> {
    row.serialize(Row { names, cells, text })
}

struct Row<'a> {
    names: Option<&'a mut Vec<String>>,
    cells: &'a mut Vec<String>,
    text: fn(&str) -> String,
}

impl Row<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), CellError> {
        if let Some(names) = self.names.as_mut() {
            names.push(name.to_owned());
        }
        self.cells.push(value.serialize(Cell(self.text))?);
        Ok(())
    }
}

impl ser::SerializeStruct for Row<'_> {
    type Ok = ();
    type Error = CellError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), CellError> {
        Ok(())
    }
}

impl ser::SerializeMap for Row<'_> {
    type Ok = ();
    type Error = CellError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), CellError> {
        Err(ser::Error::custom("a row's keys come with their values"))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), CellError> {
        Err(ser::Error::custom("a row's keys come with their values"))
    }
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), CellError> {
        let name = key.serialize(Cell(str::to_owned))?;
        self.field(&name, value)
    }
    fn end(self) -> Result<(), CellError> {
        Ok(())
    }
}

/// The serializer methods of lists, tuples and variants, refused with `$what` and what it was.
macro_rules! refuse_compounds {
    ($what:literal) => {
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CellError> {
            Err(ser::Error::custom(concat!($what, " a list")))
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CellError> {
            Err(ser::Error::custom(concat!($what, " a tuple")))
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, CellError> {
            Err(ser::Error::custom(concat!($what, " a tuple")))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, CellError> {
            Err(ser::Error::custom(concat!($what, " a variant")))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, CellError> {
            Err(ser::Error::custom(concat!($what, " a variant")))
        }
    };
}

/// The serializer of a whole row: only structs and maps have cells.
macro_rules! no_cells {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), CellError> { Ok(()) })*
    };
}

impl<'a> ser::Serializer for Row<'a> {
    type Ok = ();
    type Error = CellError;
    type SerializeSeq = Impossible<(), CellError>;
    type SerializeTuple = Impossible<(), CellError>;
    type SerializeTupleStruct = Impossible<(), CellError>;
    type SerializeTupleVariant = Impossible<(), CellError>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), CellError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, CellError> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, CellError> {
        Ok(self)
    }
    no_cells!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), CellError> {
        Ok(())
    }
    refuse_compounds!("a row is a struct, not");
}

/// The serializer methods of booleans and integers: their text, as JSON writes them.
macro_rules! as_text {
    ($($method:ident($arg:ty)),* $(,)?) => {
        $(fn $method(self, v: $arg) -> Result<String, CellError> { Ok(v.to_string()) })*
    };
}

/// The serializer of one cell: its text.
struct Cell(fn(&str) -> String);

/// A number as JSON writes it (`3`, `2.5`, `1e-7`); what JSON cannot hold (NaN, infinities) is
/// no data.
fn json_number(number: Option<serde_json::Number>) -> String {
    number.map(|n| n.to_string()).unwrap_or_default()
}

impl ser::Serializer for Cell {
    type Ok = String;
    type Error = CellError;
    type SerializeSeq = Impossible<String, CellError>;
    type SerializeTuple = Impossible<String, CellError>;
    type SerializeTupleStruct = Impossible<String, CellError>;
    type SerializeTupleVariant = Impossible<String, CellError>;
    type SerializeMap = Impossible<String, CellError>;
    type SerializeStruct = Impossible<String, CellError>;
    type SerializeStructVariant = Impossible<String, CellError>;

    as_text!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
    );
    fn serialize_f32(self, v: f32) -> Result<String, CellError> {
        Ok(json_number(serde_json::Number::from_f64(f64::from(v))))
    }
    fn serialize_f64(self, v: f64) -> Result<String, CellError> {
        Ok(json_number(serde_json::Number::from_f64(v)))
    }
    fn serialize_char(self, v: char) -> Result<String, CellError> {
        Ok((self.0)(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<String, CellError> {
        Ok((self.0)(v))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, CellError> {
        Err(ser::Error::custom("a cell holds text, not bytes"))
    }
    fn serialize_none(self) -> Result<String, CellError> {
        Ok(String::new())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, CellError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, CellError> {
        Ok(String::new())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, CellError> {
        Ok(String::new())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, CellError> {
        Ok((self.0)(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, CellError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, CellError> {
        Err(ser::Error::custom("a cell holds one value, not a variant"))
    }
    refuse_compounds!("a cell holds one value, not");
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CellError> {
        Err(ser::Error::custom("a cell holds one value, not a map"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, CellError> {
        Err(ser::Error::custom("a cell holds one value, not a struct"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Inner {
        share: Option<f64>,
        label: &'static str,
    }

    #[derive(Serialize)]
    struct Row {
        name: String,
        count: u32,
        minutes: Option<i64>,
        ratio: f64,
        #[serde(flatten)]
        inner: Inner,
    }

    /// The cells are what the JSON tree of the row gave: the exports' bytes did not change.
    #[test]
    fn cells_are_the_json_values_of_the_fields_in_order() {
        let rows = [
            Row {
                name: "=1+1".into(),
                count: 3,
                minutes: None,
                ratio: 2.0,
                inner: Inner {
                    share: Some(12.25),
                    label: "poor",
                },
            },
            Row {
                name: "Zoë".into(),
                count: 0,
                minutes: Some(-4),
                ratio: f64::NAN,
                inner: Inner {
                    share: Some(1e-7),
                    label: "",
                },
            },
        ];
        let quote = |s: &str| format!("'{s}");
        for (i, row) in rows.iter().enumerate() {
            let mut names = Vec::new();
            let mut cells = Vec::new();
            row_cells(row, Some(&mut names), &mut cells, |s| format!("'{s}")).unwrap();
            let serde_json::Value::Object(tree) = serde_json::to_value(row).unwrap() else {
                panic!()
            };
            let expected: Vec<String> = tree
                .values()
                .map(|v| match v {
                    serde_json::Value::String(s) => quote(s),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect();
            assert_eq!(names, tree.keys().cloned().collect::<Vec<_>>(), "row {i}");
            assert_eq!(cells, expected, "row {i}");
        }
        let mut cells = Vec::new();
        row_cells(&rows[0], None, &mut cells, str::to_owned).unwrap();
        assert_eq!(cells, ["=1+1", "3", "", "2.0", "12.25", "poor"]);
    }
}
