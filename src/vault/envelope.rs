//! age encryption to the vault's recipients (the device key and, if set, the
//! office escrow key) and decryption with the device key. Every encrypted file
//! of the vault is a standard age v1 file.
use std::io::{Read, Write};

use age::x25519;
use zeroize::Zeroizing;

/// Encrypt `plaintext` to every recipient into one age file in memory.
pub(crate) fn encrypt(recipients: &[x25519::Recipient], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    // age adds a 16-byte tag per 64 KiB chunk, a 16-byte nonce and a header
    // of about 100 bytes per recipient: reserve it all, so an 8 MiB segment
    // is not copied into a buffer twice its size halfway through.
    let tags = 16 * (plaintext.len() / (64 * 1024) + 1);
    let mut out = Vec::with_capacity(plaintext.len() + tags + 16 + 256 + 100 * recipients.len());
    encrypt_into(recipients, plaintext, &mut out)?;
    Ok(out)
}

/// Encrypt `plaintext` to every recipient, streaming into `out`.
pub(crate) fn encrypt_into<W: Write>(recipients: &[x25519::Recipient], plaintext: &[u8], out: W) -> Result<W, String> {
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| e.to_string())?;
    let mut w = enc.wrap_output(out).map_err(|e| e.to_string())?;
    w.write_all(plaintext).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())
}

/// Decrypt an age file with any of the vault's identities (the current one,
/// and the previous one while a key change is being finished).
pub(crate) fn decrypt(identities: &[x25519::Identity], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let d = age::Decryptor::new_buffered(ciphertext).map_err(|e| e.to_string())?;
    let mut r = d.decrypt(identities.iter().map(|i| i as &dyn age::Identity)).map_err(|e| e.to_string())?;
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    r.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer is reserved for the whole age file up front: encrypting
    /// an 8 MiB segment must not reallocate (and copy) it into one twice the
    /// size, which is what a too-small reservation does.
    #[test]
    fn encrypt_never_grows_its_buffer() {
        let id = x25519::Identity::generate();
        let recipients = [id.to_public(), x25519::Identity::generate().to_public()];
        for len in [0, 1, 65_535, 65_536, 65_537, 3 * 65_536 + 5, 1 << 20, 8 << 20] {
            let plain = vec![7u8; len];
            let ct = encrypt(&recipients, &plain).unwrap();
            let spare = ct.capacity() - ct.len();
            assert!(spare < 4096, "{len} bytes: {spare} bytes of spare capacity, the buffer was regrown");
            assert_eq!(&decrypt(std::slice::from_ref(&id), &ct).unwrap()[..], &plain[..]);
        }
    }
}
