//! What the tests read back, and the one state they change, that `create_events` never does:
//! the results item, an execution's input and an investigation's status. `EventStore` and
//! `PlaybookLauncher` hold only what `create_events` calls, so each backend has these as
//! inherent methods; these traits let the generic suite reach them, and the wrappers pass
//! them on.

use std::future::Future;

use serde_json::Value;
#[cfg(feature = "aws")]
use socless_events::{AwsLauncher, AwsStore};
use socless_events::{Error, EventStore, JsonObject, PlaybookLauncher, Status};
#[cfg(feature = "local")]
use socless_events::{LocalLauncher, LocalStore};

/// A store whose results items and investigation statuses the tests can reach.
pub(crate) trait InspectStore: EventStore {
    /// The results item of `execution_id`, as JSON.
    fn results(
        &self,
        execution_id: &str,
    ) -> impl Future<Output = Result<Option<JsonObject>, Error>> + Send;

    /// Sets `status_` of the event `investigation_id`, as Socless' `SetInvestigationStatus`
    /// does; fails if there is no such event.
    fn set_investigation_status(
        &self,
        investigation_id: &str,
        status: Status,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A launcher whose started executions the tests can read back.
pub(crate) trait InspectLauncher: PlaybookLauncher {
    /// The input of execution `name` of `state_machine_arn`, if it was started.
    fn execution_input(
        &self,
        state_machine_arn: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Value>, Error>> + Send;
}

/// Implements the traits for a backend with its inherent methods.
macro_rules! inspect_through_inherent_methods {
    ($store:ty, $launcher:ty) => {
        impl InspectStore for $store {
            fn results(
                &self,
                execution_id: &str,
            ) -> impl Future<Output = Result<Option<JsonObject>, Error>> + Send {
                <$store>::results(self, execution_id)
            }

            fn set_investigation_status(
                &self,
                investigation_id: &str,
                status: Status,
            ) -> impl Future<Output = Result<(), Error>> + Send {
                <$store>::set_investigation_status(self, investigation_id, status)
            }
        }

        impl InspectLauncher for $launcher {
            fn execution_input(
                &self,
                state_machine_arn: &str,
                name: &str,
            ) -> impl Future<Output = Result<Option<Value>, Error>> + Send {
                <$launcher>::execution_input(self, state_machine_arn, name)
            }
        }
    };
}

#[cfg(feature = "aws")]
inspect_through_inherent_methods!(AwsStore, AwsLauncher);
#[cfg(feature = "local")]
inspect_through_inherent_methods!(LocalStore, LocalLauncher);
