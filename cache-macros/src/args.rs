//! Parsing `#[ttl_cached(ttl = .., key = "..", group = "..", capacity = .., ignore = [..])]`.
//!
//! Every argument is parsed even after an error, and all errors are reported together, so one
//! build shows every problem of the attribute.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{bracketed, Ident, LitInt, LitStr, Token};

use crate::duration::parse_duration;
use crate::errors::Errors;

mod kw {
    syn::custom_keyword!(ttl);
    syn::custom_keyword!(key);
    syn::custom_keyword!(group);
    syn::custom_keyword!(capacity);
    syn::custom_keyword!(ignore);
}

const VALID: &str = "`ttl`, `key`, `group`, `capacity`, `ignore`";

/// The TTL, already validated and converted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ttl {
    pub(crate) secs: u64,
    pub(crate) nanos: u32,
}

/// The attribute's arguments; `None` where absent or invalid (the error is in `errors`).
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) ttl: Option<Ttl>,
    pub(crate) key: Option<LitStr>,
    pub(crate) group: Option<LitStr>,
    pub(crate) capacity: Option<usize>,
    pub(crate) ignore: Vec<Ident>,
    /// Set when `ttl` was given (valid or not), to avoid also reporting it missing.
    pub(crate) ttl_given: bool,
    pub(crate) errors: Errors,
}

impl Args {
    /// Parses the attribute's argument tokens; never fails, errors are collected in `errors`.
    pub(crate) fn parse(tokens: proc_macro2::TokenStream) -> Self {
        match syn::parse::Parser::parse2(Self::parse_inner, tokens) {
            Ok(args) => args,
            Err(e) => {
                let mut args = Self::default();
                args.errors.push(e);
                args.ttl_given = true;
                args
            }
        }
    }

