//! recur-nn (in progress).
