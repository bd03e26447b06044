//! The plan of a cached function, once its attribute is checked: the key's placeholders, the
//! parameter each is rooted in, the group, the settings; and the parameters of the companions
//! that follow from it, which the stand-in companions (`fallback.rs`) take too.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use crate::args::Args;
use crate::context::{local, Context};
use crate::errors::Errors;
use crate::signature::Params;
use crate::suggest::nearest;
use crate::template::KeyTemplate;
use crate::values::{Capacity, Ttl};

/// What a placeholder's path starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    SelfValue,
    /// Index into [`Params::params`].
    Param(usize),
}

/// A validated key: its placeholders, how many of them form the group, and the rest of the
/// attribute.
pub(crate) struct Plan {
    pub(crate) key: KeyTemplate,
    /// The root of each placeholder of `key`.
    pub(crate) roots: Vec<Root>,
    /// The first `group_len` placeholders of `key` are the group.
    pub(crate) group_len: usize,
    pub(crate) ttl: Ttl,
    pub(crate) capacity: Capacity,
    /// `store_if = PREDICATE`.
    pub(crate) store_if: Option<syn::Expr>,
    /// `store_none = false`: its `false`, where errors about it are reported.
    pub(crate) store_none_false: Option<syn::LitBool>,
    /// `scope = Account`.
    pub(crate) scope: Option<syn::Path>,
    /// `stale = "30s"`: `(secs, nanos)` and the argument's name.
    pub(crate) stale: Option<(u64, u32, Ident)>,
    /// `stale_if_error = "5m"`: `(secs, nanos)`.
    pub(crate) stale_if_error: Option<(u64, u32)>,
    /// `throttle = "5s"`: `(secs, nanos)`.
    pub(crate) throttle: Option<(u64, u32)>,
    /// `serve_stale_if = PREDICATE`.
    pub(crate) serve_stale_if: Option<syn::Expr>,
    /// `revoke_if = PREDICATE`.
    pub(crate) revoke_if: Option<syn::Expr>,
    /// `timeout = "10s"`: `(secs, nanos)` and the argument's name.
    pub(crate) timeout: Option<(u64, u32, Ident)>,
    /// `soft_timeout = "500ms"`: `(secs, nanos)`.
    pub(crate) soft_timeout: Option<(u64, u32)>,
    /// `jitter = "10%"`: the fraction of the TTL.
    pub(crate) jitter: Option<f64>,
    /// `shared_tier = true` / `= NAME`: the argument's name and the settings' `NAME`, if any.
    pub(crate) shared_tier: Option<(Ident, Option<syn::Path>)>,
}

impl Plan {
    /// The parameters of `invalidate_<fn>` and `invalidate_<fn>_key`.
    pub(crate) fn companion_roots(&self) -> CompanionRoots {
        CompanionRoots {
            group: roots_in_order(&self.roots[..self.group_len]),
            key: roots_in_order(&self.roots),
        }
    }
}

/// The parameters of `invalidate_<fn>` (`group`) and `invalidate_<fn>_key` (`key`): the roots
/// of the group's placeholders and of the key's, each once, in declaration order (`self`
/// first). From a [`Plan`]; or, for the stand-ins of a rejected attribute, as far as the
/// parameters meant can be told ([`CompanionRoots::meant`]).
pub(crate) struct CompanionRoots {
    pub(crate) group: Vec<Root>,
    pub(crate) key: Vec<Root>,
}

impl CompanionRoots {
    // Input: `key = "<user>:<n>", group = "<user>"` on `async fn f(user_id: u32, n: u32)`, rejected
    // ("unknown placeholder `<user>` in `key`; did you mean `user_id`?").
    //
    // Output: `invalidate_f(user_id: u32)` and `invalidate_f_key(user_id: u32, n: u32)`, the
    // companions the user meant and calls, so the one mistake is one error and not also "this
    // function takes 0 arguments but 1 argument was supplied" at every call.
    /// The companions' parameters for the stand-ins of a rejected attribute, as far as they can be
    /// told: each placeholder meant (`{user_id}` and an unclosed `<user_id` included) is taken for
    /// the parameter it names or, for a typo, the one its error suggests. A template with a
    /// placeholder that names nothing near a parameter gives way to the default key (the parameters
    /// in order, less those `ignore` names or, by a typo, suggests), and the group to the key.
    pub(crate) fn meant(args: &Args, params: &Params<'_>) -> Self {
        let names = params.names();
        let root_of = |name: &str| -> Option<Root> {
            // As written, as a keyword's raw parameter (`type` for `r#type`), or as the typo's
            // suggestion.
            let raw = format!("r#{name}");
            let meant = [name, raw.as_str()]
                .into_iter()
                .find(|meant| names.iter().any(|n| n == meant));
            let meant = match meant {
                Some(meant) => meant,
                None => nearest(name, names.iter().map(String::as_str))?,
            };
            match meant {
                "self" => params.receiver.map(|_| Root::SelfValue),
                _ => params.named(meant).map(|(index, _)| Root::Param(index)),
            }
        };
        let roots_of = |lit: &syn::LitStr, which: &str| -> Option<Vec<Root>> {
            let template = KeyTemplate::parse(lit, which, &mut Vec::new(), &mut Errors::default());
            template
                .meant
                .iter()
                .map(|p| root_of(&p.root_name()))
                .collect()
        };
        let ignored: Vec<Root> = args
            .ignore
            .iter()
            .map(ToString::to_string)
            .filter(|name| !params.binds_in_pattern(name))
            .filter_map(|name| root_of(&name))
            .collect();
        let default_key = || {
            params
                .params
                .iter()
                .enumerate()
                .filter(|(_, param)| param.ident().is_some() && !param.impl_trait)
                .map(|(index, _)| Root::Param(index))
                .filter(|root| !ignored.contains(root))
                .collect()
        };
        let key: Vec<Root> = args
            .key
            .as_ref()
            .and_then(|lit| roots_of(lit, "key"))
            .unwrap_or_else(default_key);
        let group = args
            .group
            .as_ref()
            .and_then(|lit| roots_of(lit, "group"))
            .unwrap_or_else(|| key.clone());
        Self {
            group: roots_in_order(&group),
            key: roots_in_order(&key),
        }
    }
}

/// `roots` each once, in declaration order (`self` first).
pub(crate) fn roots_in_order(roots: &[Root]) -> Vec<Root> {
    let mut roots = roots.to_vec();
    roots.sort_by_key(|r| match r {
        Root::SelfValue => 0,
        Root::Param(i) => i + 1,
    });
    roots.dedup();
    roots
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
pub(crate) fn root_inputs(
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
