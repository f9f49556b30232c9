//! CSV fields as RFC 4180 writes them, for every CSV rendering of a projection.

/// `field` as one CSV field: quoted, with quotes doubled, when it holds a comma, a quote or
/// any control character (a line break, or a scanned UDI's GS); as it is otherwise.
pub fn field(field: &str) -> String {
    if field.contains(|c: char| c == ',' || c == '"' || c.is_control()) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}
