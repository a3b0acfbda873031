//! The document tree every generator builds, and its two renderings: well-formed XML (text
//! escaped, attributes quoted, one root element) and one JSON document.
//!
//! The schema is flat on purpose: a root element (`ArgusEvent`) whose attributes say what,
//! where and when, and leaf elements that carry their data in attributes only. In JSON the
//! root's attributes are fields of the top object; a leaf that occurs once is an object under
//! its key, a repeated leaf is one element of an array under its key (docs/generators.md).

use serde_json::{Map, Value};
use std::fmt;

/// An attribute value; typed so that JSON gets numbers where XML gets their decimal text.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Str(s) => f.write_str(s),
            Val::U64(v) => write!(f, "{v}"),
            Val::I64(v) => write!(f, "{v}"),
            Val::F64(v) => write!(f, "{v}"),
            Val::Bool(v) => write!(f, "{v}"),
        }
    }
}

impl Val {
    fn to_json(&self) -> Value {
        match self {
            Val::Str(s) => Value::String(s.clone()),
            Val::U64(v) => Value::from(*v),
            Val::I64(v) => Value::from(*v),
            Val::F64(v) => serde_json::Number::from_f64(*v)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Val::Bool(v) => Value::Bool(*v),
        }
    }
}

macro_rules! val_from {
    ($($t:ty => $v:ident as $c:ty),*) => {
        $(impl From<$t> for Val {
            fn from(x: $t) -> Val {
                Val::$v(x as $c)
            }
        })*
    };
}
val_from!(u64 => U64 as u64, u32 => U64 as u64, u16 => U64 as u64, u8 => U64 as u64,
    usize => U64 as u64, i64 => I64 as i64, i32 => I64 as i64, f64 => F64 as f64);

impl From<bool> for Val {
    fn from(x: bool) -> Val {
        Val::Bool(x)
    }
}
impl From<String> for Val {
    fn from(x: String) -> Val {
        Val::Str(x)
    }
}
impl From<&str> for Val {
    fn from(x: &str) -> Val {
        Val::Str(x.to_string())
    }
}
impl From<&String> for Val {
    fn from(x: &String) -> Val {
        Val::Str(x.clone())
    }
}

/// One element: XML name, JSON key, whether it repeats (JSON array), attributes in order,
/// children (only the root has any).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: &'static str,
    pub key: &'static str,
    pub many: bool,
    pub attrs: Vec<(&'static str, Val)>,
    pub children: Vec<Node>,
    /// JSON keys that always appear as arrays on this node, empty or not.
    pub lists: Vec<&'static str>,
}

impl Node {
    /// An element that occurs at most once under its parent (a JSON object under `key`).
    pub fn one(name: &'static str, key: &'static str) -> Node {
        Node {
            name,
            key,
            many: false,
            attrs: Vec::new(),
            children: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// A repeated element (one item of the JSON array under `key`).
    pub fn many(name: &'static str, key: &'static str) -> Node {
        Node {
            many: true,
            ..Node::one(name, key)
        }
    }

    pub fn attr(mut self, k: &'static str, v: impl Into<Val>) -> Node {
        self.attrs.push((k, v.into()));
        self
    }

    /// The attribute when there is a value, nothing otherwise.
    pub fn opt<V: Into<Val>>(mut self, k: &'static str, v: Option<V>) -> Node {
        if let Some(v) = v {
            self.attrs.push((k, v.into()));
        }
        self
    }

    /// Declares a JSON array key that is present even when no child has it.
    pub fn list(mut self, key: &'static str) -> Node {
        self.lists.push(key);
        self
    }

    pub fn push(&mut self, child: Node) {
        self.children.push(child);
    }

    pub fn get(&self, k: &str) -> Option<&Val> {
        self.attrs.iter().find(|(n, _)| *n == k).map(|(_, v)| v)
    }

    fn open_tag(&self, out: &mut String) {
        out.push('<');
        out.push_str(self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_into(&v.to_string(), out);
            out.push('"');
        }
    }

    fn leaf_xml(&self, out: &mut String) {
        out.push_str("  ");
        self.open_tag(out);
        out.push_str("/>\n");
    }

    /// The document: XML declaration, the root with its children one per line.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.open_tag(&mut out);
        if self.children.is_empty() {
            out.push_str("/>\n");
            return out;
        }
        out.push_str(">\n");
        for c in &self.children {
            c.leaf_xml(&mut out);
        }
        out.push_str("</");
        out.push_str(self.name);
        out.push_str(">\n");
        out
    }

    /// The JSON form (see the module comment).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.attrs {
            m.insert((*k).to_string(), v.to_json());
        }
        for k in &self.lists {
            m.insert((*k).to_string(), Value::Array(Vec::new()));
        }
        for c in &self.children {
            let v = c.to_json();
            if c.many {
                match m
                    .entry(c.key.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(a) => a.push(v),
                    other => *other = Value::Array(vec![v]),
                }
            } else {
                m.insert(c.key.to_string(), v);
            }
        }
        Value::Object(m)
    }

    /// The document in `fmt`, one trailing newline.
    pub fn render(&self, fmt: super::Format) -> String {
        match fmt {
            super::Format::Xml => self.to_xml(),
            super::Format::Json => {
                let mut s = self.to_json().to_string();
                s.push('\n');
                s
            }
        }
    }

    /// Size a child adds to the rendering in `fmt` (XML exact, JSON within a byte).
    fn child_size(c: &Node, fmt: super::Format) -> usize {
        match fmt {
            super::Format::Xml => {
                let mut s = String::new();
                c.leaf_xml(&mut s);
                s.len()
            }
            super::Format::Json => c.to_json().to_string().len() + 1,
        }
    }

    /// Renders in `fmt`, keeping the text within `cap` bytes (0: no cap) by dropping repeated
    /// children from the end (never `Error` elements) and adding
    /// `<Truncated omitted="N" limit="CAP"/>`, so the document stays well-formed. Returns the
    /// text and how many children were dropped.
    pub fn render_capped(&mut self, fmt: super::Format, cap: usize) -> (String, usize) {
        let mut out = self.render(fmt);
        if cap == 0 || out.len() <= cap {
            return (out, 0);
        }
        let mut omitted = 0usize;
        // Room for the Truncated element itself.
        const RESERVE: usize = 80;
        loop {
            let mut excess = (out.len() + RESERVE).saturating_sub(cap);
            while excess > 0 {
                let Some(i) = self
                    .children
                    .iter()
                    .rposition(|c| c.many && c.name != "Error")
                else {
                    break;
                };
                let c = self.children.remove(i);
                excess = excess.saturating_sub(Self::child_size(&c, fmt));
                omitted += 1;
            }
            self.children.retain(|c| c.name != "Truncated");
            self.children.push(
                Node::one("Truncated", "truncated")
                    .attr("omitted", omitted)
                    .attr("limit", cap),
            );
            out = self.render(fmt);
            let more = self.children.iter().any(|c| c.many && c.name != "Error");
            if out.len() <= cap || !more {
                return (out, omitted);
            }
        }
    }
}

