//! Checkpoints: the ledger's signed statement "my first N records have this tree head", in
//! the C2SP tlog-checkpoint form, signed as a C2SP signed note with the ledger key, so that
//! existing transparency-log verifiers and witnesses can check them (docs/format.md).
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <base64 of the 32-byte RFC 9162 tree head>\n
//! \n
//! — <key name> <base64(4-byte key id || 64-byte Ed25519 signature of the three lines)>\n
//! ```
//!
//! The key name is the origin; the key id is SHA-256(name || 0x0A || 0x01 || public key)\[:4\].

use crate::merkle::NodeHash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const EM_DASH_SPACE: &str = "\u{2014} ";
/// Notes larger than this are refused before parsing (a checkpoint is a few hundred bytes).
const NOTE_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a signed note: {0}")]
    Malformed(String),
    #[error("not a checkpoint: {0}")]
    BadBody(String),
    #[error("the note carries no signature by key {name} (key id {key_id:08x})")]
    NoSignatureByKey { name: String, key_id: u32 },
    #[error(
        "the signature by {name} does not verify: the note was altered or signed by another key"
    )]
    BadSignature { name: String },
}

/// A checkpoint's body: which log, how many records, what tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root: NodeHash,
}

impl Checkpoint {
    /// The note text that is signed (three lines, each ending in a newline).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            BASE64.encode(self.root.0)
        )
    }

    fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |why: &str| CheckpointError::BadBody(why.to_owned());
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size_text = lines.next().ok_or_else(|| bad("no tree size line"))?;
        if size_text.is_empty()
            || !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(bad(&format!(
                "tree size {size_text:?} is not a decimal number"
            )));
        }
        let tree_size = size_text
            .parse()
            .map_err(|_| bad("tree size out of range"))?;
        let root_text = lines.next().ok_or_else(|| bad("no root hash line"))?;
        let root = BASE64
            .decode(root_text)
            .ok()
            .and_then(|bytes| NodeHash::from_slice(&bytes))
            .ok_or_else(|| {
                bad(&format!(
                    "root hash {root_text:?} is not 32 bytes of base64"
                ))
            })?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            tree_size,
            root,
        })
    }
}

/// The signed-note key id of an Ed25519 key under `name`.
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0x0a, 0x01]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The verifier key string of the Go `note` package and of witnesses:
/// `name+<key id, 8 hex>+base64(0x01 || public key)`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let mut raw = vec![0x01];
    raw.extend_from_slice(key.as_bytes());
    format!("{name}+{:08x}+{}", key_id(name, key), BASE64.encode(raw))
}

/// Signs `checkpoint` with the ledger key, named by its origin. Returns the whole note.
pub fn sign(checkpoint: &Checkpoint, key: &SigningKey) -> String {
    let body = checkpoint.body();
    let signature = key.sign(body.as_bytes());
    let mut blob = key_id(&checkpoint.origin, &key.verifying_key())
        .to_be_bytes()
        .to_vec();
    blob.extend_from_slice(&signature.to_bytes());
    format!(
        "{body}\n{EM_DASH_SPACE}{} {}\n",
        checkpoint.origin,
        BASE64.encode(blob)
    )
}

/// Parses a signed checkpoint note and verifies the signature of `key` on it (the key name
/// being the note's origin). Signatures by other keys (witnesses, say) are ignored, as the
/// signed-note spec says.
///
/// # Errors
/// A malformed note or body, no signature by the key, or one that does not verify.
pub fn open(note: &str, key: &VerifyingKey) -> Result<Checkpoint, CheckpointError> {
    let (body, checkpoint) = parse(note)?;
    let name = &checkpoint.origin;
    let wanted = key_id(name, key);
    let signatures = &note[body.len() + 1..];
    // Every signature line is read before one is chosen: a malformed line is refused
    // wherever it stands, as the signed-note format requires.
    let mut ours = None;
    for line in signatures.split_terminator('\n') {
        let rest = line.strip_prefix(EM_DASH_SPACE).ok_or_else(|| {
            CheckpointError::Malformed(format!(
                "signature line {line:?} does not start with an em dash and a space"
            ))
        })?;
        let (signer, blob) = rest.split_once(' ').ok_or_else(|| {
            CheckpointError::Malformed(format!("signature line {line:?} has no key name"))
        })?;
        let bytes = BASE64.decode(blob).map_err(|_| {
            CheckpointError::Malformed(format!("signature of {signer} is not base64"))
        })?;
        if bytes.len() < 4 {
            return Err(CheckpointError::Malformed(format!(
                "signature of {signer} is too short"
            )));
        }
        let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if ours.is_none() && signer == name && id == wanted {
            ours = Some(bytes);
        }
    }
    if let Some(bytes) = ours {
        let signature = <[u8; 64]>::try_from(&bytes[4..])
            .map(|raw| Signature::from_bytes(&raw))
            .map_err(|_| CheckpointError::BadSignature { name: name.clone() })?;
        return key
            .verify_strict(body.as_bytes(), &signature)
            .map(|()| checkpoint.clone())
            .map_err(|_| CheckpointError::BadSignature { name: name.clone() });
    }
    Err(CheckpointError::NoSignatureByKey {
        name: name.clone(),
        key_id: wanted,
    })
}

/// Splits a note into its text (the body, with its final newline) and the checkpoint it
/// states, without checking any signature: only for showing what a note claims.
///
/// # Errors
/// A malformed note or body.
pub fn parse(note: &str) -> Result<(&str, Checkpoint), CheckpointError> {
    if note.len() > NOTE_BYTES_MAX {
        return Err(CheckpointError::Malformed(format!(
            "larger than {NOTE_BYTES_MAX} bytes"
        )));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CheckpointError::Malformed(
            "control characters other than newline".into(),
        ));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| CheckpointError::Malformed("no blank line before the signatures".into()))?;
    let body = &note[..=split];
    if !note.ends_with('\n') {
        return Err(CheckpointError::Malformed(
            "does not end with a newline".into(),
        ));
    }
    Ok((body, Checkpoint::parse_body(body)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_opens_with_its_key_and_not_once_altered() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let checkpoint = Checkpoint {
            origin: "traceledger.example/GAL".into(),
            tree_size: 42,
            root: NodeHash([5u8; 32]),
        };
        let note = sign(&checkpoint, &key);
        assert_eq!(open(&note, &key.verifying_key()), Ok(checkpoint));
        let altered = note.replace("\n42\n", "\n43\n");
        assert!(matches!(
            open(&altered, &key.verifying_key()),
            Err(CheckpointError::BadSignature { .. })
        ));
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert!(matches!(
            open(&note, &other.verifying_key()),
            Err(CheckpointError::NoSignatureByKey { .. })
        ));
    }

    #[test]
    fn a_malformed_signature_line_after_ours_is_refused() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let checkpoint = Checkpoint {
            origin: "traceledger.example/GAL".into(),
            tree_size: 7,
            root: NodeHash([1u8; 32]),
        };
        let note = sign(&checkpoint, &key);
        let with_junk = format!("{note}not a signature line\n");
        assert!(matches!(
            open(&with_junk, &key.verifying_key()),
            Err(CheckpointError::Malformed(_))
        ));
        // A well-formed line of another witness after ours is fine.
        let witness = format!("{note}\u{2014} witness.example AAAAAAAA\n");
        assert_eq!(open(&witness, &key.verifying_key()), Ok(checkpoint));
    }
}
