//! One behavioural suite, two backends: a [`Fixture`] hands out fresh handles to a store and a
//! launcher that share the same data (a moto server's tables, or one SQLite file).

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use socless_events::{
    AwsLauncher, AwsStore, EventCreator, EventStore, LocalLauncher, LocalStore, PlaybookLauncher,
    StateMachineArns, TableNames,
};

use crate::moto::{MotoServer, moto};

/// The account moto uses.
pub(crate) const ACCOUNT: &str = "123456789012";
/// The playbooks every fixture deploys; any other name is not deployed.
pub(crate) const PLAYBOOKS: [&str; 2] = ["ParamsToStateMachineTester", "InvestigateLogin"];

pub(crate) trait Fixture: Send + Sync {
    type Store: EventStore + Clone + 'static;
    type Launcher: PlaybookLauncher + Clone + 'static;

    /// A new store handle (its own client or connection).
    fn store(&self) -> Self::Store;
    /// A new launcher handle.
    fn launcher(&self) -> Self::Launcher;

    fn arns(&self) -> StateMachineArns {
        StateMachineArns::new("us-east-1", ACCOUNT).unwrap()
    }

    fn creator(&self) -> EventCreator<Self::Store, Self::Launcher> {
        EventCreator::new(self.store(), self.launcher(), self.arns())
    }
}

/// Explicit SDK configuration for moto: endpoint, static test credentials, us-east-1.
pub(crate) fn moto_config(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .behavior_version(BehaviorVersion::latest())
        .build()
}

pub(crate) struct AwsFixture {
    pub(crate) server: Arc<MotoServer>,
    pub(crate) tables: TableNames,
}

impl AwsFixture {
    /// Fresh tables (unique names) and the deployed playbooks on the shared moto server.
    pub(crate) async fn new() -> Self {
        let server = moto();
        let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
        let tables = TableNames::new(
            format!("{prefix}_socless_events"),
            format!("{prefix}_socless_dedup"),
            format!("{prefix}_socless_execution_results"),
        );
        let config = moto_config(server.url());
        create_tables(&config, &tables).await;
        deploy_playbooks(&config).await;
        Self { server, tables }
    }

    pub(crate) fn config(&self) -> aws_config::SdkConfig {
        moto_config(self.server.url())
    }
}

impl Fixture for AwsFixture {
    type Store = AwsStore;
    type Launcher = AwsLauncher;

    fn store(&self) -> AwsStore {
        AwsStore::new(&self.config(), self.tables.clone())
    }

    fn launcher(&self) -> AwsLauncher {
        AwsLauncher::new(&self.config())
    }
}

pub(crate) async fn create_tables(config: &aws_config::SdkConfig, tables: &TableNames) {
    let client = aws_sdk_dynamodb::Client::new(config);
    for (name, key) in [
        (&tables.events, "id"),
        (&tables.dedup, "dedup_hash"),
        (&tables.results, "execution_id"),
    ] {
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
    }
}

/// Deploys [`PLAYBOOKS`] as trivial state machines (moto records executions; it runs nothing).
pub(crate) async fn deploy_playbooks(config: &aws_config::SdkConfig) {
    let client = aws_sdk_sfn::Client::new(config);
    let definition = r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#;
    for name in PLAYBOOKS {
        let result = client
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/socless-tests"))
            .send()
            .await;
        if let Err(error) = result {
            let exists = error
                .as_service_error()
                .is_some_and(|e| e.is_state_machine_already_exists());
            assert!(exists, "create state machine {name}: {error:?}");
        }
    }
}

pub(crate) struct LocalFixture {
    pub(crate) path: PathBuf,
}

impl LocalFixture {
    pub(crate) async fn new() -> Self {
        Self {
            path: temp_sqlite(),
        }
    }
}

/// A unique SQLite path in the temp dir (removed by [`remove_sqlite`]).
pub(crate) fn temp_sqlite() -> PathBuf {
    std::env::temp_dir().join(format!(
        "socless-it-{}.sqlite",
        uuid::Uuid::new_v4().simple()
    ))
}

pub(crate) fn remove_sqlite(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("sqlite-journal"));
}

impl Drop for LocalFixture {
    fn drop(&mut self) {
        remove_sqlite(&self.path);
    }
}

impl Fixture for LocalFixture {
    type Store = LocalStore;
    type Launcher = LocalLauncher;

    fn store(&self) -> LocalStore {
        LocalStore::open(&self.path).unwrap()
    }

    fn launcher(&self) -> LocalLauncher {
        LocalLauncher::open(&self.path)
            .unwrap()
            .with_playbooks(PLAYBOOKS)
    }
}
