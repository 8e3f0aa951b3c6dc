//! Keys that belong to the service, not to any principal: the AWS-managed `alias/aws/s3` (the
//! SSE-KMS default key) and the gateway's own service key `alias/sealgate/sse-s3` (it wraps
//! the SSE-S3 master ring; see `sse::master`).
//!
//! Both show `KeyManager: AWS` and follow AWS's fixed policy for AWS managed keys: the account
//! may describe, get and list them; nobody — not even a principal allowed `kms:*` on `*` —
//! may manage them (state, deletion, policy, rotation, description, tags, grants, aliases),
//! which is AccessDeniedException "… because no resource-based policy allows the … action",
//! as AWS answers. Cryptographic use is allowed only through the service:
//! - `alias/aws/s3`: the S3 gateway on behalf of a request (`Source::S3Gateway`, with the
//!   end user's key-policy check as before) or the gateway service itself;
//! - `alias/sealgate/...`: only the gateway service itself ([`Source::Service`]: the SSE-S3
//!   ring in process, or a remote gateway signing as one of the configured service
//!   principals). An S3 request naming it as its SSE-KMS key is refused.
//!
//! The service key is created by its first service use (as AWS services create their keys on
//! first use). A data dir from an earlier build, where the gateway made it as an ordinary
//! customer-managed key through CreateKey/CreateAlias, is converted when the KMS opens: same
//! key, same ARN and material (stored SSE-S3 objects stay readable), now service-owned, back
//! to Enabled if someone had disabled it or scheduled its deletion, with the default policy
//! and automatic rotation. The conversion is an audit record of its own.

use super::audit::Source;
use super::db::{self, KeyRecord, KeyState, Origin};
use super::error::{ErrorKind, KmsError};
use super::key_spec::{KeySpec, KeyUsage};
use super::rotation::DEFAULT_ROTATION_DAYS;
use super::{Call, Caller, KmsService, clock, crypto, policy};

/// The AWS-managed default SSE-KMS key.
pub(crate) const AWS_S3_ALIAS: &str = "alias/aws/s3";
/// The gateway's SSE-S3 service key.
pub const SSE_S3_SERVICE_ALIAS: &str = "alias/sealgate/sse-s3";
/// Alias prefix of the gateway's own keys; like `alias/aws/`, no principal may use it.
pub(crate) const SERVICE_ALIAS_PREFIX: &str = "alias/sealgate/";
const SERVICE_KEY_DESCRIPTION: &str = "sealgate: wraps the SSE-S3 master keys (service-owned)";
const AWS_S3_DESCRIPTION: &str =
    "Default key that protects my S3 objects when no other key is defined";
/// The audit event of a data dir's service key turned service-owned.
pub(crate) const CONVERT_EVENT: &str = "ConvertToServiceKey";

/// What the AWS-managed-key rule decided for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ManagedRule {
    /// Not decided here: the key policy, identity policy and grants decide.
    Policy,
    /// The service using its own key: allowed without a policy (the key's policy is fixed).
    Service,
}

/// `kms:Describe*`, `kms:Get*`, `kms:List*`: what AWS's fixed policy lets the account do.
fn read_only(action: &str) -> bool {
    ["kms:Describe", "kms:Get", "kms:List"]
        .iter()
        .any(|p| action.starts_with(p))
}

impl KmsService {
    /// The source of a KMS API call by `caller`: the service's own when it signs as one of
    /// the configured service principals.
    pub(crate) fn api_source(&self, caller: &Caller) -> Source {
        if self.is_service_principal(&caller.arn) {
            Source::Service { resource: None }
        } else {
            Source::KmsApi
        }
    }

    /// Whether `arn` is one of the configured gateway service principals: the identities
    /// that may use the service keys and act for S3 callers ([`super::on_behalf`]).
    pub(crate) fn is_service_principal(&self, arn: &str) -> bool {
        self.inner.service_principals.iter().any(|p| p == arn)
    }

    /// The AWS-managed-key rule, checked before any policy: see the module documentation.
    pub(super) fn managed_key_rule(
        &self,
        call: &Call<'_>,
        action: &str,
        key: &KeyRecord,
    ) -> Result<ManagedRule, KmsError> {
        if !key.aws_managed {
            return Ok(ManagedRule::Policy);
        }
        let using = crypto::USE_ACTIONS.contains(&action);
        if call.source.is_service() && (using || read_only(action)) {
            return Ok(ManagedRule::Service);
        }
        if read_only(action)
            || (using && !key.service_only && matches!(call.source, Source::S3Gateway { .. }))
        {
            return Ok(ManagedRule::Policy);
        }
        Err(KmsError::new(
            ErrorKind::AccessDenied,
            format!(
                "User: {} is not authorized to perform: {action} on resource: {} because no \
                 resource-based policy allows the {action} action",
                call.caller.arn, key.arn
            ),
        ))
    }

