//! The value of each argument of `#[ttl_cached(...)]`: durations, numbers, templates, paths
//! and names, each checked where it is read, with an error on the value that names the fix.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{bracketed, Ident, LitInt, LitStr, Token};

use crate::duration::parse_duration;
use crate::errors::Errors;

/// The TTL: written in the attribute (validated and converted), or named by it.
#[derive(Debug, Clone)]
pub(crate) enum Ttl {
    Written {
        secs: u64,
        nanos: u32,
    },
    /// `ttl = LISTING_TTL`: a `const` or `static`, read when the cache is made.
    Named(syn::Path),
}

/// The capacity: written in the attribute (validated), or named by it.
#[derive(Debug, Clone)]
pub(crate) enum Capacity {
    Written(usize),
    /// `capacity = LISTINGS`: a `const` or `static`, read when the cache is made.
    Named(syn::Path),
}

/// Skips the rest of an argument: every token tree up to the next top-level comma.
pub(crate) fn skip_to_comma(input: ParseStream<'_>) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let proc_macro2::TokenTree::Punct(p) = &tt {
                if p.as_char() == ',' {
                    return Ok(((), rest));
                }
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

/// Rejects a literal suffix (`300u8`, `60f32`, `"90s"x`): the value would be read as written,
/// without the suffix, which is surprising either way.
fn no_suffix(suffix: &str, span: Span, which: &str, example: &str) -> syn::Result<()> {
    if suffix.is_empty() {
        return Ok(());
    }
    let kind = if example.starts_with('"') {
        "string"
    } else {
        "number"
    };
    Err(syn::Error::new(
        span,
        format!(
            "remove the `{suffix}` suffix: `{which}` takes a plain {kind}, such as \
             `{which} = {example}`"
        ),
    ))
}

/// A string argument whose suffix (`"<a>"x`) is reported, and read without it: the string
/// itself is what the user meant, so the rest of the attribute is checked against it, and the
/// stand-in companions take its parameters, as if the suffix were not there.
pub(crate) fn plain_string(lit: LitStr, which: &str, example: &str, errors: &mut Errors) -> LitStr {
    match no_suffix(lit.suffix(), lit.span(), which, example) {
        Ok(()) => lit,
        Err(error) => {
            errors.push(error);
            LitStr::new(&lit.value(), lit.span())
        }
    }
}

/// `key = "<a>:<b>"` and `group = "<a>"`: a string literal.
pub(crate) fn parse_template(
    input: ParseStream<'_>,
    which: &str,
    errors: &mut Errors,
) -> syn::Result<LitStr> {
    let example = if which == "key" {
        "\"<user_id>:<folder_id>\""
    } else {
        "\"<user_id>\""
    };
    if input.peek(LitStr) {
        return Ok(plain_string(input.parse()?, which, example, errors));
    }
    let span = input.span();
    Err(syn::Error::new(
        span,
        format!("`{which}` takes a string template, such as `{which} = {example}`"),
    ))
}

/// `stale = "30s"`, `stale_if_error = "5m"` or whole seconds: a window after the TTL,
/// greater than zero.
pub(crate) fn parse_window(input: ParseStream<'_>, which: &str) -> syn::Result<(u64, u32)> {
    let message = format!(
        "`{which}` takes whole seconds (`{which} = 300`) or a duration string \
         (`{which} = \"5m\"`, `\"90s\"`, `\"1h30m\"`)"
    );
    let lookahead = input.lookahead1();
    let (duration, span) = if lookahead.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), which, "300")?;
        let secs: u64 = lit
            .base10_parse()
            .map_err(|_| syn::Error::new(lit.span(), &message))?;
        (std::time::Duration::from_secs(secs), lit.span())
    } else if lookahead.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), which, "\"5m\"")?;
        let duration = parse_duration(&lit.value()).map_err(|e| {
            // The duration syntax is the ttl's; its example is this argument's.
            let e = e.replace("`ttl = 60`", &format!("`{which} = 300`"));
            syn::Error::new(lit.span(), e)
        })?;
        (duration, lit.span())
    } else {
        return Err(syn::Error::new(input.span(), message));
    };
    if duration.is_zero() {
        let fix = match which {
            "throttle" => "leave it out for the default (5 s)",
            "timeout" | "soft_timeout" => "leave it out for no limit",
            _ => "leave it out for no window",
        };
        return Err(syn::Error::new(
            span,
            format!("`{which}` must be greater than zero: {fix}"),
        ));
    }
    Ok((duration.as_secs(), duration.subsec_nanos()))
}

/// `shared_tier = true` (`Some(None)`), `shared_tier = false` (`None`), or `shared_tier = NAME`,
/// a `const` or `static` of type `SharedTier` (`Some(Some(NAME))`).
pub(crate) fn parse_shared_tier(input: ParseStream<'_>) -> syn::Result<Option<Option<syn::Path>>> {
    const EXPECTED: &str = "`shared_tier` takes `true`, or the name of a `const` of type \
                            `SharedTier` for its settings (`shared_tier = LISTING_TIER`)";
    if input.peek(syn::LitBool) {
        let on: syn::LitBool = input.parse()?;
        return Ok(on.value.then_some(None));
    }
    if input.peek(syn::Lit) {
        let lit: syn::Lit = input.parse()?;
        return Err(syn::Error::new(lit.span(), EXPECTED));
    }
    let path: syn::Path = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    Ok(Some(Some(path)))
}

