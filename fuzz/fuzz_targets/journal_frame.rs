//! A journal file's bytes → header and frame splitting, as recovery reads
//! it before anything is authenticated; and the frame payload JSON.
#![no_main]

use fieldcase::vault::frame::{next_frame, parse_header, FramePayload, FrameSlice, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The decrypted payload of a frame is JSON; parse the same bytes as one.
    let _ = serde_json::from_slice::<FramePayload>(data);
    let Ok((_, tagged)) = parse_header(data) else {
        return;
    };
    let mut offset = HEADER_LEN;
    loop {
        match next_frame(data, offset, tagged) {
            FrameSlice::Frame { ciphertext, tag, next } => {
                assert!(next > offset && next <= data.len(), "frame split must make progress inside the input");
                assert_eq!(tag.len(), if tagged { 32 } else { 0 });
                assert_eq!(ciphertext.len() + tag.len(), next - offset - 4);
                offset = next;
            }
            FrameSlice::End | FrameSlice::Bad(_) => break,
        }
    }
});
