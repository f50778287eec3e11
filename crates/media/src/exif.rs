use std::io::Cursor;

use atelier_jobs::ExifFacts;
use exif::{Context, In, Tag, Value};

/// Read the EXIF facts we keep. A photo without EXIF, or with EXIF we cannot
/// parse, simply has none: metadata never makes a photo fail.
pub(crate) fn read_facts(bytes: &[u8]) -> ExifFacts {
    // Real-world EXIF is often slightly off-spec; keep what parses.
    let data = match exif::Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut Cursor::new(bytes))
    {
        Ok(data) => data,
        Err(exif::Error::PartialResult(partial)) => partial.into_inner().0,
        Err(_) => return ExifFacts::default(),
    };
    let text = |tag: Tag| {
        data.get_field(tag, In::PRIMARY)
            .and_then(|f| match &f.value {
                Value::Ascii(parts) => parts.first().map(|p| {
                    String::from_utf8_lossy(p)
                        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                        .to_owned()
                }),
                _ => None,
            })
            .filter(|s| !s.is_empty())
    };
    let orientation = data
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u16::try_from(v).ok())
        .filter(|v| (1..=8).contains(v));
    ExifFacts {
        make: text(Tag::Make),
        model: text(Tag::Model),
        datetime: text(Tag::DateTimeOriginal).or_else(|| text(Tag::DateTime)),
        orientation,
        had_gps: data.fields().any(|f| f.tag.context() == Context::Gps),
    }
}
