//! recur-autograd (in progress).
