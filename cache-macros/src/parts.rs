//! The key's parts: the expression of each placeholder's value, wrapped by the runtime's
//! autoref dispatch (`PartTag`) into a borrowed or owned part, and the traits that dispatch
//! needs in scope. Shared by the body and the companions.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use crate::context::krate_at;
use crate::plan::Root;
use crate::signature::Params;
use crate::template::Placeholder;

/// The traits whose `__ttl_cached_*` methods the expansion calls.
pub(crate) fn dispatch_imports(krate: &TokenStream) -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use #krate::__private::{
            InvalidPart as _, OptionRefPart as _, PlainKind as _, RefPart as _,
            RefRefPart as _, RetryErrKind as _, SharedErrKind as _, StrRefPart as _,
            UnownedPart as _, UnstorableKind as _, UnstorableOkKind as _, ValuePart as _,
        };
    }
}

/// Which function builds the parts: the cached body checks them, `invalidate_<fn>` does not
/// (it would only repeat the body's errors).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartCheck {
    Body,
    Companion,
}

/// `(part(a), (part(b), ()))` for the given placeholders.
pub(crate) fn part_list(
    placeholders: &[Placeholder],
    roots: &[Root],
    params: &Params<'_>,
    lit_span: Span,
    check: PartCheck,
    krate: &TokenStream,
) -> TokenStream {
    placeholders
        .iter()
        .zip(roots)
        .rev()
        .fold(quote!(()), |list, (placeholder, root)| {
            let part = part(placeholder, *root, params, lit_span, check, krate);
            quote!((#part, #list))
        })
}

/// The placeholder's value expression, and the span its type errors belong on: the parameter's
/// type for a plain parameter, the template for a field path.
fn part_value(
    placeholder: &Placeholder,
    root: Root,
    params: &Params<'_>,
    lit_span: Span,
) -> (TokenStream, Span) {
    let (base, check_span) = match root {
        Root::SelfValue => (placeholder.root.to_token_stream(), lit_span),
        Root::Param(index) => {
            let param = &params.params[index];
            let ident = param
                .ident()
                .expect("placeholders resolve to named parameters");
            // A `Hash + Eq` error on a plain parameter lands on its type; on a field path, on
            // the template that names the field.
            let span = if placeholder.fields.is_empty() {
                param.ty.span()
            } else {
                lit_span
            };
            (ident.to_token_stream(), span)
        }
    };
    let fields = &placeholder.fields;
    (quote_spanned!(lit_span=> #base #(.#fields)*), check_span)
}

fn part(
    placeholder: &Placeholder,
    root: Root,
    params: &Params<'_>,
    lit_span: Span,
    check: PartCheck,
    krate: &TokenStream,
) -> TokenStream {
    let (value, check_span) = part_value(placeholder, root, params, lit_span);
    let krate = krate_at(krate, check_span);
    let function = match check {
        PartCheck::Body => quote_spanned!(check_span=> #krate::__private::part),
        PartCheck::Companion => quote_spanned!(check_span=> #krate::__private::group_part),
    };
    quote_spanned! {check_span=>
        #function(
            (&&&&&&#krate::__private::PartTag(&#value)).__ttl_cached_part()
        )
    }
}

/// `key_part(&value)`, spanned where a type that is not `Hash + Eq` should be reported.
pub(crate) fn key_part_check_call(
    placeholder: &Placeholder,
    root: Root,
    params: &Params<'_>,
    lit_span: Span,
    krate: &TokenStream,
) -> TokenStream {
    let (value, check_span) = part_value(placeholder, root, params, lit_span);
    let krate = krate_at(krate, check_span);
    quote_spanned!(check_span=> #krate::check_key_part(&#value);)
}
