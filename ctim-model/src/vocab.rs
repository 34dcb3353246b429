//! CTIM vocabularies. Closed ones are plain enums that read and write CTIM's exact strings and
//! reject anything else; open ones keep unknown strings in an `Other` variant.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// TLP, the Traffic Light Protocol marking: how widely an entity may be shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Tlp {
    /// `white`: may be shared freely.
    White,
    /// `green`: may be shared within the community.
    Green,
    /// `amber`: limited to the recipients' organisations.
    Amber,
    /// `red`: named recipients only.
    Red,
}

/// CTIM's `HighMedLow` vocabulary, used for `confidence`.
#[doc(alias = "HighMedLow")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum Confidence {
    /// `High`
    High,
    /// `Medium`
    Medium,
    /// `Low`
    Low,
    /// `Info`
    Info,
    /// `None`
    None,
    /// `Unknown`
    Unknown,
}

/// CTIM's `Severity` vocabulary: [`Confidence`]'s values plus `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum Severity {
    /// `Critical`
    Critical,
    /// `High`
    High,
    /// `Medium`
    Medium,
    /// `Low`
    Low,
    /// `Info`
    Info,
    /// `None`
    None,
    /// `Unknown`
    Unknown,
}

/// An indicator's type (`indicator_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum IndicatorType {
    /// `Anonymization`
    Anonymization,
    /// `C2`
    C2,
    /// `Compromised PKI Certificate`
    #[serde(rename = "Compromised PKI Certificate")]
    CompromisedPkiCertificate,
    /// `Domain Watchlist`
    #[serde(rename = "Domain Watchlist")]
    DomainWatchlist,
    /// `Exfiltration`
    Exfiltration,
    /// `File Hash Watchlist`
    #[serde(rename = "File Hash Watchlist")]
    FileHashWatchlist,
    /// `Host Characteristics`
    #[serde(rename = "Host Characteristics")]
    HostCharacteristics,
    /// `IMEI Watchlist`
    #[serde(rename = "IMEI Watchlist")]
    ImeiWatchlist,
    /// `IMSI Watchlist`
    #[serde(rename = "IMSI Watchlist")]
    ImsiWatchlist,
    /// `IP Watchlist`
    #[serde(rename = "IP Watchlist")]
    IpWatchlist,
    /// `Login Name`
    #[serde(rename = "Login Name")]
    LoginName,
    /// `Malicious E-mail`
    #[serde(rename = "Malicious E-mail")]
    MaliciousEmail,
    /// `Malware Artifacts`
    #[serde(rename = "Malware Artifacts")]
    MalwareArtifacts,
    /// `Private Threat Feed`
    #[serde(rename = "Private Threat Feed")]
    PrivateThreatFeed,
    /// `URL Watchlist`
    #[serde(rename = "URL Watchlist")]
    UrlWatchlist,
}

/// The operator of a composite indicator expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BooleanOperator {
    /// `and`
    And,
    /// `or`
    Or,
    /// `not`
    Not,
}

/// The type of a column in a sighting's data table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ColumnType {
    /// `integer`
    Integer,
    /// `markdown`
    Markdown,
    /// `number`
    Number,
    /// `observable`
    Observable,
    /// `string`
    String,
    /// `url`
    Url,
}

/// A judgement's or verdict's disposition. CTIM writes it twice, as a number (`disposition`)
/// and as a name (`disposition_name`); this one value writes both, so they always agree, and
/// reading rejects a pair that does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Disposition {
    /// 1, `Clean`
    Clean = 1,
    /// 2, `Malicious`
    Malicious = 2,
    /// 3, `Suspicious`
    Suspicious = 3,
    /// 4, `Common`
    Common = 4,
    /// 5, `Unknown`
    Unknown = 5,
}

impl Disposition {
    /// All five, in number order.
    pub const ALL: [Disposition; 5] = [
        Disposition::Clean,
        Disposition::Malicious,
        Disposition::Suspicious,
        Disposition::Common,
        Disposition::Unknown,
    ];

