//! `#[ttl_cached]` on an impl block: caches the methods that carry `#[ttl_cached(...)]` and puts
//! their companions in an inherent impl of the same type, since a trait impl cannot hold extra
//! items. Placed above `#[async_trait]`, it runs first and sees plain `async fn`s.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{ImplItem, ItemImpl, Meta, Type, Visibility};

use crate::context::{default_krate, is_ttl_cached, written_twice, Context, Reach};
use crate::errors;
use crate::impl_args::ImplArgs;
use crate::rewrite::rewrite;
use crate::source::{Conflict, Summary};

// Input:
//
//     #[ttl_cached]
//     #[async_trait]
//     impl CloudProvider for GoogleDrive {
//         #[ttl_cached(ttl = 60, key = "<user_id>:<folder_id>", group = "<user_id>", ignore = [self])]
//         async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<..> { .. }
//     }
//
// Output:
//
//     #[async_trait]
//     impl CloudProvider for GoogleDrive {
//         async fn list_folders(&self, user_id: &str, folder_id: &str) -> Result<..> { cached body }
//     }
//     impl GoogleDrive {
//         pub fn list_folders_cache() -> &'static CacheHandle { .. }
//         pub async fn invalidate_list_folders(user_id: &str) -> usize { .. }
//     }
pub(crate) fn expand(args: TokenStream, mut item: ItemImpl) -> TokenStream {
    let ImplArgs {
        prefix,
        krate,
        mut errors,
    } = ImplArgs::parse(args);
    for param in &item.generics.params {
        if !matches!(param, syn::GenericParam::Lifetime(_)) {
            errors.error(
                param,
                "`#[ttl_cached]` on an impl block does not support generic parameters: the \
                 companions would go into an inherent impl that may not exist for every \
                 instantiation; implement the trait for each concrete type (`impl Trait for \
                 Client<Photos>`), or cache a method of an inherent `impl<T>` block (no attribute \
                 on the block), whose caches are one per instantiation",
            );
        }
    }
    if let Some((trait_path, _)) = &item.trait_ {
        if let Some(problem) = no_inherent_impl(&item.self_ty) {
            errors.error(
                &item.self_ty,
                format!(
                    "`#[ttl_cached]` puts the companions of a trait impl's cached methods \
                     (`<method>_cache()`, `invalidate_<method>`) in an inherent impl of the type, \
                     and `{ty}` {problem}: implement `{tr}` for a type of this crate instead, \
                     such as a newtype `struct Wrapper({ty});`",
                    ty = {
                        let ty = &item.self_ty;
                        display(&quote!(#ty))
                    },
                    tr = display(&quote!(#trait_path)),
                ),
            );
        }
    }
    let is_trait_impl = item.trait_.is_some();
    let self_ty = &item.self_ty;
    let mut companions = TokenStream::new();
    let mut cached = 0;
    let conflicts = match &item.trait_ {
        Some((trait_path, _)) if errors.is_empty() => Summary::of_call_site()
            .map(|summary| {
                summary.conflicts(trait_path, self_ty, prefix.as_deref().unwrap_or_default())
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    if !errors.is_empty() {
        // The block cannot be expanded: the methods stay as they are, without their attribute
        // (which would otherwise expand on its own and add errors of its own).
        for impl_item in &mut item.items {
            if let ImplItem::Fn(method) = impl_item {
                method.attrs.retain(|a| !is_ttl_cached(a));
            }
        }
        let errors = errors.combine().map(|e| e.to_compile_error());
        return quote!(#item #errors);
    }
    {
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let Some(position) = method.attrs.iter().position(is_ttl_cached) else {
                continue;
            };
            cached += 1;
            let attr = method.attrs.remove(position);
            if let Some(error) = written_twice(&mut method.attrs, &method.sig.ident) {
                errors.push(error);
            }
            let args = match &attr.meta {
                Meta::List(list) => list.tokens.clone(),
                Meta::Path(_) => TokenStream::new(),
                Meta::NameValue(nv) => {
                    errors.error(nv, "write the arguments as `#[ttl_cached(ttl = 60, ...)]`");
                    continue;
                }
            };
            let ctx = Context {
                reach: Reach::MarkedImpl,
                // A trait method has no visibility of its own; its companions are public like
                // the trait's methods.
                vis: if is_trait_impl {
                    Visibility::Public(Default::default())
                } else {
                    method.vis.clone()
                },
                attr_span: attr.span(),
                trait_impl: item
                    .trait_
                    .as_ref()
                    .map(|(path, _)| ((*item.self_ty).clone(), path.clone())),
                krate: krate.clone().unwrap_or_else(default_krate),
                prefix: prefix.clone().unwrap_or_default(),
            };
            let result = rewrite(args, &method.attrs, &method.sig, &mut method.block, &ctx);
            let name = method.sig.ident.unraw().to_string();
            if let Some((_, conflict)) = conflicts.iter().find(|(n, _)| *n == name) {
                // The other impl's companions stand; this one's would be "duplicate
                // definitions", one per companion. The cached method works without them.
                errors.error(
                    &method.sig.ident,
                    collision_message(&item.trait_, self_ty, &ctx.prefix, &name, conflict),
                );
                continue;
            }
            match result {
                Ok(tokens) => companions.extend(tokens),
                Err(failure) => {
                    errors.push(failure.error);
                    companions.extend(failure.stubs);
                }
            }
        }
        if cached == 0 {
            errors.error_at(
                Span::call_site(),
                "`#[ttl_cached]` on an impl block caches the methods marked \
                 `#[ttl_cached(ttl = ...)]`, and none is",
            );
        }
    }
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let errors = errors.combine().map(|e| e.to_compile_error());
    quote! {
        #item
        impl #impl_generics #self_ty #where_clause {
            #companions
        }
        #errors
    }
}

/// The same method name cached in two impls of one type (a second trait impl, or an inherent
/// impl): the fix is a prefix on this impl's companions, named after its trait.
fn collision_message(
    trait_: &Option<(syn::Path, syn::Token![for])>,
    self_ty: &Type,
    prefix: &str,
    name: &str,
    conflict: &Conflict,
) -> String {
    let ty = display(&quote!(#self_ty));
    let suggested = trait_
        .as_ref()
        .and_then(|(path, _)| path.segments.last())
        .map(|segment| format!("{}_", snake_case(&segment.ident.unraw().to_string())))
        .unwrap_or_else(|| "other_".to_string());
    format!(
        "`{ty}` already gets `{stem}_cache()` and `invalidate_{stem}` from the cached `{name}` \
         of `{other}`: give this impl's companions a prefix with \
         `#[ttl_cached(companion_prefix = \"{suggested}\")]` on the impl block, which names them \
         `{ty}::{suggested}{name}_cache()` and `{ty}::invalidate_{suggested}{name}`",
        stem = format_args!("{prefix}{name}"),
        other = conflict.other,
    )
}

/// `CloudProvider` → `cloud_provider`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Why `ty` cannot have an inherent impl in this crate, if it visibly cannot: a reference, a
/// tuple, a slice, or a type of the standard library.
fn no_inherent_impl(ty: &Type) -> Option<&'static str> {
    const STD_TYPES: &[&str] = &[
        "String", "str", "Vec", "Box", "Arc", "Rc", "Option", "Result", "HashMap", "HashSet",
        "BTreeMap", "BTreeSet", "VecDeque", "PathBuf", "Path", "OsString", "Cow", "Duration",
        "bool", "char", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
        "i128", "isize", "f32", "f64",
    ];
    match ty {
        Type::Reference(_) => Some("is a reference type, which cannot have an inherent impl"),
        Type::Path(path) if path.qself.is_none() => {
            let first = path.path.segments.first()?;
            let last = path.path.segments.last()?;
            let std_root = ["std", "core", "alloc"].iter().any(|r| first.ident == r);
            if std_root || STD_TYPES.iter().any(|t| last.ident == t) {
                Some("is a type of another crate, which cannot have an inherent impl here")
            } else {
                None
            }
        }
        Type::Paren(inner) => no_inherent_impl(&inner.elem),
        Type::Group(inner) => no_inherent_impl(&inner.elem),
        _ => Some("cannot have an inherent impl"),
    }
}

/// Tokens as a person writes them: `&'static L`, `Vec<String>`.
fn display(tokens: &TokenStream) -> String {
    errors::display(&tokens.to_string())
}
