//! What kind of failure an error is, decided by the library where it knows why, so that each
//! front door maps kinds (not nested variants) to what it answers: the CLI to exit codes
//! (docs/architecture.md, "Exit codes"), a server to HTTP statuses.

/// The kind of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The ledger or evidence does not verify, or the database reports damage.
    Integrity,
    /// The input or the request is wrong: bad lines, a bad argument, a wrong UDI.
    BadInput,
    /// What was asked for does not exist in the ledger (a unit, a lot, a record).
    NotFound,
    /// I/O or the environment: a missing or unreadable ledger, a full disk.
    Environment,
}
