//! Multi-Region keys: CreateKey `MultiRegion=true`, ReplicateKey, UpdatePrimaryRegion and
//! the rules AWS gives related multi-Region keys (AWS KMS Developer Guide: "Multi-Region keys
//! in AWS KMS").
//!
//! A multi-Region key has the id `mrk-…` in every Region; its primary key lives in one Region
//! and its replica keys in others, all served by this KMS ([`KmsService::in_region`]). They
//! share key spec, usage and key material (one sealed copy, see `db::replicas`), so a
//! ciphertext or signature made in one Region is decrypted or verified in any other; each
//! Region's key has its own ARN, description, key state, key policy, tags and grants. Rotation
//! is the primary's and applies to every Region; a primary with replicas cannot be scheduled
//! for deletion.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::db::{self, KeyRecord, KeyState};
use super::error::{ErrorKind, KmsError};
use super::keys::{Tag, check_description, validate_policy_document, validate_tags};
use super::util::required;
use super::{Call, KmsService, policy};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReplicateKeyRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) replica_region: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
    pub(crate) description: Option<String>,
    pub(crate) tags: Option<Vec<Tag>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdatePrimaryRegionRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) primary_region: Option<String>,
}

/// AWS's pattern for Region names in ReplicaRegion and PrimaryRegion.
fn check_region_name(region: &str, member: &str) -> Result<(), KmsError> {
    let parts: Vec<&str> = region.split('-').collect();
    let well_formed = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
        && region.len() <= 32;
    if well_formed {
        return Ok(());
    }
    Err(KmsError::constraint(
        &format!("'{region}'"),
        member,
        "Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$",
    ))
}

impl KmsService {
    /// `MultiRegionConfiguration` of a multi-Region key's KeyMetadata: its type, the primary
    /// key and every replica key (the described key too when it is one).
    pub(crate) fn add_multi_region_fields(
        &self,
        tx: &dyn db::Tx,
        key: &KeyRecord,
        meta: &mut Value,
    ) -> Result<(), KmsError> {
        if !key.multi_region {
            return Ok(());
        }
        let primary_arn = match key.replica {
            false => key.arn.clone(),
            true => db::get_key(tx, &key.key_id)?
                .map(|p| p.arn)
                .ok_or_else(|| KmsError::internal("a replica key without its primary"))?,
        };
        let replicas: Vec<Value> = db::replica_refs(tx, &key.key_id)?
            .into_iter()
            .map(|r| json!({ "Arn": r.arn, "Region": r.region }))
            .collect();
        let primary_region = primary_arn.split(':').nth(3).unwrap_or_default().to_owned();
        meta["MultiRegionConfiguration"] = json!({
            "MultiRegionKeyType": if key.replica { "REPLICA" } else { "PRIMARY" },
            "PrimaryKey": { "Arn": primary_arn, "Region": primary_region },
            "ReplicaKeys": replicas,
        });
        Ok(())
    }

    /// ScheduleKeyDeletion: a primary key is deleted only after its replica keys.
    pub(crate) fn check_no_replicas(
        &self,
        tx: &dyn db::Tx,
        key: &KeyRecord,
    ) -> Result<(), KmsError> {
        if !key.multi_region || key.replica {
            return Ok(());
        }
        let replicas = db::replica_refs(tx, &key.key_id)?;
        if replicas.is_empty() {
            return Ok(());
        }
        let regions: Vec<&str> = replicas.iter().map(|r| r.region.as_str()).collect();
        Err(KmsError::unsupported(format!(
            "{} is a multi-Region primary key that has replica keys ({}): schedule the \
             deletion of its replica keys first, or make another Region's key the primary \
             key (UpdatePrimaryRegion)",
            key.arn,
            regions.join(", ")
        )))
    }

    /// The multi-Region primary key `key_ref` names, authorized for `action`.
    fn primary_key_for(
        &self,
        tx: &dyn db::Tx,
        call: &mut Call<'_>,
        key_ref: &str,
        action: &str,
    ) -> Result<KeyRecord, KmsError> {
        let key = self.key_for(tx, call, key_ref, false, action)?;
        if !key.multi_region {
            return Err(KmsError::unsupported(format!(
                "{} is not a multi-Region key",
                key.arn
            )));
        }
        if key.replica {
            let primary = db::get_key(tx, &key.key_id)?
                .ok_or_else(|| KmsError::internal("a replica key without its primary"))?;
            return Err(KmsError::unsupported(format!(
                "{} is a replica key; call {} with the primary key {} in its Region {}",
                key.arn,
                action.trim_start_matches("kms:"),
                primary.arn,
                primary.region()
            )));
        }
        self.check_not_pending_deletion(&key)?;
        Ok(key)
    }

