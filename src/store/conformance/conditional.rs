//! Conformance of conditional record writes (`Expect`): a write or delete whose expectation
//! does not hold fails with `ConditionFailed` and changes nothing, on every backend.

use super::super::{Expect, Store, StoreError};
use super::{drop_bucket, fresh_bucket, object_meta};

/// Conditional record writes (`Expect`): a write or delete whose expectation does not hold
/// fails with `ConditionFailed` and changes nothing.
pub(super) async fn conditional_meta(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "cond").await;
    let (m1, m2) = (object_meta("gen-1", 1), object_meta("gen-2", 2));
    let gen1 = Expect::Generation("gen-1".into());
    assert_eq!(
        store.put_meta_if(&b, "k", &m1, &gen1).await,
        Err(StoreError::ConditionFailed),
        "conformance: Generation on an absent record"
    );
    assert_eq!(
        store.put_meta_if(&b, "k", &m1, &Expect::Absent).await,
        Ok(None)
    );
    assert_eq!(
        store.put_meta_if(&b, "k", &m2, &Expect::Absent).await,
        Err(StoreError::ConditionFailed),
        "conformance: Absent on a present record"
    );
    assert_eq!(store.get_meta(&b, "k").await.unwrap(), Some(m1.clone()));
    // Same generation, new content (a tag change).
    let mut tagged = m1.clone();
    tagged.tags.insert("t".into(), "v".into());
    assert_eq!(
        store.put_meta_if(&b, "k", &tagged, &gen1).await,
        Ok(Some(m1))
    );
    assert_eq!(
        store.put_meta_if(&b, "k", &m2, &gen1).await,
        Ok(Some(tagged.clone()))
    );
    assert_eq!(
        store.put_meta_if(&b, "k", &tagged, &gen1).await,
        Err(StoreError::ConditionFailed),
        "conformance: a stale generation"
    );
    assert_eq!(
        store.delete_meta_if(&b, "k", &gen1).await,
        Err(StoreError::ConditionFailed)
    );
    assert_eq!(store.get_meta(&b, "k").await.unwrap(), Some(m2.clone()));
    assert_eq!(
        store
            .delete_meta_if(&b, "k", &Expect::Generation("gen-2".into()))
            .await,
        Ok(Some(m2))
    );
    assert_eq!(store.get_meta(&b, "k").await.unwrap(), None);
    drop_bucket(store, &b).await;
}
