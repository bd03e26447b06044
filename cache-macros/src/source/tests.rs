//! What `source.rs` reads from a file, on files written out here.

use super::*;
use quote::quote;

fn summary(text: &str) -> Summary {
    Summary::of_source(text).expect("the source parses")
}

fn conflicts(text: &str, trait_path: &str, self_ty: &str, prefix: &str) -> Vec<String> {
    let trait_path: syn::Path = syn::parse_str(trait_path).unwrap();
    let self_ty: syn::Type = syn::parse_str(self_ty).unwrap();
    summary(text)
        .conflicts(&trait_path, &self_ty, prefix)
        .into_iter()
        .map(|(method, c)| format!("{method}: {}", c.other))
        .collect()
}

const TWO_IMPLS: &str = r#"
        struct Drive;
        #[ttl_cached]
        impl Files for Drive {
            #[ttl_cached(ttl = 60, ignore = [self])]
            async fn find(&self, name: &str) -> Option<String> { None }
            async fn other(&self) {}
        }
        #[ttl_cached]
        impl Photos for Drive {
            #[ttl_cached(ttl = 60, ignore = [self])]
            async fn find(&self, name: &str) -> Option<String> { None }
        }
    "#;

#[test]
fn the_later_of_two_trait_impls_reports_the_collision() {
    assert_eq!(
        conflicts(TWO_IMPLS, "Photos", "Drive", ""),
        ["find: impl Files for Drive"]
    );
    assert!(conflicts(TWO_IMPLS, "Files", "Drive", "").is_empty());
}

#[test]
fn a_prefix_on_either_impl_removes_the_collision() {
    assert!(conflicts(TWO_IMPLS, "Photos", "Drive", "photos_").is_empty());
    let prefixed = TWO_IMPLS.replacen(
        "#[ttl_cached]\n        impl Files",
        "#[ttl_cached(companion_prefix = \"files_\")]\n        impl Files",
        1,
    );
    assert_ne!(prefixed, TWO_IMPLS);
    assert!(conflicts(&prefixed, "Photos", "Drive", "").is_empty());
    // The prefix makes the stems equal: `files_` + `find` against a method `files_find`.
    let clash = prefixed.replacen("async fn find", "async fn files_find", 2);
    let clash = clash.replacen("async fn files_find", "async fn find", 1);
    assert_eq!(
        conflicts(&clash, "Photos", "Drive", ""),
        ["files_find: impl Files for Drive"]
    );
}

#[test]
fn an_inherent_impl_caching_the_same_name_is_reported_by_the_trait_impl() {
    let text = r#"
            #[ttl_cached]
            impl Files for Drive {
                #[ttl_cached(ttl = 60, ignore = [self])]
                async fn find(&self, name: &str) -> Option<String> { None }
            }
            impl Drive {
                #[ttl_cached(ttl = 60, ignore = [self])]
                pub async fn find(&self, name: &str) -> Option<String> { None }
            }
        "#;
    assert_eq!(conflicts(text, "Files", "Drive", ""), ["find: impl Drive"]);
}

#[test]
fn other_scopes_types_and_cfgs_do_not_collide() {
    let text = r#"
            mod a {
                #[ttl_cached]
                impl Files for Drive {
                    #[ttl_cached(ttl = 60, ignore = [self])]
                    async fn find(&self, name: &str) -> Option<String> { None }
                }
            }
            #[ttl_cached]
            impl Files for Dropbox {
                #[ttl_cached(ttl = 60, ignore = [self])]
                async fn find(&self, name: &str) -> Option<String> { None }
            }
            #[cfg(unix)]
            #[ttl_cached]
            impl Unix for Drive {
                #[ttl_cached(ttl = 60, ignore = [self])]
                async fn find(&self, name: &str) -> Option<String> { None }
            }
            #[ttl_cached]
            impl Photos for Drive {
                #[ttl_cached(ttl = 60, ignore = [self])]
                async fn find(&self, name: &str) -> Option<String> { None }
            }
            impl Other for Drive {
                async fn find(&self, name: &str) -> Option<String> { None }
            }
        "#;
    assert!(conflicts(text, "Photos", "Drive", "").is_empty());
    assert!(conflicts(text, "Files", "Dropbox", "").is_empty());
}

#[test]
fn an_impl_that_cannot_be_told_apart_is_not_judged() {
    let text = r#"
            mod a {
                #[ttl_cached] impl Files for Drive { #[ttl_cached(ttl = 1)] async fn f(&self) {} }
                #[ttl_cached] impl Photos for Drive { #[ttl_cached(ttl = 1)] async fn f(&self) {} }
            }
            mod b {
                #[ttl_cached] impl Photos for Drive { #[ttl_cached(ttl = 1)] async fn f(&self) {} }
            }
        "#;
    assert!(conflicts(text, "Photos", "Drive", "").is_empty());
    assert!(conflicts(text, "Files", "Drive", "").is_empty());
}

#[test]
fn a_method_is_found_in_an_unmarked_trait_impl_only() {
    let text = r#"
            impl Directory for Ldap {
                #[ttl_cached(ttl = 60, ignore = [self])]
                async fn lookup(&self, name: &str) -> Option<String> { None }
            }
            impl Ldap {
                #[ttl_cached(ttl = 60, ignore = [self])]
                async fn search(&self, name: &str) -> Option<String> { None }
            }
            #[ttl_cached]
            impl Other for Ldap {
                #[ttl_cached(ttl = 60, ignore = [self])]
                async fn other(&self, name: &str) -> Option<String> { None }
            }
        "#;
    let summary = summary(text);
    let args = quote!(ttl = 60, ignore = [self]);
    let sig = |s: &str| -> syn::Signature { syn::parse_str(s).unwrap() };
    let lookup = sig("async fn lookup(&self, name: &str) -> Option<String>");
    assert_eq!(
        summary.unmarked_trait_impl_of(&lookup, &args),
        Some(("impl Directory for Ldap".to_string(), "Ldap".to_string()))
    );
    // Other arguments or another signature: not this method.
    assert_eq!(
        summary.unmarked_trait_impl_of(&lookup, &quote!(ttl = 61, ignore = [self])),
        None
    );
    let other_sig = sig("async fn lookup(&self, name: String) -> Option<String>");
    assert_eq!(summary.unmarked_trait_impl_of(&other_sig, &args), None);
    let search = sig("async fn search(&self, name: &str) -> Option<String>");
    assert_eq!(summary.unmarked_trait_impl_of(&search, &args), None);
    let other = sig("async fn other(&self, name: &str) -> Option<String>");
    assert_eq!(summary.unmarked_trait_impl_of(&other, &args), None);
}

#[test]
fn the_same_method_in_an_inherent_impl_too_is_not_judged() {
    let text = r#"
            impl Directory for Ldap {
                #[ttl_cached(ttl = 60)]
                async fn lookup(&self) -> u32 { 1 }
            }
            impl Ldap {
                #[ttl_cached(ttl = 60)]
                async fn lookup(&self) -> u32 { 1 }
            }
        "#;
    let sig: syn::Signature = syn::parse_str("async fn lookup(&self) -> u32").unwrap();
    assert_eq!(
        summary(text).unmarked_trait_impl_of(&sig, &quote!(ttl = 60)),
        None
    );
}
