//! Ed25519 at volume: the signatures a walk over the ledger finds are checked on worker
//! threads while the walk goes on, through a bounded queue, so memory stays flat however
//! long the ledger and the arithmetic overlaps the reading.
//!
//! Two modes. `Strict` checks every signature one by one with `verify_strict`, the final
//! word (ingest and `verify-bundle` use it too). `Batch`, the default of `verify`, checks 16
//! at a time with randomized batch verification, about twice as fast. Batch verification
//! skips the strict checks, so it is a fast path only: a signature whose `R` or whose key is
//! of small order is sent to strict verification, whatever the batch says (such a signature
//! can pass a batch for certain: `R` the identity and `s = k·a`), and a batch that fails is
//! judged one by one, strictly, to name the bad signature. What is left is a signature whose
//! `R` carries a small-order component on top of a valid one: only the holder of the private
//! key can make it, it passes a batch with probability at most 1/2, and it proves the key
//! holder signed; `verify --strict-signatures` refuses it (docs/security.md).

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, VerifyingKey};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, OnceLock};

/// Signatures per batch: batch verification pays from a handful on (16 cost 28 µs each,
/// 64 cost 30, strict one by one 62, measured here), and small batches keep the arithmetic's
/// tables small: 64 per batch made `verify` take 97 MB on a 1M-record ledger, 16 take 70.
const BATCH: usize = 16;

/// Batches in flight between the walk and the workers: bounds memory.
const QUEUE_BATCHES: usize = 64;

/// How signatures are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Batch verification as a fast path, strict verification where it cannot decide.
    #[default]
    Batch,
    /// Every signature strictly, one by one.
    Strict,
}

/// One Ed25519 check to do.
#[derive(Debug, Clone)]
pub struct SignatureJob {
    pub seq: u64,
    /// The signature's index in the record's `signatures`.
    pub index: usize,
    pub key_id: String,
    pub message: Vec<u8>,
    pub signature: Signature,
    pub public_key: VerifyingKey,
}

/// The first signature that does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSignature {
    pub seq: u64,
    pub index: usize,
    pub key_id: String,
}

/// Where a walk puts the signatures it finds.
pub struct SignatureQueue {
    batch: Vec<SignatureJob>,
    sender: Option<SyncSender<Vec<SignatureJob>>>,
    queued: u64,
}

impl SignatureQueue {
    pub fn push(&mut self, job: SignatureJob) {
        self.queued += 1;
        self.batch.push(job);
        if self.batch.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        // A send fails only when every worker is gone, which join reports.
        if let Some(sender) = &self.sender {
            let _ = sender.send(batch);
        }
    }
}

/// Runs `walk` with a queue whose signatures are verified on worker threads meanwhile.
/// Returns what `walk` returned, how many signatures were queued, and the first bad one
/// (lowest seq, then index).
pub fn verify_during<R>(
    mode: Mode,
    walk: impl FnOnce(&mut SignatureQueue) -> R,
) -> (R, u64, Option<BadSignature>) {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8);
    let (sender, receiver) = sync_channel::<Vec<SignatureJob>>(QUEUE_BATCHES);
    let receiver = Mutex::new(receiver);
    // Lowest seq found bad so far: batches wholly after it need no checking.
    let lowest_bad = AtomicU64::new(u64::MAX);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| work(mode, &receiver, &lowest_bad)))
            .collect();
        let mut queue = SignatureQueue {
            batch: Vec::with_capacity(BATCH),
            sender: Some(sender),
            queued: 0,
        };
        let result = walk(&mut queue);
        queue.flush();
        queue.sender = None;
        let bad = handles
            .into_iter()
            .filter_map(|handle| handle.join().ok().flatten())
            .min_by_key(|bad| (bad.seq, bad.index));
        (result, queue.queued, bad)
    })
}

fn work(
    mode: Mode,
    receiver: &Mutex<Receiver<Vec<SignatureJob>>>,
    lowest_bad: &AtomicU64,
) -> Option<BadSignature> {
    let mut first: Option<BadSignature> = None;
    loop {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return first,
        };
        let Ok(batch) = next else {
            return first;
        };
        if batch
            .first()
            .is_none_or(|job| job.seq > lowest_bad.load(Ordering::Relaxed))
        {
            continue;
        }
        if let Some(bad) = check_batch(mode, &batch) {
            lowest_bad.fetch_min(bad.seq, Ordering::Relaxed);
            if first
                .as_ref()
                .is_none_or(|f| (bad.seq, bad.index) < (f.seq, f.index))
            {
                first = Some(bad);
            }
        }
    }
}

/// The first bad signature of one batch, if any.
pub fn check_batch(mode: Mode, batch: &[SignatureJob]) -> Option<BadSignature> {
    if mode == Mode::Batch && batch_passes(batch) {
        return None;
    }
    batch
        .iter()
        .find(|job| {
            job.public_key
                .verify_strict(&job.message, &job.signature)
                .is_err()
        })
        .map(|job| BadSignature {
            seq: job.seq,
            index: job.index,
            key_id: job.key_id.clone(),
        })
}

