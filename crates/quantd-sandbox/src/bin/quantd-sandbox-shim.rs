//! The sandbox shim as a standalone binary, for tests and for embedders that cannot route
//! `__sandbox-shim` through their own executable. It must be started with the arguments that
//! [`quantd_sandbox::ShimCommand`] prepends.

fn main() {
    quantd_sandbox::shim_main()
}
