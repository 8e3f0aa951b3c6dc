//! Object Lock rules (S3 User Guide: "Locking objects with Object Lock"): the lock a new version
//! gets from its request headers or its bucket's default retention, which retention change a
//! caller may make, and whether a version may be removed now.
//!
//! Decisions:
//! - **The version's record decides.** Mode, retain-until date and legal hold live in the
//!   version's meta record under its MAC (docs/FORMAT.md §6.1), so before a lock is trusted to
//!   allow anything (a removal, a shortening) the record is authenticated with its sealed record
//!   key — no KMS call, no customer key. A record that fails is refused, never removed.
//! - **Unauthenticated records in a lock bucket stay.** A version 1 record (written before
//!   record MACs) cannot prove it carries no lock: an edit could have turned a version 2 record
//!   into one. In a bucket with Object Lock such a version is kept from removal by id (a delete
//!   marker can still hide it). Plaintext comparison buckets have no keys, so their records are
//!   taken as they are.
//! - **Lifecycle never bypasses.** [`version_deletable`] is the one question the lifecycle
//!   worker asks; it answers as a DELETE without `x-amz-bypass-governance-retention` would.

use http::HeaderMap;
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};

use crate::meta::{
    BucketRecord, DefaultRetention, LockMode, ObjectLock, Retention, RetentionPeriod,
};
pub(crate) use crate::retention::{Protection, protection};
use crate::s3::error::S3Error;

const DAY_MS: i64 = 86_400_000;
/// The longest default retention accepted (AWS allows 100 years).
pub(crate) const MAX_YEARS: u32 = 100;
pub(crate) const MAX_DAYS: u32 = 36_500;

/// AWS's answer to a removal or shortening the lock forbids.
pub(crate) fn protected() -> S3Error {
    S3Error::AccessDenied("Access Denied because object protected by object lock.".into())
}

/// 400 InvalidRequest for Object Lock use on a bucket without it.
pub(crate) fn missing_configuration() -> S3Error {
    S3Error::InvalidRequest("Bucket is missing Object Lock Configuration".into())
}

/// The bucket's Object Lock configuration, or InvalidRequest when it has none.
pub(crate) fn require_enabled(rec: &BucketRecord) -> Result<(), S3Error> {
    rec.object_lock
        .map(|_| ())
        .ok_or_else(missing_configuration)
}

/// Parses a retain-until date (ISO 8601, as the SDKs send it) into milliseconds.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A retain-until date that is in the future, else InvalidArgument as AWS words it.
pub(crate) fn future_date(value: &str, now_ms: i64) -> Result<i64, S3Error> {
    let ms = parse_date(value).ok_or_else(|| {
        S3Error::invalid_argument("The retain until date must be provided in ISO 8601 format")
    })?;
    if ms <= now_ms {
        return Err(S3Error::invalid_argument(
            "The retain until date must be in the future!",
        ));
    }
    Ok(ms)
}

/// A retention mode name, else InvalidArgument.
pub(crate) fn parse_mode(value: &str) -> Result<LockMode, S3Error> {
    LockMode::from_name(value.trim())
        .ok_or_else(|| S3Error::invalid_argument("Unknown wormMode directive."))
}

/// A legal hold status (`ON`/`OFF`), else InvalidArgument.
pub(crate) fn parse_legal_hold(value: &str) -> Result<bool, S3Error> {
    match value.trim() {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(S3Error::invalid_argument(
            "Legal Hold must be either of 'ON' or 'OFF'",
        )),
    }
}

/// When a default retention starting at `now_ms` ends: days of 24 hours; years as calendar
/// years (29 February moves to 28 February in a year without it).
pub(crate) fn default_until(d: &DefaultRetention, now_ms: i64) -> i64 {
    match d.period {
        RetentionPeriod::Days(n) => now_ms + i64::from(n) * DAY_MS,
        RetentionPeriod::Years(n) => {
            let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let year = now.year() + n as i32;
            let later = now
                .replace_year(year)
                .or_else(|_| now.replace_day(28).and_then(|t| t.replace_year(year)))
                .unwrap_or(now);
            (later.unix_timestamp_nanos() / 1_000_000) as i64
        }
    }
}

/// Whether a write request names any Object Lock header.
pub(crate) fn has_lock_headers(headers: &HeaderMap) -> bool {
    [
        "x-amz-object-lock-mode",
        "x-amz-object-lock-retain-until-date",
        "x-amz-object-lock-legal-hold",
    ]
    .iter()
    .any(|h| headers.contains_key(*h))
}

