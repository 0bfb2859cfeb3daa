//! Well-formed SSH public keys the mocked platforms publish, shared by their fixtures.

/// Well-formed ed25519 public keys (generated once with ssh-keygen, private halves discarded),
/// so consumers that parse key types accept them.
pub(super) const KEY_A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJCnEaTIXfOjJlI3t5ywVZzBacYMLTjrdYkgqM6tnd9A key-a";
/// Key comments are free text (AWS key-pair names are any ASCII): quotes, a backslash, `#` and
/// `: ` here make every YAML and JSON writer downstream escape properly.
pub(super) const KEY_B: &str =
    r#"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIId9/1kxdZOoT87Az6VvjNychz539rhWrfnfQV85Yqw4 key-b "work" C:\keys #2: x"#;
pub(super) const KEY_ROOT_2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBS3khWgxi9jYfLz3JJh1BlL5s6fAO5MloMIJy4kukUc root-2";
pub(super) const KEY_ALICE: &str =
    r#"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+ai5zTiHfr3rQFbXBGvSRWfh+wLMgdCVHLvMh0TEBm alice@"laptop" \ 'x' #3"#;
