//! Debian's headless Chromium, driven through chromedriver, at the size of a small phone.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use passage::domain::Language;
use serde_json::json;

use super::smtp::free_port;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// 360 × 740: the smallest phone the pages are built for.
pub const WIDTH: u32 = 360;
pub const HEIGHT: u32 = 740;

/// A chromedriver of the test's own, stopped when dropped.
pub struct Driver {
    port: u16,
    _child: tokio::process::Child,
}

impl Driver {
    /// Starts chromedriver, or returns `None` (with a loud note) when Chromium is not
    /// installed outside CI. Under `CI=true` a missing browser fails the test.
    pub async fn start() -> Option<Driver> {
        let installed =
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
        if !installed {
            if super::in_ci() {
                panic!(
                    "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install -y chromium chromium-driver"
                );
            }
            eprintln!(
                "SKIPPED: the browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install -y chromium chromium-driver)"
            );
            return None;
        }
        let port = free_port();
        let child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Driver {
                    port,
                    _child: child,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start listening on port {port}");
    }

    /// A new browser whose preferred language is `language`, at phone size.
    pub async fn browser(&self, language: Language) -> Client {
        self.browser_sized(language, WIDTH, HEIGHT).await
    }

    /// A new browser whose preferred language is `language`, with a `width` × `height`
    /// viewport (600 px: the width mail clients give an email).
    pub async fn browser_sized(&self, language: Language, width: u32, height: u32) -> Client {
        let accept = match language {
            Language::Fr => "fr-CA,fr",
            Language::En => "en-CA,en",
        };
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                    format!("--lang={}", language.as_str()),
                ],
                "prefs": {"intl.accept_languages": accept},
                // A desktop window cannot be narrower than 500 px; the phone's own
                // metrics make the viewport (and the screenshots) exactly 360 × 740.
                "mobileEmulation": {
                    "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true},
                },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}
