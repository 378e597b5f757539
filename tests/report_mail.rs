//! Donor report emails through a real SMTP server (aiosmtpd) and the signed links in
//! them, on both engines: each donor gets each report once, in their language, with
//! their own gifts, a chart that needs no image, the hash, and an unsubscribe that works;
//! a link opens its report and the donor's gifts and nothing else; schedules draft and
//! remind.

mod common;

use chrono::Duration;
use common::TestDb;
use common::fund::Fund;
use common::smtp::{SmtpSink, free_port, parse};
use passage::clock::Clock;
use serde_json::{Value, json};

/// Waits until the outbox has nothing left to send and the SMTP server holds `count`
/// messages: every mail leaves through the outbox, so once it is empty nothing else can
/// arrive, and the count is final (waiting on that, never on a guessed time).
async fn wait_for(db: &passage::store::Db, sink: &SmtpSink, count: usize) -> Vec<Value> {
    common::wait_until(&format!("{count} messages to be sent"), async || {
        passage::mail::pending_count(db).await.unwrap() == 0 && sink.received().len() >= count
    })
    .await;
    sink.received().iter().map(|m| parse(m)).collect()
}

fn link(text: &str, marker: &str) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

fn token_of(url: &str) -> String {
    url.split("token=")
        .nth(1)
        .unwrap()
        .trim_end_matches('>')
        .to_string()
}

/// November: two donors (one French, one English) and a third; hotels and buses.
async fn sealed_november(f: &mut Fund) -> (String, [String; 3]) {
    let anne = f.donor("Fondation Anne", "anne@example.org", "fr").await;
    let bob = f.donor("Bob Fund", "bob@example.org", "en").await;
    let cleo = f.donor("Cleo Trust", "cleo@example.org", "en").await;
    f.give(&anne, "25000.00").await;
    f.give(&anne, "1234.56").await;
    f.give(&bob, "7777.77").await;
    for _ in 0..5 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..6 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    f.go_to(2026, 12, 2, 9).await;
    let report = f.draft("2026-11-01", "2026-11-30").await;
    let id = report["id"].as_str().unwrap().to_string();
    // Not before it is sealed and co-signed.
    let (s, e) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    f.seal(&id).await;
    (id, [anne, bob, cleo])
}

