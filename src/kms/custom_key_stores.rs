//! Custom key stores on a PKCS#11 token: the AWS_CLOUDHSM key store API
//! (Create/Connect/Disconnect/Describe/Update/DeleteCustomKeyStore) and the glue that lets
//! keys with Origin AWS_CLOUDHSM be generated and used inside the token ([`super::hsm`]).
//!
//! Mapping to AWS:
//! - `CloudHsmClusterId` is the **label of the PKCS#11 token** holding the keys; the module
//!   (shared library) is the KMS's `hsm_module` (SEALGATE_HSM_MODULE).
//! - `KeyStorePassword` is the token **user PIN** (AWS: the `kmsuser` crypto user's password).
//!   It is stored only sealed under the KMS root key (AAD names the store id), never logged or
//!   audited, so that ConnectCustomKeyStore can log in again after a restart.
//! - `TrustAnchorCertificate` is accepted and stored (returned by Describe) but not used: the
//!   module talks to the token itself.
//! - Connection state lives in memory: every store is DISCONNECTED after a restart until
//!   ConnectCustomKeyStore, as in AWS. Connect is synchronous: it answers after the login, and
//!   the state is then CONNECTED or FAILED with a ConnectionErrorCode (INVALID_CREDENTIALS,
//!   CLUSTER_NOT_FOUND for an unknown token label, USER_LOCKED_OUT, NETWORK_ERRORS when the
//!   module cannot be loaded). A FAILED store must be disconnected before connecting again.
//! - Keys in a store that is not CONNECTED answer KMSInvalidStateException; other keys are not
//!   affected. Their blobs have the ordinary layout (`blob.rs`): the header names the key and
//!   its (single) material id, the token does AES-256-GCM with the header ‖ context as AAD.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::db::{self, KeyRecord, KeyStoreRow};
use super::error::{ErrorKind, KmsError};
use super::hsm::{Hsm, HsmError};
use super::util::{self, required};
use super::{Call, KmsService};

pub(crate) const STORE_TYPE: &str = "AWS_CLOUDHSM";

/// The live state of one store; a store without an entry is DISCONNECTED.
enum ConnState {
    Connected(Arc<Hsm>),
    Failed(&'static str),
}

#[derive(Default)]
pub(crate) struct Connections(Mutex<HashMap<String, ConnState>>);

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ConnState>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// (ConnectionState, ConnectionErrorCode).
    fn state(&self, id: &str) -> (&'static str, Option<&'static str>) {
        match self.lock().get(id) {
            Some(ConnState::Connected(_)) => ("CONNECTED", None),
            Some(ConnState::Failed(code)) => ("FAILED", Some(code)),
            None => ("DISCONNECTED", None),
        }
    }