    /// CTIM's `disposition` number, 1..=5.
    #[must_use]
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// CTIM's `disposition_name`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Disposition::Clean => "Clean",
            Disposition::Malicious => "Malicious",
            Disposition::Suspicious => "Suspicious",
            Disposition::Common => "Common",
            Disposition::Unknown => "Unknown",
        }
    }

    /// The disposition with this number, if it is in 1..=5.
    #[must_use]
    pub fn from_number(number: u64) -> Option<Disposition> {
        Disposition::ALL
            .into_iter()
            .find(|d| u64::from(d.number()) == number)
    }

    /// The disposition with this exact name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl core::fmt::Display for Disposition {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

open_vocabulary! {
    /// A relationship's `relationship_type`. CTIM lists these; CTIA accepts any string, so
    /// others are kept in `Other`. See CTIM's `defined_relationships.md` for which to use.
    RelationshipType {
        AttributedTo = "attributed-to",
        BasedOn = "based-on",
        DerivedFrom = "derived-from",
        Detects = "detects",
        DuplicateOf = "duplicate-of",
        ElementOf = "element-of",
        Exploits = "exploits",
        Indicates = "indicates",
        MemberOf = "member-of",
        Mitigates = "mitigates",
        PhaseOf = "phase-of",
        RelatedTo = "related-to",
        SightingOf = "sighting-of",
        SubtechniqueOf = "subtechnique-of",
        Targets = "targets",
        TaskOf = "task-of",
        TechniqueOf = "technique-of",
        Uses = "uses",
        VariantOf = "variant-of",
    }
}

open_vocabulary! {
    /// What a sighting's source did about it (`resolution`).
    Resolution {
        Allowed = "allowed",
        Blocked = "blocked",
        Contained = "contained",
        Detected = "detected",
    }
}

open_vocabulary! {
    /// The OpenC2 actuator name that best fits a device (`sensor`, and the `type` of sensor
    /// coordinates and targets).
    Sensor {
        Endpoint = "endpoint",
        EndpointDigitalTelephoneHandset = "endpoint.digital-telephone-handset",
        EndpointLaptop = "endpoint.laptop",
        EndpointPosTerminal = "endpoint.pos-terminal",
        EndpointPrinter = "endpoint.printer",
        EndpointSensor = "endpoint.sensor",
        EndpointServer = "endpoint.server",
        EndpointSmartMeter = "endpoint.smart-meter",
        EndpointSmartPhone = "endpoint.smart-phone",
        EndpointTablet = "endpoint.tablet",
        EndpointWorkstation = "endpoint.workstation",
        Network = "network",
        NetworkBridge = "network.bridge",
        NetworkFirewall = "network.firewall",
        NetworkGateway = "network.gateway",
        NetworkGuard = "network.guard",
        NetworkHips = "network.hips",
        NetworkHub = "network.hub",
        NetworkIds = "network.ids",
        NetworkIps = "network.ips",
        NetworkModem = "network.modem",
        NetworkNic = "network.nic",
        NetworkProxy = "network.proxy",
        NetworkRouter = "network.router",
        NetworkSecurityManager = "network.security_manager",
        NetworkSenseMaking = "network.sense_making",
        NetworkSensor = "network.sensor",
        NetworkSwitch = "network.switch",
        NetworkVpn = "network.vpn",
        NetworkWap = "network.wap",
        Process = "process",
        ProcessAaaServer = "process.aaa-server",
        ProcessAntiVirusScanner = "process.anti-virus-scanner",
        ProcessConnectionScanner = "process.connection-scanner",
        ProcessDirectoryService = "process.directory-service",
        ProcessDnsServer = "process.dns-server",
        ProcessEmailService = "process.email-service",
        ProcessFileScanner = "process.file-scanner",
        ProcessLocationService = "process.location-service",
        ProcessNetworkScanner = "process.network-scanner",
        ProcessRemediationService = "process.remediation-service",
        ProcessReputationService = "process.reputation-service",
        ProcessSandbox = "process.sandbox",
        ProcessVirtualizationService = "process.virtualization-service",
        ProcessVulnerabilityScanner = "process.vulnerability-scanner",
    }
}

