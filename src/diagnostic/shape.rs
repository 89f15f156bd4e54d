//! Every shape problem in a YAML file at once: unknown and missing fields, wrong types, values
//! outside an enumeration, unknown variants.
//!
//! serde stops at the first problem. This walks the whole document against the JSON Schema that
//! schemars generates from the same raw types, so a person fixing a file sees everything wrong
//! with it in one go. It runs only after serde has refused a file and is lenient where serde is
//! (any scalar is a string), so it never reports a problem in a file relinker would accept; when
//! it finds nothing, the caller falls back to serde's own message.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::{Diagnostic, yaml_options};

/// Shape problems in `text` according to `schema`, in document order. Empty when the text is
/// not even YAML (the parser's own message says why) or when nothing is found.
pub(crate) fn problems(text: &str, schema: &Value) -> Vec<Diagnostic> {
    let document = match serde_saphyr::from_str_with_options::<Spanned<Node>>(text, yaml_options())
    {
        Ok(document) => document,
        // Too big to walk is itself the problem; other parse errors are serde's to report.
        Err(error) if matches!(error.without_snippet(), serde_saphyr::Error::Budget { .. }) => {
            return vec![Diagnostic::from_yaml(&error)];
        }
        Err(_) => return Vec::new(),
    };
    let mut walk = Walk {
        root: schema,
        problems: Vec::new(),
    };
    walk.check(&document, schema, "");
    walk.problems
}

/// A text value of a YAML document, with where it is: what a reader that must see every value
/// of a file (secret references, hosts, programs) walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar {
    /// The field, as diagnostics name it: `services[1].client_secret`.
    pub(crate) field: String,
    /// Where it is.
    pub(crate) at: Location,
    /// The text.
    pub(crate) text: String,
}

/// Every text value of `text`'s document, in document order; empty when it is not YAML (its
/// parser reports that).
pub(crate) fn scalars(text: &str) -> Vec<Scalar> {
    fn walk(node: &Spanned<Node>, field: &str, out: &mut Vec<Scalar>) {
        match &node.value {
            Node::Str(text) => out.push(Scalar {
                field: field.to_owned(),
                at: node.referenced,
                text: text.clone(),
            }),
            Node::Map(entries) => {
                for (key, value) in entries {
                    if let Some(name) = key.value.key() {
                        let path = if field.is_empty() {
                            name
                        } else {
                            format!("{field}.{name}")
                        };
                        walk(value, &path, out);
                    }
                }
            }
            Node::Seq(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{field}[{index}]"), out);
                }
            }
            Node::Int(_) | Node::Float | Node::Bool | Node::Null => {}
        }
    }
    let Ok(document) = serde_saphyr::from_str_with_options::<Spanned<Node>>(text, yaml_options())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(&document, "", &mut out);
    out
}

/// A YAML value with the position of every part of it.
#[derive(Debug)]
enum Node {
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Str(String),
    Int(i128),
    Float,
    Bool,
    Null,
}

