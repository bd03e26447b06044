//! Code generation of the cached body, and of the `static` through which the body and the
//! companions reach the function's cache.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Block, Ident, ReturnType, Signature, Type};

use crate::context::{krate_at, local, Context, Names, Reach};
use crate::parts::{dispatch_imports, key_part_check_call, part_list, PartCheck};
use crate::plan::Plan;
use crate::signature::{return_type, Params};
use crate::values::{Capacity, Ttl};

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
    let handles = match plan.throttle {
        Some((secs, nanos)) => quote! {
            #handles.throttle(::core::time::Duration::new(#secs, #nanos))
        },
        None => handles,
    };
    let handles = match &plan.timeout {
        Some((secs, nanos, _)) => quote! {
            #handles.timeout(::core::time::Duration::new(#secs, #nanos))
        },
        None => handles,
    };
    let handles = match plan.soft_timeout {
        Some((secs, nanos)) => quote! {
            #handles.soft_timeout(::core::time::Duration::new(#secs, #nanos))
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
pub(crate) fn body(
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
    // `shared_tier = ..`: sets the cache's tier before the miss path starts, once. Spanned on
    // the argument, where an error about the value's serde bounds (or, on the handle's `&*`,
    // the missing feature) goes; a `NAME` of the wrong type is reported on the name.
    let share = plan.shared_tier.as_ref().map(|(arg, named)| {
        let at = Span::call_site().located_at(arg.span());
        let at_krate = krate_at(krate, at);
        match named {
            None => quote_spanned! {at=>
                #at_krate::shared_tier(&*#handle_local, &#key, &#policy);
            },
            Some(path) => {
                let at_path = krate_at(krate, path.span());
                let settings = quote_spanned! {path.span()=> #at_path::shared_tier_setting(&#path)};
                quote_spanned! {at=>
                    #at_krate::shared_tier_with(&*#handle_local, &#key, &#policy, || #settings);
                }
            }
        }
    });
    let mut filters = store_filters(plan, &policy, krate);
    filters.extend(error_filters(plan, &policy, &ret_ty, krate));
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
            // `soft_timeout = ".."`: the miss's body may go on in the background too.
            let complete = match plan.soft_timeout {
                None => quote! {
                    #krate::__private::complete::<#ret_ty, _, _, _, _>(
                        #lead, #fetch, &#policy,
                    ).await
                },
                Some(_) => quote_spanned! {at=>
                    #at_krate::__private::complete_stale::<#ret_ty, _, _, _, _>(
                        #handle_local, #lead, #fetch, #policy,
                    ).await
                },
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
                        ::core::result::Result::Ok(#lead) => #complete,
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
            #share
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

// Input: `stale_if_error = "5m", serve_stale_if = |e| e.is_transient(), revoke_if = |e| ..`
//
// Output, after the store filters:
//
//     use ::cache_core::__private::{HintedKind as _, UnhintedKind as _};
//     // Reads the error's `RetryAfter` hints where its type has them (autoref dispatch).
//     let policy = (&&::cache_core::__private::HintTag::<ReturnType>::NEW)
//         .__ttl_cached_hinted(policy);
//     let policy = ::cache_core::serve_stale_if(policy, |e| e.is_transient()); // on the closure
//     let policy = ::cache_core::revoke_if(policy, |e| ..);                    // on the closure
//     let policy = ::cache_core::fetch_timeout(policy); // `timeout = ".."`, on `timeout`
//
// The hints only with a stale window: without one, a hint has nothing to extend, and the
// expansion stays as it was. `revoke_if` applies without one too.
fn error_filters(plan: &Plan, policy: &Ident, ret_ty: &Type, krate: &TokenStream) -> TokenStream {
    let mut filters = TokenStream::new();
    if plan.stale.is_some() || plan.stale_if_error.is_some() {
        filters.extend(quote! {
            #[allow(unused_imports)]
            use #krate::__private::{HintedKind as _, UnhintedKind as _};
            let #policy =
                (&&#krate::__private::HintTag::<#ret_ty>::NEW).__ttl_cached_hinted(#policy);
        });
    }
    // `timeout = ".."`: the error type must say a fetch timed out; an error here is on `timeout`.
    if let Some((_, _, timeout)) = &plan.timeout {
        let span = timeout.span();
        let at = krate_at(krate, span);
        filters.extend(quote_spanned! {span=>
            let #policy = #at::fetch_timeout(#policy);
        });
    }
    for (predicate, wrapper) in [
        (&plan.serve_stale_if, "serve_stale_if"),
        (&plan.revoke_if, "revoke_if"),
    ] {
        if let Some(predicate) = predicate {
            let span = predicate.span();
            let at = krate_at(krate, span);
            let wrapper = Ident::new(wrapper, span);
            filters.extend(quote_spanned! {span=>
                let #policy = #at::#wrapper(#policy, #predicate);
            });
        }
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