async fn each_donor_gets_the_report_once_in_their_language_and_can_unsubscribe(t: TestDb) {
    let sink = SmtpSink::start(free_port()).await;
    let url = sink.url();
    let mut f = Fund::with(
        t,
        &[
            ("PASSAGE_SMTP_URL", &url),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
            ("PASSAGE_BASE_URL", "https://passage.example.org"),
        ],
    )
    .await;
    let (id, [anne, _bob, _cleo]) = sealed_november(&mut f).await;
    let send = format!("/api/v1/reports/{id}/send");
    let (s, first) = f.post(&send, &f.treasurer, json!({})).await;
    assert_eq!(s, 202, "{first}");
    assert_eq!(
        first,
        json!({"queued": 3, "already_queued": 0, "unsubscribed": 0})
    );
    let (s, again) = f.post(&send, &f.second_treasurer, json!({})).await;
    assert_eq!(s, 202, "{again}");
    assert_eq!(
        again,
        json!({"queued": 0, "already_queued": 3, "unsubscribed": 0})
    );

    let mails = wait_for(&f.app.db.db, &sink, 3).await;
    assert_eq!(mails.len(), 3, "one email per donor, never two");
    let (_, report) = f.get(&format!("/api/v1/reports/{id}"), &f.treasurer).await;
    let hash = report["hash"].as_str().unwrap();
    let to = |m: &Value| m["headers"]["To"].as_str().unwrap().to_string();
    let anne_mail = mails.iter().find(|m| to(m).contains("anne@")).unwrap();
    let bob_mail = mails.iter().find(|m| to(m).contains("bob@")).unwrap();
    for m in &mails {
        assert_eq!(m["types"][0], "multipart/alternative", "{m}");
        let (text, html) = (m["text"].as_str().unwrap(), m["html"].as_str().unwrap());
        assert!(text.contains(hash) && html.contains(hash), "the hash: {m}");
        // The chart is CSS: no image, nothing fetched, no tracking.
        assert!(html.contains("class=\"bar\""), "{html}");
        assert!(!html.to_lowercase().contains("<img"), "{html}");
        assert!(!html.contains("url("), "{html}");
        for href in html.split("href=\"").skip(1) {
            assert!(href.starts_with("https://passage.example.org/"), "{href}");
        }
        assert!(!html.contains("http://"), "{html}");
        // Nothing that could point to a person.
        for secret in &f.secrets {
            assert!(
                !text.contains(secret.as_str()) && !html.contains(secret.as_str()),
                "{secret}"
            );
        }
        assert!(
            text.contains("undercount") || text.contains("sous-estiment"),
            "{text}"
        );
        let unsubscribe = m["headers"]["List-Unsubscribe"].as_str().unwrap();
        assert!(
            unsubscribe.starts_with("<https://passage.example.org/api/v1/donor/unsubscribe?token="),
            "{unsubscribe}"
        );
        assert_eq!(
            m["headers"]["List-Unsubscribe-Post"],
            "List-Unsubscribe=One-Click"
        );
    }
    // In the donor's language, with their own gifts and no one else's.
    let anne_text = anne_mail["text"].as_str().unwrap();
    assert!(
        anne_text.starts_with("Bonjour Fondation Anne"),
        "{anne_text}"
    );
    // Amounts as French writes them, as on the donor's page (grouped by non-breaking
    // spaces: "1 234,56 $").
    let fr_money = |cents| passage::i18n::money(passage::domain::Language::Fr, cents);
    assert!(
        anne_text.contains(&fr_money(123_456)) && anne_text.contains(&fr_money(2_500_000)),
        "{anne_text}"
    );
    assert!(!anne_text.contains("7777"), "{anne_text}");
    assert!(
        anne_mail["headers"]["Subject"]
            .as_str()
            .unwrap()
            .contains("du 2026-11-01 au 2026-11-30")
    );
    let bob_text = bob_mail["text"].as_str().unwrap();
    assert!(bob_text.starts_with("Hello Bob Fund"), "{bob_text}");
    assert!(
        bob_text.contains("$7,777.77") && !bob_text.contains("1,234"),
        "{bob_text}"
    );
    assert!(bob_text.contains("Hotel"), "{bob_text}");

    // The web link opens the report and Anne's gifts.
    let web = link(anne_text, "https://passage.example.org/donor/report?token=");
    let token = token_of(&web);
    let (s, page) = f
        .send(
            f.app
                .get(&format!("/api/v1/donor/report?token={token}"), None),
        )
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["hash"], hash);
    assert_eq!(page["verified"], true);
    assert_eq!(page["language"], "fr");
    assert_eq!(page["gifts_total"], "26234.56");
    assert_eq!(page["gifts"].as_array().unwrap().len(), 2);
    // The same token as a header works too.
    let (s, _) = f.get("/api/v1/donor/report", &token).await;
    assert_eq!(s, 200);

    // One-click unsubscribe (RFC 8058), as a mail client sends it.
    let header = anne_mail["headers"]["List-Unsubscribe"].as_str().unwrap();
    let target = header.trim_start_matches('<').trim_end_matches('>');
    let path = target.trim_start_matches("https://passage.example.org");
    let (s, body) = f
        .send(
            f.app
                .http
                .post(f.app.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click"),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["unsubscribed"], true);
    // Opening the link in a browser changes nothing: it shows a button.
    let r = f.app.http.get(f.app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<form method=\"post\""));
    let unsubscribed: Option<chrono::DateTime<chrono::Utc>> = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_scalar("SELECT unsubscribed_at FROM donors WHERE id = $1")
            .bind(&anne).fetch_one(p).await)
    .unwrap();
    assert!(unsubscribed.is_some());

    // A correction is sent to those still subscribed only.
    let (s, fix) = f
        .post(
            "/api/v1/reports",
            &f.treasurer,
            json!({"period_start": "2026-11-01", "period_end": "2026-11-30", "supersedes": id}),
        )
        .await;
    assert_eq!(s, 201, "{fix}");
    let fix_id = fix["id"].as_str().unwrap().to_string();
    f.seal(&fix_id).await;
    let (s, e) = f.post(&send, &f.treasurer, json!({})).await;
    assert_eq!(s, 409, "the corrected report is not sent again: {e}");
    let (s, sent) = f
        .post(
            &format!("/api/v1/reports/{fix_id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 202, "{sent}");
    assert_eq!(
        sent,
        json!({"queued": 2, "already_queued": 0, "unsubscribed": 1})
    );
    let mails = wait_for(&f.app.db.db, &sink, 5).await;
    assert_eq!(mails.len(), 5);
    f.app.stop().await;
    sink.stop().await;
}

async fn a_donor_link_opens_its_report_and_nothing_else(t: TestDb) {
    let mut f = Fund::new(t).await;
    let (id, [anne, bob, _]) = sealed_november(&mut f).await;
    let (s, _) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 202);
    // The mail folder holds the emails; read the links from the outbox rows.
    let texts: Vec<(String, String)> = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_as("SELECT to_addr, body_text FROM outbox WHERE dedupe_key LIKE 'report:%' ORDER BY to_addr")
            .fetch_all(p).await).unwrap();
    let token_for = |who: &str| {
        let text = &texts.iter().find(|(to, _)| to.starts_with(who)).unwrap().1;
        token_of(&link(text, "/donor/report?token="))
    };
    let anne_token = token_for("anne@");
    let bob_token = token_for("bob@");

    // Its report, with Anne's gifts only.
    let (s, page) = f.get("/api/v1/donor/report", &anne_token).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["id"], id.as_str());
    assert_eq!(page["gifts_total"], "26234.56");
    let (_, page) = f.get("/api/v1/donor/report", &bob_token).await;
    assert_eq!(page["gifts_total"], "7777.77");
    assert_ne!(anne, bob);

    // The web version the email links to: the same report, checked against the ledger now,
    // with Anne's gifts, in the reader's language, the chart as native bars.
    let web = f
        .app
        .http
        .get(f.app.url(&format!("/donor/report?token={anne_token}")))
        .header("accept-language", "fr-CA")
        .send()
        .await
        .unwrap();
    assert_eq!(web.status(), 200);
    let html = web.text().await.unwrap();
    assert!(
        html.contains(
            &passage::web::i18n::text(passage::domain::Language::Fr, "donor-verified")
                .replace('\'', "&#39;")
        ),
        "{html}"
    );
    assert!(html.contains(&passage::web::i18n::money(
        passage::domain::Language::Fr,
        2_623_456
    )));
    assert!(!html.contains("7\u{a0}777,77"), "nobody else's gifts");
    assert!(html.contains("<meter"), "spending by need as bars");
    // The link is no session: staff pages still ask to sign in.
    let queue = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(f.app.url(&format!("/queue?token={anne_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(queue.status(), 303);

    // Nothing else: the staff API, other reports, other routes.
    for path in [
        "/api/v1/reports".to_string(),
        format!("/api/v1/reports/{id}"),
        format!("/api/v1/reports/{id}/verify"),
        "/api/v1/fund".to_string(),
        "/api/v1/requests".to_string(),
        "/api/v1/users".to_string(),
    ] {
        let (s, e) = f.get(&path, &anne_token).await;
        assert_eq!(s, 401, "{path}: {e}");
    }
    let (s, _) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &anne_token,
            json!({}),
        )
        .await;
    assert_eq!(s, 401);
    // A staff token is no donor link, nor is an unsubscribe link, nor a forged one.
    let (s, _) = f.get("/api/v1/donor/report", &f.treasurer).await;
    assert_eq!(s, 401);
    let unsubscribe: String = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_scalar("SELECT headers FROM outbox WHERE to_addr = 'anne@example.org'")
            .fetch_one(p).await)
    .unwrap();
    let unsubscribe_token = token_of(
        unsubscribe
            .split('"')
            .find(|s| s.contains("token="))
            .unwrap(),
    );
    let (s, _) = f.get("/api/v1/donor/report", &unsubscribe_token).await;
    assert_eq!(s, 401);
    let (s, _) = f
        .send(f.app.post(
            &format!("/api/v1/donor/unsubscribe?token={anne_token}"),
            None,
        ))
        .await;
    assert_eq!(s, 401, "a report link does not unsubscribe");
    let mut forged = anne_token.clone();
    forged.pop();
    forged.push(if anne_token.ends_with('A') { 'B' } else { 'A' });
    let (s, _) = f.get("/api/v1/donor/report", &forged).await;
    assert_eq!(s, 401);
    let (s, e) = f.send(f.app.get("/api/v1/donor/report", None)).await;
    assert_eq!(s, 401, "{e}");

    // A link to a report that a correction replaced still opens it, and says so.
    // An expired link says so clearly, in its donor's language (Anne's is French), whatever
    // the browser's.
    f.app.clock.advance(Duration::days(61));
    let (s, e) = f.get("/api/v1/donor/report", &anne_token).await;
    assert_eq!(s, 401, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("expired"),
        "{e}"
    );
    let web = f
        .app
        .http
        .get(f.app.url(&format!("/donor/report?token={anne_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(web.status(), 401);
    let html = web.text().await.unwrap();
    assert!(html.contains(&fr("donor-link-expired")), "{html}");
    f.app.stop().await;
}

/// The report link and the unsubscribe link of the newest donor email to `who`.
async fn links_of(f: &Fund, who: &str) -> (String, String) {
    let (text, headers): (String, String) = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_as("SELECT body_text, headers FROM outbox
            WHERE dedupe_key LIKE 'report:%' AND to_addr LIKE $1
            ORDER BY created_at DESC, id LIMIT 1")
            .bind(format!("{who}%"))
            .fetch_one(p).await)
    .unwrap();
    let report = token_of(&link(&text, "/donor/report?token="));
    let unsubscribe = token_of(headers.split('"').find(|s| s.contains("token=")).unwrap());
    (report, unsubscribe)
}

/// The donor's page for a link, as a browser in English asks for it: (status, html).
async fn donor_page(f: &Fund, token: &str) -> (u16, String) {
    let r = f
        .app
        .http
        .get(f.app.url(&format!("/donor/report?token={token}")))
        .header("accept-language", "en-CA")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn fr(key: &str) -> String {
    passage::web::i18n::text(passage::domain::Language::Fr, key).replace('\'', "&#39;")
}

async fn audited(f: &Fund, action: &str, subject: &str) -> Vec<Value> {
    let rows: Vec<String> = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_scalar("SELECT content FROM audit_events WHERE action = $1 AND subject = $2 ORDER BY seq")
            .bind(action).bind(subject).fetch_all(p).await)
    .unwrap();
    rows.iter()
        .map(|c| serde_json::from_str(c).unwrap())
        .collect()
}

async fn a_treasurer_withdraws_a_donors_links_and_unsubscribing_withdraws_the_report_links(
    t: TestDb,
) {
    let mut f = Fund::new(t).await;
    let (id, [anne, bob, _]) = sealed_november(&mut f).await;
    let (s, _) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 202);
    let (anne_report, anne_unsubscribe) = links_of(&f, "anne@").await;
    let (bob_report, bob_unsubscribe) = links_of(&f, "bob@").await;
    // A link is a random token, not a JWT signed by the session keys, and only its hash is
    // stored.
    for token in [&anne_report, &anne_unsubscribe] {
        assert!(!token.contains('.'), "not a JWT: {token}");
        assert!(token.len() >= 43, "32 random bytes at least: {token}");
        let stored: i64 = passage::on_db!(&f.app.db.db, p =>
            sqlx::query_scalar("SELECT COUNT(*) FROM donor_links WHERE token_hash = $1")
                .bind(sha256_hex(token)).fetch_one(p).await)
        .unwrap();
        assert_eq!(stored, 1, "its hash is stored");
    }
    let (s, _) = f.get("/api/v1/donor/report", &anne_report).await;
    assert_eq!(s, 200);

    // Only a treasurer withdraws a donor's links; an unknown donor is named as such.
    let withdraw = format!("/api/v1/donors/{anne}/links/withdraw");
    let (s, e) = f.post(&withdraw, &f.worker, json!({})).await;
    assert_eq!(s, 403, "{e}");
    let (s, e) = f
        .post(
            &format!("/api/v1/donors/{}/links/withdraw", uuid::Uuid::new_v4()),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 404, "{e}");
    let (s, out) = f.post(&withdraw, &f.treasurer, json!({})).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        out["withdrawn"], 2,
        "her report link and her unsubscribe link: {out}"
    );
    let events = audited(&f, "donor.links.withdraw", &format!("donor:{anne}")).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["links"], 2, "{events:?}");

    // Her report link no longer opens, and says why; her page says so in her language.
    let (s, e) = f.get("/api/v1/donor/report", &anne_report).await;
    assert_eq!(s, 401, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("withdrawn"),
        "{e}"
    );
    let (s, html) = donor_page(&f, &anne_report).await;
    assert_eq!(s, 401, "{html}");
    assert!(html.contains(&fr("donor-link-withdrawn")), "{html}");
    assert!(html.contains("lang=\"fr\""), "{html}");
    // Bob's links are his own and still open.
    let (s, page) = f.get("/api/v1/donor/report", &bob_report).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["gifts_total"], "7777.77");
    // Withdrawing again finds nothing more to withdraw.
    let (s, out) = f.post(&withdraw, &f.treasurer, json!({})).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["withdrawn"], 0, "{out}");
    // Stopping mail is always honoured, even through a withdrawn unsubscribe link; it
    // cannot subscribe her again.
    let (s, out) = f
        .send(f.app.post(
            &format!("/api/v1/donor/unsubscribe?token={anne_unsubscribe}"),
            None,
        ))
        .await;
    assert_eq!(s, 200, "{out}");
    let (s, e) = f
        .send(f.app.post(
            &format!("/api/v1/donor/resubscribe?token={anne_unsubscribe}"),
            None,
        ))
        .await;
    assert_eq!(s, 401, "{e}");

    // Bob unsubscribes: his report links are withdrawn, and his page says why.
    let (s, out) = f
        .send(f.app.post(
            &format!("/api/v1/donor/unsubscribe?token={bob_unsubscribe}"),
            None,
        ))
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["unsubscribed"], true);
    let (s, e) = f.get("/api/v1/donor/report", &bob_report).await;
    assert_eq!(s, 401, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unsubscribed"),
        "{e}"
    );
    let (s, html) = donor_page(&f, &bob_report).await;
    assert_eq!(s, 401, "{html}");
    assert!(
        html.contains(
            &passage::web::i18n::text(passage::domain::Language::En, "donor-link-unsubscribed")
                .replace('\'', "&#39;")
        ),
        "{html}"
    );
    // The unsubscribe link itself stays valid: its page offers to subscribe again.
    let r = f
        .app
        .http
        .get(f.app.url(&format!(
            "/api/v1/donor/unsubscribe?token={bob_unsubscribe}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "action=\"/api/v1/donor/resubscribe?token={bob_unsubscribe}\""
        )),
        "{html}"
    );
    let (s, out) = f
        .send(f.app.post(
            &format!("/api/v1/donor/resubscribe?token={bob_unsubscribe}"),
            None,
        ))
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["subscribed"], true, "{out}");
    let subscribed: Option<chrono::DateTime<chrono::Utc>> = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_scalar("SELECT unsubscribed_at FROM donors WHERE id = $1")
            .bind(&bob).fetch_one(p).await)
    .unwrap();
    assert!(subscribed.is_none(), "Bob gets the reports again");
    assert_eq!(
        audited(&f, "donor.resubscribe", &format!("donor:{bob}"))
            .await
            .len(),
        1
    );
    // His old report link stays withdrawn: the next email brings a new one.
    let (s, _) = f.get("/api/v1/donor/report", &bob_report).await;
    assert_eq!(s, 401);
    f.app.stop().await;
}

