//! `cfg(local_deploy)`: apps and services as local processes. Their executor (network
//! namespaces, cgroups, privilege drop, `/proc`) is Linux-only, so the cfg holds when
//! the `local-deploy` feature is on *and* the target is Linux; elsewhere the runtime
//! answers app and service deploys with `failed_precondition`.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(local_deploy)");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if linux && std::env::var_os("CARGO_FEATURE_LOCAL_DEPLOY").is_some() {
        println!("cargo::rustc-cfg=local_deploy");
    }
}
