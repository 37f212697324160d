//! XML files (Polycom, Cisco, Snom, Grandstream, Fanvil, Gigaset, Linphone).
//!
//! Every value is escaped for both element text and attribute values (`&`, `<`, `>`, `"`, `'`),
//! so no value can open or close an element, an attribute or a comment. Characters XML 1.0
//! cannot carry at all (NUL and the other C0 controls but tab, LF, CR; U+FFFE, U+FFFF) are
//! refused, and so are tab, LF, CR, DEL and the C1 controls: a conforming parser rewrites line
//! breaks and tabs in attribute values to spaces, phones' parsers differ in how they treat them,
//! and no setting needs one. A refused value is an error that names the field.
//!
//! [`read`] is the reader sipprov checks its own output with (property tests, the linter). It is
//! built on `quick-xml`, an implementation independent of the escaping here, and is strict:
//! no DTD, no entities but the five predefined ones and character references, no mixed content.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use crate::TemplateError;

/// Checks that `value` can be written into XML and read back unchanged; `field` names it in the error.
pub fn check_value(field: &str, value: &str) -> Result<(), TemplateError> {
    for c in value.chars() {
        if c.is_control() {
            return Err(TemplateError::ControlCharacter { field: field.to_owned(), code: u32::from(c) });
        }
        if matches!(c, '\u{fffe}' | '\u{ffff}') {
            return Err(TemplateError::UnencodableCharacter { field: field.to_owned(), code: u32::from(c) });
        }
    }
    Ok(())
}

/// Appends `value` to `out`, escaped for element text and for attribute values in either quote.
///
/// Call [`check_value`] first: this only escapes, it does not refuse.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// One XML element as read back: its name, attributes (in order) and children or text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The element's name as written (with any prefix).
    pub name: String,
    /// The attributes in document order, values unescaped and normalised as XML 1.0 requires.
    pub attributes: Vec<(String, String)>,
    /// The child elements in document order.
    pub children: Vec<Element>,
    /// The text of an element without children (empty otherwise), unescaped.
    pub text: String,
}

impl Element {
    /// The value of the attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The direct children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Reads a vendor's document: [`read`], then a check that the root element is one of `roots`;
/// `format` names the vendor's format in the error.
pub fn read_document(text: &str, format: &'static str, roots: &[&str]) -> Result<Element, TemplateError> {
    let root = read(text)?;
    if !roots.contains(&root.name.as_str()) {
        let expected: Vec<String> = roots.iter().map(|r| format!("<{r}>")).collect();
        let detail = format!("the root element is <{}>, not {}", root.name, expected.join(" or "));
        return Err(TemplateError::Unreadable { format, line: 1, detail });
    }
    Ok(root)
}

/// Reads an XML document into its root element.
pub fn read(text: &str) -> Result<Element, TemplateError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = reader.buffer_position();
        let fail = |detail: String| unreadable(text, position, detail);
        let event = reader.read_event().map_err(|e| fail(e.to_string()))?;
        match event {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(fail("a DOCTYPE is not accepted".into())),
            Event::Start(start) => open.push(element(&start).map_err(fail)?),
            Event::Empty(start) => {
                let done = element(&start).map_err(fail)?;
                close(done, &mut open, &mut root).map_err(fail)?;
            }
            Event::End(_) => {
                let done = open.pop().ok_or_else(|| fail("an end tag without a start tag".into()))?;
                close(done, &mut open, &mut root).map_err(fail)?;
            }
            Event::Text(t) => push_text(&mut open, &t.xml10_content()).map_err(fail)?,
            Event::CData(t) => push_text(&mut open, &t.into_inner()).map_err(fail)?,
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| fail(e.to_string()))? {
                    Some(c) => c,
                    None => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(fail(format!("unknown entity &{other};"))),
                    },
                };
                push_text(&mut open, c.encode_utf8(&mut [0; 4])).map_err(fail)?;
            }
            Event::Eof => break,
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(unreadable(text, text.len() as u64, format!("<{}> is never closed", unclosed.name)));
    }
    root.ok_or_else(|| unreadable(text, 0, "no root element".into()))
}

fn element(start: &BytesStart<'_>) -> Result<Element, String> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let value = attribute.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
        attributes.push((attribute.key.0.to_owned(), value.into_owned()));
    }
    Ok(Element { name: start.name().0.to_owned(), attributes, children: Vec::new(), text: String::new() })
}

fn close(done: Element, open: &mut [Element], root: &mut Option<Element>) -> Result<(), String> {
    match open.last_mut() {
        Some(parent) => {
            if !parent.text.trim().is_empty() {
                return Err(format!("<{}> mixes text and elements", parent.name));
            }
            parent.text.clear();
            parent.children.push(done);
        }
        None if root.is_none() => *root = Some(done),
        None => return Err("a second root element".into()),
    }
    Ok(())
}

fn push_text(open: &mut [Element], text: &str) -> Result<(), String> {
    match open.last_mut() {
        Some(current) if current.children.is_empty() => current.text.push_str(text),
        Some(_) if text.trim().is_empty() => {}
        Some(current) => return Err(format!("<{}> mixes text and elements", current.name)),
        None if text.trim().is_empty() => {}
        None => return Err("text outside the root element".into()),
    }
    Ok(())
}

fn unreadable(text: &str, position: u64, detail: String) -> TemplateError {
    let end = usize::try_from(position).unwrap_or(usize::MAX).min(text.len());
    let line = text.as_bytes().get(..end).map_or(1, |before| before.iter().filter(|&&b| b == b'\n').count() + 1);
    TemplateError::Unreadable { format: "XML", line, detail }
}

/// Escapes a value the way [`escape_into`] does, as a new string.
pub fn escape(value: &str) -> Cow<'_, str> {
    if value.contains(['&', '<', '>', '"', '\'']) {
        let mut out = String::with_capacity(value.len() + 16);
        escape_into(&mut out, value);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped_and_read_back() {
        let hostile = "a\"b' c<d>&e/></x><y z=\"1\">";
        let doc = format!("<r a=\"{0}\" b='{0}'><c>{0}</c></r>", escape(hostile));
        let root = read(&doc).unwrap();
        assert_eq!(root.attributes, [("a".into(), hostile.into()), ("b".into(), hostile.into())]);
        assert_eq!(root.children.len(), 1);
        assert_eq!(root.children[0].text, hostile);
    }

    #[test]
    fn controls_and_non_characters_are_refused_naming_the_field() {
        for c in ['\0', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}'] {
            let err = check_value("reg.1.displayName", &format!("a{c}")).unwrap_err();
            assert_eq!(err, TemplateError::ControlCharacter { field: "reg.1.displayName".into(), code: u32::from(c) });
        }
        let err = check_value("P34", "x\u{ffff}").unwrap_err();
        assert_eq!(err, TemplateError::UnencodableCharacter { field: "P34".into(), code: 0xffff });
        assert!(check_value("P34", "é ü 漢字 😀 % = # ;").is_ok());
    }

    #[test]
    fn the_reader_is_strict() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a>x<b/></a>",
            "<a>&unknown;</a>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a b=\"1\" b=\"2\"/>",
            "text<a/>",
        ] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
        let root = read("<?xml version=\"1.0\"?>\n<!-- c -->\n<a>\n  <b>&#x41;&amp;</b>\n</a>\n").unwrap();
        assert_eq!(root.children[0].text, "A&");
        assert_eq!(root.text, "");
    }
}
