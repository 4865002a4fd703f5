//! # Guide: the lesson, runnable
//!
//! The text of `docs/guide.md`, included here so that every example in it runs as a doc test
//! of this crate, through the `recur::` paths a crate depending on `recur` writes.
#![doc = include_str!("../docs/guide.md")]
