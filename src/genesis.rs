//! A new ledger: its own signing key, and the genesis records that start its chain of trust.
//!
//! The genesis is four records written by `init` with source [`GENESIS_SOURCE`]: the site,
//! the first admin person, the admin role granted to them, and their public key. Nobody can
//! sign those yet (signing needs a registered key and a role), so the ledger key signs them
//! instead: `init` issues the first checkpoint over exactly these records. From there every
//! key and role is granted by a signed event, so every signature in the ledger traces back
//! to the ledger key, which the auditor holds as a public key file.
//!
//! The ledger key's private half lives beside the ledger (`LEDGER.key`, mode 0600), never in
//! it; the ledger keeps its public key and origin in `meta` for convenience, but an auditor
//! should verify with their own copy (`verify --ledger-key`).

use crate::checkpoint::{self, Checkpoint};
use crate::event::{EventFacts, SchemaSet, ValidEvent, entity_refs};
use crate::log_tree;
use crate::signing::keys::{self, KeyError};
use crate::store::{Store, StoreError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The `source` of genesis records; ingest refuses it on any other event.
pub const GENESIS_SOURCE: &str = "system:traceledger-init";
pub const META_ORIGIN: &str = "origin";
pub const META_LEDGER_KEY: &str = "ledger_public_key";
pub const META_GENESIS_SIZE: &str = "genesis_size";

#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis event {index}: {message}")]
    Invalid { index: usize, message: String },
    #[error("origin {0:?} is not a valid checkpoint origin (non-empty, no spaces, no '+')")]
    BadOrigin(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tree(#[from] log_tree::TreeError),
}

/// What the genesis records: the first site and its first admin.
#[derive(Debug, Clone)]
pub struct GenesisSpec {
    pub site: String,
    pub site_name: String,
    pub timezone: String,
    pub admin: String,
    pub admin_name: String,
    pub admin_key_id: String,
    pub admin_key: VerifyingKey,
    /// `occurred_at` of the genesis records (RFC 3339).
    pub at: String,
}

impl GenesisSpec {
    /// The four genesis events, unsigned.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let event = |n: u32, event_type: &str, data: serde_json::Value| {
            let mut value = json!({
                "id": format!("traceledger-genesis:{n}"),
                "type": event_type,
                "occurred_at": self.at,
                "site": self.site,
                "source": GENESIS_SOURCE,
                "data": data,
            });
            if n > 1 {
                value["actor"] = json!(self.admin);
            }
            value
        };
        vec![
            event(
                1,
                "site.registered",
                json!({"site": self.site, "name": self.site_name, "timezone": self.timezone}),
            ),
            event(
                2,
                "person.registered",
                json!({"person": self.admin, "name": self.admin_name}),
            ),
            event(
                3,
                "role.granted",
                json!({"person": self.admin, "role": "admin"}),
            ),
            event(
                4,
                "key.registered",
                json!({"key": self.admin_key_id, "person": self.admin, "public_key": keys::public_key_base64(&self.admin_key)}),
            ),
        ]
    }
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct Created {
    pub ledger_key: PathBuf,
    pub ledger_public_key: PathBuf,
    pub origin: String,
    pub verifier_key: String,
    pub genesis_size: u64,
    pub checkpoint: String,
}

/// The ledger's identity as kept in its `meta`.
#[derive(Debug, Clone)]
pub struct Identity {
    pub origin: String,
    pub public_key: VerifyingKey,
    pub genesis_size: u64,
}

/// Reads the origin, ledger public key and genesis size from `meta`; `None` if any is
/// missing or unreadable (a ledger without a genesis, or a damaged one).
///
/// # Errors
/// A database error.
pub fn identity(store: &Store) -> Result<Option<Identity>, StoreError> {
    let origin = store.meta(META_ORIGIN)?;
    let key = store
        .meta(META_LEDGER_KEY)?
        .and_then(|k| keys::parse_public_key_base64(&k));
    let size = store.meta(META_GENESIS_SIZE)?.and_then(|s| s.parse().ok());
    Ok(match (origin, key, size) {
        (Some(origin), Some(public_key), Some(genesis_size)) => Some(Identity {
            origin,
            public_key,
            genesis_size,
        }),
        _ => None,
    })
}

/// A valid origin (signed-note key name): non-empty, no Unicode space, no '+'.
pub fn valid_origin(origin: &str) -> bool {
    !origin.is_empty()
        && !origin
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// Creates a ledger at `path` with a new ledger key at `key_path` (and `key_path.pub`), the
/// genesis of `spec`, and the first checkpoint over it. All or nothing: on any failure no
/// file is left behind.
///
/// # Errors
/// A file in the way, an invalid genesis (bad ids, say), or an I/O or database failure.
pub fn init(
    path: &Path,
    key_path: &Path,
    origin: Option<String>,
    spec: &GenesisSpec,
    schemas: &SchemaSet,
) -> Result<Created, GenesisError> {
    let ledger_key = keys::generate()?;
    let origin = origin.unwrap_or_else(|| {
        let id = keys::key_id(&ledger_key.verifying_key());
        format!(
            "traceledger/{}/{}",
            spec.site,
            id.trim_start_matches("ed25519:")
        )
    });
    if !valid_origin(&origin) {
        return Err(GenesisError::BadOrigin(origin));
    }
    let events = spec
        .events()
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            ValidEvent::from_value(value, schemas).map_err(|rejection| GenesisError::Invalid {
                index: index + 1,
                message: rejection.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = Store::create(path)?;
    let result = (|| {
        let public = keys::write_key_pair(&ledger_key, key_path)?;
        let written = write_genesis(&mut store, &events, &origin, &ledger_key);
        if written.is_err() {
            let _ = std::fs::remove_file(key_path);
            let _ = std::fs::remove_file(&public);
        }
        let (genesis_size, note) = written?;
        Ok(Created {
            ledger_key: key_path.to_owned(),
            ledger_public_key: public,
            verifier_key: checkpoint::verifier_key(&origin, &ledger_key.verifying_key()),
            origin,
            genesis_size,
            checkpoint: note,
        })
    })();
    if result.is_err() {
        drop(store);
        Store::remove_files(path);
    }
    result
}

fn write_genesis(
    store: &mut Store,
    events: &[ValidEvent],
    origin: &str,
    ledger_key: &SigningKey,
) -> Result<(u64, String), GenesisError> {
    let mut appender = store.begin_append()?;
    let mut size = 0;
    for event in events {
        size = appender
            .append(
                event,
                &entity_refs(&event.value),
                &EventFacts::of(&event.value),
            )?
            .seq;
    }
    appender.set_meta(META_ORIGIN, origin)?;
    appender.set_meta(
        META_LEDGER_KEY,
        &keys::public_key_base64(&ledger_key.verifying_key()),
    )?;
    appender.set_meta(META_GENESIS_SIZE, &size.to_string())?;
    appender.commit()?;
    let note = issue_checkpoint(store, origin, ledger_key)?.1;
    Ok((size, note))
}

/// Signs a checkpoint of the whole ledger as it stands and keeps it. Returns the checkpoint
/// and its note.
///
/// The root signed is [`log_tree::checked_root`]'s: the tree of the last kept checkpoint,
/// checked against the root it signed, extended by the records since, each checked against
/// its hash and link; never a root read from the stored subtree hashes. The subtree hashes
/// those records complete are stored with the checkpoint.
///
/// # Errors
/// A refusal when the records or stored nodes are not what they must be
/// ([`log_tree::TreeError::is_integrity`]), or a database error.
pub fn issue_checkpoint(
    store: &mut Store,
    origin: &str,
    ledger_key: &SigningKey,
) -> Result<(Checkpoint, String), log_tree::TreeError> {
    let tree_size = store.head()?.map_or(0, |head| head.seq);
    let (root, new_nodes) =
        log_tree::checked_root(store, &ledger_key.verifying_key(), origin, tree_size)?;
    let checkpoint = Checkpoint {
        origin: origin.to_owned(),
        tree_size,
        root,
    };
    let note = checkpoint::sign(&checkpoint, ledger_key);
    if !new_nodes.is_empty() {
        store.insert_tree_nodes(&new_nodes)?;
    }
    store.insert_checkpoint(tree_size, &root.0, &note)?;
    Ok((checkpoint, note))
}
