//! The demo's generated router config is one `anvil-router check` accepts (the router's own
//! validator, not a copy of its rules), for the addresses `cargo xtask demo` and the e2e runner use.

use std::process::Command;

use xtask::demo::router_config;
use xtask::llama::SERVED_MODEL;
use xtask::tidy::configs::build_router;
use xtask::workspace_root;

#[test]
fn demo_config_passes_anvil_router_check() {
    let router = build_router(&workspace_root()).unwrap();
    let dir = std::env::temp_dir().join(format!("anvil-demo-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for port in [8080_u16, 41234] {
        let path = dir.join(format!("router-{port}.toml"));
        let text = router_config(&format!("http://127.0.0.1:{port}/v1"), SERVED_MODEL);
        std::fs::write(&path, &text).unwrap();
        let output = Command::new(&router)
            .arg("check")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "anvil-router check rejected the demo config:\n{text}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