impl Node {
    /// How a message names this kind of value.
    fn kind(&self) -> &'static str {
        match self {
            Node::Map(_) => "a mapping",
            Node::Seq(_) => "a list",
            Node::Str(_) => "text",
            Node::Int(_) => "an integer",
            Node::Float => "a number",
            Node::Bool => "a boolean",
            Node::Null => "nothing",
        }
    }

    /// A mapping key as text, if it is a scalar.
    fn key(&self) -> Option<String> {
        match self {
            Node::Str(text) => Some(text.clone()),
            Node::Int(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Bool)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Int(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Int(value.into()))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Node, E> {
        Ok(Node::Int(value))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Float)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Str(value.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

/// One walk over a document.
struct Walk<'s> {
    root: &'s Value,
    problems: Vec<Diagnostic>,
}

impl<'s> Walk<'s> {
    fn problem(&mut self, at: Location, field: &str, message: String, hint: Option<String>) {
        let mut diagnostic = Diagnostic::at(at, field, message);
        if let Some(hint) = hint {
            diagnostic = diagnostic.with_hint(hint);
        }
        self.problems.push(diagnostic);
    }

    /// Follows `$ref`s into the root's `$defs`.
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        while let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            let Some(found) = target
                .strip_prefix("#/")
                .and_then(|pointer| self.root.pointer(&format!("/{pointer}")))
            else {
                break;
            };
            schema = found;
        }
        schema
    }

    fn check(&mut self, node: &Spanned<Node>, schema: &'s Value, field: &str) {
        let schema = self.resolve(schema);
        if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
            return self.variant(node, variants, field);
        }
        if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
            // Only `Option<T>` makes an `anyOf` here: nothing, or the one other schema.
            if matches!(node.value, Node::Null) {
                return;
            }
            if let Some(other) = options.iter().find(|o| !accepts_only_null(o)) {
                self.check(node, other, field);
            }
            return;
        }
        if !self.fits_type(node, schema, field) {
            return;
        }
        match &node.value {
            Node::Map(entries) => self.mapping(node, entries, schema, field),
            Node::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.check(item, item_schema, &format!("{field}[{index}]"));
                    }
                }
            }
            Node::Str(text) => {
                if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
                    let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                    if !names.contains(&text.as_str()) {
                        self.problem(
                            node.referenced,
                            field,
                            format!("`{text}` is not one of {}", listing(&names)),
                            None,
                        );
                    }
                }
            }
            Node::Int(number) => {
                let minimum = schema.get("minimum").and_then(Value::as_i64);
                if minimum.is_some_and(|m| *number < i128::from(m)) {
                    self.problem(
                        node.referenced,
                        field,
                        format!("{number} is negative; a count is expected"),
                        None,
                    );
                }
                let largest = match schema.get("format").and_then(Value::as_str) {
                    Some("uint8") => Some(i128::from(u8::MAX)),
                    Some("uint16") => Some(i128::from(u16::MAX)),
                    Some("uint32") => Some(i128::from(u32::MAX)),
                    Some("uint64" | "uint") => Some(i128::from(u64::MAX)),
                    _ => None,
                };
                if let Some(largest) = largest.filter(|l| number > l) {
                    self.problem(
                        node.referenced,
                        field,
                        format!("{number} is too large; at most {largest}"),
                        None,
                    );
                }
            }
            Node::Float | Node::Bool | Node::Null => {}
        }
    }

    /// Whether the node is of a type the schema allows; reports it when not.
    fn fits_type(&mut self, node: &Spanned<Node>, schema: &Value, field: &str) -> bool {
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => return true,
        };
        let fits = types.iter().any(|wanted| match (*wanted, &node.value) {
            ("object", Node::Map(_))
            | ("array", Node::Seq(_))
            | ("integer", Node::Int(_))
            | ("number", Node::Int(_) | Node::Float)
            | ("boolean", Node::Bool)
            | ("null", Node::Null)
            // serde reads any scalar into a string.
            | ("string", Node::Str(_) | Node::Int(_) | Node::Float | Node::Bool) => true,
            _ => false,
        });
        if !fits {
            let expected: Vec<&str> = types
                .iter()
                .filter(|t| **t != "null")
                .map(|t| match *t {
                    "object" => "a mapping",
                    "array" => "a list",
                    "integer" => "a whole number",
                    "number" => "a number",
                    "boolean" => "`true` or `false`",
                    _ => "text",
                })
                .collect();
            self.problem(
                node.referenced,
                field,
                format!(
                    "expected {}, found {}",
                    expected.join(" or "),
                    node.value.kind()
                ),
                None,
            );
        }
        fits
    }

    fn mapping(
        &mut self,
        node: &Spanned<Node>,
        entries: &[(Spanned<Node>, Spanned<Node>)],
        schema: &'s Value,
        field: &str,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        let known: Vec<&str> = properties
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        for (key, value) in entries {
            let Some(name) = key.value.key() else {
                self.problem(
                    key.referenced,
                    field,
                    format!("a key must be text, found {}", key.value.kind()),
                    None,
                );
                continue;
            };
            let here = join(field, &name);
            match properties.and_then(|p| p.get(&name)) {
                Some(property) => self.check(value, property, &here),
                None if closed => self.problem(
                    key.referenced,
                    &here,
                    format!("unknown field `{name}`"),
                    Some(format!("{} takes {}", block(field), listing(&known))),
                ),
                None => {}
            }
        }
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            let given = entries
                .iter()
                .any(|(key, _)| key.value.key().as_deref() == Some(name));
            if !given {
                self.problem(
                    node.referenced,
                    field,
                    format!("missing field `{name}`"),
                    None,
                );
            }
        }
    }

    /// An externally tagged enum: a mapping with exactly one key naming the variant.
    fn variant(&mut self, node: &Spanned<Node>, variants: &'s [Value], field: &str) {
        let tags: Vec<(&str, &'s Value)> = variants
            .iter()
            .filter_map(|variant| {
                let variant = self.resolve(variant);
                let name = variant.get("required")?.as_array()?.first()?.as_str()?;
                Some((name, variant.get("properties")?.get(name)?))
            })
            .collect();
        let names: Vec<&str> = tags.iter().map(|(name, _)| *name).collect();
        let hint = Some(format!("write exactly one of {}", listing(&names)));
        let Node::Map(entries) = &node.value else {
            return self.problem(
                node.referenced,
                field,
                format!(
                    "expected one of {}, found {}",
                    listing(&names),
                    node.value.kind()
                ),
                hint,
            );
        };
        let [(key, value)] = entries.as_slice() else {
            return self.problem(
                node.referenced,
                field,
                format!(
                    "expected exactly one of {}, found {} keys",
                    listing(&names),
                    entries.len()
                ),
                hint,
            );
        };
        let name = key.value.key().unwrap_or_default();
        match tags.iter().find(|(tag, _)| *tag == name) {
            Some((_, schema)) => self.check(value, schema, &join(field, &name)),
            None => self.problem(
                key.referenced,
                field,
                format!("unknown kind `{name}`"),
                hint,
            ),
        }
    }
}

