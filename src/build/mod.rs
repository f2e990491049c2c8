//! Dockerfile builds (issue 7): the context and `.dockerignore` (`context`),
//! and what each step does to an image (`steps`).

pub mod context;
pub mod steps;