/// `jitter = "10%"`: a percentage of the TTL, from 0 to 100.
pub(crate) fn parse_jitter(input: ParseStream<'_>) -> syn::Result<f64> {
    let message =
        "`jitter` takes a percentage of the TTL from 0 to 100, such as `jitter = \"10%\"`";
    let lit: LitStr = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), message))?;
    no_suffix(lit.suffix(), lit.span(), "jitter", "\"10%\"")?;
    let value = lit.value();
    let percent = value
        .trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| syn::Error::new(lit.span(), message))?;
    Ok(percent / 100.0)
}

/// `ttl = 60` or `ttl = "1h30m"`; `Ok(None)` never happens for valid input but keeps the
/// signature uniform with the error path.
pub(crate) fn parse_ttl(input: ParseStream<'_>) -> syn::Result<Option<Ttl>> {
    if let Some(path) = parse_named(input, "ttl", "LISTING_TTL", "Duration")? {
        return Ok(Some(Ttl::Named(path)));
    }
    let lookahead = input.lookahead1();
    if lookahead.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), "ttl", "60")?;
        let secs: u64 = lit.base10_parse().map_err(|_| {
            syn::Error::new(
                lit.span(),
                "`ttl` in seconds must be a whole number that fits in a `u64`",
            )
        })?;
        if secs == 0 {
            return Err(syn::Error::new(
                lit.span(),
                "`ttl` must be greater than zero: a zero ttl would cache nothing",
            ));
        }
        Ok(Some(Ttl::Written { secs, nanos: 0 }))
    } else if lookahead.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), "ttl", "\"90s\"")?;
        let duration = parse_duration(&lit.value()).map_err(|e| syn::Error::new(lit.span(), e))?;
        if duration.is_zero() {
            return Err(syn::Error::new(
                lit.span(),
                "`ttl` must be greater than zero: a zero ttl would cache nothing",
            ));
        }
        Ok(Some(Ttl::Written {
            secs: duration.as_secs(),
            nanos: duration.subsec_nanos(),
        }))
    } else if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        Err(syn::Error::new(
            lit.span(),
            "`ttl` takes whole seconds (`ttl = 60`) or a duration string (`ttl = \"1500ms\"`)",
        ))
    } else {
        Err(syn::Error::new(
            input.span(),
            "`ttl` takes whole seconds (`ttl = 60`), a duration string (`ttl = \"90s\"`, \
             `\"1h30m\"`, `\"250ms\"`), or the name of a `const` or `static` \
             (`ttl = LISTING_TTL`)",
        ))
    }
}

/// `ttl = LISTING_TTL`, `capacity = config::LISTINGS`: the path of a `const` or `static`, or
/// `None` if the value is not a path. The cache is made outside the function, where `Self` and
/// an expression's context do not exist, so only a path to an item is taken.
fn parse_named(
    input: ParseStream<'_>,
    which: &str,
    example: &str,
    ty: &str,
) -> syn::Result<Option<syn::Path>> {
    if !(input.peek(Ident::peek_any) || input.peek(Token![::])) {
        return Ok(None);
    }
    let path: syn::Path = input.parse()?;
    if path.segments.first().is_some_and(|s| s.ident == "Self") {
        let rest: Vec<_> = path.segments.iter().skip(1).map(|s| &s.ident).collect();
        let rest = quote::quote!(#(#rest)::*).to_string().replace(' ', "");
        return Err(syn::Error::new_spanned(
            &path,
            format!(
                "`{which}` cannot name an item through `Self`: the cache is made outside the \
                 impl; name the type instead of `Self`, as in `{which} = MyType::{rest}`"
            ),
        ));
    }
    if input.peek(syn::token::Paren) || input.peek(Token![.]) || input.peek(syn::token::Brace) {
        // The whole expression, so that the error covers it.
        let rest = input.step(|cursor| {
            let mut rest = *cursor;
            let mut tokens = proc_macro2::TokenStream::new();
            while let Some((tt, next)) = rest.token_tree() {
                if matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                    break;
                }
                tokens.extend([tt]);
                rest = next;
            }
            Ok((tokens, rest))
        })?;
        let expression = quote::quote!(#path #rest);
        let text = crate::errors::display(&expression.to_string())
            .replace(" (", "(")
            .replace("( ", "(")
            .replace(" )", ")");
        return Err(syn::Error::new_spanned(
            expression,
            format!(
                "`{which}` takes the name of a `const` or `static`, not an expression: declare \
                 `const {example}: {ty} = {text};` and write `{which} = {example}`"
            ),
        ));
    }
    Ok(Some(path))
}

/// `crate = "ttlc"`: a string holding a path (the serde and tokio convention), as tokens spanned
/// on the string, so that an unresolved path is reported there.
pub(crate) fn parse_crate_path(
    input: ParseStream<'_>,
    errors: &mut Errors,
) -> syn::Result<proc_macro2::TokenStream> {
    let message = "`crate` takes the path of the `cache-core` crate in a string, such as \
                   `crate = \"ttlc\"` for a dependency renamed `ttlc`";
    // Peeked first: a literal of another kind would be consumed by the failed parse, and the
    // error would lose its place.
    if !input.peek(LitStr) {
        return Err(syn::Error::new(input.span(), message));
    }
    let lit = plain_string(input.parse()?, "crate", "\"ttlc\"", errors);
    let path: syn::Path = lit
        .parse()
        .map_err(|_| syn::Error::new(lit.span(), message))?;
    if path.segments.iter().any(|s| !s.arguments.is_none()) {
        return Err(syn::Error::new(lit.span(), message));
    }
    Ok(quote::quote!(#path))
}

/// `scope = Account`: the path of a scope declared with `cache_core::scope!`.
pub(crate) fn parse_scope(input: ParseStream<'_>) -> syn::Result<syn::Path> {
    let message = "`scope` takes the name of a scope declared with `cache_core::scope!`, such as \
                   `scope = Account`";
    if !(input.peek(Ident::peek_any) || input.peek(Token![::])) {
        return Err(syn::Error::new(input.span(), message));
    }
    let path: syn::Path = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), message))?;
    Ok(path)
}

