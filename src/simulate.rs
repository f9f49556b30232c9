//! A deterministic generator of realistic plant event streams, in the standard vocabulary.
//!
//! It plays one manufacturer: several sites, a pump module (a serialized sub-assembly) made at
//! one site and installed into infusion pumps at another, an implantable worked in a clean
//! room, and sterile catheter kits under lot control. Materials arrive in supplier lots that are
//! split, merged, held and consumed; work orders run in batches, steps fail now and then and
//! open nonconformances that end in rework (sometimes swapping the pump module) or scrap;
//! labels are printed, verified and reconciled; QA releases; devices ship to hospitals, and a
//! few come back as complaints or service visits. Corrections and detached signatures appear
//! too. Every line is valid against `schemas/` and every reference is defined earlier.
//!
//! The same seed gives the same bytes. Memory is bounded by one batch, whatever `units` is.
//! This module knows the vocabulary only; it never touches a ledger. Every signature a type
//! requires is made, by the actor, with a key derived from its id (`simulated_key`): the
//! stream ingests into a ledger made by `init --simulation` (its genesis: `genesis_spec`).

use crate::genesis::GenesisSpec;
use crate::signing::authority::requirement;
use crate::signing::keys::{key_from_label, public_key_base64};
use crate::signing::{Meaning, sign_event};
use crate::time::{civil_from_days, format_date, format_rfc3339_millis};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Clone)]
pub struct SimulationConfig {
    /// Finished devices to make (serialized devices, plus catheter kits counted one by one).
    pub units: u64,
    pub seed: u64,
    /// Sites, 1 to 26.
    pub sites: u32,
    /// Parts per received supplier lot ([`DEFAULT_LOT_SIZE`]): a lot of 10,000 reaches
    /// 10,000 devices, the forward trace a recall of a bulk part needs.
    pub lot_size: u64,
    /// Operators per site ([`DEFAULT_OPERATORS`]): a real plant has tens, each named by
    /// thousands of records.
    pub operators: u32,
    /// Instruments of each equipment kind per site ([`DEFAULT_INSTRUMENTS`]), used in turn.
    pub instruments: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulationSummary {
    pub events: u64,
    pub units: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("cannot write the simulated stream: {0}")]
    Write(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
}

/// 2026-01-05T06:00:00Z, a Monday morning: the plant's first shift.
const START_UNIX_MILLIS: i64 = 1_767_592_800_000;
/// The first admin, made by the genesis.
const ADMIN: &str = "p-0001";
const ADMIN_KEY: &str = "k-p-0001";

/// The private key of simulated key `key_id`: derived from its id, so known to everyone.
/// Good for tests and benchmarks, never for a real plant.
pub fn simulated_key(key_id: &str) -> SigningKey {
    key_from_label(&format!("traceledger-simulate:{key_id}"))
}

/// The genesis a simulated stream expects: the first site (GAL) and its admin, an hour
/// before the first shift. `traceledger init --simulation` writes it.
pub fn genesis_spec() -> GenesisSpec {
    let (site, name, timezone) = SITE_TABLE[0];
    GenesisSpec {
        site: site.to_owned(),
        site_name: name.to_owned(),
        timezone: timezone.to_owned(),
        admin: ADMIN.to_owned(),
        admin_name: "Aoife Byrne".to_owned(),
        admin_key_id: ADMIN_KEY.to_owned(),
        admin_key: simulated_key(ADMIN_KEY).verifying_key(),
        at: format_rfc3339_millis(START_UNIX_MILLIS - 3_600_000),
    }
}
/// Devices per work order of a serialized product.
const BATCH_UNITS: u64 = 10;
/// Kits per catheter-kit lot.
const KIT_LOT_SIZE: u64 = 40;
/// Parts per received supplier lot before a new one is needed, unless configured.
pub const DEFAULT_LOT_SIZE: u64 = 120;
/// Operators per site, unless configured.
pub const DEFAULT_OPERATORS: u32 = 4;
/// Instruments of each equipment kind per site, unless configured.
pub const DEFAULT_INSTRUMENTS: u32 = 1;

const SITE_TABLE: &[(&str, &str, &str)] = &[
    ("GAL", "Galway", "Europe/Dublin"),
    ("PEN", "Penang", "Asia/Kuala_Lumpur"),
    ("SJO", "San Jose", "America/Costa_Rica"),
    ("CRK", "Cork", "Europe/Dublin"),
    ("MXL", "Mexicali", "America/Tijuana"),
    ("SZH", "Suzhou", "Asia/Shanghai"),
    ("MPL", "Minneapolis", "America/Chicago"),
    ("LIM", "Limerick", "Europe/Dublin"),
];

const FIRST_NAMES: &[&str] = &[
    "Aoife",
    "Siew Ling",
    "Carlos",
    "Niamh",
    "Rajesh",
    "Mei",
    "Sean",
    "Lucia",
    "Farah",
    "Tomasz",
    "Ines",
    "Kwame",
    "Yuki",
    "Declan",
    "Priya",
    "Mateo",
];
const LAST_NAMES: &[&str] = &[
    "Byrne", "Tan", "Vargas", "Murphy", "Kumar", "Chen", "O'Brien", "Rojas", "Haddad", "Nowak",
    "Silva", "Mensah", "Sato", "Walsh", "Nair", "Jimenez",
];
const CUSTOMERS: &[(&str, &str)] = &[
    ("CUST-SJH", "St. James's Hospital, Dublin"),
    ("CUST-CHR", "Charite, Berlin"),
    ("CUST-MGH", "Massachusetts General Hospital, Boston"),
    ("CUST-SGH", "Singapore General Hospital"),
    ("CUST-HCL", "Hospital Clinic, Barcelona"),
    ("CUST-RPA", "Royal Prince Alfred Hospital, Sydney"),
];
/// Equipment kinds each site keeps, with a short code for equipment ids.
const EQUIPMENT_KINDS: &[(&str, &str, &str)] = &[
    ("torque_driver", "TQ", "Torque driver"),
    ("flow_analyzer", "FA", "Flow analyzer"),
    ("safety_tester", "ST", "Electrical safety tester"),
    ("heat_sealer", "HS", "Pouch heat sealer"),
    ("leak_tester", "LT", "Helium leak tester"),
];

/// SplitMix64: tiny, fast, and fully determined by the seed (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// Uniform in `[low, high)`, rounded to `decimals`.
    fn value(&mut self, low: f64, high: f64, decimals: i32) -> f64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let scale = 10f64.powi(decimals);
        ((low + (high - low) * unit) * scale).round() / scale
    }
}

