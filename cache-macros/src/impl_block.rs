//! `#[ttl_cached]` on an impl block: caches the methods that carry `#[ttl_cached(...)]` and puts
//! their companions in an inherent impl of the same type, since a trait impl cannot hold extra
//! items. Placed above `#[async_trait]`, it runs first and sees plain `async fn`s.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{ImplItem, ItemImpl, Meta, Visibility};

use crate::errors::Errors;
use crate::expand::{rewrite, Context};

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
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.error(
            &args,
            "`#[ttl_cached]` on an impl block takes no arguments: put `ttl`, `key` and the rest \
             on each method, as `#[ttl_cached(ttl = 60, ...)]`",
        );
    }
    for param in &item.generics.params {
        if !matches!(param, syn::GenericParam::Lifetime(_)) {
            errors.error(
                param,
                "`#[ttl_cached]` does not support generic impl blocks: a method's cache is shared \
                 by every instantiation, so values of different types would share it",
            );
        }
    }
    let is_trait_impl = item.trait_.is_some();
    let self_ty = &item.self_ty;
    let type_name = quote!(#self_ty).to_string().replace(' ', "");
    let mut companions = TokenStream::new();
    let mut cached = 0;
    if errors.is_empty() {
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let Some(position) = method.attrs.iter().position(is_ttl_cached) else {
                continue;
            };
            cached += 1;
            let attr = method.attrs.remove(position);
            let args = match &attr.meta {
                Meta::List(list) => list.tokens.clone(),
                Meta::Path(_) => TokenStream::new(),
                Meta::NameValue(nv) => {
                    errors.error(nv, "write the arguments as `#[ttl_cached(ttl = 60, ...)]`");
                    continue;
                }
            };
            let ctx = Context {
                in_impl: true,
                // A trait method has no visibility of its own; its companions are public like
                // the trait's methods.
                vis: if is_trait_impl {
                    Visibility::Public(Default::default())
                } else {
                    method.vis.clone()
                },
                type_name: Some(type_name.clone()),
                attr_span: attr.span(),
            };
            match rewrite(args, &method.attrs, &method.sig, &mut method.block, &ctx) {
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

fn is_ttl_cached(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "ttl_cached")
}
