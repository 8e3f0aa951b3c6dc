//! An SSE-KMS load for fleet tests: clients that each PUT an object through one gateway and
//! GET it back through the next (every call needs the KMS: no bucket keys), in lock-step
//! rounds so something (killing a KMS node) can happen between two rounds.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

/// What a load saw.
pub struct LoadReport {
    /// PUT + GET pairs done.
    pub pairs: usize,
    /// One line per failed pair (a failed call or other bytes back).
    pub failures: Vec<String>,
    /// The slowest pair from round `between` on.
    pub slowest_after: Duration,
    /// The object keys written (`c<client>/r<round>`), each with its bytes.
    pub written: Vec<(String, Vec<u8>)>,
}

/// `clients` × `rounds` pairs into `bucket` under `key_arn`; client `c` PUTs through
/// `gateways[c % n]` and GETs through `gateways[(c + 1) % n]`. `between` runs once, after
/// every pair of round `at` - 1 finished and before round `at` starts.
pub async fn sse_kms_pairs(
    gateways: &[Client],
    bucket: &str,
    key_arn: &str,
    clients: usize,
    rounds: usize,
    at: usize,
    mut between: impl FnMut(),
) -> LoadReport {
    type Done = (usize, Duration, Result<(String, Vec<u8>), String>);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Done>();
    let (round_tx, round_rx) = tokio::sync::watch::channel(0usize);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let put_via = gateways[c % gateways.len()].clone();
        let get_via = gateways[(c + 1) % gateways.len()].clone();
        let (bucket, key_arn, tx, mut round_rx) = (
            bucket.to_owned(),
            key_arn.to_owned(),
            tx.clone(),
            round_rx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for round in 0..rounds {
                while *round_rx.borrow() < round {
                    round_rx.changed().await.unwrap();
                }
                let name = format!("c{c}/r{round}");
                let body = super::random(1000 + c * 7 + round);
                let started = Instant::now();
                let put = put_via
                    .put_object()
                    .bucket(&bucket)
                    .key(&name)
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .ssekms_key_id(&key_arn)
                    .body(ByteStream::from(body.clone()))
                    .send()
                    .await;
                let outcome = match put {
                    Err(e) => Err(format!("PUT {name}: {e:?}")),
                    Ok(_) => match get_via.get_object().bucket(&bucket).key(&name).send().await {
                        Err(e) => Err(format!("GET {name}: {e:?}")),
                        Ok(got) => {
                            let bytes = got.body.collect().await.unwrap().into_bytes();
                            if bytes[..] == body[..] {
                                Ok((name, body))
                            } else {
                                Err(format!("GET {name}: other bytes"))
                            }
                        }
                    },
                };
                tx.send((round, started.elapsed(), outcome)).unwrap();
            }
        }));
    }
    drop(tx);
    let mut report = LoadReport {
        pairs: 0,
        failures: Vec::new(),
        slowest_after: Duration::ZERO,
        written: Vec::new(),
    };
    let mut per_round = vec![0usize; rounds];
    while let Some((round, took, outcome)) = rx.recv().await {
        report.pairs += 1;
        match outcome {
            Ok(object) => report.written.push(object),
            Err(e) => report.failures.push(e),
        }
        if round >= at {
            report.slowest_after = report.slowest_after.max(took);
        }
        per_round[round] += 1;
        if per_round[round] == clients {
            if round + 1 == at {
                between();
            }
            round_tx.send(round + 1).unwrap();
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    report
}
