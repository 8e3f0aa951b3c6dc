//! Key lifecycle operations: CreateKey, DescribeKey, ListKeys, Enable/DisableKey,
//! Schedule/CancelKeyDeletion, UpdateKeyDescription, key policies and tags (the AWS-managed
//! and service keys are in `service_keys`). State rules follow the AWS key-state table (AWS KMS
//! Developer Guide: "Key states of AWS KMS keys").

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::asym::PrivateKey;
use super::db::{self, KeyRecord, KeyState, Origin};
use super::error::{ErrorKind, KmsError};
use super::key_spec::{self, KeySpec, KeyUsage};
use super::rotation::{self, DEFAULT_ROTATION_DAYS};
use super::util::{self, required};
use super::{Call, KmsService, clock, policy};

const MAX_POLICY_LEN: usize = 131_072;
const MAX_DESCRIPTION_LEN: usize = 8192;
const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Tag {
    pub(crate) tag_key: String,
    #[serde(default)]
    pub(crate) tag_value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateKeyRequest {
    pub(crate) policy: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) key_usage: Option<String>,
    pub(crate) key_spec: Option<String>,
    pub(crate) customer_master_key_spec: Option<String>,
    pub(crate) origin: Option<String>,
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
    pub(crate) tags: Option<Vec<Tag>>,
    pub(crate) multi_region: Option<bool>,
    pub(crate) xks_key_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyIdRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScheduleKeyDeletionRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) pending_window_in_days: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateKeyDescriptionRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyPolicyRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) policy_name: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagResourceRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) tags: Option<Vec<Tag>>,
    pub(crate) tag_keys: Option<Vec<String>>,
}

const KNOWN_KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
const KNOWN_KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];

/// AWS's spec/usage pairing first (a ValidationException), then what this KMS implements.
fn spec_for(spec: &str, usage: &str) -> Result<(KeySpec, KeyUsage), KmsError> {
    let hmac_spec = spec.starts_with("HMAC_");
    if hmac_spec && usage != "GENERATE_VERIFY_MAC" {
        return Err(KmsError::validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}. HMAC keys require \
             KeyUsage GENERATE_VERIFY_MAC."
        )));
    }
    if !hmac_spec && usage == "GENERATE_VERIFY_MAC" {
        return Err(KmsError::validation(format!(
            "KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec {spec}. \
             GENERATE_VERIFY_MAC requires an HMAC KeySpec."
        )));
    }
    let key_usage = KeyUsage::parse(usage).ok_or_else(|| KmsError::internal("usage unchecked"))?;
    match KeySpec::parse(spec) {
        Some(k) if k.usages().contains(&key_usage) => Ok((k, key_usage)),
        Some(_) => Err(KmsError::validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}."
        ))),
        None => Err(KmsError::unsupported(format!(
            "KeySpec {spec} is not supported by this KMS: it supports SYMMETRIC_DEFAULT, \
             HMAC_224/256/384/512, RSA_2048/3072/4096, ECC_NIST_P256/P384/P521 and \
             ECC_SECG_P256K1"
        ))),
    }
}

/// CreateKey `MultiRegion=true` (see `multi_region`): AWS makes multi-Region keys with
/// KMS-generated or imported material, never in a custom key store. This KMS does not (yet)
/// take imported material for them: each Region's key would need its own import of the same
/// bytes.
fn multi_region_creatable(origin: Origin) -> Result<(), KmsError> {
    match origin {
        Origin::AwsKms => Ok(()),
        Origin::AwsCloudHsm => Err(KmsError::unsupported(
            "Multi-Region keys are not supported in custom key stores",
        )),
        Origin::External => Err(KmsError::unsupported(
            "Multi-Region keys with imported key material (Origin EXTERNAL) are not supported \
             by this KMS",
        )),
    }
}

fn enum_value(value: &str, member: &str, known: &[&str]) -> Result<(), KmsError> {
    if known.contains(&value) {
        return Ok(());
    }
    Err(KmsError::constraint(
        &format!("'{value}'"),
        member,
        &format!("Member must satisfy enum value set: [{}]", known.join(", ")),
    ))
}

pub(crate) fn check_description(description: &str) -> Result<(), KmsError> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(KmsError::constraint(
            "'<description>'",
            "description",
            "Member must have length less than or equal to 8192",
        ));
    }
    Ok(())
}

