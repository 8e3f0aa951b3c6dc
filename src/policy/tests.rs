//! Language tests against a generic request (no KMS): wildcards, principals, condition operators.
//! The KMS authorization table in `kms::policy` exercises the same code through `authorize`.

use super::*;

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const BUCKET: &str = "arn:aws:s3:::bucket/photos/cat.jpg";

fn keys(pairs: &[(&str, &[&str])]) -> ConditionKeys {
    let mut keys = ConditionKeys::default();
    for (name, values) in pairs {
        keys.add(name, values.iter().map(|v| v.to_string()));
    }
    keys
}

fn eval(
    doc: &str,
    kind: PolicyKind,
    arn: &str,
    action: &str,
    conditions: &ConditionKeys,
) -> Verdict {
    let policy = Policy::parse(doc, kind).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let req = Request {
        principal: Principal {
            arn,
            account: arn_account(arn).unwrap(),
        },
        action,
        resource: BUCKET,
        conditions,
    };
    policy.evaluate(&req)
}

/// An identity policy with one statement.
fn identity(effect: &str, action: &str, resource: &str, condition: &str) -> String {
    let cond = if condition.is_empty() {
        String::new()
    } else {
        format!(r#","Condition":{condition}"#)
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":{action},"Resource":"{resource}"{cond}}}]}}"#
    )
}

const ALLOW: Verdict = Verdict {
    deny: false,
    direct: true,
    account: false,
};
const NOTHING: Verdict = Verdict {
    deny: false,
    direct: false,
    account: false,
};
const DENY: Verdict = Verdict {
    deny: true,
    direct: false,
    account: false,
};

#[test]
fn condition_operators() {
    let enc =
        |op: &str, v: &str| format!(r#"{{"{op}":{{"s3:x-amz-server-side-encryption":{v}}}}}"#);
    let tls = |op: &str, v: &str| format!(r#"{{"{op}":{{"aws:SecureTransport":{v}}}}}"#);
    let tags = |op: &str, v: &str| format!(r#"{{"{op}":{{"s3:RequestObjectTagKeys":{v}}}}}"#);
    let kms = keys(&[("s3:x-amz-server-side-encryption", &["aws:kms"])]);
    let none = keys(&[]);
    let https = keys(&[("aws:SecureTransport", &["true"])]);
    let two_tags = keys(&[("s3:RequestObjectTagKeys", &["a", "b"])]);
    let days = keys(&[("s3:object-lock-remaining-retention-days", &["30"])]);
    let cases: &[(&str, String, &ConditionKeys, Verdict)] = &[
        (
            "StringEquals match",
            enc("StringEquals", r#""aws:kms""#),
            &kms,
            ALLOW,
        ),
        (
            "StringEquals mismatch",
            enc("StringEquals", r#""AES256""#),
            &kms,
            NOTHING,
        ),
        (
            "StringEquals absent",
            enc("StringEquals", r#""aws:kms""#),
            &none,
            NOTHING,
        ),
        (
            "key name case-insensitive",
            r#"{"StringEquals":{"S3:X-AMZ-Server-Side-Encryption":"aws:kms"}}"#.into(),
            &kms,
            ALLOW,
        ),
        (
            "StringNotEquals absent holds",
            enc("StringNotEquals", r#""AES256""#),
            &none,
            ALLOW,
        ),
        (
            "StringEqualsIgnoreCase",
            enc("StringEqualsIgnoreCase", r#""AWS:KMS""#),
            &kms,
            ALLOW,
        ),
        (
            "StringEqualsIfExists absent",
            enc("StringEqualsIfExists", r#""AES256""#),
            &none,
            ALLOW,
        ),
        (
            "StringEqualsIfExists present",
            enc("StringEqualsIfExists", r#""AES256""#),
            &kms,
            NOTHING,
        ),
        ("StringLike", enc("StringLike", r#""aws:*""#), &kms, ALLOW),
        (
            "StringNotLike",
            enc("StringNotLike", r#""aws:*""#),
            &kms,
            NOTHING,
        ),
        ("Null true absent", enc("Null", "true"), &none, ALLOW),
        ("Null false present", enc("Null", r#""false""#), &kms, ALLOW),
        ("Null true present", enc("Null", "true"), &kms, NOTHING),
        ("Bool", tls("Bool", r#""true""#), &https, ALLOW),
        ("Bool false", tls("Bool", "false"), &https, NOTHING),
        (
            "ForAllValues subset",
            tags("ForAllValues:StringEquals", r#"["a","b","c"]"#),
            &two_tags,
            ALLOW,
        ),
        (
            "ForAllValues extra",
            tags("ForAllValues:StringEquals", r#"["a"]"#),
            &two_tags,
            NOTHING,
        ),
        (
            "ForAllValues absent",
            tags("ForAllValues:StringEquals", r#"["a"]"#),
            &none,
            ALLOW,
        ),
        (
            "ForAnyValue one",
            tags("ForAnyValue:StringEquals", r#""b""#),
            &two_tags,
            ALLOW,
        ),
        (
            "ForAnyValue absent",
            tags("ForAnyValue:StringEquals", r#""b""#),
            &none,
            NOTHING,
        ),
        (
            "NumericLessThan",
            r#"{"NumericLessThan":{"s3:object-lock-remaining-retention-days":"31"}}"#.into(),
            &days,
            ALLOW,
        ),
        (
            "NumericGreaterThan",
            r#"{"NumericGreaterThan":{"s3:object-lock-remaining-retention-days":30}}"#.into(),
            &days,
            NOTHING,
        ),
        (
            "ArnLike principal",
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}}"#.into(),
            &keys(&[("aws:PrincipalArn", &[ALICE])]),
            ALLOW,
        ),
    ];
    for (name, condition, conditions, want) in cases {
        let doc = identity(
            "Allow",
            r#""s3:PutObject""#,
            "arn:aws:s3:::bucket/*",
            condition,
        );
        let got = eval(
            &doc,
            PolicyKind::Identity,
            ALICE,
            "s3:PutObject",
            conditions,
        );
        assert_eq!(got, *want, "{name}");
    }
}

#[test]
fn unsupported_operator_never_allows_but_still_denies() {
    let cond = r#"{"StringFuzzy":{"aws:SecureTransport":"x"}}"#;
    let allow = identity("Allow", r#""s3:*""#, "*", cond);
    let policy = Policy::parse(&allow, PolicyKind::Identity).unwrap();
    assert_eq!(policy.unsupported_operator(), Some("StringFuzzy"));
    let none = keys(&[]);
    assert_eq!(
        eval(&allow, PolicyKind::Identity, ALICE, "s3:GetObject", &none),
        NOTHING
    );
    let deny = identity("Deny", r#""s3:*""#, "*", cond);
    assert_eq!(
        eval(&deny, PolicyKind::Identity, ALICE, "s3:GetObject", &none),
        DENY
    );
}

#[test]
fn actions_and_resources() {
    let none = keys(&[]);
    let cases: &[(&str, &str, &str, Verdict)] = &[
        (
            r#""Action":"s3:Get*","Resource":"arn:aws:s3:::bucket/*""#,
            "s3:GetObject",
            "direct wildcard",
            ALLOW,
        ),
        (
            r#""Action":"S3:getobject","Resource":"*""#,
            "s3:GetObject",
            "action case-insensitive",
            ALLOW,
        ),
        (
            r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*""#,
            "s3:GetObject",
            "resource case-sensitive",
            NOTHING,
        ),
        (
            r#""NotAction":"s3:Delete*","Resource":"*""#,
            "s3:GetObject",
            "NotAction spares others",
            ALLOW,
        ),
        (
            r#""NotAction":"s3:Delete*","Resource":"*""#,
            "s3:DeleteObject",
            "NotAction excludes",
            NOTHING,
        ),
        (
            r#""Action":"*","NotResource":"arn:aws:s3:::other/*""#,
            "s3:PutObject",
            "NotResource",
            ALLOW,
        ),
        (
            r#""Action":"s3:Get?bject","Resource":"*""#,
            "s3:GetObject",
            "? wildcard",
            ALLOW,
        ),
    ];
    for (body, action, name, want) in cases {
        let doc = format!(r#"{{"Statement":{{"Effect":"Allow",{body}}}}}"#);
        assert_eq!(
            eval(&doc, PolicyKind::Identity, ALICE, action, &none),
            *want,
            "{name}"
        );
    }
}

#[test]
fn principals() {
    let none = keys(&[]);
    let by = |principal: &str| {
        format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"s3:*","Resource":"*"}}]}}"#
        )
    };
    let account = Verdict {
        account: true,
        ..NOTHING
    };
    let cases: &[(String, &str, Verdict)] = &[
        (by(r#""*""#), ALICE, ALLOW),
        (by(&format!(r#"{{"AWS":"{ALICE}"}}"#)), ALICE, ALLOW),
        (by(r#"{"AWS":"111122223333"}"#), ALICE, account),
        (by(&format!(r#"{{"AWS":"{ROOT}"}}"#)), ALICE, account),
        (by(&format!(r#"{{"AWS":"{ROOT}"}}"#)), ROOT, ALLOW),
        (by(r#"{"AWS":"444455556666"}"#), ALICE, NOTHING),
        (by(r#"{"Service":"s3.amazonaws.com"}"#), ALICE, NOTHING),
    ];
    for (doc, arn, want) in cases {
        assert_eq!(
            eval(doc, PolicyKind::Resource, arn, "s3:GetObject", &none),
            *want,
            "{doc} / {arn}"
        );
    }
    // NotPrincipal excludes only what it names exactly.
    let not = |arn: &str| {
        format!(
            r#"{{"Statement":[{{"Effect":"Deny","NotPrincipal":{{"AWS":"{arn}"}},"Action":"s3:*","Resource":"*"}}]}}"#
        )
    };
    assert_eq!(
        eval(
            &not(ALICE),
            PolicyKind::Resource,
            ALICE,
            "s3:GetObject",
            &none
        ),
        NOTHING
    );
    assert_eq!(
        eval(
            &not(ROOT),
            PolicyKind::Resource,
            ALICE,
            "s3:GetObject",
            &none
        ),
        DENY
    );
}

#[test]
fn identity_policy_must_not_name_principal() {
    let doc =
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#;
    assert_eq!(
        Policy::parse(doc, PolicyKind::Identity).unwrap_err(),
        PolicyError::PrincipalInIdentityPolicy
    );
    let doc = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    assert_eq!(
        Policy::parse(doc, PolicyKind::Resource).unwrap_err(),
        PolicyError::NoPrincipal
    );
}

#[test]
fn condition_keys_are_case_insensitive_and_absent_when_empty() {
    let mut k = ConditionKeys::default();
    k.add("aws:SourceIp", Vec::new());
    assert_eq!(k.get("aws:sourceip"), None);
    k.add("aws:SourceIp", ["192.0.2.1".to_owned()]);
    k.add("AWS:SOURCEIP", ["192.0.2.2".to_owned()]);
    assert_eq!(
        k.get("aws:sourceIP"),
        Some(&["192.0.2.1".to_owned(), "192.0.2.2".to_owned()][..])
    );
}

#[test]
fn glob_semantics() {
    let cases = [
        ("*", "", true),
        ("kms:*", "kms:Decrypt", true),
        ("kms:Gen*Key", "kms:GenerateDataKey", true),
        ("kms:Gen*Key", "kms:GenerateDataKeyPair", false),
        ("a*b*c", "aXbYbZc", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("abc", "abcd", false),
        ("**", "x", true),
    ];
    for (p, t, want) in cases {
        assert_eq!(glob(p, t), want, "{p} vs {t}");
    }
}

#[test]
fn ip_address_operators() {
    let ip = |op: &str, v: &str| {
        identity(
            "Allow",
            r#""s3:*""#,
            "*",
            &format!(r#"{{"{op}":{{"aws:SourceIp":{v}}}}}"#),
        )
    };
    let at = |addr: &str| keys(&[("aws:SourceIp", &[addr])]);
    let none = keys(&[]);
    let cases: &[(&str, String, ConditionKeys, Verdict)] = &[
        (
            "v4 in /24",
            ip("IpAddress", r#""203.0.113.0/24""#),
            at("203.0.113.9"),
            ALLOW,
        ),
        (
            "v4 outside /24",
            ip("IpAddress", r#""203.0.113.0/24""#),
            at("203.0.114.9"),
            NOTHING,
        ),
        (
            "bare v4 is /32",
            ip("IpAddress", r#""127.0.0.1""#),
            at("127.0.0.1"),
            ALLOW,
        ),
        (
            "bare v4 other",
            ip("IpAddress", r#""127.0.0.1""#),
            at("127.0.0.2"),
            NOTHING,
        ),
        (
            "list, second hits",
            ip("IpAddress", r#"["10.0.0.0/8","192.168.0.0/16"]"#),
            at("192.168.1.1"),
            ALLOW,
        ),
        (
            "v6 in /32",
            ip("IpAddress", r#""2001:db8::/32""#),
            at("2001:db8:1::5"),
            ALLOW,
        ),
        (
            "v6 outside",
            ip("IpAddress", r#""2001:db8::/32""#),
            at("2001:db9::5"),
            NOTHING,
        ),
        (
            "v4-mapped caller is v4",
            ip("IpAddress", r#""127.0.0.0/8""#),
            at("::ffff:127.0.0.1"),
            ALLOW,
        ),
        (
            "v4 range never holds v6",
            ip("IpAddress", r#""0.0.0.0/0""#),
            at("::1"),
            NOTHING,
        ),
        (
            "NotIpAddress outside",
            ip("NotIpAddress", r#""10.0.0.0/8""#),
            at("127.0.0.1"),
            ALLOW,
        ),
        (
            "NotIpAddress inside",
            ip("NotIpAddress", r#""10.0.0.0/8""#),
            at("10.1.2.3"),
            NOTHING,
        ),
        (
            "absent",
            ip("IpAddress", r#""0.0.0.0/0""#),
            none.clone(),
            NOTHING,
        ),
        (
            "IfExists absent",
            ip("IpAddressIfExists", r#""10.0.0.0/8""#),
            none,
            ALLOW,
        ),
    ];
    for (name, doc, k, want) in cases {
        assert_eq!(
            eval(doc, PolicyKind::Identity, ALICE, "s3:GetObject", k),
            *want,
            "{name}"
        );
    }
    for bad in [r#""10.0.0.0/33""#, r#""not-an-ip""#, r#""""#] {
        let doc = ip("IpAddress", bad);
        assert!(
            Policy::parse(&doc, PolicyKind::Identity).is_err(),
            "{bad} accepted"
        );
    }
}

#[test]
fn date_operators() {
    let date = |op: &str, v: &str| {
        identity(
            "Allow",
            r#""s3:*""#,
            "*",
            &format!(r#"{{"{op}":{{"aws:CurrentTime":{v}}}}}"#),
        )
    };
    let now = keys(&[("aws:CurrentTime", &["2026-12-06T05:00:00Z"])]);
    let epoch = keys(&[("aws:EpochTime", &["1796533200"])]);
    let cases: &[(&str, String, &ConditionKeys, Verdict)] = &[
        (
            "LessThan later",
            date("DateLessThan", r#""2027-01-01T00:00:00Z""#),
            &now,
            ALLOW,
        ),
        (
            "LessThan earlier",
            date("DateLessThan", r#""2026-01-01T00:00:00Z""#),
            &now,
            NOTHING,
        ),
        (
            "GreaterThan date-only",
            date("DateGreaterThan", r#""2026-12-06""#),
            &now,
            ALLOW,
        ),
        (
            "GreaterThanEquals same",
            date("DateGreaterThanEquals", r#""2026-12-06T05:00:00Z""#),
            &now,
            ALLOW,
        ),
        (
            "GreaterThan same",
            date("DateGreaterThan", r#""2026-12-06T05:00:00Z""#),
            &now,
            NOTHING,
        ),
        (
            "Equals with offset",
            date("DateEquals", r#""2026-12-06T06:00:00+01:00""#),
            &now,
            ALLOW,
        ),
        (
            "Equals fractional",
            date("DateEquals", r#""2026-12-06T05:00:00.000Z""#),
            &now,
            ALLOW,
        ),
        (
            "NotEquals",
            date("DateNotEquals", r#""2026-12-06T05:00:01Z""#),
            &now,
            ALLOW,
        ),
        (
            "LessThanEquals epoch value",
            date("DateLessThanEquals", "1796533200"),
            &now,
            ALLOW,
        ),
        (
            "LessThan epoch value",
            date("DateLessThan", "1796533200"),
            &now,
            NOTHING,
        ),
    ];
    for (name, doc, k, want) in cases {
        assert_eq!(
            eval(doc, PolicyKind::Identity, ALICE, "s3:GetObject", k),
            *want,
            "{name}"
        );
    }
    let on_epoch = identity(
        "Allow",
        r#""s3:*""#,
        "*",
        r#"{"DateGreaterThan":{"aws:EpochTime":"2026-12-06T04:59:59Z"}}"#,
    );
    assert_eq!(
        eval(
            &on_epoch,
            PolicyKind::Identity,
            ALICE,
            "s3:GetObject",
            &epoch
        ),
        ALLOW
    );
    let bad = date("DateLessThan", r#""next tuesday""#);
    assert!(Policy::parse(&bad, PolicyKind::Identity).is_err());
}
