//! Archivist's integration tests: one test binary, driving the real
//! `archivist` binary and the library's public API against a
//! Cablecast-shaped demo station on loopback and real SQLite files.

mod support;

mod alerts;
mod alerts_mail;
mod alerts_urls;
mod bench;
mod cablecast_truth;
mod core_cli;
mod core_https;
mod core_monitor;
mod core_scale;
mod deploy_backup;
mod deploy_service;
mod deploy_support;
mod export;
mod faults_cablecast;
mod faults_config;
mod faults_crash;
mod faults_database;
mod faults_secrets;
mod faults_web;
mod loadtest;
mod ops_view;
mod release;
mod schema_upgrade;
mod service_messages;
mod service_stop;
mod tidy;
mod transcriptions;

mod web_api;
mod web_browser;
mod web_cli;
mod web_history;
mod web_load;
mod web_support;
