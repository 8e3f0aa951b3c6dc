//! The `Condition` element: operators, and their evaluation against the request's condition keys.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use serde_json::Value;

use super::{PolicyError, glob};

/// The condition keys a request carries, each with one or more values. Names are
/// case-insensitive (they are stored lower-cased); values are compared as the operator says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConditionKeys(BTreeMap<String, Vec<String>>);

impl ConditionKeys {
    /// The values of `name`; `None` when the request does not carry it.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&[String]> {
        self.0.get(&name.to_lowercase()).map(Vec::as_slice)
    }

    /// Adds `values` to the key `name`. A key that never receives a value is absent from the
    /// request (what `Null` and the `IfExists` forms test).
    pub(crate) fn add(&mut self, name: &str, values: impl IntoIterator<Item = String>) {
        let mut values = values.into_iter().peekable();
        if values.peek().is_some() {
            self.0
                .entry(name.to_lowercase())
                .or_default()
                .extend(values);
        }
    }
}

#[derive(Debug)]
pub(super) struct Condition {
    /// As written (`StringNotEqualsIfExists`), for [`super::ConditionView`].
    pub(super) operator: String,
    test: Test,
    negated: bool,
    set: SetOp,
    if_exists: bool,
    /// Lower-cased: condition key names are case-insensitive.
    pub(super) key: String,
    pub(super) values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Equals,
    EqualsIgnoreCase,
    Like,
    Bool,
    Null,
    Numeric(NumCmp),
    /// `IpAddress`: the request address lies in one of the policy's CIDR ranges.
    Ip,
    /// `Date*`: instants compared as seconds since the epoch.
    Date(NumCmp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumCmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Single,
    ForAll,
    ForAny,
}

impl Condition {
    /// Parses a Condition block. Returns the conditions and the first unsupported operator.
    pub(super) fn parse_block(
        value: &Value,
    ) -> Result<(Vec<Condition>, Option<String>), PolicyError> {
        let block = value
            .as_object()
            .ok_or(PolicyError::InvalidValue("Condition".into()))?;
        let mut conditions = Vec::new();
        let mut unsupported = None;
        for (operator, tests) in block {
            let tests = tests
                .as_object()
                .ok_or_else(|| PolicyError::InvalidValue(operator.clone()))?;
            let Some((test, negated, set, if_exists)) = parse_operator(operator) else {
                unsupported.get_or_insert_with(|| operator.clone());
                continue;
            };
            for (key, values) in tests {
                let values =
                    scalars(values).ok_or_else(|| PolicyError::InvalidValue(key.clone()))?;
                let well_typed = match test {
                    Test::Bool | Test::Null => values.iter().all(|v| v == "true" || v == "false"),
                    Test::Numeric(_) => values.iter().all(|v| v.parse::<f64>().is_ok()),
                    Test::Ip => values.iter().all(|v| parse_net(v).is_some()),
                    Test::Date(_) => values.iter().all(|v| parse_date(v).is_some()),
                    _ => true,
                };
                if !well_typed || key.is_empty() {
                    return Err(PolicyError::InvalidValue(format!("{operator}/{key}")));
                }
                conditions.push(Condition {
                    operator: operator.clone(),
                    test,
                    negated,
                    set,
                    if_exists,
                    key: key.to_lowercase(),
                    values,
                });
            }
        }
        Ok((conditions, unsupported))
    }

