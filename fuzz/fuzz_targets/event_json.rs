//! Bytes → JSON → `Event::from_json` → `check_shape` (and the signing
//! encoding every imported event goes through).
#![no_main]

use fieldcase::model::event::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(event) = Event::from_json(&value) {
        let _ = event.check_shape();
        let _ = event.item();
        let _ = event.signing_bytes();
        let _ = event.content_hash();
    }
});