/// What the release before stored links put in a donor's email: an HS256 JWT signed by
/// the newest stored session key, with its `kid` (the shape of `reports/donor.rs` then).
fn jwt_link(kid: &str, secret: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn a_link_emailed_before_links_were_stored_still_opens_after_the_keys_change(t: TestDb) {
    let mut f = Fund::new(t).await;
    let (id, [anne, _, _]) = sealed_november(&mut f).await;
    // The email the release before wrote: its report_sends row and its outbox row, with
    // links signed by the session key.
    let (kid, secret): (String, String) = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_as("SELECT kid, secret FROM signing_keys ORDER BY seq DESC LIMIT 1")
            .fetch_one(p).await)
    .unwrap();
    let now = f.app.clock.now();
    let report_link = jwt_link(
        &kid,
        &secret,
        &json!({"scope": "donor_report", "donor": anne, "report": id,
                "iat": now.timestamp(), "exp": (now + Duration::days(60)).timestamp(),
                "jti": uuid::Uuid::new_v4().to_string()}),
    );
    let unsubscribe_link = jwt_link(
        &kid,
        &secret,
        &json!({"scope": "unsubscribe", "donor": anne,
                "iat": now.timestamp(), "exp": (now + Duration::days(400)).timestamp(),
                "jti": uuid::Uuid::new_v4().to_string()}),
    );
    let base = "https://passage.example.org";
    let unsubscribe_url = format!("{base}/api/v1/donor/unsubscribe?token={unsubscribe_link}");
    let headers = json!([
        ["List-Unsubscribe", format!("<{unsubscribe_url}>")],
        ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"]
    ])
    .to_string();
    let text = format!(
        "Bonjour Fondation Anne,\n\nVersion web : {base}/donor/report?token={report_link}\n\
         Pour ne plus recevoir ces rapports : {unsubscribe_url}\n"
    );
    let dedupe = format!("report:{id}:donor:{anne}");
    passage::on_db!(&f.app.db.db, p => async {
        sqlx::query("INSERT INTO report_sends (report_id, donor_id, dedupe_key, queued_at) VALUES ($1, $2, $3, $4)")
            .bind(&id).bind(&anne).bind(&dedupe).bind(now).execute(p).await?;
        sqlx::query("INSERT INTO outbox (id, dedupe_key, message_id, to_addr, subject, body_text,
                body_html, created_at, next_attempt_at, headers, sent_at)
             VALUES ($1, $2, $3, 'anne@example.org', 'Rapport', $4, NULL, $5, $5, $6, $5)")
            .bind(uuid::Uuid::new_v4().to_string()).bind(&dedupe)
            .bind(format!("<{}@passage.example.org>", uuid::Uuid::new_v4()))
            .bind(&text).bind(now).bind(&headers).execute(p).await.map(|_| ())
    }.await)
    .unwrap();

    // This release starts; the operator then sets a secret of their own and the stored
    // keys go: no key that signed the old links verifies anything any more.
    let db = f.app.stop_keeping_db().await;
    passage::on_db!(&db.db, p => sqlx::query("DELETE FROM signing_keys").execute(p).await.map(|_| ()))
        .unwrap();
    f.app = common::TestApp::spawn_with(
        db,
        &[(
            "PASSAGE_JWT_SECRET",
            "a brand new secret of the operator's own, long enough",
        )],
    )
    .await;
    f.go_to(2026, 12, 3, 9).await;

    // The link already emailed still opens its report, with Anne's gifts.
    let (s, page) = f.get("/api/v1/donor/report", &report_link).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["id"], id.as_str());
    assert_eq!(page["gifts_total"], "26234.56");
    let (s, html) = donor_page(&f, &report_link).await;
    assert_eq!(s, 200, "{html}");
    let r = f
        .app
        .http
        .get(f.app.url(&format!(
            "/api/v1/donor/unsubscribe?token={unsubscribe_link}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the old unsubscribe link still works");
    // A mangled old link opens nothing.
    let mut forged = report_link.clone();
    forged.pop();
    forged.push(if report_link.ends_with('A') { 'B' } else { 'A' });
    let (s, _) = f.get("/api/v1/donor/report", &forged).await;
    assert_eq!(s, 401);

    // Withdrawn like any link.
    let (s, out) = f
        .post(
            &format!("/api/v1/donors/{anne}/links/withdraw"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["withdrawn"], 2, "{out}");
    let (s, e) = f.get("/api/v1/donor/report", &report_link).await;
    assert_eq!(s, 401, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("withdrawn"),
        "{e}"
    );
    f.app.stop().await;
}

/// The scheduled reports of the list: (schedule, period_start, period_end).
async fn scheduled(f: &Fund) -> Vec<(String, String, String)> {
    let (_, list) = f.get("/api/v1/reports?limit=200", &f.treasurer).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["schedule"].as_str().unwrap().to_string(),
                r["period_start"].as_str().unwrap().to_string(),
                r["period_end"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(s, _, _)| s != "manual")
        .collect()
}

async fn the_sweeper_drafts_the_next_report_of_the_chain_once_at_one_cadence_and_reminds_treasurers(
    t: TestDb,
) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "fr").await;
    f.give(&donor, "5000.00").await;
    f.go_to(2027, 1, 2, 6).await;
    let state = f.app.state();
    for _ in 0..3 {
        passage::app::sweep_once(&state).await.unwrap();
    }
    // One cadence (a month by default), from the month of the fund's first event: the
    // first report of the chain, drafted once however often the sweeper runs; December
    // waits until November is frozen, and no quarterly report is drafted beside it.
    assert_eq!(
        scheduled(&f).await,
        [(
            "monthly".to_string(),
            "2026-11-01".to_string(),
            "2026-11-30".to_string()
        )]
    );
    // Every treasurer is reminded, once a week at most.
    let reminders = || async {
        passage::on_db!(&f.app.db.db, p => sqlx::query_scalar::<_, String>(
            "SELECT to_addr FROM outbox WHERE dedupe_key LIKE 'report:%:remind:%' ORDER BY to_addr")
            .fetch_all(p).await)
        .unwrap()
    };
    let first = reminders().await;
    assert!(
        first.contains(&"t1@example.org".to_string())
            && first.contains(&"t2@example.org".to_string()),
        "{first:?}"
    );
    // The reminder links to the report's page, which a browser can open (signing in
    // first), never to an API route that answers a browser with 401 JSON.
    let bodies: Vec<String> = passage::on_db!(&f.app.db.db, p => sqlx::query_scalar(
        "SELECT body_text || COALESCE(body_html, '') FROM outbox WHERE dedupe_key LIKE 'report:%:remind:%'")
        .fetch_all(p).await)
    .unwrap();
    for body in &bodies {
        assert!(!body.contains("/api/v1/"), "{body}");
        assert!(body.contains("/reports/"), "{body}");
    }
    f.app.clock.advance(Duration::days(1));
    passage::app::sweep_once(&state).await.unwrap();
    assert_eq!(
        reminders().await.len(),
        first.len(),
        "not again the next day"
    );
    f.app.clock.advance(Duration::days(7));
    passage::app::sweep_once(&state).await.unwrap();
    assert!(reminders().await.len() > first.len(), "again a week later");

    // Once November is frozen, the next draft starts where it ends.
    f.go_to(2027, 1, 11, 9).await;
    let (_, list) = f.get("/api/v1/reports", &f.treasurer).await;
    let november = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["schedule"] == "monthly" && r["period_start"] == "2026-11-01")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    f.seal(&november).await;
    for _ in 0..2 {
        passage::app::sweep_once(&state).await.unwrap();
    }
    let drafts = scheduled(&f).await;
    assert!(
        drafts.contains(&(
            "monthly".to_string(),
            "2026-12-01".to_string(),
            "2026-12-31".to_string()
        )),
        "{drafts:?}"
    );
    assert_eq!(drafts.len(), 2, "{drafts:?}");

    // A fund that reports by quarter: the next draft runs from the chain's end to the end
    // of the quarter, and no monthly draft is made beside it.
    let (s, p) = f
        .send(
            f.app
                .http
                .put(f.app.url("/api/v1/policy"))
                .bearer_auth(&f.treasurer)
                .json(&json!({"report_cadence": "quarter"})),
        )
        .await;
    assert_eq!(s, 202, "{p}");
    // A proposal: in force once a second treasurer co-signs it.
    let (s, p) = f
        .send(
            f.app
                .http
                .post(
                    f.app
                        .url(&format!("/api/v1/policy/versions/{}/cosign", p["version"])),
                )
                .bearer_auth(&f.second_treasurer),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["status"], "in_force", "{p}");
    let (_, list) = f.get("/api/v1/reports", &f.treasurer).await;
    let december = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["period_start"] == "2026-12-01")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    f.seal(&december).await;
    f.go_to(2027, 4, 2, 6).await;
    for _ in 0..2 {
        passage::app::sweep_once(&state).await.unwrap();
    }
    let drafts = scheduled(&f).await;
    assert!(
        drafts.contains(&(
            "quarterly".to_string(),
            "2027-01-01".to_string(),
            "2027-03-31".to_string()
        )),
        "{drafts:?}"
    );
    assert_eq!(drafts.len(), 3, "{drafts:?}");
    f.app.stop().await;
}

