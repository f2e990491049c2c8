//! Golden and failing cases for the Dockerfile parser.
