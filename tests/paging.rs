//! Paging by cursor (DESIGN "Operations"): every collection route answers `{items, next}`;
//! walking the `next` cursors of a list longer than a page finds each row exactly once,
//! with no gap, even when rows are written between two pages (they sort before the
//! cursor, so the pages already read never shift); filters narrow the walk; a cursor or
//! a limit the list never gave is a clear 422, never a 500. On both engines.

mod common;

use chrono::Duration;
use common::TestDb;
use common::fund::Fund;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Walks a list's pages by their `next` cursors.
struct Walker {
    path: String,
    limit: u32,
    after: Option<String>,
    done: bool,
    pages: usize,
}

impl Walker {
    fn new(path: &str, limit: u32) -> Walker {
        Walker {
            path: path.to_string(),
            limit,
            after: None,
            done: false,
            pages: 0,
        }
    }

    /// The `key` of each item of the next page, or `None` after the last.
    async fn next(&mut self, f: &Fund, token: &str, key: &str) -> Option<Vec<String>> {
        if self.done {
            return None;
        }
        let join = if self.path.contains('?') { '&' } else { '?' };
        let mut url = format!("{}{join}limit={}", self.path, self.limit);
        if let Some(after) = &self.after {
            url.push_str(&format!("&after={after}"));
        }
        let (s, page) = f.get(&url, token).await;
        assert_eq!(s, 200, "{url}: {page}");
        let object = page.as_object().expect("a page is an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["items", "next"], "{page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= self.limit as usize, "{page}");
        self.pages += 1;
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(
                    items.len(),
                    self.limit as usize,
                    "only a full page has a next"
                );
                self.after = Some(next.to_string());
            }
            None => self.done = true,
        }
        Some(
            items
                .iter()
                .map(|i| i[key].as_str().expect("a key").to_string())
                .collect(),
        )
    }
}

/// A query parameter's value as a URL carries it (a code's check symbol may be `=`).
fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Each of `expected` found once in `seen`, and nothing seen twice.
fn once_each(seen: &[String], expected: &[String]) {
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was seen twice: {seen:?}");
    for id in expected {
        assert!(seen.contains(id), "{id} was skipped: {seen:?}");
    }
}

