//! Stable codes for what the library tells a person: every error an
//! interface can show has a code (`snake_case`, never reused for another
//! meaning) and named parameters, so an interface translates it instead of
//! showing the English `Display` text (which stays, for the CLI and as a
//! fallback).
//!
//! An error type gets its codes from [`error_codes!`]: one table, from which
//! the macro writes `Coded::code` and `Coded::params` as exhaustive matches
//! (no wildcard arm: a new variant does not compile until it has a code)
//! and `Coded::codes`, the list of every code and its parameters that the
//! desktop app exports for its catalogue test.

use std::collections::BTreeMap;

/// One code an error type can give, and the names of the parameters it
/// carries with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// The code.
    pub code: &'static str,
    /// Its parameters' names.
    pub params: Vec<&'static str>,
}

/// An error with a stable code and named parameters.
pub trait Coded: std::fmt::Display {
    /// The stable code of this error.
    fn code(&self) -> &'static str;
    /// The values a translated message of [`Coded::code`] may use, by name.
    fn params(&self) -> BTreeMap<&'static str, String>;
    /// Every code this type can give, with its parameters (a code given by
    /// several variants is listed once per variant).
    fn codes() -> Vec<CodeInfo>
    where
        Self: Sized;
}

/// Write [`Coded`] for an error enum from one table.
///
/// ```text
/// error_codes! { MyError {
///     nested { MyError::Inner(e) => e: InnerError; }     // the inner error's code and params
///     MyError::Plain => "plain";                          // a code, no parameters
///     MyError::Sized { size, limit } => "too_large" { size, limit };
///     MyError::Path { path } => "no_folder" { path = path.display() };
/// } }
/// ```
///
/// A parameter's value is its `Display`, or that of the expression after
/// `=`. The `nested` block, when there is one, comes first.
#[macro_export]
macro_rules! error_codes {
    (@value $n:ident) => { $n.to_string() };
    (@value $n:ident = $e:expr) => { ($e).to_string() };
    (
        $ty:ty {
            nested { $( $np:pat => $nv:ident : $nt:ty ; )* }
            $( $p:pat => $code:literal $( { $( $pn:ident $( = $pe:expr )? ),* $(,)? } )? ; )*
        }
    ) => {
        impl $crate::codes::Coded for $ty {
            #[allow(unused_variables)]
            fn code(&self) -> &'static str {
                match self {
                    $( $np => $crate::codes::Coded::code($nv), )*
                    $( $p => $code, )*
                }
            }

            #[allow(unused_variables, unused_mut)]
            fn params(&self) -> ::std::collections::BTreeMap<&'static str, String> {
                let mut out = ::std::collections::BTreeMap::new();
                match self {
                    $( $np => return $crate::codes::Coded::params($nv), )*
                    $( $p => {
                        $( $( out.insert(stringify!($pn), $crate::error_codes!(@value $pn $( = $pe )?)); )* )?
                    } )*
                }
                out
            }

            fn codes() -> Vec<$crate::codes::CodeInfo> {
                #[allow(unused_mut)]
                let mut all = vec![
                    $( $crate::codes::CodeInfo {
                        code: $code,
                        params: vec![ $( $( stringify!($pn) ),* )? ],
                    }, )*
                ];
                $( all.extend(<$nt as $crate::codes::Coded>::codes()); )*
                all
            }
        }
    };
    ($ty:ty { $( $rest:tt )* }) => {
        $crate::error_codes! { $ty { nested {} $( $rest )* } }
    };
}

/// Every code of a list of error types' [`Coded::codes`], merged: a code's
/// parameters are those *every* variant giving it provides (so a message
/// that uses only these never shows an unfilled placeholder).
pub fn merged(lists: impl IntoIterator<Item = Vec<CodeInfo>>) -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut out: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for info in lists.into_iter().flatten() {
        match out.get_mut(info.code) {
            Some(params) => params.retain(|p| info.params.contains(p)),
            None => {
                let mut params = info.params.clone();
                params.sort_unstable();
                params.dedup();
                out.insert(info.code, params);
            }
        }
    }
    out
}

/// Every code an interface can receive from the library's errors (a code
/// once per variant that gives it; [`merged`] makes the list of codes).
pub fn library_codes() -> Vec<CodeInfo> {
    use crate::sync::{
        error::ImportError, exchange::SyncError, folder::FolderError, partner_request::RequestError,
        partners::PartnerError, quarantine::QuarantineError, transfer::TransferError,
    };
    [
        crate::model::error::StoreError::codes(),
        ImportError::codes(),
        SyncError::codes(),
        TransferError::codes(),
        FolderError::codes(),
        RequestError::codes(),
        PartnerError::codes(),
        QuarantineError::codes(),
        crate::search::query::SearchError::codes(),
        crate::search::merge::MergeError::codes(),
        crate::report::ReportError::codes(),
        crate::report::export::ExportError::codes(),
        crate::fsutil::WriteError::codes(),
        crate::fsutil::ReadError::codes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Inner {
        #[error("inner {n}")]
        Counted { n: u32 },
    }
    crate::error_codes! { Inner {
        Inner::Counted { n } => "inner_counted" { n };
    } }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("plain")]
        Plain,
        #[error("at {0}")]
        At(std::path::PathBuf),
        #[error("too large")]
        Sized { size: u64, limit: u64 },
        #[error(transparent)]
        Inner(Inner),
    }
    crate::error_codes! { Outer {
        nested { Outer::Inner(e) => e: Inner; }
        Outer::Plain => "plain";
        Outer::At(path) => "at" { path = path.display() };
        Outer::Sized { size, limit } => "sized" { size, limit };
    } }

    #[test]
    fn the_table_gives_codes_params_and_the_list() {
        assert_eq!(Outer::Plain.code(), "plain");
        assert!(Outer::Plain.params().is_empty());
        let at = Outer::At("/x/y".into());
        assert_eq!((at.code(), at.params()["path"].as_str()), ("at", "/x/y"));
        let sized = Outer::Sized { size: 5, limit: 3 };
        assert_eq!(sized.params().into_iter().collect::<Vec<_>>(), [("limit", "3".into()), ("size", "5".into())]);
        let inner = Outer::Inner(Inner::Counted { n: 7 });
        assert_eq!((inner.code(), inner.params()["n"].as_str()), ("inner_counted", "7"));
        let codes: Vec<_> = Outer::codes().into_iter().map(|c| c.code).collect();
        assert_eq!(codes, ["plain", "at", "sized", "inner_counted"]);
    }

    #[test]
    fn a_code_keeps_only_the_params_every_variant_gives() {
        let a = vec![CodeInfo { code: "x", params: vec!["a", "b"] }];
        let b = vec![CodeInfo { code: "x", params: vec!["b"] }, CodeInfo { code: "y", params: vec![] }];
        let m = merged([a, b]);
        assert_eq!(m["x"], ["b"]);
        assert!(m["y"].is_empty());
    }

    #[test]
    fn every_library_code_is_snake_case() {
        for code in merged([library_codes()]).keys() {
            assert!(
                !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{code}"
            );
        }
    }
}