/// The unsubscribe link in a report's email leads to a page, never to the API (issue 17):
/// in the donor's language whatever the browser's, it asks before stopping the reports
/// (mail scanners open links), then says they are stopped and offers to start them again.
/// Mail clients' one-click unsubscribe keeps the API's route, in the header.
async fn the_unsubscribe_link_of_a_report_email_opens_a_page_in_the_donors_language(t: TestDb) {
    let mut f = Fund::new(t).await;
    let (id, [anne, _, _]) = sealed_november(&mut f).await;
    let (s, _) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 202);
    let (text, html, headers): (String, String, String) = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_as("SELECT body_text, body_html, headers FROM outbox
            WHERE dedupe_key LIKE 'report:%' AND to_addr = 'anne@example.org'")
            .fetch_one(p).await)
    .unwrap();
    assert!(
        !text.contains("/api/") && !html.contains("/api/"),
        "{text}\n{html}"
    );
    assert!(
        headers.contains("/api/v1/donor/unsubscribe?token="),
        "{headers}"
    );
    let page = link(&text, "/donor/unsubscribe?token=");
    let token = token_of(&page);
    let path = format!("/donor/unsubscribe?token={token}");
    let unsubscribed_at = || async {
        passage::on_db!(&f.app.db.db, p =>
            sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
                "SELECT unsubscribed_at FROM donors WHERE id = $1")
            .bind(&anne).fetch_one(p).await)
        .unwrap()
    };
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Opened by an English browser: Anne's French, one button, nothing changed yet.
    let r = browser
        .get(f.app.url(&path))
        .header("accept-language", "en-CA")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csrf = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("passage_csrf="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("a CSRF cookie");
    let html = r.text().await.unwrap();
    assert!(html.contains("lang=\"fr\""), "{html}");
    assert!(html.contains(&fr("donor-unsubscribe-question")), "{html}");
    assert!(html.contains("action=\"/donor/unsubscribe\""), "{html}");
    assert!(!html.contains("/api/"), "{html}");
    assert!(
        unsubscribed_at().await.is_none(),
        "opening the link changes nothing"
    );
    let press = |to: &'static str, with_csrf: bool| {
        let form = if with_csrf {
            vec![("csrf", csrf.clone()), ("token", token.clone())]
        } else {
            vec![("token", token.clone())]
        };
        browser
            .post(f.app.url(to))
            .header("cookie", format!("passage_csrf={csrf}"))
            .form(&form)
            .send()
    };
    // A form without the page's token is refused.
    let r = press("/donor/unsubscribe", false).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(unsubscribed_at().await.is_none());
    // The button: unsubscribed, and the page says so and offers to subscribe again.
    let r = press("/donor/unsubscribe", true).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], path.as_str());
    assert!(unsubscribed_at().await.is_some());
    let html = browser
        .get(f.app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&fr("donor-unsubscribed")), "{html}");
    assert!(html.contains(&fr("donor-resubscribe-question")), "{html}");
    assert!(html.contains("action=\"/donor/resubscribe\""), "{html}");
    assert_eq!(
        audited(&f, "donor.unsubscribe", &format!("donor:{anne}"))
            .await
            .len(),
        1
    );
    // Subscribing again.
    let r = press("/donor/resubscribe", true).await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(unsubscribed_at().await.is_none());
    // A link that is not one says so, on a page.
    let r = browser
        .get(f.app.url("/donor/unsubscribe?token=not-a-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("<html"));
    f.app.stop().await;
}

/// Anyone can check a report: the donor's page offers the summary file that was hashed;
/// the real `sha256sum` of it prints the fingerprint of the email; the page says so with
/// the command, names the treasurers who froze and co-signed it, and shows the audit
/// chain head it carries; `passage reports verify --file` passes the file as downloaded
/// and names the figure when one is changed.
async fn anyone_checks_a_report_with_sha256sum_of_the_file_its_page_offers(t: TestDb) {
    let sink = SmtpSink::start(free_port()).await;
    let url = sink.url();
    let mut f = Fund::with(
        t,
        &[
            ("PASSAGE_SMTP_URL", &url),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
            ("PASSAGE_BASE_URL", "https://passage.example.org"),
        ],
    )
    .await;
    for (id, name) in [(&f.ids[1], "Trésorière Un"), (&f.ids[2], "Treasurer Two")] {
        passage::on_db!(&f.app.db.db, p => sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
            .bind(id).bind(name).execute(p).await.map(|_| ()))
        .unwrap();
    }
    let (id, _) = sealed_november(&mut f).await;
    let (s, _) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 202);
    let mails = wait_for(&f.app.db.db, &sink, 3).await;
    let anne = mails
        .iter()
        .find(|m| m["headers"]["To"].as_str().unwrap().contains("anne@"))
        .unwrap();
    let text = anne["text"].as_str().unwrap();
    // The fingerprint as the email prints it: the 64 hex digits after its label.
    let label = passage::i18n::text(passage::domain::Language::Fr, "email-donor-hash");
    let fingerprint = text[text.find(&label).expect("the fingerprint's label") + label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(fingerprint.len(), 64, "{text}");
    let token = token_of(&link(
        text,
        "https://passage.example.org/donor/report?token=",
    ));

    // The page, in French: the sentence with the command, the download, who signed.
    let page = f
        .app
        .http
        .get(f.app.url(&format!("/donor/report?token={token}")))
        .header("accept-language", "fr-CA")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let file_name = "passage-report-2026-11-01-2026-11-30.json";
    assert!(
        page.contains(&format!("<code>sha256sum {file_name}</code>")),
        "{page}"
    );
    assert!(page.contains(&fr("donor-check-before")), "{page}");
    assert!(
        page.contains("Trésorière Un") && page.contains("Treasurer Two"),
        "{page}"
    );
    assert!(page.contains(&fr("donor-frozen-by")) && page.contains(&fr("donor-cosigned-by")));
    let (_, report) = f.get(&format!("/api/v1/reports/{id}"), &f.treasurer).await;
    let head = &report["summary"]["audit_head"];
    assert!(page.contains(head["hash"].as_str().unwrap()), "{page}");
    assert!(
        page.contains(&format!("nº {}", head["seq"].as_i64().unwrap())),
        "{page}"
    );
    let href = page
        .split("href=\"")
        .skip(1)
        .map(|h| h.split('"').next().unwrap().replace("&amp;", "&"))
        .find(|h| h.contains("summary.json"))
        .expect("a link to the summary file");

    // The file as a browser downloads it, checked with the real sha256sum.
    let r = f.app.http.get(f.app.url(&href)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(file_name)
    );
    let bytes = r.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.split_whitespace().next().unwrap(), fingerprint);
    // The treasurers' route serves the same bytes; a staff token opens no donor file.
    let r = f
        .app
        .get(
            &format!("/api/v1/reports/{id}/summary.json"),
            Some(&f.treasurer),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), bytes);
    let (s, _) = f
        .get("/api/v1/donor/report/summary.json", &f.treasurer)
        .await;
    assert_eq!(s, 401);
    let (s, _) = f
        .get(&format!("/api/v1/reports/{id}/summary.json"), &f.worker)
        .await;
    assert_eq!(s, 403);

    // The command line checks the file against the books.
    let verify = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_passage"))
            .env("PASSAGE_DATABASE_URL", &f.app.db.url)
            .env("PASSAGE_LOG", "warn")
            .args(["reports", "verify", "--file"])
            .arg(file)
            .output()
            .unwrap()
    };
    let out = verify(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok: ") && stdout.contains(&id), "{stdout}");
    // One figure changed: the hotels' amount.
    let original = String::from_utf8(bytes.to_vec()).unwrap();
    let hotel = "{\"amount\":\"1500.00\",\"cases\":\"5\",\"key\":\"hotel\"}";
    assert!(original.contains(hotel), "{original}");
    let changed = dir.path().join("changed.json");
    std::fs::write(
        &changed,
        original.replace(hotel, &hotel.replace("1500.00", "1400.00")),
    )
    .unwrap();
    let out = verify(&changed);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("passage: "))
        .collect();
    assert_eq!(said.len(), 1, "one line: {stderr}");
    assert!(
        said[0].contains(
            "by_category.cells[hotel].amount is \"1400.00\" in the file, \"1500.00\" in the report"
        ),
        "{stderr}"
    );
    f.app.stop().await;
    sink.stop().await;
}