/// The lock of a new version of `rec` written by a request with `headers` (PutObject,
/// CopyObject, CreateMultipartUpload, a POST form's fields): the retention the headers name,
/// else the bucket's default retention; the legal hold the headers name. Lock headers on a
/// bucket without Object Lock are InvalidRequest; a mode without a date (or the reverse), an
/// unknown mode, a date not in the future or a legal hold other than ON/OFF InvalidArgument.
pub(crate) fn lock_for_write(
    headers: &HeaderMap,
    rec: &BucketRecord,
    now_ms: i64,
) -> Result<ObjectLock, S3Error> {
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let mode = text("x-amz-object-lock-mode");
    let until = text("x-amz-object-lock-retain-until-date");
    let hold = text("x-amz-object-lock-legal-hold");
    let Some(config) = rec.object_lock else {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(missing_configuration());
        }
        return Ok(ObjectLock::default());
    };
    let retention = match (mode, until) {
        (Some(m), Some(u)) => Some(Retention {
            mode: parse_mode(&m)?,
            retain_until_ms: future_date(&u, now_ms)?,
        }),
        (None, None) => config.default_retention.map(|d| Retention {
            mode: d.mode,
            retain_until_ms: default_until(&d, now_ms),
        }),
        _ => {
            return Err(S3Error::invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    Ok(ObjectLock {
        retention,
        legal_hold: hold.map(|h| parse_legal_hold(&h)).transpose()?,
    })
}

/// Whether a retention change from `old` to `new` (`None`: removed) only strengthens it: same
/// or stronger mode, same or later date. Anything else needs the lock to allow it.
pub(crate) fn only_strengthens(old: &Retention, new: Option<&Retention>) -> bool {
    new.is_some_and(|n| {
        (n.mode == LockMode::Compliance || old.mode == LockMode::Governance)
            && n.retain_until_ms >= old.retain_until_ms
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::protection_of;
    use crate::store::conformance::bucket_record;

    const NOW: i64 = 1_795_873_899_000;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn locked_bucket(default: Option<DefaultRetention>) -> BucketRecord {
        let mut rec = bucket_record("b");
        rec.object_lock = Some(crate::meta::ObjectLockConfig {
            default_retention: default,
        });
        rec
    }

    fn code(r: Result<ObjectLock, S3Error>) -> String {
        r.unwrap_err().code().to_owned()
    }

    #[test]
    fn write_headers() {
        let plain = bucket_record("b");
        assert_eq!(
            lock_for_write(&HeaderMap::new(), &plain, NOW).unwrap(),
            ObjectLock::default()
        );
        let h = headers(&[("x-amz-object-lock-legal-hold", "ON")]);
        assert_eq!(code(lock_for_write(&h, &plain, NOW)), "InvalidRequest");

        let rec = locked_bucket(None);
        let h = headers(&[
            ("x-amz-object-lock-mode", "COMPLIANCE"),
            (
                "x-amz-object-lock-retain-until-date",
                "2030-01-02T03:04:05Z",
            ),
            ("x-amz-object-lock-legal-hold", "OFF"),
        ]);
        let lock = lock_for_write(&h, &rec, NOW).unwrap();
        assert_eq!(
            lock.retention,
            Some(Retention {
                mode: LockMode::Compliance,
                retain_until_ms: 1_893_553_445_000
            })
        );
        assert_eq!(lock.legal_hold, Some(false));
        for bad in [
            vec![("x-amz-object-lock-mode", "COMPLIANCE")],
            vec![(
                "x-amz-object-lock-retain-until-date",
                "2030-01-02T03:04:05Z",
            )],
            vec![
                ("x-amz-object-lock-mode", "STRICT"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2030-01-02T03:04:05Z",
                ),
            ],
            vec![
                ("x-amz-object-lock-mode", "GOVERNANCE"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2020-01-02T03:04:05Z",
                ),
            ],
            vec![
                ("x-amz-object-lock-mode", "GOVERNANCE"),
                ("x-amz-object-lock-retain-until-date", "tomorrow"),
            ],
            vec![("x-amz-object-lock-legal-hold", "on")],
        ] {
            assert_eq!(
                code(lock_for_write(&headers(&bad), &rec, NOW)),
                "InvalidArgument",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn default_retention_applies_without_headers() {
        let rec = locked_bucket(Some(DefaultRetention {
            mode: LockMode::Governance,
            period: RetentionPeriod::Days(2),
        }));
        let lock = lock_for_write(&HeaderMap::new(), &rec, NOW).unwrap();
        assert_eq!(
            lock.retention,
            Some(Retention {
                mode: LockMode::Governance,
                retain_until_ms: NOW + 2 * DAY_MS
            })
        );
        assert_eq!(lock.legal_hold, None);
        // 2024-02-29 plus one year is 2025-02-28.
        let leap = parse_date("2024-02-29T12:00:00Z").unwrap();
        let d = DefaultRetention {
            mode: LockMode::Compliance,
            period: RetentionPeriod::Years(1),
        };
        assert_eq!(
            default_until(&d, leap),
            parse_date("2025-02-28T12:00:00Z").unwrap()
        );
    }

    #[test]
    fn protection_and_changes() {
        let r = |mode, until| Retention {
            mode,
            retain_until_ms: until,
        };
        let lock = |retention, legal_hold| ObjectLock {
            retention,
            legal_hold,
        };
        use LockMode::*;
        assert_eq!(protection_of(&lock(None, None), NOW), Protection::None);
        assert_eq!(
            protection_of(&lock(None, Some(false)), NOW),
            Protection::None
        );
        assert_eq!(
            protection_of(&lock(None, Some(true)), NOW),
            Protection::Locked
        );
        assert_eq!(
            protection_of(&lock(Some(r(Governance, NOW + 1)), None), NOW),
            Protection::Governance
        );
        assert_eq!(
            protection_of(&lock(Some(r(Compliance, NOW + 1)), None), NOW),
            Protection::Locked
        );
        assert_eq!(
            protection_of(&lock(Some(r(Compliance, NOW)), None), NOW),
            Protection::None,
            "expired"
        );
        let old = r(Governance, NOW + 10);
        assert!(only_strengthens(&old, Some(&r(Governance, NOW + 10))));
        assert!(only_strengthens(&old, Some(&r(Compliance, NOW + 11))));
        assert!(!only_strengthens(&old, Some(&r(Governance, NOW + 9))));
        assert!(!only_strengthens(&old, None));
        let old = r(Compliance, NOW + 10);
        assert!(only_strengthens(&old, Some(&r(Compliance, NOW + 20))));
        assert!(!only_strengthens(&old, Some(&r(Governance, NOW + 20))));
    }
}
