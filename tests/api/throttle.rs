//! The login throttle holds under concurrency and across nodes: an attempt is counted in the
//! database before its password is hashed, so of any number of concurrent guesses at one account
//! at most the limit are evaluated (counted as argon2 verifications, not as answers).

use crate::helpers::{
    spawn_app, spawn_app_with, spawn_postgres_app, Driver, Landing, TestApp, PASSWORD,
};

const GUESSES: usize = 150;
/// `login_max_failures`' default.
const LIMIT: u64 = 10;

/// `n` concurrent wrong guesses at `email`, spread over `drivers` (one per node), each with the
/// login page's own CSRF pair; the statuses answered.
async fn guess(drivers: &[Driver], email: &str, n: usize) -> Vec<u16> {
    let mut pages = Vec::new();
    for d in drivers {
        let Landing::Page(_, 200, page) = d.get("/login").await else {
            panic!("the login page")
        };
        pages.push(page);
    }
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..n {
        let d = Driver {
            http: drivers[i % drivers.len()].http.clone(),
            base: drivers[i % drivers.len()].base.clone(),
        };
        let (page, email) = (pages[i % drivers.len()].clone(), email.to_owned());
        attempts.spawn(async move {
            let password = format!("Wrong-password-{i}");
            match d
                .submit(
                    "/login",
                    &page,
                    &[("username", &email), ("password", &password)],
                )
                .await
            {
                Landing::Page(_, status, _) => status,
                Landing::Client(_) => 302,
            }
        });
    }
    attempts.join_all().await
}

async fn right_password_refused(d: &Driver, email: &str) {
    let Landing::Page(_, 200, page) = d.get("/login").await else {
        panic!()
    };
    let Landing::Page(_, status, _) = d
        .submit(
            "/login",
            &page,
            &[("username", email), ("password", PASSWORD)],
        )
        .await
    else {
        panic!("the right password got through the throttle")
    };
    assert_eq!(
        status, 429,
        "the right password after the limit is throttled"
    );
}

async fn check(app: &TestApp, drivers: &[Driver], verified: impl Fn() -> u64) {
    let (_, _, email) = app.citizen("郑").await;
    let before = verified();
    let statuses = guess(drivers, &email, GUESSES).await;
    let evaluated = verified() - before;
    assert!(
        evaluated <= LIMIT,
        "{evaluated} of {GUESSES} concurrent guesses had their password checked (limit {LIMIT})"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count() as u64,
        evaluated
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count() as u64,
        GUESSES as u64 - evaluated,
        "{statuses:?}"
    );
    right_password_refused(&drivers[0], &email).await;
    assert_eq!(
        verified() - before,
        evaluated,
        "a throttled attempt checks nothing"
    );
}

#[tokio::test]
async fn concurrent_guesses_never_get_more_than_the_limit_evaluated() {
    let app = spawn_app().await;
    check(&app, &[app.driver()], || {
        app.state.identity.passwords.verifications()
    })
    .await;
}

#[tokio::test]
async fn two_nodes_sharing_postgresql_share_the_limit() {
    let app = spawn_postgres_app().await;
    let other = app.another_node().await;
    let mut second = app.driver();
    second.base = other.base.clone();
    check(&app, &[app.driver(), second], || {
        app.state.identity.passwords.verifications()
            + other.state.identity.passwords.verifications()
    })
    .await;
}

#[tokio::test]
async fn the_count_survives_a_restart_of_the_node() {
    // What the database counts, a new process reads: the budget is not reset by restarting.
    let app = spawn_app().await;
    let (_, _, email) = app.citizen("钱").await;
    let statuses = guess(&[app.driver()], &email, LIMIT as usize).await;
    assert!(statuses.iter().all(|&s| s == 401), "{statuses:?}");
    let other = app.another_node().await;
    let mut d = app.driver();
    d.base = other.base.clone();
    right_password_refused(&d, &email).await;
}

#[tokio::test]
async fn successful_logins_do_not_use_up_their_address() {
    // One address, many people (an office behind NAT): the address counts failures, not logins.
    let app = spawn_app_with(|c| c.login_max_failures_per_address = 3).await;
    let d = app.driver();
    for i in 0..5 {
        let (_, _, email) = app.citizen(&format!("同事{i}")).await;
        let Landing::Page(_, 200, page) = d.get("/login").await else {
            panic!()
        };
        let landing = d
            .submit(
                "/login",
                &page,
                &[("username", &email), ("password", PASSWORD)],
            )
            .await;
        assert!(
            !matches!(landing, Landing::Page(_, 429, _)),
            "login {i} from the shared address: {landing:?}"
        );
    }
}
