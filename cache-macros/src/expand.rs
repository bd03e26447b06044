//! Code generation: the rewritten function and its companions.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Block, Ident, ReturnType, Signature, Type, Visibility};

use crate::args::Args;
use crate::errors::Errors;
use crate::fallback;
use crate::signature::Params;
use crate::template::Placeholder;
use crate::valid::{self, Plan, Root};

/// Where the function lives, which decides how its companions are reached and placed.
pub(crate) struct Context {
    /// Inside an impl block: the body reaches the cache as `Self::<fn>_cache()`.
    pub(crate) in_impl: bool,
    /// The companions' visibility.
    pub(crate) vis: Visibility,
    /// The impl's self type, for the cache's name.
    pub(crate) type_name: Option<String>,
    /// The attribute, for errors about the attribute as a whole.
    pub(crate) attr_span: Span,
}

/// What to emit when the attribute is wrong: the errors and stand-in companions, so the user
/// sees the real errors rather than "cannot find function `invalidate_...`" at every call.
pub(crate) struct Failure {
    pub(crate) error: syn::Error,
    pub(crate) stubs: TokenStream,
}

/// Rewrites `block` into the cached version and returns the companions. On error the block is
/// left as it was.
pub(crate) fn rewrite(
    args: TokenStream,
    attrs: &[Attribute],
    sig: &Signature,
    block: &mut Block,
    ctx: &Context,
) -> Result<TokenStream, Failure> {
    let mut parsed = Args::parse(args);
    let params = Params::of(sig);
    let mut errors = Errors::default();
    let plan = valid::plan(&mut parsed, sig, &params, ctx.attr_span, &mut errors);
    let Some(plan) = plan else {
        // A method `#[async_trait]` already rewrote sits in a trait impl, where stand-in
        // companions would only add "not a member of trait" errors.
        let in_trait_impl = sig.asyncness.is_none() && valid::returns_boxed_future(&sig.output);
        return Err(Failure {
            error: errors
                .combine()
                .unwrap_or_else(|| syn::Error::new(ctx.attr_span, "invalid `#[ttl_cached]`")),
            stubs: if in_trait_impl {
                TokenStream::new()
            } else {
                fallback::companions(&parsed, attrs, sig, &params, ctx)
            },
        });
    };
    let names = Names::of(sig);
    let handle = handle_call(&names, ctx);
    *block = body(sig, &params, &plan, &handle, block);
    Ok(companions(attrs, sig, &params, &plan, &names, &handle, ctx))
}

/// The generated identifiers of one function.
pub(crate) struct Names {
    pub(crate) function: Ident,
    pub(crate) cache: Ident,
    pub(crate) invalidate: Ident,
}

impl Names {
    pub(crate) fn of(sig: &Signature) -> Self {
        let function = sig.ident.unraw();
        Self {
            cache: format_ident!("{}_cache", function, span = Span::call_site()),
            invalidate: format_ident!("invalidate_{}", function, span = Span::call_site()),
            function,
        }
    }
}

