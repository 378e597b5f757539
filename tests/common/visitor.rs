//! A browser without a browser, for the pages' tests outside `tests/web.rs` (the same as
//! its own): keeps cookies, follows no redirects, reads the CSRF token from the last page
//! and posts forms from the same origin.

use std::collections::HashMap;

use reqwest::header::{HeaderMap, SET_COOKIE};

use super::{PASSWORD, TestApp};

pub struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    pub csrf: String,
    accept_language: String,
}

pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the hidden input `name` on the page.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).map(|i| i + marker.len());
        start
            .and_then(|s| {
                self.body[s..]
                    .find('"')
                    .map(|e| self.body[s..s + e].to_string())
            })
            .unwrap_or_default()
    }

    /// The page's text as a reader sees it: tags gone, entities read, spaces squeezed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for ch in self.body.chars() {
            match ch {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                _ if !in_tag => out.push(ch),
                _ => {}
            }
        }
        let out = out
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&amp;", "&")
            .replace('\u{a0}', " ");
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

impl Visitor {
    pub fn new(app: &TestApp, accept_language: &str) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: HashMap::new(),
            csrf: String::new(),
            accept_language: accept_language.into(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let cookie = value.to_str().unwrap();
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        let body = response.text().await.unwrap();
        let page = Page {
            status,
            headers,
            body,
        };
        let csrf = page.hidden("csrf");
        if !csrf.is_empty() {
            self.csrf = csrf;
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", &self.accept_language)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Posts a form as a page of Passage would: with the CSRF token and from the same
    /// origin.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(String, String)> = vec![("csrf".into(), self.csrf.clone())];
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", &self.accept_language)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Signs in with [`PASSWORD`]; the answer is the sign-in's redirect.
    pub async fn sign_in(&mut self, email: &str) -> Page {
        self.get("/signin").await;
        self.post(
            "/signin",
            &[("email", email), ("password", PASSWORD), ("next", "/")],
        )
        .await
    }

    /// Switches the pages' language (`fr` or `en`).
    pub async fn speak(&mut self, language: &str) {
        self.get("/").await;
        let page = self
            .post("/language", &[("lang", language), ("back", "/")])
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
    }
}
