//! Azure's provisioning CD as Azure attaches it: `ovf-env.xml` (with the custom data as
//! base64 `CustomData`, or without) on a UDF volume, made by `genisoimage -udf` (UDF 1.02
//! bridge). Used by the Azure suite (loop devices) and the QEMU boot (an IDE CD-ROM).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;

use crate::mock::azure;
use crate::support::{proc, util};

/// `ovf-env.xml` as Azure writes it (the `ns1:` prefixes of cloud-init PR #1519).
fn ovf_env(custom_data: Option<&[u8]>) -> String {
    let custom = custom_data
        .map(|c| format!("<ns1:CustomData>{}</ns1:CustomData>\n", base64::engine::general_purpose::STANDARD.encode(c)))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<ns0:Environment xmlns:ns0="http://schemas.dmtf.org/ovf/environment/1" xmlns:ns1="http://schemas.microsoft.com/windowsazure" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<ns1:ProvisioningSection>
<ns1:Version>1.0</ns1:Version>
<ns1:LinuxProvisioningConfigurationSet>
<ns1:ConfigurationSetType>LinuxProvisioningConfiguration</ns1:ConfigurationSetType>
<ns1:UserName>core</ns1:UserName>
<ns1:DisableSshPasswordAuthentication>true</ns1:DisableSshPasswordAuthentication>
<ns1:HostName>{}</ns1:HostName>
{custom}</ns1:LinuxProvisioningConfigurationSet>
</ns1:ProvisioningSection>
<ns1:PlatformSettingsSection><ns1:Version>1.0</ns1:Version><ns1:PlatformSettings><ns1:ProvisionGuestAgent>false</ns1:ProvisionGuestAgent></ns1:PlatformSettings></ns1:PlatformSettingsSection>
</ns0:Environment>
"#,
        azure::VM_NAME
    )
}

/// The provisioning CD image: `ovf-env.xml` on UDF 1.02 (`genisoimage -udf`).
pub fn provisioning_cd(dir: &Path, custom_data: Option<&[u8]>) -> Result<PathBuf, String> {
    let tree = dir.join("cd");
    std::fs::create_dir_all(&tree).map_err(|e| format!("{}: {e}", tree.display()))?;
    std::fs::write(tree.join("ovf-env.xml"), ovf_env(custom_data)).map_err(|e| format!("ovf-env.xml: {e}"))?;
    let image = dir.join("provisioning.iso");
    let mut cmd = Command::new(util::tool("genisoimage"));
    cmd.args(["-quiet", "-udf", "-J", "-R", "-o"]).arg(&image).arg(&tree);
    proc::run_ok(&mut cmd, Duration::from_secs(30))?;
    Ok(image)
}
