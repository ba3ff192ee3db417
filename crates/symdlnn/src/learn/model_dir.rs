//! Model directories.
