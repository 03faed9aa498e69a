//! The dashboard over HTTP: signing in, workspace isolation, CSRF, revocation, `--no-auth`,
//! embedded assets, and the pages' answers to bad input. (The browser tests in `web/tests`
//! check what people see; these check what a forger or another workspace can do.)

mod common;

use common::{Server, Setup};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};

fn no_redirects() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// A signed-in browser: its cookie and the page's CSRF token.
struct Browser {
    http: Client,
    base: String,
    cookie: String,
}

impl Browser {
    async fn sign_in(server: &Server, token: &str) -> Browser {
        let http = no_redirects();
        let r = http
            .post(server.url("/signin"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&next=%2Fexecutions"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
        assert_eq!(r.headers()[LOCATION], "/executions");
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        Browser {
            http,
            base: server.base.clone(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.text().await.unwrap()
    }

    async fn csrf(&self) -> String {
        let html = self.page("/executions").await;
        let at = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
        html[at..at + 64].to_string()
    }

    fn post(&self, path: &str, body: String) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_sees_only_its_workspace_and_never_the_token() {
    let server = Server::start(Setup::default()).await;
    let (a, b) = (server.token("alpha").await, server.token("beta").await);
    let id = server.submit_scan(&a).await;
    server.wait_done(&a, &id).await;

    let alice = Browser::sign_in(&server, &a).await;
    let list = alice.page("/executions").await;
    assert!(list.contains(&id), "alpha's list shows its scan");
    assert!(list.contains("data-state=\"completed\""));
    let detail = alice.page(&format!("/executions/{id}")).await;
    assert!(detail.contains("Results") && detail.contains("Download"));
    for page in [
        list,
        detail,
        alice.page("/code").await,
        alice.page("/packs").await,
        alice.page("/status").await,
    ] {
        assert!(!page.contains(&a), "a page shows the token");
        assert!(page.contains("id=\"workspace\""));
    }
    // The API's GET routes take the cookie (charts, downloads, the event stream).
    let r = alice
        .get(&format!("/v1/executions/{id}/results?format=csv"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("ticker,date"));

    let bob = Browser::sign_in(&server, &b).await;
    assert!(!bob.page("/executions").await.contains(&id));
    let r = bob.get(&format!("/executions/{id}")).await;
    assert_eq!(
        r.status(),
        404,
        "another workspace's execution is not found"
    );
    assert_eq!(bob.get(&format!("/v1/executions/{id}")).await.status(), 404);
    assert_eq!(
        bob.get(&format!("/v1/executions/{id}/events"))
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_session_csrf_token_and_the_same_site() {
    let server = Server::start(Setup::default()).await;
    let a = server.token("alpha").await;
    let id = server.submit_scan(&a).await;
    let alice = Browser::sign_in(&server, &a).await;
    let csrf = alice.csrf().await;
    let body = |t: &str| format!("_csrf={t}&action=cancel&ids={id}");

    let r = alice
        .post("/executions/bulk", format!("action=cancel&ids={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no token");
    let r = alice
        .post("/executions/bulk", body(&"0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a wrong token");
    let r = alice
        .post("/executions/bulk", body(&csrf))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another site's form");
    let r = alice
        .post("/executions/bulk", body(&csrf))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another site's form (fetch metadata)");
    let r = server
        .http
        .post(server.url("/signin"))
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={a}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "signing in from another site (login CSRF)");
    // Nothing of the above changed anything: the execution was not cancelled by them.
    let v = server.get_json(&format!("/v1/executions/{id}"), &a).await;
    assert_ne!(v["state"], "cancelled");

    let r = alice
        .post("/executions/bulk", body(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()[LOCATION].to_str().unwrap();
    assert!(back.starts_with("/executions?notice=cancel"), "{back}");
    // The header form (htmx) works too.
    let r = alice
        .post("/code/validate", "language=expr&source=close+%3E+1".into())
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Valid."));

    // Nor a read from another origin (a page on another port of this host is "same site" for
    // SameSite cookies; a WebSocket handshake carries its Origin and is not held back by CORS).
    for (header, value) in [
        ("origin", "http://127.0.0.1:1"),
        ("sec-fetch-site", "same-site"),
    ] {
        let r = server
            .http
            .get(server.url(&format!("/v1/executions/{id}")))
            .header(COOKIE, &alice.cookie)
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{header}: {value}");
    }
    let r = server
        .http
        .get(server.url(&format!("/v1/executions/{id}")))
        .header(COOKIE, &alice.cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the dashboard's own pages read with the cookie"
    );

    // The cookie never authorizes a change through the API.
    let r = server
        .http
        .post(server.url("/v1/executions"))
        .header(COOKIE, &alice.cookie)
        .json(&serde_json::json!({"kind": "scan", "expr": "close > 1", "pack": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_token_ends_its_sessions_and_a_stolen_cookie_with_them() {
    let server = Server::start(Setup::default()).await;
    let created = server
        .state
        .engine()
        .tokens()
        .create("alpha", None, false)
        .await
        .unwrap();
    let alice = Browser::sign_in(&server, &created.token).await;
    assert_eq!(alice.get("/executions").await.status(), 200);
    assert!(
        server
            .state
            .engine()
            .tokens()
            .revoke(&created.record.id)
            .await
            .unwrap()
    );
    let r = alice.get("/executions").await;
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/signin")
    );
    assert_eq!(alice.get("/v1/executions").await.status(), 401);
    // Signing out ends a session for good.
    let t = server.token("alpha").await;
    let bob = Browser::sign_in(&server, &t).await;
    let csrf = bob.csrf().await;
    let r = bob
        .post("/signout", format!("_csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(bob.get("/executions").await.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_opens_a_default_session_for_this_machine_only() {
    let server = Server::start(Setup {
        auth: false,
        ..Setup::default()
    })
    .await;
    let http = no_redirects();
    let r = http.get(server.url("/executions")).send().await.unwrap();
    assert_eq!(r.status(), 303, "no session yet: to /signin");
    let r = http.get(server.url("/signin")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .get(server.url("/executions"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("No executions yet"));
    let r = http
        .get(server.url("/executions"))
        .header(COOKIE, &cookie)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "DNS rebinding: another Host is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_embedded_and_cached_by_etag() {
    let server = Server::start(Setup::default()).await;
    let r = server
        .http
        .get(server.url("/assets/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/javascript");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let body = r.bytes().await.unwrap();
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../web/vendor/htmx/htmx.min.js"
    ))
    .unwrap();
    assert_eq!(body.as_ref(), file.as_slice());
    let r = server
        .http
        .get(server.url("/assets/htmx.min.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = server
        .http
        .get(server.url("/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_bad_input_with_a_readable_problem() {
    let server = Server::start(Setup::default()).await;
    let a = server.token("alpha").await;
    let alice = Browser::sign_in(&server, &a).await;
    let page = alice.page("/executions?state=bogus&kind=scan").await;
    assert!(
        page.contains("state `bogus`: use one of pending"),
        "a bad filter is explained"
    );
    let page = alice.page("/executions?since=yesterday").await;
    assert!(page.contains("use YYYY-MM-DD"));
    let r = alice.get("/executions/ex_nope").await;
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // The validate box puts a caret under the column of each problem.
    let csrf = alice.csrf().await;
    let r = alice
        .post(
            "/code/validate",
            "language=expr&source=close+%3E+smaa%28close%2C+10%29".into(),
        )
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("data-column=\"9\""), "{html}");
    assert!(
        html.contains("<span class=\"caret\">        ^</span>"),
        "{html}"
    );
    // A start form without code or expression changes nothing and says what to do.
    let before = server.get_json("/v1/executions", &a).await["items"]
        .as_array()
        .unwrap()
        .len();
    let r = alice
        .post(
            "/executions/new",
            format!("_csrf={csrf}&kind=scan&pack=demo&code=&expr="),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Name stored code or write an expression.")
    );
    let after = server.get_json("/v1/executions", &a).await["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_pack_shows_signals_and_withholds_derived_data_and_downloads() {
    let server = Server::start(Setup::default()).await;
    let admin = server.admin_token("ops").await;
    let token = server.token("team").await;
    server.demo_under(&admin, "acme", "deny").await;
    let scan = server
        .completed(
            &token,
            serde_json::json!({"kind": "scan", "expr": "let c = close; close > sma(close, 10)", "pack": "demo"}),
        )
        .await;
    let b = Browser::sign_in(&server, &token).await;
    let page = b.page(&format!("/executions/{scan}")).await;
    assert!(page.contains("Derived data is withheld"), "the notice");
    assert!(page.contains("provider acme"), "names the provider");
    assert!(
        page.contains("Data: Data courtesy of ACME"),
        "the attribution"
    );
    assert!(!page.contains("<th>c</th>"), "no `let` column on the page");
    assert!(
        page.contains("results?format=csv&amp;columns=signals"),
        "signal downloads"
    );
    // The download links the page would have offered, with the session cookie: refused.
    let r = b
        .get(&format!("/v1/executions/{scan}/results?format=csv"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b
        .get(&format!(
            "/v1/executions/{scan}/results?format=csv&columns=signals"
        ))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().starts_with("ticker,date\n"));
    // The pack's own candles.
    let r = b.get("/packs/demo/candles?ticker=SYN0001").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let pack = b.page("/packs/demo").await;
    assert!(pack.contains("Bars are withheld"), "no chart of the bars");
    let log = server.get_json("/v1/rights/log", &token).await;
    let actors: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        actors
            .iter()
            .all(|a| a.starts_with("dashboard token ") || a.starts_with("token ")),
        "{actors:?}"
    );
    assert_eq!(actors.len(), 2, "the download and the candles: {actors:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_version_is_checked_for_lookahead_from_its_page() {
    let server = Server::start(Setup::default()).await;
    let a = server.token("alpha").await;
    let r = server
        .req(reqwest::Method::POST, "/v1/code/dip", &a)
        .json(&serde_json::json!({"expr": "rsi(close, 14) < 30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let alice = Browser::sign_in(&server, &a).await;
    let page = alice.page("/code/dip").await;
    assert!(
        page.contains("Check look-ahead"),
        "the button is on the version row"
    );
    let csrf = alice.csrf().await;
    let r = alice
        .post("/code/dip/check", format!("_csrf={csrf}&to=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    let id = to.strip_prefix("/executions/").expect("the check's page");
    let v = server.wait_done(&a, id).await;
    assert_eq!(
        (v["kind"].as_str(), v["state"].as_str()),
        (Some("check"), Some("completed"))
    );
    let page = alice.page(&to).await;
    assert!(page.contains("Look-ahead check: "), "the report is shown");
    assert!(page.contains("verdict clean"), "{page}");
    assert!(page.contains("no negative offsets"), "the language's proof");
    // Evaluate the version from its page: the evaluation's page, then its status beside it.
    let r = alice
        .post("/code/dip/evaluate", format!("_csrf={csrf}&to=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    let id = to
        .strip_prefix("/executions/")
        .expect("the evaluation's page");
    let v = server.wait_done(&a, id).await;
    assert_eq!(
        (v["kind"].as_str(), v["state"].as_str()),
        (Some("evaluate"), Some("completed"))
    );
    let page = alice.page(&to).await;
    assert!(page.contains("Evaluation: "), "{page}");
    assert!(page.contains("static — pass"), "{page}");
    let code_page = alice.page("/code/dip").await;
    let status = v["summary"]["status"].as_str().unwrap();
    assert!(
        code_page.contains(&format!("{status} {}/100", v["summary"]["score"])),
        "the status beside the version: {code_page}"
    );
    // Without the session's CSRF token nothing starts.
    let r = alice
        .post("/code/dip/check", "to=1".into())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Another workspace's code cannot be checked from this session: a notice, no execution.
    let r = alice
        .post("/code/nope/check", format!("_csrf={csrf}&to=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()[LOCATION]
            .to_str()
            .unwrap()
            .contains("check+not+started")
    );
    server.stop().await;
}
