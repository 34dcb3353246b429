use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), socless_events::lambda::Error> {
    socless_events::lambda::run(|alert: Value| {
        json!({
            "event_type": alert["alert_name"],
            "playbook": alert["response_plan"],
            "details": alert["details"],
        })
    })
    .await
}