open_vocabulary! {
    /// How two observables in a sighting relate (`relation` of an observed relation).
    ObservedRelationType {
        Allocated = "Allocated",
        AllocatedBy = "Allocated_By",
        AttachedTo = "Attached_To",
        Bound = "Bound",
        BoundBy = "Bound_By",
        CharacterizedBy = "Characterized_By",
        Characterizes = "Characterizes",
        ChildOf = "Child_Of",
        Closed = "Closed",
        ClosedBy = "Closed_By",
        Compressed = "Compressed",
        CompressedBy = "Compressed_By",
        CompressedFrom = "Compressed_From",
        CompressedInto = "Compressed_Into",
        ConnectedFrom = "Connected_From",
        ConnectedTo = "Connected_To",
        ContainedWithin = "Contained_Within",
        Contains = "Contains",
        Copied = "Copied",
        CopiedBy = "Copied_By",
        CopiedFrom = "Copied_From",
        CopiedTo = "Copied_To",
        Created = "Created",
        CreatedBy = "Created_By",
        Decoded = "Decoded",
        DecodedBy = "Decoded_By",
        Decompressed = "Decompressed",
        DecompressedBy = "Decompressed_By",
        Decrypted = "Decrypted",
        DecryptedBy = "Decrypted_By",
        Deleted = "Deleted",
        DeletedBy = "Deleted_By",
        DeletedFrom = "Deleted_From",
        Downloaded = "Downloaded",
        DownloadedBy = "Downloaded_By",
        DownloadedFrom = "Downloaded_From",
        DownloadedTo = "Downloaded_To",
        Dropped = "Dropped",
        DroppedBy = "Dropped_By",
        Encoded = "Encoded",
        EncodedBy = "Encoded_By",
        Encrypted = "Encrypted",
        EncryptedBy = "Encrypted_By",
        EncryptedFrom = "Encrypted_From",
        EncryptedTo = "Encrypted_To",
        ExtractedFrom = "Extracted_From",
        FQDNOf = "FQDN_Of",
        Freed = "Freed",
        FreedBy = "Freed_By",
        Hooked = "Hooked",
        HookedBy = "Hooked_By",
        InitializedBy = "Initialized_By",
        InitializedTo = "Initialized_To",
        Injected = "Injected",
        InjectedAs = "Injected_As",
        InjectedBy = "Injected_By",
        InjectedInto = "Injected_Into",
        Installed = "Installed",
        InstalledBy = "Installed_By",
        Joined = "Joined",
        JoinedBy = "Joined_By",
        Killed = "Killed",
        KilledBy = "Killed_By",
        ListenedOn = "Listened_On",
        ListenedOnBy = "Listened_On_By",
        LoadedFrom = "Loaded_From",
        LoadedInto = "Loaded_Into",
        Locked = "Locked",
        LockedBy = "Locked_By",
        MappedBy = "Mapped_By",
        MappedInto = "Mapped_Into",
        Merged = "Merged",
        MergedBy = "Merged_By",
        ModifiedPropertiesOf = "Modified_Properties_Of",
        Monitored = "Monitored",
        MonitoredBy = "Monitored_By",
        Moved = "Moved",
        MovedBy = "Moved_By",
        MovedFrom = "Moved_From",
        MovedTo = "Moved_To",
        Opened = "Opened",
        OpenedBy = "Opened_By",
        Packed = "Packed",
        PackedBy = "Packed_By",
        PackedFrom = "Packed_From",
        PackedInto = "Packed_Into",
        ParentOf = "Parent_Of",
        Paused = "Paused",
        PausedBy = "Paused_By",
        PreviouslyContained = "Previously_Contained",
        PropertiesModifiedBy = "Properties_Modified_By",
        PropertiesQueried = "Properties_Queried",
        PropertiesQueriedBy = "Properties_Queried_By",
        ReadFrom = "Read_From",
        ReadFromBy = "Read_From_By",
        Received = "Received",
        ReceivedBy = "Received_By",
        ReceivedFrom = "Received_From",
        ReceivedViaUpload = "Received_Via_Upload",
        RedirectsTo = "Redirects_To",
        RefersTo = "Refers_To",
        RelatedTo = "Related_To",
        Renamed = "Renamed",
        RenamedBy = "Renamed_By",
        RenamedFrom = "Renamed_From",
        RenamedTo = "Renamed_To",
        ResolvedTo = "Resolved_To",
        Resumed = "Resumed",
        ResumedBy = "Resumed_By",
        RootDomainOf = "Root_Domain_Of",
        SearchedFor = "Searched_For",
        SearchedForBy = "Searched_For_By",
        Sent = "Sent",
        SentBy = "Sent_By",
        SentTo = "Sent_To",
        SentViaUpload = "Sent_Via_Upload",
        SetFrom = "Set_From",
        SetTo = "Set_To",
        SubDomainOf = "Sub-domain_Of",
        SupraDomainOf = "Supra-domain_Of",
        Suspended = "Suspended",
        SuspendedBy = "Suspended_By",
        Unhooked = "Unhooked",
        UnhookedBy = "Unhooked_By",
        Unlocked = "Unlocked",
        UnlockedBy = "Unlocked_By",
        Unpacked = "Unpacked",
        UnpackedBy = "Unpacked_By",
        Uploaded = "Uploaded",
        UploadedBy = "Uploaded_By",
        UploadedFrom = "Uploaded_From",
        UploadedTo = "Uploaded_To",
        Used = "Used",
        UsedBy = "Used_By",
        ValuesEnumerated = "Values_Enumerated",
        ValuesEnumeratedBy = "Values_Enumerated_By",
        WrittenToBy = "Written_To_By",
        WroteTo = "Wrote_To",
    }
}

