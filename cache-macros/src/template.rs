//! The key template scanner: `"<user_id>:<provider>:<req.folder.id>"`.
//!
//! Text between placeholders is for display only: the key is the list of placeholder values,
//! compared part by part, so the template's separators can never make two keys collide.

use proc_macro2::Span;
use syn::{Ident, LitStr, Member};

use crate::errors::Errors;

/// One `<root.field.field>` placeholder.
#[derive(Clone)]
pub(crate) struct Placeholder {
    /// The parameter (or `self`) the path starts from, spanned on the template literal.
    pub(crate) root: Ident,
    /// Field accesses after the root (`.0` tuple fields included).
    pub(crate) fields: Vec<Member>,
    /// The path as written, normalized (`req.folder.id`), for messages and comparisons.
    pub(crate) text: String,
}

impl Placeholder {
    pub(crate) fn root_name(&self) -> String {
        self.root.to_string()
    }
}

/// A parsed template: the literal (for spans) and its placeholders in order.
pub(crate) struct KeyTemplate {
    pub(crate) lit: LitStr,
    pub(crate) placeholders: Vec<Placeholder>,
    /// Whether the template had syntax errors (reported); `placeholders` then holds the
    /// placeholders that could be read, which are still checked against the parameters.
    pub(crate) malformed: bool,
    /// The placeholders meant, in order: those read, and the roots of those written wrongly
    /// (`{user_id}`, `<type>` for `r#type`, an unclosed `<user_id`). Not checked against the
    /// parameters (each is one syntax error already): they give the stand-in companions of a
    /// rejected attribute the parameters the user meant.
    pub(crate) meant: Vec<Placeholder>,
}

impl KeyTemplate {
    /// Scans `lit`, the value of the argument `which` (`key` or `group`), reporting every
    /// syntax error found. A placeholder written wrongly (`{user_id}`, `<type>`) is reported
    /// once: not again if `seen` (the key's, when this is the group) has it already, since the
    /// same path written the same way in `key` and `group` is one mistake.
    pub(crate) fn parse(
        lit: &LitStr,
        which: &str,
        seen: &mut Vec<String>,
        errors: &mut Errors,
    ) -> Self {
        let text = lit.value();
        let span = lit.span();
        let mut placeholders = Vec::new();
        // Each placeholder meant, at its offset in the text.
        let mut meant: Vec<(usize, Placeholder)> = Vec::new();
        let mut ok = true;
        let mut rest = text.as_str();
        loop {
            let offset = text.len() - rest.len();
            let open = rest.find('<');
            let close = rest.find('>');
            match (open, close) {
                (None, None) => break,
                (_, Some(c)) if open.is_none_or(|o| c < o) => {
                    errors.error_at(
                        span,
                        format!(
                            "stray `>` in `{which}` template \"{text}\"; placeholders are written \
                             `<name>`"
                        ),
                    );
                    ok = false;
                    rest = &rest[c + 1..];
                }
                (Some(o), _) => {
                    let after = &rest[o + 1..];
                    let next_open = after.find('<');
                    let next_close = after.find('>');
                    match next_close {
                        Some(c) if next_open.is_none_or(|n| c < n) => {
                            let at = offset + o;
                            match parse_path(after[..c].trim(), span) {
                                Ok(placeholder) => {
                                    meant.push((at, placeholder.clone()));
                                    placeholders.push(placeholder);
                                }
                                Err((problem, fix)) => {
                                    meant.extend(recover_root(&after[..c], span).map(|p| (at, p)));
                                    if first_time(seen, format!("<{}>", after[..c].trim())) {
                                        errors.error_at(
                                            span,
                                            format!(
                                                "{problem} in `{which}` template \"{text}\": {fix}"
                                            ),
                                        );
                                    }
                                    ok = false;
                                }
                            }
                            rest = &after[c + 1..];
                        }
                        _ => {
                            let written = &after[..next_open.unwrap_or(after.len())];
                            meant.extend(recover_root(written, span).map(|p| (offset + o, p)));
                            errors.error_at(
                                span,
                                format!(
                                    "unclosed `<` in `{which}` template \"{text}\"; close the \
                                     placeholder with `>`"
                                ),
                            );
                            ok = false;
                            rest = next_open.map_or("", |n| &after[n..]);
                        }
                    }
                }
                (None, Some(_)) => unreachable!("handled by the stray `>` arm"),
            }
        }
        // `{user_id}` (format-string style) is display text to the scanner, so without this
        // the parameter would be silently missing from the key, or reported as missing.
        for (at, braced) in braced_names(&text) {
            meant.extend(recover_root(braced, span).map(|p| (at, p)));
            if first_time(seen, format!("{{{braced}}}")) {
                errors.error_at(
                    span,
                    format!(
                        "`{{{braced}}}` in `{which}` template \"{text}\": placeholders are written \
                         `<{braced}>`, not `{{{braced}}}`"
                    ),
                );
            }
            ok = false;
        }
        meant.sort_by_key(|(at, _)| *at);
        Self {
            lit: lit.clone(),
            placeholders,
            malformed: !ok,
            meant: meant.into_iter().map(|(_, p)| p).collect(),
        }
    }

    /// The default key: every non-ignored, named, non-receiver parameter, in order.
    pub(crate) fn from_params(names: &[Ident], span: Span) -> Self {
        let text = names
            .iter()
            .map(|n| format!("<{n}>"))
            .collect::<Vec<_>>()
            .join(":");
        let placeholders: Vec<Placeholder> = names
            .iter()
            .map(|n| Placeholder {
                root: n.clone(),
                fields: Vec::new(),
                text: n.to_string(),
            })
            .collect();
        Self {
            lit: LitStr::new(&text, span),
            meant: placeholders.clone(),
            placeholders,
            malformed: false,
        }
    }
}

