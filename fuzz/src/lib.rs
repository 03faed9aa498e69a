//! quantd's fuzz targets: one small function over bytes per door through which untrusted input
//! enters quantd. Each runs the product's own code on the bytes and panics only when quantd does
//! (or when an invariant the code promises is broken); errors are the expected answer to bad
//! input.
//!
//! - [`import::csv`] / [`import::parquet`] (`import_csv`, `import_parquet`): a file through the
//!   pack importer, then into a pack directory and back, and exported and imported again;
//! - [`expr::run`] (`expr`): expression text through parse, check and compile, and what compiles
//!   evaluated on small series with NaN and infinities;
//! - [`submit_body::run`] (`submit_body`): an HTTP submit body through the server's request type
//!   and the engine's validation and planning (`Engine::submit_request`), on a small pack;
//! - [`python_result::run`] (`python_result`): a Python job's Arrow result file through the
//!   engine's reader and what the engine does with the rows (signals, summary, exports).
//!
//! The same files are compiled into `tests/fuzz_corpus.rs` of the crate each target exercises
//! (by `#[path]`), where [`replay`] runs every checked-in corpus input through them, so the
//! corpus is a regression suite under plain `cargo test`. That is why each target file uses only
//! that crate's own dependencies. `docs/fuzzing.md` says how to run them.

pub mod expr;
pub mod import;
pub mod python_result;
pub mod replay;
pub mod scratch;
pub mod submit_body;
