//! `warden alerting`: the alert evaluator as its own process. It follows
//! the configured log and bus like a server's, evaluates the rules and
//! appends what fires, and delivers it (one node at a time), until
//! SIGTERM or Ctrl-C. Servers then run with
//! `alert_evaluator = "separate"`; should both run, an alert still fires
//! once (decision 0014).

use std::process::ExitCode;

use warden_alerting::deliver::DeliveryConfig;

use crate::config::Config;
use crate::node::Node;

pub async fn run(config: &Config) -> Result<ExitCode, String> {
    let mut node = Node::start(config).await.map_err(|e| e.to_string())?;
    node.start_alerting().await.map_err(|e| e.to_string())?;
    node.start_delivery(DeliveryConfig {
        console_url: config.web.public_url(config.listen),
        ..config.alerting.delivery.clone()
    })
    .map_err(|e| e.to_string())?;
    tracing::info!("alert evaluator running");
    crate::server::shutdown_signal().await;
    node.stop().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