    pub(crate) fn replicate_key(
        &self,
        call: &mut Call<'_>,
        req: ReplicateKeyRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let region = required(req.replica_region, "replicaRegion")?;
        check_region_name(&region, "replicaRegion")?;
        let description = req.description.unwrap_or_default();
        check_description(&description)?;
        let tags = req.tags.unwrap_or_default();
        validate_tags(&tags)?;
        if let Some(p) = &req.policy {
            validate_policy_document(p)?;
        }
        self.inner.store.with_tx(|tx| {
            let primary = self.primary_key_for(tx, call, &key_ref, "kms:ReplicateKey")?;
            let there = self.in_region(&region).ok_or_else(|| {
                KmsError::unsupported(format!(
                    "This KMS does not serve the Region {region}; it serves {}",
                    self.regions().join(", ")
                ))
            })?;
            if region == primary.region() || db::get_key_in(tx, &primary.key_id, &region)?.is_some()
            {
                return Err(KmsError::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "Replica key {} already exists in {region}",
                        there.key_arn(&primary.key_id)
                    ),
                ));
            }
            // Creating a key in the replica's Region is the caller's CreateKey there.
            there.authorize(tx, call, "kms:CreateKey", None, &BTreeMap::new(), &[])?;
            let arn = there.key_arn(&primary.key_id);
            let policy = match &req.policy {
                Some(p) => {
                    if req.bypass_policy_lockout_safety_check != Some(true) {
                        there.check_lockout(call, &arn, p)?;
                    }
                    p.clone()
                }
                None => policy::default_key_policy(&self.inner.account),
            };
            let replica = KeyRecord {
                arn,
                created: self.now(),
                description: description.clone(),
                state: match primary.state {
                    KeyState::Disabled => KeyState::Disabled,
                    _ => KeyState::Enabled,
                },
                policy,
                deletion_date: None,
                replica: true,
                ..primary.clone()
            };
            db::put_key(tx, &replica)?;
            for t in &tags {
                db::put_tag(tx, &replica.scope(), &t.tag_key, &t.tag_value)?;
            }
            let replica_tags: Vec<Value> = tags
                .iter()
                .map(|t| json!({ "TagKey": t.tag_key, "TagValue": t.tag_value }))
                .collect();
            Ok(json!({
                "ReplicaKeyMetadata": there.full_metadata(tx, &replica)?,
                "ReplicaPolicy": replica.policy,
                "ReplicaTags": replica_tags,
            }))
        })
    }

    /// Makes the replica key in `PrimaryRegion` the primary key and the current primary key a
    /// replica. Each Region's key keeps its own fields (ARN, state, policy, tags, grants).
    pub(crate) fn update_primary_region(
        &self,
        call: &mut Call<'_>,
        req: UpdatePrimaryRegionRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let region = required(req.primary_region, "primaryRegion")?;
        check_region_name(&region, "primaryRegion")?;
        self.inner.store.with_tx(|tx| {
            let primary = self.primary_key_for(tx, call, &key_ref, "kms:UpdatePrimaryRegion")?;
            if region == primary.region() {
                return Err(KmsError::unsupported(format!(
                    "{} is already the primary key; PrimaryRegion must name a Region of one \
                     of its replica keys",
                    primary.arn
                )));
            }
            let there = self.in_region(&region);
            let replica = match &there {
                Some(there) => db::get_key_in(tx, &primary.key_id, there.region())?,
                None => None,
            };
            let (Some(there), Some(replica)) = (there, replica) else {
                return Err(KmsError::not_found(format!(
                    "{} has no replica key in {region}",
                    primary.arn
                )));
            };
            // AWS asks for the permission on both keys.
            there.authorize(
                tx,
                call,
                "kms:UpdatePrimaryRegion",
                Some(&replica),
                &BTreeMap::new(),
                &[],
            )?;
            self.check_not_pending_deletion(&replica)?;
            let new_primary = KeyRecord {
                replica: false,
                ..replica.clone()
            };
            let old_primary = KeyRecord {
                replica: true,
                ..primary
            };
            db::delete_replica_row(tx, &replica.key_id, &region)?;
            db::put_key(tx, &new_primary)?;
            db::put_key(tx, &old_primary)?;
            Ok(json!({}))
        })
    }
}