/// A bad cursor or limit on `path`: 422 naming the field, never a 500.
async fn refuses_bad_paging(f: &Fund, path: &str, token: &str) {
    let join = if path.contains('?') { '&' } else { '?' };
    for (query, field) in [
        ("after=not-a-cursor", "after"),
        ("after=6331", "after"),
        // A cursor of another version's shape: hex of "c9|0|...|x".
        (
            "after=63397c307c323032362d30312d30315430303a30303a30305a7c78",
            "after",
        ),
        ("after=%27%3B%20DROP%20TABLE%20requests%3B--", "after"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
    ] {
        let url = format!("{path}{join}{query}");
        let (s, b) = f.get(&url, token).await;
        assert_eq!(s, 422, "{url}: {b}");
        assert_eq!(b["error"]["field"], field, "{url}: {b}");
    }
}

async fn open_case(f: &Fund) -> String {
    let (s, b) = f
        .post("/api/v1/cases", &f.worker, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201, "{b}");
    b["code"].as_str().unwrap().to_string()
}

/// A flight big enough to wait for a treasurer.
async fn ask(f: &Fund, code: &str, urgent: bool) -> String {
    let today = f.today();
    let (s, r) = f
        .post(
            "/api/v1/requests",
            &f.worker,
            json!({"case_code": code, "category": "flight", "amount": "612.34",
                   "needed_by": today, "urgent": urgent, "reason": "family", "travel_date": today,
                   "origin": {"city": "Halifax", "province": "NS"},
                   "destination": {"city": "Vancouver", "province": "BC"}}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    r["id"].as_str().unwrap().to_string()
}

async fn requests_are_paged_by_cursor(t: TestDb) {
    let f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "don@example.org", "fr").await;
    f.give(&donor, "50000.00").await;
    // Seven requests, some urgent, several made in the same instant (the id breaks ties).
    let mut made = Vec::new();
    let mut codes = Vec::new();
    for i in 0..7 {
        let code = open_case(&f).await;
        made.push(ask(&f, &code, i % 3 == 0).await);
        codes.push(code);
        if i % 2 == 0 {
            f.app.clock.advance(Duration::seconds(1));
        }
    }
    for token in [&f.treasurer, &f.worker] {
        let mut w = Walker::new("/api/v1/requests", 3);
        let mut seen = Vec::new();
        while let Some(ids) = w.next(&f, token, "id").await {
            seen.extend(ids);
            // Written between two pages: newer, so before the cursor; never shifts a page.
            let code = open_case(&f).await;
            ask(&f, &code, false).await;
        }
        assert!(w.pages >= 3, "{} pages", w.pages);
        once_each(&seen, &made);
    }
    // Urgent ones first.
    let (_, first) = f.get("/api/v1/requests?limit=3", &f.treasurer).await;
    let urgent: Vec<bool> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["urgent"].as_bool().unwrap())
        .collect();
    assert_eq!(urgent, vec![true, true, true], "{first}");

    // Search by case code (a whole code, or its beginning in lower case), by status, by
    // organisation and by day.
    let (s, one) = f
        .get(
            &format!("/api/v1/requests?case_code={}", enc(&codes[4])),
            &f.treasurer,
        )
        .await;
    assert_eq!(s, 200, "{one}");
    let ids: Vec<&str> = one["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![made[4].as_str()]);
    let prefix = codes[4][..7].to_lowercase();
    let (s, some) = f
        .get(
            &format!("/api/v1/requests?case_code={prefix}"),
            &f.treasurer,
        )
        .await;
    assert_eq!(s, 200, "{some}");
    assert!(
        some["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["case_code"].as_str().unwrap().starts_with(&codes[4][..7]))
    );
    assert!(
        some["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == made[4].as_str())
    );
    let (_, pending) = f
        .get("/api/v1/requests?status=pending&limit=200", &f.treasurer)
        .await;
    assert!(pending["items"].as_array().unwrap().len() >= 7, "{pending}");
    let (_, declined) = f
        .get("/api/v1/requests?status=declined", &f.treasurer)
        .await;
    assert_eq!(declined["items"], json!([]), "{declined}");
    let other = f.app.seed_org("Autre Exemple").await;
    let (_, none) = f
        .get(&format!("/api/v1/requests?org={other}"), &f.treasurer)
        .await;
    assert_eq!(none["items"], json!([]), "{none}");
    let today = f.today();
    let (_, today_only) = f
        .get(
            &format!("/api/v1/requests?from={today}&to={today}&limit=200"),
            &f.treasurer,
        )
        .await;
    assert!(today_only["items"].as_array().unwrap().len() >= 7);
    let (_, before) = f.get("/api/v1/requests?to=2001-01-01", &f.treasurer).await;
    assert_eq!(before["items"], json!([]), "{before}");
    for (query, field) in [
        ("case_code=QC%25", "case_code"),
        ("from=yesterday", "from"),
        ("status=lost", "status"),
    ] {
        let (s, b) = f
            .get(&format!("/api/v1/requests?{query}"), &f.treasurer)
            .await;
        assert_eq!(
            (s, &b["error"]["field"]),
            (422, &json!(field)),
            "{query}: {b}"
        );
    }
    refuses_bad_paging(&f, "/api/v1/requests", &f.treasurer).await;
    refuses_bad_paging(&f, "/api/v1/review", &f.treasurer).await;
    refuses_bad_paging(&f, "/api/v1/review/flagged", &f.treasurer).await;
    f.app.stop().await;
}

async fn the_review_list_is_paged_oldest_first(t: TestDb) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "don@example.org", "fr").await;
    f.give(&donor, "50000.00").await;
    for _ in 0..5 {
        f.hotel("QC", 1, "80.00").await;
        f.app.clock.advance(Duration::seconds(1));
    }
    let waiting: Vec<String> = passage::on_db!(&f.app.db.db, p => sqlx::query_scalar(
        "SELECT id FROM requests WHERE automatic AND reviewed_at IS NULL ORDER BY created_at, id"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert!(
        waiting.len() >= 3,
        "automatic approvals to review: {waiting:?}"
    );
    let mut w = Walker::new("/api/v1/review", 2);
    let mut seen = Vec::new();
    while let Some(ids) = w.next(&f, &f.treasurer, "id").await {
        seen.extend(ids);
        f.hotel("QC", 1, "80.00").await;
    }
    once_each(&seen, &waiting);
    assert_eq!(&seen[..waiting.len()], &waiting[..], "oldest first");
    f.app.stop().await;
}

async fn cases_are_paged_and_searched_by_code(t: TestDb) {
    let f = Fund::new(t).await;
    let mut made = Vec::new();
    for i in 0..6 {
        made.push(open_case(&f).await);
        if i % 2 == 1 {
            f.app.clock.advance(Duration::seconds(1));
        }
    }
    for token in [&f.worker, &f.treasurer] {
        let mut w = Walker::new("/api/v1/cases", 4);
        let mut seen = Vec::new();
        while let Some(codes) = w.next(&f, token, "code").await {
            seen.extend(codes);
            open_case(&f).await;
        }
        assert!(w.pages >= 2);
        once_each(&seen, &made);
    }
    let (s, found) = f
        .get(
            &format!("/api/v1/cases?case_code={}", enc(&made[2])),
            &f.worker,
        )
        .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["code"], made[2].as_str());
    assert_eq!(found["items"][0]["status"], "open");
    let (_, closed) = f.get("/api/v1/cases?status=closed", &f.worker).await;
    assert_eq!(closed["items"], json!([]));
    // Another organisation's caseworker sees none of them, whatever they search.
    let other = f.app.seed_org("Autre Exemple").await;
    let stranger = f
        .app
        .seed_user("cw2@example.org", "caseworker", Some(&other))
        .await;
    let stranger = f.app.token_for(&stranger).await;
    let (s, none) = f
        .get(
            &format!("/api/v1/cases?case_code={}", enc(&made[2])),
            &stranger,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(none["items"], json!([]), "{none}");
    refuses_bad_paging(&f, "/api/v1/cases", &f.worker).await;
    f.app.stop().await;
}

async fn organisations_and_users_are_paged(t: TestDb) {
    let f = Fund::new(t).await;
    let admin = f.app.seed_user("admin@example.org", "admin", None).await;
    let admin = f.app.token_for(&admin).await;
    let mut orgs = vec![];
    let mut users = vec![];
    for i in 0..5 {
        let org = f.app.seed_org(&format!("Organisme {i}")).await;
        users.push(
            f.app
                .seed_user(&format!("cw-{i}@example.org"), "caseworker", Some(&org))
                .await,
        );
        orgs.push(org);
    }
    let mut w = Walker::new("/api/v1/orgs", 2);
    let mut seen = Vec::new();
    let mut n = 0;
    while let Some(ids) = w.next(&f, &f.treasurer, "id").await {
        seen.extend(ids);
        n += 1;
        f.app.seed_org(&format!("Nouvel organisme {n}")).await;
    }
    once_each(&seen, &orgs);
    let mut w = Walker::new("/api/v1/users", 2);
    let mut seen = Vec::new();
    while let Some(ids) = w.next(&f, &admin, "id").await {
        seen.extend(ids);
        n += 1;
        f.app
            .seed_user(&format!("new-{n}@example.org"), "treasurer", None)
            .await;
    }
    once_each(&seen, &users);
    // One organisation's people.
    let (s, one) = f
        .get(&format!("/api/v1/users?org={}", orgs[3]), &admin)
        .await;
    assert_eq!(s, 200, "{one}");
    let ids: Vec<&Value> = one["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["id"])
        .collect();
    assert_eq!(ids, vec![&json!(users[3])], "{one}");
    refuses_bad_paging(&f, "/api/v1/orgs", &f.treasurer).await;
    refuses_bad_paging(&f, "/api/v1/users", &admin).await;
    f.app.stop().await;
}

/// Payouts and statements written straight into the tables (their own tests make them
/// through the API), reports drafted through it.
async fn payouts_statements_and_reports_are_paged(t: TestDb) {
    let f = Fund::new(t).await;
    let treasurer = f.ids[1].clone();
    let db = f.app.db.db.clone();
    let now = passage::clock::Clock::now(&f.app.clock);
    let payout = |n: usize| {
        let db = db.clone();
        let treasurer = treasurer.clone();
        async move {
            let id = uuid::Uuid::new_v4().to_string();
            passage::on_db!(&db, p => sqlx::query(
                "INSERT INTO payouts (id, reference, status, total, prepared_by, prepared_at)
                 VALUES ($1, $2, 'cancelled', 0, $3, $4)")
            .bind(&id)
            .bind(format!("PAY-{n}"))
            .bind(&treasurer)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()))
            .unwrap();
            id
        }
    };
    let statement = |n: usize| {
        let db = db.clone();
        let treasurer = treasurer.clone();
        async move {
            let id = uuid::Uuid::new_v4().to_string();
            passage::on_db!(&db, p => sqlx::query(
                "INSERT INTO bank_statements (id, format, file_hash, lines, imported_by, imported_at)
                 VALUES ($1, 'csv', $2, 0, $3, $4)")
            .bind(&id)
            .bind(format!("hash-{n}"))
            .bind(&treasurer)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()))
            .unwrap();
            id
        }
    };
    let mut payouts = vec![];
    let mut statements = vec![];
    for n in 0..5 {
        payouts.push(payout(n).await);
        statements.push(statement(n).await);
    }
    let mut w = Walker::new("/api/v1/payouts", 2);
    let mut seen = Vec::new();
    let mut n = 100;
    while let Some(ids) = w.next(&f, &f.treasurer, "id").await {
        seen.extend(ids);
        n += 1;
        payout(n).await;
    }
    once_each(&seen, &payouts);
    let (_, prepared) = f.get("/api/v1/payouts?status=prepared", &f.treasurer).await;
    assert_eq!(prepared["items"], json!([]), "{prepared}");
    let mut w = Walker::new("/api/v1/bank/statements", 2);
    let mut seen = Vec::new();
    while let Some(ids) = w.next(&f, &f.treasurer, "id").await {
        seen.extend(ids);
        n += 1;
        statement(n).await;
    }
    once_each(&seen, &statements);

    let mut reports = vec![];
    for month in 1..=4 {
        let start = format!("2026-0{month}-01");
        let end = format!("2026-0{month}-28");
        reports.push(
            f.draft(&start, &end).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut w = Walker::new("/api/v1/reports", 3);
    let mut seen = Vec::new();
    let mut month = 5;
    while let Some(ids) = w.next(&f, &f.treasurer, "id").await {
        seen.extend(ids);
        f.draft(&format!("2026-0{month}-01"), &format!("2026-0{month}-28"))
            .await;
        month += 1;
    }
    once_each(&seen, &reports);
    let (_, sealed) = f.get("/api/v1/reports?status=sealed", &f.treasurer).await;
    assert_eq!(sealed["items"], json!([]), "{sealed}");
    refuses_bad_paging(&f, "/api/v1/payouts", &f.treasurer).await;
    refuses_bad_paging(&f, "/api/v1/bank/statements", &f.treasurer).await;
    refuses_bad_paging(&f, "/api/v1/reports", &f.treasurer).await;
    f.app.stop().await;
}

/// The `href` of a page's link with `rel`, as a browser would follow it.
fn link(body: &str, rel: &str) -> Option<String> {
    let re = regex::Regex::new(&format!(r#"href="([^"]+)" rel="{rel}""#)).unwrap();
    re.captures(body).map(|c| {
        c[1].replace("&amp;", "&")
            .replace("&#38;", "&")
            .replace("&#x2F;", "/")
    })
}

/// The ids of the elements whose `id` attribute is `prefix` then an id, in page order.
fn ids_on(body: &str, prefix: &str) -> Vec<String> {
    let re = regex::Regex::new(&format!(r#"id="{prefix}([0-9a-zA-Z-]+)""#)).unwrap();
    re.captures_iter(body).map(|c| c[1].to_string()).collect()
}

/// The queue and the cases pages: "Older" and "Newer" links walk the same pages, in both
/// languages, with the search kept; a forged cursor is refused.
async fn list_pages_have_older_and_newer_links(t: TestDb) {
    let f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "don@example.org", "fr").await;
    f.give(&donor, "50000.00").await;
    let mut made = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..5 {
        let code = open_case(&f).await;
        made.push(ask(&f, &code, false).await);
        codes.push(code);
        f.app.clock.advance(Duration::seconds(1));
    }
    let code_re = regex::Regex::new(r#"href="/cases/([^"/?]+)""#).unwrap();
    for (language, older, newer) in [
        ("en", "Older →", "← Newer"),
        ("fr", "Plus anciens →", "← Plus récents"),
    ] {
        let mut v = common::visitor::Visitor::new(&f.app, language);
        assert_eq!(v.sign_in("t1@example.org").await.status, 303);
        v.speak(language).await;
        let mut page = v.get("/queue?limit=2").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(older), "{}", page.body);
        assert!(
            !page.body.contains(newer),
            "the first page has no newer one"
        );
        let mut seen = ids_on(&page.body, "request-");
        let mut pages = vec![page.body.clone()];
        while let Some(next) = link(&page.body, "next") {
            page = v.get(&next).await;
            assert_eq!(page.status, 200, "{next}: {}", page.body);
            assert!(
                page.body.contains(newer),
                "{}",
                &page.body[page.body.find("class=\"pager\"").unwrap_or(0)..]
            );
            seen.extend(ids_on(&page.body, "request-"));
            pages.push(page.body.clone());
        }
        assert_eq!(pages.len(), 3);
        once_each(&seen, &made);
        // The queue's order: the longest wait first.
        assert_eq!(seen, made, "oldest first");
        // Back again by the newer links, to the first page.
        let mut back = 1;
        while let Some(prev) = link(&page.body, "prev") {
            page = v.get(&prev).await;
            assert_eq!(page.status, 200, "{prev}: {}", page.body);
            back += 1;
            assert_eq!(
                ids_on(&page.body, "request-"),
                ids_on(&pages[pages.len() - back], "request-")
            );
        }
        assert_eq!(back, 3);
        // The search is kept on every page's links.
        let searched = v
            .get(&format!("/queue?limit=1&case_code={}", &codes[1][..2]))
            .await;
        assert_eq!(searched.status, 200);
        let next = link(&searched.body, "next").expect("an older page");
        assert!(next.contains("case_code="), "{next}");
        let one = v.get(&format!("/queue?case_code={}", enc(&codes[3]))).await;
        assert_eq!(ids_on(&one.body, "request-"), vec![made[3].clone()]);
        assert!(link(&one.body, "next").is_none());
        // A forged cursor or limit is refused, not a 500.
        assert_eq!(v.get("/queue?after=forged").await.status, 422);
        assert_eq!(v.get("/queue?before=forged").await.status, 422);
        assert_eq!(v.get("/queue?limit=100000").await.status, 422);

        let mut w = common::visitor::Visitor::new(&f.app, language);
        assert_eq!(w.sign_in("cw@example.org").await.status, 303);
        w.speak(language).await;
        let mut page = w.get("/cases?limit=2").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let codes_on = |body: &str| -> Vec<String> {
            code_re
                .captures_iter(body)
                .map(|c| c[1].to_string())
                .collect()
        };
        let mut seen = codes_on(&page.body);
        while let Some(next) = link(&page.body, "next") {
            page = w.get(&next).await;
            assert_eq!(page.status, 200, "{next}");
            seen.extend(codes_on(&page.body));
        }
        once_each(&seen, &codes);
        let found = w.get(&format!("/cases?case_code={}", enc(&codes[2]))).await;
        assert_eq!(codes_on(&found.body), vec![codes[2].clone()]);
        assert_eq!(w.get("/cases?after=forged").await.status, 422);
    }
    f.app.stop().await;
}

on_both_engines!(
    list_pages_have_older_and_newer_links,
    requests_are_paged_by_cursor,
    the_review_list_is_paged_oldest_first,
    cases_are_paged_and_searched_by_code,
    organisations_and_users_are_paged,
    payouts_statements_and_reports_are_paged,
);
