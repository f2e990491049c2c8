//! Dockerfile builds (issue 7): the context and `.dockerignore` (`context`).

pub mod context;
