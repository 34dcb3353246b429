//! One behavioural suite, three backends: a [`Fixture`] hands out fresh handles to a store and
//! a launcher that share the same data (tables on a moto server or on the in-memory AWS
//! stand-in, through the real SDK clients; or one SQLite file).

#[cfg(feature = "local")]
use std::path::PathBuf;
#[cfg(feature = "aws")]
use std::sync::Arc;

#[cfg(feature = "aws")]
use socless_events::{AwsLauncher, AwsStore, TableNames};
use socless_events::{EventCreator, StateMachineArns};
#[cfg(feature = "local")]
use socless_events::{LocalLauncher, LocalStore};

use crate::inspect::{InspectLauncher, InspectStore};
#[cfg(feature = "aws")]
use crate::moto::moto;
#[cfg(feature = "aws")]
use testkit::aws::moto::{self as local_aws, MotoServer};
#[cfg(feature = "aws")]
use testkit::aws::standin::AwsStandIn;

#[cfg(feature = "aws")]
pub(crate) use testkit::aws::moto::{ACCOUNT, sdk_config as moto_config};
/// The account of the state machines (moto's, which the local fixture uses too).
#[cfg(not(feature = "aws"))]
pub(crate) const ACCOUNT: &str = "123456789012";

/// The playbooks every fixture deploys; any other name is not deployed.
pub(crate) const PLAYBOOKS: [&str; 2] = ["ParamsToStateMachineTester", "InvestigateLogin"];

pub(crate) trait Fixture: Send + Sync {
    type Store: InspectStore + Clone + 'static;
    type Launcher: InspectLauncher + Clone + 'static;

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

/// Where an [`AwsFixture`]'s tables and state machines are.
#[cfg(feature = "aws")]
pub(crate) enum LocalAws {
    /// The moto server the running tests share: the reference for AWS's behaviour.
    Moto(Arc<MotoServer>),
    /// This fixture's own in-memory stand-in (`testkit::aws::standin`).
    StandIn(AwsStandIn),
}

#[cfg(feature = "aws")]
impl LocalAws {
    pub(crate) fn url(&self) -> &str {
        match self {
            LocalAws::Moto(server) => server.url(),
            LocalAws::StandIn(server) => server.url(),
        }
    }
}

#[cfg(feature = "aws")]
pub(crate) struct AwsFixture {
    pub(crate) server: LocalAws,
    pub(crate) tables: TableNames,
}

#[cfg(feature = "aws")]
impl AwsFixture {
    /// Fresh tables (unique names) and the deployed playbooks on the shared moto server.
    pub(crate) async fn new() -> Self {
        Self::on(LocalAws::Moto(moto())).await
    }

    /// The same on a new in-memory stand-in.
    pub(crate) async fn stand_in() -> Self {
        let server = AwsStandIn::start().await.unwrap();
        Self::on(LocalAws::StandIn(server)).await
    }

    async fn on(server: LocalAws) -> Self {
        let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
        let tables = TableNames::new(
            format!("{prefix}_socless_events"),
            format!("{prefix}_socless_dedup"),
            format!("{prefix}_socless_execution_results"),
        );
        let config = moto_config(server.url());
        local_aws::create_tables(&config, &tables.events, &tables.dedup, &tables.results).await;
        deploy_playbooks(&config).await;
        Self { server, tables }
    }

    pub(crate) fn config(&self) -> aws_config::SdkConfig {
        moto_config(self.server.url())
    }
}

#[cfg(feature = "aws")]
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

/// Deploys [`PLAYBOOKS`] on the local server.
#[cfg(feature = "aws")]
pub(crate) async fn deploy_playbooks(config: &aws_config::SdkConfig) {
    local_aws::deploy_playbooks(config, &PLAYBOOKS).await;
}

#[cfg(feature = "local")]
pub(crate) struct LocalFixture {
    pub(crate) path: PathBuf,
}

#[cfg(feature = "local")]
impl LocalFixture {
    pub(crate) async fn new() -> Self {
        Self {
            path: temp_sqlite(),
        }
    }
}

/// A unique SQLite path in the temp dir (removed by [`remove_sqlite`]).
#[cfg(feature = "local")]
pub(crate) fn temp_sqlite() -> PathBuf {
    std::env::temp_dir().join(format!(
        "socless-it-{}.sqlite",
        uuid::Uuid::new_v4().simple()
    ))
}

#[cfg(feature = "local")]
pub(crate) fn remove_sqlite(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["sqlite-journal", "sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(path.with_extension(suffix));
    }
}

#[cfg(feature = "local")]
impl Drop for LocalFixture {
    fn drop(&mut self) {
        remove_sqlite(&self.path);
    }
}

#[cfg(feature = "local")]
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
