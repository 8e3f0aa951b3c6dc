//! POST Object, the browser form upload (S3 API Reference "PostObject" and "Browser-based
//! uploads using POST"): the form body, its signature and its policy document. The handler
//! that joins them to the PUT pipeline is `s3::ops::post`.

pub(crate) mod auth;
pub(crate) mod file;
pub(crate) mod form;
pub(crate) mod policy;