/// A GTIN-14 from its first 13 digits: the GS1 mod-10 check digit (weights 3,1 from the right).
/// A GS1 UDI written in parentheses as a scanner reports it: the symbology identifier
/// (`]d2` DataMatrix, `]C1` GS1-128), then the element string, a GS (0x1D) after every
/// element of variable length but the last. Unparseable text is returned as it is.
pub fn scanned(parenthesized: &str, symbology: &str) -> String {
    let Ok(parsed) = crate::udi::parse(parenthesized) else {
        return parenthesized.to_owned();
    };
    let mut out = symbology.to_owned();
    let last = parsed.elements.len().saturating_sub(1);
    for (at, (ai, value)) in parsed.elements.iter().enumerate() {
        out.push_str(ai);
        out.push_str(value);
        let fixed = crate::udi::gs1_ai(ai).is_some_and(|d| d.fixed_length);
        if !fixed && at < last {
            out.push('\u{1d}');
        }
    }
    out
}

pub fn gtin14(first13: &str) -> String {
    let sum: u32 = first13
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{first13}{}", (10 - sum % 10) % 10)
}

/// A site as the simulator uses it.
struct Site {
    code: String,
    operators: Vec<String>,
    engineer: String,
    qa: String,
}

/// A product and how it is made.
struct Product {
    id: &'static str,
    gtin: String,
    routing: &'static str,
    /// (part, quantity, uom) consumed per device or kit.
    materials: &'static [(&'static str, &'static str, &'static str)],
    /// (op, name, equipment kind, checks (name, unit, lsl, usl)).
    operations: &'static [Operation],
    prefix: &'static str,
}

struct Operation {
    op: &'static str,
    name: &'static str,
    equipment: Option<&'static str>,
    checks: &'static [(&'static str, &'static str, f64, f64)],
}

const PMOD_OPS: &[Operation] = &[
    Operation {
        op: "10",
        name: "Motor and gearbox assembly",
        equipment: Some("torque_driver"),
        checks: &[("screw torque", "cN.m", 40.0, 60.0)],
    },
    Operation {
        op: "20",
        name: "Pump head fitting",
        equipment: None,
        checks: &[],
    },
    Operation {
        op: "30",
        name: "Module functional test",
        equipment: Some("flow_analyzer"),
        checks: &[
            ("flow rate", "mL/h", 98.0, 102.0),
            ("motor current", "mA", 150.0, 350.0),
        ],
    },
];
const INF_OPS: &[Operation] = &[
    Operation {
        op: "10",
        name: "Pump module and chassis assembly",
        equipment: Some("torque_driver"),
        checks: &[("screw torque", "cN.m", 40.0, 60.0)],
    },
    Operation {
        op: "20",
        name: "Battery pack installation",
        equipment: None,
        checks: &[],
    },
    Operation {
        op: "30",
        name: "Electrical safety test",
        equipment: Some("safety_tester"),
        checks: &[
            ("earth leakage", "uA", 0.0, 500.0),
            ("insulation resistance", "MOhm", 100.0, 2000.0),
        ],
    },
    Operation {
        op: "40",
        name: "Final functional test",
        equipment: Some("flow_analyzer"),
        checks: &[
            ("flow accuracy", "%", -5.0, 5.0),
            ("occlusion pressure", "kPa", 60.0, 100.0),
        ],
    },
    Operation {
        op: "50",
        name: "Labelling and packing",
        equipment: None,
        checks: &[],
    },
];
const IMP_OPS: &[Operation] = &[
    Operation {
        op: "10",
        name: "Lead and header assembly",
        equipment: Some("torque_driver"),
        checks: &[("set screw torque", "cN.m", 8.0, 12.0)],
    },
    Operation {
        op: "20",
        name: "Laser weld of the titanium can",
        equipment: None,
        checks: &[],
    },
    Operation {
        op: "30",
        name: "Hermeticity test",
        equipment: Some("leak_tester"),
        checks: &[("helium leak rate", "mbar.l/s", 0.0, 0.00001)],
    },
    Operation {
        op: "40",
        name: "Sterile barrier packing",
        equipment: Some("heat_sealer"),
        checks: &[("seal strength", "N", 10.0, 40.0)],
    },
];
const KIT_OPS: &[Operation] = &[
    Operation {
        op: "10",
        name: "Catheter and hub assembly",
        equipment: None,
        checks: &[],
    },
    Operation {
        op: "20",
        name: "Pouch sealing",
        equipment: Some("heat_sealer"),
        checks: &[("seal strength", "N", 10.0, 40.0)],
    },
    Operation {
        op: "30",
        name: "Kit packing and sterilisation load",
        equipment: None,
        checks: &[],
    },
];

/// A supplier lot in use at a site for one part.
struct LotInUse {
    site: usize,
    part: &'static str,
    lot: String,
    left: u64,
}

/// A device on the floor of the current batch.
struct Unit {
    serial: String,
    udi: String,
    scrapped: bool,
    module: Option<String>,
}

struct Sim<W: Write> {
    out: W,
    rng: Rng,
    seed: u64,
    lot_size: u64,
    clock_millis: i64,
    events: u64,
    sites: Vec<Site>,
    admin: String,
    /// Each person's current key: (key id, private key). Simulated keys are derived from
    /// their ids ([`simulated_key`]), so anyone can re-sign a simulated stream.
    keys: HashMap<String, (String, SigningKey)>,
    products: Vec<Product>,
    lots: Vec<LotInUse>,
    lot_counter: u64,
    serial_counter: u64,
    order_counter: u64,
    ncr_counter: u64,
    shipment_counter: u64,
    other_counter: u64,
    /// Pump modules made and not yet installed, oldest first.
    /// Pump modules made and not yet installed: (serial, UDI as labelled).
    spare_modules: Vec<(String, String)>,
    /// Released devices or lots waiting for a shipment: (site, "unit"|"lot", id, udi).
    to_ship: Vec<(usize, &'static str, String, String)>,
    /// The leak tester whose calibration lapses, so that some records show it past due.
    lapsed_equipment: String,
    operators: u32,
    instruments: u32,
}

const PMOD: usize = 0;
const INF: usize = 1;
const IMP: usize = 2;
const KIT: usize = 3;

impl<W: Write> Sim<W> {
    fn tick(&mut self, low_seconds: i64, high_seconds: i64) {
        let span = u64::try_from((high_seconds - low_seconds).max(1) * 1000).unwrap_or(1);
        self.clock_millis += low_seconds * 1000 + i64::try_from(self.rng.below(span)).unwrap_or(0);
    }

    fn today(&self) -> i64 {
        self.clock_millis.div_euclid(86_400_000)
    }

    fn yymmdd(days: i64) -> String {
        let (year, month, day) = civil_from_days(days);
        format!("{:02}{month:02}{day:02}", year.rem_euclid(100))
    }

    fn next_id(counter: &mut u64, prefix: &str, width: usize) -> String {
        *counter += 1;
        format!("{prefix}{:0width$}", *counter)
    }