/// Whether batch verification may accept these: none has a small-order `R` or key (those
/// go to strict verification), and the batch equation holds.
fn batch_passes(batch: &[SignatureJob]) -> bool {
    if batch
        .iter()
        .any(|job| job.public_key.is_weak() || is_small_order_r(&job.signature))
    {
        return false;
    }
    let messages: Vec<&[u8]> = batch.iter().map(|job| job.message.as_slice()).collect();
    let signatures: Vec<Signature> = batch.iter().map(|job| job.signature).collect();
    let keys: Vec<VerifyingKey> = batch.iter().map(|job| job.public_key).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

/// Whether the signature's `R` decodes to a point of small order. Compared against every
/// encoding that decodes to one (canonical or not, either sign bit): no decompression, so
/// the check costs nothing beside the batch.
fn is_small_order_r(signature: &Signature) -> bool {
    small_order_encodings().contains(signature.r_bytes())
}

fn small_order_encodings() -> &'static [[u8; 32]] {
    static ENCODINGS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    ENCODINGS.get_or_init(|| {
        // p = 2^255 - 19, little-endian.
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut found: Vec<[u8; 32]> = Vec::new();
        for point in EIGHT_TORSION {
            let mut y = point.compress().0;
            y[31] &= 0x7f;
            let mut forms = vec![y];
            // y + p still fits in 255 bits only for y < 19; decoders reduce it to y.
            if y[1..].iter().all(|b| *b == 0) && y[0] < 19 {
                let mut sum = p;
                sum[0] = p[0] + y[0];
                forms.push(sum);
            }
            for form in forms {
                for sign in [0u8, 0x80] {
                    let mut bytes = form;
                    bytes[31] |= sign;
                    let small = CompressedEdwardsY(bytes)
                        .decompress()
                        .is_some_and(|decoded| decoded.is_small_order());
                    if small && !found.contains(&bytes) {
                        found.push(bytes);
                    }
                }
            }
        }
        found
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use curve25519_dalek::scalar::Scalar;
    use ed25519_dalek::{Signer, SigningKey};
    use sha2::{Digest, Sha512};

    fn job(seq: u64, key: &SigningKey, message: &[u8], signature: Signature) -> SignatureJob {
        SignatureJob {
            seq,
            index: 0,
            key_id: format!("k-{seq}"),
            message: message.to_vec(),
            signature,
            public_key: key.verifying_key(),
        }
    }

    /// A signature with `R` the identity and `s = k·a`: it satisfies the batch equation
    /// exactly, yet RFC 8032 strict verification refuses it. Only the key holder can make it.
    fn identity_r_signature(key: &SigningKey, message: &[u8]) -> Signature {
        let expanded = Sha512::digest(key.to_bytes());
        let mut scalar_bytes = [0u8; 32];
        scalar_bytes.copy_from_slice(&expanded[..32]);
        scalar_bytes[0] &= 248;
        scalar_bytes[31] &= 127;
        scalar_bytes[31] |= 64;
        let a = Scalar::from_bytes_mod_order(scalar_bytes);
        let r = curve25519_dalek::edwards::EdwardsPoint::default().compress();
        assert_eq!(
            (ED25519_BASEPOINT_POINT * a).compress().0,
            key.verifying_key().to_bytes()
        );
        let mut hasher = Sha512::new();
        hasher.update(r.0);
        hasher.update(key.verifying_key().to_bytes());
        hasher.update(message);
        let k = Scalar::from_hash(hasher);
        let s = k * a;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&r.0);
        bytes[32..].copy_from_slice(s.as_bytes());
        Signature::from_bytes(&bytes)
    }

    #[test]
    fn every_small_order_encoding_is_known() {
        let set = small_order_encodings();
        // 8 canonical points; the sign-bit twins of the two with x = 0 (identity and
        // (0, -1)); and y + p for y = 0 and y = 1, with either sign bit where x = 0.
        assert!(set.len() >= 8, "{}", set.len());
        for point in EIGHT_TORSION {
            assert!(set.contains(&point.compress().0));
        }
        for bytes in set {
            let decoded = CompressedEdwardsY(*bytes).decompress().unwrap();
            assert!(decoded.is_small_order());
        }
    }

    #[test]
    fn a_batch_of_good_signatures_passes_and_a_bad_one_is_named() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let mut batch: Vec<SignatureJob> = (1..=10u64)
            .map(|seq| {
                let message = format!("record {seq}").into_bytes();
                let signature = key.sign(&message);
                job(seq, &key, &message, signature)
            })
            .collect();
        assert_eq!(check_batch(Mode::Batch, &batch), None);
        assert_eq!(check_batch(Mode::Strict, &batch), None);
        batch[6].message = b"record 7, altered".to_vec();
        let bad = check_batch(Mode::Batch, &batch).unwrap();
        assert_eq!((bad.seq, bad.key_id.as_str()), (7, "k-7"));
    }

    #[test]
    fn a_small_order_r_passes_dalek_batch_but_not_ours() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let message = b"unit.released SN-1".to_vec();
        let forged = identity_r_signature(&key, &message);
        let vk = key.verifying_key();
        // The gap being closed: the plain batch accepts it, strict refuses it.
        assert!(ed25519_dalek::verify_batch(&[message.as_slice()], &[forged], &[vk]).is_ok());
        assert!(vk.verify_strict(&message, &forged).is_err());
        let good = key.sign(b"another");
        let batch = vec![
            job(1, &key, b"another", good),
            job(2, &key, &message, forged),
        ];
        assert_eq!(check_batch(Mode::Batch, &batch).map(|b| b.seq), Some(2));
        assert_eq!(check_batch(Mode::Strict, &batch).map(|b| b.seq), Some(2));
    }

    #[test]
    fn the_queue_finds_the_lowest_bad_signature_across_workers() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        for mode in [Mode::Batch, Mode::Strict] {
            let ((), queued, bad) = verify_during(mode, |queue| {
                for seq in 1..=1000u64 {
                    let message = format!("record {seq}").into_bytes();
                    let mut signature = key.sign(&message);
                    if seq == 700 || seq == 901 {
                        signature = key.sign(b"something else");
                    }
                    queue.push(job(seq, &key, &message, signature));
                }
            });
            assert_eq!(queued, 1000);
            assert_eq!(bad.map(|b| b.seq), Some(700), "{mode:?}");
        }
    }
}
