//! evoforge