pub(super) fn validate_policy_document(policy: &str) -> Result<(), KmsError> {
    if policy.len() > MAX_POLICY_LEN {
        return Err(KmsError::constraint(
            "'<policy>'",
            "policy",
            "Member must have length less than or equal to 131072",
        ));
    }
    policy::validate_policy(policy)
        .map_err(|m| KmsError::new(ErrorKind::MalformedPolicyDocument, m))
}

pub(crate) fn validate_tags(tags: &[Tag]) -> Result<(), KmsError> {
    let tag_err = |m: &str| KmsError::new(ErrorKind::Tag, m);
    let mut seen = std::collections::BTreeSet::new();
    for t in tags {
        if t.tag_key.is_empty() || t.tag_key.chars().count() > 128 {
            return Err(tag_err("Tag keys must be between 1 and 128 characters"));
        }
        if t.tag_value.chars().count() > 256 {
            return Err(tag_err("Tag values must be at most 256 characters"));
        }
        if t.tag_key.starts_with("aws:") {
            return Err(tag_err("Tags beginning with aws: are reserved"));
        }
        if !seen.insert(t.tag_key.as_str()) {
            return Err(tag_err("Duplicate tag keys"));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(tag_err("Too many tags"));
    }
    Ok(())
}

impl KmsService {
    /// The KeyMetadata of DescribeKey, CreateKey and ReplicateKey: [`Self::metadata`] with
    /// the custom key store and multi-Region fields.
    pub(crate) fn full_metadata(&self, tx: &dyn db::Tx, k: &KeyRecord) -> Result<Value, KmsError> {
        let mut meta = self.metadata(k);
        self.add_key_store_fields(tx, k, &mut meta)?;
        self.add_multi_region_fields(tx, k, &mut meta)?;
        Ok(meta)
    }

    /// The KeyMetadata structure of DescribeKey/CreateKey.
    pub(crate) fn metadata(&self, k: &KeyRecord) -> Value {
        let mut m = json!({
            "AWSAccountId": self.inner.account,
            "KeyId": k.key_id,
            "Arn": k.arn,
            "CreationDate": k.created,
            "Enabled": k.state == KeyState::Enabled,
            "Description": k.description,
            "KeyState": k.state.as_str(),
            "Origin": k.origin.as_str(),
            "KeyManager": if k.aws_managed { "AWS" } else { "CUSTOMER" },
            "MultiRegion": k.multi_region,
        });
        key_spec::add_metadata(k.key_spec, k.key_usage, &mut m);
        if let Some(mid) = &k.current_material {
            m["CurrentKeyMaterialId"] = json!(mid);
        }
        if let Some(d) = k.deletion_date {
            m["DeletionDate"] = json!(d);
        }
        if k.origin == Origin::External {
            if let Some(model) = &k.expiration_model {
                m["ExpirationModel"] = json!(model);
            }
            if let Some(v) = k.valid_to {
                m["ValidTo"] = json!(v);
            }
        }
        m
    }

    pub(crate) fn create_key(
        &self,
        call: &mut Call<'_>,
        req: CreateKeyRequest,
    ) -> Result<Value, KmsError> {
        let usage = req.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT");
        enum_value(usage, "keyUsage", KNOWN_KEY_USAGES)?;
        let spec = req
            .key_spec
            .as_deref()
            .or(req.customer_master_key_spec.as_deref())
            .unwrap_or("SYMMETRIC_DEFAULT");
        enum_value(spec, "keySpec", KNOWN_KEY_SPECS)?;
        let (key_spec, key_usage) = spec_for(spec, usage)?;
        let default_origin = if req.custom_key_store_id.is_some() {
            "AWS_CLOUDHSM"
        } else {
            "AWS_KMS"
        };
        let origin = match req.origin.as_deref().unwrap_or(default_origin) {
            "AWS_KMS" => Origin::AwsKms,
            "EXTERNAL" => Origin::External,
            "AWS_CLOUDHSM" => Origin::AwsCloudHsm,
            "EXTERNAL_KEY_STORE" => {
                return Err(KmsError::unsupported(
                    "Origin EXTERNAL_KEY_STORE is not supported: this KMS has no external key \
                     stores",
                ));
            }
            o => {
                enum_value(
                    o,
                    "origin",
                    &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
                )?;
                unreachable!("enum_value rejects unknown origins")
            }
        };
        if key_spec != KeySpec::SymmetricDefault && origin == Origin::AwsCloudHsm {
            return Err(KmsError::unsupported(
                "Custom key stores (Origin AWS_CLOUDHSM) hold only SYMMETRIC_DEFAULT keys",
            ));
        }
        if req.xks_key_id.is_some() {
            return Err(KmsError::unsupported(
                "External key stores (XksKeyId) are not supported by this KMS",
            ));
        }
        let store_id = match (origin, req.custom_key_store_id.clone()) {
            (Origin::AwsCloudHsm, Some(id)) => Some(id),
            (Origin::AwsCloudHsm, None) => {
                return Err(KmsError::validation(
                    "CustomKeyStoreId is required when Origin is AWS_CLOUDHSM",
                ));
            }
            (_, Some(_)) => {
                return Err(KmsError::validation(
                    "CustomKeyStoreId requires Origin AWS_CLOUDHSM",
                ));
            }
            (_, None) => None,
        };
        let multi_region = req.multi_region == Some(true);
        if multi_region {
            multi_region_creatable(origin)?;
        }
        let description = req.description.unwrap_or_default();
        check_description(&description)?;
        let tags = req.tags.unwrap_or_default();
        validate_tags(&tags)?;

        let key_id = if multi_region {
            super::key_id::new_multi_region()
        } else {
            super::key_id::new_single_region()
        };
        let arn = self.key_arn(&key_id);
        let policy = match req.policy {
            Some(p) => {
                validate_policy_document(&p)?;
                if req.bypass_policy_lockout_safety_check != Some(true) {
                    self.check_lockout(call, &arn, &p)?;
                }
                p
            }
            None => policy::default_key_policy(&self.inner.account),
        };
        let now = self.now();
        let mut key = KeyRecord {
            key_id: key_id.clone(),
            arn,
            created: now,
            description,
            state: KeyState::Enabled,
            origin,
            aws_managed: false,
            service_only: false,
            policy,
            rotation_enabled: false,
            rotation_period_days: DEFAULT_ROTATION_DAYS,
            next_rotation: None,
            deletion_date: None,
            on_demand_rotations: 0,
            current_material: None,
            expiration_model: None,
            valid_to: None,
            key_spec,
            key_usage,
            multi_region,
            replica: false,
        };
        call.note_key(&key);
        // RSA generation takes up to seconds: only for an authorized caller, and not while
        // the key store's transaction (and with it every other KMS call) waits.
        let private = if key_spec.is_asymmetric() && origin == Origin::AwsKms {
            self.inner.store.with_tx(|tx| {
                self.authorize(tx, call, "kms:CreateKey", None, &BTreeMap::new(), &[])
            })?;
            Some(PrivateKey::generate(key_spec)?)
        } else {
            None
        };
        let meta = self.inner.store.with_tx(|tx| {
            self.authorize(tx, call, "kms:CreateKey", None, &BTreeMap::new(), &[])?;
            match (origin, &private) {
                (Origin::AwsKms, Some(private)) => {
                    key.current_material = Some(self.put_private_key(tx, &key_id, private)?);
                }
                (Origin::AwsKms, None) if key_spec.is_hmac() => {
                    key.current_material = Some(self.new_mac_material(tx, &key_id, key_spec)?);
                }
                (Origin::AwsKms, None) => {
                    key.current_material = Some(self.new_material(tx, &key_id, None)?);
                }
                (Origin::AwsCloudHsm, _) => {
                    // One backing version, held by the token under the key id; the material
                    // row (nothing sealed) names it in blobs.
                    let material_id = hex::encode(super::gcm::random_array::<32>());
                    db::put_material(
                        tx,
                        &db::MaterialRow {
                            key_id: key_id.clone(),
                            material_id: material_id.clone(),
                            sealed: None,
                            created: now,
                            rotation_type: None,
                            imported: false,
                            fingerprint: None,
                        },
                    )?;
                    key.current_material = Some(material_id);
                }
                (Origin::External, _) => key.state = KeyState::PendingImport,
            }
            db::put_key(tx, &key)?;
            for t in &tags {
                db::put_tag(tx, &key.scope(), &t.tag_key, &t.tag_value)?;
            }
            if let Some(store_id) = &store_id {
                // Last, so a failed generation rolls the rows back.
                self.create_hsm_key(tx, store_id, &key_id)?;
            }
            self.full_metadata(tx, &key)
        })?;
        Ok(json!({ "KeyMetadata": meta }))
    }

    /// A new policy must still let the caller change it (unless the caller bypasses the check).
    pub(super) fn check_lockout(
        &self,
        call: &Call<'_>,
        arn: &str,
        policy_doc: &str,
    ) -> Result<(), KmsError> {
        let req = policy::AuthzRequest {
            caller: call.caller,
            action: "kms:PutKeyPolicy",
            key_arn: Some(arn),
            key_policy: Some(policy_doc),
            grants: &[],
            encryption_context: &BTreeMap::new(),
            grant_tokens: &[],
            via_service: None,
        };
        match policy::authorize(&req) {
            policy::Decision::Allow => Ok(()),
            policy::Decision::Deny(_) => Err(KmsError::new(
                ErrorKind::MalformedPolicyDocument,
                "The new key policy will not allow you to update the key policy in the future.",
            )),
        }
    }

    pub(crate) fn describe_key(
        &self,
        call: &mut Call<'_>,
        req: KeyIdRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        // A remote gateway's first DescribeKey of its service key creates it, as AWS services
        // create their AWS-managed keys.
        self.ensure_service_key(call, &key_ref)?;
        self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, &key_ref, true)?;
            call.note_key(&key);
            self.authorize(
                tx,
                call,
                "kms:DescribeKey",
                Some(&key),
                &BTreeMap::new(),
                &tokens,
            )?;
            Ok(json!({ "KeyMetadata": self.full_metadata(tx, &key)? }))
        })
    }

    pub(crate) fn list_keys(
        &self,
        call: &mut Call<'_>,
        req: ListRequest,
    ) -> Result<Value, KmsError> {
        let keys = self.inner.store.with_tx(|tx| {
            self.authorize(tx, call, "kms:ListKeys", None, &BTreeMap::new(), &[])?;
            Ok(db::all_incarnations(tx)?)
        })?;
        let keys: Vec<KeyRecord> = keys.into_iter().filter(|k| self.owns(k)).collect();
        let (page, next) = util::paginate(keys, req.limit, 100, 1000, req.marker.as_deref())?;
        let keys: Vec<Value> = page
            .iter()
            .map(|k| json!({"KeyId": k.key_id, "KeyArn": k.arn}))
            .collect();
        Ok(util::with_page(json!({ "Keys": keys }), next))
    }

    pub(crate) fn enable_key(
        &self,
        call: &mut Call<'_>,
        req: KeyIdRequest,
    ) -> Result<Value, KmsError> {
        self.set_enabled(call, req, true)
    }

    pub(crate) fn disable_key(
        &self,
        call: &mut Call<'_>,
        req: KeyIdRequest,
    ) -> Result<Value, KmsError> {
        let done = self.set_enabled(call, req, false)?;
        self.warn_if_object_lock(call, "DisableKey");
        Ok(done)
    }

    fn set_enabled(
        &self,
        call: &mut Call<'_>,
        req: KeyIdRequest,
        enable: bool,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let action = if enable {
            "kms:EnableKey"
        } else {
            "kms:DisableKey"
        };
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, action)?;
            self.check_customer_managed(&key)?;
            self.check_not_pending_deletion(&key)?;
            if key.state == KeyState::PendingImport {
                return Err(KmsError::invalid_state(format!(
                    "{} is pending import.",
                    key.arn
                )));
            }
            key.state = if enable {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            };
            db::put_key(tx, &key)?;
            // Disabled keys are not rotated; one that missed its rotation rotates on re-enable.
            if enable && rotation::is_due(&key, self.now()) {
                rotation::rotate(self, tx, &mut key, "AUTOMATIC")?;
            }
            Ok(json!({}))
        })
    }

    pub(crate) fn schedule_key_deletion(
        &self,
        call: &mut Call<'_>,
        req: ScheduleKeyDeletionRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let days = req.pending_window_in_days.unwrap_or(30);
        util::check_range(days, "pendingWindowInDays", 7, 30)?;
        let done = self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:ScheduleKeyDeletion")?;
            self.check_customer_managed(&key)?;
            self.check_not_pending_deletion(&key)?;
            self.check_no_replicas(tx, &key)?;
            let date = self.now() + days as f64 * clock::DAY_SECS;
            key.state = KeyState::PendingDeletion;
            key.deletion_date = Some(date);
            db::put_key(tx, &key)?;
            Ok(json!({
                "KeyId": key.arn,
                "DeletionDate": date,
                "KeyState": "PendingDeletion",
                "PendingWindowInDays": days,
            }))
        })?;
        self.warn_if_object_lock(call, "ScheduleKeyDeletion");
        Ok(done)
    }

    pub(crate) fn cancel_key_deletion(
        &self,
        call: &mut Call<'_>,
        req: KeyIdRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:CancelKeyDeletion")?;
            if key.state != KeyState::PendingDeletion {
                return Err(KmsError::invalid_state(format!(
                    "{} is not pending deletion.",
                    key.arn
                )));
            }
            // AWS leaves a cancelled key Disabled; an imported key without material can only be
            // PendingImport.
            key.state = if key.origin == Origin::External && key.current_material.is_none() {
                KeyState::PendingImport
            } else {
                KeyState::Disabled
            };
            key.deletion_date = None;
            db::put_key(tx, &key)?;
            Ok(json!({ "KeyId": key.arn }))
        })
    }

    pub(crate) fn update_key_description(
        &self,
        call: &mut Call<'_>,
        req: UpdateKeyDescriptionRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let description = required(req.description, "description")?;
        check_description(&description)?;
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:UpdateKeyDescription")?;
            self.check_customer_managed(&key)?;
            self.check_not_pending_deletion(&key)?;
            key.description = description.clone();
            db::put_key(tx, &key)?;
            Ok(json!({}))
        })
    }

    fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
        match name.unwrap_or("default") {
            "default" => Ok(()),
            other => Err(KmsError::not_found(format!(
                "Policy '{other}' does not exist; the only key policy name is 'default'"
            ))),
        }
    }

    pub(crate) fn put_key_policy(
        &self,
        call: &mut Call<'_>,
        req: KeyPolicyRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        Self::check_policy_name(req.policy_name.as_deref())?;
        let policy_doc = required(req.policy, "policy")?;
        validate_policy_document(&policy_doc)?;
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:PutKeyPolicy")?;
            self.check_customer_managed(&key)?;
            if req.bypass_policy_lockout_safety_check != Some(true) {
                self.check_lockout(call, &key.arn, &policy_doc)?;
            }
            key.policy = policy_doc.clone();
            db::put_key(tx, &key)?;
            Ok(json!({}))
        })
    }

    pub(crate) fn get_key_policy(
        &self,
        call: &mut Call<'_>,
        req: KeyPolicyRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        Self::check_policy_name(req.policy_name.as_deref())?;
        self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:GetKeyPolicy")?;
            let policy = super::service_keys::shown_policy(&key, &self.inner.account, &self.region);
            Ok(json!({ "Policy": policy, "PolicyName": "default" }))
        })
    }

    pub(crate) fn list_key_policies(
        &self,
        call: &mut Call<'_>,
        req: ListRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        self.inner.store.with_tx(|tx| {
            self.key_for(tx, call, &key_ref, false, "kms:ListKeyPolicies")?;
            Ok(())
        })?;
        let (page, next) =
            util::paginate(vec!["default"], req.limit, 100, 1000, req.marker.as_deref())?;
        Ok(util::with_page(json!({ "PolicyNames": page }), next))
    }

    pub(crate) fn tag_resource(
        &self,
        call: &mut Call<'_>,
        req: TagResourceRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let tags = required(req.tags, "tags")?;
        validate_tags(&tags)?;
        self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:TagResource")?;
            self.check_customer_managed(&key)?;
            self.check_not_pending_deletion(&key)?;
            for t in &tags {
                db::put_tag(tx, &key.scope(), &t.tag_key, &t.tag_value)?;
            }
            if db::tags(tx, &key.scope())?.len() > MAX_TAGS {
                return Err(KmsError::new(ErrorKind::Tag, "Too many tags"));
            }
            Ok(json!({}))
        })
    }

    pub(crate) fn untag_resource(
        &self,
        call: &mut Call<'_>,
        req: TagResourceRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let keys = required(req.tag_keys, "tagKeys")?;
        self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:UntagResource")?;
            self.check_customer_managed(&key)?;
            self.check_not_pending_deletion(&key)?;
            for k in &keys {
                db::delete_tag(tx, &key.scope(), k)?;
            }
            Ok(json!({}))
        })
    }

    pub(crate) fn list_resource_tags(
        &self,
        call: &mut Call<'_>,
        req: ListRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let tags = self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:ListResourceTags")?;
            Ok(db::tags(tx, &key.scope())?)
        })?;
        let (page, next) = util::paginate(tags, req.limit, 50, 50, req.marker.as_deref())?;
        let tags: Vec<Value> = page
            .into_iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect();
        Ok(util::with_page(json!({ "Tags": tags }), next))
    }
}
