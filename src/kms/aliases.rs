//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. Names are `alias/` +
//! `[a-zA-Z0-9/_-]`, at most 256 characters; `alias/aws/` is reserved for AWS-managed keys,
//! of which only `alias/aws/s3` exists (created on first use), and `alias/sealgate/` for the
//! gateway's service keys (see `service_keys`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::db::{self, AliasRow};
use super::error::{ErrorKind, KmsError};
use super::util::{self, required};
use super::{Call, KmsService, service_keys};

pub(crate) use super::service_keys::AWS_S3_ALIAS;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AliasRequest {
    pub(crate) alias_name: Option<String>,
    pub(crate) target_key_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAliasesRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

pub(super) fn validate_alias_name(name: &str) -> Result<(), KmsError> {
    if !name.starts_with("alias/") {
        return Err(KmsError::validation(
            "Alias must start with the prefix \"alias/\". Please see \
             https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    }
    let rest = &name["alias/".len()..];
    if rest.is_empty()
        || name.len() > 256
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(KmsError::constraint(
            &format!("'{name}'"),
            "aliasName",
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ));
    }
    // AWS answers NotAuthorizedException for its reserved prefix; the gateway's own
    // service keys are reserved the same way.
    if service_keys::reserved_alias(name) {
        let prefix = if name.starts_with("alias/aws/") {
            "alias/aws/"
        } else {
            service_keys::SERVICE_ALIAS_PREFIX
        };
        return Err(KmsError::new(
            ErrorKind::NotAuthorized,
            format!("The alias prefix {prefix} is reserved for AWS managed keys"),
        ));
    }
    Ok(())
}

impl KmsService {
    fn alias_not_found(&self, name: &str) -> KmsError {
        KmsError::not_found(format!("Alias {} is not found.", self.alias_arn(name)))
    }

    pub(crate) fn create_alias(
        &self,
        call: &mut Call<'_>,
        req: AliasRequest,
    ) -> Result<Value, KmsError> {
        let name = required(req.alias_name, "aliasName")?;
        let target = required(req.target_key_id, "targetKeyId")?;
        validate_alias_name(&name)?;
        self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &target, false, "kms:CreateAlias")?;
            self.check_customer_managed(&key)?;
            self.check_not_pending_deletion(&key)?;
            if db::get_alias(tx, &name)?.is_some() {
                return Err(KmsError::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "An alias with the name {} already exists",
                        self.alias_arn(&name)
                    ),
                ));
            }
            let now = self.now();
            db::put_alias(
                tx,
                &AliasRow {
                    name: name.clone(),
                    key_id: key.key_id,
                    created: now,
                    updated: now,
                },
            )?;
            Ok(json!({}))
        })
    }

    pub(crate) fn update_alias(
        &self,
        call: &mut Call<'_>,
        req: AliasRequest,
    ) -> Result<Value, KmsError> {
        let name = required(req.alias_name, "aliasName")?;
        let target = required(req.target_key_id, "targetKeyId")?;
        validate_alias_name(&name)?;
        self.inner.store.with_tx(|tx| {
            let mut alias = db::get_alias(tx, &name)?.ok_or_else(|| self.alias_not_found(&name))?;
            let old = self.load_key(tx, &alias.key_id)?;
            self.authorize(
                tx,
                call,
                "kms:UpdateAlias",
                Some(&old),
                &BTreeMap::new(),
                &[],
            )?;
            let new = self.key_for(tx, call, &target, false, "kms:UpdateAlias")?;
            self.check_customer_managed(&new)?;
            self.check_not_pending_deletion(&new)?;
            alias.key_id = new.key_id;
            alias.updated = self.now();
            db::put_alias(tx, &alias)?;
            Ok(json!({}))
        })
    }

    pub(crate) fn delete_alias(
        &self,
        call: &mut Call<'_>,
        req: AliasRequest,
    ) -> Result<Value, KmsError> {
        let name = required(req.alias_name, "aliasName")?;
        validate_alias_name(&name)?;
        self.inner.store.with_tx(|tx| {
            let alias = db::get_alias(tx, &name)?.ok_or_else(|| self.alias_not_found(&name))?;
            let key = self.load_key(tx, &alias.key_id)?;
            call.note_key(&key);
            self.authorize(
                tx,
                call,
                "kms:DeleteAlias",
                Some(&key),
                &BTreeMap::new(),
                &[],
            )?;
            db::delete_alias(tx, &name)?;
            Ok(json!({}))
        })
    }

    pub(crate) fn list_aliases(
        &self,
        call: &mut Call<'_>,
        req: ListAliasesRequest,
    ) -> Result<Value, KmsError> {
        let (rows, filtered) = self.inner.store.with_tx(|tx| {
            self.authorize(tx, call, "kms:ListAliases", None, &BTreeMap::new(), &[])?;
            match &req.key_id {
                Some(k) => {
                    let key = self.resolve(tx, k, false)?;
                    call.note_key(&key);
                    Ok((db::list_aliases(tx, Some(&key.key_id))?, true))
                }
                None => {
                    // Alias names are one namespace across the Regions this KMS serves; each
                    // Region lists the aliases of its own keys.
                    let mut mine = Vec::new();
                    for a in db::list_aliases(tx, None)? {
                        if self.find_key(tx, &a.key_id)?.is_some() {
                            mine.push(a);
                        }
                    }
                    Ok((mine, false))
                }
            }
        })?;
        let mut entries: Vec<Value> = rows
            .iter()
            .map(|a| {
                json!({
                    "AliasName": a.name,
                    "AliasArn": self.alias_arn(&a.name),
                    "TargetKeyId": a.key_id,
                    "CreationDate": a.created,
                    "LastUpdatedDate": a.updated,
                })
            })
            .collect();
        // AWS lists predefined aliases without a target until their key is first used.
        if !filtered && !rows.iter().any(|a| a.name == AWS_S3_ALIAS) {
            entries.push(json!({
                "AliasName": AWS_S3_ALIAS,
                "AliasArn": self.alias_arn(AWS_S3_ALIAS),
            }));
            entries.sort_by(|a, b| a["AliasName"].as_str().cmp(&b["AliasName"].as_str()));
        }
        let (page, next) = util::paginate(entries, req.limit, 50, 100, req.marker.as_deref())?;
        Ok(util::with_page(json!({ "Aliases": page }), next))
    }
}
