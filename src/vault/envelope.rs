//! age encryption to the vault's recipients (the device key and, if set, the
//! office escrow key) and decryption with the device key. Every encrypted file
//! of the vault is a standard age v1 file.
use std::io::{Read, Write};

use age::x25519;
use zeroize::Zeroizing;

/// Encrypt `plaintext` to every recipient into one age file in memory.
pub(crate) fn encrypt(recipients: &[x25519::Recipient], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(plaintext.len() + 256 + 100 * recipients.len());
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

/// Decrypt an age file with the device identity.
pub(crate) fn decrypt(identity: &x25519::Identity, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let d = age::Decryptor::new_buffered(ciphertext).map_err(|e| e.to_string())?;
    let mut r = d.decrypt(std::iter::once(identity as &dyn age::Identity)).map_err(|e| e.to_string())?;
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    r.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}
