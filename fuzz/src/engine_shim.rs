//! A stand-in for the one crate-private item of quantd-engine that the engine's result reader
//! (`crates/quantd-engine/src/python/ipc.rs`, compiled by `python_result` through `#[path]`)
//! names: `crate::exec::jobs::ShardFailure`. It has the same variants and conversion as the
//! engine's, so the reader's file compiles unchanged. It goes away when quantd-engine makes
//! `python::ipc` (or `read_result` and `ResultRows`) public: then the target calls
//! `quantd_engine::python::ipc::read_result` directly.
#![allow(dead_code)]

/// `quantd_engine::exec::jobs`, as far as ipc.rs uses it.
pub mod jobs {
    use quantd_core::ErrorClass;

    /// Why a shard did not produce output (the engine's type, mirrored).
    #[derive(Debug)]
    pub enum ShardFailure {
        /// Its execution was cancelled.
        Cancelled,
        /// An error of this class.
        Error(ErrorClass, String),
    }

    impl From<quantd_data::DataError> for ShardFailure {
        fn from(e: quantd_data::DataError) -> Self {
            ShardFailure::Error(e.class(), e.to_string())
        }
    }
}
