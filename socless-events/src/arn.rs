//! State machine ARNs: `arn:<partition>:states:<region>:<account>:stateMachine:<playbook>`.

use crate::error::Error;

/// Environment variable holding the region (set by Lambda).
pub const REGION_ENV: &str = "AWS_REGION";

/// The account of the embedded backend's state machines when nothing names one.
pub const LOCAL_ACCOUNT_ID: &str = "000000000000";
/// The region of the embedded backend's state machines when `AWS_REGION` is unset.
pub const LOCAL_REGION: &str = "us-east-1";

/// Where playbooks live: partition, region and account of their state machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineArns {
    partition: String,
    region: String,
    account_id: String,
}

impl StateMachineArns {
    /// Playbooks in `region` of `account_id`; the partition follows the region.
    pub fn new(region: impl Into<String>, account_id: impl Into<String>) -> Result<Self, Error> {
        let region = region.into();
        let account_id = account_id.into();
        if region.is_empty() || region.contains(':') {
            return Err(Error::Config(format!("invalid region {region:?}")));
        }
        if account_id.is_empty() || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Config(format!("invalid account id {account_id:?}")));
        }
        Ok(Self {
            partition: partition_for_region(&region).to_owned(),
            region,
            account_id,
        })
    }

    /// Playbooks in `region` of the account and partition that own the Lambda function
    /// `function_arn` (the invoking function's ARN, as in the Lambda context). The partition
    /// is the function's, so partitions no region table knows (`aws-eusc`, ...) work too.
    pub fn from_function_arn(region: impl Into<String>, function_arn: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = function_arn.split(':').collect();
        match parts.as_slice() {
            ["arn", partition, "lambda", _, account, "function", name, ..]
                if !name.is_empty() && is_partition(partition) =>
            {
                let mut arns = Self::new(region, *account)?;
                arns.partition = (*partition).to_owned();
                Ok(arns)
            }
            _ => Err(Error::Config(format!(
                "not a Lambda function ARN: {function_arn:?}"
            ))),
        }
    }

    /// Like [`StateMachineArns::from_function_arn`], with the region from `AWS_REGION`.
    pub fn from_env(function_arn: &str) -> Result<Self, Error> {
        let region = std::env::var(REGION_ENV)
            .map_err(|_| Error::Config(format!("{REGION_ENV} is not set")))?;
        Self::from_function_arn(region, function_arn)
    }

    /// The ARN of `playbook`'s state machine.
    pub fn arn(&self, playbook: &str) -> String {
        format!(
            "arn:{}:states:{}:{}:stateMachine:{playbook}",
            self.partition, self.region, self.account_id
        )
    }

    /// The partition (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
}

/// Whether `text` can be an ARN's partition: `aws`, or `aws-` and lowercase letters, digits
/// and hyphens.
fn is_partition(text: &str) -> bool {
    text == "aws"
        || text.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The AWS partition a region belongs to (by its prefix; unknown regions are in `aws`).
/// [`StateMachineArns::from_function_arn`] takes the partition from the function's ARN
/// instead, which is always right.
pub fn partition_for_region(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// The execution ARN of execution `name` of the state machine `state_machine_arn`.
#[cfg(any(feature = "aws", feature = "local"))]
pub(crate) fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(region: &str, expected: &str) {
        let arns = StateMachineArns::new(region, "123456789012").unwrap();
        assert_eq!(arns.arn("Pb"), expected);
    }

    #[test]
    fn partitions_follow_the_region() {
        check(
            "us-east-1",
            "arn:aws:states:us-east-1:123456789012:stateMachine:Pb",
        );
        check(
            "eu-west-3",
            "arn:aws:states:eu-west-3:123456789012:stateMachine:Pb",
        );
        check(
            "cn-north-1",
            "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:Pb",
        );
        check(
            "us-gov-west-1",
            "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:Pb",
        );
        check(
            "us-iso-east-1",
            "arn:aws-iso:states:us-iso-east-1:123456789012:stateMachine:Pb",
        );
        check(
            "us-isob-east-1",
            "arn:aws-iso-b:states:us-isob-east-1:123456789012:stateMachine:Pb",
        );
    }

    #[test]
    fn account_comes_from_the_function_arn() {
        let arns = StateMachineArns::from_function_arn(
            "us-east-1",
            "arn:aws:lambda:us-east-1:123456789012:function:_socless_playground",
        )
        .unwrap();
        assert_eq!(
            arns.arn("ParamsToStateMachineTester"),
            "arn:aws:states:us-east-1:123456789012:stateMachine:ParamsToStateMachineTester"
        );
        let sovereign = StateMachineArns::from_function_arn(
            "eusc-de-east-1",
            "arn:aws-eusc:lambda:eusc-de-east-1:123456789012:function:endpoint",
        )
        .unwrap();
        assert_eq!(
            sovereign.arn("Pb"),
            "arn:aws-eusc:states:eusc-de-east-1:123456789012:stateMachine:Pb"
        );
        let china = StateMachineArns::from_function_arn(
            "cn-north-1",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
        )
        .unwrap();
        assert_eq!(china.partition(), "aws-cn");
        let aliased = "arn:aws:lambda:us-east-1:210987654321:function:f:live";
        let arns = StateMachineArns::from_function_arn("us-east-1", aliased).unwrap();
        assert_eq!(arns.account_id(), "210987654321");
    }

    #[test]
    fn bad_inputs_are_config_errors() {
        for arn in [
            "",
            "arn:aws:lambda",
            "arn:aws:s3:us-east-1:1:function:f",
            "arn:aws:lambda:r::function:f",
            "arn:gcp:lambda:r:1:function:f",
            "arn:aws-:lambda:r:1:function:f",
        ] {
            assert!(
                StateMachineArns::from_function_arn("us-east-1", arn).is_err(),
                "{arn}"
            );
        }
        assert!(StateMachineArns::new("", "1").is_err());
        assert!(StateMachineArns::new("us-east-1", "12x").is_err());
    }

    #[cfg(any(feature = "aws", feature = "local"))]
    #[test]
    fn execution_arn_replaces_the_resource_type() {
        assert_eq!(
            execution_arn("arn:aws:states:us-east-1:1:stateMachine:Pb", "x-1"),
            "arn:aws:states:us-east-1:1:execution:Pb:x-1"
        );
    }
}
