//! What a bucket's lifecycle rules say about one object: whether a rule's filter matches it and
//! when an action falls due (pure functions of the records, shared by the worker and the
//! `x-amz-expiration` header).

use std::collections::BTreeMap;

use crate::meta::{LifecycleExpiration, LifecycleFilter, LifecycleRule, ObjectMeta};

const DAY_MS: i64 = 86_400_000;

/// When an action `days` after `start_ms` falls due: the start plus the days, rounded up to
/// the next midnight UTC, as S3 computes it (S3 User Guide, "Lifecycle rules: based on an
/// object's age").
pub(crate) fn due_ms(start_ms: i64, days: u32) -> i64 {
    (start_ms.div_euclid(DAY_MS) + i64::from(days) + 1) * DAY_MS
}

/// The key prefix a rule is limited to (empty: the whole bucket).
pub(crate) fn prefix(filter: &LifecycleFilter) -> &str {
    match filter {
        LifecycleFilter::LegacyPrefix(p) | LifecycleFilter::Prefix(p) => p,
        LifecycleFilter::And {
            prefix: Some(p), ..
        } => p,
        _ => "",
    }
}

/// Whether `filter` selects an object with this key, size and tags. Every condition must hold;
/// size bounds are strict, as on S3.
pub(crate) fn matches(
    filter: &LifecycleFilter,
    key: &str,
    size: u64,
    tags: &BTreeMap<String, String>,
) -> bool {
    if !key.starts_with(prefix(filter)) {
        return false;
    }
    let has_tag = |k: &String, v: &String| tags.get(k) == Some(v);
    match filter {
        LifecycleFilter::LegacyPrefix(_) | LifecycleFilter::Prefix(_) => true,
        LifecycleFilter::Tag(k, v) => has_tag(k, v),
        LifecycleFilter::SizeGreaterThan(n) => size > *n,
        LifecycleFilter::SizeLessThan(n) => size < *n,
        LifecycleFilter::And {
            tags: want,
            size_greater_than,
            size_less_than,
            ..
        } => {
            want.iter().all(|(k, v)| has_tag(k, v))
                && size_greater_than.is_none_or(|n| size > n)
                && size_less_than.is_none_or(|n| size < n)
        }
    }
}

/// Whether the enabled `rule` applies to the object version `meta` of `key`.
pub(crate) fn applies(rule: &LifecycleRule, key: &str, meta: &ObjectMeta) -> bool {
    rule.enabled && matches(&rule.filter, key, meta.size, &meta.tags)
}

/// When `rule` expires the current version `meta` of `key`, if it has an `Expiration` with
/// `Days` or `Date` that applies.
pub(crate) fn current_expiry_ms(rule: &LifecycleRule, key: &str, meta: &ObjectMeta) -> Option<i64> {
    if !applies(rule, key, meta) {
        return None;
    }
    match rule.expiration.as_ref()? {
        LifecycleExpiration::Days(d) => Some(due_ms(meta.last_modified_ms, *d)),
        LifecycleExpiration::Date(secs) => Some(secs.saturating_mul(1000)),
        LifecycleExpiration::ExpiredObjectDeleteMarker(_) => None,
    }
}

/// The earliest expiry any rule sets for the current version `meta` of `key`, with that rule's
/// ID: what `x-amz-expiration` reports.
pub(crate) fn earliest_expiry<'r>(
    rules: &'r [LifecycleRule],
    key: &str,
    meta: &ObjectMeta,
) -> Option<(i64, &'r str)> {
    rules
        .iter()
        .filter_map(|r| current_expiry_ms(r, key, meta).map(|t| (t, r.id.as_str())))
        .min_by_key(|(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_up_to_the_next_midnight_utc() {
        // S3 User Guide's example: created 2014-01-15 10:30 UTC, 3 days → 2014-01-19 00:00 UTC.
        let created = 1_389_781_800_000; // 2014-01-15T10:30:00Z
        assert_eq!(due_ms(created, 3), 1_390_089_600_000); // 2014-01-19T00:00:00Z
        assert_eq!(due_ms(1_389_744_000_000, 1), 1_389_916_800_000); // midnight + 1 → +2 days
    }

    #[test]
    fn filters_need_every_condition() {
        let tags: BTreeMap<String, String> = [("k".to_owned(), "v".to_owned())].into();
        let none = BTreeMap::new();
        let and = LifecycleFilter::And {
            prefix: Some("p/".into()),
            tags: vec![("k".into(), "v".into())],
            size_greater_than: Some(10),
            size_less_than: Some(20),
        };
        assert!(matches(&and, "p/a", 15, &tags));
        assert!(!matches(&and, "q/a", 15, &tags));
        assert!(!matches(&and, "p/a", 15, &none));
        assert!(!matches(&and, "p/a", 10, &tags), "bounds are strict");
        assert!(!matches(&and, "p/a", 20, &tags));
        assert!(matches(
            &LifecycleFilter::Prefix(String::new()),
            "x",
            0,
            &none
        ));
        assert!(matches(&LifecycleFilter::SizeLessThan(5), "x", 4, &none));
        assert!(!matches(
            &LifecycleFilter::Tag("k".into(), "w".into()),
            "x",
            0,
            &tags
        ));
    }
}