    fn hsm(&self, id: &str) -> Option<Arc<Hsm>> {
        match self.lock().get(id) {
            Some(ConnState::Connected(h)) => Some(h.clone()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyStoreRequest {
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) custom_key_store_name: Option<String>,
    pub(crate) new_custom_key_store_name: Option<String>,
    pub(crate) cloud_hsm_cluster_id: Option<String>,
    pub(crate) trust_anchor_certificate: Option<String>,
    pub(crate) key_store_password: Option<String>,
    pub(crate) custom_key_store_type: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

fn not_found(what: &str) -> KmsError {
    KmsError::new(
        ErrorKind::CustomKeyStoreNotFound,
        format!("Custom key store {what} does not exist."),
    )
}

pub(super) fn check_len(value: &str, member: &str, min: usize, max: usize) -> Result<(), KmsError> {
    let n = value.chars().count();
    if n < min {
        return Err(KmsError::constraint(
            "'***'",
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(KmsError::constraint(
            "'***'",
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// The token label rules (PKCS#11 labels are at most 32 bytes).
pub(super) fn check_cluster_id(v: &str) -> Result<(), KmsError> {
    if v.is_empty() || v.len() > 32 {
        return Err(KmsError::constraint(
            &format!("'{v}'"),
            "cloudHsmClusterId",
            "Member must be a PKCS#11 token label of 1 to 32 bytes",
        ));
    }
    Ok(())
}

/// An HSM failure during the use of `key`, as a KMS error.
pub(crate) fn hsm_use_error(key: &KeyRecord, store_id: &str, e: HsmError) -> KmsError {
    match e {
        HsmError::InvalidCiphertext => KmsError::invalid_ciphertext(),
        HsmError::Other(m) => KmsError::internal(format!("HSM: {m}")),
        HsmError::KeyNotFound(_) => KmsError::invalid_state(format!(
            "{} is unavailable: the HSM of custom key store {store_id} does not hold its key \
             material.",
            key.arn
        )),
        other => KmsError::invalid_state(format!(
            "{} is unavailable because its custom key store {store_id} cannot reach the HSM: \
             {other}",
            key.arn
        )),
    }
}

impl KmsService {
    fn pin_aad(id: &str) -> Vec<u8> {
        format!("custom-key-store-pin:{id}").into_bytes()
    }

    fn load_store(
        &self,
        tx: &dyn super::db::Tx,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<KeyStoreRow, KmsError> {
        let all = db::all_key_stores(tx)?;
        let found = all
            .into_iter()
            .find(|s| id.is_none_or(|i| s.id == i) && name.is_none_or(|n| s.name == n));
        found.ok_or_else(|| not_found(id.or(name).unwrap_or("")))
    }

    fn store_json(&self, s: &KeyStoreRow) -> Value {
        let (state, code) = self.inner.key_stores.state(&s.id);
        let mut v = json!({
            "CustomKeyStoreId": s.id,
            "CustomKeyStoreName": s.name,
            "CustomKeyStoreType": s.store_type,
            "CloudHsmClusterId": s.cluster_id,
            "ConnectionState": state,
            "CreationDate": s.created,
        });
        if let Some(t) = &s.trust_anchor {
            v["TrustAnchorCertificate"] = json!(t);
        }
        if let Some(c) = code {
            v["ConnectionErrorCode"] = json!(c);
        }
        v
    }

    fn authorize_store_op(
        &self,
        tx: &dyn super::db::Tx,
        call: &Call<'_>,
        action: &str,
    ) -> Result<(), KmsError> {
        self.authorize(tx, call, action, None, &BTreeMap::new(), &[])
    }

    pub(crate) fn create_custom_key_store(
        &self,
        call: &mut Call<'_>,
        req: KeyStoreRequest,
    ) -> Result<Value, KmsError> {
        let name = required(req.custom_key_store_name, "customKeyStoreName")?;
        check_len(&name, "customKeyStoreName", 1, 256)?;
        match req.custom_key_store_type.as_deref().unwrap_or(STORE_TYPE) {
            STORE_TYPE => {}
            "EXTERNAL_KEY_STORE" => {
                return Err(KmsError::unsupported(
                    "External key stores (EXTERNAL_KEY_STORE) are not supported by this KMS",
                ));
            }
            other => {
                return Err(KmsError::constraint(
                    &format!("'{other}'"),
                    "customKeyStoreType",
                    "Member must satisfy enum value set: [AWS_CLOUDHSM, EXTERNAL_KEY_STORE]",
                ));
            }
        }
        let cluster = required(req.cloud_hsm_cluster_id, "cloudHsmClusterId")?;
        check_cluster_id(&cluster)?;
        let pin = Zeroizing::new(required(req.key_store_password, "keyStorePassword")?);
        check_len(&pin, "keyStorePassword", 7, 32)?;
        if self.inner.hsm_module.is_none() {
            return Err(KmsError::new(
                ErrorKind::CloudHsmClusterNotFound,
                "No HSM is configured: set SEALGATE_HSM_MODULE (or hsm_module) to the PKCS#11 \
                 module of the token",
            ));
        }
        self.inner.store.with_tx(|tx| {
            self.authorize_store_op(tx, call, "kms:CreateCustomKeyStore")?;
            let all = db::all_key_stores(tx)?;
            if all.iter().any(|s| s.name == name) {
                return Err(KmsError::new(
                    ErrorKind::CustomKeyStoreNameInUse,
                    format!("Custom key store name {name} is already in use."),
                ));
            }
            if all.iter().any(|s| s.cluster_id == cluster) {
                return Err(KmsError::new(
                    ErrorKind::CloudHsmClusterInUse,
                    format!("The token {cluster} is already associated with a custom key store."),
                ));
            }
            let id = format!(
                "cks-{}",
                &hex::encode(super::gcm::random_array::<9>())[..17]
            );
            db::put_key_store(
                tx,
                &KeyStoreRow {
                    sealed_pin: self.root().seal(&Self::pin_aad(&id), pin.as_bytes()),
                    id: id.clone(),
                    name: name.clone(),
                    store_type: STORE_TYPE.into(),
                    cluster_id: cluster.clone(),
                    trust_anchor: req.trust_anchor_certificate.clone(),
                    created: self.now(),
                },
            )?;
            Ok(json!({ "CustomKeyStoreId": id }))
        })
    }

    pub(crate) fn connect_custom_key_store(
        &self,
        call: &mut Call<'_>,
        req: KeyStoreRequest,
    ) -> Result<Value, KmsError> {
        let id = required(req.custom_key_store_id, "customKeyStoreId")?;
        let store = self.inner.store.with_tx(|tx| {
            self.authorize_store_op(tx, call, "kms:ConnectCustomKeyStore")?;
            self.load_store(tx, Some(&id), None)
        })?;
        match self.inner.key_stores.state(&id).0 {
            "CONNECTED" => return Ok(json!({})),
            "FAILED" => {
                return Err(KmsError::new(
                    ErrorKind::CustomKeyStoreInvalidState,
                    format!(
                        "Custom key store {id} is in the FAILED state; disconnect it before \
                         connecting again."
                    ),
                ));
            }
            _ => {}
        }
        let module = self.inner.hsm_module.clone().ok_or_else(|| {
            KmsError::new(
                ErrorKind::CloudHsmClusterNotFound,
                "No HSM is configured: set SEALGATE_HSM_MODULE (or hsm_module)",
            )
        })?;
        let pin = self
            .root()
            .open(&Self::pin_aad(&id), &store.sealed_pin)
            .ok_or_else(|| KmsError::internal("the key store password failed to unseal"))?;
        let pin = Zeroizing::new(String::from_utf8_lossy(&pin).into_owned());
        let state = match Hsm::connect(&module, &store.cluster_id, &pin) {
            Ok(hsm) => ConnState::Connected(Arc::new(hsm)),
            Err(e) => {
                tracing::warn!(store = %id, token = %store.cluster_id, error = %e,
                    "custom key store connect failed");
                ConnState::Failed(e.connection_error_code())
            }
        };
        let mut conns = self.inner.key_stores.lock();
        // A concurrent Connect may have won; keep its connection.
        conns.entry(id).or_insert(state);
        Ok(json!({}))
    }

    pub(crate) fn disconnect_custom_key_store(
        &self,
        call: &mut Call<'_>,
        req: KeyStoreRequest,
    ) -> Result<Value, KmsError> {
        let id = required(req.custom_key_store_id, "customKeyStoreId")?;
        self.inner.store.with_tx(|tx| {
            self.authorize_store_op(tx, call, "kms:DisconnectCustomKeyStore")?;
            self.load_store(tx, Some(&id), None)
        })?;
        // Sessions close when the last in-flight use drops its handle.
        self.inner.key_stores.lock().remove(&id);
        Ok(json!({}))
    }

    pub(crate) fn describe_custom_key_stores(
        &self,
        call: &mut Call<'_>,
        req: KeyStoreRequest,
    ) -> Result<Value, KmsError> {
        let stores = self.inner.store.with_tx(|tx| {
            self.authorize_store_op(tx, call, "kms:DescribeCustomKeyStores")?;
            match (&req.custom_key_store_id, &req.custom_key_store_name) {
                (None, None) => Ok(db::all_key_stores(tx)?),
                (id, name) => Ok(vec![self.load_store(tx, id.as_deref(), name.as_deref())?]),
            }
        })?;
        let all: Vec<Value> = stores.iter().map(|s| self.store_json(s)).collect();
        let (page, next) = util::paginate(all, req.limit, 100, 1000, req.marker.as_deref())?;
        Ok(util::with_page(json!({ "CustomKeyStores": page }), next))
    }

    pub(crate) fn update_custom_key_store(
        &self,
        call: &mut Call<'_>,
        req: KeyStoreRequest,
    ) -> Result<Value, KmsError> {
        let id = required(req.custom_key_store_id, "customKeyStoreId")?;
        self.inner.store.with_tx(|tx| {
            self.authorize_store_op(tx, call, "kms:UpdateCustomKeyStore")?;
            let mut store = self.load_store(tx, Some(&id), None)?;
            let needs_disconnect =
                req.key_store_password.is_some() || req.cloud_hsm_cluster_id.is_some();
            if needs_disconnect && self.inner.key_stores.state(&id).0 != "DISCONNECTED" {
                return Err(KmsError::new(
                    ErrorKind::CustomKeyStoreInvalidState,
                    format!(
                        "Custom key store {id} must be disconnected to change its password or \
                         cluster."
                    ),
                ));
            }
            let all = db::all_key_stores(tx)?;
            if let Some(n) = &req.new_custom_key_store_name {
                check_len(n, "newCustomKeyStoreName", 1, 256)?;
                if all.iter().any(|s| &s.name == n && s.id != id) {
                    return Err(KmsError::new(
                        ErrorKind::CustomKeyStoreNameInUse,
                        format!("Custom key store name {n} is already in use."),
                    ));
                }
                store.name = n.clone();
            }
            if let Some(c) = &req.cloud_hsm_cluster_id {
                check_cluster_id(c)?;
                if all.iter().any(|s| &s.cluster_id == c && s.id != id) {
                    return Err(KmsError::new(
                        ErrorKind::CloudHsmClusterInUse,
                        format!("The token {c} is already associated with a custom key store."),
                    ));
                }
                store.cluster_id = c.clone();
            }
            if let Some(p) = &req.key_store_password {
                check_len(p, "keyStorePassword", 7, 32)?;
                store.sealed_pin = self.root().seal(&Self::pin_aad(&id), p.as_bytes());
            }
            db::put_key_store(tx, &store)?;
            Ok(json!({}))
        })
    }

    pub(crate) fn delete_custom_key_store(
        &self,
        call: &mut Call<'_>,
        req: KeyStoreRequest,
    ) -> Result<Value, KmsError> {
        let id = required(req.custom_key_store_id, "customKeyStoreId")?;
        self.inner.store.with_tx(|tx| {
            self.authorize_store_op(tx, call, "kms:DeleteCustomKeyStore")?;
            self.load_store(tx, Some(&id), None)?;
            let state = self.inner.key_stores.state(&id).0;
            if state != "DISCONNECTED" {
                return Err(KmsError::new(
                    ErrorKind::CustomKeyStoreInvalidState,
                    format!("Custom key store {id} is {state}; disconnect it before deleting it."),
                ));
            }
            if db::hsm_key_count(tx, &id)? > 0 {
                return Err(KmsError::new(
                    ErrorKind::CustomKeyStoreHasCmks,
                    format!(
                        "Custom key store {id} still has KMS keys; delete them (after their \
                         waiting period) first."
                    ),
                ));
            }
            db::delete_key_store(tx, &id)?;
            Ok(json!({}))
        })
    }

    /// CreateKey in a custom key store: the store must be CONNECTED; generates the AES-256 key
    /// in the token and records the key's store. Returns the store row.
    pub(crate) fn create_hsm_key(
        &self,
        tx: &dyn super::db::Tx,
        store_id: &str,
        key_id: &str,
    ) -> Result<KeyStoreRow, KmsError> {
        let store = self.load_store(tx, Some(store_id), None)?;
        let hsm = self.inner.key_stores.hsm(store_id).ok_or_else(|| {
            KmsError::new(
                ErrorKind::CustomKeyStoreInvalidState,
                format!("Custom key store {store_id} is not connected."),
            )
        })?;
        hsm.generate_key(key_id).map_err(|e| match e {
            HsmError::Other(m) => KmsError::internal(format!("HSM: {m}")),
            other => KmsError::new(
                ErrorKind::CustomKeyStoreInvalidState,
                format!("Custom key store {store_id} cannot reach the HSM: {other}"),
            ),
        })?;
        db::put_hsm_key(tx, key_id, store_id)?;
        Ok(store)
    }

    /// The connected HSM of an AWS_CLOUDHSM key, or KMSInvalidStateException naming the store.
    pub(crate) fn hsm_for(
        &self,
        tx: &dyn super::db::Tx,
        key: &KeyRecord,
    ) -> Result<(Arc<Hsm>, String), KmsError> {
        let store_id = db::hsm_key_store(tx, &key.key_id)?
            .ok_or_else(|| KmsError::internal("AWS_CLOUDHSM key without a key store"))?;
        match self.inner.key_stores.hsm(&store_id) {
            Some(h) => Ok((h, store_id)),
            None => Err(KmsError::invalid_state(format!(
                "{} is unavailable because its custom key store {store_id} is not connected.",
                key.arn
            ))),
        }
    }

    /// Adds CustomKeyStoreId and CloudHsmClusterId to a KeyMetadata of an HSM key.
    pub(crate) fn add_key_store_fields(
        &self,
        tx: &dyn super::db::Tx,
        key: &KeyRecord,
        meta: &mut Value,
    ) -> Result<(), KmsError> {
        if let Some(store_id) = db::hsm_key_store(tx, &key.key_id)? {
            meta["CustomKeyStoreId"] = json!(store_id);
            if let Ok(s) = self.load_store(tx, Some(&store_id), None) {
                meta["CloudHsmClusterId"] = json!(s.cluster_id);
            }
        }
        Ok(())
    }

    /// Best effort when an HSM key's deletion window ends: destroy the token object if the
    /// store is connected (otherwise the object stays in the token, unreachable by id).
    pub(crate) fn destroy_hsm_key(&self, tx: &dyn super::db::Tx, key_id: &str) {
        let Ok(Some(store_id)) = db::hsm_key_store(tx, key_id) else {
            return;
        };
        if let Some(hsm) = self.inner.key_stores.hsm(&store_id)
            && let Err(e) = hsm.destroy_key(key_id)
        {
            tracing::warn!(key = key_id, error = %e, "could not destroy the HSM key object");
        }
    }
}
