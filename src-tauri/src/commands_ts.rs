//! The command table (command_table.rs) checked against the real functions
//! and written out for TypeScript.
//!
//! Compile time: for each entry, [`checks`] holds a function with the
//! table's parameter and return types that calls the command with them, so
//! a table whose types, order or sync/async differ from the function's does
//! not build. Test time: the parameter *names* are compared with the
//! `#[tauri::command]` source (Tauri takes them from there, the compiler
//! cannot), and ui/src/lib/bindings/commands.ts is written: a `Commands` map
//! of every command's argument object and result, and a typed `call`
//! around Tauri's `invoke`. `make desktop-test` fails when it was stale.

// The types the table names, for the checks and the signatures below.
#[allow(unused_imports)]
use crate::{
    dto::*, folder_commands::*, inquiry_commands::*, partner_commands::*, report_commands::*, search_commands::*,
    session::*, sync_commands::*, sync_dto::*,
};
#[allow(unused_imports)]
use serde_json::{Map, Value};
#[allow(unused_imports)]
use tauri::{ipc::Channel, AppHandle, State};

/// `.await` for an async command, nothing for a sync one.
macro_rules! awaited {
    (async, $call:expr) => {
        $call.await
    };
    (sync, $call:expr) => {
        $call
    };
}

/// One function per table entry that calls the command with the table's
/// parameter types and returns the table's return type.
macro_rules! check_signatures {
    ($($kind:ident $module:ident :: $name:ident [$($sn:ident : $st:ty),*] ($($an:ident : $at:ty),*) -> $ret:ty;)*) => {
        $(
            #[allow(dead_code, clippy::too_many_arguments)]
            pub async fn $name($($sn: $st,)* $($an: $at),*) -> $ret {
                awaited!($kind, crate::$module::$name($($sn,)* $($an),*))
            }
        )*
    };
}

/// Compile-time agreement of the table with the functions (never called).
mod checks {
    use super::*;
    command_table!(check_signatures);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use ts_rs::{Config, TypeVisitor, TS};

    /// How a type of the table is written in TypeScript, and which
    /// generated bindings that needs. Most are ts-rs types, written as ts-rs
    /// writes them ([`ViaTsRs`]); a progress `Channel`, a `Result` and `()`
    /// are written by the UI's rules ([`Special`]). A call
    /// `(&Probe::<T>::new()).ts(cfg)` picks `Special` when it applies
    /// (method lookup tries `Probe<T>` by reference before `&Probe<T>`).
    struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
    impl<T: ?Sized> Probe<T> {
        fn new() -> Self {
            Probe(std::marker::PhantomData)
        }
    }

