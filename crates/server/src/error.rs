//! `AppError`: every refusal the server gives, answered as JSON.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A request the server refuses, with the status and JSON body it gets.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A query parameter or header is malformed or out of range: 400.
    #[error("{message}")]
    BadParameter {
        /// The parameter's (or header's) name.
        parameter: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// No such path: 404.
    #[error("no such path: {0}")]
    NotFound(String),
    /// A known path asked for with a method it does not serve: 405.
    #[error("{path} does not serve {method}")]
    MethodNotAllowed {
        /// The method asked for.
        method: String,
        /// The path.
        path: String,
    },
    /// A body over the limit: 413.
    #[error("body of more than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A WebSocket path asked for without a valid upgrade: axum's status
    /// (400, 405 or 426) with a JSON body.
    #[error("{message}")]
    NotAnUpgrade {
        /// The status axum chose for the rejection.
        status: StatusCode,
        /// What is missing.
        message: String,
    },
    /// A browser origin not on the allow-list: 403.
    #[error("{0}")]
    Forbidden(String),
    /// Publishing without the configured token: 401.
    #[error("publishing needs the token (Authorization: Bearer TOKEN)")]
    Unauthorized,
    /// Publishing faster than the configured rate: 429.
    #[error("publish rate of {rate} per second exceeded")]
    TooManyRequests {
        /// The configured rate.
        rate: f64,
    },
    /// The connection limit is reached: 503.
    #[error("connection limit of {limit} reached")]
    TooManyConnections {
        /// The limit.
        limit: usize,
    },
    /// The cluster's event backplane (Redis) is unreachable, so nothing
    /// can be published: 503.
    #[error("{0}")]
    Unavailable(String),
    /// The server failed at something that cannot fail on good input (a
    /// compressor writing to memory): 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A 400 naming `parameter`.
    pub fn bad(parameter: &'static str, message: impl Into<String>) -> Self {
        AppError::BadParameter {
            parameter,
            message: message.into(),
        }
    }

    /// The JSON body this error is answered with (also sent as a
    /// WebSocket text message when an upstream publish fails).
    pub fn body(&self) -> serde_json::Value {
        let status = self.status();
        let mut body = json!({ "error": self.to_string(), "status": status.as_u16() });
        if let AppError::BadParameter { parameter, .. } = self {
            body["parameter"] = json!(parameter);
        }
        body
    }

    fn status(&self) -> StatusCode {
        match self {
            AppError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyConnections { .. } | AppError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::NotAnUpgrade { status, .. } => *status,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}
