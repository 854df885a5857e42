//! Tests of the HTTP/2 classifier.
use super::*;