    /// The exported ts-rs types a type refers to (itself, or what a
    /// wrapper such as `Vec`/`Option`/`Map` holds).
    /// (A recursive type such as `serde_json::Value` is visited once.)
    struct Imports<'a>(&'a mut BTreeSet<String>, std::collections::HashSet<std::any::TypeId>);
    impl TypeVisitor for Imports<'_> {
        fn visit<T: TS + 'static + ?Sized>(&mut self) {
            if !self.1.insert(std::any::TypeId::of::<T>()) {
                return;
            }
            match T::output_path() {
                Some(path) => {
                    let stem = path.file_stem().expect("a file name").to_string_lossy().into_owned();
                    self.0.insert(stem);
                }
                None => T::visit_generics(self),
            }
        }
    }
    impl<'a> Imports<'a> {
        fn into(out: &'a mut BTreeSet<String>) -> Self {
            Imports(out, Default::default())
        }
    }

    /// `()` is `void` in a promise, not ts-rs's `null`.
    fn name_of<T: TS + 'static>(cfg: &Config) -> String {
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
            "void".into()
        } else {
            T::name(cfg)
        }
    }

    trait ViaTsRs {
        fn ts(&self, cfg: &Config) -> String;
        fn imports(&self, out: &mut BTreeSet<String>);
    }
    impl<T: TS + 'static> ViaTsRs for &Probe<T> {
        fn ts(&self, cfg: &Config) -> String {
            name_of::<T>(cfg)
        }
        fn imports(&self, out: &mut BTreeSet<String>) {
            Imports::into(out).visit::<T>();
        }
    }

    trait Special {
        fn ts(&self, cfg: &Config) -> String;
        fn imports(&self, out: &mut BTreeSet<String>);
    }
    /// A progress channel: the UI passes a `Channel` of `@tauri-apps/api/core`.
    impl<T: TS + 'static> Special for Probe<Channel<T>> {
        fn ts(&self, cfg: &Config) -> String {
            format!("Channel<{}>", T::name(cfg))
        }
        fn imports(&self, out: &mut BTreeSet<String>) {
            Imports::into(out).visit::<T>();
        }
    }
    /// Form values and answers: any JSON, as the DTOs write it (`unknown`)
    /// and the UI's `Values` holds it.
    impl Special for Probe<Value> {
        fn ts(&self, _: &Config) -> String {
            "unknown".into()
        }
        fn imports(&self, _: &mut BTreeSet<String>) {}
    }
    impl Special for Probe<Map<String, Value>> {
        fn ts(&self, _: &Config) -> String {
            "Record<string, unknown>".into()
        }
        fn imports(&self, _: &mut BTreeSet<String>) {}
    }
    /// A failing command rejects the promise with its `UiError`; the
    /// result is the `Ok` side.
    impl<T: TS + 'static> Special for Probe<Result<T, UiError>> {
        fn ts(&self, cfg: &Config) -> String {
            name_of::<T>(cfg)
        }
        fn imports(&self, out: &mut BTreeSet<String>) {
            Imports::into(out).visit::<T>();
        }
    }

    /// One command as the UI sees it.
    struct Signature {
        name: &'static str,
        /// (name as sent, camelCased; TypeScript type)
        args: Vec<(String, String)>,
        ret: String,
        /// The parameter names of the table, as written in Rust.
        rust_args: Vec<&'static str>,
    }

    /// Tauri's default: `case_type` is sent as `caseType`.
    fn camel(name: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    macro_rules! signatures {
        ($($kind:ident $module:ident :: $name:ident [$($sn:ident : $st:ty),*] ($($an:ident : $at:ty),*) -> $ret:ty;)*) => {
            |cfg: &Config, imports: &mut BTreeSet<String>| vec![$({
                $((&Probe::<$at>::new()).imports(imports);)*
                (&Probe::<$ret>::new()).imports(imports);
                Signature {
                    name: stringify!($name),
                    args: vec![$((camel(stringify!($an)), (&Probe::<$at>::new()).ts(cfg))),*],
                    ret: (&Probe::<$ret>::new()).ts(cfg),
                    rust_args: vec![$(stringify!($an)),*],
                }
            }),*]
        };
    }

    fn table() -> (Vec<Signature>, BTreeSet<String>) {
        let cfg = Config::new();
        let mut imports = BTreeSet::new();
        let sigs = command_table!(signatures)(&cfg, &mut imports);
        (sigs, imports)
    }

    /// The text of bindings/commands.ts.
    fn commands_ts() -> String {
        let (sigs, imports) = table();
        let mut out = String::from(
            "// Generated from src-tauri/src/command_table.rs by `cargo test -p fieldcase-desktop`.\n\
             // Do not edit: change the table, and the command, instead.\n\
             import { Channel, invoke } from '@tauri-apps/api/core';\n",
        );
        for name in &imports {
            out.push_str(&format!("import type {{ {name} }} from './{name}';\n"));
        }
        out.push_str("\nexport type { Channel };\n\n");
        out.push_str("/** Every command: the arguments the window sends and what it gets back. */\n");
        out.push_str("export type Commands = {\n");
        for s in &sigs {
            let args: Vec<String> = s.args.iter().map(|(n, t)| format!("{n}: {t}")).collect();
            let args = if args.is_empty() { "{}".to_string() } else { format!("{{ {} }}", args.join("; ")) };
            out.push_str(&format!("  {}: {{ args: {args}; result: {} }};\n", s.name, s.ret));
        }
        out.push_str("};\n\n");
        out.push_str("/** The command names, in the table's order. */\n");
        out.push_str("export const commandNames = [\n");
        for s in &sigs {
            out.push_str(&format!("  '{}',\n", s.name));
        }
        out.push_str("] as const satisfies readonly (keyof Commands)[];\n\n");
        out.push_str(
            "/** Commands that take no arguments. */\n\
             type NoArgs = { [K in keyof Commands]: keyof Commands[K]['args'] extends never ? K : never }[keyof Commands];\n\n\
             /** Invoke a command with its typed arguments; a failure rejects with the command's UiError. */\n\
             export function call<K extends NoArgs>(name: K): Promise<Commands[K]['result']>;\n\
             export function call<K extends keyof Commands>(name: K, args: Commands[K]['args']): Promise<Commands[K]['result']>;\n\
             export function call<K extends keyof Commands>(name: K, args?: Commands[K]['args']): Promise<Commands[K]['result']> {\n  \
             return invoke<Commands[K]['result']>(name, args);\n\
             }\n",
        );
        out
    }

    fn bindings_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings")
    }

    /// Writes bindings/commands.ts (make desktop-test fails when it changed).
    #[test]
    fn export_commands_ts() {
        let text = commands_ts();
        let path = bindings_dir().join("commands.ts");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).expect("write commands.ts");
        }
    }

    #[test]
    fn the_table_names_each_command_once() {
        let names: &[&str] = command_table!(command_names);
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "a command is in the table twice");
        assert!(names.contains(&"unlock") && names.contains(&"office_merge"));
    }

    /// The `#[tauri::command]` functions of the crate's source, with the
    /// names of their parameters that the UI sends (not state, app handle).
    fn commands_in_source() -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out = std::collections::BTreeMap::new();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.clone()];
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).expect("src").map(|e| e.expect("entry").path()));
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("read source");
            for part in text.split("\n#[tauri::command]\n").skip(1) {
                let sig = &part[part.find("fn ").expect("fn after #[tauri::command]") + 3..];
                let name = sig[..sig.find('(').expect("(")].trim().to_string();
                let params = &sig[sig.find('(').expect("(") + 1..];
                // The parameter list ends at the `)` that closes it.
                let mut depth = 0;
                let end = params
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '(' | '<' => depth += 1,
                            ')' | '>' if depth > 0 => depth -= 1,
                            ')' => return true,
                            _ => {}
                        }
                        false
                    })
                    .expect("closing )")
                    .0;
                let mut names = Vec::new();
                let (mut depth, mut start) = (0, 0);
                let params = &params[..end];
                for (i, c) in params.char_indices().chain([(end, ',')]) {
                    match c {
                        '<' | '(' => depth += 1,
                        '>' | ')' => depth -= 1,
                        ',' if depth == 0 => {
                            let p = params[start..i].trim();
                            start = i + 1;
                            if let Some((n, t)) = p.split_once(':') {
                                let t = t.trim();
                                let injected = t.starts_with("State<") || t.starts_with("AppHandle");
                                if !injected {
                                    names.push(n.trim().trim_start_matches("mut ").to_string());
                                }
                            }
                        }
                        _ => {}
                    }
                }
                out.insert(name, names);
            }
        }
        out
    }

    /// The names the UI sends are the function's own parameter names; the
    /// table (which commands.ts is written from) must say the same.
    #[test]
    fn the_table_matches_the_command_functions_in_the_source() {
        let source = commands_in_source();
        let (sigs, _) = table();
        let table: std::collections::BTreeMap<String, Vec<String>> =
            sigs.iter().map(|s| (s.name.to_string(), s.rust_args.iter().map(|a| a.to_string()).collect())).collect();
        assert_eq!(table, source, "command_table.rs and the #[tauri::command] functions differ");
    }

    #[test]
    fn names_are_sent_camel_cased() {
        assert_eq!(camel("case_type"), "caseType");
        assert_eq!(camel("additional_device_of"), "additionalDeviceOf");
        assert_eq!(camel("case"), "case");
    }
}
