//! The subresources the gateway knows but does not implement, per method: the router answers
//! them 501 NotImplemented naming the operation (after authorization).

use http::Method;

use super::query::Query;

/// Bucket subresources the gateway does not implement, per method. Configurations addressed
/// by `id` have a Get and a List form.
pub(super) fn unsupported_bucket_op(method: &Method, q: &Query) -> Option<&'static str> {
    let by_id = |with_id: &'static str, without: &'static str| {
        if q.has("id") { with_id } else { without }
    };
    let table: &[(&str, &'static str)] = match *method {
        Method::GET => &[
            ("website", "GetBucketWebsite"),
            ("logging", "GetBucketLogging"),
            ("notification", "GetBucketNotificationConfiguration"),
            ("replication", "GetBucketReplication"),
            ("accelerate", "GetBucketAccelerateConfiguration"),
            ("requestPayment", "GetBucketRequestPayment"),
            ("metadataTable", "GetBucketMetadataTableConfiguration"),
            ("session", "CreateSession"),
        ],
        Method::PUT => &[
            ("website", "PutBucketWebsite"),
            ("logging", "PutBucketLogging"),
            ("notification", "PutBucketNotificationConfiguration"),
            ("replication", "PutBucketReplication"),
            ("accelerate", "PutBucketAccelerateConfiguration"),
            ("requestPayment", "PutBucketRequestPayment"),
            (
                "intelligent-tiering",
                "PutBucketIntelligentTieringConfiguration",
            ),
            ("analytics", "PutBucketAnalyticsConfiguration"),
            ("metrics", "PutBucketMetricsConfiguration"),
            ("inventory", "PutBucketInventoryConfiguration"),
        ],
        Method::DELETE => &[
            ("website", "DeleteBucketWebsite"),
            ("replication", "DeleteBucketReplication"),
            ("metadataTable", "DeleteBucketMetadataTableConfiguration"),
            (
                "intelligent-tiering",
                "DeleteBucketIntelligentTieringConfiguration",
            ),
            ("analytics", "DeleteBucketAnalyticsConfiguration"),
            ("metrics", "DeleteBucketMetricsConfiguration"),
            ("inventory", "DeleteBucketInventoryConfiguration"),
        ],
        Method::POST => &[("metadataTable", "CreateBucketMetadataTableConfiguration")],
        _ => &[],
    };
    if let Some((_, op)) = table.iter().find(|(k, _)| q.has(k)) {
        return Some(op);
    }
    if *method == Method::GET {
        let listed: [(&str, &'static str, &'static str); 4] = [
            (
                "intelligent-tiering",
                "GetBucketIntelligentTieringConfiguration",
                "ListBucketIntelligentTieringConfigurations",
            ),
            (
                "analytics",
                "GetBucketAnalyticsConfiguration",
                "ListBucketAnalyticsConfigurations",
            ),
            (
                "metrics",
                "GetBucketMetricsConfiguration",
                "ListBucketMetricsConfigurations",
            ),
            (
                "inventory",
                "GetBucketInventoryConfiguration",
                "ListBucketInventoryConfigurations",
            ),
        ];
        if let Some((_, get, list)) = listed.iter().find(|(k, _, _)| q.has(k)) {
            return Some(by_id(get, list));
        }
    }
    None
}

/// Object subresources the gateway does not implement, per method.
pub(super) fn unsupported_object_op(method: &Method, q: &Query) -> Option<&'static str> {
    let table: &[(&str, &'static str)] = match *method {
        Method::GET => &[("torrent", "GetObjectTorrent")],
        Method::PUT => &[("encryption", "UpdateObjectEncryption")],
        Method::DELETE => &[],
        Method::POST => &[
            ("restore", "RestoreObject"),
            ("select", "SelectObjectContent"),
        ],
        _ => &[],
    };
    table.iter().find(|(k, _)| q.has(k)).map(|(_, op)| *op)
}
