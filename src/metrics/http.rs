//! The admin listener: `GET /metrics` in the Prometheus text format, plain HTTP, no auth (bind
//! it to loopback or a private interface). Anything else is 404/405.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::Metrics;
use crate::server::{self, Body, ConnInfo};

pub(crate) struct MetricsHttp {
    metrics: Arc<Metrics>,
}

impl MetricsHttp {
    pub(crate) fn new(metrics: Arc<Metrics>) -> MetricsHttp {
        MetricsHttp { metrics }
    }
}

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl server::Service for MetricsHttp {
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
        _conn: ConnInfo,
    ) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        let resp = match (req.method(), req.uri().path()) {
            (&Method::GET, "/metrics") => {
                respond(StatusCode::OK, CONTENT_TYPE, self.metrics.render())
            }
            (&Method::HEAD, "/metrics") => respond(StatusCode::OK, CONTENT_TYPE, String::new()),
            (_, "/metrics") => respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "method not allowed\n".into(),
            ),
            _ => respond(
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found; metrics are at /metrics\n".into(),
            ),
        };
        Box::pin(async move { resp })
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(server::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}