    /// Writes one event and returns its id.
    fn emit(
        &mut self,
        event_type: &str,
        site: usize,
        source: &str,
        actor: Option<&str>,
        data: Value,
    ) -> Result<String, SimulateError> {
        self.tick(5, 90);
        self.events += 1;
        let id = format!("sim-{}-{:09}", self.seed, self.events);
        let mut event = json!({
            "id": id,
            "type": event_type,
            "occurred_at": format_rfc3339_millis(self.clock_millis),
            "site": self.sites[site].code,
            "source": source,
            "data": data,
        });
        if let (Some(actor), Some(object)) = (actor, event.as_object_mut()) {
            object.insert("actor".to_owned(), Value::String(actor.to_owned()));
        }
        // Every signature a type requires is made, by the actor, when it happened.
        if let (Some(required), Some(actor)) = (requirement(event_type, &event["data"]), actor)
            && let Some((key_id, key)) = self.keys.get(actor)
        {
            let signed_at = format_rfc3339_millis(self.clock_millis);
            let meaning = required.meaning.unwrap_or(Meaning::Authored);
            sign_event(&mut event, key, key_id, actor, meaning, &signed_at)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        serde_json::to_writer(&mut self.out, &event).map_err(std::io::Error::from)?;
        self.out.write_all(b"\n")?;
        Ok(id)
    }

    fn person_name(&mut self) -> String {
        let first = FIRST_NAMES[self.rng.below(FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[self.rng.below(LAST_NAMES.len() as u64) as usize];
        format!("{first} {last}")
    }

    fn register_key(&mut self, site: usize, person: &str, key: &str) -> Result<(), SimulateError> {
        let admin = self.admin.clone();
        let signing_key = simulated_key(key);
        let public_key = public_key_base64(&signing_key.verifying_key());
        self.emit(
            "key.registered",
            site,
            &format!("cli:{admin}"),
            Some(&admin),
            json!({"key": key, "person": person, "public_key": public_key}),
        )?;
        self.keys
            .insert(person.to_owned(), (key.to_owned(), signing_key));
        Ok(())
    }

    fn master_data(&mut self, site_count: usize) -> Result<(), SimulateError> {
        for index in 0..site_count {
            let (code, name, timezone) = match SITE_TABLE.get(index) {
                Some((code, name, tz)) => {
                    ((*code).to_owned(), (*name).to_owned(), (*tz).to_owned())
                }
                None => (
                    format!("S{:02}", index + 1),
                    format!("Plant {}", index + 1),
                    "UTC".to_owned(),
                ),
            };
            self.sites.push(Site {
                code: code.clone(),
                operators: Vec::new(),
                engineer: String::new(),
                qa: String::new(),
            });
            // The first site and its admin are the ledger's genesis (`init --simulation`).
            if index > 0 {
                self.emit(
                    "site.registered",
                    index,
                    "system:erp",
                    None,
                    json!({"site": code, "name": name, "timezone": timezone}),
                )?;
            }
        }
        let admin = self.admin.clone();
        let admin_source = format!("cli:{admin}");
        for index in 0..site_count {
            let code = self.sites[index].code.clone();
            let mut people = Vec::new();
            let roles = std::iter::repeat_n("operator", self.operators as usize)
                .chain(["engineer", "qa"])
                .collect::<Vec<_>>();
            for (n, role) in roles.iter().enumerate() {
                let person = format!("p-{code}-{:02}", n + 1);
                let name = self.person_name();
                self.emit(
                    "person.registered",
                    index,
                    &admin_source,
                    Some(&admin),
                    json!({"person": person, "name": name}),
                )?;
                self.emit(
                    "role.granted",
                    index,
                    &admin_source,
                    Some(&admin),
                    json!({"person": person, "role": role}),
                )?;
                if *role != "operator" {
                    self.register_key(index, &person, &format!("k-{person}"))?;
                }
                people.push(person);
            }
            let site = &mut self.sites[index];
            site.qa = people.pop().unwrap_or_default();
            site.engineer = people.pop().unwrap_or_default();
            site.operators = people;
            let count = self.instruments;
            let instruments: Vec<_> = EQUIPMENT_KINDS
                .iter()
                .flat_map(|&(kind, short, name)| (1..=count).map(move |n| (kind, short, name, n)))
                .collect();
            for (kind, short, name, n) in instruments {
                let equipment = format!("EQ-{code}-{short}{n}");
                self.emit(
                    "equipment.registered",
                    index,
                    &admin_source,
                    Some(&admin),
                    json!({"equipment": equipment, "kind": kind, "name": name}),
                )?;
                // One leak tester's calibration lapses after a month: later records show it.
                let due_days = if equipment == self.lapsed_equipment {
                    30
                } else {
                    365
                };
                let due = format_date(self.today() + due_days);
                let certificate = format!("CAL-{code}-{short}-{}", self.today());
                self.emit(
                    "equipment.calibrated",
                    index,
                    &admin_source,
                    Some(&admin),
                    json!({"equipment": equipment, "due": due, "certificate": certificate}),
                )?;
            }
        }
        for product_index in 0..self.products.len() {
            let site = self.site_of(product_index);
            let engineer = self.sites[site].engineer.clone();
            let source = format!("cli:{engineer}");
            let product = &self.products[product_index];
            let (id, gtin, routing) = (product.id, product.gtin.clone(), product.routing);
            let (name, control, implantable) = match product_index {
                PMOD => ("Pump module PM-100 (sub-assembly)", "serial", false),
                INF => ("Volumetric infusion pump INF-3000", "serial", false),
                IMP => ("Implantable neurostimulator NS-200", "serial", true),
                _ => ("Sterile catheter kit 7F", "lot", false),
            };
            self.emit("product.defined", site, &source, Some(&engineer), json!({"product": id, "name": name, "control": control, "udi_di": gtin, "agency": "GS1", "implantable": implantable}))?;
            let versions: &[&str] = if product_index == INF {
                &["1", "2"]
            } else {
                &["1"]
            };
            for version in versions {
                let operations: Vec<Value> = self.products[product_index]
                    .operations
                    .iter()
                    .map(|operation| {
                        let mut value = json!({"op": operation.op, "name": operation.name, "qualification_required": operation.equipment.is_some()});
                        if !operation.checks.is_empty() {
                            value["checks"] = operation.checks.iter().map(|(name, unit, lsl, usl)| json!({"name": name, "unit": unit, "lsl": lsl, "usl": usl})).collect();
                        }
                        if let Some(kind) = operation.equipment {
                            value["equipment_kinds"] = json!([kind]);
                        }
                        if operation.op == "10" {
                            value["materials"] = self.products[product_index].materials.iter().map(|(part, quantity, uom)| json!({"part": part, "quantity": quantity, "uom": uom})).collect();
                        }
                        value
                    })
                    .collect();
                self.emit("routing.released", site, &source, Some(&engineer), json!({"routing": routing, "version": version, "product": id, "operations": operations}))?;
                if let Some((op, check, lsl, usl)) = self.products[product_index]
                    .operations
                    .iter()
                    .find_map(|o| o.checks.first().map(|c| (o.op, c.0, c.2, c.3)))
                {
                    // The site tightens the template's first check, inside its limits.
                    let margin = (usl - lsl) / 10.0;
                    self.emit("routing.configured", site, &source, Some(&engineer), json!({"routing": routing, "version": version, "site": self.sites[site].code, "overrides": [{"op": op, "check": check, "lsl": lsl + margin, "usl": usl - margin}]}))?;
                }
                for operator in self.sites[site].operators.clone() {
                    for operation in self.products[product_index]
                        .operations
                        .iter()
                        .filter(|o| o.equipment.is_some())
                    {
                        let valid_until = format_date(self.today() + 730);
                        self.emit("person.qualified", site, &source, Some(&engineer), json!({"person": operator, "op": operation.op, "valid_until": valid_until, "routing": routing}))?;
                    }
                }
            }
            if product_index == INF {
                let from_date = format_date(self.today() + 7);
                self.emit("change.released", site, &source, Some(&engineer), json!({"change": "ECO-2026-014", "description": "Tighter occlusion pressure test and new battery connector torque", "product": id, "routing": routing, "from_version": "1", "to_version": "2", "effective": {"from_date": from_date}}))?;
            }
        }
        Ok(())
    }

    /// Where each product is made: the pump module at the second site, so that it crosses
    /// sites to reach the infusion pumps made at the first.
    fn site_of(&self, product: usize) -> usize {
        let count = self.sites.len();
        match product {
            PMOD => 1 % count,
            INF => 0,
            IMP => 2 % count,
            _ => (count - 1) % count,
        }
    }

    /// Consumes `part` at `site` from the lot in use, receiving a new lot when it runs out.
    fn take_material(&mut self, site: usize, part: &'static str) -> Result<String, SimulateError> {
        if let Some(lot) = self
            .lots
            .iter_mut()
            .find(|l| l.site == site && l.part == part && l.left > 0)
        {
            lot.left -= 1;
            return Ok(lot.lot.clone());
        }
        self.lots.retain(|l| !(l.site == site && l.part == part));
        let lot = self.receive_lot(site, part)?;
        self.lots.push(LotInUse {
            site,
            part,
            lot: lot.clone(),
            left: self.lot_size - 1,
        });
        Ok(lot)
    }

    /// Receives a supplier lot; every few lots are split into two or merged from two cartons.
    fn receive_lot(&mut self, site: usize, part: &'static str) -> Result<String, SimulateError> {
        let qa = self.sites[site].qa.clone();
        let qa_source = format!("cli:{qa}");
        let code = self.sites[site].code.clone();
        let receive = |sim: &mut Self, quantity: u64| -> Result<String, SimulateError> {
            let lot = Self::next_id(&mut sim.lot_counter, &format!("L-{code}-"), 6);
            let supplier_lot = format!("SL{}", sim.rng.below(9_000_000) + 1_000_000);
            let expires = format_date(sim.today() + 540);
            sim.emit("lot.received", site, "system:erp", None, json!({"lot": lot, "part": part, "supplier": format!("SUP-{}", &part[..3]), "supplier_lot": supplier_lot, "quantity": quantity.to_string(), "uom": "EA", "expires": expires, "certificate": format!("COC-{supplier_lot}")}))?;
            if sim.rng.chance(60) {
                sim.emit("lot.dispositioned", site, &qa_source, Some(&qa), json!({"lot": lot, "disposition": "hold", "reason": "certificate of conformance missing"}))?;
            }
            sim.emit("lot.dispositioned", site, &qa_source, Some(&qa), json!({"lot": lot, "disposition": "released", "reason": "incoming inspection passed"}))?;
            Ok(lot)
        };
        match self.lot_counter % 7 {
            3 => {
                let parent = receive(self, self.lot_size * 2)?;
                let half = self.lot_size.to_string();
                let (a, b) = (format!("{parent}-A"), format!("{parent}-B"));
                self.emit("lot.split", site, "system:wms", None, json!({"lot": parent, "into": [{"lot": a, "quantity": half}, {"lot": b, "quantity": half}]}))?;
                Ok(a)
            }
            5 => {
                let first = receive(self, self.lot_size / 2)?;
                let second = receive(self, self.lot_size / 2)?;
                let merged = format!("{first}-M");
                self.emit("lot.merged", site, "system:wms", None, json!({"lots": [first, second], "into": merged, "quantity": self.lot_size.to_string()}))?;
                Ok(merged)
            }
            _ => receive(self, self.lot_size),
        }
    }

    fn release_work_order(
        &mut self,
        product: usize,
        site: usize,
        quantity: u64,
        lot: Option<&str>,
    ) -> Result<String, SimulateError> {
        let work_order = Self::next_id(&mut self.order_counter, "WO-", 7);
        let routing = self.products[product].routing;
        let version = if product == INF && self.order_counter > 2 {
            "2"
        } else {
            "1"
        };
        let mut data = json!({"work_order": work_order, "product": self.products[product].id, "routing": routing, "version": version, "quantity": quantity.to_string()});
        if let Some(lot) = lot {
            data["lot"] = json!(lot);
        }
        self.emit("work_order.released", site, "system:erp", None, data)?;
        Ok(work_order)
    }

    fn step_data(
        &mut self,
        product: usize,
        op_index: usize,
        site: usize,
        subject: (&str, &str),
        fail: bool,
    ) -> (Value, bool) {
        let operation = &self.products[product].operations[op_index];
        let code = &self.sites[site].code;
        let station = format!("{code}-{}-{}", self.products[product].prefix, operation.op);
        let mut data = json!({subject.0: subject.1, "op": operation.op, "station": station});
        let mut out_of_limits = false;
        if !operation.checks.is_empty() {
            let checks = operation.checks;
            let mut measurements = Vec::new();
            for (index, (name, unit, lsl, usl)) in checks.iter().enumerate() {
                let span = usl - lsl;
                let decimals = if span < 0.001 { 8 } else { 2 };
                let value = if fail && index == 0 {
                    out_of_limits = true;
                    usl + span * 0.2
                } else {
                    self.rng.value(lsl + span * 0.2, usl - span * 0.2, decimals)
                };
                measurements.push(json!({"name": name, "value": value, "unit": unit}));
            }
            data["measurements"] = Value::Array(measurements);
        }
        if let Some(kind) = operation.equipment {
            let short = EQUIPMENT_KINDS
                .iter()
                .find(|(k, _, _)| *k == kind)
                .map_or("XX", |(_, s, _)| s);
            // The site's instruments of the kind in turn (the first only, by default).
            let n = self.events % u64::from(self.instruments.max(1)) + 1;
            data["equipment"] = json!([format!("EQ-{code}-{short}{n}")]);
        }
        if product == IMP {
            data["area"] = json!(format!("CR-ISO7-{code}"));
        }
        let started = format_rfc3339_millis(self.clock_millis);
        data["started_at"] = json!(started);
        data["result"] = json!(if out_of_limits { "fail" } else { "pass" });
        (data, out_of_limits)
    }

    /// Makes one batch of serialized devices through its routing.
    fn serial_batch(&mut self, product: usize, count: u64) -> Result<(), SimulateError> {
        let site = self.site_of(product);
        let work_order = self.release_work_order(product, site, count, None)?;
        let gtin = self.products[product].gtin.clone();
        let made = Self::yymmdd(self.today());
        let expiry = Self::yymmdd(self.today() + 3 * 365);
        let operator_count = self.sites[site].operators.len() as u64;
        let mut units = Vec::new();
        for _ in 0..count {
            let serial = Self::next_id(&mut self.serial_counter, self.products[product].prefix, 8);
            // The module site's label printer encodes the serial before the dates, so its
            // scanned form carries a GS separator after the serial.
            let udi = if product == PMOD {
                format!("(01){gtin}(21){serial}(11){made}(17){expiry}")
            } else {
                format!("(01){gtin}(11){made}(17){expiry}(21){serial}")
            };
            let operator =
                self.sites[site].operators[self.rng.below(operator_count) as usize].clone();
            self.emit("unit.started", site, "system:mes", Some(&operator), json!({"unit": serial, "product": self.products[product].id, "work_order": work_order, "udi": udi}))?;
            units.push(Unit {
                serial,
                udi,
                scrapped: false,
                module: None,
            });
        }
        for op_index in 0..self.products[product].operations.len() {
            if product == IMP {
                self.environment(site)?;
            }
            for unit in units.iter_mut().filter(|u| !u.scrapped) {
                self.work_unit(product, op_index, site, unit)?;
            }
        }
        if product == PMOD {
            self.spare_modules.extend(
                units
                    .iter()
                    .filter(|u| !u.scrapped)
                    .map(|u| (u.serial.clone(), u.udi.clone())),
            );
            return Ok(());
        }
        self.label_and_release(site, &work_order, &units)
    }

    /// One operation on one unit: materials, components, the step, and on failure the
    /// nonconformance and its disposition.
    fn work_unit(
        &mut self,
        product: usize,
        op_index: usize,
        site: usize,
        unit: &mut Unit,
    ) -> Result<(), SimulateError> {
        let operator_count = self.sites[site].operators.len() as u64;
        let operator = self.sites[site].operators[self.rng.below(operator_count) as usize].clone();
        let op = self.products[product].operations[op_index].op;
        let station_source = format!(
            "station:{}-{}-{op}",
            self.sites[site].code, self.products[product].prefix
        );
        if op_index == 0 {
            for (part, quantity, uom) in self.products[product].materials {
                let lot = self.take_material(site, part)?;
                self.emit("material.consumed", site, &station_source, Some(&operator), json!({"unit": unit.serial, "lot": lot, "quantity": quantity, "uom": uom, "op": op}))?;
            }
            if product == INF {
                // The module was made at the module site; the installing station scans its
                // label, as a scanner reports it.
                let (module, label) = self.next_module()?;
                let scanned = scanned(&label, "]d2");
                self.emit(
                    "component.installed",
                    site,
                    &station_source,
                    Some(&operator),
                    json!({"unit": unit.serial, "component": module, "component_udi": scanned, "op": op}),
                )?;
                unit.module = Some(module);
            }
        }
        let has_checks = !self.products[product].operations[op_index]
            .checks
            .is_empty();
        let fail = has_checks && self.rng.chance(30);
        let (data, failed) = self.step_data(product, op_index, site, ("unit", &unit.serial), fail);
        let step_id = self.emit(
            "step.completed",
            site,
            &station_source,
            Some(&operator),
            data,
        )?;
        if !failed {
            if has_checks && self.rng.chance(3) {
                // A transcription error found later: corrected, the original stays visible.
                let qa = self.sites[site].qa.clone();
                let value = self.rng.value(1.0, 2.0, 2);
                // Plants write the path in each of the three forms.
                let path = [
                    "data.measurements[0].value",
                    "/data/measurements/0/value",
                    "data.measurements.0.value",
                ][self.rng.below(3) as usize];
                self.emit("correction.recorded", site, &format!("cli:{qa}"), Some(&qa), json!({"corrects": step_id, "reason": "value typed by hand from the analyzer display; corrected from its printout", "changes": {path: value}}))?;
            }
            return Ok(());
        }
        let qa = self.sites[site].qa.clone();
        let qa_source = format!("cli:{qa}");
        let ncr = Self::next_id(&mut self.ncr_counter, "NCR-", 6);
        let check = self.products[product].operations[op_index].checks[0].0;
        self.emit("nonconformance.opened", site, &station_source, Some(&operator), json!({"ncr": ncr, "unit": unit.serial, "description": format!("{check} out of limits at op {op}"), "op": op}))?;
        if self.rng.chance(200) {
            self.emit("nonconformance.dispositioned", site, &qa_source, Some(&qa), json!({"ncr": ncr, "disposition": "scrap", "justification": "failure analysis shows damage that rework cannot restore"}))?;
            self.emit("unit.scrapped", site, &qa_source, Some(&qa), json!({"unit": unit.serial, "reason": format!("{check} failure, not reworkable"), "ncr": ncr}))?;
            unit.scrapped = true;
            return Ok(());
        }
        self.emit("nonconformance.dispositioned", site, &qa_source, Some(&qa), json!({"ncr": ncr, "disposition": "rework", "justification": "root cause isolated to a replaceable part; rework per WI-RW-07"}))?;
        if product == INF
            && let Some(old) = unit.module.take()
        {
            self.emit("component.removed", site, &station_source, Some(&operator), json!({"unit": unit.serial, "component": old, "reason": format!("pump module suspected for {check} failure ({ncr})")}))?;
            let (replacement, label) = self.next_module()?;
            let scanned = scanned(&label, "]C1");
            self.emit(
                "component.installed",
                site,
                &station_source,
                Some(&operator),
                json!({"unit": unit.serial, "component": replacement, "component_udi": scanned, "op": op}),
            )?;
            unit.module = Some(replacement);
        }
        self.emit("unit.reworked", site, &station_source, Some(&operator), json!({"unit": unit.serial, "ncr": ncr, "op": op, "description": "part replaced and re-tested"}))?;
        let (data, _) = self.step_data(product, op_index, site, ("unit", &unit.serial), false);
        self.emit(
            "step.completed",
            site,
            &station_source,
            Some(&operator),
            data,
        )?;
        Ok(())
    }

    /// A pump module from the spares made at the module site; makes a batch when none is left.
    fn next_module(&mut self) -> Result<(String, String), SimulateError> {
        if self.spare_modules.is_empty() {
            self.serial_batch(PMOD, BATCH_UNITS + 2)?;
        }
        Ok(if self.spare_modules.is_empty() {
            (String::new(), String::new())
        } else {
            self.spare_modules.remove(0)
        })
    }

    fn environment(&mut self, site: usize) -> Result<(), SimulateError> {
        let area = format!("CR-ISO7-{}", self.sites[site].code);
        let particles = self.rng.value(40_000.0, 300_000.0, 0);
        let particles = if self.rng.chance(20) {
            400_000.0
        } else {
            particles
        };
        let temperature = self.rng.value(19.5, 22.5, 1);
        let humidity = self.rng.value(35.0, 55.0, 1);
        self.emit(
            "environment.recorded",
            site,
            &format!("gateway:ems-{}", self.sites[site].code),
            None,
            json!({"area": area, "sensor": format!("{area}-PC1"), "measurements": [
            {"name": "particles >= 0.5 um", "value": particles, "unit": "/m3", "usl": 352_000},
            {"name": "temperature", "value": temperature, "unit": "Cel", "lsl": 18, "usl": 24},
            {"name": "relative humidity", "value": humidity, "unit": "%", "lsl": 30, "usl": 60}]}),
        )?;
        Ok(())
    }

    fn label_and_release(
        &mut self,
        site: usize,
        work_order: &str,
        units: &[Unit],
    ) -> Result<(), SimulateError> {
        let operator = self.sites[site].operators[0].clone();
        let qa = self.sites[site].qa.clone();
        let qa_source = format!("cli:{qa}");
        let label_source = format!("station:{}-LBL-1", self.sites[site].code);
        let (mut printed, mut destroyed) = (0u64, 0u64);
        let mut releases = Vec::new();
        for unit in units.iter().filter(|u| !u.scrapped) {
            let hri = unit
                .udi
                .replace(')', ") ")
                .replace('(', " (")
                .trim()
                .to_owned();
            self.emit(
                "label.printed",
                site,
                &label_source,
                Some(&operator),
                json!({"unit": unit.serial, "udi": unit.udi, "hri": hri}),
            )?;
            printed += 1;
            if self.rng.chance(8) {
                self.emit(
                    "label.verified",
                    site,
                    &label_source,
                    Some(&operator),
                    json!({"unit": unit.serial, "scanned": "", "result": "fail"}),
                )?;
                self.emit(
                    "label.printed",
                    site,
                    &label_source,
                    Some(&operator),
                    json!({"unit": unit.serial, "udi": unit.udi, "hri": hri}),
                )?;
                printed += 1;
                destroyed += 1;
            }
            self.emit(
                "label.verified",
                site,
                &label_source,
                Some(&operator),
                json!({"unit": unit.serial, "scanned": scanned(&unit.udi, "]d2"), "result": "pass"}),
            )?;
            releases.push(self.emit(
                "unit.released",
                site,
                &qa_source,
                Some(&qa),
                json!({"unit": unit.serial}),
            )?);
            self.to_ship
                .push((site, "unit", unit.serial.clone(), unit.udi.clone()));
        }
        self.emit("label.reconciled", site, &label_source, Some(&operator), json!({"work_order": work_order, "printed": printed, "applied": printed - destroyed, "destroyed": destroyed}))?;
        if !releases.is_empty() {
            self.emit(
                "signature.applied",
                site,
                &qa_source,
                Some(&qa),
                json!({"subject": {"events": releases}, "meaning": "reviewed"}),
            )?;
        }
        self.ship(false)
    }

    /// Makes one lot of catheter kits.
    fn kit_lot(&mut self) -> Result<(), SimulateError> {
        let site = self.site_of(KIT);
        let lot = Self::next_id(&mut self.lot_counter, "CK", 7);
        let work_order = self.release_work_order(KIT, site, KIT_LOT_SIZE, Some(&lot))?;
        let operator = self.sites[site].operators[1 % self.sites[site].operators.len()].clone();
        let station_source = format!("station:{}-CK-10", self.sites[site].code);
        for (part, quantity, uom) in self.products[KIT].materials {
            let supplier_lot = self.take_material(site, part)?;
            let total = quantity.parse::<f64>().unwrap_or(1.0) * KIT_LOT_SIZE as f64;
            self.emit("material.consumed", site, &station_source, Some(&operator), json!({"work_order": work_order, "lot": supplier_lot, "quantity": format!("{total}"), "uom": uom, "op": "10"}))?;
        }
        for op_index in 0..KIT_OPS.len() {
            let (data, _) = self.step_data(KIT, op_index, site, ("work_order", &work_order), false);
            self.emit(
                "step.completed",
                site,
                &station_source,
                Some(&operator),
                data,
            )?;
        }
        let gtin = self.products[KIT].gtin.clone();
        let expiry = Self::yymmdd(self.today() + 2 * 365);
        let udi = format!("(01){gtin}(17){expiry}(10){lot}");
        self.emit("lot.produced", site, "system:mes", Some(&operator), json!({"lot": lot, "product": self.products[KIT].id, "work_order": work_order, "quantity": KIT_LOT_SIZE.to_string(), "uom": "EA", "udi": udi}))?;
        let label_source = format!("station:{}-LBL-1", self.sites[site].code);
        self.emit(
            "label.printed",
            site,
            &label_source,
            Some(&operator),
            json!({"lot": lot, "udi": udi, "hri": udi}),
        )?;
        self.emit(
            "label.verified",
            site,
            &label_source,
            Some(&operator),
            json!({"lot": lot, "scanned": udi, "result": "pass"}),
        )?;
        self.emit("label.reconciled", site, &label_source, Some(&operator), json!({"work_order": work_order, "printed": KIT_LOT_SIZE, "applied": KIT_LOT_SIZE, "destroyed": 0}))?;
        let qa = self.sites[site].qa.clone();
        let qa_source = format!("cli:{qa}");
        if self.rng.chance(100) {
            let ncr = Self::next_id(&mut self.ncr_counter, "NCR-", 6);
            self.emit("nonconformance.opened", site, &station_source, Some(&operator), json!({"ncr": ncr, "lot": lot, "description": "pouch print slightly off-centre on some kits"}))?;
            self.emit("nonconformance.dispositioned", site, &qa_source, Some(&qa), json!({"ncr": ncr, "disposition": "use_as_is", "justification": "print fully legible; no effect on sterile barrier"}))?;
        }
        self.emit(
            "unit.released",
            site,
            &qa_source,
            Some(&qa),
            json!({"lot": lot}),
        )?;
        self.to_ship.push((site, "lot", lot, udi));
        self.ship(false)
    }

    /// Ships what is released in shipments of up to five; after shipment a few devices come
    /// back as complaints or service visits.
    fn ship(&mut self, everything: bool) -> Result<(), SimulateError> {
        while self.to_ship.len() >= 5 || (everything && !self.to_ship.is_empty()) {
            let take = self.to_ship.len().min(5);
            let batch: Vec<_> = self.to_ship.drain(..take).collect();
            let shipment = Self::next_id(&mut self.shipment_counter, "SHP-", 7);
            let (customer, ship_to) = CUSTOMERS[self.rng.below(CUSTOMERS.len() as u64) as usize];
            let first_shipment = self.shipment_counter == 1;
            for (position, (site, kind, id, udi)) in batch.into_iter().enumerate() {
                // The first shipment's first device always comes back, so that even a small
                // stream shows the after-shipment records.
                let example = first_shipment && position == 0;
                self.emit("unit.shipped", site, "system:erp", None, json!({kind: id, "shipment": shipment, "customer": customer, "ship_to": ship_to}))?;
                let qa = self.sites[site].qa.clone();
                if self.rng.chance(10) || example {
                    let complaint = Self::next_id(&mut self.other_counter, "CMP-", 7);
                    self.emit("complaint.received", site, &format!("cli:{qa}"), Some(&qa), json!({"complaint": complaint, "udi": scanned(&udi, "]d2"), "description": "customer reports intermittent occlusion alarm", kind: id}))?;
                }
                if kind == "unit" && (self.rng.chance(8) || example) {
                    let service = Self::next_id(&mut self.other_counter, "SRV-", 7);
                    let engineer = self.sites[site].engineer.clone();
                    let accuracy = self.rng.value(-2.0, 2.0, 2);
                    self.emit("unit.serviced", site, &format!("cli:{engineer}"), Some(&engineer), json!({"unit": id, "service": service, "description": "annual preventive maintenance", "measurements": [{"name": "flow accuracy", "value": accuracy, "unit": "%"}]}))?;
                }
            }
        }
        Ok(())
    }

    /// People leave and keys get lost: a role revoked, a key revoked and replaced.
    fn staff_changes(&mut self) -> Result<(), SimulateError> {
        let admin = self.admin.clone();
        let source = format!("cli:{admin}");
        let site = self.sites.len() - 1;
        let leaver = self.sites[site].operators[0].clone();
        self.emit(
            "role.revoked",
            site,
            &source,
            Some(&admin),
            json!({"person": leaver, "role": "operator", "reason": "left the company"}),
        )?;
        let engineer = self.sites[0].engineer.clone();
        self.emit(
            "key.revoked",
            0,
            &source,
            Some(&admin),
            json!({"key": format!("k-{engineer}"), "reason": "laptop reported lost"}),
        )?;
        self.register_key(0, &engineer, &format!("k-{engineer}-2"))
    }
}

/// Writes a simulated plant's event stream to `out`, one JSON event per line.
///
/// # Errors
/// `Config` for a site count outside 1..=26; `Write` if `out` fails.
pub fn simulate<W: Write>(
    config: &SimulationConfig,
    out: W,
) -> Result<SimulationSummary, SimulateError> {
    if !(1..=26).contains(&config.sites) {
        return Err(SimulateError::Config(format!(
            "--sites must be between 1 and 26, not {}",
            config.sites
        )));
    }
    // Merged lots are made of two halves.
    if config.operators < 1 || config.instruments < 1 {
        return Err(SimulateError::Config(format!(
            "--operators and --instruments must be at least 1, not {} and {}",
            config.operators, config.instruments
        )));
    }
    if config.lot_size < 2 {
        return Err(SimulateError::Config(format!(
            "--lot-size must be at least 2, not {}",
            config.lot_size
        )));
    }
    let product = |id, first13: &str, routing, materials, operations, prefix| Product {
        id,
        gtin: gtin14(first13),
        routing,
        materials,
        operations,
        prefix,
    };
    let site_count = config.sites as usize;
    let lapsed_site = SITE_TABLE
        .get(2 % site_count)
        .map_or("S03".to_owned(), |s| s.0.to_owned());
    let mut sim = Sim {
        out,
        rng: Rng(config.seed ^ 0x7472_6163_656c_6467),
        seed: config.seed,
        lot_size: config.lot_size,
        clock_millis: START_UNIX_MILLIS,
        events: 0,
        sites: Vec::new(),
        admin: ADMIN.to_owned(),
        keys: HashMap::from([(
            ADMIN.to_owned(),
            (ADMIN_KEY.to_owned(), simulated_key(ADMIN_KEY)),
        )]),
        products: vec![
            product(
                "PMOD-100",
                "0539123400010",
                "R-PMOD",
                &[("MOT-24V", "1", "EA"), ("PHD-12", "1", "EA")],
                PMOD_OPS,
                "PM",
            ),
            product(
                "INF-3000",
                "0539123400020",
                "R-INF",
                &[("HSG-3000", "1", "EA"), ("BAT-LI4", "1", "EA")],
                INF_OPS,
                "IP",
            ),
            product(
                "NS-200",
                "0539123400030",
                "R-NS",
                &[("CAN-TI2", "1", "EA"), ("LEAD-4C", "2", "EA")],
                IMP_OPS,
                "NS",
            ),
            product(
                "CK-7F",
                "0539123400040",
                "R-CK",
                &[
                    ("TUB-7F", "1.2", "m"),
                    ("HUB-7F", "1", "EA"),
                    ("POU-CK", "1", "EA"),
                ],
                KIT_OPS,
                "CK",
            ),
        ],
        lots: Vec::new(),
        lot_counter: 0,
        serial_counter: 0,
        order_counter: 0,
        ncr_counter: 0,
        shipment_counter: 0,
        other_counter: 0,
        spare_modules: Vec::new(),
        to_ship: Vec::new(),
        lapsed_equipment: format!("EQ-{lapsed_site}-LT1"),
        operators: config.operators,
        instruments: config.instruments,
    };
    sim.master_data(site_count)?;
    // Of every 10 devices: 6 infusion pumps, 2 neurostimulators, 2 catheter kits (made in lots).
    let (mut made, mut kits_due) = (0u64, 0u64);
    let mut round = 0u64;
    while made < config.units {
        let left = config.units - made;
        match round % 5 {
            0..=2 => {
                let count = left.min(BATCH_UNITS * 2 / 3 + 1);
                sim.serial_batch(INF, count)?;
                made += count;
            }
            3 => {
                let count = left.min(BATCH_UNITS / 2);
                sim.serial_batch(IMP, count)?;
                made += count;
            }
            _ => {
                kits_due += left.min(BATCH_UNITS);
                made += left.min(BATCH_UNITS);
                if kits_due >= KIT_LOT_SIZE || made >= config.units {
                    sim.kit_lot()?;
                    kits_due = 0;
                }
            }
        }
        round += 1;
    }
    sim.ship(true)?;
    sim.staff_changes()?;
    sim.out.flush()?;
    Ok(SimulationSummary {
        events: sim.events,
        units: config.units,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(units: u64, seed: u64, sites: u32) -> Vec<u8> {
        run_with_lots(units, seed, sites, DEFAULT_LOT_SIZE)
    }

    fn run_with_lots(units: u64, seed: u64, sites: u32, lot_size: u64) -> Vec<u8> {
        let mut out = Vec::new();
        simulate(
            &SimulationConfig {
                units,
                seed,
                sites,
                lot_size,
                operators: DEFAULT_OPERATORS,
                instruments: DEFAULT_INSTRUMENTS,
            },
            &mut out,
        )
        .unwrap();
        out
    }

    /// The most units any one lot was consumed by.
    fn busiest_lot(stream: &[u8]) -> usize {
        let mut units_of: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
        for line in String::from_utf8_lossy(stream).lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            if event["type"] == "material.consumed"
                && let (Some(lot), Some(unit)) = (
                    event["data"]["lot"].as_str(),
                    event["data"]["unit"].as_str(),
                )
            {
                units_of
                    .entry(lot.to_owned())
                    .or_default()
                    .insert(unit.to_owned());
            }
        }
        units_of
            .values()
            .map(|units| units.len())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_plant_of_many_operators_and_instruments_uses_them_all() {
        let mut out = Vec::new();
        simulate(
            &SimulationConfig {
                units: 600,
                seed: 3,
                sites: 1,
                lot_size: DEFAULT_LOT_SIZE,
                operators: 12,
                instruments: 3,
            },
            &mut out,
        )
        .unwrap();
        let mut actors = std::collections::HashSet::new();
        let mut instruments = std::collections::HashSet::new();
        let mut calibrated = std::collections::HashSet::new();
        for line in String::from_utf8_lossy(&out).lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            if event["type"] == "step.completed" {
                actors.insert(event["actor"].as_str().unwrap().to_owned());
                for equipment in event["data"]["equipment"].as_array().into_iter().flatten() {
                    instruments.insert(equipment.as_str().unwrap().to_owned());
                }
            }
            if event["type"] == "equipment.calibrated" {
                calibrated.insert(event["data"]["equipment"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(actors.len(), 12, "{actors:?}");
        assert!(instruments.contains("EQ-GAL-TQ3"), "{instruments:?}");
        assert!(instruments.is_subset(&calibrated), "{instruments:?}");
        assert_eq!(calibrated.len(), EQUIPMENT_KINDS.len() * 3);
    }

    #[test]
    fn the_lot_size_bounds_how_many_devices_one_lot_reaches() {
        let small = busiest_lot(&run(600, 3, 1));
        assert!(small > 0 && small <= DEFAULT_LOT_SIZE as usize, "{small}");
        let bulk = busiest_lot(&run_with_lots(600, 3, 1, 2_000));
        assert!(bulk > DEFAULT_LOT_SIZE as usize, "{bulk}");
        let too_small = simulate(
            &SimulationConfig {
                units: 1,
                seed: 1,
                sites: 1,
                lot_size: 1,
                operators: DEFAULT_OPERATORS,
                instruments: DEFAULT_INSTRUMENTS,
            },
            Vec::new(),
        );
        assert!(matches!(too_small, Err(SimulateError::Config(_))));
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        assert_eq!(run(30, 9, 3), run(30, 9, 3));
        assert_ne!(run(30, 9, 3), run(30, 10, 3));
    }

    #[test]
    fn every_type_appears_ids_are_unique_and_time_moves_forward() {
        let out = run(400, 4, 3);
        let text = String::from_utf8(out).unwrap();
        let mut types = std::collections::BTreeSet::new();
        let mut ids = std::collections::HashSet::new();
        let mut last = String::new();
        for line in text.lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            types.insert(event["type"].as_str().unwrap().to_owned());
            assert!(ids.insert(event["id"].as_str().unwrap().to_owned()));
            let at = event["occurred_at"].as_str().unwrap().to_owned();
            assert!(at >= last, "{at} after {last}");
            last = at;
        }
        let missing: Vec<&&str> = crate::event::EVENT_TYPES
            .iter()
            .filter(|t| !types.contains(**t))
            .collect();
        assert!(missing.is_empty(), "missing types: {missing:?}");
    }

    #[test]
    fn the_stream_is_written_the_way_plants_write() {
        let text = String::from_utf8(run(400, 4, 3)).unwrap();
        let events: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let of = |t: &'static str| events.iter().filter(move |e| e["type"] == t);
        // Components made at the module site, installed with their UDI as scanned: a
        // symbology identifier and a GS separator after the serial.
        let installed: Vec<&str> = of("component.installed")
            .filter_map(|e| e["data"]["component_udi"].as_str())
            .collect();
        assert!(!installed.is_empty());
        assert!(
            installed
                .iter()
                .all(|u| (u.starts_with("]d2") || u.starts_with("]C1")) && u.contains('\u{1d}'))
        );
        // Label checks report the scanner's form; some fail.
        assert!(of("label.verified").any(|e| {
            e["data"]["scanned"]
                .as_str()
                .is_some_and(|s| s.starts_with("]d2"))
        }));
        assert!(of("label.verified").any(|e| e["data"]["result"] == "fail"));
        // Check names people read, in routings and environment records.
        assert!(text.contains("\"screw torque\"") && text.contains("\"particles >= 0.5 um\""));
        // Every scanned form parses to the same UDI as its label.
        for scan in installed {
            crate::udi::parse(scan).unwrap();
        }
        assert_eq!(
            scanned("(01)05391234000108(21)PM1(11)260105(17)290104", "]d2"),
            "]d20105391234000108".to_owned() + "21PM1\u{1d}1126010517290104"
        );
    }

    #[test]
    fn gtin_check_digits_follow_gs1() {
        // GS1 General Specifications' example: 1234567890123 -> check digit 1.
        assert_eq!(gtin14("1234567890123"), "12345678901231");
    }

    #[test]
    fn site_count_outside_the_alphabet_is_a_config_error() {
        let result = simulate(
            &SimulationConfig {
                units: 1,
                seed: 1,
                sites: 0,
                lot_size: DEFAULT_LOT_SIZE,
                operators: DEFAULT_OPERATORS,
                instruments: DEFAULT_INSTRUMENTS,
            },
            Vec::new(),
        );
        assert!(matches!(result, Err(SimulateError::Config(_))));
    }
}
