//! The second-factor pages over HTTP against a real `warden serve`:
//! setting up an authenticator app from the settings page (QR code, key,
//! backup codes shown once), the prompt a password sign-in then leads to,
//! and "confirm it's you" before removing it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::mfa::{early_in_step, oathtool, wrong};
use warden_tests::web::{Forms, confirm_page, create_user, field, instance, location, page_cookie, set_up};

const SAM: &str = "sam@acme.test";
const SAM_PASSWORD: &str = "sam's long password 7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_set_up_an_authenticator_and_ask_for_it_at_sign_in() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let forms = Forms::new(&instance.server);
    let signed_in = forms
        .post(
            "/sign-in",
            None,
            &[("email", SAM), ("password", SAM_PASSWORD), ("next", "/settings/mfa")],
        )
        .await;
    assert_eq!(location(&signed_in), "/settings/mfa");
    let first = page_cookie(&signed_in).unwrap();

    // Set up from the settings page: a QR code and the key, then a code.
    let html = forms.get("/settings/mfa", Some(&first)).await.text().await.unwrap();
    assert!(html.contains("Set up an authenticator app"), "{html}");
    let csrf = field(&html, "csrf_token");
    let started = forms
        .post("/settings/mfa/totp", Some(&first), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(location(&started), "/settings/mfa");
    let html = forms.get("/settings/mfa", Some(&first)).await.text().await.unwrap();
    assert!(html.contains("<svg"), "{html}");
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let at = early_in_step().await;
    let shown = forms
        .post(
            "/settings/mfa/totp/confirm",
            Some(&first),
            &[("csrf_token", &csrf), ("code", &oathtool(&secret, at - 30))],
        )
        .await;
    assert_eq!(shown.status(), 200);
    assert_eq!(shown.headers()["cache-control"], "no-store");
    let html = shown.text().await.unwrap();
    let codes = html
        .split("id=\"backup-codes\">")
        .nth(1)
        .unwrap()
        .split("</ol>")
        .next()
        .unwrap();
    assert_eq!(codes.matches("<code>").count(), 10);
    // They can be downloaded as a file (and copied, by the script).
    let download = html
        .split("id=\"backup-codes-download\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        download.starts_with("data:text/plain;charset=utf-8,Warden%20backup%20codes%20for%20"),
        "{download}"
    );
    for code in codes.split("<code>").skip(1) {
        let code = code.split("</code>").next().unwrap();
        assert!(download.contains(code), "{code} is not in {download}");
    }
    assert!(html.contains("download=\"warden-backup-codes.txt\""));
    assert!(html.contains("data-copy=\"backup-codes-text\""));
    let saved = forms
        .post(
            "/settings/mfa/backup-codes/acknowledge",
            Some(&first),
            &[("csrf_token", &csrf), ("set", &field(&html, "set"))],
        )
        .await;
    assert_eq!(location(&saved), "/settings/mfa?notice=codes_saved");

    // The password-only session may not remove it: confirm it's you first.
    let removal = forms
        .post("/settings/mfa/totp/remove", Some(&first), &[("csrf_token", &csrf)])
        .await;
    confirm_page(removal, "/settings/mfa").await;
    let html = forms
        .get("/settings/reauthenticate?next=/settings/mfa", Some(&first))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"code\""), "{html}");

    // Signing in now goes through the prompt; other pages send back to it.
    let signed_in = forms
        .post(
            "/sign-in",
            None,
            &[
                ("email", SAM),
                ("password", SAM_PASSWORD),
                ("next", "/settings/sessions"),
            ],
        )
        .await;
    assert_eq!(location(&signed_in), "/sign-in/mfa?next=/settings/sessions");
    let partial = page_cookie(&signed_in).unwrap();
    let elsewhere = forms.get("/settings/sessions", Some(&partial)).await;
    assert_eq!(location(&elsewhere), "/sign-in/mfa?next=/settings/sessions");
    let prompt = forms.get("/sign-in/mfa?next=/settings/sessions", Some(&partial)).await;
    assert_eq!(prompt.status(), 200);
    let html = prompt.text().await.unwrap();
    assert!(html.contains("autocomplete=\"one-time-code\""), "{html}");
    let csrf = field(&html, "csrf_token");
    let refused = forms
        .post(
            "/sign-in/mfa",
            Some(&partial),
            &[
                ("csrf_token", &csrf),
                ("code", &wrong(&oathtool(&secret, at))),
                ("next", "/settings/sessions"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("the code is wrong"));
    let verified = forms
        .post(
            "/sign-in/mfa",
            Some(&partial),
            &[
                ("csrf_token", &csrf),
                ("code", &oathtool(&secret, at)),
                ("next", "/settings/sessions"),
            ],
        )
        .await;
    assert_eq!(location(&verified), "/settings/sessions");
    let full = page_cookie(&verified).unwrap();
    assert_ne!(full, partial);
    assert_eq!(forms.get("/settings/sessions", Some(&full)).await.status(), 200);

    // Fresh from the second factor, removal works.
    let html = forms.get("/settings/mfa", Some(&full)).await.text().await.unwrap();
    let removed = forms
        .post(
            "/settings/mfa/totp/remove",
            Some(&full),
            &[("csrf_token", &field(&html, "csrf_token"))],
        )
        .await;
    assert_eq!(location(&removed), "/settings/mfa?notice=totp_removed");
}
