//! Rotation: Enable/DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
//! ListKeyRotations, and the automatic rotation that `run_due_work` applies.
//!
//! Rotation adds a backing-key version and makes it current; old versions stay so their
//! blobs keep decrypting. Automatic rotation: customer-managed AWS_KMS keys, period 90–2560
//! days (default 365), first rotation one period after enabling, never while the key is not
//! Enabled (a key re-enabled after missing a rotation rotates at once). On demand: ≤ 25 per
//! key, schedule unchanged. Keys with imported material cannot be rotated here.

use serde::Deserialize;
use serde_json::{Value, json};

use super::db::{self, KeyRecord, KeyState, Origin};
use super::error::{ErrorKind, KmsError};
use super::key_spec::KeySpec;
use super::util::{self, required};
use super::{Call, KmsService, clock};

/// The automatic rotation period of a key that names none (AWS default: one year).
pub(crate) const DEFAULT_ROTATION_DAYS: u32 = 365;
pub(crate) const MAX_ON_DEMAND_ROTATIONS: u32 = 25;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RotationRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) rotation_period_in_days: Option<i64>,
    pub(crate) include_key_material: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

pub(crate) fn is_due(key: &KeyRecord, now: f64) -> bool {
    key.rotation_enabled
        && key.state == KeyState::Enabled
        && key.origin == Origin::AwsKms
        && key.next_rotation.is_some_and(|t| t <= now)
}

/// Makes a new backing key current. `kind` is AUTOMATIC or ON_DEMAND.
pub(crate) fn rotate(
    svc: &KmsService,
    tx: &dyn super::db::Tx,
    key: &mut KeyRecord,
    kind: &str,
) -> Result<(), KmsError> {
    let material = svc.new_material(tx, &key.key_id, Some(kind))?;
    key.current_material = Some(material);
    let now = svc.now();
    if kind == "AUTOMATIC" {
        key.next_rotation = Some(now + f64::from(key.rotation_period_days) * clock::DAY_SECS);
    } else {
        key.on_demand_rotations += 1;
    }
    db::put_key(tx, key)?;
    Ok(())
}

/// AWS rotates only symmetric encryption keys; HMAC and asymmetric keys never rotate.
fn symmetric_only(key: &KeyRecord) -> Result<(), KmsError> {
    if key.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::unsupported(format!(
            "{} key spec is {} which is not valid for this operation.",
            key.arn,
            key.key_spec.as_str()
        )));
    }
    Ok(())
}

fn external_unsupported(key: &KeyRecord) -> Result<(), KmsError> {
    if key.origin == Origin::External {
        return Err(KmsError::unsupported(format!(
            "{} origin is EXTERNAL which is not valid for this operation.",
            key.arn
        )));
    }
    Ok(())
}

/// Keys in custom key stores cannot be rotated (as in AWS).
fn custom_key_store_unsupported(key: &KeyRecord) -> Result<(), KmsError> {
    if key.origin == Origin::AwsCloudHsm {
        return Err(KmsError::unsupported(format!(
            "{} is in a custom key store; key rotation is not supported for keys in custom key \
             stores.",
            key.arn
        )));
    }
    Ok(())
}

/// Rotation of a multi-Region key is its primary key's and applies to every replica.
fn primary_only(key: &KeyRecord) -> Result<(), KmsError> {
    if key.replica {
        return Err(KmsError::unsupported(format!(
            "{} is a multi-Region replica key: key rotation is managed on its primary key and \
             applies to every replica",
            key.arn
        )));
    }
    Ok(())
}

fn rotation_state(key: &KeyRecord) -> Result<(), KmsError> {
    match key.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::new(
            ErrorKind::Disabled,
            format!("{} is disabled.", key.arn),
        )),
        KeyState::PendingDeletion => Err(KmsError::invalid_state(format!(
            "{} is pending deletion.",
            key.arn
        ))),
        KeyState::PendingImport => Err(KmsError::invalid_state(format!(
            "{} is pending import.",
            key.arn
        ))),
    }
}