/// Whether `written` is not in `seen` yet; it is afterwards.
fn first_time(seen: &mut Vec<String>, written: String) -> bool {
    if seen.contains(&written) {
        return false;
    }
    seen.push(written);
    true
}

/// The paths written as `{name}` or `{name.field}` in a template, with their offsets.
fn braced_names(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let at = text.len() - rest.len() + open;
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let inner = after[..close].trim();
        let is_path = !inner.is_empty()
            && inner
                .split('.')
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'));
        if is_path {
            found.push((at, inner));
        }
        rest = &after[close + 1..];
    }
    found
}

/// A placeholder, or what is wrong with it and how to fix it.
fn parse_path(path: &str, span: Span) -> Result<Placeholder, (String, String)> {
    if path.is_empty() {
        return Err((
            "empty placeholder `<>`".to_string(),
            "name a parameter or a field path, such as `<user_id>` or `<req.user.id>`".to_string(),
        ));
    }
    let mut segments = path.split('.').map(str::trim);
    let first = segments.next().unwrap_or_default();
    let root = if first == "self" {
        Ident::new("self", span)
    } else {
        parse_ident(first, span).map_err(|()| {
            let fix = if is_keyword(first) {
                format!("`{first}` is a keyword; a parameter named `r#{first}` is written `<r#{first}>`")
            } else {
                format!("`{first}` is not a parameter name")
            };
            (format!("invalid placeholder `<{path}>`"), fix)
        })?
    };
    let mut fields = Vec::new();
    let mut text = root.to_string();
    for segment in segments {
        let member = if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            let index = segment.parse::<u32>().map_err(|_| {
                (
                    format!("invalid placeholder `<{path}>`"),
                    format!("tuple index `{segment}` is too large"),
                )
            })?;
            Member::Unnamed(syn::Index { index, span })
        } else {
            Member::Named(parse_ident(segment, span).map_err(|()| {
                (
                    format!("invalid placeholder `<{path}>`"),
                    format!(
                        "`{segment}` is not a field name; placeholders are parameter names or \
                         field paths such as `<req.user.id>`"
                    ),
                )
            })?)
        };
        text.push('.');
        text.push_str(segment);
        fields.push(member);
    }
    Ok(Placeholder { root, fields, text })
}

/// The placeholder a wrongly written one most likely meant, by its root alone: `type` (a
/// keyword) for the parameter `r#type`, `user_id` for `user_id:` in an unclosed `<user_id:`.
fn recover_root(written: &str, span: Span) -> Option<Placeholder> {
    let written = written.trim_start();
    let end = written
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#'))
        .unwrap_or(written.len());
    let first = &written[..end];
    let root = if first == "self" {
        Ident::new("self", span)
    } else if is_keyword(first) {
        Ident::new_raw(first, span)
    } else {
        let mut ident: Ident =
            syn::parse::Parser::parse_str(syn::ext::IdentExt::parse_any, first).ok()?;
        ident.set_span(span);
        ident
    };
    Some(Placeholder {
        text: root.to_string(),
        root,
        fields: Vec::new(),
    })
}

fn is_keyword(text: &str) -> bool {
    use syn::ext::IdentExt;
    text != "_"
        && syn::parse_str::<Ident>(text).is_err()
        && syn::parse::Parser::parse_str(Ident::parse_any, text).is_ok()
}

fn parse_ident(text: &str, span: Span) -> Result<Ident, ()> {
    let mut ident: Ident = syn::parse_str(text).map_err(|_| ())?;
    if ident == "_" {
        return Err(());
    }
    ident.set_span(span);
    Ok(ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> (Option<Vec<String>>, Vec<String>) {
        let mut errors = Errors::default();
        let lit = LitStr::new(text, Span::call_site());
        let template = KeyTemplate::parse(&lit, "key", &mut Vec::new(), &mut errors);
        let found = (!template.malformed).then(|| {
            template
                .placeholders
                .iter()
                .map(|p| p.text.clone())
                .collect()
        });
        (found, errors.messages())
    }

    #[test]
    fn scans_placeholders_and_ignores_separators() {
        let (found, errors) = scan("<user_id>:<provider> / <req.folder.id>-<pair.0>");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            found.unwrap(),
            ["user_id", "provider", "req.folder.id", "pair.0"]
        );
        let (found, _) = scan("<self.account_id>");
        assert_eq!(found.unwrap(), ["self.account_id"]);
        let (found, _) = scan("no placeholders");
        assert!(found.unwrap().is_empty());
    }

    #[test]
    fn reports_each_syntax_error() {
        let (found, errors) = scan("<a>:<>:b>:<c");
        assert!(found.is_none());
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("empty placeholder `<>`"));
        assert!(errors[1].starts_with("stray `>`"));
        assert!(errors[2].starts_with("unclosed `<`"));
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in [
            "<user id>",
            "<1a>",
            "<a.>",
            "<a..b>",
            "<a.b-c>",
            "<_>",
            "<fn>",
        ] {
            let (found, errors) = scan(bad);
            assert!(found.is_none(), "{bad}");
            assert!(
                errors[0].starts_with("invalid placeholder"),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn nested_open_is_unclosed() {
        let (_, errors) = scan("<a<b>");
        assert!(errors[0].starts_with("unclosed `<`"), "{errors:?}");
    }
}
