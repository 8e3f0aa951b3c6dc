//! Strict percent-decoding and the decoded query string, with the typed accessors the
//! routing tables use (InvalidArgument naming the parameter on garbage).

use super::super::error::S3Error;
use super::MAX_PART_NUMBER;

/// Strict percent-decoding to UTF-8: a `%` not followed by two hex digits, or bytes that are
/// not UTF-8, make the URI invalid rather than being guessed at.
pub(super) fn percent_decode(s: &str) -> Result<String, S3Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(S3Error::InvalidURI)?;
            let hi = (hex[0] as char).to_digit(16).ok_or(S3Error::InvalidURI)?;
            let lo = (hex[1] as char).to_digit(16).ok_or(S3Error::InvalidURI)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| S3Error::InvalidURI)
}

/// Decoded query parameters in order; the first occurrence of a name wins.
pub(super) struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    pub(super) fn parse(raw: &str) -> Result<Self, S3Error> {
        let mut params = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((percent_decode(name)?, percent_decode(value)?));
        }
        Ok(Query { params })
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(super) fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// An integer parameter in `min..=max`, InvalidArgument naming it otherwise.
    pub(super) fn int(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, S3Error> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match raw.parse::<i64>() {
            Ok(n) if (i64::from(min)..=i64::from(max)).contains(&n) => Ok(Some(n as u32)),
            _ => Err(S3Error::invalid_argument_named(
                format!("Argument {name} must be an integer between {min} and {max}"),
                name,
                raw,
            )),
        }
    }

    pub(super) fn part_number(&self) -> Result<Option<u32>, S3Error> {
        let Some(raw) = self.get("partNumber") else {
            return Ok(None);
        };
        match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(Some(n)),
            _ => Err(S3Error::invalid_argument_named(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                raw,
            )),
        }
    }

    pub(super) fn encoding_type_url(&self) -> Result<bool, S3Error> {
        match self.get("encoding-type") {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("url") => Ok(true),
            Some(v) => Err(S3Error::invalid_argument_named(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                v,
            )),
        }
    }

    pub(super) fn bool(&self, name: &str) -> Result<bool, S3Error> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") || v.is_empty() => Ok(false),
            Some(v) => Err(S3Error::invalid_argument_named(
                format!("Invalid value for {name}"),
                name,
                v,
            )),
        }
    }
}
