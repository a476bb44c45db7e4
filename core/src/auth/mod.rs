//! Authentication factors: how a claimed identity is checked. Each module
//! does the slow or effectful part (hashing, a ceremony) so that commands
//! receive its outcome as data.

pub mod password;