fn accepts_only_null(schema: &Value) -> bool {
    schema.get("type") == Some(&Value::String("null".into()))
}

fn join(field: &str, name: &str) -> String {
    if field.is_empty() {
        name.to_owned()
    } else {
        format!("{field}.{name}")
    }
}

/// How a hint names the block a field belongs to.
fn block(field: &str) -> String {
    if field.is_empty() {
        "the top level".to_owned()
    } else {
        format!("`{field}`")
    }
}

/// `a`, `b` or `c`.
fn listing(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLES: [&str; 3] = [
        include_str!("../../plans/examples/rename-api-user.yaml"),
        include_str!("../../plans/examples/replace-api-user.yaml"),
        include_str!("../../plans/examples/relink-services.yaml"),
    ];

    /// The problems in an example plan after replacing `from` with `to`, as `line:col field: message`.
    #[track_caller]
    fn found(from: &str, to: &str) -> Vec<String> {
        let text = EXAMPLES[0];
        assert!(text.contains(from), "test bug: {from:?} not in the example");
        problems(&text.replacen(from, to, 1), &crate::plan::schema())
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.field, p.message))
            .collect()
    }

    #[test]
    fn never_objects_to_a_valid_plan() {
        for example in EXAMPLES {
            assert_eq!(problems(example, &crate::plan::schema()), []);
        }
    }

    #[test]
    fn names_each_kind_of_shape_problem() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "version: 1",
                "version: [1]",
                &["5:10 version: expected a whole number, found a list"],
            ),
            (
                "  provider: marketo",
                "  provider: marketo\n  zone: eu",
                &["10:3 instance.zone: unknown field `zone`"],
            ),
            (
                "  - rename:",
                "  - renamed:",
                &["21:5 rotations[0]: unknown kind `renamed`"],
            ),
            (
                "      services: [salesforce-sync, reporting-export]",
                "      services: [salesforce-sync, reporting-export]\n      keep_temporary_user: perhaps",
                &[
                    "28:28 rotations[0].rename.keep_temporary_user: expected `true` or `false`, found text",
                ],
            ),
            (
                "  max_deletions: 1",
                "  max_deletions: -1",
                &["30:18 policy.max_deletions: -1 is negative; a count is expected"],
            ),
            (
                "  - name: salesforce-sync",
                "  - title: salesforce-sync",
                &[
                    "14:5 services[0].title: unknown field `title`",
                    "14:5 services[0]: missing field `name`",
                ],
            ),
            (
                "services:",
                "services: none\nold_services:",
                &[
                    "13:11 services: expected a list, found text",
                    "14:1 old_services: unknown field `old_services`",
                ],
            ),
        ];
        for (from, to, expected) in cases {
            assert_eq!(found(from, to), *expected, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn text_that_is_not_yaml_is_left_to_the_parser() {
        assert_eq!(problems("a: [unclosed", &crate::plan::schema()), []);
    }

    #[test]
    fn lists_read_as_people_write_them() {
        assert_eq!(listing(&[]), "nothing");
        assert_eq!(listing(&["a"]), "`a`");
        assert_eq!(listing(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
