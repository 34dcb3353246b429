//! Items in DynamoDB use native types, as boto3 writes them for the original.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::fixture::{AwsFixture, Fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_are_native_dynamodb_types() {
    let fixture = AwsFixture::new().await;
    let input = json!({
        "event_type": "Types",
        "playbook": "InvestigateLogin",
        "details": {"latitude": 34.7725, "count": 20, "ok": true, "none": null, "list": ["a", 1.5], "map": {"k": "v"}},
    });
    let output = fixture.creator().create_events(&input).await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&fixture.config());
    let item = client
        .get_item()
        .table_name(&fixture.tables.events)
        .key(
            "id",
            AttributeValue::S(output.events[0].metadata.id.clone()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "created_at",
            "data_types",
            "details",
            "event_meta",
            "event_type",
            "id",
            "investigation_id",
            "is_duplicate",
            "playbook",
            "status_"
        ]
    );
    assert_eq!(item["is_duplicate"], AttributeValue::Bool(false));
    assert_eq!(item["status_"], AttributeValue::S("open".into()));
    assert_eq!(item["data_types"], AttributeValue::M(Default::default()));
    let AttributeValue::M(details) = &item["details"] else {
        panic!("details is not a map: {:?}", item["details"]);
    };
    assert_eq!(details["latitude"], AttributeValue::N("34.7725".into()));
    assert_eq!(details["count"], AttributeValue::N("20".into()));
    assert_eq!(details["ok"], AttributeValue::Bool(true));
    assert_eq!(details["none"], AttributeValue::Null(true));
    assert_eq!(
        details["list"],
        AttributeValue::L(vec![
            AttributeValue::S("a".into()),
            AttributeValue::N("1.5".into())
        ])
    );
    assert_eq!(
        details["map"],
        AttributeValue::M([("k".to_owned(), AttributeValue::S("v".into()))].into())
    );
}
