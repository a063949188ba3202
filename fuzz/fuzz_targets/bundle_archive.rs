//! Decrypted bundle plaintext (a tar archive) → the strict archive reader.
//! Any input must give `Ok` or an `ImportError`, never a panic, an abort or
//! an unbounded allocation.
#![no_main]

use fieldcase::sync::reader::read_archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = read_archive(data, &mut |_| {}) {
        // A bundle that passed the structural checks must also survive what
        // the importer does next with it before trust is decided.
        let _ = bundle.manifest_digest();
        for e in &bundle.events {
            let _ = e.check_shape();
            let _ = e.signing_bytes();
        }
    }
});
