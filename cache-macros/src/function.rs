//! The rules about the function itself, whatever its key: an `async fn` without type or const
//! generics, variadics, `const` or a foreign ABI, returning a value the cache can store.

use proc_macro2::TokenStream;
use syn::visit::Visit;
use syn::{ReturnType, Signature, Type};

use crate::errors::Errors;
use crate::signature::{returns_boxed_future, written_by_async_trait};

/// Reports every rule of the signature it breaks.
pub(crate) fn check(sig: &Signature, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        if !returns_boxed_future(&sig.output) {
            errors.error(
                sig.fn_token,
                "`#[ttl_cached]` requires an `async fn`: the cache runs the body as a shared fetch",
            );
        } else if written_by_async_trait(&sig.output) {
            errors.error(
                sig.fn_token,
                "`#[async_trait]` has already rewritten this method: put `#[ttl_cached]` (no \
                 arguments) on the impl block, above `#[async_trait]`",
            );
        } else {
            errors.error(
                sig.fn_token,
                "`#[ttl_cached]` requires an `async fn`: the cache runs the body as a shared fetch; \
                 write `async fn` returning the output type, and move the body out of its \
                 `Box::pin(async move { .. })` if it returns a boxed future",
            );
        }
    }
    for param in &sig.generics.params {
        match param {
            syn::GenericParam::Lifetime(_) => {}
            syn::GenericParam::Type(_) => errors.error(
                param,
                "`#[ttl_cached]` does not support generic type parameters: one cache serves every \
                 call, so values of different types would share it; cache a concrete function and \
                 call it from the generic one",
            ),
            syn::GenericParam::Const(_) => errors.error(
                param,
                "`#[ttl_cached]` does not support const generic parameters: one cache serves every \
                 call; pass the value as a parameter instead",
            ),
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.error(
            variadic,
            "`#[ttl_cached]` does not support variadic functions",
        );
    }
    // `async extern "C" fn`: a foreign caller cannot drive the future it returns, and the
    // rewritten function (whose body becomes the cache's) would silently keep the ABI.
    if let Some(abi) = sig
        .abi
        .as_ref()
        .filter(|abi| abi.name.as_ref().is_none_or(|name| name.value() != "Rust"))
    {
        let written = quote::quote!(#abi).to_string();
        errors.error(
            abi,
            format!(
                "`#[ttl_cached]` does not support an `{written}` function: an `async fn` returns \
                 a future, which foreign code cannot call or await; remove `{written}`"
            ),
        );
    }
    if sig.constness.is_some() {
        errors.error(sig.constness, "`#[ttl_cached]` does not support `const fn`");
    }
    check_return_type(&sig.output, errors);
}

/// What the cache cannot store, seen in the return type's syntax: an opaque type, `!`, a
/// borrowed value. (Whether the type is `Clone + Send + Sync` is left to the compiler.)
fn check_return_type(output: &ReturnType, errors: &mut Errors) {
    let ReturnType::Type(_, ty) = output else {
        return;
    };
    match &**ty {
        Type::ImplTrait(_) => errors.error(
            ty,
            "`#[ttl_cached]` cannot cache an `impl Trait` return type: the cache stores values of \
             one named type; return the concrete type (such as `Vec<String>`), or an \
             `Arc<dyn Trait + Send + Sync>`",
        ),
        Type::Never(_) => errors.error(
            ty,
            "a function returning `!` never returns a value to cache; remove `#[ttl_cached]`",
        ),
        _ => {
            // For a `Result`, only the `Ok` type is stored.
            let stored = ok_type(ty).unwrap_or(ty);
            if let Some(borrow) = borrowed_part(stored) {
                errors.error(
                    borrow,
                    "a cached value must be `'static` and owned, since it outlives the call that \
                     fetched it: return an owned type (`String` rather than `&str` or \
                     `Cow<'_, str>`, `Vec<T>` rather than `&[T]`), or an `Arc`",
                );
            }
        }
    }
}

/// `T` of `Result<T, E>` (any path ending in `Result` with two type arguments, or one, as in
/// `anyhow::Result<T>`).
fn ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// The first reference or non-`'static` lifetime in `ty`, if any.
fn borrowed_part(ty: &Type) -> Option<TokenStream> {
    struct Finder(Option<TokenStream>);
    impl Visit<'_> for Finder {
        fn visit_type_reference(&mut self, r: &syn::TypeReference) {
            if self.0.is_none() && r.lifetime.as_ref().is_none_or(|l| l.ident != "static") {
                self.0 = Some(quote::quote!(#r));
            }
        }
        fn visit_lifetime(&mut self, l: &syn::Lifetime) {
            if self.0.is_none() && l.ident != "static" {
                self.0 = Some(quote::quote!(#l));
            }
        }
        // Lifetimes of `dyn Trait + 'a` bounds and of fn pointers do not make a value borrowed
        // in a way this check can judge; the compiler checks `'static` there.
        fn visit_type_fn_ptr(&mut self, _: &syn::TypeFnPtr) {}
        fn visit_type_trait_object(&mut self, _: &syn::TypeTraitObject) {}
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}