pub(crate) fn handle_call(names: &Names, ctx: &Context) -> TokenStream {
    let cache = &names.cache;
    if ctx.in_impl {
        quote!(Self::#cache())
    } else {
        quote!(#cache())
    }
}

/// The traits whose `__ttl_cached_*` methods the expansion calls.
fn dispatch_imports() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use ::cache_core::__private::{
            InvalidPart as _, OptionRefPart as _, PlainKind as _, RefPart as _,
            RefRefPart as _, RetryErrKind as _, SharedErrKind as _, StrRefPart as _,
            UnownedPart as _, UnstorableKind as _, UnstorableOkKind as _, ValuePart as _,
        };
    }
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

// Input:
//
//     async fn list_folders(user_id: &str, provider: &str, folder_id: &str)
//         -> Result<Arc<Vec<Folder>>, ApiError> { BODY }
//
// Output (body only; key = "<user_id>:<provider>:<folder_id>", group = "<user_id>:<provider>"):
//
//     {
//         use ::cache_core::__private::{...dispatch traits... as _};
//         // Result with a Clone error: store Ok, share Err with waiters (autoref dispatch on
//         // the concrete type, so aliases like anyhow::Result are seen through).
//         // `stored_value` fails, once and on the return type, if the value is not storable.
//         let policy = stored_value((&&&ReturnTag::<Result<..>>::NEW).__ttl_cached_policy());
//         let lead = {
//             // Borrowed parts: a hit builds no String. Each part's value is checked to be
//             // `Hash + Eq` first, so that a bad part is one error on the user's parameter.
//             let key = {
//                 key_part_is_hash_eq(&user_id); ...
//                 Key { group: (part(user_id), (part(provider), ())), rest: (part(folder_id), ()) }
//             };
//             match start(list_folders_cache(), &key, &policy).await {
//                 Start::Done(value) => return value,   // hit, or another caller's fetch
//                 Start::Lead(lead) => lead,            // we fetch; dropping `lead` hands over
//             }
//         };
//         // The key's borrows ended above, so the body may move the parameters.
//         // The fake return edge makes the moved body's output the declared return type.
//         let outcome = fetch::<Result<..>, _>(async move {
//             if false { let r: Result<..> = loop {}; return r; }
//             BODY
//         }).await;
//         lead.finish(outcome, &policy).await
//     }
fn body(
    sig: &Signature,
    params: &Params<'_>,
    plan: &Plan,
    handle: &TokenStream,
    original: &Block,
) -> Block {
    let (ret_ty, ret_span) = return_type(sig);
    let imports = dispatch_imports();
    let policy = local("__ttl_cached_policy");
    let key = local("__ttl_cached_key");
    let lead = local("__ttl_cached_lead");
    let done = local("__ttl_cached_done");
    let outcome = local("__ttl_cached_outcome");
    // Spanned on the return type, so that a type that cannot be stored is reported there.
    // The check's argument is a plain local: were it spanned on the return type, rustc would
    // suggest borrowing the return type ("consider borrowing here") instead of printing the
    // message and its note. The error then points at the attribute and at the type's
    // definition, and names the type.
    let policy_expr = {
        let dispatch = quote_spanned! {ret_span=>
            (&&&&&::cache_core::__private::ReturnTag::<#ret_ty>::NEW).__ttl_cached_policy()
        };
        quote!({
            let #policy = #dispatch;
            ::cache_core::__private::stored_value(#policy)
        })
    };
    // The fake return edge: the moved body's output is the declared return type, so the body
    // is checked against it exactly as in the original function (coercions such as
    // `Arc<closure>` to `Arc<dyn Fn()>` work, and a type error points into the body).
    let unreachable = local("__ttl_cached_unreachable");
    let return_edge = quote_spanned! {ret_span=>
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::needless_return
        )]
        if false {
            let #unreachable: #ret_ty = loop {};
            return #unreachable;
        }
    };
    let lit_span = plan.key.lit.span();
    let placeholders = &plan.key.placeholders;
    let checks = placeholders
        .iter()
        .zip(&plan.roots)
        .map(|(placeholder, root)| key_part_check_call(placeholder, *root, params, lit_span));
    let group = part_list(
        &placeholders[..plan.group_len],
        &plan.roots,
        params,
        lit_span,
        PartCheck::Body,
    );
    let rest = part_list(
        &placeholders[plan.group_len..],
        &plan.roots[plan.group_len..],
        params,
        lit_span,
        PartCheck::Body,
    );
    let stmts = &original.stmts;
    let tokens = quote! {{
        #imports
        let #policy = #policy_expr;
        let #lead = {
            let #key = {
                #(#checks)*
                ::cache_core::__private::Key { group: #group, rest: #rest }
            };
            if let ::core::option::Option::Some(#done) =
                ::cache_core::__private::lookup(#handle, &#key, &#policy)
            {
                return #done;
            }
            match ::cache_core::__private::start(#handle, &#key, &#policy).await {
                ::cache_core::__private::Start::Done(#done) => return #done,
                ::cache_core::__private::Start::Lead(#lead) => #lead,
            }
        };
        let #outcome = ::cache_core::__private::fetch::<#ret_ty, _>(async move {
            #return_edge
            #(#stmts)*
        }).await;
        #lead.finish(#outcome, &#policy).await
    }};
    // The body re-parses: it is the user's statements inside generated ones.
    syn::parse2(tokens).expect("generated body is a block")
}

fn return_type(sig: &Signature) -> (Type, Span) {
    match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), sig.ident.span()),
        ReturnType::Type(_, ty) => ((**ty).clone(), ty.span()),
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
) -> TokenStream {
    placeholders
        .iter()
        .zip(roots)
        .rev()
        .fold(quote!(()), |list, (placeholder, root)| {
            let part = part(placeholder, *root, params, lit_span, check);
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
) -> TokenStream {
    let (value, check_span) = part_value(placeholder, root, params, lit_span);
    let function = match check {
        PartCheck::Body => quote_spanned!(check_span=> ::cache_core::__private::part),
        PartCheck::Companion => quote_spanned!(check_span=> ::cache_core::__private::group_part),
    };
    quote_spanned! {check_span=>
        #function(
            (&&&&&&::cache_core::__private::PartTag(&#value)).__ttl_cached_part()
        )
    }
}

/// `key_part(&value)`, spanned where a type that is not `Hash + Eq` should be reported.
fn key_part_check_call(
    placeholder: &Placeholder,
    root: Root,
    params: &Params<'_>,
    lit_span: Span,
) -> TokenStream {
    let (value, check_span) = part_value(placeholder, root, params, lit_span);
    quote_spanned!(check_span=> ::cache_core::__private::key_part_is_hash_eq(&#value);)
}

/// Attributes of the function repeated on its companions: `#[cfg]`, so they exist when it
/// does, and `#[allow]`, since `invalidate_<fn>` mirrors its parameters (and their lints).
pub(crate) fn cfg_attrs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs
        .iter()
        .filter(|a| {
            ["cfg", "cfg_attr", "allow"]
                .iter()
                .any(|name| a.path().is_ident(name))
        })
        .collect()
}

pub(crate) fn cache_name(names: &Names, ctx: &Context) -> TokenStream {
    let function = names.function.to_string();
    match &ctx.type_name {
        Some(ty) => quote!(::core::concat!(::core::module_path!(), "::", #ty, "::", #function)),
        None => quote!(::core::concat!(::core::module_path!(), "::", #function)),
    }
}

fn companions(
    attrs: &[Attribute],
    sig: &Signature,
    params: &Params<'_>,
    plan: &Plan,
    names: &Names,
    handle: &TokenStream,
    ctx: &Context,
) -> TokenStream {
    let cfgs = cfg_attrs(attrs);
    let vis = &ctx.vis;
    let Names {
        function,
        cache,
        invalidate,
    } = names;
    let name = cache_name(names, ctx);
    let secs = plan.ttl.secs;
    let nanos = plan.ttl.nanos;
    let capacity = plan.capacity;
    let static_name = Ident::new("__TTL_CACHED_HANDLE", Span::mixed_site());
    let cache_doc = format!(
        " The cache behind `{function}`: entry count, statistics and `clear`. \
         Generated by `#[ttl_cached]`."
    );

    let group_text = plan.key.placeholders[..plan.group_len]
        .iter()
        .map(|p| format!("<{}>", p.text))
        .collect::<Vec<_>>()
        .join(":");
    let invalidate_doc = if group_text.is_empty() {
        format!(
            " Evicts every cached result of `{function}` (its key has no parts), and returns \
             how many entries were removed. Generated by `#[ttl_cached]`."
        )
    } else {
        format!(
            " Evicts every cached result of `{function}` in the group `{group_text}`, \
             including results of fetches still running, and returns how many entries were \
             removed. Generated by `#[ttl_cached]`."
        )
    };
    let (receiver, inputs) = group_inputs(plan, params);
    let generics = &sig.generics;
    let where_clause = &sig.generics.where_clause;
    let imports = dispatch_imports();
    let group_local = local("__ttl_cached_group");
    let group = part_list(
        &plan.key.placeholders[..plan.group_len],
        &plan.roots,
        params,
        plan.key.lit.span(),
        PartCheck::Companion,
    );

    quote! {
        #(#cfgs)*
        #[doc = #cache_doc]
        #[must_use]
        #vis fn #cache() -> &'static ::cache_core::CacheHandle {
            static #static_name: ::cache_core::CacheHandle = ::cache_core::CacheHandle::__new(
                #name,
                ::core::time::Duration::new(#secs, #nanos),
                #capacity,
            );
            &#static_name
        }

        #(#cfgs)*
        #[doc = #invalidate_doc]
        #vis fn #invalidate #generics (#receiver #(#inputs),*) -> ::cache_core::Invalidated<::core::primitive::usize> #where_clause {
            #imports
            let #group_local = #group;
            ::cache_core::__private::invalidate_group(#handle, &#group_local)
        }
    }
}

/// The parameters of `invalidate_<fn>`: `&self` if the group uses `self`, then each group
/// parameter with its declared type.
fn group_inputs(plan: &Plan, params: &Params<'_>) -> (TokenStream, Vec<TokenStream>) {
    let mut receiver = TokenStream::new();
    let mut inputs = Vec::new();
    for root in plan.group_roots() {
        match root {
            Root::SelfValue => receiver = quote!(&self,),
            Root::Param(index) => {
                let param = &params.params[index];
                let ident = param.ident().expect("group roots are named parameters");
                let ty = param.ty;
                inputs.push(quote!(#ident: #ty));
            }
        }
    }
    (receiver, inputs)
}