/// Escapes text for an XML attribute value or character data. Characters XML 1.0 cannot carry
/// at all (controls other than tab, newline and carriage return, U+FFFE, U+FFFF) become U+FFFD.
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::*;

    fn doc(n: usize) -> Node {
        let mut r = Node::one("ArgusEvent", "")
            .attr("type", "t")
            .attr("odd", "a<b>&\"c'\n\u{1}")
            .list("items");
        r.push(Node::one("Head", "head").attr("x", 1u32));
        r.push(Node::many("Error", "errors").attr("message", "kept"));
        for i in 0..n {
            r.push(Node::many("Item", "items").attr("i", i).attr("f", 0.5));
        }
        r
    }

    #[test]
    fn gen_xml_escapes_and_parses() {
        let x = doc(3).to_xml();
        let d = roxmltree::Document::parse(&x).expect("well-formed");
        let root = d.root_element();
        assert_eq!(root.attribute("odd"), Some("a<b>&\"c'\n\u{FFFD}"));
        assert_eq!(root.children().filter(|n| n.is_element()).count(), 5);
        assert_eq!(escape("<&>"), "&lt;&amp;&gt;");
    }

    #[test]
    fn gen_json_shape() {
        let j = doc(2).to_json();
        assert_eq!(j["type"], "t");
        assert_eq!(j["head"]["x"], 1);
        assert_eq!(j["items"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(j["items"][1]["f"], 0.5);
        assert_eq!(doc(0).to_json()["items"], Value::Array(vec![]));
    }

    #[test]
    fn gen_cap_keeps_documents_well_formed() {
        for fmt in [Format::Xml, Format::Json] {
            let mut d = doc(2000);
            let full = d.render(fmt).len();
            let (s, omitted) = d.render_capped(fmt, 4000);
            assert!(s.len() <= 4000, "{fmt:?}: {} bytes", s.len());
            assert!(omitted > 0 && omitted < 2000, "{omitted}");
            assert!(full > 4000);
            match fmt {
                Format::Xml => {
                    let p = roxmltree::Document::parse(&s).expect("well-formed");
                    let t = p
                        .root_element()
                        .children()
                        .find(|n| n.has_tag_name("Truncated"))
                        .expect("Truncated element");
                    assert_eq!(t.attribute("omitted"), Some(omitted.to_string().as_str()));
                    assert!(p.root_element().children().any(|n| n.has_tag_name("Error")));
                }
                Format::Json => {
                    let v: Value = serde_json::from_str(&s).expect("json");
                    assert_eq!(v["truncated"]["omitted"], omitted as u64);
                    assert_eq!(v["errors"][0]["message"], "kept");
                }
            }
            // Uncapped and roomy caps change nothing.
            let mut d = doc(5);
            let (s, o) = d.render_capped(fmt, 0);
            assert_eq!((s.len(), o), (d.render(fmt).len(), 0));
        }
    }
}
