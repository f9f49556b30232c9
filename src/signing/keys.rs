//! Key files and key ids.
//!
//! A private key is an Ed25519 key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), written
//! with mode 0600; its public key sits beside it as `FILE.pub` in SubjectPublicKeyInfo PEM
//! (`-----BEGIN PUBLIC KEY-----`). Private keys never enter the ledger: events carry only
//! the public key (`key.registered`, base64 of the 32 raw bytes).
//!
//! A key's default id is its fingerprint, `ed25519:` and the first 8 bytes of
//! SHA-256(public key) in hex: the id `keys show` prints and `key.registered` may use. The
//! ledger's own key also has a C2SP signed-note key name and hash (see `checkpoint`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: already exists (a key is never overwritten)")]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an Ed25519 {what} in PEM ({detail})")]
    Format {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
    #[error("the system's random source failed: {0}")]
    Random(String),
}

impl KeyError {
    /// Whether the fault is the input's (a bad or misplaced file) rather than the machine's.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, KeyError::Exists { .. } | KeyError::Format { .. })
    }
}

/// A fresh key from the operating system's random source.
///
/// # Errors
/// `Random` if the OS cannot give randomness.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// `FILE.pub`: where the public key of the private key file `FILE` is kept.
pub fn public_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes `key` to `path` (0600) and its public key to `path.pub`; neither may exist.
///
/// # Errors
/// `Exists`, or `Write`.
pub fn write_key_pair(key: &SigningKey, path: &Path) -> Result<PathBuf, KeyError> {
    let public = public_path(path);
    for target in [path, public.as_path()] {
        if target.exists() {
            return Err(KeyError::Exists {
                path: target.to_owned(),
            });
        }
    }
    // PKCS#8 v1 (RFC 8410, the private key alone): what OpenSSL and other tools read; the
    // v2 form with the public key inside is refused by OpenSSL 3.0.
    let v1 = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let private_pem = v1
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Write {
            path: public.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    write_new(path, private_pem.as_bytes(), true)?;
    if let Err(e) = write_new(&public, public_pem.as_bytes(), false) {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(public)
}

fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // The mode is set at creation, so the key is never readable by others, not even
        // for a moment.
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let write_error = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_owned(),
            }
        } else {
            write_error(source)
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(write_error)
}

fn read_text(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads a private key file.
///
/// # Errors
/// `Read`, or `Format` if it is not a PKCS#8 PEM Ed25519 key.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read_text(path)?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyError::Format {
        path: path.to_owned(),
        what: "private key (PKCS#8)",
        detail: e.to_string(),
    })
}

/// Reads a public key file (SubjectPublicKeyInfo PEM); a private key file is accepted too
/// and gives its public key.
///
/// # Errors
/// `Read`, or `Format`.
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = read_text(path)?;
    if let Ok(key) = VerifyingKey::from_public_key_pem(&text) {
        return Ok(key);
    }
    SigningKey::from_pkcs8_pem(&text)
        .map(|key| key.verifying_key())
        .map_err(|e| KeyError::Format {
            path: path.to_owned(),
            what: "public key (SubjectPublicKeyInfo)",
            detail: e.to_string(),
        })
}

/// The key's fingerprint id: `ed25519:` + hex of the first 8 bytes of SHA-256(public key).
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("ed25519:{}", super::hex(&digest[..8]))
}

/// The public key as `key.registered` carries it: base64 of the 32 raw bytes.
pub fn public_key_base64(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// Parses `key.registered`'s `public_key`.
pub fn parse_public_key_base64(text: &str) -> Option<VerifyingKey> {
    let bytes = BASE64.decode(text).ok()?;
    let raw = <[u8; 32]>::try_from(bytes).ok()?;
    VerifyingKey::from_bytes(&raw).ok()
}

/// The deterministic key of fixtures and simulations: seed = SHA-256(`label`). Never for
/// real use: anyone who knows the label has the key.
pub fn key_from_label(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}