/// The donor's page shows the last check of the books and when it ran, without checking
/// them on each visit; a direct edit of the database (no audit event) is caught by the
/// check that a visit starts once the last one is a few minutes old.
async fn the_donors_page_shows_the_last_check_and_catches_an_edit_within_minutes(t: TestDb) {
    let mut f = Fund::new(t).await;
    let (id, _) = sealed_november(&mut f).await;
    let (s, _) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 202);
    let (token, _) = links_of(&f, "bob@").await;
    let first = f.app.clock.now();
    let (s, page) = f.get("/api/v1/donor/report", &token).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["verified"], true, "{page}");
    let checked_at = |page: &Value| {
        chrono::DateTime::parse_from_rfc3339(page["checked_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    assert_eq!(checked_at(&page), first);
    let (_, html) = donor_page(&f, &token).await;
    assert!(
        html.contains(&format!("Checked at {} UTC", first.format("%H:%M"))),
        "{html}"
    );

    // Someone edits the books behind Passage's back (past the append-only triggers): no
    // audit event says so.
    match &f.app.db.db {
        passage::store::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER transfers_refuse_update")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("UPDATE transfers SET amount = amount + 1 WHERE kind = 'post'")
                .execute(p)
                .await
                .unwrap();
        }
        passage::store::Db::Postgres(p) => {
            sqlx::query("ALTER TABLE transfers DISABLE TRIGGER transfers_append_only")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("UPDATE transfers SET amount = amount + 1 WHERE kind = 'post'")
                .execute(p)
                .await
                .unwrap();
        }
    }
    // Half a minute on, the page still shows the last check (no check of the books per
    // visit).
    f.app.clock.advance(Duration::seconds(30));
    let (_, page) = f.get("/api/v1/donor/report", &token).await;
    assert_eq!(page["verified"], true, "{page}");
    assert_eq!(checked_at(&page), first);

    // Once the last check is five minutes old, a visit starts the next one in the
    // background; the pages after it show what it found, and when.
    f.app.clock.advance(Duration::seconds(270));
    let due = f.app.clock.now();
    let (_, page) = f.get("/api/v1/donor/report", &token).await;
    assert_eq!(
        checked_at(&page),
        first,
        "a visit does not wait for the check"
    );
    common::wait_until("the background check to catch the edit", async || {
        let (_, page) = f.get("/api/v1/donor/report", &token).await;
        page["verified"] == false
    })
    .await;
    let (_, caught) = f.get("/api/v1/donor/report", &token).await;
    assert_eq!(checked_at(&caught), due);
    let (_, html) = donor_page(&f, &token).await;
    assert!(
        html.contains(&format!("Checked at {} UTC", due.format("%H:%M"))),
        "{html}"
    );
    assert!(
        html.contains(
            &passage::web::i18n::text(passage::domain::Language::En, "donor-not-verified")
                .replace('\'', "&#39;")
        ),
        "{html}"
    );
    f.app.stop().await;
}

/// Issue 18: the donor's email (both parts, both languages) and web page say what was paid
/// back to organisations beside what was spent, name the coalition (11 cases) and never
/// the two shelters of 2 and 3 cases (their receipts are "other organisations together").
async fn the_donor_email_and_page_say_what_was_paid_back_to_organisations(t: TestDb) {
    use passage::domain::Language;
    use passage::web::i18n;
    let mut f = Fund::new(t).await;
    let anne = f.donor("Fondation Anne", "anne@example.org", "fr").await;
    let bob = f.donor("Bob Fund", "bob@example.org", "en").await;
    f.give(&anne, "25000.00").await;
    f.give(&bob, "7777.77").await;
    let maison = f.other_org("Maison Petite", "maison@example.org").await;
    let refuge = f.other_org("Refuge Discret", "refuge@example.org").await;
    for _ in 0..6 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..5 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    for (worker, stays) in [(&maison, 2), (&refuge, 3)] {
        f.act_for(worker).await;
        for _ in 0..stays {
            f.hotel("QC", 2, "150.00").await;
        }
    }
    f.go_to(2026, 12, 2, 9).await;
    let november = f.draft("2026-11-01", "2026-11-30").await;
    f.seal(november["id"].as_str().unwrap()).await;
    f.go_to(2026, 12, 3, 10).await;
    f.pay_everything_owed().await;
    f.go_to(2026, 12, 10, 22).await;
    for _ in 0..6 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..5 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    f.go_to(2027, 1, 2, 9).await;
    let december = f.draft("2026-12-01", "2026-12-31").await;
    let id = december["id"].as_str().unwrap().to_string();
    f.seal(&id).await;
    let (s, _) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 202);
    let mails: Vec<(String, String, String)> = passage::on_db!(&f.app.db.db, p =>
        sqlx::query_as("SELECT to_addr, body_text, COALESCE(body_html, '') FROM outbox
            WHERE dedupe_key LIKE $1 ORDER BY to_addr")
            .bind(format!("report:{id}%"))
            .fetch_all(p).await)
    .unwrap();
    assert_eq!(mails.len(), 2, "{mails:?}");
    for (to, text, html) in &mails {
        let language = if to.starts_with("anne@") {
            Language::Fr
        } else {
            Language::En
        };
        let label = i18n::text(language, "figure-paid");
        let others = i18n::text(language, "figure-paid-others");
        for part in [text, html] {
            let part = part.replace("&#39;", "'");
            assert!(part.contains(&label), "{to}: no {label:?} in {part}");
            assert!(part.contains(&others), "{to}: no {others:?} in {part}");
            assert!(
                part.contains(&i18n::money(language, 362_250)),
                "{to}: {part}"
            );
            assert!(
                part.contains(&i18n::money(language, 212_250)),
                "{to}: {part}"
            );
            assert!(
                part.contains(&i18n::money(language, 150_000)),
                "{to}: {part}"
            );
            assert!(part.contains("Coalition Exemple"), "{to}: {part}");
            for small in ["Maison Petite", "Refuge Discret"] {
                assert!(!part.contains(small), "{to} reads {small}: {part}");
            }
        }
    }
    // The web version says the same, in the reader's language.
    let (bob_link, _) = links_of(&f, "bob@").await;
    let (s, page) = donor_page(&f, &bob_link).await;
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains(&i18n::text(Language::En, "figure-paid")),
        "{page}"
    );
    assert!(page.contains(&i18n::money(Language::En, 362_250)), "{page}");
    assert!(page.contains("Coalition Exemple"), "{page}");
    assert!(!page.contains("Maison Petite") && !page.contains("Refuge Discret"));
    f.app.stop().await;
}

on_both_engines!(
    the_donor_email_and_page_say_what_was_paid_back_to_organisations,
    the_donors_page_shows_the_last_check_and_catches_an_edit_within_minutes,
    anyone_checks_a_report_with_sha256sum_of_the_file_its_page_offers,
    the_unsubscribe_link_of_a_report_email_opens_a_page_in_the_donors_language,
    each_donor_gets_the_report_once_in_their_language_and_can_unsubscribe,
    a_donor_link_opens_its_report_and_nothing_else,
    a_treasurer_withdraws_a_donors_links_and_unsubscribing_withdraws_the_report_links,
    a_link_emailed_before_links_were_stored_still_opens_after_the_keys_change,
    the_sweeper_drafts_the_next_report_of_the_chain_once_at_one_cadence_and_reminds_treasurers,
);
