//! Conditional writes against the real binary with the AWS SDK: `If-None-Match: *` and
//! `If-Match` on PutObject and CompleteMultipartUpload, `If-Match` on DeleteObject and the
//! `<ETag>` of DeleteObjects entries — 412 when the condition does not hold, and of racing
//! conditional writers exactly one wins (the others get 412 or 409, and change nothing).
mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, Delete, ObjectIdentifier};
use common::{Server, failure, random};

const MIB: usize = 1024 * 1024;

async fn body_of(s3: &Client, b: &str, key: &str) -> Vec<u8> {
    let o = s3.get_object().bucket(b).key(key).send().await.unwrap();
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn put_if_none_match_and_if_match() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "cond";
    s3.create_bucket().bucket(b).send().await.unwrap();

    let first = s3
        .put_object()
        .bucket(b)
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"first"))
        .send()
        .await
        .unwrap();
    let r = s3
        .put_object()
        .bucket(b)
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"second"))
        .send()
        .await;
    assert_eq!(
        failure("If-None-Match", r),
        (412, "PreconditionFailed".into())
    );
    assert_eq!(body_of(&s3, b, "k").await, b"first");

    let r = s3
        .put_object()
        .bucket(b)
        .key("k")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(ByteStream::from_static(b"third"))
        .send()
        .await;
    assert_eq!(
        failure("If-Match wrong", r),
        (412, "PreconditionFailed".into())
    );
    assert_eq!(body_of(&s3, b, "k").await, b"first");
    s3.put_object()
        .bucket(b)
        .key("k")
        .if_match(first.e_tag().unwrap())
        .body(ByteStream::from_static(b"fourth"))
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(&s3, b, "k").await, b"fourth");
    // The ETag checked was the first one's: it no longer matches.
    let r = s3
        .put_object()
        .bucket(b)
        .key("k")
        .if_match(first.e_tag().unwrap())
        .body(ByteStream::from_static(b"fifth"))
        .send()
        .await;
    assert_eq!(failure("stale If-Match", r).0, 412);

    let r = s3
        .put_object()
        .bucket(b)
        .key("absent")
        .if_match("\"abc\"")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(failure("If-Match absent", r), (404, "NoSuchKey".into()));
    let r = s3
        .put_object()
        .bucket(b)
        .key("absent")
        .if_none_match("\"abc\"")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(
        failure("If-None-Match etag", r),
        (501, "NotImplemented".into())
    );
    let r = s3.head_object().bucket(b).key("absent").send().await;
    assert_eq!(failure("HEAD", r).0, 404);

    // CopyObject: the conditions name the destination.
    let r = s3
        .copy_object()
        .bucket(b)
        .key("k")
        .copy_source(format!("{b}/k"))
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .if_none_match("*")
        .send()
        .await;
    assert_eq!(
        failure("copy If-None-Match", r),
        (412, "PreconditionFailed".into())
    );
    s3.copy_object()
        .bucket(b)
        .key("copy")
        .copy_source(format!("{b}/k"))
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(&s3, b, "copy").await, b"fourth");
}