    pub(super) fn holds(&self, keys: &ConditionKeys) -> bool {
        let present = keys.0.get(&self.key);
        if self.test == Test::Null {
            let absent = present.is_none();
            return self.values.iter().any(|v| (v == "true") == absent);
        }
        let Some(present) = present else {
            // Missing keys: IfExists and negated operators are satisfied, ForAllValues is vacuously
            // true, everything else fails (IAM condition evaluation rules).
            return self.if_exists
                || self.set == SetOp::ForAll
                || (self.negated && self.set == SetOp::Single);
        };
        let one =
            |v: &str| self.values.iter().any(|want| self.test.matches(want, v)) != self.negated;
        match self.set {
            SetOp::ForAll => present.iter().all(|v| one(v)),
            SetOp::ForAny => present.iter().any(|v| one(v)),
            // A multi-valued key under a plain operator: a positive test needs one hit, a negated
            // test needs no value to hit.
            SetOp::Single if self.negated => present.iter().all(|v| one(v)),
            SetOp::Single => present.iter().any(|v| one(v)),
        }
    }
}

impl Test {
    fn matches(self, want: &str, got: &str) -> bool {
        match self {
            Test::Equals => want == got,
            Test::EqualsIgnoreCase => want.to_lowercase() == got.to_lowercase(),
            Test::Like => glob(want, got),
            Test::Bool => want.eq_ignore_ascii_case(got),
            Test::Null => false,
            Test::Numeric(cmp) => match (got.parse::<f64>(), want.parse::<f64>()) {
                (Ok(g), Ok(w)) => cmp.holds(g, w),
                _ => false,
            },
            Test::Ip => match (parse_net(want), got.parse::<IpAddr>()) {
                (Some(net), Ok(ip)) => net.contains(&canonical_ip(ip)),
                _ => false,
            },
            Test::Date(cmp) => match (parse_date(got), parse_date(want)) {
                (Some(g), Some(w)) => cmp.holds(g, w),
                _ => false,
            },
        }
    }
}

impl NumCmp {
    fn holds<T: PartialOrd>(self, got: T, want: T) -> bool {
        match self {
            NumCmp::Eq => got == want,
            NumCmp::Lt => got < want,
            NumCmp::Le => got <= want,
            NumCmp::Gt => got > want,
            NumCmp::Ge => got >= want,
        }
    }
}

/// A CIDR range (`203.0.113.0/24`, `2001:db8::/32`) or a single address (a /32 or /128), as
/// IAM's `IpAddress` accepts them.
fn parse_net(s: &str) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(match net {
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) if v6.prefix_len() >= 96 => {
                    IpNet::V4(Ipv4Net::new(v4, v6.prefix_len() - 96).ok()?)
                }
                _ => net,
            },
            v4 => v4,
        });
    }
    s.parse::<IpAddr>()
        .ok()
        .map(|ip| IpNet::from(canonical_ip(ip)))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack listener reports) compares as IPv4.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A date as IAM's `Date*` operators accept it: ISO 8601 (`2026-12-06T05:00:00Z`, with
/// fractional seconds or an offset, or a bare `2026-12-06`, midnight UTC) or seconds since the
/// epoch. Compared as nanoseconds since the epoch.
fn parse_date(s: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .map(|secs| i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::PrimitiveDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    time::Date::parse(s, &Iso8601::DEFAULT)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
}

/// `[ForAllValues:|ForAnyValue:]<Operator>[IfExists]` → (test, negated, set, if_exists).
fn parse_operator(operator: &str) -> Option<(Test, bool, SetOp, bool)> {
    let (set, rest) = if let Some(r) = operator.strip_prefix("ForAllValues:") {
        (SetOp::ForAll, r)
    } else if let Some(r) = operator.strip_prefix("ForAnyValue:") {
        (SetOp::ForAny, r)
    } else {
        (SetOp::Single, operator)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let (test, negated) = match base {
        "StringEquals" => (Test::Equals, false),
        "StringNotEquals" => (Test::Equals, true),
        "StringEqualsIgnoreCase" => (Test::EqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Test::EqualsIgnoreCase, true),
        "StringLike" | "ArnEquals" | "ArnLike" => (Test::Like, false),
        "StringNotLike" | "ArnNotEquals" | "ArnNotLike" => (Test::Like, true),
        "Bool" => (Test::Bool, false),
        "Null" if !if_exists && set == SetOp::Single => (Test::Null, false),
        "NumericEquals" => (Test::Numeric(NumCmp::Eq), false),
        "NumericNotEquals" => (Test::Numeric(NumCmp::Eq), true),
        "NumericLessThan" => (Test::Numeric(NumCmp::Lt), false),
        "NumericLessThanEquals" => (Test::Numeric(NumCmp::Le), false),
        "NumericGreaterThan" => (Test::Numeric(NumCmp::Gt), false),
        "NumericGreaterThanEquals" => (Test::Numeric(NumCmp::Ge), false),
        "IpAddress" => (Test::Ip, false),
        "NotIpAddress" => (Test::Ip, true),
        "DateEquals" => (Test::Date(NumCmp::Eq), false),
        "DateNotEquals" => (Test::Date(NumCmp::Eq), true),
        "DateLessThan" => (Test::Date(NumCmp::Lt), false),
        "DateLessThanEquals" => (Test::Date(NumCmp::Le), false),
        "DateGreaterThan" => (Test::Date(NumCmp::Gt), false),
        "DateGreaterThanEquals" => (Test::Date(NumCmp::Ge), false),
        _ => return None,
    };
    Some((test, negated, set, if_exists))
}

/// Condition values: strings, booleans or numbers (IAM compares them as strings), or arrays.
fn scalars(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        v => one(v).map(|s| vec![s]),
    }
}
