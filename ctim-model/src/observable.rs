//! Observables: a type from CTIM's vocabulary and a value.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Text;

vocabulary_with_other! {
    /// The type of an [`Observable`]: the 63 types of CTIM 1.3.28, and
    /// [`Other`](ObservableType::Other) for a type CTIM adds later.
    ///
    /// Strict reading (the default, plain serde) rejects a type outside the 63, as CTIA does.
    /// Reading with [`from_str_lenient`](crate::from_str_lenient) keeps it as `Other`, and it
    /// is written back unchanged. [`validate`](crate::Sighting::validate) reports an `Other`.
    ObservableType {
        Acudid = "acudid",
        AmpComputerGuid = "amp_computer_guid",
        CertificateCommonName = "certificate_common_name",
        CertificateIssuer = "certificate_issuer",
        CertificateSerial = "certificate_serial",
        CiscoCmId = "cisco_cm_id",
        CiscoMid = "cisco_mid",
        CiscoUcId = "cisco_uc_id",
        CortexAgentId = "cortex_agent_id",
        CrowdstrikeId = "crowdstrike_id",
        CvmId = "cvm_id",
        CybereasonId = "cybereason_id",
        DarktraceId = "darktrace_id",
        Device = "device",
        Domain = "domain",
        Email = "email",
        EmailMessageid = "email_messageid",
        EmailSubject = "email_subject",
        FileName = "file_name",
        FilePath = "file_path",
        GoogleChromebookId = "google_chromebook_id",
        GoogleCloudId = "google_cloud_id",
        Hostname = "hostname",
        Imei = "imei",
        Imsi = "imsi",
        IntuneId = "intune_id",
        Ip = "ip",
        Ipv6 = "ipv6",
        JamfManagementId = "jamf_management_id",
        MacAddress = "mac_address",
        Md5 = "md5",
        MerakiNetworkId = "meraki_network_id",
        MerakiNodeSn = "meraki_node_sn",
        MerakiOrgId = "meraki_org_id",
        MsMachineId = "ms_machine_id",
        Mutex = "mutex",
        NgfwId = "ngfw_id",
        NgfwName = "ngfw_name",
        OdnsIdentity = "odns_identity",
        OdnsIdentityLabel = "odns_identity_label",
        OrbitalNodeId = "orbital_node_id",
        PkiSerial = "pki_serial",
        ProcessArgs = "process_args",
        ProcessHash = "process_hash",
        ProcessName = "process_name",
        ProcessPath = "process_path",
        ProcessUid = "process_uid",
        ProcessUsername = "process_username",
        ProcessorId = "processor_id",
        RegistryKey = "registry_key",
        RegistryName = "registry_name",
        RegistryPath = "registry_path",
        S1AgentId = "s1_agent_id",
        SecureAccessId = "secure_access_id",
        SerialNumber = "serial_number",
        ServiceNowId = "service_now_id",
        Sha1 = "sha1",
        Sha256 = "sha256",
        SwcDeviceId = "swc_device_id",
        TrendMicroId = "trend_micro_id",
        Url = "url",
        User = "user",
        UserAgent = "user_agent",
    }
}

impl<'de> Deserialize<'de> for ObservableType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match ObservableType::known(&text) {
            Some(known) => Ok(known),
            None if crate::read::is_lenient() => Ok(ObservableType::Other(text)),
            None => Err(serde::de::Error::custom(format_args!(
                "unknown observable type {text:?} (CTIM 1.3.28 knows 63; read leniently to keep it)"
            ))),
        }
    }
}

impl JsonSchema for ObservableType {
    fn schema_name() -> Cow<'static, str> {
        "ObservableType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The type of observable.",
            "type": "string",
            "enum": ObservableType::KNOWN,
        })
    }
}

/// A simple, atomic value with a consistent identity (an IP, a domain, a hash, ...).
///
/// ```
/// use ctim_model::{Observable, ObservableType};
///
/// let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
/// assert_eq!(
///     serde_json::to_string(&ip).unwrap(),
///     r#"{"type":"ip","value":"192.0.2.1"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observable {
    /// The type of observable.
    #[serde(rename = "type")]
    pub kind: ObservableType,
    /// The value of the observable.
    pub value: Text,
}

impl Observable {
    /// An observable of this type and value.
    pub fn new(kind: ObservableType, value: impl Into<Text>) -> Observable {
        Observable {
            kind,
            value: value.into(),
        }
    }
}
