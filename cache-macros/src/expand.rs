//! Code generation: the rewritten function and its companions.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Block, Ident, ReturnType, Signature, Type};

use crate::args::Args;
use crate::context::{cfg_attrs, default_krate, Context, Names, Reach};
use crate::errors::Errors;
use crate::fallback;
use crate::signature::Params;
use crate::template::Placeholder;
use crate::valid::{self, Plan, Root};
use crate::values::{Capacity, Ttl};

/// `krate` with every token spanned at `span`, so that errors through the default path into the
/// runtime land where the expansion puts them. A path from `crate = "..."` keeps the string's
/// span: if it does not resolve, every error is on the string, and rustc shows them once.
pub(crate) fn krate_at(krate: &TokenStream, span: Span) -> TokenStream {
    if krate.to_string() != default_krate().to_string() {
        return krate.clone();
    }
    krate
        .clone()
        .into_iter()
        .map(|mut tree| {
            tree.set_span(span);
            tree
        })
        .collect()
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
    let callee = callee(sig, &args, ctx);
    let mut parsed = Args::parse(args);
    let overridden;
    let ctx = match parsed.krate.take() {
        Some(krate) => {
            overridden = Context {
                krate,
                ..ctx.clone()
            };
            &overridden
        }
        None => ctx,
    };
    let params = Params::of(sig);
    let mut errors = Errors::default();
    let plan = valid::plan(&mut parsed, sig, &params, ctx.attr_span, &mut errors);
    let Some(plan) = plan else {
        // A method `#[async_trait]` already rewrote sits in a trait impl, where stand-in
        // companions would only add "not a member of trait" errors.
        let in_trait_impl = sig.asyncness.is_none()
            && valid::returns_boxed_future(&sig.output)
            && valid::written_by_async_trait(&sig.output);
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
    let names = Names::of(sig, &ctx.prefix);
    let handle = handle_expr(&names, &plan, ctx);
    *block = body(sig, &params, &plan, &handle, block, &ctx.krate);
    let companions = Companions {
        attrs,
        sig,
        params: &params,
        plan: &plan,
        names: &names,
        handle: &handle,
        ctx,
    };
    Ok(companions.expand(&callee))
}

/// How `refresh_<fn>`, beside the function, names it: `<Self as Trait>::f` from the inherent
/// impl of a trait impl's companions, `Self::f` from an impl, `f` beside a free function. A
/// function whose expansion cannot tell (no `self`, no `Self` in its signature) is looked up in
/// its file; where the file cannot be read it is taken for a free function, and in an impl the
/// call is rustc's "cannot find function", on the function's name, which says to mark the
/// impl block (or to use a newer compiler).
fn callee(sig: &Signature, args: &TokenStream, ctx: &Context) -> TokenStream {
    let ident = &sig.ident;
    // Alone, the name would resolve to a parameter of the same name (`async fn folder(folder:
    // u32)`); with the expansion's hygiene, it sees no local variable of the user's.
    let mut alone = ident.clone();
    alone.set_span(Span::mixed_site().located_at(ident.span()));
    match (&ctx.trait_impl, ctx.reach) {
        (Some((_, trait_path)), _) => quote!(<Self as #trait_path>::#ident),
        (None, Reach::MarkedImpl | Reach::SelfType) => quote!(Self::#ident),
        (None, Reach::Probe) => {
            let in_impl = crate::source::Summary::of_call_site()
                .and_then(|summary| summary.in_impl(sig, args));
            if in_impl == Some(true) {
                quote!(Self::#ident)
            } else {
                quote!(#alone)
            }
        }
    }
}

/// How the body, `<fn>_cache()` and `invalidate_<fn>` reach the cache: each keeps a `static` of
/// its own, found by the attribute's position (the same in the three, which come from one
/// expansion), the function's name and its owner (`Self`, one cache per type a generic impl is
/// instantiated with). The body does not depend on the companions: in a trait impl they are
/// elsewhere, and a user item named like a companion (or a second trait impl caching a method of
/// the same name) is a "defined multiple times" error, not also an error at every use.
pub(crate) fn handle_expr(names: &Names, plan: &Plan, ctx: &Context) -> TokenStream {
    let site = local("__TTL_CACHED_SITE");
    // With a `companion_prefix`, the cache's name has it too: two trait impls' caches of one
    // method are then told apart in statistics and traces, as their companions are.
    let function = format!("{}{}", ctx.prefix, names.function);
    let krate = &ctx.krate;
    let position = quote!(::core::concat!(
        ::core::file!(),
        ":",
        ::core::line!(),
        ":",
        ::core::column!()
    ));
    let handles = match (&plan.ttl, &plan.capacity) {
        (Ttl::Written { secs, nanos }, Capacity::Written(capacity)) => quote! {
            #krate::__private::SiteHandles::new(
                #function,
                #position,
                ::core::time::Duration::new(#secs, #nanos),
                #capacity,
            )
        },
        // A named setting is read when the cache is made, through a function: a `static` may
        // not be read where the handles are built (a constant context), and the setting's type
        // is checked on the name the user wrote.
        (ttl, capacity) => {
            let ttl = match ttl {
                Ttl::Written { secs, nanos } => quote!(::core::time::Duration::new(#secs, #nanos)),
                Ttl::Named(path) => {
                    let at = krate_at(krate, path.span());
                    quote_spanned!(path.span()=> #at::ttl_setting(&#path))
                }
            };
            let capacity = match capacity {
                Capacity::Written(capacity) => quote!(#capacity),
                Capacity::Named(path) => {
                    let at = krate_at(krate, path.span());
                    quote_spanned!(path.span()=> #at::capacity_setting(&#path))
                }
            };
            quote! {
                #krate::__private::SiteHandles::configured(
                    #function,
                    #position,
                    || #ttl,
                    || #capacity,
                )
            }
        }
    };
    // Only written when given, so that an attribute without them expands as before.
    let handles = match &plan.stale {
        Some((secs, nanos, _)) => quote! {
            #handles.stale(::core::time::Duration::new(#secs, #nanos))
        },
        None => handles,
    };
    let handles = match plan.stale_if_error {
        Some((secs, nanos)) => quote! {
            #handles.stale_if_error(::core::time::Duration::new(#secs, #nanos))
        },
        None => handles,
    };
    let handles = match plan.jitter {
        Some(fraction) => quote!(#handles.jitter(#fraction)),
        None => handles,
    };
    let declare = quote! {
        static #site: #krate::__private::SiteHandles = #handles;
    };
    match ctx.reach {
        Reach::MarkedImpl | Reach::SelfType => quote!({ #declare #site.of_type::<Self>() }),
        Reach::Probe => quote!({
            #declare
            #site.of_probe(#krate::__private::probe(&|| {}))
        }),
    }
}

/// The traits whose `__ttl_cached_*` methods the expansion calls.
fn dispatch_imports(krate: &TokenStream) -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use #krate::__private::{
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
//         // `check_cached_value` fails, once and on the value type (`Arc<Vec<Folder>>`), if
//         // the value is not storable.
//         let policy = check_cached_value((&&&ReturnTag::<Result<..>>::NEW).__ttl_cached_policy());
//         let lead = {
//             // Borrowed parts: a hit builds no String. Each part's value is checked to be
//             // `Hash + Eq` first, so that a bad part is one error on the user's parameter.
//             let key = {
//                 check_key_part(&user_id); ...
//                 Key { group: (part(user_id), (part(provider), ())), rest: (part(folder_id), ()) }
//             };
//             match start(list_folders_cache(), &key, &policy).await {
//                 Start::Done(value) => return value,   // hit, or another caller's fetch
//                 Start::Lead(lead) => lead,            // we fetch; dropping `lead` hands over
//             }
//         };
//         // The key's borrows ended above, so the body may move the parameters.
//         // The fake return edge makes the moved body's output the declared return type; one
//         // future runs the body, then stores and publishes its outcome.
//         complete::<Result<..>, _, _, _, _>(lead, async move {
//             if false { let r: Result<..> = loop {}; return r; }
//             BODY
//         }, &policy).await
//     }
fn body(
    sig: &Signature,
    params: &Params<'_>,
    plan: &Plan,
    handle: &TokenStream,
    original: &Block,
    krate: &TokenStream,
) -> Block {
    let (ret_ty, ret_span) = return_type(sig);
    let imports = dispatch_imports(krate);
    let policy = local("__ttl_cached_policy");
    let key = local("__ttl_cached_key");
    let lead = local("__ttl_cached_lead");
    let done = local("__ttl_cached_done");
    // The check that the value can be stored is reported on the user's value type: the `Ok`
    // type of a `Result` written as such (`Result<T, E>`, `anyhow::Result<T>`), else the return
    // type. Its tokens keep the expansion's context but take that location (`located_at`):
    // spanned with the user's own context, rustc would propose borrowing the return type
    // ("consider borrowing here") in place of the message and its note; with the call site's
    // location, the error would point at the attribute.
    let policy_expr = {
        let at_ret = krate_at(krate, ret_span);
        let dispatch = quote_spanned! {ret_span=>
            (&&&&&#at_ret::__private::ReturnTag::<#ret_ty>::NEW).__ttl_cached_policy()
        };
        let (first, last) = value_type(&sig.output).map_or((ret_span, ret_span), ends);
        let at = Span::call_site().located_at(first);
        let at_krate = krate_at(krate, at);
        let checked = Ident::new("__ttl_cached_policy", Span::mixed_site().located_at(at));
        // The call's closing parenthesis at the type's last token: the call covers the type.
        let mut args = proc_macro2::Group::new(
            proc_macro2::Delimiter::Parenthesis,
            quote_spanned!(at=> #checked),
        );
        args.set_span(Span::call_site().located_at(last));
        let check = quote_spanned!(at=> #at_krate::check_cached_value #args);
        quote!({
            let #policy = #dispatch;
            #check
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
        .map(|(placeholder, root)| {
            key_part_check_call(placeholder, *root, params, lit_span, krate)
        });
    let group = part_list(
        &placeholders[..plan.group_len],
        &plan.roots,
        params,
        lit_span,
        PartCheck::Body,
        krate,
    );
    let rest = part_list(
        &placeholders[plan.group_len..],
        &plan.roots[plan.group_len..],
        params,
        lit_span,
        PartCheck::Body,
        krate,
    );
    let stmts = &original.stmts;
    let handle_local = local("__ttl_cached_handle");
    // `scope = S`: the group's parts are checked against the scope's (the error is on `S`), and
    // the miss path joins the cache to the scope before its fetch begins.
    let join_scope = plan.scope.as_ref().map(|scope| {
        let at = krate_at(krate, scope.span());
        // The group is handed to the check under a name spanned on the scope's path, which is
        // where a mismatch is then reported.
        let group = Ident::new("__ttl_cached_scope_group", scope.span());
        let check = quote_spanned! {scope.span()=>
            let #group = &#key.group;
            #at::__private::check_scope::<#scope, _>(#group);
        };
        quote! {
            #check
            #krate::__private::join_scope(
                #handle_local,
                &#key,
                &#policy,
                <#scope as #krate::Scope>::core(),
            );
        }
    });
    let filters = store_filters(plan, &policy, krate);
    // `stale = ".."` starts with `StaleStart`, which has a `Stale` answer too.
    let start_enum = match &plan.stale {
        None => quote!(Start),
        Some(_) => quote!(StaleStart),
    };
    let (start, finish) = match &plan.stale {
        None => (
            quote! {
                match #krate::__private::start(#handle_local, &#key, &#policy).await {
                    __TtlCachedStart::Done(#done) => return #done,
                    __TtlCachedStart::Lead(#lead) => #lead,
                }
            },
            quote! {
                #krate::__private::complete::<#ret_ty, _, _, _, _>(#lead, async move {
                    #return_edge
                    #(#stmts)*
                }, &#policy).await
            },
        ),
        // `stale = ".."`: the body's future is built over owned copies of the borrowed
        // parameters, after the key's borrows ended, only when it runs (inline on a miss, or
        // spawned as the background refresh of an expired value); a hit or a stale answer
        // with a refresh already running copies nothing.
        Some((_, _, stale)) => {
            let (copies, rebind, renamed) = crate::stale::copies(params, krate);
            // `&self`: the body runs on a clone, its `self` tokens renamed to the clone's
            // borrow (`let self = ..` cannot be written).
            let stmts = match &renamed {
                None => quote!(#(#stmts)*),
                Some(renamed) => crate::stale::rename_self(quote!(#(#stmts)*), renamed),
            };
            let fetch = local("__ttl_cached_fetch");
            let refresh = local("__ttl_cached_refresh");
            // Spawning requires the body's future to be `Send + 'static`: an error there is
            // reported on `stale`, with rustc's notes pointing into the body.
            let at = Span::call_site().located_at(stale.span());
            let at_krate = krate_at(krate, at);
            let spawn = quote_spanned! {at=>
                #at_krate::__private::revalidate(#refresh, #fetch, #policy)
            };
            (
                quote! {
                    match #krate::__private::start_stale(#handle_local, &#key, &#policy).await {
                        __TtlCachedStart::Done(#done) => return #done,
                        __TtlCachedStart::Stale(#done, ::core::option::Option::None) => {
                            return #done;
                        }
                        __TtlCachedStart::Stale(
                            #done,
                            ::core::option::Option::Some(#refresh),
                        ) => ::core::result::Result::Err((#done, #refresh)),
                        __TtlCachedStart::Lead(#lead) => {
                            ::core::result::Result::Ok(#lead)
                        }
                    }
                },
                quote! {
                    #copies
                    let #fetch = async move {
                        #rebind
                        #return_edge
                        #stmts
                    };
                    match #lead {
                        ::core::result::Result::Ok(#lead) => {
                            #krate::__private::complete::<#ret_ty, _, _, _, _>(
                                #lead, #fetch, &#policy,
                            ).await
                        }
                        ::core::result::Result::Err((#done, #refresh)) => {
                            #spawn;
                            #done
                        }
                    }
                },
            )
        }
    };
    let tokens = quote! {
        #imports
        // Imported rather than named in the patterns: with a `crate = "..."` path that does not
        // resolve, the import fails like every other path, on the string, and rustc shows that
        // error once; a pattern would add a second error suggesting an unrelated `Start`.
        use #krate::__private::#start_enum as __TtlCachedStart;
        let #handle_local: &'static #krate::CacheHandle = #handle;
        let #policy = #policy_expr;
        #filters
        let #lead = {
            let #key = {
                #(#checks)*
                #krate::__private::Key { group: #group, rest: #rest }
            };
            if let ::core::option::Option::Some(#done) =
                #krate::__private::lookup(#handle_local, &#key, &#policy)
            {
                return #done;
            }
            #join_scope
            #start
        };
        #finish
    };
    // The tokens as they are, not parsed again into statements: parsing the user's statements a
    // second time was most of the attribute's own running time, once per cached function.
    Block {
        brace_token: syn::token::Brace::default(),
        stmts: vec![syn::Stmt::Expr(syn::Expr::Verbatim(tokens), None)],
    }
}

// Input: `store_none = false, store_if = |listing| !listing.is_empty()`
//
// Output, after the policy is chosen:
//
//     let policy = ::cache_core::store_none_false(policy);   // spanned on `false`
//     let policy = ::cache_core::store_if(policy, |listing| !listing.is_empty()); // on the closure
//
// Each wrapper is called with the user's tokens' location, so that a predicate of the wrong
// type, or `store_none = false` on a value that is not an `Option`, is one error there.
fn store_filters(plan: &Plan, policy: &Ident, krate: &TokenStream) -> TokenStream {
    let mut filters = TokenStream::new();
    if let Some(store_none) = &plan.store_none_false {
        let span = store_none.span();
        let at = krate_at(krate, span);
        filters.extend(quote_spanned! {span=>
            let #policy = #at::store_none_false(#policy);
        });
    }
    if let Some(predicate) = &plan.store_if {
        let span = predicate.span();
        let at = krate_at(krate, span);
        filters.extend(quote_spanned! {span=>
            let #policy = #at::store_if(#policy, #predicate);
        });
    }
    filters
}

/// Where a value that cannot be stored is reported: the `Ok` type of a return type written
/// `Result<T, ..>` (any path ending in `Result`, aliases such as `anyhow::Result<T>` included),
/// since that is the value stored; else the return type.
fn value_type(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let ok = match &**ty {
        Type::Path(path) => path.path.segments.last().and_then(|last| {
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match args.args.first() {
                Some(syn::GenericArgument::Type(ok)) if last.ident == "Result" => Some(ok),
                _ => None,
            }
        }),
        _ => None,
    };
    Some(ok.unwrap_or(ty))
}

/// The spans of the first and the last token of `ty`: on a stable compiler a span cannot be
/// joined, so a generated expression covers the type by starting at one and ending at the other.
fn ends(ty: &Type) -> (Span, Span) {
    let mut tokens = ty.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    (first, last)
}

pub(crate) fn return_type(sig: &Signature) -> (Type, Span) {
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
fn key_part_check_call(
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

/// What the companions are generated from.
struct Companions<'a> {
    attrs: &'a [Attribute],
    sig: &'a Signature,
    params: &'a Params<'a>,
    plan: &'a Plan,
    names: &'a Names,
    handle: &'a TokenStream,
    ctx: &'a Context,
}

impl Companions<'_> {
    fn expand(&self, callee: &TokenStream) -> TokenStream {
        let Self {
            attrs,
            sig,
            params,
            plan,
            names,
            handle,
            ctx,
        } = self;
        let cfgs = cfg_attrs(attrs);
        let vis = &ctx.vis;
        let krate = &ctx.krate;
        let Names {
            function,
            cache,
            invalidate,
            invalidate_key,
            refresh,
        } = names;
        // In a marked impl, `Self` is known to be an impl's type. Elsewhere, a method's
        // companions first require it, so that on a trait's default method they are one error
        // rather than items of the trait.
        let cache_body = match ctx.reach {
            Reach::MarkedImpl | Reach::Probe => quote!(#handle),
            Reach::SelfType => {
                let at_attr = krate_at(krate, ctx.attr_span);
                let check = quote_spanned! {ctx.attr_span=>
                    #at_attr::__private::method_of_an_impl::<Self>();
                };
                quote!(#check #handle)
            }
        };
        let cache_doc = format!(
            " The cache behind `{function}`: entry count, statistics, `clear` and settings. \
             Generated by `#[ttl_cached]`."
        );
        let template = |placeholders: &[Placeholder]| {
            placeholders
                .iter()
                .map(|p| format!("<{}>", p.text))
                .collect::<Vec<_>>()
                .join(":")
        };
        let group_text = template(&plan.key.placeholders[..plan.group_len]);
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
        let key_text = template(&plan.key.placeholders);
        let invalidate_key_doc = format!(
            " Evicts the cached result of `{function}` for one key `{key_text}`, including the \
             result of a fetch of it still running, and returns whether one was stored. \
             Generated by `#[ttl_cached]`."
        );
        let refresh_doc = format!(
            " Runs `{function}` now, without reading its cache or waiting for a call of the same \
             key already running, stores the result as a call would (unless the key is \
             invalidated meanwhile), and returns it. Calls of the same key that arrive meanwhile \
             wait for it and receive its result. Generated by `#[ttl_cached]`."
        );
        let generics = &sig.generics;
        let where_clause = &sig.generics.where_clause;
        let imports = dispatch_imports(krate);
        let lit_span = plan.key.lit.span();
        let companion_parts = |from: usize, to: usize| {
            part_list(
                &plan.key.placeholders[from..to],
                &plan.roots[from..to],
                params,
                lit_span,
                PartCheck::Companion,
                krate,
            )
        };
        let group = companion_parts(0, plan.group_len);
        let rest = companion_parts(plan.group_len, plan.roots.len());
        let (group_receiver, group_inputs) = root_inputs(&plan.group_roots(), params, ctx);
        let (key_receiver, key_inputs) = root_inputs(&plan.key_roots(), params, ctx);
        let group_local = local("__ttl_cached_group");
        let key_local = local("__ttl_cached_key");
        let policy_local = local("__ttl_cached_policy");
        let refresh_local = local("__ttl_cached_refresh");
        let (ret_ty, _) = return_type(sig);
        let ret_ty = ctx.companion_type(&ret_ty);
        let (refresh_inputs, call_args) = call_inputs(params, ctx);
        // `scope = S`: the refresh joins the cache to the scope before it takes its stamp, as
        // the miss path does, so that a refresh that is the cache's first use is fenced by a
        // scope invalidation in progress like any fetch.
        let join_scope = plan.scope.as_ref().map(|scope| {
            quote! {
                #krate::__private::join_scope(
                    #handle,
                    &#key_local,
                    &#policy_local,
                    <#scope as #krate::Scope>::core(),
                );
            }
        });

        // `#[inline]`: the companions are small and rarely called, and a non-generic `pub fn` is
        // otherwise compiled in the crate that defines it, whether or not anything calls it;
        // inline, it is compiled where it is used, if anywhere. The statics stay one item each.
        quote! {
            #(#cfgs)*
            #[doc = #cache_doc]
            #[must_use]
            #[inline]
            #vis fn #cache() -> &'static #krate::CacheHandle {
                #cache_body
            }

            #(#cfgs)*
            #[doc = #invalidate_doc]
            #[inline]
            #vis fn #invalidate #generics (#group_receiver #(#group_inputs),*) -> #krate::Invalidated<::core::primitive::usize> #where_clause {
                #imports
                let #group_local = #group;
                #krate::__private::invalidate_group(#handle, &#group_local)
            }

            #(#cfgs)*
            #[doc = #invalidate_key_doc]
            #[inline]
            #vis fn #invalidate_key #generics (#key_receiver #(#key_inputs),*) -> #krate::Invalidated<::core::primitive::bool> #where_clause {
                #imports
                let #key_local = #krate::__private::Key { group: #group, rest: #rest };
                #krate::__private::invalidate_key(#handle, &#key_local)
            }

            #(#cfgs)*
            #[doc = #refresh_doc]
            #vis async fn #refresh #generics (#(#refresh_inputs),*) -> #ret_ty #where_clause {
                #imports
                let #refresh_local = {
                    let #policy_local =
                        (&&&&&#krate::__private::ReturnTag::<#ret_ty>::NEW).__ttl_cached_policy();
                    let #key_local = #krate::__private::Key { group: #group, rest: #rest };
                    #join_scope
                    #krate::__private::begin_refresh(#handle, &#key_local, &#policy_local)
                };
                #krate::__private::refreshing(#refresh_local, #callee(#(#call_args),*)).await
            }
        }
    }
}

/// The parameters of `refresh_<fn>`, the function's own, and the arguments it calls the
/// function with: named parameters keep their names (without `mut`), destructured and `_`
/// parameters get one (their parts are never in the key).
pub(crate) fn call_inputs(
    params: &Params<'_>,
    ctx: &Context,
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut inputs = Vec::new();
    let mut args = Vec::new();
    if let Some(receiver) = params.receiver {
        let mut receiver = receiver.clone();
        receiver.mutability = None;
        receiver.attrs.clear();
        inputs.push(quote!(#receiver));
        args.push(quote!(self));
    }
    for (index, param) in params.params.iter().enumerate() {
        let name = match param.ident() {
            Some(ident) => ident.clone(),
            None => local(&format!("__ttl_cached_arg{index}")),
        };
        let ty = ctx.companion_type(param.ty);
        inputs.push(quote!(#name: #ty));
        args.push(quote!(#name));
    }
    (inputs, args)
}

/// The parameters of `invalidate_<fn>` (`roots`: the group's) and `invalidate_<fn>_key` (the
/// key's): `&self` if they use `self`, then each parameter with its declared type.
fn root_inputs(
    roots: &[Root],
    params: &Params<'_>,
    ctx: &Context,
) -> (TokenStream, Vec<TokenStream>) {
    let mut receiver = TokenStream::new();
    let mut inputs = Vec::new();
    for &root in roots {
        match root {
            Root::SelfValue => receiver = quote!(&self,),
            Root::Param(index) => {
                let param = &params.params[index];
                let ident = param.ident().expect("group roots are named parameters");
                let ty = ctx.companion_type(param.ty);
                inputs.push(quote!(#ident: #ty));
            }
        }
    }
    (receiver, inputs)
}
