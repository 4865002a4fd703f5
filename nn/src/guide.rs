//! # Guide: the lesson, runnable
//!
//! The text of `nn/docs/guide.md`, included here so that every example in it runs as a doc test.
#![doc = include_str!("../docs/guide.md")]