    /// Creates the key behind a predefined alias: `alias/aws/s3` (AWS-managed) or the SSE-S3
    /// service key (service-owned). Both rotate yearly.
    pub(crate) fn create_aws_managed(
        &self,
        tx: &dyn super::db::Tx,
        alias: &str,
    ) -> Result<KeyRecord, KmsError> {
        let (description, service_only) = match alias {
            AWS_S3_ALIAS => (AWS_S3_DESCRIPTION, false),
            SSE_S3_SERVICE_ALIAS => (SERVICE_KEY_DESCRIPTION, true),
            _ => {
                return Err(KmsError::not_found(format!(
                    "Alias {} is not found.",
                    self.alias_arn(alias)
                )));
            }
        };
        let key_id = super::key_id::new_single_region();
        let now = self.now();
        let material = self.new_material(tx, &key_id, None)?;
        let key = KeyRecord {
            key_id: key_id.clone(),
            arn: self.key_arn(&key_id),
            created: now,
            description: description.into(),
            state: KeyState::Enabled,
            origin: Origin::AwsKms,
            aws_managed: true,
            service_only,
            policy: policy::default_key_policy(&self.inner.account),
            rotation_enabled: true,
            rotation_period_days: DEFAULT_ROTATION_DAYS,
            next_rotation: Some(now + f64::from(DEFAULT_ROTATION_DAYS) * clock::DAY_SECS),
            deletion_date: None,
            on_demand_rotations: 0,
            current_material: Some(material),
            expiration_model: None,
            valid_to: None,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            multi_region: false,
            replica: false,
        };
        db::put_key(tx, &key)?;
        db::put_alias(
            tx,
            &db::AliasRow {
                name: alias.to_string(),
                key_id,
                created: now,
                updated: now,
            },
        )?;
        Ok(key)
    }

    /// Creates the SSE-S3 service key when the service first names it (`key_ref` is its
    /// alias or alias ARN) and it does not exist yet; audited as the service's CreateKey.
    pub(crate) fn ensure_service_key(
        &self,
        call: &Call<'_>,
        key_ref: &str,
    ) -> Result<(), KmsError> {
        if !call.source.is_service()
            || (key_ref != SSE_S3_SERVICE_ALIAS && key_ref != self.alias_arn(SSE_S3_SERVICE_ALIAS))
        {
            return Ok(());
        }
        let exists = |tx: &dyn super::db::Tx| -> Result<bool, KmsError> {
            Ok(db::get_alias(tx, SSE_S3_SERVICE_ALIAS)?.is_some())
        };
        if self.inner.store.with_tx(|tx| exists(tx))? {
            return Ok(());
        }
        self.run(
            "CreateKey",
            call.caller,
            call.source.clone(),
            &call.request_id,
            |svc, created| {
                svc.inner.store.with_tx(|tx| {
                    // Another gateway may have won the race between the two transactions.
                    if !exists(tx)? {
                        let key = svc.create_aws_managed(tx, SSE_S3_SERVICE_ALIAS)?;
                        created.note_key(&key);
                        tracing::info!(key = %key.arn, "created the SSE-S3 service key");
                    }
                    Ok(())
                })
            },
        )
    }

    /// Makes the SSE-S3 service key of an earlier build service-owned (see the module
    /// documentation). Run once when the KMS opens.
    pub(super) fn adopt_service_keys(&self) -> Result<(), KmsError> {
        let key = self.inner.store.with_tx(|tx| {
            let Some(alias) = db::get_alias(tx, SSE_S3_SERVICE_ALIAS)? else {
                return Ok(None);
            };
            Ok(db::get_key(tx, &alias.key_id)?)
        })?;
        let Some(key) = key.filter(|k| !k.service_only) else {
            return Ok(());
        };
        let caller = Caller {
            arn: format!("arn:aws:iam::{}:root", self.inner.account),
            account: self.inner.account.clone(),
            identity_policy: None,
            network: None,
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        self.run(
            CONVERT_EVENT,
            &caller,
            Source::Internal,
            &request_id,
            |svc, call| {
                call.note_key(&key);
                if key.state != KeyState::Enabled {
                    // Record what the conversion undid: an operator alarming on unusable
                    // keys sees the disable or scheduled deletion that it reverted.
                    call.unusable_state = Some(key.state);
                }
                svc.inner.store.with_tx(|tx| {
                    let Some(mut fresh) = db::get_key(tx, &key.key_id)? else {
                        return Ok(());
                    };
                    let now = svc.now();
                    fresh.aws_managed = true;
                    fresh.service_only = true;
                    fresh.policy = policy::default_key_policy(&svc.inner.account);
                    if matches!(fresh.state, KeyState::Disabled | KeyState::PendingDeletion) {
                        fresh.state = KeyState::Enabled;
                        fresh.deletion_date = None;
                    }
                    if !fresh.rotation_enabled && fresh.origin == Origin::AwsKms {
                        fresh.rotation_enabled = true;
                        fresh.rotation_period_days = DEFAULT_ROTATION_DAYS;
                        fresh.next_rotation =
                            Some(now + f64::from(DEFAULT_ROTATION_DAYS) * clock::DAY_SECS);
                    }
                    db::put_key(tx, &fresh)?;
                    Ok(())
                })
            },
        )?;
        tracing::warn!(
            key = %key.arn,
            previous_state = key.state.as_str(),
            "the SSE-S3 service key {SSE_S3_SERVICE_ALIAS} is now service-owned (KeyManager AWS)"
        );
        Ok(())
    }
}

/// The key policy GetKeyPolicy shows for a key. An AWS-managed or service key shows its fixed
/// policy in AWS's form (what [`KmsService::managed_key_rule`] enforces: the account reads,
/// only the service uses); the stored default policy then decides only the read-only actions,
/// where it is equivalent (the account root delegating to IAM policies).
pub(crate) fn shown_policy(key: &KeyRecord, account: &str, region: &str) -> String {
    if !key.aws_managed {
        return key.policy.clone();
    }
    let (id, sid, via) = if key.service_only {
        (
            "auto-sealgate-1",
            "Allow use only by the sealgate gateway service itself",
            "sealgate".to_owned(),
        )
    } else {
        (
            "auto-s3-2",
            "Allow access through S3 for all principals in the account that are authorized to use S3",
            format!("s3.{region}.amazonaws.com"),
        )
    };
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": id,
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via}}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

/// Whether `name` is under a prefix no principal may create, retarget or delete.
pub(crate) fn reserved_alias(name: &str) -> bool {
    name.starts_with("alias/aws/") || name.starts_with(SERVICE_ALIAS_PREFIX)
}
