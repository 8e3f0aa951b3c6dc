//! S3's naming rules, shared by the router (copy sources), the request check (path buckets)
//! and CreateBucket. A leaf module so that none of them depends on another for it.

/// S3's naming rules for general-purpose buckets.
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.iter().all(|&c| edge_ok(c) || c == b'.' || c == b'-')
        && edge_ok(b[0])
        && edge_ok(b[b.len() - 1])
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "a_b",
            "xn--abc",
            &"a".repeat(64),
            "a.-b",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
