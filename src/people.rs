//! People and electronic signatures as projections show them: a person by id with the
//! printed name `person.registered` gave them, a signature with its signer's name, meaning,
//! time, key and the record that carries it (21 CFR 11.50: the printed name, the time and
//! the meaning shown with every signature).

use crate::event::{EntityKind, RefRole};
use crate::store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// A person as records name them: the id, and the printed name from `person.registered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: String,
    pub name: Option<String>,
}

/// An electronic signature on a record (21 CFR 11.50): who, with which meaning, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub signer: String,
    pub name: Option<String>,
    pub meaning: String,
    pub signed_at: String,
    pub key: String,
    /// The record that carries it.
    pub seq: u64,
}

/// People's printed names, looked up once per projection.
pub struct People<'s> {
    store: &'s Store,
    names: HashMap<String, Option<String>>,
}

impl<'s> People<'s> {
    pub fn new(store: &'s Store) -> People<'s> {
        People {
            store,
            names: HashMap::new(),
        }
    }

    pub fn person(&mut self, id: Option<&str>) -> Result<Option<Person>, StoreError> {
        let Some(id) = id else {
            return Ok(None);
        };
        if let Some(name) = self.names.get(id) {
            return Ok(Some(Person {
                id: id.to_owned(),
                name: name.clone(),
            }));
        }
        let name = self
            .store
            .records_of_type_naming(
                "person.registered",
                EntityKind::Person,
                RefRole::Defines,
                id,
            )?
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.event).ok())
            .find(|e| e["data"]["person"].as_str() == Some(id))
            .and_then(|e| e["data"]["name"].as_str().map(str::to_owned));
        self.names.insert(id.to_owned(), name.clone());
        Ok(Some(Person {
            id: id.to_owned(),
            name,
        }))
    }

    /// The electronic signatures a record carries, with the signers' printed names.
    pub fn signatures(
        &mut self,
        signatures: &Value,
        seq: u64,
    ) -> Result<Vec<Signature>, StoreError> {
        let mut out = Vec::new();
        for entry in signatures.as_array().into_iter().flatten() {
            let field = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
            let signer = field("signer");
            let name = self.person(Some(&signer))?.and_then(|p| p.name);
            out.push(Signature {
                name,
                meaning: field("meaning"),
                signed_at: field("signed_at"),
                key: field("key"),
                signer,
                seq,
            });
        }
        Ok(out)
    }
}
