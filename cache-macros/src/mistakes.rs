//! The mistakes of issue 20, each expanded: exactly one `compile_error!`, on the user's tokens,
//! and nothing else for rustc to report. rustc counts every error it emits, also those it
//! prints once for being alike ("due to 4 previous errors" under one message), and trybuild's
//! `.stderr` leaves that count out; this is where it is checked. The UI cases named in each
//! test show what the user reads.

use std::str::FromStr;

use proc_macro2::{Span, TokenStream, TokenTree};

/// The expansion of `#[ttl_cached(args)]` on `item`, as text, and its errors.
fn expand(args: &str, item: &str) -> (String, Vec<String>) {
    let args = TokenStream::from_str(args).expect("the arguments tokenize");
    let item = TokenStream::from_str(item).expect("the item tokenizes");
    let output = crate::item::expand(args, item);
    syn::parse2::<syn::File>(output.clone()).expect("the expansion parses as items");
    let errors = compile_errors(output.clone())
        .into_iter()
        .map(|(message, _)| message)
        .collect();
    (output.to_string(), errors)
}

fn one_error(args: &str, item: &str, starts: &str) -> String {
    let (output, errors) = expand(args, item);
    assert_eq!(errors.len(), 1, "`{args}` on `{item}`: {errors:?}");
    assert!(errors[0].starts_with(starts), "{}", errors[0]);
    output
}

/// `string-argument-with-literal-suffix.rs`
#[test]
fn a_suffixed_string() {
    let output = one_error(
        r#"ttl = 60, key = "<user_id>"suffix"#,
        "async fn lookup(user_id: u32) -> u32 { user_id }",
        "remove the `suffix` suffix: `key` takes a plain string",
    );
    assert!(
        output.contains("fn invalidate_lookup_key (user_id : u32)"),
        "{output}"
    );
}

/// `companions-called-after-placeholder-typo.rs`, `...-format-string-braces.rs`
#[test]
fn a_placeholder_typo_keeps_the_companions_parameters() {
    let item = "async fn list(user_id: u32, folder: &str) -> u32 { user_id }";
    for args in [
        r#"ttl = 60, key = "<user>:<folder>", group = "<user>""#,
        r#"ttl = 60, key = "{user_id}:<folder>", group = "{user_id}""#,
    ] {
        let output = one_error(args, item, "");
        assert!(
            output.contains("fn invalidate_list (user_id : u32)"),
            "{output}"
        );
        assert!(
            output.contains("fn invalidate_list_key (user_id : u32 , folder : & str)"),
            "{output}"
        );
    }
}

/// `ignore-keyword-without-raw-prefix.rs`
#[test]
fn a_keyword_in_ignore() {
    one_error(
        r#"ttl = 60, key = "<id>", ignore = [self, type]"#,
        "async fn item(&self, id: u32, r#type: u32) -> u32 { id }",
        "`ignore` names `type`, which is a keyword",
    );
}

/// `tuple-field-that-does-not-exist.rs` (and `field-path-typo*.rs`): rustc reported a missing
/// field once per access (the body's two, and one in each companion), and printed it once.
/// A tuple is seen in the signature; a struct, in the file (`fields.rs` tests that part).
#[test]
fn a_tuple_field_that_is_not_there() {
    let output = one_error(
        r#"ttl = 60, key = "<pair.2>""#,
        "async fn area(pair: (u32, u32)) -> u32 { pair.0 }",
        "no field `2` on `(u32, u32)` in `<pair.2>` in `key`",
    );
    assert!(!output.contains("pair . 2"), "{output}");
    assert!(
        output.contains("fn invalidate_area (pair : (u32 , u32))"),
        "{output}"
    );
}

/// `attribute-written-twice.rs`
#[test]
fn the_attribute_written_twice() {
    let output = one_error(
        "ttl = 60",
        "#[ttl_cached(ttl = 30)] async fn lookup(id: u32) -> u32 { id }",
        "`#[ttl_cached]` is written twice on `lookup`; remove one",
    );
    assert_eq!(output.matches("fn lookup_cache").count(), 1, "{output}");
    assert!(!output.contains("ttl_cached (ttl = 30)"), "{output}");
}

/// `async-extern-c-fn.rs`
#[test]
fn an_extern_c_async_fn() {
    one_error(
        "ttl = 60",
        r#"async extern "C" fn lookup(id: u32) -> u32 { id }"#,
        "`#[ttl_cached]` does not support an `extern ",
    );
}

/// Every `compile_error! { "..." }` in the expansion, with the span of its message.
pub(crate) fn compile_errors(tokens: TokenStream) -> Vec<(String, Span)> {
    let mut found = Vec::new();
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                if let Some(TokenTree::Group(group)) = trees.get(i + 2) {
                    if let Some(TokenTree::Literal(lit)) = group.stream().into_iter().next() {
                        let text = lit.to_string();
                        found.push((text.trim_matches('"').to_string(), lit.span()));
                    }
                }
            }
            TokenTree::Group(group) => found.extend(compile_errors(group.stream())),
            _ => {}
        }
    }
    found
}