#[cfg(test)]
mod tests {
    use super::{Disposition, RelationshipType, Sensor};

    fn check_disposition(number: u64, name: &str) {
        let by_number = Disposition::from_number(number).unwrap();
        assert_eq!(Disposition::from_name(name), Some(by_number));
        assert_eq!(
            (u64::from(by_number.number()), by_number.name()),
            (number, name)
        );
    }

    #[test]
    fn disposition_numbers_and_names_agree() {
        check_disposition(1, "Clean");
        check_disposition(2, "Malicious");
        check_disposition(3, "Suspicious");
        check_disposition(4, "Common");
        check_disposition(5, "Unknown");
        assert_eq!(Disposition::from_number(0), None);
        assert_eq!(Disposition::from_number(6), None);
        assert_eq!(Disposition::from_name("clean"), None);
    }

    fn check_open(json: &str, expected: RelationshipType) {
        let read: RelationshipType = serde_json::from_str(json).unwrap();
        assert_eq!(read, expected);
        assert_eq!(serde_json::to_string(&read).unwrap(), json);
    }

    #[test]
    fn open_vocabularies_keep_unknown_strings() {
        check_open(r#""member-of""#, RelationshipType::MemberOf);
        check_open(r#""based-on""#, RelationshipType::BasedOn);
        check_open(r#""blocks""#, RelationshipType::Other("blocks".into()));
        assert_eq!(
            RelationshipType::parse("member-of"),
            RelationshipType::MemberOf
        );
        assert!(!RelationshipType::parse("blocks").is_known());
        assert_eq!(
            Sensor::parse("network.firewall").as_str(),
            "network.firewall"
        );
        assert_eq!(Sensor::KNOWN.len(), 45);
    }
}