impl KmsService {
    pub(crate) fn enable_key_rotation(
        &self,
        call: &mut Call<'_>,
        req: RotationRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let days = req
            .rotation_period_in_days
            .unwrap_or(i64::from(DEFAULT_ROTATION_DAYS));
        util::check_range(days, "rotationPeriodInDays", 90, 2560)?;
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:EnableKeyRotation")?;
            self.check_customer_managed(&key)?;
            primary_only(&key)?;
            symmetric_only(&key)?;
            external_unsupported(&key)?;
            custom_key_store_unsupported(&key)?;
            rotation_state(&key)?;
            let period = days as f64 * clock::DAY_SECS;
            let since = if key.rotation_enabled {
                // Re-setting the period counts from the latest rotation (or creation).
                db::list_materials(tx, &key.key_id)?
                    .last()
                    .map_or(key.created, |m| m.created)
            } else {
                self.now()
            };
            key.rotation_enabled = true;
            key.rotation_period_days = days as u32;
            key.next_rotation = Some(since + period);
            db::put_key(tx, &key)?;
            Ok(json!({}))
        })
    }

    pub(crate) fn disable_key_rotation(
        &self,
        call: &mut Call<'_>,
        req: RotationRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:DisableKeyRotation")?;
            self.check_customer_managed(&key)?;
            primary_only(&key)?;
            external_unsupported(&key)?;
            rotation_state(&key)?;
            key.rotation_enabled = false;
            key.next_rotation = None;
            db::put_key(tx, &key)?;
            Ok(json!({}))
        })
    }

    pub(crate) fn get_key_rotation_status(
        &self,
        call: &mut Call<'_>,
        req: RotationRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:GetKeyRotationStatus")?;
            external_unsupported(&key)?;
            // While pending deletion the status reads false; cancelling restores it.
            let enabled = key.rotation_enabled && key.state != KeyState::PendingDeletion;
            let mut out = json!({ "KeyRotationEnabled": enabled, "KeyId": key.arn });
            if enabled {
                out["RotationPeriodInDays"] = json!(key.rotation_period_days);
                if let Some(t) = key.next_rotation {
                    out["NextRotationDate"] = json!(t);
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn rotate_key_on_demand(
        &self,
        call: &mut Call<'_>,
        req: RotationRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:RotateKeyOnDemand")?;
            self.check_customer_managed(&key)?;
            primary_only(&key)?;
            symmetric_only(&key)?;
            custom_key_store_unsupported(&key)?;
            rotation_state(&key)?;
            if key.origin == Origin::External {
                return Err(KmsError::unsupported(format!(
                    "{} has imported key material; rotating imported key material is not \
                     supported by this KMS",
                    key.arn
                )));
            }
            if key.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS {
                return Err(KmsError::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "The on-demand rotations limit has been reached for the given keyId. \
                         No more on-demand rotations can be performed for this key: {}",
                        key.arn
                    ),
                ));
            }
            rotate(self, tx, &mut key, "ON_DEMAND")?;
            Ok(json!({ "KeyId": key.arn }))
        })
    }

    pub(crate) fn list_key_rotations(
        &self,
        call: &mut Call<'_>,
        req: RotationRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let all = match req.include_key_material.as_deref() {
            None | Some("ROTATIONS_ONLY") => false,
            Some("ALL_KEY_MATERIAL") => true,
            Some(v) => {
                return Err(KmsError::constraint(
                    &format!("'{v}'"),
                    "includeKeyMaterial",
                    "Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
                ));
            }
        };
        let (key, materials) = self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:ListKeyRotations")?;
            let m = db::list_materials(tx, &key.key_id)?;
            Ok((key, m))
        })?;
        let entries: Vec<Value> = materials
            .iter()
            .filter(|m| all || m.rotation_type.is_some())
            .map(|m| {
                let current = key.current_material.as_deref() == Some(m.material_id.as_str());
                let mut e = json!({
                    "KeyId": key.arn,
                    "KeyMaterialId": m.material_id,
                    "KeyMaterialState": if current { "CURRENT" } else { "NON_CURRENT" },
                    "RotationDate": m.created,
                });
                if let Some(t) = &m.rotation_type {
                    e["RotationType"] = json!(t);
                }
                if m.imported {
                    e["ImportState"] = json!(if m.sealed.is_some() {
                        "IMPORTED"
                    } else {
                        "PENDING_IMPORT"
                    });
                    if let Some(model) = &key.expiration_model {
                        e["ExpirationModel"] = json!(model);
                    }
                    if let Some(v) = key.valid_to {
                        e["ValidTo"] = json!(v);
                    }
                }
                e
            })
            .collect();
        let (page, next) = util::paginate(entries, req.limit, 100, 1000, req.marker.as_deref())?;
        Ok(util::with_page(json!({ "Rotations": page }), next))
    }
}