/// Eight concurrent `If-None-Match: *` PUTs of one new key: exactly one succeeds, each loser
/// gets 412 (it checked after the winner committed) or 409 (it lost the commit race), and the
/// key holds the winner's bytes.
#[tokio::test]
async fn racing_create_only_puts_have_one_winner() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "race";
    s3.create_bucket().bucket(b).send().await.unwrap();
    for round in 0..5 {
        let key = format!("k{round}");
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s3 = s3.clone();
                let key = key.clone();
                // Bodies big enough that the uploads overlap, so losers meet both answers.
                let mut body = format!("writer {i} round {round}").into_bytes();
                body.extend(random(MIB));
                tokio::spawn(async move {
                    let r = s3
                        .put_object()
                        .bucket(b)
                        .key(&key)
                        .if_none_match("*")
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await;
                    (
                        body,
                        r.map(|_| ()).map_err(|e| failure("put", Err::<(), _>(e))),
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut answers = Vec::new();
        for t in tasks {
            let (body, r) = t.await.unwrap();
            answers.push(r.as_ref().map_or_else(|e| e.0, |_| 200));
            match r {
                Ok(()) => winners.push(body),
                Err((412, code)) => assert_eq!(code, "PreconditionFailed"),
                Err((409, code)) => assert_eq!(code, "ConditionalRequestConflict"),
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        eprintln!("round {round}: {answers:?}");
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        assert_eq!(body_of(&s3, b, &key).await, winners[0]);
    }
}

async fn multipart(
    s3: &Client,
    b: &str,
    key: &str,
    data: &[u8],
) -> (String, CompletedMultipartUpload) {
    let id = s3
        .create_multipart_upload()
        .bucket(b)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let upload = common::upload_parts(s3, b, key, &id, data, 5 * MIB).await;
    (id, upload)
}

#[tokio::test]
async fn complete_multipart_upload_conditions() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "condmpu";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let existing = s3
        .put_object()
        .bucket(b)
        .key("k")
        .body(ByteStream::from_static(b"already here"))
        .send()
        .await
        .unwrap();
    let data = random(6 * MIB);
    let (id, parts) = multipart(&s3, b, "k", &data).await;
    let r = s3
        .complete_multipart_upload()
        .bucket(b)
        .key("k")
        .upload_id(&id)
        .if_none_match("*")
        .multipart_upload(parts.clone())
        .send()
        .await;
    assert_eq!(
        failure("Complete If-None-Match", r),
        (412, "PreconditionFailed".into())
    );
    assert_eq!(body_of(&s3, b, "k").await, b"already here");
    // The upload is left as it was: completing it with the right If-Match succeeds.
    s3.complete_multipart_upload()
        .bucket(b)
        .key("k")
        .upload_id(&id)
        .if_match(existing.e_tag().unwrap())
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(&s3, b, "k").await, data);

    let (id, parts) = multipart(&s3, b, "fresh", &data).await;
    s3.complete_multipart_upload()
        .bucket(b)
        .key("fresh")
        .upload_id(&id)
        .if_none_match("*")
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(&s3, b, "fresh").await, data);
}

#[tokio::test]
async fn delete_if_match() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "conddel";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let put = s3
        .put_object()
        .bucket(b)
        .key("k")
        .body(ByteStream::from_static(b"keep me"))
        .send()
        .await
        .unwrap();
    let r = s3
        .delete_object()
        .bucket(b)
        .key("k")
        .if_match("\"ffffffffffffffffffffffffffffffff\"")
        .send()
        .await;
    assert_eq!(
        failure("DeleteObject If-Match", r),
        (412, "PreconditionFailed".into())
    );
    assert_eq!(body_of(&s3, b, "k").await, b"keep me");
    s3.delete_object()
        .bucket(b)
        .key("k")
        .if_match(put.e_tag().unwrap())
        .send()
        .await
        .unwrap();
    let r = s3.head_object().bucket(b).key("k").send().await;
    assert_eq!(failure("HEAD", r).0, 404);
    let r = s3
        .delete_object()
        .bucket(b)
        .key("k")
        .if_match(put.e_tag().unwrap())
        .send()
        .await;
    assert_eq!(failure("gone", r), (404, "NoSuchKey".into()));

    // DeleteObjects: an entry's ETag is a condition on that entry alone.
    let a = s3
        .put_object()
        .bucket(b)
        .key("a")
        .body(ByteStream::from_static(b"a"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(b)
        .key("b")
        .body(ByteStream::from_static(b"b"))
        .send()
        .await
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket(b)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("a")
                        .e_tag(a.e_tag().unwrap())
                        .build()
                        .unwrap(),
                )
                .objects(
                    ObjectIdentifier::builder()
                        .key("b")
                        .e_tag("\"0000\"")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["a"]);
    let errors: Vec<(&str, &str)> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap(), e.code().unwrap()))
        .collect();
    assert_eq!(errors, [("b", "PreconditionFailed")]);
    assert_eq!(body_of(&s3, b, "b").await, b"b");
}
