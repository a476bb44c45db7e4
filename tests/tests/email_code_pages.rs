//! The pages of sign-in by email code against a real `warden serve` and
//! a real SMTP server: the address and code forms, and the email's link,
//! which fills the code in only in the browser that asked for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::email::{PASSWORD, offer_email_codes, with_smtp, wrong};
use warden_tests::web::{create_user, set_up};

/// The value of the `name` cookie a page answer set.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_sign_in_with_a_code_and_the_link_fills_it_in_only_where_it_was_asked_for() {
    let (instance, smtp) = with_smtp(&[]).await;
    let mut owner = set_up(&instance.server).await;
    offer_email_codes(&mut owner).await;
    create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;
    let base = instance.server.url.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = http.get(format!("{base}/sign-in")).send().await.unwrap();
    assert!(sign_in.text().await.unwrap().contains("href=\"/sign-in/email\""));

    // Hostile input is escaped and refused with the form kept.
    let hostile = http
        .post(format!("{base}/sign-in/email"))
        .header("origin", &base)
        .form(&[("email", "<script>alert(1)</script>")])
        .send()
        .await
        .unwrap();
    assert_eq!(hostile.status(), 400);
    let html = hostile.text().await.unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
        "{html}"
    );

    let asked = http
        .post(format!("{base}/sign-in/email"))
        .header("origin", &base)
        .form(&[("email", "sam@acme.test"), ("next", "/settings/mfa")])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 200);
    let here = set_cookie(&asked, "warden_email_code").expect("the page keeps the code's id");
    let html = asked.text().await.unwrap();
    assert!(html.contains("name=\"code\""), "{html}");
    let code = smtp.code_sent("sam@acme.test", 1).await;
    let link = smtp.link_sent("sam@acme.test", 1, "/sign-in/email/code?").await;
    assert!(link.starts_with(&base), "{link}");

    // Elsewhere (no cookie, or another code's), the link fills nothing.
    for cookie in [
        None,
        Some("warden_email_code=0193f1a2-7c4e-7b21-9a3d-5e8f0c1b2a01.c2FtQGFjbWUudGVzdA"),
    ] {
        let mut request = http.get(&link);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let elsewhere = request.send().await.unwrap().text().await.unwrap();
        assert!(elsewhere.contains("only in the browser"), "{elsewhere}");
        assert!(!elsewhere.contains(&code));
    }
    // Here, it fills the code in; nothing is spent until the person sends it.
    let filled = http
        .get(&link)
        .header("cookie", format!("warden_email_code={here}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(filled.contains(&format!("value=\"{code}\"")), "{filled}");
    assert!(filled.contains("value=\"sam@acme.test\""));

    let wrong_try = http
        .post(format!("{base}/sign-in/email/code"))
        .header("origin", &base)
        .form(&[("email", "sam@acme.test"), ("code", wrong(&code).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_try.status(), 401);
    assert!(wrong_try.text().await.unwrap().contains("2 tries left"));
    // A form from another site is refused.
    let forged = http
        .post(format!("{base}/sign-in/email/code"))
        .header("origin", "https://evil.example")
        .form(&[("email", "sam@acme.test"), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let signed_in = http
        .post(format!("{base}/sign-in/email/code"))
        .header("origin", &base)
        .header("cookie", format!("warden_email_code={here}"))
        .form(&[
            ("email", "sam@acme.test"),
            ("code", code.as_str()),
            ("next", "/settings/mfa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/settings/mfa");
    assert!(set_cookie(&signed_in, "warden_session").is_some_and(|cookie| !cookie.is_empty()));
    assert_eq!(set_cookie(&signed_in, "warden_email_code").as_deref(), Some(""));
}