/// `store_if = |value| ..` or `store_if = path::to::predicate`: any expression, whose type is
/// checked where it is used (on these tokens).
pub(crate) fn parse_store_if(input: ParseStream<'_>) -> syn::Result<syn::Expr> {
    input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "`store_if` takes a function or closure from `&value` to `bool`, such as \
             `store_if = |listing| !listing.is_empty()` or `store_if = Option::is_some`",
        )
    })
}

/// `serve_stale_if = PREDICATE` or `revoke_if = PREDICATE`: a function or closure over
/// `&error`.
pub(crate) fn parse_error_predicate(input: ParseStream<'_>, which: &str) -> syn::Result<syn::Expr> {
    input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "`{which}` takes a function or closure from `&error` to `bool`, such as \
                 `{which} = |e| e.status() == 401` or `{which} = ApiError::is_revoked`"
            ),
        )
    })
}

/// `capacity = 10_000` or `capacity = LISTINGS`.
pub(crate) fn parse_capacity(input: ParseStream<'_>) -> syn::Result<Capacity> {
    if let Some(path) = parse_named(input, "capacity", "LISTINGS", "usize")? {
        return Ok(Capacity::Named(path));
    }
    let message = "`capacity` takes a whole number of entries, such as `capacity = 10_000`, or \
                   the name of a `const` or `static` (`capacity = LISTINGS`)";
    if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        return Err(syn::Error::new(lit.span(), message));
    }
    let Ok(lit) = input.parse::<LitInt>() else {
        return Err(syn::Error::new(input.span(), message));
    };
    no_suffix(lit.suffix(), lit.span(), "capacity", "10_000")?;
    match lit.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new(
            lit.span(),
            "`capacity` must be at least 1: a zero capacity would cache nothing",
        )),
        Ok(n) => Ok(Capacity::Written(n)),
        Err(_) => Err(syn::Error::new(
            lit.span(),
            "`capacity` must be a whole number that fits in a `usize`",
        )),
    }
}

/// `ignore = [self, http]` (a single name without brackets is accepted too). A bad entry is
/// reported and the others are kept.
pub(crate) fn parse_ignore(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<Vec<Ident>> {
    let parse_one = |input: ParseStream<'_>| -> syn::Result<Ident> {
        if input.peek(Token![_]) {
            let token: Token![_] = input.parse()?;
            Err(syn::Error::new(
                token.span,
                "`ignore` takes parameter names; `_` parameters are never part of the key",
            ))
        } else if input.peek(Ident::peek_any) {
            // Keywords too (`self`, and `type` for a parameter `r#type`, checked later).
            input.call(Ident::parse_any)
        } else {
            Err(syn::Error::new(
                input.span(),
                "`ignore` takes parameter names, such as `ignore = [self, http]`",
            ))
        }
    };
    if !input.peek(syn::token::Bracket) {
        return Ok(vec![parse_one(input)?]);
    }
    let content;
    bracketed!(content in input);
    let mut names = Vec::new();
    while !content.is_empty() {
        match parse_one(&content) {
            Ok(name) => names.push(name),
            Err(e) => {
                errors.push(e);
                skip_to_comma(&content);
            }
        }
        if content.is_empty() {
            break;
        }
        if content.parse::<Token![,]>().is_err() {
            errors.error_at(
                content.span(),
                "expected `,` between the names in `ignore = [...]`",
            );
            skip_to_comma(&content);
            let _ = content.parse::<Token![,]>();
        }
    }
    Ok(names)
}
