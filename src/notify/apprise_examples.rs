//! Apprise's documented example URLs for every service Archivist sends to
//! (<https://appriseit.com/services/>: ntfy, slack, discord, json, msteams,
//! workflows, email; the `{placeholders}` filled with the values the pages
//! themselves assume), each parsed and, for the webhooks, delivered to a
//! receiver on loopback that checks the request: the path and query the
//! service documents, the headers (Authorization), and the payload's
//! documented fields. A URL whose service lives at a fixed origin
//! (hooks.slack.com, discord.com, ntfy.sh, ...) is checked to name exactly
//! that origin, then delivered with only the origin swapped for the
//! receiver's. Mail is delivered to a real SMTP server in
//! `tests/alerts_mail.rs`.

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use crate::notify::destination::{Destination, Format};
    use crate::notify::format::{Event, Notification, PAYLOAD_VERSION};
    use crate::notify::send::deliver;
    use crate::outbound::mail::Security;

    /// One request the receiver got.
    struct Got {
        path: String,
        headers: Vec<(String, String)>,
        body: Value,
    }

    impl Got {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn notification() -> Notification {
        Notification {
            version: PAYLOAD_VERSION,
            event: Event::Firing,
            kind: "vod_failed".into(),
            alert_id: "vod_failed-7-1".into(),
            alert_ids: vec!["vod_failed-7-1".into()],
            title: "1 VOD failed".into(),
            message: "Council meeting: encoder error".into(),
            at: "2026-12-01T10:00:00Z".into(),
            station: "WXYZ".into(),
            host: "box".into(),
            status_url: Some("https://archivist.example.org/".into()),
            count: 1,
            alerts: vec![],
            reminder: false,
        }
    }

    /// Delivers through `destination` with its origin swapped for a loopback
    /// receiver's; returns what the receiver got (one request per target).
    fn deliver_to_loopback(mut destination: Destination) -> Vec<Got> {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("a loopback port");
        let addr = server.server_addr().to_ip().expect("an IP address");
        let rest = destination
            .post_url
            .split_once("://")
            .map(|(_, r)| r.to_string())
            .expect("a URL");
        let path = &rest[rest.find('/').expect("a path")..];
        destination.post_url = format!("http://{addr}{path}");
        destination.pin = None;
        let expected = destination.targets.len().max(1);
        std::thread::scope(|scope| {
            let sender = scope.spawn(|| deliver(&destination, &notification()));
            let mut got = Vec::new();
            for _ in 0..expected {
                let mut request = server
                    .recv_timeout(Duration::from_secs(20))
                    .expect("receives")
                    .expect("a request within 20 s");
                let mut body = String::new();
                request
                    .as_reader()
                    .read_to_string(&mut body)
                    .expect("a body");
                got.push(Got {
                    path: request.url().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| (h.field.to_string(), h.value.to_string()))
                        .collect(),
                    body: serde_json::from_str(&body).expect("JSON"),
                });
                request
                    .respond(tiny_http::Response::from_string("ok"))
                    .expect("answered");
            }
            sender.join().expect("sender").expect("delivered");
            got
        })
    }

    /// The documented fields of each format's payload.
    fn check_payload(format: Format, got: &Got) {
        assert!(got
            .header("Content-Type")
            .is_some_and(|c| c.starts_with("application/json")));
        assert!(got
            .header("User-Agent")
            .is_some_and(|a| a.starts_with("archivist/")));
        let v = &got.body;
        match format {
            // https://docs.ntfy.sh/publish/#publish-as-json
            Format::Ntfy => {
                assert!(v["topic"].is_string(), "{v}");
                assert_eq!(v["title"], "[FIRING] 1 VOD failed", "{v}");
                assert!(v["message"]
                    .as_str()
                    .expect("message")
                    .contains("encoder error"));
            }
            // https://api.slack.com/messaging/webhooks
            Format::Slack => {
                assert!(
                    v["text"]
                        .as_str()
                        .expect("text")
                        .contains("[FIRING] 1 VOD failed"),
                    "{v}"
                );
            }
            // https://discord.com/developers/docs/resources/webhook#execute-webhook
            Format::Discord => {
                assert_eq!(v["embeds"][0]["title"], "[FIRING] 1 VOD failed", "{v}");
                assert!(v.get("content").is_none(), "{v}");
            }
            // Teams: a message with an Adaptive Card, as Apprise's Workflows sends.
            Format::Teams => {
                assert_eq!(v["type"], "message", "{v}");
                assert_eq!(
                    v["attachments"][0]["contentType"],
                    "application/vnd.microsoft.card.adaptive"
                );
                assert_eq!(v["attachments"][0]["content"]["type"], "AdaptiveCard");
            }
            Format::Generic => {
                assert_eq!(v["version"], 1, "{v}");
                assert_eq!(v["kind"], "vod_failed", "{v}");
            }
            Format::Email => unreachable!("mail is not posted"),
        }
    }

    /// An example URL, what it must be read as, and what each request carries.
    struct Example {
        url: &'static str,
        format: Format,
        /// Where it posts (origin, path and query).
        post_url: &'static str,
        /// The path and query the receiver sees.
        path: &'static str,
        /// ntfy topics or Slack channels, one request each.
        targets: &'static [&'static str],
        authorization: Option<&'static str>,
    }

    const fn example(
        url: &'static str,
        format: Format,
        post_url: &'static str,
        path: &'static str,
    ) -> Example {
        Example {
            url,
            format,
            post_url,
            path,
            targets: &[],
            authorization: None,
        }
    }

    fn webhook_examples() -> Vec<Example> {
        vec![
            // ntfy (https://appriseit.com/services/ntfy/)
            Example {
                targets: &["great-place"],
                ..example("ntfy://great-place", Format::Ntfy, "https://ntfy.sh/", "/")
            },
            Example {
                targets: &["great-place"],
                ..example("ntfy://localhost/great-place", Format::Ntfy, "http://localhost/", "/")
            },
            Example {
                targets: &["great-place"],
                ..example(
                    "ntfy://localhost/great-place?format=markdown",
                    Format::Ntfy,
                    "http://localhost/",
                    "/",
                )
            },
            Example {
                targets: &["mytopic"],
                ..example(
                    "ntfy://localhost/mytopic?priority=high&xtags=warning,storage",
                    Format::Ntfy,
                    "http://localhost/",
                    "/",
                )
            },
            Example {
                targets: &["great-topic"],
                ..example("ntfys://localhost/great-topic", Format::Ntfy, "https://localhost/", "/")
            },
            Example {
                targets: &["topic1", "topic2"],
                authorization: Some("Basic dXNlcjo="),
                ..example(
                    "ntfy://user@ntfy.example.org:8080/topic1/topic2",
                    Format::Ntfy,
                    "http://ntfy.example.org:8080/",
                    "/",
                )
            },
            Example {
                targets: &["alerts"],
                authorization: Some("Basic dXNlcjpwYXNzd29yZA=="),
                ..example(
                    "ntfys://user:password@ntfy.example.org/alerts",
                    Format::Ntfy,
                    "https://ntfy.example.org/",
                    "/",
                )
            },
            Example {
                targets: &["alerts"],
                authorization: Some("Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"),
                ..example(
                    "ntfys://tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2@ntfy.example.org/alerts",
                    Format::Ntfy,
                    "https://ntfy.example.org/",
                    "/",
                )
            },
            Example {
                targets: &["alerts"],
                authorization: Some("Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"),
                ..example(
                    "ntfys://ntfy.example.org/alerts?token=tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2",
                    Format::Ntfy,
                    "https://ntfy.example.org/",
                    "/",
                )
            },
            // Shoutrrr's token form, which Apprise does not write otherwise.
            Example {
                targets: &["alerts"],
                authorization: Some("Bearer tk_shoutrrr0token"),
                ..example(
                    "ntfys://:tk_shoutrrr0token@ntfy.example.org/alerts",
                    Format::Ntfy,
                    "https://ntfy.example.org/",
                    "/",
                )
            },
            // Slack (https://appriseit.com/services/slack/)
            example(
                "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                Format::Slack,
                "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
            ),
            example(
                "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                Format::Slack,
                "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
            ),
            Example {
                targets: &["#general"],
                ..example(
                    "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F/#general",
                    Format::Slack,
                    "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                    "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                )
            },
            Example {
                targets: &["@U123", "#alerts", "C0123"],
                ..example(
                    "slack://Archivist@T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F/@U123/#alerts/+C0123",
                    Format::Slack,
                    "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                    "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                )
            },
            example(
                "slack://seg1/seg2/seg3/seg4/?mode=workflow",
                Format::Slack,
                "https://hooks.slack.com/workflows/seg1/seg2/seg3/seg4",
                "/workflows/seg1/seg2/seg3/seg4",
            ),
            example(
                "slack://seg1/seg2/seg3/?mode=trigger",
                Format::Slack,
                "https://hooks.slack.com/triggers/seg1/seg2/seg3",
                "/triggers/seg1/seg2/seg3",
            ),
            // Discord (https://appriseit.com/services/discord/)
            example(
                "discord://417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js/",
                Format::Discord,
                "https://discord.com/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
                "/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
            ),
            example(
                "discord://Archivist@417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
                Format::Discord,
                "https://discord.com/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
                "/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
            ),
            example(
                "https://discord.com/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
                Format::Discord,
                "https://discord.com/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
                "/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
            ),
            // JSON (https://appriseit.com/services/json/)
            example("json://localhost", Format::Generic, "http://localhost/", "/"),
            example(
                "json://localhost:8080/path/",
                Format::Generic,
                "http://localhost:8080/path/",
                "/path/",
            ),
            Example {
                authorization: Some("Basic dXNlcjpwYXNzd29yZA=="),
                ..example(
                    "jsons://user:password@hooks.example.org/notify?+X-Station=WXYZ&-source=archivist",
                    Format::Generic,
                    "https://hooks.example.org/notify?source=archivist",
                    "/notify?source=archivist",
                )
            },
            // Microsoft Teams (https://appriseit.com/services/msteams/)
            example(
                "msteams:///Apprise/T1JJ3T3L2@DEFK543/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F/",
                Format::Teams,
                "https://Apprise.webhook.office.com/webhookb2/T1JJ3T3L2@DEFK543/IncomingWebhook/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                "/webhookb2/T1JJ3T3L2@DEFK543/IncomingWebhook/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
            ),
            example(
                "msteams://T1JJ3T3L2@DEFK543/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F/",
                Format::Teams,
                "https://outlook.office.com/webhook/T1JJ3T3L2@DEFK543/IncomingWebhook/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
                "/webhook/T1JJ3T3L2@DEFK543/IncomingWebhook/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
            ),
            example(
                "https://team-name.webhook.office.com/webhookb2/abcd@wxyz/IncomingWebhook/defg/hijk",
                Format::Teams,
                "https://team-name.webhook.office.com/webhookb2/abcd@wxyz/IncomingWebhook/defg/hijk",
                "/webhookb2/abcd@wxyz/IncomingWebhook/defg/hijk",
            ),
            // Power Automate / Workflows (https://appriseit.com/services/workflows/)
            example(
                "workflows:///prod-site.logic.azure.com:443/T1JJ3T3L2@DEFK543/TIiajkdnlazkcOXrIdevi7F/",
                Format::Teams,
                "https://prod-site.logic.azure.com:443/workflows/T1JJ3T3L2%40DEFK543/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TIiajkdnlazkcOXrIdevi7F",
                "/workflows/T1JJ3T3L2%40DEFK543/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TIiajkdnlazkcOXrIdevi7F",
            ),
            example(
                "https://prod-site.logic.azure.com:443/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sig456",
                Format::Teams,
                "https://prod-site.logic.azure.com:443/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sig456",
                "/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sig456",
            ),
        ]
    }

    #[test]
    fn apprise_webhook_examples_post_the_documented_request_to_the_documented_place() {
        for example in webhook_examples() {
            let destination =
                Destination::parse(example.url).unwrap_or_else(|e| panic!("{}: {e}", example.url));
            assert_eq!(destination.format, example.format, "{}", example.url);
            assert_eq!(destination.post_url, example.post_url, "{}", example.url);
            assert_eq!(destination.targets, example.targets, "{}", example.url);
            let got = deliver_to_loopback(destination);
            assert_eq!(got.len(), example.targets.len().max(1), "{}", example.url);
            for (n, request) in got.iter().enumerate() {
                assert_eq!(request.path, example.path, "{}", example.url);
                assert_eq!(
                    request.header("Authorization"),
                    example.authorization,
                    "{}",
                    example.url
                );
                check_payload(example.format, request);
                let target = example.targets.get(n).copied();
                match example.format {
                    Format::Ntfy => assert_eq!(request.body["topic"], target.unwrap_or_default()),
                    Format::Slack => assert_eq!(
                        request.body.get("channel").and_then(Value::as_str),
                        target,
                        "{}",
                        example.url
                    ),
                    _ => {}
                }
            }
            if example.url.contains("Archivist@") {
                assert_eq!(got[0].body["username"], "Archivist", "{}", example.url);
            }
            if example.url.contains("+X-Station=") {
                assert_eq!(got[0].header("X-Station"), Some("WXYZ"));
            }
        }
    }

    #[test]
    fn apprise_mail_examples_name_the_server_port_and_tls_apprise_would_use() {
        let cases = [
            ("mailto://userid:password@gmail.com", "smtp.gmail.com", 587, Security::StartTls, "userid@gmail.com"),
            ("mailtos://userid:password@yahoo.com", "smtp.mail.yahoo.com", 465, Security::ImplicitTls, "userid@yahoo.com"),
            ("mailtos://userid:password@fastmail.com", "smtp.fastmail.com", 465, Security::ImplicitTls, "userid@fastmail.com"),
            ("mailtos://user:pass@example.com?smtp=smtp.example.com&from=noreply@example.com&to=ops@example.com", "smtp.example.com", 587, Security::StartTls, "ops@example.com"),
            ("mailtos://user:pass@example.com?smtp=smtp.example.com&mode=ssl", "smtp.example.com", 465, Security::ImplicitTls, "user@example.com"),
            ("mailto://example.com:25/ops@example.com?mode=insecure", "example.com", 25, Security::None, "ops@example.com"),
        ];
        for (url, host, port, security, to) in cases {
            let destination = Destination::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            let mail = destination.mail.expect("mail");
            assert_eq!(
                (
                    mail.host.as_str(),
                    mail.port,
                    mail.security,
                    mail.to[0].as_str()
                ),
                (host, port, security, to),
                "{url}"
            );
        }
    }

    #[test]
    fn apprise_forms_archivist_does_not_send_are_refused_with_what_it_expects() {
        for url in [
            "slack://xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d/#general",
            "json://localhost/?:sound=oceanwave",
            "mailto://user:pass@relay.example.org:25/?mode=insecure&to=ops@example.org",
        ] {
            let e = Destination::parse(url).expect_err(url).to_string();
            assert!(!e.contains("4ddbc191") && !e.contains("pass@"), "{e}");
            assert!(
                e.contains("for example") || e.contains("JSON") || e.contains("login=unencrypted"),
                "{url}: {e}"
            );
        }
    }
}