    fn parse_inner(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Self::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let key = name.to_string();
            if seen.contains(&key) {
                args.errors.error(
                    &name,
                    format!("duplicate argument `{key}`; give each argument once"),
                );
            }
            seen.push(key.clone());
            input.parse::<Token![=]>().map_err(|_| {
                syn::Error::new(
                    name.span(),
                    format!("expected `{key} = ...`; arguments are written `name = value`"),
                )
            })?;
            match key.as_str() {
                "ttl" => {
                    args.ttl_given = true;
                    match parse_ttl(input) {
                        Ok(ttl) => args.ttl = ttl.or(args.ttl),
                        Err(e) => args.errors.push(e),
                    }
                }
                "key" => args.key = Some(input.parse()?),
                "group" => args.group = Some(input.parse()?),
                "capacity" => match parse_capacity(input)? {
                    Ok(capacity) => args.capacity = Some(capacity),
                    Err(e) => args.errors.push(e),
                },
                "ignore" => args.ignore.extend(parse_ignore(input)?),
                _ => {
                    let hint =
                        crate::valid::nearest(&key, ["ttl", "key", "group", "capacity", "ignore"])
                            .map(|n| format!(" (did you mean `{n}`?)"))
                            .unwrap_or_default();
                    args.errors.error(
                        &name,
                        format!("unknown argument `{key}`{hint}; valid arguments are {VALID}"),
                    );
                    // Skip the value so the remaining arguments are still checked.
                    input.parse::<syn::Expr>()?;
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

/// `ttl = 60` or `ttl = "1h30m"`; `Ok(None)` never happens for valid input but keeps the
/// signature uniform with the error path.
fn parse_ttl(input: ParseStream<'_>) -> syn::Result<Option<Ttl>> {
    let lookahead = input.lookahead1();
    if lookahead.peek(LitInt) {
        let lit: LitInt = input.parse()?;
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
        Ok(Some(Ttl { secs, nanos: 0 }))
    } else if lookahead.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let duration = parse_duration(&lit.value()).map_err(|e| syn::Error::new(lit.span(), e))?;
        if duration.is_zero() {
            return Err(syn::Error::new(
                lit.span(),
                "`ttl` must be greater than zero: a zero ttl would cache nothing",
            ));
        }
        Ok(Some(Ttl {
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
        let err = lookahead.error();
        // Consume the value so parsing can go on to the next argument.
        let expr: syn::Expr = input.parse()?;
        Err(syn::Error::new_spanned(
            expr,
            format!(
                "{err}; `ttl` takes whole seconds (`ttl = 60`) or a duration string \
                 (`ttl = \"90s\"`, `\"1h30m\"`, `\"250ms\"`)"
            ),
        ))
    }
}

/// Outer error: a syntax error that stops parsing; inner error: a bad value.
fn parse_capacity(input: ParseStream<'_>) -> syn::Result<syn::Result<usize>> {
    let lit: LitInt = match input.parse() {
        Ok(lit) => lit,
        Err(_) => {
            let expr: syn::Expr = input.parse()?;
            return Ok(Err(syn::Error::new_spanned(
                expr,
                "`capacity` takes a whole number of entries, such as `capacity = 10_000`",
            )));
        }
    };
    Ok(match lit.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new(
            lit.span(),
            "`capacity` must be at least 1: a zero capacity would cache nothing",
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(syn::Error::new(
            lit.span(),
            "`capacity` must be a whole number that fits in a `usize`",
        )),
    })
}

/// `ignore = [self, http]` (a single name without brackets is accepted too).
fn parse_ignore(input: ParseStream<'_>) -> syn::Result<Vec<Ident>> {
    let parse_one = |input: ParseStream<'_>| -> syn::Result<Ident> {
        if input.peek(Token![self]) {
            let token: Token![self] = input.parse()?;
            Ok(Ident::new("self", token.span))
        } else if input.peek(Token![_]) {
            let token: Token![_] = input.parse()?;
            Err(syn::Error::new(
                token.span,
                "`ignore` takes parameter names; `_` parameters are never part of the key",
            ))
        } else {
            input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`ignore` takes parameter names, such as `ignore = [self, http]`",
                )
            })
        }
    };
    if input.peek(syn::token::Bracket) {
        let content;
        bracketed!(content in input);
        let names = content.parse_terminated(parse_one, Token![,])?;
        Ok(names.into_iter().collect())
    } else {
        Ok(vec![parse_one(input)?])
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Self::parse_inner(input)
    }
}

/// The span to report a missing `ttl` on.
pub(crate) fn missing_ttl(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "missing `ttl`: add `ttl = 60` (seconds) or a duration string such as `ttl = \"90s\"`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(args: &Args) -> Vec<String> {
        args.errors.messages()
    }

    #[test]
    fn parses_every_argument() {
        let args = Args::parse(quote!(
            ttl = "1m30s",
            key = "<a>:<b>",
            group = "<a>",
            capacity = 5,
            ignore = [self, c]
        ));
        assert!(args.errors.is_empty(), "{:?}", messages(&args));
        let ttl = args.ttl.unwrap();
        assert_eq!((ttl.secs, ttl.nanos), (90, 0));
        assert_eq!(args.key.unwrap().value(), "<a>:<b>");
        assert_eq!(args.group.unwrap().value(), "<a>");
        assert_eq!(args.capacity, Some(5));
        let ignored: Vec<String> = args.ignore.iter().map(ToString::to_string).collect();
        assert_eq!(ignored, ["self", "c"]);
    }

    #[test]
    fn reports_all_bad_arguments_together() {
        let args = Args::parse(quote!(ttl = 0, tll = 5, capacity = 0, ttl = 3));
        let m = messages(&args);
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].contains("greater than zero"));
        assert!(m[1].contains("unknown argument `tll` (did you mean `ttl`?)"));
        assert!(m[2].contains("`capacity` must be at least 1"));
        assert!(m[3].contains("duplicate argument `ttl`"));
    }

    #[test]
    fn rejects_float_ttl() {
        let args = Args::parse(quote!(ttl = 1.5));
        assert!(messages(&args)[0].contains("whole seconds"));
    }
}
